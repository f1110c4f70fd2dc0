use crate::error::ApiError;

/// What the register's rules refuse; mapped to a problem once, at the api edge.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    #[error("No such community.")]
    CommunityNotFound,
    #[error("No such person on this register.")]
    PersonNotFound,
    #[error("No such household on this register.")]
    HouseholdNotFound,
    #[error("No such owner on this register.")]
    OwnerNotFound,
    #[error("No such unit in this community.")]
    UnitNotFound,
    #[error("No such request to change the register.")]
    RequestNotFound,
    #[error("No such act done for a person of the register.")]
    ActNotFound,
    #[error("You may not {0}.")]
    Forbidden(&'static str),
    /// A value breaks a rule (422), with its stable code.
    #[error("{1}")]
    Invalid(&'static str, String),
    /// The register's state does not allow this (409), with its stable code.
    #[error("{1}")]
    Conflict(&'static str, String),
    #[error("the document key cannot be read: {0}")]
    Key(#[from] std::io::Error),
    #[error(transparent)]
    Db(#[from] sea_orm::DbErr),
}

impl From<RegisterError> for ApiError {
    fn from(err: RegisterError) -> Self {
        let detail = err.to_string();
        match err {
            RegisterError::CommunityNotFound => ApiError::not_found("community_not_found", detail),
            RegisterError::PersonNotFound => ApiError::not_found("person_not_found", detail),
            RegisterError::HouseholdNotFound => ApiError::not_found("household_not_found", detail),
            RegisterError::OwnerNotFound => ApiError::not_found("owner_not_found", detail),
            RegisterError::UnitNotFound => ApiError::not_found("unit_not_found", detail),
            RegisterError::RequestNotFound => ApiError::not_found("request_not_found", detail),
            RegisterError::ActNotFound => ApiError::not_found("assisted_act_not_found", detail),
            RegisterError::Forbidden(_) => ApiError::forbidden(detail),
            RegisterError::Invalid(code, _) => ApiError::unprocessable(code, detail),
            RegisterError::Conflict(code, _) => ApiError::conflict(code, detail),
            RegisterError::Key(e) => ApiError::internal(e),
            // Two people adding the same document or certificate at the same moment: the
            // database's unique index keeps one, the other is told what a check would have said.
            RegisterError::Db(e)
                if matches!(
                    e.sql_err(),
                    Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
                ) =>
            {
                ApiError::conflict(
                    "register_conflict",
                    "Someone recorded the same person, certificate or account at the same moment; read the register again.",
                )
            }
            RegisterError::Db(e) => e.into(),
        }
    }
}
