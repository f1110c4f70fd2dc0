//! What an operator watches: request counts and latencies by operation, live sockets and the
//! ones dropped for falling behind, ballots, the mail outbox and the database pool, served as
//! Prometheus text at `GET /metrics`; and the request id that ties a problem body to its logs.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use poem::http::{HeaderValue, StatusCode};
use poem::{Endpoint, IntoResponse, Request, Response};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use tracing::Instrument;

use crate::state::AppState;

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
    pub async fn render(&self, state: &AppState) -> String {
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
        let (pending, dead) = outbox_depth(state).await;
        gauge(
            &mut out,
            "yishi_outbox_pending",
            "gauge",
            "Messages waiting in the mail outbox (all processes).",
            pending,
        );
        gauge(
            &mut out,
            "yishi_outbox_failed",
            "gauge",
            "Messages the outbox gave up on after its retries (all processes).",
            dead,
        );
        let (size, idle) = pool_use(state);
        gauge(
            &mut out,
            "yishi_db_pool_connections",
            "gauge",
            "Database connections open in this process's pool.",
            size.to_string(),
        );
        gauge(
            &mut out,
            "yishi_db_pool_idle",
            "gauge",
            "Open database connections not in use.",
            idle.to_string(),
        );
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

async fn outbox_depth(state: &AppState) -> (String, String) {
    use crate::entities::outbox;
    use crate::notifications::outbox::{DEAD, PENDING, SENDING};
    let count = |statuses: &'static [&'static str]| async move {
        outbox::Entity::find()
            .filter(outbox::Column::Status.is_in(statuses.iter().copied()))
            .count(&state.db.conn)
            .await
            // NaN tells the scraper the figure could not be read, without failing the scrape.
            .map_or_else(|_| "NaN".to_string(), |n| n.to_string())
    };
    (count(&[PENDING, SENDING]).await, count(&[DEAD]).await)
}

fn pool_use(state: &AppState) -> (u32, usize) {
    match state.db.backend() {
        sea_orm::DbBackend::Postgres => {
            let p = state.db.conn.get_postgres_connection_pool();
            (p.size(), p.num_idle())
        }
        _ => {
            let p = state.db.conn.get_sqlite_connection_pool();
            (p.size(), p.num_idle())
        }
    }
}

/// A request id from the client is kept if it is short and plain; otherwise one is made.
fn request_id_of(req: &Request) -> String {
    req.header("x-request-id")
        .filter(|v| {
            (1..=64).contains(&v.len())
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        })
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string())
}

/// What a request was, for the metrics, when it is not an API operation.
fn route_of(path: &str) -> &'static str {
    if path.starts_with("/api/v1/sessions/") && path.ends_with("/live") {
        "liveRoom"
    } else if path == "/api/v1/accounts/me/feed" {
        "feedSocket"
    } else if path.starts_with("/api/") {
        "api"
    } else if path.starts_with("/docs") {
        "docs"
    } else if path == "/metrics" || path == "/healthz" || path == "/readyz" {
        "operations"
    } else {
        "web"
    }
}

/// Gives every request an id (the `x-request-id` header both ways, the log span and problem
/// bodies), logs it without its query string (tickets travel there), and counts it.
pub async fn observe<E: Endpoint>(next: E, req: Request) -> poem::Result<Response> {
    let id = request_id_of(&req);
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let state = req.data::<AppState>().cloned();
    let span = tracing::info_span!("request", id = %id, method = %method, path = %path);
    let result = REQUEST_ID
        .scope(id.clone(), next.call(req).instrument(span.clone()))
        .await;
    let mut resp = match result {
        Ok(r) => r.into_response(),
        Err(e) => {
            REQUEST_ID
                .scope(id.clone(), crate::error::problem_from_poem_error(e))
                .await
        }
    };
    let operation = resp
        .data::<poem_openapi::OperationId>()
        .map(|o| o.0)
        .unwrap_or_else(|| route_of(&path));
    let status = resp.status();
    let took = started.elapsed();
    if let Some(state) = &state {
        state.metrics.record(operation, status.as_u16(), took);
    }
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert("x-request-id", v);
    }
    span.in_scope(|| {
        let ms = took.as_secs_f64() * 1000.0;
        if resp.extensions().get::<Shed>().is_some() {
            // Counted above; the load shedder itself warns once a second.
            tracing::debug!(status = status.as_u16(), operation, ms, "shed");
        } else if status.is_server_error() {
            tracing::error!(status = status.as_u16(), operation, ms, "answered");
        } else {
            tracing::info!(status = status.as_u16(), operation, ms, "answered");
        }
    });
    Ok(resp)
}

/// Compares without stopping at the first difference, so timing says nothing of the token.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// `GET /metrics`: to loopback callers (a reverse proxy in front must not pass it on), or to
/// anyone with `Authorization: Bearer <YISHI_METRICS_TOKEN>` when that is set (then only them).
#[poem::handler]
pub async fn metrics(req: &Request, state: poem::web::Data<&AppState>) -> Response {
    let allowed = match &state.settings.metrics_token {
        Some(token) => req
            .header("authorization")
            .and_then(|h| h.strip_prefix("Bearer "))
            .is_some_and(|given| same(given.as_bytes(), token.expose().as_bytes())),
        None => req
            .remote_addr()
            .as_socket_addr()
            .is_some_and(|a| a.ip().is_loopback()),
    };
    if !allowed {
        let mut refused = crate::error::problem_response(crate::error::Problem::new(
            StatusCode::UNAUTHORIZED,
            "metrics_not_allowed",
            "Metrics are for loopback callers, or need the metrics token.",
        ));
        refused.headers_mut().insert(
            poem::http::header::WWW_AUTHENTICATE,
            poem::http::HeaderValue::from_static("Bearer realm=\"yishi metrics\""),
        );
        return refused;
    }
    let body = state.metrics.render(&state).await;
    Response::builder()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(body)
}
