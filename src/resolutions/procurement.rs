//! What the procurement that carries a resolution out has done, for the resolution's timeline:
//! read from the tender, contract and milestone rows (the kernel's entities), so that
//! resolutions need not call procurement, which sits beside it and builds on it.

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use crate::entities::{contract, contract_milestone, tender};

/// What the contracts that carry a resolution out add to its timeline.
pub async fn resolution_timeline<C: ConnectionTrait>(
    db: &C,
    resolution_id: Uuid,
) -> std::result::Result<Vec<(DateTime<Utc>, &'static str, Option<String>)>, sea_orm::DbErr> {
    use crate::entities::tender_resolution;
    let tenders: Vec<Uuid> = tender_resolution::Entity::find()
        .filter(tender_resolution::Column::ResolutionId.eq(resolution_id))
        .all(db)
        .await?
        .into_iter()
        .map(|r| r.tender_id)
        .collect();
    if tenders.is_empty() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for t in tender::Entity::find()
        .filter(tender::Column::Id.is_in(tenders.clone()))
        .all(db)
        .await?
    {
        if let Some(at) = t.published_at {
            out.push((at, "tender.published", Some(t.title.clone())));
        }
        if let Some(at) = t.awarded_at {
            out.push((at, "tender.awarded", Some(t.title.clone())));
        }
    }
    for c in contract::Entity::find()
        .filter(contract::Column::TenderId.is_in(tenders))
        .all(db)
        .await?
    {
        out.push((c.created_at, "contract.signed", Some(c.title.clone())));
        for m in contract_milestone::Entity::find()
            .filter(contract_milestone::Column::ContractId.eq(c.id))
            .all(db)
            .await?
        {
            if let Some(at) = m.decided_at
                && m.status == "accepted"
            {
                out.push((at, "contract.milestone_accepted", Some(m.title)));
            }
        }
    }
    Ok(out)
}
