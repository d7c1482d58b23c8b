//! The evaluation rules, table-driven: AWS's worked examples cell by cell, every comparison
//! operator, every statistic, every missing-data mode with 0..=N+2 missing points for M < N and
//! M = N, the premature-alarm rule, `ignore` retention, and the evaluation cadence.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::collections::BTreeMap;
use std::time::Duration;

use coldstandby_alarm::evaluator::evaluation_times;
use coldstandby_alarm::{
    decide, AlarmDefinition, AlarmEvaluator, AlarmState, Comparison, Rule, Samples, Statistic,
    TreatMissingData,
};
use coldstandby_engine::Timestamp;

use AlarmState::{Alarm, InsufficientData, Ok as Fine};

const BREACH: f64 = 90.0;
const GOOD: f64 = 10.0;

fn alarm(n: u32, m: u32, treat_missing_data: TreatMissingData) -> AlarmDefinition {
    AlarmDefinition {
        name: "test".to_owned(),
        namespace: "AWS/EC2".to_owned(),
        metric_name: "CPUUtilization".to_owned(),
        dimensions: BTreeMap::new(),
        statistic: Statistic::Average,
        period_seconds: 300,
        evaluation_periods: n,
        datapoints_to_alarm: m,
        threshold: 50.0,
        comparison: Comparison::GreaterThanThreshold,
        treat_missing_data,
        evaluation_range: n + 2,
    }
}

/// `0 - X - X` (oldest first): 0 not breaching, X breaching, - missing.
fn points(pattern: &str) -> Vec<Option<f64>> {
    pattern
        .split_whitespace()
        .map(|p| match p {
            "0" => Some(GOOD),
            "X" => Some(BREACH),
            "-" => None,
            other => panic!("bad pattern symbol {other}"),
        })
        .collect()
}

/// The state after evaluating `pattern`, from each possible current state; None means "kept".
fn outcome(n: u32, m: u32, mode: TreatMissingData, pattern: &str) -> Option<AlarmState> {
    let definition = alarm(n, m, mode);
    let results: Vec<AlarmState> = AlarmState::ALL
        .into_iter()
        .map(|current| decide(&definition, &points(pattern), current).state)
        .collect();
    if results == AlarmState::ALL {
        None // each current state was kept
    } else {
        assert!(
            results.iter().all(|s| *s == results[0]),
            "{pattern} {mode}: depends on the current state: {results:?}"
        );
        Some(results[0])
    }
}

const MODES: [TreatMissingData; 4] = [
    TreatMissingData::Missing,
    TreatMissingData::Ignore,
    TreatMissingData::Breaching,
    TreatMissingData::NotBreaching,
];

/// One row of an AWS table: the pattern, then the state for MISSING, IGNORE, BREACHING,
/// NOT BREACHING (None = "Retain current state").
type Row = (&'static str, [Option<AlarmState>; 4]);

fn check_table(n: u32, m: u32, rows: &[Row]) {
    for (pattern, expected) in rows {
        for (mode, want) in MODES.into_iter().zip(expected) {
            assert_eq!(outcome(n, m, mode, pattern), *want, "M={m} N={n}, `{pattern}`, {mode}");
        }
    }
}

#[test]
fn aws_worked_example_m_equals_n_3_range_5() {
    check_table(
        3,
        3,
        &[
            ("0 - X - X", [Some(Fine), Some(Fine), Some(Fine), Some(Fine)]),
            ("0 - - - -", [Some(Fine), Some(Fine), Some(Fine), Some(Fine)]),
            ("- - - - -", [Some(InsufficientData), None, Some(Alarm), Some(Fine)]),
            ("0 X X - X", [Some(Alarm), Some(Alarm), Some(Alarm), Some(Alarm)]),
            ("- - X - -", [Some(Alarm), None, Some(Alarm), Some(Fine)]),
        ],
    );
}

#[test]
fn aws_worked_example_2_out_of_3_range_5() {
    check_table(
        3,
        2,
        &[
            ("0 - X - X", [Some(Alarm), Some(Alarm), Some(Alarm), Some(Alarm)]),
            ("0 0 X 0 X", [Some(Alarm), Some(Alarm), Some(Alarm), Some(Alarm)]),
            ("0 - X - -", [Some(Fine), Some(Fine), Some(Alarm), Some(Fine)]),
            ("- - - - 0", [Some(Fine), Some(Fine), Some(Alarm), Some(Fine)]),
            ("- - - X -", [Some(Alarm), None, Some(Alarm), Some(Fine)]),
        ],
    );
}

#[test]
fn aws_premature_alarm_examples() {
    let missing = |pattern| outcome(3, 3, TreatMissingData::Missing, pattern);
    // The newest breaching point is too recent: wait for the next one.
    assert_eq!(missing("- - - - X"), Some(Fine));
    assert_eq!(missing("- - - X -"), Some(Fine));
    // ... which may be good.
    assert_eq!(missing("- - - X 0"), Some(Fine));
    assert_eq!(missing("- - X - 0"), Some(Fine));
    // Old enough, and nothing newer is good.
    assert_eq!(missing("- - X - -"), Some(Alarm));
    assert_eq!(missing("- - X X -"), Some(Alarm));
    let rule = decide(&alarm(3, 3, TreatMissingData::Missing), &points("- - X - -"), Fine).rule;
    assert_eq!(rule, Rule::PrematureAlarm);
    // The M-of-N form.
    assert_eq!(outcome(3, 2, TreatMissingData::Missing, "- - - X -"), Some(Alarm));
    assert_eq!(outcome(3, 2, TreatMissingData::Missing, "- - - - X"), Some(Fine));
}

#[test]
fn every_missing_data_mode_with_zero_to_range_missing_points() {
    // The newest k of 5 points missing, the rest all breaching (X) or all good (0), for M = N = 3
    // and M = 2 < N = 3. Expected per MISSING, IGNORE, BREACHING, NOT BREACHING.
    let a = Some(Alarm);
    let o = Some(Fine);
    let i = Some(InsufficientData);
    let kept = None;
    let cases: [(u32, &str, [Option<AlarmState>; 4]); 24] = [
        (3, "X X X X X", [a, a, a, a]),
        (3, "X X X X -", [a, a, a, a]),
        (3, "X X X - -", [a, a, a, a]),
        (3, "X X - - -", [o, o, a, o]),
        (3, "X - - - -", [o, o, a, o]),
        (3, "- - - - -", [i, kept, a, o]),
        (3, "0 0 0 0 0", [o, o, o, o]),
        (3, "0 0 0 0 -", [o, o, o, o]),
        (3, "0 0 0 - -", [o, o, o, o]),
        (3, "0 0 - - -", [o, o, o, o]),
        (3, "0 - - - -", [o, o, o, o]),
        (3, "- - - - -", [i, kept, a, o]),
        (2, "X X X X X", [a, a, a, a]),
        (2, "X X X X -", [a, a, a, a]),
        (2, "X X X - -", [a, a, a, a]),
        (2, "X X - - -", [a, a, a, a]),
        (2, "X - - - -", [o, o, a, o]),
        (2, "- - - - -", [i, kept, a, o]),
        (2, "0 0 0 0 0", [o, o, o, o]),
        (2, "0 0 0 0 -", [o, o, o, o]),
        (2, "0 0 0 - -", [o, o, o, o]),
        (2, "0 0 - - -", [o, o, o, o]), // two real points: only one is filled
        (2, "0 - - - -", [o, o, a, o]),
        (2, "- - - - -", [i, kept, a, o]),
    ];
    for (m, pattern, expected) in cases {
        for (mode, want) in MODES.into_iter().zip(expected) {
            assert_eq!(outcome(3, m, mode, pattern), want, "M={m} N=3, `{pattern}`, {mode}");
        }
    }
}

#[test]
fn with_enough_real_points_missing_data_is_never_consulted() {
    for mode in MODES {
        let decision = decide(&alarm(3, 3, mode), &points("X - X - X"), Fine);
        assert_eq!(decision.state, Alarm, "{mode}");
        assert_eq!(decision.rule, Rule::NewestRealPoints);
        assert_eq!(decision.used.iter().map(|p| p.slot).collect::<Vec<_>>(), [0, 2, 4]);
    }
}

#[test]
fn the_evaluation_range_decides_how_far_back_real_points_are_found() {
    let mut wide = alarm(1, 1, TreatMissingData::Missing);
    wide.evaluation_range = 5;
    // A breaching point four periods back still decides with a range of 5 ...
    assert_eq!(decide(&wide, &points("X - - - -"), Fine).state, Alarm);
    // ... but a range of 3 only sees the missing ones.
    let narrow = alarm(1, 1, TreatMissingData::Missing);
    assert_eq!(decide(&narrow, &points("- - -"), Fine).state, InsufficientData);
}

#[test]
fn every_comparison_operator_at_below_and_above_the_threshold() {
    use Comparison::*;
    let cases = [
        (GreaterThanOrEqualToThreshold, [false, true, true]),
        (GreaterThanThreshold, [false, false, true]),
        (LessThanThreshold, [true, false, false]),
        (LessThanOrEqualToThreshold, [true, true, false]),
    ];
    for (comparison, expected) in cases {
        for (value, want) in [49.9, 50.0, 50.1].into_iter().zip(expected) {
            assert_eq!(comparison.breaches(value, 50.0), want, "{} {value}", comparison.as_str());
            let mut definition = alarm(1, 1, TreatMissingData::Missing);
            definition.comparison = comparison;
            let state = decide(&definition, &[None, None, Some(value)], InsufficientData).state;
            assert_eq!(state == Alarm, want, "{} {value}: {state}", comparison.as_str());
        }
    }
}

#[test]
fn every_statistic_aggregates_the_period_before_comparison() {
    // One 60 s period with samples 10, 20, 30, 40, 200; threshold 50, GreaterThanThreshold.
    let start = Timestamp::from_unix_millis(1_800_000_000_000 / 60_000 * 60_000);
    let values = [10.0, 20.0, 30.0, 40.0, 200.0];
    let samples: Vec<(Timestamp, f64)> =
        values.iter().enumerate().map(|(i, v)| (start + Duration::from_secs(10 * i as u64), *v)).collect();
    let cases = [
        (Statistic::SampleCount, false), // 5
        (Statistic::Average, true),      // 60
        (Statistic::Sum, true),          // 300
        (Statistic::Minimum, false),     // 10
        (Statistic::Maximum, true),      // 200
        (Statistic::Percentile(50.0), false),
        (Statistic::Percentile(90.0), true),
    ];
    for (statistic, breaches) in cases {
        let mut definition = alarm(1, 1, TreatMissingData::Missing);
        definition.period_seconds = 60;
        definition.statistic = statistic;
        let mut evaluator = AlarmEvaluator::new(definition, Fine);
        let change = evaluator.evaluate(start + Duration::from_secs(60), &Samples::new(&samples, statistic));
        assert_eq!(change.is_some(), breaches, "{statistic}");
        assert_eq!(evaluator.state() == Alarm, breaches, "{statistic}");
    }
}

#[test]
fn ignore_keeps_whatever_state_the_alarm_was_in() {
    let definition = alarm(3, 3, TreatMissingData::Ignore);
    for current in AlarmState::ALL {
        let decision = decide(&definition, &points("- - - - -"), current);
        assert_eq!(decision.state, current);
        assert_eq!(decision.rule, Rule::KeptByIgnore);
    }
    // Real data still moves it.
    assert_eq!(decide(&definition, &points("- - X X X"), Fine).state, Alarm);
}

#[test]
fn a_change_is_reported_only_when_the_state_changes() {
    let mut definition = alarm(1, 1, TreatMissingData::Missing);
    definition.period_seconds = 60;
    let start = Timestamp::from_unix_millis(1_800_000_000_000 / 60_000 * 60_000);
    let samples: Vec<(Timestamp, f64)> =
        (0..10).map(|i| (start + Duration::from_secs(60 * i), BREACH)).collect();
    let source = Samples::new(&samples, Statistic::Average);
    let mut evaluator = AlarmEvaluator::new(definition, Fine);
    let changes: Vec<_> =
        (1..10).filter_map(|i| evaluator.evaluate(start + Duration::from_secs(60 * i), &source)).collect();
    assert_eq!(changes.len(), 1, "OK -> ALARM once, then quiet");
    assert_eq!((changes[0].from, changes[0].to), (Fine, Alarm));
    assert_eq!(changes[0].datapoints.len(), 1);
    assert_eq!(changes[0].datapoints[0].period_start, start);
}

#[test]
fn high_resolution_alarms_are_evaluated_every_ten_seconds_and_standard_ones_every_minute() {
    let from = Timestamp::from_unix_millis(1_800_000_000_000);
    let until = from + Duration::from_secs(120);
    for (period, interval) in [(10, 10), (20, 10), (30, 10), (60, 60), (300, 60)] {
        let mut definition = alarm(1, 1, TreatMissingData::Missing);
        definition.period_seconds = period;
        assert_eq!(definition.evaluation_interval(), Duration::from_secs(interval), "period {period}");
        let times: Vec<u64> =
            evaluation_times(&definition, from, until, Duration::ZERO).map(|t| t.unix_millis()).collect();
        assert_eq!(times.len() as u64, 120 / interval + 1, "period {period}");
        assert!(times.windows(2).all(|w| w[1] - w[0] == interval * 1000));
        assert!(times.iter().all(|t| t % (interval * 1000) == 0), "aligned to the cadence");
    }

    // A 10 s alarm sees a breach 10 s after its period ends; a 60 s alarm only at the minute.
    let start = Timestamp::from_unix_millis(1_800_000_000_000 / 60_000 * 60_000);
    let samples = [(start + Duration::from_secs(1), BREACH)];
    for (period, first_alarm_after) in [(10, 10), (60, 60)] {
        let mut definition = alarm(1, 1, TreatMissingData::Missing);
        definition.period_seconds = period;
        let mut evaluator = AlarmEvaluator::new(definition.clone(), Fine);
        let source = Samples::new(&samples, Statistic::Average);
        let fired = evaluation_times(&definition, start, start + Duration::from_secs(120), Duration::ZERO)
            .find(|at| evaluator.evaluate(*at, &source).is_some_and(|c| c.to == Alarm));
        assert_eq!(fired, Some(start + Duration::from_secs(first_alarm_after)), "period {period}");
    }
}

#[test]
fn a_gap_of_decades_costs_per_sample_and_is_reported() {
    use coldstandby_alarm::backtest::{self, BacktestOptions};
    use coldstandby_alarm::data::MetricData;
    use coldstandby_alarm::timestamp;
    // A typo'd year: two samples forty years apart. Every minute between is counted as
    // evaluated, but only the minutes near the samples are worked out.
    let first = timestamp::parse("1986-11-03T14:10:17Z").unwrap();
    let second = timestamp::parse("2026-11-03T14:10:17Z").unwrap();
    let data = MetricData::Samples(vec![(first, 80.0), (second, 80.0)]);
    let alarm = alarm(1, 1, TreatMissingData::Missing);
    let report = backtest::run(&alarm, &data, BacktestOptions::default()).unwrap();
    let every = evaluation_times(&alarm, report.from, report.until, Duration::ZERO).count() as u64;
    assert!(every > 20_000_000, "{every} evaluation times in forty years");
    assert_eq!(report.summary.evaluations, every);
    assert_eq!(report.summary.gaps.len(), 1);
    assert_eq!((report.summary.gaps[0].after, report.summary.gaps[0].before), (first, second));
    // Both samples breach: ALARM after the first, INSUFFICIENT_DATA through the gap, ALARM again.
    let states: Vec<AlarmState> = report.transitions.iter().map(|change| change.to).collect();
    assert_eq!(states, [Alarm, InsufficientData, Alarm], "{:?}", report.transitions);
}

#[test]
fn a_long_backtest_reports_its_progress_to_the_end() {
    use coldstandby_alarm::backtest::{self, BacktestOptions, Progress};
    use coldstandby_alarm::data::MetricData;
    use coldstandby_alarm::timestamp;
    let start = timestamp::parse("2026-11-01T00:00:00Z").unwrap();
    // A week of one-minute samples.
    let samples: Vec<(Timestamp, f64)> =
        (0..7 * 24 * 60).map(|minute| (start + Duration::from_secs(60 * minute), GOOD)).collect();
    let alarm = alarm(1, 1, TreatMissingData::Missing);
    let mut seen: Vec<Progress> = Vec::new();
    let report = backtest::run_with_progress(
        &alarm,
        &MetricData::Samples(samples),
        BacktestOptions::default(),
        &mut |at| seen.push(at),
    )
    .unwrap();
    assert!(seen.len() >= 100, "about every hundredth: {} reports", seen.len());
    assert!(seen.windows(2).all(|pair| pair[0].done < pair[1].done), "always forward");
    let last = seen.last().unwrap();
    assert_eq!((last.done, last.total), (report.summary.evaluations, report.summary.evaluations));
}
