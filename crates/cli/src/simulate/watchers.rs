//! `coldstandby simulate --watchers`: two watchers against a failing service, seed by seed,
//! summed up with the detection latency and the commands that replay any seed that broke an
//! invariant.

use std::io::{IsTerminal, Write};

use coldstandby_sim::sweep::watch::{watch_sweep, WatchMode, WatchResult, WatchSummary, INVARIANTS};
use serde::Serialize;

use crate::output;
use crate::{Exit, OutputFormat, SimulateArgs};

/// The JSON result: the summary and each seed's result.
#[derive(Debug, Serialize)]
struct JsonResult<'a> {
    #[serde(flatten)]
    summary: &'a WatchSummary,
    seeds_run: &'a [WatchResult],
}

pub fn run(args: &SimulateArgs) -> anyhow::Result<Exit> {
    let text = args.output == OutputFormat::Text;
    let progress = text && std::io::stderr().is_terminal();
    let mut results = Vec::new();
    let mut done = 0u64;
    let mut violations = 0usize;
    let summary = watch_sweep(args.start_seed, args.seeds, WatchMode::Honest, |result| {
        done += 1;
        violations += result.violations.len();
        if !text {
            results.push(result.clone());
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
        output::print_json(&JsonResult { summary: &summary, seeds_run: &results })?;
    }
    Ok(if summary.violations.is_empty() { Exit::Success } else { Exit::Failed })
}

fn counts(map: &std::collections::BTreeMap<String, u64>) -> String {
    map.iter().map(|(name, n)| format!("{name} {n}")).collect::<Vec<_>>().join(", ")
}

fn render(summary: &WatchSummary) -> Vec<String> {
    let last = summary.start_seed + summary.seeds.saturating_sub(1);
    let seeds = if summary.seeds == 1 { "seed" } else { "seeds" };
    let mut lines = vec![
        format!("Two watchers against a failing service, {seeds} {} to {last}", summary.start_seed),
        format!("  the primary's service: {}", counts(&summary.failures)),
        format!(
            "  watcher faults: {}",
            if summary.watcher_faults.is_empty() {
                "none".to_owned()
            } else {
                counts(&summary.watcher_faults)
            }
        ),
        format!("  primaries stopped: {} of {}", summary.fenced, summary.seeds),
    ];
    if !summary.detection_ms.is_empty() {
        let latency: Vec<String> = ["p50", "p90", "p99", "max"]
            .iter()
            .filter_map(|name| {
                summary.detection_ms.get(*name).map(|ms| format!("{name} {}", output::millis_as_seconds(*ms)))
            })
            .collect();
        lines.push(format!(
            "  detection (failure to the primary's stop, no watcher fault): {}",
            latency.join(", ")
        ));
    }
    lines.push(format!("  invariants: {}", INVARIANTS.join(", ")));
    lines.push(format!("  invariant violations: {}", summary.violations.len()));
    for violation in &summary.violations {
        lines.push(format!("    seed {}: {}: {}", violation.seed, violation.invariant, violation.detail));
    }
    for command in summary.replay.values() {
        lines.push(format!("    replay: {command}"));
    }
    lines
}
