//! The live room of a consultation session: every event is persisted with a per-session
//! sequence number before it is broadcast; the room's state (presence, hands, speaker, current
//! item, mutes) is a fold over those events, so a process can rebuild it at any time.

pub mod fanout;
pub mod handover;
pub mod live;
pub mod protocol;
pub mod replies;
pub mod room;
pub mod socket;
pub mod writer;
