//! `simulate --az-outage` at a size a test can afford: every group fails over in one fleet run
//! about as fast as one group alone, within EC2's request buckets, with no invariant broken;
//! with `fail-closed` nothing is started and every group says why; the describes of one round do
//! not grow with the number of groups.

use coldstandby_sim::outage::layout::Policy;
use coldstandby_sim::outage::{run, OutageOptions};

#[test]
fn isolate_fails_every_group_over_about_as_fast_as_one_group_alone() {
    for seed in 0..3 {
        let report = run(&OutageOptions { groups: 60, seed, policy: Policy::Isolate });
        assert_eq!(report.violations, Vec::new(), "seed {seed}");
        assert_eq!(
            (report.active_groups, report.failed_groups),
            (60, 0),
            "seed {seed}: {:?}",
            report.failures
        );
        assert_eq!(report.throttled_calls, 0, "seed {seed}");
        let last = report.outage_to_last_active_ms.expect("groups were made active");
        assert!(
            last <= report.single_group_ms + 10_000,
            "seed {seed}: {last} ms against {} ms alone",
            report.single_group_ms
        );
        assert!(
            report.one_at_a_time_ms > 4 * last,
            "seed {seed}: one at a time took {} ms",
            report.one_at_a_time_ms
        );
        // 60 groups, 25 primaries to a subnet: three isolations, one per subnet.
        assert_eq!(
            report.calls.get("ReplaceNetworkAclAssociation"),
            Some(&3),
            "seed {seed}: {:?}",
            report.calls
        );
    }
}

#[test]
fn fail_closed_starts_nothing_and_every_group_says_the_primary_is_unobservable() {
    let report = run(&OutageOptions { groups: 30, seed: 4, policy: Policy::FailClosed });
    assert_eq!(report.violations, Vec::new());
    assert_eq!(report.active_groups, 0);
    assert_eq!(report.failures.get("primary unobservable: AZ impaired"), Some(&30), "{:?}", report.failures);
    assert_eq!(report.calls.get("StartInstances"), None, "{:?}", report.calls);
    assert!(report.outage_to_last_finished_ms < 60_000 + 840_000, "within the failover deadline");
}

#[test]
fn a_round_of_describes_does_not_grow_with_the_groups() {
    let few = run(&OutageOptions { groups: 10, seed: 5, policy: Policy::Isolate });
    let more = run(&OutageOptions { groups: 90, seed: 5, policy: Policy::Isolate });
    assert!(few.describes_per_round > 0);
    assert_eq!(few.describes_per_round, more.describes_per_round);
}
