//! The register's rules: who may keep and read it, and what one change of it is.

pub mod anomalies;
pub mod assisted;
pub mod electorate;
pub mod erasure;
pub mod export;
pub mod households;
pub mod import;
pub mod links;
pub mod owners;
pub mod persons;
pub mod reads;
pub mod requests;
pub mod units;
pub mod views;

use std::collections::HashMap;

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};
use uuid::Uuid;

use super::documents::DocumentKey;
use super::error::RegisterError as E;
use super::history::{self, Why};
use crate::audit::{self, Change};
use crate::entities::{building, place, unit};
use crate::policy::{Action, Actor, PlaceScope, Role, allows};
use crate::state::AppState;

pub type Result<T> = std::result::Result<T, E>;

/// Keeps a version of a changed register object and notes the change in the tamper-evident
/// record (`summary` gains the community, the version number and the reason); the version.
#[allow(clippy::too_many_arguments)]
pub async fn note<C: ConnectionTrait, T: serde::Serialize>(
    db: &C,
    community_id: Uuid,
    entity: history::Entity,
    entity_id: Uuid,
    data: Option<&T>,
    why: &Why<'_>,
    action: &str,
    mut summary: serde_json::Value,
) -> Result<i64> {
    let seq = history::record(db, community_id, entity, entity_id, data, why).await?;
    if let Some(s) = summary.as_object_mut() {
        s.insert("community_id".into(), community_id.to_string().into());
        s.insert("register_seq".into(), seq.into());
        s.insert("reason".into(), why.reason.into());
    }
    audit::record(
        db,
        Change {
            actor: why.by,
            action,
            object_type: entity.object_type(),
            object_id: entity_id.to_string(),
            summary,
        },
    )
    .await?;
    Ok(seq)
}

/// The community, or `CommunityNotFound`.
pub async fn community<C: ConnectionTrait>(db: &C, id: Uuid) -> Result<place::Model> {
    crate::places::community(db, id)
        .await?
        .ok_or(E::CommunityNotFound)
}

async fn scope<C: ConnectionTrait>(db: &C, place_id: Uuid) -> Result<PlaceScope> {
    crate::places::scope(db, place_id)
        .await?
        .ok_or(E::CommunityNotFound)
}

/// The committee (and the party secretary) keep the register.
pub async fn may_edit<C: ConnectionTrait>(db: &C, actor: &Actor, community_id: Uuid) -> Result<()> {
    if allows(
        actor,
        Action::EditRegister,
        Some(&scope(db, community_id).await?),
    ) {
        Ok(())
    } else {
        Err(E::Forbidden("edit this community's register"))
    }
}

/// Which part of the register the actor may read: all of it (`None`: the committee, officers
/// above, a grid worker of the whole community), or only the grids they work in.
pub async fn readable_grids<C: ConnectionTrait>(
    db: &C,
    actor: &Actor,
    community_id: Uuid,
) -> Result<Option<Vec<Uuid>>> {
    if allows(
        actor,
        Action::ViewRegister,
        Some(&scope(db, community_id).await?),
    ) {
        return Ok(None);
    }
    let grids: Vec<Uuid> = place::Entity::find()
        .select_only()
        .column(place::Column::Id)
        .filter(place::Column::ParentId.eq(community_id))
        .filter(place::Column::Kind.eq("grid"))
        .into_tuple()
        .all(db)
        .await?;
    let mine: Vec<Uuid> = grids
        .into_iter()
        .filter(|g| actor.holds_at(Role::GridWorker, *g))
        .collect();
    if mine.is_empty() {
        Err(E::Forbidden("read this community's register"))
    } else {
        Ok(Some(mine))
    }
}

/// The key document numbers are hashed with; it lives outside the database.
pub fn document_key(state: &AppState) -> Result<DocumentKey> {
    Ok(DocumentKey::new(
        state
            .sealing
            .key()?
            .derive_original("yishi register document hash v1"),
    ))
}

/// A reason as kept with a version: given, or the default for this kind of change.
pub fn reason(raw: Option<&str>, default: &str) -> Result<String> {
    match raw.map(|r| r.trim()).filter(|r| !r.is_empty()) {
        Some(r) if r.chars().any(char::is_control) => Err(E::Invalid(
            "invalid_reason",
            "The reason must be plain text on one line.".into(),
        )),
        Some(r) => Ok(r.to_string()),
        None if default.is_empty() => Err(E::Invalid(
            "reason_required",
            "Say why the register changes; it is kept with the change.".into(),
        )),
        None => Ok(default.to_string()),
    }
}

/// A unit as the register's readers see it.
#[derive(Clone, Debug)]
pub struct UnitInfo {
    pub label: String,
    pub building: String,
    pub number: String,
    pub area_centi: i64,
    pub grid_id: Option<Uuid>,
    pub developer_held: bool,
}

/// The community's units with their labels ("1号楼-101"), areas and grids.
pub async fn units_of<C: ConnectionTrait>(
    db: &C,
    community_id: Uuid,
) -> Result<HashMap<Uuid, UnitInfo>> {
    let buildings: HashMap<Uuid, building::Model> = building::Entity::find()
        .filter(building::Column::CommunityId.eq(community_id))
        .all(db)
        .await?
        .into_iter()
        .map(|b| (b.id, b))
        .collect();
    Ok(unit::Entity::find()
        .filter(unit::Column::CommunityId.eq(community_id))
        .all(db)
        .await?
        .into_iter()
        .map(|u| {
            let b = buildings.get(&u.building_id);
            (
                u.id,
                UnitInfo {
                    label: format!(
                        "{}-{}",
                        b.map(|b| b.name.as_str()).unwrap_or_default(),
                        u.number
                    ),
                    building: b.map(|b| b.name.clone()).unwrap_or_default(),
                    number: u.number.clone(),
                    area_centi: u.area_centi,
                    grid_id: b.and_then(|b| b.grid_id),
                    developer_held: u.developer_held,
                },
            )
        })
        .collect())
}
