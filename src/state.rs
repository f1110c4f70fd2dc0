//! What every operation can reach: the database, settings, and shared services.

use std::sync::Arc;

use tokio::sync::Notify;

use crate::config::Settings;
use crate::db::Db;
use crate::passwords::Passwords;
use crate::ratelimit::RateLimiter;

#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub settings: Arc<Settings>,
    pub passwords: Passwords,
    pub limiter: Arc<RateLimiter>,
    /// Wakes the outbox worker after a commit that queued mail.
    pub mail_wake: Arc<Notify>,
    /// The live rooms this process serves.
    pub rooms: Arc<crate::realtime::room::Rooms>,
}

impl AppState {
    pub fn new(db: Db, settings: Arc<Settings>) -> Self {
        let passwords = Passwords::new(settings.max_concurrent_hashes);
        Self {
            db,
            settings,
            passwords,
            limiter: Arc::new(RateLimiter::default()),
            mail_wake: Arc::new(Notify::new()),
            rooms: Arc::default(),
        }
    }

    pub fn link(&self, path: &str) -> String {
        format!("{}{}", self.settings.public_url, path)
    }
}
