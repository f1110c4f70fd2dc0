//! The one source of "now": UTC, truncated to microseconds so that a time read back from
//! PostgreSQL (microsecond precision) equals the time that was written and hashed.

use chrono::{DateTime, Utc};

pub fn now() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now)
}

/// The communities' local offset: Asia/Shanghai, UTC+8 all year (no daylight saving).
pub const LOCAL_OFFSET_HOURS: i64 = 8;

/// The local calendar day of an instant.
pub fn local_day(at: DateTime<Utc>) -> chrono::NaiveDate {
    (at + chrono::Duration::hours(LOCAL_OFFSET_HOURS)).date_naive()
}
