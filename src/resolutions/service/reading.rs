//! Reading resolutions, their timelines and the public board.

use super::*;

pub(super) async fn names<C: ConnectionTrait>(
    db: &C,
    ids: Vec<Uuid>,
) -> Result<HashMap<Uuid, String>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(user::Entity::find()
        .select_only()
        .column(user::Column::Id)
        .column(user::Column::DisplayName)
        .filter(user::Column::Id.is_in(ids))
        .into_tuple::<(Uuid, String)>()
        .all(db)
        .await?
        .into_iter()
        .collect())
}

pub(super) async fn updates_of<C: ConnectionTrait>(
    db: &C,
    r: &resolution::Model,
    full: bool,
) -> Result<Vec<ProgressUpdateView>> {
    let updates = resolution_update::Entity::find()
        .filter(resolution_update::Column::ResolutionId.eq(r.id))
        .order_by_desc(resolution_update::Column::CreatedAt)
        .all(db)
        .await?;
    let files = evidence_file::Entity::find()
        .filter(evidence_file::Column::ResolutionId.eq(r.id))
        .order_by_asc(evidence_file::Column::CreatedAt)
        .all(db)
        .await?;
    let authors = if full {
        names(db, updates.iter().map(|u| u.author_id).collect()).await?
    } else {
        HashMap::new()
    };
    let orgs = org_names(db, updates.iter().map(|u| u.organisation_id).collect()).await?;
    Ok(updates
        .into_iter()
        .map(|u| ProgressUpdateView {
            id: u.id,
            organisation_name: orgs.get(&u.organisation_id).cloned().unwrap_or_default(),
            author_name: authors.get(&u.author_id).cloned(),
            body: u.body,
            percent: u.percent,
            evidence: files
                .iter()
                .filter(|f| f.update_id == u.id)
                .map(|f| EvidenceView {
                    id: f.id,
                    file_name: f.file_name.clone(),
                    content_type: f.content_type.clone(),
                    size: f.size,
                    sha256: f.sha256.clone(),
                })
                .collect(),
            created_at: u.created_at,
        })
        .collect())
}

pub(super) fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

pub(super) async fn ratings_of<C: ConnectionTrait>(
    db: &C,
    r: &resolution::Model,
    me: Option<Uuid>,
) -> Result<RatingSummary> {
    let rows = resolution_rating::Entity::find()
        .filter(resolution_rating::Column::ResolutionId.eq(r.id))
        .order_by_asc(resolution_rating::Column::CreatedAt)
        .all(db)
        .await?;
    // Ratings a grid worker gave for people of the register count beside the accounts'.
    let helped: Vec<(i32, Option<String>)> =
        crate::resolutions::assisted::ratings(db, r.id).await?;
    let mut distribution = vec![0i64; 5];
    let mut sum = 0i64;
    let scores = rows
        .iter()
        .map(|x| (x.score, x.comment.clone()))
        .chain(helped);
    let mut comments = Vec::new();
    let mut count = 0i64;
    for (score, comment) in scores {
        distribution[(score.clamp(1, 5) - 1) as usize] += 1;
        sum += i64::from(score);
        count += 1;
        comments.extend(comment);
    }
    Ok(RatingSummary {
        count,
        mean: (count > 0).then(|| round2(sum as f64 / count as f64)),
        distribution,
        comments,
        window_closes_at: r.rating_closes_at,
        mine: me.and_then(|me| rows.iter().find(|x| x.user_id == me).map(|x| x.score)),
    })
}

pub(super) async fn timeline_of<C: ConnectionTrait>(
    db: &C,
    r: &resolution::Model,
) -> Result<Vec<TimelineEntry>> {
    let mut out = Vec::new();
    let entry = |at, event: &str, detail: Option<String>| TimelineEntry {
        at,
        event: event.to_string(),
        detail,
    };
    if let Some(pid) = r.proposal_id
        && let Some(p) = proposal::Entity::find_by_id(pid).one(db).await?
    {
        if let Some(at) = p.submitted_at {
            out.push(entry(at, "proposal.submitted", Some(p.title.clone())));
        }
        if p.status == "accepted"
            && let Some(at) = p.decided_at
        {
            out.push(entry(at, "proposal.accepted", None));
        }
    }
    if let Some(sid) = r.session_id
        && let Some(s) = session::Entity::find_by_id(sid).one(db).await?
        && let Some(at) = s.opened_at
    {
        out.push(entry(at, "session.held", Some(s.title)));
    }
    if let Some(pid) = r.poll_id
        && let Some(p) = poll::Entity::find_by_id(pid).one(db).await?
        && let Some(at) = p.closed_at
    {
        out.push(entry(at, "poll.closed", Some(p.question)));
    }
    for a in audit_entry::Entity::find()
        .filter(audit_entry::Column::ObjectType.eq("resolution"))
        .filter(audit_entry::Column::ObjectId.eq(r.id.to_string()))
        .order_by_asc(audit_entry::Column::CreatedAt)
        .all(db)
        .await?
    {
        out.push(entry(a.created_at, &a.action, None));
    }
    if let Some(first) = resolution_rating::Entity::find()
        .filter(resolution_rating::Column::ResolutionId.eq(r.id))
        .order_by_asc(resolution_rating::Column::CreatedAt)
        .one(db)
        .await?
    {
        out.push(entry(first.created_at, "rating.first", None));
    }
    // The procurement that carries the resolution out, and its contract's milestones.
    for (at, event, detail) in
        crate::resolutions::procurement::resolution_timeline(db, r.id).await?
    {
        out.push(entry(at, event, detail));
    }
    out.sort_by_key(|e| e.at);
    Ok(out)
}

pub(super) async fn view<C: ConnectionTrait>(
    db: &C,
    actor: Option<&Actor>,
    r: resolution::Model,
    standing: &Standing,
) -> Result<ResolutionView> {
    let full = standing.full();
    let me = actor.map(Actor::id);
    let status = status_of(&r);
    let now = clock::now();
    let milestones = resolution_milestone::Entity::find()
        .filter(resolution_milestone::Column::ResolutionId.eq(r.id))
        .order_by_asc(resolution_milestone::Column::Position)
        .all(db)
        .await?;
    let reviews = resolution_review::Entity::find()
        .filter(resolution_review::Column::ResolutionId.eq(r.id))
        .order_by_asc(resolution_review::Column::CreatedAt)
        .all(db)
        .await?;
    let objections = resolution_objection::Entity::find()
        .filter(resolution_objection::Column::ResolutionId.eq(r.id))
        .order_by_asc(resolution_objection::Column::CreatedAt)
        .all(db)
        .await?;
    let evaluations = resolution_evaluation::Entity::find()
        .filter(resolution_evaluation::Column::ResolutionId.eq(r.id))
        .order_by_asc(resolution_evaluation::Column::CreatedAt)
        .all(db)
        .await?;
    let people = if full {
        names(
            db,
            reviews
                .iter()
                .map(|x| x.reviewer_id)
                .chain(evaluations.iter().map(|x| x.evaluator_id))
                .collect(),
        )
        .await?
    } else {
        HashMap::new()
    };
    let following = match me {
        Some(me) => {
            resolution_follower::Entity::find()
                .filter(resolution_follower::Column::ResolutionId.eq(r.id))
                .filter(resolution_follower::Column::UserId.eq(me))
                .count(db)
                .await?
                > 0
        }
        None => false,
    };
    let ratings = ratings_of(db, &r, me).await?;
    let my_pending_objection = objections
        .iter()
        .any(|o| Some(o.user_id) == me && o.status == ObjectionStatus::Pending.as_str());
    let working = matches!(
        status,
        ResolutionStatus::InProgress | ResolutionStatus::Overdue
    );
    let can = ResolutionAbilities {
        manage: standing.committee,
        complete: (standing.responsible || standing.committee) && working,
        edit: standing.committee && status == ResolutionStatus::Draft,
        review: standing.reviewer && status == ResolutionStatus::InReview,
        answer_objections: standing.committee
            && objections
                .iter()
                .any(|o| o.status == ObjectionStatus::Pending.as_str()),
        object: standing.resident
            && status == ResolutionStatus::Disclosure
            && r.disclosure_ends_at.is_some_and(|e| now < e)
            && !my_pending_objection,
        post_update: standing.responsible && working,

        rate: standing.resident
            && status == ResolutionStatus::Completed
            && r.rating_closes_at.is_some_and(|e| now < e)
            && ratings.mine.is_none(),
        evaluate: standing.evaluator
            && status == ResolutionStatus::Completed
            && !evaluations.iter().any(|e| Some(e.evaluator_id) == me),
        follow: me.is_some() && full,
    };
    let settings = settings_of(db, r.community_id).await?;
    let settings_rule = review_rule(&r, &settings).or_else(|| r.review_rule.clone());
    Ok(ResolutionView {
        id: r.id,
        community_id: r.community_id,
        title: r.title.clone(),
        body: r.body.clone(),
        origin: origin_of(&r),
        status,
        poll_id: r.poll_id,
        session_id: r.session_id,
        agenda_item_id: r.agenda_item_id,
        proposal_id: r.proposal_id,
        responsible_org_id: r.responsible_org_id,
        responsible_org_name: org_name(db, r.responsible_org_id).await?,
        deadline: parse_date(&r.deadline),
        budget_fen: r.budget_fen,
        major: r.major,
        review_required: settings_rule,
        progress: r.progress,
        milestones: milestones
            .into_iter()
            .map(|m| MilestoneView {
                id: m.id,
                title: m.title,
                deadline: m.deadline.parse().unwrap_or_else(|_| today()),
                done_at: m.done_at,
                overdue: m.done_at.is_none() && m.due_at <= now,
            })
            .collect(),
        reviews: reviews
            .into_iter()
            .map(|x| ReviewView {
                decision: ReviewDecision::parse(&x.decision).unwrap_or(ReviewDecision::Return),
                findings: x.findings,
                rule: x.rule,
                reviewer_name: people.get(&x.reviewer_id).cloned(),
                created_at: x.created_at,
            })
            .collect(),
        objections: objections
            .into_iter()
            .map(|o| {
                let mine = Some(o.user_id) == me;
                ObjectionView {
                    id: o.id,
                    assisted: o.person_id.is_some(),
                    reasons: (mine || standing.committee).then_some(o.reasons),
                    status: ObjectionStatus::parse(&o.status).unwrap_or(ObjectionStatus::Pending),
                    answer: o.answer,
                    mine,
                    created_at: o.created_at,
                    answered_at: o.answered_at,
                }
            })
            .collect(),
        updates: updates_of(db, &r, full).await?,
        disclosure_ends_at: r.disclosure_ends_at,
        effective_at: r.effective_at,
        completed_at: r.completed_at,
        completed_on_time: r.completed_at.map(|c| r.due_at.is_none_or(|due| c < due)),
        end_reason: r.end_reason.clone(),
        ratings,
        evaluations: evaluations
            .into_iter()
            .map(|e| EvaluationView {
                criteria: serde_json::from_str(&e.criteria).unwrap_or_default(),
                total: f64::from(e.total_centi) / 100.0,
                report: e.report,
                evaluator_name: people.get(&e.evaluator_id).cloned(),
                created_at: e.created_at,
            })
            .collect(),
        timeline: timeline_of(db, &r).await?,
        following,
        can,
        created_at: r.created_at,
        updated_at: r.updated_at,
    })
}

pub async fn get(state: &AppState, actor: Option<&Actor>, id: Uuid) -> Result<ResolutionView> {
    let (r, standing) = load_visible(&state.db.conn, actor, id).await?;
    view(&state.db.conn, actor, r, &standing).await
}

pub(super) async fn summaries<C: ConnectionTrait>(
    db: &C,
    rows: Vec<resolution::Model>,
) -> Result<Vec<ResolutionSummary>> {
    let orgs = org_names(
        db,
        rows.iter().filter_map(|r| r.responsible_org_id).collect(),
    )
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let org = r.responsible_org_id.and_then(|id| orgs.get(&id).cloned());
        out.push(ResolutionSummary {
            id: r.id,
            community_id: r.community_id,
            title: r.title.clone(),
            status: status_of(&r),
            origin: origin_of(&r),
            responsible_org_name: org,
            deadline: parse_date(&r.deadline),
            progress: r.progress,
            disclosure_ends_at: r.disclosure_ends_at,
            updated_at: r.updated_at,
        });
    }
    Ok(out)
}

/// A community's resolutions: insiders see drafts too; everyone else the public ones.
pub async fn list(
    state: &AppState,
    actor: Option<&Actor>,
    community_id: Uuid,
    status: Option<ResolutionStatus>,
) -> Result<Vec<ResolutionSummary>> {
    let db = &state.db.conn;
    load_community(db, community_id).await?;
    let scope = scope_of(db, community_id).await?;
    let insider = actor.is_some_and(|a| {
        allows(a, Action::Moderate, Some(&scope))
            || allows(a, Action::ReviewResolution, Some(&scope))
    });
    let mut q = resolution::Entity::find()
        .filter(resolution::Column::CommunityId.eq(community_id))
        .order_by_desc(resolution::Column::UpdatedAt)
        .limit(500);
    if let Some(s) = status {
        q = q.filter(resolution::Column::Status.eq(s.as_str()));
    }
    let rows = q.all(db).await?;
    let rows = rows
        .into_iter()
        .filter(|r| {
            insider
                || status_of(r).is_public()
                || actor.is_some_and(|a| Standing::of(Some(a), r, &scope).responsible)
        })
        .collect();
    summaries(db, rows).await
}

/// The public disclosure board: resolutions in their objection window, newest first.
pub async fn board(state: &AppState, community_id: Uuid) -> Result<Vec<ResolutionSummary>> {
    let db = &state.db.conn;
    load_community(db, community_id).await?;
    let rows = resolution::Entity::find()
        .filter(resolution::Column::CommunityId.eq(community_id))
        .filter(resolution::Column::Status.eq(ResolutionStatus::Disclosure.as_str()))
        .order_by_desc(resolution::Column::EffectiveAt)
        .all(db)
        .await?;
    summaries(db, rows).await
}

/// One evidence file, for those who see the resolution in full.
pub async fn evidence(
    state: &AppState,
    actor: &Actor,
    evidence_id: Uuid,
) -> Result<(evidence_file::Model, Vec<u8>)> {
    let f = evidence_file::Entity::find_by_id(evidence_id)
        .one(&state.db.conn)
        .await?
        .ok_or(E::Missing("evidence"))?;
    let (_, standing) = load_visible(&state.db.conn, Some(actor), f.resolution_id)
        .await
        .map_err(|_| E::Missing("evidence"))?;
    if !standing.full() {
        return Err(E::Missing("evidence"));
    }
    let bytes = state.evidence.get(&f.storage_key).await.map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            tracing::error!(key = %f.storage_key, "a recorded file is missing from the file store");
            E::Missing("stored file")
        } else {
            E::Storage(e)
        }
    })?;
    Ok((f, bytes))
}
