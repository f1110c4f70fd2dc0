//! The one source of "now": UTC, truncated to microseconds so that a time read back from
//! PostgreSQL (microsecond precision) equals the time that was written and hashed.

use chrono::{DateTime, Utc};

pub fn now() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now)
}
