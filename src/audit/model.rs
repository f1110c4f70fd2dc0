use chrono::{DateTime, Utc};
use poem_openapi::Object;
use uuid::Uuid;

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct BrokenLinkView {
    /// Which of the independent chains is broken.
    pub chain: i32,
    /// Position in that chain of the first entry that fails.
    pub position: i64,
    pub entry_id: Option<Uuid>,
    pub reason: String,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct VerificationReport {
    /// True when every chain recomputes to its recorded head.
    pub intact: bool,
    pub chains: i32,
    pub entries_checked: u64,
    /// The earliest broken link over all chains.
    pub first_broken: Option<BrokenLinkView>,
    /// The first broken link of each broken chain.
    pub broken: Vec<BrokenLinkView>,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct AuditEntryView {
    pub id: Uuid,
    pub at: DateTime<Utc>,
    /// Who did it (absent for the system or a deleted account's anonymous id).
    pub actor_id: Option<Uuid>,
    pub action: String,
    pub object_type: String,
    pub object_id: String,
    pub summary: serde_json::Value,
    pub hash: String,
}

/// The head of the record as published on one day: copy it anywhere outside the platform, and
/// `yishi audit verify --against "<head>"` later tells whether the record before it was
/// rewritten.
#[derive(Object, Debug)]
pub struct PublishedHeadView {
    /// The local day (`YYYY-MM-DD`) it was published for.
    pub day: String,
    /// `yishi-audit-head/1 <day> <position of each chain> <digest>`.
    pub head: String,
    /// How many entries the record held then.
    pub entries: i64,
    pub published_at: DateTime<Utc>,
}
