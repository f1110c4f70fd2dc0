//! The committee's export of the register, as the CSV file the import reads back. Document
//! numbers are not in it (the register keeps none); every export is in the tamper-evident
//! record, since it carries everyone's personal data out of the platform.

use std::collections::HashMap;

use sea_orm::ActiveEnum;
use serde_json::json;
use uuid::Uuid;

use super::views::Index;
use super::{Result, community, may_edit, units_of};
use crate::audit::{self, Change};
use crate::policy::Actor;
use crate::register::csv::{ExportRow, write};
use crate::register::history::{self, At};
use crate::register::model::{DocumentKind, OwnerRecord};
use crate::state::AppState;

fn document(kind: DocumentKind, last4: Option<&str>) -> String {
    match (kind, last4) {
        (DocumentKind::None, _) => String::new(),
        (kind, Some(l)) => format!("{} …{l}", kind.to_value()),
        (kind, None) => kind.to_value(),
    }
}

/// The register now, one row per person by unit and name; the file's name.
pub async fn export(
    state: &AppState,
    actor: &Actor,
    community_id: Uuid,
) -> Result<(String, String)> {
    let db = &state.db.conn;
    let place = community(db, community_id).await?;
    may_edit(db, actor, community_id).await?;
    let reg = history::load(db, community_id, At::Now).await?;
    let units = units_of(db, community_id).await?;
    let index = Index::new(&reg, &units);
    let owners: HashMap<Uuid, &OwnerRecord> = reg.owners.iter().map(|o| (o.id, o)).collect();
    let owned: HashMap<Uuid, (&OwnerRecord, Option<&String>)> = reg
        .unit_owners
        .iter()
        .filter_map(|u| {
            owners
                .get(&u.owner_id)
                .map(|o| (u.unit_id, (*o, u.certificate.as_ref())))
        })
        .collect();
    let households: HashMap<Uuid, &str> = reg
        .households
        .iter()
        .map(|h| (h.id, h.label.as_str()))
        .collect();
    let mut rows: Vec<(Option<String>, ExportRow)> = reg
        .persons
        .iter()
        .map(|p| {
            let unit = index.unit_of(p);
            let info = unit.and_then(|u| units.get(&u));
            let owner = unit
                .and_then(|u| owned.get(&u))
                .filter(|(o, _)| o.person_ids.contains(&p.id));
            (
                info.map(|u| u.label.clone()),
                ExportRow {
                    name: p.name.clone(),
                    birth_date: p.birth_date,
                    adult: p.adult,
                    phone: p.phone.clone(),
                    status: p.status,
                    building: info.map(|u| u.building.clone()),
                    number: info.map(|u| u.number.clone()),
                    owner: owner.is_some(),
                    certificate: owner.and_then(|(_, c)| c.cloned()),
                    document: document(p.document_kind, p.document_last4.as_deref()),
                    household: p
                        .household_id
                        .and_then(|h| households.get(&h))
                        .map(|h| h.to_string()),
                },
            )
        })
        .collect();
    rows.sort_by(|a, b| (a.0.is_none(), &a.0, &a.1.name).cmp(&(b.0.is_none(), &b.0, &b.1.name)));
    let rows: Vec<ExportRow> = rows.into_iter().map(|(_, r)| r).collect();
    audit::record(
        db,
        Change {
            actor: Some(actor.id()),
            action: "register.exported",
            object_type: "place",
            object_id: community_id.to_string(),
            summary: json!({ "persons": rows.len(), "register_seq": reg.seq }),
        },
    )
    .await?;
    let name = format!(
        "register-{}-{}.csv",
        place.id.simple(),
        crate::clock::now().format("%Y%m%d")
    );
    Ok((write(&rows), name))
}
