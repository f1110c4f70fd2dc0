//! Fan-out between processes: an event appended by one `yishi` process reaches the sockets
//! of every other. On PostgreSQL, LISTEN/NOTIFY carries the news (sent inside the appending
//! transaction, so it arrives only after the commit); on SQLite, where several processes are
//! not a production deployment, loaded rooms are polled for new sequence numbers.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use sea_orm::EntityTrait;
use tokio::sync::Notify;
use uuid::Uuid;

use crate::sessions::events::FANOUT_CHANNEL;

/// The PostgreSQL channel on which processes announce people whose access changed.
pub const REVOCATION_CHANNEL: &str = "yishi_revocations";
use crate::entities::session;
use crate::state::AppState;

pub async fn run(state: AppState, shutdown: Arc<Notify>) {
    if state.db.backend() == sea_orm::DbBackend::Postgres {
        listen(state, shutdown).await;
    } else {
        poll(state, shutdown).await;
    }
}

async fn listen(state: AppState, shutdown: Arc<Notify>) {
    use sea_orm::sqlx::postgres::PgListener;
    loop {
        let connected = async {
            let mut l = PgListener::connect(&state.settings.database_url_to_connect()).await?;
            l.listen_all([
                FANOUT_CHANNEL,
                REVOCATION_CHANNEL,
                crate::notifications::feed::FEED_CHANNEL,
                crate::proposals::cache::LISTS_CHANNEL,
            ])
            .await?;
            Ok::<_, sea_orm::sqlx::Error>(l)
        };
        let mut listener = tokio::select! {
            _ = shutdown.notified() => return,
            l = connected => match l {
                Ok(l) => l,
                Err(e) => {
                    tracing::warn!(error = %e, "room fan-out cannot listen; retrying");
                    tokio::time::sleep(Duration::from_secs(2)).await;
                    continue;
                }
            },
        };
        // After (re)connecting, catch up on anything announced while we were not listening.
        state.lists.invalidate();
        state.listening.store(true, Ordering::Release);
        for room in state.rooms.loaded() {
            state.rooms.catch_up(&state, room.session_id).await;
        }
        loop {
            tokio::select! {
                _ = shutdown.notified() => return,
                n = listener.recv() => match n {
                    Ok(n) if n.channel() == crate::notifications::feed::FEED_CHANNEL => {
                        for user in n.payload().split(',').filter_map(|s| s.parse::<Uuid>().ok()) {
                            state.feed.hint(user);
                        }
                    }
                    Ok(n) if n.channel() == crate::proposals::cache::LISTS_CHANNEL => {
                        state.lists.invalidate();
                    }
                    Ok(n) if n.channel() == REVOCATION_CHANNEL => {
                        if let Ok(user) = n.payload().parse::<Uuid>() {
                            state.actors.evict(user);
                            let _ = state.revocations.send(user);
                        }
                    }
                    Ok(n) => {
                        // `session:seq`; an announcement without a number reads whatever is new.
                        let (id, seq) = n.payload().split_once(':').unwrap_or((n.payload(), ""));
                        if let Ok(id) = id.parse::<Uuid>() {
                            let seq = seq.parse().unwrap_or(i64::MAX);
                            state.rooms.catch_up_to(&state, id, seq).await;
                        }
                    }
                    Err(e) => {
                        state.listening.store(false, Ordering::Release);
                        tracing::warn!(error = %e, "room fan-out lost its connection; reconnecting");
                        break;
                    }
                },
            }
        }
    }
}

async fn poll(state: AppState, shutdown: Arc<Notify>) {
    loop {
        tokio::select! {
            _ = shutdown.notified() => return,
            _ = tokio::time::sleep(Duration::from_millis(250)) => {}
        }
        for room in state.rooms.loaded() {
            let latest = session::Entity::find_by_id(room.session_id)
                .one(&state.db.conn)
                .await;
            if let Ok(Some(s)) = latest
                && s.event_seq > room.last_seq()
            {
                state.rooms.catch_up(&state, room.session_id).await;
            }
        }
    }
}
