//! A group's `[group.alarm]` table: the CloudWatch alarm that watches its primary, with the same
//! settings `describe-alarms` shows (in the file's snake_case), validated like the rest of the file.

use std::collections::BTreeMap;

use coldstandby_alarm::definition::Field;
use coldstandby_alarm::{AlarmDefinition, Comparison, Statistic, TreatMissingData};
use coldstandby_engine::InstanceId;

use crate::check::{Checker, Fields};

/// The keys of `[group.alarm]`, by the definition field each one sets.
fn key_of(field: Field) -> &'static str {
    match field {
        Field::Name => "name",
        Field::Period => "period_seconds",
        Field::EvaluationPeriods => "evaluation_periods",
        Field::DatapointsToAlarm => "datapoints_to_alarm",
        Field::Threshold => "threshold",
        Field::EvaluationRange => "evaluation_range",
    }
}

/// What the alarm table's defaults depend on.
pub(crate) struct AlarmContext<'a> {
    pub group_path: &'a str,
    pub group_name: Option<&'a str>,
    pub alarm_names: &'a [String],
    pub primary: Option<&'a InstanceId>,
}

/// Read `[group.alarm]`. Returns None (with problems recorded) when it is not valid.
#[expect(clippy::too_many_lines, reason = "one checked read per alarm key, in the file's order")]
pub(crate) fn read_alarm(
    checker: &mut Checker,
    table: &dyn toml_edit::TableLike,
    context: &AlarmContext<'_>,
) -> Option<AlarmDefinition> {
    let path = format!("{}.alarm", context.group_path);
    let mut fields = Fields::new(table, &path);
    let default_name = context
        .alarm_names
        .first()
        .cloned()
        .or_else(|| context.group_name.map(|group| format!("{group}-primary-alarm")));
    let name = checker.string(&mut fields, "name").map(|(name, _)| name).or(default_name);
    let metric_name = checker.required_string(&mut fields, "metric_name").map(|(name, _)| name);
    let namespace =
        checker.string(&mut fields, "namespace").map_or_else(|| "AWS/EC2".to_owned(), |(ns, _)| ns);
    let statistic =
        checker.string(&mut fields, "statistic").map_or(Some(Statistic::Average), |(text, offset)| {
            Statistic::parse(&text)
                .map_err(|error| checker.problem(&fields.key_path("statistic"), offset, error.to_string()))
                .ok()
        });
    let comparison =
        checker.required_string(&mut fields, "comparison_operator").and_then(|(text, offset)| {
            Comparison::parse(&text)
                .map_err(|error| {
                    checker.problem(&fields.key_path("comparison_operator"), offset, error.to_string())
                })
                .ok()
        });
    let treat_missing_data = checker.string(&mut fields, "treat_missing_data").map_or(
        Some(TreatMissingData::Missing),
        |(text, offset)| {
            TreatMissingData::parse(&text)
                .map_err(|error| {
                    checker.problem(&fields.key_path("treat_missing_data"), offset, error.to_string())
                })
                .ok()
        },
    );
    let dimensions = checker.string_table(&mut fields, "dimensions").unwrap_or_else(|| {
        context.primary.map_or_else(BTreeMap::new, |primary| {
            BTreeMap::from([("InstanceId".to_owned(), primary.as_str().to_owned())])
        })
    });
    let threshold = if fields.has("threshold") {
        checker.number(&mut fields, "threshold")
    } else {
        checker.problem(&fields.key_path("threshold"), None, "missing (required)".to_owned());
        None
    };
    let period_seconds = checker.whole(&mut fields, "period_seconds", 1..=86_400).unwrap_or(60);
    let evaluation_periods = checker.whole(&mut fields, "evaluation_periods", 1..=1440).unwrap_or(1);
    let datapoints_to_alarm =
        checker.whole(&mut fields, "datapoints_to_alarm", 1..=1440).unwrap_or(evaluation_periods);
    let evaluation_range =
        checker.whole(&mut fields, "evaluation_range", 1..=10_000).unwrap_or(evaluation_periods + 2);

    // Check the rules between the numbers even when other keys are wrong, so that every
    // problem is reported at once: placeholders stand in for the keys already reported.
    let probe = AlarmDefinition {
        name: name.clone().unwrap_or_else(|| "?".to_owned()),
        namespace,
        metric_name: metric_name.clone().unwrap_or_default(),
        dimensions,
        statistic: statistic.unwrap_or(Statistic::Average),
        period_seconds,
        evaluation_periods,
        datapoints_to_alarm,
        threshold: threshold.unwrap_or(0.0),
        comparison: comparison.unwrap_or(Comparison::GreaterThanThreshold),
        treat_missing_data: treat_missing_data.unwrap_or_default(),
        evaluation_range,
    };
    let problems = probe.problems();
    for (field, message) in &problems {
        let key = key_of(*field);
        checker.problem(&fields.key_path(key), fields.offset_of(key), message.clone());
    }
    checker.unknown_keys(fields);
    let complete = name.is_some()
        && metric_name.is_some()
        && statistic.is_some()
        && threshold.is_some()
        && comparison.is_some()
        && treat_missing_data.is_some();
    (complete && problems.is_empty()).then_some(probe)
}
