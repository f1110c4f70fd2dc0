//! Proposal-list read benchmark, and the server's idle memory.
//!
//! `cargo build --release --bins && target/release/yishi-reads --rate 2000 --seconds 10`
//! (add `--postgres postgres://postgres@127.0.0.1:5432/postgres` to run on PostgreSQL).
//!
//! Starts `yishi serve` on a fresh database, reads its memory before any request once it has
//! settled (idle: what starting allocated and freed, the allocator gives back within a couple
//! of seconds, as `yishi-load` waits for before its idle reading too), has
//! residents submit proposals over HTTP, then sends `GET /api/v1/proposals?community_id=…`
//! (the first page, 20 proposals) at a fixed rate from many residents' tokens, open loop:
//! requests go out on schedule whether or not earlier ones have been answered, so a slow
//! server shows as latency, not as a lower rate. Prints the rate achieved and latency
//! percentiles of the pages read; an answer is a full page, a 503 `overloaded` (shed: the server
//! refuses at once what it cannot answer soon; counted apart) or a failure. Before the timed
//! reads each resident reads the list once (they are signed in and have looked before: the
//! steady state, not the first look of 200 people in the same 100 ms); the server's list and
//! sign-in memories still expire and are refilled during the timed reads.

#[path = "common.rs"]
mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use futures_util::StreamExt;

#[derive(Parser)]
#[command(about = "Read the proposal list at a fixed rate and measure latency")]
struct Args {
    /// Requests per second.
    #[arg(long, default_value_t = 2000)]
    rate: u64,
    /// How long to send, in seconds.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Proposals in the community.
    #[arg(long, default_value_t = 100)]
    proposals: usize,
    /// Residents whose tokens the reads use.
    #[arg(long, default_value_t = 200)]
    readers: usize,
    /// Run on a fresh database on this PostgreSQL server instead of SQLite.
    #[arg(long)]
    postgres: Option<String>,
}

enum Outcome {
    /// A 200 with a full page.
    Read,
    /// Refused at once because the server was at its limit of requests in progress.
    Shed,
    /// Anything else.
    Failed,
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let (dir, db_url, db) = common::scratch("reads", args.postgres.as_deref()).await;
    let (community, _committee, tokens) = common::seed_community(&db, args.readers).await;
    let (mut server, base) = common::start_server(&db_url, &dir, &[]).await;
    let pid = server.id().unwrap_or(0);
    common::memory_settled(pid, Duration::from_secs(10)).await;
    let (idle_kib, _) = common::rss_kib(pid);

    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(1024)
        .build()
        .unwrap();
    eprintln!("submitting {} proposals…", args.proposals);
    for i in 0..args.proposals {
        let r = http
            .post(format!("{base}/api/v1/proposals"))
            .bearer_auth(&tokens[i % tokens.len()])
            .json(&serde_json::json!({
                "community_id": community, "title": format!("提议 {i}：东门路灯"),
                "body": "小区东门的路灯坏了三个月，晚上很黑，老人容易摔倒。", "category": "safety",
                "submit": true
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap_or_default());
    }
    let url = format!("{base}/api/v1/proposals?community_id={community}");
    let expected_items = args.proposals.min(20);

    eprintln!("each reader reads once…");
    futures_util::stream::iter(tokens.iter())
        .for_each_concurrent(16, |token| {
            let (http, url) = (&http, &url);
            async move {
                let r = http.get(url).bearer_auth(token).send().await.unwrap();
                assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());
            }
        })
        .await;
    eprintln!("reading at {}/s for {} s…", args.rate, args.seconds);
    let tokens = Arc::new(tokens);
    let total = args.rate * args.seconds;
    // Requests are released in batches every 5 ms, on a schedule fixed at the start.
    let tick = Duration::from_millis(5);
    let per_tick = args.rate as f64 * tick.as_secs_f64();
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(total as usize);
    let mut sent = 0u64;
    let mut n_tick = 0u64;
    while sent < total {
        n_tick += 1;
        let due = ((n_tick as f64 * per_tick) as u64).min(total);
        while sent < due {
            let (http, url, tokens) = (http.clone(), url.clone(), tokens.clone());
            let i = sent as usize;
            tasks.push(tokio::spawn(async move {
                let t = Instant::now();
                let r = http
                    .get(&url)
                    .bearer_auth(&tokens[i % tokens.len()])
                    .send()
                    .await;
                let outcome = match r {
                    Ok(r) if r.status() == 200 => {
                        let full = r
                            .json::<serde_json::Value>()
                            .await
                            .ok()
                            .and_then(|b| b["items"].as_array().map(|a| a.len()))
                            == Some(expected_items);
                        if full { Outcome::Read } else { Outcome::Failed }
                    }
                    // Refused at once for overload (503 with Retry-After): shed, not failed.
                    Ok(r) if r.status() == 503 => Outcome::Shed,
                    _ => Outcome::Failed,
                };
                (t.elapsed().as_secs_f64() * 1000.0, outcome)
            }));
            sent += 1;
        }
        tokio::time::sleep_until((started + tick * n_tick as u32).into()).await;
    }
    let mut latencies = Vec::with_capacity(tasks.len());
    let (mut failed, mut shed) = (0, 0);
    // The rate achieved: pages read, over the time from the first request to the last answer.
    // Latencies are of the pages read; a shed request's quick refusal would flatter them.
    for t in tasks {
        match t.await.unwrap() {
            (ms, Outcome::Read) => latencies.push(ms),
            (_, Outcome::Shed) => shed += 1,
            (_, Outcome::Failed) => failed += 1,
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let (busy_kib, peak_kib) = common::rss_kib(pid);
    let _ = server.kill().await;
    latencies.sort_by(f64::total_cmp);
    let backend = if args.postgres.is_some() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    println!(
        "proposal list reads on {backend}: {} proposals, {} readers, {}/s for {} s",
        args.proposals, args.readers, args.rate, args.seconds
    );
    println!(
        "  {} pages read in {:.2} s: {:.0} reads/s   p50 {:.1} ms  p95 {:.1} ms  p99 {:.1} ms  max {:.1} ms   shed (503) {}  failed {}",
        latencies.len(),
        elapsed,
        latencies.len() as f64 / elapsed,
        common::pct(&latencies, 0.50),
        common::pct(&latencies, 0.95),
        common::pct(&latencies, 0.99),
        common::pct(&latencies, 1.0),
        shed,
        failed
    );
    println!(
        "  server memory: idle {:.1} MiB, after the reads {:.1} MiB, peak {:.1} MiB",
        idle_kib as f64 / 1024.0,
        busy_kib as f64 / 1024.0,
        peak_kib as f64 / 1024.0
    );
    common::discard(&dir, args.postgres.as_deref(), &db_url).await;
    if failed > 0 {
        std::process::exit(1);
    }
}
