//! The real clock: wall time for `now`, tokio for sleeping. The only place the product reads it.
//!
//! `now` is the wall time at an anchor, moved on by the time since on `CLOCK_BOOTTIME`, which
//! keeps counting while the machine is suspended (a laptop closed mid-switchover): a step of the
//! system clock (NTP correcting it, an operator setting it) during a run neither shortens nor
//! stretches a wait, and a suspend is not mistaken for no time at all (`Instant`, on
//! `CLOCK_MONOTONIC`, stands still then). The lease depends on it: a contender takes a lease over
//! after watching it unchanged for its duration, timed on this clock, and a holder stops acting
//! by it. The anchor is the process's first reading, and is taken again at the start of every
//! Lambda invocation ([`SystemClock::reanchor`]): between invocations Lambda may freeze the
//! environment, and its monotonic clocks are reported not to advance meanwhile. `now` never goes
//! back: a new anchor behind the last reading is moved up to it.

use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use coldstandby_engine::{millis, Clock, Timestamp};
use rustix::time::{clock_gettime, ClockId};

/// Wall-clock time and tokio sleeps.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

/// Wall time (Unix ms) at an anchor, the boot clock then, and the latest time handed out.
#[derive(Clone, Copy, Debug)]
struct Anchor {
    wall_ms: u64,
    boot: Duration,
    latest_ms: u64,
}

static ANCHOR: Mutex<Option<Anchor>> = Mutex::new(None);

/// Time since boot, suspends included.
fn boot_time() -> Duration {
    let spec = clock_gettime(ClockId::Boottime);
    let secs = u64::try_from(spec.tv_sec).unwrap_or(0);
    let nanos = u32::try_from(spec.tv_nsec).unwrap_or(0);
    Duration::new(secs, nanos)
}

#[allow(clippy::disallowed_methods)] // the one real clock
fn wall_ms() -> u64 {
    let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    millis(since_epoch)
}

impl SystemClock {
    /// The current time: wall time at the anchor, plus the boot clock's time since.
    pub fn now() -> Timestamp {
        let mut anchor = ANCHOR.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let current =
            *anchor.get_or_insert_with(|| Anchor { wall_ms: wall_ms(), boot: boot_time(), latest_ms: 0 });
        let elapsed = millis(boot_time().saturating_sub(current.boot));
        let now_ms = current.wall_ms.saturating_add(elapsed).max(current.latest_ms);
        *anchor = Some(Anchor { latest_ms: now_ms, ..current });
        Timestamp::from_unix_millis(now_ms)
    }

    /// Take the wall time again as the anchor (a Lambda invocation's start: the environment may
    /// have been frozen since the last). Never moves `now` back.
    pub fn reanchor() {
        let mut anchor = ANCHOR.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let latest_ms = anchor.map_or(0, |anchor| anchor.latest_ms);
        *anchor = Some(Anchor { wall_ms: wall_ms().max(latest_ms), boot: boot_time(), latest_ms });
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
    fn now_is_wall_time_and_never_goes_back() {
        let wall = wall_ms();
        let first = SystemClock::now().unix_millis();
        assert!(first.abs_diff(wall) < 5_000, "{first} vs wall {wall}");
        let second = SystemClock::now();
        assert!(second.unix_millis() >= first);
        SystemClock::reanchor();
        let third = SystemClock::now();
        assert!(third >= second && third.unix_millis().abs_diff(wall_ms()) < 5_000);
    }

    #[test]
    #[allow(clippy::disallowed_methods)] // compares the boot clock with std's monotonic one
    fn the_boot_clock_moves_with_the_monotonic_one() {
        let (started, boot) = (std::time::Instant::now(), boot_time());
        // Spin (bounded) until the monotonic clock has moved 10 ms: no sleep in a test.
        let mut spins = 0u64;
        while started.elapsed() < Duration::from_millis(10) && spins < 10_000_000_000 {
            spins += 1;
            std::hint::spin_loop();
        }
        let (on_boot, on_instant) = (boot_time().saturating_sub(boot), started.elapsed());
        assert!(on_instant >= Duration::from_millis(10), "spun {spins} times");
        assert!(on_boot.abs_diff(on_instant) < Duration::from_millis(5), "{on_boot:?} vs {on_instant:?}");
    }
}
