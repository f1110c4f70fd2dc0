use crate::text::{Text, Words};
use chrono::{DateTime, Utc};
use poem_openapi::{Enum, Object};
use uuid::Uuid;

use crate::proposals::model::PersonRef;

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum SessionStatus {
    Draft,
    Scheduled,
    Open,
    Adjourned,
    Closed,
    Cancelled,
}

impl SessionStatus {
    pub const ALL: [Self; 6] = [
        Self::Draft,
        Self::Scheduled,
        Self::Open,
        Self::Adjourned,
        Self::Closed,
        Self::Cancelled,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Scheduled => "scheduled",
            Self::Open => "open",
            Self::Adjourned => "adjourned",
            Self::Closed => "closed",
            Self::Cancelled => "cancelled",
        }
    }
    pub fn parse(s: &str) -> Self {
        Self::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .unwrap_or(Self::Draft)
    }
}

/// Who is invited. Resolved into individual invitations when the session is scheduled.
#[derive(Object, Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
#[oai(skip_serializing_if_is_none)]
#[oai(deny_unknown_fields)]
pub struct InvitedGroups {
    /// All verified residents of the community.
    #[oai(default)]
    pub all_residents: bool,
    /// Verified owners only.
    #[oai(default)]
    pub owners: bool,
    /// People holding roles in these grids (grid workers).
    #[oai(default, validator(max_items = 50))]
    pub grid_ids: Vec<Uuid>,
    /// Every member of these organisations.
    #[oai(default, validator(max_items = 50))]
    pub organisation_ids: Vec<Uuid>,
    /// Named people, by the email of their account.
    #[oai(default, validator(max_items = 200))]
    pub people: Vec<Text>,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(deny_unknown_fields)]
pub struct AgendaItemInput {
    /// An accepted proposal of the community; its title is used unless one is given.
    pub proposal_id: Option<Uuid>,
    #[oai(validator(max_length = 120))]
    pub title: Option<Text>,
    #[oai(default, validator(max_length = 4000))]
    pub description: Text,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(deny_unknown_fields)]
pub struct CreateSessionRequest {
    pub community_id: Uuid,
    #[oai(validator(max_length = 120))]
    pub title: Words,
    #[oai(validator(max_length = 4000))]
    pub purpose: Words,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    /// Where people meet in person; absent for an online-only session.
    #[oai(validator(max_length = 200))]
    pub address: Option<Text>,
    /// Whether people take part online (the live room).
    #[oai(default = "default_true")]
    pub online: bool,
    /// The chair's account email (a committee member or the party secretary); default: you.
    #[oai(validator(max_length = 254))]
    pub chair_email: Option<Text>,
    #[oai(default, validator(max_items = 30))]
    pub agenda: Vec<AgendaItemInput>,
    #[oai(default)]
    pub invited: InvitedGroups,
}

fn default_true() -> bool {
    true
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(deny_unknown_fields)]
pub struct RescheduleRequest {
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    #[oai(validator(max_length = 200))]
    pub address: Option<Text>,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(deny_unknown_fields)]
pub struct CancelRequest {
    #[oai(validator(max_length = 2000))]
    pub reason: Words,
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum Rsvp {
    Confirmed,
    Declined,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(deny_unknown_fields)]
pub struct RsvpRequest {
    pub response: Rsvp,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(deny_unknown_fields)]
pub struct CheckInRequest {
    /// The attendee's account email.
    #[oai(validator(max_length = 254))]
    pub email: Words,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct AgendaItemView {
    pub id: Uuid,
    pub position: i32,
    pub proposal_id: Option<Uuid>,
    pub title: String,
    pub description: String,
}

#[derive(Object, Debug, Default, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct GroupCount {
    /// The group: `resident`, `owner`, `organisation`, `grid`, `person`, `chair`.
    pub group: String,
    pub invited: u64,
    pub present: u64,
}

#[derive(Object, Debug, Default, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct AttendanceSummary {
    pub invited: u64,
    pub confirmed: u64,
    pub declined: u64,
    pub present_online: u64,
    pub present_assisted: u64,
    /// People of the register without an invitation of their own whom a grid worker answered
    /// for or checked in; they are in `confirmed`, `declined` and `present_assisted`.
    pub register_persons: u64,
    pub by_group: Vec<GroupCount>,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct SessionView {
    pub id: Uuid,
    pub community_id: Uuid,
    pub title: String,
    pub purpose: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub address: Option<String>,
    pub online: bool,
    pub status: SessionStatus,
    pub chair: PersonRef,
    pub agenda: Vec<AgendaItemView>,
    pub current_item_id: Option<Uuid>,
    pub invited: InvitedGroups,
    pub cancel_reason: Option<String>,
    pub attendance: AttendanceSummary,
    /// The viewer's answer to their invitation, if invited.
    pub my_response: Option<String>,
    pub opened_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct LiveTicket {
    /// Pass as `?ticket=` when opening `GET /sessions/{id}/live`; works once, within a minute.
    pub ticket: String,
    pub expires_in_seconds: u32,
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum RoomActionType {
    Chat,
    React,
    RaiseHand,
    LowerHand,
    GiveFloor,
    TakeFloor,
    NextItem,
    Adjourn,
    Resume,
    Close,
    RemoveMessage,
    MarkMessage,
    Mute,
}

/// A room action over HTTP, for clients that cannot keep a socket: the same as the socket's
/// messages (see docs/live-protocol.md).
#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(deny_unknown_fields)]
pub struct RoomActionRequest {
    #[oai(rename = "type")]
    pub kind: RoomActionType,
    #[oai(validator(max_length = 1000))]
    pub text: Option<Text>,
    pub item_id: Option<Uuid>,
    #[oai(validator(max_length = 16))]
    pub emoji: Option<Text>,
    pub user_id: Option<Uuid>,
    pub seconds: Option<u32>,
    pub seq: Option<i64>,
    #[oai(validator(max_length = 500))]
    pub reason: Option<Text>,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct RoomEventView {
    pub seq: i64,
    pub kind: String,
    pub actor_id: Option<Uuid>,
    pub payload: serde_json::Value,
    pub at: DateTime<Utc>,
}

#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct MinutesSpeech {
    /// Absent in the public minutes.
    pub speaker: Option<String>,
    pub seconds: i64,
}

#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct MinutesItem {
    pub position: i32,
    pub title: String,
    pub proposal_id: Option<Uuid>,
    pub speeches: Vec<MinutesSpeech>,
    pub chat_messages: u64,
    /// Chat the chair marked for the minutes (authors named only for members).
    pub marked_chat: Vec<String>,
}

#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct Minutes {
    pub session_id: Uuid,
    pub title: String,
    pub purpose: String,
    pub community_name: String,
    pub starts_at: DateTime<Utc>,
    pub opened_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub chair: Option<String>,
    pub attendance: AttendanceSummary,
    pub items: Vec<MinutesItem>,
    /// The session's polls and their results.
    pub votes: Vec<MinutesVote>,
    /// Resolutions recorded from this session (from its polls or its consensus), as they stand.
    pub resolutions: Vec<MinutesResolution>,
}

/// A resolution of the session, as the minutes record it.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct MinutesResolution {
    pub resolution_id: Uuid,
    pub agenda_item_id: Option<Uuid>,
    pub title: String,
    /// poll or consensus.
    pub origin: String,
    /// Where it stands now: draft, in_review, approved, disclosure, in_progress, overdue,
    /// completed, cancelled or withdrawn.
    pub status: String,
    pub deadline: Option<String>,
}

/// One poll of the session, as the minutes record it.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct MinutesVote {
    pub poll_id: Uuid,
    pub agenda_item_id: Option<Uuid>,
    pub question: String,
    pub secret: bool,
    /// draft, open, closed or cancelled.
    pub status: String,
    pub electorate: Option<u64>,
    pub participants: Option<u64>,
    pub passed: Option<bool>,
    /// Each option with its headcount (and area where the electorate has one).
    pub counts: Vec<String>,
}

/// A grid worker answers a session's invitation for a person of the register.
#[derive(Object, Debug)]
#[oai(deny_unknown_fields)]
pub struct AssistedRsvpRequest {
    pub person_id: Uuid,
    pub response: Rsvp,
    /// The paper or consent the answer rests on, e.g. "电话 12月7日 本人答复".
    #[oai(validator(max_length = 120))]
    pub reference: Words,
}
