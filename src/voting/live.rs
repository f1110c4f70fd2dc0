//! The running tally in the live room: ballots mark a poll as changed, and a task writes at
//! most a few `poll.tally` events per second per poll, however fast ballots arrive.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use tokio::sync::Notify;
use uuid::Uuid;

use crate::state::AppState;

/// How long ballots gather before one tally update goes out.
const COALESCE: Duration = Duration::from_millis(400);

#[derive(Default)]
pub struct TallyBoard {
    dirty: Mutex<HashSet<Uuid>>,
    wake: Notify,
}

impl TallyBoard {
    /// Marks a poll's tally as changed.
    pub fn touch(&self, poll_id: Uuid) {
        self.dirty
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(poll_id);
        self.wake.notify_one();
    }

    fn take(&self) -> Vec<Uuid> {
        self.dirty
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain()
            .collect()
    }
}

pub async fn run(state: AppState, shutdown: Arc<Notify>) {
    loop {
        tokio::select! {
            _ = shutdown.notified() => break,
            _ = state.tallies.wake.notified() => {}
        }
        // Gather what else arrives in the window, then send one update per poll.
        tokio::select! {
            _ = shutdown.notified() => break,
            _ = tokio::time::sleep(COALESCE) => {}
        }
        for poll_id in state.tallies.take() {
            if let Err(e) = push(&state, poll_id).await {
                tracing::warn!(poll = %poll_id, error = %e, "tally update failed");
            }
        }
    }
}

async fn push(state: &AppState, poll_id: Uuid) -> Result<(), super::error::VotingError> {
    use sea_orm::EntityTrait;
    let Some(p) = crate::entities::poll::Entity::find_by_id(poll_id)
        .one(&state.db.conn)
        .await?
    else {
        return Ok(());
    };
    let Some(session_id) = p.session_id else {
        return Ok(());
    };
    if p.secret || !p.show_tally || p.status != "open" {
        return Ok(());
    }
    let outcome = super::service::tally(&state.db.conn, &p).await?;
    let txn = state.db.write().await?;
    crate::sessions::events::append(
        &*txn,
        session_id,
        "poll.tally",
        None,
        json!({ "poll_id": p.id, "participants": outcome.participants, "options": outcome.options }),
    )
    .await?;
    txn.commit().await?;
    state.rooms.catch_up(state, session_id).await;
    Ok(())
}
