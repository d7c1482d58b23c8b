//! `coldstandby simulate --watchers`: two watchers against a failing service, seed by seed,
//! summed up with the detection latency and the commands that replay any seed that broke an
//! invariant.

//!
//! `--output json` is one document, written as seeds finish: `seeds_run`, then the summary's
//! fields.

use coldstandby_sim::sweep::watch::{
    run_seed, summarize_watches, WatchMode, WatchResult, WatchSummary, INVARIANTS, START,
};

use super::parallel::in_seed_order;
use super::world_log::timeline;
use crate::output;
use crate::{Exit, SimulateArgs};

pub fn run(args: &SimulateArgs) -> anyhow::Result<Exit> {
    let mut sink = super::SeedSink::new(args, "seeds_run");
    let results = in_seed_order(args.start_seed, args.seeds, super::jobs(args), |seed| {
        run_seed(seed, WatchMode::Honest)
    });
    let summary = summarize_watches(args.start_seed, results, |result| {
        sink.take(std::slice::from_ref(result), result.violations.len(), || events(result));
    });
    sink.finish(&summary, || render(&summary))?;
    Ok(if summary.violations.is_empty() { Exit::Success } else { Exit::Failed })
}

/// One seed, call by call (`--events`).
fn events(result: &WatchResult) -> Vec<String> {
    let failure = match (&result.failure, result.failure_at) {
        (Some(failure), Some(at)) => format!("{failure} at {}", output::offset(at, START)),
        _ => "healthy".to_owned(),
    };
    let faults =
        if result.watcher_faults.is_empty() { "none".to_owned() } else { result.watcher_faults.join(", ") };
    let heading = format!(
        "seed {}: {} probe every {} ms; the primary's service: {failure}; watcher faults: {faults}",
        result.seed, result.probe, result.interval_ms
    );
    timeline(heading, &result.log, &result.violations, START)
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
