use chrono::NaiveDate;
use poem::Request;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::{Attachment, AttachmentType, Json, PlainText};
use poem_openapi::{ApiResponse, OpenApi};
use uuid::Uuid;

use super::model::*;
use super::{assisted, dashboard, service};
use crate::api::{ApiResult, ApiTags, BearerAuth, Created, optional_actor};
use crate::error::ApiError;
use crate::state::AppState;

pub struct ResolutionsApi {
    pub state: AppState,
}

/// The dashboard as a CSV file.
#[derive(ApiResponse)]
pub enum CsvResponse {
    #[oai(status = 200, content_type = "text/csv; charset=utf-8")]
    Csv(
        PlainText<String>,
        #[oai(header = "Content-Disposition")] String,
    ),
}

#[OpenApi(tag = "ApiTags::Resolutions")]
impl ResolutionsApi {
    /// Record a resolution (draft) from a closed poll that passed, or a consensus resolution
    /// from a held session's agenda item: what will be done, the responsible organisation, a
    /// deadline, milestones and an optional budget.
    #[oai(
        path = "/resolutions",
        method = "post",
        operation_id = "createResolution"
    )]
    async fn create(
        &self,
        auth: BearerAuth,
        body: Json<CreateResolutionRequest>,
    ) -> ApiResult<Created<ResolutionView>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Created::Created(Json(
            service::create(&self.state, &actor, body.0).await?,
        )))
    }

    /// A community's resolutions, most recently changed first: the public ones for everyone,
    /// drafts too for the committee, legal reviewers and the responsible organisation.
    #[oai(
        path = "/resolutions",
        method = "get",
        operation_id = "listResolutions"
    )]
    async fn list(
        &self,
        req: &Request,
        community_id: Query<Uuid>,
        status: Query<Option<ResolutionStatus>>,
    ) -> ApiResult<Json<Vec<ResolutionSummary>>> {
        let actor = optional_actor(&self.state, req).await?;
        Ok(Json(
            service::list(&self.state, actor.as_ref(), community_id.0, status.0).await?,
        ))
    }

    /// One resolution with its timeline from proposal to rating. Public from taking effect on,
    /// without personal data; members of the community see names.
    #[oai(
        path = "/resolutions/:resolution_id",
        method = "get",
        operation_id = "getResolution"
    )]
    async fn get(
        &self,
        req: &Request,
        resolution_id: Path<Uuid>,
    ) -> ApiResult<Json<ResolutionView>> {
        let actor = optional_actor(&self.state, req).await?;
        Ok(Json(
            service::get(&self.state, actor.as_ref(), resolution_id.0).await?,
        ))
    }

    /// Edit a draft; `milestones`, when given, replaces them.
    #[oai(
        path = "/resolutions/:resolution_id",
        method = "patch",
        operation_id = "updateResolution"
    )]
    async fn update(
        &self,
        auth: BearerAuth,
        resolution_id: Path<Uuid>,
        body: Json<UpdateResolutionRequest>,
    ) -> ApiResult<Json<ResolutionView>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(
            service::update(&self.state, &actor, resolution_id.0, body.0).await?,
        ))
    }

    /// Send a draft to legal review (法制审核). Major resolutions, and those whose budget
    /// reaches the community's threshold, cannot take effect without it.
    #[oai(
        path = "/resolutions/:resolution_id/submit-for-review",
        method = "post",
        operation_id = "submitResolutionForReview"
    )]
    async fn submit_for_review(
        &self,
        auth: BearerAuth,
        resolution_id: Path<Uuid>,
    ) -> ApiResult<Json<ResolutionView>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(
            service::submit_for_review(&self.state, &actor, resolution_id.0).await?,
        ))
    }

    /// The legal reviewer approves, or returns the resolution with written findings.
    #[oai(
        path = "/resolutions/:resolution_id/reviews",
        method = "post",
        operation_id = "reviewResolution"
    )]
    async fn review(
        &self,
        auth: BearerAuth,
        resolution_id: Path<Uuid>,
        body: Json<ReviewRequest>,
    ) -> ApiResult<Json<ResolutionView>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(
            service::review(&self.state, &actor, resolution_id.0, body.0).await?,
        ))
    }

    /// Let the resolution take effect: it goes on the public disclosure board and residents
    /// may object until the disclosure period ends.
    #[oai(
        path = "/resolutions/:resolution_id/take-effect",
        method = "post",
        operation_id = "takeEffect"
    )]
    async fn take_effect(
        &self,
        auth: BearerAuth,
        resolution_id: Path<Uuid>,
    ) -> ApiResult<Json<ResolutionView>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(
            service::take_effect(&self.state, &actor, resolution_id.0).await?,
        ))
    }

    /// Cancel a resolution, with a reason.
    #[oai(
        path = "/resolutions/:resolution_id/cancel",
        method = "post",
        operation_id = "cancelResolution"
    )]
    async fn cancel(
        &self,
        auth: BearerAuth,
        resolution_id: Path<Uuid>,
        body: Json<CancelResolutionRequest>,
    ) -> ApiResult<Json<ResolutionView>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(
            service::cancel(&self.state, &actor, resolution_id.0, &body.0.reason).await?,
        ))
    }

    /// A resident objects, with reasons, during the disclosure period.
    #[oai(
        path = "/resolutions/:resolution_id/objections",
        method = "post",
        operation_id = "lodgeObjection"
    )]
    async fn object(
        &self,
        auth: BearerAuth,
        resolution_id: Path<Uuid>,
        body: Json<ObjectionRequest>,
    ) -> ApiResult<Json<ResolutionView>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(
            service::object(&self.state, &actor, resolution_id.0, body.0).await?,
        ))
    }

    /// The committee answers an objection in writing: upheld (the resolution returns to draft
    /// or is withdrawn) or dismissed (it proceeds). The objector is emailed.
    #[oai(
        path = "/objections/:objection_id/answer",
        method = "post",
        operation_id = "answerObjection"
    )]
    async fn answer(
        &self,
        auth: BearerAuth,
        objection_id: Path<Uuid>,
        body: Json<AnswerObjectionRequest>,
    ) -> ApiResult<Json<ResolutionView>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(
            service::answer_objection(&self.state, &actor, objection_id.0, body.0).await?,
        ))
    }

    /// The responsible organisation reports progress (text, percentage, up to 5 evidence files
    /// of at most 5 MiB each: PNG, JPEG, WebP or PDF). Followers are emailed.
    #[oai(
        path = "/resolutions/:resolution_id/updates",
        method = "post",
        operation_id = "postProgressUpdate"
    )]
    async fn post_update(
        &self,
        auth: BearerAuth,
        resolution_id: Path<Uuid>,
        form: ProgressUpdateForm,
    ) -> ApiResult<Created<ProgressUpdateView>> {
        let actor = auth.actor(&self.state).await?;
        let mut files = Vec::with_capacity(form.files.len());
        for upload in form.files {
            let file_name = upload.file_name().unwrap_or("evidence").to_string();
            let bytes = upload.into_vec().await.map_err(|e| {
                ApiError::bad_request("invalid_upload", format!("The upload was cut off: {e}"))
            })?;
            files.push(service::IncomingFile { file_name, bytes });
        }
        let view = service::post_update(
            &self.state,
            &actor,
            resolution_id.0,
            &form.body,
            form.percent,
            files,
        )
        .await?;
        Ok(Created::Created(Json(view)))
    }

    /// One evidence file, for those who see the resolution in full.
    #[oai(
        path = "/evidence/:evidence_id",
        method = "get",
        operation_id = "getEvidence"
    )]
    async fn evidence(
        &self,
        auth: BearerAuth,
        evidence_id: Path<Uuid>,
    ) -> ApiResult<Attachment<Vec<u8>>> {
        let actor = auth.actor(&self.state).await?;
        let (file, bytes) = service::evidence(&self.state, &actor, evidence_id.0).await?;
        Ok(Attachment::new(bytes)
            .attachment_type(AttachmentType::Attachment)
            .filename(file.file_name))
    }

    /// The responsible organisation marks a milestone done.
    #[oai(
        path = "/milestones/:milestone_id/done",
        method = "post",
        operation_id = "completeMilestone"
    )]
    async fn milestone_done(
        &self,
        auth: BearerAuth,
        milestone_id: Path<Uuid>,
    ) -> ApiResult<Json<ResolutionView>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(
            service::milestone_done(&self.state, &actor, milestone_id.0).await?,
        ))
    }

    /// Mark the resolution completed (every milestone done). Residents may rate it for the
    /// community's rating window.
    #[oai(
        path = "/resolutions/:resolution_id/complete",
        method = "post",
        operation_id = "completeResolution"
    )]
    async fn complete(
        &self,
        auth: BearerAuth,
        resolution_id: Path<Uuid>,
    ) -> ApiResult<Json<ResolutionView>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(
            service::complete(&self.state, &actor, resolution_id.0).await?,
        ))
    }

    /// Follow a resolution: be emailed on each update.
    #[oai(
        path = "/resolutions/:resolution_id/follow",
        method = "put",
        operation_id = "followResolution"
    )]
    async fn follow(
        &self,
        auth: BearerAuth,
        resolution_id: Path<Uuid>,
    ) -> ApiResult<Json<ResolutionView>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(
            service::follow(&self.state, &actor, resolution_id.0, true).await?,
        ))
    }

    /// Stop following a resolution.
    #[oai(
        path = "/resolutions/:resolution_id/follow",
        method = "delete",
        operation_id = "unfollowResolution"
    )]
    async fn unfollow(
        &self,
        auth: BearerAuth,
        resolution_id: Path<Uuid>,
    ) -> ApiResult<Json<ResolutionView>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(
            service::follow(&self.state, &actor, resolution_id.0, false).await?,
        ))
    }

    /// A verified resident rates a completed resolution once, 1 to 5, with an optional comment.
    #[oai(
        path = "/resolutions/:resolution_id/ratings",
        method = "post",
        operation_id = "rateResolution"
    )]
    async fn rate(
        &self,
        auth: BearerAuth,
        resolution_id: Path<Uuid>,
        body: Json<RatingRequest>,
    ) -> ApiResult<Json<ResolutionView>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(
            service::rate(&self.state, &actor, resolution_id.0, body.0).await?,
        ))
    }

    /// A grid worker or committee member rates a completed resolution for a person of the
    /// register, once, on the paper the reference names.
    #[oai(
        path = "/resolutions/:resolution_id/assisted-ratings",
        method = "post",
        operation_id = "assistRating"
    )]
    async fn assist_rating(
        &self,
        auth: BearerAuth,
        resolution_id: Path<Uuid>,
        body: Json<AssistedRatingRequest>,
    ) -> ApiResult<Json<ResolutionView>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(
            assisted::rate(&self.state, &actor, resolution_id.0, body.0).await?,
        ))
    }

    /// A grid worker or committee member lodges an objection to a disclosed resolution for a
    /// person of the register; the committee's answer comes to the one who lodged it.
    #[oai(
        path = "/resolutions/:resolution_id/assisted-objections",
        method = "post",
        operation_id = "assistObjection"
    )]
    async fn assist_objection(
        &self,
        auth: BearerAuth,
        resolution_id: Path<Uuid>,
        body: Json<AssistedObjectionRequest>,
    ) -> ApiResult<Json<ResolutionView>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(
            assisted::object(&self.state, &actor, resolution_id.0, body.0).await?,
        ))
    }

    /// An appointed evaluator scores a completed resolution on weighted criteria (weights sum
    /// to 100) with a report.
    #[oai(
        path = "/resolutions/:resolution_id/evaluations",
        method = "post",
        operation_id = "evaluateResolution"
    )]
    async fn evaluate(
        &self,
        auth: BearerAuth,
        resolution_id: Path<Uuid>,
        body: Json<EvaluationRequest>,
    ) -> ApiResult<Json<ResolutionView>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(
            service::evaluate(&self.state, &actor, resolution_id.0, body.0).await?,
        ))
    }

    /// The community's public disclosure board (公示栏): resolutions open to objections.
    #[oai(
        path = "/communities/:community_id/disclosure-board",
        method = "get",
        operation_id = "getDisclosureBoard"
    )]
    async fn board(&self, community_id: Path<Uuid>) -> ApiResult<Json<Vec<ResolutionSummary>>> {
        Ok(Json(service::board(&self.state, community_id.0).await?))
    }

    /// The community's rules for resolutions: disclosure days, the budget that needs legal
    /// review, the rating window.
    #[oai(
        path = "/communities/:community_id/resolution-settings",
        method = "get",
        operation_id = "getResolutionSettings"
    )]
    async fn settings(&self, community_id: Path<Uuid>) -> ApiResult<Json<ResolutionSettingsView>> {
        Ok(Json(
            service::get_settings(&self.state, community_id.0).await?,
        ))
    }

    /// Change the community's rules for resolutions (committee).
    #[oai(
        path = "/communities/:community_id/resolution-settings",
        method = "put",
        operation_id = "updateResolutionSettings"
    )]
    async fn update_settings(
        &self,
        auth: BearerAuth,
        community_id: Path<Uuid>,
        body: Json<ResolutionSettingsRequest>,
    ) -> ApiResult<Json<ResolutionSettingsView>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(
            service::update_settings(&self.state, &actor, community_id.0, body.0).await?,
        ))
    }

    /// Figures of a community, or of every community under a subdistrict or district, over a
    /// period (default: the last 365 days): proposals, sessions, attendance, turnout, resolutions
    /// adopted, on time and overdue, satisfaction and evaluation scores.
    #[oai(
        path = "/places/:place_id/dashboard",
        method = "get",
        operation_id = "getDashboard"
    )]
    async fn dashboard(
        &self,
        auth: BearerAuth,
        place_id: Path<Uuid>,
        from: Query<Option<NaiveDate>>,
        to: Query<Option<NaiveDate>>,
    ) -> ApiResult<Json<Dashboard>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(
            dashboard::dashboard(&self.state, &actor, place_id.0, from.0, to.0).await?,
        ))
    }

    /// The dashboard as CSV, one row per community.
    #[oai(
        path = "/places/:place_id/dashboard.csv",
        method = "get",
        operation_id = "exportDashboard"
    )]
    async fn dashboard_csv(
        &self,
        auth: BearerAuth,
        place_id: Path<Uuid>,
        from: Query<Option<NaiveDate>>,
        to: Query<Option<NaiveDate>>,
    ) -> ApiResult<CsvResponse> {
        let actor = auth.actor(&self.state).await?;
        let d = dashboard::dashboard(&self.state, &actor, place_id.0, from.0, to.0).await?;
        let name = format!("attachment; filename=\"dashboard-{}-{}.csv\"", d.from, d.to);
        Ok(CsvResponse::Csv(PlainText(dashboard::to_csv(&d)), name))
    }
}
