//! `ApiError`: the one place a failure becomes an HTTP status and an RFC 9457 problem body.

use poem::http::StatusCode;
use poem::{IntoResponse, Response};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object};

pub const PROBLEM_JSON: &str = "application/problem+json";

/// An RFC 9457 problem: `type`, `title`, `status`, `detail`, plus a stable machine `code`.
#[derive(Object, Debug, Clone, serde::Serialize, serde::Deserialize)]
#[oai(skip_serializing_if_is_none)]
pub struct Problem {
    /// A URI reference to the page that says what this kind of problem means, in Chinese and
    /// English: `/problems/<code>`, on this server (RFC 9457 3.1.1).
    #[oai(rename = "type")]
    #[serde(rename = "type")]
    pub kind: String,
    /// Short human summary of the kind of problem.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong in this occurrence, for a person to read.
    pub detail: String,
    /// Stable machine-readable code; clients branch on this, never on `detail`.
    pub code: String,
    /// For server errors: the id under which the cause was logged.
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_id: Option<String>,
    /// The request's id, as in its `x-request-id` header and the server's log.
    #[oai(skip_serializing_if_is_none)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

impl Problem {
    pub fn new(status: StatusCode, code: &str, detail: impl Into<String>) -> Self {
        Self {
            kind: format!("/problems/{code}"),
            title: status.canonical_reason().unwrap_or("Error").to_string(),
            status: status.as_u16(),
            detail: detail.into(),
            code: code.to_string(),
            error_id: None,
            request_id: crate::metrics::request_id(),
        }
    }
}

/// Every error an operation can answer with. All bodies are `application/problem+json`.
#[derive(ApiResponse, Debug)]
#[oai(bad_request_handler = "bad_request_from_parse_error")]
pub enum ApiError {
    /// The request does not match the spec: bad JSON, a wrong type, an unknown or missing
    /// field, an unparsable parameter.
    #[oai(status = 400, content_type = "application/problem+json")]
    BadRequest(Json<Problem>),
    /// No valid credentials were presented. `WWW-Authenticate` names the scheme (RFC 9110
    /// section 11.6.1): a bearer token from `POST /accounts/sessions`.
    #[oai(status = 401, content_type = "application/problem+json")]
    Unauthorized(Json<Problem>, #[oai(header = "WWW-Authenticate")] String),
    /// The actor may not do this.
    #[oai(status = 403, content_type = "application/problem+json")]
    Forbidden(Json<Problem>),
    /// No such object, or the actor may not know it exists.
    #[oai(status = 404, content_type = "application/problem+json")]
    NotFound(Json<Problem>),
    /// The object's state does not allow this now.
    #[oai(status = 409, content_type = "application/problem+json")]
    Conflict(Json<Problem>),
    /// The request body, or a file in it, is larger than allowed.
    #[oai(status = 413, content_type = "application/problem+json")]
    PayloadTooLarge(Json<Problem>),
    /// The body has no or another content type than the operation takes, or a file's
    /// content is of a kind not accepted.
    #[oai(status = 415, content_type = "application/problem+json")]
    UnsupportedMediaType(Json<Problem>),
    /// The request matches the spec but a value breaks a rule: empty or too long text, a
    /// date in the past, fields that do not fit together, an unknown or used link token.
    #[oai(status = 422, content_type = "application/problem+json")]
    Unprocessable(Json<Problem>),
    /// Too many attempts; retry after the given number of seconds.
    #[oai(status = 429, content_type = "application/problem+json")]
    TooManyRequests(Json<Problem>, #[oai(header = "Retry-After")] u64),
    /// Something failed on the server; the body carries the id under which it was logged.
    #[oai(status = 500, content_type = "application/problem+json")]
    Internal(Json<Problem>),
    /// The server is overloaded or a dependency (the database) is unavailable; retry after
    /// the given number of seconds.
    #[oai(status = 503, content_type = "application/problem+json")]
    Unavailable(Json<Problem>, #[oai(header = "Retry-After")] u64),
    /// The file store is full; nothing was saved.
    #[oai(status = 507, content_type = "application/problem+json")]
    InsufficientStorage(Json<Problem>),
}

/// The challenge every 401 carries.
pub const BEARER_CHALLENGE: &str = "Bearer realm=\"yishi\"";

fn bad_request_from_parse_error(err: poem::Error) -> ApiError {
    ApiError::bad_request(
        "invalid_request",
        crate::parse_errors::plain(&err.to_string()),
    )
}

impl ApiError {
    pub fn bad_request(code: &str, detail: impl Into<String>) -> Self {
        Self::BadRequest(Json(Problem::new(StatusCode::BAD_REQUEST, code, detail)))
    }
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::unauthorized_as("unauthenticated", detail)
    }
    /// 401 with its own code (a wrong password: `bad_credentials`).
    pub fn unauthorized_as(code: &str, detail: impl Into<String>) -> Self {
        Self::Unauthorized(
            Json(Problem::new(StatusCode::UNAUTHORIZED, code, detail)),
            BEARER_CHALLENGE.to_string(),
        )
    }
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::Forbidden(Json(Problem::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            detail,
        )))
    }
    pub fn not_found(code: &str, detail: impl Into<String>) -> Self {
        Self::NotFound(Json(Problem::new(StatusCode::NOT_FOUND, code, detail)))
    }
    pub fn conflict(code: &str, detail: impl Into<String>) -> Self {
        Self::Conflict(Json(Problem::new(StatusCode::CONFLICT, code, detail)))
    }
    pub fn unprocessable(code: &str, detail: impl Into<String>) -> Self {
        Self::Unprocessable(Json(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            code,
            detail,
        )))
    }
    pub fn too_many(detail: impl Into<String>, retry_after_secs: u64) -> Self {
        Self::TooManyRequests(
            Json(Problem::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                detail,
            )),
            retry_after_secs.max(1),
        )
    }
    pub fn too_large(code: &str, detail: impl Into<String>) -> Self {
        Self::PayloadTooLarge(Json(Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            code,
            detail,
        )))
    }
    pub fn unsupported_type(code: &str, detail: impl Into<String>) -> Self {
        Self::UnsupportedMediaType(Json(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            code,
            detail,
        )))
    }
    /// The file store is full: logged, and answered with a problem that says nothing was kept.
    pub fn storage_full(cause: impl std::fmt::Display) -> Self {
        tracing::error!(cause = %cause, "file store full");
        Self::InsufficientStorage(Json(Problem::new(
            StatusCode::INSUFFICIENT_STORAGE,
            "insufficient_storage",
            "The file store is full; nothing was saved. Try again later.",
        )))
    }
    pub fn unavailable(detail: impl Into<String>) -> Self {
        Self::Unavailable(
            Json(Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                detail,
            )),
            5,
        )
    }
    /// More requests in progress than the process takes at once: refused at once, not queued.
    pub fn overloaded() -> Self {
        Self::Unavailable(
            Json(Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "overloaded",
                "The server is answering as many requests as it can; try again in a moment.",
            )),
            1,
        )
    }

    /// A server-side failure: the cause is logged under a fresh id, the body carries only the id.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        let error_id = uuid::Uuid::new_v4().to_string();
        tracing::error!(%error_id, cause = %cause, "internal error");
        let mut problem = Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Something went wrong on the server. Quote the error id when reporting it.",
        );
        problem.error_id = Some(error_id);
        Self::Internal(Json(problem))
    }

    pub fn problem(&self) -> &Problem {
        match self {
            Self::BadRequest(p)
            | Self::Unauthorized(p, _)
            | Self::Forbidden(p)
            | Self::NotFound(p)
            | Self::Conflict(p)
            | Self::PayloadTooLarge(p)
            | Self::UnsupportedMediaType(p)
            | Self::InsufficientStorage(p)
            | Self::Unprocessable(p)
            | Self::TooManyRequests(p, _)
            | Self::Unavailable(p, _) => &p.0,
            Self::Internal(p) => &p.0,
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let p = self.problem();
        write!(f, "{} {}: {}", p.status, p.code, p.detail)
    }
}

impl std::error::Error for ApiError {}

impl From<sea_orm::DbErr> for ApiError {
    fn from(err: sea_orm::DbErr) -> Self {
        match &err {
            _ if database_unreachable(&err) => {
                tracing::warn!(cause = %err, "database unavailable");
                Self::unavailable("The database is unavailable; try again shortly.")
            }
            _ if matches!(
                err.sql_err(),
                Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
            ) =>
            {
                Self::conflict(
                    "duplicate",
                    "This already exists; it may have been created at the same moment.",
                )
            }
            _ => Self::internal(err),
        }
    }
}

/// Whether the database could not be reached (down, restarting, the connection cut), as
/// opposed to a statement that failed: the first is a 503 to retry, the second a bug.
fn database_unreachable(err: &sea_orm::DbErr) -> bool {
    use sea_orm::{DbErr, RuntimeErr, SqlxError};
    let runtime = match err {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => return true,
        DbErr::Exec(e) | DbErr::Query(e) => e,
        _ => return false,
    };
    let RuntimeErr::SqlxError(sqlx) = runtime else {
        return false;
    };
    match sqlx.as_ref() {
        SqlxError::Io(_)
        | SqlxError::Tls(_)
        | SqlxError::Protocol(_)
        | SqlxError::PoolTimedOut
        | SqlxError::PoolClosed
        | SqlxError::WorkerCrashed => true,
        // PostgreSQL's classes 08 (connection exception) and 57P (operator intervention:
        // shutting down, starting up, cannot connect now).
        SqlxError::Database(db) => db
            .code()
            .is_some_and(|c| c.starts_with("08") || c.starts_with("57P")),
        _ => false,
    }
}

/// Turns any error poem raised outside an operation's own result (unknown route, wrong
/// method, body too large, a panic caught by middleware) into a problem body as well.
pub async fn problem_from_poem_error(err: poem::Error) -> Response {
    let status = err.status();
    let message = err.to_string();
    let response = err.into_response();
    let already_problem = response
        .headers()
        .get(poem::http::header::CONTENT_TYPE)
        .is_some_and(|ct| ct.as_bytes().starts_with(PROBLEM_JSON.as_bytes()));
    if already_problem {
        return response;
    }
    if status.is_server_error() {
        return ApiError::internal(message).into_response();
    }
    let code = match status {
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::UNAUTHORIZED => "unauthenticated",
        StatusCode::FORBIDDEN => "forbidden",
        StatusCode::TOO_MANY_REQUESTS => "rate_limited",
        _ => "invalid_request",
    };
    let detail = if status == StatusCode::UNAUTHORIZED {
        // poem's own words ("authorization error") say nothing a person can act on.
        "Sign in first: the bearer token is missing, expired or revoked.".to_string()
    } else if message.is_empty() {
        status.canonical_reason().unwrap_or("Error").to_string()
    } else if status == StatusCode::BAD_REQUEST {
        crate::parse_errors::plain(&message)
    } else {
        message
    };
    problem_response(Problem::new(status, code, detail))
}

pub fn problem_response(problem: Problem) -> Response {
    let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = Response::builder()
        .status(status)
        .content_type(PROBLEM_JSON)
        .body(serde_json::to_vec(&problem).unwrap_or_default());
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            poem::http::header::WWW_AUTHENTICATE,
            poem::http::HeaderValue::from_static(BEARER_CHALLENGE),
        );
    }
    response
}

impl From<crate::policy::Refused> for ApiError {
    fn from(refused: crate::policy::Refused) -> Self {
        ApiError::forbidden(refused.to_string())
    }
}
