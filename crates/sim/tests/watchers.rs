//! Two watchers on the simulated region: the sweep's invariants hold over many seeds, and each
//! is caught when broken on purpose.

use coldstandby_sim::sweep::watch::{
    run_seed, watch_sweep, WatchMode, DETECT_WITHIN, NO_FAILOVER_OF_HEALTHY_PRIMARY,
};

#[test]
fn two_watchers_break_no_invariant_over_many_seeds() {
    let summary = watch_sweep(0, 300, WatchMode::Honest, |_| {});
    assert_eq!(summary.violations, Vec::new(), "replay: {:?}", summary.replay);
    assert!(summary.fenced > 50, "failures were failed over: {summary:?}");
    assert!(summary.detection_ms.get("max").is_some_and(|max| *max < 4_000), "{:?}", summary.detection_ms);
}

#[test]
fn a_watcher_believing_every_peer_fails_a_healthy_primary_over_and_is_caught() {
    let caught = (0..300)
        .map(|seed| run_seed(seed, WatchMode::LyingPeersForTesting))
        .flat_map(|result| result.violations)
        .any(|violation| violation.invariant == NO_FAILOVER_OF_HEALTHY_PRIMARY);
    assert!(caught, "a partial view decided, yet no seed broke {NO_FAILOVER_OF_HEALTHY_PRIMARY}");
}

#[test]
fn a_watcher_slower_than_its_bound_is_caught() {
    let caught = (0..300)
        .map(|seed| run_seed(seed, WatchMode::SlowDetectionForTesting))
        .flat_map(|result| result.violations)
        .any(|violation| violation.invariant == DETECT_WITHIN);
    assert!(caught, "watchers one round slower than their settings, yet no seed broke {DETECT_WITHIN}");
}

#[test]
fn the_same_seed_replays_the_same_watch() {
    for seed in [3, 17, 42] {
        assert_eq!(run_seed(seed, WatchMode::Honest), run_seed(seed, WatchMode::Honest));
    }
}
