//! One alarm evaluation, as CloudWatch documents it: which data points of the evaluation range
//! are used, how missing ones are filled, the premature-alarm rule, and the resulting state.
//!
//! The rules (`docs/aws-behaviour.md` section 1; every cell of AWS's two worked tables is a test):
//! 1. At least N real points in the range: the newest N real points decide; TreatMissingData
//!    is not applied at all.
//! 2. No real point: `missing` -> INSUFFICIENT_DATA, `ignore` -> the state is kept,
//!    `breaching` -> ALARM, `notBreaching` -> OK.
//! 3. Between 1 and N-1 real points: every real point is kept and the newest missing slots are
//!    filled up to N. `breaching` / `notBreaching` fill with bad / good points; `missing` and
//!    `ignore` fill with nothing and count the real points only.
//! 4. Premature alarm (under `missing`): with fewer than N real points, if the oldest breaching
//!    point among the newest N slots is at least M periods old and no real point in the range is
//!    below the threshold, the alarm goes to ALARM anyway. AWS's M-of-N table (row 3, `0 - X - -`,
//!    stays OK) shows that an older non-breaching real point also prevents it.
//! 5. Under `ignore`, an outcome that only missing data decides (rules 2 and 4) keeps the state.

use serde::Serialize;

use crate::definition::{AlarmDefinition, TreatMissingData};

/// An alarm's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum AlarmState {
    #[serde(rename = "OK")]
    Ok,
    #[serde(rename = "ALARM")]
    Alarm,
    #[serde(rename = "INSUFFICIENT_DATA")]
    InsufficientData,
}

impl AlarmState {
    pub const ALL: [Self; 3] = [Self::Ok, Self::Alarm, Self::InsufficientData];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "OK",
            Self::Alarm => "ALARM",
            Self::InsufficientData => "INSUFFICIENT_DATA",
        }
    }

    pub fn parse(text: &str) -> Result<Self, crate::error::ValueError> {
        Self::ALL
            .into_iter()
            .find(|state| state.as_str() == text)
            .ok_or_else(|| crate::error::ValueError::not_one_of(text, "OK, ALARM or INSUFFICIENT_DATA"))
    }
}

impl std::fmt::Display for AlarmState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which rule decided an evaluation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    /// The newest N real points (rule 1).
    NewestRealPoints,
    /// Real points plus filled missing ones (rule 3).
    FilledMissing,
    /// No real point at all (rule 2).
    AllMissing,
    /// The premature-alarm rule (rule 4).
    PrematureAlarm,
    /// `ignore`: missing data keeps the state (rule 5).
    KeptByIgnore,
}

/// How one slot of the range took part in an evaluation.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct UsedPoint {
    /// Index into the range, 0 = oldest.
    pub slot: usize,
    /// The real value; None for a filled missing point.
    pub value: Option<f64>,
    /// Whether it counted as breaching (None: a missing point counted as neither).
    pub breaching: Option<bool>,
}

/// The outcome of one evaluation.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Decision {
    pub state: AlarmState,
    pub rule: Rule,
    /// Breaching points among those used.
    pub breaching: u32,
    /// The points that decided, oldest first.
    pub used: Vec<UsedPoint>,
}

/// Evaluate `range` (the evaluation range's data points, oldest first; None = missing) for an
/// alarm currently in `current`.
pub fn decide(alarm: &AlarmDefinition, range: &[Option<f64>], current: AlarmState) -> Decision {
    let n = alarm.evaluation_periods as usize;
    let m = alarm.datapoints_to_alarm;
    assert!(n >= 1 && range.len() >= n, "a range of {} cannot hold N = {n} points", range.len());
    let real: Vec<(usize, f64)> =
        range.iter().enumerate().filter_map(|(slot, value)| value.map(|value| (slot, value))).collect();
    let point = |slot: usize, value: f64| UsedPoint {
        slot,
        value: Some(value),
        breaching: Some(alarm.breaches(value)),
    };
    let by_count = |breaching: u32| if breaching >= m { AlarmState::Alarm } else { AlarmState::Ok };

    if real.len() >= n {
        let used: Vec<UsedPoint> =
            real[real.len() - n..].iter().map(|&(slot, value)| point(slot, value)).collect();
        let breaching = count_breaching(&used);
        return Decision { state: by_count(breaching), rule: Rule::NewestRealPoints, breaching, used };
    }

    // Fill the newest missing slots, as few as needed to make N.
    let fill_count = n - real.len();
    let mut fill_slots: Vec<usize> =
        (0..range.len()).rev().filter(|slot| range[*slot].is_none()).take(fill_count).collect();
    fill_slots.sort_unstable();
    let fill_as = match alarm.treat_missing_data {
        TreatMissingData::Breaching => Some(true),
        TreatMissingData::NotBreaching => Some(false),
        TreatMissingData::Missing | TreatMissingData::Ignore => None,
    };
    let mut used: Vec<UsedPoint> = real.iter().map(|&(slot, value)| point(slot, value)).collect();
    used.extend(fill_slots.iter().map(|&slot| UsedPoint { slot, value: None, breaching: fill_as }));
    used.sort_by_key(|p| p.slot);
    let breaching = count_breaching(&used);
    let ignore = alarm.treat_missing_data == TreatMissingData::Ignore;
    let kept = |used: Vec<UsedPoint>| Decision { state: current, rule: Rule::KeptByIgnore, breaching, used };

    if real.is_empty() {
        return match alarm.treat_missing_data {
            TreatMissingData::Missing => {
                Decision { state: AlarmState::InsufficientData, rule: Rule::AllMissing, breaching, used }
            }
            TreatMissingData::Ignore => kept(used),
            TreatMissingData::Breaching | TreatMissingData::NotBreaching => {
                Decision { state: by_count(breaching), rule: Rule::AllMissing, breaching, used }
            }
        };
    }
    if fill_as.is_none() && premature_alarm(alarm, range) {
        if ignore {
            return kept(used);
        }
        return Decision { state: AlarmState::Alarm, rule: Rule::PrematureAlarm, breaching, used };
    }
    Decision { state: by_count(breaching), rule: Rule::FilledMissing, breaching, used }
}

fn count_breaching(used: &[UsedPoint]) -> u32 {
    let count = used.iter().filter(|p| p.breaching == Some(true)).count();
    u32::try_from(count).expect("at most N points are used")
}

/// Rule 4: the oldest breaching real point among the newest N slots is at least M periods old
/// (the newest slot being 1 old), and no real point in the range is below the threshold.
fn premature_alarm(alarm: &AlarmDefinition, range: &[Option<f64>]) -> bool {
    let n = alarm.evaluation_periods as usize;
    let any_good = range.iter().flatten().any(|value| !alarm.breaches(*value));
    if any_good {
        return false;
    }
    let window = &range[range.len() - n..];
    let oldest_breaching = window.iter().position(|value| value.is_some_and(|v| alarm.breaches(v)));
    oldest_breaching.is_some_and(|index| (n - index) as u32 >= alarm.datapoints_to_alarm)
}
