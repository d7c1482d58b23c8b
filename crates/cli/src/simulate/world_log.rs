//! `--events` for the sweeps with several controllers (`--race`, `--watchers`): one seed's story
//! from the world's side, in time order: every lease write that landed, every API call with its
//! caller and error, and each controller's failover steps.

use coldstandby_engine::{Call, Timestamp};
use coldstandby_sim::sweep::checker::Violation;
use coldstandby_sim::sweep::WorldLog;

use crate::output;

/// The lines of one seed's timeline, times counted from `origin`.
pub fn timeline(heading: String, log: &WorldLog, violations: &[Violation], origin: Timestamp) -> Vec<String> {
    // (when, which source first at the same instant, the source's own order, the line)
    let mut entries: Vec<(Timestamp, u8, usize, String)> = Vec::new();
    for (index, change) in log.leases.iter().enumerate() {
        let owner = change.owner.as_deref().unwrap_or("released");
        let detail = format!("group {}: {owner} (epoch {})", change.group, change.epoch);
        entries.push((
            change.at,
            0,
            index,
            output::row(&output::offset(change.at, origin), "lease", "table", &detail),
        ));
    }
    for (index, call) in log.calls.iter().enumerate() {
        let subject = match &call.call {
            Call::Describe { instances } => format!("{} instances", instances.len()),
            other => other.instance().map(|id| id.to_string()).unwrap_or_default(),
        };
        let caller = call.caller.as_deref().unwrap_or("-");
        let answer = match (&call.error, call.bucket_exceeded) {
            (None, _) => "ok".to_owned(),
            (Some(code), true) => format!("{code} (request bucket)"),
            (Some(code), false) => code.clone(),
        };
        let detail = format!("{} by {caller}: {answer}", call.call.operation());
        entries.push((
            call.at,
            1,
            index,
            output::row(&output::offset(call.at, origin), "call", &subject, &detail),
        ));
    }
    for (run, (name, events)) in log.runs.iter().enumerate() {
        for (index, event) in events.iter().enumerate() {
            let (step, subject, detail) = output::describe(&event.kind);
            let detail = format!("[{name}] {detail}");
            let order = run * 1_000_000 + index;
            entries.push((
                event.at,
                2,
                order,
                output::row(&output::offset(event.at, origin), step, &subject, &detail),
            ));
        }
    }
    entries.sort_by_key(|entry| (entry.0, entry.1, entry.2));
    let mut lines = vec![heading, format!("  {}", output::header())];
    lines.extend(entries.into_iter().map(|(_, _, _, line)| format!("  {line}")));
    for violation in violations {
        let at = output::offset(violation.at, origin);
        lines.push(format!("  VIOLATION {at} {}: {}", violation.invariant, violation.detail));
    }
    lines.push(String::new());
    lines
}
