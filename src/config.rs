//! Typed settings: defaults first, then `YISHI_*` environment variables.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

/// A value that must never be printed: `Debug` and `Display` show a placeholder.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

#[derive(Debug, thiserror::Error)]
#[error("setting {name}: {message}")]
pub struct ConfigError {
    pub name: &'static str,
    pub message: String,
}

#[derive(Clone, Debug)]
pub struct Settings {
    /// Address the HTTP server listens on (`YISHI_BIND`).
    pub bind: SocketAddr,
    /// Database URL (`YISHI_DATABASE_URL`); it may hold a password, so it is a secret.
    pub database_url: Secret,
    /// Base URL used in links inside emails (`YISHI_PUBLIC_URL`).
    pub public_url: String,
    /// SMTP server URL, e.g. `smtps://user:pass@mail.example.org` (`YISHI_SMTP_URL`).
    pub smtp_url: Option<Secret>,
    /// Folder for .eml files when no SMTP server is configured (`YISHI_MAIL_DIR`).
    pub mail_dir: PathBuf,
    /// Sender address of all mail (`YISHI_MAIL_FROM`).
    pub mail_from: String,
    /// The organiser calendar programs show on invitations (`YISHI_CALENDAR_REPLY_TO`): a
    /// mailbox someone reads, since replies go there. Unset: the sender address. Attendance is
    /// answered on the session's page; calendar replies are not read by Yishi.
    pub calendar_reply_to: Option<String>,
    /// Seconds allowed for one SMTP delivery before it counts as a temporary failure.
    pub smtp_timeout_secs: u64,
    /// Deliveries tried before a message is marked dead.
    pub mail_max_attempts: i32,
    /// Lifetime of a sign-in session, in hours.
    pub session_ttl_hours: i64,
    /// Failed sign-ins allowed per account and per client address in 15 minutes.
    pub login_failures_per_account: u32,
    pub login_failures_per_address: u32,
    /// Writes allowed per actor (or client address when signed out) per minute.
    pub writes_per_minute: u32,
    /// Origins allowed to open websockets and send credentialed requests (comma separated).
    pub allowed_origins: Vec<String>,
    /// Addresses of reverse proxies whose `X-Forwarded-For` names the client
    /// (`YISHI_TRUSTED_PROXIES`, comma separated). Behind nginx, without it every client has
    /// the proxy's address and shares its per-address limits.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// API requests one process answers at once (`YISHI_MAX_IN_FLIGHT`; 0 for no limit). Past
    /// it a request is refused at once with 503 and `Retry-After` rather than queued, so an
    /// overload shows as quick refusals the client can retry, not as growing memory and
    /// latency for everyone. Websocket upgrades, health checks and the web client are not
    /// counted.
    pub max_in_flight: usize,
    /// PostgreSQL connections one process keeps open (`YISHI_DATABASE_CONNECTIONS`), all of
    /// them from the start: a burst (a poll opening to thousands) then finds them ready rather
    /// than waiting while each is established. Each process also holds one for each of its two
    /// writers and one to listen, so PostgreSQL's `max_connections` must exceed the processes
    /// times this plus three. SQLite keeps its own small pool.
    pub database_connections: u32,
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
    /// Largest request with evidence files (`YISHI_MAX_UPLOAD_BYTES`).
    pub max_upload_bytes: usize,
    /// Hours a message may keep being retried before it is given up (`YISHI_MAIL_DELIVERY_WINDOW_HOURS`).
    pub mail_delivery_window_hours: i64,
    /// Seconds within which messages about one object to one person are merged (`YISHI_MAIL_MERGE_SECS`).
    pub mail_merge_secs: u64,
    /// Folder for evidence files of resolution updates (`YISHI_EVIDENCE_DIR`).
    pub evidence_dir: PathBuf,
    /// The file holding the key that seals bids (`YISHI_SEALING_KEY_FILE`); created on first
    /// start. Processes sharing a database must share it.
    pub sealing_key_file: PathBuf,
    /// The OCDS prefix of procurement identifiers (`YISHI_OCID_PREFIX`).
    pub ocid_prefix: String,
    /// Who publishes the OCDS data (`YISHI_OCDS_PUBLISHER`).
    pub ocds_publisher: String,
    /// Seconds a process remembers who a bearer token belongs to (`YISHI_AUTH_CACHE_SECS`; 0
    /// turns it off). Access changes evict at once; this bounds only a lost notice.
    pub auth_cache_secs: u64,
    /// Milliseconds a process keeps a proposal-list page shared by viewers of one level
    /// (`YISHI_LIST_CACHE_MS`; 0 turns it off). Writes forget pages at once; this bounds only a
    /// lost notice, or a write by another process on SQLite.
    pub list_cache_ms: u64,
    /// Concurrent Argon2 hashes; each holds 19 MiB while it runs.
    pub max_concurrent_hashes: usize,
    /// Frames queued for one live-room connection before it is told to resync (close 4008).
    pub live_send_queue: usize,
    /// Seconds a person whose last connection to a room dropped is still shown present
    /// (`YISHI_PRESENCE_GRACE_SECS`): a reload or a network blip is not a leave and a return.
    pub presence_grace_secs: u64,
    /// Above this many people present, a live room sends presence as counts, not names
    /// (`YISHI_LIVE_CROWD`).
    pub live_crowd: usize,
    /// Frames per second a live-room client may send, sustained, after a burst of ten seconds'
    /// worth (`YISHI_LIVE_FRAMES_PER_SEC`); more closes its socket with 1008.
    pub live_frames_per_sec: u32,
    /// When set, `GET /metrics` needs this bearer token (`YISHI_METRICS_TOKEN`); when not,
    /// it answers loopback callers only.
    pub metrics_token: Option<Secret>,
    /// Chat messages one person may send to a room in 10 seconds.
    pub chat_per_10s: u32,
    /// Seconds between passes of the scheduler (expiring proposals).
    pub scheduler_interval_secs: u64,
    /// Log as JSON lines (`json`) or human-readable text (`text`).
    pub log_format: String,
}

impl Default for Settings {
    fn default() -> Self {
        let bind: SocketAddr = "127.0.0.1:8080".parse().expect("valid default address");
        Self {
            bind,
            database_url: Secret::new("sqlite://yishi.db?mode=rwc"),
            public_url: format!("http://{bind}"),
            smtp_url: None,
            mail_dir: PathBuf::from("./mail"),
            mail_from: "Yishi 议事厅 <noreply@yishi.localhost>".into(),
            calendar_reply_to: None,
            smtp_timeout_secs: 15,
            mail_max_attempts: 8,
            session_ttl_hours: 24 * 14,
            login_failures_per_account: 5,
            login_failures_per_address: 30,
            writes_per_minute: 120,
            allowed_origins: Vec::new(),
            trusted_proxies: Vec::new(),
            max_in_flight: 256,
            database_connections: 20,
            max_body_bytes: 1024 * 1024,
            max_upload_bytes: 26 * 1024 * 1024,
            mail_delivery_window_hours: 48,
            mail_merge_secs: 600,
            evidence_dir: PathBuf::from("./evidence"),
            sealing_key_file: PathBuf::from("./sealing.key"),
            ocid_prefix: "ocds-yishi1".into(),
            ocds_publisher: "Yishi 议事厅".into(),
            auth_cache_secs: 5,
            list_cache_ms: 2000,
            max_concurrent_hashes: 4,
            live_send_queue: 256,
            presence_grace_secs: 15,
            live_crowd: 300,
            live_frames_per_sec: 10,
            metrics_token: None,
            chat_per_10s: 5,
            scheduler_interval_secs: 30,
            log_format: "text".into(),
        }
    }
}

type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

fn value(get: Lookup<'_>, name: &'static str) -> Option<String> {
    get(name).filter(|v| !v.trim().is_empty())
}

fn parsed<T: std::str::FromStr>(
    get: Lookup<'_>,
    name: &'static str,
    target: &mut T,
) -> Result<(), ConfigError>
where
    T::Err: fmt::Display,
{
    if let Some(raw) = value(get, name) {
        *target = raw.trim().parse().map_err(|e: T::Err| ConfigError {
            name,
            message: e.to_string(),
        })?;
    }
    Ok(())
}

impl Settings {
    /// Defaults overridden by the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(&|name| std::env::var(name).ok())
    }

    /// Defaults overridden by whatever `get` finds for each `YISHI_*` name.
    pub fn from_lookup(get: Lookup<'_>) -> Result<Self, ConfigError> {
        let var = |name: &'static str| value(get, name);
        let mut s = Self::default();
        parsed(get, "YISHI_BIND", &mut s.bind)?;
        s.public_url = format!("http://{}", s.bind);
        if let Some(url) = var("YISHI_DATABASE_URL") {
            s.database_url = Secret::new(url);
        }
        if let Some(url) = var("YISHI_PUBLIC_URL") {
            s.public_url = url.trim_end_matches('/').to_string();
        }
        s.smtp_url = var("YISHI_SMTP_URL").map(Secret::new);
        s.metrics_token = var("YISHI_METRICS_TOKEN").map(Secret::new);
        if let Some(dir) = var("YISHI_MAIL_DIR") {
            s.mail_dir = PathBuf::from(dir);
        }
        if let Some(from) = var("YISHI_MAIL_FROM") {
            s.mail_from = from;
        }
        s.calendar_reply_to = var("YISHI_CALENDAR_REPLY_TO").filter(|a| !a.trim().is_empty());
        parsed(get, "YISHI_SMTP_TIMEOUT_SECS", &mut s.smtp_timeout_secs)?;
        parsed(get, "YISHI_MAIL_MAX_ATTEMPTS", &mut s.mail_max_attempts)?;
        parsed(get, "YISHI_SESSION_TTL_HOURS", &mut s.session_ttl_hours)?;
        parsed(
            get,
            "YISHI_LOGIN_FAILURES_PER_ACCOUNT",
            &mut s.login_failures_per_account,
        )?;
        parsed(
            get,
            "YISHI_LOGIN_FAILURES_PER_ADDRESS",
            &mut s.login_failures_per_address,
        )?;
        parsed(get, "YISHI_WRITES_PER_MINUTE", &mut s.writes_per_minute)?;
        if let Some(origins) = var("YISHI_ALLOWED_ORIGINS") {
            s.allowed_origins = origins
                .split(',')
                .map(|o| o.trim().to_string())
                .filter(|o| !o.is_empty())
                .collect();
        }
        if let Some(proxies) = var("YISHI_TRUSTED_PROXIES") {
            s.trusted_proxies = proxies
                .split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(|p| {
                    p.parse().map_err(|_| ConfigError {
                        name: "YISHI_TRUSTED_PROXIES",
                        message: format!("`{p}` is not an IP address"),
                    })
                })
                .collect::<Result<_, _>>()?;
        }
        parsed(get, "YISHI_MAX_IN_FLIGHT", &mut s.max_in_flight)?;
        parsed(
            get,
            "YISHI_DATABASE_CONNECTIONS",
            &mut s.database_connections,
        )?;
        if s.database_connections == 0 {
            return Err(ConfigError {
                name: "YISHI_DATABASE_CONNECTIONS",
                message: "must be at least 1".into(),
            });
        }
        parsed(get, "YISHI_MAX_BODY_BYTES", &mut s.max_body_bytes)?;
        parsed(get, "YISHI_MAX_UPLOAD_BYTES", &mut s.max_upload_bytes)?;
        parsed(
            get,
            "YISHI_MAIL_DELIVERY_WINDOW_HOURS",
            &mut s.mail_delivery_window_hours,
        )?;
        parsed(get, "YISHI_MAIL_MERGE_SECS", &mut s.mail_merge_secs)?;
        if let Some(dir) = var("YISHI_EVIDENCE_DIR") {
            s.evidence_dir = PathBuf::from(dir);
        }
        if let Some(file) = var("YISHI_SEALING_KEY_FILE") {
            s.sealing_key_file = PathBuf::from(file);
        }
        if let Some(prefix) = var("YISHI_OCID_PREFIX") {
            s.ocid_prefix = prefix;
        }
        if let Some(name) = var("YISHI_OCDS_PUBLISHER") {
            s.ocds_publisher = name;
        }
        parsed(get, "YISHI_AUTH_CACHE_SECS", &mut s.auth_cache_secs)?;
        parsed(get, "YISHI_LIST_CACHE_MS", &mut s.list_cache_ms)?;
        parsed(
            get,
            "YISHI_MAX_CONCURRENT_HASHES",
            &mut s.max_concurrent_hashes,
        )?;
        parsed(get, "YISHI_LIVE_SEND_QUEUE", &mut s.live_send_queue)?;
        parsed(get, "YISHI_PRESENCE_GRACE_SECS", &mut s.presence_grace_secs)?;
        parsed(get, "YISHI_LIVE_CROWD", &mut s.live_crowd)?;
        parsed(get, "YISHI_LIVE_FRAMES_PER_SEC", &mut s.live_frames_per_sec)?;
        parsed(get, "YISHI_CHAT_PER_10S", &mut s.chat_per_10s)?;
        parsed(
            get,
            "YISHI_SCHEDULER_INTERVAL_SECS",
            &mut s.scheduler_interval_secs,
        )?;
        if let Some(format) = var("YISHI_LOG_FORMAT") {
            s.log_format = format;
        }
        s.validate()?;
        Ok(s)
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(self.public_url.starts_with("http://") || self.public_url.starts_with("https://")) {
            return Err(ConfigError {
                name: "YISHI_PUBLIC_URL",
                message: "must start with http:// or https://".into(),
            });
        }
        if let Some(smtp) = &self.smtp_url {
            let scheme = smtp.expose().split("://").next().unwrap_or_default();
            if !matches!(scheme, "smtp" | "smtps") {
                return Err(ConfigError {
                    name: "YISHI_SMTP_URL",
                    message: "must start with smtp:// or smtps://".into(),
                });
            }
        }
        if self.mail_max_attempts < 1 {
            return Err(ConfigError {
                name: "YISHI_MAIL_MAX_ATTEMPTS",
                message: "must be at least 1".into(),
            });
        }
        if self.live_send_queue < 8 {
            return Err(ConfigError {
                name: "YISHI_LIVE_SEND_QUEUE",
                message: "must be at least 8".into(),
            });
        }
        if self.presence_grace_secs > 3600 {
            return Err(ConfigError {
                name: "YISHI_PRESENCE_GRACE_SECS",
                message: "must be at most 3600".into(),
            });
        }
        if self.scheduler_interval_secs < 1 {
            return Err(ConfigError {
                name: "YISHI_SCHEDULER_INTERVAL_SECS",
                message: "must be at least 1".into(),
            });
        }
        if self.max_concurrent_hashes < 1 {
            return Err(ConfigError {
                name: "YISHI_MAX_CONCURRENT_HASHES",
                message: "must be at least 1".into(),
            });
        }
        Ok(())
    }

    /// The address invitations name as their organiser: `calendar_reply_to`, else the bare
    /// address of `mail_from`.
    pub fn calendar_organizer(&self) -> String {
        match &self.calendar_reply_to {
            Some(address) => address.trim().to_string(),
            None => self
                .mail_from
                .rsplit('<')
                .next()
                .unwrap_or_default()
                .trim_end_matches('>')
                .trim()
                .to_string(),
        }
    }

    pub fn is_sqlite(&self) -> bool {
        self.database_url.expose().starts_with("sqlite:")
    }

    /// The database URL to connect with. A PostgreSQL on this machine (a loopback address
    /// or `localhost`) is reached without TLS unless the URL's `sslmode` (or `PGSSLMODE`)
    /// asks for it: the driver's default, `prefer`, would encrypt every statement to a
    /// server on the same machine, which protects nothing and cost about a sixth of this
    /// process's time in a ballot burst (measured, 2026-12-04). Any other host keeps the
    /// driver's default.
    pub fn database_url_to_connect(&self) -> String {
        let given = self.database_url.expose();
        let ssl_asked = std::env::var_os("PGSSLMODE").is_some();
        local_postgres_without_tls(given, ssl_asked).unwrap_or_else(|| given.to_string())
    }

    /// Origins a browser may send from: the configured list plus the public URL itself.
    pub fn origin_allowed(&self, origin: &str) -> bool {
        let origin = origin.trim_end_matches('/');
        origin == self.public_url || self.allowed_origins.iter().any(|o| o == origin)
    }
}

/// `url` with `sslmode=disable` added when it names a PostgreSQL on a loopback address or
/// `localhost` and neither it nor the environment (`ssl_asked`) chooses a mode; otherwise
/// `None`.
fn local_postgres_without_tls(url: &str, ssl_asked: bool) -> Option<String> {
    let mut parsed = url::Url::parse(url).ok()?;
    if !matches!(parsed.scheme(), "postgres" | "postgresql") || ssl_asked {
        return None;
    }
    if parsed.query_pairs().any(|(k, _)| k == "sslmode") {
        return None;
    }
    let local = match parsed.host()? {
        // Not a special scheme, so an IPv4 address comes as a name.
        url::Host::Domain(d) => {
            d.eq_ignore_ascii_case("localhost")
                || d.parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        }
        url::Host::Ipv4(ip) => ip.is_loopback(),
        url::Host::Ipv6(ip) => ip.is_loopback(),
    };
    if !local {
        return None;
    }
    parsed.query_pairs_mut().append_pair("sslmode", "disable");
    Some(parsed.into())
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn every_variable_in_the_readme_is_read_and_applied() {
        let readme = include_str!("../README.md");
        let documented: Vec<&str> = readme
            .lines()
            .filter_map(|l| l.strip_prefix("| `YISHI_"))
            .filter_map(|l| l.split('`').next())
            .collect();
        assert!(documented.len() >= 15, "{documented:?}");
        let asked = RefCell::new(Vec::new());
        let get = |name: &str| {
            asked.borrow_mut().push(name.to_string());
            None
        };
        Settings::from_lookup(&get).unwrap();
        for name in documented {
            let full = format!("YISHI_{name}");
            // The log filter is read by main, the admin password by `admin create`.
            if full == "YISHI_LOG" || full == "YISHI_ADMIN_PASSWORD" {
                continue;
            }
            assert!(
                asked.borrow().contains(&full),
                "{full} is documented but never read"
            );
        }
    }

    #[test]
    fn a_postgresql_on_this_machine_is_reached_without_tls_unless_asked() {
        let local = |url: &str| local_postgres_without_tls(url, false);
        assert_eq!(
            local("postgres://postgres@127.0.0.1:5432/yishi").as_deref(),
            Some("postgres://postgres@127.0.0.1:5432/yishi?sslmode=disable")
        );
        assert_eq!(
            local("postgresql://u:p@localhost/yishi?application_name=y").as_deref(),
            Some("postgresql://u:p@localhost/yishi?application_name=y&sslmode=disable")
        );
        assert!(local("postgres://u@[::1]/yishi").is_some());
        // Chosen in the URL or the environment, or another machine: left as given.
        assert_eq!(local("postgres://u@127.0.0.1/yishi?sslmode=require"), None);
        assert_eq!(
            local_postgres_without_tls("postgres://u@127.0.0.1/y", true),
            None
        );
        assert_eq!(local("postgres://u@db.example.org/yishi"), None);
        assert_eq!(local("postgres://u@10.0.0.5/yishi"), None);
        assert_eq!(local("sqlite://yishi.db?mode=rwc"), None);
    }

    #[test]
    fn values_override_defaults_and_bad_values_are_named() {
        let env: HashMap<&str, &str> = HashMap::from([
            ("YISHI_BIND", "0.0.0.0:9000"),
            ("YISHI_CHAT_PER_10S", "50"),
            ("YISHI_LIVE_SEND_QUEUE", "64"),
            ("YISHI_SMTP_URL", "smtps://u:p@mail.example.org"),
        ]);
        let s = Settings::from_lookup(&|k| env.get(k).map(|v| v.to_string())).unwrap();
        assert_eq!(s.bind.port(), 9000);
        assert_eq!((s.chat_per_10s, s.live_send_queue), (50, 64));
        assert_eq!(s.public_url, "http://0.0.0.0:9000");
        assert!(!format!("{s:?}").contains("u:p"), "secrets never print");
        let bad =
            Settings::from_lookup(&|k| (k == "YISHI_LIVE_SEND_QUEUE").then(|| "lots".to_string()))
                .unwrap_err();
        assert_eq!(bad.name, "YISHI_LIVE_SEND_QUEUE");
        let bad =
            Settings::from_lookup(&|k| (k == "YISHI_SMTP_URL").then(|| "http://x".to_string()))
                .unwrap_err();
        assert_eq!(bad.name, "YISHI_SMTP_URL");
        let none = Settings::from_lookup(&|k| {
            (k == "YISHI_DATABASE_CONNECTIONS").then(|| "0".to_string())
        })
        .unwrap_err();
        assert_eq!(none.name, "YISHI_DATABASE_CONNECTIONS");
    }
}
