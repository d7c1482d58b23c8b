//! Alarm evaluation speed.
//!
//! 1. Data-point evaluations per second of the evaluation rules (`decide`) over a seeded mix of
//!    ranges with and without missing points (target: at least one million a second, one core).
//! 2. A backtest over a month of one-minute samples (about 45,000), end to end.
//!
//! `cargo bench -p coldstandby-alarm --bench evaluator`

#![allow(clippy::print_stdout, clippy::disallowed_methods)] // a benchmark reports on stdout, in wall time

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use coldstandby_alarm::backtest::{self, BacktestOptions};
use coldstandby_alarm::data::MetricData;
use coldstandby_alarm::{decide, AlarmDefinition, AlarmState, Comparison, Statistic, TreatMissingData};
use coldstandby_engine::Timestamp;

fn alarm(n: u32, m: u32, mode: TreatMissingData) -> AlarmDefinition {
    AlarmDefinition {
        name: "bench".to_owned(),
        namespace: "AWS/EC2".to_owned(),
        metric_name: "CPUUtilization".to_owned(),
        dimensions: BTreeMap::new(),
        statistic: Statistic::Average,
        period_seconds: 60,
        evaluation_periods: n,
        datapoints_to_alarm: m,
        threshold: 50.0,
        comparison: Comparison::GreaterThanThreshold,
        treat_missing_data: mode,
        evaluation_range: n + 2,
    }
}

/// A cheap deterministic generator, so the inputs are the same on every run.
fn next(state: &mut u64) -> u64 {
    *state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
    *state >> 33
}

fn rules() {
    let alarms = [
        alarm(1, 1, TreatMissingData::Missing),
        alarm(3, 3, TreatMissingData::Missing),
        alarm(5, 3, TreatMissingData::Breaching),
        alarm(5, 3, TreatMissingData::Ignore),
    ];
    let mut seed = 7;
    let ranges: Vec<Vec<Option<f64>>> = (0..4096)
        .map(|i| {
            let length = alarms[i % alarms.len()].evaluation_range as usize;
            (0..length)
                .map(|_| match next(&mut seed) % 10 {
                    0 => None,
                    r => Some(r as f64 * 10.0),
                })
                .collect()
        })
        .collect();
    let rounds = 400;
    let started = Instant::now();
    let mut points = 0u64;
    for _ in 0..rounds {
        for (i, range) in ranges.iter().enumerate() {
            let decision = decide(&alarms[i % alarms.len()], range, AlarmState::Ok);
            black_box(decision);
            points += range.len() as u64;
        }
    }
    let elapsed = started.elapsed();
    let per_second = points as f64 / elapsed.as_secs_f64();
    println!(
        "  rules:    {points} data-point evaluations in {:.3} s = {:.1} million a second",
        elapsed.as_secs_f64(),
        per_second / 1e6
    );
}

fn month_backtest() {
    let start = 1_793_491_200_000u64; // 2026-11-01T00:00:00Z
    let mut seed = 11;
    let samples: Vec<(Timestamp, f64)> = (0..45_000u64)
        .map(|minute| {
            let value = 10.0 + (next(&mut seed) % 50) as f64 + if minute % 3000 < 5 { 60.0 } else { 0.0 };
            (Timestamp::from_unix_millis(start + minute * 60_000 + 20_000), value)
        })
        .collect();
    let data = MetricData::Samples(samples);
    let definition = alarm(3, 2, TreatMissingData::Missing);
    let mut best = Duration::MAX;
    let mut report = None;
    for _ in 0..5 {
        let started = Instant::now();
        let result = backtest::run(&definition, &data, BacktestOptions::default()).expect("valid span");
        best = best.min(started.elapsed());
        report = Some(result);
    }
    let report = report.expect("ran");
    println!(
        "  backtest: 45,000 one-minute samples, {} evaluations, {} ALARMs: best of 5 {:.1} ms",
        report.summary.evaluations,
        report.summary.alarm_transitions,
        best.as_secs_f64() * 1e3
    );
}

fn main() {
    println!("coldstandby alarm evaluation");
    rules();
    month_backtest();
}
