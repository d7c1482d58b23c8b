//! The simulated region's harsher behaviours, each checked against what EC2 does: a capacity
//! shortage for good that survives saving, stale answers bounded by their configured age,
//! partial answers, tag writes that show late, `UnsupportedOperation`, terminated instances that
//! drop out of answers, forced stops that never finish, and calls that land after their caller
//! gave up.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::collections::BTreeMap;
use std::time::Duration;

use std::future::Future;

use coldstandby_engine::{Clock, ErrorKind, InstanceId, InstanceState, Provider, Role, Timestamp};
use coldstandby_sim::{CapacityShortage, RegionFaults, SimInstance, SimRegion, Timings};

const START: Timestamp = Timestamp::from_unix_millis(1_800_000_000_000);

fn id(text: &str) -> InstanceId {
    text.parse().unwrap()
}

fn one(state: InstanceState) -> (SimRegion, InstanceId) {
    let region = SimRegion::new(7, START, Timings::default());
    let instance = id("i-0000000000000000a");
    region.add_instance(SimInstance::new(instance.clone(), "ap-northeast-1a", state));
    (region, instance)
}

#[test]
fn a_capacity_shortage_for_good_survives_saving_and_loading_the_region() {
    let (region, instance) = one(InstanceState::Stopped);
    region.with_instance(&instance, |i, _| i.faults.capacity_shortage = Some(CapacityShortage::ForGood));
    let loaded = SimRegion::from_json(&region.to_json()).unwrap();
    loaded.advance(Duration::from_secs(86_400));
    let error = loaded.run(loaded.start(std::slice::from_ref(&instance))).unwrap_err();
    assert_eq!(error.kind, ErrorKind::Capacity, "{error:?}");
}

#[test]
fn stale_answers_show_past_states_but_never_older_than_the_configured_age() {
    let (region, instance) = one(InstanceState::Running);
    region.run(region.stop(std::slice::from_ref(&instance), true)).unwrap();
    let (stopped_at, _) = region.instance(&instance).unwrap().next.expect("the stop is under way");
    region.set_faults(RegionFaults {
        stale_describe: 1.0,
        stale_describe_max_ms: 10_000,
        ..RegionFaults::default()
    });
    // Just after the stop completes, some answers still show it stopping; 10 s later none do.
    region.advance_to(stopped_at + Duration::from_millis(500));
    let states: Vec<InstanceState> = (0..50)
        .map(|_| region.run(region.describe(std::slice::from_ref(&instance))).unwrap()[0].state)
        .collect();
    assert!(states.contains(&InstanceState::Stopping), "{states:?}");
    region.advance_to(stopped_at + Duration::from_secs(11));
    for _ in 0..50 {
        let answer = region.run(region.describe(std::slice::from_ref(&instance))).unwrap();
        assert_eq!(answer[0].state, InstanceState::Stopped);
    }
}

#[test]
fn partial_answers_leave_out_some_instances() {
    let region = SimRegion::new(8, START, Timings::default());
    let ids: Vec<InstanceId> = (1..=6_u64).map(|n| id(&format!("i-{n:017x}"))).collect();
    for instance in &ids {
        region.add_instance(SimInstance::new(instance.clone(), "ap-northeast-1a", InstanceState::Stopped));
    }
    region.set_faults(RegionFaults { partial_describe: 1.0, ..RegionFaults::default() });
    let sizes: Vec<usize> = (0..20).map(|_| region.run(region.describe(&ids)).unwrap().len()).collect();
    assert!(sizes.iter().any(|size| *size > 0 && *size < ids.len()), "{sizes:?}");
}

#[test]
fn a_tag_write_shows_in_answers_only_after_its_lag() {
    let (region, instance) = one(InstanceState::Running);
    region.set_faults(RegionFaults { tag_lag_ms: 5_000, ..RegionFaults::default() });
    let tags = BTreeMap::from([("coldstandby:role".to_owned(), "active".to_owned())]);
    region.run(region.set_tags(std::slice::from_ref(&instance), &tags)).unwrap();
    let shown = |region: &SimRegion| {
        Role::recorded_in(&region.run(region.describe(std::slice::from_ref(&instance))).unwrap()[0].tags)
    };
    assert_eq!(shown(&region), None, "visible at once");
    assert_eq!(
        Role::recorded_in(&region.instance(&instance).unwrap().tags),
        Some(Role::Active),
        "but written"
    );
    region.advance(Duration::from_secs(6));
    assert_eq!(shown(&region), Some(Role::Active));
}

#[test]
fn an_unsupported_start_is_refused_as_invalid_for_that_instance() {
    let (region, instance) = one(InstanceState::Stopped);
    region.with_instance(&instance, |i, _| i.faults.start_unsupported = true);
    let error = region.run(region.start(std::slice::from_ref(&instance))).unwrap_err();
    assert_eq!((error.kind, error.code.as_str()), (ErrorKind::Invalid, "UnsupportedOperation"));
    assert_eq!(region.instance(&instance).unwrap().state, InstanceState::Stopped);
}

#[test]
fn a_terminated_instance_drops_out_of_answers_and_calls_find_nothing() {
    let (region, instance) = one(InstanceState::ShuttingDown);
    region.with_instance(&instance, |i, now| {
        i.next = Some((now + Duration::from_secs(5), InstanceState::Terminated))
    });
    region.set_faults(RegionFaults { purge_terminated_after_ms: 60_000, ..RegionFaults::default() });
    region.advance(Duration::from_secs(30));
    let answer = region.run(region.describe(std::slice::from_ref(&instance))).unwrap();
    assert_eq!(answer[0].state, InstanceState::Terminated, "still returned a while");
    region.advance(Duration::from_secs(60));
    assert!(region.run(region.describe(std::slice::from_ref(&instance))).unwrap().is_empty());
    assert_eq!(
        region.run(region.stop(std::slice::from_ref(&instance), true)).unwrap_err().kind,
        ErrorKind::NotFound
    );
}

#[test]
fn a_forced_stop_on_an_impaired_host_never_finishes() {
    let (region, instance) = one(InstanceState::Running);
    region.with_instance(&instance, |i, _| i.faults.forced_stop_hangs = true);
    region.run(region.stop(std::slice::from_ref(&instance), true)).unwrap();
    region.advance(Duration::from_secs(3_600));
    assert_eq!(region.instance(&instance).unwrap().state, InstanceState::Stopping);
}

#[test]
fn a_start_that_lands_late_is_carried_out_after_the_caller_gave_up_within_the_bound() {
    let (region, instance) = one(InstanceState::Stopped);
    region.set_faults(RegionFaults {
        late_landing: 1.0,
        late_landing_max_ms: 60_000,
        late_landing_after_abandon_ms: 1_500,
        ..RegionFaults::default()
    });
    // The caller sends the start, waits 2 s for an answer that never comes, and gives up.
    let started = region.now();
    {
        let mut call = std::pin::pin!(region.start(std::slice::from_ref(&instance)));
        let mut context = std::task::Context::from_waker(std::task::Waker::noop());
        assert!(call.as_mut().poll(&mut context).is_pending(), "no answer arrives");
        region.advance(Duration::from_secs(2));
        assert!(call.as_mut().poll(&mut context).is_pending(), "still no answer");
        assert_eq!(region.instance(&instance).unwrap().state, InstanceState::Stopped, "not carried out yet");
    }
    let gave_up = region.now();
    region.advance(Duration::from_secs(60));
    let record = region.calls().into_iter().find(|record| record.call.instance() == Some(&instance)).unwrap();
    let landed = record.landed_at.expect("the start landed later");
    assert!(landed > started && landed <= gave_up + Duration::from_millis(1_500), "{record:?}");
    let pending = region.transitions().into_iter().find(|t| t.to == InstanceState::Pending).unwrap();
    assert_eq!(pending.at, landed, "carried out when it landed, not when it was sent");
}

#[test]
fn a_suspended_controller_runs_nothing_meanwhile_and_its_clock_counts_it_or_stands_still() {
    use coldstandby_sim::controller::Suspension;
    let from = START + Duration::from_secs(10);
    let until = from + Duration::from_secs(30);
    for clock_stands_still in [false, true] {
        let (region, instance) = one(InstanceState::Running);
        let controller =
            region.controller("cli").suspended(Some(Suspension { from, until, clock_stands_still }));
        region.run(controller.sleep_until(START + Duration::from_millis(9_999)));
        // A describe sent as the suspension begins is answered during it, but seen only after.
        region.run(controller.describe(std::slice::from_ref(&instance))).unwrap();
        assert_eq!(region.now(), until, "nothing of it runs while suspended");
        let read = controller.now();
        if clock_stands_still {
            assert_eq!(read, from, "its clock stood still through the suspension");
            assert!(read < until);
            // A sleep of 5 s on its clock lasts 5 s of the world's, after the lag.
            region.run(controller.sleep_until(from + Duration::from_secs(5)));
            assert_eq!(region.now(), until + Duration::from_secs(5));
        } else {
            assert_eq!(read, until, "its clock counted the suspension");
        }
    }
}
