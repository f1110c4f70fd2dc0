//! Group commit for ballots. Casting requests hand their ballot to this process's writer,
//! which takes whatever has queued up (up to a few hundred) and writes it in one transaction:
//! one conditional update per voter (so each voter still counts once, decided by the
//! database), one insert for the ballots, one append per chain of the tamper-evident record,
//! one commit. No ballot waits behind another ballot's commit; a burst shares commits.
//! If a batch fails, its ballots are retried one by one, so one bad ballot fails alone
//! (`crate::group_commit`).

use std::collections::HashMap;
use std::sync::Mutex;

use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QuerySelect, Set, TryIntoModel,
};
use serde_json::json;
use uuid::Uuid;

use crate::audit::{self, Change};
use crate::clock;
use crate::entities::{ballot, ballot_request, poll_voter};
use crate::group_commit::GroupCommit;
use crate::memo::Memo;
use crate::state::AppState;

/// Most ballots in one transaction.
const BATCH: usize = 256;

/// One ballot to write.
#[derive(Clone)]
pub struct Job {
    pub poll_id: Uuid,
    pub secret: bool,
    pub voter_id: Uuid,
    pub area_centi: i64,
    pub choices: Vec<String>,
    pub cast_by: Uuid,
    pub receipt: String,
    /// The idempotency record: the key's hash and the sealed answer.
    pub request: Option<(String, String)>,
}

#[derive(Clone, Debug)]
pub enum Written {
    Stored,
    /// The voter's slot was already taken.
    AlreadyVoted,
    /// A request with this key was answered before; its sealed answer.
    Replayed(String),
    /// The poll closed before this ballot could be written; nothing was stored.
    Closed,
}

/// On PostgreSQL, the transaction-scoped advisory lock that orders ballot batches (shared)
/// against the poll's close (exclusive). Nothing on SQLite, whose writes are serialised.
pub async fn poll_lock<C: ConnectionTrait>(
    txn: &C,
    poll_id: Uuid,
    exclusive: bool,
) -> Result<(), DbErr> {
    if txn.get_database_backend() != sea_orm::DbBackend::Postgres {
        return Ok(());
    }
    let key = i64::from_be_bytes(poll_id.as_bytes()[..8].try_into().expect("8 bytes"));
    let sql = if exclusive {
        "SELECT pg_advisory_xact_lock($1)"
    } else {
        "SELECT pg_advisory_xact_lock_shared($1)"
    };
    txn.execute_raw(sea_orm::Statement::from_sql_and_values(
        sea_orm::DbBackend::Postgres,
        sql,
        [key.into()],
    ))
    .await?;
    Ok(())
}

/// Open polls' rows, remembered for a second or two so that a burst of ballots does not read
/// the same poll for every ballot. Safe because an open poll's definition is frozen and the
/// writer itself checks, in its transaction, that the poll is still open.
///
/// And their electorates: who votes for which voting entity. An electorate is frozen in the
/// transaction that opens its poll and never changes after, so once a poll has been seen open it
/// is read whole, once, by the first ballot, and each ballot after finds its voter here instead of
/// looking it up. Kept five to ten minutes from that read (then read again if ballots still come),
/// forgotten when the poll closes in this process; a ballot for a poll closed by another process
/// is refused by the writer, which checks in its transaction.
pub struct OpenPolls {
    entries: Mutex<HashMap<Uuid, (crate::entities::poll::Model, std::time::Instant)>>,
    pub electorates: Memo<Electors>,
}

/// An open poll's electorate by person: the voting entity they vote for, and its floor area.
pub type Electors = HashMap<Uuid, Elector>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Elector {
    pub voter_id: Uuid,
    pub area_centi: i64,
}

impl Default for OpenPolls {
    fn default() -> Self {
        Self {
            entries: Mutex::default(),
            // An electorate of 10,000 is about half a megabyte; 64 of them is the most kept.
            electorates: Memo::bounded(std::time::Duration::from_secs(600), 64),
        }
    }
}

impl OpenPolls {
    const TTL: std::time::Duration = std::time::Duration::from_secs(2);

    pub fn get(&self, id: Uuid) -> Option<crate::entities::poll::Model> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries
            .get(&id)
            .filter(|(_, at)| at.elapsed() < Self::TTL)
            .map(|(p, _)| p.clone())
    }

    pub fn put(&self, p: crate::entities::poll::Model) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.retain(|_, (_, at)| at.elapsed() < Self::TTL);
        entries.insert(p.id, (p, std::time::Instant::now()));
    }

    pub fn forget(&self, id: Uuid) {
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id);
        self.electorates.forget(&id.to_string());
    }
}

/// Writes ballots in shared transactions.
pub type BallotWriter = GroupCommit<Job, Written>;

pub fn ballot_writer() -> BallotWriter {
    GroupCommit::new("ballot", BATCH, |state, jobs| Box::pin(write(state, jobs)))
        .prepare_with(|state| Box::pin(prepare(state)))
}

/// Runs each statement of a batch once in a form that changes nothing (no such poll, voter or
/// request, no rows), in a transaction rolled back, when the writer starts (a poll opens): on
/// PostgreSQL a connection prepares a statement, and reads the catalog for its tables, the
/// first time it runs it, which made the first batch of a burst take about 40 ms for one ballot
/// while the next ones queued behind it.
async fn prepare(state: &AppState) -> Result<(), DbErr> {
    if !on_postgres(&state.db.conn) {
        return Ok(());
    }
    let txn = state.db.write().await?;
    let (none, now) = (Uuid::nil(), clock::now());
    answered_requests(&*txn, vec![String::new()]).await?;
    poll_lock(&*txn, none, false).await?;
    still_open(&*txn, none, now).await?;
    take_slots(&*txn, &[(none, none)], false, now).await?;
    insert_ballots(&*txn, Vec::new()).await?;
    insert_requests(&*txn, Vec::new()).await?;
    audit::service::prepare(&*txn).await?;
    txn.rollback().await
}

enum Slot {
    Decided(Written),
    /// The same idempotency key as an earlier job of this batch.
    SameAs(usize),
    Pending,
}

async fn write(state: &AppState, jobs: &[Job]) -> Result<Vec<Written>, DbErr> {
    let txn = state.db.write().await?;
    let keys: Vec<String> = jobs
        .iter()
        .filter_map(|j| j.request.as_ref().map(|(k, _)| k.clone()))
        .collect();
    let answered = answered_requests(&*txn, keys).await?;
    let mut first_with_key: HashMap<&str, usize> = HashMap::new();
    let mut slots = Vec::with_capacity(jobs.len());
    for (i, j) in jobs.iter().enumerate() {
        let slot = match &j.request {
            Some((k, _)) if answered.contains_key(k) => {
                Slot::Decided(Written::Replayed(answered[k].clone()))
            }
            Some((k, _)) => match first_with_key.get(k.as_str()) {
                Some(&first) => Slot::SameAs(first),
                None => {
                    first_with_key.insert(k, i);
                    Slot::Pending
                }
            },
            None => Slot::Pending,
        };
        slots.push(slot);
    }
    let now = clock::now();
    // Take the participation slots: one conditional update per poll in the batch, returning
    // the voters whose slot this transaction won.
    let mut won: HashMap<Uuid, bool> = HashMap::new();
    let mut polls: HashMap<Uuid, Vec<usize>> = HashMap::new();
    for (i, j) in jobs.iter().enumerate() {
        if matches!(slots[i], Slot::Pending) {
            polls.entry(j.poll_id).or_default().push(i);
        }
    }
    for (poll_id, members) in polls {
        // The poll must still be open when its ballots are written. On PostgreSQL the shared
        // advisory lock makes a close (which takes it exclusively) wait for this batch, and
        // this batch wait for a close under way and then see it, so every acknowledged ballot
        // is in the count; on SQLite the write gate already orders the two. An advisory lock
        // rather than a row lock: it writes nothing, and does not queue behind the opening
        // notices that update the poll's row.
        poll_lock(&*txn, poll_id, false).await?;
        if !still_open(&*txn, poll_id, now).await? {
            for &i in &members {
                slots[i] = Slot::Decided(Written::Closed);
            }
            continue;
        }
        let secret = jobs[members[0]].secret;
        let voters: Vec<(Uuid, Uuid)> = members
            .iter()
            .map(|&i| (jobs[i].voter_id, jobs[i].cast_by))
            .collect();
        for id in take_slots(&*txn, &voters, secret, now).await? {
            won.insert(id, false);
        }
    }
    let mut ballots = Vec::new();
    let mut held = Vec::new();
    let mut requests = Vec::new();
    let mut changes = Vec::new();
    for (i, j) in jobs.iter().enumerate() {
        if !matches!(slots[i], Slot::Pending) {
            continue;
        }
        // The first job for a voter whose slot was won stores the ballot; any other job for
        // the same voter found it taken.
        match won.get_mut(&j.voter_id) {
            Some(used @ false) => *used = true,
            _ => {
                slots[i] = Slot::Decided(Written::AlreadyVoted);
                continue;
            }
        }
        slots[i] = Slot::Decided(Written::Stored);
        if j.secret {
            // Held sealed until the close, which writes every ballot of the poll at once.
            held.push(super::mixing::Hold {
                poll_id: j.poll_id,
                choice: serde_json::to_string(&j.choices).unwrap_or_default(),
                area_centi: j.area_centi,
                receipt: j.receipt.clone(),
            });
        } else {
            ballots.push(ballot::ActiveModel {
                id: Set(Uuid::new_v4()),
                poll_id: Set(j.poll_id),
                voter_id: Set(Some(j.voter_id)),
                choice: Set(serde_json::to_string(&j.choices).unwrap_or_default()),
                area_centi: Set(j.area_centi),
                receipt: Set(j.receipt.clone()),
                updated_at: Set(Some(now)),
            });
        }
        if let Some((key_hash, sealed)) = &j.request {
            requests.push(ballot_request::ActiveModel {
                id: Set(Uuid::now_v7()),
                poll_id: Set(j.poll_id),
                key_hash: Set(key_hash.clone()),
                sealed: Set(sealed.clone()),
                created_at: Set(now),
            });
        }
        // Participation, and for a secret poll never the choice.
        let summary = if j.secret {
            json!({ "poll_id": j.poll_id, "via": "online", "cast_by": j.cast_by })
        } else {
            json!({ "poll_id": j.poll_id, "via": "online", "cast_by": j.cast_by, "choices": j.choices })
        };
        changes.push(Change {
            actor: Some(j.cast_by),
            action: "ballot.cast",
            object_type: "poll_voter",
            object_id: j.voter_id.to_string(),
            summary,
        });
    }
    if !ballots.is_empty() {
        insert_ballots(&*txn, ballots).await?;
    }
    if !held.is_empty() {
        super::mixing::hold(&*txn, state.sealing.stored_key()?, held).await?;
    }
    if !requests.is_empty() {
        insert_requests(&*txn, requests).await?;
    }
    audit::service::record_many(&*txn, changes).await?;
    txn.commit().await?;
    let stored = slots
        .iter()
        .filter(|s| matches!(s, Slot::Decided(Written::Stored)))
        .count();
    state
        .metrics
        .ballots
        .fetch_add(stored as u64, std::sync::atomic::Ordering::Relaxed);
    let decided: Vec<Option<Written>> = slots
        .iter()
        .map(|s| match s {
            Slot::Decided(w) => Some(w.clone()),
            _ => None,
        })
        .collect();
    Ok(slots
        .iter()
        .map(|s| match s {
            Slot::Decided(w) => w.clone(),
            Slot::SameAs(first) => match (&decided[*first], &jobs[*first].request) {
                (Some(Written::Stored), Some((_, sealed))) => Written::Replayed(sealed.clone()),
                (Some(w), _) => w.clone(),
                (None, _) => Written::AlreadyVoted,
            },
            Slot::Pending => Written::AlreadyVoted,
        })
        .collect())
}

// On PostgreSQL the statements below pass each column as one array, so that their text does not
// depend on the batch's size: the server prepares and plans each once per connection, where
// statements with a value list per row were prepared again for nearly every batch (a round trip
// and a plan of a few hundred parameters each time). SQLite keeps its row lists, which it parses
// cheaply in-process.

fn on_postgres<C: ConnectionTrait>(txn: &C) -> bool {
    txn.get_database_backend() == sea_orm::DbBackend::Postgres
}

fn postgres(sql: &str, values: Vec<sea_orm::Value>) -> sea_orm::Statement {
    sea_orm::Statement::from_sql_and_values(sea_orm::DbBackend::Postgres, sql, values)
}

/// Whether the poll is open at `now`, read in the batch's transaction.
async fn still_open<C: ConnectionTrait>(
    txn: &C,
    poll_id: Uuid,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<bool, DbErr> {
    Ok(crate::entities::poll::Entity::find_by_id(poll_id)
        .filter(crate::entities::poll::Column::Status.eq("open"))
        .one(txn)
        .await?
        .is_some_and(|p| p.closes_at.is_none_or(|c| c > now)))
}

/// The sealed answers of requests already answered, by idempotency key hash.
async fn answered_requests<C: ConnectionTrait>(
    txn: &C,
    keys: Vec<String>,
) -> Result<HashMap<String, String>, DbErr> {
    if keys.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = if on_postgres(txn) {
        txn.query_all_raw(postgres(
            "SELECT key_hash, sealed FROM ballot_requests WHERE key_hash = ANY($1)",
            vec![keys.into()],
        ))
        .await?
        .iter()
        .map(|r| Ok((r.try_get("", "key_hash")?, r.try_get("", "sealed")?)))
        .collect::<Result<Vec<(String, String)>, DbErr>>()?
    } else {
        ballot_request::Entity::find()
            .select_only()
            .column(ballot_request::Column::KeyHash)
            .column(ballot_request::Column::Sealed)
            .filter(ballot_request::Column::KeyHash.is_in(keys))
            .into_tuple::<(String, String)>()
            .all(txn)
            .await?
    };
    Ok(rows.into_iter().collect())
}

/// Takes the participation slots of these voters (each with who casts for them) where still
/// free, in one conditional update; returns the voters whose slot this transaction won. A voter
/// given twice is taken once, for the first.
async fn take_slots<C: ConnectionTrait>(
    txn: &C,
    voters: &[(Uuid, Uuid)],
    secret: bool,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<Uuid>, DbErr> {
    let mut seen = std::collections::HashSet::new();
    let voters: Vec<(Uuid, Uuid)> = voters
        .iter()
        .filter(|(id, _)| seen.insert(*id))
        .copied()
        .collect();
    let rows = if on_postgres(txn) {
        let (ids, cast_by): (Vec<Uuid>, Vec<Uuid>) = voters.into_iter().unzip();
        txn.query_all_raw(postgres(
            "UPDATE poll_voters AS v SET voted = TRUE, voted_via = 'online', \
                    voted_at = CASE WHEN $1 THEN NULL ELSE $2::timestamptz END, \
                    cast_by = t.cast_by \
             FROM UNNEST($3::uuid[], $4::uuid[]) AS t(id, cast_by) \
             WHERE v.id = t.id AND NOT v.voted \
             RETURNING v.id",
            vec![secret.into(), now.into(), ids.into(), cast_by.into()],
        ))
        .await?
    } else {
        let mut cast_by = sea_orm::sea_query::CaseStatement::new();
        for &(id, by) in &voters {
            cast_by = cast_by.case(poll_voter::Column::Id.eq(id), Expr::val(by));
        }
        let ids: Vec<Uuid> = voters.iter().map(|&(id, _)| id).collect();
        let stmt = sea_orm::sea_query::Query::update()
            .table(poll_voter::Entity)
            .value(poll_voter::Column::Voted, true)
            .value(poll_voter::Column::VotedVia, "online")
            .value(poll_voter::Column::VotedAt, (!secret).then_some(now))
            .value(poll_voter::Column::CastBy, cast_by)
            .and_where(poll_voter::Column::Id.is_in(ids))
            .and_where(poll_voter::Column::Voted.eq(false))
            .returning_col(poll_voter::Column::Id)
            .to_owned();
        txn.query_all(&stmt).await?
    };
    rows.iter().map(|r| r.try_get::<Uuid>("", "id")).collect()
}

async fn insert_ballots<C: ConnectionTrait>(
    txn: &C,
    ballots: Vec<ballot::ActiveModel>,
) -> Result<(), DbErr> {
    if !on_postgres(txn) {
        for chunk in ballots.chunks(200) {
            ballot::Entity::insert_many(chunk.to_vec())
                .exec(txn)
                .await?;
        }
        return Ok(());
    }
    let n = ballots.len();
    let (mut id, mut poll_id, mut voter_id, mut named) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let (mut choice, mut area_centi, mut receipt, mut updated_at) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let now = clock::now();
    for b in ballots {
        let b = b.try_into_model()?;
        id.push(b.id);
        poll_id.push(b.poll_id);
        // Arrays bind without nulls: a secret ballot's voter and time are left out below.
        named.push(b.voter_id.is_some());
        voter_id.push(b.voter_id.unwrap_or(Uuid::nil()));
        choice.push(b.choice);
        area_centi.push(b.area_centi);
        receipt.push(b.receipt);
        updated_at.push(b.updated_at.unwrap_or(now));
    }
    txn.execute_raw(postgres(
        "INSERT INTO ballots (id, poll_id, voter_id, choice, area_centi, receipt, updated_at) \
         SELECT id, poll_id, CASE WHEN named THEN voter_id END, choice, area_centi, receipt, \
                CASE WHEN named THEN updated_at END \
         FROM UNNEST($1::uuid[], $2::uuid[], $3::bool[], $4::uuid[], $5::text[], $6::bigint[], \
                     $7::text[], $8::timestamptz[]) \
              AS b(id, poll_id, named, voter_id, choice, area_centi, receipt, updated_at)",
        vec![
            id.into(),
            poll_id.into(),
            named.into(),
            voter_id.into(),
            choice.into(),
            area_centi.into(),
            receipt.into(),
            updated_at.into(),
        ],
    ))
    .await?;
    Ok(())
}

async fn insert_requests<C: ConnectionTrait>(
    txn: &C,
    requests: Vec<ballot_request::ActiveModel>,
) -> Result<(), DbErr> {
    if !on_postgres(txn) {
        for chunk in requests.chunks(200) {
            ballot_request::Entity::insert_many(chunk.to_vec())
                .exec(txn)
                .await?;
        }
        return Ok(());
    }
    let n = requests.len();
    let (mut id, mut poll_id, mut key_hash, mut sealed, mut created_at) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for r in requests {
        let r = r.try_into_model()?;
        id.push(r.id);
        poll_id.push(r.poll_id);
        key_hash.push(r.key_hash);
        sealed.push(r.sealed);
        created_at.push(r.created_at);
    }
    txn.execute_raw(postgres(
        "INSERT INTO ballot_requests (id, poll_id, key_hash, sealed, created_at) \
         SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::text[], \
                              $5::timestamptz[])",
        vec![
            id.into(),
            poll_id.into(),
            key_hash.into(),
            sealed.into(),
            created_at.into(),
        ],
    ))
    .await?;
    Ok(())
}
