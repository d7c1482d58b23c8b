//! The real clock: wall time for `now`, tokio for sleeping. The only place the product reads it.
//!
//! `now` is the wall time when the process first asked, moved on by a monotonic clock: a step of
//! the system clock (NTP correcting it, an operator setting it) during a run neither shortens nor
//! stretches a wait. The lease depends on it: a contender takes a lease over after watching it
//! unchanged for its duration, timed on this clock.

use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use coldstandby_engine::{Clock, Timestamp};

/// Wall-clock time and tokio sleeps.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

/// The wall time (Unix ms) and the monotonic instant of the process's first reading.
#[allow(clippy::disallowed_methods)] // the one real clock
fn origin() -> &'static (u64, Instant) {
    static ORIGIN: OnceLock<(u64, Instant)> = OnceLock::new();
    ORIGIN.get_or_init(|| {
        let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
        (u64::try_from(since_epoch.as_millis()).unwrap_or(u64::MAX), Instant::now())
    })
}

impl SystemClock {
    /// The current time: wall time at the first reading, plus the monotonic time since.
    pub fn now() -> Timestamp {
        let (wall, instant) = origin();
        let elapsed = u64::try_from(instant.elapsed().as_millis()).unwrap_or(u64::MAX);
        Timestamp::from_unix_millis(wall.saturating_add(elapsed))
    }
}

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Self::now()
    }

    #[allow(clippy::disallowed_methods)] // the one real clock
    async fn sleep_until(&self, until: Timestamp) {
        let remaining = until.saturating_since(Self::now());
        if !remaining.is_zero() {
            tokio::time::sleep(remaining).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::disallowed_methods)] // compares the clock with the wall time
    fn now_is_wall_time_and_never_goes_back() {
        let wall = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
        let first = SystemClock::now().unix_millis();
        assert!(first.abs_diff(wall) < 5_000, "{first} vs wall {wall}");
        let second = SystemClock::now();
        assert!(second.unix_millis() >= first);
    }
}
