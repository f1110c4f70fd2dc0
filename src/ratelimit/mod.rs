//! Counters that keep abuse down, keyed by a string (account, client address, actor):
//! fixed windows ("so many writes a minute", "so many mails an hour") and paced attempts
//! (sign-in: a few free, then delays that grow; see [`Pace`]).
//!
//! On SQLite, where the deployment is one process, they live in this process's memory. On
//! PostgreSQL, where several processes may serve behind one proxy, they live in the
//! `rate_windows` table, so that every process counts against one limit (issue 32). Keys are
//! hashed before they are stored: the table names no address and no email. When the table
//! cannot be reached, a process falls back to its own memory rather than refusing everyone.

mod rules;
mod shared;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::DatabaseConnection;

use crate::clock;
use crate::db::Db;

pub use rules::Pace;
use rules::Window;

/// How many seconds to wait before trying again.
pub type RetryAfter = u64;

/// Counts kept in this process: forgotten once the map passes `purge_at` keys, which then
/// grows with what is still live, so a busy process never scans the map on every take.
struct Local {
    map: HashMap<String, Window>,
    purge_at: usize,
}

/// Below this many keys, nothing is forgotten.
const PURGE_FLOOR: usize = 100_000;
/// The longest any count matters: the longest window (an hour of mails) and a pace's quiet
/// hour.
const HORIZON: chrono::Duration = chrono::Duration::hours(1);

pub struct RateLimiter {
    local: Mutex<Local>,
    /// The database the counts are shared through; none on SQLite.
    shared: Option<DatabaseConnection>,
}

impl Default for RateLimiter {
    fn default() -> Self {
        Self {
            local: Mutex::new(Local {
                map: HashMap::new(),
                purge_at: PURGE_FLOOR,
            }),
            shared: None,
        }
    }
}

impl RateLimiter {
    /// Counts in memory on SQLite, in the database's `rate_windows` table on PostgreSQL.
    pub fn for_database(db: &Db) -> Self {
        Self {
            shared: (db.backend() == sea_orm::DbBackend::Postgres).then(|| db.conn.clone()),
            ..Self::default()
        }
    }

    /// Checks and counts in one step: of many callers at once, in any number of processes,
    /// no more than `limit` get through in a window of `window` from the first.
    pub async fn take(&self, key: &str, limit: u32, window: Duration) -> Result<(), RetryAfter> {
        if let Some(conn) = &self.shared {
            match shared::take(conn, key, limit, window, clock::now()).await {
                Ok(answer) => return answer,
                Err(e) => {
                    tracing::warn!(error = %e, "shared rate limit unreachable; counting here")
                }
            }
        }
        self.take_here(key, limit, window)
    }

    /// [`take`](Self::take) in this process's memory only: for what is bound to this process
    /// anyway (the messages of one websocket).
    pub fn take_here(&self, key: &str, limit: u32, window: Duration) -> Result<(), RetryAfter> {
        let now = clock::now();
        self.with_local(key, now, |before| rules::count(before, now, limit, window))
    }

    /// Gives back one event counted for `key` under `limit` (an attempt that turned out not to
    /// count).
    pub async fn give_back(&self, key: &str, limit: u32) {
        if let Some(conn) = &self.shared {
            match shared::give_back(conn, key, limit).await {
                Ok(()) => return,
                Err(e) => tracing::warn!(error = %e, "shared rate limit unreachable"),
            }
        }
        let mut local = self.lock();
        if let Some(entry) = local.map.get_mut(key) {
            entry.used = entry.used.min(limit).saturating_sub(1);
        }
    }

    /// Forgets everything counted for `key`.
    pub async fn clear(&self, key: &str) {
        if let Some(conn) = &self.shared {
            match shared::clear(conn, key).await {
                Ok(()) => return,
                Err(e) => tracing::warn!(error = %e, "shared rate limit unreachable"),
            }
        }
        self.lock().map.remove(key);
    }

    /// Counts one attempt under a pace: `Ok(n)` when it may go ahead as the `n`th attempt of
    /// its run, or how long until the next may.
    pub async fn pace(&self, key: &str, pace: &Pace) -> Result<u32, RetryAfter> {
        let now = clock::now();
        if let Some(conn) = &self.shared {
            match shared::pace(conn, key, pace, now).await {
                Ok(answer) => return answer,
                Err(e) => {
                    tracing::warn!(error = %e, "shared rate limit unreachable; counting here")
                }
            }
        }
        self.with_local(key, now, |before| rules::pace(before, now, pace))
    }

    /// Deletes the shared counts nobody has touched for a day (the longest window is an hour).
    pub async fn forget_old(&self) -> Result<u64, sea_orm::DbErr> {
        let Some(conn) = &self.shared else {
            return Ok(0);
        };
        shared::forget_before(conn, clock::now() - chrono::Duration::days(1)).await
    }

    fn with_local<T>(
        &self,
        key: &str,
        now: DateTime<Utc>,
        step: impl FnOnce(Option<Window>) -> (Window, T),
    ) -> T {
        let mut local = self.lock();
        if local.map.len() > local.purge_at {
            let horizon = now - HORIZON;
            local
                .map
                .retain(|_, w| w.started_at > horizon || w.blocked_until.is_some_and(|b| b > now));
            local.purge_at = PURGE_FLOOR.max(2 * local.map.len());
        }
        let (after, answer) = step(local.map.get(key).copied());
        local.map.insert(key.to_string(), after);
        answer
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Local> {
        self.local.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn of_many_takers_at_once_only_the_limit_get_through() {
        let limiter = std::sync::Arc::new(RateLimiter::default());
        let passed: usize = (0..16)
            .map(|_| {
                let l = limiter.clone();
                std::thread::spawn(move || {
                    (0..10)
                        .filter(|_| l.take_here("k", 5, Duration::from_secs(60)).is_ok())
                        .count()
                })
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|h| h.join().unwrap_or(0))
            .sum();
        assert_eq!(passed, 5);
    }

    #[test]
    fn old_counts_are_forgotten_and_a_busy_map_is_not_scanned_on_every_take() {
        let limiter = RateLimiter::default();
        let minute = Duration::from_secs(60);
        let long_ago = clock::now() - chrono::Duration::hours(2);
        for n in 0..=PURGE_FLOOR {
            let counted = limiter.with_local(&format!("old{n}"), long_ago, |b| {
                rules::count(b, long_ago, 5, minute)
            });
            assert!(counted.is_ok());
        }
        assert!(limiter.take_here("fresh", 5, minute).is_ok());
        assert_eq!(limiter.lock().map.len(), 1, "the old counts are forgotten");
        // A map full of live counts is kept, and the next purge waits for it to double.
        let now = clock::now();
        for n in 0..=PURGE_FLOOR {
            let counted = limiter.with_local(&format!("live{n}"), now, |b| {
                rules::count(b, now, 5, minute)
            });
            assert!(counted.is_ok());
        }
        let local = limiter.lock();
        assert!(local.map.len() > PURGE_FLOOR);
        assert!(local.purge_at >= 2 * PURGE_FLOOR, "{}", local.purge_at);
    }

    #[tokio::test]
    async fn a_given_back_event_makes_room_for_one_more() {
        let limiter = RateLimiter::default();
        let minute = Duration::from_secs(60);
        for _ in 0..5 {
            assert!(limiter.take("k", 5, minute).await.is_ok());
        }
        assert!(limiter.take("k", 5, minute).await.is_err());
        limiter.give_back("k", 5).await;
        assert!(limiter.take("k", 5, minute).await.is_ok());
        assert!(limiter.take("k", 5, minute).await.is_err());
        limiter.clear("k").await;
        assert!(limiter.take("k", 5, minute).await.is_ok());
    }
}
