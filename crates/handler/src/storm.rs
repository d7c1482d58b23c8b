//! Alarm storms: when an Availability Zone fails, every group whose primary lives there alarms at
//! once, and their events arrive one after another. Handling each alone fails the groups over in
//! turn; instead the first event reads the state of every alarm the configuration lists (level,
//! not edge) and fails over every group in ALARM in the same fleet run. The events that follow
//! find their groups already active on a standby.

use std::collections::BTreeMap;
use std::future::Future;

use coldstandby_config::{Config, GroupConfig};
use coldstandby_engine::{ApiError, ErrorKind, Timestamp};

use crate::AlarmState;

/// DescribeAlarms takes at most this many alarm names in one call.
pub const NAMES_PER_CALL: usize = 100;

/// An alarm's current state as DescribeAlarms reads it, and since when: its
/// `StateUpdatedTimestamp`, the evidence's time (None when the answer does not say).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AlarmReading {
    pub state: AlarmState,
    pub since: Option<Timestamp>,
}

/// Where the handler reads alarms' current states.
pub trait AlarmStates {
    /// The state of each alarm in `names` that exists (at most [`NAMES_PER_CALL`] names).
    fn alarm_states(
        &self,
        names: &[String],
    ) -> impl Future<Output = Result<BTreeMap<String, AlarmReading>, ApiError>>;
}

/// No alarm service (a simulated target): every read refused, so only the event's groups act.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoAlarmStates;

impl AlarmStates for NoAlarmStates {
    async fn alarm_states(&self, _: &[String]) -> Result<BTreeMap<String, AlarmReading>, ApiError> {
        Err(ApiError::new(ErrorKind::Invalid, "Unsupported", "this target has no alarms to read"))
    }
}

/// Every alarm the configuration lists, each once, sorted.
pub fn listed_alarms(config: &Config) -> Vec<String> {
    let mut names: Vec<String> =
        config.groups.iter().flat_map(|group| group.alarms.iter().cloned()).collect();
    names.sort();
    names.dedup();
    names
}

/// Read every listed alarm's state, [`NAMES_PER_CALL`] names a call.
pub async fn read_states(
    alarms: &impl AlarmStates,
    names: &[String],
) -> Result<BTreeMap<String, AlarmReading>, ApiError> {
    let mut states = BTreeMap::new();
    for chunk in names.chunks(NAMES_PER_CALL) {
        states.extend(alarms.alarm_states(chunk).await?);
    }
    Ok(states)
}

/// The groups, besides `acting`, that one of their alarms' current `states` fails over: ALARM,
/// or INSUFFICIENT_DATA for a group that opts in. With the alarm that does it, and since when
/// it has been in that state.
pub fn storm_groups<'c>(
    config: &'c Config,
    acting: &[&GroupConfig],
    states: &BTreeMap<String, AlarmReading>,
) -> Vec<(&'c GroupConfig, String, Option<Timestamp>)> {
    config
        .groups
        .iter()
        .filter(|group| !acting.iter().any(|other| other.spec.name == group.spec.name))
        .filter_map(|group| {
            let (firing, reading) = group.alarms.iter().find_map(|alarm| {
                let reading = states.get(alarm)?;
                let fails_over = match reading.state {
                    AlarmState::Alarm => true,
                    AlarmState::InsufficientData => group.fail_over_on_insufficient_data,
                    AlarmState::Ok => false,
                };
                fails_over.then_some((alarm, reading))
            })?;
            Some((group, firing.clone(), reading.since))
        })
        .collect()
}
