//! Periodic jobs: expiring proposals whose co-signing period ended, reminding invited people of
//! tomorrow's sessions, opening and closing scheduled polls, starting resolutions, opening
//! bids, sending digests, publishing the record's daily head, and forgetting long-expired
//! one-time tokens and old shared rate counts. Every job is a
//! conditional transition, so running it in several processes at once does no harm.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

use crate::state::AppState;

pub async fn run(state: AppState, every: Duration, shutdown: Arc<Notify>) {
    loop {
        match crate::proposals::service::expire_due(&state).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(expired = n, "proposals expired"),
            Err(e) => tracing::warn!(error = %e, "scheduler pass failed; will retry"),
        }
        match crate::sessions::service::send_reminders(&state).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(sessions = n, "session reminders queued"),
            Err(e) => tracing::warn!(error = %e, "reminder pass failed; will retry"),
        }
        match crate::voting::service::run_due(&state).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(polls = n, "scheduled polls opened or closed"),
            Err(e) => tracing::warn!(error = %e, "poll pass failed; will retry"),
        }
        match crate::resolutions::service::run_due(&state).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(changes = n, "resolutions started or marked overdue"),
            Err(e) => tracing::warn!(error = %e, "resolution pass failed; will retry"),
        }
        match crate::contracts::service::run_due(&state).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(tenders = n, "tenders' bids opened"),
            Err(e) => tracing::warn!(error = %e, "bid opening pass failed; will retry"),
        }
        match crate::notifications::digest::send_due(&state).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(digests = n, "daily digests queued"),
            Err(e) => tracing::warn!(error = %e, "digest pass failed; will retry"),
        }
        match crate::notifications::heads::publish_due(&state).await {
            Ok(0) => {}
            Ok(_) => tracing::info!("today's head of the tamper-evident record published"),
            Err(e) => tracing::warn!(error = %e, "record head publication failed; will retry"),
        }
        match crate::accounts::service::purge_expired_tokens(&state).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(rows = n, "expired one-time tokens and sign-ins forgotten"),
            Err(e) => tracing::warn!(error = %e, "token purge failed; will retry"),
        }
        match state.limiter.forget_old().await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(rows = n, "old shared rate counts forgotten"),
            Err(e) => tracing::warn!(error = %e, "rate count purge failed; will retry"),
        }
        tokio::select! {
            _ = shutdown.notified() => break,
            _ = tokio::time::sleep(every) => {}
        }
    }
}
