//! A session's event log: what happened in its room, appended in the transaction of the
//! change and read back by the live room (`realtime`) and the minutes.

use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use serde::Serialize;
use uuid::Uuid;

use crate::clock;
use crate::entities::{session, session_event};

/// One room event as clients receive it.
#[derive(Debug, Clone, Serialize)]
pub struct RoomEvent {
    #[serde(rename = "type")]
    pub frame: &'static str,
    pub seq: i64,
    pub kind: String,
    pub actor_id: Option<Uuid>,
    pub payload: serde_json::Value,
    pub at: chrono::DateTime<chrono::Utc>,
}

impl RoomEvent {
    pub fn from_model(e: session_event::Model) -> Self {
        Self {
            frame: "event",
            seq: e.seq,
            kind: e.kind,
            actor_id: e.actor_id,
            payload: serde_json::from_str(&e.payload).unwrap_or(serde_json::Value::Null),
            at: e.created_at,
        }
    }
}

/// Persists an event with the next sequence number of its session, inside the caller's
/// transaction.
pub async fn append<C: ConnectionTrait>(
    txn: &C,
    session_id: Uuid,
    kind: &str,
    actor_id: Option<Uuid>,
    payload: serde_json::Value,
) -> Result<RoomEvent, DbErr> {
    let seq = reserve(txn, session_id, 1).await?;
    let model = new_event(session_id, seq, kind, actor_id, &payload)
        .insert(txn)
        .await?;
    announce(txn, session_id, seq).await?;
    Ok(RoomEvent::from_model(model))
}

/// Takes the session's next `n` sequence numbers and returns the last of them. The increment
/// locks the counter row until the transaction ends, so numbers have no gaps.
pub async fn reserve<C: ConnectionTrait>(txn: &C, session_id: Uuid, n: i64) -> Result<i64, DbErr> {
    session::Entity::update_many()
        .col_expr(
            session::Column::EventSeq,
            Expr::col(session::Column::EventSeq).add(n),
        )
        .filter(session::Column::Id.eq(session_id))
        .exec_with_returning(txn)
        .await?
        .into_iter()
        .next()
        .map(|s| s.event_seq)
        .ok_or_else(|| DbErr::RecordNotFound("session".into()))
}

/// The row of a new event.
pub fn new_event(
    session_id: Uuid,
    seq: i64,
    kind: &str,
    actor_id: Option<Uuid>,
    payload: &serde_json::Value,
) -> session_event::ActiveModel {
    session_event::ActiveModel {
        id: Set(Uuid::new_v4()),
        session_id: Set(session_id),
        seq: Set(seq),
        kind: Set(kind.into()),
        actor_id: Set(actor_id),
        payload: Set(payload.to_string()),
        created_at: Set(clock::now()),
    }
}

/// On PostgreSQL, tells every listening process, when the transaction commits, that the
/// session's events up to `seq` are there to read.
pub async fn announce<C: ConnectionTrait>(
    txn: &C,
    session_id: Uuid,
    seq: i64,
) -> Result<(), DbErr> {
    if txn.get_database_backend() == sea_orm::DbBackend::Postgres {
        txn.execute_raw(sea_orm::Statement::from_sql_and_values(
            sea_orm::DbBackend::Postgres,
            "SELECT pg_notify($1, $2)",
            [FANOUT_CHANNEL.into(), format!("{session_id}:{seq}").into()],
        ))
        .await?;
    }
    Ok(())
}

/// The PostgreSQL channel on which processes announce new room events to each other.
pub const FANOUT_CHANNEL: &str = "yishi_room_events";

/// Events after `after`, in order, at most `limit`.
pub async fn after<C: ConnectionTrait>(
    db: &C,
    session_id: Uuid,
    after: i64,
    limit: u64,
) -> Result<Vec<RoomEvent>, DbErr> {
    Ok(session_event::Entity::find()
        .filter(session_event::Column::SessionId.eq(session_id))
        .filter(session_event::Column::Seq.gt(after))
        .order_by_asc(session_event::Column::Seq)
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(RoomEvent::from_model)
        .collect())
}
