//! The watcher's `MetricReader` on CloudWatch: one `GetMetricData` query per alarm (its metric,
//! dimensions, period and statistic), data points in time order, every page read.

use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat, ScanBy};
use coldstandby_alarm::{AlarmDefinition, Datapoints};
use coldstandby_engine::{ApiError, ErrorKind, Timestamp};
use coldstandby_watch::MetricReader;

use crate::errors::from_sdk_error;

/// The most pages one read follows: a range of a few periods is one page.
const MAX_PAGES: usize = 10;

/// CloudWatch's `GetMetricData`.
#[derive(Clone, Debug)]
pub struct CloudWatchMetrics {
    client: aws_sdk_cloudwatch::Client,
}

impl CloudWatchMetrics {
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        Self { client: aws_sdk_cloudwatch::Client::new(config) }
    }
}

fn query(alarm: &AlarmDefinition) -> MetricDataQuery {
    let dimensions =
        alarm.dimensions.iter().map(|(name, value)| Dimension::builder().name(name).value(value).build());
    let metric = Metric::builder()
        .namespace(&alarm.namespace)
        .metric_name(&alarm.metric_name)
        .set_dimensions(Some(dimensions.collect()))
        .build();
    let stat = MetricStat::builder()
        .metric(metric)
        .period(i32::try_from(alarm.period_seconds).unwrap_or(i32::MAX))
        .stat(alarm.statistic.to_string())
        .build();
    MetricDataQuery::builder().id("m0").metric_stat(stat).return_data(true).build()
}

fn date_time(at: Timestamp) -> DateTime {
    DateTime::from_millis(i64::try_from(at.unix_millis()).unwrap_or(i64::MAX))
}

impl MetricReader for CloudWatchMetrics {
    async fn read(
        &self,
        alarm: &AlarmDefinition,
        from: Timestamp,
        until: Timestamp,
    ) -> Result<Datapoints, ApiError> {
        let mut points: Vec<(Timestamp, f64)> = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let answer = self
                .client
                .get_metric_data()
                .metric_data_queries(query(alarm))
                .start_time(date_time(from))
                .end_time(date_time(until))
                .scan_by(ScanBy::TimestampAscending)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|error| from_sdk_error("GetMetricData", error))?;
            for result in answer.metric_data_results() {
                for (at, value) in result.timestamps().iter().zip(result.values()) {
                    let millis = u64::try_from(at.to_millis().unwrap_or(0)).unwrap_or(0);
                    points.push((Timestamp::from_unix_millis(millis), *value));
                }
            }
            token = answer.next_token().map(str::to_owned);
            if token.is_none() {
                break;
            }
        }
        if token.is_some() {
            let message = format!("GetMetricData for alarm {} had more than {MAX_PAGES} pages", alarm.name);
            return Err(ApiError::new(ErrorKind::Invalid, "TooManyPages", message));
        }
        points.sort_by_key(|(at, _)| *at);
        points.dedup_by_key(|(at, _)| *at);
        Ok(Datapoints::new(&points))
    }
}
