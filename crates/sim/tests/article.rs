//! The article's scenario across many seeds: what `coldstandby demo` promises about timing and
//! detection.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::time::Duration;

use coldstandby_alarm::{AlarmState, TreatMissingData};
use coldstandby_engine::driver::Quiet;
use coldstandby_engine::failover::DESCRIBE_STALENESS;
use coldstandby_engine::{EventKind, InstanceState, Ordering, Outcome};
use coldstandby_sim::article::{run_article, ArticleSetup, FailureKind, EVALUATION_OFFSET};

const ONE_SECOND: Duration = Duration::from_secs(1);

fn setup(seed: u64, ordering: Ordering) -> ArticleSetup {
    ArticleSetup { seed, ordering, ..ArticleSetup::default() }
}

#[test]
fn every_change_is_observed_within_a_second_and_adds_at_most_a_second() {
    for ordering in [Ordering::FenceFirst, Ordering::Parallel] {
        for seed in 0..200 {
            let run = run_article(setup(seed, ordering), &mut Quiet);
            let report = run.report.as_ref().expect("the CPU alarm fires");
            assert!(matches!(report.outcome, Outcome::FailedOver { .. }), "seed {seed}");

            // Four changes: running -> stopping -> stopped, stopped -> pending -> running.
            assert_eq!(run.transitions.len(), 4, "seed {seed} {ordering}: {:?}", run.transitions);
            for transition in &run.transitions {
                let lag = transition.lag().expect("every change is observed");
                assert!(lag <= ONE_SECOND, "seed {seed} {ordering}: {transition:?} seen after {lag:?}");
            }
            // The fence is confirmed, and the standby promoted, within a second of the later of
            // the change itself and the request plus DESCRIBE_STALENESS (an earlier answer may
            // predate the request).
            let at = |wanted: &dyn Fn(&EventKind) -> bool| {
                report.events.iter().find(|event| wanted(&event.kind)).map(|event| event.at).unwrap()
            };
            let changed = |to: InstanceState| run.transitions.iter().find(|t| t.to == to).unwrap().changed_at;
            let stop_requested = at(&|kind| matches!(kind, EventKind::StopRequested { .. }));
            let fenced = at(&|kind| matches!(kind, EventKind::Fenced { .. }));
            let fence_due = changed(InstanceState::Stopped).max(stop_requested + DESCRIBE_STALENESS);
            assert!(
                fenced <= fence_due + ONE_SECOND,
                "seed {seed} {ordering}: fenced {fenced:?}, due {fence_due:?}"
            );
            let start_requested = at(&|kind| matches!(kind, EventKind::StartRequested { .. }));
            let promoted = at(&|kind| matches!(kind, EventKind::Promoted { .. }));
            let promote_due = changed(InstanceState::Running).max(start_requested + DESCRIBE_STALENESS);
            assert!(
                promoted <= promote_due + ONE_SECOND,
                "seed {seed} {ordering}: promoted {promoted:?}, due {promote_due:?}"
            );
            let rto = run.rto.expect("a completed failover has a breakdown");
            let settle_ms = 2 * DESCRIBE_STALENESS.as_millis() as u64;
            assert!(rto.overhead_ms <= 1000 + settle_ms, "seed {seed} {ordering}: overhead {rto:?}");
            assert_eq!(rto.failover_ms, rto.instance_ms + rto.overhead_ms);
            assert_eq!(rto.total_ms, rto.detection_ms + rto.failover_ms);
        }
    }
}

#[test]
fn detection_is_the_evaluators_not_a_constant() {
    let run = run_article(ArticleSetup::default(), &mut Quiet);
    let alarm = run.alarm_changes.last().expect("the alarm fired");
    assert_eq!((alarm.from, alarm.to), (AlarmState::Ok, AlarmState::Alarm));
    let point = &alarm.datapoints[0];
    assert!(point.value.unwrap() > 50.0);
    let report = run.report.as_ref().unwrap();
    assert_eq!(report.started_at, alarm.time, "the failover starts when the alarm fires");
    let rto = run.rto.unwrap();
    assert_eq!(Duration::from_millis(rto.detection_ms), alarm.time.saturating_since(run.failure_at));
    // The load starts 20 s into the 03:01 minute: that minute's average breaches, and the next
    // once-a-minute evaluation (7 s past) sees it.
    assert_eq!(Duration::from_millis(rto.detection_ms), Duration::from_secs(40) + EVALUATION_OFFSET);
}

#[test]
fn a_dead_primary_under_missing_goes_insufficient_data_and_nothing_fails_over() {
    let dies = ArticleSetup { failure: FailureKind::Dies, ..ArticleSetup::default() };
    let run = run_article(dies, &mut Quiet);
    assert!(run.report.is_none(), "no failover");
    let last = run.alarm_changes.last().unwrap();
    assert_eq!(last.to, AlarmState::InsufficientData);
    assert_eq!(run.region.instance(&run.group.standbys[0]).unwrap().state, InstanceState::Stopped);
}

#[test]
fn a_dead_primary_under_breaching_fails_over_with_a_forced_stop() {
    let dies = ArticleSetup {
        failure: FailureKind::Dies,
        treat_missing_data: TreatMissingData::Breaching,
        ..ArticleSetup::default()
    };
    let run = run_article(dies, &mut Quiet);
    let report = run.report.as_ref().expect("silence counts as breaching");
    assert!(matches!(report.outcome, Outcome::FailedOver { .. }), "{}", report.outcome);
    let alarm = run.alarm_changes.last().unwrap();
    assert_eq!(alarm.to, AlarmState::Alarm);
    assert!(alarm.datapoints.iter().all(|p| p.value.is_none()), "decided by missing data alone");
    // The range of 3 periods has to empty first: detection takes minutes, not seconds.
    let detection = alarm.time.saturating_since(run.failure_at);
    assert!(detection > Duration::from_secs(180) && detection < Duration::from_secs(300), "{detection:?}");
    assert!(
        report.events.iter().any(|e| matches!(e.kind, EventKind::FenceEscalated { .. })),
        "its stop hangs"
    );
}

#[test]
fn the_primary_ends_stopped_and_the_standby_running() {
    let run = run_article(setup(9, Ordering::Parallel), &mut Quiet);
    let primary = run.region.instance(&run.group.primary).unwrap();
    let standby = run.region.instance(&run.group.standbys[0]).unwrap();
    assert_eq!(primary.state, InstanceState::Stopped);
    assert_eq!(standby.state, InstanceState::Running);
    assert_eq!(standby.availability_zone, "ap-northeast-1c");
}
