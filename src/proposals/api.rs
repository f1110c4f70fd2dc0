use poem::Request;
use poem_openapi::OpenApi;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use uuid::Uuid;

use super::cosigns;
use super::model::*;
use super::service::{self, Filters};
use crate::api::{ApiResult, ApiTags, BearerAuth, Created, NoContent, optional_actor};
use crate::register::model::{AssistRequest, AssistedActView};
use crate::state::AppState;

pub struct ProposalsApi {
    pub state: AppState,
}

fn default_page() -> u64 {
    1
}
fn default_page_size() -> u64 {
    20
}
fn default_sort() -> SortOrder {
    SortOrder::Newest
}

#[OpenApi(tag = "ApiTags::Proposals")]
impl ProposalsApi {
    /// Write a proposal: saved as a draft, or submitted at once for co-signing (`submit`).
    #[oai(path = "/proposals", method = "post", operation_id = "createProposal")]
    async fn create(
        &self,
        auth: BearerAuth,
        body: Json<CreateProposalRequest>,
    ) -> ApiResult<Created<ProposalView>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Created::Created(Json(
            service::create(&self.state, &actor, body.0).await?,
        )))
    }

    /// Find proposals. Members of the community see every submitted proposal; visitors see
    /// accepted and rejected ones without personal data. The answer states the total.
    #[allow(clippy::too_many_arguments)]
    #[oai(path = "/proposals", method = "get", operation_id = "listProposals")]
    async fn list(
        &self,
        req: &Request,
        community_id: Query<Option<Uuid>>,
        status: Query<Option<ProposalStatus>>,
        category: Query<Option<Category>>,
        grid_id: Query<Option<Uuid>>,
        proposer_id: Query<Option<Uuid>>,
        /// Words to find in the title or text (Chinese included).
        #[oai(validator(max_length = 100))]
        q: Query<Option<String>>,
        #[oai(default = "default_sort")] sort: Query<SortOrder>,
        #[oai(
            default = "default_page",
            validator(minimum(value = "1"), maximum(value = "100000"))
        )]
        page: Query<u64>,
        #[oai(
            default = "default_page_size",
            validator(minimum(value = "1"), maximum(value = "100"))
        )]
        page_size: Query<u64>,
    ) -> ApiResult<Json<ProposalPage>> {
        let actor = optional_actor(&self.state, req).await?;
        let filters = Filters {
            community_id: community_id.0,
            status: status.0,
            category: category.0,
            grid_id: grid_id.0,
            proposer_id: proposer_id.0,
            q: q.0,
            sort: sort.0,
            page: page.0,
            page_size: page_size.0,
        };
        Ok(Json(
            service::list(&self.state, actor.as_ref(), filters).await?,
        ))
    }

    /// One proposal.
    #[oai(
        path = "/proposals/:proposal_id",
        method = "get",
        operation_id = "getProposal"
    )]
    async fn get(&self, req: &Request, proposal_id: Path<Uuid>) -> ApiResult<Json<ProposalView>> {
        let actor = optional_actor(&self.state, req).await?;
        Ok(Json(
            service::get(&self.state, actor.as_ref(), proposal_id.0).await?,
        ))
    }

    /// Edit a draft, or a proposal the committee asked to change (each such edit is a new version).
    #[oai(
        path = "/proposals/:proposal_id",
        method = "patch",
        operation_id = "updateProposal"
    )]
    async fn update(
        &self,
        auth: BearerAuth,
        proposal_id: Path<Uuid>,
        body: Json<UpdateProposalRequest>,
    ) -> ApiResult<Json<ProposalView>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(
            service::update(&self.state, &actor, proposal_id.0, body.0).await?,
        ))
    }

    /// Submit a draft for co-signing, or resubmit after the committee asked for changes.
    #[oai(
        path = "/proposals/:proposal_id/submit",
        method = "post",
        operation_id = "submitProposal"
    )]
    async fn submit(
        &self,
        auth: BearerAuth,
        proposal_id: Path<Uuid>,
    ) -> ApiResult<Json<ProposalView>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(
            service::submit(&self.state, &actor, proposal_id.0).await?,
        ))
    }

    /// The proposer withdraws a proposal that is not yet decided.
    #[oai(
        path = "/proposals/:proposal_id/withdraw",
        method = "post",
        operation_id = "withdrawProposal"
    )]
    async fn withdraw(
        &self,
        auth: BearerAuth,
        proposal_id: Path<Uuid>,
    ) -> ApiResult<Json<ProposalView>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(
            service::withdraw(&self.state, &actor, proposal_id.0).await?,
        ))
    }

    /// The versions of a proposal since it was submitted.
    #[oai(
        path = "/proposals/:proposal_id/versions",
        method = "get",
        operation_id = "listProposalVersions"
    )]
    async fn versions(
        &self,
        req: &Request,
        proposal_id: Path<Uuid>,
    ) -> ApiResult<Json<Vec<VersionView>>> {
        let actor = optional_actor(&self.state, req).await?;
        Ok(Json(
            service::versions(&self.state, actor.as_ref(), proposal_id.0).await?,
        ))
    }

    /// Co-sign (附议) a proposal of your community. Each person co-signs once.
    #[oai(
        path = "/proposals/:proposal_id/cosign",
        method = "post",
        operation_id = "cosignProposal"
    )]
    async fn cosign(
        &self,
        auth: BearerAuth,
        proposal_id: Path<Uuid>,
    ) -> ApiResult<Json<ProposalView>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(
            cosigns::cosign(&self.state, &actor, proposal_id.0).await?,
        ))
    }

    /// A grid worker or committee member co-signs for a person of the register on a signed
    /// paper (the reference names it). It counts once a second person confirms it.
    #[oai(
        path = "/proposals/:proposal_id/assisted-cosigns",
        method = "post",
        operation_id = "assistCosign"
    )]
    async fn assist_cosign(
        &self,
        auth: BearerAuth,
        proposal_id: Path<Uuid>,
        body: Json<AssistRequest>,
    ) -> ApiResult<Created<AssistedActView>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Created::Created(Json(
            cosigns::assist(&self.state, &actor, proposal_id.0, body.0).await?,
        )))
    }

    /// A second person (not the one who recorded it) confirms an assisted co-signature: it
    /// counts. To refuse one, see `rejectAssistedAct`.
    #[oai(
        path = "/proposals/:proposal_id/assisted-cosigns/:act_id/confirmation",
        method = "post",
        operation_id = "confirmAssistedCosign"
    )]
    async fn confirm_assisted_cosign(
        &self,
        auth: BearerAuth,
        proposal_id: Path<Uuid>,
        act_id: Path<Uuid>,
    ) -> ApiResult<Json<ProposalView>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(
            cosigns::confirm_assisted(&self.state, &actor, proposal_id.0, act_id.0).await?,
        ))
    }

    /// Withdraw your co-signature while the proposal is still collecting them.
    #[oai(
        path = "/proposals/:proposal_id/cosign",
        method = "delete",
        operation_id = "withdrawCosign"
    )]
    async fn withdraw_cosign(
        &self,
        auth: BearerAuth,
        proposal_id: Path<Uuid>,
    ) -> ApiResult<Json<ProposalView>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(
            cosigns::withdraw_cosign(&self.state, &actor, proposal_id.0).await?,
        ))
    }

    /// The committee decides: accept for the agenda, ask for changes, merge into another
    /// proposal, or reject. All but accepting need a written reason, which stays public.
    #[oai(
        path = "/proposals/:proposal_id/moderation",
        method = "post",
        operation_id = "moderateProposal"
    )]
    async fn moderate(
        &self,
        auth: BearerAuth,
        proposal_id: Path<Uuid>,
        body: Json<ModerationRequest>,
    ) -> ApiResult<Json<ProposalView>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(
            service::moderate(&self.state, &actor, proposal_id.0, body.0).await?,
        ))
    }

    /// The committee hides abusive content, with a reason kept in the record.
    #[oai(
        path = "/proposals/:proposal_id/hide",
        method = "post",
        operation_id = "hideProposal"
    )]
    async fn hide(
        &self,
        auth: BearerAuth,
        proposal_id: Path<Uuid>,
        body: Json<ReasonRequest>,
    ) -> ApiResult<Json<ProposalView>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(
            service::hide(&self.state, &actor, proposal_id.0, &body.0.reason).await?,
        ))
    }

    /// Report a proposal, or one of its comments, as abusive.
    #[oai(
        path = "/proposals/:proposal_id/reports",
        method = "post",
        operation_id = "reportContent"
    )]
    async fn report(
        &self,
        auth: BearerAuth,
        proposal_id: Path<Uuid>,
        body: Json<ReportRequest>,
    ) -> ApiResult<NoContent> {
        let actor = auth.actor(&self.state).await?;
        service::report(&self.state, &actor, proposal_id.0, body.0).await?;
        Ok(NoContent::Done)
    }

    /// Open abuse reports in a community (committee).
    #[oai(
        path = "/communities/:community_id/reports",
        method = "get",
        operation_id = "listReports"
    )]
    async fn reports(
        &self,
        auth: BearerAuth,
        community_id: Path<Uuid>,
    ) -> ApiResult<Json<Vec<ReportView>>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(
            service::open_reports(&self.state, &actor, community_id.0).await?,
        ))
    }

    /// A proposal's discussion thread, oldest first (members of the community).
    #[oai(
        path = "/proposals/:proposal_id/comments",
        method = "get",
        operation_id = "listComments"
    )]
    async fn comments(
        &self,
        auth: BearerAuth,
        proposal_id: Path<Uuid>,
    ) -> ApiResult<Json<Vec<CommentView>>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(
            service::comments(&self.state, &actor, proposal_id.0).await?,
        ))
    }

    /// Comment on a proposal or reply to a comment, optionally for an organisation.
    #[oai(
        path = "/proposals/:proposal_id/comments",
        method = "post",
        operation_id = "postComment"
    )]
    async fn comment(
        &self,
        auth: BearerAuth,
        proposal_id: Path<Uuid>,
        body: Json<CommentRequest>,
    ) -> ApiResult<Created<CommentView>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Created::Created(Json(
            service::comment(&self.state, &actor, proposal_id.0, body.0).await?,
        )))
    }

    /// Edit your comment within 15 minutes of posting it.
    #[oai(
        path = "/comments/:comment_id",
        method = "patch",
        operation_id = "editComment"
    )]
    async fn edit_comment(
        &self,
        auth: BearerAuth,
        comment_id: Path<Uuid>,
        body: Json<CommentEditRequest>,
    ) -> ApiResult<Json<CommentView>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(
            service::edit_comment(&self.state, &actor, comment_id.0, &body.0.body).await?,
        ))
    }

    /// Delete your comment; a tombstone keeps the thread's shape.
    #[oai(
        path = "/comments/:comment_id",
        method = "delete",
        operation_id = "deleteComment"
    )]
    async fn delete_comment(
        &self,
        auth: BearerAuth,
        comment_id: Path<Uuid>,
    ) -> ApiResult<NoContent> {
        let actor = auth.actor(&self.state).await?;
        service::delete_comment(&self.state, &actor, comment_id.0).await?;
        Ok(NoContent::Done)
    }

    /// The committee hides a comment, with a reason.
    #[oai(
        path = "/comments/:comment_id/hide",
        method = "post",
        operation_id = "hideComment"
    )]
    async fn hide_comment(
        &self,
        auth: BearerAuth,
        comment_id: Path<Uuid>,
        body: Json<ReasonRequest>,
    ) -> ApiResult<Json<CommentView>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(
            service::hide_comment(&self.state, &actor, comment_id.0, &body.0.reason).await?,
        ))
    }

    /// A community's rules for proposals: co-signature threshold and period.
    #[oai(
        path = "/communities/:community_id/settings",
        method = "get",
        operation_id = "getCommunitySettings",
        tag = "ApiTags::Communities"
    )]
    async fn get_settings(
        &self,
        community_id: Path<Uuid>,
    ) -> ApiResult<Json<CommunitySettingsView>> {
        Ok(Json(
            service::get_settings(&self.state.db.conn, community_id.0).await?,
        ))
    }

    /// The committee sets the co-signature threshold and period (for proposals submitted later).
    #[oai(
        path = "/communities/:community_id/settings",
        method = "put",
        operation_id = "updateCommunitySettings",
        tag = "ApiTags::Communities"
    )]
    async fn put_settings(
        &self,
        auth: BearerAuth,
        community_id: Path<Uuid>,
        body: Json<CommunitySettingsRequest>,
    ) -> ApiResult<Json<CommunitySettingsView>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(
            service::update_settings(&self.state, &actor, community_id.0, body.0).await?,
        ))
    }
}
