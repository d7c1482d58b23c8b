//! What can go wrong in the simulated region, as EC2 would show it: the region-wide faults a
//! scenario switches on, and the error answers EC2 gives (not found, not authorized, wrong state,
//! request limit exceeded).

use std::time::Duration;

use coldstandby_engine::{ApiError, ErrorKind, InstanceId};
use serde::{Deserialize, Serialize};

/// Faults that hit any call, as probabilities per call (0.0 to 1.0).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RegionFaults {
    /// `RequestLimitExceeded` regardless of the request buckets.
    pub throttle: f64,
    /// A 5xx `InternalError`.
    pub transient: f64,
    /// DescribeInstances answers with an empty list.
    pub empty_describe: f64,
    /// DescribeInstances shows each instance as it was up to `stale_describe_max_ms` earlier
    /// (eventual consistency: each instance's lag drawn on its own, so one answer can mix ages,
    /// and a later answer can be older than an earlier one).
    pub stale_describe: f64,
    /// The oldest a stale answer may be; 0 means 2 s.
    #[serde(default)]
    pub stale_describe_max_ms: u64,
    /// DescribeInstances leaves out each instance with probability one half (a partial answer).
    #[serde(default)]
    pub partial_describe: f64,
    /// A tag write shows in describe answers only this long after it was accepted.
    #[serde(default)]
    pub tag_lag_ms: u64,
    /// Terminated instances drop out of describe answers (and calls on them find nothing) this
    /// long after terminating; 0 means an hour, as EC2 does.
    #[serde(default)]
    pub purge_terminated_after_ms: u64,
    /// The call takes `latency_spike_ms` longer.
    pub latency_spike: f64,
    pub latency_spike_ms: u64,
    /// A start or stop naming several instances passes over one in a wrong state (leaving it
    /// as it is) instead of refusing the whole request. AWS does not say which it does: the
    /// region models both readings.
    #[serde(default)]
    pub wrong_state_spares_batch: bool,
    /// A describe naming more instance ids than this is refused as invalid (0: no limit). EC2
    /// documents none; callers report refusals above 200: both readings.
    #[serde(default)]
    pub describe_filter_limit: usize,
    /// Describes pass their ids in an `instance-id` filter, not in `InstanceIds`: EC2 then counts
    /// them as naming no instance, and fails every one while any zone is disrupted. The AWS
    /// adapter names its ids; this models a provider that does not (a regression to catch).
    #[serde(default)]
    pub describe_by_filter: bool,
    /// A start, stop or tag write is received but carried out only later, up to
    /// `late_landing_max_ms` after it was made, and its answer never arrives (the caller times
    /// out): a call that lands after its caller gave up, but no later than
    /// `late_landing_after_abandon_ms` after that.
    #[serde(default)]
    pub late_landing: f64,
    #[serde(default)]
    pub late_landing_max_ms: u64,
    #[serde(default)]
    pub late_landing_after_abandon_ms: u64,
}

/// The oldest answer the stale-describe fault serves unless told otherwise.
pub(crate) const DEFAULT_MAX_STALENESS: Duration = Duration::from_secs(2);

/// How long EC2 keeps returning a terminated instance, unless told otherwise.
pub(crate) const DEFAULT_PURGE_AFTER: Duration = Duration::from_secs(3600);

/// The message of a throttle caused by the request buckets, not by an injected fault.
pub(crate) const BUCKET_EXCEEDED: &str = "Request limit exceeded (request bucket empty).";

pub(crate) fn not_found(id: &InstanceId) -> ApiError {
    ApiError::new(
        ErrorKind::NotFound,
        "InvalidInstanceID.NotFound",
        format!("The instance ID '{id}' does not exist"),
    )
}

pub(crate) fn denied(id: &InstanceId, action: &str) -> ApiError {
    ApiError::new(
        ErrorKind::Denied,
        "UnauthorizedOperation",
        format!("You are not authorized to perform this operation ({action} on {id}). Encoded authorization failure message: c2ltdWxhdGVk"),
    )
}

pub(crate) fn incorrect_state(id: &InstanceId, what: &str) -> ApiError {
    ApiError::new(ErrorKind::WrongState, "IncorrectInstanceState", format!("The instance '{id}' {what}"))
}
