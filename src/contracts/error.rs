use crate::error::ApiError;

#[derive(Debug, thiserror::Error)]
pub enum ContractsError {
    #[error("No such {0}.")]
    Missing(&'static str),
    #[error("{1}")]
    Invalid(&'static str, String),
    #[error("{1}")]
    Conflict(&'static str, String),
    #[error("{0}")]
    Forbidden(String),
    #[error("The evidence store has no room left: {0}")]
    StorageFull(String),
    #[error("The evidence store failed: {0}")]
    Storage(std::io::Error),
    /// A bid could not be sealed or opened: a server fault, never the bidder's.
    #[error("Sealed bids: {0}")]
    Sealing(String),
    #[error(transparent)]
    Communities(#[from] crate::communities::error::CommunitiesError),
    #[error(transparent)]
    Db(#[from] sea_orm::DbErr),
}

impl From<ContractsError> for ApiError {
    fn from(err: ContractsError) -> Self {
        let detail = err.to_string();
        match err {
            ContractsError::Missing(what) => {
                ApiError::not_found(&format!("{}_not_found", what.replace(' ', "_")), detail)
            }
            // A file too large makes the request too large; a file of the wrong kind inside a
            // JSON body is a rule broken (422), not the body's media type.
            ContractsError::Invalid(code @ "file_too_large", _) => {
                ApiError::too_large(code, detail)
            }
            ContractsError::Invalid(code, _) => ApiError::unprocessable(code, detail),
            ContractsError::Conflict(code, _) => ApiError::conflict(code, detail),
            ContractsError::Forbidden(_) => ApiError::forbidden(detail),
            ContractsError::StorageFull(_) => ApiError::storage_full(detail),
            ContractsError::Storage(e) => ApiError::internal(e),
            ContractsError::Sealing(e) => ApiError::internal(e),
            ContractsError::Communities(e) => e.into(),
            ContractsError::Db(e) => e.into(),
        }
    }
}

impl From<crate::policy::Refused> for ContractsError {
    fn from(refused: crate::policy::Refused) -> Self {
        ContractsError::Forbidden(refused.to_string())
    }
}
