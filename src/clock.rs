//! The one source of "now": UTC, truncated to microseconds so that a time read back from
//! PostgreSQL (microsecond precision) equals the time that was written and hashed.

use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Utc};

/// How far this process's "now" is set from the real time, in microseconds: always zero in a
/// serving process; only the demo loader moves it (see `travel`).
static SHIFT_MICROS: AtomicI64 = AtomicI64::new(0);

pub fn now() -> DateTime<Utc> {
    let real = Utc::now();
    let micros = real.timestamp_micros() + SHIFT_MICROS.load(Ordering::Relaxed);
    DateTime::from_timestamp_micros(micros).unwrap_or(real)
}

/// Sets this process's "now" to `at` and lets it run on from there; `travel_back_home` ends it.
/// Only `yishi demo` uses it, to tell stories that took weeks (a tender published, opened,
/// awarded, a contract signed) through the real services, each step on its own date, so every
/// date the services write is in order. Never called while serving.
pub fn travel_to(at: DateTime<Utc>) {
    let shift = at.timestamp_micros() - Utc::now().timestamp_micros();
    SHIFT_MICROS.store(shift, Ordering::Relaxed);
}

/// "now" is the real time again.
pub fn travel_back_home() {
    SHIFT_MICROS.store(0, Ordering::Relaxed);
}

/// The communities' local offset: Asia/Shanghai, UTC+8 all year (no daylight saving).
pub const LOCAL_OFFSET_HOURS: i64 = 8;

/// The local calendar day of an instant.
pub fn local_day(at: DateTime<Utc>) -> chrono::NaiveDate {
    (at + chrono::Duration::hours(LOCAL_OFFSET_HOURS)).date_naive()
}
