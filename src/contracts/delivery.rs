//! Contracts: signed after the award, with milestones the provider reports on and the officer
//! accepts (recording the payment) or returns; versioned amendments; termination with a
//! reason; a third-party evaluation of the performance at the end, which feeds the provider's
//! profile; the milestones also appear on the linked resolutions' timelines.

use chrono::NaiveDate;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
    SqlErr,
};
use serde_json::json;
use uuid::Uuid;

use super::error::ContractsError as E;
use super::files;
use super::model::*;
use super::ocds;
use super::service::{
    Result, clean, is_officer, load_tender, notify_members, record, represents, resolutions_of,
    status_of,
};
use crate::clock;
use crate::communities::service::scope_of;
use crate::entities::{
    bid, contract, contract_amendment, contract_milestone, organisation, tender,
};
use crate::notifications::{self, templates};
use crate::policy::{Actor, Role};
use crate::state::AppState;

pub async fn load<C: ConnectionTrait>(db: &C, id: Uuid) -> Result<contract::Model> {
    contract::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(E::Missing("contract"))
}

async fn require_officer<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    c: &contract::Model,
) -> Result<tender::Model> {
    let t = load_tender(db, c.tender_id).await?;
    if !is_officer(actor, &scope_of(db, t.place_id).await?) {
        return Err(E::Forbidden(
            "Only a government officer of the buyer manages the contract.".into(),
        ));
    }
    Ok(t)
}

fn require_active(c: &contract::Model) -> Result<()> {
    if c.status != "active" {
        return Err(E::Conflict(
            "contract_ended",
            format!("The contract is {}.", c.status),
        ));
    }
    Ok(())
}

fn link(state: &AppState, id: Uuid) -> String {
    state.link(&format!("/#/contracts/{id}"))
}

pub async fn create(
    state: &AppState,
    actor: &Actor,
    tender_id: Uuid,
    req: CreateContractRequest,
) -> Result<ContractView> {
    if req.value_fen <= 0 {
        return Err(E::Invalid(
            "invalid_value",
            "The contract value is a positive amount in fen.".into(),
        ));
    }
    if req.period_end < req.period_start {
        return Err(E::Invalid(
            "invalid_period",
            "The period ends on or after it starts.".into(),
        ));
    }
    if req.milestones.is_empty() || req.milestones.len() > 50 {
        return Err(E::Invalid(
            "invalid_milestones",
            "A contract has 1 to 50 milestones.".into(),
        ));
    }
    let mut milestones = Vec::new();
    for m in &req.milestones {
        if m.amount_fen < 0 || m.due_date < req.period_start || m.due_date > req.period_end {
            return Err(E::Invalid(
                "invalid_milestones",
                "Each milestone falls within the period and pays a non-negative amount.".into(),
            ));
        }
        milestones.push((
            clean(
                "milestone_title_required",
                &m.title,
                200,
                "milestone's title",
            )?,
            clean("deliverable_required", &m.deliverable, 4000, "deliverable")?,
            m,
        ));
    }
    if req.milestones.iter().map(|m| m.amount_fen).sum::<i64>() > req.value_fen {
        return Err(E::Invalid(
            "milestones_over_value",
            "The milestones' payments add up to more than the contract value.".into(),
        ));
    }
    let txn = state.db.write().await?;
    let t = load_tender(&*txn, tender_id).await?;
    if !is_officer(actor, &scope_of(&*txn, t.place_id).await?) {
        return Err(E::Forbidden(
            "Only a government officer of the buyer signs the contract.".into(),
        ));
    }
    if status_of(&t) != TenderStatus::Awarded {
        return Err(E::Conflict(
            "not_awarded",
            "A contract follows a made award.".into(),
        ));
    }
    let b = bid::Entity::find_by_id(t.award_bid_id.ok_or(E::Missing("award"))?)
        .one(&*txn)
        .await?
        .ok_or(E::Missing("bid"))?;
    if req.value_fen > t.budget_fen {
        return Err(E::Invalid(
            "invalid_value",
            "The contract value cannot exceed the budget ceiling.".into(),
        ));
    }
    let now = clock::now();
    let award_day = t.awarded_at.map(clock::local_day);
    if award_day.is_some_and(|d| req.signed_on < d) || req.signed_on > clock::local_day(now) {
        return Err(E::Invalid(
            "invalid_signing_date",
            "A contract is signed on or after the day of its award, and not after today.".into(),
        ));
    }
    let id = Uuid::new_v4();
    let inserted = contract::ActiveModel {
        id: Set(id),
        tender_id: Set(t.id),
        organisation_id: Set(b.organisation_id),
        bid_id: Set(b.id),
        title: Set(t.title.clone()),
        value_fen: Set(req.value_fen),
        period_start: Set(req.period_start.to_string()),
        period_end: Set(req.period_end.to_string()),
        signed_on: Set(req.signed_on.to_string()),
        status: Set("active".into()),
        version: Set(1),
        end_reason: Set(None),
        performance_score: Set(None),
        performance_comment: Set(None),
        evaluated_by: Set(None),
        evaluated_at: Set(None),
        created_by: Set(actor.id()),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&*txn)
    .await;
    match inserted {
        Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
            return Err(E::Conflict(
                "contract_exists",
                "This tender already has its contract.".into(),
            ));
        }
        other => other?,
    };
    for (i, (title, deliverable, m)) in milestones.into_iter().enumerate() {
        contract_milestone::ActiveModel {
            id: Set(Uuid::new_v4()),
            contract_id: Set(id),
            position: Set(i as i32),
            title: Set(title),
            deliverable: Set(deliverable),
            due_date: Set(m.due_date.to_string()),
            amount_fen: Set(m.amount_fen),
            status: Set("pending".into()),
            report: Set(None),
            reported_by: Set(None),
            reported_at: Set(None),
            decision_reason: Set(None),
            decided_by: Set(None),
            decided_at: Set(None),
            paid_fen: Set(None),
            paid_at: Set(None),
        }
        .insert(&*txn)
        .await?;
    }
    record(
        &*txn,
        Some(actor.id()),
        "contract.signed",
        "contract",
        id,
        json!({ "tender_id": t.id, "value_fen": req.value_fen, "signed_on": req.signed_on }),
    )
    .await?;
    ocds::release(state, &*txn, t.id, &["contract"]).await?;
    txn.commit().await?;
    get(state, Some(actor), id).await
}

async fn load_milestone<C: ConnectionTrait>(
    db: &C,
    contract_id: Uuid,
    milestone_id: Uuid,
) -> Result<contract_milestone::Model> {
    contract_milestone::Entity::find_by_id(milestone_id)
        .filter(contract_milestone::Column::ContractId.eq(contract_id))
        .one(db)
        .await?
        .ok_or(E::Missing("milestone"))
}

pub async fn report(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
    milestone_id: Uuid,
    req: ReportMilestoneRequest,
) -> Result<ContractView> {
    let text = clean("report_required", &req.report, 10000, "report")?;
    let checked = files::check(&req.files)?;
    {
        let c = load(&state.db.conn, id).await?;
        if !represents(&state.db.conn, actor, c.organisation_id).await? {
            return Err(E::Forbidden(
                "The provider's representatives report on milestones.".into(),
            ));
        }
    }
    let keys = files::store(state, &checked).await?;
    let written = write_report(state, actor, id, milestone_id, &text, &checked, &keys).await;
    if written.is_err() {
        files::discard(state, &keys).await;
    }
    written?;
    get(state, Some(actor), id).await
}

async fn write_report(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
    milestone_id: Uuid,
    text: &str,
    checked: &[files::Checked],
    keys: &[String],
) -> Result<()> {
    let txn = state.db.write().await?;
    let c = load(&*txn, id).await?;
    require_active(&c)?;
    load_milestone(&*txn, id, milestone_id).await?;
    let done = contract_milestone::Entity::update_many()
        .col_expr(contract_milestone::Column::Status, Expr::value("reported"))
        .col_expr(
            contract_milestone::Column::Report,
            Expr::value(Some(text.to_string())),
        )
        .col_expr(
            contract_milestone::Column::ReportedBy,
            Expr::value(Some(actor.id())),
        )
        .col_expr(
            contract_milestone::Column::ReportedAt,
            Expr::value(Some(clock::now())),
        )
        .filter(contract_milestone::Column::Id.eq(milestone_id))
        .filter(contract_milestone::Column::Status.is_in(["pending", "returned"]))
        .exec(&*txn)
        .await?;
    if done.rows_affected != 1 {
        return Err(E::Conflict(
            "milestone_not_open",
            "This milestone is reported already or accepted.".into(),
        ));
    }
    files::record(
        &*txn,
        c.tender_id,
        "milestone",
        milestone_id,
        checked,
        keys,
        actor.id(),
    )
    .await?;
    record(
        &*txn,
        Some(actor.id()),
        "milestone.reported",
        "contract",
        id,
        json!({ "milestone_id": milestone_id, "evidence_sha256": checked.iter().map(|c| c.sha256.clone()).collect::<Vec<_>>() }),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

pub async fn decide(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
    milestone_id: Uuid,
    req: MilestoneDecisionRequest,
) -> Result<ContractView> {
    let reason = clean("reason_required", &req.reason, 4000, "reason")?;
    let txn = state.db.write().await?;
    let c = load(&*txn, id).await?;
    let t = require_officer(&*txn, actor, &c).await?;
    require_active(&c)?;
    let m = load_milestone(&*txn, id, milestone_id).await?;
    let now = clock::now();
    let mut update = contract_milestone::Entity::update_many()
        .col_expr(
            contract_milestone::Column::Status,
            Expr::value(if req.accept { "accepted" } else { "returned" }),
        )
        .col_expr(
            contract_milestone::Column::DecisionReason,
            Expr::value(Some(reason.clone())),
        )
        .col_expr(
            contract_milestone::Column::DecidedBy,
            Expr::value(Some(actor.id())),
        )
        .col_expr(
            contract_milestone::Column::DecidedAt,
            Expr::value(Some(now)),
        );
    if req.accept {
        update = update
            .col_expr(
                contract_milestone::Column::PaidFen,
                Expr::value(Some(m.amount_fen)),
            )
            .col_expr(contract_milestone::Column::PaidAt, Expr::value(Some(now)));
    }
    let done = update
        .filter(contract_milestone::Column::Id.eq(milestone_id))
        .filter(contract_milestone::Column::Status.eq("reported"))
        .exec(&*txn)
        .await?;
    if done.rows_affected != 1 {
        return Err(E::Conflict(
            "milestone_not_reported",
            "Only a reported milestone is accepted or returned.".into(),
        ));
    }
    record(
        &*txn,
        Some(actor.id()),
        if req.accept {
            "milestone.accepted"
        } else {
            "milestone.returned"
        },
        "contract",
        id,
        json!({ "milestone_id": milestone_id, "reason": reason, "paid_fen": req.accept.then_some(m.amount_fen) }),
    )
    .await?;
    let mut tags = vec!["implementation"];
    if req.accept {
        let open = contract_milestone::Entity::find()
            .filter(contract_milestone::Column::ContractId.eq(id))
            .filter(contract_milestone::Column::Status.ne("accepted"))
            .all(&*txn)
            .await?;
        if open.is_empty() {
            contract::Entity::update_many()
                .col_expr(contract::Column::Status, Expr::value("completed"))
                .col_expr(contract::Column::UpdatedAt, Expr::value(now))
                .filter(contract::Column::Id.eq(id))
                .filter(contract::Column::Status.eq("active"))
                .exec(&*txn)
                .await?;
            record(
                &*txn,
                Some(actor.id()),
                "contract.completed",
                "contract",
                id,
                json!({}),
            )
            .await?;
            tags.push("contractUpdate");
        }
    }
    let url = link(state, id);
    notify_members(
        state,
        &*txn,
        c.organisation_id,
        notifications::Kind::MilestoneDecision,
        id,
        |u| {
            templates::milestone_decision(
                &u.language,
                &u.display_name,
                &c.title,
                &m.title,
                req.accept,
                &reason,
                &url,
            )
        },
    )
    .await?;
    ocds::release(state, &*txn, t.id, &tags).await?;
    txn.commit().await?;
    state.mail_wake.notify_one();
    get(state, Some(actor), id).await
}

pub async fn amend(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
    req: AmendContractRequest,
) -> Result<ContractView> {
    let reason = clean("reason_required", &req.reason, 4000, "reason")?;
    let txn = state.db.write().await?;
    let c = load(&*txn, id).await?;
    let t = require_officer(&*txn, actor, &c).await?;
    require_active(&c)?;
    let mut changes = serde_json::Map::new();
    let mut m: contract::ActiveModel = c.clone().into();
    if let Some(v) = req.value_fen
        && v != c.value_fen
    {
        let paid: i64 = milestones_of(&*txn, id)
            .await?
            .iter()
            .filter_map(|m| m.paid_fen)
            .sum();
        if v <= 0 || v > t.budget_fen || v < paid {
            return Err(E::Invalid(
                "invalid_value",
                "The new value is positive, within the budget ceiling and no less than what was paid."
                    .into(),
            ));
        }
        changes.insert("value_fen".into(), json!({ "from": c.value_fen, "to": v }));
        m.value_fen = Set(v);
    }
    if let Some(end) = req.period_end
        && end.to_string() != c.period_end
    {
        let start: NaiveDate = c.period_start.parse().unwrap_or(end);
        if end < start {
            return Err(E::Invalid(
                "invalid_period",
                "The period ends on or after it starts.".into(),
            ));
        }
        changes.insert(
            "period_end".into(),
            json!({ "from": c.period_end, "to": end.to_string() }),
        );
        m.period_end = Set(end.to_string());
    }
    if changes.is_empty() {
        return Err(E::Invalid(
            "nothing_to_amend",
            "An amendment changes the value or the end of the period.".into(),
        ));
    }
    let version = c.version + 1;
    let now = clock::now();
    m.version = Set(version);
    m.updated_at = Set(now);
    m.update(&*txn).await?;
    let changes = serde_json::Value::Object(changes);
    contract_amendment::ActiveModel {
        id: Set(Uuid::new_v4()),
        contract_id: Set(id),
        version: Set(version),
        reason: Set(reason.clone()),
        changes: Set(changes.to_string()),
        created_by: Set(actor.id()),
        created_at: Set(now),
    }
    .insert(&*txn)
    .await?;
    record(
        &*txn,
        Some(actor.id()),
        "contract.amended",
        "contract",
        id,
        json!({ "version": version, "reason": reason, "changes": changes }),
    )
    .await?;
    ocds::release(state, &*txn, t.id, &["contractAmendment"]).await?;
    txn.commit().await?;
    get(state, Some(actor), id).await
}

pub async fn terminate(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
    reason: &str,
) -> Result<ContractView> {
    let reason = clean("reason_required", reason, 4000, "reason")?;
    let txn = state.db.write().await?;
    let c = load(&*txn, id).await?;
    let t = require_officer(&*txn, actor, &c).await?;
    let done = contract::Entity::update_many()
        .col_expr(contract::Column::Status, Expr::value("terminated"))
        .col_expr(
            contract::Column::EndReason,
            Expr::value(Some(reason.clone())),
        )
        .col_expr(contract::Column::UpdatedAt, Expr::value(clock::now()))
        .filter(contract::Column::Id.eq(id))
        .filter(contract::Column::Status.eq("active"))
        .exec(&*txn)
        .await?;
    if done.rows_affected != 1 {
        return Err(E::Conflict(
            "contract_ended",
            format!("The contract is {}.", c.status),
        ));
    }
    record(
        &*txn,
        Some(actor.id()),
        "contract.terminated",
        "contract",
        id,
        json!({ "reason": reason }),
    )
    .await?;
    ocds::release(state, &*txn, t.id, &["contractTermination"]).await?;
    txn.commit().await?;
    get(state, Some(actor), id).await
}

/// A third-party evaluator of the buying place scores the performance once the contract ended.
pub async fn evaluate(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
    req: EvaluateContractRequest,
) -> Result<ContractView> {
    let comment = clean("comment_required", &req.comment, 4000, "comment")?;
    if !(0..=100).contains(&req.score) {
        return Err(E::Invalid("invalid_score", "The score is 0 to 100.".into()));
    }
    let txn = state.db.write().await?;
    let c = load(&*txn, id).await?;
    let t = load_tender(&*txn, c.tender_id).await?;
    let scope = scope_of(&*txn, t.place_id).await?;
    if !actor.holds_over(Role::Evaluator, &scope) {
        return Err(E::Forbidden(
            "Only an evaluator appointed for this place scores performance.".into(),
        ));
    }
    if actor
        .affiliations
        .iter()
        .any(|a| a.organisation_id == c.organisation_id)
    {
        return Err(E::Forbidden(
            "A member of the provider cannot evaluate its contract.".into(),
        ));
    }
    let done = contract::Entity::update_many()
        .col_expr(
            contract::Column::PerformanceScore,
            Expr::value(Some(req.score)),
        )
        .col_expr(
            contract::Column::PerformanceComment,
            Expr::value(Some(comment.clone())),
        )
        .col_expr(contract::Column::EvaluatedBy, Expr::value(Some(actor.id())))
        .col_expr(
            contract::Column::EvaluatedAt,
            Expr::value(Some(clock::now())),
        )
        .filter(contract::Column::Id.eq(id))
        .filter(contract::Column::Status.is_in(["completed", "terminated"]))
        .filter(contract::Column::PerformanceScore.is_null())
        .exec(&*txn)
        .await?;
    if done.rows_affected != 1 {
        return Err(E::Conflict(
            "not_evaluable",
            "A contract is evaluated once, after it has ended.".into(),
        ));
    }
    record(
        &*txn,
        Some(actor.id()),
        "contract.evaluated",
        "contract",
        id,
        json!({ "score": req.score }),
    )
    .await?;
    txn.commit().await?;
    get(state, Some(actor), id).await
}

pub async fn milestones_of<C: ConnectionTrait>(
    db: &C,
    contract_id: Uuid,
) -> Result<Vec<contract_milestone::Model>> {
    Ok(contract_milestone::Entity::find()
        .filter(contract_milestone::Column::ContractId.eq(contract_id))
        .order_by_asc(contract_milestone::Column::Position)
        .all(db)
        .await?)
}

pub async fn amendments_of<C: ConnectionTrait>(
    db: &C,
    contract_id: Uuid,
) -> Result<Vec<contract_amendment::Model>> {
    Ok(contract_amendment::Entity::find()
        .filter(contract_amendment::Column::ContractId.eq(contract_id))
        .order_by_asc(contract_amendment::Column::Version)
        .all(db)
        .await?)
}

/// Public: contracts carry no personal data.
pub async fn get(state: &AppState, actor: Option<&Actor>, id: Uuid) -> Result<ContractView> {
    let db = &state.db.conn;
    let c = load(db, id).await?;
    let t = load_tender(db, c.tender_id).await?;
    let scope = scope_of(db, t.place_id).await?;
    let org = organisation::Entity::find_by_id(c.organisation_id)
        .one(db)
        .await?
        .ok_or(E::Missing("organisation"))?;
    let mut milestones = Vec::new();
    for m in milestones_of(db, id).await? {
        milestones.push(ContractMilestoneView {
            id: m.id,
            position: m.position,
            title: m.title,
            deliverable: m.deliverable,
            due_date: m.due_date,
            amount_fen: m.amount_fen,
            status: m.status,
            report: m.report,
            evidence: files::of_owner(db, state, m.id).await?,
            reported_at: m.reported_at,
            decision_reason: m.decision_reason,
            decided_at: m.decided_at,
            paid_fen: m.paid_fen,
            paid_at: m.paid_at,
        });
    }
    let abilities = match actor {
        Some(a) => ContractAbilities {
            manage: is_officer(a, &scope) && c.status == "active",
            report: c.status == "active" && represents(db, a, c.organisation_id).await?,
            evaluate: a.holds_over(Role::Evaluator, &scope)
                && c.status != "active"
                && c.performance_score.is_none(),
        },
        None => ContractAbilities::default(),
    };
    Ok(ContractView {
        id: c.id,
        tender_id: c.tender_id,
        tender_title: t.title,
        organisation_id: c.organisation_id,
        organisation_name: org.name,
        title: c.title,
        value_fen: c.value_fen,
        period_start: c.period_start,
        period_end: c.period_end,
        signed_on: c.signed_on,
        status: c.status,
        version: c.version,
        end_reason: c.end_reason,
        paid_fen: milestones.iter().filter_map(|m| m.paid_fen).sum(),
        milestones,
        amendments: amendments_of(db, id)
            .await?
            .into_iter()
            .map(|a| AmendmentView {
                version: a.version,
                reason: a.reason,
                changes: a.changes,
                created_at: a.created_at,
            })
            .collect(),
        performance_score: c.performance_score,
        performance_comment: c.performance_comment,
        resolution_ids: resolutions_of(db, c.tender_id).await?,
        abilities,
    })
}
