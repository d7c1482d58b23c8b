//! Reading alarms and metric history, and backtesting: valid inputs read right, and every bad one
//! is rejected naming its field or line.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::time::Duration;

use coldstandby_alarm::backtest::{self, BacktestOptions};
use coldstandby_alarm::data::{self, MetricData};
use coldstandby_alarm::definition::from_describe_alarms;
use coldstandby_alarm::{timestamp, AlarmState, Comparison, Statistic, TreatMissingData};
use serde_json::{json, Value};

fn cpu_alarm_json() -> Value {
    json!({
        "AlarmName": "web-primary-cpu-high",
        "AlarmArn": "arn:aws:cloudwatch:ap-northeast-1:123456789012:alarm:web-primary-cpu-high",
        "ActionsEnabled": true,
        "AlarmActions": ["arn:aws:lambda:ap-northeast-1:123456789012:function:coldstandby"],
        "StateValue": "OK",
        "MetricName": "CPUUtilization",
        "Namespace": "AWS/EC2",
        "Statistic": "Average",
        "Dimensions": [{"Name": "InstanceId", "Value": "i-0a1b2c3d4e5f60718"}],
        "Period": 60,
        "EvaluationPeriods": 1,
        "DatapointsToAlarm": 1,
        "Threshold": 50.0,
        "ComparisonOperator": "GreaterThanThreshold",
        "TreatMissingData": "missing"
    })
}

#[test]
fn a_describe_alarms_element_or_whole_output_is_read() {
    let alarm = from_describe_alarms(&cpu_alarm_json(), None).unwrap();
    assert_eq!(alarm.name, "web-primary-cpu-high");
    assert_eq!(alarm.statistic, Statistic::Average);
    assert_eq!(alarm.comparison, Comparison::GreaterThanThreshold);
    assert_eq!(alarm.dimensions["InstanceId"], "i-0a1b2c3d4e5f60718");
    assert_eq!((alarm.evaluation_periods, alarm.datapoints_to_alarm, alarm.evaluation_range), (1, 1, 3));

    let whole = json!({"MetricAlarms": [cpu_alarm_json()], "CompositeAlarms": []});
    assert_eq!(from_describe_alarms(&whole, Some(7)).unwrap().evaluation_range, 7);

    let mut minimal = cpu_alarm_json();
    let object = minimal.as_object_mut().unwrap();
    object.remove("DatapointsToAlarm");
    object.remove("TreatMissingData");
    object.remove("Statistic");
    object.insert("ExtendedStatistic".to_owned(), json!("p99.9"));
    object.insert("EvaluationPeriods".to_owned(), json!(5));
    let alarm = from_describe_alarms(&minimal, None).unwrap();
    assert_eq!(alarm.datapoints_to_alarm, 5, "DatapointsToAlarm defaults to N");
    assert_eq!(alarm.treat_missing_data, TreatMissingData::Missing);
    assert_eq!(alarm.statistic, Statistic::Percentile(99.9));
}

#[test]
fn every_bad_field_is_named_at_once() {
    let mut bad = cpu_alarm_json();
    let object = bad.as_object_mut().unwrap();
    object.insert("Statistic".to_owned(), json!("Median"));
    object.insert("ComparisonOperator".to_owned(), json!("GreaterThanUpperThreshold"));
    object.insert("TreatMissingData".to_owned(), json!("sometimes"));
    object.insert("Period".to_owned(), json!(45));
    object.insert("Threshold".to_owned(), json!("fifty"));
    object.remove("MetricName");
    let error = from_describe_alarms(&bad, None).unwrap_err();
    let fields: Vec<&str> = error.problems.iter().map(|(field, _)| field.as_str()).collect();
    for field in ["Statistic", "ComparisonOperator", "TreatMissingData", "Threshold", "MetricName"] {
        assert!(fields.contains(&field), "{field} not named in {fields:?}");
    }
    let message = error.to_string();
    assert!(message.contains("`Median` is not a supported statistic"), "{message}");
    assert!(message.contains("anomaly detection band"), "{message}");

    let mut rules = cpu_alarm_json();
    let object = rules.as_object_mut().unwrap();
    object.insert("Period".to_owned(), json!(45));
    object.insert("DatapointsToAlarm".to_owned(), json!(3));
    let error = from_describe_alarms(&rules, None).unwrap_err().to_string();
    assert!(error.contains("Period: 45 s is not 10, 20, 30 or a multiple of 60"), "{error}");
    assert!(error.contains("DatapointsToAlarm: 3 must be from 1 to EvaluationPeriods (1)"), "{error}");

    let two = json!({"MetricAlarms": [cpu_alarm_json(), cpu_alarm_json()]});
    assert!(from_describe_alarms(&two, None).unwrap_err().to_string().contains("holds 2 alarms"));
}

#[test]
fn csv_samples_are_read_in_both_timestamp_forms() {
    let text = "timestamp,value\n2026-11-20T03:13:00Z,10\n2026-11-20T03:13:30.000+0000, 20.5\n\n2026-11-20T03:13:30Z,30\n";
    let data = data::parse(text, Statistic::Average).unwrap();
    let MetricData::Samples(samples) = data else { panic!("CSV gives raw samples") };
    assert_eq!(samples.len(), 3);
    assert_eq!(samples[1].1, 20.5);
    assert_eq!(samples[1].0, timestamp::parse("2026-11-20T03:13:30Z").unwrap());
}

#[test]
fn bad_data_files_name_the_line_or_field() {
    let cases = [
        ("", "file", "is empty"),
        ("timestamp,value\n", "file", "no samples"),
        ("time,val\n2026-11-20T03:13:00Z,1\n", "line 1", "expected the header"),
        ("timestamp,value\n2026-11-20T03:13:00Z,1\n2026-11-20T03:14:00Z\n", "line 3", "expected 2 fields"),
        ("timestamp,value\n2026-11-20T03:13:00Z,abc\n", "line 2", "`abc` is not a finite number"),
        ("timestamp,value\nyesterday,1\n", "line 2", "`yesterday` is not an RFC 3339 timestamp"),
        (
            "timestamp,value\n2026-11-20T03:14:00Z,1\n2026-11-20T03:13:00Z,2\n",
            "line 3",
            "earlier than the row before it",
        ),
        ("{\"Nothing\": 1}", "(top level)", "expected `MetricDataResults`"),
        (
            r#"{"MetricDataResults":[{"Id":"m1","Timestamps":["2026-11-20T03:13:00Z"],"Values":[]}]}"#,
            "MetricDataResults[0]",
            "1 Timestamps but 0 Values",
        ),
        (
            r#"{"Datapoints":[{"Timestamp":"2026-11-20T03:13:00Z","Maximum":3}]}"#,
            "Datapoints[0]",
            "no number for `Average`",
        ),
        ("{ not json", "line 1", "not valid JSON"),
    ];
    for (text, location, message) in cases {
        let error = data::parse(text, Statistic::Average).unwrap_err();
        assert_eq!(error.location, location, "{text:?}: {error}");
        assert!(error.message.contains(message), "{text:?}: {error}");
    }
}

#[test]
fn cloudwatch_json_outputs_are_read_and_put_in_time_order() {
    let metric_data = r#"{"MetricDataResults":[{"Id":"m1","Label":"CPUUtilization","StatusCode":"Complete",
        "Timestamps":["2026-11-20T03:14:00+00:00","2026-11-20T03:13:00+00:00"],"Values":[80.0,10.0]}],"Messages":[]}"#;
    let MetricData::Datapoints(points) = data::parse(metric_data, Statistic::Average).unwrap() else {
        panic!()
    };
    assert_eq!(points.iter().map(|(_, v)| *v).collect::<Vec<_>>(), [10.0, 80.0]);

    let statistics = r#"{"Label":"CPUUtilization","Datapoints":[
        {"Timestamp":"2026-11-20T03:13:00Z","Average":10.0,"Maximum":12.0,"Unit":"Percent"},
        {"Timestamp":"2026-11-20T03:12:00Z","ExtendedStatistics":{"p99":99.5},"Average":5.0,"Unit":"Percent"}]}"#;
    let MetricData::Datapoints(points) = data::parse(statistics, Statistic::Average).unwrap() else {
        panic!()
    };
    assert_eq!(points.iter().map(|(_, v)| *v).collect::<Vec<_>>(), [5.0, 10.0], "oldest first");
    let maximum = data::parse(statistics, Statistic::Maximum).unwrap_err();
    assert_eq!(maximum.location, "Datapoints[1]", "the second point has no Maximum: {maximum}");
    let p99 = data::parse(statistics, Statistic::Percentile(99.0)).unwrap_err();
    assert_eq!(p99.location, "Datapoints[0]", "the first point has no p99: {p99}");
}

/// A day of one-minute samples: 10% load, with a 2-minute spike at 06:00 and a 20-minute
/// incident at 12:00, and no data at all from 18:00 to 18:30.
fn a_day() -> String {
    let start = timestamp::parse("2026-11-01T00:00:00Z").unwrap();
    let mut text = String::from("timestamp,value\n");
    for minute in 0..1440u64 {
        let value = match minute {
            360..362 => 95.0,
            720..740 => 90.0,
            1080..1110 => continue,
            _ => 10.0,
        };
        let at = start + Duration::from_secs(minute * 60 + 30);
        text.push_str(&format!("{},{value}\n", timestamp::format(at)));
    }
    text
}

#[test]
fn a_backtest_reports_each_change_the_time_in_each_state_and_alarm_delays() {
    let data = data::parse(&a_day(), Statistic::Average).unwrap();
    let one_of_one = from_describe_alarms(&cpu_alarm_json(), None).unwrap();
    let report = backtest::run(&one_of_one, &data, BacktestOptions::default()).unwrap();

    let changes: Vec<(String, AlarmState)> =
        report.transitions.iter().map(|c| (timestamp::format(c.time), c.to)).collect();
    let expected = [
        ("2026-11-01T00:01:00Z", AlarmState::Ok),
        ("2026-11-01T06:01:00Z", AlarmState::Alarm),
        ("2026-11-01T06:03:00Z", AlarmState::Ok),
        ("2026-11-01T12:01:00Z", AlarmState::Alarm),
        ("2026-11-01T12:21:00Z", AlarmState::Ok),
        // Range N + 2 = 3: the last real point is used for two more minutes, then nothing.
        ("2026-11-01T18:03:00Z", AlarmState::InsufficientData),
        ("2026-11-01T18:31:00Z", AlarmState::Ok),
    ];
    let expected: Vec<(String, AlarmState)> = expected.iter().map(|(t, s)| ((*t).to_owned(), *s)).collect();
    assert_eq!(changes, expected);
    assert_eq!(report.summary.alarm_transitions, 2);
    assert_eq!(report.final_state, AlarmState::Ok);
    assert_eq!(report.summary.evaluations, 1440, "00:01 to 24:00, once a minute");
    let delays: Vec<Option<u64>> = report.summary.alarm_delays.iter().map(|d| d.delay_ms).collect();
    assert_eq!(delays, [Some(30_000), Some(30_000)], "the sample at :30 alarms at the next minute");
    let in_alarm = report.summary.time_in_state_ms[&AlarmState::Alarm];
    assert_eq!(in_alarm, (2 + 20) * 60_000);
    let total: u64 = report.summary.time_in_state_ms.values().sum();
    assert_eq!(total, report.until.saturating_since(report.from).as_millis() as u64);

    // 3 out of 3 ignores the spike and catches the incident two minutes later.
    let mut three = one_of_one.clone();
    three.evaluation_periods = 3;
    three.datapoints_to_alarm = 3;
    three.evaluation_range = 5;
    let report = backtest::run(&three, &data, BacktestOptions::default()).unwrap();
    assert_eq!(report.summary.alarm_transitions, 1);
    assert_eq!(report.summary.alarm_delays[0].delay_ms, Some(150_000));
    assert!(report.transitions.iter().any(|c| c.reason.contains("3 of 3 data points > 50")));

    // A window inside the day, and an inverted one.
    let from = timestamp::parse("2026-11-01T11:00:00Z").ok();
    let until = timestamp::parse("2026-11-01T13:00:00Z").ok();
    let options = BacktestOptions { initial: AlarmState::Ok, from, until };
    let report = backtest::run(&one_of_one, &data, options).unwrap();
    assert_eq!(report.summary.evaluations, 121);
    assert_eq!(report.transitions.len(), 2);
    let inverted = BacktestOptions { initial: AlarmState::Ok, from: until, until: from };
    assert!(backtest::run(&one_of_one, &data, inverted)
        .unwrap_err()
        .to_string()
        .contains("is after --until"));
}

#[test]
fn a_dead_instance_goes_insufficient_data_under_missing_and_alarms_under_breaching() {
    let text = "timestamp,value\n2026-11-01T00:00:10Z,10\n2026-11-01T00:01:10Z,10\n";
    let data = data::parse(text, Statistic::Average).unwrap();
    let until = timestamp::parse("2026-11-01T00:10:00Z").ok();
    let options = BacktestOptions { until, ..BacktestOptions::default() };
    for (mode, last) in [
        (TreatMissingData::Missing, AlarmState::InsufficientData),
        (TreatMissingData::Breaching, AlarmState::Alarm),
    ] {
        let mut alarm = from_describe_alarms(&cpu_alarm_json(), None).unwrap();
        alarm.treat_missing_data = mode;
        let report = backtest::run(&alarm, &data, options).unwrap();
        assert_eq!(report.final_state, last, "{mode}");
    }
}

#[test]
fn csv_as_spreadsheets_and_the_console_save_it_is_read() {
    // A byte-order mark, quoted fields (one with a comma inside a quoted header), CRLF line ends.
    let text =
        "\u{feff}\"timestamp\",\"value\"\r\n\"2026-11-20T03:13:00Z\",\"10\"\r\n2026-11-20T03:14:00Z,20.5\r\n";
    let MetricData::Samples(samples) = data::parse(text, Statistic::Average).unwrap() else {
        panic!("CSV gives raw samples")
    };
    assert_eq!(samples.len(), 2);
    assert_eq!(samples[0].1, 10.0);
    assert_eq!(samples[1].1, 20.5);

    // A header that differs invisibly is shown escaped.
    let error =
        data::parse("timestamp,value\u{200b}\n2026-11-20T03:13:00Z,1\n", Statistic::Average).unwrap_err();
    assert!(error.message.contains("value\\u{200b}"), "{error}");
    let error = data::parse("timestamp,value\n\"2026-11-20T03:13:00Z,1\n", Statistic::Average).unwrap_err();
    assert_eq!(error.location, "line 2", "{error}");
}
