//! Electorates drawn from the register, as DOMAIN.md's counting rules say: adult residents,
//! households, or owners (one head per owner, area summed; the developer's units one head;
//! a unit with no owner recorded a head of its own until one is).

use std::collections::{BTreeMap, HashMap, HashSet};

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};
use uuid::Uuid;

use super::anomalies;
use super::views::Index;
use super::{Result, UnitInfo, community, readable_grids, units_of};
use crate::entities::user;
use crate::policy::Actor;
use crate::register::history::{self, At, Register};
use crate::register::model::*;
use crate::state::AppState;

/// One voting head: who it is, its area, the persons it stands for and the accounts that may
/// cast its ballot.
#[derive(Clone, Debug)]
pub struct Head {
    pub key: String,
    pub label: String,
    pub area_centi: i64,
    pub person_ids: Vec<Uuid>,
    pub accounts: Vec<Uuid>,
}

fn person_label(p: &PersonRecord, index: &Index<'_>) -> String {
    match (index.unit_of(p), &p.document_last4) {
        (Some(u), _) => format!("{} · {}", p.name, index.unit_label(u)),
        (None, Some(l)) => format!("{} · …{l}", p.name),
        (None, None) => p.name.clone(),
    }
}

fn in_grids(unit: Option<&UnitInfo>, grids: &[Uuid]) -> bool {
    grids.is_empty()
        || unit
            .and_then(|u| u.grid_id)
            .is_some_and(|g| grids.contains(&g))
}

/// The heads of an electorate over one version of the register (accounts not yet checked).
pub fn build(
    reg: &Register,
    units: &HashMap<Uuid, UnitInfo>,
    kind: RegisterElectorate,
    grids: &[Uuid],
) -> Vec<Head> {
    let index = Index::new(reg, units);
    let living_adults = reg
        .persons
        .iter()
        .filter(|p| p.status == PersonStatus::Living && p.adult);
    match kind {
        RegisterElectorate::Residents => living_adults
            .filter(|p| in_grids(index.unit_of(p).and_then(|u| units.get(&u)), grids))
            .map(|p| Head {
                key: format!("person:{}", p.id),
                label: person_label(p, &index),
                area_centi: 0,
                person_ids: vec![p.id],
                accounts: p.user_id.into_iter().collect(),
            })
            .collect(),
        RegisterElectorate::Households => {
            let mut members: HashMap<Uuid, Vec<&PersonRecord>> = HashMap::new();
            for p in reg
                .persons
                .iter()
                .filter(|p| p.status == PersonStatus::Living)
            {
                if let Some(h) = p.household_id {
                    members.entry(h).or_default().push(p);
                }
            }
            reg.households
                .iter()
                .filter(|h| h.status == HouseholdStatus::Active)
                .filter(|h| in_grids(units.get(&h.unit_id), grids))
                .filter_map(|h| {
                    let people = members.remove(&h.id)?;
                    Some(Head {
                        key: format!("household:{}", h.id),
                        label: format!("{} · {}", h.label, index.unit_label(h.unit_id)),
                        area_centi: 0,
                        person_ids: people.iter().map(|p| p.id).collect(),
                        accounts: people
                            .iter()
                            .filter(|p| p.adult)
                            .filter_map(|p| p.user_id)
                            .collect(),
                    })
                })
                .collect()
        }
        RegisterElectorate::Owners => owners(reg, units, &index, grids),
    }
}

fn owners(
    reg: &Register,
    units: &HashMap<Uuid, UnitInfo>,
    index: &Index<'_>,
    grids: &[Uuid],
) -> Vec<Head> {
    let owner_of: HashMap<Uuid, Uuid> = reg
        .unit_owners
        .iter()
        .map(|u| (u.unit_id, u.owner_id))
        .collect();
    let developer = reg
        .owners
        .iter()
        .find(|o| o.kind == OwnerKind::Developer)
        .map(|o| o.id);
    let owners: HashMap<Uuid, &OwnerRecord> = reg.owners.iter().map(|o| (o.id, o)).collect();
    let mut heads: BTreeMap<String, Head> = BTreeMap::new();
    let mut sorted: Vec<(&Uuid, &UnitInfo)> = units.iter().collect();
    sorted.sort_by(|a, b| a.1.label.cmp(&b.1.label));
    for (unit_id, u) in sorted {
        if !in_grids(Some(u), grids) {
            continue;
        }
        let owner = owner_of
            .get(unit_id)
            .copied()
            .or(developer.filter(|_| u.developer_held))
            .and_then(|o| owners.get(&o).copied());
        let (key, prefix, persons, accounts) = match owner {
            Some(o) => {
                let voters: Vec<Uuid> = match o.representative_id {
                    Some(r) => vec![r],
                    None => o.person_ids.clone(),
                };
                let accounts = voters
                    .iter()
                    .filter_map(|p| index.persons.get(p).and_then(|p| p.user_id))
                    .collect();
                (
                    format!("owner:{}", o.id),
                    Some(o.name.clone()),
                    o.person_ids.clone(),
                    accounts,
                )
            }
            None if u.developer_held => {
                ("developer".into(), Some("developer".into()), vec![], vec![])
            }
            None => (format!("unit:{unit_id}"), None, vec![], vec![]),
        };
        let head = heads.entry(key.clone()).or_insert_with(|| Head {
            key,
            label: String::new(),
            area_centi: 0,
            person_ids: persons,
            accounts,
        });
        head.area_centi += u.area_centi;
        if head.label.is_empty() {
            head.label = match prefix {
                Some(p) => format!("{p}: {}", u.label),
                None => u.label.clone(),
            };
        } else if head.label.chars().count() < 80 {
            head.label.push_str(", ");
            head.label.push_str(&u.label);
        }
    }
    heads.into_values().collect()
}

/// Drops accounts that were deleted: they can no longer cast a ballot.
async fn live_accounts<C: ConnectionTrait>(db: &C, heads: &mut [Head]) -> Result<()> {
    let all: Vec<Uuid> = heads
        .iter()
        .flat_map(|h| h.accounts.iter().copied())
        .collect();
    let mut live = HashSet::new();
    for chunk in all.chunks(500) {
        live.extend(
            user::Entity::find()
                .select_only()
                .column(user::Column::Id)
                .filter(user::Column::Id.is_in(chunk.to_vec()))
                .filter(user::Column::DeletedAt.is_null())
                .into_tuple::<Uuid>()
                .all(db)
                .await?,
        );
    }
    for h in heads {
        h.accounts.retain(|a| live.contains(a));
    }
    Ok(())
}

/// The electorate now (or at an earlier version), with the register version it was drawn from.
pub async fn heads<C: ConnectionTrait>(
    db: &C,
    community_id: Uuid,
    kind: RegisterElectorate,
    grids: &[Uuid],
    at: At,
) -> Result<(i64, Vec<Head>)> {
    let reg = history::load(db, community_id, at).await?;
    let units = units_of(db, community_id).await?;
    let mut heads = build(&reg, &units, kind, grids);
    live_accounts(db, &mut heads).await?;
    Ok((reg.seq, heads))
}

/// What a poll of this electorate would count if it opened now, and what to look at first.
pub async fn preview(
    state: &AppState,
    actor: &Actor,
    community_id: Uuid,
    kind: RegisterElectorate,
    grids: Vec<Uuid>,
) -> Result<ElectoratePreview> {
    let db = &state.db.conn;
    community(db, community_id).await?;
    readable_grids(db, actor, community_id).await?;
    let reg = history::load(db, community_id, At::Now).await?;
    let units = units_of(db, community_id).await?;
    let mut heads = build(&reg, &units, kind, &grids);
    live_accounts(db, &mut heads).await?;
    Ok(ElectoratePreview {
        electorate: kind,
        register_seq: reg.seq,
        headcount: heads.len() as u64,
        area_centi: heads.iter().map(|h| h.area_centi.max(0) as u64).sum(),
        heads_with_account: heads.iter().filter(|h| !h.accounts.is_empty()).count() as u64,
        anomalies: anomalies::find(&reg, &units)
            .into_iter()
            .filter(|a| anomalies::concerns(a.kind, kind))
            .collect(),
    })
}
