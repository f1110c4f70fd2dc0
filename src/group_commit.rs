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

/// Work done once a batch has committed, before its submitters hear back, on the runtime that
/// started the writer (not the writer's own thread) and one batch at a time, in the order they
/// were written. The room broadcasts its events here: that wakes the task of every socket in the
/// room, and wakes from a thread of the runtime stay on its worker's own queue, where wakes from
/// another thread all go through the runtime's shared one.
pub type AfterCommit<J, O> =
    for<'a> fn(&'a AppState, &'a [J], &'a [Result<O, DbErr>]) -> BoxFuture<'a, ()>;

/// Work done on the writer's own connection when it starts, before the first batch.
pub type Prepare = for<'a> fn(&'a AppState) -> BoxFuture<'a, Result<(), DbErr>>;

type Reply<O> = oneshot::Sender<Result<O, DbErr>>;
type Queue<J, O> = mpsc::Receiver<(J, Reply<O>)>;

/// A written batch: its jobs, what became of each, and who waits for it.
struct Written<J, O> {
    jobs: Vec<J>,
    outcomes: Vec<Result<O, DbErr>>,
    replies: Vec<Reply<O>>,
}

impl<J, O> Written<J, O> {
    fn answer(self) {
        for (reply, outcome) in self.replies.into_iter().zip(self.outcomes) {
            let _ = reply.send(outcome);
        }
    }
}

pub struct GroupCommit<J, O> {
    what: &'static str,
    max_batch: usize,
    write: WriteBatch<J, O>,
    after: Option<AfterCommit<J, O>>,
    prepare: Option<Prepare>,
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
            after: None,
            prepare: None,
            tx,
            rx: Mutex::new(Some(rx)),
        }
    }

    /// Runs `after` on each batch once it has committed, before its submitters hear back.
    pub fn after_commit(self, after: AfterCommit<J, O>) -> Self {
        Self {
            after: Some(after),
            ..self
        }
    }

    /// Runs `prepare` on the writer's connection when it starts (see `start`), before it takes
    /// any job; a failure is logged and the writer goes on.
    pub fn prepare_with(self, prepare: Prepare) -> Self {
        Self {
            prepare: Some(prepare),
            ..self
        }
    }

    /// Starts the writer (its thread and connections) unless it runs already: where a burst is
    /// about to come (a poll opens), so that its first jobs do not wait for that.
    pub fn start(&self, state: &AppState) {
        if let Some(rx) = self.rx.lock().unwrap_or_else(|p| p.into_inner()).take() {
            spawn_writer(state.clone(), rx, self);
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
    commit: &GroupCommit<J, O>,
) {
    let (write, max_batch, what) = (commit.write, commit.max_batch, commit.what);
    // Dropped, and so ends the writer, when the runtime that started it shuts down: held by
    // the task that answers for the writer there.
    let (alive, ended) = oneshot::channel::<()>();
    let (written_tx, mut written_rx) = mpsc::channel::<Written<J, O>>(64);
    let (after, prepare) = (commit.after, commit.prepare);
    let shared = state.clone();
    tokio::spawn(async move {
        let _alive = alive;
        while let Some(written) = written_rx.recv().await {
            if let Some(after) = after {
                after(&shared, &written.jobs, &written.outcomes).await;
            }
            written.answer();
        }
        std::future::pending::<()>().await
    });
    // Without work after the commit, the writer answers its submitters itself.
    let written_tx = commit.after.is_some().then_some(written_tx);
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
                if let Some(prepare) = prepare
                    && let Err(e) = prepare(&state).await
                {
                    tracing::warn!(error = %e, what, "the writer could not prepare its statements");
                }
                let writer = Writer {
                    state,
                    write,
                    max_batch,
                    what,
                    written: written_tx,
                };
                tokio::select! {
                    () = writer.run(rx) => {}
                    _ = ended => {}
                }
            });
        });
    if let Err(e) = thread {
        tracing::error!(error = %e, what, "cannot start the writer's thread");
    }
}

/// The writer, on its own thread.
struct Writer<J, O> {
    state: AppState,
    write: WriteBatch<J, O>,
    max_batch: usize,
    what: &'static str,
    /// Where written batches go for the work after their commit, if there is any.
    written: Option<mpsc::Sender<Written<J, O>>>,
}

impl<J, O> Writer<J, O> {
    async fn run(self, mut rx: Queue<J, O>) {
        let what = self.what;
        while let Some(first) = rx.recv().await {
            let mut batch = vec![first];
            while batch.len() < self.max_batch {
                match rx.try_recv() {
                    Ok(next) => batch.push(next),
                    Err(_) => break,
                }
            }
            let (jobs, replies): (Vec<J>, Vec<Reply<O>>) = batch.into_iter().unzip();
            let started = std::time::Instant::now();
            let written = (self.write)(&self.state, &jobs).await;
            let took = started.elapsed();
            self.state.metrics.record_commit(what, jobs.len(), took);
            tracing::debug!(
                what,
                jobs = jobs.len(),
                ms = took.as_secs_f64() * 1e3,
                "batch written"
            );
            let outcomes = match written {
                Ok(outcomes) => outcomes.into_iter().map(Ok).collect(),
                Err(e) if jobs.len() > 1 => {
                    tracing::warn!(error = %e, jobs = jobs.len(), what, "batch failed; writing one by one");
                    let mut outcomes = Vec::with_capacity(jobs.len());
                    for job in &jobs {
                        let outcome = (self.write)(&self.state, std::slice::from_ref(job))
                            .await
                            .and_then(|o| {
                                o.into_iter().next().ok_or_else(|| {
                                    DbErr::Custom(format!("the {what} writer answered nothing"))
                                })
                            });
                        outcomes.push(outcome);
                    }
                    outcomes
                }
                Err(e) => jobs
                    .iter()
                    .map(|_| Err(DbErr::Custom(e.to_string())))
                    .collect(),
            };
            let written = Written {
                jobs,
                outcomes,
                replies,
            };
            match &self.written {
                // The runtime that took them has stopped if this fails: nobody is waiting.
                Some(tx) => {
                    let _ = tx.send(written).await;
                }
                None => written.answer(),
            }
        }
    }
}
