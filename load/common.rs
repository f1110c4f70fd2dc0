//! What the load tools share: a fresh database (SQLite file or a new PostgreSQL database),
//! starting `yishi serve` beside the tool, seeding people with tokens, percentiles and the
//! server's memory. Each tool uses some of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use sea_orm::{ConnectionTrait, EntityTrait, Set};
use uuid::Uuid;
use yishi::db::Db;
use yishi::entities::{auth_session, place, role_grant, user};

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A fresh database: a new one on the PostgreSQL server `postgres`, or a SQLite file in `dir`.
pub async fn fresh_database(postgres: Option<&str>, dir: &Path) -> String {
    match postgres {
        Some(server) => {
            let name = format!("yishi_load_{}", Uuid::new_v4().simple());
            let admin = sea_orm::Database::connect(server)
                .await
                .expect("PostgreSQL");
            admin
                .execute_unprepared(&format!("CREATE DATABASE {name}"))
                .await
                .unwrap();
            let base = server.rsplit_once('/').map_or(server, |(b, _)| b);
            format!("{base}/{name}")
        }
        None => format!("sqlite://{}?mode=rwc", dir.join("load.db").display()),
    }
}

/// Removes what [`scratch`] made: the folder and, on PostgreSQL, the database (connections
/// still open to it are ended), so runs do not pile databases up on the server.
pub async fn discard(dir: &Path, postgres: Option<&str>, db_url: &str) {
    let _ = std::fs::remove_dir_all(dir);
    let (Some(server), Some((_, name))) = (postgres, db_url.rsplit_once('/')) else {
        return;
    };
    if let Ok(admin) = sea_orm::Database::connect(server).await {
        let _ = admin
            .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .await;
        let _ = admin.close().await;
    }
}

/// A scratch folder and a fresh, migrated database (see [`fresh_database`]) for one run of
/// the tool `name`: the folder, the database URL and a connection.
pub async fn scratch(name: &str, postgres: Option<&str>) -> (PathBuf, String, Db) {
    let dir = std::env::temp_dir().join(format!("yishi-{name}-{}", Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let db_url = fresh_database(postgres, &dir).await;
    let settings = yishi::config::Settings {
        database_url: yishi::config::Secret::new(db_url.clone()),
        ..yishi::config::Settings::default()
    };
    let db = Db::connect(&settings).await.unwrap();
    db.migrate().await.unwrap();
    (dir, db_url, db)
}

/// Starts `yishi serve` (the binary beside this one) on `db_url` with `env`, and waits until it
/// is ready; returns the process and its base URL.
pub async fn start_server(
    db_url: &str,
    dir: &Path,
    env: &[(&str, &str)],
) -> (tokio::process::Child, String) {
    let port = free_port();
    let bin: PathBuf = std::env::current_exe().unwrap().with_file_name("yishi");
    let server = tokio::process::Command::new(&bin)
        .arg("serve")
        .env("YISHI_BIND", format!("127.0.0.1:{port}"))
        .env("YISHI_DATABASE_URL", db_url)
        .env("YISHI_MAIL_DIR", dir.join("mail"))
        .env("YISHI_EVIDENCE_DIR", dir.join("evidence"))
        .env("YISHI_SEALING_KEY_FILE", dir.join("sealing.key"))
        .env("YISHI_WRITES_PER_MINUTE", "100000000")
        // Warnings only, unless the tool itself was given YISHI_LOG (to look inside a run).
        .env(
            "YISHI_LOG",
            std::env::var("YISHI_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot start {}: {e}; build it first (cargo build --release --bins)",
                bin.display()
            )
        });
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    while http
        .get(format!("{base}/readyz"))
        .send()
        .await
        .map(|r| r.status() != 200)
        .unwrap_or(true)
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    (server, base)
}

/// The `p` quantile of sorted values.
/// POSTs `body` (none: an empty body) as `token` and reads the JSON answer; panics on failure,
/// as a load tool's setup step should.
pub async fn post_json(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    body: Option<serde_json::Value>,
) -> serde_json::Value {
    let request = http.post(url).bearer_auth(token);
    let request = match body {
        Some(body) => request.json(&body),
        None => request,
    };
    request.send().await.unwrap().json().await.unwrap()
}

pub fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// A field of `/proc/<pid>/status` given in KiB.
fn status_kib(pid: u32, name: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(name))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// A process's resident and peak resident memory, in KiB.
pub fn rss_kib(pid: u32) -> (u64, u64) {
    (status_kib(pid, "VmRSS:"), status_kib(pid, "VmHWM:"))
}

/// The CPU time a process has used so far (user and system, all threads), in seconds.
pub fn cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name, which is in parentheses and may hold spaces: utime and
    // stime are the 12th and 13th of them, in clock ticks (100 a second on Linux).
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

/// The part of a process's resident memory that is its own (heap and stacks), in KiB: resident
/// memory without the pages of mapped files (SQLite maps its database file to read it).
pub fn anon_kib(pid: u32) -> u64 {
    status_kib(pid, "RssAnon:")
}

/// Waits until a process's own memory has held within 1% for two seconds (its allocator gives
/// the pages a burst freed back over a second or two), at most `limit`.
pub async fn memory_settled(pid: u32, limit: std::time::Duration) {
    let started = std::time::Instant::now();
    let mut window = std::collections::VecDeque::new();
    while started.elapsed() < limit {
        window.push_back(anon_kib(pid));
        if window.len() > 8 {
            window.pop_front();
            let (lo, hi) = (window.iter().min(), window.iter().max());
            if let (Some(&lo), Some(&hi)) = (lo, hi)
                && hi - lo <= hi / 100
            {
                return;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
}

/// A community, one committee member and `n` residents, each with a bearer token; written in
/// batches straight into the database (no password hashing: these accounts only use tokens).
pub async fn seed_community(db: &Db, n: usize) -> (Uuid, String, Vec<String>) {
    let now = yishi::clock::now();
    let mut parent = None;
    for kind in ["district", "subdistrict", "community"] {
        let id = Uuid::new_v4();
        place::Entity::insert(place::ActiveModel {
            id: Set(id),
            parent_id: Set(parent),
            kind: Set(kind.into()),
            name: Set(format!("压测{kind}")),
            created_at: Set(now),
        })
        .exec(&db.conn)
        .await
        .unwrap();
        parent = Some(id);
    }
    let community = parent.unwrap();
    let mut tokens = Vec::with_capacity(n + 1);
    let ids: Vec<Uuid> = (0..=n).map(|_| Uuid::new_v4()).collect();
    for chunk in ids.chunks(500) {
        let mut users = Vec::new();
        let mut grants = Vec::new();
        let mut sessions = Vec::new();
        for id in chunk {
            let i = tokens.len();
            users.push(user::ActiveModel {
                id: Set(*id),
                email: Set(format!("voter{i}@load.invalid")),
                display_name: Set(format!("居民{i}")),
                password_hash: Set(String::new()),
                language: Set("zh-CN".into()),
                email_verified_at: Set(Some(now)),
                deleted_at: Set(None),
                created_at: Set(now),
                updated_at: Set(now),
            });
            grants.push(role_grant::ActiveModel {
                id: Set(Uuid::new_v4()),
                user_id: Set(*id),
                place_id: Set(Some(community)),
                role: Set(if i == 0 {
                    "committee_member"
                } else {
                    "resident"
                }
                .into()),
                granted_by: Set(None),
                created_at: Set(now),
            });
            let (token, hash) = yishi::accounts::tokens::new_token();
            sessions.push(auth_session::ActiveModel {
                id: Set(Uuid::new_v4()),
                user_id: Set(*id),
                token_hash: Set(hash),
                // Signed in an hour ago, as people are when a poll opens: each one's first
                // request records that they were seen again.
                created_at: Set(now - chrono::Duration::hours(1)),
                expires_at: Set(now + chrono::Duration::hours(2)),
                last_seen_at: Set(now - chrono::Duration::hours(1)),
                user_agent: Set(None),
                client_address: Set(None),
            });
            tokens.push(token);
        }
        user::Entity::insert_many(users)
            .exec(&db.conn)
            .await
            .unwrap();
        role_grant::Entity::insert_many(grants)
            .exec(&db.conn)
            .await
            .unwrap();
        auth_session::Entity::insert_many(sessions)
            .exec(&db.conn)
            .await
            .unwrap();
    }
    let committee = tokens.remove(0);
    (community, committee, tokens)
}
