//! Fills the HTML report's model from what a command ran (the demo, a drill's runs) and writes
//! the file. The drawing itself is `coldstandby_report`'s.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use coldstandby_engine::recording::RecordedCall;
use coldstandby_engine::{Call, EventKind, GroupSpec, InstanceId, InstanceState, Report, Timestamp};
use coldstandby_report::{CallRow, LanesSource, Run, Step};
use coldstandby_sim::{CallRecord, SimRegion};

use crate::output;

/// The tool's name and version, as the report prints it.
pub fn tool() -> String {
    format!("coldstandby {}", env!("CARGO_PKG_VERSION"))
}

/// `--report FILE`: refused before anything runs when it cannot be written (a missing
/// directory, no permission), so a drill never changes instances and then fails to report.
pub fn check_writable(path: &Path) -> anyhow::Result<()> {
    let temporary = temporary(path);
    let refuse = |why: String| crate::CommandError {
        exit: crate::Exit::Usage,
        message: format!("--report {}: cannot be written ({why}); nothing was run", path.display()),
    };
    if path.is_dir() {
        return Err(refuse("it is a directory".to_owned()).into());
    }
    std::fs::write(&temporary, b"").map_err(|error| refuse(error.to_string()))?;
    let _ = std::fs::remove_file(&temporary);
    Ok(())
}

fn temporary(path: &Path) -> std::path::PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".tmp");
    name.into()
}

/// Write `document` to `path` (atomically: a temporary file beside it, then renamed).
pub fn write(path: &Path, document: &coldstandby_report::Document) -> anyhow::Result<()> {
    let html = coldstandby_report::render(document);
    let temporary = temporary(path);
    std::fs::write(&temporary, html).with_context(|| format!("writing the report to {}", path.display()))?;
    std::fs::rename(&temporary, path).with_context(|| format!("writing the report to {}", path.display()))?;
    Ok(())
}

/// A report of many simulated runs: their recovery times as a histogram.
pub fn distribution(
    title: &str,
    summary: Vec<String>,
    rto_ms: Vec<u64>,
    not_recovered: usize,
) -> coldstandby_report::Document {
    coldstandby_report::Document {
        title: format!("coldstandby simulate: {title}"),
        tool: tool(),
        ran_at: None,
        target: "the simulated region".to_owned(),
        simulated: true,
        summary,
        runs: Vec::new(),
        configuration: None,
        distribution: Some(coldstandby_report::Distribution {
            title: title.to_owned(),
            rto_ms,
            not_recovered,
        }),
    }
}

/// How the instances' lanes are drawn.
pub enum Lanes<'a> {
    /// From the simulated region's own record (true change times) and its calls.
    Region(&'a SimRegion),
    /// From the run's own observations, and the calls it made (real EC2).
    Observed(&'a [RecordedCall]),
}

/// One run of the engine, as the report shows it. `failure_at`: when the failure began (a
/// detection phase is drawn from there to the trigger); `labels`: each member's lane label.
pub fn run(
    title: &str,
    report: &Report,
    failure_at: Option<Timestamp>,
    spec: &GroupSpec,
    labels: &dyn Fn(&InstanceId) -> String,
    lanes: &Lanes<'_>,
) -> Run {
    let trigger_at = report.started_at;
    let origin = failure_at.unwrap_or(trigger_at).min(trigger_at);
    // The timeline ends with the run: what comes after (a drill's next run) is not this run's.
    let length = report.finished_at.saturating_since(origin);
    let end = report.finished_at.max(origin + Duration::from_millis(1));
    let members: Vec<InstanceId> = spec.members();
    let (source, changes, initial, calls) = match lanes {
        Lanes::Region(region) => {
            let changes: Vec<_> = region
                .transitions()
                .into_iter()
                .filter(|change| change.at >= origin && members.contains(&change.instance))
                .map(|change| (change.at, change.instance.to_string(), change.from, change.to))
                .collect();
            let initial: Vec<Option<InstanceState>> =
                members.iter().map(|member| region.state_at(member, origin)).collect();
            let records: Vec<CallRecord> = region
                .calls()
                .into_iter()
                .filter(|call| call.at >= trigger_at && call.at <= report.finished_at)
                .collect();
            let calls = records.chunk_by(|a, b| a.request == b.request).map(call_row).collect();
            (LanesSource::Region, changes, initial, calls)
        }
        Lanes::Observed(calls) => {
            let changes: Vec<_> = report
                .events
                .iter()
                .filter_map(|event| match &event.kind {
                    EventKind::Observed { instance, state, previous: Some(previous) } => {
                        Some((event.at, instance.to_string(), *previous, *state))
                    }
                    _ => None,
                })
                .collect();
            let initial = members.iter().map(|member| first_observed(report, member)).collect();
            let rows = calls
                .iter()
                .map(|call| CallRow {
                    at: call.at,
                    operation: call.operation.clone(),
                    subject: call.subject.clone(),
                    result: call.error.clone().unwrap_or_else(|| "ok".to_owned()),
                })
                .collect();
            (LanesSource::Observations, changes, initial, rows)
        }
    };
    let described: Vec<(String, String, Option<InstanceState>)> = members
        .iter()
        .zip(initial)
        .map(|(member, state)| (member.to_string(), labels(member), state))
        .collect();
    let outcome = report.outcome.to_string();
    Run {
        title: title.to_owned(),
        succeeded: report.outcome.is_success(),
        outcome: format!("{}: {outcome} in {}", report.group, coldstandby_report::seconds(length)),
        origin,
        end,
        lanes_source: source,
        lanes: Run::lanes_from_changes(origin, end, &described, &changes),
        steps: report.events.iter().map(|event| step(event.at, &event.kind, report)).collect(),
        phases: coldstandby_report::phases(report, trigger_at, failure_at),
        calls,
    }
}

fn first_observed(report: &Report, member: &InstanceId) -> Option<InstanceState> {
    report.events.iter().find_map(|event| match &event.kind {
        EventKind::Observed { instance, state, previous } if instance == member => {
            Some(previous.unwrap_or(*state))
        }
        _ => None,
    })
}

fn step(at: Timestamp, kind: &EventKind, report: &Report) -> Step {
    let (step, subject, detail) = output::describe(kind);
    let trouble = match kind {
        EventKind::CallFailed { .. }
        | EventKind::RolledBack { .. }
        | EventKind::StandbySkipped { .. }
        | EventKind::StoppedActing { .. }
        | EventKind::Unobservable { .. } => true,
        EventKind::Finished { .. } => !report.outcome.is_success(),
        _ => false,
    };
    Step { at, step, subject, detail, trouble }
}

/// One simulated request (the region records a call per instance it names): every one is on
/// record, describes included.
fn call_row(request: &[CallRecord]) -> CallRow {
    let record = &request[0];
    let subject = match &record.call {
        Call::Describe { .. } | Call::Start { .. } | Call::Stop { .. } | Call::SetTags { .. } => request
            .iter()
            .filter_map(|record| match &record.call {
                Call::Describe { instances } => {
                    Some(instances.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "))
                }
                call => call.instance().map(ToString::to_string),
            })
            .collect::<Vec<_>>()
            .join(", "),
        Call::ReadClients { mover, .. } => mover.to_string(),
        Call::MoveClients { change } => change.to_string(),
        Call::ReadNetworkAcl { subnet } | Call::Isolate { subnet, .. } => subnet.clone(),
        call => call.instance().map(ToString::to_string).unwrap_or_default(),
    };
    let errors: Vec<&str> = request.iter().filter_map(|record| record.error.as_deref()).collect();
    CallRow {
        at: record.at,
        operation: record.call.operation().to_owned(),
        subject,
        result: if errors.is_empty() { "ok".to_owned() } else { errors.join(", ") },
    }
}
