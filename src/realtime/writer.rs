//! Group commit for what participants send to a room (chat, reactions, hands). Each event
//! still gets its own sequence number and is persisted before it is broadcast, but a busy room's
//! events share one transaction: one increment of each session's counter for the whole batch,
//! one insert, one commit. Before this, every chat message took its own transaction, five round
//! trips to the database each; at 50 messages a second on two busy cores SQLite's thread was
//! not always scheduled in time, and messages queued behind each other's commits.
//!
//! Each batch is broadcast, in sequence order, once it has committed (`publish`, on the shared
//! runtime, batches in the order they were written), so a room never sees a later event before
//! an earlier one and never has to read back a gap.

use std::sync::Arc;

use sea_orm::{DbErr, EntityTrait};
use uuid::Uuid;

use super::room::Room;
use crate::entities::session_event;
use crate::group_commit::GroupCommit;
use crate::sessions::events::{self, RoomEvent};
use crate::state::AppState;

/// Most events in one transaction.
const BATCH: usize = 256;

/// One event to append to a room.
pub struct Append {
    pub room: Arc<Room>,
    pub kind: &'static str,
    pub actor_id: Option<Uuid>,
    pub payload: serde_json::Value,
}

pub type RoomWriter = GroupCommit<Append, RoomEvent>;

pub fn room_writer() -> RoomWriter {
    GroupCommit::new("room event", BATCH, |state, jobs| {
        Box::pin(write(state, jobs))
    })
    .after_commit(|state, jobs, written| Box::pin(publish(state, jobs, written)))
}

/// Applies and broadcasts what was written, before the senders hear back.
async fn publish(state: &AppState, jobs: &[Append], written: &[Result<RoomEvent, DbErr>]) {
    for (job, event) in jobs.iter().zip(written) {
        if let Ok(event) = event {
            job.room.publish(state, event.clone()).await;
        }
    }
}

async fn write(state: &AppState, jobs: &[Append]) -> Result<Vec<RoomEvent>, DbErr> {
    // Each session's count in this batch, in order of first appearance.
    let mut sessions: Vec<(Uuid, i64)> = Vec::new();
    for job in jobs {
        let id = job.room.session_id;
        match sessions.iter_mut().find(|(s, _)| *s == id) {
            Some((_, n)) => *n += 1,
            None => sessions.push((id, 1)),
        }
    }
    let txn = state.db.write().await?;
    // From here on, each session's next sequence number.
    for (id, n) in &mut sessions {
        let last = events::reserve(&*txn, *id, *n).await?;
        events::announce(&*txn, *id, last).await?;
        *n = last - *n + 1;
    }
    let mut rows = Vec::with_capacity(jobs.len());
    let mut written = Vec::with_capacity(jobs.len());
    for job in jobs {
        let id = job.room.session_id;
        let seq = sessions
            .iter_mut()
            .find(|(s, _)| *s == id)
            .map(|(_, seq)| std::mem::replace(seq, *seq + 1))
            .ok_or_else(|| DbErr::Custom("a room event without its session's numbers".into()))?;
        let row = events::new_event(id, seq, job.kind, job.actor_id, &job.payload);
        written.push(RoomEvent {
            frame: "event",
            seq,
            kind: job.kind.into(),
            actor_id: job.actor_id,
            payload: job.payload.clone(),
            at: *row.created_at.as_ref(),
        });
        rows.push(row);
    }
    session_event::Entity::insert_many(rows)
        .exec_without_returning(&*txn)
        .await?;
    txn.commit().await?;
    Ok(written)
}
