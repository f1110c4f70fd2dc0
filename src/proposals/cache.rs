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

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, DbErr};

use crate::db::WriteTxn;
use crate::state::AppState;

/// The PostgreSQL channel on which processes announce that lists changed.
pub const LISTS_CHANNEL: &str = "yishi_lists";

/// Beyond this many pages the memory is cleared rather than grown.
const MAX_ENTRIES: usize = 2_000;

struct Entry<T> {
    /// Filled once by the first request that missed; those arriving meanwhile wait for it
    /// rather than run the same query.
    value: Arc<tokio::sync::OnceCell<Arc<T>>>,
    /// When it is due to be read again: between half the time limit and all of it from its
    /// first read, drawn per entry, so that entries filled together are not read again together.
    expires: Instant,
}

/// Pages by key, forgotten all at once when anything they show changes.
pub struct PageCache<T> {
    ttl: Duration,
    entries: Mutex<HashMap<String, Entry<T>>>,
}

impl<T> PageCache<T> {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry<T>>> {
        // A panic while holding the lock leaves at worst an entry missing.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn enabled(&self) -> bool {
        !self.ttl.is_zero()
    }

    /// The remembered value for `key`, or the one `fill` reads (and that is then remembered).
    /// A change forgets every entry, so a value read before it is never served to a request
    /// that arrives after it: that request finds no entry and reads afresh.
    pub async fn get_or_fill<E, F, Fut>(&self, key: &str, fill: F) -> Result<Arc<T>, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        if !self.enabled() {
            return fill().await.map(Arc::new);
        }
        let cell = {
            let mut entries = self.lock();
            match entries.get(key) {
                Some(e) if Instant::now() < e.expires => e.value.clone(),
                _ => {
                    if entries.len() >= MAX_ENTRIES {
                        entries.clear();
                    }
                    let cell = Arc::new(tokio::sync::OnceCell::new());
                    entries.insert(
                        key.to_string(),
                        Entry {
                            value: cell.clone(),
                            expires: Instant::now()
                                + self.ttl.mul_f64(rand::Rng::gen_range(
                                    &mut rand::thread_rng(),
                                    0.5..=1.0,
                                )),
                        },
                    );
                    cell
                }
            }
        };
        cell.get_or_try_init(|| async { fill().await.map(Arc::new) })
            .await
            .cloned()
    }

    /// Forgets every page (something they may show changed).
    pub fn invalidate(&self) {
        self.lock().clear();
    }
}

/// The list memory of a process: pages shared by every viewer at a level, and what is each
/// viewer's own (what they co-signed, whether they have proposals only they see), both forgotten
/// together when anything changes.
pub struct Lists<P, V> {
    pub pages: PageCache<P>,
    pub viewers: PageCache<V>,
}

impl<P, V> Lists<P, V> {
    pub fn new(ttl: Duration) -> Self {
        Self {
            pages: PageCache::new(ttl),
            viewers: PageCache::new(ttl),
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
    if state.db.backend() == sea_orm::DbBackend::Postgres {
        txn.execute_unprepared(&format!("NOTIFY {LISTS_CHANNEL}"))
            .await?;
    }
    txn.commit().await?;
    state.lists.invalidate();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn read(cache: &PageCache<u32>, value: u32) -> u32 {
        *cache
            .get_or_fill("k", || async move { Ok::<_, ()>(value) })
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn a_page_is_served_until_something_changes() {
        let cache = PageCache::new(Duration::from_secs(60));
        assert_eq!(read(&cache, 1).await, 1);
        assert_eq!(read(&cache, 2).await, 1);
        cache.invalidate();
        assert_eq!(read(&cache, 3).await, 3);
    }

    #[tokio::test]
    async fn requests_that_miss_together_read_once() {
        let cache = PageCache::new(Duration::from_secs(60));
        let reads = std::sync::atomic::AtomicU32::new(0);
        let (gate_tx, gate_rx) = tokio::sync::watch::channel(false);
        let one = || {
            let mut gate = gate_rx.clone();
            let reads = &reads;
            cache.get_or_fill("k", move || async move {
                reads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let _ = gate.wait_for(|open| *open).await;
                Ok::<_, ()>(7)
            })
        };
        let both = futures_util::future::join(one(), one());
        let open = async {
            tokio::task::yield_now().await;
            gate_tx.send(true).unwrap();
        };
        let ((a, b), ()) = futures_util::future::join(both, open).await;
        assert_eq!((*a.unwrap(), *b.unwrap()), (7, 7));
        assert_eq!(reads.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_failed_read_is_not_remembered() {
        let cache = PageCache::new(Duration::from_secs(60));
        let failed = cache
            .get_or_fill("k", || async { Err::<u32, _>("down") })
            .await;
        assert!(failed.is_err());
        assert_eq!(read(&cache, 4).await, 4);
    }

    #[tokio::test]
    async fn nothing_is_kept_when_turned_off() {
        let cache = PageCache::new(Duration::ZERO);
        assert_eq!(read(&cache, 1).await, 1);
        assert_eq!(read(&cache, 2).await, 2);
    }
}
