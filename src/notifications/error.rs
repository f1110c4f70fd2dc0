use crate::error::ApiError;

/// What a notifications operation refuses, mapped to problems once, at the api edge.
#[derive(Debug, thiserror::Error)]
pub enum NotificationsError {
    #[error("{1}")]
    Invalid(&'static str, String),
    #[error("{0}")]
    Forbidden(String),
    #[error(transparent)]
    Db(#[from] sea_orm::DbErr),
}

impl From<NotificationsError> for ApiError {
    fn from(err: NotificationsError) -> Self {
        let detail = err.to_string();
        match err {
            NotificationsError::Invalid(code, _) => ApiError::unprocessable(code, detail),
            NotificationsError::Forbidden(_) => ApiError::forbidden(detail),
            NotificationsError::Db(e) => e.into(),
        }
    }
}

impl From<crate::policy::Refused> for NotificationsError {
    fn from(refused: crate::policy::Refused) -> Self {
        NotificationsError::Forbidden(refused.to_string())
    }
}
