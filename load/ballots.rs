//! Ballot burst benchmark.
//!
//! `cargo build --release && target/release/yishi-ballots --voters 10000 --concurrency 200`
//! (add `--postgres postgres://postgres@127.0.0.1:5432/postgres` to run on PostgreSQL).
//!
//! Starts `yishi serve` (the binary beside this one) on a fresh database, seeds a community
//! with N verified residents holding bearer tokens, creates and opens a yes/no poll for all of
//! them over HTTP, casts every ballot from C concurrent clients (each with an Idempotency-Key),
//! closes the poll, and prints ballots per second, latency percentiles and the close time.
//! Then it checks the published result against the ballots it sent and the stored ballots
//! against the electorate: none lost, none counted twice.

#[path = "common.rs"]
mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use clap::Parser;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use uuid::Uuid;
use yishi::entities::ballot;

#[derive(Parser)]
#[command(about = "Cast a burst of ballots and measure throughput, latency and close time")]
struct Args {
    #[arg(long, default_value_t = 10_000)]
    voters: usize,
    #[arg(long, default_value_t = 200)]
    concurrency: usize,
    /// Run on a fresh database on this PostgreSQL server instead of SQLite.
    #[arg(long)]
    postgres: Option<String>,
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
    let poll: serde_json::Value = http
        .post(format!("{base}/api/v1/polls"))
        .bearer_auth(&committee)
        .json(&serde_json::json!({ "community_id": community, "question": "压测表决", "kind": "yes_no", "electorate": "residents", "preset": "simple_majority" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let poll_id = poll["id"].as_str().expect("a poll").to_string();
    let opening = Instant::now();
    let opened = http
        .post(format!("{base}/api/v1/polls/{poll_id}/open"))
        .bearer_auth(&committee)
        .send()
        .await
        .unwrap();
    assert_eq!(opened.status(), 200, "the poll opens");
    let open_secs = opening.elapsed().as_secs_f64();

    eprintln!(
        "casting {} ballots from {} clients…",
        tokens.len(),
        args.concurrency
    );
    let tokens = Arc::new(tokens);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..args.concurrency)
        .map(|_| {
            let (tokens, next, http) = (tokens.clone(), next.clone(), http.clone());
            let url = format!("{base}/api/v1/polls/{poll_id}/ballots");
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut failures = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(token) = tokens.get(i) else { break };
                    let key = Uuid::new_v4().to_string();
                    // A dropped connection is retried with the same key: never counted twice.
                    let mut attempt = 0;
                    loop {
                        let t = Instant::now();
                        let sent = http
                            .post(&url)
                            .bearer_auth(token)
                            .header("Idempotency-Key", &key)
                            .json(&serde_json::json!({ "choices": [choice(i)] }))
                            .send()
                            .await;
                        match sent {
                            Ok(r) if r.status().as_u16() == 201 || r.status().as_u16() == 200 => {
                                latencies.push(t.elapsed().as_secs_f64() * 1000.0);
                                break;
                            }
                            Ok(r) => {
                                failures.push(format!("{}", r.status()));
                                break;
                            }
                            Err(e) if attempt < 3 => {
                                attempt += 1;
                                let _ = e;
                            }
                            Err(e) => {
                                failures.push(e.to_string());
                                break;
                            }
                        }
                    }
                }
                (latencies, failures)
            })
        })
        .collect();
    let mut latencies = Vec::new();
    let mut failures = Vec::new();
    for w in workers {
        let (l, f) = w.await.unwrap();
        latencies.extend(l);
        failures.extend(f);
    }
    let burst = started.elapsed().as_secs_f64();
    latencies.sort_by(f64::total_cmp);

    let closing = Instant::now();
    let closed: serde_json::Value = http
        .post(format!("{base}/api/v1/polls/{poll_id}/close"))
        .bearer_auth(&committee)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let close_secs = closing.elapsed().as_secs_f64();
    let _ = server.kill().await;

    // Check: the result counts exactly the ballots sent, and the database holds one ballot per
    // voter.
    let n = tokens.len();
    let expect = |c: &str| (0..n).filter(|i| choice(*i) == c).count() as u64;
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
    let backend = if args.postgres.is_some() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    println!(
        "ballots on {backend}: {n} voters, {} concurrent clients",
        args.concurrency
    );
    println!(
        "  cast {} in {:.2} s: {:.0} ballots/s   p50 {:.1} ms  p95 {:.1} ms  p99 {:.1} ms  max {:.1} ms",
        latencies.len(),
        burst,
        latencies.len() as f64 / burst,
        common::pct(&latencies, 0.50),
        common::pct(&latencies, 0.95),
        common::pct(&latencies, 0.99),
        common::pct(&latencies, 1.0)
    );
    println!(
        "  open (freeze {n} electors) {:.2} s   close and publish {:.2} s",
        open_secs, close_secs
    );
    let ok = failures.is_empty()
        && stored == n as u64
        && result["participants"]["headcount"].as_u64() == Some(n as u64)
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
    let _ = std::fs::remove_dir_all(&dir);
    if !ok {
        eprintln!("first failures: {:?}", &failures[..failures.len().min(5)]);
        std::process::exit(1);
    }
}
