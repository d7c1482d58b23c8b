//! How a failover is asked to run: why, how often it observes, its seed and an earlier deadline.

use std::time::Duration;

use super::DEFAULT_POLL_INTERVAL;
use crate::time::Timestamp;

/// How a failover is run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// Why this failover runs (an alarm name, "manual", ...), for the report.
    pub trigger: String,
    /// Observe and plan, change nothing.
    pub dry_run: bool,
    pub poll_interval: Duration,
    /// Seeds the backoff jitter, so a simulated run replays exactly.
    pub seed: u64,
    /// A deadline earlier than the group's own (e.g. a Lambda invocation's remaining time).
    pub deadline: Option<Timestamp>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            trigger: "manual".to_owned(),
            dry_run: false,
            poll_interval: DEFAULT_POLL_INTERVAL,
            seed: 0,
            deadline: None,
        }
    }
}
