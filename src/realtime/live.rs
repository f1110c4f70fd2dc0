//! `GET /api/v1/sessions/{id}/live`: the websocket room, and the room actions shared with HTTP.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use poem::web::websocket::{CloseCode, Message, WebSocket};
use poem::web::{Data, Path, Query};
use poem::{IntoResponse, Request, Response, handler};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::mpsc;
use uuid::Uuid;

use super::events::{self, RoomEvent};
use super::protocol::*;
use super::room::Room;
use crate::clock;
use crate::entities::{agenda_item, session};
use crate::error::ApiError;
use crate::policy::Actor;
use crate::sessions::model::SessionStatus;
use crate::state::AppState;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

#[derive(Deserialize)]
pub struct LiveQuery {
    ticket: Option<String>,
    last_seq: Option<i64>,
}

fn error_frame(code: &str, message: &str) -> String {
    json!({ "type": "error", "code": code, "message": message }).to_string()
}

/// Upgrades to the room after checking the Origin and consuming a short-lived ticket.
#[handler]
pub async fn live(
    req: &Request,
    Path(session_id): Path<Uuid>,
    Query(q): Query<LiveQuery>,
    ws: WebSocket,
    Data(state): Data<&AppState>,
) -> Response {
    match prepare(req, session_id, q.ticket.as_deref(), state).await {
        Err(e) => e.into_response(),
        Ok((actor, session, room, chair)) => {
            let state = state.clone();
            let last_seq = q.last_seq;
            ws.on_upgrade(move |socket| async move {
                serve(socket, state, actor, session, room, chair, last_seq).await;
            })
            .into_response()
        }
    }
}

async fn prepare(
    req: &Request,
    session_id: Uuid,
    ticket: Option<&str>,
    state: &AppState,
) -> Result<(Actor, session::Model, Arc<Room>, bool), ApiError> {
    if let Some(origin) = req.header(poem::http::header::ORIGIN)
        && !state.settings.origin_allowed(origin)
    {
        return Err(ApiError::Forbidden(poem_openapi::payload::Json(
            crate::error::Problem::new(
                poem::http::StatusCode::FORBIDDEN,
                "origin_not_allowed",
                "This origin may not open the live room.",
            ),
        )));
    }
    let ticket = ticket.ok_or_else(|| {
        ApiError::unauthorized("Open the room with a ticket from POST /sessions/{id}/tickets.")
    })?;
    let (user_id, sign_in) =
        crate::accounts::service::consume_live_ticket(state, ticket, session_id).await?;
    let actor = crate::accounts::service::actor_for(state, user_id, sign_in).await?;
    let (session, convenor) =
        crate::sessions::service::load_visible(&state.db.conn, &actor, session_id)
            .await
            .map_err(ApiError::from)?;
    let status = SessionStatus::parse(&session.status);
    if !matches!(status, SessionStatus::Open | SessionStatus::Adjourned) {
        return Err(ApiError::conflict(
            "session_not_live",
            "The room is open only while the session is open or adjourned.",
        ));
    }
    let room = state.rooms.get(state, &session).await?;
    let chair = convenor || session.chair_id == actor.id();
    Ok((actor, session, room, chair))
}

async fn publish(state: &AppState, room: &Room, event: RoomEvent) {
    room.publish(state, event).await;
}

async fn append(
    state: &AppState,
    room: &Room,
    kind: &str,
    actor: Option<Uuid>,
    payload: serde_json::Value,
) -> Result<RoomEvent, ApiError> {
    let txn = state.db.write().await?;
    let e = events::append(&*txn, room.session_id, kind, actor, payload).await?;
    txn.commit().await?;
    publish(state, room, e.clone()).await;
    Ok(e)
}

#[allow(clippy::too_many_arguments)]
async fn serve(
    socket: poem::web::websocket::WebSocketStream,
    state: AppState,
    actor: Actor,
    session: session::Model,
    room: Arc<Room>,
    chair: bool,
    last_seq: Option<i64>,
) {
    let (mut sink, mut stream) = socket.split();
    let mut frames = room.tx.subscribe();
    let user = actor.id();
    let name = actor.user.display_name.clone();
    // Arriving records attendance and, for a person's first connection, a presence event:
    // one transaction for both.
    if room.connect(user) {
        // Arrivals are batched: a join storm becomes a few events, not one per person.
        room.queue_presence(
            &state,
            super::room::PresenceChange::Joined {
                user_id: user,
                name: name.clone(),
            },
        );
    }
    let snapshot = room.snapshot();
    let mut sent_upto = snapshot.last_seq;
    let (out_tx, mut out_rx) = mpsc::channel::<Message>(state.settings.live_send_queue);
    // Set when this client fell behind: the writer then sends only the close frame.
    let resync = Arc::new(tokio::sync::Notify::new());
    let writer_resync = resync.clone();
    let writer = tokio::spawn(async move {
        loop {
            let frame = tokio::select! {
                biased;
                _ = writer_resync.notified() => break,
                frame = out_rx.recv() => match frame {
                    Some(frame) => frame,
                    None => return,
                },
            };
            // Write whatever else is already queued in the same flush: under load a
            // connection catches up with one system call for many frames.
            let mut closing = matches!(frame, Message::Close(_));
            let mut batch = vec![frame];
            while !closing && batch.len() < 64 {
                match out_rx.try_recv() {
                    Ok(next) => {
                        closing = matches!(next, Message::Close(_));
                        batch.push(next);
                    }
                    Err(_) => break,
                }
            }
            let write = async {
                for frame in batch {
                    sink.feed(frame).await?;
                }
                sink.flush().await
            };
            tokio::select! {
                sent = write => {
                    if sent.is_err() || closing {
                        let _ = sink.close().await;
                        return;
                    }
                }
                _ = writer_resync.notified() => break,
            }
        }
        // Behind: skip what is queued and say so; give the client a while to read it.
        let close = Message::Close(Some((CloseCode::Reserved(CLOSE_RESYNC), "resync".into())));
        let _ = tokio::time::timeout(Duration::from_secs(30), sink.send(close)).await;
        let _ = sink.close().await;
    });
    let welcome = json!({ "type": "welcome", "you": user, "chair": chair, "session_id": session.id, "state": snapshot });
    let _ = out_tx.send(Message::Text(welcome.to_string())).await;
    // Catch up from the client's last sequence number: exactly the events it missed.
    if let Some(from) = last_seq.filter(|f| *f < sent_upto) {
        match events::after(&state.db.conn, session.id, from, (sent_upto - from) as u64).await {
            Ok(missed) if (missed.len() as i64) == sent_upto - from && missed.len() <= 2000 => {
                for e in missed {
                    if let Ok(frame) = serde_json::to_string(&e)
                        && out_tx.send(Message::Text(frame)).await.is_err()
                    {
                        break;
                    }
                }
            }
            _ => {
                // Too far behind: the welcome's state is the snapshot to start from.
                let _ = out_tx
                    .send(Message::Text(
                        json!({ "type": "snapshot", "state": room.snapshot() }).to_string(),
                    ))
                    .await;
            }
        }
    }
    let forward_tx = out_tx.clone();
    let forward_resync = resync.clone();
    let forwarder = tokio::spawn(async move {
        loop {
            match frames.recv().await {
                Ok((seq, frame)) => {
                    if seq <= sent_upto {
                        continue;
                    }
                    sent_upto = seq;
                    if forward_tx
                        .try_send(Message::Text(frame.to_string()))
                        .is_err()
                    {
                        // The client is not reading: tell it to resync and stop sending.
                        forward_resync.notify_one();
                        break;
                    }
                    if frame.contains("\"kind\":\"session.closed\"") {
                        let _ = forward_tx
                            .send(Message::Close(Some((
                                CloseCode::Reserved(CLOSE_SESSION_CLOSED),
                                "session closed".into(),
                            ))))
                            .await;
                        break;
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                    forward_resync.notify_one();
                    break;
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
            }
        }
    });
    let mut revocations = state.revocations.subscribe();
    loop {
        let message = tokio::select! {
            m = stream.next() => match m {
                Some(Ok(m)) => m,
                _ => break,
            },
            r = revocations.recv() => {
                let affected = match r {
                    Ok(who) => who == user,
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => true,
                    Err(_) => false,
                };
                if affected && !still_allowed(&state, &actor, session.id).await {
                    let _ = out_tx.send(Message::Close(Some((CloseCode::Policy, "access revoked".into())))).await;
                    break;
                }
                continue;
            }
        };
        match message {
            Message::Text(text) if text.len() > MAX_FRAME_BYTES => {
                let _ = out_tx
                    .send(Message::Close(Some((
                        CloseCode::Size,
                        "frame too large".into(),
                    ))))
                    .await;
                break;
            }
            Message::Text(text) => match serde_json::from_str::<ClientMessage>(&text) {
                Ok(ClientMessage::Ping) => {
                    let _ = out_tx
                        .send(Message::Text(json!({ "type": "pong" }).to_string()))
                        .await;
                }
                Ok(msg) => {
                    if let Err(e) = act(&state, &room, &actor, chair, msg).await {
                        let p = e.problem();
                        let _ = out_tx
                            .send(Message::Text(error_frame(&p.code, &p.detail)))
                            .await;
                    }
                }
                Err(e) => {
                    let _ = out_tx
                        .send(Message::Text(error_frame(
                            "invalid_message",
                            &e.to_string(),
                        )))
                        .await;
                }
            },
            Message::Binary(_) => {
                let _ = out_tx
                    .send(Message::Close(Some((
                        CloseCode::Unsupported,
                        "text frames only".into(),
                    ))))
                    .await;
                break;
            }
            Message::Close(_) => break,
            _ => {}
        }
        if writer.is_finished() {
            break;
        }
    }
    forwarder.abort();
    drop(out_tx);
    let _ = tokio::time::timeout(Duration::from_secs(2), writer).await;
    if room.disconnect(user) {
        room.queue_presence(&state, super::room::PresenceChange::Left { user_id: user });
    }
}

/// Whether the person behind a socket may still be in the room: their sign-in is alive and
/// they may still see the session.
async fn still_allowed(state: &AppState, actor: &Actor, session_id: Uuid) -> bool {
    if !crate::accounts::service::sign_in_alive(&state.db.conn, actor.session_id)
        .await
        .unwrap_or(false)
    {
        return false;
    }
    let Ok(fresh) = crate::accounts::service::actor_for(state, actor.id(), actor.session_id).await
    else {
        return false;
    };
    crate::sessions::service::load_visible(&state.db.conn, &fresh, session_id)
        .await
        .is_ok()
}

fn clean_text(raw: &str, max: usize) -> Result<String, ApiError> {
    let t = raw.trim();
    if t.is_empty() || t.chars().count() > max {
        return Err(ApiError::bad_request(
            "invalid_text",
            format!("The text must have 1 to {max} characters."),
        ));
    }
    Ok(t.to_string())
}

fn refuse(code: &str, detail: &str) -> ApiError {
    ApiError::conflict(code, detail)
}

/// Does what a room message asks, for the socket and for HTTP alike.
pub async fn act(
    state: &AppState,
    room: &Arc<Room>,
    actor: &Actor,
    chair: bool,
    msg: ClientMessage,
) -> Result<Option<RoomEvent>, ApiError> {
    let user = actor.id();
    let name = actor.user.display_name.clone();
    let now = clock::now();
    if msg.chair_only() && !chair {
        return Err(ApiError::forbidden("Only the chair may do this."));
    }
    // Chat is the hot path: read only what it needs; other actions take a full copy.
    if let ClientMessage::Chat { text, item_id } = msg {
        let text = clean_text(&text, MAX_CHAT_CHARS)?;
        let (muted, open, current) =
            room.with_state(|s| (s.is_muted(user, now), s.status == "open", s.current_item_id));
        if muted {
            return Err(refuse("muted", "The chair has muted you for a while."));
        }
        if !open {
            return Err(refuse(
                "session_not_open",
                "Chat is open while the session is in progress.",
            ));
        }
        let key = format!("chat:{}:{user}", room.session_id);
        state
            .limiter
            .take(&key, state.settings.chat_per_10s, Duration::from_secs(10))
            .map_err(|retry| ApiError::too_many("You are sending messages too fast.", retry))?;
        let item = item_id.or(current);
        let e = append(
            state,
            room,
            "chat.posted",
            Some(user),
            json!({ "user_id": user, "name": name, "text": text, "item_id": item }),
        )
        .await?;
        return Ok(Some(e));
    }
    let snapshot = room.snapshot();
    let event = match msg {
        // Chat was handled above, on its own fast path.
        ClientMessage::Ping | ClientMessage::Chat { .. } => return Ok(None),
        ClientMessage::React { emoji } => {
            if !REACTIONS.contains(&emoji.as_str()) {
                return Err(ApiError::bad_request(
                    "invalid_reaction",
                    format!("Reactions are one of {}.", REACTIONS.join(" ")),
                ));
            }
            let key = format!("react:{}:{user}", room.session_id);
            state
                .limiter
                .take(&key, 10, Duration::from_secs(10))
                .map_err(|retry| ApiError::too_many("Too many reactions.", retry))?;
            append(
                state,
                room,
                "reaction",
                Some(user),
                json!({ "user_id": user, "emoji": emoji }),
            )
            .await?
        }
        ClientMessage::RaiseHand => {
            if snapshot.is_muted(user, now) {
                return Err(refuse("muted", "The chair has muted you for a while."));
            }
            if snapshot.hands.iter().any(|h| h.user_id == user) {
                return Err(refuse(
                    "hand_already_raised",
                    "Your hand is already raised.",
                ));
            }
            append(
                state,
                room,
                "hand.raised",
                Some(user),
                json!({ "user_id": user, "name": name }),
            )
            .await?
        }
        ClientMessage::LowerHand => {
            if !snapshot.hands.iter().any(|h| h.user_id == user) {
                return Err(refuse("hand_not_raised", "Your hand is not raised."));
            }
            append(
                state,
                room,
                "hand.lowered",
                Some(user),
                json!({ "user_id": user }),
            )
            .await?
        }
        ClientMessage::GiveFloor { user_id, seconds } => {
            if !(30..=900).contains(&seconds) {
                return Err(ApiError::bad_request(
                    "invalid_duration",
                    "Speaking time is 30 to 900 seconds.",
                ));
            }
            let speaker_name = snapshot
                .hands
                .iter()
                .find(|h| h.user_id == user_id)
                .map(|h| h.name.clone())
                .or_else(|| snapshot.present.get(&user_id).cloned())
                .ok_or_else(|| refuse("not_present", "Give the floor to someone in the room."))?;
            let until = now + chrono::Duration::seconds(seconds as i64);
            let e = append(state, room, "floor.given", Some(user), json!({ "user_id": user_id, "name": speaker_name, "seconds": seconds, "until": until })).await?;
            // When the time is up, the floor returns to the chair (unless it already did).
            let (state, room, granted) = (state.clone(), room.clone(), e.seq);
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_secs(seconds as u64)).await;
                if room
                    .snapshot()
                    .speaker
                    .as_ref()
                    .is_some_and(|s| s.granted_seq == granted)
                {
                    let _ = append(
                        &state,
                        &room,
                        "floor.ended",
                        None,
                        json!({ "user_id": user_id, "reason": "time" }),
                    )
                    .await;
                }
            });
            e
        }
        ClientMessage::TakeFloor => {
            let speaker = snapshot
                .speaker
                .ok_or_else(|| refuse("nobody_speaking", "Nobody has the floor."))?;
            append(
                state,
                room,
                "floor.ended",
                Some(user),
                json!({ "user_id": speaker.user_id, "reason": "chair" }),
            )
            .await?
        }
        ClientMessage::NextItem => {
            let items = agenda_item_ids(state, room.session_id).await?;
            let next = match snapshot
                .current_item_id
                .and_then(|c| items.iter().position(|i| *i == c))
            {
                Some(pos) => items.get(pos + 1).copied(),
                None => items.first().copied(),
            }
            .ok_or_else(|| refuse("no_next_item", "This is the last agenda item."))?;
            let txn = state.db.write().await?;
            session::Entity::update_many()
                .col_expr(
                    session::Column::CurrentItemId,
                    sea_orm::sea_query::Expr::value(Some(next)),
                )
                .filter(session::Column::Id.eq(room.session_id))
                .exec(&*txn)
                .await?;
            let e = events::append(
                &*txn,
                room.session_id,
                "item.changed",
                Some(user),
                json!({ "item_id": next }),
            )
            .await?;
            txn.commit().await?;
            publish(state, room, e.clone()).await;
            e
        }
        ClientMessage::Adjourn | ClientMessage::Resume | ClientMessage::Close => {
            let (to, kind) = match msg {
                ClientMessage::Adjourn => (SessionStatus::Adjourned, "session.adjourned"),
                ClientMessage::Resume => (SessionStatus::Open, "session.resumed"),
                _ => (SessionStatus::Closed, "session.closed"),
            };
            crate::sessions::service::change_state(state, actor, room.session_id, to)
                .await
                .map_err(ApiError::from)?;
            append(state, room, kind, Some(user), json!({})).await?
        }
        ClientMessage::RemoveMessage { seq, reason } => {
            let reason = clean_text(&reason, 500)?;
            let found = events::after(&state.db.conn, room.session_id, seq - 1, 1).await?;
            if !found
                .first()
                .is_some_and(|e| e.seq == seq && e.kind == "chat.posted")
            {
                return Err(ApiError::not_found(
                    "message_not_found",
                    "No chat message with that sequence number.",
                ));
            }
            if snapshot.removed.contains(&seq) {
                return Err(refuse(
                    "already_removed",
                    "That message is already removed.",
                ));
            }
            append(
                state,
                room,
                "chat.removed",
                Some(user),
                json!({ "seq": seq, "reason": reason }),
            )
            .await?
        }
        ClientMessage::MarkMessage { seq } => {
            let found = events::after(&state.db.conn, room.session_id, seq - 1, 1).await?;
            if !found
                .first()
                .is_some_and(|e| e.seq == seq && e.kind == "chat.posted")
                || snapshot.removed.contains(&seq)
            {
                return Err(ApiError::not_found(
                    "message_not_found",
                    "No chat message with that sequence number.",
                ));
            }
            append(
                state,
                room,
                "chat.marked",
                Some(user),
                json!({ "seq": seq }),
            )
            .await?
        }
        ClientMessage::Mute { user_id, seconds } => {
            if !(10..=3600).contains(&seconds) {
                return Err(ApiError::bad_request(
                    "invalid_duration",
                    "Mute for 10 to 3600 seconds.",
                ));
            }
            let until = now + chrono::Duration::seconds(seconds as i64);
            append(
                state,
                room,
                "participant.muted",
                Some(user),
                json!({ "user_id": user_id, "until": until }),
            )
            .await?
        }
    };
    Ok(Some(event))
}

async fn agenda_item_ids(state: &AppState, session_id: Uuid) -> Result<Vec<Uuid>, ApiError> {
    use sea_orm::QueryOrder;
    Ok(agenda_item::Entity::find()
        .filter(agenda_item::Column::SessionId.eq(session_id))
        .order_by_asc(agenda_item::Column::Position)
        .all(&state.db.conn)
        .await?
        .into_iter()
        .map(|a| a.id)
        .collect())
}
