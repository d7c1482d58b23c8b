//! Rendering shared by the commands: one timeline row per engine event, durations, and JSON.

use std::io::Write;
use std::time::Duration;

use anyhow::Context;
use coldstandby_engine::{EventKind, InstanceId, InstanceState, Timestamp};
use serde::Serialize;

/// Seconds with millisecond precision: `12.345 s`.
pub fn seconds(duration: Duration) -> String {
    format!("{}.{:03} s", duration.as_secs(), duration.subsec_millis())
}

/// Milliseconds as seconds: `12.345 s`.
pub fn millis_as_seconds(millis: u64) -> String {
    seconds(Duration::from_millis(millis))
}

/// `at` relative to `origin`: `+12.345`.
pub fn offset(at: Timestamp, origin: Timestamp) -> String {
    let since = at.saturating_since(origin);
    format!("+{}.{:03}", since.as_secs(), since.subsec_millis())
}

/// One timeline row: time, step, subject, detail, in aligned columns.
pub fn row(time: &str, step: &str, subject: &str, detail: &str) -> String {
    format!("{time:>10}  {step:<12} {subject:<21} {detail}")
}

/// The header of a timeline.
pub fn header() -> String {
    row("time", "step", "instance", "state / detail")
}

fn list(instances: &[InstanceId]) -> String {
    instances.iter().map(InstanceId::as_str).collect::<Vec<_>>().join(", ")
}

/// An engine event as (step, subject, detail).
#[expect(
    clippy::too_many_lines,
    reason = "one match arm per event kind; a table of texts would not be shorter"
)]
pub fn describe(kind: &EventKind) -> (&'static str, String, String) {
    match kind {
        EventKind::Started { group, trigger, ordering } => {
            ("started", format!("group {group}"), format!("trigger: {trigger}; ordering: {ordering}"))
        }
        EventKind::Observed { instance, state, previous } => {
            let detail = match previous {
                Some(previous) => format!("{previous} -> {state}"),
                None => state.to_string(),
            };
            ("observed", instance.to_string(), detail)
        }
        EventKind::NotVisible { instance } => (
            "not-visible",
            instance.to_string(),
            "missing from DescribeInstances (unknown, never taken as stopped)".to_owned(),
        ),
        EventKind::Unobservable { instance, zone, error } => {
            let zone = zone.as_deref().map_or(String::new(), |zone| format!(" ({zone})"));
            ("unobservable", instance.to_string(), format!("its zone{zone} does not answer: {error}"))
        }
        EventKind::LeaseTaken { epoch, owner } => {
            ("lease", String::new(), format!("taken by {owner}, epoch {epoch}"))
        }
        EventKind::StoppedActing { reason } => {
            ("stopped", String::new(), format!("lease {reason}: no further call, rollback included"))
        }
        EventKind::Planned { fence, candidates } => {
            // Nothing to fence means the first candidate is the active member: it stays.
            let detail = match (fence.is_empty(), candidates.first()) {
                (true, Some(active)) => format!("nothing to fence: {active} is active and stays active"),
                (true, None) => "nothing to fence and no standby to try".to_owned(),
                (false, _) => format!("fence: {}; standbys to try: {}", list(fence), list(candidates)),
            };
            ("planned", String::new(), detail)
        }
        EventKind::StopRequested { instance, force } => {
            let call = if *force { "StopInstances (Force) accepted" } else { "StopInstances accepted" };
            ("stop", instance.to_string(), call.to_owned())
        }
        EventKind::FenceEscalated { instance, waited_ms } => (
            "escalate",
            instance.to_string(),
            format!("not stopped after {}: forcing the stop", millis_as_seconds(*waited_ms)),
        ),
        EventKind::Isolated { instance, subnet, network_acl } => (
            "isolated",
            instance.to_string(),
            format!("{subnet} moved onto {network_acl} (deny-all), read back"),
        ),
        EventKind::Fenced { instances, cut_off } if cut_off.is_empty() => {
            ("fenced", list(instances), "confirmed stopped".to_owned())
        }
        EventKind::Fenced { instances, cut_off } => {
            ("fenced", list(instances), format!("confirmed stopped or cut off ({} cut off)", list(cut_off)))
        }
        EventKind::StartRequested { instance } => {
            ("start", instance.to_string(), "StartInstances accepted".to_owned())
        }
        EventKind::StandbySkipped { instance, reason } => ("skipped", instance.to_string(), reason.clone()),
        EventKind::StandbyOverdue { instance, waited_ms, last_seen: Some(InstanceState::Running) } => (
            "overdue",
            instance.to_string(),
            format!(
                "not answered for after {} (last seen running, its zone silent): it may still run, \
                 so the run waits for it instead of starting the next beside it",
                millis_as_seconds(*waited_ms)
            ),
        ),
        EventKind::StandbyOverdue { instance, waited_ms, .. } => (
            "overdue",
            instance.to_string(),
            format!(
                "still pending after {}: EC2 cannot stop it while pending, so the run waits for it \
                 instead of starting the next beside it",
                millis_as_seconds(*waited_ms)
            ),
        ),
        EventKind::Promoted { instance } => ("promoted", instance.to_string(), "running".to_owned()),
        EventKind::Verified { instance, check } => ("verified", instance.to_string(), check.clone()),
        EventKind::CheckPassed { instance, check, passes } => {
            ("check", instance.to_string(), format!("{check}: passed {passes} times in a row"))
        }
        EventKind::Ready { instance, checks } => {
            let detail = match checks {
                0 => "no readiness check configured".to_owned(),
                1 => "its readiness check passed".to_owned(),
                n => format!("all {n} readiness checks passed"),
            };
            ("ready", instance.to_string(), detail)
        }
        EventKind::ClientsChanged { operation, change } => {
            ("change", String::new(), format!("{operation} accepted: {change}"))
        }
        EventKind::ClientsMoved { instance, mover } => {
            ("moved", instance.to_string(), format!("{mover}: verified"))
        }
        EventKind::Redirected { instance, method } => {
            let detail = if method == "no mover configured" {
                "no mover configured: clients are not moved".to_owned()
            } else {
                format!("clients reach it ({method})")
            };
            ("clients", instance.to_string(), detail)
        }
        EventKind::Recorded { instance, role } => {
            ("recorded", instance.to_string(), format!("coldstandby:role = {role}"))
        }
        EventKind::RolledBack { instance } => (
            "rolled-back",
            instance.to_string(),
            "stopped: the run failed and leaves nothing it brought up".to_owned(),
        ),
        EventKind::Kept { instance } => (
            "kept",
            instance.to_string(),
            "left running: every other member is fenced, so it is the one that may serve".to_owned(),
        ),
        EventKind::CallFailed { operation, instance, kind, code, message, retry_in_ms } => {
            let next = match retry_in_ms {
                Some(ms) => format!("retry in {}", millis_as_seconds(*ms)),
                None => "not retried".to_owned(),
            };
            let subject = instance.as_ref().map_or_else(String::new, ToString::to_string);
            ("call-failed", subject, format!("{operation}: {code} ({kind}): {message}; {next}"))
        }
        EventKind::Finished { outcome } => ("finished", String::new(), outcome.clone()),
    }
}

/// Write `bytes` to stdout. A reader that has gone (`| head`) wants no more: the rest is
/// dropped without an error, so the command still ends with the status of what it did.
pub fn write_stdout(bytes: &[u8]) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Err(error) if error.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(error).context("writing to standard output")
        }
        _ => Ok(()),
    }
}

/// Write lines to stdout.
pub fn print_lines(lines: &[String]) -> anyhow::Result<()> {
    let mut text = String::new();
    for line in lines {
        text.push_str(line);
        text.push('\n');
    }
    write_stdout(text.as_bytes())
}

/// Write one JSON document to stdout.
pub fn print_json(value: &impl Serialize) -> anyhow::Result<()> {
    let mut text = serde_json::to_vec_pretty(value).context("rendering JSON")?;
    text.push(b'\n');
    write_stdout(&text)
}

/// Write a line to stderr; a closed stderr is ignored (there is nowhere left to say it).
pub fn print_error_line(line: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}
