use poem_openapi::OpenApi;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use uuid::Uuid;

use super::assisted;
use super::model::*;
use super::service;
use crate::api::{ApiResult, ApiTags, BearerAuth, Created, optional_actor};
use crate::error::ApiError;
use crate::realtime::protocol::ClientMessage;
use crate::register::model::AssistRequest;
use crate::state::AppState;

pub struct SessionsApi {
    pub state: AppState,
}

#[OpenApi(tag = "ApiTags::Sessions")]
impl SessionsApi {
    /// Convene a session (draft): agenda, place, chair and invited groups.
    #[oai(path = "/sessions", method = "post", operation_id = "createSession")]
    async fn create(
        &self,
        auth: BearerAuth,
        body: Json<CreateSessionRequest>,
    ) -> ApiResult<Created<SessionView>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Created::Created(Json(
            service::create(&self.state, &actor, body.0).await?,
        )))
    }

    /// Sessions of a community, newest first (members; drafts for convenors only).
    #[oai(path = "/sessions", method = "get", operation_id = "listSessions")]
    async fn list(
        &self,
        auth: BearerAuth,
        community_id: Query<Uuid>,
    ) -> ApiResult<Json<Vec<SessionView>>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(
            service::list(&self.state, &actor, community_id.0).await?,
        ))
    }

    /// One session with its agenda and attendance counts by group.
    #[oai(
        path = "/sessions/:session_id",
        method = "get",
        operation_id = "getSession"
    )]
    async fn get(&self, auth: BearerAuth, session_id: Path<Uuid>) -> ApiResult<Json<SessionView>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(service::get(&self.state, &actor, session_id.0).await?))
    }

    /// Send the invitations (with an iCalendar attachment): draft → scheduled.
    #[oai(
        path = "/sessions/:session_id/schedule",
        method = "post",
        operation_id = "scheduleSession"
    )]
    async fn schedule(
        &self,
        auth: BearerAuth,
        session_id: Path<Uuid>,
    ) -> ApiResult<Json<SessionView>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(
            service::schedule(&self.state, &actor, session_id.0).await?,
        ))
    }

    /// Move a draft or scheduled session; the invited get an updated calendar entry.
    #[oai(
        path = "/sessions/:session_id",
        method = "patch",
        operation_id = "rescheduleSession"
    )]
    async fn reschedule(
        &self,
        auth: BearerAuth,
        session_id: Path<Uuid>,
        body: Json<RescheduleRequest>,
    ) -> ApiResult<Json<SessionView>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(
            service::reschedule(&self.state, &actor, session_id.0, body.0).await?,
        ))
    }

    /// Cancel a draft or scheduled session with a reason; the invited are told.
    #[oai(
        path = "/sessions/:session_id/cancel",
        method = "post",
        operation_id = "cancelSession"
    )]
    async fn cancel(
        &self,
        auth: BearerAuth,
        session_id: Path<Uuid>,
        body: Json<CancelRequest>,
    ) -> ApiResult<Json<SessionView>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(
            service::cancel(&self.state, &actor, session_id.0, &body.0.reason).await?,
        ))
    }

    /// Open the live session (scheduled → open).
    #[oai(
        path = "/sessions/:session_id/open",
        method = "post",
        operation_id = "openSession"
    )]
    async fn open(&self, auth: BearerAuth, session_id: Path<Uuid>) -> ApiResult<Json<SessionView>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(
            service::change_state(&self.state, &actor, session_id.0, SessionStatus::Open).await?,
        ))
    }

    /// Adjourn (open → adjourned).
    #[oai(
        path = "/sessions/:session_id/adjourn",
        method = "post",
        operation_id = "adjournSession"
    )]
    async fn adjourn(
        &self,
        auth: BearerAuth,
        session_id: Path<Uuid>,
    ) -> ApiResult<Json<SessionView>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(
            service::change_state(&self.state, &actor, session_id.0, SessionStatus::Adjourned)
                .await?,
        ))
    }

    /// Resume (adjourned → open).
    #[oai(
        path = "/sessions/:session_id/resume",
        method = "post",
        operation_id = "resumeSession"
    )]
    async fn resume(
        &self,
        auth: BearerAuth,
        session_id: Path<Uuid>,
    ) -> ApiResult<Json<SessionView>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(
            service::change_state(&self.state, &actor, session_id.0, SessionStatus::Open).await?,
        ))
    }

    /// Close the session (open or adjourned → closed).
    #[oai(
        path = "/sessions/:session_id/close",
        method = "post",
        operation_id = "closeSession"
    )]
    async fn close(
        &self,
        auth: BearerAuth,
        session_id: Path<Uuid>,
    ) -> ApiResult<Json<SessionView>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(
            service::change_state(&self.state, &actor, session_id.0, SessionStatus::Closed).await?,
        ))
    }

    /// Answer your invitation: confirm or decline attendance.
    #[oai(
        path = "/sessions/:session_id/rsvp",
        method = "post",
        operation_id = "answerInvitation"
    )]
    async fn rsvp(
        &self,
        auth: BearerAuth,
        session_id: Path<Uuid>,
        body: Json<RsvpRequest>,
    ) -> ApiResult<Json<SessionView>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(
            service::rsvp(&self.state, &actor, session_id.0, body.0.response).await?,
        ))
    }

    /// A grid worker (or convenor) checks in an invited person who attends in person (assisted).
    #[oai(
        path = "/sessions/:session_id/attendance",
        method = "post",
        operation_id = "checkIn"
    )]
    async fn check_in(
        &self,
        auth: BearerAuth,
        session_id: Path<Uuid>,
        body: Json<CheckInRequest>,
    ) -> ApiResult<Json<SessionView>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(
            service::check_in(&self.state, &actor, session_id.0, &body.0.email).await?,
        ))
    }

    /// A grid worker or committee member checks in a person of the register who attends in
    /// person, on the sign-in sheet the reference names; no account is needed.
    #[oai(
        path = "/sessions/:session_id/assisted-check-ins",
        method = "post",
        operation_id = "assistCheckIn"
    )]
    async fn assist_check_in(
        &self,
        auth: BearerAuth,
        session_id: Path<Uuid>,
        body: Json<AssistRequest>,
    ) -> ApiResult<Json<SessionView>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(
            assisted::check_in(&self.state, &actor, session_id.0, body.0).await?,
        ))
    }

    /// A grid worker or committee member answers the invitation for a person of the register
    /// (by phone, at the door); a later answer replaces an earlier one.
    #[oai(
        path = "/sessions/:session_id/assisted-rsvps",
        method = "post",
        operation_id = "assistRsvp"
    )]
    async fn assist_rsvp(
        &self,
        auth: BearerAuth,
        session_id: Path<Uuid>,
        body: Json<AssistedRsvpRequest>,
    ) -> ApiResult<Json<SessionView>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(
            assisted::rsvp(&self.state, &actor, session_id.0, body.0).await?,
        ))
    }

    /// A one-minute, single-use ticket to open the live room's websocket.
    #[oai(
        path = "/sessions/:session_id/tickets",
        method = "post",
        operation_id = "issueLiveTicket"
    )]
    async fn ticket(
        &self,
        auth: BearerAuth,
        session_id: Path<Uuid>,
    ) -> ApiResult<Created<LiveTicket>> {
        let actor = auth.actor(&self.state).await?;
        service::load_visible(&self.state.db.conn, &actor, session_id.0).await?;
        let ticket =
            crate::accounts::service::issue_live_ticket(&self.state, &actor, session_id.0).await?;
        Ok(Created::Created(Json(LiveTicket {
            ticket,
            expires_in_seconds: crate::accounts::service::LIVE_TICKET_SECS as u32,
        })))
    }

    /// Do in the room over HTTP what the socket does: chat, raise a hand, chair actions.
    #[oai(
        path = "/sessions/:session_id/room",
        method = "post",
        operation_id = "roomAction"
    )]
    async fn room_action(
        &self,
        auth: BearerAuth,
        session_id: Path<Uuid>,
        body: Json<RoomActionRequest>,
    ) -> ApiResult<Json<RoomEventView>> {
        let actor = auth.actor(&self.state).await?;
        let (session, convenor) =
            service::load_visible(&self.state.db.conn, &actor, session_id.0).await?;
        if !matches!(
            SessionStatus::parse(&session.status),
            SessionStatus::Open | SessionStatus::Adjourned
        ) {
            return Err(ApiError::conflict(
                "session_not_live",
                "The room is open only while the session is open or adjourned.",
            ));
        }
        let b = body.0;
        let missing = |what: &str| {
            ApiError::unprocessable("field_required", format!("This action needs `{what}`."))
        };
        let msg = match b.kind {
            RoomActionType::Chat => ClientMessage::Chat {
                text: b.text.ok_or_else(|| missing("text"))?.into(),
                item_id: b.item_id,
            },
            RoomActionType::React => ClientMessage::React {
                emoji: b.emoji.ok_or_else(|| missing("emoji"))?.into(),
            },
            RoomActionType::RaiseHand => ClientMessage::RaiseHand,
            RoomActionType::LowerHand => ClientMessage::LowerHand,
            RoomActionType::GiveFloor => ClientMessage::GiveFloor {
                user_id: b.user_id.ok_or_else(|| missing("user_id"))?,
                seconds: b.seconds.ok_or_else(|| missing("seconds"))?,
            },
            RoomActionType::TakeFloor => ClientMessage::TakeFloor,
            RoomActionType::NextItem => ClientMessage::NextItem,
            RoomActionType::Adjourn => ClientMessage::Adjourn,
            RoomActionType::Resume => ClientMessage::Resume,
            RoomActionType::Close => ClientMessage::Close,
            RoomActionType::RemoveMessage => ClientMessage::RemoveMessage {
                seq: b.seq.ok_or_else(|| missing("seq"))?,
                reason: b.reason.ok_or_else(|| missing("reason"))?.into(),
            },
            RoomActionType::MarkMessage => ClientMessage::MarkMessage {
                seq: b.seq.ok_or_else(|| missing("seq"))?,
            },
            RoomActionType::Mute => ClientMessage::Mute {
                user_id: b.user_id.ok_or_else(|| missing("user_id"))?,
                seconds: b.seconds.ok_or_else(|| missing("seconds"))?,
            },
        };
        let room = self.state.rooms.get(&self.state, &session).await?;
        let chair = convenor || session.chair_id == actor.id();
        let event = crate::realtime::live::act(
            &self.state,
            &room,
            &crate::realtime::live::Member::of(&actor),
            chair,
            msg,
        )
        .await?
        .ok_or_else(|| missing("type"))?;
        Ok(Json(RoomEventView {
            seq: event.seq,
            kind: event.kind,
            actor_id: event.actor_id,
            payload: event.payload,
            at: event.at,
        }))
    }

    /// Room events after a sequence number, for clients that poll instead of keeping a socket.
    #[oai(
        path = "/sessions/:session_id/events",
        method = "get",
        operation_id = "listRoomEvents"
    )]
    async fn events(
        &self,
        auth: BearerAuth,
        session_id: Path<Uuid>,
        #[oai(default, validator(minimum(value = "0")))] after: Query<i64>,
        #[oai(
            default = "default_limit",
            validator(minimum(value = "1"), maximum(value = "1000"))
        )]
        limit: Query<u64>,
    ) -> ApiResult<Json<Vec<RoomEventView>>> {
        let actor = auth.actor(&self.state).await?;
        service::load_visible(&self.state.db.conn, &actor, session_id.0).await?;
        let events =
            crate::sessions::events::after(&self.state.db.conn, session_id.0, after.0, limit.0)
                .await?;
        Ok(Json(
            events
                .into_iter()
                .map(|e| RoomEventView {
                    seq: e.seq,
                    kind: e.kind,
                    actor_id: e.actor_id,
                    payload: e.payload,
                    at: e.at,
                })
                .collect(),
        ))
    }

    /// The minutes of a closed session (JSON). Public without personal data; names for members.
    #[oai(
        path = "/sessions/:session_id/minutes",
        method = "get",
        operation_id = "getMinutes"
    )]
    async fn minutes(
        &self,
        req: &poem::Request,
        session_id: Path<Uuid>,
    ) -> ApiResult<Json<Minutes>> {
        let actor = optional_actor(&self.state, req).await?;
        Ok(Json(
            service::minutes(&self.state, actor.as_ref(), session_id.0).await?,
        ))
    }

    /// The minutes as a readable Markdown document.
    #[oai(
        path = "/sessions/:session_id/minutes.md",
        method = "get",
        operation_id = "getMinutesDocument"
    )]
    async fn minutes_document(
        &self,
        req: &poem::Request,
        session_id: Path<Uuid>,
    ) -> ApiResult<MarkdownResponse> {
        let actor = optional_actor(&self.state, req).await?;
        let m = service::minutes(&self.state, actor.as_ref(), session_id.0).await?;
        Ok(MarkdownResponse::Ok(poem_openapi::payload::PlainText(
            super::minutes::markdown(&m),
        )))
    }
}

#[derive(poem_openapi::ApiResponse)]
pub enum MarkdownResponse {
    /// The minutes as a Markdown document.
    #[oai(status = 200, content_type = "text/markdown; charset=utf-8")]
    Ok(poem_openapi::payload::PlainText<String>),
}

fn default_limit() -> u64 {
    200
}
