//! Liveness and readiness, outside the versioned API.

use std::sync::atomic::Ordering;

use poem::http::StatusCode;
use poem::web::{Data, Json};
use poem::{IntoResponse, handler};
use serde_json::json;

use crate::state::AppState;

/// Alive: the process answers.
#[handler]
pub fn healthz() -> impl IntoResponse {
    Json(json!({ "status": "ok" }))
}

/// Ready: the database answers and, on PostgreSQL, the process hears the other processes'
/// notices (a process that does not would miss their room events and revoked access).
#[handler]
pub async fn readyz(state: Data<&AppState>) -> impl IntoResponse {
    let notices = if state.db.backend() != sea_orm::DbBackend::Postgres {
        "local"
    } else if state.listening.load(Ordering::Acquire) {
        "listening"
    } else {
        "not listening"
    };
    let database = state.db.ping().await;
    let ready = database && notices != "not listening";
    let body = Json(json!({
        "status": if ready { "ok" } else { "unavailable" },
        "database": if database { "ok" } else { "unreachable" },
        "notices": notices,
    }));
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    body.with_status(status).into_response()
}
