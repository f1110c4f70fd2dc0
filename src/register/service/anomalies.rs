//! What the committee should look at before a vote counts the register: nothing here is ever
//! merged or split by the program; it is listed for people to decide.

use std::collections::{BTreeMap, HashMap, HashSet};

use uuid::Uuid;

use super::UnitInfo;
use super::views::Index;
use crate::register::documents::fold_name;
use crate::register::history::Register;
use crate::register::model::*;

fn summary(items: &[String]) -> String {
    let shown: Vec<&str> = items.iter().take(10).map(String::as_str).collect();
    if items.len() > shown.len() {
        format!("{} … ({} in all)", shown.join(", "), items.len())
    } else {
        shown.join(", ")
    }
}

fn anomaly(kind: AnomalyKind, subject: String) -> Anomaly {
    Anomaly {
        kind,
        subject,
        person_ids: Vec::new(),
        owner_ids: Vec::new(),
        unit_ids: Vec::new(),
    }
}

pub fn find(reg: &Register, units: &HashMap<Uuid, UnitInfo>) -> Vec<Anomaly> {
    let index = Index::new(reg, units);
    let mut out = Vec::new();

    let owned: HashSet<Uuid> = reg.unit_owners.iter().map(|u| u.unit_id).collect();
    let has_developer = reg.owners.iter().any(|o| o.kind == OwnerKind::Developer);
    let mut unowned: Vec<(&Uuid, &UnitInfo)> = units
        .iter()
        .filter(|(id, u)| !(owned.contains(id) || (u.developer_held && has_developer)))
        .collect();
    unowned.sort_by(|a, b| a.1.label.cmp(&b.1.label));
    if !unowned.is_empty() {
        let mut a = anomaly(
            AnomalyKind::UnitWithoutOwner,
            summary(
                &unowned
                    .iter()
                    .map(|u| u.1.label.clone())
                    .collect::<Vec<_>>(),
            ),
        );
        a.unit_ids = unowned.iter().map(|u| *u.0).collect();
        out.push(a);
    }

    let mut units_of_owner: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
    for u in &reg.unit_owners {
        units_of_owner
            .entry(u.owner_id)
            .or_default()
            .push(u.unit_id);
    }
    for o in &reg.owners {
        let owned = units_of_owner.get(&o.id).cloned().unwrap_or_default();
        if o.kind == OwnerKind::NameOnly {
            let mut labels: Vec<String> = owned.iter().map(|u| index.unit_label(*u)).collect();
            labels.sort();
            let mut a = anomaly(
                AnomalyKind::UnconfirmedOwner,
                format!("{}: {}", o.name, summary(&labels)),
            );
            a.owner_ids = vec![o.id];
            a.unit_ids = owned.clone();
            out.push(a);
        }
        if o.kind == OwnerKind::Persons && o.person_ids.len() > 1 && o.representative_id.is_none() {
            let mut a = anomaly(AnomalyKind::NoRepresentative, o.name.clone());
            a.owner_ids = vec![o.id];
            a.person_ids = o.person_ids.clone();
            out.push(a);
        }
    }

    let mut owner_names: BTreeMap<String, Vec<&OwnerRecord>> = BTreeMap::new();
    for o in reg.owners.iter().filter(|o| o.kind != OwnerKind::Developer) {
        owner_names.entry(fold_name(&o.name)).or_default().push(o);
    }
    for group in owner_names.values().filter(|g| g.len() > 1) {
        let mut a = anomaly(
            AnomalyKind::SimilarOwnerNames,
            summary(&group.iter().map(|o| o.name.clone()).collect::<Vec<_>>()),
        );
        a.owner_ids = group.iter().map(|o| o.id).collect();
        out.push(a);
    }

    let mut person_names: BTreeMap<String, Vec<&PersonRecord>> = BTreeMap::new();
    for p in reg
        .persons
        .iter()
        .filter(|p| p.status != PersonStatus::Deceased)
    {
        person_names.entry(fold_name(&p.name)).or_default().push(p);
    }
    for group in person_names.values().filter(|g| g.len() > 1) {
        let labels: Vec<String> = group
            .iter()
            .map(|p| match &p.document_last4 {
                Some(l) => format!("{} (…{l})", p.name),
                None => p.name.clone(),
            })
            .collect();
        let mut a = anomaly(AnomalyKind::SamePersonName, summary(&labels));
        a.person_ids = group.iter().map(|p| p.id).collect();
        out.push(a);
    }

    let homeless: Vec<&PersonRecord> = reg
        .persons
        .iter()
        .filter(|p| p.status == PersonStatus::Living && p.household_id.is_none())
        .collect();
    if !homeless.is_empty() {
        let mut a = anomaly(
            AnomalyKind::PersonWithoutHousehold,
            summary(&homeless.iter().map(|p| p.name.clone()).collect::<Vec<_>>()),
        );
        a.person_ids = homeless.iter().map(|p| p.id).collect();
        out.push(a);
    }

    let lived_in: HashSet<Uuid> = reg
        .persons
        .iter()
        .filter(|p| p.status == PersonStatus::Living)
        .filter_map(|p| p.household_id)
        .collect();
    let empty: Vec<&HouseholdRecord> = reg
        .households
        .iter()
        .filter(|h| h.status == HouseholdStatus::Active && !lived_in.contains(&h.id))
        .collect();
    if !empty.is_empty() {
        let mut a = anomaly(
            AnomalyKind::EmptyHousehold,
            summary(&empty.iter().map(|h| h.label.clone()).collect::<Vec<_>>()),
        );
        a.unit_ids = empty.iter().map(|h| h.unit_id).collect();
        out.push(a);
    }
    out.sort_by(|a, b| (a.kind, &a.subject).cmp(&(b.kind, &b.subject)));
    out
}

/// Whether an anomaly can change the count of this electorate.
pub fn concerns(anomaly: AnomalyKind, electorate: RegisterElectorate) -> bool {
    use AnomalyKind::*;
    match electorate {
        RegisterElectorate::Owners => matches!(
            anomaly,
            UnitWithoutOwner | UnconfirmedOwner | SimilarOwnerNames | NoRepresentative
        ),
        RegisterElectorate::Households => {
            matches!(
                anomaly,
                PersonWithoutHousehold | EmptyHousehold | SamePersonName
            )
        }
        RegisterElectorate::Residents => matches!(anomaly, SamePersonName),
    }
}
