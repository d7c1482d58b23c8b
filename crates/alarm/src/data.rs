//! Metric history for backtests: a CSV of raw samples (`timestamp,value`), or the JSON that
//! `aws cloudwatch get-metric-data` / `get-metric-statistics` print. Every problem names the line
//! or field it was found at.

use std::fmt;

use coldstandby_engine::Timestamp;
use serde_json::Value;

use crate::definition::Statistic;
use crate::timestamp;

/// Parsed metric history.
#[derive(Clone, Debug, PartialEq)]
pub enum MetricData {
    /// Raw samples in time order (equal times allowed), from a CSV file.
    Samples(Vec<(Timestamp, f64)>),
    /// Data points CloudWatch already aggregated, in strictly increasing time order.
    Datapoints(Vec<(Timestamp, f64)>),
}

impl MetricData {
    pub fn points(&self) -> &[(Timestamp, f64)] {
        match self {
            Self::Samples(points) | Self::Datapoints(points) => points,
        }
    }
}

/// What is wrong with a data file, and where.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct DataError {
    /// `line 7`, `MetricDataResults[0].Values[3]`, ...
    pub location: String,
    pub message: String,
}

impl fmt::Display for DataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location, self.message)
    }
}

fn error(location: impl Into<String>, message: impl Into<String>) -> DataError {
    DataError { location: location.into(), message: message.into() }
}

/// Parse `text`: JSON when it starts with `{`, CSV otherwise. `statistic` picks the field of
/// `get-metric-statistics` output.
pub fn parse(text: &str, statistic: Statistic) -> Result<MetricData, DataError> {
    if text.trim_start().starts_with('{') {
        parse_json(text, statistic)
    } else {
        parse_csv(text)
    }
}

fn parse_csv(text: &str) -> Result<MetricData, DataError> {
    // As spreadsheets and the CloudWatch console save them: a byte-order mark, quoted fields,
    // CRLF line ends. The csv crate reads the quoting and line ends; the mark is dropped here.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let mut rows =
        reader.records().filter(|row| !row.as_ref().is_ok_and(|fields| fields.iter().all(str::is_empty)));
    let line_of = |row: &csv::StringRecord| row.position().map_or(0, csv::Position::line);
    let header = match rows.next() {
        None => {
            return Err(error(
                "file",
                "is empty (expected a `timestamp,value` header and one row per sample)",
            ))
        }
        Some(row) => row.map_err(csv_error)?,
    };
    let columns: Vec<String> = header.iter().map(str::to_ascii_lowercase).collect();
    if columns != ["timestamp", "value"] {
        // Escaped, so an invisible difference (a stray mark, a non-breaking space) shows.
        let found: Vec<String> = header.iter().map(|field| field.escape_debug().to_string()).collect();
        return Err(error(
            format!("line {}", line_of(&header)),
            format!("expected the header `timestamp,value`, found `{}`", found.join(",")),
        ));
    }
    let mut samples: Vec<(Timestamp, f64)> = Vec::new();
    for row in rows {
        let row = row.map_err(csv_error)?;
        let at = format!("line {}", line_of(&row));
        let fields: Vec<&str> = row.iter().collect();
        let [time_text, value_text] = fields.as_slice() else {
            return Err(error(
                at,
                format!(
                    "expected 2 fields (timestamp,value), found {}: `{}`",
                    fields.len(),
                    fields.join(",")
                ),
            ));
        };
        let time = timestamp::parse(time_text).map_err(|e| error(at.clone(), e.to_string()))?;
        let value = parse_value(value_text).map_err(|e| error(at.clone(), e.to_string()))?;
        if let Some((previous, _)) = samples.last() {
            if time < *previous {
                return Err(error(
                    at,
                    format!("timestamp {time_text} is earlier than the row before it ({}); rows must be in time order", timestamp::format(*previous)),
                ));
            }
        }
        samples.push((time, value));
    }
    if samples.is_empty() {
        return Err(error("file", "has a header but no samples"));
    }
    Ok(MetricData::Samples(samples))
}

/// A row the CSV reader could not read (an unclosed quote, bytes that are not UTF-8).
fn csv_error(error: csv::Error) -> DataError {
    let line = error.position().map_or(0, csv::Position::line);
    DataError { location: format!("line {line}"), message: format!("not readable as CSV: {error}") }
}

fn parse_value(text: &str) -> Result<f64, crate::error::ValueError> {
    match text.parse::<f64>() {
        Ok(value) if value.is_finite() => Ok(value),
        _ => Err(crate::error::ValueError::not_one_of(text, "a finite number")),
    }
}

fn parse_json(text: &str, statistic: Statistic) -> Result<MetricData, DataError> {
    let json: Value = serde_json::from_str(text)
        .map_err(|e| error(format!("line {}", e.line()), format!("not valid JSON: {e}")))?;
    let points = if let Some(results) = json.get("MetricDataResults") {
        metric_data_results(results)?
    } else if let Some(datapoints) = json.get("Datapoints") {
        metric_statistics(datapoints, statistic)?
    } else {
        return Err(error(
            "(top level)",
            "expected `MetricDataResults` (get-metric-data) or `Datapoints` (get-metric-statistics)",
        ));
    };
    in_time_order(points)
}

fn metric_data_results(results: &Value) -> Result<Vec<(Timestamp, f64, String)>, DataError> {
    let Some(results) = results.as_array() else {
        return Err(error("MetricDataResults", "expected an array"));
    };
    let [result] = results.as_slice() else {
        let ids: Vec<&str> = results.iter().filter_map(|r| r.get("Id")?.as_str()).collect();
        return Err(error(
            "MetricDataResults",
            format!("expected exactly one result, found {} ({})", results.len(), ids.join(", ")),
        ));
    };
    let array = |key: &str| {
        result
            .get(key)
            .and_then(Value::as_array)
            .ok_or_else(|| error(format!("MetricDataResults[0].{key}"), "missing or not an array"))
    };
    let (times, values) = (array("Timestamps")?, array("Values")?);
    if times.len() != values.len() {
        return Err(error(
            "MetricDataResults[0]",
            format!("{} Timestamps but {} Values", times.len(), values.len()),
        ));
    }
    times
        .iter()
        .zip(values)
        .enumerate()
        .map(|(index, (time, value))| {
            let time_at = format!("MetricDataResults[0].Timestamps[{index}]");
            let time = time
                .as_str()
                .ok_or_else(|| error(&time_at, "expected a string"))
                .and_then(|text| timestamp::parse(text).map_err(|e| error(&time_at, e.to_string())))?;
            let value_at = format!("MetricDataResults[0].Values[{index}]");
            let value = value
                .as_f64()
                .filter(|v| v.is_finite())
                .ok_or_else(|| error(&value_at, "expected a number"))?;
            Ok((time, value, time_at))
        })
        .collect()
}

fn metric_statistics(
    datapoints: &Value,
    statistic: Statistic,
) -> Result<Vec<(Timestamp, f64, String)>, DataError> {
    let Some(datapoints) = datapoints.as_array() else {
        return Err(error("Datapoints", "expected an array"));
    };
    let field = statistic.to_string();
    datapoints
        .iter()
        .enumerate()
        .map(|(index, point)| {
            let at = format!("Datapoints[{index}]");
            let time = point
                .get("Timestamp")
                .and_then(Value::as_str)
                .ok_or_else(|| error(format!("{at}.Timestamp"), "missing or not a string"))
                .and_then(|text| {
                    timestamp::parse(text).map_err(|e| error(format!("{at}.Timestamp"), e.to_string()))
                })?;
            let value = match statistic {
                Statistic::Percentile(_) => point.get("ExtendedStatistics").and_then(|e| e.get(&field)),
                _ => point.get(&field),
            };
            let value = value
                .and_then(Value::as_f64)
                .ok_or_else(|| error(&at, format!("has no number for `{field}`, the alarm's statistic")))?;
            Ok((time, value, at))
        })
        .collect()
}

/// Sort JSON points by time (AWS returns them newest first or unordered); one point a timestamp.
fn in_time_order(mut points: Vec<(Timestamp, f64, String)>) -> Result<MetricData, DataError> {
    if points.is_empty() {
        return Err(error("(data)", "holds no data points"));
    }
    points.sort_by_key(|(time, _, _)| *time);
    for pair in points.windows(2) {
        if pair[0].0 == pair[1].0 {
            return Err(error(
                &pair[1].2,
                format!(
                    "a second data point for {} (points must be one per period)",
                    timestamp::format(pair[1].0)
                ),
            ));
        }
    }
    Ok(MetricData::Datapoints(points.into_iter().map(|(time, value, _)| (time, value)).collect()))
}
