//! `coldstandby failover`: one group, fenced and promoted on the target, with a live timeline.

use coldstandby_engine::lock::{GroupLock, InProcessLocks};
use coldstandby_engine::notification::RunKind;
use coldstandby_engine::{Failover, Failure, Options, Outcome, Report};

use crate::output;
use crate::progress::LiveTimeline;
use crate::target::Target;
use crate::{CommandError, Exit, FailoverArgs, OutputFormat};

pub fn run(args: &FailoverArgs) -> anyhow::Result<Exit> {
    let config = coldstandby_config::load(&args.target.config)?;
    let group = crate::configured_group(&config, &args.target.config, &args.group)?;
    let target = Target::open(&config, &args.target)?;
    let run = Run {
        trigger: "manual (coldstandby failover)",
        verb: "Failing over",
        effect: "it stops the active member and starts another",
        switchover: false,
        dry_run: args.dry_run,
        confirmed: args.yes,
    };
    drive(&config, &target, &args.target, group.spec.clone(), &run)
}

/// What a command-line run of the engine is called and whether it changes anything.
pub struct Run {
    pub trigger: &'static str,
    /// "Failing over", "Switching over": the first line of the text output.
    pub verb: &'static str,
    /// What it does to the instances, for the question asked before a real change.
    pub effect: &'static str,
    /// A planned move: its result reads "switched over".
    pub switchover: bool,
    pub dry_run: bool,
    /// `--yes`: a change to real EC2 needs no question.
    pub confirmed: bool,
}

/// Run `spec`'s failover on `target` under the group's lock, with a live timeline (text) or the
/// report (JSON), and keep a simulated region.
pub fn drive(
    config: &coldstandby_config::Config,
    target: &Target,
    target_args: &crate::TargetArgs,
    spec: coldstandby_engine::GroupSpec,
    run: &Run,
) -> anyhow::Result<Exit> {
    confirm_real_change(config, target, &spec, run)?;
    let locks = InProcessLocks::default();
    let _guard = locks
        .try_lock(&spec.name)
        .map_err(|busy| CommandError { exit: Exit::Busy, message: busy.to_string() })?;

    let text = target_args.output == OutputFormat::Text;
    let now = target.now();
    let options = Options {
        trigger: run.trigger.to_owned(),
        dry_run: run.dry_run,
        // The seed of the engine's retry jitter: the simulated timings' on a rehearsal (so a seed
        // replays), the clock's on real EC2.
        seed: target_args.seed.unwrap_or_else(|| if target.is_real() { now.unix_millis() } else { 1 }),
        ..Options::default()
    };
    if text {
        let mode = if run.dry_run { " (dry run: nothing will be changed)" } else { "" };
        output::print_lines(&[
            format!("{} group `{}` in {}{mode}", run.verb, spec.name, target.name(config)),
            String::new(),
            output::header(),
        ])?;
    }
    let mut live = LiveTimeline::new(now, text);
    let failover = Failover::new(spec, options, now);
    // A dry run changes nothing, so it takes no lease.
    let lease =
        config.lease.as_ref().filter(|_| !run.dry_run).map(|lease| lease.settings(crate::process_owner()));
    let report = target.run_failover(failover, lease.as_ref(), &mut live);
    live.finish();
    if !run.dry_run {
        target.save()?;
        target.notify(if run.switchover { RunKind::Switchover } else { RunKind::Failover }, &report);
    }

    if text {
        print_summary(&report, run)?;
    } else {
        output::print_json(&report)?;
    }
    if let Outcome::Failed { failure: Failure::PermanentError { error, .. } } = &report.outcome {
        if let Some(hint) = crate::failure::aws_hint(&error.code) {
            output::print_error_line(hint);
        }
    }
    Ok(match &report.outcome {
        outcome if outcome.is_success() => Exit::Success,
        Outcome::Failed { failure: Failure::LeaseHeld { .. } } => Exit::Busy,
        _ => Exit::Failed,
    })
}

/// A change to real EC2 is made only when the person at the terminal says so, or with `--yes`;
/// without a terminal to ask, `--yes` is required. Rehearsals and dry runs ask nothing.
pub fn confirm_real_change(
    config: &coldstandby_config::Config,
    target: &Target,
    spec: &coldstandby_engine::GroupSpec,
    run: &Run,
) -> anyhow::Result<()> {
    use std::io::{BufRead, IsTerminal, Write};
    if !target.is_real() || run.dry_run || run.confirmed {
        return Ok(());
    }
    let members: Vec<String> = spec.members().iter().map(ToString::to_string).collect();
    let what = format!(
        "{} group `{}` acts on real EC2 instances ({}) in account {}, region {}: {}",
        run.verb,
        spec.name,
        members.join(", "),
        target.account(),
        config.region,
        run.effect
    );
    if !std::io::stdin().is_terminal() {
        return Err(CommandError::usage(format!(
            "{what}. Not run from a terminal, so nobody can confirm: add --yes"
        )));
    }
    let mut err = std::io::stderr().lock();
    let _ = write!(err, "{what}.\nContinue? Type yes to go on: ");
    let _ = err.flush();
    let mut answer = String::new();
    // One line, from a person: bounded by what they type.
    std::io::stdin().lock().read_line(&mut answer).map_err(|error| CommandError {
        exit: Exit::Failed,
        message: format!("reading the answer: {error}"),
    })?;
    if matches!(answer.trim().to_ascii_lowercase().as_str(), "yes" | "y") {
        Ok(())
    } else {
        Err(CommandError { exit: Exit::Failed, message: "not confirmed: nothing was done".to_owned() }.into())
    }
}

fn print_summary(report: &Report, run: &Run) -> anyhow::Result<()> {
    let mut lines = vec![String::new()];
    match &report.outcome {
        Outcome::Planned { plan } => {
            lines.push(format!("Plan (ordering {}):", plan.ordering));
            lines.push(format!("  active now: {}", plan.active));
            for (instance, state) in &plan.fence {
                let state = state.map_or("not visible".to_owned(), |s| s.to_string());
                lines.push(format!("  fence {instance} ({state}): stop it and confirm it stopped"));
            }
            for (index, (instance, state)) in plan.candidates.iter().enumerate() {
                let state = state.map_or("not visible".to_owned(), |s| s.to_string());
                let role = if index == 0 { "promote" } else { "then, if that fails," };
                lines.push(format!("  {role} {instance} ({state})"));
            }
            for (instance, reason) in &plan.excluded {
                lines.push(format!("  skip {instance}: {reason}"));
            }
            lines.push("  record the promoted standby as active (tag coldstandby:role)".to_owned());
        }
        Outcome::FailedOver { from, to } if run.switchover => {
            let took = report.finished_at.saturating_since(report.started_at);
            lines.push(format!("Result: switched over from {from} to {to} (in {})", output::seconds(took)));
        }
        outcome => {
            let took = report.finished_at.saturating_since(report.started_at);
            lines.push(format!("Result: {outcome} (in {})", output::seconds(took)));
        }
    }
    output::print_lines(&lines)
}
