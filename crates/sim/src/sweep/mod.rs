//! Seeded fault-injection sweeps: for each seed a random scenario on the simulated region (see
//! `scenario`), run trigger by trigger with the invariants `checker` judges after every
//! engine step, summarised, and replayable from its seed: the same seed gives the same event log,
//! byte for byte.

pub mod checker;
pub mod invariant;
pub mod operator;
mod provider;
pub mod race;
mod reach;
pub mod scenario;
mod summary;
pub mod traffic;
pub mod watch;

pub use provider::Fence;
use provider::ScenarioProvider;
pub use summary::{summarize, sweep, Distribution, Summary};

use std::collections::BTreeSet;

use coldstandby_engine::budget;
use coldstandby_engine::lock::{GroupLock, InProcessLocks};
use std::ops::ControlFlow;

use coldstandby_engine::driver::{self, Driven, Quiet};
use coldstandby_engine::fleet::{Fleet, Zones};
use coldstandby_engine::{
    Clock, EventKind, Evidence, Failover, Failure, GroupSpec, InstanceId, InstanceState, Options, Outcome,
    Report, Timestamp, WhenNotReady,
};
use serde::Serialize;

use crate::region::SimRegion;
use checker::{Checker, Violation};
use scenario::{FaultKind, Scenario, RETRY_AFTER};

/// Engine steps one trigger may take before the sweep calls it hung. A failover ends by its
/// deadline (at most 840 s here, about 4 describes a second plus retries), far below this.
pub(crate) const MAX_STEPS_PER_TRIGGER: u64 = 200_000;

/// How one trigger ended.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "ended", rename_all = "kebab-case")]
pub enum TriggerEnd {
    Finished {
        report: Box<Report>,
    },
    /// Cut off after some steps (the controller died); the group is left as it was.
    Crashed {
        after_steps: u64,
    },
    /// Lambda ended the invocation at its timeout (sized as the template sizes it), whatever
    /// the run was doing; like any function error, it is retried. The events up to then.
    TimedOut {
        events: Vec<coldstandby_engine::Event>,
    },
    /// Another run held the group's lock: this one did nothing.
    Busy,
    Hung,
}

/// One member as the region shows it: its true EC2 state and the role its tags record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MemberTruth {
    pub id: InstanceId,
    pub state: InstanceState,
    /// `active`, `standby`, or none.
    pub role: Option<coldstandby_engine::Role>,
}

/// How one trigger ended, and the group as the region showed it then (for outside checkers:
/// nothing here comes from the engine's own account, except `outcome`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RunRecord {
    pub seed: u64,
    /// 1, 2, ... in the order the triggers ended.
    pub trigger: usize,
    /// `failed-over`, `already-active`, `failed: REASON`, `planned`, `crashed`, `busy` or `hung`.
    pub outcome: String,
    pub members: Vec<MemberTruth>,
}

/// Everything one seed did.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SeedResult {
    pub seed: u64,
    pub faults: Vec<FaultKind>,
    pub triggers: Vec<TriggerEnd>,
    pub violations: Vec<Violation>,
    /// Each trigger's end, with the members' true states then.
    pub runs: Vec<RunRecord>,
    /// Every API call the region received, in order (with the triggers, the seed's event log).
    #[serde(skip)]
    pub calls: Vec<crate::region::CallRecord>,
}

impl SeedResult {
    /// The seed's whole event log as text: every trigger's events and every API call.
    pub fn event_log(&self) -> String {
        let triggers = serde_json::to_string(&self.triggers).expect("results serialize");
        let calls = serde_json::to_string(&self.calls).expect("calls serialize");
        format!("{triggers}\n{calls}\n")
    }
}

/// What the world recorded during a seed with several controllers, for `--events`: every API
/// call the region received (with its caller) and every lease write that landed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WorldLog {
    pub calls: Vec<crate::region::CallRecord>,
    pub leases: Vec<crate::leases::LeaseChange>,
    /// Each controller's run: its name and the engine's events (as far as it got).
    pub runs: Vec<(String, Vec<coldstandby_engine::Event>)>,
}

impl WorldLog {
    /// The region's calls and lease writes so far; the runs are added by the caller.
    pub fn of(region: &SimRegion) -> Self {
        Self { calls: region.calls(), leases: region.lease_history(), runs: Vec::new() }
    }
}

/// The command that replays one seed.
pub fn replay_command(seed: u64) -> String {
    format!("coldstandby simulate --seeds 1 --start-seed {seed}")
}

/// How each trigger of a seed ended, and the members' true states then.
#[derive(Default)]
struct Ends {
    triggers: Vec<TriggerEnd>,
    runs: Vec<RunRecord>,
}

impl Ends {
    /// Record how a trigger ended, with the members as the region shows them now.
    fn record(&mut self, region: &SimRegion, scenario: &Scenario, end: TriggerEnd) {
        let outcome = match &end {
            TriggerEnd::Finished { report } => outcome_name(&report.outcome),
            TriggerEnd::Crashed { .. } => "crashed".to_owned(),
            TriggerEnd::TimedOut { .. } => "timed-out".to_owned(),
            TriggerEnd::Busy => "busy".to_owned(),
            TriggerEnd::Hung => "hung".to_owned(),
        };
        let members = scenario
            .spec
            .members()
            .into_iter()
            .filter_map(|id| region.instance(&id))
            .map(|instance| MemberTruth {
                role: coldstandby_engine::Role::recorded_in(&instance.tags),
                id: instance.id,
                state: instance.state,
            })
            .collect();
        self.triggers.push(end);
        self.runs.push(RunRecord { seed: scenario.seed, trigger: self.triggers.len(), outcome, members });
    }
}

/// An outcome's short name: `failed-over`, `already-active`, `planned`, `failed: REASON`.
pub(crate) fn outcome_name(outcome: &Outcome) -> String {
    match outcome {
        Outcome::FailedOver { .. } => "failed-over".to_owned(),
        Outcome::AlreadyActive { .. } => "already-active".to_owned(),
        Outcome::MovedOn { .. } => "moved-on".to_owned(),
        Outcome::Planned { .. } => "planned".to_owned(),
        Outcome::Failed { failure } => {
            let reason =
                serde_json::to_value(failure).ok().and_then(|v| v["reason"].as_str().map(str::to_owned));
            format!("failed: {}", reason.unwrap_or_default())
        }
    }
}

struct Run<'a> {
    scenario: &'a Scenario,
    region: SimRegion,
    fence: Fence,
    locks: InProcessLocks,
    checker: Checker,
    ends: Ends,
    /// The last finished trigger, to judge again once the region has settled.
    pending_check: Option<SettleCheck>,
    /// What the failed runs since the last success started (whatever they were told).
    started_by_failed_runs: BTreeSet<InstanceId>,
    /// Not before this time (a trigger's end plus `SETTLE`).
    settled_after: Timestamp,
    /// When the last trigger's run ended (finished, or was cut off).
    last_run_ended: Timestamp,
    /// From when to when each crashed run ran: what it saw, no living controller saw.
    crashed: Vec<(Timestamp, Timestamp)>,
}

/// What the settle check needs of a finished trigger.
struct SettleCheck {
    active: Option<InstanceId>,
    failed: bool,
    started: Vec<InstanceId>,
    /// The member a failed run promoted behind a fence that held, which it may keep running.
    kept: Option<InstanceId>,
    /// The run was cut off (Lambda's timeout): like a crash, it is judged only once the region
    /// has settled at the scenario's end, after any retry had its chance.
    cut_off: bool,
}

/// Why a trigger's run was stopped before it finished.
#[derive(Clone, Copy, Debug)]
enum Cut {
    /// The controller crashed after this many steps.
    Crashed { after_steps: u64 },
    /// Lambda ended the invocation at its timeout.
    InvocationEnded,
    /// The run took more steps than any run can.
    Hung,
}

/// How long the region runs on its own before a finished trigger is judged again: longer than a
/// start accepted late takes to boot, and than a stop takes to complete.
pub(crate) const SETTLE: std::time::Duration = std::time::Duration::from_secs(600);

impl Run<'_> {
    /// Run one trigger of `spec`. `crash_after` cuts it off; `concurrent_after` makes a second
    /// trigger try the group's lock part-way through.
    #[expect(
        clippy::too_many_lines,
        reason = "one trigger's run with its crash, invocation-end and step hooks; split when next touched"
    )]
    fn trigger(
        &mut self,
        spec: &GroupSpec,
        number: u64,
        evidence: Option<&Evidence>,
        crash_after: Option<u64>,
        concurrent_after: Option<u64>,
    ) {
        self.settle_check(false);
        let Ok(_guard) = self.locks.try_lock(&spec.name) else {
            self.ends.record(&self.region, self.scenario, TriggerEnd::Busy);
            return;
        };
        let provider = ScenarioProvider { region: &self.region, fence: self.fence };
        // As Lambda runs it: an invocation timeout sized from the group's timeouts, and the
        // handler's deadline that much earlier than the invocation's end.
        let began = self.region.now();
        let invocation_timeout = budget::invocation_timeout(budget::longest_run(spec));
        let invocation_ends = began + invocation_timeout;
        let options = Options {
            trigger: format!("sweep trigger {number}"),
            seed: self.scenario.seed.wrapping_mul(31).wrapping_add(number),
            deadline: Some(began + invocation_timeout.saturating_sub(budget::DEADLINE_MARGIN)),
            evidence: evidence.filter(|_| self.fence != Fence::NoEvidenceForTesting).cloned(),
            ..Options::default()
        };
        let failover = Failover::new(spec.clone(), options, self.region.now());
        let deadline = failover.deadline();
        // Driven as the product drives it (a fleet of one), with the invariants judged after
        // every step and a crash or the invocation's end able to strike between any two.
        let fleet = Fleet::new(vec![failover], Zones::default(), self.region.now());
        self.checker.start_trigger(spec.ordering);
        let mut step = 0;
        let mut cut = None;
        let (region, scenario, checker, ends, locks) =
            (&self.region, self.scenario, &mut self.checker, &mut self.ends, &self.locks);
        let hook = |fleet: &Fleet, now: Timestamp| {
            if step > 0 {
                let events = fleet.failovers().next().expect("a fleet of one").events();
                check(checker, region, scenario, events);
                if concurrent_after == Some(step) {
                    // A concurrent delivery: the lock is held, so it must do nothing.
                    let busy = locks.try_lock(&spec.name).is_err();
                    assert!(busy, "the group's lock is held during a run");
                    ends.record(region, scenario, TriggerEnd::Busy);
                }
                if crash_after == Some(step) {
                    cut = Some(Cut::Crashed { after_steps: step });
                    return ControlFlow::Break(());
                }
            }
            if now >= invocation_ends {
                cut = Some(Cut::InvocationEnded);
                return ControlFlow::Break(());
            }
            if step >= MAX_STEPS_PER_TRIGGER {
                cut = Some(Cut::Hung);
                return ControlFlow::Break(());
            }
            step += 1;
            region.set_faults(scenario.faults_at(now));
            ControlFlow::Continue(())
        };
        let driven = self.region.run(driver::drive(fleet, &provider, &self.region, &mut Quiet, hook));
        let fleet = match driven {
            Driven::Finished(mut reports) => {
                let report = reports.remove(0);
                self.judge_finished(spec, began, deadline, report);
                return;
            }
            Driven::Stopped(fleet) => fleet,
        };
        let now = self.region.now();
        match cut.expect("a stopped run says why") {
            Cut::Crashed { after_steps } => {
                self.crashed.push((began, now));
                self.ends.record(&self.region, self.scenario, TriggerEnd::Crashed { after_steps });
            }
            Cut::Hung => {
                self.checker.hung(now, MAX_STEPS_PER_TRIGGER);
                self.ends.record(&self.region, self.scenario, TriggerEnd::Hung);
            }
            Cut::InvocationEnded => {
                // What the run started is the retry's to adopt; judged like a failed run's. Once
                // its fence held, the standby it was last bringing up may stay (it would have
                // been promoted had the invocation lasted).
                let events = fleet.failovers().next().expect("a fleet of one").events();
                let fenced = events.iter().any(|e| matches!(e.kind, EventKind::Fenced { .. }));
                let kept = events.iter().rev().filter(|_| fenced).find_map(|e| match &e.kind {
                    EventKind::StartRequested { instance } => Some(instance.clone()),
                    _ => None,
                });
                self.pending_check = Some(SettleCheck {
                    active: None,
                    failed: true,
                    started: self.started_since(began),
                    kept,
                    cut_off: true,
                });
                self.settled_after = now + SETTLE;
                self.last_run_ended = now;
                let events = events.to_vec();
                self.ends.record(&self.region, self.scenario, TriggerEnd::TimedOut { events });
            }
        }
    }

    /// Judge a run that finished: its report against the region, then what it leaves behind.
    fn judge_finished(&mut self, spec: &GroupSpec, began: Timestamp, deadline: Timestamp, report: Report) {
        check(&mut self.checker, &self.region, self.scenario, &report.events);
        self.checker.after_trigger(&self.region, &report, deadline);
        // A throttling burst during the run can hide, for tens of seconds, what the
        // region did: this invariant judges only runs that could see.
        let throttled = self.scenario.bursts.iter().any(|b| b.from < report.finished_at && b.until > began);
        if !throttled {
            self.checker.promotes_when_possible(&self.region, spec, &self.scenario.timings, began, &report);
        }
        let active = match &report.outcome {
            Outcome::FailedOver { to, .. } | Outcome::AlreadyActive { active: to } => Some(to.clone()),
            Outcome::MovedOn { .. } | Outcome::Planned { .. } | Outcome::Failed { .. } => None,
        };
        self.excuse_out_of_reach(report.finished_at, report.finished_at);
        self.checker.single_live(&self.region, report.finished_at, active.as_ref());
        if let Some(active) = &active {
            self.checker.traffic_to_active_only(&self.region, report.finished_at, active);
        }
        self.settled_after = report.finished_at + SETTLE;
        self.last_run_ended = report.finished_at;
        // A failed run may keep the member it last promoted (or took over running and says it
        // keeps), once its fence held: single-live judges from the region that it alone serves.
        let fenced = report.events.iter().any(|e| matches!(e.kind, EventKind::Fenced { .. }));
        // Unless it failed its readiness checks and the group stops such a member.
        let stopped_unready = spec.when_not_ready == WhenNotReady::Stop
            && matches!(&report.outcome, Outcome::Failed { failure: Failure::NotReady { .. } });
        let kept = report.events.iter().rev().find_map(|e| match &e.kind {
            EventKind::Promoted { instance } | EventKind::Kept { instance } if fenced && !stopped_unready => {
                Some(instance.clone())
            }
            _ => None,
        });
        self.pending_check = Some(SettleCheck {
            active,
            failed: matches!(report.outcome, Outcome::Failed { .. }),
            started: self.started_since(began),
            kept,
            cut_off: false,
        });
        self.ends.record(&self.region, self.scenario, TriggerEnd::Finished { report: Box::new(report) });
    }

    /// Tell the checker which members no controller could have acted on by `at` (the last run
    /// having ended at `last_run_ended`): `single-live` does not count them.
    fn excuse_out_of_reach(&mut self, last_run_ended: Timestamp, at: Timestamp) {
        let members = self.scenario.spec.members();
        self.checker.out_of_reach =
            reach::excused_at(&self.region, &members, last_run_ended, at, &self.crashed);
    }

    /// The instances the region started (moved into pending) since `from`: whatever the caller
    /// was told, a start that timed out included.
    fn started_since(&self, from: Timestamp) -> Vec<InstanceId> {
        let mut started: Vec<InstanceId> = self
            .region
            .transitions()
            .into_iter()
            .filter(|transition| transition.at >= from && transition.to == InstanceState::Pending)
            .map(|transition| transition.instance)
            .collect();
        started.sort();
        started.dedup();
        started
    }

    /// Judge the last finished trigger again: when the next trigger starts (`settle` false), or
    /// at the end of the scenario once the region has run on its own for `SETTLE`, so a start
    /// accepted late has booted and a stop has completed.
    fn settle_check(&mut self, settle: bool) {
        let Some(check) = self.pending_check.take() else { return };
        if settle {
            let settled = self.region.now().max(self.settled_after);
            self.region.advance_to(settled);
        }
        let at = self.region.now();
        if settle || !check.cut_off {
            self.excuse_out_of_reach(self.last_run_ended, at);
            self.checker.single_live(&self.region, at, check.active.as_ref());
            if let Some(active) = &check.active {
                self.checker.traffic_to_active_only(&self.region, at, active);
            }
        }
        if check.failed {
            self.started_by_failed_runs.extend(check.started);
            if let Some(kept) = &check.kept {
                // Whoever started it, this run took it over behind a fence that held.
                self.started_by_failed_runs.remove(kept);
            }
            // A failed run's leftovers are the next run's to adopt (Lambda retries it): judged
            // once the last run has ended and the region has settled.
            if settle {
                let started: Vec<InstanceId> = self.started_by_failed_runs.iter().cloned().collect();
                self.checker.rollback_complete(&self.region, at, self.last_run_ended, &started);
            }
        } else {
            self.started_by_failed_runs.clear();
        }
    }

    /// Lambda retries an invocation that failed or was cut off at its timeout, twice, about a
    /// minute apart; `numbers` name the retries.
    fn retry_as_lambda(&mut self, spec: &GroupSpec, evidence: Option<&Evidence>, numbers: [u64; 2]) {
        for number in numbers {
            let failed = match self.ends.triggers.last() {
                Some(TriggerEnd::Finished { report }) => matches!(report.outcome, Outcome::Failed { .. }),
                Some(TriggerEnd::TimedOut { .. }) => true,
                _ => false,
            };
            if !failed {
                return;
            }
            let retry_at = self.region.now() + RETRY_AFTER;
            self.region.advance_to(retry_at);
            self.trigger(spec, number, evidence, None, None);
        }
    }

    /// The first alarm event, delivered again after the failback: whatever the failback left
    /// active and running is healthy, and must not be stopped for an event from before it.
    fn redeliver_after_failback(&mut self, spec: &GroupSpec, alarm: &Evidence) {
        let healthy = match self.last_outcome() {
            Some(Outcome::FailedOver { to, .. } | Outcome::AlreadyActive { active: to }) => to.clone(),
            _ => return,
        };
        if self.region.instance(&healthy).is_none_or(|instance| instance.state != InstanceState::Running) {
            return;
        }
        let at = self.region.now() + RETRY_AFTER;
        self.region.advance_to(at);
        self.trigger(spec, 11, Some(alarm), None, None);
        self.retry_as_lambda(spec, Some(alarm), [12, 13]);
        // Judged from the instance's lifecycle, not the calls: a stop sent into a zone that does
        // not answer stops nothing (docs/safety.md says what the run can and cannot prove then).
        let stopped = self.region.transitions().into_iter().find(|transition| {
            transition.instance == healthy && transition.at >= at && transition.to == InstanceState::Stopping
        });
        if let Some(stop) = stopped {
            self.checker.violate(
                checker::NO_FAILOVER_OF_HEALTHY_PRIMARY,
                stop.at,
                format!("an alarm event from before the switchback stopped {healthy}, active and running since it"),
            );
        }
    }

    fn last_outcome(&self) -> Option<&Outcome> {
        self.ends.triggers.iter().rev().find_map(|end| match end {
            TriggerEnd::Finished { report } => Some(&report.outcome),
            _ => None,
        })
    }
}

/// Check the invariants after one engine step.
fn check(
    checker: &mut Checker,
    region: &SimRegion,
    scenario: &Scenario,
    events: &[coldstandby_engine::Event],
) {
    let throttling_injected = !scenario.bursts.is_empty();
    checker.after_step(region, events, throttling_injected);
}

/// Run the scenario of `seed`.
pub fn run_seed(seed: u64, fence: Fence) -> SeedResult {
    let scenario = scenario::generate(seed);
    let region = scenario.region();
    region.advance_to(scenario::SCENARIO_START + scenario::FIRST_TRIGGER_AFTER);
    let checker = Checker::new(seed, scenario.spec.members());
    let mut run = Run {
        scenario: &scenario,
        region,
        fence,
        locks: InProcessLocks::default(),
        checker,
        ends: Ends::default(),
        pending_check: None,
        started_by_failed_runs: BTreeSet::new(),
        settled_after: scenario::SCENARIO_START,
        last_run_ended: scenario::SCENARIO_START,
        crashed: Vec::new(),
    };
    let spec = scenario.spec.clone();
    // Every trigger but the failback is the primary's alarm event, carrying its state change's
    // time as the handler passes it.
    let alarm = Evidence {
        member: None,
        at: scenario::SCENARIO_START + scenario::FIRST_TRIGGER_AFTER,
        fresh_for: None,
    };

    run.trigger(&spec, 1, Some(&alarm), scenario.crash_after_steps, scenario.concurrent_after_steps);
    if matches!(run.ends.triggers.last(), Some(TriggerEnd::Crashed { .. })) {
        // Lambda retries the invocation about a minute later.
        let retry_at = run.region.now() + RETRY_AFTER;
        run.region.advance_to(retry_at);
        run.trigger(&spec, 2, Some(&alarm), None, None);
    }
    // Lambda retries a failed invocation twice, about one and two minutes apart.
    run.retry_as_lambda(&spec, Some(&alarm), [5, 6]);
    if scenario.duplicate_trigger {
        run.trigger(&spec, 3, Some(&alarm), None, None);
        run.retry_as_lambda(&spec, Some(&alarm), [7, 8]);
    }
    if scenario.failback {
        if let Some(Outcome::FailedOver { to, .. } | Outcome::AlreadyActive { active: to }) =
            run.last_outcome().cloned()
        {
            // Fail back (an operator's switchback, acting on the group as it is): the standby now
            // serving is the one to replace, the old primary first in line.
            let mut back = spec.clone();
            let mut standbys = vec![spec.primary.clone()];
            standbys.extend(spec.standbys.iter().filter(|s| **s != to).cloned());
            back.primary = to;
            back.standbys = standbys;
            run.trigger(&back, 4, None, None, None);
            run.retry_as_lambda(&back, None, [9, 10]);
            if scenario.redelivered_after_failback {
                run.redeliver_after_failback(&spec, &alarm);
            }
        }
    }
    run.settle_check(true);
    SeedResult {
        seed,
        faults: scenario.faults.clone(),
        triggers: run.ends.triggers,
        runs: run.ends.runs,
        violations: run.checker.violations,
        calls: run.region.calls(),
    }
}
