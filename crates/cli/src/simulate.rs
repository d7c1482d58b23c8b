//! `coldstandby simulate`: a seeded fault-injection sweep over the simulated region, with a
//! summary and the command that replays any seed that broke an invariant.

use std::io::{IsTerminal, Write};

use coldstandby_sim::sweep::{self, Fence, RunRecord, SeedResult, Summary, TriggerEnd};
use serde::Serialize;

/// The JSON result: the summary, and every trigger's end with the members' true states, so an
/// outside checker can judge the runs without trusting the engine.
#[derive(Debug, Serialize)]
struct JsonResult<'a> {
    #[serde(flatten)]
    summary: &'a Summary,
    runs: &'a [RunRecord],
}

use crate::output;
use crate::{Exit, OutputFormat, SimulateArgs};

mod outage;
mod race;
mod watchers;

pub fn run(args: &SimulateArgs) -> anyhow::Result<Exit> {
    if let Some(path) = &args.report {
        crate::report::check_writable(path)?;
    }
    if args.az_outage {
        return outage::run(args);
    }
    if args.race {
        return race::run(args);
    }
    if args.watchers {
        return watchers::run(args);
    }
    let text = args.output == OutputFormat::Text;
    let progress = text && std::io::stderr().is_terminal();
    let mut done = 0u64;
    let mut violations = 0usize;
    let mut timelines = Vec::new();
    let mut runs = Vec::new();
    let mut rto_ms = Vec::new();
    let summary = sweep::sweep(args.start_seed, args.seeds, Fence::Correct, |result| {
        done += 1;
        if args.events {
            timelines.extend(timeline(result));
        }
        violations += result.violations.len();
        rto_ms.extend(result.triggers.iter().filter_map(recovered_ms));
        if !text {
            runs.extend(result.runs.iter().cloned());
        }
        if progress && (done.is_multiple_of(100) || done == args.seeds) {
            // Progress is best effort: a failed write to stderr must not stop the sweep.
            let _ = write!(std::io::stderr(), "\r  {done}/{} seeds, {violations} violations", args.seeds);
        }
    });
    if progress {
        let _ = write!(std::io::stderr(), "\r\x1b[2K");
    }
    if let Some(path) = &args.report {
        let not_recovered = summary.triggers - summary.failovers_completed - summary.already_active;
        let title =
            format!("seeds {} to {}", args.start_seed, args.start_seed + args.seeds.saturating_sub(1));
        let lines = vec![
            format!(
                "{} random scenarios ({} triggers) on the simulated region, with faults injected; {} invariant violations.",
                summary.scenarios, summary.triggers, summary.violations.len()
            ),
            "Recovery time here is each failover's own: trigger to the standby recorded active.".to_owned(),
        ];
        crate::report::write(
            path,
            &crate::report::distribution(&title, lines, rto_ms, not_recovered as usize),
        )?;
    }
    if text {
        output::print_lines(&timelines)?;
        output::print_lines(&render(&summary))?;
    } else {
        output::print_json(&JsonResult { summary: &summary, runs: &runs })?;
    }
    Ok(if summary.violations.is_empty() { Exit::Success } else { Exit::Failed })
}

/// A trigger that failed over: how long it took.
fn recovered_ms(end: &TriggerEnd) -> Option<u64> {
    match end {
        TriggerEnd::Finished { report }
            if matches!(report.outcome, coldstandby_engine::Outcome::FailedOver { .. }) =>
        {
            Some(
                u64::try_from(report.finished_at.saturating_since(report.started_at).as_millis())
                    .unwrap_or(u64::MAX),
            )
        }
        _ => None,
    }
}

/// Every trigger of one seed, step by step (for replaying a seed).
fn timeline(result: &SeedResult) -> Vec<String> {
    let faults: Vec<&str> = result.faults.iter().map(|fault| fault.as_str()).collect();
    let faults = if faults.is_empty() { "none".to_owned() } else { faults.join(", ") };
    let mut lines = vec![format!("seed {}: faults: {faults}", result.seed)];
    for (number, end) in result.triggers.iter().enumerate() {
        match end {
            TriggerEnd::Finished { .. } | TriggerEnd::TimedOut { .. } => {
                let (events, cut) = match end {
                    TriggerEnd::Finished { report } => (&report.events, ""),
                    TriggerEnd::TimedOut { events } => (events, " (cut off at the invocation's timeout)"),
                    _ => unreachable!("matched above"),
                };
                lines.push(format!("  trigger {}:{cut}", number + 1));
                lines.push(format!("  {}", output::header()));
                for event in events {
                    let (step, subject, detail) = output::describe(&event.kind);
                    let at = output::offset(event.at, sweep::scenario::SCENARIO_START);
                    lines.push(format!("  {}", output::row(&at, step, &subject, &detail)));
                }
            }
            other => lines.push(format!("  trigger {}: {other:?}", number + 1)),
        }
    }
    for violation in &result.violations {
        let at = output::offset(violation.at, sweep::scenario::SCENARIO_START);
        lines.push(format!("  VIOLATION {at} {}: {}", violation.invariant, violation.detail));
    }
    lines.push(String::new());
    lines
}

fn render(summary: &Summary) -> Vec<String> {
    let last = summary.start_seed + summary.scenarios.saturating_sub(1);
    let mut lines = vec![
        match summary.scenarios {
            1 => format!("Sweep of 1 seed ({}) on the simulated region", summary.start_seed),
            seeds => format!("Sweep of {seeds} seeds ({} to {last}) on the simulated region", summary.start_seed),
        },
        format!(
            "  triggers {}: failovers completed {}, already active {}, busy (lock held) {}, controller crashes {}, invocations timed out {}",
            summary.triggers, summary.failovers_completed, summary.already_active, summary.busy, summary.crashes, summary.timed_out
        ),
    ];
    let faults: Vec<String> = summary.faults.iter().map(|(kind, n)| format!("{kind} {n}")).collect();
    lines.push(format!("  scenarios injecting each fault: {}", faults.join(", ")));
    if summary.failures.is_empty() {
        lines.push("  failures reported: none".to_owned());
    } else {
        let failures: Vec<String> =
            summary.failures.iter().map(|(reason, n)| format!("{reason} {n}")).collect();
        lines.push(format!("  failures reported (by reason): {}", failures.join(", ")));
    }
    let rto = summary.rto;
    lines.push(format!(
        "  RTO, trigger to standby recorded active ({} failovers): p50 {}, p99 {}, max {}",
        rto.count,
        output::millis_as_seconds(rto.p50_ms),
        output::millis_as_seconds(rto.p99_ms),
        output::millis_as_seconds(rto.max_ms)
    ));
    lines.push(format!("  invariant violations: {}", summary.violations.len()));
    for violation in &summary.violations {
        lines.push(format!("    seed {}: {}: {}", violation.seed, violation.invariant, violation.detail));
    }
    for command in summary.replay.values() {
        lines.push(format!("    replay: {command}"));
    }
    lines
}
