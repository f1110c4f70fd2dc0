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
    /// Appends what participants send to rooms in shared transactions (group commit).
    pub room_events: Arc<crate::realtime::writer::RoomWriter>,
    /// People whose sign-ins or roles changed: their open sockets re-check their access.
    pub revocations: tokio::sync::broadcast::Sender<uuid::Uuid>,
    /// Polls whose running tally changed, for the live room.
    pub tallies: Arc<crate::voting::live::TallyBoard>,
    /// Open polls read by recent ballots.
    pub open_polls: Arc<crate::voting::writer::OpenPolls>,
    /// Writes ballots in shared transactions (group commit).
    pub ballots: Arc<crate::voting::writer::BallotWriter>,
    /// Where evidence files of resolution updates are kept.
    pub evidence: Arc<dyn crate::resolutions::evidence::EvidenceStore>,
    /// Hints to personal feed sockets that something new arrived.
    pub feed: Arc<crate::notifications::feed::FeedHub>,
    /// Proposal-list pages shared by viewers who see a community alike.
    pub lists: Arc<crate::proposals::service::ListMemory>,
    /// Who recent bearer tokens belong to.
    pub actors: Arc<crate::accounts::cache::ActorCache>,
    /// Reads the sign-ins the memory above does not hold, several at once under load.
    pub sign_in_reads: Arc<crate::accounts::lookup::SignInReads>,
    /// When sign-ins were last used, not yet written.
    pub seen: Arc<crate::accounts::seen::LastSeen>,
    /// Seals bids until their tender's deadline.
    pub sealing: Arc<crate::sealing::Sealing>,
    /// Keys the platform signs with.
    pub keys: Arc<crate::keys::Keys>,
    /// Counts for `GET /metrics`.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// The API requests being answered (`max_in_flight`); none when unlimited.
    pub in_flight: Option<Arc<crate::in_flight::InFlight>>,
    /// The connections this process accepted, which a live room's upgrade takes over.
    pub handover: Arc<crate::realtime::handover::Handover>,
    /// On PostgreSQL, whether this process is listening for the other processes' notices (room
    /// events, revoked access, feed hints, list changes); until it is, it is not ready.
    pub listening: Arc<std::sync::atomic::AtomicBool>,
}

impl AppState {
    pub fn new(db: Db, settings: Arc<Settings>) -> Self {
        let actors = Arc::new(crate::accounts::cache::ActorCache::new(
            std::time::Duration::from_secs(settings.auth_cache_secs),
        ));
        let lists = Arc::new(crate::proposals::cache::Lists::new(
            std::time::Duration::from_millis(settings.list_cache_ms),
        ));
        let sealing = Arc::new(crate::sealing::Sealing::new(
            settings.sealing_key_file.clone(),
        ));
        let passwords = Passwords::new(settings.max_concurrent_hashes);
        let limiter = Arc::new(RateLimiter::for_database(&db));
        let in_flight = crate::in_flight::InFlight::new(settings.max_in_flight);
        let evidence = Arc::new(crate::resolutions::evidence::DiskStore::new(
            settings.evidence_dir.clone(),
        ));
        Self {
            db,
            settings,
            passwords,
            limiter,
            mail_wake: Arc::new(Notify::new()),
            rooms: Arc::default(),
            room_events: Arc::new(crate::realtime::writer::room_writer()),
            revocations: tokio::sync::broadcast::channel(1024).0,
            tallies: Arc::default(),
            ballots: Arc::new(crate::voting::writer::ballot_writer()),
            open_polls: Arc::default(),
            evidence,
            feed: Arc::default(),
            sealing: sealing.clone(),
            actors,
            sign_in_reads: Arc::default(),
            seen: Arc::default(),
            lists,
            keys: Arc::new(crate::keys::Keys::new(sealing.clone())),
            metrics: Arc::default(),
            in_flight,
            handover: Arc::default(),
            listening: Arc::default(),
        }
    }

    /// Returns once this process is not busy answering requests (2 s at most): background
    /// work calls it before each piece, so that a burst of requests goes first.
    pub async fn when_quiet(&self) {
        if let Some(requests) = &self.in_flight {
            requests.quiet().await;
        }
    }

    /// The same, for work that can wait longer (`most` at most).
    pub async fn when_quiet_within(&self, most: std::time::Duration) {
        if let Some(requests) = &self.in_flight {
            requests.quiet_within(most).await;
        }
    }

    /// Tells every process that a person's access changed, so their open sockets re-check it
    /// at once. Call after the change has committed.
    pub async fn announce_revocation(&self, user_id: uuid::Uuid) {
        self.actors.evict(user_id);
        let _ = self.revocations.send(user_id);
        if self.db.backend() == sea_orm::DbBackend::Postgres {
            use sea_orm::ConnectionTrait;
            let _ = self
                .db
                .conn
                .execute_raw(sea_orm::Statement::from_sql_and_values(
                    sea_orm::DbBackend::Postgres,
                    "SELECT pg_notify($1, $2)",
                    [
                        crate::realtime::fanout::REVOCATION_CHANNEL.into(),
                        user_id.to_string().into(),
                    ],
                ))
                .await;
        }
    }

    pub fn link(&self, path: &str) -> String {
        format!("{}{}", self.settings.public_url, path)
    }
}
