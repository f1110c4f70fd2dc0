//! What an operator watches: request counts and latencies by operation, live sockets and the
//! ones dropped for falling behind, ballots, rendered as Prometheus text (served, with the mail
//! outbox and the database pool, by `api::observe`); and the request id that ties a problem
//! body to its logs.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

tokio::task_local! {
    /// The id of the request being served, for problem bodies.
    static REQUEST_ID: String;
}

/// Marks a response refused by load shedding, so it is counted but not logged one by one.
#[derive(Clone, Copy)]
pub struct Shed;

/// The id of the request this task is serving, if any.
pub fn request_id() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

/// Runs `work` as serving the request `id` (what `request_id` answers inside it).
pub async fn serving<F: std::future::Future>(id: String, work: F) -> F::Output {
    REQUEST_ID.scope(id, work).await
}

/// Upper bounds of the latency histogram's buckets, in seconds.
const BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Histogram {
    fn observe(&mut self, secs: f64) {
        for (bound, n) in BUCKETS.iter().zip(self.counts.iter_mut()) {
            if secs <= *bound {
                *n += 1;
            }
        }
        self.count += 1;
        self.sum += secs;
    }
}

#[derive(Default)]
pub struct Metrics {
    requests: Mutex<HashMap<(&'static str, u16), u64>>,
    latency: Mutex<HashMap<&'static str, Histogram>>,
    /// Live-room sockets open now.
    pub live_sockets: AtomicI64,
    /// Live-room sockets closed because their client fell behind (its queue overflowed).
    pub live_dropped: AtomicU64,
    /// Ballots written.
    pub ballots: AtomicU64,
    /// Group-commit writers' transactions: how long each took, waits included, and how many
    /// jobs they carried, by writer.
    commits: Mutex<HashMap<&'static str, (Histogram, u64)>>,
}

impl Metrics {
    pub fn record(&self, operation: &'static str, status: u16, took: Duration) {
        *self
            .requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry((operation, status))
            .or_default() += 1;
        self.latency
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(operation)
            .or_default()
            .observe(took.as_secs_f64());
    }

    /// One group-commit batch of `jobs` jobs, from taking it to the end of its write.
    pub fn record_commit(&self, writer: &'static str, jobs: usize, took: Duration) {
        let mut commits = self.commits.lock().unwrap_or_else(|p| p.into_inner());
        let (h, n) = commits.entry(writer).or_default();
        h.observe(took.as_secs_f64());
        *n += jobs as u64;
    }

    /// The Prometheus text exposition (version 0.0.4).
    /// The Prometheus text, with `read` (figures the caller read elsewhere: the outbox, the
    /// pool) after this process's counters, each as (name, type, help, value).
    pub fn render(&self, read: &[(&str, &str, &str, String)]) -> String {
        let mut out = String::new();
        out.push_str("# HELP yishi_http_requests_total HTTP requests answered, by operation and status.\n# TYPE yishi_http_requests_total counter\n");
        let mut requests: Vec<_> = self
            .requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(k, v)| (*k, *v))
            .collect();
        requests.sort();
        for ((op, status), n) in requests {
            let _ = writeln!(
                out,
                "yishi_http_requests_total{{operation=\"{op}\",status=\"{status}\"}} {n}"
            );
        }
        out.push_str("# HELP yishi_http_request_duration_seconds Time to answer, by operation.\n# TYPE yishi_http_request_duration_seconds histogram\n");
        {
            let latency = self.latency.lock().unwrap_or_else(|p| p.into_inner());
            let mut ops: Vec<_> = latency.keys().copied().collect();
            ops.sort();
            for op in ops {
                render_histogram(
                    &mut out,
                    "yishi_http_request_duration_seconds",
                    "operation",
                    op,
                    &latency[op],
                );
            }
        }
        out.push_str("# HELP yishi_group_commit_seconds Group-commit transactions (ballots, room events), by writer: time from taking the batch to the end of its write (the commit; for room events, their broadcast after it).\n# TYPE yishi_group_commit_seconds histogram\n");
        let mut jobs = String::from(
            "# HELP yishi_group_commit_jobs_total Jobs written by group-commit transactions, by writer (over the transactions' count: jobs per commit).\n# TYPE yishi_group_commit_jobs_total counter\n",
        );
        {
            let commits = self.commits.lock().unwrap_or_else(|p| p.into_inner());
            let mut writers: Vec<_> = commits.keys().copied().collect();
            writers.sort();
            for w in writers {
                let (h, n) = &commits[w];
                render_histogram(&mut out, "yishi_group_commit_seconds", "writer", w, h);
                let _ = writeln!(jobs, "yishi_group_commit_jobs_total{{writer=\"{w}\"}} {n}");
            }
        }
        out.push_str(&jobs);
        let gauge = |out: &mut String, name: &str, kind: &str, help: &str, value: String| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
            );
        };
        gauge(
            &mut out,
            "yishi_live_sockets",
            "gauge",
            "Live-room websockets open in this process.",
            self.live_sockets.load(Ordering::Relaxed).to_string(),
        );
        gauge(
            &mut out,
            "yishi_live_dropped_total",
            "counter",
            "Live-room websockets closed with 4008 because the client fell behind.",
            self.live_dropped.load(Ordering::Relaxed).to_string(),
        );
        gauge(
            &mut out,
            "yishi_ballots_total",
            "counter",
            "Ballots written by this process (rate() gives ballots per second).",
            self.ballots.load(Ordering::Relaxed).to_string(),
        );
        for (name, kind, help, value) in read {
            gauge(&mut out, name, kind, help, value.clone());
        }
        out
    }
}

fn render_histogram(out: &mut String, name: &str, label: &str, value: &str, h: &Histogram) {
    for (bound, n) in BUCKETS.iter().zip(h.counts) {
        let _ = writeln!(
            out,
            "{name}_bucket{{{label}=\"{value}\",le=\"{bound}\"}} {n}"
        );
    }
    let _ = writeln!(
        out,
        "{name}_bucket{{{label}=\"{value}\",le=\"+Inf\"}} {}\n{name}_sum{{{label}=\"{value}\"}} {}\n{name}_count{{{label}=\"{value}\"}} {}",
        h.count, h.sum, h.count
    );
}
