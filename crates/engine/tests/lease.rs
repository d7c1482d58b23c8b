//! The group lease, judged from the simulated lease table's history and the region's call log:
//! taken and released, the fencing epoch in the trigger tag, a contender that finds it renewed
//! does nothing, a dead holder's lease is taken over only after its whole duration, a holder cut
//! off from the table stops acting before anyone can take over, and writes whose answers are
//! lost are recognised.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use coldstandby_engine::driver::{self, Quiet};
use coldstandby_engine::fleet::{Fleet, Zones};
use coldstandby_engine::lease::{LeaseCall, LeaseRecord, LeaseSettings};
use coldstandby_engine::tags::TRIGGER_TAG;
use coldstandby_engine::{
    Call, Clock, EventKind, Failover, Failure, GroupSpec, Options, Ordering, Outcome, Report,
};
use coldstandby_sim::controller::join_all;
use coldstandby_sim::leases::{CutOff, LeaseChange, LeaseFaults};
use coldstandby_sim::{SimRegion, Span, Timings};
use common::*;

const TABLE: &str = "coldstandby-leases";

fn settings(owner: &str, seconds: u64) -> LeaseSettings {
    LeaseSettings { table: TABLE.to_owned(), owner: owner.to_owned(), duration: Duration::from_secs(seconds) }
}

/// One controller's run of `spec` under the lease, starting `after` from now.
fn controller<'a>(
    region: &'a SimRegion,
    name: &'a str,
    spec: GroupSpec,
    after: Duration,
    lease_seconds: u64,
) -> Pin<Box<dyn Future<Output = Report> + 'a>> {
    Box::pin(async move {
        let controller = region.controller(name);
        controller.sleep_until(region.now() + after).await;
        let options = Options { trigger: format!("{name}'s trigger"), ..Options::default() };
        let failover = Failover::new(spec, options, region.now());
        let fleet = Fleet::new(vec![failover], Zones::default(), region.now())
            .with_leases(&settings(name, lease_seconds), region.now());
        let mut reports = driver::run_fleet(fleet, &controller, &controller, &mut Quiet).await;
        reports.remove(0)
    })
}

fn mutating(call: &Call) -> bool {
    matches!(
        call,
        Call::Start { .. }
            | Call::Stop { .. }
            | Call::SetTags { .. }
            | Call::MoveClients { .. }
            | Call::Isolate { .. }
    )
}

/// The times of `name`'s mutating calls.
fn acted_at(region: &SimRegion, name: &str) -> Vec<coldstandby_engine::Timestamp> {
    region
        .calls()
        .into_iter()
        .filter(|record| record.caller.as_deref() == Some(name) && mutating(&record.call))
        .map(|record| record.at)
        .collect()
}

fn changes(region: &SimRegion) -> Vec<(Option<String>, u64)> {
    region.lease_history().into_iter().map(|change| (change.owner, change.epoch)).collect()
}

#[test]
fn a_run_takes_the_lease_writes_its_epoch_and_releases_it() {
    let region = region(1);
    let report = region.run(controller(&region, "lambda-1", group(Ordering::FenceFirst), Duration::ZERO, 20));
    failed_over_to(&report, FIRST);
    let history = changes(&region);
    assert_eq!(history.first(), Some(&(Some("lambda-1".to_owned()), 1)), "claimed at epoch 1");
    assert_eq!(history.last(), Some(&(None, 1)), "released, epoch kept");
    let took = report.finished_at.saturating_since(report.started_at);
    assert!(took > Duration::from_secs(7), "long enough to need renewals: {took:?}");
    assert!(history.len() > 2, "renewed while the failover ran ({took:?}): {history:?}");
    let tag = region.instance(&id(FIRST)).unwrap().tags[TRIGGER_TAG].clone();
    assert_eq!(tag, "lambda-1's trigger lease-epoch 1");
    // Every mutating call came while the table named it the holder.
    let first = region.lease_history()[0].at;
    let last = region.lease_history().last().unwrap().at;
    assert!(acted_at(&region, "lambda-1").iter().all(|at| (first..=last).contains(at)));

    // The next run takes the next epoch.
    let back = GroupSpec::new("web", id(FIRST), vec![id(PRIMARY)]);
    let report = region.run(controller(&region, "cli", back, Duration::ZERO, 20));
    assert!(
        matches!(&report.outcome, Outcome::FailedOver { to, .. } if to.as_str() == PRIMARY),
        "{:?}",
        report.outcome
    );
    assert_eq!(changes(&region).last(), Some(&(None, 2)));
}

#[test]
fn a_contender_that_sees_the_lease_renewed_does_nothing_and_names_the_holder() {
    let region = region(2);
    let reports = region.run(join_all(vec![
        controller(&region, "lambda-1", group(Ordering::FenceFirst), Duration::ZERO, 20),
        controller(&region, "operator-cli", group(Ordering::FenceFirst), Duration::from_secs(3), 20),
    ]));
    failed_over_to(&reports[0], FIRST);
    let Outcome::Failed { failure: Failure::LeaseHeld { owner, epoch } } = &reports[1].outcome else {
        panic!("{:?}", reports[1].outcome)
    };
    assert_eq!((owner.as_str(), *epoch), ("lambda-1", 1));
    assert!(acted_at(&region, "operator-cli").is_empty(), "the contender made no mutating call");
    assert!(Failure::LeaseHeld { owner: owner.clone(), epoch: *epoch }
        .to_string()
        .contains("lambda-1 (epoch 1)"));
    // It found out within one renewal period of looking, not after the whole duration.
    assert!(reports[1].finished_at.saturating_since(reports[1].started_at) < Duration::from_secs(9));
}

/// A lease left by a process that died: `holder` at epoch 4, as the table holds it.
fn dead_holder(region: &SimRegion, duration_ms: u64) {
    let record = LeaseRecord {
        group: "web".to_owned(),
        owner: Some("dead-process".to_owned()),
        epoch: 4,
        version: "dead-process #9".to_owned(),
        duration_ms,
    };
    let call = LeaseCall::Write { table: TABLE.to_owned(), record, expected: None };
    region.run(coldstandby_engine::Provider::lease(region, &call)).unwrap();
}

#[test]
fn a_dead_holders_lease_is_taken_over_only_after_its_whole_duration() {
    let region = region(3);
    dead_holder(&region, 15_000);
    let began = region.now();
    let report = region.run(controller(&region, "lambda-2", group(Ordering::FenceFirst), Duration::ZERO, 20));
    failed_over_to(&report, FIRST);
    let takeover: &LeaseChange = &region.lease_history()[1];
    assert_eq!((takeover.owner.as_deref(), takeover.epoch), (Some("lambda-2"), 5));
    assert!(
        takeover.at.saturating_since(began) >= Duration::from_secs(15),
        "waited out the record's duration"
    );
    assert!(acted_at(&region, "lambda-2").iter().all(|at| *at >= takeover.at));
    let waited = report.events.iter().any(|e| matches!(&e.kind, EventKind::LeaseTaken { epoch: 5, .. }));
    assert!(waited, "the timeline shows the lease taken");
}

#[test]
fn a_holder_cut_off_from_the_table_stops_acting_before_anyone_can_take_over() {
    for hang in [false, true] {
        let region = region(4);
        // A slow boot keeps the first run going past its lease.
        let timings =
            Timings { boot: Span::seconds(60, 60), stop: Span::seconds(5, 5), ..Timings::default() };
        region.set_timings(timings);
        let from = region.now() + Duration::from_secs(12);
        let cut = CutOff { from, until: from + Duration::from_secs(600), hang };
        region.with_leases(|table| table.cut_off.insert("lambda-1".to_owned(), cut));
        let reports = region.run(join_all(vec![
            controller(&region, "lambda-1", group(Ordering::FenceFirst), Duration::ZERO, 10),
            controller(&region, "lambda-1-retry", group(Ordering::FenceFirst), Duration::from_secs(20), 10),
        ]));
        let (first, second) = (&reports[0], &reports[1]);
        let Outcome::Failed { failure: Failure::LeaseLost { .. } } = &first.outcome else {
            panic!("{:?}", first.outcome)
        };
        let history = region.lease_history();
        let takeover =
            history.iter().find(|change| change.owner.as_deref() == Some("lambda-1-retry")).unwrap();
        let last_act = acted_at(&region, "lambda-1").into_iter().max().unwrap();
        assert!(
            last_act < takeover.at,
            "hang {hang}: acted at {last_act:?}, taken over at {:?}",
            takeover.at
        );
        failed_over_to(second, FIRST);
        assert_eq!(takeover.epoch, 2);
    }
}

#[test]
fn writes_whose_answers_are_lost_are_recognised_as_landed() {
    let region = region(5);
    region.with_leases(|table| table.faults = LeaseFaults { throttle: 0.2, lost_answer: 1.0 });
    let report = region.run(controller(&region, "lambda-1", group(Ordering::FenceFirst), Duration::ZERO, 20));
    failed_over_to(&report, FIRST);
    assert_eq!(changes(&region).last(), Some(&(None, 1)), "released, though no write was ever answered");
}

/// Issue "a lease covers the call, not just the decision": a stop into a zone that never answers
/// was waited for the whole call timeout (15 s), far past what the lease (8 s, acting until 2 s
/// before its deadline) covered when it was sent. Every call is now abandoned by the time the
/// holder must stop acting, as the lease stood when the call was sent.
#[test]
fn a_call_under_the_lease_is_abandoned_before_the_holder_must_stop_acting() {
    use coldstandby_engine::{Placement, WhenUnobservable};
    let region = region(6);
    region.impair_zone("ap-northeast-1a", coldstandby_sim::ImpairedCalls::Hang);
    let mut spec = group(Ordering::FenceFirst);
    spec.placement.insert(id(PRIMARY), Placement { zone: "ap-northeast-1a".to_owned(), subnet: None });
    spec.when_unobservable = WhenUnobservable::FailClosed;
    let report = region.run(controller(&region, "lambda-1", spec, Duration::ZERO, 8));
    let waits: Vec<u64> = report
        .events
        .iter()
        .filter_map(|event| match &event.kind {
            EventKind::CallFailed { operation, code, message, .. }
                if operation == "StopInstances" && code == "ClientTimeout" =>
            {
                let waited = message.split("within ").nth(1)?.split(" ms").next()?;
                waited.parse().ok()
            }
            _ => None,
        })
        .collect();
    assert!(!waits.is_empty(), "the stop into the hanging zone was abandoned: {:?}", report.outcome);
    assert!(waits.iter().all(|waited| *waited <= 6_000), "abandoned after {waits:?} ms");
    assert!(region.calls().iter().all(|record| !matches!(record.call, Call::Start { .. })), "fail-closed");
}
