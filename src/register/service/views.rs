//! Views of register records, the same for the register now and at an earlier version.

use std::collections::HashMap;

use uuid::Uuid;

use super::UnitInfo;
use crate::register::history::Register;
use crate::register::model::*;

/// Looks persons, households and units up by id while views are built.
pub struct Index<'a> {
    pub persons: HashMap<Uuid, &'a PersonRecord>,
    pub households: HashMap<Uuid, &'a HouseholdRecord>,
    pub units: &'a HashMap<Uuid, UnitInfo>,
}

impl<'a> Index<'a> {
    pub fn new(reg: &'a Register, units: &'a HashMap<Uuid, UnitInfo>) -> Self {
        Self {
            persons: reg.persons.iter().map(|p| (p.id, p)).collect(),
            households: reg.households.iter().map(|h| (h.id, h)).collect(),
            units,
        }
    }

    pub fn unit_label(&self, unit_id: Uuid) -> String {
        self.units
            .get(&unit_id)
            .map(|u| u.label.clone())
            .unwrap_or_default()
    }

    /// The unit a person lives in, through their household.
    pub fn unit_of(&self, p: &PersonRecord) -> Option<Uuid> {
        p.household_id
            .and_then(|h| self.households.get(&h))
            .map(|h| h.unit_id)
    }

    pub fn person(&self, p: &PersonRecord) -> PersonView {
        PersonView {
            id: p.id,
            name: p.name.clone(),
            document_kind: p.document_kind,
            document_last4: p.document_last4.clone(),
            phone: p.phone.clone(),
            birth_date: p.birth_date,
            adult: p.adult,
            status: p.status,
            household_id: p.household_id,
            unit_label: self.unit_of(p).map(|u| self.unit_label(u)),
            has_account: p.user_id.is_some(),
        }
    }

    pub fn member(&self, id: Uuid) -> Option<MemberRef> {
        self.persons.get(&id).map(|p| MemberRef {
            person_id: p.id,
            name: p.name.clone(),
            document_last4: p.document_last4.clone(),
            status: p.status,
            adult: p.adult,
            has_account: p.user_id.is_some(),
        })
    }
}

pub fn households(reg: &Register, index: &Index<'_>) -> Vec<HouseholdView> {
    let mut members: HashMap<Uuid, Vec<MemberRef>> = HashMap::new();
    for p in &reg.persons {
        if let Some(h) = p.household_id
            && let Some(m) = index.member(p.id)
        {
            members.entry(h).or_default().push(m);
        }
    }
    reg.households
        .iter()
        .map(|h| HouseholdView {
            id: h.id,
            unit_id: h.unit_id,
            unit_label: index.unit_label(h.unit_id),
            label: h.label.clone(),
            status: h.status,
            members: members.remove(&h.id).unwrap_or_default(),
        })
        .collect()
}

pub fn owners(reg: &Register, index: &Index<'_>) -> Vec<OwnerView> {
    let mut units: HashMap<Uuid, Vec<OwnedUnit>> = HashMap::new();
    for u in &reg.unit_owners {
        units.entry(u.owner_id).or_default().push(OwnedUnit {
            unit_id: u.unit_id,
            unit_label: index.unit_label(u.unit_id),
            area_centi: index.units.get(&u.unit_id).map_or(0, |x| x.area_centi),
            certificate: u.certificate.clone(),
        });
    }
    reg.owners
        .iter()
        .map(|o| {
            let mut owned = units.remove(&o.id).unwrap_or_default();
            owned.sort_by(|a, b| a.unit_label.cmp(&b.unit_label));
            OwnerView {
                id: o.id,
                kind: o.kind,
                name: o.name.clone(),
                persons: o
                    .person_ids
                    .iter()
                    .filter_map(|p| index.member(*p))
                    .collect(),
                representative_id: o.representative_id,
                area_centi: owned.iter().map(|u| u.area_centi).sum(),
                units: owned,
            }
        })
        .collect()
}

pub fn snapshot(reg: &Register, units: &HashMap<Uuid, UnitInfo>) -> RegisterSnapshot {
    let index = Index::new(reg, units);
    RegisterSnapshot {
        seq: reg.seq,
        persons: reg.persons.iter().map(|p| index.person(p)).collect(),
        households: households(reg, &index),
        owners: owners(reg, &index),
    }
}
