//! A run acts on the failure it was started on only while that failure is about the group as it
//! is: a watcher's verdict from before an operator's switchover, or an alarm from before a
//! switchback, finds the group moved on and changes nothing. Judged from the simulated region.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use coldstandby_engine::tags::ACTIVATED_AT_TAG;
use coldstandby_engine::{
    Call, Evidence, InstanceState, Options, Ordering, Outcome, Role, Superseded, Timestamp,
};
use common::*;

/// The group after an operator switched it from FIRST back to PRIMARY, activated at
/// `activated_at`: PRIMARY runs, recorded active; FIRST is stopped, recorded standby.
fn switched_back(activated_at: Timestamp) -> coldstandby_sim::SimRegion {
    let region = region(41);
    region.with_instance(&id(PRIMARY), |primary, _| {
        primary.tags = Role::Active.tags_for("web");
        primary.tags.insert(ACTIVATED_AT_TAG.to_owned(), activated_at.unix_millis().to_string());
    });
    region.with_instance(&id(FIRST), |first, _| first.tags = Role::Standby.tags_for("web"));
    region
}

/// `seconds` before the run starts.
fn before_start(seconds: u64) -> Timestamp {
    Timestamp::from_unix_millis(START.unix_millis() - seconds * 1000)
}

fn with_evidence(member: &str, at: Timestamp) -> Options {
    Options {
        evidence: Some(Evidence { member: Some(id(member)), at, fresh_for: None }),
        ..Options::default()
    }
}

fn mutating_calls(region: &coldstandby_sim::SimRegion) -> usize {
    region.calls().iter().filter(|record| !matches!(record.call, Call::Describe { .. })).count()
}

/// Issue "an old verdict is not a new one": during a switchover the watchers saw the member being
/// switched out stop, waited for the lease the operator held, then failed over the member just
/// switched in. A verdict about another member than the one recorded active now is history.
#[test]
fn a_verdict_about_the_member_switched_out_changes_nothing() {
    let region = switched_back(before_start(5));
    let options = with_evidence(FIRST, before_start(20));
    let report = run_on(&region, &region, group(Ordering::Parallel), options);
    let Outcome::MovedOn { active, failed, .. } = &report.outcome else { panic!("{:?}", report.outcome) };
    assert_eq!((active.as_str(), failed.as_ref().map(|f| f.as_str())), (PRIMARY, Some(FIRST)));
    assert_eq!(mutating_calls(&region), 0, "nothing changed");
    assert_eq!(state(&region, PRIMARY), InstanceState::Running);
    assert!(report.outcome.to_string().contains("the failure seen was of i-0000000000000000b"));
}

/// A failure of the active member seen before it was activated (an alarm delayed past a
/// switchback) is history too; one seen after its activation is acted on.
#[test]
fn a_failure_seen_before_the_activation_is_history_and_one_seen_after_acts() {
    let activated_at = before_start(60);
    let region = switched_back(activated_at);
    let before = with_evidence(PRIMARY, Timestamp::from_unix_millis(activated_at.unix_millis() - 30_000));
    let report = run_on(&region, &region, group(Ordering::Parallel), before);
    assert!(matches!(report.outcome, Outcome::MovedOn { .. }), "{:?}", report.outcome);
    assert_eq!(mutating_calls(&region), 0, "nothing changed");

    let after = with_evidence(PRIMARY, activated_at + Duration::from_secs(30));
    failed_over_to(&run_on(&region, &region, group(Ordering::Parallel), after), FIRST);
    assert_eq!(
        (state(&region, PRIMARY), state(&region, FIRST)),
        (InstanceState::Stopped, InstanceState::Running)
    );
}

/// A failure seen longer ago than it may be trusted (a watcher that paused after its verdict)
/// changes nothing, even when the member it names is still the active one.
#[test]
fn a_failure_seen_longer_ago_than_it_is_trusted_for_changes_nothing() {
    let region = region(42);
    let stale = Evidence {
        member: Some(id(PRIMARY)),
        at: before_start(30),
        fresh_for: Some(Duration::from_secs(26)),
    };
    let report = run_on(
        &region,
        &region,
        group(Ordering::Parallel),
        Options { evidence: Some(stale), ..Options::default() },
    );
    assert!(
        matches!(report.outcome, Outcome::MovedOn { because: Superseded::TooOld { .. }, .. }),
        "{:?}",
        report.outcome
    );
    assert_eq!(mutating_calls(&region), 0, "nothing changed");
    assert_eq!(state(&region, PRIMARY), InstanceState::Running);

    let fresh =
        Evidence { member: Some(id(PRIMARY)), at: before_start(5), fresh_for: Some(Duration::from_secs(26)) };
    failed_over_to(
        &run_on(
            &region,
            &region,
            group(Ordering::Parallel),
            Options { evidence: Some(fresh), ..Options::default() },
        ),
        FIRST,
    );
}

/// A failure of the primary from before the group failed over to FIRST, acted on while FIRST's
/// zone is silent: the plan fences FIRST as unknown, and the primary as the active member it
/// falls back to. The primary is seen stopped, so nothing is sent to it and the fence has changed
/// nothing: when FIRST answers, recorded active since the failure, the run ends moved on.
#[test]
fn an_old_failure_is_history_when_the_silent_active_member_answers_and_the_primary_was_seen_stopped() {
    let activated_at = before_start(60);
    let region = region(44);
    failed_over_to_first(&region, activated_at);
    let silent_until = START + Duration::from_secs(8);
    region.impair_zone_between(
        "ap-northeast-1c",
        coldstandby_sim::ImpairedCalls::Fail,
        START,
        Some(silent_until),
    );
    let old_failure =
        with_evidence(PRIMARY, Timestamp::from_unix_millis(activated_at.unix_millis() - 30_000));

    let report = run_on(&region, &region, group(Ordering::FenceFirst), old_failure);
    assert!(matches!(report.outcome, Outcome::MovedOn { .. }), "{:?}\n{:#?}", report.outcome, report.events);
    assert_eq!(state(&region, FIRST), InstanceState::Running, "the member serving was left alone");
    assert!(call_times(&region, |call| matches!(call, Call::Start { .. })).is_empty(), "nothing started");
    assert!(call_times(&region, is_stop_of(PRIMARY)).is_empty(), "the stopped primary was not stopped again");
}

/// Seeds 20,019,579 and 20,103,884 of the 1,000,000-seed sweep: the first alarm of the group,
/// delivered again after a failover to FIRST and a switchback, while the primary's zone does not
/// answer. The primary is unknown, so nothing answers as recorded active; FIRST answers, demoted
/// but still carrying when it was made active, after the failure. The group changed after the
/// failure: the run moves on, and the primary's zone answering again finds nothing sent to it.
#[test]
fn an_old_failure_is_history_when_a_demoted_member_was_activated_after_it() {
    let failed_over_at = before_start(300);
    let switched_back_at = before_start(120);
    let region = switched_back(switched_back_at);
    region.with_instance(&id(FIRST), |first, _| {
        let at = failed_over_at.unix_millis().to_string();
        first.tags.insert(ACTIVATED_AT_TAG.to_owned(), at);
    });
    region.impair_zone_between(
        "ap-northeast-1a",
        coldstandby_sim::ImpairedCalls::Fail,
        START,
        Some(START + Duration::from_secs(20)),
    );
    let first_alarm = with_evidence(PRIMARY, before_start(400));

    let report = run_on(&region, &region, group(Ordering::FenceFirst), first_alarm);
    assert_eq!(mutating_calls(&region), 0, "nothing sent: {:#?}", report.events);
    let Outcome::MovedOn { because, .. } = &report.outcome else {
        panic!("{:?}\n{:#?}", report.outcome, report.events)
    };
    assert_eq!(*because, Superseded::GroupActivatedAfter { member: id(FIRST), activated_at: failed_over_at });
    region.advance(Duration::from_secs(60));
    assert_eq!(state(&region, PRIMARY), InstanceState::Running, "the member serving was left alone");
}

/// Seed 20,002,804 of the 1,000,000-seed sweep: the first alarm delivered again after a failback,
/// to a run whose describes were throttled longer than the grace for a complete answer, and
/// whose first answer then came back empty. The grace had run out before any answer: the run
/// planned on nothing, took the primary (the configuration's, not a record's) for the active
/// member, and stopped it while it served. The grace counts from the first answer: the next
/// answers return the records, and the run moves on.
#[test]
fn a_first_answer_that_comes_late_and_empty_is_no_basis_for_a_plan() {
    let failed_over_at = before_start(300);
    let region = switched_back(before_start(120));
    region.with_instance(&id(FIRST), |first, _| {
        first.tags.insert(ACTIVATED_AT_TAG.to_owned(), failed_over_at.unix_millis().to_string());
    });
    let answers_from = START + Duration::from_secs(15);
    let empty_once = std::sync::atomic::AtomicBool::new(true);
    let late_and_empty = DescribesOverridden {
        region: &region,
        answer: |_: &[coldstandby_engine::InstanceId], now: Timestamp| {
            if now < answers_from {
                return Some(Err(throttled()));
            }
            empty_once.swap(false, std::sync::atomic::Ordering::SeqCst).then(|| Ok(Vec::new()))
        },
    };
    let first_alarm = with_evidence(PRIMARY, before_start(400));

    let report = run_on(&late_and_empty, &region, group(Ordering::FenceFirst), first_alarm);
    assert_eq!(mutating_calls(&region), 0, "nothing sent: {:#?}", report.events);
    assert!(matches!(report.outcome, Outcome::MovedOn { .. }), "{:?}", report.outcome);
    assert_eq!(state(&region, PRIMARY), InstanceState::Running);
}
