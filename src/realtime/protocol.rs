//! The live room's messages. Every frame is a JSON object with a `type` field.
//! `docs/live-protocol.md` (beside the OpenAPI spec) describes them for client authors.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Largest text frame a client may send, in bytes; larger ones close the socket with 1009.
pub const MAX_FRAME_BYTES: usize = 16 * 1024;
/// Longest chat message, in characters.
pub const MAX_CHAT_CHARS: usize = 1000;
/// Close code telling a client it fell behind and must reconnect with its last sequence number.
pub const CLOSE_RESYNC: u16 = 4008;
/// Close code for a session that has closed.
pub const CLOSE_SESSION_CLOSED: u16 = 4010;
pub const REACTIONS: [&str; 6] = ["👍", "👏", "❤️", "🤔", "😂", "🙏"];

/// What a client may send (over the socket, or to `POST /sessions/{id}/room` over HTTP).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientMessage {
    Chat {
        text: String,
        item_id: Option<Uuid>,
    },
    React {
        emoji: String,
    },
    RaiseHand,
    LowerHand,
    /// Chair: give the floor to someone for a number of seconds (30 to 900).
    GiveFloor {
        user_id: Uuid,
        seconds: u32,
    },
    /// Chair: take the floor back.
    TakeFloor,
    /// Chair: move to the next agenda item.
    NextItem,
    Adjourn,
    Resume,
    Close,
    /// Chair: remove a chat message (by its event sequence number) with a reason.
    RemoveMessage {
        seq: i64,
        reason: String,
    },
    /// Chair: mark a chat message (by its sequence number) for the minutes.
    MarkMessage {
        seq: i64,
    },
    /// Chair: mute a participant for a number of seconds (10 to 3600).
    Mute {
        user_id: Uuid,
        seconds: u32,
    },
    Ping,
}

impl ClientMessage {
    pub fn chair_only(&self) -> bool {
        matches!(
            self,
            Self::GiveFloor { .. }
                | Self::TakeFloor
                | Self::NextItem
                | Self::Adjourn
                | Self::Resume
                | Self::Close
                | Self::RemoveMessage { .. }
                | Self::MarkMessage { .. }
                | Self::Mute { .. }
        )
    }
}
