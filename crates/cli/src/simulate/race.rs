//! `coldstandby simulate --race`: controllers racing on one group under its lease, seed by seed,
//! summed up with the commands that replay any seed that broke an invariant.

use std::io::{IsTerminal, Write};

use coldstandby_sim::sweep::race::{race_sweep, RaceResult, RaceSummary};
use serde::Serialize;

use crate::output;
use crate::{Exit, OutputFormat, SimulateArgs};

/// The JSON result: the summary and each seed's race.
#[derive(Debug, Serialize)]
struct JsonResult<'a> {
    #[serde(flatten)]
    summary: &'a RaceSummary,
    races: &'a [RaceResult],
}

pub fn run(args: &SimulateArgs) -> anyhow::Result<Exit> {
    let text = args.output == OutputFormat::Text;
    let progress = text && std::io::stderr().is_terminal();
    let mut races = Vec::new();
    let mut done = 0u64;
    let mut violations = 0usize;
    let summary = race_sweep(args.start_seed, args.seeds, |result| {
        done += 1;
        violations += result.violations.len();
        if !text {
            races.push(result.clone());
        }
        if progress && (done.is_multiple_of(100) || done == args.seeds) {
            // Progress is best effort: a failed write to stderr must not stop the sweep.
            let _ = write!(std::io::stderr(), "\r  {done}/{} seeds, {violations} violations", args.seeds);
        }
    });
    if progress {
        let _ = write!(std::io::stderr(), "\r\x1b[2K");
    }
    if text {
        output::print_lines(&render(&summary))?;
    } else {
        output::print_json(&JsonResult { summary: &summary, races: &races })?;
    }
    Ok(if summary.violations.is_empty() { Exit::Success } else { Exit::Failed })
}

fn render(summary: &RaceSummary) -> Vec<String> {
    let last = summary.start_seed + summary.seeds.saturating_sub(1);
    let sizes: Vec<String> = summary
        .by_racers
        .iter()
        .map(|(racers, seeds)| format!("{racers} controllers: {seeds} seeds"))
        .collect();
    let outcomes: Vec<String> =
        summary.outcomes.iter().map(|(outcome, n)| format!("{outcome} {n}")).collect();
    let mut lines = vec![
        format!("Race of controllers under the group lease, seeds {} to {last}", summary.start_seed),
        format!("  {}", sizes.join(", ")),
        format!(
            "  controllers set to crash {}, cut off from the lease table {}, lease writes {}",
            summary.crashes, summary.cut_off_from_table, summary.lease_writes
        ),
        format!("  ends (the last retries included): {}", outcomes.join(", ")),
        format!("  invariant violations: {}", summary.violations.len()),
    ];
    for violation in &summary.violations {
        lines.push(format!("    seed {}: {}: {}", violation.seed, violation.invariant, violation.detail));
    }
    for command in summary.replay.values() {
        lines.push(format!("    replay: {command}"));
    }
    lines
}
