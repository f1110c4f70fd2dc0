//! The in-app feed: every notification (security messages excepted) as a row the person reads
//! in the web client, with an unread count, pushed over their own websocket while connected.
//!
//! A push is a hint ("something new for person X"); the socket then reads what is committed
//! and newer than what it has sent. Hints travel in-process through a broadcast channel and
//! between processes through PostgreSQL NOTIFY (sent inside the transaction, so delivered at
//! commit); a slow timer covers a hint that arrived before its transaction committed.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use super::error::NotificationsError as E;
use super::model::{FeedPage, NotificationView, ReadRequest};
use crate::clock;
use crate::entities::notification;
use crate::state::AppState;

/// The PostgreSQL channel carrying "new notification for this person".
pub const FEED_CHANNEL: &str = "yishi_feed";
/// Tickets for the personal feed socket are issued for this pseudo-session.
pub const FEED_TICKET_SCOPE: Uuid = Uuid::nil();

/// In-process hints.
pub struct FeedHub {
    tx: tokio::sync::broadcast::Sender<Uuid>,
}

impl Default for FeedHub {
    fn default() -> Self {
        Self {
            tx: tokio::sync::broadcast::channel(4096).0,
        }
    }
}

impl FeedHub {
    /// Hints that these people have something new (called inside the writing transaction).
    pub fn announce(&self, rows: Vec<(Uuid, Uuid)>) {
        let mut people: Vec<Uuid> = rows.into_iter().map(|(u, _)| u).collect();
        people.sort();
        people.dedup();
        for p in people {
            let _ = self.tx.send(p);
        }
    }

    pub fn hint(&self, user: Uuid) {
        let _ = self.tx.send(user);
    }

    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Uuid> {
        self.tx.subscribe()
    }
}

pub fn view(n: notification::Model) -> NotificationView {
    NotificationView {
        id: n.id,
        kind: n.kind,
        category: n.category,
        title: n.title,
        body: n.body,
        link: n.link,
        read: n.read_at.is_some(),
        created_at: n.created_at,
    }
}

pub(crate) async fn unread(state: &AppState, user: Uuid) -> Result<i64, E> {
    Ok(notification::Entity::find()
        .filter(notification::Column::UserId.eq(user))
        .filter(notification::Column::ReadAt.is_null())
        .count(&state.db.conn)
        .await? as i64)
}

pub async fn list(
    state: &AppState,
    user: Uuid,
    unread_only: bool,
    limit: u64,
    before: Option<DateTime<Utc>>,
) -> Result<FeedPage, E> {
    let mut q = notification::Entity::find()
        .filter(notification::Column::UserId.eq(user))
        .order_by_desc(notification::Column::CreatedAt)
        .order_by_desc(notification::Column::Id)
        .limit(limit.clamp(1, 200));
    if unread_only {
        q = q.filter(notification::Column::ReadAt.is_null());
    }
    if let Some(b) = before {
        q = q.filter(notification::Column::CreatedAt.lt(b));
    }
    let items = q.all(&state.db.conn).await?.into_iter().map(view).collect();
    Ok(FeedPage {
        unread: unread(state, user).await?,
        items,
    })
}

pub async fn mark_read(state: &AppState, user: Uuid, req: ReadRequest) -> Result<FeedPage, E> {
    if !req.all && req.ids.is_empty() {
        return Err(E::Invalid(
            "nothing_to_mark",
            "Give the ids to mark read, or all: true.".into(),
        ));
    }
    let mut q = notification::Entity::update_many()
        .col_expr(
            notification::Column::ReadAt,
            Expr::value(Some(clock::now())),
        )
        .filter(notification::Column::UserId.eq(user))
        .filter(notification::Column::ReadAt.is_null());
    if !req.all {
        q = q.filter(notification::Column::Id.is_in(req.ids));
    }
    q.exec(&state.db.conn).await?;
    list(state, user, false, 50, None).await
}
