//! The CloudWatch alarm event a Lambda alarm action receives, reduced to what the handler
//! decides on: which alarm, which state (and since when), and which instance it watches.

use aws_lambda_events::event::cloudwatch_alarms::{CloudWatchAlarm, CloudWatchAlarmStateValue};
use coldstandby_alarm::AlarmState;
use coldstandby_engine::Timestamp;
use serde::Serialize;
use serde_json::Value;

/// What the handler needs from one alarm event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AlarmEvent {
    pub alarm_name: String,
    pub alarm_arn: Option<String>,
    pub state: AlarmState,
    pub previous_state: Option<AlarmState>,
    /// When the alarm entered `state`, RFC 3339: with the ARN, it identifies the state change.
    pub state_timestamp: String,
    /// The same instant: the evidence's time, compared with when the group's active member was
    /// activated (an event from before it is history).
    #[serde(skip)]
    pub state_changed_at: Timestamp,
    /// The `InstanceId` dimensions of a metric alarm's metrics (empty for composite alarms).
    pub instance_ids: Vec<String>,
}

impl AlarmEvent {
    /// Identifies this state change across duplicate and retried deliveries.
    pub fn trigger(&self) -> String {
        let alarm = self.alarm_arn.as_deref().unwrap_or(&self.alarm_name);
        format!("alarm {alarm} {} at {}", self.state.as_str(), self.state_timestamp)
    }
}

/// Why an event could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("not a CloudWatch alarm event: {0}")]
pub struct MalformedEvent(pub String);

fn state_value(value: &CloudWatchAlarmStateValue) -> Result<AlarmState, MalformedEvent> {
    match value {
        CloudWatchAlarmStateValue::Ok => Ok(AlarmState::Ok),
        CloudWatchAlarmStateValue::Alarm => Ok(AlarmState::Alarm),
        CloudWatchAlarmStateValue::InsufficientData => Ok(AlarmState::InsufficientData),
        other => Err(MalformedEvent(format!("unknown alarm state {other:?}"))),
    }
}

/// Read an alarm event (the shape `aws_lambda_events` models).
pub fn parse(value: &Value) -> Result<AlarmEvent, MalformedEvent> {
    if value.get("source").and_then(Value::as_str).is_some_and(|source| source != "aws.cloudwatch") {
        return Err(MalformedEvent(format!("`source` is {}, not aws.cloudwatch", value["source"])));
    }
    let event: CloudWatchAlarm =
        serde_json::from_value(value.clone()).map_err(|e| MalformedEvent(e.to_string()))?;
    let data = &event.alarm_data;
    if data.alarm_name.is_empty() {
        return Err(MalformedEvent("`alarmData.alarmName` is missing or empty".to_owned()));
    }
    let state =
        data.state.as_ref().ok_or_else(|| MalformedEvent("`alarmData.state` is missing".to_owned()))?;
    let previous_state =
        data.previous_state.as_ref().map(|previous| state_value(&previous.value)).transpose()?;
    let instance_ids = data
        .configuration
        .get("metrics")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|metric| metric.pointer("/metricStat/metric/dimensions/InstanceId")?.as_str())
        .map(str::to_owned)
        .collect();
    Ok(AlarmEvent {
        alarm_name: data.alarm_name.clone(),
        alarm_arn: event.alarm_arn.clone(),
        state: state_value(&state.value)?,
        previous_state,
        state_timestamp: state.timestamp.to_rfc3339(),
        state_changed_at: Timestamp::from_unix_millis(
            u64::try_from(state.timestamp.timestamp_millis()).map_err(|_| {
                MalformedEvent(format!("`alarmData.state.timestamp` {} is before 1970", state.timestamp))
            })?,
        ),
        instance_ids,
    })
}
