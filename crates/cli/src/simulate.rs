//! `coldstandby simulate`: a seeded fault-injection sweep over the simulated region, with a
//! summary and the command that replays any seed that broke an invariant.

//!
//! `--output json` is one document, written as seeds finish: `runs` (every trigger's end with the
//! members' true states, so an outside checker can judge the runs without trusting the engine),
//! then the summary's fields.

use std::io::{IsTerminal, Write};
use std::num::NonZeroUsize;

use coldstandby_sim::sweep::{self, Fence, SeedResult, Summary, TriggerEnd};

use crate::output;
use crate::{Exit, OutputFormat, SimulateArgs};
use json_stream::JsonStream;

mod json_stream;
mod outage;
mod parallel;
mod race;
mod watchers;
mod world_log;

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
    let mut sink = SeedSink::new(args, "runs");
    let mut rto_ms = Vec::new();
    let results = parallel::in_seed_order(args.start_seed, args.seeds, jobs(args), |seed| {
        sweep::run_seed(seed, Fence::Correct)
    });
    let summary = sweep::summarize(args.start_seed, results, |result| {
        rto_ms.extend(result.triggers.iter().filter_map(recovered_ms));
        sink.take(&result.runs, result.violations.len(), || timeline(result));
    });
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
    sink.finish(&summary, || render(&summary))?;
    Ok(if summary.violations.is_empty() { Exit::Success } else { Exit::Failed })
}

/// What every sweep does with each seed's result as it comes: its story printed (`--events`),
/// its entries streamed (`--output json`), the progress counted.
struct SeedSink {
    progress: Progress,
    json: Option<JsonStream>,
    events: bool,
    /// The first failed write of `--events` (nothing more is printed then).
    printed: anyhow::Result<()>,
}

impl SeedSink {
    /// For `args`' output; `list` names the JSON list of entries.
    fn new(args: &SimulateArgs, list: &str) -> Self {
        let json = (args.output == OutputFormat::Json).then(|| JsonStream::begin(list));
        Self { progress: Progress::new(args), json, events: args.events, printed: Ok(()) }
    }

    /// One seed: its JSON entries, its violations, its story (made only when printed).
    fn take<T: serde::Serialize>(
        &mut self,
        entries: &[T],
        violations: usize,
        story: impl FnOnce() -> Vec<String>,
    ) {
        if self.events && self.printed.is_ok() {
            self.printed = output::print_lines(&story());
        }
        if let Some(json) = &mut self.json {
            entries.iter().for_each(|entry| json.item(entry));
        }
        self.progress.seed_done(violations);
    }

    /// The sweep is over: close the JSON document with the summary, or print `text`.
    fn finish(
        self,
        summary: &impl serde::Serialize,
        text: impl FnOnce() -> Vec<String>,
    ) -> anyhow::Result<()> {
        self.progress.clear();
        self.printed?;
        match self.json {
            Some(json) => json.finish(summary),
            None => output::print_lines(&text()),
        }
    }
}

/// How many threads run seeds: `--jobs`, or one per CPU.
fn jobs(args: &SimulateArgs) -> NonZeroUsize {
    args.jobs.unwrap_or_else(|| std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN))
}

/// Seeds done and violations so far, on a terminal's standard error.
struct Progress {
    shown: bool,
    of: u64,
    done: u64,
    violations: usize,
}

impl Progress {
    fn new(args: &SimulateArgs) -> Self {
        let shown = args.output == OutputFormat::Text && !args.events && std::io::stderr().is_terminal();
        Self { shown, of: args.seeds, done: 0, violations: 0 }
    }

    fn seed_done(&mut self, violations: usize) {
        self.done += 1;
        self.violations += violations;
        if self.shown && (self.done.is_multiple_of(100) || self.done == self.of) {
            // Progress is best effort: a failed write to stderr must not stop the sweep.
            let _ = write!(
                std::io::stderr(),
                "\r  {}/{} seeds, {} violations",
                self.done,
                self.of,
                self.violations
            );
        }
    }

    fn clear(&self) {
        if self.shown {
            let _ = write!(std::io::stderr(), "\r\x1b[2K");
        }
    }
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
