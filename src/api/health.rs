//! Liveness and readiness, outside the versioned API.

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

/// Ready: the database answers.
#[handler]
pub async fn readyz(state: Data<&AppState>) -> impl IntoResponse {
    if state.db.ping().await {
        Json(json!({ "status": "ok", "database": "ok" })).into_response()
    } else {
        Json(json!({ "status": "unavailable", "database": "unreachable" }))
            .with_status(StatusCode::SERVICE_UNAVAILABLE)
            .into_response()
    }
}
