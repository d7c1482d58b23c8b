//! The invariants a sweep checks after every engine step, each with a name. They are judged from
//! the simulated region's own records (its call log and the instances' true states), not from
//! what the engine believes.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use coldstandby_engine::rate_limit::Bucket;
use coldstandby_engine::tags::{Role, ROLE_TAG};
use coldstandby_engine::{
    Call, Event, EventKind, Failure, GroupSpec, InstanceId, InstanceState, Ordering, Outcome, Report,
    Timestamp,
};
use serde::Serialize;

use crate::model::{CapacityShortage, Timings};
use crate::region::SimRegion;
use crate::sweep::invariant::Invariant;

/// At most one member of a group is recorded active.
pub const SINGLE_ACTIVE: &str = Invariant::SingleActive.name();
/// In fence-first, no standby is started before the members it replaces are stopped.
pub const FENCE_BEFORE_START: &str = Invariant::FenceBeforeStart.name();
/// In either ordering, nothing is recorded active before the old members are stopped.
pub const FENCED_BEFORE_ACTIVE: &str = Invariant::FencedBeforeActive.name();
/// A member is recorded active only once it has been observed running (and is running).
pub const ACTIVE_OBSERVED_RUNNING: &str = Invariant::ActiveObservedRunning.name();
/// Every trigger ends within its deadline with a running active member or a reported failure.
pub const TRIGGER_ENDS: &str = Invariant::TriggerEnds.name();
/// Without injected throttling, no call exceeds EC2's request buckets.
pub const WITHIN_REQUEST_BUCKETS: &str = Invariant::WithinRequestBuckets.name();
/// After a throttled answer, the same call waits before it is made again.
pub const BACKS_OFF_WHEN_THROTTLED: &str = Invariant::BacksOffWhenThrottled.name();
/// No call touches an instance outside the group.
pub const GROUP_ONLY: &str = Invariant::GroupOnly.name();
/// Judged from the instances' true states: when a trigger ends, and once the region has settled
/// after it, at most one member is pending or running (and, after a success, it is the member
/// recorded active).
pub const SINGLE_LIVE: &str = Invariant::SingleLive.name();
/// After a trigger fails, no instance it started is pending or running once the region has
/// settled, except the one it promoted behind a fence that held (or one recorded active by an
/// earlier success).
pub const ROLLBACK_COMPLETE: &str = Invariant::RollbackComplete.name();
/// A trigger fails with no standby promoted only when the region shows none could have been:
/// each was gone, denied, unsupported, short of capacity beyond the retry budget, failing to
/// boot, or booting slower than its start timeout. Not judged for a run a throttling burst
/// blinded for a while.
pub const PROMOTES_WHEN_POSSIBLE: &str = Invariant::PromotesWhenPossible.name();
/// An alarm event from before a switchback, delivered again after it, stops nothing.
pub const NO_FAILOVER_OF_HEALTHY_PRIMARY: &str = Invariant::NoFailoverOfHealthyPrimary.name();

/// With racing controllers under the group's lease: every mutating call is made while the lease
/// table names its caller the holder (judged from the table's history and the call log).
pub const ONE_CONTROLLER_PER_GROUP: &str = Invariant::OneControllerPerGroup.name();

/// Every invariant's name, in the documentation's order.
pub const ALL: [&str; 15] = {
    let mut names = [""; 15];
    let mut index = 0;
    while index < Invariant::ALL.len() {
        names[index] = Invariant::ALL[index].name();
        index += 1;
    }
    names
};

/// How long after its deadline a failing trigger may still be stopping standbys it started: the
/// engine's own bound, plus the calls in flight when it is reached.
pub const ROLLBACK_ALLOWANCE: Duration =
    Duration::from_secs(coldstandby_engine::failover::ROLLBACK_LIMIT.as_secs() + 60);
/// The shortest wait the engine's backoff allows after a throttled answer.
const MIN_BACKOFF: Duration = Duration::from_millis(100);

/// One broken invariant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Violation {
    pub seed: u64,
    pub invariant: &'static str,
    pub at: Timestamp,
    pub detail: String,
}

/// Checks one scenario's calls and states as they happen.
#[derive(Debug)]
pub struct Checker {
    seed: u64,
    pub(super) members: Vec<InstanceId>,
    /// Members `single-live` does not count for now: out of every controller's reach (see
    /// `reach::excused_at`), kept up to date by the sweep before each judgement.
    pub(super) out_of_reach: BTreeSet<InstanceId>,
    /// Traffic changes already judged by `no-traffic-before-fence`.
    pub(super) traffic_checked: usize,
    calls_checked: usize,
    events_checked: usize,
    ordering: Ordering,
    /// The current trigger's fence targets, once it has planned.
    fence: Vec<InstanceId>,
    /// When each member was first observed running by the current trigger.
    observed_running: BTreeMap<InstanceId, Timestamp>,
    /// The last throttled answer per call (its operation, and the whole call as JSON).
    throttled: BTreeMap<(&'static str, String), Timestamp>,
    pub violations: Vec<Violation>,
}

impl Checker {
    pub fn new(seed: u64, members: Vec<InstanceId>) -> Self {
        Self {
            seed,
            members,
            out_of_reach: BTreeSet::new(),
            traffic_checked: 0,
            calls_checked: 0,
            events_checked: 0,
            ordering: Ordering::FenceFirst,
            fence: Vec::new(),
            observed_running: BTreeMap::new(),
            throttled: BTreeMap::new(),
            violations: Vec::new(),
        }
    }

    pub(super) fn violate(&mut self, invariant: &'static str, at: Timestamp, detail: String) {
        self.violations.push(Violation { seed: self.seed, invariant, at, detail });
    }

    /// A new trigger starts: forget the previous one's plan and observations.
    pub fn start_trigger(&mut self, ordering: Ordering) {
        self.ordering = ordering;
        self.fence.clear();
        self.observed_running.clear();
        // Backing off is per run: a new invocation need not wait for its predecessor's throttle.
        self.throttled.clear();
        self.events_checked = 0;
    }

    /// Check everything that happened since the last step.
    #[expect(
        clippy::too_many_lines,
        reason = "each invariant judged after a step, in turn; split per invariant when next touched"
    )]
    pub fn after_step(&mut self, region: &SimRegion, events: &[Event], throttling_injected: bool) {
        for event in &events[self.events_checked.min(events.len())..] {
            match &event.kind {
                EventKind::Planned { fence, .. } => self.fence.clone_from(fence),
                EventKind::Observed { instance, state: InstanceState::Running, .. } => {
                    self.observed_running.entry(instance.clone()).or_insert(event.at);
                }
                _ => {}
            }
        }
        self.events_checked = events.len();

        let calls = region.calls_since(self.calls_checked);
        for record in &calls {
            let at = record.at;
            let touched: Vec<&InstanceId> = match &record.call {
                Call::Describe { instances } => instances.iter().collect(),
                call => call.instance().into_iter().collect(),
            };
            if let Some(outsider) = touched.iter().find(|id| !self.members.contains(id)) {
                let detail =
                    format!("{} touched {outsider}, which is not in the group", record.call.operation());
                self.violate(GROUP_ONLY, at, detail);
            }
            if record.bucket_exceeded && !throttling_injected {
                let detail = format!(
                    "{} exceeded the {:?} request bucket",
                    record.call.operation(),
                    Bucket::of(&record.call)
                );
                self.violate(WITHIN_REQUEST_BUCKETS, at, detail);
            }
            // The same call: the same operation on the same thing (two route tables' changes,
            // or two checks' probes, are different calls).
            let key = (record.call.operation(), serde_json::to_string(&record.call).unwrap_or_default());
            if let Some(throttled_at) = self.throttled.get(&key).copied() {
                if at.saturating_since(throttled_at) < MIN_BACKOFF {
                    let detail =
                        format!("{} retried {:?} after a throttle", key.0, at.saturating_since(throttled_at));
                    self.violate(BACKS_OFF_WHEN_THROTTLED, at, detail);
                }
                self.throttled.remove(&key);
            }
            if record.error.as_deref() == Some("RequestLimitExceeded") {
                self.throttled.insert(key, at);
            }
            if record.error.is_some() {
                continue;
            }
            match &record.call {
                Call::Start { instance } if self.ordering == Ordering::FenceFirst => {
                    // The members this start replaces: the fence, less the instance itself (a
                    // standby fenced at first may later become the candidate, once stopped).
                    for fenced in self.fence.clone().into_iter().filter(|fenced| fenced != instance) {
                        let state = region.state_at(&fenced, at);
                        if state.is_some_and(InstanceState::is_live) {
                            let detail = format!(
                                "started {instance} while {fenced} was {}",
                                state.map_or("?", InstanceState::as_str)
                            );
                            self.violate(FENCE_BEFORE_START, at, detail);
                        }
                    }
                    // Started, it is a candidate from now on, no longer a member the next
                    // start replaces (given up on, the engine stops it before any success).
                    self.fence.retain(|fenced| fenced != instance);
                }
                Call::SetTags { instance, tags }
                    if tags.get(ROLE_TAG).map(String::as_str) == Some("active") =>
                {
                    for fenced in self.fence.clone() {
                        let state = region.state_at(&fenced, at);
                        if fenced != *instance && state.is_some_and(InstanceState::is_live) {
                            let detail = format!(
                                "recorded {instance} active while {fenced} was {}",
                                state.map_or("?", InstanceState::as_str)
                            );
                            self.violate(FENCED_BEFORE_ACTIVE, at, detail);
                        }
                    }
                    let running = region.state_at(instance, at) == Some(InstanceState::Running);
                    let observed = self.observed_running.get(instance).is_some_and(|seen| *seen <= at);
                    if !running || !observed {
                        let detail = format!(
                            "recorded {instance} active (running: {running}, observed running: {observed})"
                        );
                        self.violate(ACTIVE_OBSERVED_RUNNING, at, detail);
                    }
                }
                _ => {}
            }
        }
        self.calls_checked += calls.len();
        self.no_traffic_before_fence(region);

        let active: Vec<InstanceId> = self
            .members
            .iter()
            .filter(|id| {
                region.instance(id).is_some_and(|i| Role::recorded_in(&i.tags) == Some(Role::Active))
            })
            .cloned()
            .collect();
        if active.len() > 1 {
            let at = coldstandby_engine::Clock::now(region);
            let list: Vec<&str> = active.iter().map(InstanceId::as_str).collect();
            if !self.violations.iter().any(|v| v.invariant == SINGLE_ACTIVE) {
                self.violate(SINGLE_ACTIVE, at, format!("recorded active: {}", list.join(", ")));
            }
        }
    }

    /// A trigger's run ended: within its deadline, with a running active member or a reason.
    pub fn after_trigger(&mut self, region: &SimRegion, report: &Report, deadline: Timestamp) {
        if report.finished_at > deadline + ROLLBACK_ALLOWANCE {
            let detail =
                format!("finished {:?} after its deadline", report.finished_at.saturating_since(deadline));
            self.violate(TRIGGER_ENDS, report.finished_at, detail);
        }
        let active = match &report.outcome {
            Outcome::FailedOver { to, .. } => Some(to),
            Outcome::AlreadyActive { active } => Some(active),
            // A run whose failure was history claims nothing about who serves.
            Outcome::MovedOn { .. } | Outcome::Planned { .. } | Outcome::Failed { .. } => None,
        };
        if let Some(active) = active {
            let state = region.state_at(active, report.finished_at);
            let recorded =
                region.instance(active).is_some_and(|i| Role::recorded_in(&i.tags) == Some(Role::Active));
            if state != Some(InstanceState::Running) || !recorded {
                let detail = format!("ended with {active} active but {state:?} (recorded: {recorded})");
                self.violate(TRIGGER_ENDS, report.finished_at, detail);
            }
        }
    }

    /// The members EC2 shows pending or running at `at`: what can serve, or soon will.
    fn serving(&self, region: &SimRegion, at: Timestamp) -> Vec<InstanceId> {
        self.members
            .iter()
            .filter(|id| !self.out_of_reach.contains(*id))
            .filter(|id| {
                matches!(region.state_at(id, at), Some(InstanceState::Pending | InstanceState::Running))
            })
            .cloned()
            .collect()
    }

    /// When a trigger ends (`at`) or the region has settled after it: at most one member can
    /// serve, and after a success it is the one the run made active.
    pub fn single_live(&mut self, region: &SimRegion, at: Timestamp, active: Option<&InstanceId>) {
        let serving = self.serving(region, at);
        let wrong_one = active.is_some_and(|active| serving.iter().any(|id| id != active));
        if serving.len() > 1 || wrong_one {
            let list: Vec<String> = serving
                .iter()
                .map(|id| format!("{id} {}", region.state_at(id, at).map_or("?", InstanceState::as_str)))
                .collect();
            let expected = active.map_or(String::new(), |active| format!(" (active: {active})"));
            self.violate(SINGLE_LIVE, at, format!("can serve: {}{expected}", list.join(", ")));
        }
    }

    /// After a failed trigger, once the region has settled (`at`): nothing it started still runs.
    /// A member whose zone was not answering EC2 when the last run ended (`last_run_ended`) is
    /// excused: no run could stop it, and none was left to try when the zone came back.
    pub fn rollback_complete(
        &mut self,
        region: &SimRegion,
        at: Timestamp,
        last_run_ended: Timestamp,
        started: &[InstanceId],
    ) {
        for instance in started {
            let state = region.state_at(instance, at);
            let recorded_active =
                region.instance(instance).is_some_and(|i| Role::recorded_in(&i.tags) == Some(Role::Active));
            let out_of_reach = region.instance(instance).is_some_and(|i| {
                region.zone_impaired_during(&i.availability_zone, last_run_ended, last_run_ended)
            });
            if matches!(state, Some(InstanceState::Pending | InstanceState::Running))
                && !recorded_active
                && !out_of_reach
            {
                let detail = format!(
                    "{instance} is {} after the failed run that started it",
                    state.map_or("?", InstanceState::as_str)
                );
                self.violate(ROLLBACK_COMPLETE, at, detail);
            }
        }
    }

    /// A failed trigger that promoted nothing: every standby must have been out of reach, by
    /// the region's own account of it (its faults and its state when the trigger began).
    pub fn promotes_when_possible(
        &mut self,
        region: &SimRegion,
        spec: &GroupSpec,
        timings: &Timings,
        began: Timestamp,
        report: &Report,
    ) {
        let Outcome::Failed { failure: Failure::NoStandbyAvailable { .. } } = &report.outcome else {
            return;
        };
        // A member whose zone did not answer EC2 during the run could not be started, observed
        // or (for the member to replace) fenced: the run may rightly have promoted nothing.
        let zone_down = |id: &InstanceId| {
            region.instance(id).is_some_and(|instance| {
                region.zone_impaired_during(&instance.availability_zone, began, report.finished_at)
            })
        };
        if spec.members().iter().any(|member| !spec.standbys.contains(member) && zone_down(member)) {
            return;
        }
        for standby in spec.standbys.iter().filter(|standby| !zone_down(standby)) {
            if let Some(reason) = could_have_been_promoted(region, spec, timings, standby, began) {
                let detail = format!("no standby promoted, but {standby} could have been: {reason}");
                self.violate(PROMOTES_WHEN_POSSIBLE, report.finished_at, detail);
            }
        }
    }

    /// A trigger's run did not finish within the step bound.
    pub fn hung(&mut self, at: Timestamp, steps: u64) {
        self.violate(TRIGGER_ENDS, at, format!("no end after {steps} engine steps"));
    }
}

/// How long a start may take beyond the boot itself (calls, polling, and the engine's wait for
/// an answer that cannot predate the start).
const START_SLACK: Duration =
    Duration::from_secs(5 + coldstandby_engine::failover::DESCRIBE_STALENESS.as_secs());

/// Why `standby` could have been promoted by a run that began at `began`, or None if the region
/// shows it could not: gone, denied, unsupported, short of capacity past the retry budget,
/// falling back to stopped, or booting slower than the start timeout allows.
fn could_have_been_promoted(
    region: &SimRegion,
    spec: &GroupSpec,
    timings: &Timings,
    standby: &InstanceId,
    began: Timestamp,
) -> Option<String> {
    let instance = region.instance(standby)?;
    let state = region.state_at(standby, began)?;
    if state.is_gone() {
        return None;
    }
    // The start timeout runs from the standby's turn (no earlier than the run's start): a wait
    // for it to stop counts, and so does one for capacity.
    let mut waited = Duration::ZERO;
    if state == InstanceState::Stopping {
        let stopped_at = region
            .transitions()
            .into_iter()
            .find(|t| t.instance == *standby && t.at >= began && t.to == InstanceState::Stopped)?;
        waited = stopped_at.at.saturating_since(began);
    }
    let faults = &instance.faults;
    if faults.denied || faults.start_unsupported || faults.start_fails_with.is_some() {
        return None;
    }
    let capacity_wait = match faults.capacity_shortage {
        None => Duration::ZERO,
        Some(CapacityShortage::ForGood) => return None,
        Some(CapacityShortage::Until(until)) => {
            let wait = until.saturating_since(began);
            if wait + START_SLACK > spec.timeouts.capacity_retry {
                return None;
            }
            wait
        }
    };
    let boot = faults.boot_takes_ms.map_or(Duration::from_millis(timings.boot.max_ms), Duration::from_millis);
    if waited.max(capacity_wait) + boot + START_SLACK > spec.timeouts.start {
        return None;
    }
    Some(format!("{state} when the run began, no fault keeping it from running"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{SimInstance, Timings};
    use crate::region::ImpairedCalls;

    const START: Timestamp = Timestamp::from_unix_millis(1_800_000_000_000);

    fn region_with(states: &[(&str, InstanceState)]) -> (SimRegion, Vec<InstanceId>) {
        let region = SimRegion::new(1, START, Timings::default());
        let mut members = Vec::new();
        for (id, state) in states {
            let id: InstanceId = id.parse().unwrap();
            region.add_instance(SimInstance::new(id.clone(), "ap-northeast-1a", *state));
            members.push(id);
        }
        (region, members)
    }

    #[test]
    fn two_members_that_can_serve_break_single_live() {
        let (region, members) = region_with(&[
            ("i-0000000000000000a", InstanceState::Running),
            ("i-0000000000000000b", InstanceState::Pending),
        ]);
        let mut checker = Checker::new(7, members.clone());
        checker.single_live(&region, START, Some(&members[0]));
        assert_eq!(checker.violations.len(), 1, "{:?}", checker.violations);
        assert_eq!(checker.violations[0].invariant, SINGLE_LIVE);

        // One serving member is fine, unless it is not the one the run made active.
        let (region, members) = region_with(&[
            ("i-0000000000000000a", InstanceState::Stopped),
            ("i-0000000000000000b", InstanceState::Running),
        ]);
        let mut checker = Checker::new(7, members.clone());
        checker.single_live(&region, START, Some(&members[1]));
        assert!(checker.violations.is_empty());
        checker.single_live(&region, START, Some(&members[0]));
        assert_eq!(checker.violations.len(), 1);
    }

    #[test]
    fn a_started_standby_left_running_after_a_failure_breaks_rollback_complete() {
        let (region, members) = region_with(&[
            ("i-0000000000000000a", InstanceState::Stopped),
            ("i-0000000000000000b", InstanceState::Running),
        ]);
        let mut checker = Checker::new(7, members.clone());
        checker.rollback_complete(&region, START, START, &members[1..]);
        assert_eq!(checker.violations.len(), 1);
        assert_eq!(checker.violations[0].invariant, ROLLBACK_COMPLETE);
        let mut stopped = Checker::new(7, members.clone());
        stopped.rollback_complete(&region, START, START, &members[..1]);
        assert!(stopped.violations.is_empty());

        // Its zone still silent when the last run ended: nobody could have stopped it.
        let later = START + Duration::from_secs(600);
        region.impair_zone_between("ap-northeast-1a", ImpairedCalls::Fail, START, Some(later));
        let mut silent = Checker::new(7, members.clone());
        silent.rollback_complete(&region, later, START, &members[1..]);
        assert!(silent.violations.is_empty(), "{:?}", silent.violations);
        // Back before that run ended: it should have been stopped.
        let mut answered = Checker::new(7, members.clone());
        answered.rollback_complete(&region, later, later + Duration::from_secs(1), &members[1..]);
        assert_eq!(answered.violations.len(), 1);
    }

    #[test]
    fn failing_while_a_standby_could_start_breaks_promotes_when_possible() {
        let (region, members) = region_with(&[
            ("i-0000000000000000a", InstanceState::Stopped),
            ("i-0000000000000000b", InstanceState::Stopped),
        ]);
        let spec = GroupSpec::new("web", members[0].clone(), vec![members[1].clone()]);
        let report = Report {
            group: "web".to_owned(),
            started_at: START,
            finished_at: START,
            outcome: Outcome::Failed { failure: Failure::NoStandbyAvailable { tried: Vec::new() } },
            milestones: coldstandby_engine::Milestones::default(),
            calls: BTreeMap::new(),
            events: Vec::new(),
        };
        let mut checker = Checker::new(7, members.clone());
        checker.promotes_when_possible(&region, &spec, &Timings::default(), START, &report);
        assert_eq!(checker.violations.len(), 1, "{:?}", checker.violations);
        assert_eq!(checker.violations[0].invariant, PROMOTES_WHEN_POSSIBLE);

        // Denied, it could not have been: the failure is allowed.
        region.with_instance(&members[1], |standby, _| standby.faults.denied = true);
        let mut checker = Checker::new(7, members);
        checker.promotes_when_possible(&region, &spec, &Timings::default(), START, &report);
        assert!(checker.violations.is_empty(), "{:?}", checker.violations);
    }
}
