use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::sync::broadcast;
use uuid::Uuid;

use super::events::{self, RoomEvent};
use crate::entities::session;
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
const PRESENCE_BATCH: std::time::Duration = std::time::Duration::from_millis(200);

/// One session's room in this process.
pub struct Room {
    pub session_id: Uuid,
    /// Serialised event frames, in sequence order.
    pub tx: broadcast::Sender<(i64, Arc<str>)>,
    state: Mutex<RoomState>,
    connections: Mutex<HashMap<Uuid, usize>>,
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
            if let Ok(frame) = serde_json::to_string(&e) {
                let _ = self.tx.send((e.seq, frame.into()));
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

    /// Counts a connection; true when it is the person's first in this room.
    pub fn connect(&self, user: Uuid) -> bool {
        let mut c = self.connections.lock().unwrap_or_else(|p| p.into_inner());
        let n = c.entry(user).or_insert(0);
        *n += 1;
        *n == 1
    }

    /// Uncounts a connection; true when it was the person's last.
    pub fn disconnect(&self, user: Uuid) -> bool {
        let mut c = self.connections.lock().unwrap_or_else(|p| p.into_inner());
        match c.get_mut(&user) {
            Some(n) if *n > 1 => {
                *n -= 1;
                false
            }
            Some(_) => {
                c.remove(&user);
                true
            }
            None => false,
        }
    }
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
        let Some(room) = self.find(session_id) else {
            return;
        };
        let last = room.snapshot().last_seq;
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
            state: Mutex::new(folded),
            connections: Mutex::default(),
            presence: Mutex::default(),
        });
        let mut rooms = self.rooms.lock().unwrap_or_else(|p| p.into_inner());
        Ok(rooms.entry(session.id).or_insert(room).clone())
    }
}
