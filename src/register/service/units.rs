//! The register by unit: each unit of the community (or of the reader's grids) with its
//! building, grid, area, owner and households, in the order buildings are walked.

use std::collections::HashMap;

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use super::{Result, community, readable_grids, units_of};
use crate::entities::place;
use crate::policy::Actor;
use crate::register::history::{self, At};
use crate::register::model::{HouseholdStatus, PersonStatus, RegisterUnitView};
use crate::state::AppState;

pub async fn list(
    state: &AppState,
    actor: &Actor,
    community_id: Uuid,
) -> Result<Vec<RegisterUnitView>> {
    let db = &state.db.conn;
    community(db, community_id).await?;
    let grids = readable_grids(db, actor, community_id).await?;
    let reg = history::load(db, community_id, At::Now).await?;
    let units = units_of(db, community_id).await?;
    let grid_names: HashMap<Uuid, String> = place::Entity::find()
        .filter(place::Column::ParentId.eq(community_id))
        .filter(place::Column::Kind.eq("grid"))
        .all(db)
        .await?
        .into_iter()
        .map(|g| (g.id, g.name))
        .collect();
    let owners: HashMap<Uuid, &str> = reg.owners.iter().map(|o| (o.id, o.name.as_str())).collect();
    let owned: HashMap<Uuid, (Uuid, Option<String>)> = reg
        .unit_owners
        .iter()
        .map(|u| (u.unit_id, (u.owner_id, u.certificate.clone())))
        .collect();
    let mut living: HashMap<Uuid, u32> = HashMap::new();
    for p in reg
        .persons
        .iter()
        .filter(|p| p.status == PersonStatus::Living)
    {
        if let Some(h) = p.household_id {
            *living.entry(h).or_default() += 1;
        }
    }
    let mut households: HashMap<Uuid, Vec<(String, u32)>> = HashMap::new();
    for h in reg
        .households
        .iter()
        .filter(|h| h.status == HouseholdStatus::Active)
    {
        households
            .entry(h.unit_id)
            .or_default()
            .push((h.label.clone(), living.get(&h.id).copied().unwrap_or(0)));
    }
    let mut out: Vec<RegisterUnitView> = units
        .iter()
        .filter(|(_, u)| match &grids {
            None => true,
            Some(g) => u.grid_id.is_some_and(|x| g.contains(&x)),
        })
        .map(|(id, u)| {
            let owner = owned.get(id);
            let here = households.remove(id).unwrap_or_default();
            RegisterUnitView {
                unit_id: *id,
                building: u.building.clone(),
                number: u.number.clone(),
                label: u.label.clone(),
                grid_id: u.grid_id,
                grid_name: u.grid_id.and_then(|g| grid_names.get(&g).cloned()),
                area_centi: u.area_centi,
                developer_held: u.developer_held,
                owner_id: owner.map(|(o, _)| *o),
                owner_name: owner.and_then(|(o, _)| owners.get(o).map(|n| n.to_string())),
                certificate: owner.and_then(|(_, c)| c.clone()),
                residents: here.iter().map(|(_, n)| n).sum(),
                households: here.into_iter().map(|(label, _)| label).collect(),
            }
        })
        .collect();
    out.sort_by(|a, b| {
        (&a.grid_name, &a.building, a.number.len(), &a.number).cmp(&(
            &b.grid_name,
            &b.building,
            b.number.len(),
            &b.number,
        ))
    });
    Ok(out)
}
