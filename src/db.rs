//! Database connection: per-connection SQLite pragmas, migrations on start, and write
//! transactions that never fail with "database is locked".

use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use migrations::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend,
    DbErr, SqliteTransactionMode, TransactionOptions, TransactionTrait,
};
use tokio::sync::{Mutex, OwnedMutexGuard};

use crate::config::Settings;

/// How often a serving process checkpoints a SQLite database (`Db::checkpoints`): at 2,000
/// ballots a second the log grows by about 3,500 pages in this time.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(200);

/// The application's handle on the database.
///
/// SQLite allows one writer at a time. Rather than letting concurrent read-then-write
/// transactions race for the lock and fail with `SQLITE_BUSY`, every write transaction in
/// this process first takes `write_gate`, so writers queue in memory. Readers are not
/// affected (WAL). On PostgreSQL there is no gate; row locks and constraints do the work.
#[derive(Clone)]
pub struct Db {
    pub conn: DatabaseConnection,
    write_gate: Option<Arc<Mutex<()>>>,
    /// How `conn` was opened, for a second pool on the same database (`dedicated`). Shared:
    /// every request and every live socket holds a copy of the application's state.
    options: Arc<ConnectOptions>,
}

/// A write transaction: holds the SQLite write gate (when there is one) until it ends.
pub struct WriteTxn {
    txn: DatabaseTransaction,
    _gate: Option<OwnedMutexGuard<()>>,
}

impl Deref for WriteTxn {
    type Target = DatabaseTransaction;
    fn deref(&self) -> &Self::Target {
        &self.txn
    }
}

impl WriteTxn {
    pub async fn commit(self) -> Result<(), DbErr> {
        self.txn.commit().await
    }

    pub async fn rollback(self) -> Result<(), DbErr> {
        self.txn.rollback().await
    }
}

impl Db {
    pub async fn connect(settings: &Settings) -> Result<Self, DbErr> {
        let options = Self::options(settings);
        Ok(Self {
            conn: Database::connect(options.clone()).await?,
            write_gate: settings.is_sqlite().then(|| Arc::new(Mutex::new(()))),
            options: Arc::new(options),
        })
    }

    /// A second handle on the same database, with a pool of its own (one connection kept
    /// open) and this handle's write gate, for a writer that runs on a thread of its own: a
    /// PostgreSQL connection belongs to the runtime that opened it. `None` for an in-memory
    /// database, which a second pool would not share.
    pub async fn dedicated(&self) -> Option<Result<Self, DbErr>> {
        let url = self.options.get_url();
        if url.contains(":memory:") || url.contains("mode=memory") {
            return None;
        }
        let mut options = ConnectOptions::clone(&self.options);
        options.max_connections(2).min_connections(1);
        // A writer's statements keep one text while the tables they read grow fast (a ballot
        // burst's requests table from nothing to 20,000 rows in ten seconds). PostgreSQL plans
        // a prepared statement afresh for its first five runs and may then keep one generic
        // plan, costed for the tables as they were: a sequential scan of the requests table
        // chosen while it was tiny took 4-57 ms a batch by the end of a burst, most of the
        // writer's time. Planned afresh every run on these connections.
        options.map_sqlx_postgres_opts(|o| o.options([("plan_cache_mode", "force_custom_plan")]));
        Some(Database::connect(options.clone()).await.map(|conn| Self {
            conn,
            write_gate: self.write_gate.clone(),
            options: Arc::new(options),
        }))
    }

    fn options(settings: &Settings) -> ConnectOptions {
        let mut opts = ConnectOptions::new(settings.database_url_to_connect());
        opts.sqlx_logging(false)
            .connect_timeout(Duration::from_secs(10))
            .acquire_timeout(Duration::from_secs(10));
        let sqlite = settings.is_sqlite();
        if sqlite {
            // A file cannot hang up: no ping before handing out a connection (sqlx pings on
            // each acquire by default, one more round trip to SQLite's thread per statement).
            opts.max_connections(8)
                .min_connections(1)
                .test_before_acquire(false)
                .map_sqlx_sqlite_opts(|o| {
                    o.journal_mode(SqliteJournalMode::Wal)
                        .synchronous(SqliteSynchronous::Normal)
                        .foreign_keys(true)
                        .busy_timeout(Duration::from_secs(10))
                        .create_if_missing(true)
                        // Reads from the file mapped into memory (up to 256 MiB of it) rather
                        // than a system call and a copy per page: each commit by another
                        // connection empties a connection's page cache, so under a stream of
                        // writes (a ballot burst) every read would fetch its pages again.
                        .pragma("mmap_size", "268435456")
                        // The write-ahead log is copied into the database file by a task of
                        // its own (`checkpoints`), off the writers' path: left to SQLite, the
                        // commit that takes the log past 1,000 pages copies them and waits for
                        // the disk, and in a ballot burst that was every 50 ms or so, with the
                        // burst's later seconds twice as slow as its first. Under a stream of
                        // writes the log grows (it starts again only when a write finds all of
                        // it copied, at the first pause), so SQLite still does it itself once
                        // the log is past 262,144 pages (1 GiB): about 14 s of ballots at
                        // 2,000/s (at 65,536 pages its copy came every 3 s of a burst, with a
                        // p99 of 120-220 ms against 56-127 ms without). A log grown past 64 MiB
                        // is cut back once it has started again.
                        .pragma("wal_autocheckpoint", "262144")
                        .pragma("journal_size_limit", "67108864")
                });
        } else {
            // All kept open, so a burst after a quiet spell does not wait for each to be
            // established (on loopback with TLS, 16 new connections in a ballot burst's first
            // 250 ms left its first ballots waiting up to 200 ms).
            let size = settings.database_connections;
            opts.max_connections(size).min_connections(size);
            // A connection in steady use is not pinged before each use (a round trip to the
            // server per statement); one that has been idle a while may have been cut by a
            // restart or a firewall, so it is. A connection that fails in use is dropped when
            // it is given back (sqlx tests it then).
            opts.test_before_acquire_if_idle_for(Duration::from_secs(10));
        }
        opts
    }

    /// On SQLite, copies what the write-ahead log holds into the database file every
    /// `CHECKPOINT_EVERY` until `stop`, on a connection of its own. A passive checkpoint takes
    /// no lock that writers or readers wait for: it copies what no reader still needs, and a
    /// write that finds all of the log copied starts it again from its beginning.
    /// Nothing to do on PostgreSQL or an in-memory database.
    pub async fn checkpoints(&self, stop: Arc<tokio::sync::Notify>) {
        if self.backend() != DbBackend::Sqlite {
            return;
        }
        let own = match self.dedicated().await {
            Some(Ok(own)) => own,
            Some(Err(e)) => {
                tracing::warn!(error = %e, "no connection for checkpoints; SQLite makes them itself");
                return;
            }
            None => return,
        };
        loop {
            tokio::select! {
                _ = stop.notified() => break,
                _ = tokio::time::sleep(CHECKPOINT_EVERY) => {}
            }
            if let Err(e) = own
                .conn
                .execute_unprepared("PRAGMA wal_checkpoint(PASSIVE)")
                .await
            {
                tracing::warn!(error = %e, "checkpoint failed");
            }
        }
        let _ = own.conn.close().await;
    }

    pub async fn migrate(&self) -> Result<(), DbErr> {
        Migrator::up(&self.conn, None).await
    }

    pub fn backend(&self) -> DbBackend {
        self.conn.get_database_backend()
    }

    /// Writes a consistent copy of a SQLite database to a new file while it is in use
    /// (`VACUUM INTO` reads one snapshot; writers carry on), then checks the copy's integrity.
    /// Returns the copy's size in bytes. PostgreSQL is backed up with `pg_dump`.
    pub async fn backup_to(&self, path: &std::path::Path) -> Result<u64, String> {
        if self.backend() != DbBackend::Sqlite {
            return Err(
                "on PostgreSQL, back up with pg_dump (see docs/operations.md, Backups); this command copies SQLite databases"
                    .into(),
            );
        }
        if path.exists() {
            return Err(format!("{} exists; give a new file", path.display()));
        }
        let target = path.to_str().ok_or("the backup path must be valid UTF-8")?;
        self.conn
            .execute_raw(sea_orm::Statement::from_sql_and_values(
                DbBackend::Sqlite,
                "VACUUM INTO ?",
                [target.into()],
            ))
            .await
            .map_err(|e| format!("cannot write the copy: {e}"))?;
        let copy = sea_orm::Database::connect(format!("sqlite://{target}?mode=ro"))
            .await
            .map_err(|e| format!("cannot open the copy: {e}"))?;
        let check = copy
            .query_one_raw(sea_orm::Statement::from_string(
                DbBackend::Sqlite,
                "PRAGMA integrity_check",
            ))
            .await
            .map_err(|e| format!("cannot check the copy: {e}"))?
            .and_then(|row| row.try_get_by_index::<String>(0).ok());
        copy.close().await.map_err(|e| e.to_string())?;
        if check.as_deref() != Some("ok") {
            return Err(format!("the copy failed its integrity check: {check:?}"));
        }
        std::fs::metadata(path)
            .map(|m| m.len())
            .map_err(|e| e.to_string())
    }

    /// Begins a transaction for work that may write.
    pub async fn write(&self) -> Result<WriteTxn, DbErr> {
        let gate = match &self.write_gate {
            Some(gate) => Some(gate.clone().lock_owned().await),
            None => None,
        };
        let txn = if gate.is_some() {
            // IMMEDIATE takes SQLite's write lock at BEGIN, so a transaction that reads and
            // then writes can never find its snapshot stale (SQLITE_BUSY_SNAPSHOT) because a
            // writer outside the gate (the outbox worker, another process) committed between.
            self.conn
                .begin_with_options(TransactionOptions {
                    sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                    ..TransactionOptions::default()
                })
                .await?
        } else {
            self.conn.begin().await?
        };
        Ok(WriteTxn { txn, _gate: gate })
    }

    /// True when the database answers a trivial query.
    pub async fn ping(&self) -> bool {
        self.conn.execute_unprepared("SELECT 1").await.is_ok()
    }
}
