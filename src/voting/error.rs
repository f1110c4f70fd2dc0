use crate::error::ApiError;

#[derive(Debug, thiserror::Error)]
pub enum VotingError {
    #[error("No such poll.")]
    NotFound,
    #[error("No such {0}.")]
    Missing(&'static str),
    #[error("A poll that is {from} cannot be {to}.")]
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
    Sessions(#[from] crate::sessions::error::SessionsError),
    #[error(transparent)]
    Register(#[from] crate::register::error::RegisterError),
    #[error(transparent)]
    Db(#[from] sea_orm::DbErr),
}

impl From<VotingError> for ApiError {
    fn from(err: VotingError) -> Self {
        let detail = err.to_string();
        match err {
            VotingError::NotFound => ApiError::not_found("poll_not_found", detail),
            VotingError::Missing(what) => {
                ApiError::not_found(&format!("{}_not_found", what.replace(' ', "_")), detail)
            }
            VotingError::InvalidTransition { .. } => {
                ApiError::conflict("invalid_transition", detail)
            }
            VotingError::Invalid(code, _) => ApiError::unprocessable(code, detail),
            VotingError::Conflict(code, _) => ApiError::conflict(code, detail),
            VotingError::Forbidden(_) => ApiError::forbidden(detail),
            VotingError::Communities(e) => e.into(),
            VotingError::Sessions(e) => e.into(),
            VotingError::Register(e) => e.into(),
            VotingError::Db(e) => e.into(),
        }
    }
}

impl From<crate::policy::Refused> for VotingError {
    fn from(refused: crate::policy::Refused) -> Self {
        VotingError::Forbidden(refused.to_string())
    }
}
