//! Writing proposals: drafts, edits, submission and withdrawal.

use super::*;

pub(super) async fn check_place_refs<C: ConnectionTrait>(
    db: &C,
    community_id: Uuid,
    grid_id: Option<Uuid>,
    building_id: Option<Uuid>,
) -> Result<()> {
    if let Some(g) = grid_id {
        let grid = place::Entity::find_by_id(g).one(db).await?;
        if !grid.is_some_and(|g| {
            g.kind == PlaceKind::Grid.as_str() && g.parent_id == Some(community_id)
        }) {
            return Err(E::Invalid(
                "invalid_grid",
                "The grid is not a grid of this community.".into(),
            ));
        }
    }
    if let Some(b) = building_id {
        let found = building::Entity::find_by_id(b)
            .filter(building::Column::CommunityId.eq(community_id))
            .one(db)
            .await?;
        if found.is_none() {
            return Err(E::Invalid(
                "invalid_building",
                "The building is not in this community's register.".into(),
            ));
        }
    }
    Ok(())
}

pub(super) async fn snapshot<C: ConnectionTrait>(
    txn: &C,
    p: &proposal::Model,
    editor: Uuid,
) -> Result<()> {
    proposal_version::ActiveModel {
        id: Set(Uuid::new_v4()),
        proposal_id: Set(p.id),
        version: Set(p.version),
        editor_id: Set(editor),
        title: Set(p.title.clone()),
        body: Set(p.body.clone()),
        category: Set(p.category.clone()),
        created_at: Set(clock::now()),
    }
    .insert(txn)
    .await?;
    Ok(())
}

/// Moves a proposal through the state machine, guarding against a concurrent change of state,
/// and records the transition.
pub(in crate::proposals) async fn apply<C: ConnectionTrait>(
    txn: &C,
    p: &proposal::Model,
    event: Event,
    actor: Option<Uuid>,
    reason: Option<&str>,
) -> Result<ProposalStatus> {
    let from = status_of(p);
    let to = states::next(from, event).ok_or(E::InvalidTransition {
        from: from.as_str(),
        event: event.as_str(),
    })?;
    let now = clock::now();
    let mut update = proposal::Entity::update_many()
        .col_expr(proposal::Column::Status, Expr::value(to.as_str()))
        .col_expr(proposal::Column::UpdatedAt, Expr::value(now))
        .filter(proposal::Column::Id.eq(p.id))
        .filter(proposal::Column::Status.eq(from.as_str()));
    match event {
        Event::Accept | Event::RequestChanges | Event::Merge | Event::Reject => {
            update = update
                .col_expr(proposal::Column::DecidedAt, Expr::value(Some(now)))
                .col_expr(
                    proposal::Column::DecisionReason,
                    Expr::value(reason.map(str::to_string)),
                );
        }
        _ => {}
    }
    if update.exec(txn).await?.rows_affected != 1 {
        return Err(E::InvalidTransition {
            from: from.as_str(),
            event: event.as_str(),
        });
    }
    audit::record(
        txn,
        Change {
            actor,
            action: &format!("proposal.{}", event.as_str()),
            object_type: "proposal",
            object_id: p.id.to_string(),
            summary: json!({ "from": from.as_str(), "to": to.as_str(), "reason": reason }),
        },
    )
    .await?;
    Ok(to)
}

pub async fn create(
    state: &AppState,
    actor: &Actor,
    req: CreateProposalRequest,
) -> Result<ProposalView> {
    let title = clean_text("invalid_title", &req.title, 120, "title")?;
    let body = clean_text("invalid_body", &req.body, 20000, "body")?;
    let txn = state.db.write().await?;
    load_community(&*txn, req.community_id).await?;
    let scope = scope_of(&*txn, req.community_id).await?;
    authorize(actor, Action::Participate, Some(&scope))?;
    check_speaks_for(actor, req.organisation_id, &scope)?;
    check_place_refs(&*txn, req.community_id, req.grid_id, req.building_id).await?;
    let settings = settings_of(&*txn, req.community_id).await?;
    let now = clock::now();
    let p = proposal::ActiveModel {
        id: Set(Uuid::new_v4()),
        community_id: Set(req.community_id),
        proposer_id: Set(actor.id()),
        organisation_id: Set(req.organisation_id),
        title: Set(title),
        body: Set(body),
        category: Set(req.category.as_str().into()),
        grid_id: Set(req.grid_id),
        building_id: Set(req.building_id),
        owners_only: Set(req.owners_only),
        status: Set(ProposalStatus::Draft.as_str().into()),
        cosign_count: Set(0),
        cosign_threshold: Set(settings.cosign_threshold),
        cosign_deadline: Set(None),
        merged_into: Set(None),
        decision_reason: Set(None),
        version: Set(1),
        hidden_at: Set(None),
        hidden_reason: Set(None),
        submitted_at: Set(None),
        decided_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&*txn)
    .await?;
    audit::record(&*txn, Change {
        actor: Some(actor.id()),
        action: "proposal.created",
        object_type: "proposal",
        object_id: p.id.to_string(),
        summary: json!({ "community_id": p.community_id, "title": p.title, "category": p.category, "organisation_id": p.organisation_id }),
    })
    .await?;
    let p = if req.submit {
        submit_in(state, &*txn, actor, p, settings.cosign_period_days).await?
    } else {
        p
    };
    crate::proposals::cache::commit(state, txn).await?;
    state.mail_wake.notify_one();
    view_one(&state.db.conn, Some(actor), p, Access::Member).await
}

/// Submits a draft for co-signing: the first version is kept, the co-signing period starts, and
/// a threshold of one (the proposer alone) sends it straight to moderation.
pub(super) async fn submit_in<C: ConnectionTrait>(
    state: &AppState,
    txn: &C,
    actor: &Actor,
    p: proposal::Model,
    period_days: i32,
) -> Result<proposal::Model> {
    apply(txn, &p, Event::Submit, Some(actor.id()), None).await?;
    let now = clock::now();
    proposal::Entity::update_many()
        .col_expr(proposal::Column::SubmittedAt, Expr::value(Some(now)))
        .col_expr(
            proposal::Column::CosignDeadline,
            Expr::value(Some(now + ChronoDuration::days(period_days as i64))),
        )
        .filter(proposal::Column::Id.eq(p.id))
        .exec(txn)
        .await?;
    let p = load(txn, p.id).await?;
    snapshot(txn, &p, actor.id()).await?;
    advance_if_supported(state, txn, &p).await
}

/// Moves a collecting proposal to moderation once its supporters reach the threshold, and
/// tells the proposer. Exactly one caller wins the transition.
pub(in crate::proposals) async fn advance_if_supported<C: ConnectionTrait>(
    state: &AppState,
    txn: &C,
    p: &proposal::Model,
) -> Result<proposal::Model> {
    if status_of(p) == ProposalStatus::Collecting && p.cosign_count + 1 >= p.cosign_threshold {
        apply(txn, p, Event::ThresholdReached, None, None).await?;
        if let Some(proposer) = user::Entity::find_by_id(p.proposer_id)
            .one(txn)
            .await?
            .filter(|u| u.deleted_at.is_none())
        {
            let mail = templates::proposal_threshold_reached(
                &proposer.language,
                &proposer.display_name,
                &p.title,
                &link(state, p.id),
            );
            notifications::notify(
                state,
                txn,
                notifications::Kind::ProposalThreshold,
                Some(p.id),
                proposer.id,
                &proposer.email,
                mail,
            )
            .await?;
        }
        return load(txn, p.id).await;
    }
    Ok(p.clone())
}

/// Speaking for an organisation needs membership of it, and it must be active in the community.
pub(super) fn check_speaks_for(
    actor: &Actor,
    organisation_id: Option<Uuid>,
    scope: &PlaceScope,
) -> Result<()> {
    match organisation_id {
        Some(org) if !actor.speaks_for(org, scope) => Err(E::Forbidden(
            "You do not belong to that organisation, or it is not active in this community.".into(),
        )),
        _ => Ok(()),
    }
}

pub(super) fn require_proposer(actor: &Actor, p: &proposal::Model) -> Result<()> {
    if actor.id() == p.proposer_id {
        Ok(())
    } else {
        Err(E::Forbidden("Only the proposer may do this.".into()))
    }
}

pub async fn update(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
    req: UpdateProposalRequest,
) -> Result<ProposalView> {
    let title = req
        .title
        .as_deref()
        .map(|t| clean_text("invalid_title", t, 120, "title"))
        .transpose()?;
    let body = req
        .body
        .as_deref()
        .map(|b| clean_text("invalid_body", b, 20000, "body"))
        .transpose()?;
    let txn = state.db.write().await?;
    let (p, _, _) = load_visible(&*txn, Some(actor), id).await?;
    require_proposer(actor, &p)?;
    let status = status_of(&p);
    if !matches!(
        status,
        ProposalStatus::Draft | ProposalStatus::ChangesRequested
    ) {
        return Err(E::Conflict(
            "not_editable",
            format!("A proposal in state {} cannot be edited.", status.as_str()),
        ));
    }
    check_place_refs(&*txn, p.community_id, req.grid_id, req.building_id).await?;
    let submitted = status != ProposalStatus::Draft;
    let mut am: proposal::ActiveModel = p.clone().into();
    if let Some(t) = title {
        am.title = Set(t);
    }
    if let Some(b) = body {
        am.body = Set(b);
    }
    if let Some(c) = req.category {
        am.category = Set(c.as_str().into());
    }
    if req.grid_id.is_some() {
        am.grid_id = Set(req.grid_id);
    }
    if req.building_id.is_some() {
        am.building_id = Set(req.building_id);
    }
    if let Some(o) = req.owners_only {
        am.owners_only = Set(o);
    }
    if submitted {
        am.version = Set(p.version + 1);
    }
    am.updated_at = Set(clock::now());
    let updated = am.update(&*txn).await?;
    if submitted {
        // Once submitted, every edit is kept as a visible version.
        snapshot(&*txn, &updated, actor.id()).await?;
    }
    audit::record(
        &*txn,
        Change {
            actor: Some(actor.id()),
            action: "proposal.edited",
            object_type: "proposal",
            object_id: id.to_string(),
            summary: json!({ "version": updated.version, "title": updated.title }),
        },
    )
    .await?;
    crate::proposals::cache::commit(state, txn).await?;
    view_one(&state.db.conn, Some(actor), updated, Access::Member).await
}

/// Submits a draft for co-signing, or resubmits a proposal after the committee asked for changes.
pub async fn submit(state: &AppState, actor: &Actor, id: Uuid) -> Result<ProposalView> {
    let txn = state.db.write().await?;
    let (p, scope, _) = load_visible(&*txn, Some(actor), id).await?;
    require_proposer(actor, &p)?;
    authorize(actor, Action::Participate, Some(&scope))?;
    let p = match status_of(&p) {
        ProposalStatus::ChangesRequested => {
            apply(&*txn, &p, Event::Resubmit, Some(actor.id()), None).await?;
            load(&*txn, id).await?
        }
        _ => {
            let period = settings_of(&*txn, p.community_id).await?.cosign_period_days;
            submit_in(state, &*txn, actor, p, period).await?
        }
    };
    crate::proposals::cache::commit(state, txn).await?;
    state.mail_wake.notify_one();
    view_one(&state.db.conn, Some(actor), p, Access::Member).await
}

pub async fn withdraw(state: &AppState, actor: &Actor, id: Uuid) -> Result<ProposalView> {
    let txn = state.db.write().await?;
    let (p, _, _) = load_visible(&*txn, Some(actor), id).await?;
    require_proposer(actor, &p)?;
    apply(&*txn, &p, Event::Withdraw, Some(actor.id()), None).await?;
    let p = load(&*txn, id).await?;
    crate::proposals::cache::commit(state, txn).await?;
    view_one(&state.db.conn, Some(actor), p, Access::Member).await
}

pub async fn versions(
    state: &AppState,
    actor: Option<&Actor>,
    id: Uuid,
) -> Result<Vec<VersionView>> {
    let db = &state.db.conn;
    let (p, _, access) = load_visible(db, actor, id).await?;
    let rows = proposal_version::Entity::find()
        .filter(proposal_version::Column::ProposalId.eq(p.id))
        .order_by_asc(proposal_version::Column::Version)
        .all(db)
        .await?;
    let n = names(
        db,
        rows.iter().map(|v| v.editor_id).collect(),
        vec![],
        vec![],
    )
    .await?;
    Ok(rows
        .into_iter()
        .map(|v| VersionView {
            version: v.version,
            title: v.title,
            body: v.body,
            category: Category::parse(&v.category).unwrap_or(Category::Other),
            editor: PersonRef {
                id: if access >= Access::Member {
                    v.editor_id
                } else {
                    Uuid::nil()
                },
                display_name: if access >= Access::Member {
                    n.people.get(&v.editor_id).cloned().unwrap_or_default()
                } else {
                    String::new()
                },
            },
            created_at: v.created_at,
        })
        .collect())
}

/// Changes the denormalised co-signature count in the same statement that locks the row, so
/// concurrent co-signs serialise on it and never lose an increment.
pub(in crate::proposals) async fn adjust_cosign_count<C: ConnectionTrait>(
    txn: &C,
    id: Uuid,
    delta: i32,
) -> Result<()> {
    proposal::Entity::update_many()
        .col_expr(
            proposal::Column::CosignCount,
            Expr::col(proposal::Column::CosignCount).add(delta),
        )
        .filter(proposal::Column::Id.eq(id))
        .exec(txn)
        .await?;
    Ok(())
}

pub(in crate::proposals) async fn notify_expired<C: ConnectionTrait>(
    state: &AppState,
    txn: &C,
    p: &proposal::Model,
) -> Result<()> {
    if let Some(proposer) = user::Entity::find_by_id(p.proposer_id)
        .one(txn)
        .await?
        .filter(|u| u.deleted_at.is_none())
    {
        let mail = templates::proposal_decision(
            &proposer.language,
            &proposer.display_name,
            &p.title,
            "expired",
            None,
            &link(state, p.id),
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
    Ok(())
}

/// Expires every collecting proposal whose co-signing period has ended. Safe to run in several
/// processes at once: each expiry is a conditional transition, so only one process wins it.
pub async fn expire_due(state: &AppState) -> Result<usize> {
    let due = proposal::Entity::find()
        .filter(proposal::Column::Status.eq(ProposalStatus::Collecting.as_str()))
        .filter(proposal::Column::CosignDeadline.lte(clock::now()))
        .limit(200)
        .all(&state.db.conn)
        .await?;
    let mut expired = 0;
    for p in due {
        let txn = state.db.write().await?;
        match apply(&*txn, &p, Event::DeadlinePassed, None, None).await {
            Ok(_) => {
                notify_expired(state, &*txn, &p).await?;
                crate::proposals::cache::commit(state, txn).await?;
                expired += 1;
            }
            Err(E::InvalidTransition { .. }) => {} // someone else got there first
            Err(e) => return Err(e),
        }
    }
    if expired > 0 {
        state.mail_wake.notify_one();
    }
    Ok(expired)
}
