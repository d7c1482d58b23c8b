//! `coldstandby demo`: the article's scenario on the simulated region, printed as a timeline that
//! interleaves what the instances did with what coldstandby observed and did, and an RTO breakdown.

use std::collections::BTreeMap;
use std::time::Duration;

use coldstandby_engine::driver::Quiet;
use coldstandby_engine::{Event, Ordering, Outcome, Timestamp};
use coldstandby_sim::scenario::{
    run_article, AlarmChange, ArticleRun, ObservedTransition, RtoBreakdown, ALARM, PRIMARY, REGION, STANDBY,
    THRESHOLD,
};
use serde::Serialize;

use crate::output::{self, millis_as_seconds};
use crate::{DemoArgs, Exit, OutputFormat};

pub fn run(args: &DemoArgs) -> anyhow::Result<Exit> {
    let ordering = Ordering::from(args.order);
    let run = run_article(args.seed, ordering, &mut Quiet);
    match args.output {
        OutputFormat::Json => output::print_json(&DemoJson::new(&run))?,
        OutputFormat::Text => output::print_lines(&render(&run))?,
    }
    Ok(if run.report.outcome.is_success() { Exit::Success } else { Exit::Failed })
}

#[derive(Serialize)]
struct Scenario {
    region: &'static str,
    primary: &'static str,
    primary_zone: String,
    standby: &'static str,
    standby_zone: String,
    alarm: &'static str,
    alarm_rule: String,
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
    /// When the CPU load started (Unix milliseconds, like every `at` here).
    failure_at: Timestamp,
    alarm: &'a [AlarmChange],
    events: &'a [Event],
    /// Every instance state change: when the simulated instance made it, and when coldstandby
    /// observed it.
    transitions: Vec<TransitionJson<'a>>,
    rto: Option<RtoBreakdown>,
    outcome: &'a Outcome,
    calls: &'a BTreeMap<&'static str, u32>,
}

impl<'a> DemoJson<'a> {
    fn new(run: &'a ArticleRun) -> Self {
        Self {
            scenario: scenario(),
            seed: run.seed,
            ordering: run.group.ordering,
            failure_at: run.failure_at,
            alarm: &run.alarm_changes,
            events: &run.report.events,
            transitions: run
                .transitions
                .iter()
                .map(|transition| TransitionJson {
                    transition,
                    lag_ms: transition.lag().map(|lag| u64::try_from(lag.as_millis()).unwrap_or(u64::MAX)),
                })
                .collect(),
            rto: run.rto,
            outcome: &run.report.outcome,
            calls: &run.report.calls,
        }
    }
}

fn scenario() -> Scenario {
    Scenario {
        region: REGION,
        primary: PRIMARY,
        primary_zone: format!("{REGION}a"),
        standby: STANDBY,
        standby_zone: format!("{REGION}c"),
        alarm: ALARM,
        alarm_rule: format!("CPUUtilization Average > {THRESHOLD} for 1 of 1 periods of 60 s"),
    }
}

fn render(run: &ArticleRun) -> Vec<String> {
    let scenario = scenario();
    let mut lines = vec![
        format!("coldstandby demo: the article's cold-standby failover on a simulated {REGION}"),
        format!("(virtual time, no AWS account; seed {}, ordering {})", run.seed, run.group.ordering),
        String::new(),
        format!("  EC2-1  {PRIMARY}  primary, running in {}", scenario.primary_zone),
        format!("  EC2-2  {STANDBY}  standby, stopped in {}", scenario.standby_zone),
        format!("  alarm  {ALARM}: {}", scenario.alarm_rule),
        String::new(),
        output::header(),
    ];

    // Rows sort by time, then by source: the load, the alarm, coldstandby, then the instances
    // (at one instant, coldstandby's call comes before the change it causes).
    let mut rows: Vec<(Timestamp, u8, String)> = Vec::new();
    let at = |time: Timestamp| output::offset(time, run.failure_at);
    rows.push((
        run.failure_at,
        0,
        output::row(
            &at(run.failure_at),
            "load",
            PRIMARY,
            "CPU load starts (the article's `yes > /dev/null`)",
        ),
    ));
    for change in &run.alarm_changes {
        let evidence = change.datapoint.map_or(String::new(), |point| {
            format!(": the minute's average was {:.1}% (> {THRESHOLD}%)", point.value)
        });
        let detail = format!("{} -> {}{evidence}", change.from, change.to);
        rows.push((change.at, 1, output::row(&at(change.at), "alarm", ALARM, &detail)));
    }
    for transition in &run.transitions {
        let detail = format!("{} -> {}  (the instance itself)", transition.from, transition.to);
        rows.push((
            transition.changed_at,
            3,
            output::row(&at(transition.changed_at), "ec2", transition.instance.as_str(), &detail),
        ));
    }
    for event in &run.report.events {
        let (step, subject, detail) = output::describe(&event.kind);
        rows.push((event.at, 2, output::row(&at(event.at), step, &subject, &detail)));
    }
    rows.sort_by_key(|(time, source, _)| (*time, *source));
    lines.extend(rows.into_iter().map(|(_, _, row)| row));

    lines.push(String::new());
    match run.rto {
        Some(rto) => lines.extend(render_rto(&rto, &run.transitions)),
        None => lines.push(format!("The failover did not complete: {}", run.report.outcome)),
    }
    lines
}

fn render_rto(rto: &RtoBreakdown, transitions: &[ObservedTransition]) -> Vec<String> {
    let row = |name: &str, millis: u64, what: &str| {
        format!("  {name:<10} {:>10}   {what}", millis_as_seconds(millis))
    };
    let longest_lag = transitions.iter().filter_map(ObservedTransition::lag).max().unwrap_or(Duration::ZERO);
    vec![
        "RTO breakdown".to_owned(),
        row("detection", rto.detection_ms, "failure to alarm (the alarm's period and evaluation)"),
        row("fence", rto.fence_ms, "alarm to the primary confirmed stopped"),
        row("promote", rto.promote_ms, "to the standby observed running"),
        row("verify", rto.verify_ms, "readiness check (instance state; probes come later)"),
        row("record", rto.record_ms, "active member written to the instances' tags"),
        row("total", rto.total_ms, "failure to standby recorded active"),
        String::new(),
        format!(
            "The instances took {} to stop and boot; coldstandby added {} of its own.",
            millis_as_seconds(rto.instance_ms),
            millis_as_seconds(rto.overhead_ms)
        ),
        format!("Every instance change was observed within {} (longest lag).", output::seconds(longest_lag)),
    ]
}
