//! The HTTP side of observation: every request's id, log line and count, and `GET /metrics`
//! (this process's counters from `metrics`, with the mail outbox and the database pool).

use std::time::Instant;

use poem::http::{HeaderValue, StatusCode};
use poem::{Endpoint, IntoResponse, Request, Response};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use tracing::Instrument;

use crate::metrics::{Shed, serving};
use crate::state::AppState;

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
    let result = serving(id.clone(), next.call(req).instrument(span.clone())).await;
    let mut resp = match result {
        Ok(r) => r.into_response(),
        Err(e) => serving(id.clone(), crate::error::problem_from_poem_error(e)).await,
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
    let (pending, dead) = outbox_depth(&state).await;
    let (size, idle) = pool_use(&state);
    let body = state.metrics.render(&[
        (
            "yishi_outbox_pending",
            "gauge",
            "Messages waiting in the mail outbox (all processes).",
            pending,
        ),
        (
            "yishi_outbox_failed",
            "gauge",
            "Messages the outbox gave up on after its retries (all processes).",
            dead,
        ),
        (
            "yishi_db_pool_connections",
            "gauge",
            "Database connections open in this process's pool.",
            size.to_string(),
        ),
        (
            "yishi_db_pool_idle",
            "gauge",
            "Open database connections not in use.",
            idle.to_string(),
        ),
    ]);
    Response::builder()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(body)
}
