//! Where an evaluation's data points come from: raw samples aggregated by the alarm's statistic,
//! or data points CloudWatch already aggregated.

use coldstandby_engine::Timestamp;

use crate::definition::Statistic;
use crate::statistic::aggregate;

/// Supplies the data point of one period `[start, end)`.
pub trait MetricSource {
    fn datapoint(&self, start: Timestamp, end: Timestamp) -> Option<f64>;
    /// The time of the first sample or data point at or after `at`, if any (None: no more).
    /// A source that cannot tell (a live one) keeps the default: one may come at `at` itself.
    fn next_at_or_after(&self, at: Timestamp) -> Option<Timestamp> {
        Some(at)
    }
}

fn first_at_or_after(times: &[u64], at: Timestamp) -> Option<Timestamp> {
    let index = times.partition_point(|t| *t < at.unix_millis());
    times.get(index).map(|t| Timestamp::from_unix_millis(*t))
}

/// Raw samples, sorted by time, aggregated per period by a statistic.
#[derive(Clone, Debug, PartialEq)]
pub struct Samples {
    times: Vec<u64>,
    values: Vec<f64>,
    statistic: Statistic,
}

impl Samples {
    /// Panics unless `samples` are in time order (parsers check this and report the line).
    pub fn new(samples: &[(Timestamp, f64)], statistic: Statistic) -> Self {
        assert!(samples.windows(2).all(|w| w[0].0 <= w[1].0), "samples must be in time order");
        Self {
            times: samples.iter().map(|(at, _)| at.unix_millis()).collect(),
            values: samples.iter().map(|(_, value)| *value).collect(),
            statistic,
        }
    }

    fn index(&self, at: Timestamp) -> usize {
        self.times.partition_point(|t| *t < at.unix_millis())
    }
}

impl MetricSource for Samples {
    fn datapoint(&self, start: Timestamp, end: Timestamp) -> Option<f64> {
        aggregate(self.statistic, &self.values[self.index(start)..self.index(end)])
    }

    fn next_at_or_after(&self, at: Timestamp) -> Option<Timestamp> {
        first_at_or_after(&self.times, at)
    }
}

/// Data points already aggregated (one per period, stamped with the period's start), as
/// `get-metric-data` and `get-metric-statistics` return them. A period `[start, end)` takes the
/// point stamped within it.
#[derive(Clone, Debug, PartialEq)]
pub struct Datapoints {
    times: Vec<u64>,
    values: Vec<f64>,
}

impl Datapoints {
    /// Panics unless the points are in strictly increasing time order.
    pub fn new(points: &[(Timestamp, f64)]) -> Self {
        assert!(points.windows(2).all(|w| w[0].0 < w[1].0), "data points must be strictly in time order");
        Self {
            times: points.iter().map(|(at, _)| at.unix_millis()).collect(),
            values: points.iter().map(|(_, value)| *value).collect(),
        }
    }
}

impl MetricSource for Datapoints {
    fn datapoint(&self, start: Timestamp, end: Timestamp) -> Option<f64> {
        let index = self.times.partition_point(|t| *t < start.unix_millis());
        (index < self.times.len() && self.times[index] < end.unix_millis()).then(|| self.values[index])
    }

    fn next_at_or_after(&self, at: Timestamp) -> Option<Timestamp> {
        first_at_or_after(&self.times, at)
    }
}
