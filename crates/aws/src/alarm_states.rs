//! The handler's view of alarms on CloudWatch: the current state of the alarms the configuration
//! lists, metric and composite, and since when (`StateUpdatedTimestamp`), with DescribeAlarms
//! (at most 100 names a call, every page).

use std::collections::BTreeMap;

use aws_config::SdkConfig;
use aws_sdk_cloudwatch::operation::describe_alarms::DescribeAlarmsOutput;
use aws_sdk_cloudwatch::types::{AlarmType, StateValue};
use coldstandby_engine::{ApiError, Timestamp};
use coldstandby_handler::{AlarmReading, AlarmState, AlarmStates};

use crate::errors::from_sdk_error;

/// Pages of one DescribeAlarms (100 names need 2 at 50 alarms a page; the bound is generous).
const MAX_PAGES: usize = 20;

/// CloudWatch's alarms, as the handler reads them.
#[derive(Clone, Debug)]
pub struct CloudWatchAlarms {
    client: aws_sdk_cloudwatch::Client,
}

impl CloudWatchAlarms {
    pub fn new(config: &SdkConfig) -> Self {
        Self { client: aws_sdk_cloudwatch::Client::new(config) }
    }
}

fn state_of(value: &StateValue) -> Option<AlarmState> {
    match value {
        StateValue::Alarm => Some(AlarmState::Alarm),
        StateValue::Ok => Some(AlarmState::Ok),
        StateValue::InsufficientData => Some(AlarmState::InsufficientData),
        _ => None,
    }
}

impl AlarmStates for CloudWatchAlarms {
    async fn alarm_states(&self, names: &[String]) -> Result<BTreeMap<String, AlarmReading>, ApiError> {
        let mut states = BTreeMap::new();
        for page in describe_alarm_pages(&self.client, names).await? {
            let metric = page
                .metric_alarms()
                .iter()
                .map(|alarm| (alarm.alarm_name(), alarm.state_value(), alarm.state_updated_timestamp()));
            let composite = page
                .composite_alarms()
                .iter()
                .map(|alarm| (alarm.alarm_name(), alarm.state_value(), alarm.state_updated_timestamp()));
            for (name, state, updated) in metric.chain(composite) {
                if let (Some(name), Some(state)) = (name, state.and_then(state_of)) {
                    let since = updated.and_then(|at| u64::try_from(at.to_millis().ok()?).ok());
                    let since = since.map(Timestamp::from_unix_millis);
                    states.insert(name.to_owned(), AlarmReading { state, since });
                }
            }
        }
        Ok(states)
    }
}

/// DescribeAlarms, metric and composite, for up to 100 `names`: every page (CloudWatch pages its
/// answers whatever the names asked for), at most `MAX_PAGES`.
pub(crate) async fn describe_alarm_pages(
    client: &aws_sdk_cloudwatch::Client,
    names: &[String],
) -> Result<Vec<DescribeAlarmsOutput>, ApiError> {
    let mut pages = Vec::new();
    let mut next_token = None;
    for _ in 0..MAX_PAGES {
        let page = client
            .describe_alarms()
            .set_alarm_names(Some(names.to_vec()))
            .alarm_types(AlarmType::MetricAlarm)
            .alarm_types(AlarmType::CompositeAlarm)
            .set_next_token(next_token.take())
            .send()
            .await
            .map_err(|error| from_sdk_error("DescribeAlarms", error))?;
        next_token = page.next_token().filter(|token| !token.is_empty()).map(str::to_owned);
        pages.push(page);
        if next_token.is_none() {
            return Ok(pages);
        }
    }
    let message = format!("still paging after {MAX_PAGES} pages");
    Err(ApiError::new(coldstandby_engine::ErrorKind::Transient, "TooManyPages", message))
}
