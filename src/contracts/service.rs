//! Government purchase of services: bidder profiles, tenders, enquiries, sealed bids, the
//! evaluation panel, the award with its publicity period and complaints. Contracts and their
//! milestones are in `delivery`; the public OCDS releases in `ocds`.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
    SqlErr,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::error::ContractsError as E;
use super::files::{self, SealedDocument};
use super::model::*;
use super::ocds;
use super::scoring::{self, Ratio};
use crate::audit::{self, Change};
use crate::clock;
use crate::communities::service::{load_place, scope_of};
use crate::entities::{
    bid, bid_score, bidder_profile, complaint, contract, enquiry, organisation,
    organisation_member, panel_member, place, procurement_file, qualification, resolution, tender,
    tender_criterion, tender_resolution, user,
};
use crate::notifications::{self, templates};
use crate::policy::{Actor, PlaceScope, Role};
use crate::state::AppState;

pub type Result<T> = std::result::Result<T, E>;

const MAX_BUDGET_FEN: i64 = 1_000_000_000_000;
const MAX_TENDER_DOCUMENTS: usize = 20;

pub fn clean(code: &'static str, raw: &str, max: usize, what: &str) -> Result<String> {
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

pub fn status_of(t: &tender::Model) -> TenderStatus {
    TenderStatus::parse(&t.status).unwrap_or(TenderStatus::Planned)
}

pub fn category_of(t: &tender::Model) -> ServiceCategory {
    ServiceCategory::parse(&t.category).unwrap_or(ServiceCategory::Other)
}

pub async fn record<C: ConnectionTrait>(
    txn: &C,
    actor: Option<Uuid>,
    action: &str,
    object_type: &'static str,
    id: Uuid,
    summary: serde_json::Value,
) -> Result<()> {
    audit::record(
        txn,
        Change {
            actor,
            action,
            object_type,
            object_id: id.to_string(),
            summary,
        },
    )
    .await?;
    Ok(())
}

pub async fn load_tender<C: ConnectionTrait>(db: &C, id: Uuid) -> Result<tender::Model> {
    tender::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(E::Missing("tender"))
}

async fn load_org<C: ConnectionTrait>(db: &C, id: Uuid) -> Result<organisation::Model> {
    organisation::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(E::Missing("organisation"))
}

/// The officer responsible: a government officer at the buying place or above it.
pub fn is_officer(actor: &Actor, scope: &PlaceScope) -> bool {
    actor.is_admin() || actor.holds_over(Role::GovernmentOfficer, scope)
}

async fn require_officer<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    t: &tender::Model,
) -> Result<PlaceScope> {
    let scope = scope_of(db, t.place_id).await?;
    if !is_officer(actor, &scope) {
        return Err(E::Forbidden(
            "Only a government officer of the buying subdistrict or district may do this.".into(),
        ));
    }
    Ok(scope)
}

/// A representative of the organisation speaks for it in procurement.
pub async fn represents<C: ConnectionTrait>(db: &C, actor: &Actor, org: Uuid) -> Result<bool> {
    Ok(organisation_member::Entity::find()
        .filter(organisation_member::Column::OrganisationId.eq(org))
        .filter(organisation_member::Column::UserId.eq(actor.id()))
        .filter(organisation_member::Column::Role.eq("representative"))
        .one(db)
        .await?
        .is_some())
}

async fn require_representative<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    org: Uuid,
) -> Result<()> {
    if !represents(db, actor, org).await? {
        return Err(E::Forbidden(
            "Only the organisation's representatives act for it in procurement.".into(),
        ));
    }
    Ok(())
}

fn is_member(actor: &Actor, org: Uuid) -> bool {
    actor.affiliations.iter().any(|a| a.organisation_id == org)
}

/// Members of an organisation who have not deleted their account, for mail.
pub async fn members_of<C: ConnectionTrait>(db: &C, org: Uuid) -> Result<Vec<user::Model>> {
    let ids: Vec<Uuid> = organisation_member::Entity::find()
        .filter(organisation_member::Column::OrganisationId.eq(org))
        .all(db)
        .await?
        .into_iter()
        .map(|m| m.user_id)
        .collect();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(user::Entity::find()
        .filter(user::Column::Id.is_in(ids))
        .filter(user::Column::DeletedAt.is_null())
        .all(db)
        .await?)
}

/// Notifies every member of an organisation, each with the mail `mail` writes for them.
pub async fn notify_members<C: ConnectionTrait>(
    state: &AppState,
    txn: &C,
    org: Uuid,
    kind: notifications::Kind,
    object: Uuid,
    mail: impl Fn(&user::Model) -> notifications::Mail,
) -> Result<()> {
    let recipients = members_of(txn, org)
        .await?
        .into_iter()
        .map(|u| notifications::Recipient {
            user_id: u.id,
            email: u.email.clone(),
            mail: mail(&u),
        })
        .collect();
    notifications::notify_many(state, txn, kind, Some(object), recipients).await?;
    Ok(())
}

pub fn tender_link(state: &AppState, id: Uuid) -> String {
    state.link(&format!("/#/tenders/{id}"))
}

// ------------------------------------------------------------------ bidder profiles

pub async fn profile(
    state: &AppState,
    actor: Option<&Actor>,
    org_id: Uuid,
) -> Result<BidderProfileView> {
    let db = &state.db.conn;
    let org = load_org(db, org_id).await?;
    let p = bidder_profile::Entity::find_by_id(org_id).one(db).await?;
    let quals = qualification::Entity::find()
        .filter(qualification::Column::OrganisationId.eq(org_id))
        .order_by_asc(qualification::Column::ValidUntil)
        .all(db)
        .await?;
    let today = crate::resolutions::service::today();
    let contracts = contract::Entity::find()
        .filter(contract::Column::OrganisationId.eq(org_id))
        .order_by_desc(contract::Column::CreatedAt)
        .all(db)
        .await?;
    let scored: Vec<i64> = contracts
        .iter()
        .filter_map(|c| c.performance_score.map(i64::from))
        .collect();
    let average_performance = (!scored.is_empty()).then(|| {
        Ratio::new(i128::from(scored.iter().sum::<i64>()), scored.len() as i128).to_fixed2()
    });
    let editable = match actor {
        Some(a) => a.is_admin() || represents(db, a, org_id).await?,
        None => false,
    };
    Ok(BidderProfileView {
        organisation_id: org.id,
        name: org.name,
        credit_code: org.credit_code,
        service_areas: p
            .as_ref()
            .and_then(|p| serde_json::from_str::<Vec<ServiceCategory>>(&p.service_areas).ok())
            .unwrap_or_default(),
        description: p.map(|p| p.description).unwrap_or_default(),
        qualifications: quals
            .into_iter()
            .map(|q| {
                let valid_until = q.valid_until.parse().unwrap_or(today);
                QualificationView {
                    id: q.id,
                    name: q.name,
                    issuer: q.issuer,
                    number: q.number,
                    valid_until,
                    expired: valid_until < today,
                }
            })
            .collect(),
        past_contracts: contracts
            .into_iter()
            .map(|c| PastContract {
                contract_id: c.id,
                tender_id: c.tender_id,
                title: c.title,
                value_fen: c.value_fen,
                status: c.status,
                performance_score: c.performance_score,
            })
            .collect(),
        average_performance,
        editable,
    })
}

pub async fn update_profile(
    state: &AppState,
    actor: &Actor,
    org_id: Uuid,
    req: UpdateBidderProfileRequest,
) -> Result<BidderProfileView> {
    let code = req.credit_code.trim().to_uppercase();
    if !crate::communities::register::valid_credit_code(&code) {
        return Err(E::Invalid(
            "invalid_credit_code",
            "The unified social credit code is 18 characters with a valid check character.".into(),
        ));
    }
    if req.description.chars().count() > 5000 {
        return Err(E::Invalid(
            "description_too_long",
            "The description has at most 5000 characters.".into(),
        ));
    }
    let mut areas = req.service_areas.clone();
    areas.dedup();
    let txn = state.db.write().await?;
    let org = load_org(&*txn, org_id).await?;
    if !actor.is_admin() {
        require_representative(&*txn, actor, org_id).await?;
    }
    if org.kind != "social_organisation" {
        return Err(E::Invalid(
            "not_a_social_organisation",
            "Only social organisations keep a bidder profile.".into(),
        ));
    }
    organisation::Entity::update_many()
        .col_expr(organisation::Column::CreditCode, Expr::value(code.clone()))
        .filter(organisation::Column::Id.eq(org_id))
        .exec(&*txn)
        .await?;
    let now = clock::now();
    let areas_json = serde_json::to_string(&areas).unwrap_or_else(|_| "[]".into());
    match bidder_profile::Entity::find_by_id(org_id)
        .one(&*txn)
        .await?
    {
        Some(p) => {
            let mut p: bidder_profile::ActiveModel = p.into();
            p.service_areas = Set(areas_json);
            p.description = Set(req.description.trim().to_string());
            p.updated_by = Set(actor.id());
            p.updated_at = Set(now);
            p.update(&*txn).await?;
        }
        None => {
            bidder_profile::ActiveModel {
                organisation_id: Set(org_id),
                service_areas: Set(areas_json),
                description: Set(req.description.trim().to_string()),
                updated_by: Set(actor.id()),
                updated_at: Set(now),
            }
            .insert(&*txn)
            .await?;
        }
    }
    record(
        &*txn,
        Some(actor.id()),
        "bidder_profile.updated",
        "organisation",
        org_id,
        json!({ "credit_code": code }),
    )
    .await?;
    txn.commit().await?;
    profile(state, Some(actor), org_id).await
}

pub async fn add_qualification(
    state: &AppState,
    actor: &Actor,
    org_id: Uuid,
    req: AddQualificationRequest,
) -> Result<BidderProfileView> {
    let name = clean("name_required", &req.name, 200, "qualification's name")?;
    let issuer = clean("issuer_required", &req.issuer, 200, "issuer")?;
    let number = clean("number_required", &req.number, 100, "certificate number")?;
    let txn = state.db.write().await?;
    load_org(&*txn, org_id).await?;
    if !actor.is_admin() {
        require_representative(&*txn, actor, org_id).await?;
    }
    let id = Uuid::new_v4();
    qualification::ActiveModel {
        id: Set(id),
        organisation_id: Set(org_id),
        name: Set(name.clone()),
        issuer: Set(issuer),
        number: Set(number),
        valid_until: Set(req.valid_until.to_string()),
        created_by: Set(actor.id()),
        created_at: Set(clock::now()),
    }
    .insert(&*txn)
    .await?;
    record(
        &*txn,
        Some(actor.id()),
        "qualification.added",
        "organisation",
        org_id,
        json!({ "qualification_id": id, "name": name, "valid_until": req.valid_until }),
    )
    .await?;
    txn.commit().await?;
    profile(state, Some(actor), org_id).await
}

pub async fn remove_qualification(
    state: &AppState,
    actor: &Actor,
    org_id: Uuid,
    qualification_id: Uuid,
) -> Result<BidderProfileView> {
    let txn = state.db.write().await?;
    if !actor.is_admin() {
        require_representative(&*txn, actor, org_id).await?;
    }
    let done = qualification::Entity::delete_many()
        .filter(qualification::Column::Id.eq(qualification_id))
        .filter(qualification::Column::OrganisationId.eq(org_id))
        .exec(&*txn)
        .await?;
    if done.rows_affected == 0 {
        return Err(E::Missing("qualification"));
    }
    record(
        &*txn,
        Some(actor.id()),
        "qualification.removed",
        "organisation",
        org_id,
        json!({ "qualification_id": qualification_id }),
    )
    .await?;
    txn.commit().await?;
    profile(state, Some(actor), org_id).await
}

/// Why the organisation may not bid on this tender, if it may not.
async fn ineligibility<C: ConnectionTrait>(
    db: &C,
    t: &tender::Model,
    org: &organisation::Model,
) -> Result<Option<String>> {
    if org.kind != "social_organisation" {
        return Ok(Some("Only social organisations bid for services.".into()));
    }
    if !org
        .credit_code
        .as_deref()
        .is_some_and(crate::communities::register::valid_credit_code)
    {
        return Ok(Some(
            "The organisation's profile needs a valid unified social credit code.".into(),
        ));
    }
    if let Some(required) = &t.required_qualification {
        let deadline = (t.tender_ends_at + Duration::hours(8)).date_naive();
        let held = qualification::Entity::find()
            .filter(qualification::Column::OrganisationId.eq(org.id))
            .filter(qualification::Column::Name.eq(required.clone()))
            .all(db)
            .await?
            .into_iter()
            .any(|q| {
                q.valid_until
                    .parse()
                    .is_ok_and(|d: chrono::NaiveDate| d >= deadline)
            });
        if !held {
            return Ok(Some(format!(
                "The tender requires the qualification \"{required}\", valid at the deadline."
            )));
        }
    }
    Ok(None)
}

// ------------------------------------------------------------------ tenders

struct TenderInput {
    title: String,
    description: String,
    eligibility: String,
    required_qualification: Option<String>,
    budget_fen: i64,
    /// Checked when given; an edit may leave them as they are.
    criteria: Option<Vec<CriterionInput>>,
    enquiry_ends_at: DateTime<Utc>,
    tender_ends_at: DateTime<Utc>,
    publicity_days: i32,
}

fn check_tender(i: &TenderInput) -> Result<()> {
    if !(1..=MAX_BUDGET_FEN).contains(&i.budget_fen) {
        return Err(E::Invalid(
            "invalid_budget",
            "The budget ceiling is a positive amount in fen.".into(),
        ));
    }
    if !(1..=30).contains(&i.publicity_days) {
        return Err(E::Invalid(
            "invalid_publicity_days",
            "The publicity period is 1 to 30 days.".into(),
        ));
    }
    if i.enquiry_ends_at >= i.tender_ends_at {
        return Err(E::Invalid(
            "invalid_periods",
            "Enquiries close before the tender period ends.".into(),
        ));
    }
    match &i.criteria {
        Some(c) => check_criteria(c),
        None => Ok(()),
    }
}

pub fn check_criteria(criteria: &[CriterionInput]) -> Result<()> {
    let invalid = |m: &str| Err(E::Invalid("invalid_criteria", m.to_string()));
    if criteria.iter().filter(|c| c.price).count() != 1 {
        return invalid("Exactly one criterion is the price.");
    }
    if !criteria.iter().any(|c| !c.price) {
        return invalid("At least one quality criterion is needed.");
    }
    if criteria.len() > 20 {
        return invalid("At most 20 criteria.");
    }
    if criteria.iter().any(|c| !(1..=100).contains(&c.weight)) {
        return invalid("Each weight is 1 to 100.");
    }
    if criteria.iter().map(|c| c.weight).sum::<i32>() != 100 {
        return invalid("The weights sum to 100.");
    }
    let mut names = HashSet::new();
    for c in criteria {
        let n = c.name.trim();
        if n.is_empty() || n.chars().count() > 100 || !names.insert(n.to_string()) {
            return invalid("Each criterion has a distinct name of 1 to 100 characters.");
        }
    }
    Ok(())
}

async fn write_criteria<C: ConnectionTrait>(
    txn: &C,
    tender_id: Uuid,
    criteria: &[CriterionInput],
) -> Result<()> {
    tender_criterion::Entity::delete_many()
        .filter(tender_criterion::Column::TenderId.eq(tender_id))
        .exec(txn)
        .await?;
    for (i, c) in criteria.iter().enumerate() {
        tender_criterion::ActiveModel {
            id: Set(Uuid::new_v4()),
            tender_id: Set(tender_id),
            position: Set(i as i32),
            name: Set(c.name.trim().to_string()),
            weight: Set(c.weight),
            price: Set(c.price),
        }
        .insert(txn)
        .await?;
    }
    Ok(())
}

/// Links resolutions of communities under the buying place; every one must be public.
async fn write_resolutions<C: ConnectionTrait>(
    txn: &C,
    tender_id: Uuid,
    place_id: Uuid,
    ids: &[Uuid],
) -> Result<()> {
    tender_resolution::Entity::delete_many()
        .filter(tender_resolution::Column::TenderId.eq(tender_id))
        .exec(txn)
        .await?;
    let mut seen = HashSet::new();
    for rid in ids {
        if !seen.insert(*rid) {
            continue;
        }
        let r = resolution::Entity::find_by_id(*rid)
            .one(txn)
            .await?
            .ok_or(E::Missing("resolution"))?;
        let scope = scope_of(txn, r.community_id).await?;
        if !scope.path.contains(&place_id) {
            return Err(E::Invalid(
                "resolution_elsewhere",
                "A linked resolution must be of a community under the buying place.".into(),
            ));
        }
        if matches!(
            r.status.as_str(),
            "draft" | "in_review" | "approved" | "returned" | "cancelled" | "withdrawn"
        ) {
            return Err(E::Invalid(
                "resolution_not_effective",
                "Only resolutions that have taken effect can be carried out by a procurement."
                    .into(),
            ));
        }
        tender_resolution::ActiveModel {
            id: Set(Uuid::new_v4()),
            tender_id: Set(tender_id),
            resolution_id: Set(*rid),
        }
        .insert(txn)
        .await?;
    }
    Ok(())
}

pub async fn create(
    state: &AppState,
    actor: &Actor,
    req: CreateTenderRequest,
) -> Result<TenderView> {
    let input = TenderInput {
        title: clean("title_required", &req.title, 200, "title")?,
        description: clean(
            "description_required",
            &req.description,
            20000,
            "description",
        )?,
        eligibility: clean(
            "eligibility_required",
            &req.eligibility,
            5000,
            "eligibility",
        )?,
        required_qualification: match req.required_qualification.as_deref().map(str::trim) {
            Some("") | None => None,
            Some(q) => Some(clean("invalid_qualification", q, 200, "qualification")?),
        },
        budget_fen: req.budget_fen,
        criteria: Some(req.criteria),
        enquiry_ends_at: req.enquiry_ends_at,
        tender_ends_at: req.tender_ends_at,
        publicity_days: req.publicity_days,
    };
    check_tender(&input)?;
    let txn = state.db.write().await?;
    let place = load_place(&*txn, req.place_id).await?;
    if !matches!(place.kind.as_str(), "subdistrict" | "district") {
        return Err(E::Invalid(
            "buyer_not_government",
            "The buyer is a subdistrict or a district.".into(),
        ));
    }
    let scope = scope_of(&*txn, place.id).await?;
    if !is_officer(actor, &scope) {
        return Err(E::Forbidden(
            "Only a government officer of this subdistrict or district creates procurements."
                .into(),
        ));
    }
    let now = clock::now();
    let id = Uuid::new_v4();
    tender::ActiveModel {
        id: Set(id),
        place_id: Set(place.id),
        title: Set(input.title.clone()),
        description: Set(input.description),
        category: Set(req.category.as_str().into()),
        budget_fen: Set(input.budget_fen),
        eligibility: Set(input.eligibility),
        required_qualification: Set(input.required_qualification),
        status: Set(TenderStatus::Planned.as_str().into()),
        enquiry_ends_at: Set(input.enquiry_ends_at),
        tender_ends_at: Set(input.tender_ends_at),
        publicity_days: Set(input.publicity_days),
        published_at: Set(None),
        opened_at: Set(None),
        bid_count: Set(None),
        award_bid_id: Set(None),
        award_proposed_at: Set(None),
        publicity_ends_at: Set(None),
        awarded_at: Set(None),
        ended_at: Set(None),
        end_reason: Set(None),
        created_by: Set(actor.id()),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&*txn)
    .await?;
    write_criteria(&*txn, id, input.criteria.as_deref().unwrap_or_default()).await?;
    write_resolutions(&*txn, id, place.id, &req.resolution_ids).await?;
    record(
        &*txn,
        Some(actor.id()),
        "tender.created",
        "tender",
        id,
        json!({ "title": input.title, "budget_fen": input.budget_fen }),
    )
    .await?;
    txn.commit().await?;
    get(state, Some(actor), id).await
}

pub async fn update(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
    req: UpdateTenderRequest,
) -> Result<TenderView> {
    let txn = state.db.write().await?;
    let t = load_tender(&*txn, id).await?;
    require_officer(&*txn, actor, &t).await?;
    if status_of(&t) != TenderStatus::Planned {
        return Err(E::Conflict(
            "tender_published",
            "A published tender is not edited; cancel it and publish another.".into(),
        ));
    }
    let input = TenderInput {
        title: match &req.title {
            Some(v) => clean("title_required", v, 200, "title")?,
            None => t.title.clone(),
        },
        description: match &req.description {
            Some(v) => clean("description_required", v, 20000, "description")?,
            None => t.description.clone(),
        },
        eligibility: match &req.eligibility {
            Some(v) => clean("eligibility_required", v, 5000, "eligibility")?,
            None => t.eligibility.clone(),
        },
        required_qualification: match req.required_qualification.as_deref().map(str::trim) {
            Some("") => None,
            Some(q) => Some(clean("invalid_qualification", q, 200, "qualification")?),
            None => t.required_qualification.clone(),
        },
        budget_fen: req.budget_fen.unwrap_or(t.budget_fen),
        criteria: req.criteria,
        enquiry_ends_at: req.enquiry_ends_at.unwrap_or(t.enquiry_ends_at),
        tender_ends_at: req.tender_ends_at.unwrap_or(t.tender_ends_at),
        publicity_days: req.publicity_days.unwrap_or(t.publicity_days),
    };
    check_tender(&input)?;
    let mut m: tender::ActiveModel = t.clone().into();
    m.title = Set(input.title);
    m.description = Set(input.description);
    m.eligibility = Set(input.eligibility);
    m.required_qualification = Set(input.required_qualification);
    m.budget_fen = Set(input.budget_fen);
    m.enquiry_ends_at = Set(input.enquiry_ends_at);
    m.tender_ends_at = Set(input.tender_ends_at);
    m.publicity_days = Set(input.publicity_days);
    m.updated_at = Set(clock::now());
    m.update(&*txn).await?;
    if let Some(c) = &input.criteria {
        write_criteria(&*txn, id, c).await?;
    }
    if let Some(r) = &req.resolution_ids {
        write_resolutions(&*txn, id, t.place_id, r).await?;
    }
    record(
        &*txn,
        Some(actor.id()),
        "tender.edited",
        "tender",
        id,
        json!({}),
    )
    .await?;
    txn.commit().await?;
    get(state, Some(actor), id).await
}

/// Moves the tender from the state it was read in; refused if someone moved it first.
async fn move_tender<C: ConnectionTrait>(
    txn: &C,
    t: &tender::Model,
    to: TenderStatus,
    set: Vec<(tender::Column, sea_orm::Value)>,
) -> Result<()> {
    let mut update = tender::Entity::update_many()
        .col_expr(tender::Column::Status, Expr::value(to.as_str()))
        .col_expr(tender::Column::UpdatedAt, Expr::value(clock::now()));
    for (col, value) in set {
        update = update.col_expr(col, Expr::value(value));
    }
    let done = update
        .filter(tender::Column::Id.eq(t.id))
        .filter(tender::Column::Status.eq(t.status.clone()))
        .exec(txn)
        .await?;
    if done.rows_affected != 1 {
        return Err(E::Conflict(
            "invalid_transition",
            format!("The tender is no longer {}.", t.status),
        ));
    }
    Ok(())
}

pub async fn publish(state: &AppState, actor: &Actor, id: Uuid) -> Result<TenderView> {
    let txn = state.db.write().await?;
    let t = load_tender(&*txn, id).await?;
    require_officer(&*txn, actor, &t).await?;
    if status_of(&t) != TenderStatus::Planned {
        return Err(E::Conflict(
            "invalid_transition",
            "Only a planned tender is published.".into(),
        ));
    }
    let now = clock::now();
    if t.enquiry_ends_at <= now {
        return Err(E::Invalid(
            "invalid_periods",
            "The enquiry period must end in the future; change the dates first.".into(),
        ));
    }
    move_tender(
        &*txn,
        &t,
        TenderStatus::Active,
        vec![(tender::Column::PublishedAt, Some(now).into())],
    )
    .await?;
    record(
        &*txn,
        Some(actor.id()),
        "tender.published",
        "tender",
        id,
        json!({}),
    )
    .await?;
    ocds::release(state, &*txn, id, &["tender"]).await?;
    txn.commit().await?;
    get(state, Some(actor), id).await
}

pub async fn cancel(state: &AppState, actor: &Actor, id: Uuid, reason: &str) -> Result<TenderView> {
    let reason = clean("reason_required", reason, 2000, "reason")?;
    let txn = state.db.write().await?;
    let t = load_tender(&*txn, id).await?;
    require_officer(&*txn, actor, &t).await?;
    let from = status_of(&t);
    if !matches!(
        from,
        TenderStatus::Planned | TenderStatus::Active | TenderStatus::Evaluation
    ) {
        return Err(E::Conflict(
            "invalid_transition",
            format!("A tender that is {} cannot be cancelled.", t.status),
        ));
    }
    move_tender(
        &*txn,
        &t,
        TenderStatus::Cancelled,
        vec![
            (tender::Column::EndReason, Some(reason.clone()).into()),
            (tender::Column::EndedAt, Some(clock::now()).into()),
        ],
    )
    .await?;
    record(
        &*txn,
        Some(actor.id()),
        "tender.cancelled",
        "tender",
        id,
        json!({ "reason": reason }),
    )
    .await?;
    if from != TenderStatus::Planned {
        ocds::release(state, &*txn, id, &["tenderCancellation"]).await?;
    }
    // Every organisation with a bid in is told, with the reason.
    let link = tender_link(state, id);
    for b in bidders_of(&*txn, id).await? {
        notify_members(
            state,
            &*txn,
            b.organisation_id,
            notifications::Kind::TenderCancelled,
            id,
            |u| templates::tender_cancelled(&u.language, &u.display_name, &t.title, &reason, &link),
        )
        .await?;
    }
    txn.commit().await?;
    state.mail_wake.notify_one();
    get(state, Some(actor), id).await
}

pub async fn add_documents(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
    uploads: &[FileUpload],
) -> Result<TenderView> {
    let checked = files::check(uploads)?;
    {
        let t = load_tender(&state.db.conn, id).await?;
        require_officer(&state.db.conn, actor, &t).await?;
    }
    let keys = files::store(state, &checked).await?;
    let written = write_documents(state, actor, id, &checked, &keys).await;
    if written.is_err() {
        files::discard(state, &keys).await;
    }
    written?;
    get(state, Some(actor), id).await
}

async fn write_documents(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
    checked: &[files::Checked],
    keys: &[String],
) -> Result<()> {
    let txn = state.db.write().await?;
    let t = load_tender(&*txn, id).await?;
    require_officer(&*txn, actor, &t).await?;
    let status = status_of(&t);
    if !matches!(status, TenderStatus::Planned | TenderStatus::Active) {
        return Err(E::Conflict(
            "tender_closed",
            "Documents are added before the tender period ends.".into(),
        ));
    }
    let existing = procurement_file::Entity::find()
        .filter(procurement_file::Column::OwnerId.eq(id))
        .all(&*txn)
        .await?
        .len();
    if existing + checked.len() > MAX_TENDER_DOCUMENTS {
        return Err(E::Invalid(
            "too_many_files",
            format!("A tender has at most {MAX_TENDER_DOCUMENTS} documents."),
        ));
    }
    files::record(&*txn, id, "tender", id, checked, keys, actor.id()).await?;
    record(
        &*txn,
        Some(actor.id()),
        "tender.documents_added",
        "tender",
        id,
        json!({ "sha256": checked.iter().map(|c| c.sha256.clone()).collect::<Vec<_>>() }),
    )
    .await?;
    if status == TenderStatus::Active {
        ocds::release(state, &*txn, id, &["tenderAmendment"]).await?;
    }
    txn.commit().await?;
    Ok(())
}

/// A procurement file, for whoever may see its tender.
pub async fn file(
    state: &AppState,
    actor: Option<&Actor>,
    file_id: Uuid,
) -> Result<(procurement_file::Model, Vec<u8>)> {
    let db = &state.db.conn;
    let f = procurement_file::Entity::find_by_id(file_id)
        .one(db)
        .await?
        .ok_or(E::Missing("file"))?;
    let t = load_tender(db, f.tender_id).await?;
    if !visible(db, actor, &t).await? {
        return Err(E::Missing("file"));
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

/// Planned tenders are seen by their officers only; the rest is public.
async fn visible<C: ConnectionTrait>(
    db: &C,
    actor: Option<&Actor>,
    t: &tender::Model,
) -> Result<bool> {
    if status_of(t) != TenderStatus::Planned {
        return Ok(true);
    }
    match actor {
        Some(a) => Ok(is_officer(a, &scope_of(db, t.place_id).await?)),
        None => Ok(false),
    }
}

// ------------------------------------------------------------------ enquiries

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

// ------------------------------------------------------------------ sealed bids

/// What is sealed: everything the bidder sent, documents included.
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct BidContents {
    pub price_fen: i64,
    pub technical_proposal: String,
    pub team: Vec<TeamMember>,
    pub documents: Vec<SealedDocument>,
}

/// Refuses a write after the deadline. On PostgreSQL the update also locks the tender row, so
/// the opening waits for a bid being written, and a bid written after the opening is refused.
async fn claim_open_tender<C: ConnectionTrait>(txn: &C, id: Uuid) -> Result<()> {
    let done = tender::Entity::update_many()
        .col_expr(
            tender::Column::UpdatedAt,
            Expr::col(tender::Column::UpdatedAt),
        )
        .filter(tender::Column::Id.eq(id))
        .filter(tender::Column::Status.eq(TenderStatus::Active.as_str()))
        .filter(tender::Column::TenderEndsAt.gt(clock::now()))
        .exec(txn)
        .await?;
    if done.rows_affected != 1 {
        return Err(E::Conflict(
            "tender_closed",
            "The tender period has ended; late bids are refused.".into(),
        ));
    }
    Ok(())
}

pub async fn submit_bid(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
    req: SubmitBidRequest,
) -> Result<BidReceipt> {
    let technical = clean(
        "technical_proposal_required",
        &req.technical_proposal,
        50000,
        "technical proposal",
    )?;
    if req.team.len() > 50
        || req
            .team
            .iter()
            .any(|m| m.name.trim().is_empty() || m.name.chars().count() > 100)
    {
        return Err(E::Invalid(
            "invalid_team",
            "A team has at most 50 people, each named in 1 to 100 characters.".into(),
        ));
    }
    let documents = files::check(&req.documents)?;
    let contents = BidContents {
        price_fen: req.price_fen,
        technical_proposal: technical,
        team: req.team,
        documents: documents.iter().map(SealedDocument::from_checked).collect(),
    };
    let plain = serde_json::to_vec(&contents).map_err(|e| E::Sealing(e.to_string()))?;
    let digest = hex::encode(Sha256::digest(&plain));

    let txn = state.db.write().await?;
    let t = load_tender(&*txn, id).await?;
    claim_open_tender(&*txn, id).await?;
    require_representative(&*txn, actor, req.organisation_id).await?;
    let org = load_org(&*txn, req.organisation_id).await?;
    if let Some(why) = ineligibility(&*txn, &t, &org).await? {
        return Err(E::Forbidden(why));
    }
    if !(1..=t.budget_fen).contains(&req.price_fen) {
        return Err(E::Invalid(
            "price_over_budget",
            format!(
                "The price is a positive amount in fen, at most the budget ceiling of {} fen.",
                t.budget_fen
            ),
        ));
    }
    let sealed = sealing_key(state)?.seal(id, org.id, &plain);
    let now = clock::now();
    let existing = bid::Entity::find()
        .filter(bid::Column::TenderId.eq(id))
        .filter(bid::Column::OrganisationId.eq(org.id))
        .one(&*txn)
        .await?;
    let (bid_id, version) = match existing {
        Some(b) => {
            let version = b.version + 1;
            let mut m: bid::ActiveModel = b.clone().into();
            m.sealed = Set(sealed);
            m.digest = Set(digest.clone());
            m.version = Set(version);
            m.status = Set("submitted".into());
            m.submitted_by = Set(actor.id());
            m.submitted_at = Set(now);
            m.updated_at = Set(now);
            m.update(&*txn).await?;
            (b.id, version)
        }
        None => {
            let bid_id = Uuid::new_v4();
            let inserted = bid::ActiveModel {
                id: Set(bid_id),
                tender_id: Set(id),
                organisation_id: Set(org.id),
                submitted_by: Set(actor.id()),
                status: Set("submitted".into()),
                sealed: Set(sealed),
                digest: Set(digest.clone()),
                version: Set(1),
                price_fen: Set(None),
                submitted_at: Set(now),
                updated_at: Set(now),
            }
            .insert(&*txn)
            .await;
            match inserted {
                Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
                    return Err(E::Conflict(
                        "bid_in_progress",
                        "Another bid of this organisation was submitted at the same moment; try again.".into(),
                    ));
                }
                other => other?,
            };
            (bid_id, 1)
        }
    };
    // The record holds the digest, never the contents.
    record(
        &*txn,
        Some(actor.id()),
        "bid.submitted",
        "tender",
        id,
        json!({ "bid_id": bid_id, "organisation_id": org.id, "version": version, "digest": digest }),
    )
    .await?;
    let link = tender_link(state, id);
    notify_members(
        state,
        &*txn,
        org.id,
        notifications::Kind::BidConfirmation,
        id,
        |u| templates::bid_confirmation(&u.language, &u.display_name, &t.title, &digest, &link),
    )
    .await?;
    txn.commit().await?;
    state.mail_wake.notify_one();
    Ok(BidReceipt {
        bid_id,
        version,
        digest,
        submitted_at: now,
    })
}

pub async fn withdraw_bid(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
    organisation_id: Uuid,
) -> Result<()> {
    let txn = state.db.write().await?;
    claim_open_tender(&*txn, id).await?;
    require_representative(&*txn, actor, organisation_id).await?;
    let done = bid::Entity::update_many()
        .col_expr(bid::Column::Status, Expr::value("withdrawn"))
        .col_expr(bid::Column::UpdatedAt, Expr::value(clock::now()))
        .filter(bid::Column::TenderId.eq(id))
        .filter(bid::Column::OrganisationId.eq(organisation_id))
        .filter(bid::Column::Status.eq("submitted"))
        .exec(&*txn)
        .await?;
    if done.rows_affected != 1 {
        return Err(E::Missing("bid"));
    }
    record(
        &*txn,
        Some(actor.id()),
        "bid.withdrawn",
        "tender",
        id,
        json!({ "organisation_id": organisation_id }),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

fn sealing_key(state: &AppState) -> Result<&crate::sealing::SealingKey> {
    state
        .sealing
        .key()
        .map_err(|e| E::Sealing(format!("sealing key: {e}")))
}

fn open_contents(state: &AppState, b: &bid::Model) -> Result<BidContents> {
    let plain = sealing_key(state)?
        .open(b.tender_id, b.organisation_id, &b.sealed)
        .ok_or_else(|| {
            E::Sealing(format!(
                "bid {} cannot be opened with this server's sealing key",
                b.id
            ))
        })?;
    serde_json::from_slice(&plain).map_err(|e| E::Sealing(e.to_string()))
}

fn bid_view(state: &AppState, b: &bid::Model, org_name: String) -> Result<BidView> {
    let c = open_contents(state, b)?;
    Ok(BidView {
        id: b.id,
        organisation_id: b.organisation_id,
        organisation_name: org_name,
        status: b.status.clone(),
        version: b.version,
        digest: b.digest.clone(),
        price_fen: c.price_fen,
        technical_proposal: c.technical_proposal,
        team: c.team,
        documents: c.documents.iter().map(SealedDocument::view).collect(),
        submitted_at: b.submitted_at,
    })
}

/// The organisation's own bid: its members may read it at any time.
pub async fn my_bid(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
    organisation_id: Uuid,
) -> Result<BidView> {
    let db = &state.db.conn;
    if !is_member(actor, organisation_id) {
        return Err(E::Missing("bid"));
    }
    let b = bid::Entity::find()
        .filter(bid::Column::TenderId.eq(id))
        .filter(bid::Column::OrganisationId.eq(organisation_id))
        .one(db)
        .await?
        .ok_or(E::Missing("bid"))?;
    let org = load_org(db, organisation_id).await?;
    bid_view(state, &b, org.name)
}

/// Opens every bid whose tender period has ended. Conditional, so several processes may run
/// it at once; each tender opens once.
pub async fn run_due(state: &AppState) -> Result<usize> {
    let due = tender::Entity::find()
        .filter(tender::Column::Status.eq(TenderStatus::Active.as_str()))
        .filter(tender::Column::TenderEndsAt.lte(clock::now()))
        .all(&state.db.conn)
        .await?;
    let mut opened = 0;
    for t in due {
        match open_bids(state, t.id).await {
            Ok(true) => opened += 1,
            Ok(false) => {}
            Err(e) => tracing::warn!(tender = %t.id, error = %e, "opening failed; will retry"),
        }
    }
    Ok(opened)
}

/// Opens one tender's bids if its deadline has passed; false when there was nothing to do.
pub async fn open_bids(state: &AppState, id: Uuid) -> Result<bool> {
    let txn = state.db.write().await?;
    let t = load_tender(&*txn, id).await?;
    let now = clock::now();
    if status_of(&t) != TenderStatus::Active || t.tender_ends_at > now {
        return Ok(false);
    }
    // Claim the tender first: on PostgreSQL this waits for a bid being written.
    let claimed = tender::Entity::update_many()
        .col_expr(tender::Column::OpenedAt, Expr::value(Some(now)))
        .filter(tender::Column::Id.eq(id))
        .filter(tender::Column::Status.eq(TenderStatus::Active.as_str()))
        .filter(tender::Column::OpenedAt.is_null())
        .exec(&*txn)
        .await?;
    if claimed.rows_affected != 1 {
        return Ok(false);
    }
    let bids = bid::Entity::find()
        .filter(bid::Column::TenderId.eq(id))
        .filter(bid::Column::Status.eq("submitted"))
        .order_by_asc(bid::Column::SubmittedAt)
        .all(&*txn)
        .await?;
    let mut digests = Vec::new();
    for b in &bids {
        let c = open_contents(state, b)?;
        bid::Entity::update_many()
            .col_expr(bid::Column::PriceFen, Expr::value(Some(c.price_fen)))
            .filter(bid::Column::Id.eq(b.id))
            .exec(&*txn)
            .await?;
        digests.push(b.digest.clone());
    }
    let count = bids.len() as i32;
    let (to, reason) = if bids.is_empty() {
        (
            TenderStatus::Unsuccessful,
            Some("No bids were received by the deadline.".to_string()),
        )
    } else {
        (TenderStatus::Evaluation, None)
    };
    let t = load_tender(&*txn, id).await?;
    let mut set = vec![(tender::Column::BidCount, Some(count).into())];
    if let Some(r) = &reason {
        set.push((tender::Column::EndReason, Some(r.clone()).into()));
        set.push((tender::Column::EndedAt, Some(now).into()));
    }
    move_tender(&*txn, &t, to, set).await?;
    record(
        &*txn,
        None,
        "tender.bids_opened",
        "tender",
        id,
        json!({ "bid_count": count, "digests": digests }),
    )
    .await?;
    ocds::release(state, &*txn, id, &["tenderUpdate"]).await?;
    txn.commit().await?;
    tracing::info!(tender = %id, bids = count, "bids opened");
    Ok(true)
}

// ------------------------------------------------------------------ evaluation panel

async fn bidders_of<C: ConnectionTrait>(db: &C, tender_id: Uuid) -> Result<Vec<bid::Model>> {
    Ok(bid::Entity::find()
        .filter(bid::Column::TenderId.eq(tender_id))
        .filter(bid::Column::Status.ne("withdrawn"))
        .order_by_asc(bid::Column::SubmittedAt)
        .all(db)
        .await?)
}

/// True when the person belongs to an organisation that bid.
async fn belongs_to_bidder<C: ConnectionTrait>(
    db: &C,
    user_id: Uuid,
    bids: &[bid::Model],
) -> Result<bool> {
    let orgs: Vec<Uuid> = bids.iter().map(|b| b.organisation_id).collect();
    if orgs.is_empty() {
        return Ok(false);
    }
    Ok(organisation_member::Entity::find()
        .filter(organisation_member::Column::UserId.eq(user_id))
        .filter(organisation_member::Column::OrganisationId.is_in(orgs))
        .one(db)
        .await?
        .is_some())
}

fn require_evaluation(t: &tender::Model) -> Result<()> {
    if status_of(t) != TenderStatus::Evaluation {
        return Err(E::Conflict(
            "not_in_evaluation",
            "The tender is not in evaluation.".into(),
        ));
    }
    Ok(())
}

pub async fn appoint(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
    email: &str,
) -> Result<EvaluationView> {
    let txn = state.db.write().await?;
    let t = load_tender(&*txn, id).await?;
    require_officer(&*txn, actor, &t).await?;
    require_evaluation(&t)?;
    if t.award_bid_id.is_some() {
        return Err(E::Conflict(
            "award_proposed",
            "The award is proposed; the panel is closed.".into(),
        ));
    }
    let person = user::Entity::find()
        .filter(user::Column::Email.eq(email.trim().to_lowercase()))
        .filter(user::Column::DeletedAt.is_null())
        .one(&*txn)
        .await?
        .filter(|u| u.email_verified_at.is_some())
        .ok_or(E::Missing("person"))?;
    if belongs_to_bidder(&*txn, person.id, &bidders_of(&*txn, id).await?).await? {
        return Err(E::Conflict(
            "evaluator_conflicted",
            "This person belongs to a bidding organisation and cannot evaluate.".into(),
        ));
    }
    let pid = Uuid::new_v4();
    let inserted = panel_member::ActiveModel {
        id: Set(pid),
        tender_id: Set(id),
        user_id: Set(person.id),
        status: Set("appointed".into()),
        declaration: Set(None),
        appointed_by: Set(actor.id()),
        appointed_at: Set(clock::now()),
        declared_at: Set(None),
        submitted_at: Set(None),
    }
    .insert(&*txn)
    .await;
    match inserted {
        Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
            return Err(E::Conflict(
                "already_on_panel",
                "This person is already on the panel.".into(),
            ));
        }
        other => other?,
    };
    record(
        &*txn,
        Some(actor.id()),
        "panel.appointed",
        "tender",
        id,
        json!({ "panel_member_id": pid, "user_id": person.id }),
    )
    .await?;
    txn.commit().await?;
    evaluation(state, actor, id).await
}

async fn my_seat<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    tender_id: Uuid,
) -> Result<Option<panel_member::Model>> {
    Ok(panel_member::Entity::find()
        .filter(panel_member::Column::TenderId.eq(tender_id))
        .filter(panel_member::Column::UserId.eq(actor.id()))
        .one(db)
        .await?)
}

pub async fn declare(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
    req: DeclarationRequest,
) -> Result<EvaluationView> {
    let statement = clean("statement_required", &req.statement, 2000, "statement")?;
    let txn = state.db.write().await?;
    let t = load_tender(&*txn, id).await?;
    require_evaluation(&t)?;
    let seat = my_seat(&*txn, actor, id)
        .await?
        .ok_or_else(|| E::Forbidden("You are not on this tender's panel.".into()))?;
    if seat.status != "appointed" {
        return Err(E::Conflict(
            "already_declared",
            "You have already declared.".into(),
        ));
    }
    let automatic = belongs_to_bidder(&*txn, actor.id(), &bidders_of(&*txn, id).await?).await?;
    let (status, declaration) = if automatic {
        (
            "recused",
            "Refused automatically: a member of a bidding organisation.".to_string(),
        )
    } else if req.conflict {
        ("recused", statement)
    } else {
        ("cleared", statement)
    };
    panel_member::Entity::update_many()
        .col_expr(panel_member::Column::Status, Expr::value(status))
        .col_expr(
            panel_member::Column::Declaration,
            Expr::value(Some(declaration.clone())),
        )
        .col_expr(
            panel_member::Column::DeclaredAt,
            Expr::value(Some(clock::now())),
        )
        .filter(panel_member::Column::Id.eq(seat.id))
        .filter(panel_member::Column::Status.eq("appointed"))
        .exec(&*txn)
        .await?;
    record(
        &*txn,
        Some(actor.id()),
        "panel.declared",
        "tender",
        id,
        json!({ "panel_member_id": seat.id, "status": status, "declaration": declaration }),
    )
    .await?;
    txn.commit().await?;
    if automatic {
        return Err(E::Conflict(
            "evaluator_conflicted",
            "You belong to a bidding organisation; you have been taken off the panel.".into(),
        ));
    }
    evaluation(state, actor, id).await
}

pub async fn submit_scores(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
    scores: Vec<ScoreInput>,
) -> Result<EvaluationView> {
    let txn = state.db.write().await?;
    let t = load_tender(&*txn, id).await?;
    require_evaluation(&t)?;
    let seat = my_seat(&*txn, actor, id)
        .await?
        .ok_or_else(|| E::Forbidden("You are not on this tender's panel.".into()))?;
    if seat.status != "cleared" {
        return Err(E::Forbidden(
            "Declare that you have no conflict of interest before scoring.".into(),
        ));
    }
    if seat.submitted_at.is_some() {
        return Err(E::Conflict(
            "scores_submitted",
            "Your scores are submitted and final.".into(),
        ));
    }
    let bids: Vec<Uuid> = bidders_of(&*txn, id)
        .await?
        .into_iter()
        .filter(|b| b.status == "submitted")
        .map(|b| b.id)
        .collect();
    let quality: Vec<Uuid> = criteria_of(&*txn, id)
        .await?
        .into_iter()
        .filter(|c| !c.price)
        .map(|c| c.id)
        .collect();
    let expected: HashSet<(Uuid, Uuid)> = bids
        .iter()
        .flat_map(|b| quality.iter().map(move |c| (*b, *c)))
        .collect();
    let mut given = HashSet::new();
    for s in &scores {
        if !(0..=100).contains(&s.score) {
            return Err(E::Invalid(
                "invalid_score",
                "Each score is 0 to 100.".into(),
            ));
        }
        if !expected.contains(&(s.bid_id, s.criterion_id))
            || !given.insert((s.bid_id, s.criterion_id))
        {
            return Err(E::Invalid(
                "invalid_sheet",
                "Score each bid once on each quality criterion, and nothing else.".into(),
            ));
        }
    }
    if given.len() != expected.len() {
        return Err(E::Invalid(
            "incomplete_sheet",
            format!(
                "Score every bid on every quality criterion: {} scores expected, {} given.",
                expected.len(),
                given.len()
            ),
        ));
    }
    let done = panel_member::Entity::update_many()
        .col_expr(
            panel_member::Column::SubmittedAt,
            Expr::value(Some(clock::now())),
        )
        .filter(panel_member::Column::Id.eq(seat.id))
        .filter(panel_member::Column::SubmittedAt.is_null())
        .exec(&*txn)
        .await?;
    if done.rows_affected != 1 {
        return Err(E::Conflict(
            "scores_submitted",
            "Your scores are submitted and final.".into(),
        ));
    }
    for s in &scores {
        bid_score::ActiveModel {
            id: Set(Uuid::new_v4()),
            tender_id: Set(id),
            panel_member_id: Set(seat.id),
            bid_id: Set(s.bid_id),
            criterion_id: Set(s.criterion_id),
            score: Set(s.score),
        }
        .insert(&*txn)
        .await?;
    }
    record(
        &*txn,
        Some(actor.id()),
        "panel.scored",
        "tender",
        id,
        json!({ "panel_member_id": seat.id, "scores": scores.len() }),
    )
    .await?;
    txn.commit().await?;
    evaluation(state, actor, id).await
}

pub async fn criteria_of<C: ConnectionTrait>(
    db: &C,
    tender_id: Uuid,
) -> Result<Vec<tender_criterion::Model>> {
    Ok(tender_criterion::Entity::find()
        .filter(tender_criterion::Column::TenderId.eq(tender_id))
        .order_by_asc(tender_criterion::Column::Position)
        .all(db)
        .await?)
}

/// The panel's state and, once complete, the ranking.
pub struct Standing {
    pub panel: Vec<panel_member::Model>,
    pub complete: bool,
    pub ranking: Vec<(scoring::Scored, bid::Model)>,
    pub scores: Vec<bid_score::Model>,
}

pub async fn standing<C: ConnectionTrait>(db: &C, t: &tender::Model) -> Result<Standing> {
    let panel = panel_member::Entity::find()
        .filter(panel_member::Column::TenderId.eq(t.id))
        .order_by_asc(panel_member::Column::AppointedAt)
        .all(db)
        .await?;
    let cleared: Vec<&panel_member::Model> =
        panel.iter().filter(|p| p.status == "cleared").collect();
    let complete = cleared.len() >= 3
        && cleared.iter().all(|p| p.submitted_at.is_some())
        && !panel.iter().any(|p| p.status == "appointed");
    let scores = bid_score::Entity::find()
        .filter(bid_score::Column::TenderId.eq(t.id))
        .all(db)
        .await?;
    let mut ranking = Vec::new();
    if complete {
        let counted: HashSet<Uuid> = cleared.iter().map(|p| p.id).collect();
        let criteria: Vec<scoring::Criterion> = criteria_of(db, t.id)
            .await?
            .into_iter()
            .map(|c| scoring::Criterion {
                id: c.id,
                weight: c.weight,
                price: c.price,
            })
            .collect();
        let bids: Vec<bid::Model> = bidders_of(db, t.id)
            .await?
            .into_iter()
            .filter(|b| b.price_fen.is_some())
            .collect();
        let valid: Vec<scoring::Bid> = bids
            .iter()
            .filter(|b| b.status == "submitted")
            .map(|b| scoring::Bid {
                id: b.id,
                price_fen: b.price_fen.unwrap_or(0),
                submitted_at: b.submitted_at,
            })
            .collect();
        let mut by: HashMap<(Uuid, Uuid), Vec<i32>> = HashMap::new();
        for s in scores
            .iter()
            .filter(|s| counted.contains(&s.panel_member_id))
        {
            by.entry((s.bid_id, s.criterion_id))
                .or_default()
                .push(s.score);
        }
        // The valid bids decide the order (the lowest valid price gets full marks); bids
        // disqualified after a complaint follow, scored as they were before.
        let mut ranked = scoring::rank(&criteria, &valid, &by);
        let all: Vec<scoring::Bid> = bids
            .iter()
            .map(|b| scoring::Bid {
                id: b.id,
                price_fen: b.price_fen.unwrap_or(0),
                submitted_at: b.submitted_at,
            })
            .collect();
        ranked.extend(scoring::rank(&criteria, &all, &by).into_iter().filter(|s| {
            bids.iter()
                .any(|b| b.id == s.bid_id && b.status == "disqualified")
        }));
        let by_id: HashMap<Uuid, bid::Model> = bids.into_iter().map(|b| (b.id, b)).collect();
        for s in ranked {
            if let Some(b) = by_id.get(&s.bid_id) {
                ranking.push((s, b.clone()));
            }
        }
    }
    Ok(Standing {
        panel,
        complete,
        ranking,
        scores,
    })
}

async fn org_names<C: ConnectionTrait>(db: &C, ids: Vec<Uuid>) -> Result<HashMap<Uuid, String>> {
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

async fn user_names<C: ConnectionTrait>(db: &C, ids: Vec<Uuid>) -> Result<HashMap<Uuid, String>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(user::Entity::find()
        .filter(user::Column::Id.is_in(ids))
        .all(db)
        .await?
        .into_iter()
        .map(|u| (u.id, u.display_name))
        .collect())
}

pub fn ranked_view(
    rank: usize,
    s: &scoring::Scored,
    b: &bid::Model,
    names: &HashMap<Uuid, String>,
) -> RankedBid {
    RankedBid {
        rank: rank as i32 + 1,
        bid_id: b.id,
        organisation_id: b.organisation_id,
        organisation_name: names.get(&b.organisation_id).cloned().unwrap_or_default(),
        price_fen: b.price_fen.unwrap_or(0),
        price_points: s.price_points.to_fixed2(),
        quality_points: s.quality_points.to_fixed2(),
        total: s.total.to_fixed2(),
        total_exact: s.total.exact(),
        disqualified: b.status == "disqualified",
    }
}

/// The evaluator's sheet or the officer's summary. Bids are shown only after the opening, to
/// the officer and to evaluators who declared no conflict; others' scores only when everyone
/// has submitted.
pub async fn evaluation(state: &AppState, actor: &Actor, id: Uuid) -> Result<EvaluationView> {
    let db = &state.db.conn;
    let t = load_tender(db, id).await?;
    let officer = is_officer(actor, &scope_of(db, t.place_id).await?);
    let seat = my_seat(db, actor, id).await?;
    if !officer && seat.is_none() {
        return Err(E::Forbidden(
            "The evaluation is for the officer and the panel.".into(),
        ));
    }
    let opened = t.opened_at.is_some();
    let st = standing(db, &t).await?;
    let bids = bidders_of(db, id).await?;
    let names = org_names(db, bids.iter().map(|b| b.organisation_id).collect()).await?;
    let people = user_names(db, st.panel.iter().map(|p| p.user_id).collect()).await?;
    let may_see_bids = opened && (officer || seat.as_ref().is_some_and(|s| s.status == "cleared"));
    let mut bid_views = Vec::new();
    if may_see_bids {
        for b in &bids {
            bid_views.push(bid_view(
                state,
                b,
                names.get(&b.organisation_id).cloned().unwrap_or_default(),
            )?);
        }
    }
    let my_scores = match &seat {
        Some(s) => st
            .scores
            .iter()
            .filter(|x| x.panel_member_id == s.id)
            .map(|x| ScoreInput {
                bid_id: x.bid_id,
                criterion_id: x.criterion_id,
                score: x.score,
            })
            .collect(),
        None => Vec::new(),
    };
    let seat_names: HashMap<Uuid, String> = st
        .panel
        .iter()
        .map(|p| (p.id, people.get(&p.user_id).cloned().unwrap_or_default()))
        .collect();
    let all_scores = if st.complete {
        st.scores
            .iter()
            .map(|x| PanelScore {
                evaluator_name: seat_names
                    .get(&x.panel_member_id)
                    .cloned()
                    .unwrap_or_default(),
                bid_id: x.bid_id,
                criterion_id: x.criterion_id,
                score: x.score,
            })
            .collect()
    } else {
        Vec::new()
    };
    Ok(EvaluationView {
        tender_id: id,
        criteria: criteria_of(db, id)
            .await?
            .into_iter()
            .map(criterion_view)
            .collect(),
        panel: st
            .panel
            .iter()
            .map(|p| PanelMemberView {
                id: p.id,
                user_id: p.user_id,
                name: people.get(&p.user_id).cloned().unwrap_or_default(),
                status: p.status.clone(),
                declaration: p.declaration.clone(),
                submitted: p.submitted_at.is_some(),
            })
            .collect(),
        bidders: if opened {
            bids.iter()
                .map(|b| names.get(&b.organisation_id).cloned().unwrap_or_default())
                .collect()
        } else {
            Vec::new()
        },
        bids: bid_views,
        my_scores,
        all_scores,
        ranking: st
            .ranking
            .iter()
            .enumerate()
            .map(|(i, (s, b))| ranked_view(i, s, b, &names))
            .collect(),
        complete: st.complete,
        rule: scoring::RULE.to_string(),
    })
}

pub fn criterion_view(c: tender_criterion::Model) -> CriterionView {
    CriterionView {
        id: c.id,
        name: c.name,
        weight: c.weight,
        price: c.price,
    }
}

// ------------------------------------------------------------------ award

pub async fn propose_award(state: &AppState, actor: &Actor, id: Uuid) -> Result<TenderView> {
    let txn = state.db.write().await?;
    let t = load_tender(&*txn, id).await?;
    require_officer(&*txn, actor, &t).await?;
    require_evaluation(&t)?;
    if t.award_bid_id.is_some() {
        return Err(E::Conflict(
            "award_proposed",
            "An award is already proposed.".into(),
        ));
    }
    let st = standing(&*txn, &t).await?;
    if !st.complete {
        return Err(E::Conflict(
            "evaluation_incomplete",
            "At least three evaluators without conflicts must all submit their scores first."
                .into(),
        ));
    }
    let (winner, bid) = st
        .ranking
        .iter()
        .find(|(_, b)| b.status == "submitted")
        .ok_or_else(|| {
            E::Conflict(
                "no_valid_bid",
                "No bid is left to award; declare the tender unsuccessful.".into(),
            )
        })?;
    let now = clock::now();
    let ends = now + Duration::days(i64::from(t.publicity_days));
    tender::Entity::update_many()
        .col_expr(tender::Column::AwardBidId, Expr::value(Some(bid.id)))
        .col_expr(tender::Column::AwardProposedAt, Expr::value(Some(now)))
        .col_expr(tender::Column::PublicityEndsAt, Expr::value(Some(ends)))
        .col_expr(tender::Column::UpdatedAt, Expr::value(now))
        .filter(tender::Column::Id.eq(id))
        .filter(tender::Column::AwardBidId.is_null())
        .exec(&*txn)
        .await?;
    record(
        &*txn,
        Some(actor.id()),
        "award.proposed",
        "tender",
        id,
        json!({ "bid_id": bid.id, "organisation_id": bid.organisation_id, "total": winner.total.exact(), "publicity_ends_at": ends }),
    )
    .await?;
    ocds::release(state, &*txn, id, &["award"]).await?;
    txn.commit().await?;
    get(state, Some(actor), id).await
}

pub async fn lodge_complaint(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
    req: LodgeComplaintRequest,
) -> Result<TenderView> {
    let body = clean("complaint_required", &req.body, 8000, "complaint")?;
    let txn = state.db.write().await?;
    let t = load_tender(&*txn, id).await?;
    require_representative(&*txn, actor, req.organisation_id).await?;
    let bids = bidders_of(&*txn, id).await?;
    if !bids
        .iter()
        .any(|b| b.organisation_id == req.organisation_id)
    {
        return Err(E::Forbidden("Only bidders complain about an award.".into()));
    }
    let in_publicity = status_of(&t) == TenderStatus::Evaluation
        && t.award_bid_id.is_some()
        && t.publicity_ends_at.is_some_and(|e| clock::now() < e);
    if !in_publicity {
        return Err(E::Conflict(
            "not_in_publicity",
            "Complaints are lodged while the proposed award is published.".into(),
        ));
    }
    let open = complaint::Entity::find()
        .filter(complaint::Column::TenderId.eq(id))
        .filter(complaint::Column::OrganisationId.eq(req.organisation_id))
        .filter(complaint::Column::Status.eq("open"))
        .one(&*txn)
        .await?;
    if open.is_some() {
        return Err(E::Conflict(
            "complaint_pending",
            "Your organisation's complaint is still being answered.".into(),
        ));
    }
    let cid = Uuid::new_v4();
    complaint::ActiveModel {
        id: Set(cid),
        tender_id: Set(id),
        organisation_id: Set(req.organisation_id),
        lodged_by: Set(actor.id()),
        body: Set(body),
        status: Set("open".into()),
        answer: Set(None),
        answered_by: Set(None),
        answered_at: Set(None),
        created_at: Set(clock::now()),
    }
    .insert(&*txn)
    .await?;
    record(
        &*txn,
        Some(actor.id()),
        "complaint.lodged",
        "tender",
        id,
        json!({ "complaint_id": cid, "organisation_id": req.organisation_id }),
    )
    .await?;
    txn.commit().await?;
    get(state, Some(actor), id).await
}

pub async fn answer_complaint(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
    complaint_id: Uuid,
    req: AnswerComplaintRequest,
) -> Result<TenderView> {
    let answer = clean("answer_required", &req.answer, 8000, "answer")?;
    let txn = state.db.write().await?;
    let t = load_tender(&*txn, id).await?;
    require_officer(&*txn, actor, &t).await?;
    let status = match req.decision {
        ComplaintDecision::Dismiss => "dismissed",
        ComplaintDecision::Uphold => "upheld",
    };
    let now = clock::now();
    let done = complaint::Entity::update_many()
        .col_expr(complaint::Column::Status, Expr::value(status))
        .col_expr(complaint::Column::Answer, Expr::value(Some(answer.clone())))
        .col_expr(complaint::Column::AnsweredBy, Expr::value(Some(actor.id())))
        .col_expr(complaint::Column::AnsweredAt, Expr::value(Some(now)))
        .filter(complaint::Column::Id.eq(complaint_id))
        .filter(complaint::Column::TenderId.eq(id))
        .filter(complaint::Column::Status.eq("open"))
        .exec(&*txn)
        .await?;
    if done.rows_affected != 1 {
        return Err(E::Conflict(
            "already_answered",
            "No open complaint with this id.".into(),
        ));
    }
    if req.decision == ComplaintDecision::Uphold
        && let Some(bid_id) = t.award_bid_id
        && status_of(&t) == TenderStatus::Evaluation
    {
        bid::Entity::update_many()
            .col_expr(bid::Column::Status, Expr::value("disqualified"))
            .filter(bid::Column::Id.eq(bid_id))
            .exec(&*txn)
            .await?;
        tender::Entity::update_many()
            .col_expr(
                tender::Column::AwardBidId,
                Expr::value(Option::<Uuid>::None),
            )
            .col_expr(
                tender::Column::AwardProposedAt,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .col_expr(
                tender::Column::PublicityEndsAt,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .col_expr(tender::Column::UpdatedAt, Expr::value(now))
            .filter(tender::Column::Id.eq(id))
            .exec(&*txn)
            .await?;
        ocds::release(state, &*txn, id, &["awardCancellation"]).await?;
    }
    let lodged = complaint::Entity::find_by_id(complaint_id)
        .one(&*txn)
        .await?
        .ok_or(E::Missing("complaint"))?;
    let link = tender_link(state, id);
    notify_members(
        state,
        &*txn,
        lodged.organisation_id,
        notifications::Kind::ComplaintAnswered,
        id,
        |u| {
            templates::complaint_answered(
                &u.language,
                &u.display_name,
                &t.title,
                req.decision == ComplaintDecision::Uphold,
                &answer,
                &link,
            )
        },
    )
    .await?;
    record(
        &*txn,
        Some(actor.id()),
        "complaint.answered",
        "tender",
        id,
        json!({ "complaint_id": complaint_id, "decision": status, "answer": answer }),
    )
    .await?;
    txn.commit().await?;
    state.mail_wake.notify_one();
    get(state, Some(actor), id).await
}

/// Makes the proposed award once its publicity period is over and every complaint answered;
/// every bidder is emailed the outcome with their scores.
pub async fn confirm_award(state: &AppState, actor: &Actor, id: Uuid) -> Result<TenderView> {
    let txn = state.db.write().await?;
    let t = load_tender(&*txn, id).await?;
    require_officer(&*txn, actor, &t).await?;
    require_evaluation(&t)?;
    let Some(award_bid) = t.award_bid_id else {
        return Err(E::Conflict(
            "no_award_proposed",
            "Propose the award first.".into(),
        ));
    };
    if t.publicity_ends_at.is_none_or(|e| clock::now() < e) {
        return Err(E::Conflict(
            "publicity_running",
            "The award is made when its publicity period is over.".into(),
        ));
    }
    let open = complaint::Entity::find()
        .filter(complaint::Column::TenderId.eq(id))
        .filter(complaint::Column::Status.eq("open"))
        .all(&*txn)
        .await?;
    if !open.is_empty() {
        return Err(E::Conflict(
            "complaint_pending",
            "An open complaint pauses the award until it is answered in writing.".into(),
        ));
    }
    let now = clock::now();
    move_tender(
        &*txn,
        &t,
        TenderStatus::Awarded,
        vec![
            (tender::Column::AwardedAt, Some(now).into()),
            (tender::Column::EndedAt, Some(now).into()),
        ],
    )
    .await?;
    let st = standing(&*txn, &t).await?;
    let names = org_names(
        &*txn,
        st.ranking.iter().map(|(_, b)| b.organisation_id).collect(),
    )
    .await?;
    let winner_name = st
        .ranking
        .iter()
        .find(|(_, b)| b.id == award_bid)
        .and_then(|(_, b)| names.get(&b.organisation_id).cloned())
        .unwrap_or_default();
    record(
        &*txn,
        Some(actor.id()),
        "award.made",
        "tender",
        id,
        json!({ "bid_id": award_bid }),
    )
    .await?;
    let link = tender_link(state, id);
    let total = st.ranking.len();
    for (i, (s, b)) in st.ranking.iter().enumerate() {
        let won = b.id == award_bid;
        let line = scores_line(i + 1, total, s, b);
        notify_members(
            state,
            &*txn,
            b.organisation_id,
            notifications::Kind::AwardOutcome,
            id,
            |u| {
                templates::award_outcome(
                    &u.language,
                    &u.display_name,
                    &t.title,
                    won,
                    &winner_name,
                    &line,
                    &link,
                )
            },
        )
        .await?;
    }
    ocds::release(state, &*txn, id, &["awardUpdate", "tenderUpdate"]).await?;
    txn.commit().await?;
    state.mail_wake.notify_one();
    get(state, Some(actor), id).await
}

fn scores_line(rank: usize, of: usize, s: &scoring::Scored, b: &bid::Model) -> String {
    format!(
        "{rank}/{of} · {} = {} + {}{}",
        s.total.to_fixed2(),
        s.price_points.to_fixed2(),
        s.quality_points.to_fixed2(),
        if b.status == "disqualified" {
            " · ✗"
        } else {
            ""
        }
    )
}

pub async fn declare_unsuccessful(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
    reason: &str,
) -> Result<TenderView> {
    let reason = clean("reason_required", reason, 2000, "reason")?;
    let txn = state.db.write().await?;
    let t = load_tender(&*txn, id).await?;
    require_officer(&*txn, actor, &t).await?;
    require_evaluation(&t)?;
    if t.award_bid_id.is_some() {
        return Err(E::Conflict(
            "award_proposed",
            "An award is proposed; answer the complaints or cancel the tender.".into(),
        ));
    }
    move_tender(
        &*txn,
        &t,
        TenderStatus::Unsuccessful,
        vec![
            (tender::Column::EndReason, Some(reason.clone()).into()),
            (tender::Column::EndedAt, Some(clock::now()).into()),
        ],
    )
    .await?;
    record(
        &*txn,
        Some(actor.id()),
        "tender.unsuccessful",
        "tender",
        id,
        json!({ "reason": reason }),
    )
    .await?;
    ocds::release(state, &*txn, id, &["tenderUpdate"]).await?;
    txn.commit().await?;
    get(state, Some(actor), id).await
}

// ------------------------------------------------------------------ reading

pub fn ocid(state: &AppState, id: Uuid) -> String {
    format!("{}-{}", state.settings.ocid_prefix, id)
}

pub async fn get(state: &AppState, actor: Option<&Actor>, id: Uuid) -> Result<TenderView> {
    let db = &state.db.conn;
    let t = load_tender(db, id).await?;
    if !visible(db, actor, &t).await? {
        return Err(E::Missing("tender"));
    }
    let scope = scope_of(db, t.place_id).await?;
    let officer = actor.is_some_and(|a| is_officer(a, &scope));
    let place = place::Entity::find_by_id(t.place_id).one(db).await?;
    let enquiries = enquiry::Entity::find()
        .filter(enquiry::Column::TenderId.eq(id))
        .order_by_asc(enquiry::Column::CreatedAt)
        .all(db)
        .await?
        .into_iter()
        // Unanswered questions are seen by the officer and by the organisation that asked.
        .filter(|e| {
            e.answer.is_some() || officer || actor.is_some_and(|a| is_member(a, e.organisation_id))
        })
        .map(|e| EnquiryView {
            id: e.id,
            question: e.question,
            answer: e.answer,
            asked_at: e.created_at,
            answered_at: e.answered_at,
        })
        .collect();
    let opening = match t.opened_at {
        Some(opened_at) => Some(OpeningView {
            opened_at,
            bid_count: t.bid_count.unwrap_or(0),
            digests: bid::Entity::find()
                .filter(bid::Column::TenderId.eq(id))
                .filter(bid::Column::PriceFen.is_not_null())
                .order_by_asc(bid::Column::SubmittedAt)
                .all(db)
                .await?
                .into_iter()
                .map(|b| b.digest)
                .collect(),
        }),
        None => None,
    };
    let award = match (t.award_bid_id, t.award_proposed_at, t.publicity_ends_at) {
        (Some(bid_id), Some(proposed_at), Some(publicity_ends_at)) => {
            let st = standing(db, &t).await?;
            let b = bid::Entity::find_by_id(bid_id)
                .one(db)
                .await?
                .ok_or(E::Missing("bid"))?;
            let org = load_org(db, b.organisation_id).await?;
            Some(AwardView {
                bid_id,
                organisation_id: org.id,
                organisation_name: org.name,
                price_fen: b.price_fen.unwrap_or(0),
                total: st
                    .ranking
                    .iter()
                    .find(|(_, r)| r.id == bid_id)
                    .map(|(s, _)| s.total.to_fixed2())
                    .unwrap_or_default(),
                proposed_at,
                publicity_ends_at,
                awarded_at: t.awarded_at,
            })
        }
        _ => None,
    };
    let complaint_rows = complaint::Entity::find()
        .filter(complaint::Column::TenderId.eq(id))
        .order_by_asc(complaint::Column::CreatedAt)
        .all(db)
        .await?;
    let names = org_names(
        db,
        complaint_rows.iter().map(|c| c.organisation_id).collect(),
    )
    .await?;
    let complaints = complaint_rows
        .into_iter()
        .filter(|c| {
            c.status != "open" || officer || actor.is_some_and(|a| is_member(a, c.organisation_id))
        })
        .map(|c| ComplaintView {
            id: c.id,
            organisation_name: (officer || actor.is_some_and(|a| is_member(a, c.organisation_id)))
                .then(|| names.get(&c.organisation_id).cloned().unwrap_or_default()),
            body: c.body,
            status: c.status,
            answer: c.answer,
            created_at: c.created_at,
            answered_at: c.answered_at,
        })
        .collect();
    let contract_id = contract::Entity::find()
        .filter(contract::Column::TenderId.eq(id))
        .one(db)
        .await?
        .map(|c| c.id);
    let mut abilities = TenderAbilities {
        manage: officer,
        ..Default::default()
    };
    if let Some(a) = actor {
        for af in &a.affiliations {
            let org = organisation::Entity::find_by_id(af.organisation_id)
                .one(db)
                .await?;
            if let Some(org) = org
                && org.kind == "social_organisation"
                && represents(db, a, org.id).await?
                && !abilities.bid_as.contains(&org.id)
            {
                abilities.bid_as.push(org.id);
            }
        }
        abilities.evaluate = my_seat(db, a, id).await?.is_some();
    }
    Ok(TenderView {
        id: t.id,
        ocid: ocid(state, t.id),
        place_id: t.place_id,
        place_name: place.map(|p| p.name).unwrap_or_default(),
        title: t.title.clone(),
        description: t.description.clone(),
        category: category_of(&t),
        resolution_ids: resolutions_of(db, id).await?,
        budget_fen: t.budget_fen,
        currency: "CNY".into(),
        eligibility: t.eligibility.clone(),
        required_qualification: t.required_qualification.clone(),
        criteria: criteria_of(db, id)
            .await?
            .into_iter()
            .map(criterion_view)
            .collect(),
        documents: files::of_owner(db, state, id).await?,
        enquiries,
        status: status_of(&t),
        enquiry_ends_at: t.enquiry_ends_at,
        tender_ends_at: t.tender_ends_at,
        publicity_days: t.publicity_days,
        published_at: t.published_at,
        opening,
        award,
        complaints,
        contract_id,
        end_reason: t.end_reason.clone(),
        created_at: t.created_at,
        updated_at: t.updated_at,
        abilities,
    })
}

pub async fn resolutions_of<C: ConnectionTrait>(db: &C, tender_id: Uuid) -> Result<Vec<Uuid>> {
    Ok(tender_resolution::Entity::find()
        .filter(tender_resolution::Column::TenderId.eq(tender_id))
        .all(db)
        .await?
        .into_iter()
        .map(|r| r.resolution_id)
        .collect())
}

/// Public tenders (and the officer's planned ones), newest first; filtered by place (and what
/// is under it) and status.
pub async fn list(
    state: &AppState,
    actor: Option<&Actor>,
    place_id: Option<Uuid>,
    status: Option<TenderStatus>,
) -> Result<Vec<TenderSummary>> {
    let db = &state.db.conn;
    let mut q = tender::Entity::find().order_by_desc(tender::Column::CreatedAt);
    if let Some(s) = status {
        q = q.filter(tender::Column::Status.eq(s.as_str()));
    }
    let rows = q.all(db).await?;
    let mut out = Vec::new();
    let mut places: HashMap<Uuid, (String, PlaceScope)> = HashMap::new();
    for t in rows {
        if let std::collections::hash_map::Entry::Vacant(slot) = places.entry(t.place_id) {
            let p = load_place(db, t.place_id).await?;
            slot.insert((p.name, scope_of(db, t.place_id).await?));
        }
        let (name, scope) = &places[&t.place_id];
        if let Some(filter) = place_id
            && !scope.path.contains(&filter)
        {
            continue;
        }
        if status_of(&t) == TenderStatus::Planned && !actor.is_some_and(|a| is_officer(a, scope)) {
            continue;
        }
        out.push(TenderSummary {
            id: t.id,
            ocid: ocid(state, t.id),
            place_name: name.clone(),
            title: t.title.clone(),
            category: category_of(&t),
            budget_fen: t.budget_fen,
            status: status_of(&t),
            tender_ends_at: t.tender_ends_at,
            updated_at: t.updated_at,
        });
    }
    Ok(out)
}
