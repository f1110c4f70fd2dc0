//! A short-lived, per-process memory of proposal-list pages, shared by every viewer who sees the
//! community at the same level (public, member, committee), so that a crowd opening the same
//! list does not run the same query for each of them.
//!
//! What is shared is the page as that level sees it: rows, total and names. What belongs to one
//! viewer is remembered apart, per viewer: which proposals they co-signed, and whether they have
//! proposals only they can see (their drafts), in which case their list comes from the database.
//!
//! Every write that can change a list (a proposal written, co-signed or moderated, a person's
//! name changed) forgets every page at once in this process after its commit, and on PostgreSQL in
//! the others through a notice sent inside the writing transaction (delivered after the commit).
//! `YISHI_LIST_CACHE_MS` bounds how long a page is kept when a notice is lost, and how stale a
//! page can be on SQLite when another process (`yishi demo`, say) writes; 0 turns the memory off.

use std::time::Duration;

use sea_orm::{ConnectionTrait, DbErr};

use crate::db::{Db, WriteTxn};
use crate::memo::Memo;
use crate::state::AppState;

/// The PostgreSQL channel on which processes announce that lists changed.
pub const LISTS_CHANNEL: &str = "yishi_lists";

/// The list memory of a process: pages shared by every viewer at a level, and what is each
/// viewer's own (what they co-signed, whether they have proposals only they see), both forgotten
/// together when anything changes.
pub struct Lists<P, V> {
    pub pages: Memo<P>,
    pub viewers: Memo<V>,
}

impl<P, V> Lists<P, V> {
    pub fn new(ttl: Duration) -> Self {
        Self {
            pages: Memo::new(ttl),
            viewers: Memo::new(ttl),
        }
    }

    pub fn enabled(&self) -> bool {
        self.pages.enabled()
    }

    pub fn invalidate(&self) {
        self.pages.invalidate();
        self.viewers.invalidate();
    }
}

/// Commits a transaction that changed what lists show, and forgets the remembered pages: here
/// after the commit, and in the other processes through a notice that PostgreSQL delivers only
/// once the transaction has committed.
pub async fn commit(state: &AppState, txn: WriteTxn) -> Result<(), DbErr> {
    announce(&state.db, &txn).await?;
    txn.commit().await?;
    state.lists.invalidate();
    Ok(())
}

/// Tells the other processes, once `txn` commits, to forget their remembered pages (on
/// PostgreSQL; on SQLite they keep them for `YISHI_LIST_CACHE_MS` at most).
pub async fn announce(db: &Db, txn: &WriteTxn) -> Result<(), DbErr> {
    if db.backend() == sea_orm::DbBackend::Postgres {
        txn.execute_unprepared(&format!("NOTIFY {LISTS_CHANNEL}"))
            .await?;
    }
    Ok(())
}
