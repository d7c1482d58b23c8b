//! The seeded sweep: zero invariant violations over many seeds, byte-for-byte replay, and a
//! deliberately faulty fence caught with a replayable seed.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use coldstandby_sim::sweep::{run_seed, scenario, sweep, Fence};

fn seeds() -> u64 {
    std::env::var("COLDSTANDBY_SWEEP_SEEDS").ok().and_then(|n| n.parse().ok()).unwrap_or(2_000)
}

/// Where the sweep starts (`COLDSTANDBY_SWEEP_START`, default 0): to split a long sweep over
/// several processes.
fn start_seed() -> u64 {
    std::env::var("COLDSTANDBY_SWEEP_START").ok().and_then(|n| n.parse().ok()).unwrap_or(0)
}

#[test]
fn a_sweep_finds_no_invariant_violations() {
    let summary = sweep(start_seed(), seeds(), Fence::Correct, |_| {});
    for violation in summary.violations.iter().take(20) {
        eprintln!(
            "seed {} {}: {} ({})",
            violation.seed, violation.invariant, violation.detail, summary.replay[&violation.seed]
        );
    }
    assert!(summary.violations.is_empty(), "{} violations", summary.violations.len());
    assert!(summary.failovers_completed > summary.scenarios / 2, "{summary:#?}");
    for kind in [
        "empty describe results",
        "controller crash and retry",
        "failback after failover",
        "throttling burst",
        "clients moved by readiness checks and movers",
    ] {
        assert!(summary.faults.get(kind).copied().unwrap_or(0) > 0, "no scenario injected {kind}");
    }
}

#[test]
fn the_same_seed_gives_the_same_event_log_byte_for_byte() {
    for seed in [0, 7, 110, 2017, 99_999] {
        let first = run_seed(seed, Fence::Correct).event_log();
        let second = run_seed(seed, Fence::Correct).event_log();
        assert_eq!(first, second, "seed {seed} did not replay exactly");
        assert!(first.len() > 1000, "seed {seed} logged almost nothing");
    }
    assert_ne!(run_seed(1, Fence::Correct).event_log(), run_seed(2, Fence::Correct).event_log());
}

#[test]
fn a_fence_that_takes_an_empty_describe_for_stopped_is_caught_with_a_replayable_seed() {
    let summary = sweep(0, 300, Fence::EmptyMeansStoppedForTesting, |_| {});
    let caught: Vec<_> = summary
        .violations
        .iter()
        .filter(|v| v.invariant == "fence-before-start" || v.invariant == "fenced-before-active")
        .collect();
    assert!(!caught.is_empty(), "the faulty fence went unnoticed: {summary:#?}");
    let first = caught[0];
    assert_eq!(
        summary.replay[&first.seed],
        format!("coldstandby simulate --seeds 1 --start-seed {}", first.seed)
    );
    // Replaying that seed alone reproduces the violation.
    let replayed = run_seed(first.seed, Fence::EmptyMeansStoppedForTesting);
    assert!(replayed.violations.iter().any(|v| v.invariant == first.invariant), "{replayed:#?}");
    // And the real fence passes the same seed.
    assert!(run_seed(first.seed, Fence::Correct).violations.is_empty());
}

#[test]
fn an_alarm_event_delivered_again_after_a_switchback_stops_nothing() {
    // The scenarios whose first event comes again once the failback has made the old primary
    // active: taken as news (no evidence, as before the handler passed the alarm's time), it
    // stops that healthy member; carrying the alarm's time, the run sees the group moved on.
    let seeds: Vec<u64> =
        (0..400).filter(|seed| scenario::generate(*seed).redelivered_after_failback).take(12).collect();
    assert!(seeds.len() >= 10, "the sweep draws the fault: {seeds:?}");
    let caught: Vec<u64> = seeds
        .iter()
        .copied()
        .filter(|seed| {
            run_seed(*seed, Fence::NoEvidenceForTesting)
                .violations
                .iter()
                .any(|v| v.invariant == "no-failover-of-healthy-primary")
        })
        .collect();
    assert!(caught.len() >= 3, "an event taken as news went unnoticed on {seeds:?} (caught {caught:?})");
    for seed in seeds {
        let result = run_seed(seed, Fence::Correct);
        assert!(result.violations.is_empty(), "seed {seed}: {:#?}", result.violations);
    }
    for seed in &caught {
        let result = run_seed(*seed, Fence::Correct);
        let last = result.runs.last().expect("it ran");
        assert_eq!(last.outcome, "moved-on", "seed {seed}: the re-delivered event is history");
    }
}

#[test]
fn seeds_that_once_broke_an_invariant_stay_fixed() {
    // 110, 217: a demotion retried after a transient error landed after the promotion (two
    // members recorded active). 2017, 2027, 2374, 2386, 2878: checker false positives on a
    // fenced standby later promoted. 20862, 41823, 54540, 61437, 63448, 90935: a duplicate run
    // promoted a standby on a stale "running" from before the previous run's rollback stop.
    // 31441, 32082, 37821, 94011: the checker carried one run's throttle into the next run.
    // 580, 1407, 2704, 3255, 3568, 3740, 3952, 4842, 4927: single-live and rollback-complete,
    // once judged from the region's truth: a standby given up on (its start accepted late, or
    // EC2 refusing to stop it while pending) booted beside the promoted one, or a failed run
    // left a standby it started (or adopted) running.
    // With the harsher faults (slow boots, lost start answers, forced stops taking minutes, Lambda
    // retrying failed runs): 24, 197, 428: a failed run's rollback gave up on a standby still
    // pending; 3682: the checker held a fenced standby started later as one the next start
    // replaced; 1810: a promoted standby missing from one answer was skipped as not running,
    // and the next run kept the following one as if promoted; 8616: a standby kept behind a
    // held fence counted against an earlier failed run.
    for seed in [
        110, 217, 2017, 2027, 2374, 2386, 2878, 20862, 41823, 54540, 61437, 63448, 90935, 31441, 32082,
        37821, 94011, 580, 1407, 2704, 3255, 3568, 3740, 3952, 4842, 4927, 24, 197, 428, 3682, 1810, 8616,
        // From the 1,000,000-seed sweep: a standby an earlier (crashed) run started, skipped as
        // not found while answers were empty, then seen running and never stopped; a recording
        // begun for a candidate that then fell back to stopped, finished for the next one.
        83517, 502307, 756390, 780792, 813350,
        // A standby still waiting its turn, started by a crashed earlier run while this run's
        // first answers were empty, seen running later and neither tried nor stopped.
        120596, 167519, 177298, 334776, 462913, 705937, 755075, 891491, 920931,
        // With describe answers up to 10 s stale: a fence confirmed on an answer showing the
        // member stopped from before the previous run started it.
        1559,
        // From a 500,000-seed sweep with Lambda's timeouts and retries: a parallel retry started a
        // slow standby beside a primary already stuck stopping (502901, 546929); a standby given
        // up on for slowness, still booting when the list ran out (514911, 621434); answers
        // taken as settled from their arrival, not their request, under latency spikes (635719,
        // 747669); a standby taken back with its stop still queued (3556); a throttling burst
        // hiding a standby's stop (658493, the checker).
        502901, 546929, 514911, 621434, 635719, 747669, 3556, 658493,
        // From the first 1,000,000-seed run of this sweep: a fence deadline that a stop sent
        // late pushed past its settled answer, so a duplicate run stopped the serving standby
        // (227138); a live standby fenced at plan time never tried although it could run
        // (294611); the checker, for a run cut off after a parallel start and a held fence
        // (94207, 164679, 192339, 221177).
        227138, 294611, 94207, 164679, 192339, 221177,
        // A duplicate run planned on a partial answer that left out the serving standby, started
        // another and stopped the serving one (191272).
        191272,
        // Two standbys running before any run, unseen at a plan made on empty answers: the head
        // of the list was taken as the next candidate and the other never stopped (863126).
        863126,
        // A standby still pending at its start timeout, left for the next one: EC2 refused to
        // stop it while pending, the invocation and both retries ended first, and it booted
        // beside the promoted one (the 30 slow-boot seeds of the second 1,000,000-seed run).
        19697, 22898, 95444, 96265, 185470, 234409, 307260, 362894, 363191, 366940, 370479, 377460, 386091,
        407033, 414009, 443766, 446742, 452475, 467245, 545155, 682011, 685757, 688247, 758109, 758227,
        758808, 773544, 792093, 856755, 871218,
        // With movers: two instances given one private address by the region, so a record moved
        // to the standby read as pointing at the outsider (4458, 5053, 6914, the region); a
        // member shutting down judged as able to serve when clients moved (31318, 63635, the
        // checker, now counting it gone as the engine and single-live do).
        4458, 5053, 6914, 31318, 63635,
        // With a member's zone not answering from mid-run: taken for gone (the unknown-member
        // rule disabled), a failed-over standby in it was left running beside the next one
        // (640, 1452, 1481, 1492, 1608, 1635, 2236, 2701); the first event delivered again after
        // the failback, with the old standby's zone silent, stopped the healthy active member
        // because history was judged only when every member had answered (1912, 2138).
        640, 1452, 1481, 1492, 1608, 1635, 2236, 2701, 1912, 2138,
        // The event delivered again while the failed-back member's zone did not answer, the zone
        // answering again mid-run: a stop retried after backoff (2002577, 2003094), or sent once
        // the member was seen again (2002176, 2003892), stopped the healthy member.
        2002176, 2002577, 2003094, 2003892,
        // A started standby, last seen pending, whose zone then stopped answering: given up at
        // its start timeout as if known not pending, and the next one started beside it.
        2002999, // The same omission-then-silence as in the race (3005512, 3006527, 3023726).
        3005512, 3006527, 3023726,
        // A standby a failover made active, its record not yet visible to a duplicate run that
        // took it over running; its zone then went silent, the run gave it up as "not running",
        // and its rollback stopped the one member serving once the zone answered; the next run
        // found it recorded active and stopped and called the group already failed over
        // (3006134, 3096151). A standby started into a zone that then never answered again,
        // its rollback stop lost there: out of every run's reach, now not counted against it
        // (3003049, 3006303, 3008513, 3019532, 3027233, 3033982, 3035007, 3045356, 3047923,
        // 3051363, 3060108, 3075315, 3077808, 3092240, the checker).
        3006134, 3096151, 3003049, 3006303, 3008513, 3019532, 3027233, 3033982, 3035007, 3045356, 3047923,
        3051363, 3060108, 3075315, 3077808, 3092240,
        // From the 1,000,000-seed sweep 20,000,000-20,999,999: the first alarm delivered again
        // after a failback, the member serving in a silent zone, history proven only by a
        // demoted standby's `activated-at` (20019579, 20103884, 20155540, 20157007, 20202643,
        // 20260787, 20271747, 20391867, 20851290, 20941405); a plan made on a first answer that
        // came late (throttled past the grace) and empty (20002804, 20231432, 20388568,
        // 20413766); a throttled zone's request read as an answer leaving its silent member out
        // (20260637, 20461105); a taken-over pending standby given up in a silent zone and the
        // next started beside it (20616072); the checker, for a standby live from the start and
        // seen only by a run that crashed (20067485).
        20019579, 20103884, 20155540, 20157007, 20202643, 20260787, 20271747, 20391867, 20851290, 20941405,
        20002804, 20231432, 20388568, 20413766, 20260637, 20461105, 20616072, 20067485,
        // From the sweep 30,000,000-30,999,999: a live standby first in line, left out of the
        // plan's answers and never taken over, left running by a failed retry (30678018).
        30678018,
    ] {
        let result = run_seed(seed, Fence::Correct);
        assert!(result.violations.is_empty(), "seed {seed}: {:#?}", result.violations);
    }
}
