//! The backtest data parser never panics, and whatever it accepts can be backtested.
#![no_main]

use std::collections::BTreeMap;

use coldstandby_alarm::backtest::{self, BacktestOptions};
use coldstandby_alarm::{AlarmDefinition, Comparison, Statistic, TreatMissingData};
use libfuzzer_sys::fuzz_target;

fn alarm() -> AlarmDefinition {
    AlarmDefinition {
        name: "fuzz".to_owned(),
        namespace: "AWS/EC2".to_owned(),
        metric_name: "CPUUtilization".to_owned(),
        dimensions: BTreeMap::new(),
        statistic: Statistic::Percentile(90.0),
        period_seconds: 60,
        evaluation_periods: 3,
        datapoints_to_alarm: 2,
        threshold: 50.0,
        comparison: Comparison::GreaterThanThreshold,
        treat_missing_data: TreatMissingData::Missing,
        evaluation_range: 5,
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let alarm = alarm();
    if let Ok(parsed) = coldstandby_alarm::data::parse(text, alarm.statistic) {
        // Bound the replay: a fuzzed span of years would only measure patience.
        let points = parsed.points();
        let first = points[0].0;
        let until = Some(first + std::time::Duration::from_secs(6 * 3600));
        let options = BacktestOptions { until, ..BacktestOptions::default() };
        if let Ok(report) = backtest::run(&alarm, &parsed, options) {
            let total: u64 = report.summary.time_in_state_ms.values().sum();
            assert_eq!(total, report.until.saturating_since(report.from).as_millis() as u64);
        }
    }
});
