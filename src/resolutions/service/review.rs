//! Legal review and taking effect.

use super::*;

/// Why this resolution needs legal review, or `None` when it does not.
pub(super) fn review_rule(
    r: &resolution::Model,
    settings: &ResolutionSettingsView,
) -> Option<String> {
    if r.major {
        return Some("major matter".into());
    }
    match r.budget_fen {
        Some(b) if b >= settings.review_budget_fen => Some(format!(
            "budget {b} fen at or above the community's review threshold of {} fen",
            settings.review_budget_fen
        )),
        _ => None,
    }
}

pub async fn submit_for_review(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
) -> Result<ResolutionView> {
    let txn = state.db.write().await?;
    let r = load(&*txn, id).await?;
    require_committee(&*txn, actor, &r).await?;
    let settings = settings_of(&*txn, r.community_id).await?;
    let rule = review_rule(&r, &settings).unwrap_or_else(|| "requested by the committee".into());
    move_to(
        &*txn,
        &r,
        Event::SubmitForReview,
        vec![(resolution::Column::ReviewRule, Some(rule.clone()).into())],
    )
    .await?;
    record(
        &*txn,
        Some(actor.id()),
        "resolution.submitted_for_review",
        id,
        json!({ "rule": rule }),
    )
    .await?;
    txn.commit().await?;
    get(state, Some(actor), id).await
}

pub async fn review(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
    req: ReviewRequest,
) -> Result<ResolutionView> {
    let findings = req.findings.trim().to_string();
    if req.decision == ReviewDecision::Return && findings.is_empty() {
        return Err(E::Invalid(
            "findings_required",
            "Returning a resolution needs written findings.".into(),
        ));
    }
    let txn = state.db.write().await?;
    let r = load(&*txn, id).await?;
    let scope = scope_of(&*txn, r.community_id).await?;
    if !allows(actor, Action::ReviewResolution, Some(&scope)) {
        return Err(E::Forbidden(
            "Only a designated legal reviewer reviews resolutions.".into(),
        ));
    }
    let event = match req.decision {
        ReviewDecision::Approve => Event::Approve,
        ReviewDecision::Return => Event::Return,
    };
    move_to(&*txn, &r, event, Vec::new()).await?;
    let rule = r.review_rule.clone().unwrap_or_default();
    resolution_review::ActiveModel {
        id: Set(Uuid::new_v4()),
        resolution_id: Set(id),
        reviewer_id: Set(actor.id()),
        decision: Set(req.decision.as_str().into()),
        findings: Set(findings.clone()),
        rule: Set(rule.clone()),
        created_at: Set(clock::now()),
    }
    .insert(&*txn)
    .await?;
    record(
        &*txn,
        Some(actor.id()),
        "resolution.reviewed",
        id,
        json!({ "decision": req.decision.as_str(), "rule": rule, "findings_sha256": hex::encode(Sha256::digest(findings.as_bytes())) }),
    )
    .await?;
    txn.commit().await?;
    get(state, Some(actor), id).await
}

/// The committee lets the resolution take effect: it goes on the disclosure board and the
/// objection window opens. A resolution that needs legal review must have passed it.
pub async fn take_effect(state: &AppState, actor: &Actor, id: Uuid) -> Result<ResolutionView> {
    let txn = state.db.write().await?;
    let r = load(&*txn, id).await?;
    require_committee(&*txn, actor, &r).await?;
    transition(&r, Event::TakeEffect)?;
    let settings = settings_of(&*txn, r.community_id).await?;
    let rule = review_rule(&r, &settings);
    if status_of(&r) == ResolutionStatus::Draft
        && let Some(rule) = &rule
    {
        return Err(E::Conflict(
            "legal_review_required",
            format!("This resolution needs legal review first ({rule})."),
        ));
    }
    if r.responsible_org_id.is_none() || r.deadline.is_none() {
        return Err(E::Conflict(
            "incomplete",
            "A resolution takes effect with a responsible party and a deadline.".into(),
        ));
    }
    if parse_date(&r.deadline).is_some_and(|d| d < today()) {
        return Err(E::Conflict(
            "deadline_past",
            "The deadline has passed; set a new one first.".into(),
        ));
    }
    let now = clock::now();
    let ends = now + Duration::days(i64::from(settings.disclosure_days));
    move_to(
        &*txn,
        &r,
        Event::TakeEffect,
        vec![
            (resolution::Column::EffectiveAt, Some(now).into()),
            (resolution::Column::DisclosureEndsAt, Some(ends).into()),
        ],
    )
    .await?;
    record(
        &*txn,
        Some(actor.id()),
        "resolution.effective",
        id,
        json!({ "disclosure_ends_at": ends, "review_rule": rule }),
    )
    .await?;
    txn.commit().await?;
    get(state, Some(actor), id).await
}

pub async fn cancel(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
    reason: &str,
) -> Result<ResolutionView> {
    let reason = clean("reason_required", reason, 4000, "reason")?;
    let txn = state.db.write().await?;
    let r = load(&*txn, id).await?;
    require_committee(&*txn, actor, &r).await?;
    move_to(
        &*txn,
        &r,
        Event::Cancel,
        vec![(resolution::Column::EndReason, Some(reason.clone()).into())],
    )
    .await?;
    record(
        &*txn,
        Some(actor.id()),
        "resolution.cancelled",
        id,
        json!({ "reason": reason }),
    )
    .await?;
    mail_followers(state, &*txn, &r, None).await?;
    txn.commit().await?;
    state.mail_wake.notify_one();
    get(state, Some(actor), id).await
}
