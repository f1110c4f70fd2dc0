//! Award: standstill, challenges, the contract and its signing.

use super::*;

pub async fn propose_award(state: &AppState, actor: &Actor, id: Uuid) -> Result<TenderView> {
    let txn = state.db.write().await?;
    let t = load_tender(&*txn, id).await?;
    require_officer(&*txn, actor, &t).await?;
    require_evaluation(&t)?;
    if t.award_bid_id.is_some() {
        return Err(E::Conflict(
            "award_proposed",
            "An award is already proposed.".into(),
        ));
    }
    let st = standing(&*txn, &t).await?;
    if !st.complete {
        return Err(E::Conflict(
            "evaluation_incomplete",
            "At least three evaluators without conflicts must all submit their scores first."
                .into(),
        ));
    }
    let (winner, bid) = st
        .ranking
        .iter()
        .find(|(_, b)| b.status == "submitted")
        .ok_or_else(|| {
            E::Conflict(
                "no_valid_bid",
                "No bid is left to award; declare the tender unsuccessful.".into(),
            )
        })?;
    let now = clock::now();
    let ends = now + Duration::days(i64::from(t.publicity_days));
    tender::Entity::update_many()
        .col_expr(tender::Column::AwardBidId, Expr::value(Some(bid.id)))
        .col_expr(tender::Column::AwardProposedAt, Expr::value(Some(now)))
        .col_expr(tender::Column::PublicityEndsAt, Expr::value(Some(ends)))
        .col_expr(tender::Column::UpdatedAt, Expr::value(now))
        .filter(tender::Column::Id.eq(id))
        .filter(tender::Column::AwardBidId.is_null())
        .exec(&*txn)
        .await?;
    record(
        &*txn,
        Some(actor.id()),
        "award.proposed",
        "tender",
        id,
        json!({ "bid_id": bid.id, "organisation_id": bid.organisation_id, "total": winner.total.exact(), "publicity_ends_at": ends }),
    )
    .await?;
    ocds::release(state, &*txn, id, &["award"]).await?;
    txn.commit().await?;
    get(state, Some(actor), id).await
}

pub async fn lodge_complaint(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
    req: LodgeComplaintRequest,
) -> Result<TenderView> {
    let body = clean("complaint_required", &req.body, 8000, "complaint")?;
    let txn = state.db.write().await?;
    let t = load_tender(&*txn, id).await?;
    require_representative(&*txn, actor, req.organisation_id).await?;
    let bids = bidders_of(&*txn, id).await?;
    if !bids
        .iter()
        .any(|b| b.organisation_id == req.organisation_id)
    {
        return Err(E::Forbidden("Only bidders complain about an award.".into()));
    }
    let in_publicity = status_of(&t) == TenderStatus::Evaluation
        && t.award_bid_id.is_some()
        && t.publicity_ends_at.is_some_and(|e| clock::now() < e);
    if !in_publicity {
        return Err(E::Conflict(
            "not_in_publicity",
            "Complaints are lodged while the proposed award is published.".into(),
        ));
    }
    let open = complaint::Entity::find()
        .filter(complaint::Column::TenderId.eq(id))
        .filter(complaint::Column::OrganisationId.eq(req.organisation_id))
        .filter(complaint::Column::Status.eq("open"))
        .one(&*txn)
        .await?;
    if open.is_some() {
        return Err(E::Conflict(
            "complaint_pending",
            "Your organisation's complaint is still being answered.".into(),
        ));
    }
    let cid = Uuid::new_v4();
    complaint::ActiveModel {
        id: Set(cid),
        tender_id: Set(id),
        organisation_id: Set(req.organisation_id),
        lodged_by: Set(actor.id()),
        body: Set(body),
        status: Set("open".into()),
        answer: Set(None),
        answered_by: Set(None),
        answered_at: Set(None),
        created_at: Set(clock::now()),
    }
    .insert(&*txn)
    .await?;
    record(
        &*txn,
        Some(actor.id()),
        "complaint.lodged",
        "tender",
        id,
        json!({ "complaint_id": cid, "organisation_id": req.organisation_id }),
    )
    .await?;
    txn.commit().await?;
    get(state, Some(actor), id).await
}

pub async fn answer_complaint(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
    complaint_id: Uuid,
    req: AnswerComplaintRequest,
) -> Result<TenderView> {
    let answer = clean("answer_required", &req.answer, 8000, "answer")?;
    let txn = state.db.write().await?;
    let t = load_tender(&*txn, id).await?;
    require_officer(&*txn, actor, &t).await?;
    let status = match req.decision {
        ComplaintDecision::Dismiss => "dismissed",
        ComplaintDecision::Uphold => "upheld",
    };
    let now = clock::now();
    let done = complaint::Entity::update_many()
        .col_expr(complaint::Column::Status, Expr::value(status))
        .col_expr(complaint::Column::Answer, Expr::value(Some(answer.clone())))
        .col_expr(complaint::Column::AnsweredBy, Expr::value(Some(actor.id())))
        .col_expr(complaint::Column::AnsweredAt, Expr::value(Some(now)))
        .filter(complaint::Column::Id.eq(complaint_id))
        .filter(complaint::Column::TenderId.eq(id))
        .filter(complaint::Column::Status.eq("open"))
        .exec(&*txn)
        .await?;
    if done.rows_affected != 1 {
        return Err(E::Conflict(
            "already_answered",
            "No open complaint with this id.".into(),
        ));
    }
    if req.decision == ComplaintDecision::Uphold
        && let Some(bid_id) = t.award_bid_id
        && status_of(&t) == TenderStatus::Evaluation
    {
        bid::Entity::update_many()
            .col_expr(bid::Column::Status, Expr::value("disqualified"))
            .filter(bid::Column::Id.eq(bid_id))
            .exec(&*txn)
            .await?;
        tender::Entity::update_many()
            .col_expr(
                tender::Column::AwardBidId,
                Expr::value(Option::<Uuid>::None),
            )
            .col_expr(
                tender::Column::AwardProposedAt,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .col_expr(
                tender::Column::PublicityEndsAt,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .col_expr(tender::Column::UpdatedAt, Expr::value(now))
            .filter(tender::Column::Id.eq(id))
            .exec(&*txn)
            .await?;
        ocds::release(state, &*txn, id, &["awardCancellation"]).await?;
    }
    let lodged = complaint::Entity::find_by_id(complaint_id)
        .one(&*txn)
        .await?
        .ok_or(E::Missing("complaint"))?;
    let link = tender_link(state, id);
    notify_members(
        state,
        &*txn,
        lodged.organisation_id,
        notifications::Kind::ComplaintAnswered,
        id,
        |u| {
            templates::complaint_answered(
                &u.language,
                &u.display_name,
                &t.title,
                req.decision == ComplaintDecision::Uphold,
                &answer,
                &link,
            )
        },
    )
    .await?;
    record(
        &*txn,
        Some(actor.id()),
        "complaint.answered",
        "tender",
        id,
        json!({ "complaint_id": complaint_id, "decision": status, "answer": answer }),
    )
    .await?;
    txn.commit().await?;
    state.mail_wake.notify_one();
    get(state, Some(actor), id).await
}

/// Makes the proposed award once its publicity period is over and every complaint answered;
/// every bidder is emailed the outcome with their scores.
pub async fn confirm_award(state: &AppState, actor: &Actor, id: Uuid) -> Result<TenderView> {
    let txn = state.db.write().await?;
    let t = load_tender(&*txn, id).await?;
    require_officer(&*txn, actor, &t).await?;
    require_evaluation(&t)?;
    let Some(award_bid) = t.award_bid_id else {
        return Err(E::Conflict(
            "no_award_proposed",
            "Propose the award first.".into(),
        ));
    };
    if t.publicity_ends_at.is_none_or(|e| clock::now() < e) {
        return Err(E::Conflict(
            "publicity_running",
            "The award is made when its publicity period is over.".into(),
        ));
    }
    let open = complaint::Entity::find()
        .filter(complaint::Column::TenderId.eq(id))
        .filter(complaint::Column::Status.eq("open"))
        .all(&*txn)
        .await?;
    if !open.is_empty() {
        return Err(E::Conflict(
            "complaint_pending",
            "An open complaint pauses the award until it is answered in writing.".into(),
        ));
    }
    let now = clock::now();
    move_tender(
        &*txn,
        &t,
        TenderStatus::Awarded,
        vec![
            (tender::Column::AwardedAt, Some(now).into()),
            (tender::Column::EndedAt, Some(now).into()),
        ],
    )
    .await?;
    let st = standing(&*txn, &t).await?;
    let names = org_names(
        &*txn,
        st.ranking.iter().map(|(_, b)| b.organisation_id).collect(),
    )
    .await?;
    let winner_name = st
        .ranking
        .iter()
        .find(|(_, b)| b.id == award_bid)
        .and_then(|(_, b)| names.get(&b.organisation_id).cloned())
        .unwrap_or_default();
    record(
        &*txn,
        Some(actor.id()),
        "award.made",
        "tender",
        id,
        json!({ "bid_id": award_bid }),
    )
    .await?;
    let link = tender_link(state, id);
    let total = st.ranking.len();
    for (i, (s, b)) in st.ranking.iter().enumerate() {
        let won = b.id == award_bid;
        let line = scores_line(i + 1, total, s, b);
        notify_members(
            state,
            &*txn,
            b.organisation_id,
            notifications::Kind::AwardOutcome,
            id,
            |u| {
                templates::award_outcome(
                    &u.language,
                    &u.display_name,
                    &t.title,
                    won,
                    &winner_name,
                    &line,
                    &link,
                )
            },
        )
        .await?;
    }
    ocds::release(state, &*txn, id, &["awardUpdate", "tenderUpdate"]).await?;
    txn.commit().await?;
    state.mail_wake.notify_one();
    get(state, Some(actor), id).await
}

pub(super) fn scores_line(rank: usize, of: usize, s: &scoring::Scored, b: &bid::Model) -> String {
    format!(
        "{rank}/{of} · {} = {} + {}{}",
        s.total.to_fixed2(),
        s.price_points.to_fixed2(),
        s.quality_points.to_fixed2(),
        if b.status == "disqualified" {
            " · ✗"
        } else {
            ""
        }
    )
}

pub async fn declare_unsuccessful(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
    reason: &str,
) -> Result<TenderView> {
    let reason = clean("reason_required", reason, 2000, "reason")?;
    let txn = state.db.write().await?;
    let t = load_tender(&*txn, id).await?;
    require_officer(&*txn, actor, &t).await?;
    require_evaluation(&t)?;
    if t.award_bid_id.is_some() {
        return Err(E::Conflict(
            "award_proposed",
            "An award is proposed; answer the complaints or cancel the tender.".into(),
        ));
    }
    move_tender(
        &*txn,
        &t,
        TenderStatus::Unsuccessful,
        vec![
            (tender::Column::EndReason, Some(reason.clone()).into()),
            (tender::Column::EndedAt, Some(clock::now()).into()),
        ],
    )
    .await?;
    record(
        &*txn,
        Some(actor.id()),
        "tender.unsuccessful",
        "tender",
        id,
        json!({ "reason": reason }),
    )
    .await?;
    ocds::release(state, &*txn, id, &["tenderUpdate"]).await?;
    txn.commit().await?;
    get(state, Some(actor), id).await
}
