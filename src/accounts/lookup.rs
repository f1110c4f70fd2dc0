//! Sign-ins looked up together. Every request whose token this process does not remember reads
//! its sign-in, person, roles and organisations; in a burst of ballots when a vote opens, from
//! people who signed in earlier, that is one read per ballot, each with its own round trip and
//! its own turn in the database. Here a lookup goes at once while a lane is free; lookups that
//! arrive while every lane is busy wait for one and then share a single read, so under load a
//! few dozen sign-ins cost one statement.

use std::sync::{Arc, Mutex};

use sea_orm::DbErr;
use tokio::sync::{Semaphore, mpsc, oneshot};

use super::service::{self, SignIn};
use crate::state::AppState;

/// Most sign-ins in one read.
const BATCH: usize = 128;
/// Reads under way at once.
const LANES: usize = 2;

type Reply = oneshot::Sender<Result<Option<SignIn>, DbErr>>;
type Queue = mpsc::UnboundedReceiver<(String, Reply)>;

pub struct SignInReads {
    tx: mpsc::UnboundedSender<(String, Reply)>,
    rx: Mutex<Option<Queue>>,
}

impl Default for SignInReads {
    fn default() -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        Self {
            tx,
            rx: Mutex::new(Some(rx)),
        }
    }
}

impl SignInReads {
    /// The valid sign-in with this token hash, with its person and their access; `None` when
    /// there is none (unknown, expired, revoked, or the person deleted).
    pub async fn find(
        &self,
        state: &AppState,
        token_hash: String,
    ) -> Result<Option<SignIn>, DbErr> {
        if let Some(rx) = self.rx.lock().unwrap_or_else(|p| p.into_inner()).take() {
            tokio::spawn(read(state.clone(), rx));
        }
        let (reply, answer) = oneshot::channel();
        let stopped = || DbErr::Custom("the sign-in reader has stopped".into());
        self.tx.send((token_hash, reply)).map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

/// Takes what has queued whenever a lane is free and reads it in one statement. Ends with the
/// runtime that started it.
async fn read(state: AppState, mut rx: Queue) {
    let lanes = Arc::new(Semaphore::new(LANES));
    loop {
        let Ok(lane) = lanes.clone().acquire_owned().await else {
            return;
        };
        let Some(first) = rx.recv().await else {
            return;
        };
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match rx.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let state = state.clone();
        tokio::spawn(async move {
            let _lane = lane;
            let hashes: Vec<String> = batch.iter().map(|(h, _)| h.clone()).collect();
            match service::sign_ins(&state.db.conn, hashes, crate::clock::now()).await {
                Ok(found) => {
                    for (hash, reply) in batch {
                        let _ = reply.send(Ok(found.get(&hash).cloned()));
                    }
                }
                Err(e) => {
                    for (_, reply) in batch {
                        let _ = reply.send(Err(e.clone()));
                    }
                }
            }
        });
    }
}
