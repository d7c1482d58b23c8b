//! `coldstandby status`: every group's members, states and recorded active member.

use anyhow::Context;
use coldstandby_engine::status::{group_status, ActiveSource, GroupStatus};
use coldstandby_engine::InstanceState;

use crate::output;
use crate::target::Target;
use crate::{Exit, OutputFormat, StatusArgs};

pub fn run(args: &StatusArgs) -> anyhow::Result<Exit> {
    let config = coldstandby_config::load(&args.target.config)?;
    let target = Target::open(&config, &args.target)?;
    let mut statuses = Vec::new();
    for group in &config.groups {
        let members = group.spec.members();
        let observations = target
            .describe(&members)
            .with_context(|| format!("describing the instances of group `{}`", group.spec.name))?;
        statuses.push(group_status(&group.spec, &observations));
    }
    match args.target.output {
        OutputFormat::Json => output::print_json(&statuses)?,
        OutputFormat::Text => output::print_lines(&render(&target.name(&config), &statuses))?,
    }
    Ok(Exit::Success)
}

fn render(target: &str, statuses: &[GroupStatus]) -> Vec<String> {
    let mut lines = vec![format!("Groups in {target}")];
    for status in statuses {
        lines.push(String::new());
        let health = if status.healthy { "healthy" } else { "NEEDS ATTENTION" };
        let active = match (&status.active, status.active_source) {
            (Some(active), ActiveSource::Recorded) => format!("{active} (recorded in tags)"),
            (Some(active), _) => format!("{active} (the configured primary; nothing recorded yet)"),
            (None, _) => "unknown: conflicting records".to_owned(),
        };
        lines.push(format!("group {}: {health}; active: {active}", status.group));
        lines.push(format!(
            "  {:<21} {:<9} {:<14} {:<17} {}",
            "instance", "config", "state", "zone", "recorded role"
        ));
        for member in &status.members {
            lines.push(format!(
                "  {:<21} {:<9} {:<14} {:<17} {}",
                member.instance.as_str(),
                member.configured_as,
                member.state.map_or("not visible", InstanceState::as_str),
                member.availability_zone.as_deref().unwrap_or("-"),
                member.recorded_role.map_or("-", |role| role.as_str()),
            ));
        }
        for warning in &status.warnings {
            lines.push(format!("  warning: {warning}"));
        }
    }
    lines
}
