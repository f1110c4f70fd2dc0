//! Ballot burst benchmark.
//!
//! `cargo build --release && target/release/yishi-ballots --voters 20000 --rate 2000`
//! (add `--postgres postgres://postgres@127.0.0.1:5432/postgres` to run on PostgreSQL).
//!
//! Starts `yishi serve` (the binary beside this one) on a fresh database, seeds a community
//! with N verified residents holding bearer tokens, creates and opens a yes/no poll for all of
//! them over HTTP, casts every ballot (each with an Idempotency-Key) either at a fixed rate, open
//! loop (`--rate`: the question "does it keep up with R ballots/s, and how fast does it answer"),
//! or from C clients that each send their next once answered (`--concurrency`: how many it can
//! take at most), closes the poll, and prints ballots per second, latency percentiles and the close time.
//! Then it checks the published result and the stored ballots against the ballots the server
//! acknowledged: none lost, none counted twice. A ballot refused at once because the server was
//! at its limit of requests in progress (503 `overloaded`, nothing stored) is counted apart as
//! shed; any shed ballot or failure makes the exit status 1.

#[path = "common.rs"]
mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use uuid::Uuid;
use yishi::entities::ballot;

#[derive(Parser)]
#[command(about = "Cast a burst of ballots and measure throughput, latency and close time")]
struct Args {
    #[arg(long, default_value_t = 10_000)]
    voters: usize,
    /// Closed loop: this many clients, each casting its next ballot once the last is answered.
    #[arg(long, default_value_t = 200)]
    concurrency: usize,
    /// Open loop instead: ballots sent at this many per second on a schedule fixed at the
    /// start, whether or not earlier ones have been answered (a slow server shows as latency).
    #[arg(long)]
    rate: Option<u64>,
    /// Run on a fresh database on this PostgreSQL server instead of SQLite.
    #[arg(long)]
    postgres: Option<String>,
    /// Run this many bursts on the same server one after another, each on a new poll for the
    /// same voters: a later round shows the server warm (connections used, caches filled).
    #[arg(long, default_value_t = 1)]
    rounds: u32,
}

/// Casts voter `i`'s ballot with a fresh Idempotency-Key; a dropped connection is retried with
/// the same key (never counted twice). The latency in ms from the first attempt, or the failure.
async fn cast(http: &reqwest::Client, url: &str, token: &str, i: usize) -> Result<f64, String> {
    let key = Uuid::new_v4().to_string();
    let t = Instant::now();
    let mut attempt = 0;
    loop {
        let sent = http
            .post(url)
            .bearer_auth(token)
            .header("Idempotency-Key", &key)
            .json(&serde_json::json!({ "choices": [choice(i)] }))
            .send()
            .await;
        match sent {
            Ok(r) if r.status().as_u16() == 201 || r.status().as_u16() == 200 => {
                return Ok(t.elapsed().as_secs_f64() * 1000.0);
            }
            Ok(r) => return Err(r.status().to_string()),
            Err(_) if attempt < 3 => attempt += 1,
            Err(e) => return Err(e.to_string()),
        }
    }
}

/// What came of the ballots sent.
#[derive(Default)]
struct Outcomes {
    /// Latencies of the acknowledged ballots, in ms.
    latencies: Vec<f64>,
    /// Which voters' ballots were acknowledged.
    acknowledged: Vec<usize>,
    /// Refused at once because the server was at its limit of requests in progress (503):
    /// nothing stored, the client may try again.
    shed: usize,
    failures: Vec<String>,
}

impl Outcomes {
    fn add(&mut self, i: usize, outcome: Result<f64, String>) {
        match outcome {
            Ok(ms) => {
                self.latencies.push(ms);
                self.acknowledged.push(i);
            }
            Err(e) if e.starts_with("503") => self.shed += 1,
            Err(e) => self.failures.push(e),
        }
    }
}

/// `clients` clients, each casting the next uncast ballot once its last is answered.
async fn closed_loop(
    http: &reqwest::Client,
    url: &str,
    tokens: &Arc<Vec<String>>,
    clients: usize,
) -> Outcomes {
    let next = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..clients)
        .map(|_| {
            let (tokens, next, http, url) =
                (tokens.clone(), next.clone(), http.clone(), url.to_string());
            tokio::spawn(async move {
                let mut mine = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(token) = tokens.get(i) else { break };
                    mine.push((i, cast(&http, &url, token, i).await));
                }
                mine
            })
        })
        .collect();
    let mut out = Outcomes::default();
    for w in workers {
        for (i, outcome) in w.await.unwrap() {
            out.add(i, outcome);
        }
    }
    out
}

/// Every ballot sent on a fixed schedule, `rate` per second, released in batches every 5 ms.
async fn open_loop(
    http: &reqwest::Client,
    url: &str,
    tokens: &Arc<Vec<String>>,
    rate: u64,
) -> Outcomes {
    let tick = Duration::from_millis(5);
    let per_tick = rate as f64 * tick.as_secs_f64();
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(tokens.len());
    let mut n_tick = 0u64;
    while tasks.len() < tokens.len() {
        n_tick += 1;
        let due = ((n_tick as f64 * per_tick) as usize).min(tokens.len());
        while tasks.len() < due {
            let i = tasks.len();
            let (tokens, http, url) = (tokens.clone(), http.clone(), url.to_string());
            tasks.push(tokio::spawn(async move {
                cast(&http, &url, &tokens[i], i).await
            }));
        }
        tokio::time::sleep_until((started + tick * n_tick as u32).into()).await;
    }
    let mut out = Outcomes::default();
    for (i, t) in tasks.into_iter().enumerate() {
        out.add(i, t.await.unwrap());
    }
    out
}

/// The p99 of the ballots sent in each second of an open-loop run (ballot `i` is sent at
/// `i / rate` s), the first second also split at 250 ms: where in the burst the tail is.
fn p99_by_second(acknowledged: &[usize], latencies: &[f64], rate: u64) -> String {
    let window = |from: f64, to: f64| {
        let mut in_window: Vec<f64> = acknowledged
            .iter()
            .zip(latencies)
            .filter(|(i, _)| (from..to).contains(&(**i as f64 / rate as f64)))
            .map(|(_, ms)| *ms)
            .collect();
        in_window.sort_by(f64::total_cmp);
        format!("{:.0}", common::pct(&in_window, 0.99))
    };
    let seconds = acknowledged
        .iter()
        .max()
        .map_or(0, |i| *i as u64 / rate + 1);
    let mut parts = vec![
        format!("0-0.25 s {}", window(0.0, 0.25)),
        format!("0.25-1 s {}", window(0.25, 1.0)),
    ];
    parts.extend(
        (1..seconds).map(|s| format!("{s}-{} s {}", s + 1, window(s as f64, s as f64 + 1.0))),
    );
    format!("{} (ms)", parts.join(", "))
}

fn choice(i: usize) -> &'static str {
    match i % 5 {
        0..=2 => "yes",
        3 => "no",
        _ => "abstain",
    }
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let (dir, db_url, db) = common::scratch("ballots", args.postgres.as_deref()).await;
    eprintln!("seeding {} voters…", args.voters);
    let (community, committee, tokens) = common::seed_community(&db, args.voters).await;
    let (mut server, base) = common::start_server(&db_url, &dir, &[]).await;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency)
        .build()
        .unwrap();
    let tokens = Arc::new(tokens);
    let backend = if args.postgres.is_some() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    let mut all_ok = true;
    for round in 1..=args.rounds {
        if args.rounds > 1 {
            println!("round {round} of {} on the same server:", args.rounds);
        }
        let burst = Burst {
            args: &args,
            http: &http,
            base: &base,
            db: &db,
            community,
            committee: &committee,
            tokens: &tokens,
            backend,
        };
        all_ok &= burst.run().await;
    }
    let _ = server.kill().await;
    common::discard(&dir, args.postgres.as_deref(), &db_url).await;
    if !all_ok {
        std::process::exit(1);
    }
}

/// One poll for every voter: opened, a burst of ballots, closed, checked.
struct Burst<'a> {
    args: &'a Args,
    http: &'a reqwest::Client,
    base: &'a str,
    db: &'a yishi::db::Db,
    community: Uuid,
    committee: &'a str,
    tokens: &'a Arc<Vec<String>>,
    backend: &'a str,
}

impl Burst<'_> {
    /// Prints the figures; whether every acknowledged ballot was counted once and none was shed.
    async fn run(&self) -> bool {
        let Burst {
            args,
            http,
            base,
            db,
            community,
            committee,
            tokens,
            backend,
        } = *self;
        let poll = common::post_json(
            http,
            &format!("{base}/api/v1/polls"),
            committee,
            Some(serde_json::json!({ "community_id": community, "question": "压测表决", "kind": "yes_no", "electorate": "residents", "preset": "simple_majority" })),
        )
        .await;
        let poll_id = poll["id"].as_str().expect("a poll").to_string();
        let opening = Instant::now();
        let opened = http
            .post(format!("{base}/api/v1/polls/{poll_id}/open"))
            .bearer_auth(committee)
            .send()
            .await
            .unwrap();
        assert_eq!(opened.status(), 200, "the poll opens");
        let open_secs = opening.elapsed().as_secs_f64();

        match args.rate {
            Some(rate) => eprintln!("casting {} ballots at {rate}/s…", tokens.len()),
            None => eprintln!(
                "casting {} ballots from {} clients…",
                tokens.len(),
                args.concurrency
            ),
        }
        let url = format!("{base}/api/v1/polls/{poll_id}/ballots");
        let started = Instant::now();
        let outcomes = match args.rate {
            Some(rate) => open_loop(http, &url, tokens, rate).await,
            None => closed_loop(http, &url, tokens, args.concurrency).await,
        };
        let burst = started.elapsed().as_secs_f64();
        let Outcomes {
            mut latencies,
            acknowledged,
            shed,
            failures,
        } = outcomes;
        let by_second = args
            .rate
            .map(|rate| p99_by_second(&acknowledged, &latencies, rate));
        latencies.sort_by(f64::total_cmp);

        let closing = Instant::now();
        let closed = common::post_json(
            http,
            &format!("{base}/api/v1/polls/{poll_id}/close"),
            committee,
            None,
        )
        .await;
        let close_secs = closing.elapsed().as_secs_f64();

        // Check: the result counts exactly the ballots sent, and the database holds one ballot
        // per voter. What must be counted: exactly the acknowledged ballots (a shed one was
        // never stored).
        let n = tokens.len();
        let acked = acknowledged.len();
        let expect = |c: &str| acknowledged.iter().filter(|i| choice(**i) == c).count() as u64;
        let result = &closed["result"];
        let got = |c: &str| {
            result["options"]
                .as_array()
                .and_then(|o| o.iter().find(|o| o["id"] == c))
                .and_then(|o| o["headcount"].as_u64())
                .unwrap_or(0)
        };
        let poll_uuid = Uuid::parse_str(&poll_id).unwrap();
        let stored = ballot::Entity::find()
            .filter(ballot::Column::PollId.eq(poll_uuid))
            .count(&db.conn)
            .await
            .unwrap();
        match args.rate {
            Some(rate) => {
                println!("ballots on {backend}: {n} voters, sent at {rate}/s (open loop)")
            }
            None => println!(
                "ballots on {backend}: {n} voters, {} concurrent clients",
                args.concurrency
            ),
        }
        println!(
            "  cast {} in {:.2} s: {:.0} ballots/s   p50 {:.1} ms  p95 {:.1} ms  p99 {:.1} ms  max {:.1} ms   shed (503) {shed}",
            latencies.len(),
            burst,
            latencies.len() as f64 / burst,
            common::pct(&latencies, 0.50),
            common::pct(&latencies, 0.95),
            common::pct(&latencies, 0.99),
            common::pct(&latencies, 1.0)
        );
        if let Some(line) = by_second {
            println!("  p99 by second sent: {line}");
        }
        println!(
            "  open (freeze {n} electors) {:.2} s   close and publish {:.2} s",
            open_secs, close_secs
        );
        let ok = failures.is_empty()
            && stored == acked as u64
            && result["participants"]["headcount"].as_u64() == Some(acked as u64)
            && ["yes", "no", "abstain"].iter().all(|c| got(c) == expect(c));
        println!(
            "  check: stored {stored}, counted yes {} no {} abstain {} (expected {} {} {}), failures {}: {}",
            got("yes"),
            got("no"),
            got("abstain"),
            expect("yes"),
            expect("no"),
            expect("abstain"),
            failures.len(),
            if ok { "OK" } else { "MISMATCH" }
        );
        // Shed ballots are not lost (they were refused, not stored) but the target is every one.
        if !ok || shed > 0 {
            eprintln!("first failures: {:?}", &failures[..failures.len().min(5)]);
        }
        ok && shed == 0
    }
}
