//! Versions of the register: every change appends the whole object as it is after the change,
//! numbered per community, so the register at any version (or moment) reads back exactly.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    Set,
};
use serde::Serialize;
use uuid::Uuid;

use super::model::{HouseholdRecord, OwnerRecord, PersonRecord, UnitOwnerRecord};
use crate::clock;
use crate::entities::{
    register_change, register_head, register_household, register_owner, register_owner_person,
    register_person, register_unit_owner,
};

/// The kinds of object a version is kept of.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Entity {
    Person,
    Household,
    Owner,
    UnitOwner,
}

impl Entity {
    pub fn as_str(self) -> &'static str {
        match self {
            Entity::Person => "person",
            Entity::Household => "household",
            Entity::Owner => "owner",
            Entity::UnitOwner => "unit_owner",
        }
    }

    /// What the tamper-evident record calls such an object.
    pub fn object_type(self) -> &'static str {
        match self {
            Entity::Person => "register_person",
            Entity::Household => "register_household",
            Entity::Owner => "register_owner",
            Entity::UnitOwner => "unit",
        }
    }
}

/// Who made a change and why.
#[derive(Clone, Debug)]
pub struct Why<'a> {
    pub by: Option<Uuid>,
    pub reason: &'a str,
}

impl<'a> Why<'a> {
    /// A change made by a signed-in person.
    pub fn of(actor: &crate::policy::Actor, reason: &'a str) -> Self {
        Self {
            by: Some(actor.id()),
            reason,
        }
    }
}

/// Takes the community's next `n` change numbers (the last is returned); the row lock it takes
/// orders concurrent changes.
async fn take_seqs<C: ConnectionTrait>(db: &C, community_id: Uuid, n: i64) -> Result<i64, DbErr> {
    let stmt = Query::insert()
        .into_table(register_head::Entity)
        .columns([
            register_head::Column::CommunityId,
            register_head::Column::Seq,
        ])
        .values_panic([community_id.into(), n.into()])
        .on_conflict(
            OnConflict::column(register_head::Column::CommunityId)
                .value(
                    register_head::Column::Seq,
                    Expr::col((register_head::Entity, register_head::Column::Seq)).add(n),
                )
                .to_owned(),
        )
        .returning_col(register_head::Column::Seq)
        .to_owned();
    let row = db
        .query_one(&stmt)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("the register head".into()))?;
    row.try_get_by_index(0)
}

/// The community's current register version (0 before any change).
pub async fn current_seq<C: ConnectionTrait>(db: &C, community_id: Uuid) -> Result<i64, DbErr> {
    Ok(register_head::Entity::find_by_id(community_id)
        .one(db)
        .await?
        .map(|h| h.seq)
        .unwrap_or(0))
}

/// Appends one version (`None`: the object was removed); its change number.
pub async fn record<C: ConnectionTrait, T: Serialize>(
    db: &C,
    community_id: Uuid,
    entity: Entity,
    entity_id: Uuid,
    data: Option<&T>,
    why: &Why<'_>,
) -> Result<i64, DbErr> {
    let seq = take_seqs(db, community_id, 1).await?;
    register_change::ActiveModel {
        id: Set(Uuid::now_v7()),
        community_id: Set(community_id),
        seq: Set(seq),
        entity: Set(entity.as_str().into()),
        entity_id: Set(entity_id),
        data: Set(data.map(|d| serde_json::to_string(d).unwrap_or_default())),
        changed_by: Set(why.by),
        reason: Set(why.reason.to_string()),
        changed_at: Set(clock::now()),
    }
    .insert(db)
    .await?;
    Ok(seq)
}

/// Appends many versions in order (an import), in few statements; the last change number.
pub async fn record_many<C: ConnectionTrait>(
    db: &C,
    community_id: Uuid,
    versions: Vec<(Entity, Uuid, Option<String>)>,
    why: &Why<'_>,
) -> Result<i64, DbErr> {
    if versions.is_empty() {
        return current_seq(db, community_id).await;
    }
    let last = take_seqs(db, community_id, versions.len() as i64).await?;
    let first = last - versions.len() as i64 + 1;
    let now = clock::now();
    let mut rows = versions
        .into_iter()
        .enumerate()
        .map(|(i, (entity, id, data))| register_change::ActiveModel {
            id: Set(Uuid::now_v7()),
            community_id: Set(community_id),
            seq: Set(first + i as i64),
            entity: Set(entity.as_str().into()),
            entity_id: Set(id),
            data: Set(data),
            changed_by: Set(why.by),
            reason: Set(why.reason.to_string()),
            changed_at: Set(now),
        })
        .peekable();
    while rows.peek().is_some() {
        let chunk: Vec<_> = rows.by_ref().take(500).collect();
        register_change::Entity::insert_many(chunk).exec(db).await?;
    }
    Ok(last)
}

/// Everything on a community's register at one version.
#[derive(Clone, Debug, Default)]
pub struct Register {
    pub seq: i64,
    pub persons: Vec<PersonRecord>,
    pub households: Vec<HouseholdRecord>,
    pub owners: Vec<OwnerRecord>,
    pub unit_owners: Vec<UnitOwnerRecord>,
}

impl Register {
    /// One order whichever way the register was read (the database's collation plays no part).
    fn sorted(mut self) -> Self {
        self.persons
            .sort_by(|a, b| (&a.name, a.id).cmp(&(&b.name, b.id)));
        self.households
            .sort_by(|a, b| (&a.label, a.id).cmp(&(&b.label, b.id)));
        self.owners
            .sort_by(|a, b| (&a.name, a.id).cmp(&(&b.name, b.id)));
        self.unit_owners.sort_by_key(|u| u.unit_id);
        self
    }
}

/// Which version to read.
#[derive(Copy, Clone, Debug)]
pub enum At {
    Now,
    Seq(i64),
    Moment(DateTime<Utc>),
}

pub async fn load<C: ConnectionTrait>(
    db: &C,
    community_id: Uuid,
    at: At,
) -> Result<Register, DbErr> {
    match at {
        At::Now => current(db, community_id).await,
        At::Seq(seq) => replay(db, community_id, Some(seq), None).await,
        At::Moment(t) => replay(db, community_id, None, Some(t)).await,
    }
}

/// The register as its tables hold it now.
async fn current<C: ConnectionTrait>(db: &C, community_id: Uuid) -> Result<Register, DbErr> {
    let seq = current_seq(db, community_id).await?;
    let persons = register_person::Entity::find()
        .filter(register_person::Column::CommunityId.eq(community_id))
        .order_by_asc(register_person::Column::Name)
        .order_by_asc(register_person::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(|p| PersonRecord {
            id: p.id,
            name: p.name,
            document_kind: p.document_kind,
            document_hash: p.document_hash,
            document_last4: p.document_last4,
            phone: p.phone,
            birth_date: p.birth_date,
            adult: p.adult,
            status: p.status,
            household_id: p.household_id,
            user_id: p.user_id,
        })
        .collect();
    let households = register_household::Entity::find()
        .filter(register_household::Column::CommunityId.eq(community_id))
        .order_by_asc(register_household::Column::Label)
        .all(db)
        .await?
        .into_iter()
        .map(|h| HouseholdRecord {
            id: h.id,
            unit_id: h.unit_id,
            label: h.label,
            status: h.status,
        })
        .collect();
    let owners_rows = register_owner::Entity::find()
        .filter(register_owner::Column::CommunityId.eq(community_id))
        .order_by_asc(register_owner::Column::Name)
        .all(db)
        .await?;
    let mut persons_of: BTreeMap<Uuid, Vec<Uuid>> = BTreeMap::new();
    for link in register_owner_person::Entity::find()
        .inner_join(register_owner::Entity)
        .filter(register_owner::Column::CommunityId.eq(community_id))
        .all(db)
        .await?
    {
        persons_of
            .entry(link.owner_id)
            .or_default()
            .push(link.person_id);
    }
    let owners = owners_rows
        .into_iter()
        .map(|o| {
            let mut person_ids = persons_of.remove(&o.id).unwrap_or_default();
            person_ids.sort();
            OwnerRecord {
                id: o.id,
                kind: o.kind,
                name: o.name,
                representative_id: o.representative_id,
                person_ids,
            }
        })
        .collect();
    let unit_owners = register_unit_owner::Entity::find()
        .filter(register_unit_owner::Column::CommunityId.eq(community_id))
        .all(db)
        .await?
        .into_iter()
        .map(|u| UnitOwnerRecord {
            unit_id: u.unit_id,
            owner_id: u.owner_id,
            certificate: u.certificate,
        })
        .collect();
    Ok(Register {
        seq,
        persons,
        households,
        owners,
        unit_owners,
    }
    .sorted())
}

/// The register rebuilt from its versions up to a change number or a moment.
async fn replay<C: ConnectionTrait>(
    db: &C,
    community_id: Uuid,
    upto_seq: Option<i64>,
    upto_moment: Option<DateTime<Utc>>,
) -> Result<Register, DbErr> {
    let mut q = register_change::Entity::find()
        .filter(register_change::Column::CommunityId.eq(community_id))
        .order_by_asc(register_change::Column::Seq);
    if let Some(s) = upto_seq {
        q = q.filter(register_change::Column::Seq.lte(s));
    }
    if let Some(t) = upto_moment {
        q = q.filter(register_change::Column::ChangedAt.lte(t));
    }
    let mut persons = BTreeMap::new();
    let mut households = BTreeMap::new();
    let mut owners = BTreeMap::new();
    let mut unit_owners = BTreeMap::new();
    let mut seq = 0;
    for c in q.all(db).await? {
        seq = c.seq;
        let parse_err = |e: serde_json::Error| {
            DbErr::Custom(format!("register change {} does not parse: {e}", c.seq))
        };
        let data = c.data.as_deref();
        match c.entity.as_str() {
            "person" => match data {
                Some(d) => {
                    let mut r: PersonRecord = serde_json::from_str(d).map_err(parse_err)?;
                    r.id = c.entity_id;
                    persons.insert(c.entity_id, r);
                }
                None => {
                    persons.remove(&c.entity_id);
                }
            },
            "household" => match data {
                Some(d) => {
                    let mut r: HouseholdRecord = serde_json::from_str(d).map_err(parse_err)?;
                    r.id = c.entity_id;
                    households.insert(c.entity_id, r);
                }
                None => {
                    households.remove(&c.entity_id);
                }
            },
            "owner" => match data {
                Some(d) => {
                    let mut r: OwnerRecord = serde_json::from_str(d).map_err(parse_err)?;
                    r.id = c.entity_id;
                    r.person_ids.sort();
                    owners.insert(c.entity_id, r);
                }
                None => {
                    owners.remove(&c.entity_id);
                }
            },
            "unit_owner" => match data {
                Some(d) => {
                    let mut r: UnitOwnerRecord = serde_json::from_str(d).map_err(parse_err)?;
                    r.unit_id = c.entity_id;
                    unit_owners.insert(c.entity_id, r);
                }
                None => {
                    unit_owners.remove(&c.entity_id);
                }
            },
            _ => {}
        }
    }
    Ok(Register {
        seq,
        persons: persons.into_values().collect(),
        households: households.into_values().collect(),
        owners: owners.into_values().collect(),
        unit_owners: unit_owners.into_values().collect(),
    }
    .sorted())
}

/// The versions after a change number, oldest first, at most `limit`.
pub async fn changes<C: ConnectionTrait>(
    db: &C,
    community_id: Uuid,
    after: i64,
    limit: u64,
) -> Result<Vec<register_change::Model>, DbErr> {
    use sea_orm::QuerySelect;
    register_change::Entity::find()
        .filter(register_change::Column::CommunityId.eq(community_id))
        .filter(register_change::Column::Seq.gt(after))
        .order_by_asc(register_change::Column::Seq)
        .limit(limit)
        .all(db)
        .await
}
