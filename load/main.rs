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

#[path = "common.rs"]
mod common;

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
    /// After the chat, disconnect every client at once, post messages while they are away,
    /// and measure how long until all are back and have caught up, with nothing missed.
    #[arg(long)]
    reconnect: bool,
    /// Messages posted while the clients are away (with --reconnect).
    #[arg(long, default_value_t = 20)]
    missed: usize,
    /// Run on a fresh database on this PostgreSQL server instead of SQLite.
    #[arg(long)]
    postgres: Option<String>,
    /// Measure Yishi and the ceiling this many times, alternately (Yishi, ceiling, Yishi,
    /// ceiling…), and give the median of the rounds' p99 ratios as well as each. On a shared
    /// machine one pair of runs can land on a busy or a quiet spell; the median of adjacent
    /// pairs is steadier (an odd count has a middle one; of an even count, the higher of the two middle
    /// ones is given). Memory and the reconnect are measured in the first round.
    #[arg(long, default_value_t = 1)]
    rounds: usize,
    /// Internal: serve the bare broadcast ceiling and print its port.
    #[arg(long, hide = true)]
    serve_ceiling: bool,
}

struct Report {
    name: &'static str,
    expected: u64,
    delivered: u64,
    latencies_us: Vec<u64>,
    /// Per message, sorted: when the first client had it (the server's time before fan-out)
    /// and when the last did (the whole broadcast), in µs after it was sent.
    first_us: Vec<u64>,
    last_us: Vec<u64>,
    /// The p99 of the messages sent in each second of the run, in order, in ms: whether a
    /// round's tail is spread over it or comes from a few bad seconds.
    p99_by_second: Vec<f64>,
    connect_secs: f64,
    /// The server's CPU time while the messages were sent and delivered, in seconds.
    cpu_secs: Option<f64>,
    /// The last sequence number each client saw, by client (room events only).
    last_seqs: Vec<Option<i64>>,
    /// Events a client saw out of order or after a hole in the sequence.
    gaps: u64,
    /// The server's resident memory with every client connected, in KiB.
    connected_kib: u64,
    /// The same without mapped files' pages (`RssAnon`).
    connected_anon_kib: u64,
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
            "{:<8} delivered {:>9} of {:>9} (lost {:>6}, gaps {})  p50 {:>7.1} ms  p95 {:>7.1} ms  p99 {:>7.1} ms  max {:>7.1} ms  connect {:>5.1} s",
            self.name,
            self.delivered,
            self.expected,
            self.expected.saturating_sub(self.delivered),
            self.gaps,
            self.pct(0.50),
            self.pct(0.95),
            self.pct(0.99),
            self.pct(1.0),
            self.connect_secs
        );
        let at = |v: &[u64], p: f64| match v.len() {
            0 => f64::NAN,
            n => v[((n as f64 - 1.0) * p).round() as usize] as f64 / 1000.0,
        };
        println!(
            "         per message: first client had it p50 {:.1} ms  p99 {:.1} ms  max {:.1} ms; last client p50 {:.1} ms  p99 {:.1} ms  max {:.1} ms",
            at(&self.first_us, 0.5),
            at(&self.first_us, 0.99),
            at(&self.first_us, 1.0),
            at(&self.last_us, 0.5),
            at(&self.last_us, 0.99),
            at(&self.last_us, 1.0),
        );
        if !self.p99_by_second.is_empty() {
            let each: Vec<String> = self
                .p99_by_second
                .iter()
                .map(|p| format!("{p:.0}"))
                .collect();
            println!(
                "         p99 of each second's messages: {} ms",
                each.join(" ")
            );
        }
        if let Some(cpu) = self.cpu_secs {
            println!(
                "         server CPU while chatting {cpu:.1} s ({:.1} µs per frame delivered)",
                1e6 * cpu / self.delivered.max(1) as f64
            );
        }
    }
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

/// The ceiling: a broadcast server with nothing but a shared frame per message. It runs in a
/// process of its own, as Yishi does, and prints its port.
async fn serve_ceiling() {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    println!("{}", listener.local_addr().unwrap().port());
    let (tx, _) = broadcast::channel::<Message>(4096);
    while let Ok((stream, _)) = listener.accept().await {
        // Nagle's algorithm off, as Yishi has it: the ceiling is a bare server set up for
        // small frames, not one that waits for acknowledgements.
        let _ = stream.set_nodelay(true);
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
            // The room's chat events name their sender twice (as actor and in the payload),
            // the agenda item and the time: the ceiling's frames carry the same fields, so
            // that clients receive and parse as many bytes from both servers.
            let someone = Uuid::new_v4();
            let item = Uuid::new_v4();
            while let Some(Ok(m)) = stream.next().await {
                if let Message::Text(t) = m {
                    let v: serde_json::Value = serde_json::from_str(&t).unwrap_or_default();
                    let seq = SEQ.fetch_add(1, Ordering::Relaxed) + 1;
                    let frame = serde_json::json!({
                        "type": "event", "seq": seq, "kind": "chat.posted", "actor_id": someone,
                        "payload": { "user_id": someone, "name": "居民0", "text": v["text"], "item_id": item },
                        "at": chrono::Utc::now(),
                    });
                    let _ = tx.send(Message::Text(frame.to_string().into()));
                }
            }
            out.abort();
        });
    }
}

/// How the server stored the room's events (its group-commit writer, from `/metrics`): how
/// many commits, events per commit, their mean time and how many took over 25 ms.
async fn room_writes(http: &reqwest::Client, base: &str) -> Option<String> {
    let text = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    let value = |series: &str| {
        text.lines().find_map(|l| {
            l.strip_prefix(series)?
                .strip_prefix(' ')?
                .parse::<f64>()
                .ok()
        })
    };
    let jobs = value(r#"yishi_group_commit_jobs_total{writer="room event"}"#)?;
    let commits = value(r#"yishi_group_commit_seconds_count{writer="room event"}"#)?;
    let sum = value(r#"yishi_group_commit_seconds_sum{writer="room event"}"#)?;
    let fast = value(r#"yishi_group_commit_seconds_bucket{writer="room event",le="0.025"}"#)?;
    Some(format!(
        "yishi room writes: {jobs} events in {commits} commits ({:.2} per commit), mean {:.1} ms, {} over 25 ms",
        jobs / commits.max(1.0),
        1000.0 * sum / commits.max(1.0),
        commits - fast
    ))
}

/// Starts the ceiling's process and returns it with its port.
async fn start_ceiling() -> (tokio::process::Child, u16) {
    use tokio::io::AsyncBufReadExt;
    let mut child = tokio::process::Command::new(std::env::current_exe().unwrap())
        .arg("--serve-ceiling")
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut line = String::new();
    tokio::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .await
        .unwrap();
    (child, line.trim().parse().unwrap())
}

/// The clients' websocket settings, the same for Yishi and the ceiling. tungstenite zero-fills
/// the free part of its read buffer before every read, so the buffer is sized for what one read
/// brings here (a few frames of a few hundred bytes), not larger: with 8 KiB that fill was 4% of
/// the machine's CPU at 2,000 × 50/s, taken from the servers being measured.
fn client_config() -> tokio_tungstenite::tungstenite::protocol::WebSocketConfig {
    tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default().read_buffer_size(2 * 1024)
}

async fn connect(url: &str) -> Option<Socket> {
    for _ in 0..10 {
        if let Ok((ws, _)) =
            tokio_tungstenite::connect_async_with_config(url, Some(client_config()), false).await
        {
            return Some(ws);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    None
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// What a client reads from a frame: borrowed from its text, the rest skipped unbuilt, so the
/// tool spends as little of the shared cores as it can on each of the many frames it takes
/// (the same for Yishi and the ceiling).
#[derive(serde::Deserialize)]
struct Probe<'a> {
    #[serde(rename = "type", borrow)]
    frame: Option<&'a str>,
    #[serde(borrow)]
    kind: Option<&'a str>,
    #[serde(borrow)]
    code: Option<&'a str>,
    seq: Option<i64>,
    last_seq: Option<i64>,
    resumed: Option<bool>,
    #[serde(borrow)]
    payload: Option<ProbePayload<'a>>,
}

#[derive(serde::Deserialize)]
struct ProbePayload<'a> {
    #[serde(borrow)]
    text: Option<std::borrow::Cow<'a, str>>,
}

impl<'a> Probe<'a> {
    fn parse(text: &'a str) -> Option<Self> {
        serde_json::from_str(text).ok()
    }

    /// The send time a chat frame carries (`t=<µs since the run's epoch>`).
    fn sent_micros(&self) -> Option<u64> {
        if self.kind != Some("chat.posted") {
            return None;
        }
        self.payload
            .as_ref()?
            .text
            .as_deref()?
            .strip_prefix("t=")?
            .parse()
            .ok()
    }
}

/// Follows a room's sequence numbers as a client sees them: `welcome` sets where it starts,
/// each event must be the next one.
#[derive(Default)]
struct SeqTrack {
    last: Option<i64>,
    gaps: u64,
}

impl SeqTrack {
    fn see(&mut self, frame: &Probe) {
        match frame.frame {
            Some("welcome") => {
                if let Some(at) = frame.last_seq {
                    self.last = Some(at);
                }
            }
            Some("event") => {
                if let (Some(seq), Some(last)) = (frame.seq, self.last) {
                    if seq != last + 1 {
                        self.gaps += 1;
                    }
                    self.last = Some(seq);
                }
            }
            _ => {}
        }
    }
}

/// Connects every client, lets arrivals settle, has the senders chat, and measures. `server`
/// is the server's process, whose memory is read once everyone is connected.
async fn run_clients(
    name: &'static str,
    urls: &[String],
    args: &Args,
    epoch: Instant,
    server: Option<u32>,
) -> Report {
    let started = Instant::now();
    let delivered = Arc::new(AtomicU64::new(0));
    let mut readers = Vec::new();
    let mut senders = Vec::new();
    let connects = futures_util::future::join_all(urls.iter().map(|u| connect(u.as_str()))).await;
    let connect_secs = started.elapsed().as_secs_f64();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut last_seqs = vec![None; urls.len()];
    for (i, ws) in connects.into_iter().enumerate() {
        let Some(ws) = ws else { continue };
        let (sink, mut stream) = ws.split();
        if i < args.senders {
            senders.push(sink);
        } else {
            drop(sink);
        }
        let delivered = delivered.clone();
        let mut stop = stop_rx.clone();
        readers.push((
            i,
            tokio::spawn(async move {
                let mut lat = Vec::new();
                let mut track = SeqTrack::default();
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
                    let Some(v) = Probe::parse(&t) else { continue };
                    if v.frame == Some("error") {
                        eprintln!("error frame: {:?}", v.code);
                    }
                    track.see(&v);
                    if let Some(sent) = v.sent_micros() {
                        lat.push((
                            sent,
                            (epoch.elapsed().as_micros() as u64).saturating_sub(sent),
                        ));
                        delivered.fetch_add(1, Ordering::Relaxed);
                    }
                }
                (lat, track)
            }),
        ));
    }
    let clients = readers.len() as u64;
    // Let the arrivals (one presence event each, fanned out to everyone) settle first.
    tokio::time::sleep(Duration::from_secs(args.settle)).await;
    if let Some(pid) = server {
        common::memory_settled(pid, Duration::from_secs(10)).await;
    }
    let connected_kib = server.map(common::rss_kib).unwrap_or((0, 0)).0;
    let connected_anon_kib = server.map(common::anon_kib).unwrap_or(0);
    let per_sender = args.rate / senders.len().max(1) as f64;
    let total_each = (per_sender * args.seconds as f64).round() as u64;
    let sent_total = Arc::new(AtomicU64::new(0));
    let cpu_before = server.map(common::cpu_secs);
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
    let cpu_secs = server
        .zip(cpu_before)
        .map(|(pid, before)| common::cpu_secs(pid) - before);
    let _ = stop_tx.send(true);
    let mut latencies_us = Vec::new();
    let mut per_message: std::collections::HashMap<u64, (u64, u64)> = Default::default();
    let mut by_second: std::collections::BTreeMap<u64, Vec<u64>> = Default::default();
    let mut gaps = 0;
    for (i, r) in readers {
        if let Ok((lat, track)) = r.await {
            for (sent, l) in lat {
                latencies_us.push(l);
                by_second.entry(sent / 1_000_000).or_default().push(l);
                let m = per_message.entry(sent).or_insert((l, l));
                *m = (m.0.min(l), m.1.max(l));
            }
            last_seqs[i] = track.last;
            gaps += track.gaps;
        }
    }
    latencies_us.sort_unstable();
    let p99_by_second = by_second
        .into_values()
        .map(|mut v| {
            v.sort_unstable();
            v[((v.len() as f64 - 1.0) * 0.99).round() as usize] as f64 / 1000.0
        })
        .collect();
    let (mut first_us, mut last_us): (Vec<u64>, Vec<u64>) = per_message.into_values().unzip();
    first_us.sort_unstable();
    last_us.sort_unstable();
    drop(sinks);
    Report {
        name,
        expected,
        delivered: delivered.load(Ordering::Relaxed),
        latencies_us,
        first_us,
        last_us,
        p99_by_second,
        connect_secs,
        cpu_secs,
        last_seqs,
        gaps,
        connected_kib,
        connected_anon_kib,
    }
}

/// What the reconnect storm showed.
struct Recovery {
    clients: usize,
    recovered: usize,
    /// Clients that came back with a snapshot instead of the missed events.
    snapshots: usize,
    /// Events a reconnected client saw out of order or after a hole.
    gaps: u64,
    /// Seconds from the storm's start until each client had caught up, sorted.
    secs: Vec<f64>,
    /// Seconds from the storm's start until each client had its ticket, sorted.
    ticket_secs: Vec<f64>,
    /// Ticket requests answered 503 (shed) before the one that succeeded.
    tickets_shed: u64,
    /// Ticket requests that failed otherwise (another status, or no answer).
    tickets_failed: u64,
}

impl Recovery {
    fn print(&self) {
        let at = |p: f64| {
            self.secs
                .get(((self.secs.len() as f64 - 1.0) * p).round() as usize)
                .copied()
                .unwrap_or(f64::NAN)
        };
        let ticket = |p: f64| {
            self.ticket_secs
                .get(((self.ticket_secs.len() as f64 - 1.0) * p).round() as usize)
                .copied()
                .unwrap_or(f64::NAN)
        };
        println!(
            "reconnect: {} of {} caught up (snapshots {}, gaps {})  p50 {:.1} s  p99 {:.1} s  all {:.1} s  (tickets: p50 {:.1} s, all {:.1} s; {} shed, {} failed)",
            self.recovered,
            self.clients,
            self.snapshots,
            self.gaps,
            at(0.5),
            at(0.99),
            at(1.0),
            ticket(0.5),
            ticket(1.0),
            self.tickets_shed,
            self.tickets_failed
        );
    }
}

/// Every client reconnects at once, as browsers do after a network blip: a fresh ticket over
/// HTTP, then the socket with its last sequence number. A refused ticket (503 when the server
/// sheds load) is asked for again with the web client's backoff. A client has caught up when
/// it has every event up to `target` with no hole.
async fn reconnect_storm(
    base: &str,
    sid: Uuid,
    tokens: &[String],
    last_seqs: &[Option<i64>],
    target: i64,
) -> Recovery {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let started = Instant::now();
    let ws_base = base.replace("http://", "ws://");
    let (shed, failed) = (&AtomicU64::new(0), &AtomicU64::new(0));
    let outcomes = futures_util::future::join_all(
        tokens
            .iter()
            .zip(last_seqs)
            .filter_map(|(token, last)| last.map(|last| (token, last)))
            .map(|(token, last)| {
                let (http, ws_base) = (http.clone(), ws_base.clone());
                async move {
                    let mut backoff = 500u64;
                    let ticket = loop {
                        let answer = http
                            .post(format!("{base}/api/v1/sessions/{sid}/tickets"))
                            .bearer_auth(token)
                            .json(&serde_json::json!({}))
                            .send()
                            .await;
                        match answer {
                            Ok(a) if a.status() == 201 => {
                                if let Ok(v) = a.json::<serde_json::Value>().await {
                                    break v["ticket"].as_str().unwrap_or_default().to_string();
                                }
                                failed.fetch_add(1, Ordering::Relaxed);
                            }
                            Ok(a) if a.status() == 503 => {
                                shed.fetch_add(1, Ordering::Relaxed);
                            }
                            _ => {
                                failed.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        // As the web client does: wait, doubling up to 15 s, drawn at random
                        // in the upper half so that refused clients do not return together.
                        let wait = backoff / 2 + rand::random::<u64>() % (backoff / 2 + 1);
                        tokio::time::sleep(Duration::from_millis(wait)).await;
                        backoff = (backoff * 2).min(15_000);
                    };
                    let ticketed = started.elapsed().as_secs_f64();
                    let url = format!(
                        "{ws_base}/api/v1/sessions/{sid}/live?ticket={ticket}&last_seq={last}"
                    );
                    let mut ws = connect(&url).await?;
                    let mut track = SeqTrack {
                        last: Some(last),
                        gaps: 0,
                    };
                    let mut resumed = false;
                    while track.last.unwrap_or(0) < target {
                        let m = tokio::time::timeout(Duration::from_secs(60), ws.next())
                            .await
                            .ok()??
                            .ok()?;
                        let Message::Text(t) = m else { continue };
                        let v = Probe::parse(&t)?;
                        if v.frame == Some("welcome") {
                            resumed = v.resumed == Some(true);
                            if !resumed {
                                return Some((started.elapsed().as_secs_f64(), ticketed, false, 0));
                            }
                            continue;
                        }
                        track.see(&v);
                    }
                    let _ = ws.close(None).await;
                    Some((
                        started.elapsed().as_secs_f64(),
                        ticketed,
                        resumed,
                        track.gaps,
                    ))
                }
            }),
    )
    .await;
    let mut r = Recovery {
        clients: outcomes.len(),
        recovered: 0,
        snapshots: 0,
        gaps: 0,
        secs: Vec::new(),
        ticket_secs: Vec::new(),
        tickets_shed: shed.load(Ordering::Relaxed),
        tickets_failed: failed.load(Ordering::Relaxed),
    };
    for (secs, ticketed, resumed, gaps) in outcomes.into_iter().flatten() {
        r.ticket_secs.push(ticketed);
        if resumed {
            r.recovered += 1;
            r.secs.push(secs);
        } else {
            r.snapshots += 1;
        }
        r.gaps += gaps;
    }
    r.secs.sort_by(f64::total_cmp);
    r.ticket_secs.sort_by(f64::total_cmp);
    r
}

/// A fresh ticket for every participant, as the websocket addresses to connect to.
async fn tickets(
    http: &reqwest::Client,
    base: &str,
    port: &str,
    sid: Uuid,
    tokens: &[String],
) -> Vec<String> {
    eprintln!("issuing tickets…");
    let mut urls = Vec::with_capacity(tokens.len());
    for token in tokens {
        let t = post(
            http,
            &format!("{base}/api/v1/sessions/{sid}/tickets"),
            token,
            serde_json::json!({}),
        )
        .await;
        urls.push(format!(
            "ws://127.0.0.1:{port}/api/v1/sessions/{sid}/live?ticket={}",
            t["ticket"].as_str().unwrap_or_default()
        ));
    }
    urls
}

/// The bare broadcast ceiling: started, measured with the same clients, stopped. Its report and
/// its peak memory in KiB.
async fn ceiling_round(args: &Args, epoch: Instant) -> (Report, u64) {
    let (mut child, port) = start_ceiling().await;
    let urls: Vec<String> = (0..args.clients)
        .map(|_| format!("ws://127.0.0.1:{port}/"))
        .collect();
    eprintln!("ceiling: the same against a bare broadcast server…");
    let report = run_clients("ceiling", &urls, args, epoch, child.id()).await;
    let (_, hwm) = child.id().map(common::rss_kib).unwrap_or((0, 0));
    let _ = child.kill().await;
    (report, hwm)
}

/// POSTs JSON with a bearer token and returns the JSON answer.
async fn post(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    body: serde_json::Value,
) -> serde_json::Value {
    let answer = http.post(url).bearer_auth(token).json(&body).send().await;
    answer.unwrap().json().await.unwrap()
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    if args.serve_ceiling {
        serve_ceiling().await;
        return;
    }
    let (dir, db_url, db) = common::scratch("load", args.postgres.as_deref()).await;
    eprintln!("seeding {} participants…", args.clients);
    let (sid, tokens) = seed(&db, args.clients).await;
    let (mut server, base) = common::start_server(
        &db_url,
        &dir,
        &[
            ("YISHI_CHAT_PER_10S", "1000000"),
            ("YISHI_LIVE_SEND_QUEUE", "4096"),
            ("YISHI_LIVE_FRAMES_PER_SEC", "1000000"),
        ],
    )
    .await;
    let port = base.rsplit(':').next().unwrap().to_string();
    let http = reqwest::Client::new();
    let urls = tickets(&http, &base, &port, sid, &tokens).await;
    // Idle means after the tickets' requests have left nothing behind to give back.
    if let Some(pid) = server.id() {
        common::memory_settled(pid, Duration::from_secs(10)).await;
    }
    let (idle, _) = server.id().map(common::rss_kib).unwrap_or((0, 0));
    let idle_anon = server.id().map(common::anon_kib).unwrap_or(0);
    let epoch = Instant::now();
    eprintln!(
        "yishi: {} clients, {} msg/s for {} s…",
        args.clients, args.rate, args.seconds
    );
    let yishi_report = run_clients("yishi", &urls, &args, epoch, server.id()).await;
    let (_, hwm) = server.id().map(common::rss_kib).unwrap_or((0, 0));
    let writes = room_writes(&http, &base).await;
    let recovery = if args.reconnect {
        // Everyone is away now: what is said meanwhile must reach them when they are back.
        let mut target = 0;
        for i in 0..args.missed {
            let posted = post(
                &http,
                &format!("{base}/api/v1/sessions/{sid}/room"),
                &tokens[0],
                serde_json::json!({ "type": "chat", "text": format!("while away {i}") }),
            )
            .await;
            target = target.max(posted["seq"].as_i64().unwrap_or(0));
        }
        eprintln!("reconnect: {} clients at once…", args.clients);
        Some(reconnect_storm(&base, sid, &tokens, &yishi_report.last_seqs, target).await)
    } else {
        None
    };
    let ceiling = if args.no_ceiling {
        None
    } else {
        Some(ceiling_round(&args, epoch).await)
    };
    // Further rounds, alternating, for the median ratio.
    let mut ratios = Vec::new();
    if let Some((c, _)) = &ceiling {
        ratios.push(yishi_report.pct(0.99) / c.pct(0.99));
    }
    let mut more = Vec::new();
    let rounds = if args.no_ceiling { 1 } else { args.rounds };
    for round in 2..=rounds {
        eprintln!("round {round} of {}…", args.rounds);
        let urls = tickets(&http, &base, &port, sid, &tokens).await;
        let y = run_clients("yishi", &urls, &args, epoch, server.id()).await;
        let (c, _) = ceiling_round(&args, epoch).await;
        ratios.push(y.pct(0.99) / c.pct(0.99));
        more.push((y, c));
    }
    let _ = server.kill().await;
    println!(
        "clients {}  rate {} msg/s  seconds {}",
        args.clients, args.rate, args.seconds
    );
    yishi_report.print();
    if let Some((c, _)) = &ceiling {
        c.print();
        println!(
            "ratio yishi/ceiling: p50 {:.2}  p99 {:.2}",
            yishi_report.pct(0.5) / c.pct(0.5),
            yishi_report.pct(0.99) / c.pct(0.99)
        );
    }
    for (round, (y, c)) in more.iter().enumerate() {
        println!("round {}:", round + 2);
        y.print();
        c.print();
        println!(
            "ratio yishi/ceiling: p50 {:.2}  p99 {:.2}",
            y.pct(0.5) / c.pct(0.5),
            y.pct(0.99) / c.pct(0.99)
        );
    }
    if ratios.len() > 1 {
        let each: Vec<String> = ratios.iter().map(|r| format!("{r:.2}")).collect();
        ratios.sort_by(f64::total_cmp);
        println!(
            "p99 ratio yishi/ceiling over {} alternating rounds: median {:.2} (each in order run: {})",
            ratios.len(),
            ratios[ratios.len() / 2],
            each.join(", ")
        );
    }
    if let Some(w) = writes {
        println!("{w}");
    }
    if let Some(r) = &recovery {
        r.print();
    }
    let rss = yishi_report.connected_kib;
    println!(
        "yishi server memory: idle {} MiB, with {} sockets {} MiB ({:.1} KiB per socket; its own memory without mapped file pages {:.1} KiB per socket), peak {} MiB",
        idle / 1024,
        args.clients,
        rss / 1024,
        rss.saturating_sub(idle) as f64 / args.clients.max(1) as f64,
        yishi_report.connected_anon_kib.saturating_sub(idle_anon) as f64
            / args.clients.max(1) as f64,
        hwm / 1024
    );
    if let Some((c, hwm)) = &ceiling {
        println!(
            "ceiling server memory: with {} sockets {} MiB, peak {} MiB",
            args.clients,
            c.connected_kib / 1024,
            hwm / 1024
        );
    }
    common::discard(&dir, args.postgres.as_deref(), &db_url).await;
}
