//! Fixed-window counters in memory, keyed by a string (account, client address, actor).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Default)]
pub struct RateLimiter {
    windows: Mutex<HashMap<String, (Instant, u32)>>,
}

impl RateLimiter {
    /// Ok when `key` has been counted fewer than `limit` times in the current window;
    /// otherwise the seconds until the window ends.
    pub fn check(&self, key: &str, limit: u32, window: Duration) -> Result<(), u64> {
        let map = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        match map.get(key) {
            Some((start, count)) if now.duration_since(*start) < window && *count >= limit => {
                Err((window - now.duration_since(*start)).as_secs() + 1)
            }
            _ => Ok(()),
        }
    }

    /// Counts one event for `key`.
    pub fn hit(&self, key: &str, window: Duration) {
        let mut map = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if map.len() > 100_000 {
            map.retain(|_, (start, _)| now.duration_since(*start) < window);
        }
        let entry = map.entry(key.to_string()).or_insert((now, 0));
        if now.duration_since(entry.0) >= window {
            *entry = (now, 0);
        }
        entry.1 += 1;
    }

    /// Checks and counts in one step.
    pub fn take(&self, key: &str, limit: u32, window: Duration) -> Result<(), u64> {
        self.check(key, limit, window)?;
        self.hit(key, window);
        Ok(())
    }

    pub fn clear(&self, key: &str) {
        self.windows
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
    }
}
