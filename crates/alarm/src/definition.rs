//! A CloudWatch metric alarm's definition: the fields that decide when it changes state, read from
//! `aws cloudwatch describe-alarms` output (or built by the config file) and validated whole.

use crate::error::ValueError;
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

/// How the raw samples of one period become its data point.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub enum Statistic {
    SampleCount,
    Average,
    Sum,
    Minimum,
    Maximum,
    /// `pNN`: the percentile, greater than 0 and less than 100.
    Percentile(f64),
}

impl Statistic {
    /// Parse a `Statistic` (`Average`, ...) or an `ExtendedStatistic` percentile (`p99`, `p99.9`).
    pub fn parse(text: &str) -> Result<Self, ValueError> {
        match text {
            "SampleCount" => Ok(Self::SampleCount),
            "Average" => Ok(Self::Average),
            "Sum" => Ok(Self::Sum),
            "Minimum" => Ok(Self::Minimum),
            "Maximum" => Ok(Self::Maximum),
            _ => {
                let percentile = text
                    .strip_prefix('p')
                    .and_then(|number| number.parse::<f64>().ok())
                    .filter(|p| *p > 0.0 && *p < 100.0);
                percentile.map(Self::Percentile).ok_or_else(|| {
                    ValueError::not_one_of(
                        text,
                        "a supported statistic (SampleCount, Average, Sum, Minimum, Maximum, or a percentile such as p99)",
                    )
                })
            }
        }
    }
}

impl fmt::Display for Statistic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::SampleCount => f.write_str("SampleCount"),
            Self::Average => f.write_str("Average"),
            Self::Sum => f.write_str("Sum"),
            Self::Minimum => f.write_str("Minimum"),
            Self::Maximum => f.write_str("Maximum"),
            Self::Percentile(p) => write!(f, "p{p}"),
        }
    }
}

/// How a data point is compared with the static threshold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Comparison {
    GreaterThanOrEqualToThreshold,
    GreaterThanThreshold,
    LessThanThreshold,
    LessThanOrEqualToThreshold,
}

impl Comparison {
    pub const ALL: [Self; 4] = [
        Self::GreaterThanOrEqualToThreshold,
        Self::GreaterThanThreshold,
        Self::LessThanThreshold,
        Self::LessThanOrEqualToThreshold,
    ];

    pub fn parse(text: &str) -> Result<Self, ValueError> {
        if let Some(found) = Self::ALL.into_iter().find(|c| c.as_str() == text) {
            return Ok(found);
        }
        const BANDS: [&str; 3] = [
            "LessThanLowerOrGreaterThanUpperThreshold",
            "LessThanLowerThreshold",
            "GreaterThanUpperThreshold",
        ];
        if BANDS.contains(&text) {
            return Err(ValueError::AnomalyBand { text: text.to_owned() });
        }
        Err(ValueError::not_one_of(
            text,
            "a comparison operator (GreaterThanOrEqualToThreshold, GreaterThanThreshold, \
             LessThanThreshold, LessThanOrEqualToThreshold)",
        ))
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::GreaterThanOrEqualToThreshold => "GreaterThanOrEqualToThreshold",
            Self::GreaterThanThreshold => "GreaterThanThreshold",
            Self::LessThanThreshold => "LessThanThreshold",
            Self::LessThanOrEqualToThreshold => "LessThanOrEqualToThreshold",
        }
    }

    /// The operator as a symbol, for messages.
    pub fn symbol(self) -> &'static str {
        match self {
            Self::GreaterThanOrEqualToThreshold => ">=",
            Self::GreaterThanThreshold => ">",
            Self::LessThanThreshold => "<",
            Self::LessThanOrEqualToThreshold => "<=",
        }
    }

    /// Whether `value` breaches `threshold`.
    pub fn breaches(self, value: f64, threshold: f64) -> bool {
        match self {
            Self::GreaterThanOrEqualToThreshold => value >= threshold,
            Self::GreaterThanThreshold => value > threshold,
            Self::LessThanThreshold => value < threshold,
            Self::LessThanOrEqualToThreshold => value <= threshold,
        }
    }
}

/// What a missing data point counts as (`docs/aws-behaviour.md` section 1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub enum TreatMissingData {
    /// Missing is missing; all missing means INSUFFICIENT_DATA.
    #[default]
    Missing,
    NotBreaching,
    Breaching,
    /// Missing data keeps the current state.
    Ignore,
}

impl TreatMissingData {
    pub const ALL: [Self; 4] = [Self::Missing, Self::NotBreaching, Self::Breaching, Self::Ignore];

    pub fn parse(text: &str) -> Result<Self, ValueError> {
        Self::ALL
            .into_iter()
            .find(|mode| mode.as_str() == text)
            .ok_or_else(|| ValueError::not_one_of(text, "one of missing, notBreaching, breaching, ignore"))
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::NotBreaching => "notBreaching",
            Self::Breaching => "breaching",
            Self::Ignore => "ignore",
        }
    }
}

impl fmt::Display for TreatMissingData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A metric alarm with a static threshold.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AlarmDefinition {
    pub name: String,
    pub namespace: String,
    pub metric_name: String,
    pub dimensions: BTreeMap<String, String>,
    pub statistic: Statistic,
    /// Seconds: 10, 20, 30 or a multiple of 60.
    pub period_seconds: u32,
    /// N.
    pub evaluation_periods: u32,
    /// M (at most N).
    pub datapoints_to_alarm: u32,
    pub threshold: f64,
    pub comparison: Comparison,
    pub treat_missing_data: TreatMissingData,
    /// How many recent periods are fetched to find N data points. CloudWatch does not publish
    /// its number; its worked examples use N + 2, the default here.
    pub evaluation_range: u32,
}

/// A field of an alarm definition, so each source can name it in its own terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    Name,
    Period,
    EvaluationPeriods,
    DatapointsToAlarm,
    Threshold,
    EvaluationRange,
}

/// The longest an alarm may look back (`Period` x `EvaluationPeriods`), as CloudWatch allows.
const ONE_DAY_SECONDS: u64 = 86_400;

impl AlarmDefinition {
    pub fn period(&self) -> Duration {
        Duration::from_secs(u64::from(self.period_seconds))
    }

    /// Standard alarms are evaluated once a minute; high-resolution ones every 10 s.
    pub fn evaluation_interval(&self) -> Duration {
        if self.period_seconds < 60 {
            Duration::from_secs(10)
        } else {
            Duration::from_secs(60)
        }
    }

    pub fn breaches(&self, value: f64) -> bool {
        self.comparison.breaches(value, self.threshold)
    }

    /// "CPUUtilization Average > 50 for 1 of 1 periods of 60 s (missing data: missing)".
    pub fn summary(&self) -> String {
        format!(
            "{} {} {} {} for {} of {} periods of {} s (missing data: {})",
            self.metric_name,
            self.statistic,
            self.comparison.symbol(),
            crate::evaluator::readable(self.threshold),
            self.datapoints_to_alarm,
            self.evaluation_periods,
            self.period_seconds,
            self.treat_missing_data
        )
    }

    /// Every rule CloudWatch enforces on these fields, all problems at once.
    pub fn problems(&self) -> Vec<(Field, String)> {
        let mut problems = Vec::new();
        if self.name.is_empty() {
            problems.push((Field::Name, "an alarm needs a name".to_owned()));
        }
        let period = self.period_seconds;
        if !(matches!(period, 10 | 20 | 30) || (period >= 60 && period.is_multiple_of(60))) {
            problems.push((Field::Period, format!("{period} s is not 10, 20, 30 or a multiple of 60")));
        }
        let n = self.evaluation_periods;
        if n == 0 {
            problems.push((Field::EvaluationPeriods, "must be at least 1".to_owned()));
        } else if u64::from(period) * u64::from(n) > ONE_DAY_SECONDS {
            problems.push((
                Field::EvaluationPeriods,
                format!("{n} periods of {period} s look back more than a day"),
            ));
        }
        let m = self.datapoints_to_alarm;
        if m == 0 || m > n.max(1) {
            problems
                .push((Field::DatapointsToAlarm, format!("{m} must be from 1 to EvaluationPeriods ({n})")));
        }
        if !self.threshold.is_finite() {
            problems.push((Field::Threshold, "must be a finite number".to_owned()));
        }
        if self.evaluation_range < n || self.evaluation_range > 10_000 {
            problems.push((
                Field::EvaluationRange,
                format!("{} must be from EvaluationPeriods ({n}) to 10000", self.evaluation_range),
            ));
        }
        problems
    }
}

/// Why an alarm definition was rejected: each field and what is wrong with it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.problems.iter().map(|(field, message)| format!("{field}: {message}")).collect::<Vec<_>>().join("; "))]
pub struct DefinitionError {
    /// (field name as the source spells it, message)
    pub problems: Vec<(String, String)>,
}

/// The JSON field that holds each [`Field`] in `describe-alarms` output.
fn json_field(field: Field) -> &'static str {
    match field {
        Field::Name => "AlarmName",
        Field::Period => "Period",
        Field::EvaluationPeriods => "EvaluationPeriods",
        Field::DatapointsToAlarm => "DatapointsToAlarm",
        Field::Threshold => "Threshold",
        Field::EvaluationRange => "EvaluationRange",
    }
}

/// Read an alarm from `aws cloudwatch describe-alarms` output: either one element of
/// `MetricAlarms`, or the whole output when it holds exactly one metric alarm. Fields this
/// evaluator does not use (ARNs, actions, state) are ignored; `evaluation_range` overrides N + 2.
#[expect(
    clippy::too_many_lines,
    reason = "one field read after another from describe-alarms JSON, each with its own error; split by field group when next touched"
)]
pub fn from_describe_alarms(
    json: &Value,
    evaluation_range: Option<u32>,
) -> Result<AlarmDefinition, DefinitionError> {
    let fail = |field: &str, message: String| DefinitionError { problems: vec![(field.to_owned(), message)] };
    let alarm = match json.get("MetricAlarms") {
        Some(Value::Array(alarms)) if alarms.len() == 1 => &alarms[0],
        Some(Value::Array(alarms)) => {
            let names: Vec<&str> = alarms.iter().filter_map(|a| a.get("AlarmName")?.as_str()).collect();
            let message = format!(
                "holds {} alarms ({}); pass one element, e.g. with `--alarm-names NAME`",
                alarms.len(),
                names.join(", ")
            );
            return Err(fail("MetricAlarms", message));
        }
        Some(_) => return Err(fail("MetricAlarms", "is not an array".to_owned())),
        None => json,
    };
    let Some(object) = alarm.as_object() else {
        return Err(fail("(alarm)", "expected a JSON object".to_owned()));
    };

    let mut problems: Vec<(String, String)> = Vec::new();
    let mut text = |key: &str, required: bool| -> Option<String> {
        match object.get(key) {
            Some(Value::String(value)) => Some(value.clone()),
            Some(other) => {
                problems.push((key.to_owned(), format!("expected a string, found {other}")));
                None
            }
            None if required => {
                problems.push((key.to_owned(), "missing".to_owned()));
                None
            }
            None => None,
        }
    };
    let name = text("AlarmName", true);
    let namespace = text("Namespace", false);
    let metric_name = text("MetricName", false);
    let statistic_text = text("Statistic", false);
    let extended_text = text("ExtendedStatistic", false);
    let comparison_text = text("ComparisonOperator", true);
    let missing_text = text("TreatMissingData", false);

    if object.contains_key("Metrics") && metric_name.is_none() {
        problems.push((
            "Metrics".to_owned(),
            "metric math alarms are not supported; use a single-metric alarm".to_owned(),
        ));
    } else {
        if metric_name.is_none() {
            problems.push(("MetricName".to_owned(), "missing".to_owned()));
        }
        if namespace.is_none() {
            problems.push(("Namespace".to_owned(), "missing".to_owned()));
        }
    }
    if object.contains_key("ThresholdMetricId") {
        problems
            .push(("ThresholdMetricId".to_owned(), "anomaly detection bands are not supported".to_owned()));
    }

    let statistic = match (statistic_text, extended_text) {
        (Some(s), None) => {
            Statistic::parse(&s).map_err(|e| problems.push(("Statistic".to_owned(), e.to_string()))).ok()
        }
        (None, Some(s)) => Statistic::parse(&s)
            .map_err(|e| problems.push(("ExtendedStatistic".to_owned(), e.to_string())))
            .ok(),
        (Some(_), Some(_)) => {
            problems
                .push(("Statistic".to_owned(), "give Statistic or ExtendedStatistic, not both".to_owned()));
            None
        }
        (None, None) => {
            problems.push(("Statistic".to_owned(), "missing (or ExtendedStatistic)".to_owned()));
            None
        }
    };
    let comparison = comparison_text.and_then(|c| {
        Comparison::parse(&c)
            .map_err(|e| problems.push(("ComparisonOperator".to_owned(), e.to_string())))
            .ok()
    });
    let treat_missing_data = match missing_text {
        Some(m) => TreatMissingData::parse(&m)
            .map_err(|e| problems.push(("TreatMissingData".to_owned(), e.to_string())))
            .ok(),
        None => Some(TreatMissingData::Missing),
    };

    let mut whole = |key: &str, required: bool| -> Option<u32> {
        match object.get(key) {
            Some(value) => match value.as_u64().and_then(|n| u32::try_from(n).ok()) {
                Some(n) => Some(n),
                None => {
                    problems.push((key.to_owned(), format!("expected a whole number, found {value}")));
                    None
                }
            },
            None if required => {
                problems.push((key.to_owned(), "missing".to_owned()));
                None
            }
            None => None,
        }
    };
    let period_seconds = whole("Period", true);
    let evaluation_periods = whole("EvaluationPeriods", true);
    let datapoints_to_alarm = whole("DatapointsToAlarm", false);
    let threshold = match object.get("Threshold") {
        Some(value) => value.as_f64().or_else(|| {
            problems.push(("Threshold".to_owned(), format!("expected a number, found {value}")));
            None
        }),
        None => {
            problems.push(("Threshold".to_owned(), "missing".to_owned()));
            None
        }
    };

    let dimensions = read_dimensions(object.get("Dimensions"), &mut problems);

    let (
        Some(name),
        Some(statistic),
        Some(comparison),
        Some(treat_missing_data),
        Some(period_seconds),
        Some(n),
        Some(threshold),
        true,
    ) = (
        name,
        statistic,
        comparison,
        treat_missing_data,
        period_seconds,
        evaluation_periods,
        threshold,
        problems.is_empty(),
    )
    else {
        return Err(DefinitionError { problems });
    };
    let definition = AlarmDefinition {
        name,
        namespace: namespace.unwrap_or_default(),
        metric_name: metric_name.unwrap_or_default(),
        dimensions,
        statistic,
        period_seconds,
        evaluation_periods: n,
        datapoints_to_alarm: datapoints_to_alarm.unwrap_or(n),
        threshold,
        comparison,
        treat_missing_data,
        evaluation_range: evaluation_range.unwrap_or(n + 2),
    };
    let problems: Vec<(String, String)> = definition
        .problems()
        .into_iter()
        .map(|(field, message)| (json_field(field).to_owned(), message))
        .collect();
    if problems.is_empty() {
        Ok(definition)
    } else {
        Err(DefinitionError { problems })
    }
}

fn read_dimensions(value: Option<&Value>, problems: &mut Vec<(String, String)>) -> BTreeMap<String, String> {
    let mut dimensions = BTreeMap::new();
    let Some(value) = value else { return dimensions };
    let Some(items) = value.as_array() else {
        problems.push(("Dimensions".to_owned(), "expected an array of {Name, Value}".to_owned()));
        return dimensions;
    };
    for (index, item) in items.iter().enumerate() {
        match (item.get("Name").and_then(Value::as_str), item.get("Value").and_then(Value::as_str)) {
            (Some(name), Some(value)) => {
                dimensions.insert(name.to_owned(), value.to_owned());
            }
            _ => problems.push((
                format!("Dimensions[{index}]"),
                "expected {\"Name\": ..., \"Value\": ...}".to_owned(),
            )),
        }
    }
    dimensions
}
