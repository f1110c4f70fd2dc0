//! A socket reader's own answers (errors, pongs, closes) on their way to the socket's writer.
//!
//! The writer waits on the room's frames and on these answers at once. With a channel, every
//! wait registered the writer with the channel again and looked into it, empty nearly always: at
//! 2,000 sockets × 50 frames a second that was about 5% of the process's CPU (perf), for answers
//! that come a few times in a socket's life. Here the writer, a task of its own whose waker never
//! changes, registers once (`bind`); each wait then costs one atomic read.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Poll, Waker};

use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::Message;

/// The writer has ended: nothing sent now would be written.
#[derive(Debug)]
pub struct Closed;

struct Queue {
    items: VecDeque<Box<Message>>,
    /// The reader is done (its sender dropped).
    done: bool,
}

struct Shared {
    /// Something for the writer to look at: an answer, or the reader's end. Changed only under
    /// the queue's lock; read without it.
    ready: AtomicBool,
    queue: Mutex<Queue>,
    /// Room left in the queue: a reader whose client does not read waits here, as it did on a
    /// bounded channel.
    room: Semaphore,
    writer: Mutex<Option<Waker>>,
}

impl Shared {
    fn queue(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn wake(&self) {
        if let Some(w) = self
            .writer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
        {
            w.wake_by_ref();
        }
    }
}

/// A queue of at most `capacity` answers.
pub fn channel(capacity: usize) -> (Sender, Receiver) {
    let shared = Arc::new(Shared {
        ready: AtomicBool::new(false),
        queue: Mutex::new(Queue {
            items: VecDeque::new(),
            done: false,
        }),
        room: Semaphore::new(capacity),
        writer: Mutex::new(None),
    });
    (
        Sender {
            shared: shared.clone(),
        },
        Receiver { shared },
    )
}

/// The reader's end. Dropping it tells the writer the reader is done.
pub struct Sender {
    shared: Arc<Shared>,
}

impl Sender {
    /// Queues an answer, waiting while the queue is full; fails once the writer has ended.
    pub async fn send(&self, message: Box<Message>) -> Result<(), Closed> {
        self.shared
            .room
            .acquire()
            .await
            .map_err(|_| Closed)?
            .forget();
        {
            let mut q = self.shared.queue();
            q.items.push_back(message);
            self.shared.ready.store(true, Ordering::Release);
        }
        self.shared.wake();
        Ok(())
    }
}

impl Drop for Sender {
    fn drop(&mut self) {
        {
            let mut q = self.shared.queue();
            q.done = true;
            self.shared.ready.store(true, Ordering::Release);
        }
        self.shared.wake();
    }
}

/// The writer's end. Dropping it fails the reader's sends from then on.
pub struct Receiver {
    shared: Arc<Shared>,
}

impl Receiver {
    /// Makes the calling task the one woken when an answer comes. Called once by the writer's
    /// own task before it polls `poll_next`.
    pub async fn bind(&self) {
        std::future::poll_fn(|cx| {
            *self.shared.writer.lock().unwrap_or_else(|p| p.into_inner()) =
                Some(cx.waker().clone());
            Poll::Ready(())
        })
        .await;
    }

    /// The next answer, `Ready(None)` once the reader is done and all are taken, or `Pending`
    /// (the bound task is woken when that changes; nothing is registered here).
    pub fn poll_next(&self) -> Poll<Option<Box<Message>>> {
        if !self.shared.ready.load(Ordering::Acquire) {
            return Poll::Pending;
        }
        let mut q = self.shared.queue();
        match q.items.pop_front() {
            Some(m) => {
                self.shared
                    .ready
                    .store(!q.items.is_empty() || q.done, Ordering::Release);
                drop(q);
                self.shared.room.add_permits(1);
                Poll::Ready(Some(m))
            }
            None if q.done => Poll::Ready(None),
            None => {
                self.shared.ready.store(false, Ordering::Release);
                Poll::Pending
            }
        }
    }

    /// The next answer, waiting for it (the task must be bound).
    pub async fn recv(&self) -> Option<Box<Message>> {
        std::future::poll_fn(|_| self.poll_next()).await
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.shared.room.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn answers_arrive_in_order_then_the_end() {
        let (tx, rx) = channel(2);
        let writer = tokio::spawn(async move {
            rx.bind().await;
            let mut got = Vec::new();
            while let Some(m) = rx.recv().await {
                got.push(m.into_text().unwrap().to_string());
            }
            got
        });
        for i in 0..5 {
            tx.send(Box::new(Message::text(format!("{i}"))))
                .await
                .unwrap();
        }
        drop(tx);
        assert_eq!(writer.await.unwrap(), ["0", "1", "2", "3", "4"]);
    }

    #[tokio::test]
    async fn a_full_queue_waits_and_a_gone_writer_refuses() {
        let (tx, rx) = channel(1);
        tx.send(Box::new(Message::text("a"))).await.unwrap();
        let second = tx.send(Box::new(Message::text("b")));
        tokio::pin!(second);
        assert!(
            futures_util::poll!(&mut second).is_pending(),
            "the queue is full"
        );
        drop(rx);
        assert!(second.await.is_err(), "the writer is gone");
        assert!(tx.send(Box::new(Message::text("c"))).await.is_err());
    }
}
