use chrono::{DateTime, Utc};
use poem::Request;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::{Attachment, AttachmentType, Json};
use poem_openapi::{ApiResponse, OpenApi};
use uuid::Uuid;

use super::model::*;
use super::{delivery, ocds, service};
use crate::api::{ApiResult, ApiTags, BearerAuth, Created, NoContent, optional_actor};
use crate::state::AppState;

pub struct ContractsApi {
    pub state: AppState,
}

/// An OCDS package (release package or record package), as the standard defines it.
#[derive(ApiResponse)]
pub enum OcdsResponse {
    #[oai(status = 200)]
    Package(Json<serde_json::Value>),
}

#[OpenApi(tag = "ApiTags::Procurement")]
impl ContractsApi {
    /// A social organisation's bidder profile: registration, service areas, qualifications
    /// with their expiry, and past contracts with computed performance. Public.
    #[oai(
        path = "/organisations/:organisation_id/bidder-profile",
        method = "get",
        operation_id = "getBidderProfile"
    )]
    async fn profile(
        &self,
        req: &Request,
        organisation_id: Path<Uuid>,
    ) -> ApiResult<Json<BidderProfileView>> {
        let actor = optional_actor(&self.state, req).await?;
        Ok(Json(
            service::profile(&self.state, actor.as_ref(), organisation_id.0).await?,
        ))
    }

    /// The organisation's representatives keep its profile: the unified social credit code
    /// (validated) and service areas.
    #[oai(
        path = "/organisations/:organisation_id/bidder-profile",
        method = "put",
        operation_id = "updateBidderProfile"
    )]
    async fn update_profile(
        &self,
        auth: BearerAuth,
        organisation_id: Path<Uuid>,
        body: Json<UpdateBidderProfileRequest>,
    ) -> ApiResult<Json<BidderProfileView>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(
            service::update_profile(&self.state, &actor, organisation_id.0, body.0).await?,
        ))
    }

    /// Add a qualification (licence, certificate) with its expiry date.
    #[oai(
        path = "/organisations/:organisation_id/qualifications",
        method = "post",
        operation_id = "addQualification"
    )]
    async fn add_qualification(
        &self,
        auth: BearerAuth,
        organisation_id: Path<Uuid>,
        body: Json<AddQualificationRequest>,
    ) -> ApiResult<Created<BidderProfileView>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Created::Created(Json(
            service::add_qualification(&self.state, &actor, organisation_id.0, body.0).await?,
        )))
    }

    /// Remove a qualification.
    #[oai(
        path = "/organisations/:organisation_id/qualifications/:qualification_id",
        method = "delete",
        operation_id = "removeQualification"
    )]
    async fn remove_qualification(
        &self,
        auth: BearerAuth,
        organisation_id: Path<Uuid>,
        qualification_id: Path<Uuid>,
    ) -> ApiResult<Json<BidderProfileView>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(
            service::remove_qualification(
                &self.state,
                &actor,
                organisation_id.0,
                qualification_id.0,
            )
            .await?,
        ))
    }

    /// Create a procurement (planned) for a subdistrict or district: the service, the
    /// resolutions it carries out, the budget ceiling, eligibility, weighted award criteria
    /// (one of them the price; weights sum to 100), the enquiry and tender periods.
    #[oai(path = "/tenders", method = "post", operation_id = "createTender")]
    async fn create(
        &self,
        auth: BearerAuth,
        body: Json<CreateTenderRequest>,
    ) -> ApiResult<Created<TenderView>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Created::Created(Json(
            service::create(&self.state, &actor, body.0).await?,
        )))
    }

    /// The tender board: published procurements, newest first (officers also see their
    /// planned ones), by place (and everything under it) and status.
    #[oai(path = "/tenders", method = "get", operation_id = "listTenders")]
    async fn list(
        &self,
        req: &Request,
        place_id: Query<Option<Uuid>>,
        status: Query<Option<TenderStatus>>,
    ) -> ApiResult<Json<Vec<TenderSummary>>> {
        let actor = optional_actor(&self.state, req).await?;
        Ok(Json(
            service::list(&self.state, actor.as_ref(), place_id.0, status.0).await?,
        ))
    }

    /// One procurement: criteria, documents, answered enquiries, the opening record, the award
    /// and complaints. Public once published.
    #[oai(
        path = "/tenders/:tender_id",
        method = "get",
        operation_id = "getTender"
    )]
    async fn get(&self, req: &Request, tender_id: Path<Uuid>) -> ApiResult<Json<TenderView>> {
        let actor = optional_actor(&self.state, req).await?;
        Ok(Json(
            service::get(&self.state, actor.as_ref(), tender_id.0).await?,
        ))
    }

    /// Edit a planned procurement.
    #[oai(
        path = "/tenders/:tender_id",
        method = "patch",
        operation_id = "updateTender"
    )]
    async fn update(
        &self,
        auth: BearerAuth,
        tender_id: Path<Uuid>,
        body: Json<UpdateTenderRequest>,
    ) -> ApiResult<Json<TenderView>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(
            service::update(&self.state, &actor, tender_id.0, body.0).await?,
        ))
    }

    /// Publish: the tender becomes active, enquiries and bids are accepted until their periods
    /// end.
    #[oai(
        path = "/tenders/:tender_id/publish",
        method = "post",
        operation_id = "publishTender"
    )]
    async fn publish(
        &self,
        auth: BearerAuth,
        tender_id: Path<Uuid>,
    ) -> ApiResult<Json<TenderView>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(
            service::publish(&self.state, &actor, tender_id.0).await?,
        ))
    }

    /// Cancel the procurement, with a reason (before the award is made).
    #[oai(
        path = "/tenders/:tender_id/cancel",
        method = "post",
        operation_id = "cancelTender"
    )]
    async fn cancel(
        &self,
        auth: BearerAuth,
        tender_id: Path<Uuid>,
        body: Json<ReasonRequest>,
    ) -> ApiResult<Json<TenderView>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(
            service::cancel(&self.state, &actor, tender_id.0, &body.0.reason).await?,
        ))
    }

    /// Attach tender documents (PDF or images, up to 5 MiB each, base64).
    #[oai(
        path = "/tenders/:tender_id/documents",
        method = "post",
        operation_id = "addTenderDocuments"
    )]
    async fn add_documents(
        &self,
        auth: BearerAuth,
        tender_id: Path<Uuid>,
        body: Json<AddDocumentsRequest>,
    ) -> ApiResult<Created<TenderView>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Created::Created(Json(
            service::add_documents(&self.state, &actor, tender_id.0, &body.0.files).await?,
        )))
    }

    /// Download a tender document or a milestone's evidence.
    #[oai(
        path = "/procurement-files/:file_id",
        method = "get",
        operation_id = "getProcurementFile"
    )]
    async fn file(&self, req: &Request, file_id: Path<Uuid>) -> ApiResult<Attachment<Vec<u8>>> {
        let actor = optional_actor(&self.state, req).await?;
        let (f, bytes) = service::file(&self.state, actor.as_ref(), file_id.0).await?;
        Ok(Attachment::new(bytes)
            .attachment_type(AttachmentType::Attachment)
            .filename(f.file_name))
    }

    /// A bidder asks a question during the enquiry period. The answer is published to all,
    /// without saying who asked.
    #[oai(
        path = "/tenders/:tender_id/enquiries",
        method = "post",
        operation_id = "askEnquiry"
    )]
    async fn ask(
        &self,
        auth: BearerAuth,
        tender_id: Path<Uuid>,
        body: Json<AskRequest>,
    ) -> ApiResult<Created<TenderView>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Created::Created(Json(
            service::ask(&self.state, &actor, tender_id.0, body.0).await?,
        )))
    }

    /// The officer answers an enquiry publicly.
    #[oai(
        path = "/tenders/:tender_id/enquiries/:enquiry_id/answer",
        method = "post",
        operation_id = "answerEnquiry"
    )]
    async fn answer(
        &self,
        auth: BearerAuth,
        tender_id: Path<Uuid>,
        enquiry_id: Path<Uuid>,
        body: Json<AnswerRequest>,
    ) -> ApiResult<Json<TenderView>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(
            service::answer(
                &self.state,
                &actor,
                tender_id.0,
                enquiry_id.0,
                &body.0.answer,
            )
            .await?,
        ))
    }

    /// Submit or revise the organisation's sealed bid before the deadline. The contents are
    /// encrypted at rest and unreadable by anyone else until the opening; the receipt's digest
    /// is emailed to the organisation.
    #[oai(
        path = "/tenders/:tender_id/bid",
        method = "put",
        operation_id = "submitBid"
    )]
    async fn submit_bid(
        &self,
        auth: BearerAuth,
        tender_id: Path<Uuid>,
        body: Json<SubmitBidRequest>,
    ) -> ApiResult<Json<BidReceipt>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(
            service::submit_bid(&self.state, &actor, tender_id.0, body.0).await?,
        ))
    }

    /// Withdraw the organisation's bid before the deadline.
    #[oai(
        path = "/tenders/:tender_id/bid",
        method = "delete",
        operation_id = "withdrawBid"
    )]
    async fn withdraw_bid(
        &self,
        auth: BearerAuth,
        tender_id: Path<Uuid>,
        organisation_id: Query<Uuid>,
    ) -> ApiResult<NoContent> {
        let actor = auth.actor(&self.state).await?;
        service::withdraw_bid(&self.state, &actor, tender_id.0, organisation_id.0).await?;
        Ok(NoContent::Done)
    }

    /// The organisation's own bid, for its members.
    #[oai(
        path = "/tenders/:tender_id/bid",
        method = "get",
        operation_id = "getMyBid"
    )]
    async fn my_bid(
        &self,
        auth: BearerAuth,
        tender_id: Path<Uuid>,
        organisation_id: Query<Uuid>,
    ) -> ApiResult<Json<BidView>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(
            service::my_bid(&self.state, &actor, tender_id.0, organisation_id.0).await?,
        ))
    }

    /// The evaluation: the sheet for a panel member, the summary for the officer.
    #[oai(
        path = "/tenders/:tender_id/evaluation",
        method = "get",
        operation_id = "getEvaluation"
    )]
    async fn evaluation(
        &self,
        auth: BearerAuth,
        tender_id: Path<Uuid>,
    ) -> ApiResult<Json<EvaluationView>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(
            service::evaluation(&self.state, &actor, tender_id.0).await?,
        ))
    }

    /// The officer appoints an evaluator (by email) after the opening. Members of bidding
    /// organisations are refused.
    #[oai(
        path = "/tenders/:tender_id/panel",
        method = "post",
        operation_id = "appointEvaluator"
    )]
    async fn appoint(
        &self,
        auth: BearerAuth,
        tender_id: Path<Uuid>,
        body: Json<AppointEvaluatorRequest>,
    ) -> ApiResult<Created<EvaluationView>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Created::Created(Json(
            service::appoint(&self.state, &actor, tender_id.0, &body.0.email).await?,
        )))
    }

    /// An evaluator declares conflicts of interest against the bidders, before seeing bids.
    #[oai(
        path = "/tenders/:tender_id/panel/declaration",
        method = "post",
        operation_id = "declareConflicts"
    )]
    async fn declare(
        &self,
        auth: BearerAuth,
        tender_id: Path<Uuid>,
        body: Json<DeclarationRequest>,
    ) -> ApiResult<Json<EvaluationView>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(
            service::declare(&self.state, &actor, tender_id.0, body.0).await?,
        ))
    }

    /// An evaluator submits their scores: every bid on every quality criterion, 0–100. Final.
    #[oai(
        path = "/tenders/:tender_id/scores",
        method = "put",
        operation_id = "submitScores"
    )]
    async fn scores(
        &self,
        auth: BearerAuth,
        tender_id: Path<Uuid>,
        body: Json<SubmitScoresRequest>,
    ) -> ApiResult<Json<EvaluationView>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(
            service::submit_scores(&self.state, &actor, tender_id.0, body.0.scores).await?,
        ))
    }

    /// Propose the award to the top-ranked bid and publish it for the publicity period.
    #[oai(
        path = "/tenders/:tender_id/award",
        method = "post",
        operation_id = "proposeAward"
    )]
    async fn propose(
        &self,
        auth: BearerAuth,
        tender_id: Path<Uuid>,
    ) -> ApiResult<Json<TenderView>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(
            service::propose_award(&self.state, &actor, tender_id.0).await?,
        ))
    }

    /// Make the award once the publicity period is over and every complaint answered; every
    /// bidder is emailed the outcome with their scores.
    #[oai(
        path = "/tenders/:tender_id/award/confirm",
        method = "post",
        operation_id = "confirmAward"
    )]
    async fn confirm(
        &self,
        auth: BearerAuth,
        tender_id: Path<Uuid>,
    ) -> ApiResult<Json<TenderView>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(
            service::confirm_award(&self.state, &actor, tender_id.0).await?,
        ))
    }

    /// Close the procurement without an award, with a reason.
    #[oai(
        path = "/tenders/:tender_id/unsuccessful",
        method = "post",
        operation_id = "declareTenderUnsuccessful"
    )]
    async fn unsuccessful(
        &self,
        auth: BearerAuth,
        tender_id: Path<Uuid>,
        body: Json<ReasonRequest>,
    ) -> ApiResult<Json<TenderView>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(
            service::declare_unsuccessful(&self.state, &actor, tender_id.0, &body.0.reason).await?,
        ))
    }

    /// A bidder complains about the proposed award during its publicity period; the award
    /// waits until the officer answers in writing.
    #[oai(
        path = "/tenders/:tender_id/complaints",
        method = "post",
        operation_id = "lodgeComplaint"
    )]
    async fn complain(
        &self,
        auth: BearerAuth,
        tender_id: Path<Uuid>,
        body: Json<LodgeComplaintRequest>,
    ) -> ApiResult<Created<TenderView>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Created::Created(Json(
            service::lodge_complaint(&self.state, &actor, tender_id.0, body.0).await?,
        )))
    }

    /// The officer answers a complaint: dismissed, or upheld (the proposed award is withdrawn
    /// and that bid disqualified).
    #[oai(
        path = "/tenders/:tender_id/complaints/:complaint_id/answer",
        method = "post",
        operation_id = "answerComplaint"
    )]
    async fn answer_complaint(
        &self,
        auth: BearerAuth,
        tender_id: Path<Uuid>,
        complaint_id: Path<Uuid>,
        body: Json<AnswerComplaintRequest>,
    ) -> ApiResult<Json<TenderView>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(
            service::answer_complaint(&self.state, &actor, tender_id.0, complaint_id.0, body.0)
                .await?,
        ))
    }

    /// Sign the contract with the awarded organisation: value, period, milestones with
    /// deliverables and payments.
    #[oai(
        path = "/tenders/:tender_id/contract",
        method = "post",
        operation_id = "createContract"
    )]
    async fn create_contract(
        &self,
        auth: BearerAuth,
        tender_id: Path<Uuid>,
        body: Json<CreateContractRequest>,
    ) -> ApiResult<Created<ContractView>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Created::Created(Json(
            delivery::create(&self.state, &actor, tender_id.0, body.0).await?,
        )))
    }

    /// A contract with its milestones, reports, payments and amendments. Public.
    #[oai(
        path = "/contracts/:contract_id",
        method = "get",
        operation_id = "getContract"
    )]
    async fn contract(
        &self,
        req: &Request,
        contract_id: Path<Uuid>,
    ) -> ApiResult<Json<ContractView>> {
        let actor = optional_actor(&self.state, req).await?;
        Ok(Json(
            delivery::get(&self.state, actor.as_ref(), contract_id.0).await?,
        ))
    }

    /// The provider reports on a milestone, with evidence.
    #[oai(
        path = "/contracts/:contract_id/milestones/:milestone_id/report",
        method = "post",
        operation_id = "reportContractMilestone"
    )]
    async fn report(
        &self,
        auth: BearerAuth,
        contract_id: Path<Uuid>,
        milestone_id: Path<Uuid>,
        body: Json<ReportMilestoneRequest>,
    ) -> ApiResult<Json<ContractView>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(
            delivery::report(&self.state, &actor, contract_id.0, milestone_id.0, body.0).await?,
        ))
    }

    /// The officer accepts a reported milestone (recording its payment) or returns it.
    #[oai(
        path = "/contracts/:contract_id/milestones/:milestone_id/decision",
        method = "post",
        operation_id = "decideContractMilestone"
    )]
    async fn decide(
        &self,
        auth: BearerAuth,
        contract_id: Path<Uuid>,
        milestone_id: Path<Uuid>,
        body: Json<MilestoneDecisionRequest>,
    ) -> ApiResult<Json<ContractView>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(
            delivery::decide(&self.state, &actor, contract_id.0, milestone_id.0, body.0).await?,
        ))
    }

    /// Amend the contract (value or end of period), with a reason; versioned.
    #[oai(
        path = "/contracts/:contract_id/amendments",
        method = "post",
        operation_id = "amendContract"
    )]
    async fn amend(
        &self,
        auth: BearerAuth,
        contract_id: Path<Uuid>,
        body: Json<AmendContractRequest>,
    ) -> ApiResult<Created<ContractView>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Created::Created(Json(
            delivery::amend(&self.state, &actor, contract_id.0, body.0).await?,
        )))
    }

    /// Terminate the contract early, with a reason.
    #[oai(
        path = "/contracts/:contract_id/terminate",
        method = "post",
        operation_id = "terminateContract"
    )]
    async fn terminate(
        &self,
        auth: BearerAuth,
        contract_id: Path<Uuid>,
        body: Json<ReasonRequest>,
    ) -> ApiResult<Json<ContractView>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(
            delivery::terminate(&self.state, &actor, contract_id.0, &body.0.reason).await?,
        ))
    }

    /// A third-party evaluator scores the provider's performance once the contract ended.
    #[oai(
        path = "/contracts/:contract_id/evaluation",
        method = "post",
        operation_id = "evaluateContract"
    )]
    async fn evaluate(
        &self,
        auth: BearerAuth,
        contract_id: Path<Uuid>,
        body: Json<EvaluateContractRequest>,
    ) -> ApiResult<Json<ContractView>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(
            delivery::evaluate(&self.state, &actor, contract_id.0, body.0).await?,
        ))
    }

    /// OCDS 1.1 release package of every public procurement: one release per change, oldest
    /// first, optionally between two instants.
    #[oai(
        path = "/ocds/releases",
        method = "get",
        operation_id = "listOcdsReleases"
    )]
    async fn releases(
        &self,
        since: Query<Option<DateTime<Utc>>>,
        until: Query<Option<DateTime<Utc>>>,
    ) -> ApiResult<OcdsResponse> {
        Ok(OcdsResponse::Package(Json(
            ocds::releases(&self.state, since.0, until.0).await?,
        )))
    }

    /// OCDS 1.1 record package for one procurement: its releases and the compiled release.
    #[oai(
        path = "/ocds/records/:ocid",
        method = "get",
        operation_id = "getOcdsRecord"
    )]
    async fn record(&self, ocid: Path<String>) -> ApiResult<OcdsResponse> {
        Ok(OcdsResponse::Package(Json(
            ocds::record(&self.state, &ocid.0).await?,
        )))
    }
}
