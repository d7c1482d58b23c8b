//! `coldstandby backtest`: replay metric history through an alarm and show every state change,
//! the time spent in each state, and how late each ALARM came.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use coldstandby_alarm::backtest::{self, BacktestOptions, BacktestReport};
use coldstandby_alarm::definition::from_describe_alarms;
use coldstandby_alarm::evaluator::StateChange;
use coldstandby_alarm::{data, timestamp, AlarmDefinition, AlarmState};
use coldstandby_engine::text::{counted, counted_len};
use coldstandby_engine::Timestamp;
use serde::Serialize;

use crate::output;
use crate::{BacktestArgs, CommandError, Exit, OutputFormat};

/// A command-line timestamp (RFC 3339, or CloudWatch's `+0000` form).
pub fn parse_time(text: &str) -> Result<Timestamp, coldstandby_alarm::TimestampError> {
    timestamp::parse(text)
}

/// A command-line alarm state.
pub fn parse_state(text: &str) -> Result<AlarmState, coldstandby_alarm::ValueError> {
    AlarmState::parse(text)
}

/// The alarm from `--alarm ALARM.json`, or from `--config FILE --group NAME`.
fn load_alarm(args: &BacktestArgs) -> anyhow::Result<AlarmDefinition> {
    if let (Some(config_path), Some(group_name)) = (&args.config, &args.group) {
        let config = coldstandby_config::load(config_path)?;
        let group = crate::configured_group(&config, config_path, group_name)?;
        let alarm = group.alarm.clone().ok_or_else(|| {
            CommandError::usage(format!(
                "group `{group_name}` in {} has no [group.alarm] table",
                config_path.display()
            ))
        })?;
        return with_evaluation_range(alarm, args.evaluation_range);
    }
    let path = args.alarm.as_ref().expect("clap requires --alarm without --config");
    let text = crate::input::read_text(path, "the alarm", false)?;
    let json: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| invalid_input(path, format!("not valid JSON: {e}")))?;
    let alarm = from_describe_alarms(&json, None)
        .map_err(|e| invalid_input(path, format!("not a usable metric alarm: {e}")))?;
    with_evaluation_range(alarm, args.evaluation_range)
}

/// `--evaluation-range`, checked against the alarm it applies to: a bad value is the flag's
/// fault (exit 2), not the alarm file's.
fn with_evaluation_range(mut alarm: AlarmDefinition, range: Option<u32>) -> anyhow::Result<AlarmDefinition> {
    if let Some(range) = range {
        alarm.evaluation_range = range;
        if let Some((_, message)) = alarm.problems().into_iter().next() {
            return Err(CommandError::usage(format!("--evaluation-range {range}: {message}")));
        }
    }
    Ok(alarm)
}

/// A line on a terminal saying how far a long backtest has got (nothing otherwise).
struct BacktestProgress {
    on_terminal: bool,
    shown: bool,
}

impl BacktestProgress {
    /// Below this many evaluations (about 70 days of a one-minute alarm) it is over too soon to
    /// be worth a line.
    const WORTH_SHOWING: u64 = 100_000;

    fn new(text: bool) -> Self {
        use std::io::IsTerminal;
        Self { on_terminal: text && std::io::stderr().is_terminal(), shown: false }
    }

    fn show(&mut self, at: backtest::Progress) {
        if self.on_terminal && at.total >= Self::WORTH_SHOWING {
            let percent = at.done.saturating_mul(100) / at.total.max(1);
            let _ = write!(std::io::stderr(), "\r  evaluated {} of {} ({percent} %)", at.done, at.total);
            self.shown = true;
        }
    }

    fn clear(&self) {
        if self.shown {
            let _ = write!(std::io::stderr(), "\r\x1b[2K");
        }
    }
}

fn invalid_input(file: &Path, message: impl std::fmt::Display) -> anyhow::Error {
    CommandError { exit: Exit::InvalidInput, message: format!("{}: {message}", file.display()) }.into()
}

pub fn run(args: &BacktestArgs) -> anyhow::Result<Exit> {
    let alarm = load_alarm(args)?;
    let data_text = crate::input::read_text(&args.data, "metric data", false)?;
    let metric_data = data::parse(&data_text, alarm.statistic).map_err(|e| invalid_input(&args.data, e))?;

    let options = BacktestOptions { initial: args.initial_state, from: args.from, until: args.until };
    let mut progress = BacktestProgress::new(args.output == OutputFormat::Text);
    let report = backtest::run_with_progress(&alarm, &metric_data, options, &mut |at| progress.show(at))
        .map_err(|error| CommandError::usage(error.to_string()));
    progress.clear();
    let report = report?;
    match args.output {
        OutputFormat::Json => output::print_json(&JsonReport::new(&report))?,
        OutputFormat::Text => output::print_lines(&render(&report, metric_data.points().len()))?,
    }
    Ok(Exit::Success)
}

// The JSON follows the rule of every JSON output (docs/commands.md): times are Unix
// milliseconds in fields named `at` or `*_at`, durations milliseconds in `*_ms` fields.

#[derive(Serialize)]
struct JsonPoint {
    period_start_at: Timestamp,
    value: Option<f64>,
    counted_as: &'static str,
}

#[derive(Serialize)]
struct JsonTransition {
    at: Timestamp,
    from: AlarmState,
    to: AlarmState,
    reason: String,
    datapoints: Vec<JsonPoint>,
}

#[derive(Serialize)]
struct JsonDelay {
    alarm_at: Timestamp,
    first_breaching_sample_at: Option<Timestamp>,
    delay_ms: Option<u64>,
}

#[derive(Serialize)]
struct JsonSummary {
    evaluations: u64,
    alarm_transitions: usize,
    time_in_state_ms: std::collections::BTreeMap<AlarmState, u64>,
    alarms: Vec<JsonDelay>,
    /// Stretches of more than a day without data.
    gaps: Vec<JsonGap>,
}

#[derive(Serialize)]
struct JsonGap {
    after_at: Timestamp,
    before_at: Timestamp,
    duration_ms: u64,
}

/// The backtest as one JSON document.
#[derive(Serialize)]
struct JsonReport {
    alarm: String,
    rule: String,
    from_at: Timestamp,
    until_at: Timestamp,
    initial_state: AlarmState,
    transitions: Vec<JsonTransition>,
    final_state: AlarmState,
    summary: JsonSummary,
}

impl JsonReport {
    fn new(report: &BacktestReport) -> Self {
        Self {
            alarm: report.alarm.clone(),
            rule: report.rule.clone(),
            from_at: report.from,
            until_at: report.until,
            initial_state: report.initial_state,
            transitions: report.transitions.iter().map(json_transition).collect(),
            final_state: report.final_state,
            summary: JsonSummary {
                evaluations: report.summary.evaluations,
                alarm_transitions: report.summary.alarm_transitions,
                time_in_state_ms: report.summary.time_in_state_ms.clone(),
                alarms: report
                    .summary
                    .alarm_delays
                    .iter()
                    .map(|delay| JsonDelay {
                        alarm_at: delay.alarm_at,
                        first_breaching_sample_at: delay.first_breaching_sample,
                        delay_ms: delay.delay_ms,
                    })
                    .collect(),
                gaps: report
                    .summary
                    .gaps
                    .iter()
                    .map(|gap| JsonGap {
                        after_at: gap.after,
                        before_at: gap.before,
                        duration_ms: u64::try_from(gap.before.saturating_since(gap.after).as_millis())
                            .unwrap_or(u64::MAX),
                    })
                    .collect(),
            },
        }
    }
}

fn json_transition(change: &StateChange) -> JsonTransition {
    JsonTransition {
        at: change.time,
        from: change.from,
        to: change.to,
        reason: change.reason.clone(),
        datapoints: change
            .datapoints
            .iter()
            .map(|p| JsonPoint { period_start_at: p.period_start, value: p.value, counted_as: p.counted_as })
            .collect(),
    }
}

/// `1d 02h 03m 04s`, leaving out leading zero units.
fn span(duration: Duration) -> String {
    let total = duration.as_secs();
    let (days, hours, minutes, seconds) = (total / 86_400, total / 3600 % 24, total / 60 % 60, total % 60);
    match (days, hours, minutes) {
        (0, 0, 0) => format!("{seconds}s"),
        (0, 0, _) => format!("{minutes}m {seconds:02}s"),
        (0, _, _) => format!("{hours}h {minutes:02}m {seconds:02}s"),
        _ => format!("{days}d {hours:02}h {minutes:02}m {seconds:02}s"),
    }
}

fn render(report: &BacktestReport, samples: usize) -> Vec<String> {
    let mut lines = vec![
        format!("Backtest of {}: {}", report.alarm, report.rule),
        format!(
            "{}; evaluated {} from {} to {}, starting in {}",
            counted_len(samples, "sample", "samples"),
            counted(report.summary.evaluations, "time", "times"),
            timestamp::format(report.from),
            timestamp::format(report.until),
            report.initial_state
        ),
        String::new(),
    ];
    if report.transitions.is_empty() {
        lines.push(format!("No state change: the alarm stayed {}.", report.initial_state));
    } else {
        lines.push(format!("{:<24} {:<17} {:<17} {}", "time", "from", "to", "why"));
        for change in &report.transitions {
            lines.push(format!(
                "{:<24} {:<17} {:<17} {}",
                timestamp::format(change.time),
                change.from.as_str(),
                change.to.as_str(),
                change.reason
            ));
        }
    }
    lines.push(String::new());
    lines.push("Summary".to_owned());
    lines.push(format!("  ALARM transitions: {}", report.summary.alarm_transitions));
    let in_state: Vec<String> = report
        .summary
        .time_in_state_ms
        .iter()
        .map(|(state, ms)| format!("{state} {}", span(Duration::from_millis(*ms))))
        .collect();
    lines.push(format!("  time in each state: {}", in_state.join(", ")));
    for delay in &report.summary.alarm_delays {
        let when = timestamp::format(delay.alarm_at);
        lines.push(match (delay.first_breaching_sample, delay.delay_ms) {
            (Some(first), Some(ms)) => format!(
                "  ALARM at {when}: {} after the first breaching sample ({})",
                span(Duration::from_millis(ms)),
                timestamp::format(first)
            ),
            _ => format!("  ALARM at {when}: no breaching sample (missing data counted as breaching)"),
        });
    }
    for gap in &report.summary.gaps {
        lines.push(format!(
            "  no data for {}: from {} to {} (a wrong date in the data?)",
            span(gap.before.saturating_since(gap.after)),
            timestamp::format(gap.after),
            timestamp::format(gap.before)
        ));
    }
    lines.push(format!("  final state: {}", report.final_state));
    lines
}
