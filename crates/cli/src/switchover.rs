//! `coldstandby switchover`: a planned move of a group to another member (by default back to the
//! configured primary), with the same fence, readiness checks and movers as a failover.

use coldstandby_engine::status::{group_status, ActiveSource};
use coldstandby_engine::InstanceId;

use crate::failover::{drive, Run};
use crate::target::Target;
use crate::{output, CommandError, Exit, OutputFormat, SwitchoverArgs};

pub fn run(args: &SwitchoverArgs) -> anyhow::Result<Exit> {
    let config = coldstandby_config::load(&args.target.config)?;
    let group = crate::configured_group(&config, &args.target.config, &args.group)?;
    let spec = &group.spec;
    let to = match &args.to {
        Some(text) => {
            let to: InstanceId =
                text.parse().map_err(|error| CommandError::usage(format!("--to: {error}")))?;
            if !spec.contains(&to) {
                let members: Vec<String> = spec.members().iter().map(ToString::to_string).collect();
                let message =
                    format!("--to {to} is not a member of group `{}` ({})", spec.name, members.join(", "));
                return Err(CommandError::usage(message));
            }
            to
        }
        None => spec.primary.clone(),
    };
    let target = Target::open(&config, &args.target)?;
    let observations = target.describe(&spec.members()).map_err(|error| CommandError {
        exit: Exit::Failed,
        message: format!("cannot see group `{}`: DescribeInstances failed: {error}", spec.name),
    })?;
    let status = group_status(spec, &observations);
    let active = match (status.active_source, status.active) {
        (ActiveSource::Conflicting, _) | (_, None) => {
            let message =
                format!("group `{}`: {}; fix the tags by hand first", spec.name, status.warnings.join("; "));
            return Err(CommandError { exit: Exit::Failed, message }.into());
        }
        (_, Some(active)) => active,
    };
    if active == to {
        let message = format!("{to} is already the active member of group `{}`; nothing to do", spec.name);
        match args.target.output {
            OutputFormat::Text => output::print_lines(&[message])?,
            OutputFormat::Json => output::print_json(&serde_json::json!({
                "group": spec.name,
                "outcome": { "result": "already-active", "active": to },
                "message": message,
            }))?,
        }
        return Ok(Exit::Success);
    }
    let run = Run {
        trigger: "planned (coldstandby switchover)",
        verb: "Switching over",
        effect: "it stops the active member and starts another",
        switchover: true,
        dry_run: args.dry_run,
        confirmed: args.yes,
    };
    drive(&config, &target, &args.target, spec.switchover(&active, &to), &run)
}
