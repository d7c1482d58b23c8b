//! Racing controllers under the group lease: no seed breaks `one-controller-per-group` or
//! `single-live`, and the check does catch a racer that runs without the lease.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use coldstandby_sim::sweep::invariants::ONE_CONTROLLER_PER_GROUP;
use coldstandby_sim::sweep::race::{race_sweep, run_race, RaceMode};

#[test]
fn racing_controllers_under_the_lease_never_act_together() {
    let summary = race_sweep(0, 300, |_| {});
    assert!(summary.violations.is_empty(), "{:#?}\n{:?}", summary.violations, summary.replay);
    // The seeds do race: both sizes, crashes, cut-offs, and contenders turned away.
    assert!(summary.by_racers.len() == 2, "{:?}", summary.by_racers);
    assert!(summary.crashes > 0 && summary.cut_off_from_table > 0);
    assert!(summary.outcomes.contains_key("failed: lease-held"), "{:?}", summary.outcomes);
    assert!(summary.outcomes.contains_key("failed-over"), "{:?}", summary.outcomes);
}

#[test]
fn a_racer_without_the_lease_is_caught() {
    let caught = (0..50)
        .map(|seed| run_race(seed, RaceMode::SecondWithoutLeaseForTesting))
        .filter(|result| result.violations.iter().any(|v| v.invariant == ONE_CONTROLLER_PER_GROUP))
        .count();
    assert!(caught > 10, "only {caught} of 50 seeds caught the racer without a lease");
}

#[test]
fn a_race_replays_exactly() {
    assert_eq!(run_race(17, RaceMode::Leased), run_race(17, RaceMode::Leased));
}
