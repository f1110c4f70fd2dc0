use crate::error::ApiError;

#[derive(Debug, thiserror::Error)]
pub enum CommunitiesError {
    #[error("No such place.")]
    PlaceNotFound,
    #[error("No such organisation.")]
    OrganisationNotFound,
    #[error("No such community.")]
    CommunityNotFound,
    #[error("No such building in this community.")]
    BuildingNotFound,
    #[error("No such unit in this community.")]
    UnitNotFound,
    #[error("No such membership request.")]
    MembershipNotFound,
    #[error("No such role grant.")]
    GrantNotFound,
    #[error("No account with that email.")]
    PersonNotFound,
    #[error("{0}")]
    InvalidHierarchy(String),
    #[error("{0}")]
    Invalid(&'static str, String),
    #[error("{0}")]
    Duplicate(&'static str, String),
    #[error("{0}")]
    State(&'static str, String),
    #[error("Verify your email address first.")]
    EmailUnverified,
    #[error("{0}")]
    Forbidden(String),
    #[error(transparent)]
    Register(#[from] crate::register::error::RegisterError),
    #[error(transparent)]
    Db(#[from] sea_orm::DbErr),
}

impl From<CommunitiesError> for ApiError {
    fn from(err: CommunitiesError) -> Self {
        let detail = err.to_string();
        match err {
            CommunitiesError::PlaceNotFound => ApiError::not_found("place_not_found", detail),
            CommunitiesError::OrganisationNotFound => {
                ApiError::not_found("organisation_not_found", detail)
            }
            CommunitiesError::CommunityNotFound => {
                ApiError::not_found("community_not_found", detail)
            }
            CommunitiesError::BuildingNotFound => ApiError::not_found("building_not_found", detail),
            CommunitiesError::UnitNotFound => ApiError::not_found("unit_not_found", detail),
            CommunitiesError::MembershipNotFound => {
                ApiError::not_found("membership_not_found", detail)
            }
            CommunitiesError::GrantNotFound => ApiError::not_found("grant_not_found", detail),
            CommunitiesError::PersonNotFound => ApiError::not_found("person_not_found", detail),
            CommunitiesError::InvalidHierarchy(_) => {
                ApiError::unprocessable("invalid_hierarchy", detail)
            }
            CommunitiesError::Invalid(code, _) => ApiError::unprocessable(code, detail),
            CommunitiesError::Duplicate(code, _) => ApiError::conflict(code, detail),
            CommunitiesError::State(code, _) => ApiError::conflict(code, detail),
            CommunitiesError::EmailUnverified => {
                ApiError::Forbidden(poem_openapi::payload::Json(crate::error::Problem::new(
                    poem::http::StatusCode::FORBIDDEN,
                    "email_unverified",
                    detail,
                )))
            }
            CommunitiesError::Forbidden(_) => ApiError::forbidden(detail),
            CommunitiesError::Register(e) => e.into(),
            CommunitiesError::Db(e) => e.into(),
        }
    }
}

impl From<crate::policy::Refused> for CommunitiesError {
    fn from(refused: crate::policy::Refused) -> Self {
        CommunitiesError::Forbidden(refused.to_string())
    }
}
