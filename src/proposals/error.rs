use crate::error::ApiError;

#[derive(Debug, thiserror::Error)]
pub enum ProposalsError {
    #[error("No such proposal.")]
    NotFound,
    #[error("This proposal was hidden by the moderators.")]
    Hidden,
    #[error("No such comment.")]
    CommentNotFound,
    #[error("A proposal in state {from} cannot be {event}.")]
    InvalidTransition {
        from: &'static str,
        event: &'static str,
    },
    #[error("{0}")]
    Invalid(&'static str, String),
    #[error("{0}")]
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

impl From<ProposalsError> for ApiError {
    fn from(err: ProposalsError) -> Self {
        let detail = err.to_string();
        match err {
            ProposalsError::NotFound => ApiError::not_found("proposal_not_found", detail),
            ProposalsError::Hidden => ApiError::not_found("content_hidden", detail),
            ProposalsError::CommentNotFound => ApiError::not_found("comment_not_found", detail),
            ProposalsError::InvalidTransition { .. } => {
                ApiError::conflict("invalid_transition", detail)
            }
            ProposalsError::Invalid(code, _) => ApiError::unprocessable(code, detail),
            ProposalsError::Conflict(code, _) => ApiError::conflict(code, detail),
            ProposalsError::Forbidden(_) => ApiError::forbidden(detail),
            ProposalsError::Communities(e) => e.into(),
            ProposalsError::Register(e) => e.into(),
            ProposalsError::Db(e) => e.into(),
        }
    }
}

impl From<crate::policy::Refused> for ProposalsError {
    fn from(refused: crate::policy::Refused) -> Self {
        ProposalsError::Forbidden(refused.to_string())
    }
}
