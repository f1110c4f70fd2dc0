//! The counts in PostgreSQL's `rate_windows` table, one row per hashed key, shared by every
//! process on the database. A fixed window is one upsert; a pace, which is rarer (sign-in),
//! locks its row and takes the same step as memory does.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement, TransactionTrait, Value,
};
use sha2::{Digest, Sha256};

use super::RetryAfter;
use super::rules::{self, Pace, Window};

/// What is stored for a key: its SHA-256, so the table names no email and no address.
fn stored(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

fn statement(sql: &str, values: Vec<Value>) -> Statement {
    Statement::from_sql_and_values(DbBackend::Postgres, sql, values)
}

fn seconds(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

/// A fixed window in one statement. A refused event is counted to `limit + 1` at most, so that
/// giving one back (`give_back`) frees exactly one place.
pub async fn take(
    conn: &DatabaseConnection,
    key: &str,
    limit: u32,
    window: Duration,
    now: DateTime<Utc>,
) -> Result<Result<(), RetryAfter>, DbErr> {
    let row = conn
        .query_one_raw(statement(
            "INSERT INTO rate_windows (key, started_at, used) VALUES ($1, $2, 1) \
             ON CONFLICT (key) DO UPDATE SET \
               started_at = CASE WHEN rate_windows.started_at <= $3 THEN $2 \
                            ELSE rate_windows.started_at END, \
               used = CASE WHEN rate_windows.started_at <= $3 THEN 1 \
                      ELSE LEAST(rate_windows.used + 1, $4) END \
             RETURNING used, started_at",
            vec![
                stored(key).into(),
                now.into(),
                (now - seconds(window)).into(),
                (i64::from(limit) + 1).into(),
            ],
        ))
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("rate window".into()))?;
    let used: i64 = row.try_get_by_index(0)?;
    let started_at: DateTime<Utc> = row.try_get_by_index(1)?;
    if used <= i64::from(limit) {
        return Ok(Ok(()));
    }
    let ends = started_at + seconds(window);
    let micros = (ends - now).num_microseconds().unwrap_or(0).max(0) as u64;
    Ok(Err(micros.div_ceil(1_000_000).max(1)))
}

pub async fn give_back(conn: &DatabaseConnection, key: &str, limit: u32) -> Result<(), DbErr> {
    conn.execute_raw(statement(
        "UPDATE rate_windows SET used = GREATEST(LEAST(used, $2) - 1, 0) WHERE key = $1",
        vec![stored(key).into(), i64::from(limit).into()],
    ))
    .await
    .map(drop)
}

pub async fn clear(conn: &DatabaseConnection, key: &str) -> Result<(), DbErr> {
    conn.execute_raw(statement(
        "DELETE FROM rate_windows WHERE key = $1",
        vec![stored(key).into()],
    ))
    .await
    .map(drop)
}

/// A pace: the row is locked while the step is taken, so attempts in several processes at
/// once are counted one after another.
pub async fn pace(
    conn: &DatabaseConnection,
    key: &str,
    pace: &Pace,
    now: DateTime<Utc>,
) -> Result<Result<u32, RetryAfter>, DbErr> {
    let key = stored(key);
    let txn = conn.begin().await?;
    txn.execute_raw(statement(
        "INSERT INTO rate_windows (key, started_at, used) VALUES ($1, $2, 0) \
         ON CONFLICT (key) DO NOTHING",
        vec![key.clone().into(), now.into()],
    ))
    .await?;
    let row = txn
        .query_one_raw(statement(
            "SELECT started_at, used, blocked_until FROM rate_windows WHERE key = $1 FOR UPDATE",
            vec![key.clone().into()],
        ))
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("rate window".into()))?;
    let used: i64 = row.try_get_by_index(1)?;
    let before = Window {
        started_at: row.try_get_by_index(0)?,
        used: u32::try_from(used).unwrap_or(u32::MAX),
        blocked_until: row.try_get_by_index(2)?,
    };
    let (after, answer) = rules::pace(Some(before), now, pace);
    txn.execute_raw(statement(
        "UPDATE rate_windows SET started_at = $2, used = $3, blocked_until = $4 WHERE key = $1",
        vec![
            key.into(),
            after.started_at.into(),
            i64::from(after.used).into(),
            after.blocked_until.into(),
        ],
    ))
    .await?;
    txn.commit().await?;
    Ok(answer)
}

pub async fn forget_before(conn: &DatabaseConnection, before: DateTime<Utc>) -> Result<u64, DbErr> {
    let done = conn
        .execute_raw(statement(
            "DELETE FROM rate_windows WHERE started_at < $1 \
             AND (blocked_until IS NULL OR blocked_until < $1)",
            vec![before.into()],
        ))
        .await?;
    Ok(done.rows_affected())
}
