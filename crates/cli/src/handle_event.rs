//! `coldstandby handle-event`: the Lambda handler, run once from the command line.

use coldstandby_handler::{GroupResult, Handled, HandlerError};
use coldstandby_report::utc;

use crate::output;
use crate::progress::LiveTimeline;
use crate::target::Target;
use crate::{CommandError, Exit, HandleEventArgs, OutputFormat};

pub fn run(args: &HandleEventArgs) -> anyhow::Result<Exit> {
    let config = coldstandby_config::load(&args.target.config)?;
    let text = crate::input::read_text(&args.event, "the event", true)?;
    let event: serde_json::Value = serde_json::from_str(&text).map_err(|error| CommandError {
        exit: Exit::InvalidInput,
        message: format!("{}: not valid JSON: {error}", args.event.display()),
    })?;
    let target = Target::open(&config, &args.target)?;
    let json = args.target.output == OutputFormat::Json;
    if !json {
        output::print_lines(&[
            format!("Handling the event in {}", target.name(&config)),
            String::new(),
            output::header(),
        ])?;
    }
    let mut live = LiveTimeline::new(target.now(), !json);
    let result = target.handle_event(&config, &event, &mut live);
    live.finish();
    target.save()?;
    // As the function does: each run's outcome published to the configured topic.
    for report in coldstandby_handler::reports(&result) {
        target.notify(coldstandby_engine::notification::RunKind::Failover, report);
    }
    match result {
        Ok(handled) => {
            if json {
                output::print_json(&handled)?;
            } else {
                output::print_lines(&summary(&handled))?;
            }
            Ok(Exit::Success)
        }
        Err(HandlerError::MalformedEvent(error)) => Err(CommandError {
            exit: Exit::InvalidInput,
            message: format!("{}: {error}", args.event.display()),
        }
        .into()),
        Err(HandlerError::Busy(busy)) => {
            Err(CommandError { exit: Exit::Busy, message: busy.to_string() }.into())
        }
        Err(error) => Err(CommandError { exit: Exit::Failed, message: error.to_string() }.into()),
    }
}

fn summary(handled: &Handled) -> Vec<String> {
    let mut lines = vec![String::new()];
    match handled {
        Handled::NoGroup { alarm } => lines.push(format!("No group lists alarm `{alarm}`: nothing to do.")),
        Handled::Ignored { alarm, state, reason } => {
            lines.push(format!("Alarm `{alarm}` is {}: ignored ({reason}).", state.as_str()));
        }
        Handled::Acted { alarm, state, groups, .. } => {
            lines.push(format!("Alarm `{alarm}` went to {}:", state.as_str()));
            for group in groups {
                lines.push(match group {
                    GroupResult::Ran { group, outcome, .. } => format!("  group {group}: {outcome}"),
                    GroupResult::Duplicate { group, handled_by } => format!(
                        "  group {group}: this state change was already handled ({handled_by} carries its trigger tag); nothing to do"
                    ),
                    GroupResult::HeldElsewhere { group, owner } => format!(
                        "  group {group}: its alarm fires too, and {owner} holds its lease and is failing it over; nothing to do"
                    ),
                    GroupResult::History { group, active, activated_at, evidence_at } => format!(
                        "  group {group}: the alarm changed state at {}, before {active} was activated at {}: history, nothing to do",
                        utc(*evidence_at),
                        utc(*activated_at)
                    ),
                });
            }
        }
    }
    lines
}
