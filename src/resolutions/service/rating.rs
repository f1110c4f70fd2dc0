//! Following, rating and third-party evaluation.

use super::*;

pub async fn follow(state: &AppState, actor: &Actor, id: Uuid, on: bool) -> Result<ResolutionView> {
    let (r, standing) = load_visible(&state.db.conn, Some(actor), id).await?;
    if !standing.full() {
        return Err(E::Forbidden(
            "Members of the community follow its resolutions.".into(),
        ));
    }
    let txn = state.db.write().await?;
    let existing = resolution_follower::Entity::find()
        .filter(resolution_follower::Column::ResolutionId.eq(r.id))
        .filter(resolution_follower::Column::UserId.eq(actor.id()))
        .one(&*txn)
        .await?;
    match (on, existing) {
        (true, None) => {
            resolution_follower::ActiveModel {
                id: Set(Uuid::new_v4()),
                resolution_id: Set(r.id),
                user_id: Set(actor.id()),
                created_at: Set(clock::now()),
            }
            .insert(&*txn)
            .await?;
        }
        (false, Some(f)) => {
            resolution_follower::Entity::delete_by_id(f.id)
                .exec(&*txn)
                .await?;
        }
        _ => {}
    }
    txn.commit().await?;
    get(state, Some(actor), id).await
}

pub async fn rate(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
    req: RatingRequest,
) -> Result<ResolutionView> {
    let comment = req
        .comment
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_string);
    let txn = state.db.write().await?;
    let r = load(&*txn, id).await?;
    if !status_of(&r).is_public() {
        return Err(E::NotFound);
    }
    require_resident(actor, &r)?;
    let open = status_of(&r) == ResolutionStatus::Completed
        && r.rating_closes_at.is_some_and(|end| clock::now() < end);
    if !open {
        return Err(E::Conflict(
            "rating_closed",
            "Ratings are taken for a while after a resolution is completed.".into(),
        ));
    }
    if crate::register::service::assisted::live_for_account(
        &*txn,
        crate::entities::assisted_act::AssistedKind::Rating,
        id,
        r.community_id,
        actor.id(),
    )
    .await?
    .is_some()
    {
        return Err(E::Conflict(
            "already_rated",
            "A grid worker has rated this resolution for you.".into(),
        ));
    }
    let inserted = resolution_rating::ActiveModel {
        id: Set(Uuid::new_v4()),
        resolution_id: Set(id),
        user_id: Set(actor.id()),
        score: Set(req.score),
        comment: Set(comment),
        created_at: Set(clock::now()),
    }
    .insert(&*txn)
    .await;
    match inserted {
        Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
            return Err(E::Conflict(
                "already_rated",
                "You have rated this resolution already.".into(),
            ));
        }
        other => other?,
    };
    txn.commit().await?;
    get(state, Some(actor), id).await
}

pub async fn evaluate(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
    req: EvaluationRequest,
) -> Result<ResolutionView> {
    let weights: i32 = req.criteria.iter().map(|c| c.weight).sum();
    if weights != 100 {
        return Err(E::Invalid(
            "weights_must_sum_to_100",
            format!("The criteria's weights sum to {weights}, not 100."),
        ));
    }
    let report = clean("report_required", &req.report, 50000, "report")?;
    let total_centi: i32 = req.criteria.iter().map(|c| c.weight * c.score).sum();
    let txn = state.db.write().await?;
    let r = load(&*txn, id).await?;
    let scope = scope_of(&*txn, r.community_id).await?;
    if !allows(actor, Action::EvaluateResolution, Some(&scope)) {
        return Err(E::Forbidden(
            "Only an appointed evaluator evaluates resolutions.".into(),
        ));
    }
    // A third-party evaluation is no such thing from inside the organisation that did the work.
    if r.responsible_org_id
        .is_some_and(|org| actor.affiliations.iter().any(|a| a.organisation_id == org))
    {
        return Err(E::Conflict(
            "evaluator_conflicted",
            "You belong to the organisation responsible for this resolution and cannot evaluate it."
                .into(),
        ));
    }
    if status_of(&r) != ResolutionStatus::Completed {
        return Err(E::Conflict(
            "not_completed",
            "A resolution is evaluated once it is completed.".into(),
        ));
    }
    let inserted = resolution_evaluation::ActiveModel {
        id: Set(Uuid::new_v4()),
        resolution_id: Set(id),
        evaluator_id: Set(actor.id()),
        criteria: Set(serde_json::to_string(&req.criteria).unwrap_or_default()),
        total_centi: Set(total_centi),
        report: Set(report),
        created_at: Set(clock::now()),
    }
    .insert(&*txn)
    .await;
    match inserted {
        Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
            return Err(E::Conflict(
                "already_evaluated",
                "You have evaluated this resolution already.".into(),
            ));
        }
        other => other?,
    };
    record(
        &*txn,
        Some(actor.id()),
        "resolution.evaluated",
        id,
        json!({ "total_centi": total_centi }),
    )
    .await?;
    txn.commit().await?;
    get(state, Some(actor), id).await
}
