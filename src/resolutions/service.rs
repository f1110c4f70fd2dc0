//! Resolutions: from a passed poll (or a session's consensus) to a commitment with a
//! responsible party and a deadline; legal review for major matters; public disclosure with
//! objections; progress with evidence; overdue marking; satisfaction and evaluation.

use std::collections::HashMap;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Set, SqlErr,
};
use serde_json::json;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::error::ResolutionsError as E;
use super::evidence::{MAX_FILE_BYTES, MAX_FILES, sniff};
use super::model::*;
use super::states::{Event, next};
use crate::audit::{self, Change};
use crate::clock;
use crate::communities::service::{load_community, scope_of};
use crate::entities::{
    agenda_item, audit_entry, evidence_file, organisation, organisation_member, poll, proposal,
    resolution, resolution_evaluation, resolution_follower, resolution_milestone,
    resolution_objection, resolution_rating, resolution_review, resolution_setting,
    resolution_update, role_grant, session, user,
};
use crate::notifications::{self, templates};
use crate::policy::{Action, Actor, PlaceScope, Role, allows};
use crate::sessions::model::SessionStatus;
use crate::state::AppState;

pub type Result<T> = std::result::Result<T, E>;

const DEFAULT_DISCLOSURE_DAYS: i32 = 7;
/// 100,000 CNY.
const DEFAULT_REVIEW_BUDGET_FEN: i64 = 10_000_000;
const DEFAULT_RATING_DAYS: i32 = 30;

pub(super) fn status_of(r: &resolution::Model) -> ResolutionStatus {
    ResolutionStatus::parse(&r.status).unwrap_or(ResolutionStatus::Draft)
}

fn origin_of(r: &resolution::Model) -> ResolutionOrigin {
    ResolutionOrigin::parse(&r.origin).unwrap_or(ResolutionOrigin::Poll)
}

/// The day a date ends in Asia/Shanghai (UTC+8, no daylight saving), as an instant.
pub fn end_of_day(d: NaiveDate) -> DateTime<Utc> {
    Utc.from_utc_datetime(&d.and_hms_opt(16, 0, 0).expect("valid time"))
}

/// Today's date in Asia/Shanghai.
pub fn today() -> NaiveDate {
    (clock::now() + Duration::hours(8)).date_naive()
}

fn parse_date(s: &Option<String>) -> Option<NaiveDate> {
    s.as_deref().and_then(|d| d.parse().ok())
}

pub(super) fn clean(code: &'static str, raw: &str, max: usize, what: &str) -> Result<String> {
    let t = raw.trim();
    let n = t.chars().count();
    if n == 0 || n > max {
        return Err(E::Invalid(
            code,
            format!("The {what} must have 1 to {max} characters."),
        ));
    }
    Ok(t.to_string())
}

fn transition(r: &resolution::Model, event: Event) -> Result<ResolutionStatus> {
    next(status_of(r), event).ok_or_else(|| E::InvalidTransition {
        from: r.status.clone(),
        to: event.as_str(),
    })
}

/// Moves the resolution from the state it was read in; refused if someone moved it first.
async fn move_to<C: ConnectionTrait>(
    txn: &C,
    r: &resolution::Model,
    event: Event,
    mut set: Vec<(resolution::Column, sea_orm::Value)>,
) -> Result<ResolutionStatus> {
    let to = transition(r, event)?;
    let mut update = resolution::Entity::update_many()
        .col_expr(resolution::Column::Status, Expr::value(to.as_str()))
        .col_expr(resolution::Column::UpdatedAt, Expr::value(clock::now()));
    for (col, value) in set.drain(..) {
        update = update.col_expr(col, Expr::value(value));
    }
    let done = update
        .filter(resolution::Column::Id.eq(r.id))
        .filter(resolution::Column::Status.eq(r.status.clone()))
        .exec(txn)
        .await?;
    if done.rows_affected != 1 {
        return Err(E::InvalidTransition {
            from: r.status.clone(),
            to: event.as_str(),
        });
    }
    Ok(to)
}

pub(super) async fn record<C: ConnectionTrait>(
    txn: &C,
    actor: Option<Uuid>,
    action: &str,
    id: Uuid,
    summary: serde_json::Value,
) -> Result<()> {
    audit::record(
        txn,
        Change {
            actor,
            action,
            object_type: "resolution",
            object_id: id.to_string(),
            summary,
        },
    )
    .await?;
    Ok(())
}

pub(super) async fn load<C: ConnectionTrait>(db: &C, id: Uuid) -> Result<resolution::Model> {
    resolution::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(E::NotFound)
}

// ---------------------------------------------------------------- settings

pub async fn settings_of<C: ConnectionTrait>(
    db: &C,
    community_id: Uuid,
) -> Result<ResolutionSettingsView> {
    let found = resolution_setting::Entity::find_by_id(community_id)
        .one(db)
        .await?;
    Ok(match found {
        Some(s) => ResolutionSettingsView {
            community_id,
            disclosure_days: s.disclosure_days,
            review_budget_fen: s.review_budget_fen,
            rating_days: s.rating_days,
        },
        None => ResolutionSettingsView {
            community_id,
            disclosure_days: DEFAULT_DISCLOSURE_DAYS,
            review_budget_fen: DEFAULT_REVIEW_BUDGET_FEN,
            rating_days: DEFAULT_RATING_DAYS,
        },
    })
}

pub async fn get_settings(state: &AppState, community_id: Uuid) -> Result<ResolutionSettingsView> {
    load_community(&state.db.conn, community_id).await?;
    settings_of(&state.db.conn, community_id).await
}

pub async fn update_settings(
    state: &AppState,
    actor: &Actor,
    community_id: Uuid,
    req: ResolutionSettingsRequest,
) -> Result<ResolutionSettingsView> {
    let txn = state.db.write().await?;
    load_community(&*txn, community_id).await?;
    let scope = scope_of(&*txn, community_id).await?;
    if !allows(actor, Action::Moderate, Some(&scope)) {
        return Err(E::Forbidden(
            "Only the community's committee sets its resolution rules.".into(),
        ));
    }
    let before = settings_of(&*txn, community_id).await?;
    let model = resolution_setting::ActiveModel {
        community_id: Set(community_id),
        disclosure_days: Set(req.disclosure_days),
        review_budget_fen: Set(req.review_budget_fen),
        rating_days: Set(req.rating_days),
        updated_at: Set(clock::now()),
    };
    if resolution_setting::Entity::find_by_id(community_id)
        .one(&*txn)
        .await?
        .is_some()
    {
        model.update(&*txn).await?;
    } else {
        model.insert(&*txn).await?;
    }
    audit::record(&*txn, Change {
        actor: Some(actor.id()),
        action: "community.resolution_rules_changed",
        object_type: "place",
        object_id: community_id.to_string(),
        summary: json!({
            "before": { "disclosure_days": before.disclosure_days, "review_budget_fen": before.review_budget_fen, "rating_days": before.rating_days },
            "after": { "disclosure_days": req.disclosure_days, "review_budget_fen": req.review_budget_fen, "rating_days": req.rating_days },
        }),
    })
    .await?;
    txn.commit().await?;
    settings_of(&state.db.conn, community_id).await
}

// ---------------------------------------------------------------- who may do what

/// What one actor is to one resolution.
#[derive(Default)]
struct Standing {
    committee: bool,
    reviewer: bool,
    evaluator: bool,
    responsible: bool,
    resident: bool,
    member: bool,
}

impl Standing {
    fn of(actor: Option<&Actor>, r: &resolution::Model, scope: &PlaceScope) -> Self {
        let Some(a) = actor else {
            return Self::default();
        };
        let community = r.community_id;
        Self {
            committee: allows(a, Action::Moderate, Some(scope)),
            reviewer: allows(a, Action::ReviewResolution, Some(scope)),
            evaluator: allows(a, Action::EvaluateResolution, Some(scope)),
            responsible: r
                .responsible_org_id
                .is_some_and(|org| a.affiliations.iter().any(|x| x.organisation_id == org)),
            resident: a.email_verified()
                && (a.holds_at(Role::Resident, community) || a.holds_at(Role::Owner, community)),
            member: a.is_member_of(scope) || allows(a, Action::ViewDashboard, Some(scope)),
        }
    }

    /// Sees the full resolution (names included), drafts too.
    fn insider(&self) -> bool {
        self.committee || self.reviewer || self.responsible
    }

    /// Sees names and the objections' reasons once it is public.
    fn full(&self) -> bool {
        self.insider() || self.member || self.evaluator
    }
}

/// Loads a resolution the actor may see, and what they are to it. Drafts are visible only to
/// insiders; from taking effect on, to everyone (members see more).
async fn load_visible<C: ConnectionTrait>(
    db: &C,
    actor: Option<&Actor>,
    id: Uuid,
) -> Result<(resolution::Model, Standing)> {
    let r = load(db, id).await?;
    let scope = scope_of(db, r.community_id).await?;
    let standing = Standing::of(actor, &r, &scope);
    if !status_of(&r).is_public() && !standing.insider() {
        return Err(E::NotFound);
    }
    Ok((r, standing))
}

async fn require_committee<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    r: &resolution::Model,
) -> Result<()> {
    let scope = scope_of(db, r.community_id).await?;
    if allows(actor, Action::Moderate, Some(&scope)) {
        Ok(())
    } else {
        Err(E::Forbidden(
            "Only the community's committee manages its resolutions.".into(),
        ))
    }
}

fn require_responsible(actor: &Actor, r: &resolution::Model) -> Result<()> {
    let ok = r
        .responsible_org_id
        .is_some_and(|org| actor.affiliations.iter().any(|a| a.organisation_id == org));
    if ok || actor.is_admin() {
        Ok(())
    } else {
        Err(E::Forbidden(
            "Only members of the responsible organisation report on this resolution.".into(),
        ))
    }
}

fn require_resident(actor: &Actor, r: &resolution::Model) -> Result<()> {
    let c = r.community_id;
    if actor.email_verified()
        && (actor.holds_at(Role::Resident, c) || actor.holds_at(Role::Owner, c))
    {
        Ok(())
    } else {
        Err(E::Forbidden(
            "Only verified residents of this community may do this.".into(),
        ))
    }
}

// ---------------------------------------------------------------- creating and editing

async fn check_org<C: ConnectionTrait>(db: &C, org_id: Uuid, community: Uuid) -> Result<()> {
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

fn check_dates(deadline: Option<NaiveDate>, milestones: &[MilestoneInput]) -> Result<()> {
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

async fn write_milestones<C: ConnectionTrait>(
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
struct Origin {
    origin: ResolutionOrigin,
    community_id: Uuid,
    poll_id: Option<Uuid>,
    session_id: Option<Uuid>,
    agenda_item_id: Option<Uuid>,
    proposal_id: Option<Uuid>,
}

async fn origin_for<C: ConnectionTrait>(db: &C, req: &CreateResolutionRequest) -> Result<Origin> {
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
async fn may_create<C: ConnectionTrait>(db: &C, actor: &Actor, o: &Origin) -> Result<bool> {
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

// ---------------------------------------------------------------- review and taking effect

/// Why this resolution needs legal review, or `None` when it does not.
fn review_rule(r: &resolution::Model, settings: &ResolutionSettingsView) -> Option<String> {
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

// ---------------------------------------------------------------- objections

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
pub(super) async fn insert_objection<C: ConnectionTrait>(
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
async fn start_if_due(state: &AppState, id: Uuid) -> Result<bool> {
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

// ---------------------------------------------------------------- tracking

fn link(state: &AppState, id: Uuid) -> String {
    state.link(&format!("/#/resolutions/{id}"))
}

async fn org_name<C: ConnectionTrait>(db: &C, id: Option<Uuid>) -> Result<Option<String>> {
    let Some(id) = id else { return Ok(None) };
    Ok(organisation::Entity::find_by_id(id)
        .one(db)
        .await?
        .map(|o| o.name))
}

/// Queues mail to the resolution's followers about a progress update (or, with `None`, an
/// end: cancelled or completed).
async fn org_names<C: ConnectionTrait>(
    db: &C,
    mut ids: Vec<Uuid>,
) -> Result<HashMap<Uuid, String>> {
    ids.sort();
    ids.dedup();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(organisation::Entity::find()
        .filter(organisation::Column::Id.is_in(ids))
        .all(db)
        .await?
        .into_iter()
        .map(|o| (o.id, o.name))
        .collect())
}

async fn mail_followers<C: ConnectionTrait>(
    state: &AppState,
    txn: &C,
    r: &resolution::Model,
    update: Option<(&str, i32, &str)>,
) -> Result<()> {
    let followers: Vec<Uuid> = resolution_follower::Entity::find()
        .select_only()
        .column(resolution_follower::Column::UserId)
        .filter(resolution_follower::Column::ResolutionId.eq(r.id))
        .into_tuple()
        .all(txn)
        .await?;
    if followers.is_empty() {
        return Ok(());
    }
    let org = org_name(txn, r.responsible_org_id)
        .await?
        .unwrap_or_default();
    let url = link(state, r.id);
    let people = user::Entity::find()
        .filter(user::Column::Id.is_in(followers))
        .filter(user::Column::DeletedAt.is_null())
        .all(txn)
        .await?;
    let rows = people
        .into_iter()
        .map(|u| {
            let (who, percent, text) = match update {
                Some((who, percent, text)) => (who.to_string(), percent, text.to_string()),
                None => (
                    org.clone(),
                    r.progress,
                    status_words(&u.language, &r.status),
                ),
            };
            let mail = templates::resolution_update(
                &u.language,
                &u.display_name,
                &r.title,
                &who,
                percent,
                &text,
                &url,
            );
            notifications::Recipient {
                user_id: u.id,
                email: u.email,
                mail,
            }
        })
        .collect();
    notifications::notify_many(
        state,
        txn,
        notifications::Kind::ResolutionUpdate,
        Some(r.id),
        rows,
    )
    .await?;
    Ok(())
}

fn status_words(language: &str, status: &str) -> String {
    let zh = language != "en";
    match (status, zh) {
        ("completed", true) => "决议已办结。".into(),
        ("completed", false) => "The resolution is completed.".into(),
        ("cancelled", true) => "决议已取消。".into(),
        ("cancelled", false) => "The resolution was cancelled.".into(),
        (s, _) => s.to_string(),
    }
}

fn require_in_progress(r: &resolution::Model) -> Result<()> {
    if matches!(
        status_of(r),
        ResolutionStatus::InProgress | ResolutionStatus::Overdue
    ) {
        Ok(())
    } else {
        Err(E::Conflict(
            "not_in_progress",
            "Progress is reported while the resolution is being carried out.".into(),
        ))
    }
}

/// A file from the update form, checked.
pub struct IncomingFile {
    pub file_name: String,
    pub bytes: Vec<u8>,
}

fn check_files(files: &[IncomingFile]) -> Result<Vec<&'static str>> {
    if files.len() > MAX_FILES {
        return Err(E::Invalid(
            "too_many_files",
            format!("At most {MAX_FILES} files per update."),
        ));
    }
    files
        .iter()
        .map(|f| {
            if f.bytes.len() > MAX_FILE_BYTES {
                return Err(E::TooLarge(format!(
                    "\"{}\" is larger than {} MiB.",
                    f.file_name,
                    MAX_FILE_BYTES / (1024 * 1024)
                )));
            }
            if f.bytes.is_empty() {
                return Err(E::Invalid(
                    "empty_file",
                    format!("\"{}\" is empty.", f.file_name),
                ));
            }
            sniff(&f.bytes).ok_or_else(|| {
                E::UnsupportedType(format!(
                    "\"{}\" is not a PNG, JPEG or WebP image or a PDF.",
                    f.file_name
                ))
            })
        })
        .collect()
}

pub fn safe_name(raw: &str) -> String {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = base
        .chars()
        .filter(|c| !c.is_control() && !matches!(c, '"' | '<' | '>'))
        .take(120)
        .collect();
    if cleaned.trim().is_empty() {
        "evidence".into()
    } else {
        cleaned.trim().to_string()
    }
}

/// The responsible party reports progress with evidence. Files are stored first, then the
/// update is committed; if the commit fails the stored files are removed, so nothing is left
/// half-written.
pub async fn post_update(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
    body: &str,
    percent: i32,
    files: Vec<IncomingFile>,
) -> Result<ProgressUpdateView> {
    let body = clean("body_required", body, 10000, "update")?;
    if !(0..=100).contains(&percent) {
        return Err(E::Invalid(
            "invalid_percent",
            "The percentage is between 0 and 100.".into(),
        ));
    }
    let r = load(&state.db.conn, id).await?;
    require_responsible(actor, &r)?;
    require_in_progress(&r)?;
    let types = check_files(&files)?;
    let mut stored: Vec<(Uuid, String, &'static str, &IncomingFile)> = Vec::new();
    for (file, content_type) in files.iter().zip(types) {
        let key = Uuid::new_v4().to_string();
        if let Err(e) = state.evidence.put(&key, &file.bytes).await {
            remove_stored(state, &stored).await;
            return Err(storage_error(e));
        }
        stored.push((Uuid::new_v4(), key, content_type, file));
    }
    let written = write_update(state, actor, &r, &body, percent, &stored).await;
    if written.is_err() {
        remove_stored(state, &stored).await;
    }
    let update_id = written?;
    state.mail_wake.notify_one();
    let views = updates_of(&state.db.conn, &r, true).await?;
    views
        .into_iter()
        .find(|u| u.id == update_id)
        .ok_or(E::NotFound)
}

fn storage_error(e: std::io::Error) -> E {
    if e.kind() == std::io::ErrorKind::StorageFull {
        E::StorageFull(e.to_string())
    } else {
        E::Storage(e)
    }
}

async fn remove_stored(state: &AppState, stored: &[(Uuid, String, &'static str, &IncomingFile)]) {
    for (_, key, _, _) in stored {
        if let Err(e) = state.evidence.delete(key).await {
            tracing::warn!(error = %e, "could not remove an evidence file after a failed update");
        }
    }
}

async fn write_update(
    state: &AppState,
    actor: &Actor,
    r: &resolution::Model,
    body: &str,
    percent: i32,
    stored: &[(Uuid, String, &'static str, &IncomingFile)],
) -> Result<Uuid> {
    let txn = state.db.write().await?;
    let r = load(&*txn, r.id).await?;
    require_in_progress(&r)?;
    let org = r.responsible_org_id.ok_or(E::Missing("organisation"))?;
    let now = clock::now();
    let update_id = Uuid::new_v4();
    resolution_update::ActiveModel {
        id: Set(update_id),
        resolution_id: Set(r.id),
        organisation_id: Set(org),
        author_id: Set(actor.id()),
        body: Set(body.to_string()),
        percent: Set(percent),
        created_at: Set(now),
    }
    .insert(&*txn)
    .await?;
    let mut hashes = Vec::new();
    for (eid, key, content_type, file) in stored {
        let sha = hex::encode(Sha256::digest(&file.bytes));
        hashes.push(sha.clone());
        evidence_file::ActiveModel {
            id: Set(*eid),
            resolution_id: Set(r.id),
            update_id: Set(update_id),
            file_name: Set(safe_name(&file.file_name)),
            content_type: Set((*content_type).into()),
            size: Set(file.bytes.len() as i64),
            sha256: Set(sha),
            storage_key: Set(key.clone()),
            created_at: Set(now),
        }
        .insert(&*txn)
        .await?;
    }
    resolution::Entity::update_many()
        .col_expr(resolution::Column::Progress, Expr::value(percent))
        .col_expr(resolution::Column::UpdatedAt, Expr::value(now))
        .filter(resolution::Column::Id.eq(r.id))
        .exec(&*txn)
        .await?;
    record(
        &*txn,
        Some(actor.id()),
        "resolution.update",
        r.id,
        json!({ "update_id": update_id, "percent": percent, "evidence_sha256": hashes }),
    )
    .await?;
    let who = org_name(&*txn, Some(org)).await?.unwrap_or_default();
    mail_followers(state, &*txn, &r, Some((&who, percent, body))).await?;
    txn.commit().await?;
    Ok(update_id)
}

pub async fn milestone_done(
    state: &AppState,
    actor: &Actor,
    milestone_id: Uuid,
) -> Result<ResolutionView> {
    let txn = state.db.write().await?;
    let m = resolution_milestone::Entity::find_by_id(milestone_id)
        .one(&*txn)
        .await?
        .ok_or(E::Missing("milestone"))?;
    let r = load(&*txn, m.resolution_id).await?;
    require_responsible(actor, &r)?;
    require_in_progress(&r)?;
    let done = resolution_milestone::Entity::update_many()
        .col_expr(
            resolution_milestone::Column::DoneAt,
            Expr::value(Some(clock::now())),
        )
        .col_expr(
            resolution_milestone::Column::DoneBy,
            Expr::value(Some(actor.id())),
        )
        .filter(resolution_milestone::Column::Id.eq(milestone_id))
        .filter(resolution_milestone::Column::DoneAt.is_null())
        .exec(&*txn)
        .await?;
    if done.rows_affected != 1 {
        return Err(E::Conflict(
            "milestone_done",
            "This milestone is already done.".into(),
        ));
    }
    record(
        &*txn,
        Some(actor.id()),
        "milestone.done",
        r.id,
        json!({ "milestone_id": milestone_id, "title": m.title }),
    )
    .await?;
    txn.commit().await?;
    get(state, Some(actor), r.id).await
}

pub async fn complete(state: &AppState, actor: &Actor, id: Uuid) -> Result<ResolutionView> {
    let txn = state.db.write().await?;
    let r = load(&*txn, id).await?;
    let scope = scope_of(&*txn, r.community_id).await?;
    if require_responsible(actor, &r).is_err() && !allows(actor, Action::Moderate, Some(&scope)) {
        return Err(E::Forbidden(
            "The responsible organisation or the committee marks a resolution completed.".into(),
        ));
    }
    let open = resolution_milestone::Entity::find()
        .filter(resolution_milestone::Column::ResolutionId.eq(id))
        .filter(resolution_milestone::Column::DoneAt.is_null())
        .count(&*txn)
        .await?;
    transition(&r, Event::Complete)?;
    if open > 0 {
        return Err(E::Conflict(
            "milestones_open",
            format!("{open} milestone(s) are not done yet."),
        ));
    }
    let settings = settings_of(&*txn, r.community_id).await?;
    let now = clock::now();
    move_to(
        &*txn,
        &r,
        Event::Complete,
        vec![
            (resolution::Column::CompletedAt, Some(now).into()),
            (resolution::Column::Progress, 100.into()),
            (
                resolution::Column::RatingClosesAt,
                Some(now + Duration::days(i64::from(settings.rating_days))).into(),
            ),
        ],
    )
    .await?;
    record(
        &*txn,
        Some(actor.id()),
        "resolution.completed",
        id,
        json!({ "on_time": r.due_at.is_none_or(|due| now < due) }),
    )
    .await?;
    let r = load(&*txn, id).await?;
    mail_followers(state, &*txn, &r, None).await?;
    txn.commit().await?;
    state.mail_wake.notify_one();
    get(state, Some(actor), id).await
}

// ---------------------------------------------------------------- following, rating, evaluating

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

// ---------------------------------------------------------------- the scheduler

/// Starts resolutions whose disclosure ended, and marks overdue resolutions and milestones,
/// mailing the responsible party and the committee in the same transaction as the mark. Every
/// step is a conditional update, so several processes may run this at once and each email
/// goes out once.
pub async fn run_due(state: &AppState) -> Result<usize> {
    let now = clock::now();
    let mut done = 0;
    let disclosed: Vec<Uuid> = resolution::Entity::find()
        .select_only()
        .column(resolution::Column::Id)
        .filter(resolution::Column::Status.eq(ResolutionStatus::Disclosure.as_str()))
        .filter(resolution::Column::DisclosureEndsAt.lte(now))
        .limit(100)
        .into_tuple()
        .all(&state.db.conn)
        .await?;
    for id in disclosed {
        if start_if_due(state, id).await? {
            done += 1;
        }
    }
    let late = resolution::Entity::find()
        .filter(resolution::Column::Status.eq(ResolutionStatus::InProgress.as_str()))
        .filter(resolution::Column::DueAt.lte(now))
        .limit(100)
        .all(&state.db.conn)
        .await?;
    for r in late {
        let txn = state.db.write().await?;
        match move_to(
            &*txn,
            &r,
            Event::DeadlinePassed,
            vec![(resolution::Column::OverdueAt, Some(now).into())],
        )
        .await
        {
            Ok(_) => {}
            Err(E::InvalidTransition { .. }) => continue,
            Err(e) => return Err(e),
        }
        record(
            &*txn,
            None,
            "resolution.overdue",
            r.id,
            json!({ "deadline": r.deadline }),
        )
        .await?;
        mail_overdue(state, &*txn, &r, None).await?;
        txn.commit().await?;
        done += 1;
    }
    let milestones = resolution_milestone::Entity::find()
        .filter(resolution_milestone::Column::DueAt.lte(now))
        .filter(resolution_milestone::Column::DoneAt.is_null())
        .filter(resolution_milestone::Column::OverdueAt.is_null())
        .limit(200)
        .all(&state.db.conn)
        .await?;
    for m in milestones {
        let txn = state.db.write().await?;
        let r = load(&*txn, m.resolution_id).await?;
        if !matches!(
            status_of(&r),
            ResolutionStatus::InProgress | ResolutionStatus::Overdue
        ) {
            continue;
        }
        let marked = resolution_milestone::Entity::update_many()
            .col_expr(
                resolution_milestone::Column::OverdueAt,
                Expr::value(Some(now)),
            )
            .filter(resolution_milestone::Column::Id.eq(m.id))
            .filter(resolution_milestone::Column::OverdueAt.is_null())
            .filter(resolution_milestone::Column::DoneAt.is_null())
            .exec(&*txn)
            .await?;
        if marked.rows_affected != 1 {
            continue;
        }
        record(
            &*txn,
            None,
            "milestone.overdue",
            r.id,
            json!({ "milestone_id": m.id, "title": m.title }),
        )
        .await?;
        mail_overdue(state, &*txn, &r, Some(&m)).await?;
        txn.commit().await?;
        done += 1;
    }
    if done > 0 {
        state.mail_wake.notify_one();
    }
    Ok(done)
}

/// Members of the responsible organisation and the community's committee.
async fn accountable_people<C: ConnectionTrait>(
    txn: &C,
    r: &resolution::Model,
) -> Result<Vec<user::Model>> {
    let mut ids: Vec<Uuid> = Vec::new();
    if let Some(org) = r.responsible_org_id {
        ids.extend(
            organisation_member::Entity::find()
                .select_only()
                .column(organisation_member::Column::UserId)
                .filter(organisation_member::Column::OrganisationId.eq(org))
                .into_tuple::<Uuid>()
                .all(txn)
                .await?,
        );
    }
    ids.extend(
        role_grant::Entity::find()
            .select_only()
            .column(role_grant::Column::UserId)
            .filter(role_grant::Column::PlaceId.eq(r.community_id))
            .filter(role_grant::Column::Role.is_in([
                Role::CommitteeMember.as_str(),
                Role::PartySecretary.as_str(),
            ]))
            .into_tuple::<Uuid>()
            .all(txn)
            .await?,
    );
    ids.sort();
    ids.dedup();
    Ok(user::Entity::find()
        .filter(user::Column::Id.is_in(ids))
        .filter(user::Column::DeletedAt.is_null())
        .all(txn)
        .await?)
}

async fn mail_overdue<C: ConnectionTrait>(
    state: &AppState,
    txn: &C,
    r: &resolution::Model,
    milestone: Option<&resolution_milestone::Model>,
) -> Result<()> {
    let url = link(state, r.id);
    let deadline = match milestone {
        Some(m) => m.deadline.clone(),
        None => r.deadline.clone().unwrap_or_default(),
    };
    let rows = accountable_people(txn, r)
        .await?
        .into_iter()
        .map(|u| {
            let mail = templates::resolution_overdue(
                &u.language,
                &u.display_name,
                &r.title,
                milestone.map(|m| m.title.as_str()),
                &deadline,
                &url,
            );
            notifications::Recipient {
                user_id: u.id,
                email: u.email,
                mail,
            }
        })
        .collect();
    notifications::notify_many(
        state,
        txn,
        notifications::Kind::ResolutionOverdue,
        Some(milestone.map_or(r.id, |m| m.id)),
        rows,
    )
    .await?;
    Ok(())
}

// ---------------------------------------------------------------- reading

async fn names<C: ConnectionTrait>(db: &C, ids: Vec<Uuid>) -> Result<HashMap<Uuid, String>> {
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

async fn updates_of<C: ConnectionTrait>(
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

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

async fn ratings_of<C: ConnectionTrait>(
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
    let helped: Vec<(i32, Option<String>)> = super::assisted::ratings(db, r.id).await?;
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

async fn timeline_of<C: ConnectionTrait>(
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
    for (at, event, detail) in crate::contracts::delivery::resolution_timeline(db, r.id).await? {
        out.push(entry(at, event, detail));
    }
    out.sort_by_key(|e| e.at);
    Ok(out)
}

async fn view<C: ConnectionTrait>(
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

async fn summaries<C: ConnectionTrait>(
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
