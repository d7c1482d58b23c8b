//! How a failover is asked to run: why, on what evidence, how often it observes, its seed and an
//! earlier deadline.

use std::time::Duration;

use super::DEFAULT_POLL_INTERVAL;
use crate::time::Timestamp;

/// What a run was started on: a failure seen, of which member, and when. A run acts on it only
/// while it is still about the group as it is: if the answers it plans from record another
/// member active, or that member activated after `at`, or `fresh_for` has passed, the failure
/// is history (the run ends [`Outcome::MovedOn`](crate::Outcome::MovedOn), changing nothing).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Evidence {
    /// The member seen failing, when the evidence names one (a composite alarm may not).
    pub member: Option<crate::InstanceId>,
    /// When the failure was seen (an alarm's state change, a watcher's verdict).
    pub at: Timestamp,
    /// How long after `at` the failure may still be acted on (None: as long as the group has
    /// not moved on). A watcher's verdict is about the member's state then: a watcher that
    /// paused, or waited long for the lease, must see the failure again.
    pub fresh_for: Option<Duration>,
}

/// How a failover is run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// Why this failover runs (an alarm name, "manual", ...), for the report.
    pub trigger: String,
    /// The failure it acts on; None for an operator's run, which acts on the group as it is.
    pub evidence: Option<Evidence>,
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
            evidence: None,
            dry_run: false,
            poll_interval: DEFAULT_POLL_INTERVAL,
            seed: 0,
            deadline: None,
        }
    }
}
