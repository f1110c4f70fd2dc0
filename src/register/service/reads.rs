//! Reading the register whole: now or at an earlier version, its changes, its anomalies.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Result, anomalies, community, may_edit, readable_grids, units_of, views};
use crate::policy::Actor;
use crate::register::history::{self, At};
use crate::register::model::*;
use crate::state::AppState;

/// The register at a version (`seq`), at a moment (`as_of`), or now. Reading it whole is the
/// committee's (and officers'): a grid worker reads their grid through the lists.
pub async fn snapshot(
    state: &AppState,
    actor: &Actor,
    community_id: Uuid,
    seq: Option<i64>,
    as_of: Option<DateTime<Utc>>,
) -> Result<RegisterSnapshot> {
    let db = &state.db.conn;
    community(db, community_id).await?;
    if readable_grids(db, actor, community_id).await?.is_some() {
        may_edit(db, actor, community_id).await?;
    }
    let at = match (seq, as_of) {
        (Some(s), _) => At::Seq(s),
        (None, Some(t)) => At::Moment(t),
        (None, None) => At::Now,
    };
    let reg = history::load(db, community_id, at).await?;
    let units = units_of(db, community_id).await?;
    Ok(views::snapshot(&reg, &units))
}

pub async fn changes(
    state: &AppState,
    actor: &Actor,
    community_id: Uuid,
    after: i64,
    limit: u64,
) -> Result<Vec<RegisterChangeView>> {
    let db = &state.db.conn;
    community(db, community_id).await?;
    if readable_grids(db, actor, community_id).await?.is_some() {
        may_edit(db, actor, community_id).await?;
    }
    Ok(history::changes(db, community_id, after, limit)
        .await?
        .into_iter()
        .map(|c| RegisterChangeView {
            seq: c.seq,
            entity: c.entity,
            entity_id: c.entity_id,
            changed_by: c.changed_by,
            reason: c.reason,
            changed_at: c.changed_at,
        })
        .collect())
}

pub async fn anomalies(
    state: &AppState,
    actor: &Actor,
    community_id: Uuid,
) -> Result<Vec<Anomaly>> {
    let db = &state.db.conn;
    community(db, community_id).await?;
    if readable_grids(db, actor, community_id).await?.is_some() {
        may_edit(db, actor, community_id).await?;
    }
    let reg = history::load(db, community_id, At::Now).await?;
    let units = units_of(db, community_id).await?;
    Ok(anomalies::find(&reg, &units))
}
