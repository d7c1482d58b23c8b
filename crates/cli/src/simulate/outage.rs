//! `coldstandby simulate --az-outage`: one zone down under many groups, handled by one fleet run
//! and one group at a time, side by side.

use std::io::{IsTerminal, Write};

use coldstandby_sim::outage::layout::Policy;
use coldstandby_sim::outage::{self, OutageOptions, OutageReport};

use crate::output;
use crate::{Exit, FenceArg, OutputFormat, SimulateArgs};

pub fn run(args: &SimulateArgs) -> anyhow::Result<Exit> {
    let policy = match args.fence {
        FenceArg::FailClosed => Policy::FailClosed,
        FenceArg::Isolate => Policy::Isolate,
    };
    let options = OutageOptions { groups: args.groups as usize, seed: args.seed, policy };
    let text = args.output == OutputFormat::Text;
    if text && std::io::stderr().is_terminal() {
        // Progress is best effort: a failed write to stderr must not stop the simulation.
        let _ = write!(std::io::stderr(), "  simulating {} groups both ways ...", options.groups);
    }
    let report = outage::run(&options);
    if text && std::io::stderr().is_terminal() {
        let _ = write!(std::io::stderr(), "\r\x1b[2K");
    }
    if let Some(path) = &args.report {
        let lines = vec![
            format!(
                "{} groups, their primaries in {} when it went down; when_unobservable = {}; one fleet run for all.",
                report.groups, report.down_zone, report.policy
            ),
            format!(
                "Recovery time here is outage to each group's standby recorded active; {} groups made active, {} not.",
                report.active_groups, report.failed_groups
            ),
        ];
        let title = format!("an AZ outage under {} groups (seed {})", report.groups, report.seed);
        let document =
            crate::report::distribution(&title, lines, report.group_rto_ms.clone(), report.failed_groups);
        crate::report::write(path, &document)?;
    }
    if text {
        output::print_lines(&render(&report))?;
    } else {
        output::print_json(&report)?;
    }
    Ok(if report.violations.is_empty() { Exit::Success } else { Exit::Failed })
}

fn seconds(ms: u64) -> String {
    format!("{:.1} s", ms as f64 / 1000.0)
}

fn render(report: &OutageReport) -> Vec<String> {
    let groups = report.groups;
    let calls = format!("{:?}", report.zone_calls).to_lowercase();
    let mut lines = vec![
        format!(
            "AZ outage on the simulated region: {groups} group{}, {} down (calls into it {calls}), \
             when_unobservable = {}, seed {}",
            if groups == 1 { "" } else { "s" },
            report.down_zone,
            report.policy,
            report.seed
        ),
        format!(
            "  (times from the outage; the first alarm action comes {} in)",
            seconds(outage::DETECTION.as_millis() as u64)
        ),
    ];
    match report.outage_to_last_active_ms {
        Some(ms) => {
            lines.push(format!("  all groups in one fleet run: last group active at {}", seconds(ms)))
        }
        None => lines.push(format!(
            "  all groups in one fleet run: no group made active; the last run ended at {}",
            seconds(report.outage_to_last_finished_ms)
        )),
    }
    lines.push(format!("  the slowest group alone:     {}", seconds(report.single_group_ms)));
    lines.push(format!(
        "  one group at a time (without a fleet): last group done at {}",
        seconds(report.one_at_a_time_ms)
    ));
    lines.push(format!(
        "  EC2's request limits allow no less than {} for what cannot be batched:",
        seconds(report.request_limit_bound_ms)
    ));
    for line in &report.request_limit_bound {
        lines.push(format!("    {line}"));
    }
    if report.request_limit_bound.is_empty() {
        lines.push("    (nothing: every call of this scenario can share a request)".to_owned());
    }
    let calls: Vec<String> =
        report.calls.iter().map(|(operation, count)| format!("{operation} {count}")).collect();
    lines.push(format!("  requests in the fleet run: {}", calls.join(", ")));
    lines.push(format!("  describe requests in one round, at most: {}", report.describes_per_round));
    lines.push(format!("  throttled requests: {}", report.throttled_calls));
    lines.push(format!("  groups: {} active, {} failed", report.active_groups, report.failed_groups));
    for (reason, count) in &report.failures {
        lines.push(format!("    {count} x {reason}"));
    }
    lines.push(format!("  invariant violations: {}", report.violations.len()));
    for violation in &report.violations {
        lines.push(format!(
            "    VIOLATION {} ({}): {}",
            violation.invariant, violation.group, violation.detail
        ));
    }
    lines
}
