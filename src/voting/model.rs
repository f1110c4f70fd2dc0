use crate::text::{Text, Words};
use chrono::{DateTime, Utc};
use poem_openapi::{Enum, Object};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use super::counting::{
    Base, Check, Fraction, Measure, OptionCount, Outcome, PollKind, PollOption, Preset, Round,
    RoundCount, Rule, Weight,
};

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum PollStatus {
    Draft,
    Open,
    Closed,
    Cancelled,
}

impl PollStatus {
    pub const ALL: [Self; 4] = [Self::Draft, Self::Open, Self::Closed, Self::Cancelled];
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Open => "open",
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

/// Who may vote, frozen into a list of voting entities when the poll opens.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[oai(rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum ElectorateKind {
    /// Every verified resident (household member) of the community, one ballot each.
    Residents,
    /// One ballot per household (per registered unit with verified residents).
    Households,
    /// Owners from the unit register: one ballot per owner (several units of one owner count
    /// once; the developer's units count once together), weighted by the units' floor area.
    Owners,
    /// The organisations invited to the session, one ballot each, cast by a representative.
    Organisations,
    /// The people recorded as present in the session when the poll opens.
    Attendees,
}

/// How a ballot reached the count.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[oai(rename_all = "snake_case")]
pub enum BallotVia {
    Online,
    Proxy,
    Assisted,
}

impl BallotVia {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Online => "online",
            Self::Proxy => "proxy",
            Self::Assisted => "assisted",
        }
    }
    pub fn parse(s: &str) -> Self {
        match s {
            "proxy" => Self::Proxy,
            "assisted" => Self::Assisted,
            _ => Self::Online,
        }
    }
}

#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
#[oai(deny_unknown_fields)]
pub struct CreatePollRequest {
    /// Required unless the poll belongs to a session (then it is the session's community).
    pub community_id: Option<Uuid>,
    pub session_id: Option<Uuid>,
    /// An agenda item of the session.
    pub agenda_item_id: Option<Uuid>,
    pub proposal_id: Option<Uuid>,
    #[oai(validator(max_length = 200))]
    pub question: Words,
    #[oai(default, validator(max_length = 4000))]
    pub description: Text,
    pub kind: PollKind,
    /// Option labels (2 to 20) for single, multiple and ranked polls; none for yes/no.
    #[oai(default, validator(max_items = 20))]
    pub options: Vec<Text>,
    /// For multiple-choice polls: how many options a ballot may choose (1 to the number of
    /// options).
    pub max_choices: Option<u32>,
    #[oai(default)]
    pub secret: bool,
    pub electorate: ElectorateKind,
    /// For `residents` and `households`: only those living in buildings of these grids.
    #[oai(default, validator(max_items = 50))]
    pub grid_ids: Vec<Uuid>,
    /// A named rule; or give `rule`. Default: simple majority of ballots cast.
    pub preset: Option<Preset>,
    pub rule: Option<Rule>,
    /// Show the running tally while the poll is open (never for secret polls).
    #[oai(default)]
    pub show_tally: bool,
    /// Open by itself at this time (otherwise the chair opens it).
    pub opens_at: Option<DateTime<Utc>>,
    /// Close by itself at this time (otherwise the chair closes it).
    pub closes_at: Option<DateTime<Utc>>,
}

/// A voting entity the signed-in person may cast a ballot for.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct MyVoter {
    pub voter_id: Uuid,
    pub label: String,
    pub area_centi: i64,
    /// Set when the person votes for someone else under a proxy.
    pub proxy_for: Option<String>,
    pub voted: bool,
}

#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct PollView {
    pub id: Uuid,
    pub community_id: Uuid,
    pub session_id: Option<Uuid>,
    pub agenda_item_id: Option<Uuid>,
    pub proposal_id: Option<Uuid>,
    pub question: String,
    pub description: String,
    pub kind: PollKind,
    pub options: Vec<PollOption>,
    pub max_choices: u32,
    pub secret: bool,
    pub electorate: ElectorateKind,
    /// The grids the electorate is limited to (empty: the whole community).
    pub grid_ids: Vec<Uuid>,
    pub rule: Rule,
    pub show_tally: bool,
    pub status: PollStatus,
    pub opens_at: Option<DateTime<Utc>>,
    pub closes_at: Option<DateTime<Utc>>,
    pub opened_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    /// The frozen electorate's size, once open.
    pub electorate_size: Option<Weight>,
    /// The register version the electorate was frozen from, once open (electorates of
    /// residents, households and owners); `GET /communities/{id}/register?seq=` reads it back.
    pub register_seq: Option<i64>,
    /// Who has taken part so far (counts only).
    pub participation: Option<Weight>,
    /// The running tally, while open, when the poll shows it.
    pub tally: Option<Vec<OptionCount>>,
    /// The result, once closed.
    pub result: Option<Outcome>,
    /// A passed poll awaits its resolution.
    pub passed: Option<bool>,
    /// What the signed-in person may vote for (empty when signed out).
    pub my_voters: Vec<MyVoter>,
}

#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
#[oai(deny_unknown_fields)]
pub struct CastBallotRequest {
    /// Option ids: one for yes/no (`yes`, `no` or `abstain`) and single polls; up to
    /// `max_choices` for multiple; in order of preference for ranked. Empty abstains (all
    /// kinds but yes/no).
    #[oai(validator(max_items = 20))]
    pub choices: Vec<Text>,
    /// Which entity to vote for, when the person may vote for more than one (as a proxy).
    pub voter_id: Option<Uuid>,
}

/// The answer to a ballot: a receipt that reveals nothing about the choice.
#[derive(Object, Debug, Clone, Serialize, Deserialize)]
#[oai(skip_serializing_if_is_none)]
pub struct BallotReceipt {
    pub poll_id: Uuid,
    pub voter_id: Uuid,
    pub receipt: String,
    pub via: String,
    /// The choices, for open (named) polls; never for secret ones.
    pub choices: Option<Vec<String>>,
}

#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct MyBallot {
    pub voter_id: Uuid,
    pub voted: bool,
    pub via: Option<BallotVia>,
    /// For open polls only.
    pub choices: Option<Vec<String>>,
    /// For open polls only (a secret ballot's receipt is shown once, when cast).
    pub receipt: Option<String>,
}

#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct ReceiptList {
    pub poll_id: Uuid,
    pub receipts: Vec<String>,
}

/// One voting entity of a closed open-ballot poll, with how it voted.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct VoterRecord {
    pub label: String,
    pub area_centi: i64,
    pub voted: bool,
    pub via: Option<BallotVia>,
    pub choices: Option<Vec<String>>,
}

#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
#[oai(deny_unknown_fields)]
pub struct CancelPollRequest {
    #[oai(validator(max_length = 2000))]
    pub reason: Words,
}

#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
#[oai(deny_unknown_fields)]
pub struct CreateProxyRequest {
    /// The person who will vote on the owner's behalf.
    #[oai(validator(max_length = 254))]
    pub proxy_email: Words,
    /// Reference of the signed paper authorisation (委托书).
    #[oai(validator(max_length = 120))]
    pub reference: Words,
}

#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct ProxyView {
    pub id: Uuid,
    pub poll_id: Option<Uuid>,
    pub session_id: Option<Uuid>,
    pub grantor_name: String,
    pub proxy_name: String,
    pub reference: String,
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
}

#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
#[oai(deny_unknown_fields)]
pub struct RecordAssistedBallotRequest {
    /// The voting entity (from the poll's electorate), for voters without an account.
    pub voter_id: Option<Uuid>,
    /// Or the voter's email.
    #[oai(validator(max_length = 254))]
    pub voter_email: Option<Text>,
    /// Reference of the paper ballot or record.
    #[oai(validator(max_length = 120))]
    pub paper_reference: Words,
    #[oai(validator(max_items = 20))]
    pub choices: Vec<Text>,
}

#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct AssistedBallotView {
    pub id: Uuid,
    pub poll_id: Uuid,
    pub voter_id: Uuid,
    pub voter_label: String,
    pub paper_reference: String,
    /// Shown to those who confirm it against the paper, until it is counted.
    pub choices: Option<Vec<String>>,
    /// pending, counted, duplicate, superseded or rejected.
    pub status: String,
    /// Why it was not counted (the voter had already voted online).
    pub flag: Option<String>,
    pub recorded_by: Uuid,
    pub confirmed_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
#[oai(deny_unknown_fields)]
pub struct RejectAssistedRequest {
    #[oai(validator(max_length = 2000))]
    pub reason: Words,
}

/// An electorate entry for the assisted-ballot form.
#[derive(Object, Debug, Clone)]
#[oai(skip_serializing_if_is_none)]
pub struct ElectorEntry {
    pub voter_id: Uuid,
    pub label: String,
    pub area_centi: i64,
    pub voted: bool,
}

/// The electorate as stored with the poll.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct ElectorateSpec {
    pub kind: ElectorateKind,
    #[serde(default)]
    pub grid_ids: Vec<Uuid>,
}
