use poem_openapi::OpenApi;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use uuid::Uuid;

use super::model::*;
use super::service;
use crate::api::{ApiResult, ApiTags, BearerAuth, Created};
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
}
