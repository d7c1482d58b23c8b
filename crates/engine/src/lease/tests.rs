//! The lease's rules about sends, step by step without a store: a refused renewal stops acting
//! at once, no call is sent with less than a second of acting time left, and a run whose call
//! was abandoned keeps (and renews) the record until that call can no longer land.

use super::*;
use crate::provider::ErrorKind;

const START: Timestamp = Timestamp::from_unix_millis(1_800_000_000_000);

fn settings() -> LeaseSettings {
    LeaseSettings { table: "leases".to_owned(), owner: "me".to_owned(), duration: Duration::from_secs(20) }
}

fn after(millis: u64) -> Timestamp {
    START + Duration::from_millis(millis)
}

/// A lease taken at START (read: no record; write: accepted).
fn held() -> Lease {
    let mut lease = Lease::new(settings(), "web", START, 1);
    assert!(matches!(lease.poll(START), LeaseStep::Call { call: LeaseCall::Read { .. }, .. }));
    lease.on_result(START, Ok(LeaseReply::Read(None)));
    assert!(matches!(lease.poll(START), LeaseStep::Call { call: LeaseCall::Write { .. }, .. }));
    lease.on_result(START, Ok(LeaseReply::Written));
    assert!(lease.may_act(START));
    lease
}

#[test]
fn a_refused_renewal_stops_acting_until_a_read_shows_the_record_still_ours() {
    let mut lease = held();
    let renew_at = after(20_000 / 3);
    assert!(matches!(lease.poll(renew_at), LeaseStep::Call { call: LeaseCall::Write { .. }, .. }));
    let refused = ApiError::new(ErrorKind::WrongState, "ConditionalCheckFailedException", "moved");
    lease.on_result(renew_at, Err(refused));
    assert!(!lease.may_act(renew_at), "the record changed: someone else may hold it");
    assert_eq!(lease.act_until(), None);
    // The read shows the record as we last wrote it: still ours, acting again.
    assert!(matches!(lease.poll(renew_at), LeaseStep::Call { call: LeaseCall::Read { .. }, .. }));
    let State::Checking { record: held, .. } = &lease.state else { panic!("checking") };
    let held = held.clone();
    lease.on_result(renew_at, Ok(LeaseReply::Read(Some(held))));
    assert!(lease.may_act(renew_at));
}

#[test]
fn no_call_is_sent_with_less_than_a_second_of_acting_time_left() {
    let lease = held();
    // Held until START + 20 s, acting until 15 s (a quarter before).
    assert_eq!(lease.act_until(), Some(after(15_000)));
    assert!(lease.may_act(after(14_000)));
    assert!(!lease.may_act(after(14_001)), "less than MIN_CALL_WINDOW left");
}

#[test]
fn a_run_with_an_abandoned_call_holds_the_record_until_it_can_no_longer_land() {
    let mut lease = held();
    let ended = after(2_000);
    let may_land_until = ended + lease.landing_bound();
    lease.release_after(may_land_until);
    assert!(!lease.may_act(ended), "the run is over");
    // Not released yet: it sleeps to its renewal, which it makes, then to the release.
    let LeaseStep::Sleep { until } = lease.poll(ended) else { panic!("held on") };
    assert!(until <= may_land_until);
    let renew_at = after(20_000 / 3);
    assert!(renew_at < may_land_until);
    assert!(
        matches!(lease.poll(renew_at), LeaseStep::Call { call: LeaseCall::Write { record, .. }, .. } if record.owner.is_some())
    );
    lease.on_result(renew_at, Ok(LeaseReply::Written));
    assert!(
        matches!(lease.poll(may_land_until), LeaseStep::Sleep { .. }),
        "a call may still land at the bound's very instant"
    );
    let past = may_land_until + Duration::from_millis(1);
    let LeaseStep::Call { call: LeaseCall::Write { record, .. }, .. } = lease.poll(past) else {
        panic!("released once the call can no longer land")
    };
    assert_eq!(record.owner, None);
}

#[test]
fn two_leases_of_one_process_on_one_group_write_different_versions() {
    let first_version = |seed: u64, at: Timestamp| {
        let mut lease = Lease::new(settings(), "web", at, seed);
        let _ = lease.poll(at);
        lease.on_result(at, Ok(LeaseReply::Read(None)));
        let LeaseStep::Call { call: LeaseCall::Write { record, .. }, .. } = lease.poll(at) else {
            panic!("a claim")
        };
        record.version
    };
    // The watcher seeds its runs with the time: two runs of one group (never at once) differ.
    assert_ne!(first_version(7, START), first_version(7, after(1)));
    assert!(first_version(7, START).starts_with("me "));
}
