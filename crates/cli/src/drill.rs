//! `coldstandby drill`: a rehearsal that fails a group over, waits until clients follow, switches
//! it back, measures every step, and checks the group ends as it began.

use std::collections::BTreeMap;

use coldstandby_deploy::doctor::Status;
use coldstandby_engine::notification::RunKind;
use coldstandby_engine::recording::RecordedCall;
use coldstandby_engine::status::{group_status, ActiveSource};
use coldstandby_engine::{
    Failover, GroupSpec, InstanceId, InstanceState, Observation, Options, Outcome, Report,
};
use serde::Serialize;

use crate::failover::{confirm_real_change, Run};
use crate::progress::LiveTimeline;
use crate::target::Target;
use crate::{output, CommandError, DrillArgs, Exit, OutputFormat, TargetArg};

/// What a drill did, as `--output json` prints it.
#[derive(Debug, Serialize)]
struct DrillJson<'a> {
    group: &'a str,
    target: String,
    /// The member active before the drill, and so after it.
    active: &'a InstanceId,
    /// The failover, then (when it succeeded) the switchover back.
    runs: Vec<RunJson<'a>>,
    /// Whether the group ended as it began: the same member active, every member in the state
    /// it had (running or stopped).
    restored: bool,
    /// What differs from the start, one sentence each (empty when restored).
    differences: &'a [String],
}

#[derive(Debug, Serialize)]
struct RunJson<'a> {
    name: &'static str,
    report: &'a Report,
}

/// One of a drill's two runs: what it did, and (on real EC2) every call it made.
struct DrillRun {
    kind: RunKind,
    report: Report,
    calls: Vec<RecordedCall>,
}

impl DrillRun {
    /// Its name in the JSON and the text summary.
    fn name(&self) -> &'static str {
        match self.kind {
            RunKind::DrillSwitchback => "switchover",
            _ => "failover",
        }
    }

    /// Its heading in the report.
    fn title(&self) -> &'static str {
        match self.kind {
            RunKind::DrillSwitchback => "Switchover back",
            _ => "Failover",
        }
    }
}

#[expect(
    clippy::too_many_lines,
    reason = "the drill's steps in order (doctor, failover, switchover back, comparison); split per step when next touched"
)]
pub fn run(args: &DrillArgs) -> anyhow::Result<Exit> {
    let (config, configuration) = coldstandby_config::load_with_text(&args.target.config)?;
    let group = crate::configured_group(&config, &args.target.config, &args.group)?;
    let spec = &group.spec;
    if let Some(path) = &args.report {
        crate::report::check_writable(path)?;
    }
    // A drill rehearses on the simulated region unless told otherwise.
    let mut target_args = args.target.clone();
    target_args.target.get_or_insert(TargetArg::Sim);
    let target = Target::open(&config, &target_args)?;
    if let Some(faults) = &args.sim_faults {
        match &target {
            Target::Sim(sim) => sim.region.set_faults(crate::sim_faults::parse(faults)?),
            Target::Aws { .. } => {
                return Err(CommandError::usage(
                    "--sim-faults applies to the simulated target only (--target sim)",
                ))
            }
        }
    }
    let before = observe(&target, spec)?;
    let active = active_member(spec, &before)?;
    let confirm = Run {
        trigger: "drill (coldstandby drill)",
        verb: "Drilling",
        effect: "it stops the active member, starts a standby, then switches back the same way",
        switchover: false,
        dry_run: false,
        confirmed: args.yes,
    };
    // Asked before doctor's reads, so that a script without --yes stops before any of them.
    confirm_real_change(&config, &target, spec, &confirm)?;
    if target.is_real() {
        refuse_on_doctor_failure(&config, &args.target.config.display().to_string(), &target)?;
    }

    let text = target_args.output == OutputFormat::Text;
    if text {
        output::print_lines(&[
            format!(
                "Drill of group `{}` in {}: fail over from {active}, then switch back",
                spec.name,
                target.name(&config)
            ),
            String::new(),
            output::header(),
        ])?;
    }
    let lease = config.lease.as_ref().map(|lease| lease.settings(crate::process_owner()));
    let engine_run = |spec: GroupSpec, trigger: &str, kind: RunKind| -> DrillRun {
        let now = target.now();
        let options = Options {
            trigger: trigger.to_owned(),
            seed: target_args.seed.unwrap_or_else(|| if target.is_real() { now.unix_millis() } else { 1 }),
            ..Options::default()
        };
        let mut live = LiveTimeline::new(now, text);
        let (report, calls) =
            target.run_failover_recorded(Failover::new(spec, options, now), lease.as_ref(), &mut live);
        live.finish();
        target.notify(kind, &report);
        DrillRun { kind, report, calls }
    };
    // The failover moves the group off the member active now (the configured primary or not),
    // to the next member in the configured order, as an alarm's failover would.
    let next = spec.members().into_iter().find(|member| *member != active).expect("a group has a standby");
    let away = spec.switchover(&active, &next);
    let mut runs = vec![engine_run(away, "drill: fail over (coldstandby drill)", RunKind::DrillFailover)];
    if let Outcome::FailedOver { to, .. } = &runs[0].report.outcome {
        let back = spec.switchover(to, &active);
        if text {
            output::print_lines(&[format!("    (switching back from {to} to {active})")])?;
        }
        runs.push(engine_run(back, "drill: switch back (coldstandby drill)", RunKind::DrillSwitchback));
    }
    // Answers may show an instance as it was up to DESCRIBE_STALENESS earlier: the verdict is
    // read that long after the last run, so it cannot show the group as it was mid-drill.
    target.pause(coldstandby_engine::failover::DESCRIBE_STALENESS);
    target.save()?;
    let after = observe(&target, spec)?;
    let differences = differences(spec, &active, &before, &after);
    let succeeded = runs.len() == 2 && runs.iter().all(|run| run.report.outcome.is_success());

    if let Some(path) = &args.report {
        let document = document(&config, &target, spec, &runs, &differences, configuration);
        crate::report::write(path, &document)?;
    }
    match target_args.output {
        OutputFormat::Json => output::print_json(&DrillJson {
            group: &spec.name,
            target: target.name(&config),
            active: &active,
            runs: runs.iter().map(|run| RunJson { name: run.name(), report: &run.report }).collect(),
            restored: differences.is_empty(),
            differences: &differences,
        })?,
        OutputFormat::Text => output::print_lines(&summary(&runs, &differences, args.report.as_deref()))?,
    }
    Ok(if succeeded && differences.is_empty() { Exit::Success } else { Exit::Failed })
}

/// On real EC2 a drill needs a deployment doctor passes: a drill that cannot fail over
/// proves nothing and may leave the group half moved.
fn refuse_on_doctor_failure(
    config: &coldstandby_config::Config,
    config_path: &str,
    target: &Target,
) -> anyhow::Result<()> {
    let Target::Aws { runtime, .. } = target else {
        return Ok(());
    };
    let failed: Vec<String> = crate::doctor::checks(runtime, config, config_path, None, &[])
        .into_iter()
        .filter(|check| check.status == Status::Fail)
        .map(|check| format!("{} ({}): {}", check.subject, check.check, check.found))
        .collect();
    if failed.is_empty() {
        return Ok(());
    }
    Err(CommandError {
        exit: Exit::Failed,
        message: format!(
            "doctor finds {} FAIL, so the drill did not start (nothing was changed):\n  {}\nRun `coldstandby doctor` for the fixes",
            failed.len(),
            failed.join("\n  ")
        ),
    }
    .into())
}

/// The group's members as EC2 shows them: describes a second apart, up to twenty, until every
/// member has been returned, each member as the latest answer that returned it showed it
/// (answers may fail, be throttled, or leave members out); after that, what was seen.
fn observe(target: &Target, spec: &GroupSpec) -> anyhow::Result<Vec<Observation>> {
    const ATTEMPTS: u32 = 20;
    let members = spec.members();
    let mut seen: BTreeMap<InstanceId, Observation> = BTreeMap::new();
    let mut last_error = None;
    for attempt in 1..=ATTEMPTS {
        match target.describe(&members) {
            Ok(observations) => {
                seen.extend(observations.into_iter().map(|o| (o.instance.clone(), o)));
                if members.iter().all(|member| seen.contains_key(member)) {
                    break;
                }
            }
            Err(error) if error.kind.is_retryable() => last_error = Some(error),
            Err(error) => {
                let message = format!(
                    "cannot see group `{}`: DescribeInstances failed ({attempt} tries): {error}",
                    spec.name
                );
                return Err(CommandError { exit: Exit::Failed, message }.into());
            }
        }
        if attempt < ATTEMPTS {
            target.pause(std::time::Duration::from_secs(1));
        }
    }
    match (seen.is_empty(), last_error) {
        (true, Some(error)) => {
            let message = format!(
                "cannot see group `{}`: DescribeInstances failed ({ATTEMPTS} tries): {error}",
                spec.name
            );
            Err(CommandError { exit: Exit::Failed, message }.into())
        }
        _ => Ok(seen.into_values().collect()),
    }
}

/// The member the group serves from now; a group without one clear active member is not
/// drilled (a person must mend its tags first).
fn active_member(spec: &GroupSpec, observations: &[Observation]) -> anyhow::Result<InstanceId> {
    let status = group_status(spec, observations);
    match (status.active_source, status.active) {
        (ActiveSource::Conflicting, _) | (_, None) => Err(CommandError {
            exit: Exit::Failed,
            message: format!(
                "group `{}`: {}; the drill did not start (mend the tags first)",
                spec.name,
                status.warnings.join("; ")
            ),
        }
        .into()),
        (_, Some(active)) => Ok(active),
    }
}

/// Running or not, as a client would care.
fn serving(state: Option<InstanceState>) -> &'static str {
    match state {
        Some(InstanceState::Running | InstanceState::Pending) => "running",
        Some(InstanceState::Stopped | InstanceState::Stopping) => "stopped",
        Some(InstanceState::Terminated | InstanceState::ShuttingDown) => "terminated",
        None => "not visible",
    }
}

/// What differs between the group before and after, one sentence each.
fn differences(
    spec: &GroupSpec,
    active: &InstanceId,
    before: &[Observation],
    after: &[Observation],
) -> Vec<String> {
    let state = |observations: &[Observation], member: &InstanceId| {
        observations
            .iter()
            .find(|observation| observation.instance == *member)
            .map(|observation| observation.state)
    };
    let mut differences: Vec<String> = spec
        .members()
        .iter()
        .filter_map(|member| {
            let (was, is) = (serving(state(before, member)), serving(state(after, member)));
            (was != is).then(|| format!("{member} was {was} before the drill and is {is} now"))
        })
        .collect();
    match group_status(spec, after).active {
        Some(now) if now == *active => {}
        Some(now) => differences.push(format!("{now} is recorded active, not {active} as before the drill")),
        None => differences.push(format!("no member is recorded active (it was {active})")),
    }
    differences
}

fn summary(runs: &[DrillRun], differences: &[String], report: Option<&std::path::Path>) -> Vec<String> {
    let mut lines = vec![String::new()];
    for run in runs {
        let (name, report) = (run.name(), &run.report);
        let took = report.finished_at.saturating_since(report.started_at);
        let outcome = match &report.outcome {
            Outcome::FailedOver { from, to } if run.kind == RunKind::DrillSwitchback => {
                format!("switched back from {from} to {to}")
            }
            outcome => outcome.to_string(),
        };
        lines.push(format!("{name:<11} {outcome} (in {})", output::seconds(took)));
    }
    if runs.len() < 2 {
        lines.push("switchover  not tried: the failover did not complete".to_owned());
    }
    if differences.is_empty() {
        lines.push("The group is as it was before the drill.".to_owned());
    } else {
        lines.push("The group is NOT as it was before the drill:".to_owned());
        lines.extend(differences.iter().map(|difference| format!("  {difference}")));
    }
    if let Some(path) = report {
        lines.push(format!("Report: {}", path.display()));
    }
    lines
}

fn document(
    config: &coldstandby_config::Config,
    target: &Target,
    spec: &GroupSpec,
    runs: &[DrillRun],
    differences: &[String],
    configuration: String,
) -> coldstandby_report::Document {
    let primary = spec.primary.clone();
    let label = |member: &InstanceId| {
        if *member == primary {
            "configured primary".to_owned()
        } else {
            "standby".to_owned()
        }
    };
    let mut summary = vec![format!(
        "A rehearsal of group {}: a failover, then a switchover back to the member active before.",
        spec.name
    )];
    if differences.is_empty() {
        summary.push("The group ended as it began.".to_owned());
    } else {
        summary.push(format!("The group did not end as it began: {}.", differences.join("; ")));
    }
    let target_name = match target {
        Target::Sim(_) => target.name(config),
        Target::Aws { .. } => format!("{}, account {}", target.name(config), target.account()),
    };
    coldstandby_report::Document {
        title: format!("Drill of group {}", spec.name),
        tool: crate::report::tool(),
        ran_at: Some(runs.first().map_or(target.now(), |run| run.report.started_at)),
        target: target_name,
        simulated: !target.is_real(),
        summary,
        runs: runs
            .iter()
            .map(|run| crate::report::run(run.title(), &run.report, None, spec, &label, &lanes(target, run)))
            .collect(),
        configuration: Some(configuration),
        distribution: None,
    }
}

/// Where a run's lanes and calls come from: the simulated region's record, or what the run
/// observed and the calls it made on real EC2.
fn lanes<'a>(target: &'a Target, run: &'a DrillRun) -> crate::report::Lanes<'a> {
    match target {
        Target::Sim(sim) => crate::report::Lanes::Region(&sim.region),
        Target::Aws { .. } => crate::report::Lanes::Observed(&run.calls),
    }
}
