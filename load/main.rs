//! Load generator for the live room, with a bare broadcast server as the ceiling.
//!
//! `cargo run --release --bin yishi-load -- --clients 2000 --rate 50 --seconds 20`
//!
//! Starts `yishi serve` (the binary beside this one) on a fresh SQLite file, seeds an open
//! session with N residents holding bearer tokens, connects N websockets through tickets, has
//! a few of them chat at the given total rate, and measures on every client the delivery
//! latency of every message. Then runs the same clients against a bare tokio-tungstenite
//! broadcast server (no auth, no storage, one shared frame per message) and prints both, with
//! the ratio. Absolute figures drift on shared machines; the ratio holds.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use sea_orm::{ActiveModelTrait, Set};
use tokio::sync::broadcast;
use tokio_tungstenite::tungstenite::Message;
use uuid::Uuid;
use yishi::config::{Secret, Settings};
use yishi::db::Db;
use yishi::entities::{agenda_item, auth_session, place, role_grant, session, user};

#[derive(Parser, Clone)]
#[command(about = "Load the live room and compare it with a bare broadcast server")]
struct Args {
    /// Connected participants.
    #[arg(long, default_value_t = 500)]
    clients: usize,
    /// Chat messages per second, in total.
    #[arg(long, default_value_t = 10.0)]
    rate: f64,
    /// How long to send, in seconds.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// How many of the clients send.
    #[arg(long, default_value_t = 10)]
    senders: usize,
    /// Seconds to wait after connecting before sending (arrivals are events too).
    #[arg(long, default_value_t = 10)]
    settle: u64,
    /// Skip the bare broadcast ceiling.
    #[arg(long)]
    no_ceiling: bool,
}

struct Report {
    name: &'static str,
    expected: u64,
    delivered: u64,
    latencies_us: Vec<u64>,
    connect_secs: f64,
}

impl Report {
    fn pct(&self, p: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return f64::NAN;
        }
        let i = ((self.latencies_us.len() as f64 - 1.0) * p).round() as usize;
        self.latencies_us[i] as f64 / 1000.0
    }
    fn print(&self) {
        println!(
            "{:<8} delivered {:>9} of {:>9} (lost {:>6})  p50 {:>7.1} ms  p95 {:>7.1} ms  p99 {:>7.1} ms  max {:>7.1} ms  connect {:>5.1} s",
            self.name,
            self.delivered,
            self.expected,
            self.expected.saturating_sub(self.delivered),
            self.pct(0.50),
            self.pct(0.95),
            self.pct(0.99),
            self.pct(1.0),
            self.connect_secs
        );
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Seeds a community, an open session and `n` residents with bearer tokens, straight into the
/// database (no password hashing: these accounts cannot sign in, only use their tokens).
async fn seed(db: &Db, n: usize) -> (Uuid, Vec<String>) {
    let now = yishi::clock::now();
    let mk_place = |kind: &str, parent: Option<Uuid>| place::ActiveModel {
        id: Set(Uuid::new_v4()),
        parent_id: Set(parent),
        kind: Set(kind.into()),
        name: Set(format!("负载测试{kind}")),
        created_at: Set(now),
    };
    let district = mk_place("district", None)
        .insert(&db.conn)
        .await
        .unwrap()
        .id;
    let sub = mk_place("subdistrict", Some(district))
        .insert(&db.conn)
        .await
        .unwrap()
        .id;
    let community = mk_place("community", Some(sub))
        .insert(&db.conn)
        .await
        .unwrap()
        .id;
    let mut tokens = Vec::with_capacity(n);
    let mut chair = None;
    for i in 0..n {
        let id = Uuid::new_v4();
        user::ActiveModel {
            id: Set(id),
            email: Set(format!("load{i}@load.invalid")),
            display_name: Set(format!("居民{i}")),
            password_hash: Set(String::new()),
            language: Set("zh-CN".into()),
            email_verified_at: Set(Some(now)),
            deleted_at: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(&db.conn)
        .await
        .unwrap();
        let role = if i == 0 {
            "party_secretary"
        } else {
            "resident"
        };
        role_grant::ActiveModel {
            id: Set(Uuid::new_v4()),
            user_id: Set(id),
            place_id: Set(Some(community)),
            role: Set(role.into()),
            granted_by: Set(None),
            created_at: Set(now),
        }
        .insert(&db.conn)
        .await
        .unwrap();
        let (token, hash) = yishi::accounts::tokens::new_token();
        auth_session::ActiveModel {
            id: Set(Uuid::new_v4()),
            user_id: Set(id),
            token_hash: Set(hash),
            created_at: Set(now),
            expires_at: Set(now + chrono::Duration::hours(2)),
            last_seen_at: Set(now),
            user_agent: Set(None),
            client_address: Set(None),
        }
        .insert(&db.conn)
        .await
        .unwrap();
        tokens.push(token);
        chair.get_or_insert(id);
    }
    let sid = Uuid::new_v4();
    session::ActiveModel {
        id: Set(sid),
        community_id: Set(community),
        title: Set("负载测试".into()),
        purpose: Set("load".into()),
        starts_at: Set(now),
        ends_at: Set(now + chrono::Duration::hours(2)),
        address: Set(None),
        online: Set(true),
        status: Set("open".into()),
        chair_id: Set(chair.unwrap()),
        created_by: Set(chair.unwrap()),
        invited: Set("{}".into()),
        cancel_reason: Set(None),
        current_item_id: Set(None),
        event_seq: Set(0),
        revision: Set(0),
        reminded_at: Set(None),
        opened_at: Set(Some(now)),
        closed_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&db.conn)
    .await
    .unwrap();
    agenda_item::ActiveModel {
        id: Set(Uuid::new_v4()),
        session_id: Set(sid),
        position: Set(1),
        proposal_id: Set(None),
        title: Set("议题".into()),
        description: Set(String::new()),
        created_at: Set(now),
    }
    .insert(&db.conn)
    .await
    .unwrap();
    (sid, tokens)
}

/// The ceiling: a broadcast server with nothing but a shared frame per message.
async fn bare_server() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, _) = broadcast::channel::<Message>(4096);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let Ok(ws) = tokio_tungstenite::accept_async(stream).await else {
                    return;
                };
                let (mut sink, mut stream) = ws.split();
                let mut rx = tx.subscribe();
                let _ = sink
                    .send(Message::Text("{\"type\":\"welcome\"}".into()))
                    .await;
                let out = tokio::spawn(async move {
                    while let Ok(m) = rx.recv().await {
                        if sink.send(m).await.is_err() {
                            break;
                        }
                    }
                });
                while let Some(Ok(m)) = stream.next().await {
                    if let Message::Text(t) = m {
                        // Shaped like the room's events, so clients parse the same thing.
                        let v: serde_json::Value = serde_json::from_str(&t).unwrap_or_default();
                        let frame = serde_json::json!({ "type": "event", "kind": "chat.posted", "payload": { "text": v["text"] } });
                        let _ = tx.send(Message::Text(frame.to_string().into()));
                    }
                }
                out.abort();
            });
        }
    });
    port
}

async fn run_clients(name: &'static str, urls: Vec<String>, args: &Args, epoch: Instant) -> Report {
    let started = Instant::now();
    let delivered = Arc::new(AtomicU64::new(0));
    let mut readers = Vec::new();
    let mut senders = Vec::new();
    let connects = futures_util::future::join_all(urls.into_iter().map(|u| async move {
        for _ in 0..5 {
            if let Ok((ws, _)) = tokio_tungstenite::connect_async(u.as_str()).await {
                return Some(ws);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        None
    }))
    .await;
    let connect_secs = started.elapsed().as_secs_f64();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    for (i, ws) in connects.into_iter().flatten().enumerate() {
        let (sink, mut stream) = ws.split();
        if i < args.senders {
            senders.push(sink);
        } else {
            drop(sink);
        }
        let delivered = delivered.clone();
        let mut stop = stop_rx.clone();
        readers.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            loop {
                let m = tokio::select! {
                    _ = stop.changed() => break,
                    m = stream.next() => m,
                };
                let t = match m {
                    Some(Ok(Message::Text(t))) => t,
                    Some(Ok(Message::Close(c))) => {
                        eprintln!("a client was closed: {c:?}");
                        break;
                    }
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => {
                        eprintln!("a client failed: {e}");
                        break;
                    }
                    None => break,
                };
                let v: serde_json::Value = match serde_json::from_str(&t) {
                    Ok(v) => v,
                    Err(_) => continue,
                };
                if v["type"] == "error" {
                    eprintln!("error frame: {}", v["code"]);
                }
                if v["kind"] == "chat.posted"
                    && let Some(sent) = v["payload"]["text"]
                        .as_str()
                        .and_then(|s| s.strip_prefix("t="))
                        .and_then(|s| s.parse::<u64>().ok())
                {
                    lat.push((epoch.elapsed().as_micros() as u64).saturating_sub(sent));
                    delivered.fetch_add(1, Ordering::Relaxed);
                }
            }
            lat
        }));
    }
    let clients = readers.len() as u64;
    // Let the arrivals (one presence event each, fanned out to everyone) settle first.
    tokio::time::sleep(Duration::from_secs(args.settle)).await;
    let per_sender = args.rate / senders.len().max(1) as f64;
    let total_each = (per_sender * args.seconds as f64).round() as u64;
    let sent_total = Arc::new(AtomicU64::new(0));
    let tasks: Vec<_> = senders
        .into_iter()
        .enumerate()
        .map(|(i, mut sink)| {
            let sent_total = sent_total.clone();
            tokio::spawn(async move {
                let gap = Duration::from_secs_f64(1.0 / per_sender.max(0.001));
                tokio::time::sleep(gap.mul_f64(i as f64 / 10.0)).await;
                let mut tick = tokio::time::interval(gap);
                for _ in 0..total_each {
                    tick.tick().await;
                    let msg = serde_json::json!({ "type": "chat", "text": format!("t={}", epoch.elapsed().as_micros()) });
                    if sink.send(Message::Text(msg.to_string().into())).await.is_ok() {
                        sent_total.fetch_add(1, Ordering::Relaxed);
                    }
                }
                sink
            })
        })
        .collect();
    let sinks = futures_util::future::join_all(tasks).await;
    let expected = sent_total.load(Ordering::Relaxed) * clients;
    // Wait until everything sent has arrived everywhere, or five quiet seconds.
    let mut last = 0;
    let mut quiet = 0;
    while delivered.load(Ordering::Relaxed) < expected && quiet < 50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = delivered.load(Ordering::Relaxed);
        quiet = if now == last { quiet + 1 } else { 0 };
        last = now;
    }
    let _ = stop_tx.send(true);
    let mut latencies_us = Vec::new();
    for r in readers {
        if let Ok(mut lat) = r.await {
            latencies_us.append(&mut lat);
        }
    }
    latencies_us.sort_unstable();
    drop(sinks);
    Report {
        name,
        expected,
        delivered: delivered.load(Ordering::Relaxed),
        latencies_us,
        connect_secs,
    }
}

fn rss_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let dir = std::env::temp_dir().join(format!("yishi-load-{}", Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let db_url = format!("sqlite://{}?mode=rwc", dir.join("load.db").display());
    let port = free_port();
    let bin: PathBuf = std::env::current_exe().unwrap().with_file_name("yishi");
    let settings = Settings {
        database_url: Secret::new(db_url.clone()),
        ..Settings::default()
    };
    let db = Db::connect(&settings).await.unwrap();
    db.migrate().await.unwrap();
    eprintln!("seeding {} participants…", args.clients);
    let (sid, tokens) = seed(&db, args.clients).await;
    let mut server = tokio::process::Command::new(&bin)
        .arg("serve")
        .env("YISHI_BIND", format!("127.0.0.1:{port}"))
        .env("YISHI_DATABASE_URL", &db_url)
        .env("YISHI_MAIL_DIR", dir.join("mail"))
        .env("YISHI_CHAT_PER_10S", "1000000")
        .env("YISHI_WRITES_PER_MINUTE", "100000000")
        .env("YISHI_LIVE_SEND_QUEUE", "4096")
        .env("YISHI_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot start {}: {e}; build it first (cargo build --release)",
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
    eprintln!("issuing tickets…");
    let mut urls = Vec::with_capacity(tokens.len());
    for token in &tokens {
        let t: serde_json::Value = http
            .post(format!("{base}/api/v1/sessions/{sid}/tickets"))
            .bearer_auth(token)
            .json(&serde_json::json!({}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        urls.push(format!(
            "ws://127.0.0.1:{port}/api/v1/sessions/{sid}/live?ticket={}",
            t["ticket"].as_str().unwrap_or_default()
        ));
    }
    let epoch = Instant::now();
    eprintln!(
        "yishi: {} clients, {} msg/s for {} s…",
        args.clients, args.rate, args.seconds
    );
    let yishi_report = run_clients("yishi", urls, &args, epoch).await;
    let (rss, hwm) = server.id().map(rss_kib).unwrap_or((0, 0));
    let _ = server.kill().await;
    let ceiling = if args.no_ceiling {
        None
    } else {
        let port = bare_server().await;
        let urls = (0..args.clients)
            .map(|_| format!("ws://127.0.0.1:{port}/"))
            .collect();
        eprintln!("ceiling: the same against a bare broadcast server…");
        Some(run_clients("ceiling", urls, &args, epoch).await)
    };
    println!(
        "clients {}  rate {} msg/s  seconds {}",
        args.clients, args.rate, args.seconds
    );
    yishi_report.print();
    if let Some(c) = &ceiling {
        c.print();
        println!(
            "ratio yishi/ceiling: p50 {:.2}  p99 {:.2}",
            yishi_report.pct(0.5) / c.pct(0.5),
            yishi_report.pct(0.99) / c.pct(0.99)
        );
    }
    println!(
        "yishi server memory: rss {} MiB, peak {} MiB",
        rss / 1024,
        hwm / 1024
    );
    let _ = std::fs::remove_dir_all(&dir);
}
