use crate::error::ApiError;

#[derive(Debug, thiserror::Error)]
pub enum ResolutionsError {
    #[error("No such resolution.")]
    NotFound,
    #[error("No such {0}.")]
    Missing(&'static str),
    #[error("A resolution that is {from} cannot be {to}.")]
    InvalidTransition { from: String, to: &'static str },
    #[error("{1}")]
    Invalid(&'static str, String),
    #[error("{1}")]
    Conflict(&'static str, String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    TooLarge(String),
    #[error("{0}")]
    UnsupportedType(String),
    #[error("The evidence store has no room left: {0}")]
    StorageFull(String),
    #[error("The evidence store failed: {0}")]
    Storage(std::io::Error),
    #[error(transparent)]
    Communities(#[from] crate::communities::error::CommunitiesError),
    #[error(transparent)]
    Register(#[from] crate::register::error::RegisterError),
    #[error(transparent)]
    Db(#[from] sea_orm::DbErr),
}

impl From<ResolutionsError> for ApiError {
    fn from(err: ResolutionsError) -> Self {
        let detail = err.to_string();
        match err {
            ResolutionsError::NotFound => ApiError::not_found("resolution_not_found", detail),
            ResolutionsError::Missing(what) => {
                ApiError::not_found(&format!("{}_not_found", what.replace(' ', "_")), detail)
            }
            ResolutionsError::InvalidTransition { .. } => {
                ApiError::conflict("invalid_transition", detail)
            }
            ResolutionsError::Invalid(code, _) => ApiError::unprocessable(code, detail),
            ResolutionsError::Conflict(code, _) => ApiError::conflict(code, detail),
            ResolutionsError::Forbidden(_) => ApiError::forbidden(detail),
            ResolutionsError::TooLarge(_) => ApiError::too_large("file_too_large", detail),
            ResolutionsError::UnsupportedType(_) => {
                ApiError::unsupported_type("unsupported_file_type", detail)
            }
            ResolutionsError::StorageFull(_) => ApiError::storage_full(detail),
            ResolutionsError::Storage(e) => ApiError::internal(e),
            ResolutionsError::Communities(e) => e.into(),
            ResolutionsError::Register(e) => e.into(),
            ResolutionsError::Db(e) => e.into(),
        }
    }
}

impl From<crate::policy::Refused> for ResolutionsError {
    fn from(refused: crate::policy::Refused) -> Self {
        ResolutionsError::Forbidden(refused.to_string())
    }
}
