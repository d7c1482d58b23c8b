//! The article's scenario across many seeds: what `coldstandby demo` promises about timing.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::time::Duration;

use coldstandby_engine::driver::Quiet;
use coldstandby_engine::{InstanceState, Ordering, Outcome};
use coldstandby_sim::scenario::{run_article, THRESHOLD};

const ONE_SECOND: Duration = Duration::from_secs(1);

#[test]
fn every_change_is_observed_within_a_second_and_adds_at_most_a_second() {
    for ordering in [Ordering::FenceFirst, Ordering::Parallel] {
        for seed in 0..200 {
            let run = run_article(seed, ordering, &mut Quiet);
            assert!(matches!(run.report.outcome, Outcome::FailedOver { .. }), "seed {seed}");

            // Four changes: running -> stopping -> stopped, stopped -> pending -> running.
            assert_eq!(run.transitions.len(), 4, "seed {seed} {ordering}: {:?}", run.transitions);
            for transition in &run.transitions {
                let lag = transition.lag().expect("every change is observed");
                assert!(lag <= ONE_SECOND, "seed {seed} {ordering}: {transition:?} seen after {lag:?}");
            }
            let rto = run.rto.expect("a completed failover has a breakdown");
            assert!(rto.overhead_ms <= 1000, "seed {seed} {ordering}: overhead {rto:?}");
            assert_eq!(rto.failover_ms, rto.instance_ms + rto.overhead_ms);
            assert_eq!(rto.total_ms, rto.detection_ms + rto.failover_ms);
        }
    }
}

#[test]
fn detection_is_the_alarm_evaluation_not_a_constant() {
    let run = run_article(1, Ordering::FenceFirst, &mut Quiet);
    let alarm = run.alarm_changes.last().expect("the alarm fired");
    assert_eq!(alarm.to, "ALARM");
    let point = alarm.datapoint.expect("a data point decided it");
    assert!(point.value > THRESHOLD);
    assert_eq!(run.report.started_at, alarm.at, "the failover starts when the alarm fires");
    let rto = run.rto.unwrap();
    assert_eq!(Duration::from_millis(rto.detection_ms), alarm.at.saturating_since(run.failure_at));
    // The load starts 20 s into a minute; that minute's average breaches and the next
    // once-a-minute evaluation (7 s past) sees it.
    assert_eq!(rto.detection_ms, 47_000);
}

#[test]
fn the_primary_ends_stopped_and_the_standby_running() {
    let run = run_article(9, Ordering::Parallel, &mut Quiet);
    let primary = run.region.instance(&run.group.primary).unwrap();
    let standby = run.region.instance(&run.group.standbys[0]).unwrap();
    assert_eq!(primary.state, InstanceState::Stopped);
    assert_eq!(standby.state, InstanceState::Running);
    assert_eq!(standby.availability_zone, "ap-northeast-1c");
}
