//! The invariants a sweep checks after every engine step, each with a name. They are judged from
//! the simulated region's own records (its call log and the instances' true states), not from
//! what the engine believes.

use std::collections::BTreeMap;
use std::time::Duration;

use coldstandby_engine::rate_limit::Bucket;
use coldstandby_engine::tags::{Role, ROLE_TAG};
use coldstandby_engine::{
    Call, Event, EventKind, InstanceId, InstanceState, Ordering, Outcome, Report, Timestamp,
};
use serde::Serialize;

use crate::region::SimRegion;

/// At most one member of a group is recorded active.
pub const SINGLE_ACTIVE: &str = "single-active";
/// In fence-first, no standby is started before the members it replaces are stopped.
pub const FENCE_BEFORE_START: &str = "fence-before-start";
/// In either ordering, nothing is recorded active before the old members are stopped.
pub const FENCED_BEFORE_ACTIVE: &str = "fenced-before-active";
/// A member is recorded active only once it has been observed running (and is running).
pub const ACTIVE_OBSERVED_RUNNING: &str = "active-observed-running";
/// Every trigger ends within its deadline with a running active member or a reported failure.
pub const TRIGGER_ENDS: &str = "trigger-ends";
/// Without injected throttling, no call exceeds EC2's request buckets.
pub const WITHIN_REQUEST_BUCKETS: &str = "within-request-buckets";
/// After a throttled answer, the same call waits before it is made again.
pub const BACKS_OFF_WHEN_THROTTLED: &str = "backs-off-when-throttled";
/// No call touches an instance outside the group.
pub const GROUP_ONLY: &str = "group-only";

/// How long after its deadline a failing trigger may still be stopping standbys it started.
pub const ROLLBACK_ALLOWANCE: Duration = Duration::from_secs(180);
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
    members: Vec<InstanceId>,
    calls_checked: usize,
    events_checked: usize,
    ordering: Ordering,
    /// The current trigger's fence targets, once it has planned.
    fence: Vec<InstanceId>,
    /// When each member was first observed running by the current trigger.
    observed_running: BTreeMap<InstanceId, Timestamp>,
    /// The last throttled answer per (operation, instance).
    throttled: BTreeMap<(&'static str, Option<InstanceId>), Timestamp>,
    pub violations: Vec<Violation>,
}

impl Checker {
    pub fn new(seed: u64, members: Vec<InstanceId>) -> Self {
        Self {
            seed,
            members,
            calls_checked: 0,
            events_checked: 0,
            ordering: Ordering::FenceFirst,
            fence: Vec::new(),
            observed_running: BTreeMap::new(),
            throttled: BTreeMap::new(),
            violations: Vec::new(),
        }
    }

    fn violate(&mut self, invariant: &'static str, at: Timestamp, detail: String) {
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
            let key = (record.call.operation(), record.call.instance().cloned());
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
            Outcome::Planned { .. } | Outcome::Failed { .. } => None,
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

    /// A trigger's run did not finish within the step bound.
    pub fn hung(&mut self, at: Timestamp, steps: u64) {
        self.violate(TRIGGER_ENDS, at, format!("no end after {steps} engine steps"));
    }
}
