use crate::error::ApiError;

#[derive(Debug, thiserror::Error)]
pub enum AccountsError {
    #[error("The email address is not valid.")]
    InvalidEmail,
    #[error("The display name must have 1 to 64 characters.")]
    InvalidDisplayName,
    #[error("The password must have 10 to 128 characters and not be only spaces.")]
    WeakPassword,
    #[error("Email or password is wrong.")]
    BadCredentials,
    #[error("Too many failed sign-ins; try again in {0} seconds.")]
    Throttled(u64),
    #[error("This link is not valid.")]
    TokenInvalid,
    #[error("This link has expired; ask for a new one.")]
    TokenExpired,
    #[error("This link has already been used.")]
    TokenUsed,
    #[error("The current password is wrong.")]
    WrongPassword,
    #[error("No such session.")]
    SessionNotFound,
    #[error("Your email is already verified.")]
    AlreadyVerified,
    /// No valid sign-in behind a bearer token or a websocket ticket; the text says which.
    #[error("{0}")]
    Unauthenticated(&'static str),
    #[error(transparent)]
    Register(#[from] crate::register::error::RegisterError),
    #[error(transparent)]
    Db(#[from] sea_orm::DbErr),
    #[error("{0}")]
    Internal(String),
}

impl From<AccountsError> for ApiError {
    fn from(err: AccountsError) -> Self {
        let detail = err.to_string();
        match err {
            AccountsError::InvalidEmail => ApiError::unprocessable("invalid_email", detail),
            AccountsError::InvalidDisplayName => {
                ApiError::unprocessable("invalid_display_name", detail)
            }
            AccountsError::WeakPassword => ApiError::unprocessable("weak_password", detail),
            AccountsError::BadCredentials => ApiError::unauthorized_as("bad_credentials", detail),
            AccountsError::Throttled(secs) => ApiError::too_many(detail, secs),
            AccountsError::TokenInvalid => ApiError::unprocessable("token_invalid", detail),
            AccountsError::TokenExpired => ApiError::unprocessable("token_expired", detail),
            AccountsError::TokenUsed => ApiError::unprocessable("token_used", detail),
            AccountsError::WrongPassword => {
                ApiError::Forbidden(poem_openapi::payload::Json(crate::error::Problem::new(
                    poem::http::StatusCode::FORBIDDEN,
                    "wrong_password",
                    detail,
                )))
            }
            AccountsError::SessionNotFound => ApiError::not_found("session_not_found", detail),
            AccountsError::AlreadyVerified => ApiError::conflict("already_verified", detail),
            AccountsError::Unauthenticated(_) => ApiError::unauthorized(detail),
            AccountsError::Register(e) => e.into(),
            AccountsError::Db(e) => e.into(),
            AccountsError::Internal(e) => ApiError::internal(e),
        }
    }
}
