//! `coldstandby simulate --race`: controllers racing on one group under its lease, seed by seed,
//! summed up with the commands that replay any seed that broke an invariant.

//!
//! `--output json` is one document, written as seeds finish: `races`, then the summary's fields.

use coldstandby_sim::sweep::race::{run_race, summarize_races, RaceMode, RaceResult, RaceSummary};
use coldstandby_sim::sweep::scenario;

use super::parallel::in_seed_order;
use super::world_log::timeline;
use crate::{Exit, SimulateArgs};

pub fn run(args: &SimulateArgs) -> anyhow::Result<Exit> {
    let mut sink = super::SeedSink::new(args, "races");
    let results = in_seed_order(args.start_seed, args.seeds, super::jobs(args), |seed| {
        run_race(seed, RaceMode::Leased)
    });
    let summary = summarize_races(args.start_seed, results, |result| {
        sink.take(std::slice::from_ref(result), result.violations.len(), || events(result));
    });
    sink.finish(&summary, || render(&summary))?;
    Ok(if summary.violations.is_empty() { Exit::Success } else { Exit::Failed })
}

/// One race, call by call (`--events`).
fn events(result: &RaceResult) -> Vec<String> {
    let racers: Vec<String> = result
        .racers
        .iter()
        .map(|racer| {
            let mut faults = Vec::new();
            faults.extend(racer.crash_after_steps.map(|steps| format!("crashes after {steps} steps")));
            if racer.cut_off.is_some() {
                faults.push("cut off from the lease table".to_owned());
            }
            let faults = if faults.is_empty() { String::new() } else { format!(" ({})", faults.join(", ")) };
            format!("{} at +{} ms{faults}", racer.name, racer.start_after_ms)
        })
        .collect();
    let heading = format!(
        "seed {}: lease {} s; racers: {}; ends: {}",
        result.seed,
        result.lease_seconds,
        racers.join(", "),
        result.outcomes.join(", ")
    );
    timeline(heading, &result.log, &result.violations, scenario::SCENARIO_START)
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
    // Not violations, and not hidden: what docs/lease.md says no lease can cover.
    let suspended = &summary.suspended_in_flight;
    let mut seeds: Vec<u64> = suspended.iter().map(|landing| landing.seed).collect();
    seeds.dedup();
    lines.push(format!(
        "  calls of a holder suspended with them in flight, landing after its lease passed on (what no \
         lease can cover: docs/lease.md): {} on {} seeds",
        suspended.len(),
        seeds.len()
    ));
    for landing in suspended {
        lines.push(format!("    seed {}: {}", landing.seed, landing.detail));
    }
    lines
}
