//! What a count does, apart from where it is kept: one step from the window before to the
//! window after, for memory and (under a row lock) for the shared table alike.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::RetryAfter;

/// One key's count. For a fixed window `started_at` is when the window began; for a pace it is
/// the last attempt counted.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Window {
    pub started_at: DateTime<Utc>,
    pub used: u32,
    pub blocked_until: Option<DateTime<Utc>>,
}

impl Window {
    fn fresh(now: DateTime<Utc>) -> Self {
        Self {
            started_at: now,
            used: 0,
            blocked_until: None,
        }
    }
}

/// Attempts paced rather than locked out: `free` attempts in a run go at once; from the
/// `free`th on, each one makes the next wait, `first_delay` and then twice as long each time,
/// up to `longest_delay`. A run ends after `forget_after` with no attempt.
///
/// Sign-in uses it per account (issue 32): whoever types wrong passwords for someone else can
/// slow that account's sign-in from new devices down, never lock it, and the owner's own
/// devices are not paced at all (`accounts::devices`).
#[derive(Clone, Copy, Debug)]
pub struct Pace {
    pub free: u32,
    pub first_delay: Duration,
    pub longest_delay: Duration,
    pub forget_after: Duration,
}

impl Pace {
    /// The wait after the `n`th attempt of a run.
    pub fn delay_after(&self, n: u32) -> Duration {
        if n < self.free.max(1) {
            return Duration::ZERO;
        }
        let doublings = (n - self.free.max(1)).min(20);
        self.first_delay
            .saturating_mul(1 << doublings)
            .min(self.longest_delay)
    }
}

fn seconds_until(from: DateTime<Utc>, to: DateTime<Utc>) -> RetryAfter {
    let micros = (to - from).num_microseconds().unwrap_or(i64::MAX).max(0) as u64;
    micros.div_ceil(1_000_000).max(1)
}

fn chrono(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

/// A fixed window: the first `limit` events from its start pass; the rest are refused
/// uncounted until it ends.
pub fn count(
    before: Option<Window>,
    now: DateTime<Utc>,
    limit: u32,
    window: Duration,
) -> (Window, Result<(), RetryAfter>) {
    let mut w = match before {
        Some(w) if now - w.started_at < chrono(window) => w,
        _ => Window::fresh(now),
    };
    if w.used >= limit {
        let retry = seconds_until(now, w.started_at + chrono(window));
        return (w, Err(retry));
    }
    w.used += 1;
    (w, Ok(()))
}

/// One attempt under a pace (see [`Pace`]).
pub fn pace(
    before: Option<Window>,
    now: DateTime<Utc>,
    pace: &Pace,
) -> (Window, Result<u32, RetryAfter>) {
    let mut w = match before {
        Some(w) if now - w.started_at < chrono(pace.forget_after) => w,
        _ => Window::fresh(now),
    };
    if let Some(until) = w.blocked_until
        && until > now
    {
        return (w, Err(seconds_until(now, until)));
    }
    w.used = w.used.saturating_add(1);
    w.started_at = now;
    let delay = pace.delay_after(w.used);
    w.blocked_until = (!delay.is_zero()).then(|| now + chrono(delay));
    (w, Ok(w.used))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIGN_IN: Pace = Pace {
        free: 5,
        first_delay: Duration::from_secs(60),
        longest_delay: Duration::from_secs(900),
        forget_after: Duration::from_secs(3600),
    };

    #[test]
    fn delays_start_at_the_free_th_attempt_and_double_up_to_the_longest() {
        let delays: Vec<u64> = (1..=11).map(|n| SIGN_IN.delay_after(n).as_secs()).collect();
        assert_eq!(delays, [0, 0, 0, 0, 60, 120, 240, 480, 900, 900, 900]);
    }

    #[test]
    fn a_paced_run_waits_between_attempts_and_is_forgotten_after_a_quiet_hour() {
        let t0 = Utc::now();
        let mut w = None;
        for n in 1..=5 {
            let (after, answer) = pace(w, t0, &SIGN_IN);
            assert_eq!(answer, Ok(n));
            w = Some(after);
        }
        let (after, answer) = pace(w, t0 + chrono::Duration::seconds(30), &SIGN_IN);
        assert_eq!(answer, Err(30), "the sixth waits out the first delay");
        let (after, answer) = pace(Some(after), t0 + chrono::Duration::seconds(61), &SIGN_IN);
        assert_eq!(answer, Ok(6));
        let (_, answer) = pace(Some(after), t0 + chrono::Duration::seconds(62), &SIGN_IN);
        assert_eq!(answer, Err(119), "then twice as long");
        let later = t0 + chrono::Duration::seconds(61 + 3600);
        assert_eq!(pace(Some(after), later, &SIGN_IN).1, Ok(1));
    }

    #[test]
    fn a_window_refuses_past_its_limit_until_it_ends() {
        let t0 = Utc::now();
        let minute = Duration::from_secs(60);
        let (w, a) = count(None, t0, 1, minute);
        assert_eq!(a, Ok(()));
        let (w, a) = count(Some(w), t0 + chrono::Duration::seconds(20), 1, minute);
        assert_eq!((a, w.used), (Err(40), 1));
        let (w, a) = count(Some(w), t0 + chrono::Duration::seconds(60), 1, minute);
        assert_eq!((a, w.used), (Ok(()), 1));
    }
}
