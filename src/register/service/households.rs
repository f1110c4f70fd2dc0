//! Households (户): one at a unit (or, rarely, several sharing one), with their members.

use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use uuid::Uuid;

use super::views::{self, Index};
use super::{Result, community, may_edit, note, readable_grids, reason, units_of};
use crate::clock;
use crate::entities::{register_household, register_person, unit};
use crate::policy::Actor;
use crate::register::documents::clean_name;
use crate::register::error::RegisterError as E;
use crate::register::history::{self, At, Entity, Why};
use crate::register::model::*;
use crate::state::AppState;

fn record_of(h: &register_household::Model) -> HouseholdRecord {
    HouseholdRecord {
        id: h.id,
        unit_id: h.unit_id,
        label: h.label.clone(),
        status: h.status,
    }
}

pub async fn save<C: ConnectionTrait>(
    db: &C,
    am: register_household::ActiveModel,
    insert: bool,
    why: &Why<'_>,
) -> Result<register_household::Model> {
    let h = if insert {
        am.insert(db).await?
    } else {
        am.update(db).await?
    };
    note(
        db,
        h.community_id,
        Entity::Household,
        h.id,
        Some(&record_of(&h)),
        why,
        if insert {
            "register.household_added"
        } else {
            "register.household_changed"
        },
        serde_json::json!({ "unit_id": h.unit_id, "status": h.status }),
    )
    .await?;
    Ok(h)
}

/// The unit, if it is one of the community's.
pub async fn unit_in<C: ConnectionTrait>(
    db: &C,
    community_id: Uuid,
    unit_id: Uuid,
) -> Result<unit::Model> {
    unit::Entity::find_by_id(unit_id)
        .one(db)
        .await?
        .filter(|u| u.community_id == community_id)
        .ok_or(E::UnitNotFound)
}

/// A new household at a unit, labelled as given or by the unit.
pub async fn insert<C: ConnectionTrait>(
    db: &C,
    community_id: Uuid,
    unit_id: Uuid,
    label: Option<String>,
    why: &Why<'_>,
) -> Result<register_household::Model> {
    let label = match label {
        Some(l) => l,
        None => units_of(db, community_id)
            .await?
            .get(&unit_id)
            .map(|u| u.label.clone())
            .unwrap_or_default(),
    };
    let now = clock::now();
    save(
        db,
        register_household::ActiveModel {
            id: Set(Uuid::new_v4()),
            community_id: Set(community_id),
            unit_id: Set(unit_id),
            label: Set(label),
            status: Set(HouseholdStatus::Active),
            version: Set(1),
            created_at: Set(now),
            updated_at: Set(now),
        },
        true,
        why,
    )
    .await
}

fn label(raw: Option<&str>) -> Result<Option<String>> {
    match raw.map(str::trim).filter(|l| !l.is_empty()) {
        None => Ok(None),
        Some(l) => clean_name(l).map(Some).ok_or_else(|| {
            E::Invalid(
                "invalid_label",
                "A household's label has 1 to 64 characters on one line.".into(),
            )
        }),
    }
}

pub async fn create(
    state: &AppState,
    actor: &Actor,
    community_id: Uuid,
    req: CreateHouseholdRequest,
) -> Result<HouseholdView> {
    let label = label(req.label.as_deref())?;
    let why_text = reason(req.reason.as_deref(), "household registered")?;
    let txn = state.db.write().await?;
    community(&*txn, community_id).await?;
    may_edit(&*txn, actor, community_id).await?;
    unit_in(&*txn, community_id, req.unit_id).await?;
    let h = insert(
        &*txn,
        community_id,
        req.unit_id,
        label,
        &Why::of(actor, &why_text),
    )
    .await?;
    let view = one_view(&*txn, &h).await?;
    txn.commit().await?;
    Ok(view)
}

async fn one_view<C: ConnectionTrait>(
    db: &C,
    h: &register_household::Model,
) -> Result<HouseholdView> {
    let reg = history::load(db, h.community_id, At::Now).await?;
    let units = units_of(db, h.community_id).await?;
    let index = Index::new(&reg, &units);
    views::households(&reg, &index)
        .into_iter()
        .find(|v| v.id == h.id)
        .ok_or(E::HouseholdNotFound)
}

pub async fn update(
    state: &AppState,
    actor: &Actor,
    household_id: Uuid,
    req: UpdateHouseholdRequest,
) -> Result<HouseholdView> {
    let why_text = reason(Some(&req.reason), "")?;
    let label = label(req.label.as_deref())?;
    let txn = state.db.write().await?;
    let h = register_household::Entity::find_by_id(household_id)
        .one(&*txn)
        .await?
        .ok_or(E::HouseholdNotFound)?;
    may_edit(&*txn, actor, h.community_id).await?;
    if req.status == Some(HouseholdStatus::Dissolved) && h.status == HouseholdStatus::Active {
        let members = register_person::Entity::find()
            .filter(register_person::Column::HouseholdId.eq(h.id))
            .filter(register_person::Column::Status.eq(PersonStatus::Living))
            .all(&*txn)
            .await?;
        if !members.is_empty() {
            return Err(E::Conflict(
                "household_has_members",
                format!(
                    "{} still live in this household; record them moving out or into another household first.",
                    members
                        .iter()
                        .map(|m| m.name.as_str())
                        .collect::<Vec<_>>()
                        .join("、")
                ),
            ));
        }
    }
    let mut am: register_household::ActiveModel = h.clone().into();
    if let Some(l) = label {
        am.label = Set(l);
    }
    if let Some(s) = req.status {
        am.status = Set(s);
    }
    am.version = Set(h.version + 1);
    am.updated_at = Set(clock::now());
    let h = save(&*txn, am, false, &Why::of(actor, &why_text)).await?;
    let view = one_view(&*txn, &h).await?;
    txn.commit().await?;
    Ok(view)
}

pub async fn list(
    state: &AppState,
    actor: &Actor,
    community_id: Uuid,
) -> Result<Vec<HouseholdView>> {
    let db = &state.db.conn;
    community(db, community_id).await?;
    let grids = readable_grids(db, actor, community_id).await?;
    let reg = history::load(db, community_id, At::Now).await?;
    let units = units_of(db, community_id).await?;
    let index = Index::new(&reg, &units);
    Ok(views::households(&reg, &index)
        .into_iter()
        .filter(|h| match &grids {
            None => true,
            Some(g) => units
                .get(&h.unit_id)
                .and_then(|u| u.grid_id)
                .is_some_and(|x| g.contains(&x)),
        })
        .collect())
}
