//! The sweep over many seeds: each seed run in turn, and what they did summed up (triggers by
//! how they ended, faults injected, failures by reason, the RTO distribution, violations with
//! the commands that replay them).

use std::collections::{BTreeMap, BTreeSet};

use coldstandby_engine::Outcome;
use serde::Serialize;

use super::checker::Violation;
use super::{replay_command, run_seed, Fence, SeedResult, TriggerEnd};

/// p50, p99 and max of a set of durations, in milliseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Distribution {
    pub count: usize,
    pub p50_ms: u64,
    pub p99_ms: u64,
    pub max_ms: u64,
}

impl Distribution {
    fn of(mut values: Vec<u64>) -> Self {
        values.sort_unstable();
        let at = |q: f64| {
            values.get(((values.len() as f64 * q).ceil() as usize).saturating_sub(1)).copied().unwrap_or(0)
        };
        Self {
            count: values.len(),
            p50_ms: at(0.5),
            p99_ms: at(0.99),
            max_ms: values.last().copied().unwrap_or(0),
        }
    }
}

/// The totals of a sweep.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Summary {
    pub start_seed: u64,
    pub scenarios: u64,
    pub triggers: u64,
    /// Scenarios injecting each kind of fault.
    pub faults: BTreeMap<&'static str, u64>,
    pub failovers_completed: u64,
    pub already_active: u64,
    pub busy: u64,
    pub crashes: u64,
    /// Invocations Lambda ended at their timeout.
    pub timed_out: u64,
    /// Failures reported, by reason.
    pub failures: BTreeMap<String, u64>,
    /// Trigger to recorded active, over the completed failovers.
    pub rto: Distribution,
    pub violations: Vec<Violation>,
    /// Seeds with a violation, each with the command that replays it.
    pub replay: BTreeMap<u64, String>,
}

/// Run `count` seeds from `start_seed`, calling `on_seed` after each.
pub fn sweep(start_seed: u64, count: u64, fence: Fence, on_seed: impl FnMut(&SeedResult)) -> Summary {
    let seeds = start_seed..start_seed.saturating_add(count);
    summarize(start_seed, seeds.map(|seed| run_seed(seed, fence)), on_seed)
}

/// Sum up seeds' results (run in seed order from `start_seed`, however they were run), calling
/// `on_seed` after each.
pub fn summarize(
    start_seed: u64,
    results: impl IntoIterator<Item = SeedResult>,
    mut on_seed: impl FnMut(&SeedResult),
) -> Summary {
    let mut summary = Summary { start_seed, ..Summary::default() };
    let mut rtos = Vec::new();
    for result in results {
        summary.scenarios += 1;
        for fault in &result.faults {
            *summary.faults.entry(fault.as_str()).or_default() += 1;
        }
        for end in &result.triggers {
            summary.triggers += 1;
            match end {
                TriggerEnd::Finished { report } => match &report.outcome {
                    Outcome::FailedOver { .. } => {
                        summary.failovers_completed += 1;
                        rtos.push(report.finished_at.saturating_since(report.started_at).as_millis() as u64);
                    }
                    Outcome::AlreadyActive { .. } | Outcome::MovedOn { .. } => summary.already_active += 1,
                    Outcome::Failed { failure } => {
                        let reason = serde_json::to_value(failure)
                            .ok()
                            .and_then(|v| v["reason"].as_str().map(str::to_owned));
                        *summary.failures.entry(reason.unwrap_or_default()).or_default() += 1;
                    }
                    Outcome::Planned { .. } => {}
                },
                TriggerEnd::Crashed { .. } => summary.crashes += 1,
                TriggerEnd::TimedOut { .. } => summary.timed_out += 1,
                TriggerEnd::Busy => summary.busy += 1,
                TriggerEnd::Hung => {}
            }
        }
        let seeds_with_violations: BTreeSet<u64> = result.violations.iter().map(|v| v.seed).collect();
        for seed in seeds_with_violations {
            summary.replay.insert(seed, replay_command(seed));
        }
        summary.violations.extend(result.violations.iter().cloned());
        on_seed(&result);
    }
    summary.rto = Distribution::of(rtos);
    summary
}
