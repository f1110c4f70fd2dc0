//! The person's own feed socket: opened with a ticket, it pushes the unread count and hints
//! that something new arrived, and closes when the sign-in behind it ends.

use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::{SinkExt, StreamExt};
use poem::web::websocket::{Message, WebSocket};
use poem::web::{Data, Query};
use poem::{IntoResponse, Request, Response, handler};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use crate::clock;
use crate::entities::notification;
use crate::error::ApiError;
use crate::notifications::feed::{FEED_TICKET_SCOPE, unread, view};
use crate::state::AppState;

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
