//! The real clock: wall time for `now`, tokio for sleeping. The only place the product reads it.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use coldstandby_engine::{Clock, Timestamp};

/// Wall-clock time and tokio sleeps.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl SystemClock {
    /// The current wall-clock time.
    pub fn now() -> Timestamp {
        let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
        Timestamp::from_unix_millis(u64::try_from(since_epoch.as_millis()).unwrap_or(u64::MAX))
    }
}

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Self::now()
    }

    async fn sleep_until(&self, until: Timestamp) {
        let remaining = until.saturating_since(Self::now());
        if !remaining.is_zero() {
            tokio::time::sleep(remaining).await;
        }
    }
}
