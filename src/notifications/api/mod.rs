pub mod socket;

use chrono::{DateTime, Utc};
use poem_openapi::OpenApi;
use poem_openapi::param::Query;
use poem_openapi::payload::{Form, Json};

use super::model::*;
use super::{feed, service};
use crate::api::{ApiResult, ApiTags, BearerAuth, Created};
use crate::state::AppState;

pub struct NotificationsApi {
    pub state: AppState,
}

#[OpenApi(tag = "ApiTags::Notifications")]
impl NotificationsApi {
    /// Everything the platform may send: each kind with its category, who receives it, and
    /// whether it may be muted.
    #[oai(
        path = "/notifications/catalogue",
        method = "get",
        operation_id = "getNotificationCatalogue"
    )]
    async fn catalogue(&self) -> ApiResult<Json<Vec<CatalogueEntryView>>> {
        Ok(Json(service::catalogue()))
    }

    /// Your notification preferences: per category at once, in the daily digest, or off; and
    /// the digest time (Asia/Shanghai).
    #[oai(
        path = "/accounts/me/notification-preferences",
        method = "get",
        operation_id = "getNotificationPreferences"
    )]
    async fn preferences(&self, auth: BearerAuth) -> ApiResult<Json<PreferencesView>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(service::preferences(&self.state, &actor).await?))
    }

    /// Change your preferences; they apply to the next message. Security messages cannot be
    /// muted.
    #[oai(
        path = "/accounts/me/notification-preferences",
        method = "put",
        operation_id = "updateNotificationPreferences"
    )]
    async fn update_preferences(
        &self,
        auth: BearerAuth,
        body: Json<PreferencesRequest>,
    ) -> ApiResult<Json<PreferencesView>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(
            service::update_preferences(&self.state, &actor, body.0).await?,
        ))
    }

    /// Your mailbox works again: mail held after a permanent failure is tried once more.
    #[oai(
        path = "/accounts/me/email-suppression",
        method = "delete",
        operation_id = "clearEmailSuppression"
    )]
    async fn clear_suppression(&self, auth: BearerAuth) -> ApiResult<Json<PreferencesView>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(service::clear_suppression(&self.state, &actor).await?))
    }

    /// Your notification feed, newest first, with the unread count.
    #[oai(
        path = "/accounts/me/notifications",
        method = "get",
        operation_id = "listNotifications"
    )]
    async fn feed(
        &self,
        auth: BearerAuth,
        #[oai(default)] unread_only: Query<bool>,
        #[oai(
            default = "default_limit",
            validator(minimum(value = "1"), maximum(value = "200"))
        )]
        limit: Query<u64>,
        before: Query<Option<DateTime<Utc>>>,
    ) -> ApiResult<Json<FeedPage>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(
            feed::list(&self.state, actor.id(), unread_only.0, limit.0, before.0).await?,
        ))
    }

    /// Mark notifications read (some, or all).
    #[oai(
        path = "/accounts/me/notifications/read",
        method = "post",
        operation_id = "markNotificationsRead"
    )]
    async fn read(&self, auth: BearerAuth, body: Json<ReadRequest>) -> ApiResult<Json<FeedPage>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(
            feed::mark_read(&self.state, actor.id(), body.0).await?,
        ))
    }

    /// A one-minute, single-use ticket to open your feed socket, `GET /api/v1/accounts/me/feed`.
    #[oai(
        path = "/accounts/me/tickets",
        method = "post",
        operation_id = "createFeedTicket"
    )]
    async fn ticket(
        &self,
        auth: BearerAuth,
    ) -> ApiResult<Created<crate::sessions::model::LiveTicket>> {
        let actor = auth.actor(&self.state).await?;
        let ticket = crate::accounts::service::issue_live_ticket(
            &self.state,
            &actor,
            feed::FEED_TICKET_SCOPE,
        )
        .await?;
        // 201, as for a live room's ticket: each call makes a new one.
        Ok(Created::Created(Json(crate::sessions::model::LiveTicket {
            ticket,
            expires_in_seconds: crate::accounts::service::LIVE_TICKET_SECS as u32,
        })))
    }

    /// What an unsubscribe link would turn off (nothing changes).
    #[oai(
        path = "/unsubscribe",
        method = "get",
        operation_id = "inspectUnsubscribe"
    )]
    async fn inspect(
        &self,
        #[oai(validator(max_length = 300))] token: Query<String>,
    ) -> ApiResult<Json<UnsubscribeView>> {
        Ok(Json(
            service::inspect_unsubscribe(&self.state, &token.0).await?,
        ))
    }

    /// One-click unsubscribe (RFC 8058): the `List-Unsubscribe` target of every email that may
    /// be muted. No sign-in; the signed token names the person and the category; the body is
    /// `List-Unsubscribe=One-Click`, form-encoded, as the RFC prescribes.
    #[oai(path = "/unsubscribe", method = "post", operation_id = "unsubscribe")]
    async fn unsubscribe(
        &self,
        #[oai(validator(max_length = 300))] token: Query<String>,
        body: Form<OneClick>,
    ) -> ApiResult<Json<UnsubscribeView>> {
        if body.0.list_unsubscribe != "One-Click" {
            return Err(crate::error::ApiError::unprocessable(
                "one_click_required",
                "An unsubscribe is a POST of List-Unsubscribe=One-Click (RFC 8058).",
            ));
        }
        Ok(Json(service::unsubscribe(&self.state, &token.0).await?))
    }

    /// The outbox: every message's delivery status (platform administrators).
    #[oai(path = "/admin/outbox", method = "get", operation_id = "listOutbox")]
    async fn outbox(
        &self,
        auth: BearerAuth,
        #[oai(validator(pattern = "^(pending|sending|sent|dead)$"))] status: Query<Option<String>>,
        #[oai(
            default = "default_limit",
            validator(minimum(value = "1"), maximum(value = "500"))
        )]
        limit: Query<u64>,
        #[oai(default, validator(maximum(value = "1000000")))] offset: Query<u64>,
    ) -> ApiResult<Json<OutboxPage>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(
            service::outbox_page(&self.state, &actor, status.0, limit.0, offset.0).await?,
        ))
    }
}

fn default_limit() -> u64 {
    50
}
