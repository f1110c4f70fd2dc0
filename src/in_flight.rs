//! The API requests this process is answering. Past a limit, new ones are refused at once
//! (load shedding, `startup::shed_load`); below it, the count says how busy the process is,
//! and background work (the notices of an opened poll, mail) waits while it is busy, so that a
//! burst of requests is answered first. Measured: a poll opened to 20,000 whose notices were
//! written during its ballot burst (on SQLite, 200 transactions beside the ballots') had a
//! median ballot latency of 23–40 ms; with the notices waiting, 10–14 ms.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The longest one piece of background work waits for a quiet moment: a process that stays
/// busy still sends its mail, only slower.
const MOST_DEFERRED: Duration = Duration::from_secs(2);
/// How often a waiting piece of background work looks again.
const LOOK_AGAIN: Duration = Duration::from_millis(50);
/// A process that was busy counts as busy this long after: requests in a burst come and go,
/// and the count between two of them says little.
const BUSY_FOR: Duration = Duration::from_millis(250);

pub struct InFlight {
    places: Arc<Semaphore>,
    max: usize,
    /// When this count began.
    epoch: Instant,
    /// Until when (ms after `epoch`) the process counts as busy.
    busy_until: AtomicU64,
}

impl InFlight {
    /// Room for `max` requests at once; `None` when `max` is 0 (no limit, nothing counted).
    pub fn new(max: usize) -> Option<Arc<Self>> {
        (max > 0).then(|| {
            Arc::new(Self {
                places: Arc::new(Semaphore::new(max)),
                max,
                epoch: Instant::now(),
                busy_until: AtomicU64::new(0),
            })
        })
    }

    /// A place for one more request, held until it is answered; `None` when all are taken.
    pub fn enter(&self) -> Option<OwnedSemaphorePermit> {
        let permit = self.places.clone().try_acquire_owned().ok()?;
        if self.crowded() {
            let until = self.epoch.elapsed() + BUSY_FOR;
            self.busy_until
                .fetch_max(until.as_millis() as u64, Ordering::Relaxed);
        }
        Some(permit)
    }

    /// Requests being answered now.
    pub fn count(&self) -> usize {
        self.max - self.places.available_permits()
    }

    /// A thirty-second of the limit in progress at once (8 of the default 256), which ordinary
    /// use (a few requests a second, each a few milliseconds) comes near only for a moment.
    fn crowded(&self) -> bool {
        self.count() >= (self.max / 32).max(4)
    }

    /// Crowded now, or was within `BUSY_FOR`.
    pub fn busy(&self) -> bool {
        let now = self.epoch.elapsed().as_millis() as u64;
        self.crowded() || now < self.busy_until.load(Ordering::Relaxed)
    }

    /// Returns once the process is not busy, or after `MOST_DEFERRED`.
    pub async fn quiet(&self) {
        self.quiet_within(MOST_DEFERRED).await;
    }

    /// Returns once the process is not busy, or after `most`.
    pub async fn quiet_within(&self, most: Duration) {
        let started = tokio::time::Instant::now();
        while self.busy() && started.elapsed() < most {
            tokio::time::sleep(LOOK_AGAIN).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_limit_counts_nothing() {
        assert!(InFlight::new(0).is_none());
    }

    #[test]
    fn refuses_past_the_limit_and_counts_what_it_holds() {
        let places = InFlight::new(2).unwrap();
        let a = places.enter().expect("a first place");
        let _b = places.enter().expect("a second place");
        assert!(places.enter().is_none(), "a third is refused");
        assert_eq!(places.count(), 2);
        drop(a);
        assert_eq!(places.count(), 1);
        assert!(
            places.enter().is_some(),
            "a place given back is taken again"
        );
    }

    #[test]
    fn busy_while_crowded_and_a_moment_after() {
        let places = InFlight::new(256).unwrap();
        let mut held: Vec<_> = (0..7).map(|_| places.enter().unwrap()).collect();
        assert!(!places.busy(), "7 of 256 is not busy");
        held.push(places.enter().unwrap());
        assert!(places.busy(), "8 of 256 is");
        held.clear();
        assert_eq!(places.count(), 0);
        assert!(places.busy(), "still busy just after the crowd left");
    }

    #[tokio::test(start_paused = true)]
    async fn background_work_waits_while_busy_but_not_for_ever() {
        let places = InFlight::new(64).unwrap();
        let started = tokio::time::Instant::now();
        places.quiet().await;
        assert_eq!(started.elapsed(), Duration::ZERO, "no wait when quiet");

        let held: Vec<_> = (0..4).map(|_| places.enter().unwrap()).collect();
        let started = tokio::time::Instant::now();
        places.quiet().await;
        assert!(started.elapsed() >= MOST_DEFERRED, "waited while busy");
        assert!(
            started.elapsed() < MOST_DEFERRED + LOOK_AGAIN * 2,
            "but no longer"
        );
        drop(held);
    }
}
