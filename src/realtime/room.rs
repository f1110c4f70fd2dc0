use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::sync::broadcast;
use tokio_tungstenite::tungstenite::Utf8Bytes;
use uuid::Uuid;

use crate::entities::session;
use crate::sessions::events::{self, RoomEvent};
use crate::state::AppState;

#[derive(Debug, Clone, Serialize)]
pub struct Person {
    pub user_id: Uuid,
    pub name: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Speaker {
    pub user_id: Uuid,
    pub name: String,
    pub until: DateTime<Utc>,
    /// The event that gave the floor; a timer only ends the turn it started.
    pub granted_seq: i64,
}

/// The room's state: a fold over its events.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RoomState {
    pub last_seq: i64,
    pub status: String,
    pub current_item_id: Option<Uuid>,
    pub present: BTreeMap<Uuid, String>,
    pub hands: Vec<Person>,
    pub speaker: Option<Speaker>,
    pub muted: HashMap<Uuid, DateTime<Utc>>,
    pub removed: Vec<i64>,
}

fn uuid_of(v: &serde_json::Value, key: &str) -> Option<Uuid> {
    v.get(key)
        .and_then(|u| u.as_str())
        .and_then(|u| u.parse().ok())
}

fn name_of(v: &serde_json::Value) -> String {
    v.get("name")
        .and_then(|n| n.as_str())
        .unwrap_or_default()
        .to_string()
}

impl RoomState {
    pub fn apply(&mut self, e: &RoomEvent) {
        self.last_seq = e.seq;
        let p = &e.payload;
        match e.kind.as_str() {
            "presence.joined" => {
                if let Some(u) = uuid_of(p, "user_id") {
                    self.present.insert(u, name_of(p));
                }
            }
            "presence.left" => {
                if let Some(u) = uuid_of(p, "user_id") {
                    self.present.remove(&u);
                }
            }
            "presence.changed" => {
                for change in p
                    .get("changes")
                    .and_then(|c| c.as_array())
                    .into_iter()
                    .flatten()
                {
                    let Some(u) = uuid_of(change, "user_id") else {
                        continue;
                    };
                    if change.get("op").and_then(|o| o.as_str()) == Some("joined") {
                        self.present.insert(u, name_of(change));
                    } else {
                        self.present.remove(&u);
                    }
                }
            }
            "hand.raised" => {
                if let Some(u) = uuid_of(p, "user_id")
                    && !self.hands.iter().any(|h| h.user_id == u)
                {
                    self.hands.push(Person {
                        user_id: u,
                        name: name_of(p),
                    });
                }
            }
            "hand.lowered" => {
                if let Some(u) = uuid_of(p, "user_id") {
                    self.hands.retain(|h| h.user_id != u);
                }
            }
            "floor.given" => {
                if let (Some(u), Some(until)) = (
                    uuid_of(p, "user_id"),
                    p.get("until").and_then(|t| t.as_str()),
                ) {
                    self.hands.retain(|h| h.user_id != u);
                    self.speaker = until.parse().ok().map(|until| Speaker {
                        user_id: u,
                        name: name_of(p),
                        until,
                        granted_seq: e.seq,
                    });
                }
            }
            "floor.ended" => self.speaker = None,
            "item.changed" => self.current_item_id = uuid_of(p, "item_id"),
            "participant.muted" => {
                if let (Some(u), Some(until)) = (
                    uuid_of(p, "user_id"),
                    p.get("until").and_then(|t| t.as_str()),
                ) && let Ok(until) = until.parse()
                {
                    self.muted.insert(u, until);
                }
            }
            "chat.removed" => {
                if let Some(seq) = p.get("seq").and_then(|s| s.as_i64()) {
                    self.removed.push(seq);
                }
            }
            "session.adjourned" => self.status = "adjourned".into(),
            "session.resumed" => self.status = "open".into(),
            "session.closed" => {
                self.status = "closed".into();
                self.speaker = None;
                self.hands.clear();
            }
            _ => {}
        }
    }

    pub fn is_muted(&self, user: Uuid, now: DateTime<Utc>) -> bool {
        self.muted.get(&user).is_some_and(|until| *until > now)
    }
}

/// An arrival or a departure, waiting to be written with others in one event.
#[derive(Debug, Clone)]
pub enum PresenceChange {
    Joined { user_id: Uuid, name: String },
    Left { user_id: Uuid },
}

/// How long arrivals and departures gather before they are written as one event.
const PRESENCE_BATCH: Duration = Duration::from_millis(200);

/// One serialised room event, shared by every socket that sends it (the text is reference
/// counted, not copied per socket).
#[derive(Debug, Clone)]
pub struct Frame {
    pub seq: i64,
    /// The session closed with this event: sockets close after sending it.
    pub closes: bool,
    pub text: Utf8Bytes,
}

/// One session's room in this process.
pub struct Room {
    pub session_id: Uuid,
    /// Serialised event frames, in sequence order.
    pub tx: broadcast::Sender<Frame>,
    /// The sequence number of the latest frame sent on `tx` (stored just after it is sent).
    sent_seq: std::sync::atomic::AtomicI64,
    state: Mutex<RoomState>,
    /// The latest `snapshot` frame, made once per sequence number however many sockets ask.
    snapshot_frame: Mutex<Option<(i64, Utf8Bytes)>>,
    /// Above this many people present, a room is a crowd (`YISHI_LIVE_CROWD`): sockets get
    /// presence as counts (who is here stays in the room's state, for the chair's actions and
    /// for other processes). Sending every arrival's name to everyone, and the whole list to
    /// every newcomer, costs the square of the room's size: ten thousand people would receive
    /// gigabytes while joining. Once a crowd, a room stays one, so a client never has to
    /// rebuild a list it was not sent.
    crowd_above: usize,
    /// The room has been a crowd.
    crowd: std::sync::atomic::AtomicBool,
    connections: Mutex<HashMap<Uuid, Connections>>,
    /// Presence changes not yet written, and whether a flush is on its way.
    presence: Mutex<(Vec<PresenceChange>, bool)>,
}

impl Room {
    pub fn snapshot(&self) -> RoomState {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Reads part of the state without copying all of it.
    pub fn with_state<T>(&self, f: impl FnOnce(&RoomState) -> T) -> T {
        f(&self.state.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// The `snapshot` frame of the current state, with the sequence number it reflects.
    pub fn snapshot_frame(&self) -> (i64, Utf8Bytes) {
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let mut cached = self
            .snapshot_frame
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some((seq, frame)) = cached.as_ref()
            && *seq == state.last_seq
        {
            return (*seq, frame.clone());
        }
        let mut v = serde_json::to_value(&*state).unwrap_or_default();
        v["present_count"] = state.present.len().into();
        let crowd = self.is_crowd(&state);
        v["crowd"] = crowd.into();
        if crowd {
            v["present"] = serde_json::json!({});
        }
        let frame =
            Utf8Bytes::from(serde_json::json!({ "type": "snapshot", "state": v }).to_string());
        *cached = Some((state.last_seq, frame.clone()));
        (state.last_seq, frame)
    }

    /// Whether the room is (or has been) a crowd; the state is the caller's lock on it.
    fn is_crowd(&self, state: &RoomState) -> bool {
        use std::sync::atomic::Ordering;
        if state.present.len() > self.crowd_above {
            self.crowd.store(true, Ordering::Relaxed);
        }
        self.crowd.load(Ordering::Relaxed)
    }

    /// An event as sockets receive it: in a crowd, a presence change says how many came, went
    /// and are here, not who.
    fn frame_text(&self, state: &RoomState, e: &RoomEvent) -> serde_json::Result<String> {
        if e.kind != "presence.changed" || !self.is_crowd(state) {
            return serde_json::to_string(e);
        }
        let changes = e.payload["changes"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default();
        let joined = changes.iter().filter(|c| c["op"] == "joined").count();
        let summary = RoomEvent {
            payload: serde_json::json!({
                "crowd": true,
                "present_count": state.present.len(),
                "joined": joined,
                "left": changes.len() - joined,
            }),
            ..e.clone()
        };
        serde_json::to_string(&summary)
    }

    /// The latest frame's sequence number as `tx` has it: a socket holding a frame with this
    /// number has nothing more waiting (one that reads it a moment early looks again on its
    /// next turn).
    pub fn sent_seq(&self) -> i64 {
        self.sent_seq.load(std::sync::atomic::Ordering::Acquire)
    }

    pub fn last_seq(&self) -> i64 {
        self.with_state(|s| s.last_seq)
    }

    /// Applies and broadcasts events in sequence order. Events that arrive early wait for the
    /// ones before them (fetched from the database); ones already applied are skipped.
    pub async fn publish(&self, state: &AppState, event: RoomEvent) {
        let last = self.last_seq();
        let mut pending = Vec::new();
        if event.seq > last + 1
            && let Ok(missing) = events::after(
                &state.db.conn,
                self.session_id,
                last,
                (event.seq - last - 1) as u64,
            )
            .await
        {
            pending.extend(missing);
        }
        pending.push(event);
        let mut room = self.state.lock().unwrap_or_else(|p| p.into_inner());
        for e in pending {
            if e.seq != room.last_seq + 1 {
                continue;
            }
            room.apply(&e);
            if let Ok(text) = self.frame_text(&room, &e) {
                let _ = self.tx.send(Frame {
                    seq: e.seq,
                    closes: e.kind == "session.closed",
                    text: text.into(),
                });
                self.sent_seq
                    .store(e.seq, std::sync::atomic::Ordering::Release);
            }
        }
    }

    /// Queues an arrival or departure; within a short window they are written together, with
    /// the online attendance of those who arrived, as one `presence.changed` event.
    pub fn queue_presence(self: &Arc<Self>, state: &AppState, change: PresenceChange) {
        let start_flush = {
            let mut p = self.presence.lock().unwrap_or_else(|p| p.into_inner());
            p.0.push(change);
            !std::mem::replace(&mut p.1, true)
        };
        if start_flush {
            let (room, state) = (self.clone(), state.clone());
            tokio::spawn(async move {
                tokio::time::sleep(PRESENCE_BATCH).await;
                room.flush_presence(&state).await;
            });
        }
    }

    async fn flush_presence(&self, state: &AppState) {
        let changes = {
            let mut p = self.presence.lock().unwrap_or_else(|p| p.into_inner());
            p.1 = false;
            std::mem::take(&mut p.0)
        };
        if changes.is_empty() {
            return;
        }
        let payload: Vec<serde_json::Value> = changes
            .iter()
            .map(|c| match c {
                PresenceChange::Joined { user_id, name } => {
                    serde_json::json!({ "op": "joined", "user_id": user_id, "name": name })
                }
                PresenceChange::Left { user_id } => {
                    serde_json::json!({ "op": "left", "user_id": user_id })
                }
            })
            .collect();
        let written = async {
            let txn = state.db.write().await?;
            for c in &changes {
                if let PresenceChange::Joined { user_id, .. } = c {
                    crate::sessions::service::record_attendance(
                        &*txn,
                        self.session_id,
                        *user_id,
                        "online",
                        None,
                    )
                    .await
                    .map_err(|e| sea_orm::DbErr::Custom(e.to_string()))?;
                }
            }
            let e = events::append(
                &*txn,
                self.session_id,
                "presence.changed",
                None,
                serde_json::json!({ "changes": payload }),
            )
            .await?;
            txn.commit().await?;
            Ok::<_, sea_orm::DbErr>(e)
        };
        match written.await {
            Ok(e) => self.publish(state, e).await,
            Err(e) => {
                tracing::warn!(error = %e, session = %self.session_id, "presence changes could not be written")
            }
        }
    }

    /// Counts a connection. A person's first connection announces their arrival, unless the
    /// room still shows them present (they dropped within the grace period).
    pub fn connect(self: &Arc<Self>, state: &AppState, user: Uuid, name: &str) {
        let first = {
            let mut c = self.connections.lock().unwrap_or_else(|p| p.into_inner());
            let entry = c.entry(user).or_default();
            entry.count += 1;
            entry.count == 1
        };
        if first && !self.with_state(|s| s.present.contains_key(&user)) {
            // Arrivals are batched: a join storm becomes a few events, not one per person.
            self.queue_presence(
                state,
                PresenceChange::Joined {
                    user_id: user,
                    name: name.to_string(),
                },
            );
        }
    }

    /// Uncounts a connection. When it was the person's last, they are shown leaving after the
    /// grace period, unless they are back by then.
    pub fn disconnect(self: &Arc<Self>, state: &AppState, user: Uuid) {
        let departure = {
            let mut c = self.connections.lock().unwrap_or_else(|p| p.into_inner());
            match c.get_mut(&user) {
                Some(e) if e.count > 1 => {
                    e.count -= 1;
                    return;
                }
                Some(e) => {
                    e.count = 0;
                    e.departures += 1;
                    e.departures
                }
                None => return,
            }
        };
        let (room, state) = (self.clone(), state.clone());
        tokio::spawn(async move {
            let grace = Duration::from_secs(state.settings.presence_grace_secs);
            tokio::time::sleep(grace).await;
            let gone = {
                let mut c = room.connections.lock().unwrap_or_else(|p| p.into_inner());
                let gone = c
                    .get(&user)
                    .is_some_and(|e| e.count == 0 && e.departures == departure);
                if gone {
                    c.remove(&user);
                }
                gone
            };
            if gone {
                room.queue_presence(&state, PresenceChange::Left { user_id: user });
            }
        });
    }
}

/// A person's connections to a room in this process.
#[derive(Default)]
struct Connections {
    count: usize,
    /// Counts the times their last connection dropped; a pending departure acts only if no
    /// later one superseded it.
    departures: u64,
}

/// The rooms this process serves, loaded on first use.
#[derive(Default)]
pub struct Rooms {
    rooms: Mutex<HashMap<Uuid, Arc<Room>>>,
}

impl Rooms {
    pub fn loaded(&self) -> Vec<Arc<Room>> {
        self.rooms
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect()
    }

    fn find(&self, session_id: Uuid) -> Option<Arc<Room>> {
        self.rooms
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&session_id)
            .cloned()
    }

    /// Applies and broadcasts whatever events other processes added to a room this process
    /// serves.
    pub async fn catch_up(&self, state: &AppState, session_id: Uuid) {
        self.catch_up_to(state, session_id, i64::MAX).await;
    }

    /// The same, for news of the event `seq`: nothing to read when the room already has it
    /// (on PostgreSQL a process hears its own events announced too, one per chat message).
    pub async fn catch_up_to(&self, state: &AppState, session_id: Uuid, seq: i64) {
        let Some(room) = self.find(session_id) else {
            return;
        };
        let last = room.last_seq();
        if last >= seq {
            return;
        }
        if let Ok(missed) = events::after(&state.db.conn, session_id, last, 1000).await {
            for e in missed {
                room.publish(state, e).await;
            }
        }
    }

    pub async fn get(
        &self,
        state: &AppState,
        session: &session::Model,
    ) -> Result<Arc<Room>, sea_orm::DbErr> {
        if let Some(room) = self
            .rooms
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&session.id)
        {
            return Ok(room.clone());
        }
        let mut folded = RoomState {
            status: session.status.clone(),
            current_item_id: session.current_item_id,
            ..Default::default()
        };
        let mut after = 0;
        loop {
            let batch = events::after(&state.db.conn, session.id, after, 5000).await?;
            let Some(last) = batch.last() else { break };
            after = last.seq;
            for e in &batch {
                folded.apply(e);
            }
        }
        // Presence is live: nobody is present in a room this process has just loaded.
        folded.present.clear();
        folded.status = session.status.clone();
        // Room for a join storm: every arrival is an event that everyone receives.
        let (tx, _) = broadcast::channel(16384);
        let room = Arc::new(Room {
            session_id: session.id,
            tx,
            sent_seq: folded.last_seq.into(),
            state: Mutex::new(folded),
            snapshot_frame: Mutex::default(),
            crowd_above: state.settings.live_crowd,
            crowd: Default::default(),
            connections: Mutex::default(),
            presence: Mutex::default(),
        });
        let mut rooms = self.rooms.lock().unwrap_or_else(|p| p.into_inner());
        Ok(rooms.entry(session.id).or_insert(room).clone())
    }
}
