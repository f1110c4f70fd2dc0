//! Importing a register file: persons with their households and ownerships, matched to the
//! register by document (else by name and unit), so importing the same file again changes
//! nothing. A bad row is reported by its line; the good rows are all taken, in one transaction,
//! written in batches.

use std::collections::{BTreeMap, HashMap, HashSet};

use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use uuid::Uuid;

use super::persons::adult_on;
use super::{Result, community, document_key, may_edit};
use crate::audit::{self, Change};
use crate::clock;
use crate::entities::{
    building, register_household, register_owner, register_owner_person, register_person,
    register_unit_owner, unit,
};
use crate::policy::Actor;
use crate::register::csv::{self, PersonRow};
use crate::register::documents::{DocumentKey, fold_name, last_four};
use crate::register::history::{self, At, Entity, Register, Why};
use crate::register::model::*;
use crate::state::AppState;

const CHUNK: usize = 500;

/// What the import will write, worked out in memory first.
#[derive(Default)]
struct Plan {
    report: RegisterImportReport,
    new_households: Vec<HouseholdRecord>,
    new_persons: Vec<PersonRecord>,
    changed_persons: Vec<PersonRecord>,
    new_owners: Vec<OwnerRecord>,
    unit_owners: Vec<UnitOwnerRecord>,
}

fn fail(report: &mut RegisterImportReport, line: usize, message: String) {
    report.errors.push(RegisterImportError {
        line: line as u64,
        message,
    });
}

async fn unit_numbers<C: ConnectionTrait>(
    db: &C,
    community_id: Uuid,
) -> Result<HashMap<(String, String), Uuid>> {
    let buildings: HashMap<Uuid, String> = building::Entity::find()
        .filter(building::Column::CommunityId.eq(community_id))
        .all(db)
        .await?
        .into_iter()
        .map(|b| (b.id, b.name))
        .collect();
    Ok(unit::Entity::find()
        .filter(unit::Column::CommunityId.eq(community_id))
        .all(db)
        .await?
        .into_iter()
        .filter_map(|u| Some(((buildings.get(&u.building_id)?.clone(), u.number), u.id)))
        .collect())
}

/// Works out every change the rows ask for against the register as it is.
fn plan(
    reg: &Register,
    rows: Vec<PersonRow>,
    units: &HashMap<(String, String), Uuid>,
    key: &DocumentKey,
    community_id: Uuid,
) -> Plan {
    let today = clock::now().date_naive();
    let mut p = Plan::default();
    let mut by_hash: HashMap<&str, &PersonRecord> = HashMap::new();
    let mut by_name_unit: HashMap<(String, Uuid), &PersonRecord> = HashMap::new();
    let households: HashMap<Uuid, &HouseholdRecord> =
        reg.households.iter().map(|h| (h.id, h)).collect();
    let mut household_at: HashMap<Uuid, Uuid> = HashMap::new();
    for h in reg.households.iter().rev() {
        if h.status == HouseholdStatus::Active {
            household_at.insert(h.unit_id, h.id);
        }
    }
    for person in &reg.persons {
        if let Some(h) = &person.document_hash {
            by_hash.insert(h, person);
        }
        if let Some(u) = person.household_id.and_then(|h| households.get(&h)) {
            by_name_unit.insert((fold_name(&person.name), u.unit_id), person);
        }
    }
    let mut seen = HashSet::new();
    // Owners' persons by unit, with the certificate and the first line that named them.
    let mut owned: BTreeMap<Uuid, (Vec<Uuid>, Option<String>, usize)> = BTreeMap::new();
    for row in rows {
        let unit_id = match &row.unit {
            Some((b, n)) => match units.get(&(b.clone(), n.clone())) {
                Some(u) => Some(*u),
                None => {
                    fail(
                        &mut p.report,
                        row.line,
                        format!("unit {n} of {b} is not on the unit register"),
                    );
                    continue;
                }
            },
            None => None,
        };
        let hash = row
            .document
            .as_ref()
            .map(|(kind, n)| key.hash(community_id, *kind, n));
        let match_key = match (&hash, unit_id) {
            (Some(h), _) => h.clone(),
            (None, Some(u)) => format!("{}@{u}", fold_name(&row.name)),
            (None, None) => {
                fail(
                    &mut p.report,
                    row.line,
                    "a row needs a document number or a unit, so that it is matched again on re-import".into(),
                );
                continue;
            }
        };
        if !seen.insert(match_key) {
            fail(
                &mut p.report,
                row.line,
                "this person appears twice in the file".into(),
            );
            continue;
        }
        let existing = match (&hash, unit_id) {
            (Some(h), _) => by_hash.get(h.as_str()).copied(),
            (None, Some(u)) => by_name_unit.get(&(fold_name(&row.name), u)).copied(),
            (None, None) => None,
        };
        let household_id = match unit_id {
            Some(u) if row.status == PersonStatus::Living => {
                Some(*household_at.entry(u).or_insert_with(|| {
                    let id = Uuid::new_v4();
                    let label = row
                        .unit
                        .as_ref()
                        .map(|(b, n)| format!("{b}-{n}"))
                        .unwrap_or_default();
                    p.new_households.push(HouseholdRecord {
                        id,
                        unit_id: u,
                        label,
                        status: HouseholdStatus::Active,
                    });
                    id
                }))
            }
            Some(_) => None,
            None => existing.and_then(|e| e.household_id),
        };
        let (document_kind, document_hash, document_last4) = match (&row.document, existing) {
            (Some((kind, n)), _) => (*kind, hash.clone(), Some(last_four(n))),
            (None, Some(e)) => (
                e.document_kind,
                e.document_hash.clone(),
                e.document_last4.clone(),
            ),
            (None, None) => (DocumentKind::None, None, None),
        };
        let record = PersonRecord {
            id: existing.map_or_else(Uuid::new_v4, |e| e.id),
            name: row.name.clone(),
            document_kind,
            document_hash,
            document_last4,
            phone: row
                .phone
                .clone()
                .or_else(|| existing.and_then(|e| e.phone.clone())),
            birth_date: row
                .birth_date
                .or_else(|| existing.and_then(|e| e.birth_date)),
            adult: match row.birth_date {
                Some(b) => adult_on(b, today),
                None => row.adult.or(existing.map(|e| e.adult)).unwrap_or(true),
            },
            status: row.status,
            household_id,
            user_id: existing.and_then(|e| e.user_id),
        };
        if row.owner
            && let Some(u) = unit_id
        {
            let entry = owned.entry(u).or_insert((Vec::new(), None, row.line));
            entry.0.push(record.id);
            if row.certificate.is_some() {
                entry.1 = row.certificate.clone();
            }
        }
        match existing {
            Some(e) if *e == record => p.report.persons_unchanged += 1,
            Some(_) => p.changed_persons.push(record),
            None => p.new_persons.push(record),
        }
    }
    plan_owners(reg, owned, &mut p);
    p.report.persons_created = p.new_persons.len() as u64;
    p.report.persons_updated = p.changed_persons.len() as u64;
    p.report.households_created = p.new_households.len() as u64;
    p.report.owners_created = p.new_owners.len() as u64;
    p.report.units_owned = p.unit_owners.len() as u64;
    p
}

/// The owner of each unit the file names owners for: the owner with exactly those persons (one
/// owner of several units is one head), or a new one.
fn plan_owners(
    reg: &Register,
    owned: BTreeMap<Uuid, (Vec<Uuid>, Option<String>, usize)>,
    p: &mut Plan,
) {
    let mut owner_of_set: HashMap<Vec<Uuid>, Uuid> = reg
        .owners
        .iter()
        .filter(|o| o.kind == OwnerKind::Persons)
        .map(|o| (o.person_ids.clone(), o.id))
        .collect();
    let current: HashMap<Uuid, &UnitOwnerRecord> =
        reg.unit_owners.iter().map(|u| (u.unit_id, u)).collect();
    let mut certificates: HashMap<String, Uuid> = reg
        .unit_owners
        .iter()
        .filter_map(|u| Some((u.certificate.clone()?, u.unit_id)))
        .collect();
    let names: HashMap<Uuid, String> = reg
        .persons
        .iter()
        .chain(p.new_persons.iter())
        .chain(p.changed_persons.iter())
        .map(|x| (x.id, x.name.clone()))
        .collect();
    for (unit_id, (mut persons, certificate, line)) in owned {
        persons.sort();
        persons.dedup();
        if let Some(c) = &certificate
            && certificates.get(c).is_some_and(|u| *u != unit_id)
        {
            fail(
                &mut p.report,
                line,
                format!("certificate {c} is another unit's; the unit's owner was not recorded"),
            );
            continue;
        }
        let owner_id = *owner_of_set.entry(persons.clone()).or_insert_with(|| {
            let id = Uuid::new_v4();
            let mut label: Vec<String> = persons
                .iter()
                .filter_map(|x| names.get(x).cloned())
                .collect();
            label.sort();
            p.new_owners.push(OwnerRecord {
                id,
                kind: OwnerKind::Persons,
                name: label.join("、"),
                representative_id: None,
                person_ids: persons.clone(),
            });
            id
        });
        let certificate =
            certificate.or_else(|| current.get(&unit_id).and_then(|u| u.certificate.clone()));
        let unchanged = current
            .get(&unit_id)
            .is_some_and(|u| u.owner_id == owner_id && u.certificate == certificate);
        if let Some(c) = &certificate {
            certificates.insert(c.clone(), unit_id);
        }
        if !unchanged {
            p.unit_owners.push(UnitOwnerRecord {
                unit_id,
                owner_id,
                certificate,
            });
        }
    }
}

fn json<T: serde::Serialize>(value: &T) -> Option<String> {
    Some(serde_json::to_string(value).unwrap_or_default())
}

/// Writes the plan in batches, with a version for every object it touches.
async fn write<C: ConnectionTrait>(
    db: &C,
    community_id: Uuid,
    plan: &Plan,
    why: &Why<'_>,
) -> Result<i64> {
    let now = clock::now();
    let mut versions = Vec::new();
    let households = plan.new_households.iter().map(|h| {
        versions.push((Entity::Household, h.id, json(h)));
        register_household::ActiveModel {
            id: Set(h.id),
            community_id: Set(community_id),
            unit_id: Set(h.unit_id),
            label: Set(h.label.clone()),
            status: Set(h.status),
            version: Set(1),
            created_at: Set(now),
            updated_at: Set(now),
        }
    });
    insert_chunks(db, households.collect::<Vec<_>>()).await?;
    let persons: Vec<_> = plan
        .new_persons
        .iter()
        .map(|x| {
            versions.push((Entity::Person, x.id, json(x)));
            register_person::ActiveModel {
                id: Set(x.id),
                community_id: Set(community_id),
                name: Set(x.name.clone()),
                document_kind: Set(x.document_kind),
                document_hash: Set(x.document_hash.clone()),
                document_last4: Set(x.document_last4.clone()),
                phone: Set(x.phone.clone()),
                birth_date: Set(x.birth_date),
                adult: Set(x.adult),
                status: Set(x.status),
                household_id: Set(x.household_id),
                user_id: Set(None),
                version: Set(1),
                created_at: Set(now),
                updated_at: Set(now),
            }
        })
        .collect();
    insert_chunks(db, persons).await?;
    for x in &plan.changed_persons {
        versions.push((Entity::Person, x.id, json(x)));
        register_person::Entity::update_many()
            .col_expr(register_person::Column::Name, Expr::value(x.name.clone()))
            .col_expr(
                register_person::Column::DocumentKind,
                Expr::value(x.document_kind),
            )
            .col_expr(
                register_person::Column::DocumentHash,
                Expr::value(x.document_hash.clone()),
            )
            .col_expr(
                register_person::Column::DocumentLast4,
                Expr::value(x.document_last4.clone()),
            )
            .col_expr(register_person::Column::Phone, Expr::value(x.phone.clone()))
            .col_expr(
                register_person::Column::BirthDate,
                Expr::value(x.birth_date),
            )
            .col_expr(register_person::Column::Adult, Expr::value(x.adult))
            .col_expr(register_person::Column::Status, Expr::value(x.status))
            .col_expr(
                register_person::Column::HouseholdId,
                Expr::value(x.household_id),
            )
            .col_expr(
                register_person::Column::Version,
                Expr::col(register_person::Column::Version).add(1),
            )
            .col_expr(register_person::Column::UpdatedAt, Expr::value(now))
            .filter(register_person::Column::Id.eq(x.id))
            .exec(db)
            .await?;
    }
    for o in &plan.new_owners {
        versions.push((Entity::Owner, o.id, json(o)));
        register_owner::ActiveModel {
            id: Set(o.id),
            community_id: Set(community_id),
            kind: Set(o.kind),
            name: Set(o.name.chars().take(128).collect()),
            representative_id: Set(None),
            version: Set(1),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(db)
        .await?;
    }
    let links: Vec<_> = plan
        .new_owners
        .iter()
        .flat_map(|o| {
            o.person_ids
                .iter()
                .map(|p| register_owner_person::ActiveModel {
                    id: Set(Uuid::new_v4()),
                    owner_id: Set(o.id),
                    person_id: Set(*p),
                })
        })
        .collect();
    insert_chunks(db, links).await?;
    for u in &plan.unit_owners {
        versions.push((Entity::UnitOwner, u.unit_id, json(u)));
        register_unit_owner::Entity::delete_by_id(u.unit_id)
            .exec(db)
            .await?;
        register_unit_owner::ActiveModel {
            unit_id: Set(u.unit_id),
            community_id: Set(community_id),
            owner_id: Set(u.owner_id),
            certificate: Set(u.certificate.clone()),
            updated_at: Set(now),
        }
        .insert(db)
        .await?;
    }
    Ok(history::record_many(db, community_id, versions, why).await?)
}

async fn insert_chunks<C, A>(db: &C, rows: Vec<A>) -> Result<()>
where
    C: ConnectionTrait,
    A: ActiveModelTrait + Send,
{
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<A> = rows.by_ref().take(CHUNK).collect();
        A::Entity::insert_many(chunk)
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

pub async fn import(
    state: &AppState,
    actor: &Actor,
    community_id: Uuid,
    input: &str,
) -> Result<RegisterImportReport> {
    let (rows, errors) = csv::parse(input, clock::now().date_naive());
    let key = document_key(state)?;
    let txn = state.db.write().await?;
    community(&*txn, community_id).await?;
    may_edit(&*txn, actor, community_id).await?;
    let reg = history::load(&*txn, community_id, At::Now).await?;
    let units = unit_numbers(&*txn, community_id).await?;
    let mut plan = plan(&reg, rows, &units, &key, community_id);
    for (line, message) in errors {
        fail(&mut plan.report, line, message);
    }
    plan.report.errors.sort_by_key(|e| e.line);
    let why = Why {
        by: Some(actor.id()),
        reason: "register file imported",
    };
    plan.report.register_seq = write(&*txn, community_id, &plan, &why).await?;
    let r = &plan.report;
    audit::record(
        &*txn,
        Change {
            actor: Some(actor.id()),
            action: "register.imported",
            object_type: "place",
            object_id: community_id.to_string(),
            summary: serde_json::json!({ "persons_created": r.persons_created,
                "persons_updated": r.persons_updated, "households_created": r.households_created,
                "owners_created": r.owners_created, "units_owned": r.units_owned,
                "rejected_rows": r.errors.len(), "register_seq": r.register_seq }),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(plan.report)
}
