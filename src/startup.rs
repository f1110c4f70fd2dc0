//! Builds the application from settings and a bound listener (port 0 in tests) and serves it
//! until the shutdown signal.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use poem::endpoint::EmbeddedFilesEndpoint;
use poem::http::{Method, header};
use poem::{
    Endpoint, EndpointExt, IntoEndpoint, IntoResponse, Request, Response, Route, Server, get,
};
use rust_embed::RustEmbed;
use tokio::sync::Notify;

use crate::api::{self, health};
use crate::config::Settings;
use crate::db::Db;
use crate::error::{ApiError, problem_from_poem_error};
use crate::notifications::worker::OutboxWorker;
use crate::state::AppState;

/// The browser client, embedded at build time so the binary alone serves everything.
#[derive(RustEmbed)]
#[folder = "web/"]
pub struct WebAssets;

const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

/// The API docs page (poem-openapi's Swagger UI) carries its script, style and the spec inline;
/// it gets a policy of its own that allows those and nothing else from anywhere.
const DOCS_CSP: &str = "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; \
                        img-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; object-src 'none'; \
                        base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

/// Counts writes per actor (by token) or per client address; over the limit answers 429.
async fn limit_writes<E: Endpoint>(next: E, req: Request) -> poem::Result<Response> {
    if matches!(
        *req.method(),
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    ) && req.uri().path().starts_with("/api/")
        && let Some(state) = req.data::<AppState>()
    {
        // Counted by the person a valid token signs in, else by the client's address: an
        // invalid token must not open a fresh count of its own (issue 32).
        let bearer = req
            .header(header::AUTHORIZATION)
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim);
        let person = match bearer {
            Some(token) => crate::accounts::service::authenticate(state, token)
                .await
                .ok()
                .map(|actor| actor.id()),
            None => None,
        };
        let who = match person {
            Some(id) => format!("write:user:{id}"),
            None => format!(
                "write:address:{}",
                api::client_address(&req).unwrap_or_default()
            ),
        };
        if let Err(retry) = state
            .limiter
            .take(
                &who,
                state.settings.writes_per_minute,
                Duration::from_secs(60),
            )
            .await
        {
            return Ok(
                ApiError::too_many("Too many changes in a short time; slow down.", retry)
                    .into_response(),
            );
        }
    }
    Ok(next.call(req).await?.into_response())
}

/// Refuses an API request at once with 503 when `max_in_flight` are already being answered,
/// instead of queueing it behind them (load shedding). Websocket upgrades are not counted: a
/// socket lives on after its upgrade answers.
async fn shed_load<E: Endpoint>(next: E, req: Request) -> poem::Result<Response> {
    let counted = req.uri().path().starts_with("/api/v1/") && req.header(header::UPGRADE).is_none();
    let permit = match req.data::<AppState>().and_then(|s| s.in_flight.clone()) {
        Some(places) if counted => match places.enter() {
            Some(permit) => Some(permit),
            None => {
                // One warning a second, not one per refusal: an overload must not flood the log.
                static LAST_WARNED: AtomicI64 = AtomicI64::new(0);
                let now = chrono::Utc::now().timestamp();
                if LAST_WARNED.swap(now, Ordering::Relaxed) != now {
                    tracing::warn!(
                        "overloaded: refusing API requests with 503 (YISHI_MAX_IN_FLIGHT in progress)"
                    );
                }
                let mut refused = ApiError::overloaded().into_response();
                refused.extensions_mut().insert(crate::metrics::Shed);
                return Ok(refused);
            }
        },
        _ => None,
    };
    let response = next.call(req).await?.into_response();
    drop(permit);
    Ok(response)
}

/// Refuses bodies over `max_body_bytes`: by the declared length, or while reading a body sent
/// without one (chunked).
async fn limit_body<E: Endpoint>(next: E, mut req: Request) -> poem::Result<Response> {
    // Progress updates carry evidence files; every other operation takes small bodies.
    let path = req.uri().path();
    let upload = (path.starts_with("/api/v1/resolutions/") && path.ends_with("/updates"))
        || (path.starts_with("/api/v1/tenders/")
            && (path.ends_with("/documents") || path.ends_with("/bid")))
        || (path.starts_with("/api/v1/contracts/") && path.ends_with("/report"))
        || (path.starts_with("/api/v1/communities/") && path.ends_with("/register/import"));
    let max = req
        .data::<AppState>()
        .map(|s| {
            if upload {
                s.settings.max_upload_bytes
            } else {
                s.settings.max_body_bytes
            }
        })
        .unwrap_or(1024 * 1024);
    let too_large = || {
        crate::error::problem_response(crate::error::Problem::new(
            poem::http::StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("The request body is larger than {max} bytes."),
        ))
    };
    let declared = req
        .header(header::CONTENT_LENGTH)
        .map(|v| v.trim().parse::<u64>().unwrap_or(u64::MAX));
    match declared {
        Some(len) if len > max as u64 => return Ok(too_large()),
        Some(_) => {}
        None if req.header(header::TRANSFER_ENCODING).is_some() => {
            match req.take_body().into_bytes_limit(max).await {
                Ok(bytes) => req.set_body(bytes),
                Err(_) => return Ok(too_large()),
            }
        }
        None => {}
    }
    Ok(next.call(req).await?.into_response())
}

async fn security_headers<E: Endpoint>(next: E, req: Request) -> poem::Result<Response> {
    let is_docs = req.uri().path().starts_with("/docs");
    let routes = req.data::<Arc<api::spec::Routes>>().cloned();
    let path = req.uri().path().to_string();
    let mut resp = match next.call(req).await {
        Ok(r) => r.into_response(),
        // Errors become problems here, so they carry these headers too, and keep the name of
        // the operation that failed for the metrics.
        Err(e) => {
            let operation = e.data::<poem_openapi::OperationId>().copied();
            let mut r = problem_from_poem_error(e).await;
            if let Some(op) = operation {
                r.set_data(op);
            }
            r
        }
    };
    let method_not_allowed = resp.status() == poem::http::StatusCode::METHOD_NOT_ALLOWED;
    let h = resp.headers_mut();
    // RFC 9110: a 405 says which methods the resource takes.
    if method_not_allowed
        && let Some(allowed) = routes.as_ref().and_then(|r| r.allowed(&path))
        && let Ok(value) = allowed.parse()
    {
        h.insert(header::ALLOW, value);
    }
    h.insert(
        "x-content-type-options",
        "nosniff".parse().expect("static header"),
    );
    h.insert(
        "referrer-policy",
        "no-referrer".parse().expect("static header"),
    );
    let policy = if is_docs { DOCS_CSP } else { CSP };
    h.insert(
        "content-security-policy",
        policy.parse().expect("static header"),
    );
    h.insert("x-frame-options", "DENY".parse().expect("static header"));
    Ok(resp)
}

/// Cross-origin calls are closed unless `YISHI_ALLOWED_ORIGINS` names other web origins: then
/// those and the platform's own may call the API from a browser (bearer tokens, no cookies).
fn cors(state: &AppState) -> poem::middleware::Cors {
    use poem::http::Method;
    poem::middleware::Cors::new()
        .allow_origin(state.settings.public_url.as_str())
        .allow_origins(state.settings.allowed_origins.iter().map(String::as_str))
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
        .allow_headers([
            "authorization",
            "content-type",
            "idempotency-key",
            "x-request-id",
        ])
        .expose_headers(["x-request-id", "retry-after"])
        .max_age(600)
}

pub fn build_app(state: &AppState) -> impl Endpoint + 'static {
    let api_service = api::service(state);
    let spec_value = api::spec_value(state);
    let routes = Arc::new(api::spec::Routes::from_spec(&spec_value, "/api/v1"));
    let spec_text = serde_json::to_string_pretty(&spec_value).expect("a JSON value serialises");
    let spec = poem::endpoint::make_sync(move |_| {
        Response::builder()
            .content_type("application/json; charset=utf-8")
            .body(spec_text.clone())
    });
    let docs = api_service.swagger_ui();
    Route::new()
        .at(
            "/api/v1/sessions/:session_id/live",
            get(crate::realtime::live::live),
        )
        .at(
            "/api/v1/accounts/me/feed",
            get(crate::notifications::api::socket::feed_socket),
        )
        .nest(
            "/api/v1",
            api_service
                .into_endpoint()
                .with_if(!state.settings.allowed_origins.is_empty(), cors(state)),
        )
        .at("/api/openapi.json", spec)
        .nest("/docs", docs)
        .at("/problems", get(crate::api::problems::index))
        .at("/problems/", get(crate::api::problems::index))
        .at("/problems/:code", get(crate::api::problems::problem))
        .at("/healthz", get(health::healthz))
        .at("/metrics", get(crate::api::observe::metrics))
        .at("/readyz", get(health::readyz))
        .nest("/", EmbeddedFilesEndpoint::<WebAssets>::new())
        .around(limit_writes)
        .around(limit_body)
        .around(shed_load)
        // A bug that panics in a handler answers 500 with an error id, not a dropped connection.
        .with(poem::middleware::CatchPanic::new().with_handler(
            |panic: Box<dyn std::any::Any + Send>| {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                ApiError::internal(format!("a handler panicked: {what}"))
            },
        ))
        .around(security_headers)
        .around(crate::api::observe::observe)
        .data(state.clone())
        .data(routes)
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("database: {0}")]
    Db(#[from] sea_orm::DbErr),
    #[error("mail: {0}")]
    Mail(String),
    #[error("server: {0}")]
    Io(#[from] std::io::Error),
    #[error("the bid sealing key ({0}): {1}")]
    Sealing(String, std::io::Error),
}

/// Connects, migrates, starts the outbox worker and serves until `shutdown` resolves.
pub async fn run(
    settings: Settings,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StartError> {
    let settings = Arc::new(settings);
    let db = Db::connect(&settings).await?;
    db.migrate().await?;
    let state = AppState::new(db.clone(), settings.clone());
    state
        .sealing
        .key()
        .map_err(|e| StartError::Sealing(settings.sealing_key_file.display().to_string(), e))?;
    let worker = OutboxWorker::new(
        db,
        settings.clone(),
        state.mail_wake.clone(),
        state.sealing.clone(),
    )
    .map_err(StartError::Mail)?
    .yielding_to(state.in_flight.clone());
    let stop_worker = Arc::new(Notify::new());
    let worker_task = tokio::spawn(worker.run(stop_worker.clone()));
    let stop_fanout = Arc::new(Notify::new());
    let fanout_task = tokio::spawn(crate::realtime::fanout::run(
        state.clone(),
        stop_fanout.clone(),
    ));
    let stop_scheduler = Arc::new(Notify::new());
    let scheduler_task = tokio::spawn(crate::scheduler::run(
        state.clone(),
        Duration::from_secs(settings.scheduler_interval_secs),
        stop_scheduler.clone(),
    ));
    let stop_tallies = Arc::new(Notify::new());
    let tally_task = tokio::spawn(crate::voting::live::run(
        state.clone(),
        stop_tallies.clone(),
    ));
    let stop_checkpoints = Arc::new(Notify::new());
    let checkpoint_task = tokio::spawn({
        let (db, stop) = (state.db.clone(), stop_checkpoints.clone());
        async move { db.checkpoints(stop).await }
    });
    let addr = listener.local_addr()?;
    tracing::info!(%addr, backend = ?state.db.backend(), mail = if settings.smtp_url.is_some() { "smtp" } else { "files" }, "Yishi is serving");
    let acceptor = crate::realtime::handover::Listener::new(listener, state.handover.clone())?;
    let result = Server::new_with_acceptor(acceptor)
        .run_with_graceful_shutdown(build_app(&state), shutdown, Some(Duration::from_secs(10)))
        .await;
    stop_worker.notify_one();
    stop_scheduler.notify_one();
    stop_fanout.notify_one();
    stop_tallies.notify_one();
    fanout_task.abort();
    tally_task.abort();
    let _ = tokio::time::timeout(Duration::from_secs(5), worker_task).await;
    let _ = tokio::time::timeout(Duration::from_secs(5), scheduler_task).await;
    // When sign-ins were last used, noted but not yet written.
    if let Err(e) = state.seen.flush(&state).await {
        tracing::warn!(error = %e, "could not record when sign-ins were last used");
    }
    stop_checkpoints.notify_one();
    let _ = tokio::time::timeout(Duration::from_secs(5), checkpoint_task).await;
    tracing::info!("Yishi stopped");
    result.map_err(StartError::Io)
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown signal received");
}
