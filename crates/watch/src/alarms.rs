//! The watcher's own alarm evaluation, for what probes cannot see (the article's CPU rule): a
//! group's `[group.alarm]` evaluated at CloudWatch's cadence with the alarm crate's evaluator,
//! from the data points `GetMetricData` returns. An alarm that goes to ALARM fails its group over,
//! as the alarm's action would, without a second vantage point: the metric is CloudWatch's.

use std::future::Future;
use std::time::Duration;

use coldstandby_alarm::{AlarmDefinition, Datapoints};
use coldstandby_engine::{millis, ApiError, ErrorKind, Timestamp};

/// Reads an alarm's metric, aggregated by its statistic and period.
pub trait MetricReader {
    /// The data points of `alarm`'s metric from `from` to `until`, stamped with their periods'
    /// starts, in time order.
    fn read(
        &self,
        alarm: &AlarmDefinition,
        from: Timestamp,
        until: Timestamp,
    ) -> impl Future<Output = Result<Datapoints, ApiError>>;
}

/// No metrics to read: groups with `[group.alarm]` are refused where this is used.
#[derive(Debug, Default)]
pub struct NoMetrics;

impl MetricReader for NoMetrics {
    async fn read(
        &self,
        alarm: &AlarmDefinition,
        _: Timestamp,
        _: Timestamp,
    ) -> Result<Datapoints, ApiError> {
        let message = format!("no metric reader for alarm {}", alarm.name);
        Err(ApiError::new(ErrorKind::Invalid, "Unsupported", message))
    }
}

/// CloudWatch evaluates a few seconds into each interval, once the interval's data is in.
pub const EVALUATION_OFFSET: Duration = Duration::from_secs(7);

/// How far back an evaluation at `at` needs data: its whole range, and one more period.
pub fn history(alarm: &AlarmDefinition, at: Timestamp) -> Timestamp {
    let span = alarm.period() * (alarm.evaluation_range + 1);
    Timestamp::from_unix_millis(at.unix_millis().saturating_sub(millis(span)))
}

/// The next evaluation time after `now` for an interval of `every`, at its offset.
pub fn next_evaluation(now: Timestamp, every: Duration) -> Timestamp {
    let step = u64::try_from(every.as_millis()).unwrap_or(60_000).max(1);
    let offset = u64::try_from(EVALUATION_OFFSET.as_millis()).unwrap_or(0) % step;
    let base = now.unix_millis().saturating_sub(offset) / step * step + offset;
    let next = if base > now.unix_millis() { base } else { base + step };
    Timestamp::from_unix_millis(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evaluations_come_seven_seconds_into_each_minute() {
        let minute = Duration::from_secs(60);
        let at = |ms: u64| Timestamp::from_unix_millis(ms);
        assert_eq!(next_evaluation(at(0), minute), at(7_000));
        assert_eq!(next_evaluation(at(7_000), minute), at(67_000));
        assert_eq!(next_evaluation(at(66_999), minute), at(67_000));
    }
}
