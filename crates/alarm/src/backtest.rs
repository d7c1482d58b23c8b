//! Replaying metric history through an alarm: every state change with the data points that
//! decided it, time spent in each state, and how long each ALARM came after the first breaching
//! sample of the periods that decided it.

use std::collections::BTreeMap;
use std::time::Duration;

use coldstandby_engine::Timestamp;
use serde::Serialize;

use crate::data::MetricData;
use crate::definition::AlarmDefinition;
use crate::evaluator::{evaluation_times, AlarmEvaluator, StateChange};
use crate::rules::AlarmState;
use crate::series::{Datapoints, MetricSource, Samples};

/// Why a backtest cannot run: there is no time span to replay.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BacktestError {
    #[error("the data holds no samples")]
    NoSamples,
    #[error("--from ({}) is after --until ({})", crate::timestamp::format(*.from), crate::timestamp::format(*.until))]
    InvertedSpan { from: Timestamp, until: Timestamp },
}

/// How a backtest runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BacktestOptions {
    pub initial: AlarmState,
    /// First evaluation at or after this (default: the first sample).
    pub from: Option<Timestamp>,
    /// Last evaluation at or before this (default: one period after the last sample).
    pub until: Option<Timestamp>,
}

impl Default for BacktestOptions {
    fn default() -> Self {
        Self { initial: AlarmState::InsufficientData, from: None, until: None }
    }
}

/// One ALARM and how long after the first breaching sample it came.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AlarmDelay {
    pub alarm_at: Timestamp,
    /// The first sample breaching the threshold within the periods that decided the ALARM
    /// (None when only missing data counted as breaching caused it).
    pub first_breaching_sample: Option<Timestamp>,
    pub delay_ms: Option<u64>,
}

/// The totals of a backtest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub evaluations: u64,
    pub alarm_transitions: usize,
    pub time_in_state_ms: BTreeMap<AlarmState, u64>,
    pub alarm_delays: Vec<AlarmDelay>,
    /// Stretches of more than a day without data (a typo'd year shows up here).
    pub gaps: Vec<Gap>,
}

/// Two consecutive samples more than [`LONG_GAP`] apart.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Gap {
    pub after: Timestamp,
    pub before: Timestamp,
}

/// A gap in the data worth reporting.
pub const LONG_GAP: Duration = Duration::from_secs(24 * 3600);

fn long_gaps(points: &[(Timestamp, f64)]) -> Vec<Gap> {
    points
        .windows(2)
        .filter(|pair| pair[1].0.saturating_since(pair[0].0) > LONG_GAP)
        .map(|pair| Gap { after: pair[0].0, before: pair[1].0 })
        .collect()
}

/// Everything a backtest found.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BacktestReport {
    pub alarm: String,
    pub rule: String,
    pub from: Timestamp,
    pub until: Timestamp,
    pub initial_state: AlarmState,
    pub transitions: Vec<StateChange>,
    pub final_state: AlarmState,
    pub summary: Summary,
}

/// How far a backtest has got: evaluations done (run or counted across a gap) of the total.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    pub done: u64,
    pub total: u64,
}

/// Run `alarm` over `data`. Errors only on an empty or inverted time span.
pub fn run(
    alarm: &AlarmDefinition,
    data: &MetricData,
    options: BacktestOptions,
) -> Result<BacktestReport, BacktestError> {
    run_with_progress(alarm, data, options, &mut |_| {})
}

/// [`run`], telling `progress` how far it has got about every hundredth of the way (and at the
/// end), for a person watching a long backtest.
pub fn run_with_progress(
    alarm: &AlarmDefinition,
    data: &MetricData,
    options: BacktestOptions,
    progress: &mut dyn FnMut(Progress),
) -> Result<BacktestReport, BacktestError> {
    let points = data.points();
    let (Some(first), Some(last)) = (points.first(), points.last()) else {
        return Err(BacktestError::NoSamples);
    };
    let from = options.from.unwrap_or(first.0);
    let until = options.until.unwrap_or(last.0 + alarm.period());
    if from > until {
        return Err(BacktestError::InvertedSpan { from, until });
    }
    let (transitions, evaluations) = match data {
        MetricData::Samples(samples) => {
            replay(alarm, &Samples::new(samples, alarm.statistic), options.initial, (from, until), progress)
        }
        MetricData::Datapoints(points) => {
            replay(alarm, &Datapoints::new(points), options.initial, (from, until), progress)
        }
    };
    let final_state = transitions.last().map_or(options.initial, |change| change.to);
    let summary = Summary {
        evaluations,
        alarm_transitions: transitions.iter().filter(|c| c.to == AlarmState::Alarm).count(),
        time_in_state_ms: time_in_state(options.initial, from, until, &transitions),
        alarm_delays: alarm_delays(alarm, points, &transitions),
        gaps: long_gaps(points),
    };
    Ok(BacktestReport {
        alarm: alarm.name.clone(),
        rule: alarm.summary(),
        from,
        until,
        initial_state: options.initial,
        transitions,
        final_state,
        summary,
    })
}

/// Evaluate at every evaluation time from `from` to `until`: (the changes, how many evaluations).
/// Across a gap in the data the cost is per sample, not per minute: once an evaluation saw only
/// missing periods and changed nothing, every later one up to the next sample's period sees the
/// same and does the same, so those are counted without being run.
fn replay(
    alarm: &AlarmDefinition,
    source: &impl MetricSource,
    initial: AlarmState,
    (from, until): (Timestamp, Timestamp),
    progress: &mut dyn FnMut(Progress),
) -> (Vec<StateChange>, u64) {
    let mut evaluator = AlarmEvaluator::new(alarm.clone(), initial);
    let mut changes = Vec::new();
    let mut evaluations = 0;
    let step = alarm.evaluation_interval().as_millis() as u64;
    let first = from.unix_millis().div_ceil(step) * step;
    let last = until.unix_millis() / step * step;
    let total = if last >= first { (last - first) / step + 1 } else { 0 };
    let report_every = (total / 100).max(1);
    let mut next_report = report_every;
    let mut times = evaluation_times(alarm, from, until, Duration::ZERO);
    // Bounded: each turn consumes at least one evaluation time.
    while let Some(at) = times.next() {
        if evaluations >= next_report {
            progress(Progress { done: evaluations, total });
            next_report = evaluations + report_every;
        }
        evaluations += 1;
        let change = evaluator.evaluate(at, source);
        let unchanged_and_empty = change.is_none() && evaluator.last_range_was_empty();
        changes.extend(change);
        if !unchanged_and_empty {
            continue;
        }
        // Evaluation times are whole steps, and a range ends at its evaluation time: the ranges
        // that end at or before the next sample hold nothing either.
        let next_sample = source.next_at_or_after(at);
        let alike_until = next_sample.map_or(until, |sample| sample.min(until)).unix_millis() / step * step;
        if alike_until > at.unix_millis() {
            evaluations += (alike_until - at.unix_millis()) / step;
            times = evaluation_times(
                alarm,
                Timestamp::from_unix_millis(alike_until + step),
                until,
                Duration::ZERO,
            );
        }
    }
    debug_assert_eq!(evaluations, total, "every evaluation time is run or counted once");
    progress(Progress { done: evaluations, total });
    (changes, evaluations)
}

fn time_in_state(
    initial: AlarmState,
    from: Timestamp,
    until: Timestamp,
    changes: &[StateChange],
) -> BTreeMap<AlarmState, u64> {
    let mut totals: BTreeMap<AlarmState, u64> = AlarmState::ALL.into_iter().map(|state| (state, 0)).collect();
    let mut state = initial;
    let mut since = from;
    for change in changes {
        *totals.entry(state).or_default() += change.time.saturating_since(since).as_millis() as u64;
        state = change.to;
        since = change.time;
    }
    *totals.entry(state).or_default() += until.saturating_since(since).as_millis() as u64;
    totals
}

fn alarm_delays(
    alarm: &AlarmDefinition,
    points: &[(Timestamp, f64)],
    changes: &[StateChange],
) -> Vec<AlarmDelay> {
    changes
        .iter()
        .filter(|change| change.to == AlarmState::Alarm)
        .map(|change| {
            // The periods whose data points decided this ALARM.
            let window_start = change.datapoints.iter().map(|p| p.period_start).min().unwrap_or(change.time);
            let first = points
                .iter()
                .find(|(at, value)| *at >= window_start && *at < change.time && alarm.breaches(*value))
                .map(|(at, _)| *at);
            AlarmDelay {
                alarm_at: change.time,
                first_breaching_sample: first,
                delay_ms: first.map(|at| change.time.saturating_since(at).as_millis() as u64),
            }
        })
        .collect()
}
