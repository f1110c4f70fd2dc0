use poem::Request;
use poem_openapi::param::{Header, Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi};
use uuid::Uuid;

use super::model::*;
use super::service;
use crate::api::{ApiResult, ApiTags, BearerAuth, Created, optional_actor};
use crate::state::AppState;

pub struct VotingApi {
    pub state: AppState,
}

/// The answer to a ballot.
#[derive(ApiResponse)]
pub enum BallotResponse {
    /// Counted; keep the receipt to check it in the published list.
    #[oai(status = 201)]
    Cast(Json<BallotReceipt>),
    /// The first answer to this Idempotency-Key, repeated: nothing new was counted.
    #[oai(status = 200)]
    Replayed(Json<BallotReceipt>),
}

#[OpenApi(tag = "ApiTags::Voting")]
impl VotingApi {
    /// Create a poll (draft) on an agenda item or a proposal: question, kind, options, open or
    /// secret ballot, electorate, counting rule (a preset or quorum and threshold as data).
    #[oai(path = "/polls", method = "post", operation_id = "createPoll")]
    async fn create(
        &self,
        auth: BearerAuth,
        body: Json<CreatePollRequest>,
    ) -> ApiResult<Created<PollView>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Created::Created(Json(
            service::create(&self.state, &actor, body.0).await?,
        )))
    }

    /// Polls of a community or of a session, newest first.
    #[oai(path = "/polls", method = "get", operation_id = "listPolls")]
    async fn list(
        &self,
        auth: BearerAuth,
        community_id: Query<Option<Uuid>>,
        session_id: Query<Option<Uuid>>,
    ) -> ApiResult<Json<Vec<PollView>>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(
            service::list(&self.state, &actor, community_id.0, session_id.0).await?,
        ))
    }

    /// One poll: its rule, participation, the running tally (when shown) and, once closed,
    /// the published result. Anyone may read a closed poll's result.
    #[oai(path = "/polls/:poll_id", method = "get", operation_id = "getPoll")]
    async fn get(&self, req: &Request, poll_id: Path<Uuid>) -> ApiResult<Json<PollView>> {
        let actor = optional_actor(&self.state, req).await?;
        Ok(Json(
            service::get(&self.state, actor.as_ref(), poll_id.0).await?,
        ))
    }

    /// Open the poll: the electorate is frozen now.
    #[oai(
        path = "/polls/:poll_id/open",
        method = "post",
        operation_id = "openPoll"
    )]
    async fn open(&self, auth: BearerAuth, poll_id: Path<Uuid>) -> ApiResult<Json<PollView>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(service::open(&self.state, &actor, poll_id.0).await?))
    }

    /// Close the poll: the result is counted once, stored, published, recorded and mailed to
    /// the electorate.
    #[oai(
        path = "/polls/:poll_id/close",
        method = "post",
        operation_id = "closePoll"
    )]
    async fn close(&self, auth: BearerAuth, poll_id: Path<Uuid>) -> ApiResult<Json<PollView>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(service::close(&self.state, &actor, poll_id.0).await?))
    }

    /// Cancel a draft poll, with a reason.
    #[oai(
        path = "/polls/:poll_id/cancel",
        method = "post",
        operation_id = "cancelPoll"
    )]
    async fn cancel(
        &self,
        auth: BearerAuth,
        poll_id: Path<Uuid>,
        body: Json<CancelPollRequest>,
    ) -> ApiResult<Json<PollView>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(
            service::cancel(&self.state, &actor, poll_id.0, &body.0.reason).await?,
        ))
    }

    /// Cast a ballot (once per voter; the database guarantees it). Send an `Idempotency-Key`
    /// to make retries safe: a retry with the same key returns the first answer.
    #[oai(
        path = "/polls/:poll_id/ballots",
        method = "post",
        operation_id = "castBallot"
    )]
    async fn cast(
        &self,
        auth: BearerAuth,
        poll_id: Path<Uuid>,
        #[oai(name = "Idempotency-Key")] idempotency_key: Header<Option<String>>,
        body: Json<CastBallotRequest>,
    ) -> ApiResult<BallotResponse> {
        let actor = auth.actor(&self.state).await?;
        let (receipt, replayed) = service::cast(
            &self.state,
            &actor,
            poll_id.0,
            body.0,
            idempotency_key.0.as_deref(),
        )
        .await?;
        Ok(if replayed {
            BallotResponse::Replayed(Json(receipt))
        } else {
            BallotResponse::Cast(Json(receipt))
        })
    }

    /// Change an open (named) ballot while the poll is open. Secret ballots are final.
    #[oai(
        path = "/polls/:poll_id/ballot",
        method = "put",
        operation_id = "changeBallot"
    )]
    async fn change(
        &self,
        auth: BearerAuth,
        poll_id: Path<Uuid>,
        body: Json<CastBallotRequest>,
    ) -> ApiResult<Json<BallotReceipt>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(
            service::change(&self.state, &actor, poll_id.0, body.0).await?,
        ))
    }

    /// Your own ballots in this poll: whether you voted and, for open polls, what.
    #[oai(
        path = "/polls/:poll_id/ballot",
        method = "get",
        operation_id = "getMyBallot"
    )]
    async fn mine(&self, auth: BearerAuth, poll_id: Path<Uuid>) -> ApiResult<Json<Vec<MyBallot>>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(
            service::my_ballot(&self.state, &actor, poll_id.0).await?,
        ))
    }

    /// The receipts of every counted ballot, published when the poll closes (public).
    #[oai(
        path = "/polls/:poll_id/receipts",
        method = "get",
        operation_id = "listReceipts"
    )]
    async fn receipts(&self, poll_id: Path<Uuid>) -> ApiResult<Json<ReceiptList>> {
        Ok(Json(service::receipts(&self.state, poll_id.0).await?))
    }

    /// How each voting entity voted in a closed open-ballot poll (members of the community).
    /// Secret polls publish counts only.
    #[oai(
        path = "/polls/:poll_id/voters",
        method = "get",
        operation_id = "listPollVoters"
    )]
    async fn voters(
        &self,
        auth: BearerAuth,
        poll_id: Path<Uuid>,
    ) -> ApiResult<Json<Vec<VoterRecord>>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(service::voters(&self.state, &actor, poll_id.0).await?))
    }

    /// The frozen electorate with who has voted, for grid workers recording paper ballots.
    #[oai(
        path = "/polls/:poll_id/electors",
        method = "get",
        operation_id = "listElectors"
    )]
    async fn electors(
        &self,
        auth: BearerAuth,
        poll_id: Path<Uuid>,
    ) -> ApiResult<Json<Vec<ElectorEntry>>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(
            service::electors(&self.state, &actor, poll_id.0).await?,
        ))
    }

    /// Register a written proxy for this poll: the named person may cast your ballot.
    #[oai(
        path = "/polls/:poll_id/proxies",
        method = "post",
        operation_id = "createPollProxy"
    )]
    async fn proxy_poll(
        &self,
        auth: BearerAuth,
        poll_id: Path<Uuid>,
        body: Json<CreateProxyRequest>,
    ) -> ApiResult<Created<ProxyView>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Created::Created(Json(
            service::create_proxy(&self.state, &actor, Some(poll_id.0), None, body.0).await?,
        )))
    }

    /// Register a written proxy for every poll of a session.
    #[oai(
        path = "/sessions/:session_id/proxies",
        method = "post",
        operation_id = "createSessionProxy"
    )]
    async fn proxy_session(
        &self,
        auth: BearerAuth,
        session_id: Path<Uuid>,
        body: Json<CreateProxyRequest>,
    ) -> ApiResult<Created<ProxyView>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Created::Created(Json(
            service::create_proxy(&self.state, &actor, None, Some(session_id.0), body.0).await?,
        )))
    }

    /// Proxies you gave or hold.
    #[oai(path = "/proxies", method = "get", operation_id = "listMyProxies")]
    async fn my_proxies(&self, auth: BearerAuth) -> ApiResult<Json<Vec<ProxyView>>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(service::my_proxies(&self.state, &actor).await?))
    }

    /// Revoke a proxy you gave, until it is used.
    #[oai(
        path = "/proxies/:proxy_id/revoke",
        method = "post",
        operation_id = "revokeProxy"
    )]
    async fn revoke_proxy(
        &self,
        auth: BearerAuth,
        proxy_id: Path<Uuid>,
    ) -> ApiResult<Json<ProxyView>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(
            service::revoke_proxy(&self.state, &actor, proxy_id.0).await?,
        ))
    }

    /// A grid worker records a paper or in-person ballot; it counts once a second person
    /// confirms it.
    #[oai(
        path = "/polls/:poll_id/assisted-ballots",
        method = "post",
        operation_id = "recordAssistedBallot"
    )]
    async fn record_assisted(
        &self,
        auth: BearerAuth,
        poll_id: Path<Uuid>,
        body: Json<RecordAssistedBallotRequest>,
    ) -> ApiResult<Created<AssistedBallotView>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Created::Created(Json(
            service::record_assisted(&self.state, &actor, poll_id.0, body.0).await?,
        )))
    }

    /// The paper ballots of a poll, pending first: the confirmation queue.
    #[oai(
        path = "/polls/:poll_id/assisted-ballots",
        method = "get",
        operation_id = "listAssistedBallots"
    )]
    async fn assisted_queue(
        &self,
        auth: BearerAuth,
        poll_id: Path<Uuid>,
    ) -> ApiResult<Json<Vec<AssistedBallotView>>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(
            service::assisted_queue(&self.state, &actor, poll_id.0).await?,
        ))
    }

    /// Confirm a paper ballot (a second person: another grid worker or the committee).
    #[oai(
        path = "/assisted-ballots/:assisted_id/confirm",
        method = "post",
        operation_id = "confirmAssistedBallot"
    )]
    async fn confirm_assisted(
        &self,
        auth: BearerAuth,
        assisted_id: Path<Uuid>,
    ) -> ApiResult<Json<AssistedBallotView>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(
            service::confirm_assisted(&self.state, &actor, assisted_id.0).await?,
        ))
    }

    /// Reject a paper ballot that does not match its paper record, with a reason.
    #[oai(
        path = "/assisted-ballots/:assisted_id/reject",
        method = "post",
        operation_id = "rejectAssistedBallot"
    )]
    async fn reject_assisted(
        &self,
        auth: BearerAuth,
        assisted_id: Path<Uuid>,
        body: Json<RejectAssistedRequest>,
    ) -> ApiResult<Json<AssistedBallotView>> {
        let actor = auth.actor(&self.state).await?;
        Ok(Json(
            service::reject_assisted(&self.state, &actor, assisted_id.0, &body.0.reason).await?,
        ))
    }
}
