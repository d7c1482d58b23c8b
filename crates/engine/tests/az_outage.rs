//! A primary whose Availability Zone does not answer: `fail-closed` promotes nothing and says
//! why; `isolate` cuts the primary's subnet off, reads it back, and only then starts a standby;
//! the fleet's per-zone describes keep the other zones visible; a batch refused for one instance
//! is split so the others still get their answers. Judged from the simulated region's truth.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use coldstandby_engine::driver::{self, Quiet};
use coldstandby_engine::fleet::{Fleet, Zones};
use coldstandby_engine::tags::ACTIVATED_AT_TAG;
use coldstandby_engine::{
    Call, EventKind, Failover, Failure, GroupSpec, InstanceState, Options, Ordering, Outcome, Placement,
    Role, WhenUnobservable,
};
use coldstandby_sim::{ImpairedCalls, SimInstance, SimRegion, Timings};
use common::*;

const PRIMARY_SUBNET: &str = "subnet-0aaaaaaaaaaaaaaa1";
const QUARANTINE: &str = "acl-0d0d0d0d0d0d0d0d0";

/// The common group, with each member's zone and subnet known, and its policy.
fn placed_group(ordering: Ordering, policy: WhenUnobservable) -> GroupSpec {
    let mut spec = group(ordering);
    for (member, zone, subnet) in [
        (PRIMARY, "ap-northeast-1a", PRIMARY_SUBNET),
        (FIRST, "ap-northeast-1c", "subnet-0ccccccccccccccc1"),
        (SECOND, "ap-northeast-1d", "subnet-0ddddddddddddddd1"),
    ] {
        let placement = Placement { zone: zone.to_owned(), subnet: Some(subnet.to_owned()) };
        spec.placement.insert(id(member), placement);
    }
    spec.when_unobservable = policy;
    spec
}

/// The common region with subnets, a deny-all ACL, and zone 1a impaired from the start.
fn impaired_region(seed: u64, calls: ImpairedCalls) -> SimRegion {
    let region = region(seed);
    for (member, subnet) in
        [(PRIMARY, PRIMARY_SUBNET), (FIRST, "subnet-0ccccccccccccccc1"), (SECOND, "subnet-0ddddddddddddddd1")]
    {
        region.with_instance(&id(member), |instance, _| instance.subnet = Some(subnet.to_owned()));
        region.with_acls(|acls| acls.add_subnet(subnet, "acl-0default0"));
    }
    region.with_acls(|acls| acls.add_deny_all(QUARANTINE));
    region.impair_zone("ap-northeast-1a", calls);
    region
}

fn isolate() -> WhenUnobservable {
    WhenUnobservable::Isolate { network_acl: QUARANTINE.to_owned() }
}

#[test]
fn fail_closed_promotes_nothing_and_reports_the_primary_unobservable() {
    for (calls, ordering) in
        [(ImpairedCalls::Fail, Ordering::FenceFirst), (ImpairedCalls::Hang, Ordering::Parallel)]
    {
        let region = impaired_region(31, calls);
        let spec = placed_group(ordering, WhenUnobservable::FailClosed);
        let report = run(&region, spec.clone());
        let Failure::Unobservable { instance, zone, .. } = failure(&report) else {
            panic!("{:?}", report.outcome)
        };
        assert_eq!((instance.as_str(), zone.as_deref()), (PRIMARY, Some("ap-northeast-1a")));
        assert!(failure(&report).to_string().starts_with("primary unobservable: AZ impaired"));
        // Even with parallel ordering: no standby is started beside a member nobody can see.
        assert!(region.calls().iter().all(|record| !matches!(record.call, Call::Start { .. })));
        assert_eq!(
            (state(&region, FIRST), state(&region, SECOND)),
            (InstanceState::Stopped, InstanceState::Stopped)
        );
        assert!(report.finished_at <= START + spec.timeouts.failover, "within the failover deadline");
        assert!(!region.is_cut_off(&id(PRIMARY)), "fail-closed cuts nothing off");
    }
}

#[test]
fn isolate_cuts_the_primary_off_before_the_standby_starts_and_records_when_it_did() {
    for calls in [ImpairedCalls::Fail, ImpairedCalls::Hang, ImpairedCalls::Either] {
        let region = impaired_region(32, calls);
        let report = run(&region, placed_group(Ordering::Parallel, isolate()));
        failed_over_to(&report, FIRST);
        assert!(region.is_cut_off(&id(PRIMARY)), "the primary's subnet is on the deny-all ACL");
        assert_eq!(state(&region, FIRST), InstanceState::Running);
        let isolated_at = region.with_acls(|acls| acls.changes()[0].at);
        let started_at = call_times(&region, is_start_of(FIRST))[0];
        assert!(isolated_at < started_at, "cut off at {isolated_at:?}, started at {started_at:?}");
        assert!(
            region.calls().iter().all(|record| !matches!(record.call, Call::Stop { .. })),
            "no stop into the zone"
        );
        let tags = region.instance(&id(FIRST)).unwrap().tags;
        assert_eq!(tags.get(ACTIVATED_AT_TAG), Some(&START.unix_millis().to_string()));
        assert!(report
            .events
            .iter()
            .any(|e| matches!(&e.kind, EventKind::Isolated { subnet, .. } if subnet == PRIMARY_SUBNET)));
    }
}

#[test]
fn once_the_zone_answers_again_the_next_run_keeps_the_newer_record_and_stops_the_isolated_primary() {
    let region = impaired_region(33, ImpairedCalls::Fail);
    let spec = placed_group(Ordering::FenceFirst, isolate());
    region.with_instance(&id(PRIMARY), |primary, _| {
        primary.tags = Role::Active.tags_for("web");
    });
    failed_over_to(&run(&region, spec.clone()), FIRST);
    assert_eq!(role(&region, PRIMARY), Some(Role::Active), "its tags could not be written");

    region.restore_zone("ap-northeast-1a");
    region.advance(Duration::from_secs(60));
    let report = run(&region, spec);
    assert!(
        matches!(report.outcome, Outcome::FailedOver { .. } | Outcome::AlreadyActive { .. }),
        "{:?}",
        report.outcome
    );
    assert_eq!(state(&region, PRIMARY), InstanceState::Stopped, "the isolated primary is stopped at last");
    assert_eq!((role(&region, PRIMARY), role(&region, FIRST)), (Some(Role::Standby), Some(Role::Active)));
}

#[test]
fn a_fleet_sees_the_zones_that_answer_and_splits_a_batch_refused_for_one_instance() {
    let region = SimRegion::new(34, START, Timings::default());
    let mut specs = Vec::new();
    for group in 0..3u64 {
        let primary = id(&format!("i-{:017x}", 0x100 + group));
        let standby = id(&format!("i-{:017x}", 0x200 + group));
        region.add_instance(SimInstance::new(primary.clone(), "ap-northeast-1a", InstanceState::Running));
        region.add_instance(SimInstance::new(standby.clone(), "ap-northeast-1c", InstanceState::Stopped));
        let mut spec = GroupSpec::new(format!("g{group}"), primary, vec![standby]);
        // Parallel: every group starts its standby once its first observation is in, together.
        spec.ordering = Ordering::Parallel;
        specs.push(spec);
    }
    // The second group's standby may not be started: the batch of three starts is refused whole.
    region.with_instance(&specs[1].standbys[0], |standby, _| standby.faults.denied = true);
    let failovers = specs.iter().map(|spec| Failover::new(spec.clone(), Options::default(), START)).collect();
    let fleet = Fleet::new(failovers, Zones::default(), START);
    let reports = region.run(driver::run_fleet(fleet, &region, &region, &mut Quiet));

    for (spec, report) in specs.iter().zip(&reports) {
        let standby = region.instance(&spec.standbys[0]).unwrap().state;
        if spec.name == "g1" {
            assert!(matches!(
                report.outcome,
                Outcome::Failed { failure: Failure::NoStandbyAvailable { .. } }
            ));
            assert_eq!(standby, InstanceState::Stopped);
        } else {
            assert!(
                matches!(report.outcome, Outcome::FailedOver { .. }),
                "{}: {:?}",
                spec.name,
                report.outcome
            );
            assert_eq!(standby, InstanceState::Running);
        }
    }
    // One describe per zone per round, for all three groups: never one per group.
    let mut by_request: BTreeMap<u64, usize> = BTreeMap::new();
    for record in region.calls().iter().filter(|r| matches!(r.call, Call::Describe { .. })) {
        if let Call::Describe { instances } = &record.call {
            by_request.insert(record.request, instances.len());
        }
    }
    assert!(
        by_request.values().any(|ids| *ids >= 3),
        "a describe names several groups' members: {by_request:?}"
    );
    let starts: Vec<usize> = region
        .calls()
        .iter()
        .filter(|r| matches!(r.call, Call::Start { .. }))
        .fold(BTreeMap::<u64, usize>::new(), |mut m, r| {
            *m.entry(r.request).or_default() += 1;
            m
        })
        .into_values()
        .collect();
    // One start probes the type in the zone; once it is accepted the other two go together, are
    // refused whole for the one denied standby, and are asked again alone.
    assert_eq!(starts, [1, 2, 1, 1], "{starts:?}");
}

/// 250 groups: more primaries in one zone than 200, the most ids every caller reports a describe
/// may name.
fn many_groups(region: &SimRegion) -> Vec<GroupSpec> {
    (0..250u64)
        .map(|group| {
            let primary = id(&format!("i-{:017x}", 0x1000 + group));
            let standby = id(&format!("i-{:017x}", 0x2000 + group));
            region.add_instance(SimInstance::new(primary.clone(), "ap-northeast-1a", InstanceState::Running));
            region.add_instance(SimInstance::new(standby.clone(), "ap-northeast-1c", InstanceState::Stopped));
            GroupSpec::new(format!("g{group}"), primary, vec![standby])
        })
        .collect()
}

/// The largest number of ids one describe request named.
fn widest_describe(region: &SimRegion) -> usize {
    region
        .calls()
        .iter()
        .filter_map(|record| match &record.call {
            Call::Describe { instances } if record.error.is_none() => Some(instances.len()),
            _ => None,
        })
        .max()
        .unwrap_or(0)
}

#[test]
fn a_describe_names_a_whole_zone_up_to_a_page_and_falls_back_when_ec2_refuses_that_many() {
    for limit in [0, 200] {
        let region = SimRegion::new(35, START, Timings::default());
        region
            .set_faults(coldstandby_sim::RegionFaults { describe_filter_limit: limit, ..Default::default() });
        let specs = many_groups(&region);
        let failovers =
            specs.iter().map(|spec| Failover::new(spec.clone(), Options::default(), START)).collect();
        let fleet = Fleet::new(failovers, Zones::default(), START);
        let reports = region.run(driver::run_fleet(fleet, &region, &region, &mut Quiet));
        let failed_over = reports.iter().filter(|r| matches!(r.outcome, Outcome::FailedOver { .. })).count();
        assert_eq!(failed_over, specs.len(), "limit {limit}");
        let refused = region
            .calls()
            .iter()
            .filter(|r| {
                matches!(r.call, Call::Describe { .. }) && r.error.as_deref() == Some("InvalidParameterValue")
            })
            .count();
        if limit == 0 {
            // Every member in one request while zones are unknown, then one per zone.
            assert_eq!(widest_describe(&region), 500);
            assert_eq!(refused, 0);
        } else {
            assert!(widest_describe(&region) <= 200, "fell back to 200 ids");
            assert!((1..=2).contains(&refused), "refused once per zone at most, then never again: {refused}");
        }
    }
}

#[test]
fn a_type_short_in_a_zone_is_probed_with_one_start_not_retried_in_batches() {
    let region = SimRegion::new(36, START, Timings::default());
    let back_at = START + Duration::from_secs(40);
    let specs: Vec<GroupSpec> = (0..50u64)
        .map(|group| {
            let primary = id(&format!("i-{:017x}", 0x3000 + group));
            let standby = id(&format!("i-{:017x}", 0x4000 + group));
            region.add_instance(SimInstance::new(primary.clone(), "ap-northeast-1a", InstanceState::Running));
            let mut sim = SimInstance::new(standby.clone(), "ap-northeast-1c", InstanceState::Stopped);
            sim.faults.capacity_shortage = Some(coldstandby_sim::CapacityShortage::Until(back_at));
            region.add_instance(sim);
            let mut spec = GroupSpec::new(format!("g{group}"), primary, vec![standby]);
            spec.ordering = Ordering::Parallel;
            spec
        })
        .collect();
    let failovers = specs.iter().map(|spec| Failover::new(spec.clone(), Options::default(), START)).collect();
    let fleet = Fleet::new(failovers, Zones::default(), START);
    let reports = region.run(driver::run_fleet(fleet, &region, &region, &mut Quiet));
    let outcomes: Vec<String> = reports.iter().map(|r| r.outcome.to_string()).collect();
    assert!(reports.iter().all(|r| matches!(r.outcome, Outcome::FailedOver { .. })), "{outcomes:#?}");
    let mut requests: BTreeMap<u64, (usize, Option<String>)> = BTreeMap::new();
    for record in region.calls().iter().filter(|r| matches!(r.call, Call::Start { .. })) {
        let entry = requests.entry(record.request).or_insert((0, record.error.clone()));
        entry.0 += 1;
    }
    let refused: Vec<usize> =
        requests.values().filter(|(_, error)| error.is_some()).map(|(n, _)| *n).collect();
    assert!(!refused.is_empty(), "the shortage was met");
    assert!(refused.iter().all(|n| *n == 1), "only probes were refused, never a batch: {refused:?}");
    assert!(requests.values().any(|(n, error)| *n > 1 && error.is_none()), "then the rest went together");
}

/// The region after a failover to the first standby: it runs in 1c, recorded active; the
/// primary is stopped and recorded standby. Then 1c stops answering.
fn failed_over_region_whose_active_zone_fails(seed: u64) -> SimRegion {
    let region = impaired_region(seed, ImpairedCalls::Fail);
    region.restore_zone("ap-northeast-1a");
    failed_over_to_first(
        &region,
        coldstandby_engine::Timestamp::from_unix_millis(START.unix_millis() - 3_600_000),
    );
    region.impair_zone("ap-northeast-1c", ImpairedCalls::Fail);
    region
}

/// Issue "unknown is not absent": a run during an outage of the active standby's zone could not
/// read its tags, took the stopped primary for the active member, skipped the real one as "not
/// found" and started the second standby beside it. Now a member nothing is known of is fenced:
/// fail-closed starts nothing; isolate cuts it off before the second standby starts.
#[test]
fn an_active_standby_in_a_zone_that_does_not_answer_is_fenced_never_taken_for_gone() {
    let region = failed_over_region_whose_active_zone_fails(35);
    let report = run(&region, placed_group(Ordering::Parallel, WhenUnobservable::FailClosed));
    let Failure::Unobservable { instance, .. } = failure(&report) else { panic!("{:?}", report.outcome) };
    assert_eq!(instance.as_str(), FIRST);
    assert!(
        region.calls().iter().all(|record| !matches!(record.call, Call::Start { .. })),
        "nothing started"
    );
    assert_eq!(
        (state(&region, PRIMARY), state(&region, FIRST), state(&region, SECOND)),
        (InstanceState::Stopped, InstanceState::Running, InstanceState::Stopped),
        "the member serving is the only one that can"
    );

    let region = failed_over_region_whose_active_zone_fails(36);
    let report = run(&region, placed_group(Ordering::Parallel, isolate()));
    failed_over_to(&report, SECOND);
    assert!(region.is_cut_off(&id(FIRST)), "the unobservable active standby is cut off");
    let isolated_at = region.with_acls(|acls| acls.changes()[0].at);
    let started_at = call_times(&region, is_start_of(SECOND))[0];
    assert!(isolated_at < started_at, "cut off at {isolated_at:?}, started at {started_at:?}");
    assert_eq!(
        (state(&region, PRIMARY), state(&region, SECOND)),
        (InstanceState::Stopped, InstanceState::Running)
    );
}

/// EC2 fails a describe that names an instance in a disrupted zone, or names none: ids passed
/// only in an `instance-id` filter count as none. A provider describing that way is blind to
/// every zone during an outage (the known-bad case: the isolate run cannot even see the
/// standbys); one that names its ids per zone, as the AWS adapter does, fails the group over.
#[test]
fn describes_that_name_no_instance_id_fail_in_an_outage_so_ids_are_named() {
    let blind = impaired_region(37, ImpairedCalls::Fail);
    blind.set_faults(coldstandby_sim::RegionFaults { describe_by_filter: true, ..Default::default() });
    let report = run(&blind, placed_group(Ordering::FenceFirst, isolate()));
    assert!(!report.outcome.is_success(), "{:?}", report.outcome);
    assert!(blind.calls().iter().all(|record| !matches!(record.call, Call::Start { .. })), "nothing started");
    let describes = blind.calls().into_iter().filter(|r| matches!(r.call, Call::Describe { .. }));
    assert!(
        describes.clone().count() > 10 && describes.clone().all(|r| r.error.is_some()),
        "every describe failed"
    );

    let named = impaired_region(37, ImpairedCalls::Fail);
    failed_over_to(&run(&named, placed_group(Ordering::FenceFirst, isolate())), FIRST);
}

/// A run that took over a standby already running (a failover whose record it could not read
/// yet), whose zone then went silent before the run could confirm it, used to give it up as
/// "not running", fail, and stop it once the zone answered: the group was left with nothing,
/// its primary fenced. Now it waits for the standby to the deadline, and keeps it: behind a
/// fence that held, it is the one member that may serve.
#[test]
fn a_running_standby_taken_over_and_then_unanswered_is_kept_not_stopped() {
    let region = impaired_region(38, ImpairedCalls::Fail);
    region.restore_zone("ap-northeast-1a");
    region.with_instance(&id(FIRST), |first, _| first.state = InstanceState::Running);
    let silent_from = START + Duration::from_secs(2);
    let silent_until = START + Duration::from_secs(900);
    region.impair_zone_between("ap-northeast-1c", ImpairedCalls::Fail, silent_from, Some(silent_until));
    let mut spec = placed_group(Ordering::Parallel, WhenUnobservable::FailClosed);
    spec.standbys = vec![id(FIRST)];
    spec.placement.remove(&id(SECOND));

    let report = run(&region, spec);
    assert!(!report.outcome.is_success(), "{:?}", report.outcome);
    let kept = event_time(
        &report,
        |kind| matches!(kind, EventKind::Kept { instance } if instance.as_str() == FIRST),
    );
    assert!(kept.is_some(), "{:#?}", report.events);
    region.advance_to(silent_until + Duration::from_secs(60));
    assert_eq!(
        (state(&region, PRIMARY), state(&region, FIRST)),
        (InstanceState::Stopped, InstanceState::Running),
        "the standby that served is still the one member that can"
    );
    assert!(call_times(&region, is_stop_of(FIRST)).is_empty(), "nothing stopped it");
}

/// Seed 20,616,072 of the 1,000,000-seed sweep: a crashed run had started FIRST, slow to boot;
/// the next run took it over pending, and FIRST's zone went silent while it booted. At its start
/// timeout the run gave it up ("not running (last seen: not visible)") and started SECOND beside
/// it: two members ran once the zone answered. A standby last seen pending may still boot,
/// whoever started it: the run waits for it, and starts no other.
#[test]
fn a_pending_standby_taken_over_and_then_unanswered_is_waited_for_and_not_doubled() {
    let region = impaired_region(40, ImpairedCalls::Fail);
    region.restore_zone("ap-northeast-1a");
    region.with_instance(&id(FIRST), |first, _| {
        first.state = InstanceState::Pending;
        first.next = Some((START + Duration::from_secs(120), InstanceState::Running));
    });
    let silent_until = START + Duration::from_secs(900);
    let silent_from = START + Duration::from_secs(5);
    region.impair_zone_between("ap-northeast-1c", ImpairedCalls::Fail, silent_from, Some(silent_until));
    let mut spec = placed_group(Ordering::Parallel, WhenUnobservable::FailClosed);
    spec.timeouts.start = Duration::from_secs(60);

    let report = run(&region, spec);
    region.advance_to(silent_until + Duration::from_secs(60));
    assert!(call_times(&region, is_start_of(SECOND)).is_empty(), "{:#?}", report.events);
    let running: Vec<&str> = [PRIMARY, FIRST, SECOND]
        .into_iter()
        .filter(|m| state(&region, m) == InstanceState::Running)
        .collect();
    assert_eq!(running, [FIRST], "the standby taken over is the one member that runs");
}

/// Seeds 20,461,105 and 20,260,637 of the 1,000,000-seed sweep: FIRST, running (a crashed run
/// started it), is in a zone that does not answer, so the first describe naming it fails; the
/// next ones are throttled while the other zones answer. The refused request was read as an
/// answer that left FIRST out: it became "not found", was skipped, and SECOND was started beside
/// it. A refused request says nothing of its members: FIRST stays unknown, is fenced and never
/// a candidate, and nothing is started beside it.
#[test]
fn a_throttled_describe_says_nothing_of_a_member_whose_zone_is_silent() {
    let region = impaired_region(41, ImpairedCalls::Fail);
    region.restore_zone("ap-northeast-1a");
    region.with_instance(&id(FIRST), |first, _| first.state = InstanceState::Running);
    region.impair_zone_between(
        "ap-northeast-1c",
        ImpairedCalls::Fail,
        START,
        Some(START + Duration::from_secs(900)),
    );
    let asked = std::sync::atomic::AtomicBool::new(false);
    let throttling = DescribesOverridden {
        region: &region,
        answer: |instances: &[coldstandby_engine::InstanceId], _| {
            let again =
                instances.contains(&id(FIRST)) && asked.swap(true, std::sync::atomic::Ordering::SeqCst);
            again.then(|| Err(throttled()))
        },
    };
    let spec = placed_group(Ordering::Parallel, WhenUnobservable::FailClosed);

    let report = run_on(&throttling, &region, spec, Options::default());
    assert!(call_times(&region, is_start_of(SECOND)).is_empty(), "{:#?}", report.events);
    assert!(!report.outcome.is_success(), "{:?}", report.outcome);
    assert_eq!(state(&region, SECOND), InstanceState::Stopped);
}

/// A standby recorded active but found stopped (a rollback, or someone, stopped it) is started
/// again: the group is not "already failed over" while nothing of it runs.
#[test]
fn a_member_recorded_active_but_stopped_is_started_again() {
    let region = region(39);
    region.with_instance(&id(PRIMARY), |primary, _| {
        primary.state = InstanceState::Stopped;
        primary.tags = Role::Standby.tags_for("web");
    });
    region.with_instance(&id(FIRST), |first, _| first.tags = Role::Active.tags_for("web"));
    let mut spec = group(Ordering::Parallel);
    spec.standbys = vec![id(FIRST)];
    spec.placement.remove(&id(SECOND));
    let report = run(&region, spec);
    let Outcome::FailedOver { to, .. } = &report.outcome else { panic!("{:?}", report.outcome) };
    assert_eq!(to.as_str(), FIRST);
    assert_eq!(state(&region, FIRST), InstanceState::Running);
}

/// Issue 26, item 8: a primary seen before its zone went silent, then cut off, used to hold the
/// new record back: its demotion was written first, into the silent zone, until the deadline.
/// Now it keeps its old record, the new one is written, and `status` (as `switchover`, `drill`
/// and the watcher read it) takes the newer record instead of refusing two.
#[test]
fn a_member_cut_off_after_it_was_seen_keeps_its_record_and_the_newer_one_wins() {
    let region = impaired_region(40, ImpairedCalls::Fail);
    region.restore_zone("ap-northeast-1a");
    region.impair_zone_between("ap-northeast-1a", ImpairedCalls::Fail, START + Duration::from_secs(1), None);
    region.with_instance(&id(PRIMARY), |primary, _| primary.tags = Role::Active.tags_for("web"));
    let spec = placed_group(Ordering::FenceFirst, isolate());

    let report = run(&region, spec.clone());
    assert!(
        event_time(
            &report,
            |kind| matches!(kind, EventKind::Observed { instance, .. } if instance.as_str() == PRIMARY)
        )
        .is_some(),
        "the primary was seen before its zone went silent"
    );
    failed_over_to(&report, FIRST);
    assert_eq!((role(&region, PRIMARY), role(&region, FIRST)), (Some(Role::Active), Some(Role::Active)));

    region.restore_zone("ap-northeast-1a");
    let observations = region.run(coldstandby_engine::Provider::describe(&region, &spec.members())).unwrap();
    let status = coldstandby_engine::status::group_status(&spec, &observations);
    assert_eq!(status.active.as_ref().map(|a| a.as_str()), Some(FIRST), "{status:?}");
    assert!(status.warnings.iter().any(|w| w.contains("record is the newest")), "{:?}", status.warnings);
}

/// Issue 26, item 8: once a run has cut the primary's subnet off and its zone answers again, a
/// switchover back to it used to fence the member serving and promote the old primary into the
/// quarantined subnet, where no client reaches it. The standbys' subnets are read before the
/// plan now: a quarantined one is no candidate, and nothing is fenced for nothing.
#[test]
fn a_switchover_into_a_quarantined_subnet_changes_nothing() {
    let region = impaired_region(41, ImpairedCalls::Fail);
    let mut spec = placed_group(Ordering::FenceFirst, isolate());
    spec.standbys = vec![id(FIRST)];
    spec.placement.remove(&id(SECOND));
    failed_over_to(&run(&region, spec.clone()), FIRST);
    assert!(region.is_cut_off(&id(PRIMARY)));
    region.restore_zone("ap-northeast-1a");
    region.advance(Duration::from_secs(60));
    let calls_before = region.calls().len();

    let report = run(&region, spec.switchover(&id(FIRST), &id(PRIMARY)));
    let Failure::NoStandbyAvailable { tried } = failure(&report) else { panic!("{:?}", report.outcome) };
    assert!(
        tried.iter().any(|(member, why)| member.as_str() == PRIMARY && why.contains("quarantine")),
        "{tried:?}"
    );
    assert_eq!(state(&region, FIRST), InstanceState::Running, "the serving member was left alone");
    let changes = region.calls()[calls_before..]
        .iter()
        .filter(|record| matches!(record.call, Call::Start { .. } | Call::Stop { .. } | Call::SetTags { .. }))
        .count();
    assert_eq!(changes, 0, "nothing was changed");
}
