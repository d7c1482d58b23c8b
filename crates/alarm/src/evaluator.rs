//! An alarm over time: evaluated at CloudWatch's cadence against a metric source, remembering its
//! state, and reporting a change only when the state actually changes (actions run only then).

use std::time::Duration;

use coldstandby_engine::Timestamp;
use serde::Serialize;

use crate::definition::AlarmDefinition;
use crate::rules::{decide, AlarmState, Decision, Rule};
use crate::series::MetricSource;
use crate::timestamp;

/// One data point as an evaluation used it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PointReport {
    /// The start of the point's period.
    pub period_start: Timestamp,
    /// The real value, or None for a missing point.
    pub value: Option<f64>,
    /// `breaching`, `not breaching` or `missing`.
    pub counted_as: &'static str,
}

/// A state change.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StateChange {
    pub time: Timestamp,
    pub from: AlarmState,
    pub to: AlarmState,
    pub reason: String,
    pub rule: Rule,
    /// The data points that decided it, oldest first.
    pub datapoints: Vec<PointReport>,
}

/// An alarm being evaluated.
#[derive(Clone, Debug)]
pub struct AlarmEvaluator {
    alarm: AlarmDefinition,
    state: AlarmState,
    range: Vec<Option<f64>>,
}

impl AlarmEvaluator {
    pub fn new(alarm: AlarmDefinition, initial: AlarmState) -> Self {
        let problems = alarm.problems();
        assert!(problems.is_empty(), "alarm {} is invalid: {problems:?}", alarm.name);
        Self { range: Vec::with_capacity(alarm.evaluation_range as usize), alarm, state: initial }
    }

    pub fn alarm(&self) -> &AlarmDefinition {
        &self.alarm
    }

    pub fn state(&self) -> AlarmState {
        self.state
    }

    /// The end of the newest period an evaluation at `at` sees: `at` rounded down to the
    /// evaluation cadence (so the 03:14:07 evaluation of a 60 s alarm ends at 03:14:00).
    pub fn range_end(&self, at: Timestamp) -> Timestamp {
        let step = interval_millis(&self.alarm);
        Timestamp::from_unix_millis(at.unix_millis() / step * step)
    }

    /// The start of slot `slot` (0 = oldest) of the range ending at `end`.
    fn slot_start(&self, end: Timestamp, slot: usize) -> Timestamp {
        let periods_back = (self.alarm.evaluation_range as usize - slot) as u64;
        let back = self.alarm.period().as_millis() as u64 * periods_back;
        Timestamp::from_unix_millis(end.unix_millis().saturating_sub(back))
    }

    /// Whether every period the last evaluation looked at was missing.
    pub fn last_range_was_empty(&self) -> bool {
        self.range.iter().all(Option::is_none)
    }

    /// Evaluate at `at`; Some when the state changes.
    pub fn evaluate(&mut self, at: Timestamp, source: &impl MetricSource) -> Option<StateChange> {
        let end = self.range_end(at);
        let period = self.alarm.period();
        self.range.clear();
        for slot in 0..self.alarm.evaluation_range as usize {
            let start = self.slot_start(end, slot);
            self.range.push(source.datapoint(start, start + period));
        }
        let decision = decide(&self.alarm, &self.range, self.state);
        if decision.state == self.state {
            return None;
        }
        let change = self.describe_change(at, end, &decision);
        self.state = decision.state;
        Some(change)
    }

    fn describe_change(&self, at: Timestamp, end: Timestamp, decision: &Decision) -> StateChange {
        let datapoints: Vec<PointReport> = decision
            .used
            .iter()
            .map(|point| PointReport {
                period_start: self.slot_start(end, point.slot),
                value: point.value,
                counted_as: match point.breaching {
                    Some(true) => "breaching",
                    Some(false) => "not breaching",
                    None => "missing",
                },
            })
            .collect();
        let alarm = &self.alarm;
        let listed: Vec<String> = datapoints
            .iter()
            .map(|p| {
                let when = timestamp::format(p.period_start);
                match (p.value, p.counted_as) {
                    (Some(value), _) => format!("{} ({when})", readable(value)),
                    (None, "missing") => format!("missing ({when})"),
                    (None, counted_as) => format!("missing, counted as {counted_as} ({when})"),
                }
            })
            .collect();
        let n = alarm.evaluation_periods;
        let m = alarm.datapoints_to_alarm;
        let condition = format!("{} {}", alarm.comparison.symbol(), readable(alarm.threshold));
        let reason = match decision.rule {
            Rule::AllMissing if alarm.treat_missing_data == crate::TreatMissingData::Missing => format!(
                "no data points in the last {} periods (missing data: missing)",
                alarm.evaluation_range
            ),
            Rule::PrematureAlarm => format!(
                "premature-alarm rule: the oldest breaching point of the last {n} periods is at least {m} periods old and no data point is below the threshold [{}]",
                listed.join(", ")
            ),
            _ => format!(
                "{} of {} data points {condition} (at least {m} needed for ALARM) [{}]",
                decision.breaching,
                decision.used.len(),
                listed.join(", ")
            ),
        };
        StateChange {
            time: at,
            from: self.state,
            to: decision.state,
            reason,
            rule: decision.rule,
            datapoints,
        }
    }
}

/// A value with at most three decimals and no trailing zeros: `67.891`, `50`.
pub fn readable(value: f64) -> String {
    let magnitude = value.abs();
    if magnitude != 0.0 && !(0.001..1e15).contains(&magnitude) {
        // 1e300 as 1e300, not 301 digits; 1.5e-7 rather than 0.
        return format!("{value:e}");
    }
    let text = format!("{value:.3}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" {
        "0".to_owned()
    } else {
        text.to_owned()
    }
}

fn interval_millis(alarm: &AlarmDefinition) -> u64 {
    alarm.evaluation_interval().as_millis() as u64
}

/// The evaluation times from `from` to `until` (both inclusive), at the alarm's cadence and
/// aligned to it, plus `offset` (CloudWatch evaluates a few seconds into the minute).
pub fn evaluation_times(
    alarm: &AlarmDefinition,
    from: Timestamp,
    until: Timestamp,
    offset: Duration,
) -> impl Iterator<Item = Timestamp> {
    let step = interval_millis(alarm);
    let offset = offset.as_millis() as u64 % step;
    let base = from.unix_millis().saturating_sub(offset).div_ceil(step) * step + offset;
    let last = until.unix_millis();
    (0..).map(move |i| base + i * step).take_while(move |t| *t <= last).map(Timestamp::from_unix_millis)
}

#[cfg(test)]
mod tests {
    use super::readable;

    #[test]
    fn values_read_as_a_person_writes_them() {
        assert_eq!(readable(50.0), "50");
        assert_eq!(readable(12.3456), "12.346");
        assert_eq!(readable(-0.0001), "-1e-4");
        assert_eq!(readable(0.0), "0");
        assert_eq!(readable(1e300), "1e300");
        assert_eq!(readable(-2.5e20), "-2.5e20");
        assert_eq!(readable(f64::INFINITY), "inf");
    }
}
