//! A short-lived, per-process memory of values read from the database, filled once per key by
//! the first request that misses (those arriving meanwhile wait for that read rather than run
//! the same query), each entry kept for a time drawn between half and all of a limit, and
//! forgotten at once when what it shows changes. Used for proposal-list pages and the frozen
//! electorates of open polls.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Beyond this many entries (unless told otherwise) the memory is cleared rather than grown.
const MAX_ENTRIES: usize = 2_000;

struct Entry<T> {
    /// Filled once by the first request that missed; those arriving meanwhile wait for it
    /// rather than run the same query.
    value: Arc<tokio::sync::OnceCell<Arc<T>>>,
    /// When it is due to be read again: between half the time limit and all of it from its
    /// first read, drawn per entry, so that entries filled together are not read again together.
    expires: Instant,
}

/// Values by key.
pub struct Memo<T> {
    ttl: Duration,
    max_entries: usize,
    entries: Mutex<HashMap<String, Entry<T>>>,
}

impl<T> Memo<T> {
    pub fn new(ttl: Duration) -> Self {
        Self::bounded(ttl, MAX_ENTRIES)
    }

    /// A memory that holds at most `max_entries` values (for values that are large).
    pub fn bounded(ttl: Duration, max_entries: usize) -> Self {
        Self {
            ttl,
            max_entries: max_entries.max(1),
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
    /// A change forgets the entries it affects, so a value read before it is never served to a
    /// request that arrives after it: that request finds no entry and reads afresh.
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
                    if entries.len() >= self.max_entries {
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

    /// Forgets every entry (something they may show changed).
    pub fn invalidate(&self) {
        self.lock().clear();
    }

    /// Forgets one entry.
    pub fn forget(&self, key: &str) {
        self.lock().remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn read(cache: &Memo<u32>, value: u32) -> u32 {
        *cache
            .get_or_fill("k", || async move { Ok::<_, ()>(value) })
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn a_value_is_served_until_forgotten() {
        let cache = Memo::new(Duration::from_secs(60));
        assert_eq!(read(&cache, 1).await, 1);
        assert_eq!(read(&cache, 2).await, 1);
        cache.invalidate();
        assert_eq!(read(&cache, 3).await, 3);
        cache.forget("k");
        assert_eq!(read(&cache, 5).await, 5);
        assert_eq!(read(&cache, 6).await, 5);
    }

    #[tokio::test]
    async fn a_full_memory_starts_again_rather_than_grows() {
        let cache = Memo::bounded(Duration::from_secs(60), 2);
        for key in ["a", "b", "c"] {
            cache
                .get_or_fill(key, || async { Ok::<_, ()>(1) })
                .await
                .unwrap();
        }
        assert_eq!(
            cache.lock().len(),
            1,
            "the third entry cleared the first two"
        );
    }

    #[tokio::test]
    async fn requests_that_miss_together_read_once() {
        let cache = Memo::new(Duration::from_secs(60));
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
        let cache = Memo::new(Duration::from_secs(60));
        let failed = cache
            .get_or_fill("k", || async { Err::<u32, _>("down") })
            .await;
        assert!(failed.is_err());
        assert_eq!(read(&cache, 4).await, 4);
    }

    #[tokio::test]
    async fn nothing_is_kept_when_turned_off() {
        let cache = Memo::new(Duration::ZERO);
        assert_eq!(read(&cache, 1).await, 1);
        assert_eq!(read(&cache, 2).await, 2);
    }
}
