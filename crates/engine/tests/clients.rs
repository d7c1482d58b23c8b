//! Clients follow the failover, on the simulated region (which models what moto cannot:
//! blackhole routes, `PENDING` record changes, `initial` targets, refused route changes): readiness
//! before any traffic, every mover verified before the member is recorded active, nothing moved
//! before the fence holds, and a second run changes nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use coldstandby_engine::clients::{Dns, ElasticIp, Mover, OverlayIp, Probe, ReadinessCheck, TargetGroup};
use coldstandby_engine::{
    Call, Clock, EventKind, Failure, GroupSpec, InstanceState, Ordering, Outcome, WhenNotReady,
};
use coldstandby_sim::SimRegion;
use common::*;

const OVERLAY: &str = "10.255.0.10/32";
const TARGET_GROUP: &str =
    "arn:aws:elasticloadbalancing:ap-northeast-1:111122223333:targetgroup/db/0123456789abcdef";

fn movers() -> Vec<Mover> {
    vec![
        Mover::OverlayIp(OverlayIp {
            address: OVERLAY.to_owned(),
            route_tables: vec!["rtb-a".into(), "rtb-c".into()],
        }),
        Mover::Dns(Dns { hosted_zone: "Z0PRIVATE".to_owned(), record: "db.internal.".to_owned(), ttl: 10 }),
        Mover::TargetGroup(TargetGroup {
            arn: TARGET_GROUP.to_owned(),
            port: None,
            move_registration: false,
        }),
        Mover::ElasticIp(ElasticIp { allocation: "eipalloc-0123".to_owned() }),
    ]
}

fn group_with_clients(ordering: Ordering) -> GroupSpec {
    let mut spec = group(ordering);
    spec.readiness = vec![ReadinessCheck::new(Probe::Tcp { port: 5432 })];
    spec.movers = movers();
    spec
}

fn provisioned(seed: u64, spec: &GroupSpec) -> SimRegion {
    let region = region(seed);
    region.provision_clients(spec, &id(PRIMARY));
    region
}

/// Every place clients are sent, with the member it sends them to.
fn pointed_at(region: &SimRegion) -> Vec<(String, String)> {
    region.traffic_pointers().into_iter().map(|(place, member)| (place, member.to_string())).collect()
}

#[test]
fn every_mover_points_at_the_standby_once_it_is_ready_and_only_then_is_it_recorded() {
    for ordering in [Ordering::FenceFirst, Ordering::Parallel] {
        let spec = group_with_clients(ordering);
        let region = provisioned(41, &spec);
        assert!(pointed_at(&region).iter().all(|(_, member)| member == PRIMARY));

        let report = run(&region, spec.clone());
        failed_over_to(&report, FIRST);
        let pointers = pointed_at(&region);
        // Two route tables, the record, the healthy target and the address.
        assert_eq!(pointers.len(), 5, "{pointers:?}");
        assert!(pointers.iter().all(|(_, member)| member == FIRST), "{pointers:?}");

        let fenced = transition_time(&region, PRIMARY, InstanceState::Stopped).unwrap();
        let first_change = region.traffic_changes().first().map(|change| change.at).unwrap();
        assert!(first_change >= fenced, "{ordering:?}: traffic moved before the fence held");
        let ready = event_time(&report, |kind| matches!(kind, EventKind::Ready { .. })).unwrap();
        assert!(first_change >= ready, "traffic moved before readiness passed");
        let recorded = event_time(&report, |kind| matches!(kind, EventKind::Recorded { .. })).unwrap();
        let moved = report.milestones.redirected_at.unwrap();
        assert!(recorded >= moved, "recorded before every mover verified");
        // The target group needs no control-plane call: every member stays registered.
        let registrations = call_times(&region, |call| matches!(call, Call::MoveClients { .. }));
        assert_eq!(
            registrations.len(),
            5,
            "two routes, the source/destination check, the record, the address"
        );
    }
}

#[test]
fn a_second_run_changes_nothing_and_leaves_every_mover_where_it_is() {
    let spec = group_with_clients(Ordering::FenceFirst);
    let region = provisioned(42, &spec);
    failed_over_to(&run(&region, spec.clone()), FIRST);
    let changes_before = region.traffic_changes().len();
    let report = run(&region, spec);
    assert!(matches!(report.outcome, Outcome::AlreadyActive { .. }), "{:?}", report.outcome);
    assert_eq!(region.traffic_changes().len(), changes_before);
    assert!(pointed_at(&region).iter().all(|(_, member)| member == FIRST));
}

#[test]
fn a_route_table_that_refuses_for_a_while_is_retried_until_every_table_agrees() {
    let spec = group_with_clients(Ordering::FenceFirst);
    let region = provisioned(43, &spec);
    region.with_network(|network, _| network.faults.refusing_table = Some(("rtb-c".to_owned(), 3)));
    failed_over_to(&run(&region, spec), FIRST);
    let routes: Vec<_> =
        pointed_at(&region).into_iter().filter(|(place, _)| place.starts_with("rtb-")).collect();
    assert_eq!(routes, [("rtb-a".to_owned(), FIRST.to_owned()), ("rtb-c".to_owned(), FIRST.to_owned())]);
}

#[test]
fn a_record_change_is_verified_only_once_route_53_reports_it_in_sync() {
    let mut spec = group(Ordering::FenceFirst);
    spec.movers = vec![movers().remove(1)];
    let region = provisioned(44, &spec);
    region.with_network(|network, _| network.timings.record_in_sync_ms = 45_000);
    let report = run(&region, spec);
    failed_over_to(&report, FIRST);
    let changed = region.traffic_changes()[0].at;
    let moved = report.milestones.redirected_at.unwrap();
    assert!(moved.saturating_since(changed).as_secs() >= 45, "verified before INSYNC");
}

#[test]
fn a_stale_record_swap_is_refused_and_made_again_from_what_is_there() {
    // Someone changed the record between the read and the change (a stale controller's view):
    // Route 53 refuses the DELETE of a value that is no longer there, and the mover reads again.
    let mut spec = group(Ordering::FenceFirst);
    spec.movers = vec![movers().remove(1)];
    let region = provisioned(45, &spec);
    let mut failover = coldstandby_engine::Failover::new(spec, Default::default(), region.now());
    let mut swapped = false;
    let report = loop {
        match failover.poll(region.now()) {
            coldstandby_engine::Action::Call(call) => {
                if matches!(call, Call::MoveClients { .. }) && !swapped {
                    swapped = true;
                    region.with_network(|network, _| {
                        network.add_record("Z0PRIVATE", "db.internal.", "10.9.9.9", 10)
                    });
                }
                let result = region.run(coldstandby_engine::provider::execute(&region, &call));
                failover.on_result(region.now(), result);
            }
            coldstandby_engine::Action::Sleep { until, .. } => region.advance_to(until),
            coldstandby_engine::Action::Finished => break failover.into_report(),
        }
    };
    failed_over_to(&report, FIRST);
    let refused = region
        .calls()
        .into_iter()
        .filter(|record| record.error.as_deref() == Some("InvalidChangeBatch"))
        .count();
    assert_eq!(refused, 1);
    assert!(pointed_at(&region).iter().all(|(_, member)| member == FIRST));
}

#[test]
fn a_member_that_never_gets_ready_fails_the_run_with_no_client_moved_and_is_kept_by_default() {
    for (setting, kept) in [(WhenNotReady::KeepRunning, true), (WhenNotReady::Stop, false)] {
        let mut spec = group_with_clients(Ordering::FenceFirst);
        spec.when_not_ready = setting;
        let region = provisioned(46, &spec);
        region.with_network(|network, _| {
            network.faults.never_ready.insert(id(FIRST));
        });
        let report = run(&region, spec);
        assert!(matches!(failure(&report), Failure::NotReady { .. }), "{:?}", report.outcome);
        assert!(region.traffic_changes().is_empty(), "no client may move to a member that is not ready");
        let first = state(&region, FIRST);
        assert_eq!(first == InstanceState::Running, kept, "{setting:?}: {first}");
        assert_eq!(state(&region, PRIMARY), InstanceState::Stopped);
    }
}

#[test]
fn moving_registration_registers_the_standby_and_deregisters_the_primary() {
    let mut spec = group(Ordering::FenceFirst);
    spec.movers = vec![Mover::TargetGroup(TargetGroup {
        arn: TARGET_GROUP.to_owned(),
        port: Some(5432),
        move_registration: true,
    })];
    let region = provisioned(47, &spec);
    let report = run(&region, spec);
    failed_over_to(&report, FIRST);
    let operations: Vec<&str> = region
        .calls()
        .iter()
        .filter_map(|record| match &record.call {
            Call::MoveClients { change } if record.error.is_none() => Some(change.operation()),
            _ => None,
        })
        .collect();
    assert_eq!(operations, ["RegisterTargets", "DeregisterTargets"]);
    assert_eq!(pointed_at(&region), [(TARGET_GROUP.to_owned(), FIRST.to_owned())]);
}

/// The region, but every record change is refused as a lost compare-and-swap.
struct RefusesRecords<'a>(&'a SimRegion);

impl coldstandby_engine::Provider for RefusesRecords<'_> {
    async fn describe(
        &self,
        instances: &[coldstandby_engine::InstanceId],
    ) -> Result<Vec<coldstandby_engine::Observation>, coldstandby_engine::ApiError> {
        self.0.describe(instances).await
    }
    async fn start(
        &self,
        instances: &[coldstandby_engine::InstanceId],
    ) -> Result<(), coldstandby_engine::ApiError> {
        self.0.start(instances).await
    }
    async fn stop(
        &self,
        instances: &[coldstandby_engine::InstanceId],
        force: bool,
    ) -> Result<(), coldstandby_engine::ApiError> {
        self.0.stop(instances, force).await
    }
    async fn set_tags(
        &self,
        instances: &[coldstandby_engine::InstanceId],
        tags: &std::collections::BTreeMap<String, String>,
    ) -> Result<(), coldstandby_engine::ApiError> {
        self.0.set_tags(instances, tags).await
    }
    async fn read_clients(
        &self,
        mover: &Mover,
        desired: &coldstandby_engine::clients::Endpoint,
        change: Option<&str>,
    ) -> Result<coldstandby_engine::clients::ClientView, coldstandby_engine::ApiError> {
        self.0.read_clients(mover, desired, change).await
    }
    async fn move_clients(
        &self,
        _change: &coldstandby_engine::clients::Change,
    ) -> Result<Option<String>, coldstandby_engine::ApiError> {
        let kind = coldstandby_engine::ErrorKind::WrongState;
        Err(coldstandby_engine::ApiError::new(kind, "InvalidChangeBatch", "values provided do not match"))
    }
}

#[test]
fn a_change_refused_every_time_fails_the_run_with_the_refusal_after_a_few_tries() {
    let mut spec = group(Ordering::FenceFirst);
    spec.movers = vec![movers().remove(1)];
    let region = provisioned(48, &spec);
    let report = run_on(&RefusesRecords(&region), &region, spec, Default::default());
    match failure(&report) {
        Failure::PermanentError { operation, error, .. } => {
            assert_eq!(
                (operation.as_str(), error.code.as_str()),
                ("ChangeResourceRecordSets", "InvalidChangeBatch")
            );
        }
        other => panic!("expected the refusal, got {other:?}"),
    }
    let refused =
        report.events.iter().filter(|event| matches!(event.kind, EventKind::CallFailed { .. })).count();
    assert_eq!(refused, 5, "read again after each refusal, five in a row end it");
    // The standby stays behind the fence that held (nothing else runs); no client was moved.
    assert_eq!(state(&region, FIRST), InstanceState::Running);
    assert!(region.traffic_changes().is_empty());
}
