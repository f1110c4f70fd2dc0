//! Owners: who owns each unit, told apart by who they are (persons with their documents, the
//! developer, an organisation), never by the name typed on a unit.

use std::collections::BTreeSet;

use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use uuid::Uuid;

use super::households::unit_in;
use super::views::{self, Index};
use super::{Result, community, may_edit, note, readable_grids, reason, units_of};
use crate::clock;
use crate::entities::{
    register_owner, register_owner_person, register_person, register_unit_owner,
};
use crate::policy::Actor;
use crate::register::error::RegisterError as E;
use crate::register::history::{self, At, Entity, Why};
use crate::register::model::*;
use crate::state::AppState;

async fn persons_of<C: ConnectionTrait>(db: &C, owner_id: Uuid) -> Result<Vec<Uuid>> {
    let mut ids: Vec<Uuid> = register_owner_person::Entity::find()
        .filter(register_owner_person::Column::OwnerId.eq(owner_id))
        .all(db)
        .await?
        .into_iter()
        .map(|l| l.person_id)
        .collect();
    ids.sort();
    Ok(ids)
}

/// Writes an owner, its persons and its version.
pub async fn save<C: ConnectionTrait>(
    db: &C,
    am: register_owner::ActiveModel,
    insert: bool,
    person_ids: Option<&[Uuid]>,
    why: &Why<'_>,
) -> Result<register_owner::Model> {
    let o = if insert {
        am.insert(db).await?
    } else {
        am.update(db).await?
    };
    if let Some(ids) = person_ids {
        register_owner_person::Entity::delete_many()
            .filter(register_owner_person::Column::OwnerId.eq(o.id))
            .exec(db)
            .await?;
        for p in ids {
            register_owner_person::ActiveModel {
                id: Set(Uuid::new_v4()),
                owner_id: Set(o.id),
                person_id: Set(*p),
            }
            .insert(db)
            .await?;
        }
    }
    let record = OwnerRecord {
        id: o.id,
        kind: o.kind,
        name: o.name.clone(),
        representative_id: o.representative_id,
        person_ids: persons_of(db, o.id).await?,
    };
    note(
        db,
        o.community_id,
        Entity::Owner,
        o.id,
        Some(&record),
        why,
        if insert {
            "register.owner_added"
        } else {
            "register.owner_changed"
        },
        serde_json::json!({ "kind": o.kind, "persons": record.person_ids.len() }),
    )
    .await?;
    Ok(o)
}

/// The persons, each once and each on this community's register; their names.
async fn check_persons<C: ConnectionTrait>(
    db: &C,
    community_id: Uuid,
    ids: &[Uuid],
) -> Result<(Vec<Uuid>, Vec<String>)> {
    let unique: BTreeSet<Uuid> = ids.iter().copied().collect();
    let found = register_person::Entity::find()
        .filter(register_person::Column::Id.is_in(unique.iter().copied().collect::<Vec<_>>()))
        .filter(register_person::Column::CommunityId.eq(community_id))
        .all(db)
        .await?;
    if found.len() != unique.len() {
        return Err(E::Invalid(
            "invalid_owner_persons",
            "Every owner must be a person on this community's register.".into(),
        ));
    }
    let mut names: Vec<(Uuid, String)> = found.into_iter().map(|p| (p.id, p.name)).collect();
    names.sort();
    Ok((
        names.iter().map(|(id, _)| *id).collect(),
        names.into_iter().map(|(_, n)| n).collect(),
    ))
}

/// The owner made of exactly these persons, if there is one: several units of one owner (or of
/// the same co-owners) are one head.
pub async fn find_by_persons<C: ConnectionTrait>(
    db: &C,
    community_id: Uuid,
    persons: &[Uuid],
) -> Result<Option<register_owner::Model>> {
    let Some(first) = persons.first() else {
        return Ok(None);
    };
    let candidates: Vec<Uuid> = register_owner_person::Entity::find()
        .filter(register_owner_person::Column::PersonId.eq(*first))
        .all(db)
        .await?
        .into_iter()
        .map(|l| l.owner_id)
        .collect();
    for c in candidates {
        if persons_of(db, c).await? == persons
            && let Some(o) = register_owner::Entity::find_by_id(c)
                .one(db)
                .await?
                .filter(|o| o.community_id == community_id && o.kind == OwnerKind::Persons)
        {
            return Ok(Some(o));
        }
    }
    Ok(None)
}

fn owner_name(raw: Option<&str>, persons: &[String]) -> Result<String> {
    match raw.map(str::trim).filter(|n| !n.is_empty()) {
        Some(n) if n.chars().count() <= 128 && !n.chars().any(char::is_control) => {
            Ok(n.to_string())
        }
        Some(_) => Err(E::Invalid(
            "invalid_name",
            "An owner's name has 1 to 128 characters on one line.".into(),
        )),
        None if !persons.is_empty() => Ok(persons.join("、")),
        None => Err(E::Invalid(
            "invalid_name",
            "Name the owner (as on the property certificate).".into(),
        )),
    }
}

/// Checks a kind, its persons and representative together.
fn check_shape(kind: OwnerKind, persons: &[Uuid], representative: Option<Uuid>) -> Result<()> {
    match kind {
        OwnerKind::NameOnly => Err(E::Invalid(
            "invalid_owner_kind",
            "An owner known only by a name comes from the old unit register; record who the owner is instead.".into(),
        )),
        OwnerKind::Persons if persons.is_empty() => Err(E::Invalid(
            "invalid_owner_persons",
            "Name the person, or the co-owners, who own.".into(),
        )),
        OwnerKind::Developer if !persons.is_empty() => Err(E::Invalid(
            "invalid_owner_persons",
            "The developer's units have no persons as owners.".into(),
        )),
        _ if representative.is_some_and(|r| !persons.contains(&r)) => Err(E::Invalid(
            "invalid_representative",
            "The representative must be one of the owners.".into(),
        )),
        _ => Ok(()),
    }
}

pub async fn create(
    state: &AppState,
    actor: &Actor,
    community_id: Uuid,
    req: CreateOwnerRequest,
) -> Result<OwnerView> {
    let kind = req.kind.unwrap_or(OwnerKind::Persons);
    let requested = req.person_ids.clone().unwrap_or_default();
    check_shape(kind, &requested, req.representative_id)?;
    let why_text = reason(req.reason.as_deref(), "owner registered")?;
    let txn = state.db.write().await?;
    community(&*txn, community_id).await?;
    may_edit(&*txn, actor, community_id).await?;
    let (persons, names) = check_persons(&*txn, community_id, &requested).await?;
    let name = owner_name(req.name.as_deref(), &names)?;
    if kind == OwnerKind::Persons
        && let Some(o) = find_by_persons(&*txn, community_id, &persons).await?
    {
        return Err(E::Conflict(
            "owner_exists",
            format!(
                "These persons are already registered as one owner: {}.",
                o.name
            ),
        ));
    }
    if kind == OwnerKind::Developer
        && register_owner::Entity::find()
            .filter(register_owner::Column::CommunityId.eq(community_id))
            .filter(register_owner::Column::Kind.eq(OwnerKind::Developer))
            .one(&*txn)
            .await?
            .is_some()
    {
        return Err(E::Conflict(
            "developer_exists",
            "The developer is already registered; give it the units instead.".into(),
        ));
    }
    let now = clock::now();
    let o = save(
        &*txn,
        register_owner::ActiveModel {
            id: Set(Uuid::new_v4()),
            community_id: Set(community_id),
            kind: Set(kind),
            name: Set(name),
            representative_id: Set(req.representative_id),
            version: Set(1),
            created_at: Set(now),
            updated_at: Set(now),
        },
        true,
        Some(&persons),
        &Why::of(actor, &why_text),
    )
    .await?;
    let view = one_view(&*txn, &o).await?;
    txn.commit().await?;
    Ok(view)
}

pub async fn update(
    state: &AppState,
    actor: &Actor,
    owner_id: Uuid,
    req: UpdateOwnerRequest,
) -> Result<OwnerView> {
    let why_text = reason(Some(&req.reason), "")?;
    let txn = state.db.write().await?;
    let o = register_owner::Entity::find_by_id(owner_id)
        .one(&*txn)
        .await?
        .ok_or(E::OwnerNotFound)?;
    may_edit(&*txn, actor, o.community_id).await?;
    let current = persons_of(&*txn, o.id).await?;
    let (persons, names) = match &req.person_ids {
        Some(ids) => check_persons(&*txn, o.community_id, ids).await?,
        None => (current.clone(), Vec::new()),
    };
    let kind = match (req.kind, o.kind) {
        (Some(k), _) => k,
        // Persons named for an owner known only by name: the committee has confirmed who it is.
        (None, OwnerKind::NameOnly) if !persons.is_empty() => OwnerKind::Persons,
        (None, k) => k,
    };
    let representative = match req.representative_id {
        poem_openapi::types::MaybeUndefined::Value(r) => Some(r),
        poem_openapi::types::MaybeUndefined::Null => None,
        poem_openapi::types::MaybeUndefined::Undefined => {
            o.representative_id.filter(|r| persons.contains(r))
        }
    };
    if !(kind == OwnerKind::NameOnly && persons.is_empty()) {
        check_shape(kind, &persons, representative)?;
    }
    if kind == OwnerKind::Developer
        && o.kind != OwnerKind::Developer
        && register_owner::Entity::find()
            .filter(register_owner::Column::CommunityId.eq(o.community_id))
            .filter(register_owner::Column::Kind.eq(OwnerKind::Developer))
            .one(&*txn)
            .await?
            .is_some()
    {
        return Err(E::Conflict(
            "developer_exists",
            "The developer is already registered; give it the units instead.".into(),
        ));
    }
    if kind == OwnerKind::Persons
        && persons != current
        && let Some(other) = find_by_persons(&*txn, o.community_id, &persons).await?
        && other.id != o.id
    {
        return Err(E::Conflict(
            "owner_exists",
            format!(
                "These persons are already registered as one owner: {}; give the units to that owner instead.",
                other.name
            ),
        ));
    }
    let mut am: register_owner::ActiveModel = o.clone().into();
    if let Some(n) = &req.name {
        am.name = Set(owner_name(Some(n), &names)?);
    }
    am.kind = Set(kind);
    am.representative_id = Set(representative);
    am.version = Set(o.version + 1);
    am.updated_at = Set(clock::now());
    let o = save(
        &*txn,
        am,
        false,
        req.person_ids.as_ref().map(|_| persons.as_slice()),
        &Why::of(actor, &why_text),
    )
    .await?;
    let view = one_view(&*txn, &o).await?;
    txn.commit().await?;
    Ok(view)
}

async fn one_view<C: ConnectionTrait>(db: &C, o: &register_owner::Model) -> Result<OwnerView> {
    let reg = history::load(db, o.community_id, At::Now).await?;
    let units = units_of(db, o.community_id).await?;
    let index = Index::new(&reg, &units);
    views::owners(&reg, &index)
        .into_iter()
        .find(|v| v.id == o.id)
        .ok_or(E::OwnerNotFound)
}

pub async fn list(state: &AppState, actor: &Actor, community_id: Uuid) -> Result<Vec<OwnerView>> {
    let db = &state.db.conn;
    community(db, community_id).await?;
    let grids = readable_grids(db, actor, community_id).await?;
    let reg = history::load(db, community_id, At::Now).await?;
    let units = units_of(db, community_id).await?;
    let index = Index::new(&reg, &units);
    Ok(views::owners(&reg, &index)
        .into_iter()
        .filter(|o| match &grids {
            None => true,
            Some(g) => o.units.iter().any(|u| {
                units
                    .get(&u.unit_id)
                    .and_then(|x| x.grid_id)
                    .is_some_and(|x| g.contains(&x))
            }),
        })
        .collect())
}

/// Records who owns a unit (replacing whoever did), in the caller's transaction.
pub async fn set_unit_owner_in<C: ConnectionTrait>(
    db: &C,
    community_id: Uuid,
    unit_id: Uuid,
    owner_id: Uuid,
    certificate: Option<String>,
    why: &Why<'_>,
) -> Result<()> {
    if let Some(c) = &certificate {
        let other = register_unit_owner::Entity::find()
            .filter(register_unit_owner::Column::CommunityId.eq(community_id))
            .filter(register_unit_owner::Column::Certificate.eq(c.clone()))
            .one(db)
            .await?;
        if other.is_some_and(|o| o.unit_id != unit_id) {
            return Err(E::Conflict(
                "certificate_in_use",
                "Another unit of this community has this property certificate number.".into(),
            ));
        }
    }
    register_unit_owner::Entity::delete_by_id(unit_id)
        .exec(db)
        .await?;
    register_unit_owner::ActiveModel {
        unit_id: Set(unit_id),
        community_id: Set(community_id),
        owner_id: Set(owner_id),
        certificate: Set(certificate.clone()),
        updated_at: Set(clock::now()),
    }
    .insert(db)
    .await?;
    let record = UnitOwnerRecord {
        unit_id,
        owner_id,
        certificate,
    };
    note(
        db,
        community_id,
        Entity::UnitOwner,
        unit_id,
        Some(&record),
        why,
        "register.unit_owner_set",
        serde_json::json!({ "owner_id": owner_id }),
    )
    .await?;
    Ok(())
}

fn certificate(raw: Option<&str>) -> Result<Option<String>> {
    match raw.map(str::trim).filter(|c| !c.is_empty()) {
        None => Ok(None),
        Some(c) if c.chars().count() <= 64 && !c.chars().any(char::is_control) => {
            Ok(Some(c.chars().filter(|c| !c.is_whitespace()).collect()))
        }
        Some(_) => Err(E::Invalid(
            "invalid_certificate",
            "A property certificate number has at most 64 characters on one line.".into(),
        )),
    }
}

pub async fn set_unit_owner(
    state: &AppState,
    actor: &Actor,
    unit_id: Uuid,
    req: SetUnitOwnerRequest,
) -> Result<OwnerView> {
    let why_text = reason(Some(&req.reason), "")?;
    let certificate = certificate(req.certificate.as_deref())?;
    let txn = state.db.write().await?;
    let u = crate::entities::unit::Entity::find_by_id(unit_id)
        .one(&*txn)
        .await?
        .ok_or(E::UnitNotFound)?;
    may_edit(&*txn, actor, u.community_id).await?;
    unit_in(&*txn, u.community_id, unit_id).await?;
    let o = register_owner::Entity::find_by_id(req.owner_id)
        .one(&*txn)
        .await?
        .filter(|o| o.community_id == u.community_id)
        .ok_or(E::OwnerNotFound)?;
    set_unit_owner_in(
        &*txn,
        u.community_id,
        unit_id,
        o.id,
        certificate,
        &Why::of(actor, &why_text),
    )
    .await?;
    let view = one_view(&*txn, &o).await?;
    txn.commit().await?;
    Ok(view)
}

pub async fn clear_unit_owner(
    state: &AppState,
    actor: &Actor,
    unit_id: Uuid,
    why_text: &str,
) -> Result<()> {
    let why_text = reason(Some(why_text), "")?;
    let txn = state.db.write().await?;
    let u = crate::entities::unit::Entity::find_by_id(unit_id)
        .one(&*txn)
        .await?
        .ok_or(E::UnitNotFound)?;
    may_edit(&*txn, actor, u.community_id).await?;
    let removed = register_unit_owner::Entity::delete_by_id(unit_id)
        .exec(&*txn)
        .await?;
    if removed.rows_affected == 0 {
        return Err(E::Conflict(
            "no_unit_owner",
            "No owner is recorded for this unit.".into(),
        ));
    }
    let why = Why::of(actor, &why_text);
    note::<_, UnitOwnerRecord>(
        &*txn,
        u.community_id,
        Entity::UnitOwner,
        unit_id,
        None,
        &why,
        "register.unit_owner_cleared",
        serde_json::json!({}),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}
