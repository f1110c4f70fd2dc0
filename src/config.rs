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
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
    /// Concurrent Argon2 hashes; each holds 19 MiB while it runs.
    pub max_concurrent_hashes: usize,
    /// Frames queued for one live-room connection before it is told to resync (close 4008).
    pub live_send_queue: usize,
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
            smtp_timeout_secs: 15,
            mail_max_attempts: 8,
            session_ttl_hours: 24 * 14,
            login_failures_per_account: 5,
            login_failures_per_address: 30,
            writes_per_minute: 120,
            allowed_origins: Vec::new(),
            max_body_bytes: 1024 * 1024,
            max_concurrent_hashes: 4,
            live_send_queue: 256,
            chat_per_10s: 5,
            scheduler_interval_secs: 30,
            log_format: "text".into(),
        }
    }
}

fn var(name: &'static str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn parsed<T: std::str::FromStr>(name: &'static str, target: &mut T) -> Result<(), ConfigError>
where
    T::Err: fmt::Display,
{
    if let Some(raw) = var(name) {
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
        let mut s = Self::default();
        parsed("YISHI_BIND", &mut s.bind)?;
        s.public_url = format!("http://{}", s.bind);
        if let Some(url) = var("YISHI_DATABASE_URL") {
            s.database_url = Secret::new(url);
        }
        if let Some(url) = var("YISHI_PUBLIC_URL") {
            s.public_url = url.trim_end_matches('/').to_string();
        }
        s.smtp_url = var("YISHI_SMTP_URL").map(Secret::new);
        if let Some(dir) = var("YISHI_MAIL_DIR") {
            s.mail_dir = PathBuf::from(dir);
        }
        if let Some(from) = var("YISHI_MAIL_FROM") {
            s.mail_from = from;
        }
        parsed("YISHI_SMTP_TIMEOUT_SECS", &mut s.smtp_timeout_secs)?;
        parsed("YISHI_MAIL_MAX_ATTEMPTS", &mut s.mail_max_attempts)?;
        parsed("YISHI_SESSION_TTL_HOURS", &mut s.session_ttl_hours)?;
        parsed(
            "YISHI_LOGIN_FAILURES_PER_ACCOUNT",
            &mut s.login_failures_per_account,
        )?;
        parsed(
            "YISHI_LOGIN_FAILURES_PER_ADDRESS",
            &mut s.login_failures_per_address,
        )?;
        parsed("YISHI_WRITES_PER_MINUTE", &mut s.writes_per_minute)?;
        if let Some(origins) = var("YISHI_ALLOWED_ORIGINS") {
            s.allowed_origins = origins
                .split(',')
                .map(|o| o.trim().to_string())
                .filter(|o| !o.is_empty())
                .collect();
        }
        parsed("YISHI_MAX_BODY_BYTES", &mut s.max_body_bytes)?;
        parsed("YISHI_MAX_CONCURRENT_HASHES", &mut s.max_concurrent_hashes)?;
        parsed(
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

    pub fn is_sqlite(&self) -> bool {
        self.database_url.expose().starts_with("sqlite:")
    }

    /// Origins a browser may send from: the configured list plus the public URL itself.
    pub fn origin_allowed(&self, origin: &str) -> bool {
        let origin = origin.trim_end_matches('/');
        origin == self.public_url || self.allowed_origins.iter().any(|o| o == origin)
    }
}
