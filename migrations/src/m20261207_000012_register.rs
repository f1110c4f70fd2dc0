//! The community register: people, households and owners, each change kept as a dated version.
//!
//! Until now the owners' electorate told owners apart by the name typed on the unit register,
//! and residents and households were counted from app accounts. This migration adds the
//! register and fills it from what the database already says, merging nothing that the data
//! does not say is one:
//! - every verified membership (and every resident role held without one) becomes a person of
//!   that community, linked to the account; verified household members of a unit share one
//!   household there;
//! - each exact registered owner name of a community becomes one owner identity of kind
//!   `name_only` (as the electorate counted it before); namesakes and near-duplicates are left
//!   for the committee, which the register's anomaly list shows;
//! - the developer's units become one identity; a verified owner's units with no name become
//!   that person's identity; a verified owner of a named unit joins that identity.

use std::collections::{BTreeMap, HashMap, HashSet};

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, Statement, prelude::Uuid};

use crate::util::{fk, index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        create_tables(m).await?;
        fill_from_existing(m).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table("polls")
                .drop_column("register_seq")
                .take(),
        )
        .await?;
        for t in [
            "register_changes",
            "register_heads",
            "register_unit_owners",
            "register_owner_persons",
            "register_owners",
            "register_persons",
            "register_households",
        ] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}

async fn create_tables(m: &SchemaManager<'_>) -> Result<(), DbErr> {
    // A household (户) at a unit.
    m.create_table(
        Table::create()
            .table("register_households")
            .col(pk_uuid("id"))
            .col(uuid("community_id"))
            .col(uuid("unit_id"))
            .col(string("label"))
            .col(string("status"))
            .col(integer("version"))
            .col(timestamp_with_time_zone("created_at"))
            .col(timestamp_with_time_zone("updated_at"))
            .foreign_key(&mut fk("register_households", "community_id", "places"))
            .foreign_key(&mut fk("register_households", "unit_id", "units"))
            .take(),
    )
    .await?;
    m.create_index(index(
        "register_households",
        "ix_register_households_unit",
        &["unit_id"],
        false,
    ))
    .await?;
    m.create_index(index(
        "register_households",
        "ix_register_households_community",
        &["community_id"],
        false,
    ))
    .await?;

    // A person of the community. The identity document is kept only as a keyed hash and its
    // last four characters; the account, when the person has one, is linked here.
    m.create_table(
        Table::create()
            .table("register_persons")
            .col(pk_uuid("id"))
            .col(uuid("community_id"))
            .col(string("name"))
            .col(string("document_kind"))
            .col(string_null("document_hash"))
            .col(string_null("document_last4"))
            .col(string_null("phone"))
            .col(date_null("birth_date"))
            .col(boolean("adult"))
            .col(string("status"))
            .col(uuid_null("household_id"))
            .col(uuid_null("user_id"))
            .col(integer("version"))
            .col(timestamp_with_time_zone("created_at"))
            .col(timestamp_with_time_zone("updated_at"))
            .foreign_key(&mut fk("register_persons", "community_id", "places"))
            .take(),
    )
    .await?;
    m.create_index(index(
        "register_persons",
        "ux_register_persons_document",
        &["community_id", "document_hash"],
        true,
    ))
    .await?;
    m.create_index(index(
        "register_persons",
        "ux_register_persons_account",
        &["community_id", "user_id"],
        true,
    ))
    .await?;
    m.create_index(index(
        "register_persons",
        "ix_register_persons_name",
        &["community_id", "name"],
        false,
    ))
    .await?;
    m.create_index(index(
        "register_persons",
        "ix_register_persons_household",
        &["household_id"],
        false,
    ))
    .await?;
    m.create_index(index(
        "register_persons",
        "ix_register_persons_user",
        &["user_id"],
        false,
    ))
    .await?;

    // An owning party: one person, co-owners (one head, a representative votes), the
    // developer (its unsold units are one head), an organisation, or (from the old register)
    // only a name that no one has yet confirmed.
    m.create_table(
        Table::create()
            .table("register_owners")
            .col(pk_uuid("id"))
            .col(uuid("community_id"))
            .col(string("kind"))
            .col(string("name"))
            .col(uuid_null("representative_id"))
            .col(integer("version"))
            .col(timestamp_with_time_zone("created_at"))
            .col(timestamp_with_time_zone("updated_at"))
            .foreign_key(&mut fk("register_owners", "community_id", "places"))
            .take(),
    )
    .await?;
    m.create_index(index(
        "register_owners",
        "ix_register_owners_community",
        &["community_id"],
        false,
    ))
    .await?;
    m.create_table(
        Table::create()
            .table("register_owner_persons")
            .col(pk_uuid("id"))
            .col(uuid("owner_id"))
            .col(uuid("person_id"))
            .foreign_key(&mut fk(
                "register_owner_persons",
                "owner_id",
                "register_owners",
            ))
            .foreign_key(&mut fk(
                "register_owner_persons",
                "person_id",
                "register_persons",
            ))
            .take(),
    )
    .await?;
    m.create_index(index(
        "register_owner_persons",
        "ux_register_owner_persons",
        &["owner_id", "person_id"],
        true,
    ))
    .await?;
    m.create_index(index(
        "register_owner_persons",
        "ix_register_owner_persons_person",
        &["person_id"],
        false,
    ))
    .await?;

    // Who owns each unit, with its property certificate number (不动产权证号).
    m.create_table(
        Table::create()
            .table("register_unit_owners")
            .col(pk_uuid("unit_id"))
            .col(uuid("community_id"))
            .col(uuid("owner_id"))
            .col(string_null("certificate"))
            .col(timestamp_with_time_zone("updated_at"))
            .foreign_key(&mut fk("register_unit_owners", "unit_id", "units"))
            .foreign_key(&mut fk(
                "register_unit_owners",
                "owner_id",
                "register_owners",
            ))
            .take(),
    )
    .await?;
    m.create_index(index(
        "register_unit_owners",
        "ix_register_unit_owners_owner",
        &["owner_id"],
        false,
    ))
    .await?;
    m.create_index(index(
        "register_unit_owners",
        "ux_register_unit_owners_certificate",
        &["community_id", "certificate"],
        true,
    ))
    .await?;

    // Every change, as the whole object after it: the register as of any moment (or any
    // version number) reads back from here.
    m.create_table(
        Table::create()
            .table("register_changes")
            .col(pk_uuid("id"))
            .col(uuid("community_id"))
            .col(big_integer("seq"))
            .col(string("entity"))
            .col(uuid("entity_id"))
            .col(text_null("data"))
            .col(uuid_null("changed_by"))
            .col(text("reason"))
            .col(timestamp_with_time_zone("changed_at"))
            .foreign_key(&mut fk("register_changes", "community_id", "places"))
            .take(),
    )
    .await?;
    m.create_index(index(
        "register_changes",
        "ux_register_changes_seq",
        &["community_id", "seq"],
        true,
    ))
    .await?;
    m.create_index(index(
        "register_changes",
        "ix_register_changes_entity",
        &["entity_id", "seq"],
        false,
    ))
    .await?;
    // The community's last change number; moved in the transaction of each change.
    m.create_table(
        Table::create()
            .table("register_heads")
            .col(pk_uuid("community_id"))
            .col(big_integer("seq"))
            .foreign_key(&mut fk("register_heads", "community_id", "places"))
            .take(),
    )
    .await?;
    // The register version a poll's electorate was frozen from.
    m.alter_table(
        Table::alter()
            .table("polls")
            .add_column(big_integer_null("register_seq"))
            .take(),
    )
    .await
}

const REASON: &str = "migrated from the unit register and verified memberships";

/// What the register starts with, built in memory from the old tables and then written.
#[derive(Default)]
struct Fill {
    /// (community, user) → person id, with the person's row.
    persons: BTreeMap<(Uuid, Uuid), PersonRow>,
    households: BTreeMap<Uuid, HouseholdRow>,
    owners: BTreeMap<Uuid, OwnerRow>,
    unit_owners: Vec<(Uuid, Uuid, Uuid)>,
}

struct PersonRow {
    id: Uuid,
    name: String,
    living: bool,
    household_id: Option<Uuid>,
}

struct HouseholdRow {
    community_id: Uuid,
    unit_id: Uuid,
    label: String,
}

struct OwnerRow {
    community_id: Uuid,
    kind: &'static str,
    name: String,
    persons: Vec<Uuid>,
}

async fn fill_from_existing(m: &SchemaManager<'_>) -> Result<(), DbErr> {
    let db = m.get_connection();
    let backend = m.get_database_backend();
    let rows = |sql: &str| db.query_all_raw(Statement::from_string(backend, sql.to_string()));
    let mut fill = Fill::default();

    let names: HashMap<Uuid, String> =
        rows("SELECT id, display_name FROM users WHERE deleted_at IS NULL")
            .await?
            .iter()
            .map(|r| Ok((r.try_get("", "id")?, r.try_get("", "display_name")?)))
            .collect::<Result<_, DbErr>>()?;
    struct Unit {
        community_id: Uuid,
        label: String,
        owner_name: Option<String>,
        developer: bool,
    }
    let buildings: HashMap<Uuid, String> = rows("SELECT id, name FROM buildings")
        .await?
        .iter()
        .map(|r| Ok((r.try_get("", "id")?, r.try_get("", "name")?)))
        .collect::<Result<_, DbErr>>()?;
    let mut units: BTreeMap<Uuid, Unit> = BTreeMap::new();
    for r in rows(
        "SELECT id, community_id, building_id, number, registered_owner, developer_held \
         FROM units ORDER BY community_id, building_id, number",
    )
    .await?
    {
        let building: Uuid = r.try_get("", "building_id")?;
        let number: String = r.try_get("", "number")?;
        units.insert(
            r.try_get("", "id")?,
            Unit {
                community_id: r.try_get("", "community_id")?,
                label: format!(
                    "{}-{number}",
                    buildings.get(&building).cloned().unwrap_or_default()
                ),
                owner_name: r
                    .try_get::<Option<String>>("", "registered_owner")?
                    .map(|o| o.trim().to_string())
                    .filter(|o| !o.is_empty()),
                developer: r.try_get("", "developer_held")?,
            },
        );
    }

    // Verified memberships: persons, households, and owners who were verified.
    let mut verified_owners: Vec<(Uuid, Uuid, Uuid)> = Vec::new();
    for r in rows(
        "SELECT user_id, community_id, unit_id, household, owner FROM memberships \
         WHERE status = 'verified' ORDER BY created_at",
    )
    .await?
    {
        let user: Uuid = r.try_get("", "user_id")?;
        let community: Uuid = r.try_get("", "community_id")?;
        let unit: Option<Uuid> = r.try_get("", "unit_id")?;
        let (household, owner): (bool, bool) =
            (r.try_get("", "household")?, r.try_get("", "owner")?);
        let Some(name) = names.get(&user) else {
            continue;
        };
        let person = fill
            .persons
            .entry((community, user))
            .or_insert_with(|| PersonRow {
                id: Uuid::new_v4(),
                name: name.clone(),
                living: false,
                household_id: None,
            });
        if household && let Some(u) = unit.and_then(|u| units.get(&u).map(|x| (u, x))) {
            person.living = true;
            if person.household_id.is_none() {
                let existing = fill
                    .households
                    .iter()
                    .find(|(_, h)| h.unit_id == u.0)
                    .map(|(id, _)| *id);
                let id = existing.unwrap_or_else(|| {
                    let id = Uuid::new_v4();
                    fill.households.insert(
                        id,
                        HouseholdRow {
                            community_id: community,
                            unit_id: u.0,
                            label: u.1.label.clone(),
                        },
                    );
                    id
                });
                person.household_id = Some(id);
            }
        }
        if owner && let Some(u) = unit {
            verified_owners.push((community, user, u));
        }
    }
    // Residents by role alone (granted without a membership) are on the register too.
    for r in rows("SELECT user_id, place_id FROM role_grants WHERE role = 'resident'").await? {
        let user: Uuid = r.try_get("", "user_id")?;
        let Some(place): Option<Uuid> = r.try_get("", "place_id")? else {
            continue;
        };
        let Some(name) = names.get(&user) else {
            continue;
        };
        fill.persons
            .entry((place, user))
            .or_insert_with(|| PersonRow {
                id: Uuid::new_v4(),
                name: name.clone(),
                living: true,
                household_id: None,
            })
            .living = true;
    }

    // Owners: one identity per exact name in a community, the developer once, and a verified
    // owner's unnamed units with that owner.
    let mut by_name: HashMap<(Uuid, String), Uuid> = HashMap::new();
    let mut developer: HashMap<Uuid, Uuid> = HashMap::new();
    let mut owner_of_unit: HashMap<Uuid, Uuid> = HashMap::new();
    for (unit_id, u) in &units {
        let owner = if u.developer {
            *developer.entry(u.community_id).or_insert_with(|| {
                let id = Uuid::new_v4();
                fill.owners.insert(
                    id,
                    OwnerRow {
                        community_id: u.community_id,
                        kind: "developer",
                        name: "开发建设单位".into(),
                        persons: Vec::new(),
                    },
                );
                id
            })
        } else if let Some(name) = &u.owner_name {
            *by_name
                .entry((u.community_id, name.clone()))
                .or_insert_with(|| {
                    let id = Uuid::new_v4();
                    fill.owners.insert(
                        id,
                        OwnerRow {
                            community_id: u.community_id,
                            kind: "name_only",
                            name: name.clone(),
                            persons: Vec::new(),
                        },
                    );
                    id
                })
        } else {
            continue;
        };
        owner_of_unit.insert(*unit_id, owner);
    }
    let mut own_identity: HashMap<(Uuid, Uuid), Uuid> = HashMap::new();
    for (community, user, unit) in verified_owners {
        let Some(person) = fill.persons.get(&(community, user)).map(|p| p.id) else {
            continue;
        };
        if !units.contains_key(&unit) {
            continue;
        }
        let owner = match owner_of_unit.get(&unit) {
            Some(o) => *o,
            None => {
                let id = *own_identity.entry((community, user)).or_insert_with(|| {
                    let id = Uuid::new_v4();
                    fill.owners.insert(
                        id,
                        OwnerRow {
                            community_id: community,
                            kind: "persons",
                            name: names.get(&user).cloned().unwrap_or_default(),
                            persons: Vec::new(),
                        },
                    );
                    id
                });
                owner_of_unit.insert(unit, id);
                id
            }
        };
        if let Some(o) = fill.owners.get_mut(&owner)
            && o.kind != "developer"
            && !o.persons.contains(&person)
        {
            o.persons.push(person);
        }
    }
    for (unit, owner) in &owner_of_unit {
        if let Some(u) = units.get(unit) {
            fill.unit_owners.push((*unit, u.community_id, *owner));
        }
    }
    write(m, fill).await
}

async fn write(m: &SchemaManager<'_>, fill: Fill) -> Result<(), DbErr> {
    let db = m.get_connection();
    let backend = m.get_database_backend();
    let now = chrono_now();
    let mut seq: HashMap<Uuid, i64> = HashMap::new();
    let mut changes: Vec<(Uuid, &'static str, Uuid, serde_json_text::Json)> = Vec::new();
    let exec = |q: InsertStatement| {
        let stmt = backend.build(&q);
        async move { db.execute_raw(stmt).await.map(|_| ()) }
    };
    for (id, h) in &fill.households {
        exec(
            Query::insert()
                .into_table("register_households")
                .columns([
                    "id",
                    "community_id",
                    "unit_id",
                    "label",
                    "status",
                    "version",
                    "created_at",
                    "updated_at",
                ])
                .values_panic([
                    (*id).into(),
                    h.community_id.into(),
                    h.unit_id.into(),
                    h.label.clone().into(),
                    "active".into(),
                    1.into(),
                    now.into(),
                    now.into(),
                ])
                .to_owned(),
        )
        .await?;
        changes.push((
            h.community_id,
            "household",
            *id,
            serde_json_text::object(&[
                ("unit_id", serde_json_text::s(&h.unit_id.to_string())),
                ("label", serde_json_text::s(&h.label)),
                ("status", serde_json_text::s("active")),
            ]),
        ));
    }
    let mut seen_users: HashSet<(Uuid, Uuid)> = HashSet::new();
    for ((community, user), p) in &fill.persons {
        seen_users.insert((*community, *user));
        let status = if p.living { "living" } else { "non_resident" };
        exec(
            Query::insert()
                .into_table("register_persons")
                .columns([
                    "id",
                    "community_id",
                    "name",
                    "document_kind",
                    "adult",
                    "status",
                    "household_id",
                    "user_id",
                    "version",
                    "created_at",
                    "updated_at",
                ])
                .values_panic([
                    p.id.into(),
                    (*community).into(),
                    p.name.clone().into(),
                    "none".into(),
                    true.into(),
                    status.into(),
                    p.household_id.into(),
                    (*user).into(),
                    1.into(),
                    now.into(),
                    now.into(),
                ])
                .to_owned(),
        )
        .await?;
        changes.push((
            *community,
            "person",
            p.id,
            serde_json_text::object(&[
                ("name", serde_json_text::s(&p.name)),
                ("document_kind", serde_json_text::s("none")),
                ("adult", "true".into()),
                ("status", serde_json_text::s(status)),
                (
                    "household_id",
                    p.household_id
                        .map(|h| serde_json_text::s(&h.to_string()))
                        .unwrap_or_else(|| "null".into()),
                ),
                ("user_id", serde_json_text::s(&user.to_string())),
            ]),
        ));
    }
    for (id, o) in &fill.owners {
        exec(
            Query::insert()
                .into_table("register_owners")
                .columns([
                    "id",
                    "community_id",
                    "kind",
                    "name",
                    "version",
                    "created_at",
                    "updated_at",
                ])
                .values_panic([
                    (*id).into(),
                    o.community_id.into(),
                    o.kind.into(),
                    o.name.clone().into(),
                    1.into(),
                    now.into(),
                    now.into(),
                ])
                .to_owned(),
        )
        .await?;
        for person in &o.persons {
            exec(
                Query::insert()
                    .into_table("register_owner_persons")
                    .columns(["id", "owner_id", "person_id"])
                    .values_panic([Uuid::new_v4().into(), (*id).into(), (*person).into()])
                    .to_owned(),
            )
            .await?;
        }
        let persons = o
            .persons
            .iter()
            .map(|p| serde_json_text::s(&p.to_string()))
            .collect::<Vec<_>>()
            .join(",");
        changes.push((
            o.community_id,
            "owner",
            *id,
            serde_json_text::object(&[
                ("kind", serde_json_text::s(o.kind)),
                ("name", serde_json_text::s(&o.name)),
                ("representative_id", "null".into()),
                ("person_ids", format!("[{persons}]")),
            ]),
        ));
    }
    for (unit, community, owner) in &fill.unit_owners {
        exec(
            Query::insert()
                .into_table("register_unit_owners")
                .columns(["unit_id", "community_id", "owner_id", "updated_at"])
                .values_panic([
                    (*unit).into(),
                    (*community).into(),
                    (*owner).into(),
                    now.into(),
                ])
                .to_owned(),
        )
        .await?;
        changes.push((
            *community,
            "unit_owner",
            *unit,
            serde_json_text::object(&[
                ("owner_id", serde_json_text::s(&owner.to_string())),
                ("certificate", "null".into()),
            ]),
        ));
    }
    for (community, entity, entity_id, data) in changes {
        let n = seq.entry(community).or_insert(0);
        *n += 1;
        exec(
            Query::insert()
                .into_table("register_changes")
                .columns([
                    "id",
                    "community_id",
                    "seq",
                    "entity",
                    "entity_id",
                    "data",
                    "reason",
                    "changed_at",
                ])
                .values_panic([
                    Uuid::new_v4().into(),
                    community.into(),
                    (*n).into(),
                    entity.into(),
                    entity_id.into(),
                    data.into(),
                    REASON.into(),
                    now.into(),
                ])
                .to_owned(),
        )
        .await?;
    }
    for (community, n) in seq {
        exec(
            Query::insert()
                .into_table("register_heads")
                .columns(["community_id", "seq"])
                .values_panic([community.into(), n.into()])
                .to_owned(),
        )
        .await?;
    }
    Ok(())
}

fn chrono_now() -> sea_orm_migration::sea_orm::prelude::ChronoDateTimeUtc {
    sea_orm_migration::sea_orm::prelude::ChronoUtc::now()
}

/// JSON text for the snapshots, written by hand so the migrations crate needs no JSON library.
/// The register reads these with serde; the shapes match `register::model`'s snapshots.
mod serde_json_text {
    pub type Json = String;

    /// A JSON string literal.
    pub fn s(v: &str) -> String {
        let mut out = String::with_capacity(v.len() + 2);
        out.push('"');
        for c in v.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
                c => out.push(c),
            }
        }
        out.push('"');
        out
    }

    pub fn object(fields: &[(&str, String)]) -> Json {
        let body = fields
            .iter()
            .map(|(k, v)| format!("{}:{v}", s(k)))
            .collect::<Vec<_>>()
            .join(",");
        format!("{{{body}}}")
    }
}
