//! A short-lived, per-process memory of who a bearer token belongs to, so that a burst of
//! requests (ballots when a vote opens) does not resolve the same token, person, roles and
//! organisations from the database on every request.
//!
//! Entries live `YISHI_AUTH_CACHE_SECS` at most and never past the sign-in's expiry. Every change
//! to a person's access (sign-out, role or membership granted or revoked, email verified,
//! profile edited, account deleted) evicts their entries at once in this process, and on
//! PostgreSQL in the others through the revocation notice, so the time limit only bounds a
//! notice that was lost.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::policy::Actor;

/// Beyond this many sign-ins the memory is cleared rather than grown.
const MAX_ENTRIES: usize = 50_000;

struct Entry {
    actor: Actor,
    session_expires_at: DateTime<Utc>,
    stored: Instant,
    /// Between half the time limit and all of it, drawn per entry: sign-ins remembered in the
    /// same burst are not all looked up again in the same instant.
    lifetime: Duration,
}

pub struct ActorCache {
    ttl: Duration,
    entries: Mutex<HashMap<String, Entry>>,
}

impl ActorCache {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        // A panic while holding the lock cannot leave a map half-updated in a way that matters
        // here: at worst an entry is missing.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The actor for a token hash, if remembered and still fresh.
    pub fn get(&self, token_hash: &str, now: DateTime<Utc>) -> Option<Actor> {
        if self.ttl.is_zero() {
            return None;
        }
        let mut entries = self.lock();
        match entries.get(token_hash) {
            Some(e) if e.stored.elapsed() < e.lifetime && now < e.session_expires_at => {
                Some(e.actor.clone())
            }
            Some(_) => {
                entries.remove(token_hash);
                None
            }
            None => None,
        }
    }

    pub fn put(&self, token_hash: String, actor: Actor, session_expires_at: DateTime<Utc>) {
        if self.ttl.is_zero() {
            return;
        }
        let mut entries = self.lock();
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(
            token_hash,
            Entry {
                actor,
                session_expires_at,
                stored: Instant::now(),
                lifetime: self
                    .ttl
                    .mul_f64(rand::Rng::gen_range(&mut rand::thread_rng(), 0.5..=1.0)),
            },
        );
    }

    /// Forgets every sign-in of this person.
    pub fn evict(&self, user_id: Uuid) {
        self.lock().retain(|_, e| e.actor.user.id != user_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn actor(id: Uuid) -> Actor {
        let now = crate::clock::now();
        Actor {
            user: crate::entities::user::Model {
                id,
                email: "a@example.org".into(),
                display_name: "A".into(),
                password_hash: String::new(),
                language: "zh-CN".into(),
                email_verified_at: None,
                created_at: now,
                updated_at: now,
                deleted_at: None,
            },
            session_id: Uuid::new_v4(),
            grants: Vec::new(),
            affiliations: Vec::new(),
            grid_communities: Vec::new(),
        }
    }

    #[test]
    fn entries_expire_with_the_sign_in_and_are_evicted_per_person() {
        let cache = ActorCache::new(Duration::from_secs(60));
        let now = crate::clock::now();
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        cache.put("ta".into(), actor(a), now + chrono::Duration::hours(1));
        cache.put("tb".into(), actor(b), now + chrono::Duration::hours(1));
        cache.put("old".into(), actor(b), now - chrono::Duration::seconds(1));
        assert_eq!(cache.get("ta", now).map(|x| x.user.id), Some(a));
        assert!(
            cache.get("old", now).is_none(),
            "an expired sign-in is not served"
        );
        cache.evict(a);
        assert!(cache.get("ta", now).is_none());
        assert_eq!(cache.get("tb", now).map(|x| x.user.id), Some(b));
        let off = ActorCache::new(Duration::ZERO);
        off.put("ta".into(), actor(a), now + chrono::Duration::hours(1));
        assert!(off.get("ta", now).is_none());
    }
}
