//! Creating and editing resolutions.

use super::*;

pub(super) async fn check_org<C: ConnectionTrait>(
    db: &C,
    org_id: Uuid,
    community: Uuid,
) -> Result<()> {
    let org = organisation::Entity::find_by_id(org_id)
        .one(db)
        .await?
        .ok_or(E::Missing("organisation"))?;
    let community_scope = scope_of(db, community).await?;
    let org_scope = scope_of(db, org.place_id).await?;
    if community_scope.path.contains(&org.place_id) || org_scope.path.contains(&community) {
        Ok(())
    } else {
        Err(E::Invalid(
            "organisation_out_of_area",
            "The responsible organisation must be based in this community or above it.".into(),
        ))
    }
}

pub(super) fn check_dates(
    deadline: Option<NaiveDate>,
    milestones: &[MilestoneInput],
) -> Result<()> {
    let today = today();
    if deadline.is_some_and(|d| d < today) {
        return Err(E::Invalid(
            "deadline_past",
            "The deadline cannot be in the past.".into(),
        ));
    }
    for m in milestones {
        if m.deadline < today {
            return Err(E::Invalid(
                "deadline_past",
                format!("The milestone \"{}\" is due in the past.", m.title.trim()),
            ));
        }
        if deadline.is_some_and(|d| m.deadline > d) {
            return Err(E::Invalid(
                "milestone_after_deadline",
                format!(
                    "The milestone \"{}\" is due after the resolution's deadline.",
                    m.title.trim()
                ),
            ));
        }
    }
    Ok(())
}

pub(super) async fn write_milestones<C: ConnectionTrait>(
    txn: &C,
    resolution_id: Uuid,
    milestones: &[MilestoneInput],
) -> Result<()> {
    resolution_milestone::Entity::delete_many()
        .filter(resolution_milestone::Column::ResolutionId.eq(resolution_id))
        .exec(txn)
        .await?;
    for (i, m) in milestones.iter().enumerate() {
        resolution_milestone::ActiveModel {
            id: Set(Uuid::new_v4()),
            resolution_id: Set(resolution_id),
            position: Set(i as i32),
            title: Set(clean("title_required", &m.title, 200, "milestone title")?),
            deadline: Set(m.deadline.to_string()),
            due_at: Set(end_of_day(m.deadline)),
            done_at: Set(None),
            done_by: Set(None),
            overdue_at: Set(None),
        }
        .insert(txn)
        .await?;
    }
    Ok(())
}

/// Where a new resolution comes from: a passed poll, or a held session's agenda item.
pub(super) struct Origin {
    pub(super) origin: ResolutionOrigin,
    pub(super) community_id: Uuid,
    pub(super) poll_id: Option<Uuid>,
    pub(super) session_id: Option<Uuid>,
    pub(super) agenda_item_id: Option<Uuid>,
    pub(super) proposal_id: Option<Uuid>,
}

pub(super) async fn origin_for<C: ConnectionTrait>(
    db: &C,
    req: &CreateResolutionRequest,
) -> Result<Origin> {
    if let Some(poll_id) = req.poll_id {
        let p = poll::Entity::find_by_id(poll_id)
            .one(db)
            .await?
            .ok_or(E::Missing("poll"))?;
        if p.status != "closed" || p.passed != Some(true) {
            return Err(E::Conflict(
                "poll_not_passed",
                "Only a closed poll that passed becomes a resolution.".into(),
            ));
        }
        let mut proposal_id = p.proposal_id;
        if proposal_id.is_none()
            && let Some(item) = p.agenda_item_id
        {
            proposal_id = agenda_item::Entity::find_by_id(item)
                .one(db)
                .await?
                .and_then(|i| i.proposal_id);
        }
        return Ok(Origin {
            origin: ResolutionOrigin::Poll,
            community_id: p.community_id,
            poll_id: Some(p.id),
            session_id: p.session_id,
            agenda_item_id: p.agenda_item_id,
            proposal_id,
        });
    }
    let (Some(session_id), Some(item_id)) = (req.session_id, req.agenda_item_id) else {
        return Err(E::Invalid(
            "origin_required",
            "Name a passed poll, or a session and its agenda item for a consensus resolution."
                .into(),
        ));
    };
    let s = session::Entity::find_by_id(session_id)
        .one(db)
        .await?
        .ok_or(E::Missing("session"))?;
    let item = agenda_item::Entity::find_by_id(item_id)
        .one(db)
        .await?
        .filter(|i| i.session_id == s.id)
        .ok_or(E::Missing("agenda item"))?;
    if !matches!(
        SessionStatus::parse(&s.status),
        SessionStatus::Open | SessionStatus::Adjourned | SessionStatus::Closed
    ) {
        return Err(E::Conflict(
            "session_not_held",
            "A consensus is recorded from a session that has been held.".into(),
        ));
    }
    Ok(Origin {
        origin: ResolutionOrigin::Consensus,
        community_id: s.community_id,
        poll_id: None,
        session_id: Some(s.id),
        agenda_item_id: Some(item.id),
        proposal_id: item.proposal_id,
    })
}

/// The community's convenors, and the chair of the session the resolution comes from.
pub(super) async fn may_create<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    o: &Origin,
) -> Result<bool> {
    let scope = scope_of(db, o.community_id).await?;
    if allows(actor, Action::Convene, Some(&scope)) {
        return Ok(true);
    }
    if let Some(sid) = o.session_id {
        let s = session::Entity::find_by_id(sid).one(db).await?;
        return Ok(s.is_some_and(|s| s.chair_id == actor.id()));
    }
    Ok(false)
}

pub async fn create(
    state: &AppState,
    actor: &Actor,
    req: CreateResolutionRequest,
) -> Result<ResolutionView> {
    let title = clean("title_required", &req.title, 200, "title")?;
    let body = clean("body_required", &req.body, 20000, "text")?;
    check_dates(req.deadline, &req.milestones)?;
    let txn = state.db.write().await?;
    let o = origin_for(&*txn, &req).await?;
    if !may_create(&*txn, actor, &o).await? {
        return Err(E::Forbidden(
            "Only the community's convenors and the session's chair record resolutions.".into(),
        ));
    }
    if let Some(org) = req.responsible_org_id {
        check_org(&*txn, org, o.community_id).await?;
    }
    if let Some(pid) = o.poll_id
        && resolution::Entity::find()
            .filter(resolution::Column::PollId.eq(pid))
            .count(&*txn)
            .await?
            > 0
    {
        return Err(E::Conflict(
            "resolution_exists",
            "This poll already has a resolution.".into(),
        ));
    }
    let now = clock::now();
    let id = Uuid::new_v4();
    let inserted = resolution::ActiveModel {
        id: Set(id),
        community_id: Set(o.community_id),
        title: Set(title),
        body: Set(body),
        origin: Set(o.origin.as_str().into()),
        poll_id: Set(o.poll_id),
        session_id: Set(o.session_id),
        agenda_item_id: Set(o.agenda_item_id),
        proposal_id: Set(o.proposal_id),
        responsible_org_id: Set(req.responsible_org_id),
        deadline: Set(req.deadline.map(|d| d.to_string())),
        due_at: Set(req.deadline.map(end_of_day)),
        budget_fen: Set(req.budget_fen),
        major: Set(req.major),
        review_rule: Set(None),
        status: Set(ResolutionStatus::Draft.as_str().into()),
        progress: Set(0),
        disclosure_ends_at: Set(None),
        effective_at: Set(None),
        started_at: Set(None),
        overdue_at: Set(None),
        completed_at: Set(None),
        rating_closes_at: Set(None),
        end_reason: Set(None),
        created_by: Set(actor.id()),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&*txn)
    .await;
    match inserted {
        Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
            return Err(E::Conflict(
                "resolution_exists",
                "This poll already has a resolution.".into(),
            ));
        }
        other => other?,
    };
    write_milestones(&*txn, id, &req.milestones).await?;
    record(
        &*txn,
        Some(actor.id()),
        "resolution.created",
        id,
        json!({ "origin": o.origin.as_str(), "poll_id": o.poll_id, "session_id": o.session_id, "agenda_item_id": o.agenda_item_id }),
    )
    .await?;
    txn.commit().await?;
    get(state, Some(actor), id).await
}

pub async fn update(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
    req: UpdateResolutionRequest,
) -> Result<ResolutionView> {
    let txn = state.db.write().await?;
    let r = load(&*txn, id).await?;
    require_committee(&*txn, actor, &r).await?;
    if status_of(&r) != ResolutionStatus::Draft {
        return Err(E::Conflict(
            "not_draft",
            "Only a draft resolution can be edited.".into(),
        ));
    }
    let deadline = req.deadline.or(parse_date(&r.deadline));
    let milestones: Vec<MilestoneInput> = match &req.milestones {
        Some(m) => m.clone(),
        None => resolution_milestone::Entity::find()
            .filter(resolution_milestone::Column::ResolutionId.eq(id))
            .order_by_asc(resolution_milestone::Column::Position)
            .all(&*txn)
            .await?
            .into_iter()
            .map(|m| MilestoneInput {
                deadline: m.deadline.parse().unwrap_or_else(|_| today()),
                title: m.title.into(),
            })
            .collect(),
    };
    check_dates(deadline, &milestones)?;
    if let Some(org) = req.responsible_org_id {
        check_org(&*txn, org, r.community_id).await?;
    }
    let mut m: resolution::ActiveModel = r.clone().into();
    if let Some(t) = &req.title {
        m.title = Set(clean("title_required", t, 200, "title")?);
    }
    if let Some(b) = &req.body {
        m.body = Set(clean("body_required", b, 20000, "text")?);
    }
    if let Some(org) = req.responsible_org_id {
        m.responsible_org_id = Set(Some(org));
    }
    if let Some(d) = req.deadline {
        m.deadline = Set(Some(d.to_string()));
        m.due_at = Set(Some(end_of_day(d)));
    }
    if let Some(b) = req.budget_fen {
        m.budget_fen = Set(Some(b));
    }
    if let Some(major) = req.major {
        m.major = Set(major);
    }
    m.updated_at = Set(clock::now());
    m.update(&*txn).await?;
    if let Some(ms) = &req.milestones {
        write_milestones(&*txn, id, ms).await?;
    }
    record(&*txn, Some(actor.id()), "resolution.edited", id, json!({})).await?;
    txn.commit().await?;
    get(state, Some(actor), id).await
}
