use chrono::{DateTime, SecondsFormat, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, Set, TryIntoModel,
};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::clock;
use crate::entities::{audit_entry, audit_head};

pub const AUDIT_SHARDS: i32 = 16;
const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One state change to record.
pub struct Change<'a> {
    pub actor: Option<Uuid>,
    pub action: &'a str,
    pub object_type: &'a str,
    pub object_id: String,
    pub summary: serde_json::Value,
}

pub fn shard_of(object_type: &str, object_id: &str) -> i32 {
    let digest = Sha256::digest(format!("{object_type}:{object_id}").as_bytes());
    i32::from(digest[0]) % AUDIT_SHARDS
}

#[allow(clippy::too_many_arguments)]
fn entry_hash(
    prev_hash: &str,
    shard: i32,
    seq: i64,
    id: Uuid,
    actor: Option<Uuid>,
    action: &str,
    object_type: &str,
    object_id: &str,
    summary: &str,
    created_at: DateTime<Utc>,
) -> String {
    let mut h = Sha256::new();
    // Length-prefix every field so that no two different entries share an encoding.
    let fields: [String; 10] = [
        prev_hash.to_string(),
        shard.to_string(),
        seq.to_string(),
        id.to_string(),
        actor.map(|a| a.to_string()).unwrap_or_default(),
        action.to_string(),
        object_type.to_string(),
        object_id.to_string(),
        summary.to_string(),
        created_at.to_rfc3339_opts(SecondsFormat::Micros, true),
    ];
    for field in fields {
        h.update((field.len() as u64).to_be_bytes());
        h.update(field.as_bytes());
    }
    hex::encode(h.finalize())
}

/// Appends an entry inside the caller's transaction, so the entry exists exactly when the
/// change it describes does.
pub async fn record<C: ConnectionTrait>(txn: &C, change: Change<'_>) -> Result<(), DbErr> {
    let shard = shard_of(change.object_type, &change.object_id);
    let head = advance_head(txn, shard, 1).await?;
    let id = Uuid::now_v7();
    let created_at = clock::now();
    let summary = change.summary.to_string();
    let hash = entry_hash(
        &head.hash,
        shard,
        head.seq,
        id,
        change.actor,
        change.action,
        change.object_type,
        &change.object_id,
        &summary,
        created_at,
    );
    audit_entry::ActiveModel {
        id: Set(id),
        shard: Set(shard),
        seq: Set(head.seq),
        actor_id: Set(change.actor),
        action: Set(change.action.to_string()),
        object_type: Set(change.object_type.to_string()),
        object_id: Set(change.object_id),
        summary: Set(summary),
        created_at: Set(created_at),
        prev_hash: Set(head.hash.clone()),
        hash: Set(hash.clone()),
    }
    .insert(txn)
    .await?;
    set_head_hash(txn, shard, hash).await
}

/// Appends many entries in one go, all to one chain (the chain of the first change): the head
/// is locked and moved once for the whole batch, so a batch costs a few statements rather than
/// four per entry. Chains are only a way to spread appends; any entry may live in any chain.
pub async fn record_many<C: ConnectionTrait>(
    txn: &C,
    changes: Vec<Change<'_>>,
) -> Result<(), DbErr> {
    let Some(first) = changes.first() else {
        return Ok(());
    };
    let by_shard = [(shard_of(first.object_type, &first.object_id), changes)];
    for (shard, changes) in by_shard {
        let k = changes.len() as i64;
        let head = advance_head(txn, shard, k).await?;
        let mut seq = head.seq - k;
        let mut prev = head.hash;
        let created_at = clock::now();
        let mut rows = Vec::with_capacity(changes.len());
        for change in changes {
            seq += 1;
            let id = Uuid::now_v7();
            let summary = change.summary.to_string();
            let hash = entry_hash(
                &prev,
                shard,
                seq,
                id,
                change.actor,
                change.action,
                change.object_type,
                &change.object_id,
                &summary,
                created_at,
            );
            rows.push(audit_entry::ActiveModel {
                id: Set(id),
                shard: Set(shard),
                seq: Set(seq),
                actor_id: Set(change.actor),
                action: Set(change.action.to_string()),
                object_type: Set(change.object_type.to_string()),
                object_id: Set(change.object_id),
                summary: Set(summary),
                created_at: Set(created_at),
                prev_hash: Set(prev.clone()),
                hash: Set(hash.clone()),
            });
            prev = hash;
        }
        insert_entries(txn, rows).await?;
        set_head_hash(txn, shard, prev).await?;
    }
    Ok(())
}

/// Moves a chain's head on by `k` entries and returns it as moved: the entries to append are
/// numbered up to its `seq` and link from its `hash`. Bumping the sequence first takes the head
/// row's write lock (PostgreSQL) before the previous hash is read, in the same statement, so two
/// transactions can never both extend the same link.
async fn advance_head<C: ConnectionTrait>(
    txn: &C,
    shard: i32,
    k: i64,
) -> Result<audit_head::Model, DbErr> {
    move_head(txn, shard, k)
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| DbErr::RecordNotFound(format!("audit head {shard}")))
}

async fn move_head<C: ConnectionTrait>(
    txn: &C,
    shard: i32,
    k: i64,
) -> Result<Vec<audit_head::Model>, DbErr> {
    audit_head::Entity::update_many()
        .col_expr(
            audit_head::Column::Seq,
            Expr::col(audit_head::Column::Seq).add(k),
        )
        .filter(audit_head::Column::Shard.eq(shard))
        .exec_with_returning(txn)
        .await
}

async fn set_head_hash<C: ConnectionTrait>(txn: &C, shard: i32, hash: String) -> Result<(), DbErr> {
    audit_head::Entity::update_many()
        .col_expr(audit_head::Column::Hash, Expr::value(hash))
        .filter(audit_head::Column::Shard.eq(shard))
        .exec(txn)
        .await?;
    Ok(())
}

/// Runs each statement of `record_many` once in a form that changes nothing (a chain that does
/// not exist, no entries), for a connection about to append in bulk: PostgreSQL prepares a
/// statement, and reads the catalog for its tables, the first time a connection runs it.
pub async fn prepare<C: ConnectionTrait>(txn: &C) -> Result<(), DbErr> {
    let none = -1;
    move_head(txn, none, 0).await?;
    insert_entries(txn, Vec::new()).await?;
    set_head_hash(txn, none, String::new()).await
}

/// Inserts a batch of entries. On PostgreSQL in one statement whose text does not depend on
/// the batch's size (each column an array, unnested), so that the server prepares and plans it
/// once per connection, not once per batch size; elsewhere in statements of up to 200 rows.
async fn insert_entries<C: ConnectionTrait>(
    txn: &C,
    rows: Vec<audit_entry::ActiveModel>,
) -> Result<(), DbErr> {
    if txn.get_database_backend() != sea_orm::DbBackend::Postgres {
        for chunk in rows.chunks(200) {
            audit_entry::Entity::insert_many(chunk.to_vec())
                .exec(txn)
                .await?;
        }
        return Ok(());
    }
    let mut columns = EntryColumns::default();
    for row in rows {
        let r = row.try_into_model()?;
        columns.id.push(r.id);
        columns.shard.push(r.shard);
        columns.seq.push(r.seq);
        // Arrays bind without nulls: a nil id stands for none and becomes NULL again below.
        columns.actor_id.push(r.actor_id.unwrap_or(Uuid::nil()));
        columns.action.push(r.action);
        columns.object_type.push(r.object_type);
        columns.object_id.push(r.object_id);
        columns.summary.push(r.summary);
        columns.created_at.push(r.created_at);
        columns.prev_hash.push(r.prev_hash);
        columns.hash.push(r.hash);
    }
    let c = columns;
    txn.execute_raw(sea_orm::Statement::from_sql_and_values(
        sea_orm::DbBackend::Postgres,
        "INSERT INTO audit_entries \
         (id, shard, seq, actor_id, action, object_type, object_id, summary, created_at, \
          prev_hash, hash) \
         SELECT id, shard, seq, NULLIF(actor_id, '00000000-0000-0000-0000-000000000000'::uuid), \
                action, object_type, object_id, summary, created_at, prev_hash, hash \
         FROM UNNEST($1::uuid[], $2::int[], $3::bigint[], $4::uuid[], $5::text[], $6::text[], \
                     $7::text[], $8::text[], $9::timestamptz[], $10::text[], $11::text[]) \
              AS e(id, shard, seq, actor_id, action, object_type, object_id, summary, \
                   created_at, prev_hash, hash)",
        [
            c.id.into(),
            c.shard.into(),
            c.seq.into(),
            c.actor_id.into(),
            c.action.into(),
            c.object_type.into(),
            c.object_id.into(),
            c.summary.into(),
            c.created_at.into(),
            c.prev_hash.into(),
            c.hash.into(),
        ],
    ))
    .await?;
    Ok(())
}

/// Audit entries column by column, for `insert_entries`.
#[derive(Default)]
struct EntryColumns {
    id: Vec<Uuid>,
    shard: Vec<i32>,
    seq: Vec<i64>,
    actor_id: Vec<Uuid>,
    action: Vec<String>,
    object_type: Vec<String>,
    object_id: Vec<String>,
    summary: Vec<String>,
    created_at: Vec<DateTime<Utc>>,
    prev_hash: Vec<String>,
    hash: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct BrokenLink {
    pub shard: i32,
    pub seq: i64,
    pub entry_id: Option<Uuid>,
    pub created_at: Option<DateTime<Utc>>,
    pub reason: String,
}

#[derive(Debug, Clone)]
pub struct Verification {
    pub entries_checked: u64,
    pub chains: i32,
    pub broken: Vec<BrokenLink>,
}

impl Verification {
    /// The earliest broken link over all chains.
    pub fn first_broken(&self) -> Option<&BrokenLink> {
        self.broken
            .iter()
            .min_by_key(|b| (b.created_at, b.shard, b.seq))
    }
}

/// Recomputes every chain from its genesis and reports the first broken link of each.
pub async fn verify<C: ConnectionTrait>(db: &C) -> Result<Verification, DbErr> {
    const PAGE: u64 = 1000;
    let mut result = Verification {
        entries_checked: 0,
        chains: AUDIT_SHARDS,
        broken: Vec::new(),
    };
    for shard in 0..AUDIT_SHARDS {
        let head = audit_head::Entity::find_by_id(shard).one(db).await?;
        let mut expected_seq = 1i64;
        let mut prev = GENESIS.to_string();
        let mut last_seen: Option<DateTime<Utc>> = None;
        let mut broken: Option<BrokenLink> = None;
        let mut pages = audit_entry::Entity::find()
            .filter(audit_entry::Column::Shard.eq(shard))
            .order_by_asc(audit_entry::Column::Seq)
            .paginate(db, PAGE);
        'chain: while let Some(entries) = pages.fetch_and_next().await? {
            for e in entries {
                result.entries_checked += 1;
                let reason = if e.seq != expected_seq {
                    Some(format!("expected entry {expected_seq}, found {}", e.seq))
                } else if e.prev_hash != prev {
                    Some("link to the previous entry does not match".to_string())
                } else {
                    let recomputed = entry_hash(
                        &e.prev_hash,
                        e.shard,
                        e.seq,
                        e.id,
                        e.actor_id,
                        &e.action,
                        &e.object_type,
                        &e.object_id,
                        &e.summary,
                        e.created_at,
                    );
                    (recomputed != e.hash)
                        .then(|| "entry content does not match its hash".to_string())
                };
                if let Some(reason) = reason {
                    broken = Some(BrokenLink {
                        shard,
                        seq: expected_seq,
                        entry_id: Some(e.id),
                        created_at: Some(e.created_at),
                        reason,
                    });
                    break 'chain;
                }
                prev = e.hash;
                last_seen = Some(e.created_at);
                expected_seq += 1;
            }
        }
        if broken.is_none() {
            let (head_seq, head_hash) =
                head.map(|h| (h.seq, h.hash)).unwrap_or((-1, String::new()));
            if head_seq != expected_seq - 1 || head_hash != prev {
                broken = Some(BrokenLink {
                    shard,
                    seq: expected_seq,
                    entry_id: None,
                    created_at: last_seen,
                    reason: format!(
                        "chain ends at entry {} but its head records entry {head_seq}: entries are missing",
                        expected_seq - 1
                    ),
                });
            }
        }
        result.broken.extend(broken);
    }
    Ok(result)
}

/// Entries about one object, newest first.
pub async fn entries_for<C: ConnectionTrait>(
    db: &C,
    object_type: &str,
    object_id: &str,
    limit: u64,
    offset: u64,
) -> Result<Vec<audit_entry::Model>, DbErr> {
    audit_entry::Entity::find()
        .filter(audit_entry::Column::ObjectType.eq(object_type))
        .filter(audit_entry::Column::ObjectId.eq(object_id))
        .order_by_desc(audit_entry::Column::CreatedAt)
        .order_by_desc(audit_entry::Column::Seq)
        .limit(limit)
        .offset(offset)
        .all(db)
        .await
}
