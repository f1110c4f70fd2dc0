use crate::error::ApiError;

#[derive(Debug, thiserror::Error)]
pub enum SessionsError {
    #[error("No such session.")]
    NotFound,
    #[error("A session that is {from} cannot be {to}.")]
    InvalidTransition { from: String, to: &'static str },
    #[error("{1}")]
    Invalid(&'static str, String),
    #[error("{1}")]
    Conflict(&'static str, String),
    #[error("{0}")]
    Forbidden(String),
    #[error(transparent)]
    Communities(#[from] crate::communities::error::CommunitiesError),
    #[error(transparent)]
    Register(#[from] crate::register::error::RegisterError),
    #[error(transparent)]
    Db(#[from] sea_orm::DbErr),
}

impl From<SessionsError> for ApiError {
    fn from(err: SessionsError) -> Self {
        let detail = err.to_string();
        match err {
            SessionsError::NotFound => ApiError::not_found("session_not_found", detail),
            SessionsError::InvalidTransition { .. } => {
                ApiError::conflict("invalid_transition", detail)
            }
            SessionsError::Invalid(code, _) => ApiError::unprocessable(code, detail),
            SessionsError::Conflict(code, _) => ApiError::conflict(code, detail),
            SessionsError::Forbidden(_) => ApiError::forbidden(detail),
            SessionsError::Communities(e) => e.into(),
            SessionsError::Register(e) => e.into(),
            SessionsError::Db(e) => e.into(),
        }
    }
}

impl From<crate::policy::Refused> for SessionsError {
    fn from(refused: crate::policy::Refused) -> Self {
        SessionsError::Forbidden(refused.to_string())
    }
}
