//! `coldstandby status`: every group's members, states and recorded active member.

use anyhow::Context;
use coldstandby_engine::clients::{Endpoint, Step};
use coldstandby_engine::status::{group_status, ActiveSource, GroupStatus};
use coldstandby_engine::InstanceState;
use serde::Serialize;

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
        let mut status = group_status(&group.spec, &observations);
        let clients = clients_status(&target, &group.spec, &observations, &mut status);
        statuses.push(StatusWithClients { status, clients });
    }
    match args.target.output {
        OutputFormat::Json => output::print_json(&statuses)?,
        OutputFormat::Text => output::print_lines(&render(&target.name(&config), &statuses))?,
    }
    if statuses.iter().all(|group| group.status.healthy) {
        Ok(Exit::Success)
    } else {
        Ok(Exit::NeedsAttention)
    }
}

/// A group's status and where each of its movers sends clients.
#[derive(Serialize)]
struct StatusWithClients {
    #[serde(flatten)]
    status: GroupStatus,
    clients: Vec<ClientsStatus>,
}

/// One mover, read now and judged against the active member.
#[derive(Serialize)]
struct ClientsStatus {
    mover: String,
    /// Whether it sends clients to the active member (and only there).
    to_active: bool,
    detail: String,
}

/// Read every mover of `spec` and judge it against the active member; a mover that disagrees
/// makes the group need attention.
fn clients_status(
    target: &Target,
    spec: &coldstandby_engine::GroupSpec,
    observations: &[coldstandby_engine::Observation],
    status: &mut GroupStatus,
) -> Vec<ClientsStatus> {
    let endpoints: Vec<Endpoint> = observations.iter().filter_map(|o| o.endpoint()).collect();
    let active = status.active.as_ref().and_then(|active| endpoints.iter().find(|e| e.instance == *active));
    let mut clients = Vec::new();
    for mover in &spec.movers {
        let (to_active, detail) = match active {
            None => (false, "the active member's interface and address are unknown".to_owned()),
            Some(active) => match target.read_clients(mover, active) {
                Err(error) => (false, format!("cannot be read: {error}")),
                Ok(view) => match mover.next_step(&view, active, &endpoints) {
                    Step::Verified => (true, format!("sends clients to {}", active.instance)),
                    Step::Wait(reason) => (false, format!("moving to {}: {reason}", active.instance)),
                    Step::Change(changes) => {
                        let list: Vec<String> = changes.iter().map(ToString::to_string).collect();
                        (
                            false,
                            format!(
                                "does not send clients to {}; needs {}",
                                active.instance,
                                list.join(", ")
                            ),
                        )
                    }
                },
            },
        };
        if !to_active {
            status.healthy = false;
            status.warnings.push(format!("{mover}: {detail}"));
        }
        clients.push(ClientsStatus { mover: mover.to_string(), to_active, detail });
    }
    clients
}

fn render(target: &str, statuses: &[StatusWithClients]) -> Vec<String> {
    let mut lines = vec![format!("Groups in {target}")];
    for StatusWithClients { status, clients } in statuses {
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
        for client in clients.iter().filter(|client| client.to_active) {
            lines.push(format!("  clients: {}: {}", client.mover, client.detail));
        }
        for warning in &status.warnings {
            lines.push(format!("  warning: {warning}"));
        }
    }
    lines
}
