//! Unlinkable storage of secret ballots (issue 32). The transaction that takes a voter's
//! participation slot (and writes the audit entry) stores only a sealed copy of the choice,
//! under the master key kept outside the database, in `pending_ballots`. The close opens every
//! sealed copy of the poll and writes the ballots, in random order, in its own transaction, and
//! adds their areas to the per-choice sums. So no ballot shares a transaction (PostgreSQL's
//! `xmin`), a timestamp, an id order or a physical order with its voter's mark: all ballots of
//! a secret poll are written at one moment, shuffled. A ballot is acknowledged once its sealed
//! copy is committed, so a crash loses nothing; a database copy taken while the poll is open
//! shows only sealed bytes.

use rand::seq::SliceRandom;
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, Set};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::entities::{ballot, pending_ballot};
use crate::sealing::SealingKey;

/// What a sealed copy holds.
#[derive(Serialize, Deserialize)]
struct Held {
    /// The choices as stored in `ballots.choice` (a JSON array).
    choice: String,
    area_centi: i64,
    receipt: String,
}

/// A secret ballot to hold until the close.
pub struct Hold {
    pub poll_id: Uuid,
    pub choice: String,
    pub area_centi: i64,
    pub receipt: String,
}

fn bound_to(poll_id: Uuid) -> Vec<u8> {
    format!("yishi pending ballot:{poll_id}").into_bytes()
}

/// Stores sealed copies of secret ballots, in random order, inside the caller's transaction.
pub async fn hold<C: ConnectionTrait>(
    txn: &C,
    key: &SealingKey,
    mut ballots: Vec<Hold>,
) -> Result<(), DbErr> {
    ballots.shuffle(&mut rand::thread_rng());
    let rows: Vec<pending_ballot::ActiveModel> = ballots
        .into_iter()
        .map(|b| {
            let held = serde_json::to_vec(&Held {
                choice: b.choice,
                area_centi: b.area_centi,
                receipt: b.receipt,
            })
            .unwrap_or_default();
            pending_ballot::ActiveModel {
                id: Set(Uuid::new_v4()),
                poll_id: Set(b.poll_id),
                sealed: Set(key.seal_bound(&bound_to(b.poll_id), &held)),
            }
        })
        .collect();
    for chunk in rows.chunks(200) {
        pending_ballot::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(txn)
            .await?;
    }
    Ok(())
}

/// Writes the poll's held ballots, shuffled, into `ballots` and their areas into the sums,
/// and deletes the sealed copies; inside the close's transaction. Returns how many.
pub async fn release<C: ConnectionTrait>(
    txn: &C,
    key: &SealingKey,
    poll_id: Uuid,
) -> Result<usize, DbErr> {
    let held = pending_ballot::Entity::find()
        .filter(pending_ballot::Column::PollId.eq(poll_id))
        .all(txn)
        .await?;
    let mut opened = Vec::with_capacity(held.len());
    for h in &held {
        let plain = key
            .open_bound(&bound_to(poll_id), &h.sealed)
            .ok_or_else(|| {
                DbErr::Custom(format!(
                    "held ballot {} does not open with this server's master key",
                    h.id
                ))
            })?;
        let b: Held = serde_json::from_slice(&plain)
            .map_err(|e| DbErr::Custom(format!("held ballot {}: {e}", h.id)))?;
        opened.push(b);
    }
    opened.shuffle(&mut rand::thread_rng());
    let sums: Vec<(Uuid, String, i64)> = opened
        .iter()
        .map(|b| (poll_id, b.choice.clone(), b.area_centi))
        .collect();
    let rows: Vec<ballot::ActiveModel> = opened
        .into_iter()
        .map(|b| ballot::ActiveModel {
            id: Set(Uuid::new_v4()),
            poll_id: Set(poll_id),
            voter_id: Set(None),
            choice: Set(b.choice),
            area_centi: Set(0),
            receipt: Set(b.receipt),
            updated_at: Set(None),
        })
        .collect();
    let n = rows.len();
    for chunk in rows.chunks(200) {
        ballot::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(txn)
            .await?;
    }
    super::totals::add(txn, sums).await?;
    pending_ballot::Entity::delete_many()
        .filter(pending_ballot::Column::PollId.eq(poll_id))
        .exec(txn)
        .await?;
    Ok(n)
}

/// Forgets a cancelled poll's held ballots.
pub async fn discard<C: ConnectionTrait>(txn: &C, poll_id: Uuid) -> Result<(), DbErr> {
    pending_ballot::Entity::delete_many()
        .filter(pending_ballot::Column::PollId.eq(poll_id))
        .exec(txn)
        .await?;
    Ok(())
}
