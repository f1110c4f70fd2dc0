//! Fixed-window counters in memory, keyed by a string (account, client address, actor).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Default)]
pub struct RateLimiter {
    windows: Mutex<HashMap<String, (Instant, u32)>>,
}

impl RateLimiter {
    /// Checks and counts in one step, under one lock: of many callers at once, no more than
    /// `limit` get through in a window.
    pub fn take(&self, key: &str, limit: u32, window: Duration) -> Result<(), u64> {
        let mut map = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if map.len() > 100_000 {
            map.retain(|_, (start, _)| now.duration_since(*start) < window);
        }
        let entry = map.entry(key.to_string()).or_insert((now, 0));
        if now.duration_since(entry.0) >= window {
            *entry = (now, 0);
        }
        if entry.1 >= limit {
            return Err((window - now.duration_since(entry.0)).as_secs() + 1);
        }
        entry.1 += 1;
        Ok(())
    }

    /// Gives back one event counted for `key` (an attempt that turned out not to count).
    pub fn give_back(&self, key: &str) {
        let mut map = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(entry) = map.get_mut(key) {
            entry.1 = entry.1.saturating_sub(1);
        }
    }

    pub fn clear(&self, key: &str) {
        self.windows
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
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
                        .filter(|_| l.take("k", 5, Duration::from_secs(60)).is_ok())
                        .count()
                })
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|h| h.join().unwrap_or(0))
            .sum();
        assert_eq!(passed, 5);
        limiter.give_back("k");
        assert!(limiter.take("k", 5, Duration::from_secs(60)).is_ok());
        assert!(limiter.take("k", 5, Duration::from_secs(60)).is_err());
    }
}
