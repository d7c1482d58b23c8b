//! How a watcher probes and decides: the interval, each probe's timeout, the M-of-N window, how
//! long other watchers are given to answer, how often EC2 is read, and the pause after a run
//! that did not succeed.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A watcher's settings. The defaults, and why:
///
/// - one probe round a second, each probe given 500 ms: a service on a VPC answers in a few
///   milliseconds, so half a second is a failure, not a slow answer;
/// - failed after 2 of the last 3 rounds: a dead service is declared 1 to 2.5 s after its last
///   answer; one lost probe never is, and another watcher must agree before anything is fenced
///   (see [`crate::vantage`]), so one watcher's bad second cannot fail a group over. A service
///   that pauses for longer than half a second (a stop-the-world collection) needs a larger
///   `timeout` or `failures`;
/// - other watchers and EC2 given 1 s to answer;
/// - every member described every 30 s: the active member's address and EC2's view (a member
///   EC2 reports not running is failed over at the next read: the slow second signal);
/// - 20 s (a lease's duration) before trying again a group whose run did not succeed: another
///   watcher may hold it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    pub interval: Duration,
    pub timeout: Duration,
    pub window: u32,
    pub failures: u32,
    pub peer_timeout: Duration,
    pub refresh: Duration,
    pub retry_after: Duration,
}

impl Settings {
    pub const MIN_INTERVAL: Duration = Duration::from_millis(200);
    pub const MAX_WINDOW: u32 = 20;

    /// The longest gap between two probe rounds of one member that still makes them a series:
    /// two rounds' worth of interval and timeout, and a second. A longer gap (the watcher was
    /// paused, its host suspended) makes the rounds before it history.
    pub fn round_gap_limit(&self) -> Duration {
        (self.interval + self.timeout) * 2 + Duration::from_secs(1)
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(1),
            timeout: Duration::from_millis(500),
            window: 3,
            failures: 2,
            peer_timeout: Duration::from_secs(1),
            refresh: Duration::from_secs(30),
            retry_after: Duration::from_secs(20),
        }
    }
}

impl Settings {
    /// Every problem with these settings, each as one sentence naming the setting.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.interval < Self::MIN_INTERVAL {
            problems.push(format!(
                "interval_ms {} is below the minimum of {} ms",
                self.interval.as_millis(),
                Self::MIN_INTERVAL.as_millis()
            ));
        }
        if self.timeout.is_zero() || self.timeout > self.interval {
            problems.push(format!(
                "timeout_ms {} must be more than 0 and at most interval_ms ({}): a probe ends before the next starts",
                self.timeout.as_millis(),
                self.interval.as_millis()
            ));
        }
        if self.window == 0 || self.window > Self::MAX_WINDOW {
            problems.push(format!("window {} must be between 1 and {}", self.window, Self::MAX_WINDOW));
        }
        if self.failures == 0 || self.failures > self.window {
            problems
                .push(format!("failures {} must be between 1 and window ({})", self.failures, self.window));
        }
        if self.peer_timeout.is_zero() {
            problems.push("peer_timeout_ms must be more than 0".to_owned());
        }
        if self.refresh < self.interval {
            problems
                .push(format!("refresh_seconds ({} s) must be at least interval_ms", self.refresh.as_secs()));
        }
        problems
    }

    /// The longest a dead member can go undeclared by this watcher alone: a round may start
    /// just before the death, then `failures` rounds must fail, the last one by its timeout.
    pub fn detection_bound(&self) -> Duration {
        self.interval * self.failures + self.timeout
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_valid_and_detect_within_three_seconds() {
        let settings = Settings::default();
        assert_eq!(settings.problems(), Vec::<String>::new());
        assert!(settings.detection_bound() <= Duration::from_millis(2_500));
    }

    #[test]
    fn each_bad_setting_is_named() {
        let settings = Settings {
            interval: Duration::from_millis(100),
            timeout: Duration::from_secs(1),
            window: 2,
            failures: 3,
            ..Settings::default()
        };
        let problems = settings.problems().join("\n");
        for name in ["interval_ms", "timeout_ms", "failures"] {
            assert!(problems.contains(name), "{name} in {problems}");
        }
    }
}
