//! `coldstandby demo`: the article's scenario on the simulated region, printed as a timeline that
//! interleaves what the instances did with what coldstandby observed and did, and an RTO breakdown.

use std::collections::BTreeMap;
use std::time::Duration;

use coldstandby_alarm::{StateChange, TreatMissingData};
use coldstandby_engine::driver::Quiet;
use coldstandby_engine::{millis, Event, Ordering, Outcome, Timestamp};
use coldstandby_sim::article::{
    run_article, ArticleRun, ArticleSetup, Detector, FailureKind, ObservedTransition, Redirect, RtoBreakdown,
    WatchLine, ALARM, PRIMARY, REGION, STANDBY, WATCHERS,
};
use serde::Serialize;

use crate::output::{self, millis_as_seconds};
use crate::{DemoArgs, DetectorArg, Exit, FailureArg, OutputFormat, RedirectArg};

/// A command-line `TreatMissingData` value, spelled as CloudWatch spells it.
pub fn parse_treat_missing_data(text: &str) -> Result<TreatMissingData, coldstandby_alarm::ValueError> {
    TreatMissingData::parse(text)
}

pub fn run(args: &DemoArgs) -> anyhow::Result<Exit> {
    let failure = match args.failure {
        FailureArg::CpuLoad => FailureKind::CpuLoad,
        FailureArg::Dies => FailureKind::Dies,
    };
    let setup = ArticleSetup {
        seed: args.seed,
        ordering: Ordering::from(args.order),
        failure,
        treat_missing_data: args.treat_missing_data,
        redirect: args.redirect.map(|redirect| match redirect {
            RedirectArg::OverlayIp => Redirect::OverlayIp,
            RedirectArg::Dns => Redirect::Dns,
            RedirectArg::TargetGroup => Redirect::TargetGroup,
            RedirectArg::ElasticIp => Redirect::ElasticIp,
        }),
        detector: match args.detector {
            DetectorArg::Alarm => Detector::Alarm,
            DetectorArg::Watch => Detector::Watch,
        },
    };
    if let Some(path) = &args.report {
        crate::report::check_writable(path)?;
    }
    let run = run_article(setup, &mut Quiet);
    if let Some(path) = &args.report {
        crate::report::write(path, &document(&run))?;
    }
    match args.output {
        OutputFormat::Json => output::print_json(&DemoJson::new(&run))?,
        OutputFormat::Text => output::print_lines(&render(&run))?,
    }
    // No failover is a correct demonstration when the alarm never fires; a failed one is not.
    let failed = run.report.as_ref().is_some_and(|report| !report.outcome.is_success());
    Ok(if failed { Exit::Failed } else { Exit::Success })
}

#[derive(Serialize)]
struct Scenario {
    region: &'static str,
    primary: &'static str,
    primary_zone: String,
    standby: &'static str,
    standby_zone: String,
    detector: Detector,
    /// The alarm (with `alarm`), or None with the watchers.
    alarm: Option<&'static str>,
    alarm_rule: Option<String>,
    /// The watchers (with `watch`), each probing the active member's `http :80/` every second.
    watchers: Vec<&'static str>,
    failure: FailureKind,
    /// How clients follow (None: they are not moved).
    redirect: Option<String>,
}

#[derive(Serialize)]
struct TransitionJson<'a> {
    #[serde(flatten)]
    transition: &'a ObservedTransition,
    lag_ms: Option<u64>,
}

/// The demo as one JSON document.
#[derive(Serialize)]
struct DemoJson<'a> {
    scenario: Scenario,
    seed: u64,
    ordering: Ordering,
    /// When the primary failed (Unix milliseconds, like every time here).
    failure_at: Timestamp,
    /// Every state change of the alarm, with the data points that decided it.
    alarm: &'a [StateChange],
    /// The watchers' changes of view and verdicts.
    watch: &'a [WatchLine],
    /// The failover's events (empty when the alarm never fired).
    events: &'a [Event],
    /// Every instance state change: when the simulated instance made it, and when coldstandby
    /// observed it.
    transitions: Vec<TransitionJson<'a>>,
    rto: Option<RtoBreakdown>,
    /// None when the alarm never fired, so nothing failed over.
    outcome: Option<&'a Outcome>,
    calls: Option<&'a BTreeMap<&'static str, u32>>,
}

impl<'a> DemoJson<'a> {
    fn new(run: &'a ArticleRun) -> Self {
        Self {
            scenario: scenario(run),
            seed: run.setup.seed,
            ordering: run.group.ordering,
            failure_at: run.failure_at,
            alarm: &run.alarm_changes,
            watch: &run.watch_log,
            events: run.report.as_ref().map_or(&[], |report| &report.events),
            transitions: run
                .transitions
                .iter()
                .map(|transition| TransitionJson { transition, lag_ms: transition.lag().map(millis) })
                .collect(),
            rto: run.rto,
            outcome: run.report.as_ref().map(|report| &report.outcome),
            calls: run.report.as_ref().map(|report| &report.calls),
        }
    }
}

fn scenario(run: &ArticleRun) -> Scenario {
    Scenario {
        region: REGION,
        primary: PRIMARY,
        primary_zone: format!("{REGION}a"),
        standby: STANDBY,
        standby_zone: format!("{REGION}c"),
        detector: run.setup.detector,
        alarm: (run.setup.detector == Detector::Alarm).then_some(ALARM),
        alarm_rule: (run.setup.detector == Detector::Alarm).then(|| run.alarm.summary()),
        watchers: if run.setup.detector == Detector::Watch { WATCHERS.to_vec() } else { Vec::new() },
        failure: run.setup.failure,
        redirect: run.group.movers.first().map(ToString::to_string),
    }
}

fn render(run: &ArticleRun) -> Vec<String> {
    let scenario = scenario(run);
    let mut lines = vec![
        format!("coldstandby demo: the article's cold-standby failover on a simulated {REGION}"),
        format!("(virtual time, no AWS account; seed {}, ordering {})", run.setup.seed, run.group.ordering),
        String::new(),
        format!("  EC2-1  {PRIMARY}  primary, running in {}", scenario.primary_zone),
        format!("  EC2-2  {STANDBY}  standby, stopped in {}", scenario.standby_zone),
    ];
    match run.setup.detector {
        Detector::Alarm => lines.push(format!("  alarm  {ALARM}: {}", run.alarm.summary())),
        Detector::Watch => lines.push(format!(
            "  watch  {}: http :80/ every 1 s, failed after 2 of 3 rounds, confirmed by the other watcher",
            WATCHERS.join(" and ")
        )),
    }
    if let Some(mover) = &scenario.redirect {
        lines.push(format!("  clients {mover}, after a tcp :80 readiness check"));
    }
    lines.extend([String::new(), output::header()]);

    // Rows sort by time, then by source: the load, the alarm, coldstandby, then the instances
    // (at one instant, coldstandby's call comes before the change it causes).
    let mut rows: Vec<(Timestamp, u8, String)> = Vec::new();
    let at = |time: Timestamp| output::offset(time, run.failure_at);
    let (step, what) = match run.setup.failure {
        FailureKind::CpuLoad => ("load", "CPU load starts (the article's `yes > /dev/null`)"),
        FailureKind::Dies => ("dies", "the primary dies: no more metrics; EC2 still says running"),
    };
    rows.push((run.failure_at, 0, output::row(&at(run.failure_at), step, PRIMARY, what)));
    for change in run.alarm_changes.iter().filter(|change| change.time >= run.failure_at) {
        let detail = format!("{} -> {}: {}", change.from, change.to, change.reason);
        rows.push((change.time, 1, output::row(&at(change.time), "alarm", ALARM, &detail)));
    }
    for line in run.watch_log.iter().filter(|line| line.at >= run.failure_at) {
        let detail = format!("{}: {}", line.watcher, line.what);
        rows.push((line.at, 1, output::row(&at(line.at), "watch", line.member.as_str(), &detail)));
    }
    for transition in &run.transitions {
        let detail = format!("{} -> {}  (the instance itself)", transition.from, transition.to);
        let row = output::row(&at(transition.changed_at), "ec2", transition.instance.as_str(), &detail);
        rows.push((transition.changed_at, 3, row));
    }
    for event in run.report.iter().flat_map(|report| &report.events) {
        let (step, subject, detail) = output::describe(&event.kind);
        rows.push((event.at, 2, output::row(&at(event.at), step, &subject, &detail)));
    }
    rows.sort_by_key(|(time, source, _)| (*time, *source));
    lines.extend(rows.into_iter().map(|(_, _, row)| row));

    lines.push(String::new());
    match (&run.report, run.rto) {
        (Some(_), Some(rto)) => {
            lines.extend(render_rto(&rto, &run.transitions, run.setup.redirect.is_some(), run.setup.detector))
        }
        (Some(report), None) => lines.push(format!("The failover did not complete: {}", report.outcome)),
        (None, _) => lines.extend(no_alarm(run)),
    }
    lines
}

/// Why nothing failed over.
fn no_alarm(run: &ArticleRun) -> Vec<String> {
    let state = run.alarm_changes.last().map_or("OK", |change| change.to.as_str());
    let mut lines = vec![format!(
        "No failover: the alarm never reached ALARM (it ended in {state}), with treat_missing_data = {}.",
        run.alarm.treat_missing_data
    )];
    if run.setup.failure == FailureKind::Dies {
        lines.push("A dead primary publishes no metrics, and under `missing` (the default) silence is not a failure.".to_owned());
        lines.push(
            "For \"silence means dead\", use `breaching` (try --treat-missing-data breaching),".to_owned(),
        );
        lines.push("or alarm on StatusCheckFailed as well.".to_owned());
    }
    lines
}

fn render_rto(
    rto: &RtoBreakdown,
    transitions: &[ObservedTransition],
    clients_move: bool,
    detector: Detector,
) -> Vec<String> {
    let row = |name: &str, millis: u64, what: &str| {
        format!("  {name:<10} {:>10}   {what}", millis_as_seconds(millis))
    };
    let longest_lag = transitions.iter().filter_map(ObservedTransition::lag).max().unwrap_or(Duration::ZERO);
    let (readiness, clients, total) = if clients_move {
        (
            "the standby's readiness check passed (3 in a row)",
            "clients sent to the standby, read back",
            "failure to clients served by the standby, recorded active",
        )
    } else {
        (
            "no readiness check configured",
            "no mover configured: clients are not moved (try --redirect)",
            "failure to standby recorded active",
        )
    };
    vec![
        "RTO breakdown".to_owned(),
        match detector {
            Detector::Alarm => {
                row("detection", rto.detection_ms, "failure to alarm (the alarm's period and evaluation)")
            }
            Detector::Watch => {
                row("detection", rto.detection_ms, "failure to both watchers agreeing (probes, 2 of 3)")
            }
        },
        row("fence", rto.fence_ms, "trigger to the primary confirmed stopped"),
        row("promote", rto.promote_ms, "to the standby observed running"),
        row("verify", rto.verify_ms, "its state verified, every other member seen stopped"),
        row("readiness", rto.readiness_ms, readiness),
        row("clients", rto.clients_ms, clients),
        row("record", rto.record_ms, "active member written to the instances' tags"),
        row("total", rto.total_ms, total),
        String::new(),
        if clients_move {
            format!(
                "The instances took {} to stop and boot (including any wait before forcing a stop), the service and the clients' mechanism {}; coldstandby added {} of its own.",
                millis_as_seconds(rto.instance_ms),
                millis_as_seconds(rto.readiness_ms + rto.clients_ms),
                millis_as_seconds(rto.overhead_ms)
            )
        } else {
            format!(
                "The instances took {} to stop and boot (including any wait before forcing a stop); coldstandby added {} of its own.",
                millis_as_seconds(rto.instance_ms),
                millis_as_seconds(rto.overhead_ms)
            )
        },
        format!("Every instance change was observed within {} (longest lag).", output::seconds(longest_lag)),
    ]
}

/// The demo as an HTML report: one run, its lanes from the simulated region.
fn document(run: &ArticleRun) -> coldstandby_report::Document {
    let scenario = scenario(run);
    let label = |member: &coldstandby_engine::InstanceId| {
        if member.as_str() == PRIMARY {
            format!("EC2-1, primary, {}", scenario.primary_zone)
        } else {
            format!("EC2-2, standby, {}", scenario.standby_zone)
        }
    };
    let detector = match run.setup.detector {
        Detector::Alarm => format!("the alarm {ALARM} ({})", run.alarm.summary()),
        Detector::Watch => format!("two watchers ({}) probing http :80/ every second", WATCHERS.join(", ")),
    };
    let failure = match run.setup.failure {
        FailureKind::CpuLoad => "CPU load starts on EC2-1",
        FailureKind::Dies => "EC2-1 dies (no more metrics, no answers)",
    };
    let mut summary = vec![format!("The article's scenario: {failure}; {detector} detects it.")];
    let runs = match &run.report {
        Some(report) => {
            let lanes = crate::report::Lanes::Region(&run.region);
            vec![crate::report::run("Failover", report, Some(run.failure_at), &run.group, &label, &lanes)]
        }
        None => {
            summary.extend(no_alarm(run));
            Vec::new()
        }
    };
    coldstandby_report::Document {
        title: "coldstandby demo: the article's failover".to_owned(),
        tool: crate::report::tool(),
        ran_at: Some(run.failure_at),
        target: format!("a simulated {REGION} (seed {}, ordering {})", run.setup.seed, run.group.ordering),
        simulated: true,
        summary,
        runs,
        configuration: None,
        distribution: None,
    }
}
