use crate::text::Text;
use chrono::{DateTime, Utc};
use poem_openapi::Object;
use uuid::Uuid;

use super::catalogue::{Category, Mode};

#[derive(Object, Debug, Clone, serde::Serialize)]
#[oai(skip_serializing_if_is_none)]
pub struct NotificationView {
    pub id: Uuid,
    /// The catalogue key, e.g. `poll_result`.
    pub kind: String,
    pub category: String,
    pub title: String,
    pub body: String,
    pub link: Option<String>,
    pub read: bool,
    pub created_at: DateTime<Utc>,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct FeedPage {
    pub unread: i64,
    pub items: Vec<NotificationView>,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(deny_unknown_fields)]
pub struct ReadRequest {
    #[oai(default, validator(max_items = 500))]
    pub ids: Vec<Uuid>,
    /// Mark everything read.
    #[oai(default)]
    pub all: bool,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct CatalogueEntryView {
    pub key: String,
    pub category: Category,
    pub audience: String,
    /// False for security messages: they are always sent.
    pub mutable: bool,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct CategoryPreference {
    pub category: Category,
    pub mode: Mode,
    /// What the person would get without choosing.
    pub default_mode: Mode,
    pub mutable: bool,
    /// The catalogue keys in this category.
    pub kinds: Vec<String>,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct PreferencesView {
    pub categories: Vec<CategoryPreference>,
    /// When the daily digest is sent, Asia/Shanghai, `HH:MM`.
    pub digest_time: String,
    /// The address failed permanently; mail to it is held until the person fixes it.
    pub email_suppressed: bool,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(deny_unknown_fields)]
pub struct CategoryChoice {
    pub category: Category,
    pub mode: Mode,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
#[oai(deny_unknown_fields)]
pub struct PreferencesRequest {
    #[oai(default, validator(max_items = 20))]
    pub categories: Vec<CategoryChoice>,
    /// `HH:MM`, Asia/Shanghai.
    #[oai(validator(pattern = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"))]
    pub digest_time: Option<Text>,
}

/// The body RFC 8058 prescribes for a one-click unsubscribe: `List-Unsubscribe=One-Click`,
/// form-encoded. Without it a POST is not an unsubscribe (a link scanner's request, say).
#[derive(Object, serde::Deserialize, Debug)]
pub struct OneClick {
    #[oai(rename = "List-Unsubscribe")]
    #[serde(rename = "List-Unsubscribe")]
    pub list_unsubscribe: String,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct UnsubscribeView {
    /// The category the link turns off, or `digests` for every category sent by digest.
    pub category: String,
    /// The address, partly hidden.
    pub email_hint: String,
    /// True once turned off.
    pub done: bool,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct OutboxEntry {
    pub id: Uuid,
    pub to_address: String,
    pub subject: String,
    pub category: Option<String>,
    pub status: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub next_attempt_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

#[derive(Object, Debug)]
#[oai(skip_serializing_if_is_none)]
pub struct OutboxPage {
    pub total: u64,
    /// Messages by status across the whole outbox.
    pub pending: u64,
    pub sent: u64,
    pub dead: u64,
    pub suppressed_addresses: u64,
    pub items: Vec<OutboxEntry>,
}
