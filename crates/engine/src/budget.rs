//! How long a failover may run, and how long the invocation that runs it must be given: one set
//! of numbers for the engine's own deadline, the handler's margin, the template's Lambda timeout
//! and the sweep's simulated invocations.

use std::time::Duration;

use crate::failover::{DESCRIBE_STALENESS, NOT_VISIBLE_GRACE};
use crate::group::GroupSpec;
use crate::provider::CALL_TIMEOUT;

/// How much of an invocation's time the engine leaves unused: the longest call in flight when the
/// engine's deadline comes (its answer is awaited), plus as long again for the first rollback
/// stops (a rollback longer than that is cut off, and the retried invocation finishes it from the
/// instances' real states).
pub const DEADLINE_MARGIN: Duration = Duration::from_secs(2 * CALL_TIMEOUT.as_secs());

/// Time for the cold start, reading the configuration and the preflight describe, before the
/// engine's own clock starts.
pub const STARTUP_ALLOWANCE: Duration = Duration::from_secs(10);

/// How long the engine may wait for answers to plan from: the grace for a member missing from
/// them, then the age an answer may have.
pub const PLAN_WAIT: Duration =
    Duration::from_secs(NOT_VISIBLE_GRACE.as_secs() + DESCRIBE_STALENESS.as_secs());

/// How long the fence may take before it fails closed: the stop (and forced stop) timeouts, then
/// the wait for an answer that cannot predate the last stop request.
pub fn fence_budget(spec: &GroupSpec) -> Duration {
    spec.timeouts.fence(spec.fence) + DESCRIBE_STALENESS
}

/// The longest one failover of `spec` may run, which is also the engine's own deadline: the plan,
/// the fence (a normal stop escalated to a forced one, and a settled answer), then each standby in turn retried for
/// capacity and waited for, never past the group's `failover` timeout.
/// How long movers may take to verify once the member is ready: a Route 53 change is in sync
/// within 60 s "under normal conditions", and a target group's default health check (5 passes
/// 30 s apart) needs about 150 s; three minutes covers both with room for retries.
pub const MOVERS_ALLOWANCE: Duration = Duration::from_secs(180);

/// The clients stage's share: the slowest readiness check's timeout (they run side by side),
/// then the movers'.
pub fn clients_budget(spec: &GroupSpec) -> Duration {
    let readiness = spec.readiness.iter().map(|check| check.timeout).max().unwrap_or_default();
    let movers = if spec.movers.is_empty() { Duration::ZERO } else { MOVERS_ALLOWANCE };
    readiness + movers
}

pub fn longest_run(spec: &GroupSpec) -> Duration {
    let timeouts = &spec.timeouts;
    let per_standby = timeouts.capacity_retry + timeouts.start;
    let standbys = u32::try_from(spec.standbys.len()).unwrap_or(u32::MAX);
    let unbounded =
        PLAN_WAIT.saturating_add(fence_budget(spec)).saturating_add(per_standby.saturating_mul(standbys));
    let unbounded = unbounded.saturating_add(clients_budget(spec));
    unbounded.min(timeouts.failover)
}

/// The invocation timeout that covers failovers adding up to `failovers` (the groups one alarm
/// event fails over, one after another): they, the margin and the start-up, in whole seconds.
pub fn invocation_timeout(failovers: Duration) -> Duration {
    let total = failovers + DEADLINE_MARGIN + STARTUP_ALLOWANCE;
    Duration::from_secs(total.as_secs() + u64::from(total.subsec_nanos() > 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_give_one_standby_its_plan_fence_capacity_and_start_and_cap_two() {
        let id = |text: &str| text.parse().unwrap();
        let one = GroupSpec::new("web", id("i-0000000a"), vec![id("i-0000000b")]);
        assert_eq!(longest_run(&one), Duration::from_secs(20 + 180 + 10 + 420));
        assert_eq!(invocation_timeout(longest_run(&one)), Duration::from_secs(670));
        let two = GroupSpec::new("web", id("i-0000000a"), vec![id("i-0000000b"), id("i-0000000c")]);
        assert_eq!(longest_run(&two), two.timeouts.failover);
    }
}
