//! The OpenAPI surface: every context's API struct, tags, the bearer scheme, shared responses.

pub mod health;
pub mod spec;
pub mod text;

use poem::Request;
use poem_openapi::auth::Bearer;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApiService, SecurityScheme, Tags};

use crate::accounts::api::AccountsApi;
use crate::audit::api::AuditApi;
use crate::communities::api::CommunitiesApi;
use crate::contracts::api::ContractsApi;
use crate::error::ApiError;
use crate::notifications::api::NotificationsApi;
use crate::policy::Actor;
use crate::proposals::api::ProposalsApi;
use crate::resolutions::api::ResolutionsApi;
use crate::sessions::api::SessionsApi;
use crate::state::AppState;
use crate::voting::api::VotingApi;

pub type ApiResult<T> = Result<T, ApiError>;

#[derive(Tags)]
pub enum ApiTags {
    /// Registration, sign-in, sessions, password reset, data export and deletion.
    Accounts,
    /// The tree of places: district, subdistrict, community, grid.
    Places,
    /// Organisations and their members.
    Organisations,
    /// Roles people hold in places.
    Roles,
    /// Buildings and property units of a community; joining and verification.
    Communities,
    /// The tamper-evident record.
    Audit,
    /// Proposals, co-signatures, moderation and discussion threads.
    Proposals,
    /// Consultation sessions: convening, invitations, attendance, lifecycle.
    Sessions,
    /// Polls, electorates, ballots, proxies and assisted paper ballots; published results.
    Voting,
    /// Resolutions: legal review, disclosure and objections, progress and evidence, ratings,
    /// evaluations, and the community dashboard.
    Resolutions,
    /// Notification preferences, the in-app feed, one-click unsubscribe and the outbox.
    Notifications,
    /// Government purchase of services: bidder profiles, tenders, sealed bids, evaluation,
    /// award, contracts and the OCDS publication.
    Procurement,
}

/// An opaque bearer token from `POST /accounts/sessions`.
#[derive(SecurityScheme)]
#[oai(ty = "bearer")]
pub struct BearerAuth(pub Bearer);

impl BearerAuth {
    pub async fn actor(&self, state: &AppState) -> ApiResult<Actor> {
        crate::accounts::service::authenticate(state, &self.0.token).await
    }
}

/// Success with no body.
#[derive(ApiResponse)]
pub enum NoContent {
    /// Done.
    #[oai(status = 204)]
    Done,
}

/// Created, with the new object.
#[derive(ApiResponse)]
pub enum Created<T: poem_openapi::types::ToJSON + Send + Sync> {
    #[oai(status = 201)]
    Created(Json<T>),
}

/// The actor when a bearer token is presented, `None` when none is: for operations that
/// anyone may read but members see more of. A presented but invalid token is refused.
pub async fn optional_actor(state: &AppState, req: &Request) -> ApiResult<Option<Actor>> {
    match req.header(poem::http::header::AUTHORIZATION) {
        None => Ok(None),
        Some(value) => match value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
        {
            Some(token) => crate::accounts::service::authenticate(state, token.trim())
                .await
                .map(Some),
            None => Err(ApiError::unauthorized(
                "Use a bearer token: `Authorization: Bearer <token>`.",
            )),
        },
    }
}

pub fn client_address(req: &Request) -> Option<String> {
    req.remote_addr()
        .as_socket_addr()
        .map(|a| a.ip().to_string())
}

pub fn user_agent(req: &Request) -> Option<String> {
    req.header(poem::http::header::USER_AGENT)
        .map(str::to_string)
}

pub type Apis = (
    AccountsApi,
    CommunitiesApi,
    ProposalsApi,
    SessionsApi,
    VotingApi,
    ResolutionsApi,
    ContractsApi,
    NotificationsApi,
    AuditApi,
);

pub fn service(state: &AppState) -> OpenApiService<Apis, ()> {
    OpenApiService::new(
        (
            AccountsApi {
                state: state.clone(),
            },
            CommunitiesApi {
                state: state.clone(),
            },
            ProposalsApi {
                state: state.clone(),
            },
            SessionsApi {
                state: state.clone(),
            },
            VotingApi {
                state: state.clone(),
            },
            ResolutionsApi {
                state: state.clone(),
            },
            ContractsApi {
                state: state.clone(),
            },
            NotificationsApi {
                state: state.clone(),
            },
            AuditApi {
                state: state.clone(),
            },
        ),
        "Yishi 议事厅",
        env!("CARGO_PKG_VERSION"),
    )
    .description(
        "Party-led community consultation: proposals, live sessions, votes, resolutions and \
         purchase-of-service contracts. Every error is an RFC 9457 problem with a stable `code`.",
    )
    .server("/api/v1")
}

/// The spec exactly as served, for `yishi openapi` and the drift test.
pub fn spec_json(state: &AppState) -> String {
    serde_json::to_string_pretty(&spec_value(state)).expect("a JSON value serialises")
}

/// The spec as a value: poem-openapi's, tightened (see [`spec::tighten`]).
pub fn spec_value(state: &AppState) -> serde_json::Value {
    let mut spec = serde_json::from_str(&service(state).spec()).expect("poem-openapi writes JSON");
    spec::tighten(&mut spec);
    spec
}
