//! The in-app feed: every notification (security messages excepted) as a row the person reads
//! in the web client, with an unread count, pushed over their own websocket while connected.
//!
//! A push is a hint ("something new for person X"); the socket then reads what is committed
//! and newer than what it has sent. Hints travel in-process through a broadcast channel and
//! between processes through PostgreSQL NOTIFY (sent inside the transaction, so delivered at
//! commit); a slow timer covers a hint that arrived before its transaction committed.

use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::{SinkExt, StreamExt};
use poem::web::websocket::{Message, WebSocket};
use poem::web::{Data, Query};
use poem::{IntoResponse, Request, Response, handler};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use super::model::{FeedPage, NotificationView, ReadRequest};
use crate::clock;
use crate::entities::notification;
use crate::error::ApiError;
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

async fn unread(state: &AppState, user: Uuid) -> Result<i64, ApiError> {
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
) -> Result<FeedPage, ApiError> {
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

pub async fn mark_read(
    state: &AppState,
    user: Uuid,
    req: ReadRequest,
) -> Result<FeedPage, ApiError> {
    if !req.all && req.ids.is_empty() {
        return Err(ApiError::unprocessable(
            "nothing_to_mark",
            "Give the ids to mark read, or all: true.",
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

#[derive(Deserialize)]
pub struct FeedQuery {
    ticket: Option<String>,
}

/// The person's own socket: `{"type":"notification", ...}` frames as they arrive, and
/// `{"type":"unread","count":n}` after each.
#[handler]
pub async fn feed_socket(
    req: &Request,
    Query(q): Query<FeedQuery>,
    ws: WebSocket,
    Data(state): Data<&AppState>,
) -> Response {
    if let Some(origin) = req.header(poem::http::header::ORIGIN)
        && !state.settings.origin_allowed(origin)
    {
        return ApiError::Forbidden(poem_openapi::payload::Json(crate::error::Problem::new(
            poem::http::StatusCode::FORBIDDEN,
            "origin_not_allowed",
            "This origin may not open the feed.",
        )))
        .into_response();
    }
    let Some(ticket) = q.ticket else {
        return ApiError::unauthorized(
            "Open the feed with a ticket from POST /accounts/me/tickets.",
        )
        .into_response();
    };
    let (user, sign_in) = match crate::accounts::service::consume_live_ticket(
        state,
        &ticket,
        FEED_TICKET_SCOPE,
    )
    .await
    {
        Ok(v) => v,
        Err(e) => return crate::error::ApiError::from(e).into_response(),
    };
    let state = state.clone();
    ws.on_upgrade(move |socket| serve(socket, state, user, sign_in))
        .into_response()
}

async fn serve(
    socket: poem::web::websocket::WebSocketStream,
    state: AppState,
    user: Uuid,
    sign_in: Uuid,
) {
    let (mut sink, mut stream) = socket.split();
    let mut hints = state.feed.subscribe();
    let mut revocations = state.revocations.subscribe();
    // What was sent recently, so that a row committed late with an earlier time is still sent
    // once and a row is never sent twice.
    let mut watermark = clock::now();
    let mut sent: std::collections::HashMap<Uuid, DateTime<Utc>> = Default::default();
    let mut tick = tokio::time::interval(Duration::from_secs(10));
    // The client has read the feed over HTTP before connecting: send only what comes after.
    if let Ok(recent) = notification::Entity::find()
        .filter(notification::Column::UserId.eq(user))
        .filter(notification::Column::CreatedAt.gte(watermark - chrono::Duration::seconds(30)))
        .all(&state.db.conn)
        .await
    {
        sent.extend(recent.into_iter().map(|n| (n.id, n.created_at)));
    }
    let count = unread(&state, user).await.unwrap_or(0);
    if sink
        .send(Message::Text(
            json!({ "type": "unread", "count": count }).to_string(),
        ))
        .await
        .is_err()
    {
        return;
    }
    loop {
        let check = tokio::select! {
            hint = hints.recv() => match hint {
                Ok(u) => u == user,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => true,
                Err(_) => return,
            },
            _ = tick.tick() => true,
            r = revocations.recv() => {
                if matches!(r, Ok(u) if u == user)
                    && !crate::accounts::service::sign_in_alive(&state.db.conn, sign_in).await.unwrap_or(false)
                {
                    let _ = sink.send(Message::Close(Some((poem::web::websocket::CloseCode::Policy, "signed out".into())))).await;
                    return;
                }
                false
            }
            incoming = stream.next() => match incoming {
                Some(Ok(Message::Ping(p))) => { let _ = sink.send(Message::Pong(p)).await; false }
                Some(Ok(Message::Text(t))) if t.len() > 1024 => {
                    let _ = sink.send(Message::Close(Some((poem::web::websocket::CloseCode::Size, "too large".into())))).await;
                    return;
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => false,
            },
        };
        if !check {
            continue;
        }
        let fresh = notification::Entity::find()
            .filter(notification::Column::UserId.eq(user))
            .filter(notification::Column::CreatedAt.gte(watermark - chrono::Duration::seconds(30)))
            .order_by_asc(notification::Column::CreatedAt)
            .limit(100)
            .all(&state.db.conn)
            .await;
        let Ok(fresh) = fresh else { continue };
        let mut sent_any = false;
        for n in fresh {
            if sent.contains_key(&n.id) {
                continue;
            }
            sent.insert(n.id, n.created_at);
            watermark = Ord::max(watermark, n.created_at);
            let frame = json!({ "type": "notification", "notification": view(n) });
            if sink.send(Message::Text(frame.to_string())).await.is_err() {
                return;
            }
            sent_any = true;
        }
        let horizon = watermark - chrono::Duration::seconds(60);
        sent.retain(|_, at| *at >= horizon);
        if sent_any {
            let count = unread(&state, user).await.unwrap_or(0);
            if sink
                .send(Message::Text(
                    json!({ "type": "unread", "count": count }).to_string(),
                ))
                .await
                .is_err()
            {
                return;
            }
        }
    }
}
