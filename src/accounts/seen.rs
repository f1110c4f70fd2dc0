//! When each sign-in was last used (shown in a person's list of sign-ins), written shortly after
//! and together: every sign-in used within a second goes into one statement, through the write
//! gate, once the process is not busy. Before, each request whose sign-in had not been used for
//! five minutes wrote its own update, outside the gate, before it was answered: when a poll opens
//! to thousands who signed in earlier, that is one more write per ballot, each able to wait on
//! SQLite's lock behind the ballots' writer. A process that stops cleanly writes what it has
//! noted; a touch lost to a killed one only leaves the time a little older.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use crate::entities::auth_session;
use crate::state::AppState;

/// How long touches gather before they are written.
const GATHER: Duration = Duration::from_secs(1);
/// How long they wait after that for the process to be quiet. Longer than other background
/// work: a burst of ballots from thousands who signed in earlier touches thousands of sign-ins,
/// and writing them (a few thousand rows a few seconds into the burst, chunk after chunk through
/// the write gate) made the ballots' slowest moments; the time shown in a list of sign-ins can
/// be half a minute late.
const MOST_DEFERRED: Duration = Duration::from_secs(30);
/// Most sign-ins in one statement.
const CHUNK: usize = 500;

#[derive(Default)]
pub struct LastSeen {
    pending: Mutex<HashMap<Uuid, DateTime<Utc>>>,
}

impl LastSeen {
    /// Notes that sign-in `id` was used at `at`; written within about a second when the process
    /// is quiet, within about half a minute when it is busy.
    pub fn note(&self, state: &AppState, id: Uuid, at: DateTime<Utc>) {
        let first = {
            let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
            let first = pending.is_empty();
            pending.insert(id, at);
            first
        };
        if first {
            let state = state.clone();
            tokio::spawn(async move {
                tokio::time::sleep(GATHER).await;
                state.when_quiet_within(MOST_DEFERRED).await;
                if let Err(e) = state.seen.flush(&state).await {
                    tracing::warn!(error = %e, "could not record when sign-ins were last used");
                }
            });
        }
    }

    /// Writes every touch noted so far.
    pub async fn flush(&self, state: &AppState) -> Result<(), sea_orm::DbErr> {
        let noted: Vec<(Uuid, DateTime<Utc>)> =
            std::mem::take(&mut *self.pending.lock().unwrap_or_else(|p| p.into_inner()))
                .into_iter()
                .collect();
        for chunk in noted.chunks(CHUNK) {
            // Within a second of each other: the latest stands for all.
            let Some(at) = chunk.iter().map(|(_, at)| *at).max() else {
                continue;
            };
            let txn = state.db.write().await?;
            auth_session::Entity::update_many()
                .col_expr(auth_session::Column::LastSeenAt, Expr::value(at))
                .filter(auth_session::Column::Id.is_in(chunk.iter().map(|(id, _)| *id)))
                .exec(&*txn)
                .await?;
            txn.commit().await?;
        }
        Ok(())
    }
}
