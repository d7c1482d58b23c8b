//! The engine's own cost per failover, measured on the simulated region.
//!
//! Runs the article's failover (both orderings, many seeds) with a hand-written driver loop that
//! times only the engine's `poll` and `on_result`, so the simulated region's work is not counted.
//! Prints one line per ordering; compare runs of the same build profile only.
//!
//! `cargo bench -p coldstandby-sim --bench failover [-- RUNS]`

#![allow(clippy::print_stdout, clippy::disallowed_methods)] // a benchmark reports on stdout, in wall time

use std::hint::black_box;
use std::time::{Duration, Instant};

use coldstandby_engine::provider::execute;
use coldstandby_engine::{Action, Clock, Failover, Options, Ordering};
use coldstandby_sim::article::{article_group, article_region};

struct Measured {
    engine: Duration,
    total: Duration,
    steps: u64,
    calls: u64,
}

fn one_failover(seed: u64, ordering: Ordering) -> Measured {
    let region = article_region(seed);
    let total_start = Instant::now();
    let mut engine_time = Duration::ZERO;
    let mut steps = 0;
    let mut calls = 0;
    let options = Options { seed, ..Options::default() };
    let started = Instant::now();
    let mut failover = Failover::new(article_group(ordering), options, region.now());
    engine_time += started.elapsed();
    loop {
        steps += 1;
        let started = Instant::now();
        let action = failover.poll(region.now());
        engine_time += started.elapsed();
        match action {
            Action::Call(call) => {
                calls += 1;
                let result = region.run(execute(&region, &call));
                let now = region.now();
                let started = Instant::now();
                failover.on_result(now, result);
                engine_time += started.elapsed();
            }
            Action::Sleep { until, .. } => region.advance_to(until),
            Action::Finished => break,
        }
    }
    let report = failover.into_report();
    assert!(report.outcome.is_success(), "seed {seed}: {}", report.outcome);
    black_box(report);
    Measured { engine: engine_time, total: total_start.elapsed(), steps, calls }
}

fn main() {
    let runs: u64 = std::env::args().skip(1).find_map(|arg| arg.parse().ok()).unwrap_or(2_000);
    println!("coldstandby engine cost per failover (article scenario, {runs} seeds each)");
    for ordering in [Ordering::FenceFirst, Ordering::Parallel] {
        // Warm up caches and the allocator.
        for seed in 0..50 {
            one_failover(seed, ordering);
        }
        let mut engine = Vec::new();
        let (mut total, mut steps, mut calls) = (Duration::ZERO, 0, 0);
        for seed in 0..runs {
            let measured = one_failover(seed, ordering);
            engine.push(measured.engine);
            total += measured.total;
            steps += measured.steps;
            calls += measured.calls;
        }
        engine.sort();
        let count = u32::try_from(runs).unwrap_or(u32::MAX).max(1);
        let mean = engine.iter().sum::<Duration>() / count;
        let median = engine[engine.len() / 2];
        let p99 = engine[(engine.len() * 99 / 100).min(engine.len() - 1)];
        println!(
            "  {:<11} engine mean {:>8.1} us  median {:>8.1} us  p99 {:>8.1} us | with the simulated region {:>8.1} us | {:.0} steps, {:.0} API calls per failover",
            ordering.as_str(),
            mean.as_secs_f64() * 1e6,
            median.as_secs_f64() * 1e6,
            p99.as_secs_f64() * 1e6,
            (total / count).as_secs_f64() * 1e6,
            steps as f64 / f64::from(count),
            calls as f64 / f64::from(count),
        );
    }
}
