//! Scenario tests: the engine against the simulated region, one behaviour each. Every test
//! checks what the instances and the API call log show, not only what the engine reports.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use common::*;

use std::cell::Cell;
use std::collections::BTreeMap;
use std::time::Duration;

use coldstandby_engine::lock::{GroupLock, InProcessLocks};
use coldstandby_engine::{
    Action, ApiError, Call, ErrorKind, EventKind, Failover, Failure, FenceMode, InstanceId, InstanceState,
    Observation, Options, Ordering, Outcome, Provider, Report, Role,
};
use coldstandby_sim::{CapacityShortage, RegionFaults, SimInstance, SimRegion, Timings};

#[test]
fn fence_first_starts_the_standby_only_after_the_primary_is_confirmed_stopped() {
    for seed in 0..20 {
        let region = region(seed);
        let report = run(&region, group(Ordering::FenceFirst));
        failed_over_to(&report, FIRST);

        let stopped_at = transition_time(&region, PRIMARY, InstanceState::Stopped).unwrap();
        let fenced_at = event_time(&report, |k| matches!(k, EventKind::Fenced { .. })).unwrap();
        let starts = call_times(&region, is_start_of(FIRST));
        assert_eq!(starts.len(), 1, "seed {seed}: one start");
        assert!(stopped_at <= fenced_at, "seed {seed}: confirmed before it happened?");
        assert!(starts[0] >= fenced_at, "seed {seed}: start at {} before fence at {fenced_at}", starts[0]);

        assert_eq!(state(&region, PRIMARY), InstanceState::Stopped);
        assert_eq!(state(&region, FIRST), InstanceState::Running);
        assert_eq!(state(&region, SECOND), InstanceState::Stopped);
        assert_eq!(role(&region, FIRST), Some(Role::Active));
        assert_eq!(role(&region, PRIMARY), Some(Role::Standby));
        assert_eq!(role(&region, SECOND), Some(Role::Standby));
        let tags = region.instance(&id(FIRST)).unwrap().tags;
        assert_eq!(tags["coldstandby:trigger"], "manual", "the trigger that made it active is recorded");
        assert!(region.calls().iter().all(|c| c.error.is_none()), "seed {seed}: no call failed");
    }
}

#[test]
fn parallel_starts_the_standby_while_the_primary_stops_and_records_it_after_the_fence() {
    for seed in 0..20 {
        let parallel_region = region(seed);
        let parallel = run(&parallel_region, group(Ordering::Parallel));
        failed_over_to(&parallel, FIRST);

        let stopped_at = transition_time(&parallel_region, PRIMARY, InstanceState::Stopped).unwrap();
        let started_at = call_times(&parallel_region, is_start_of(FIRST))[0];
        assert!(started_at < stopped_at, "seed {seed}: the standby should start during the stop");
        let fenced_at = event_time(&parallel, |k| matches!(k, EventKind::Fenced { .. })).unwrap();
        let active_at =
            event_time(&parallel, |k| matches!(k, EventKind::Recorded { role: Role::Active, .. })).unwrap();
        assert!(active_at >= fenced_at, "seed {seed}: recorded active before the fence");

        let serial = run(&region(seed), group(Ordering::FenceFirst));
        let took = |report: &Report| report.finished_at.saturating_since(report.started_at);
        assert!(took(&parallel) < took(&serial), "seed {seed}: parallel should be faster");
    }
}

#[test]
fn a_stopped_standby_is_started() {
    let region = region_with_first_standby(InstanceState::Stopped, None);
    let report = run(&region, group(Ordering::FenceFirst));
    failed_over_to(&report, FIRST);
    assert_eq!(call_times(&region, is_start_of(FIRST)).len(), 1);
}

#[test]
fn a_stopping_standby_is_started_once_it_has_stopped() {
    // Still stopping after a failback: starting it now would fail with IncorrectInstanceState.
    let step = Some((Duration::from_secs(90), InstanceState::Stopped));
    let region = region_with_first_standby(InstanceState::Stopping, step);
    let report = run(&region, group(Ordering::FenceFirst));
    failed_over_to(&report, FIRST);
    let starts = call_times(&region, is_start_of(FIRST));
    assert_eq!(starts.len(), 1, "exactly one start, after it stopped");
    assert!(starts[0] >= START + Duration::from_secs(90));
    assert!(region.calls().iter().all(|c| c.error.is_none()), "no IncorrectInstanceState");
}

#[test]
fn a_pending_standby_is_waited_for_not_started_again() {
    let step = Some((Duration::from_secs(3), InstanceState::Running));
    let region = region_with_first_standby(InstanceState::Pending, step);
    let report = run(&region, group(Ordering::Parallel));
    failed_over_to(&report, FIRST);
    assert!(call_times(&region, is_start_of(FIRST)).is_empty());
}

#[test]
fn a_running_standby_is_promoted_without_a_start() {
    let region = region_with_first_standby(InstanceState::Running, None);
    let report = run(&region, group(Ordering::FenceFirst));
    failed_over_to(&report, FIRST);
    assert!(call_times(&region, |c| matches!(c, Call::Start { .. })).is_empty());
    assert_eq!(state(&region, PRIMARY), InstanceState::Stopped);
}

#[test]
fn a_running_second_standby_is_preferred_and_the_first_left_alone() {
    let region = region(3);
    region.with_instance(&id(SECOND), |standby, _| standby.state = InstanceState::Running);
    let report = run(&region, group(Ordering::FenceFirst));
    failed_over_to(&report, SECOND);
    assert!(call_times(&region, |c| matches!(c, Call::Start { .. })).is_empty());
    assert_eq!(state(&region, FIRST), InstanceState::Stopped);
}

#[test]
fn gone_standbys_are_skipped_for_the_next_one() {
    for gone in [InstanceState::ShuttingDown, InstanceState::Terminated] {
        let step = (gone == InstanceState::ShuttingDown)
            .then_some((Duration::from_secs(30), InstanceState::Terminated));
        let region = region_with_first_standby(gone, step);
        let report = run(&region, group(Ordering::FenceFirst));
        failed_over_to(&report, SECOND);
        assert!(call_times(&region, is_start_of(FIRST)).is_empty(), "{gone}: never started");
        let plan = report.events.iter().find_map(|e| match &e.kind {
            EventKind::Planned { candidates, .. } => Some(candidates.clone()),
            _ => None,
        });
        assert_eq!(plan, Some(vec![id(SECOND)]), "{gone} is excluded from the plan");
    }
}

#[test]
fn a_standby_that_does_not_exist_is_skipped_after_a_grace_period() {
    let region = SimRegion::new(5, START, Timings::default());
    region.add_instance(SimInstance::new(id(PRIMARY), "ap-northeast-1a", InstanceState::Running));
    region.add_instance(SimInstance::new(id(SECOND), "ap-northeast-1d", InstanceState::Stopped));
    let report = run(&region, group(Ordering::FenceFirst));
    failed_over_to(&report, SECOND);
    let skipped = report.events.iter().find_map(|e| match &e.kind {
        EventKind::StandbySkipped { instance, reason } => Some((instance.clone(), reason.clone())),
        _ => None,
    });
    let (instance, reason) = skipped.expect("the missing standby is reported");
    assert_eq!(instance.as_str(), FIRST);
    assert!(reason.contains("not found"), "{reason}");
}

#[test]
fn capacity_errors_are_retried_within_the_budget() {
    let region = region(11);
    region.with_instance(&id(FIRST), |standby, now| {
        standby.faults.capacity_shortage = Some(CapacityShortage::Until(now + Duration::from_secs(75)));
    });
    let report = run(&region, group(Ordering::FenceFirst));
    failed_over_to(&report, FIRST);
    let attempts = call_times(&region, is_start_of(FIRST));
    assert!(attempts.len() > 2, "retried: {} attempts", attempts.len());
    let gaps: Vec<Duration> = attempts.windows(2).map(|w| w[1].saturating_since(w[0])).collect();
    assert!(gaps.iter().all(|gap| *gap >= Duration::from_millis(500)), "backs off: {gaps:?}");
    assert!(attempts.len() < 40, "bounded: {} attempts", attempts.len());
}

#[test]
fn capacity_errors_beyond_the_budget_move_to_the_next_standby() {
    let region = region(12);
    region.with_instance(&id(FIRST), |standby, _| {
        standby.faults.capacity_shortage = Some(CapacityShortage::ForGood)
    });
    let mut spec = group(Ordering::FenceFirst);
    spec.timeouts.capacity_retry = Duration::from_secs(30);
    let report = run(&region, spec);
    failed_over_to(&report, SECOND);
    let first_attempt = call_times(&region, is_start_of(FIRST))[0];
    let second_start = call_times(&region, is_start_of(SECOND))[0];
    let waited = second_start.saturating_since(first_attempt);
    assert!(waited >= Duration::from_secs(30) && waited < Duration::from_secs(50), "{waited:?}");
}

#[test]
fn a_standby_that_falls_back_to_stopped_is_skipped_with_its_state_reason() {
    let region = region(13);
    region.with_instance(&id(FIRST), |standby, _| {
        standby.faults.start_fails_with = Some("Client.InternalError: Client error on launch".to_owned());
    });
    let report = run(&region, group(Ordering::FenceFirst));
    failed_over_to(&report, SECOND);
    let reason = report.events.iter().find_map(|e| match &e.kind {
        EventKind::StandbySkipped { reason, .. } => Some(reason.clone()),
        _ => None,
    });
    assert!(reason.unwrap().contains("Client.InternalError"));
    assert_eq!(state(&region, FIRST), InstanceState::Stopped);
}

#[test]
fn when_every_standby_fails_the_report_names_each_and_why() {
    let region = region(14);
    region.with_instance(&id(FIRST), |standby, _| {
        standby.faults.capacity_shortage = Some(CapacityShortage::ForGood)
    });
    region.with_instance(&id(SECOND), |standby, _| {
        standby.faults.capacity_shortage = Some(CapacityShortage::ForGood)
    });
    let mut spec = group(Ordering::FenceFirst);
    spec.timeouts.capacity_retry = Duration::from_secs(20);
    let report = run(&region, spec);
    let Failure::NoStandbyAvailable { tried } = failure(&report) else { panic!("{:?}", report.outcome) };
    let names: Vec<&str> = tried.iter().map(|(instance, _)| instance.as_str()).collect();
    assert_eq!(names, [FIRST, SECOND]);
    assert!(tried.iter().all(|(_, why)| why.contains("InsufficientInstanceCapacity")), "{tried:?}");
    let message = report.outcome.to_string();
    assert!(message.contains(FIRST) && message.contains(SECOND), "{message}");
    assert_eq!(role(&region, FIRST), None, "nothing recorded active");
}

#[test]
fn with_no_standby_that_could_start_the_primary_is_left_running() {
    let region = region(15);
    for standby in [FIRST, SECOND] {
        region.with_instance(&id(standby), |s, _| s.state = InstanceState::Terminated);
    }
    let report = run(&region, group(Ordering::FenceFirst));
    assert!(matches!(failure(&report), Failure::NoStandbyAvailable { tried } if tried.len() == 2));
    assert!(call_times(&region, is_stop_of(PRIMARY)).is_empty());
    assert_eq!(state(&region, PRIMARY), InstanceState::Running);
}

#[test]
fn a_stop_that_hangs_is_escalated_to_a_forced_stop() {
    let region = region(16);
    region.with_instance(&id(PRIMARY), |primary, _| primary.faults.stop_hangs = true);
    let mut spec = group(Ordering::FenceFirst);
    spec.timeouts.stop = Duration::from_secs(30);
    let report = run(&region, spec);
    failed_over_to(&report, FIRST);
    let stops: Vec<bool> = region
        .calls()
        .into_iter()
        .filter_map(|c| match c.call {
            Call::Stop { force, .. } => Some(force),
            _ => None,
        })
        .collect();
    assert_eq!(stops, [false, true], "a normal stop, then one forced stop");
    let escalated = event_time(&report, |k| matches!(k, EventKind::FenceEscalated { .. })).unwrap();
    let waited = escalated.saturating_since(call_times(&region, is_stop_of(PRIMARY))[0]);
    assert!(waited >= Duration::from_secs(30) && waited < Duration::from_secs(31), "{waited:?}");
}

#[test]
fn force_stop_fence_mode_forces_from_the_start() {
    let region = region(17);
    let mut spec = group(Ordering::FenceFirst);
    spec.fence = FenceMode::ForceStop;
    failed_over_to(&run(&region, spec), FIRST);
    let forced: Vec<bool> = region
        .calls()
        .into_iter()
        .filter_map(|c| match c.call {
            Call::Stop { force, .. } => Some(force),
            _ => None,
        })
        .collect();
    assert_eq!(forced, [true]);
    // A forced stop is not instant: EC2 still releases the host and the volumes (8-45 s here).
    let requested = call_times(&region, is_stop_of(PRIMARY))[0];
    let stopped = transition_time(&region, PRIMARY, InstanceState::Stopped).unwrap();
    let took = stopped.saturating_since(requested);
    assert!(took >= Duration::from_secs(8) && took <= Duration::from_secs(46), "{took:?}");
}

/// After the primary's stop is accepted, every describe answers the way `blind` says:
/// an empty list or a throttling error.
struct BlindAfterStop<'a> {
    region: &'a SimRegion,
    blind: Result<(), ErrorKind>,
    stopped: Cell<bool>,
}

impl Provider for BlindAfterStop<'_> {
    async fn describe(&self, instances: &[InstanceId]) -> Result<Vec<Observation>, ApiError> {
        let answer = self.region.describe(instances).await?;
        match (self.stopped.get(), self.blind) {
            (false, _) => Ok(answer),
            (true, Ok(())) => Ok(Vec::new()),
            (true, Err(kind)) => Err(ApiError::new(kind, "RequestLimitExceeded", "Request limit exceeded.")),
        }
    }
    async fn start(&self, instances: &[InstanceId]) -> Result<(), ApiError> {
        self.region.start(instances).await
    }
    async fn stop(&self, instances: &[InstanceId], force: bool) -> Result<(), ApiError> {
        let result = self.region.stop(instances, force).await;
        self.stopped.set(self.stopped.get() || result.is_ok());
        result
    }
    async fn set_tags(
        &self,
        instances: &[InstanceId],
        tags: &BTreeMap<String, String>,
    ) -> Result<(), ApiError> {
        self.region.set_tags(instances, tags).await
    }
}

#[test]
fn empty_or_throttled_describes_never_count_as_stopped() {
    for blind in [Ok(()), Err(ErrorKind::Throttled)] {
        for ordering in [Ordering::FenceFirst, Ordering::Parallel] {
            let region = region(18);
            let provider = BlindAfterStop { region: &region, blind, stopped: Cell::new(false) };
            let mut spec = group(ordering);
            spec.timeouts.stop = Duration::from_secs(20);
            spec.timeouts.forced_stop = Duration::from_secs(20);
            let report = run_on(&provider, &region, spec, Options::default());
            let what = format!("{blind:?} describes, {ordering}");

            let Failure::FenceNotConfirmed { instance, .. } = failure(&report) else {
                panic!("{what}: {:?}", report.outcome)
            };
            assert_eq!(instance.as_str(), PRIMARY, "{what}");
            let took = report.finished_at.saturating_since(report.started_at);
            // Stop 20 s + forced stop 20 s + 10 s for a settled answer: the fence deadline.
            assert!(took <= Duration::from_secs(51), "{what}: fails at the fence deadline, took {took:?}");
            assert_eq!(role(&region, FIRST), None, "{what}: nothing recorded active");
            match ordering {
                Ordering::FenceFirst => {
                    assert!(call_times(&region, is_start_of(FIRST)).is_empty(), "{what}: never started");
                }
                Ordering::Parallel => {
                    // It was started with the stop; failing closed stops it again.
                    let stops = call_times(&region, is_stop_of(FIRST));
                    assert_eq!(stops.len(), 1, "{what}: rolled back");
                    assert!(report.events.iter().any(|e| matches!(e.kind, EventKind::RolledBack { .. })));
                    assert!(
                        !state(&region, FIRST).is_live() || state(&region, FIRST) == InstanceState::Stopping
                    );
                }
            }
        }
    }
}

#[test]
fn a_second_run_changes_nothing_and_says_so() {
    let region = region(19);
    failed_over_to(&run(&region, group(Ordering::FenceFirst)), FIRST);
    let calls_before = region.calls().len();
    let again = run(&region, group(Ordering::FenceFirst));
    assert_eq!(again.outcome, Outcome::AlreadyActive { active: id(FIRST) });
    assert!(again.outcome.to_string().contains("nothing changed"));
    let new_calls: Vec<_> = region.calls().into_iter().skip(calls_before).collect();
    assert!(new_calls.iter().all(|c| matches!(c.call, Call::Describe { .. })), "{new_calls:?}");
}

#[test]
fn a_run_cut_short_after_the_start_is_finished_by_the_next_run() {
    let region = region(20);
    let spec = group(Ordering::FenceFirst);
    let mut failover = Failover::new(spec.clone(), Options::default(), START);
    // Drive it by hand and "crash" right after the standby's start was accepted.
    for _ in 0..100_000 {
        let now = coldstandby_engine::Clock::now(&region);
        match failover.poll(now) {
            Action::Call(call) => {
                let was_start = matches!(call, Call::Start { .. });
                let result = region.run(coldstandby_engine::provider::execute(&region, &call));
                failover.on_result(coldstandby_engine::Clock::now(&region), result);
                if was_start {
                    break;
                }
            }
            Action::Sleep { until, .. } => region.advance_to(until),
            Action::Finished => panic!("finished before the start"),
        }
    }
    drop(failover);
    assert_eq!(role(&region, FIRST), None, "the crash came before recording");

    let report = run(&region, spec);
    failed_over_to(&report, FIRST);
    assert_eq!(call_times(&region, is_start_of(FIRST)).len(), 1, "not started twice");
    assert_eq!(role(&region, FIRST), Some(Role::Active));
}

#[test]
fn a_deadline_fails_the_run_and_leaves_a_group_the_next_run_completes() {
    let region = region(21);
    region.with_instance(&id(PRIMARY), |primary, _| primary.faults.stop_hangs = true);
    let options = Options { deadline: Some(START + Duration::from_secs(10)), ..Options::default() };
    let report = run_on(&region, &region, group(Ordering::FenceFirst), options);
    let Failure::DeadlineExceeded { waiting_for } = failure(&report) else { panic!("{:?}", report.outcome) };
    assert!(waiting_for.contains(PRIMARY), "{waiting_for}");
    let said = failure(&report).to_string();
    assert!(
        said.starts_with(&format!("deadline reached while waiting for {PRIMARY}")),
        "reads as a sentence: {said}"
    );
    // At the deadline, or as soon after it as a describe then in flight answers.
    let deadline = START + Duration::from_secs(10);
    assert!(report.finished_at >= deadline, "{:?}", report.finished_at);
    assert!(
        report.finished_at <= deadline + Duration::from_millis(Timings::default().api_latency.max_ms),
        "{:?}",
        report.finished_at
    );
    assert!(call_times(&region, is_start_of(FIRST)).is_empty());

    failed_over_to(&run(&region, group(Ordering::FenceFirst)), FIRST);
}

#[test]
fn a_standby_denied_to_start_is_skipped_with_the_reason_and_the_next_is_promoted() {
    let region = region(22);
    region.with_instance(&id(FIRST), |standby, _| standby.faults.denied = true);
    let report = run(&region, group(Ordering::FenceFirst));
    failed_over_to(&report, SECOND);
    let skipped = report.events.iter().find_map(|event| match &event.kind {
        EventKind::StandbySkipped { instance, reason } if instance.as_str() == FIRST => Some(reason.clone()),
        _ => None,
    });
    let reason = skipped.expect("the denied standby is skipped");
    assert!(reason.starts_with("UnauthorizedOperation"), "{reason}");
    assert!(reason.contains("Encoded authorization failure message"), "the message is kept whole: {reason}");
    assert_eq!(call_times(&region, is_start_of(FIRST)).len(), 1, "not retried");
    assert_eq!(region.instance(&id(FIRST)).unwrap().state, InstanceState::Stopped);
}

#[test]
fn every_standby_denied_ends_the_run_with_each_reason_and_the_primary_stopped_nothing_started() {
    let region = region(23);
    for standby in [FIRST, SECOND] {
        region.with_instance(&id(standby), |standby, _| standby.faults.denied = true);
    }
    let report = run(&region, group(Ordering::FenceFirst));
    let Failure::NoStandbyAvailable { tried } = failure(&report) else { panic!("{:?}", report.outcome) };
    assert_eq!(tried.len(), 2, "{tried:?}");
    assert!(tried.iter().all(|(_, reason)| reason.starts_with("UnauthorizedOperation")), "{tried:?}");
    let live = region.instances().into_iter().filter(|i| i.state.is_live()).count();
    assert_eq!(live, 0, "fenced, and nothing could be started");
}

#[test]
fn a_denied_stop_fails_before_any_standby_starts() {
    for ordering in [Ordering::FenceFirst, Ordering::Parallel] {
        let region = region(23);
        region.with_instance(&id(PRIMARY), |primary, _| primary.faults.denied = true);
        let report = run(&region, group(ordering));
        assert!(
            matches!(failure(&report), Failure::PermanentError { operation, .. } if operation == "StopInstances")
        );
        assert_eq!(state(&region, PRIMARY), InstanceState::Running);
        assert!(!state(&region, FIRST).is_live() || ordering == Ordering::Parallel);
        assert!(role(&region, FIRST).is_none());
    }
}

#[test]
fn throttling_and_transient_errors_are_retried_and_the_failover_completes() {
    let region = region(24);
    region.set_faults(RegionFaults { throttle: 0.3, transient: 0.1, ..RegionFaults::default() });
    let report = run(&region, group(Ordering::FenceFirst));
    failed_over_to(&report, FIRST);
    let refused = region.calls().iter().filter(|record| record.error.is_some()).count();
    assert!(refused > 5, "faults were injected and the calls made again ({refused})");
}

#[test]
fn without_injected_faults_no_call_is_ever_throttled() {
    // The simulated region enforces EC2's request buckets; the engine's own limiter keeps under them.
    for seed in 0..10 {
        let region = region(seed);
        run(&region, group(Ordering::Parallel));
        assert!(region.calls().iter().all(|c| c.error.is_none()), "seed {seed}");
    }
}

#[test]
fn a_dry_run_observes_and_plans_but_changes_nothing() {
    let region = region(25);
    let options = Options { dry_run: true, ..Options::default() };
    let report = run_on(&region, &region, group(Ordering::FenceFirst), options);
    let Outcome::Planned { plan } = &report.outcome else { panic!("{:?}", report.outcome) };
    assert_eq!(plan.active.as_str(), PRIMARY);
    assert_eq!(plan.fence, vec![(id(PRIMARY), Some(InstanceState::Running))]);
    assert_eq!(plan.candidates[0], (id(FIRST), Some(InstanceState::Stopped)));
    assert!(region.calls().iter().all(|c| matches!(c.call, Call::Describe { .. })));
}

#[test]
fn two_racing_runs_on_one_group_do_not_both_act() {
    let locks = InProcessLocks::default();
    let region = region(26);
    let first = locks.try_lock("web").expect("the first run takes the lock");
    let second = locks.try_lock("web");
    assert_eq!(
        second.unwrap_err().to_string(),
        "a failover of group `web` is already running; this one did nothing"
    );
    failed_over_to(&run(&region, group(Ordering::FenceFirst)), FIRST);
    drop(first);

    // Once the first is done, a late duplicate takes the lock and finds nothing to do.
    let _late = locks.try_lock("web").expect("released");
    let again = run(&region, group(Ordering::FenceFirst));
    assert_eq!(again.outcome, Outcome::AlreadyActive { active: id(FIRST) });
}

#[test]
fn conflicting_active_records_stop_the_failover_untouched() {
    let region = region(27);
    for instance in [PRIMARY, FIRST] {
        region.with_instance(&id(instance), |i, _| i.tags.extend(Role::Active.tags_for("web")));
    }
    let report = run(&region, group(Ordering::FenceFirst));
    assert!(matches!(failure(&report), Failure::ConflictingRecords { active } if active.len() == 2));
    assert!(region.calls().iter().all(|c| matches!(c.call, Call::Describe { .. })));
}

#[test]
fn the_same_seed_replays_the_same_run_byte_for_byte() {
    let replay = |seed| {
        let region = region(seed);
        region.set_faults(RegionFaults {
            throttle: 0.2,
            latency_spike: 0.1,
            latency_spike_ms: 900,
            ..RegionFaults::default()
        });
        let options = Options { seed, ..Options::default() };
        let report = run_on(&region, &region, group(Ordering::Parallel), options);
        (serde_json::to_string(&report).unwrap(), serde_json::to_string(&region.calls()).unwrap())
    };
    assert_eq!(replay(31), replay(31));
    assert_ne!(replay(31).0, replay(32).0);
}

#[test]
fn a_parallel_rollback_waits_for_a_pending_standby_then_stops_it() {
    // The fence fails while the standby is still booting: EC2 will not stop a pending instance,
    // so the rollback retries until it can.
    let region = region(28);
    let slow_boot = coldstandby_sim::Span::seconds(20, 20);
    region.set_timings(Timings { boot: slow_boot, ..Timings::default() });
    region.with_instance(&id(PRIMARY), |primary, _| primary.faults.stop_hangs = true);
    let provider = BlindAfterStop { region: &region, blind: Ok(()), stopped: Cell::new(false) };
    let mut spec = group(Ordering::Parallel);
    spec.timeouts.stop = Duration::from_secs(2);
    spec.timeouts.forced_stop = Duration::from_secs(3);
    let report = run_on(&provider, &region, spec, Options::default());
    assert!(matches!(failure(&report), Failure::FenceNotConfirmed { .. }), "{:?}", report.outcome);

    let refused = report
        .events
        .iter()
        .filter(|e| matches!(&e.kind, EventKind::CallFailed { kind: ErrorKind::WrongState, .. }))
        .count();
    assert!(refused >= 1, "the first rollback stop met a pending instance");
    assert!(report
        .events
        .iter()
        .any(|e| matches!(&e.kind, EventKind::RolledBack { instance } if instance.as_str() == FIRST)));
    region.advance(Duration::from_secs(120));
    assert_eq!(state(&region, FIRST), InstanceState::Stopped, "no second live member is left behind");
}
