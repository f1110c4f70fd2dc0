//! `GET /api/v1/sessions/{id}/live`: the websocket room, and the room actions shared with HTTP.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{FutureExt, SinkExt, StreamExt};
use poem::web::{Data, Path, Query};
use poem::{IntoResponse, Request, Response, handler};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::broadcast;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode as WsCloseCode;
use uuid::Uuid;

use super::protocol::*;
use super::replies;
use super::room::{Frame, Room};
use super::socket::Socket;
use crate::clock;
use crate::entities::{agenda_item, session};
use crate::error::ApiError;
use crate::policy::Actor;
use crate::sessions::events::{self, RoomEvent};
use crate::sessions::model::SessionStatus;
use crate::state::AppState;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

#[derive(Deserialize)]
pub struct LiveQuery {
    ticket: Option<String>,
    last_seq: Option<i64>,
}

/// Who is behind a socket: as much of their account as the room uses for the socket's life
/// (a room holds thousands of sockets). The rare action that needs the whole account (a chair
/// adjourning or closing) reads it again, with the person's access as it is then.
pub struct Member {
    pub id: Uuid,
    /// The sign-in the socket was opened with.
    pub sign_in: Uuid,
    pub name: String,
}

impl Member {
    pub fn of(actor: &Actor) -> Self {
        Self {
            id: actor.id(),
            sign_in: actor.session_id,
            name: actor.user.display_name.clone(),
        }
    }

    async fn actor(&self, state: &AppState) -> Result<Actor, ApiError> {
        Ok(crate::accounts::service::actor_for(state, self.id, self.sign_in).await?)
    }
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
    Data(state): Data<&AppState>,
) -> Response {
    let accept = match super::socket::check(req) {
        Ok(accept) => accept,
        Err(e) => return e.into_response(),
    };
    match prepare(req, session_id, q.ticket.as_deref(), state).await {
        Err(e) => e.into_response(),
        Ok((member, room, chair)) => {
            let handover = &state.handover;
            let state = state.clone();
            let last_seq = q.last_seq;
            super::socket::upgrade(req, handover, accept, move |socket| async move {
                serve(socket, state, member, room, chair, last_seq).await;
            })
        }
    }
}

async fn prepare(
    req: &Request,
    session_id: Uuid,
    ticket: Option<&str>,
    state: &AppState,
) -> Result<(Member, Arc<Room>, bool), ApiError> {
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
    Ok((Member::of(&actor), room, chair))
}

async fn publish(state: &AppState, room: &Room, event: RoomEvent) {
    room.publish(state, event).await;
}

/// Appends an event that changes nothing else, with whatever else is being sent (group commit);
/// the writer broadcasts it once it is stored.
async fn append(
    state: &AppState,
    room: &Arc<Room>,
    kind: &'static str,
    actor_id: Option<Uuid>,
    payload: serde_json::Value,
) -> Result<RoomEvent, ApiError> {
    let job = super::writer::Append {
        room: room.clone(),
        kind,
        actor_id,
        payload,
    };
    Ok(state.room_events.submit(state, job).await?)
}

/// A close frame for the writer's queue.
fn closing(code: u16, reason: &'static str) -> Box<Message> {
    Box::new(close(code, reason))
}

fn close(code: u16, reason: &'static str) -> Message {
    Message::Close(Some(CloseFrame {
        code: WsCloseCode::from(code),
        reason: reason.into(),
    }))
}

/// The first frames of a connection: who you are, then either exactly the events missed since
/// the client's `last_seq`, or the room's state as a `snapshot`. Returns the sequence number
/// the client is now at.
async fn greet(
    sink: &mut SplitSink<Socket, Message>,
    state: &AppState,
    room: &Room,
    user: Uuid,
    chair: bool,
    last_seq: Option<i64>,
) -> Result<i64, tokio_tungstenite::tungstenite::Error> {
    let (at, snapshot) = room.snapshot_frame();
    // Exactly the events missed, when the client says where it was and it is not too far.
    let missed = match last_seq {
        Some(from) if from == at => Some(Vec::new()),
        Some(from) if from >= 0 && from < at && at - from <= MAX_REPLAY => {
            events::after(&state.db.conn, room.session_id, from, (at - from) as u64)
                .await
                .ok()
                .filter(|m| m.len() as i64 == at - from)
        }
        _ => None,
    };
    let welcome = json!({ "type": "welcome", "you": user, "chair": chair, "session_id": room.session_id, "last_seq": at, "resumed": missed.is_some() });
    sink.feed(Message::text(welcome.to_string())).await?;
    match missed {
        Some(missed) => {
            for e in missed {
                if let Ok(frame) = serde_json::to_string(&e) {
                    sink.feed(Message::text(frame)).await?;
                }
            }
        }
        None => sink.feed(Message::Text(snapshot)).await?,
    }
    sink.flush().await?;
    Ok(at)
}

/// Most events replayed to a reconnecting client; further behind, it gets a snapshot.
const MAX_REPLAY: i64 = 2000;
/// How often a write that does not finish checks how far behind its client is.
const STALL_CHECK: Duration = Duration::from_millis(200);
/// A client that accepts nothing for this long is dropped even in a quiet room.
const MAX_STALL: Duration = Duration::from_secs(60);
/// How long a client told to resync has to read up to the close frame.
const RESYNC_PATIENCE: Duration = Duration::from_secs(120);
/// Most frames written in one system call.
const BATCH: usize = 64;

/// What woke a socket's writer.
enum Next {
    /// The reader's own answer (or its end).
    Own(Option<Box<Message>>),
    /// A room frame.
    Frame(Result<Frame, broadcast::error::RecvError>),
}

enum Stop {
    /// The reader is done (the client left, or was refused).
    Done,
    /// The client fell behind: tell it to resync.
    Behind,
    /// The socket failed or the session closed.
    Ended,
}

/// The one task that writes to a socket: room frames from the broadcast, shared not copied,
/// and the reader's own answers. A client whose socket stops taking frames while more than
/// `limit` wait for it (or more than the room's ring holds) is told to resync and dropped, so
/// it never holds back the room; a client that reads keeps up however bursty the room is.
async fn write_loop(
    mut sink: SplitSink<Socket, Message>,
    room: Arc<Room>,
    mut frames: broadcast::Receiver<Frame>,
    own: replies::Receiver,
    mut sent_upto: i64,
    limit: usize,
    metrics: Arc<crate::metrics::Metrics>,
) {
    own.bind().await;
    // Grown for a burst and given back after it: a room holds thousands of idle writers.
    let mut batch: Vec<Message> = Vec::new();
    let mut turn: u32 = 0;
    let stop = 'run: loop {
        // Frames first: in a busy room nearly every wake is for a frame, and the reader's
        // channel is then not looked at (looking at it first on each wake of a room's
        // thousands of sockets was 5% of the process's CPU at 2,000 × 50/s). Every 16th turn
        // the reader's channel goes first, so a steady stream of frames never holds back its
        // answers or its close.
        turn = turn.wrapping_add(1);
        let next = if turn.is_multiple_of(16) {
            tokio::select! {
                biased;
                m = own.recv() => Next::Own(m),
                f = frames.recv() => Next::Frame(f),
            }
        } else {
            tokio::select! {
                biased;
                f = frames.recv() => Next::Frame(f),
                m = own.recv() => Next::Own(m),
            }
        };
        let mut closing = match next {
            Next::Own(Some(m)) => {
                let close = matches!(*m, Message::Close(_));
                batch.push(*m);
                close
            }
            Next::Own(None) => break 'run Stop::Done,
            Next::Frame(Ok(f)) if f.seq <= sent_upto => continue,
            Next::Frame(Ok(f)) => {
                sent_upto = f.seq;
                batch.push(Message::Text(f.text));
                f.closes
            }
            Next::Frame(Err(broadcast::error::RecvError::Lagged(_))) => break 'run Stop::Behind,
            Next::Frame(Err(broadcast::error::RecvError::Closed)) => break 'run Stop::Done,
        };
        // Whatever else is already waiting goes in the same write. Nearly always the frame just
        // taken is the room's latest and nothing waits: then the channel is not looked into
        // again (that look takes the channel's shared lock, once per frame per socket).
        while !closing && batch.len() < BATCH && sent_upto < room.sent_seq() {
            match frames.try_recv() {
                Ok(f) if f.seq <= sent_upto => {}
                Ok(f) => {
                    sent_upto = f.seq;
                    closing = f.closes;
                    batch.push(Message::Text(f.text));
                }
                Err(broadcast::error::TryRecvError::Lagged(_)) => break 'run Stop::Behind,
                Err(_) => break,
            }
        }
        let session_closed = closing && !matches!(batch.last(), Some(Message::Close(_)));
        // A write that does not finish while the room moves on means a client that does not
        // read: check how far behind it is now and then.
        let written = {
            let write = async {
                for m in batch.drain(..) {
                    sink.feed(m).await?;
                }
                sink.flush().await
            };
            tokio::pin!(write);
            // Most writes finish at once (the socket's buffer has room) and need no timer; in a
            // busy room that saves arming and cancelling one per frame per socket.
            match (&mut write).now_or_never() {
                Some(w) => Some(w),
                None => {
                    let mut waited = Duration::ZERO;
                    loop {
                        tokio::select! {
                            biased;
                            w = &mut write => break Some(w),
                            _ = tokio::time::sleep(STALL_CHECK) => {
                                waited += STALL_CHECK;
                                if frames.len() > limit || waited >= MAX_STALL {
                                    break None;
                                }
                            }
                        }
                    }
                }
            }
        };
        if batch.capacity() > 8 {
            batch = Vec::new();
        }
        match written {
            None => break Stop::Behind,
            Some(Err(_)) => break Stop::Ended,
            Some(Ok(())) if session_closed => {
                let _ = sink
                    .send(close(CLOSE_SESSION_CLOSED, "session closed"))
                    .await;
                break Stop::Ended;
            }
            Some(Ok(())) if closing => break Stop::Ended,
            Some(Ok(())) => {}
        }
    };
    if let Stop::Behind = stop {
        metrics.live_dropped.fetch_add(1, Ordering::Relaxed);
        // Skip what is queued and say so. The close waits behind what the client has not read
        // yet; give it a couple of minutes to get there (the room does not wait for it).
        drop(frames);
        let _ = tokio::time::timeout(RESYNC_PATIENCE, async {
            sink.send(close(CLOSE_RESYNC, "resync")).await?;
            sink.close().await
        })
        .await;
    } else {
        let _ = tokio::time::timeout(Duration::from_secs(5), sink.close()).await;
    }
}

#[allow(clippy::too_many_arguments)]
async fn serve(
    socket: Socket,
    state: AppState,
    member: Member,
    room: Arc<Room>,
    chair: bool,
    last_seq: Option<i64>,
) {
    let (mut sink, mut stream) = socket.split();
    // Subscribed before the greeting is taken, so nothing falls between the two.
    let frames = room.tx.subscribe();
    let user = member.id;
    state.metrics.live_sockets.fetch_add(1, Ordering::Relaxed);
    room.connect(&state, user, &member.name);
    // Boxed, here and below: a socket's task stays small while it waits, whatever the size of
    // the work it does now and then.
    let greeted = Box::pin(greet(&mut sink, &state, &room, user, chair, last_seq)).await;
    if let Ok(at) = greeted {
        let (out_tx, out_rx) = replies::channel(64);
        let mut writer = tokio::spawn(write_loop(
            sink,
            room.clone(),
            frames,
            out_rx,
            at,
            state.settings.live_send_queue,
            state.metrics.clone(),
        ));
        let writer_ended = read_loop(
            &mut stream,
            &out_tx,
            &mut writer,
            &state,
            &room,
            &member,
            chair,
        )
        .await;
        drop(out_tx);
        if !writer_ended {
            let _ = tokio::time::timeout(RESYNC_PATIENCE + Duration::from_secs(5), writer).await;
        }
        // Read what the client still sends until its close answers ours (briefly): a socket
        // dropped with unread data is reset, and the client would never see the close code.
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            while let Some(Ok(_)) = stream.next().await {}
        })
        .await;
    }
    room.disconnect(&state, user);
    state.metrics.live_sockets.fetch_sub(1, Ordering::Relaxed);
}

/// A token bucket over a socket's incoming frames: a burst of ten seconds' worth, then the
/// sustained rate. A client over it is closed (1008); the rate limits on chat and reactions
/// still apply within it.
struct Flood {
    tokens: f64,
    rate: f64,
    last: tokio::time::Instant,
}

impl Flood {
    fn new(per_sec: u32) -> Self {
        let rate = f64::from(per_sec.max(1));
        Self {
            tokens: rate * 10.0,
            rate,
            last: tokio::time::Instant::now(),
        }
    }

    fn allow(&mut self) -> bool {
        let now = tokio::time::Instant::now();
        let refill = now.duration_since(self.last).as_secs_f64() * self.rate;
        self.tokens = (self.tokens + refill).min(self.rate * 10.0);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Reads the client's messages until it leaves, breaks a rule, loses its access, or the writer
/// ends (then true).
#[allow(clippy::too_many_arguments)]
async fn read_loop(
    stream: &mut SplitStream<Socket>,
    out: &replies::Sender,
    writer: &mut tokio::task::JoinHandle<()>,
    state: &AppState,
    room: &Arc<Room>,
    member: &Member,
    chair: bool,
) -> bool {
    let user = member.id;
    let mut revocations = state.revocations.subscribe();
    let mut flood = Flood::new(state.settings.live_frames_per_sec);
    loop {
        let message = tokio::select! {
            _ = &mut *writer => return true,
            m = stream.next() => match m {
                Some(Ok(_)) if !flood.allow() => {
                    let _ = out.send(closing(u16::from(WsCloseCode::Policy), "too many frames")).await;
                    return false;
                }
                Some(Ok(m)) => m,
                Some(Err(tokio_tungstenite::tungstenite::Error::Capacity(_))) => {
                    let _ = out.send(closing(u16::from(WsCloseCode::Size), "frame too large")).await;
                    return false;
                }
                Some(Err(tokio_tungstenite::tungstenite::Error::Utf8(_))) => {
                    let _ = out.send(closing(u16::from(WsCloseCode::Invalid), "text frames must be UTF-8")).await;
                    return false;
                }
                Some(Err(tokio_tungstenite::tungstenite::Error::Protocol(_))) => {
                    let _ = out.send(closing(u16::from(WsCloseCode::Protocol), "websocket protocol error")).await;
                    return false;
                }
                _ => return false,
            },
            r = revocations.recv() => {
                let affected = match r {
                    Ok(who) => who == user,
                    Err(broadcast::error::RecvError::Lagged(_)) => true,
                    Err(_) => false,
                };
                if affected && !Box::pin(still_allowed(state, member, room.session_id)).await {
                    let _ = out.send(closing(u16::from(WsCloseCode::Policy), "access revoked")).await;
                    return false;
                }
                continue;
            }
        };
        let reply = match message {
            Message::Text(text) if text.len() > MAX_FRAME_BYTES => {
                let _ = out
                    .send(closing(u16::from(WsCloseCode::Size), "frame too large"))
                    .await;
                return false;
            }
            Message::Text(text) => match serde_json::from_str::<ClientMessage>(&text) {
                Ok(ClientMessage::Ping) => Some(json!({ "type": "pong" }).to_string()),
                Ok(msg) => match Box::pin(act(state, room, member, chair, msg)).await {
                    Ok(_) => None,
                    Err(e) => {
                        let p = e.problem();
                        Some(error_frame(&p.code, &p.detail))
                    }
                },
                Err(e) => Some(error_frame("invalid_message", &e.to_string())),
            },
            Message::Binary(_) => {
                let _ = out
                    .send(closing(
                        u16::from(WsCloseCode::Unsupported),
                        "text frames only",
                    ))
                    .await;
                return false;
            }
            Message::Close(_) => return false,
            _ => None,
        };
        if let Some(reply) = reply
            && out.send(Box::new(Message::text(reply))).await.is_err()
        {
            return false;
        }
    }
}

/// Whether the person behind a socket may still be in the room: their sign-in is alive and
/// they may still see the session.
async fn still_allowed(state: &AppState, member: &Member, session_id: Uuid) -> bool {
    if !crate::accounts::service::sign_in_alive(&state.db.conn, member.sign_in)
        .await
        .unwrap_or(false)
    {
        return false;
    }
    let Ok(fresh) = member.actor(state).await else {
        return false;
    };
    crate::sessions::service::load_visible(&state.db.conn, &fresh, session_id)
        .await
        .is_ok()
}

fn clean_text(raw: &str, max: usize) -> Result<String, ApiError> {
    let t = raw.trim();
    if t.is_empty() || t.chars().count() > max {
        return Err(ApiError::unprocessable(
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
    member: &Member,
    chair: bool,
    msg: ClientMessage,
) -> Result<Option<RoomEvent>, ApiError> {
    let user = member.id;
    let name = member.name.clone();
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
            .take_here(&key, state.settings.chat_per_10s, Duration::from_secs(10))
            .map_err(|retry| ApiError::too_many("You are sending messages too fast.", retry))?;
        if let Some(item) = item_id
            && !agenda_item_ids(state, room.session_id)
                .await?
                .contains(&item)
        {
            return Err(ApiError::not_found(
                "item_not_found",
                "That is not an agenda item of this session.",
            ));
        }
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
                return Err(ApiError::unprocessable(
                    "invalid_reaction",
                    format!("Reactions are one of {}.", REACTIONS.join(" ")),
                ));
            }
            let key = format!("react:{}:{user}", room.session_id);
            state
                .limiter
                .take_here(&key, 10, Duration::from_secs(10))
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
                return Err(ApiError::unprocessable(
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
            let actor = member.actor(state).await?;
            crate::sessions::service::change_state(state, &actor, room.session_id, to)
                .await
                .map_err(ApiError::from)?;
            append(state, room, kind, Some(user), json!({})).await?
        }
        ClientMessage::RemoveMessage { seq, reason } => {
            let reason = clean_text(&reason, 500)?;
            chat_message(state, room.session_id, seq).await?;
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
            chat_message(state, room.session_id, seq).await?;
            if snapshot.removed.contains(&seq) {
                return Err(ApiError::not_found(
                    "message_not_found",
                    "That message was removed.",
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
                return Err(ApiError::unprocessable(
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

/// Checks that `seq` is a chat message of the session.
async fn chat_message(state: &AppState, session_id: Uuid, seq: i64) -> Result<(), ApiError> {
    let not_found = || {
        ApiError::not_found(
            "message_not_found",
            "No chat message with that sequence number.",
        )
    };
    let before = seq
        .checked_sub(1)
        .filter(|b| *b >= 0)
        .ok_or_else(not_found)?;
    let found = events::after(&state.db.conn, session_id, before, 1).await?;
    if found
        .first()
        .is_some_and(|e| e.seq == seq && e.kind == "chat.posted")
    {
        Ok(())
    } else {
        Err(not_found())
    }
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
