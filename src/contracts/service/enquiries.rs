//! Enquiries: bidders ask during the enquiry period, the buyer answers in public.

use super::*;

pub async fn ask(state: &AppState, actor: &Actor, id: Uuid, req: AskRequest) -> Result<TenderView> {
    let question = clean("question_required", &req.question, 4000, "question")?;
    let txn = state.db.write().await?;
    let t = load_tender(&*txn, id).await?;
    if status_of(&t) != TenderStatus::Active || t.enquiry_ends_at <= clock::now() {
        return Err(E::Conflict(
            "enquiries_closed",
            "The enquiry period is over.".into(),
        ));
    }
    if !is_member(actor, req.organisation_id) {
        return Err(E::Forbidden(
            "Members of a social organisation ask on its behalf.".into(),
        ));
    }
    let org = load_org(&*txn, req.organisation_id).await?;
    if org.kind != "social_organisation" {
        return Err(E::Forbidden(
            "Bidders ask; this organisation does not bid.".into(),
        ));
    }
    let eid = Uuid::new_v4();
    enquiry::ActiveModel {
        id: Set(eid),
        tender_id: Set(id),
        organisation_id: Set(org.id),
        asked_by: Set(actor.id()),
        question: Set(question),
        answer: Set(None),
        answered_at: Set(None),
        created_at: Set(clock::now()),
    }
    .insert(&*txn)
    .await?;
    record(
        &*txn,
        Some(actor.id()),
        "enquiry.asked",
        "tender",
        id,
        json!({ "enquiry_id": eid }),
    )
    .await?;
    txn.commit().await?;
    get(state, Some(actor), id).await
}

pub async fn answer(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
    enquiry_id: Uuid,
    answer: &str,
) -> Result<TenderView> {
    let answer = clean("answer_required", answer, 8000, "answer")?;
    let txn = state.db.write().await?;
    let t = load_tender(&*txn, id).await?;
    require_officer(&*txn, actor, &t).await?;
    let done = enquiry::Entity::update_many()
        .col_expr(enquiry::Column::Answer, Expr::value(Some(answer)))
        .col_expr(enquiry::Column::AnsweredAt, Expr::value(Some(clock::now())))
        .filter(enquiry::Column::Id.eq(enquiry_id))
        .filter(enquiry::Column::TenderId.eq(id))
        .filter(enquiry::Column::AnsweredAt.is_null())
        .exec(&*txn)
        .await?;
    if done.rows_affected != 1 {
        return Err(E::Conflict(
            "already_answered",
            "No unanswered enquiry with this id.".into(),
        ));
    }
    record(
        &*txn,
        Some(actor.id()),
        "enquiry.answered",
        "tender",
        id,
        json!({ "enquiry_id": enquiry_id }),
    )
    .await?;
    ocds::release(state, &*txn, id, &["tenderUpdate"]).await?;
    txn.commit().await?;
    get(state, Some(actor), id).await
}
