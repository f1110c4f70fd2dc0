//! Moderation: review, merging, hiding and reports.

use super::*;

pub async fn moderate(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
    req: ModerationRequest,
) -> Result<ProposalView> {
    let event = match req.action {
        ModerationAction::Accept => Event::Accept,
        ModerationAction::RequestChanges => Event::RequestChanges,
        ModerationAction::Merge => Event::Merge,
        ModerationAction::Reject => Event::Reject,
    };
    let reason = req
        .reason
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(str::to_string);
    if event.needs_reason() && reason.is_none() {
        return Err(E::Invalid(
            "reason_required",
            "Give a written reason; the proposer sees it and it stays public on the proposal."
                .into(),
        ));
    }
    let txn = state.db.write().await?;
    let p = load(&*txn, id).await?;
    if status_of(&p) == ProposalStatus::Draft {
        return Err(E::NotFound);
    }
    let scope = scope_of(&*txn, p.community_id).await?;
    authorize(actor, Action::Moderate, Some(&scope))?;
    let target = if event == Event::Merge {
        let target_id = req.merge_into.ok_or_else(|| {
            E::Invalid(
                "merge_target_required",
                "Name the proposal to merge into.".into(),
            )
        })?;
        if target_id == p.id {
            return Err(E::Invalid(
                "invalid_merge_target",
                "A proposal cannot be merged into itself.".into(),
            ));
        }
        let target = load(&*txn, target_id).await?;
        let open = matches!(
            status_of(&target),
            ProposalStatus::Collecting
                | ProposalStatus::InModeration
                | ProposalStatus::ChangesRequested
                | ProposalStatus::Accepted
        );
        if target.community_id != p.community_id || !open || target.hidden_at.is_some() {
            return Err(E::Invalid(
                "invalid_merge_target",
                "Merge only into an open proposal of the same community.".into(),
            ));
        }
        Some(target)
    } else {
        None
    };
    apply(&*txn, &p, event, Some(actor.id()), reason.as_deref()).await?;
    if let Some(target) = &target {
        merge_supporters(state, &*txn, actor, &p, target).await?;
    }
    notify_decision(state, &*txn, &p, event, reason.as_deref()).await?;
    let p = load(&*txn, id).await?;
    crate::proposals::cache::commit(state, txn).await?;
    state.mail_wake.notify_one();
    view_one(&state.db.conn, Some(actor), p, Access::Committee).await
}

/// Carries the source's proposer and active co-signers over to the target, without duplicates
/// and without the target's own proposer; people who withdrew from the target stay withdrawn.
pub(super) async fn merge_supporters<C: ConnectionTrait>(
    state: &AppState,
    txn: &C,
    actor: &Actor,
    source: &proposal::Model,
    target: &proposal::Model,
) -> Result<()> {
    let mut supporters: Vec<Uuid> = proposal_cosign::Entity::find()
        .filter(proposal_cosign::Column::ProposalId.eq(source.id))
        .filter(proposal_cosign::Column::WithdrawnAt.is_null())
        .all(txn)
        .await?
        .into_iter()
        .map(|c| c.user_id)
        .collect();
    supporters.push(source.proposer_id);
    let already: Vec<Uuid> = proposal_cosign::Entity::find()
        .filter(proposal_cosign::Column::ProposalId.eq(target.id))
        .all(txn)
        .await?
        .into_iter()
        .map(|c| c.user_id)
        .collect();
    let mut added = 0;
    let now = clock::now();
    supporters.sort();
    supporters.dedup();
    let mut supporters_added = Vec::new();
    for user_id in supporters {
        if user_id == target.proposer_id || already.contains(&user_id) {
            continue;
        }
        supporters_added.push(user_id);
        proposal_cosign::ActiveModel {
            id: Set(Uuid::new_v4()),
            proposal_id: Set(target.id),
            user_id: Set(user_id),
            created_at: Set(now),
            withdrawn_at: Set(None),
        }
        .insert(txn)
        .await?;
        added += 1;
    }
    // Co-signatures given for people of the register come along too.
    let mut accounts = already;
    accounts.push(target.proposer_id);
    accounts.extend(supporters_added);
    added += crate::register::service::assisted::carry(
        txn,
        crate::entities::assisted_act::AssistedKind::Cosign,
        source.id,
        target.id,
        &accounts,
    )
    .await?;
    adjust_cosign_count(txn, target.id, added).await?;
    proposal::Entity::update_many()
        .col_expr(proposal::Column::MergedInto, Expr::value(Some(target.id)))
        .filter(proposal::Column::Id.eq(source.id))
        .exec(txn)
        .await?;
    audit::record(
        txn,
        Change {
            actor: Some(actor.id()),
            action: "proposal.merge_received",
            object_type: "proposal",
            object_id: target.id.to_string(),
            summary: json!({ "from": source.id, "cosignatures_added": added }),
        },
    )
    .await?;
    let target = load(txn, target.id).await?;
    advance_if_supported(state, txn, &target).await?;
    Ok(())
}

pub(super) async fn notify_decision<C: ConnectionTrait>(
    state: &AppState,
    txn: &C,
    p: &proposal::Model,
    event: Event,
    reason: Option<&str>,
) -> Result<()> {
    let url = link(state, p.id);
    if let Some(proposer) = user::Entity::find_by_id(p.proposer_id)
        .one(txn)
        .await?
        .filter(|u| u.deleted_at.is_none())
    {
        let mail = templates::proposal_decision(
            &proposer.language,
            &proposer.display_name,
            &p.title,
            event.as_str(),
            reason,
            &url,
        );
        notifications::notify(
            state,
            txn,
            notifications::Kind::ModerationDecision,
            Some(p.id),
            proposer.id,
            &proposer.email,
            mail,
        )
        .await?;
    }
    if event == Event::Accept {
        let cosigners: Vec<Uuid> = proposal_cosign::Entity::find()
            .filter(proposal_cosign::Column::ProposalId.eq(p.id))
            .filter(proposal_cosign::Column::WithdrawnAt.is_null())
            .all(txn)
            .await?
            .into_iter()
            .map(|c| c.user_id)
            .collect();
        if !cosigners.is_empty() {
            for u in user::Entity::find()
                .filter(user::Column::Id.is_in(cosigners))
                .filter(user::Column::DeletedAt.is_null())
                .all(txn)
                .await?
            {
                let mail = templates::proposal_accepted_cosigner(
                    &u.language,
                    &u.display_name,
                    &p.title,
                    &url,
                );
                notifications::notify(
                    state,
                    txn,
                    notifications::Kind::CosignerAccepted,
                    Some(p.id),
                    u.id,
                    &u.email,
                    mail,
                )
                .await?;
            }
        }
    }
    Ok(())
}

pub async fn hide(state: &AppState, actor: &Actor, id: Uuid, reason: &str) -> Result<ProposalView> {
    let reason = clean_text("reason_required", reason, 2000, "reason")?;
    let txn = state.db.write().await?;
    let p = load(&*txn, id).await?;
    authorize_at(&*txn, actor, Action::Moderate, p.community_id).await?;
    if p.hidden_at.is_some() {
        return Err(E::Conflict(
            "already_hidden",
            "This proposal is already hidden.".into(),
        ));
    }
    let now = clock::now();
    proposal::Entity::update_many()
        .col_expr(proposal::Column::HiddenAt, Expr::value(Some(now)))
        .col_expr(
            proposal::Column::HiddenReason,
            Expr::value(Some(reason.clone())),
        )
        .filter(proposal::Column::Id.eq(id))
        .exec(&*txn)
        .await?;
    resolve_reports(&*txn, id, None).await?;
    audit::record(
        &*txn,
        Change {
            actor: Some(actor.id()),
            action: "proposal.hidden",
            object_type: "proposal",
            object_id: id.to_string(),
            summary: json!({ "reason": reason }),
        },
    )
    .await?;
    let p = load(&*txn, id).await?;
    crate::proposals::cache::commit(state, txn).await?;
    view_one(&state.db.conn, Some(actor), p, Access::Committee).await
}

pub(super) async fn resolve_reports<C: ConnectionTrait>(
    txn: &C,
    proposal_id: Uuid,
    comment_id: Option<Uuid>,
) -> Result<()> {
    let mut q = content_report::Entity::update_many()
        .col_expr(
            content_report::Column::ResolvedAt,
            Expr::value(Some(clock::now())),
        )
        .filter(content_report::Column::ProposalId.eq(proposal_id))
        .filter(content_report::Column::ResolvedAt.is_null());
    q = match comment_id {
        Some(c) => q.filter(content_report::Column::CommentId.eq(c)),
        None => q.filter(content_report::Column::CommentId.is_null()),
    };
    q.exec(txn).await?;
    Ok(())
}

pub async fn report(state: &AppState, actor: &Actor, id: Uuid, req: ReportRequest) -> Result<()> {
    let reason = clean_text("reason_required", &req.reason, 1000, "reason")?;
    let txn = state.db.write().await?;
    let (p, scope, _) = load_visible(&*txn, Some(actor), id).await?;
    authorize(actor, Action::Participate, Some(&scope))?;
    if let Some(c) = req.comment_id {
        proposal_comment::Entity::find_by_id(c)
            .filter(proposal_comment::Column::ProposalId.eq(p.id))
            .one(&*txn)
            .await?
            .ok_or(E::CommentNotFound)?;
    }
    let r = content_report::ActiveModel {
        id: Set(Uuid::new_v4()),
        proposal_id: Set(p.id),
        comment_id: Set(req.comment_id),
        reporter_id: Set(actor.id()),
        reason: Set(reason),
        created_at: Set(clock::now()),
        resolved_at: Set(None),
    }
    .insert(&*txn)
    .await?;
    audit::record(
        &*txn,
        Change {
            actor: Some(actor.id()),
            action: "proposal.reported",
            object_type: "proposal",
            object_id: p.id.to_string(),
            summary: json!({ "report_id": r.id, "comment_id": req.comment_id }),
        },
    )
    .await?;
    crate::proposals::cache::commit(state, txn).await?;
    Ok(())
}

pub async fn open_reports(
    state: &AppState,
    actor: &Actor,
    community_id: Uuid,
) -> Result<Vec<ReportView>> {
    let db = &state.db.conn;
    load_community(db, community_id).await?;
    authorize_at(db, actor, Action::Moderate, community_id).await?;
    let proposals: HashMap<Uuid, String> = proposal::Entity::find()
        .filter(proposal::Column::CommunityId.eq(community_id))
        .all(db)
        .await?
        .into_iter()
        .map(|p| (p.id, p.title))
        .collect();
    if proposals.is_empty() {
        return Ok(Vec::new());
    }
    Ok(content_report::Entity::find()
        .filter(
            content_report::Column::ProposalId.is_in(proposals.keys().copied().collect::<Vec<_>>()),
        )
        .filter(content_report::Column::ResolvedAt.is_null())
        .order_by_asc(content_report::Column::CreatedAt)
        .all(db)
        .await?
        .into_iter()
        .map(|r| ReportView {
            id: r.id,
            proposal_title: proposals.get(&r.proposal_id).cloned().unwrap_or_default(),
            proposal_id: r.proposal_id,
            comment_id: r.comment_id,
            reason: r.reason,
            created_at: r.created_at,
        })
        .collect())
}
