//! `spawn_app()`: the real server on port 0, a fresh database (a SQLite file, or a new
//! PostgreSQL database when `YISHI_TEST_DATABASE_URL` is set), and a real SMTP server.

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use sea_orm::{ConnectionTrait, Database};
use serde_json::{Value, json};
use yishi::config::{Secret, Settings};
use yishi::db::Db;

use crate::smtp::SmtpServer;

pub const PASSWORD: &str = "correct horse battery";

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub smtp: Arc<SmtpServer>,
    pub db: Db,
    pub database_url: String,
}

pub struct Options {
    pub writes_per_minute: u32,
    pub login_failures_per_account: u32,
    pub login_failures_per_address: u32,
    pub smtp_timeout_secs: u64,
    pub live_send_queue: usize,
    pub chat_per_10s: u32,
    pub mail_merge_secs: u64,
    pub auth_cache_secs: u64,
    pub list_cache_ms: u64,
    pub presence_grace_secs: u64,
    pub live_crowd: usize,
    pub live_frames_per_sec: u32,
    pub metrics_token: Option<String>,
    pub allowed_origins: Vec<String>,
    /// Where evidence and procurement files go (a fresh temporary folder when `None`).
    pub evidence_dir: Option<std::path::PathBuf>,
    pub trusted_proxies: Vec<std::net::IpAddr>,
    pub max_in_flight: usize,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            writes_per_minute: 1_000_000,
            login_failures_per_account: 1000,
            login_failures_per_address: 1000,
            smtp_timeout_secs: 5,
            live_send_queue: 256,
            chat_per_10s: 5,
            mail_merge_secs: 600,
            auth_cache_secs: 5,
            list_cache_ms: 2000,
            presence_grace_secs: 15,
            live_crowd: 300,
            live_frames_per_sec: 10,
            metrics_token: None,
            allowed_origins: Vec::new(),
            evidence_dir: None,
            trusted_proxies: Vec::new(),
            max_in_flight: 512,
        }
    }
}

/// One sealing key file for every test server in this run, so that several servers on one
/// database (as in production) open each other's bids.
pub fn shared_sealing_key() -> std::path::PathBuf {
    std::env::temp_dir()
        .join("yishi-tests")
        .join(format!("sealing-{}.key", std::process::id()))
}

pub async fn fresh_database_url() -> String {
    match std::env::var("YISHI_TEST_DATABASE_URL") {
        Ok(admin_url) if !admin_url.is_empty() => fresh_postgres_database(admin_url).await,
        _ => {
            let dir = std::env::temp_dir().join("yishi-tests");
            std::fs::create_dir_all(&dir).unwrap();
            format!(
                "sqlite://{}?mode=rwc",
                dir.join(format!("{}.db", uuid::Uuid::new_v4())).display()
            )
        }
    }
}

/// A new database `yishi_test_<seconds since 1970>_<uuid>` on the PostgreSQL server of
/// `admin_url`; returns its URL. A test's database outlives it (the server inside the test
/// still holds connections when it ends), so the first call in a test process first drops up
/// to 20 test databases made more than three hours ago: a developer's server does not fill up
/// run after run, and a run going on beside this one (younger databases) is left alone.
pub async fn fresh_postgres_database(admin_url: String) -> String {
    static SWEPT: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let name = format!("yishi_test_{now}_{}", uuid::Uuid::new_v4().simple());
    let admin = Database::connect(&admin_url)
        .await
        .expect("connect to PostgreSQL for tests");
    if !SWEPT.swap(true, std::sync::atomic::Ordering::Relaxed) {
        drop_old_databases(&admin, now).await;
    }
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create test database");
    admin.close().await.ok();
    let base = admin_url
        .rsplit_once('/')
        .map(|(b, _)| b.to_string())
        .unwrap_or(admin_url);
    format!("{base}/{name}")
}

/// Drops earlier runs' test databases (see [`fresh_postgres_database`]); errors are ignored,
/// the next run tries again.
async fn drop_old_databases(admin: &sea_orm::DatabaseConnection, now: u64) {
    let names = admin
        .query_all_raw(sea_orm::Statement::from_string(
            admin.get_database_backend(),
            "SELECT datname FROM pg_database WHERE datname LIKE 'yishi\\_test\\_%'",
        ))
        .await
        .unwrap_or_default()
        .into_iter()
        .filter_map(|row| row.try_get::<String>("", "datname").ok())
        .filter(|name| {
            name["yishi_test_".len()..]
                .split_once('_')
                .and_then(|(made, _)| made.parse::<u64>().ok())
                .is_some_and(|made| made + 3 * 3600 < now)
        });
    for name in names.take(20) {
        let _ = admin
            .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .await;
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(Options::default()).await
}

pub async fn spawn_app_with(options: Options) -> TestApp {
    let smtp = Arc::new(SmtpServer::start().await);
    spawn_app_on(options, smtp).await
}

pub async fn spawn_app_on(options: Options, smtp: Arc<SmtpServer>) -> TestApp {
    let database_url = fresh_database_url().await;
    spawn_app_at(options, smtp, database_url).await
}

/// Another server on an existing database: several processes sharing one store.
/// On PostgreSQL, a second process sharing the first one's database (and mail server); on
/// SQLite, where the deployment is one process, none.
pub async fn second_process(first: &TestApp, options: Options) -> Option<TestApp> {
    if !first.database_url.starts_with("postgres") {
        return None;
    }
    Some(spawn_app_at(options, first.smtp.clone(), first.database_url.clone()).await)
}

pub async fn spawn_app_at(
    options: Options,
    smtp: Arc<SmtpServer>,
    database_url: String,
) -> TestApp {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(std::env::var("YISHI_LOG").unwrap_or_else(|_| "warn".into()))
        .with_test_writer()
        .try_init();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let settings = Settings {
        bind: addr,
        database_url: Secret::new(database_url.clone()),
        public_url: format!("http://{addr}"),
        smtp_url: Some(Secret::new(format!("smtp://{}", smtp.addr))),
        smtp_timeout_secs: options.smtp_timeout_secs,
        writes_per_minute: options.writes_per_minute,
        login_failures_per_account: options.login_failures_per_account,
        login_failures_per_address: options.login_failures_per_address,
        scheduler_interval_secs: 1,
        live_send_queue: options.live_send_queue,
        chat_per_10s: options.chat_per_10s,
        mail_merge_secs: options.mail_merge_secs,
        auth_cache_secs: options.auth_cache_secs,
        list_cache_ms: options.list_cache_ms,
        presence_grace_secs: options.presence_grace_secs,
        live_crowd: options.live_crowd,
        live_frames_per_sec: options.live_frames_per_sec,
        metrics_token: options.metrics_token.map(Secret::new),
        allowed_origins: options.allowed_origins,
        trusted_proxies: options.trusted_proxies,
        max_in_flight: options.max_in_flight,
        // Tests run side by side, some with two processes, on one PostgreSQL server that
        // takes 100 connections.
        database_connections: 8,
        evidence_dir: options.evidence_dir.unwrap_or_else(|| {
            std::env::temp_dir()
                .join("yishi-tests")
                .join(format!("evidence-{}", uuid::Uuid::new_v4().simple()))
        }),
        sealing_key_file: shared_sealing_key(),
        ..Settings::default()
    };
    let db = Db::connect(&settings).await.expect("connect");
    db.migrate().await.expect("migrate");
    tokio::spawn(async move {
        yishi::startup::run(settings, listener, std::future::pending())
            .await
            .expect("server runs");
    });
    let app = TestApp {
        base: format!("http://{addr}"),
        client: reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap(),
        smtp,
        db,
        database_url,
    };
    // Wait for readiness (the listener is bound already; this waits for migrations).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = app.client.get(format!("{}/readyz", app.base)).send().await
            && r.status() == StatusCode::OK
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "server did not become ready"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    app
}

pub struct Answer {
    pub status: StatusCode,
    pub body: Value,
    pub content_type: String,
    /// `Retry-After`, in seconds, when the answer carries one.
    pub retry_after: Option<u64>,
}

impl Answer {
    /// Asserts a problem body with the given status and code.
    #[track_caller]
    pub fn problem(&self, status: u16, code: &str) {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.body);
        assert_eq!(
            self.content_type, "application/problem+json",
            "body: {}",
            self.body
        );
        assert_eq!(self.body["code"], code, "body: {}", self.body);
        assert_eq!(self.body["status"], status);
        assert!(self.body["detail"].as_str().is_some_and(|d| !d.is_empty()));
    }

    #[track_caller]
    pub fn ok(&self, status: u16) -> &Value {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.body);
        &self.body
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}/api/v1{}", self.base, path)
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        let mut req = self.client.request(method, self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request sent");
        Self::answer(resp).await
    }

    /// A page outside the API (a path from the server's root): its status, content type and
    /// text.
    pub async fn page(&self, path: &str) -> (u16, String, String) {
        let origin = self.base.split("/api/").next().unwrap_or(&self.base);
        let resp = self
            .client
            .get(format!("{origin}{path}"))
            .send()
            .await
            .expect("request sent");
        let status = resp.status().as_u16();
        let content_type = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        (status, content_type, resp.text().await.unwrap_or_default())
    }

    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        content_type: &str,
        body: Vec<u8>,
    ) -> Answer {
        let mut req = self
            .client
            .request(method, self.url(path))
            .header("content-type", content_type)
            .body(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        Self::answer(req.send().await.expect("request sent")).await
    }

    pub async fn answer(resp: reqwest::Response) -> Answer {
        let status = resp.status();
        let content_type = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        let text = resp.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Answer {
            status,
            body,
            content_type,
            retry_after,
        }
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Answer {
        self.call(Method::GET, path, token, None).await
    }
    /// `GET /metrics` (open when no metrics token is set), as text.
    pub async fn metrics(&self) -> String {
        let resp = self
            .client
            .get(format!("{}/metrics", self.base))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        resp.text().await.unwrap()
    }
    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Answer {
        self.call(Method::POST, path, token, Some(body)).await
    }
    pub async fn patch(&self, path: &str, token: Option<&str>, body: Value) -> Answer {
        self.call(Method::PATCH, path, token, Some(body)).await
    }
    pub async fn delete(&self, path: &str, token: Option<&str>) -> Answer {
        self.call(Method::DELETE, path, token, None).await
    }

    pub async fn register(&self, email: &str, name: &str) {
        self.post(
            "/accounts",
            None,
            json!({ "email": email, "display_name": name, "password": PASSWORD }),
        )
        .await
        .ok(202);
    }

    /// The token from the newest emailed link `…/#/<kind>?token=…` to `email`.
    pub async fn emailed_token(&self, email: &str, kind: &str, nth: usize) -> String {
        let mails = self
            .smtp
            .wait_for(email, nth, Duration::from_secs(30))
            .await;
        let text = mails[nth - 1].text();
        let marker = format!("/#/{kind}?token=");
        let start = text
            .find(&marker)
            .unwrap_or_else(|| panic!("no {kind} link in: {text}"))
            + marker.len();
        text[start..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect()
    }

    pub async fn login(&self, email: &str, password: &str) -> Answer {
        self.post(
            "/accounts/sessions",
            None,
            json!({ "email": email, "password": password }),
        )
        .await
    }

    /// Registers, verifies by the emailed link, signs in; returns the bearer token.
    pub async fn verified_user(&self, email: &str, name: &str) -> String {
        self.register(email, name).await;
        let token = self.emailed_token(email, "verify", 1).await;
        self.post("/accounts/verification", None, json!({ "token": token }))
            .await
            .ok(204);
        self.login(email, PASSWORD).await.ok(201)["token"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// A platform administrator made the way the CLI makes one; returns the bearer token.
    pub async fn admin(&self) -> String {
        let email = format!("admin-{}@example.org", uuid::Uuid::new_v4().simple());
        yishi::admin::create_admin(&self.db, &email, "Admin", PASSWORD)
            .await
            .unwrap();
        self.login(&email, PASSWORD).await.ok(201)["token"]
            .as_str()
            .unwrap()
            .to_string()
    }
}

/// A small world: district → subdistrict → two communities, each with a grid, a building and
/// units; people holding each role in community A; an officer over the subdistrict.
#[allow(dead_code)]
pub struct World {
    pub admin: String,
    pub district: String,
    pub subdistrict: String,
    pub community_a: String,
    pub community_b: String,
    pub grid_a: String,
    pub building_a: String,
    pub building_b: String,
    pub officer: String,
    pub secretary_a: String,
    pub committee_a: String,
    pub committee_b: String,
    pub grid_worker_a: String,
    pub resident_a: String,
    pub outsider: String,
}

/// A well-formed resident identity card number (GB 11643 check character), different for each
/// `n` below 100,000.
pub fn resident_id(n: u32) -> String {
    let first17 = format!("110105194912{n:05}");
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = first17
        .bytes()
        .zip(WEIGHTS)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    let check = b"10X98765432"[(sum % 11) as usize] as char;
    format!("{first17}{check}")
}

pub fn id(v: &Value) -> String {
    v["id"].as_str().expect("an id").to_string()
}

impl TestApp {
    pub async fn place(&self, token: &str, kind: &str, name: &str, parent: Option<&str>) -> String {
        id(self
            .post(
                "/places",
                Some(token),
                json!({ "kind": kind, "name": name, "parent_id": parent }),
            )
            .await
            .ok(201))
    }

    pub async fn grant(&self, token: &str, place: &str, email: &str, role: &str) {
        self.post(
            &format!("/places/{place}/roles"),
            Some(token),
            json!({ "email": email, "role": role }),
        )
        .await
        .ok(201);
    }

    pub async fn world(&self) -> World {
        let admin = self.admin().await;
        let district = self.place(&admin, "district", "临江区", None).await;
        let subdistrict = self
            .place(&admin, "subdistrict", "望湖街道", Some(&district))
            .await;
        let community_a = self
            .place(&admin, "community", "桂花社区", Some(&subdistrict))
            .await;
        let community_b = self
            .place(&admin, "community", "枫林社区", Some(&subdistrict))
            .await;
        let grid_a = self
            .place(&admin, "grid", "第一网格", Some(&community_a))
            .await;
        let mut tokens = Vec::new();
        for (who, place, role) in [
            ("officer", &subdistrict, Some("government_officer")),
            ("secretary-a", &community_a, Some("party_secretary")),
            ("committee-a", &community_a, Some("committee_member")),
            ("committee-b", &community_b, Some("committee_member")),
            ("grid-a", &grid_a, Some("grid_worker")),
            ("resident-a", &community_a, Some("resident")),
            ("outsider", &community_a, None),
        ] {
            let email = format!("{who}-{}@example.org", uuid::Uuid::new_v4().simple());
            let token = self.verified_user(&email, who).await;
            if let Some(role) = role {
                self.grant(&admin, place, &email, role).await;
            }
            tokens.push(token);
        }
        let building_a = id(self
            .post(
                &format!("/communities/{community_a}/buildings"),
                Some(&tokens[2]),
                json!({ "name": "1号楼" }),
            )
            .await
            .ok(201));
        let building_b = id(self
            .post(
                &format!("/communities/{community_b}/buildings"),
                Some(&tokens[3]),
                json!({ "name": "1号楼" }),
            )
            .await
            .ok(201));
        for number in ["101", "102"] {
            self.post(
                &format!("/communities/{community_a}/units"),
                Some(&tokens[2]),
                json!({ "building_id": building_a, "number": number, "area_centi": 8550 }),
            )
            .await
            .ok(201);
        }
        self.post(
            &format!("/communities/{community_b}/units"),
            Some(&tokens[3]),
            json!({ "building_id": building_b, "number": "101", "area_centi": 9000 }),
        )
        .await
        .ok(201);
        let mut t = tokens.into_iter();
        World {
            admin,
            district,
            subdistrict,
            community_a,
            community_b,
            grid_a,
            building_a,
            building_b,
            officer: t.next().unwrap(),
            secretary_a: t.next().unwrap(),
            committee_a: t.next().unwrap(),
            committee_b: t.next().unwrap(),
            grid_worker_a: t.next().unwrap(),
            resident_a: t.next().unwrap(),
            outsider: t.next().unwrap(),
        }
    }
}

impl TestApp {
    /// `n` verified residents of `community`, made concurrently; their bearer tokens and emails.
    pub async fn residents(&self, admin: &str, community: &str, n: usize) -> Vec<(String, String)> {
        let tag = uuid::Uuid::new_v4().simple().to_string();

        futures_util::future::join_all((0..n).map(|i| {
            let email = format!("res{i}-{tag}@example.org");
            async move {
                let token = self.verified_user(&email, &format!("居民{i}")).await;
                self.grant(admin, community, &email, "resident").await;
                (token, email)
            }
        }))
        .await
    }
}

/// The `yishi` binary with a database and the shared test settings.
pub fn yishi(database_url: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_yishi"));
    let scratch = std::env::temp_dir().join("yishi-tests");
    cmd.env("YISHI_DATABASE_URL", database_url)
        .env("YISHI_LOG", "info")
        .env(
            "YISHI_SEALING_KEY_FILE",
            crate::support::shared_sealing_key(),
        )
        .env(
            "YISHI_EVIDENCE_DIR",
            scratch.join(format!("evidence-{}", uuid::Uuid::new_v4().simple())),
        );
    cmd.env_remove("YISHI_SMTP_URL")
        .env_remove("YISHI_ADMIN_PASSWORD");
    cmd
}

/// Starts `yishi serve` on a database and waits until it is ready; returns it and its address.
pub async fn serve(database_url: &str) -> (std::process::Child, String) {
    serve_with(database_url, &[]).await
}

/// [`serve`] with more environment variables.
pub async fn serve_with(database_url: &str, env: &[(&str, &str)]) -> (std::process::Child, String) {
    let port = free_port();
    let child = yishi(database_url)
        .arg("serve")
        .envs(env.iter().copied())
        .env("YISHI_BIND", format!("127.0.0.1:{port}"))
        .env(
            "YISHI_MAIL_DIR",
            std::env::temp_dir().join(format!("yishi-mail-{}", uuid::Uuid::new_v4())),
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    wait_ready(&base, "yishi serve").await;
    (child, base)
}

/// Stops a `yishi` process as a service manager does (SIGTERM) and waits for it to exit.
pub async fn terminate(child: std::process::Child) -> std::process::Output {
    let sent = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap()
}

/// Waits (polling, at most 30 s) until `{base}/readyz` answers 200.
pub async fn wait_ready(base: &str, what: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !reqwest::get(format!("{base}/readyz"))
        .await
        .is_ok_and(|r| r.status() == 200)
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what} did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A port nothing listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
