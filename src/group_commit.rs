//! Group commit: requests hand their write to one writer of this process (on a thread of its
//! own, see `start`), which takes whatever
//! has queued up (up to a batch) and writes it in one transaction. Under a burst, many writes
//! share one commit and one wait on the database; alone, a write goes at once. If a batch
//! fails, its jobs are written again one by one, so one bad job fails alone.
//!
//! Used by ballots (`voting::writer`) and by room events (`realtime::writer`).

use std::sync::Mutex;

use futures_util::future::BoxFuture;
use sea_orm::DbErr;
use tokio::sync::{mpsc, oneshot};

use crate::state::AppState;

/// Writes a batch in one transaction and answers each job, in the order given.
pub type WriteBatch<J, O> =
    for<'a> fn(&'a AppState, &'a [J]) -> BoxFuture<'a, Result<Vec<O>, DbErr>>;

type Reply<O> = oneshot::Sender<Result<O, DbErr>>;
type Queue<J, O> = mpsc::Receiver<(J, Reply<O>)>;

pub struct GroupCommit<J, O> {
    what: &'static str,
    max_batch: usize,
    write: WriteBatch<J, O>,
    tx: mpsc::Sender<(J, Reply<O>)>,
    rx: Mutex<Option<Queue<J, O>>>,
}

impl<J: Send + Sync + 'static, O: Send + 'static> GroupCommit<J, O> {
    /// `what` names the jobs in logs ("ballot"); `max_batch` bounds one transaction.
    pub fn new(what: &'static str, max_batch: usize, write: WriteBatch<J, O>) -> Self {
        let (tx, rx) = mpsc::channel(4096);
        Self {
            what,
            max_batch,
            write,
            tx,
            rx: Mutex::new(Some(rx)),
        }
    }

    /// Starts the writer (its thread and connections) unless it runs already: where a burst is
    /// about to come (a poll opens), so that its first jobs do not wait for that.
    pub fn start(&self, state: &AppState) {
        if let Some(rx) = self.rx.lock().unwrap_or_else(|p| p.into_inner()).take() {
            spawn_writer(state.clone(), rx, self.write, self.max_batch, self.what);
        }
    }

    /// Writes a job with whatever others are waiting; starts the writer on first use.
    pub async fn submit(&self, state: &AppState, job: J) -> Result<O, DbErr> {
        self.start(state);
        let (reply, answer) = oneshot::channel();
        self.tx
            .send((job, reply))
            .await
            .map_err(|_| DbErr::Custom(format!("the {} writer has stopped", self.what)))?;
        answer
            .await
            .map_err(|_| DbErr::Custom(format!("the {} writer dropped a job", self.what)))?
    }
}

/// Runs the writer on a thread of its own, with its own connections. On the shared runtime
/// it would be one task among the hundreds a burst brings, and would wait behind them for its
/// turn after each of the dozen round trips to the database a batch takes (measured: a batch of
/// about a hundred ballots took 130 ms on PostgreSQL, nearly all of it waiting); a thread that
/// sleeps while the database works is woken promptly by the operating system. The thread ends
/// with the runtime that started it.
fn spawn_writer<J: Send + Sync + 'static, O: Send + 'static>(
    state: AppState,
    rx: Queue<J, O>,
    write: WriteBatch<J, O>,
    max_batch: usize,
    what: &'static str,
) {
    // Dropped, and so ends the writer, when the runtime that started it shuts down.
    let (alive, ended) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let _alive = alive;
        std::future::pending::<()>().await
    });
    let thread = std::thread::Builder::new()
        .name(format!("{what} writer"))
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(r) => r,
                Err(e) => {
                    tracing::error!(error = %e, what, "cannot start the writer's runtime");
                    return;
                }
            };
            runtime.block_on(async move {
                let state = match state.db.dedicated().await {
                    Some(Ok(db)) => AppState { db, ..state },
                    Some(Err(e)) => {
                        // Still correct on the shared connections, only slower under load.
                        tracing::warn!(error = %e, what, "the writer shares the pool");
                        state
                    }
                    None => state,
                };
                tokio::select! {
                    () = run(state, rx, write, max_batch, what) => {}
                    _ = ended => {}
                }
            });
        });
    if let Err(e) = thread {
        tracing::error!(error = %e, what, "cannot start the writer's thread");
    }
}

async fn run<J, O>(
    state: AppState,
    mut rx: Queue<J, O>,
    write: WriteBatch<J, O>,
    max_batch: usize,
    what: &'static str,
) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < max_batch {
            match rx.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let (jobs, replies): (Vec<J>, Vec<Reply<O>>) = batch.into_iter().unzip();
        let started = std::time::Instant::now();
        let written = write(&state, &jobs).await;
        state
            .metrics
            .record_commit(what, jobs.len(), started.elapsed());
        match written {
            Ok(outcomes) => {
                for (reply, outcome) in replies.into_iter().zip(outcomes) {
                    let _ = reply.send(Ok(outcome));
                }
            }
            Err(e) if jobs.len() > 1 => {
                tracing::warn!(error = %e, jobs = jobs.len(), what, "batch failed; writing one by one");
                for (job, reply) in jobs.iter().zip(replies) {
                    let outcome = write(&state, std::slice::from_ref(job))
                        .await
                        .and_then(|o| {
                            o.into_iter().next().ok_or_else(|| {
                                DbErr::Custom(format!("the {what} writer answered nothing"))
                            })
                        });
                    let _ = reply.send(outcome);
                }
            }
            Err(e) => {
                for reply in replies {
                    let _ = reply.send(Err(DbErr::Custom(e.to_string())));
                }
            }
        }
    }
}
