//! Objections during the disclosure period, and their answers.

use super::*;

pub async fn object(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
    req: ObjectionRequest,
) -> Result<ResolutionView> {
    let reasons = clean("reasons_required", &req.reasons, 4000, "reasons")?;
    let txn = state.db.write().await?;
    let r = load(&*txn, id).await?;
    if !status_of(&r).is_public() {
        return Err(E::NotFound);
    }
    require_resident(actor, &r)?;
    let open = status_of(&r) == ResolutionStatus::Disclosure
        && r.disclosure_ends_at.is_some_and(|end| clock::now() < end);
    if !open {
        return Err(E::Conflict(
            "objection_window_closed",
            "Objections are taken only during the disclosure period.".into(),
        ));
    }
    let pending = resolution_objection::Entity::find()
        .filter(resolution_objection::Column::ResolutionId.eq(id))
        .filter(resolution_objection::Column::UserId.eq(actor.id()))
        .filter(resolution_objection::Column::Status.eq(ObjectionStatus::Pending.as_str()))
        .count(&*txn)
        .await?;
    if pending > 0 {
        return Err(E::Conflict(
            "objection_pending",
            "Your objection is waiting for the committee's answer.".into(),
        ));
    }
    let oid = insert_objection(&*txn, id, actor.id(), None, reasons).await?;
    record(
        &*txn,
        Some(actor.id()),
        "objection.lodged",
        id,
        json!({ "objection_id": oid }),
    )
    .await?;
    txn.commit().await?;
    get(state, Some(actor), id).await
}

/// A pending objection, lodged by `user_id` (for `person_id`, when lodged for someone).
pub(in crate::resolutions) async fn insert_objection<C: ConnectionTrait>(
    txn: &C,
    resolution_id: Uuid,
    user_id: Uuid,
    person_id: Option<Uuid>,
    reasons: String,
) -> Result<Uuid> {
    let id = Uuid::new_v4();
    resolution_objection::ActiveModel {
        id: Set(id),
        resolution_id: Set(resolution_id),
        user_id: Set(user_id),
        person_id: Set(person_id),
        reasons: Set(reasons),
        status: Set(ObjectionStatus::Pending.as_str().into()),
        answer: Set(None),
        answered_by: Set(None),
        answered_at: Set(None),
        created_at: Set(clock::now()),
    }
    .insert(txn)
    .await?;
    Ok(id)
}

pub async fn answer_objection(
    state: &AppState,
    actor: &Actor,
    objection_id: Uuid,
    req: AnswerObjectionRequest,
) -> Result<ResolutionView> {
    let answer = clean("answer_required", &req.answer, 4000, "answer")?;
    let txn = state.db.write().await?;
    let o = resolution_objection::Entity::find_by_id(objection_id)
        .one(&*txn)
        .await?
        .ok_or(E::Missing("objection"))?;
    let r = load(&*txn, o.resolution_id).await?;
    require_committee(&*txn, actor, &r).await?;
    let upheld = req.decision != ObjectionDecision::Dismiss;
    let status = if upheld {
        ObjectionStatus::Upheld
    } else {
        ObjectionStatus::Dismissed
    };
    let now = clock::now();
    let answered = resolution_objection::Entity::update_many()
        .col_expr(
            resolution_objection::Column::Status,
            Expr::value(status.as_str()),
        )
        .col_expr(
            resolution_objection::Column::Answer,
            Expr::value(Some(answer.clone())),
        )
        .col_expr(
            resolution_objection::Column::AnsweredBy,
            Expr::value(Some(actor.id())),
        )
        .col_expr(
            resolution_objection::Column::AnsweredAt,
            Expr::value(Some(now)),
        )
        .filter(resolution_objection::Column::Id.eq(objection_id))
        .filter(resolution_objection::Column::Status.eq(ObjectionStatus::Pending.as_str()))
        .exec(&*txn)
        .await?;
    if answered.rows_affected != 1 {
        return Err(E::Conflict(
            "objection_answered",
            "This objection has been answered already.".into(),
        ));
    }
    let in_disclosure = status_of(&r) == ResolutionStatus::Disclosure;
    match req.decision {
        ObjectionDecision::UpholdAndRevise if in_disclosure => {
            move_to(
                &*txn,
                &r,
                Event::UpholdAndRevise,
                vec![
                    (
                        resolution::Column::EffectiveAt,
                        Option::<DateTime<Utc>>::None.into(),
                    ),
                    (
                        resolution::Column::DisclosureEndsAt,
                        Option::<DateTime<Utc>>::None.into(),
                    ),
                ],
            )
            .await?;
        }
        ObjectionDecision::UpholdAndWithdraw if in_disclosure => {
            move_to(
                &*txn,
                &r,
                Event::UpholdAndWithdraw,
                vec![(resolution::Column::EndReason, Some(answer.clone()).into())],
            )
            .await?;
        }
        _ => {}
    }
    record(
        &*txn,
        Some(actor.id()),
        "objection.answered",
        r.id,
        json!({ "objection_id": objection_id, "decision": format!("{:?}", req.decision) }),
    )
    .await?;
    if let Some(u) = user::Entity::find_by_id(o.user_id)
        .filter(user::Column::DeletedAt.is_null())
        .one(&*txn)
        .await?
    {
        notifications::notify(
            state,
            &*txn,
            notifications::Kind::ObjectionAnswered,
            Some(r.id),
            u.id,
            &u.email,
            templates::objection_answered(
                &u.language,
                &u.display_name,
                &r.title,
                upheld,
                &answer,
                &link(state, r.id),
            ),
        )
        .await?;
    }
    txn.commit().await?;
    state.mail_wake.notify_one();
    if !upheld {
        start_if_due(state, r.id).await?;
    }
    get(state, Some(actor), r.id).await
}

/// Starts the work on a resolution whose disclosure window has ended with every objection
/// answered. Conditional, so any number of processes may try at once.
pub(super) async fn start_if_due(state: &AppState, id: Uuid) -> Result<bool> {
    let txn = state.db.write().await?;
    let r = load(&*txn, id).await?;
    let due = status_of(&r) == ResolutionStatus::Disclosure
        && r.disclosure_ends_at.is_some_and(|end| end <= clock::now());
    if !due {
        return Ok(false);
    }
    let pending = resolution_objection::Entity::find()
        .filter(resolution_objection::Column::ResolutionId.eq(id))
        .filter(resolution_objection::Column::Status.eq(ObjectionStatus::Pending.as_str()))
        .count(&*txn)
        .await?;
    if pending > 0 {
        return Ok(false);
    }
    match move_to(
        &*txn,
        &r,
        Event::DisclosureEnds,
        vec![(resolution::Column::StartedAt, Some(clock::now()).into())],
    )
    .await
    {
        Ok(_) => {}
        Err(E::InvalidTransition { .. }) => return Ok(false),
        Err(e) => return Err(e),
    }
    record(&*txn, None, "resolution.started", id, json!({})).await?;
    txn.commit().await?;
    Ok(true)
}
