//! The OpenAPI surface: every context's API struct, tags, the bearer scheme, shared responses.

pub mod health;
pub mod observe;
pub mod problems;
pub mod spec;

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
use crate::register::api::RegisterApi;
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
    /// The community's register of persons, households and owners, with its versions,
    /// anomalies and the electorates drawn from it.
    Register,
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
        Ok(crate::accounts::service::authenticate(state, &self.0.token).await?)
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
            Some(token) => Ok(Some(
                crate::accounts::service::authenticate(state, token.trim()).await?,
            )),
            None => Err(ApiError::unauthorized(
                "Use a bearer token: `Authorization: Bearer <token>`.",
            )),
        },
    }
}

/// The client's address: the peer's, or, when the peer is a trusted proxy
/// (`YISHI_TRUSTED_PROXIES`), the last address in `X-Forwarded-For` that is not one.
pub fn client_address(req: &Request) -> Option<String> {
    let peer = req.remote_addr().as_socket_addr()?.ip();
    let trusted = req
        .data::<AppState>()
        .map(|s| s.settings.trusted_proxies.as_slice())
        .unwrap_or_default();
    Some(forwarded_client(peer, trusted, req.header("x-forwarded-for")).to_string())
}

fn forwarded_client(
    peer: std::net::IpAddr,
    trusted: &[std::net::IpAddr],
    forwarded_for: Option<&str>,
) -> std::net::IpAddr {
    let mut client = peer;
    if !trusted.contains(&peer) {
        return client;
    }
    // Right to left: each hop was added by the proxy before it; stop at the first address
    // that is not a trusted proxy (anything left of it the client could have written).
    for hop in forwarded_for.unwrap_or_default().rsplit(',') {
        match hop.trim().parse() {
            Ok(ip) => {
                client = ip;
                if !trusted.contains(&ip) {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    client
}

pub fn user_agent(req: &Request) -> Option<String> {
    req.header(poem::http::header::USER_AGENT)
        .map(str::to_string)
}

pub type Apis = (
    AccountsApi,
    CommunitiesApi,
    RegisterApi,
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
            RegisterApi {
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

#[cfg(test)]
mod tests {
    use super::forwarded_client;

    #[test]
    fn forwarded_for_counts_only_from_trusted_proxies() {
        let ip = |s: &str| s.parse().unwrap();
        let proxies = [ip("10.0.0.1"), ip("10.0.0.2")];
        // Straight from a client: its own address, whatever it claims.
        assert_eq!(
            forwarded_client(ip("198.51.100.9"), &proxies, Some("1.2.3.4")),
            ip("198.51.100.9")
        );
        // Through the proxy: the address it saw.
        assert_eq!(
            forwarded_client(ip("10.0.0.1"), &proxies, Some("203.0.113.7")),
            ip("203.0.113.7")
        );
        // A forged hop left of the real one is ignored; proxies in the chain are skipped.
        assert_eq!(
            forwarded_client(
                ip("10.0.0.1"),
                &proxies,
                Some("6.6.6.6, 203.0.113.7, 10.0.0.2")
            ),
            ip("203.0.113.7")
        );
        // No header or garbage: the proxy itself.
        assert_eq!(
            forwarded_client(ip("10.0.0.1"), &proxies, None),
            ip("10.0.0.1")
        );
        assert_eq!(
            forwarded_client(ip("10.0.0.1"), &proxies, Some("nonsense")),
            ip("10.0.0.1")
        );
    }
}
