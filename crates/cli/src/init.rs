//! `coldstandby init`: a commented starter configuration from a primary and its standbys (or one
//! group per `coldstandby:group` tag), with each instance's name and zone from DescribeInstances
//! when EC2 answers. Checked as every command checks a configuration before it is written; an
//! existing file is kept unless --force.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use coldstandby_engine::tags::{GROUP_TAG, ROLE_TAG};
use coldstandby_engine::text::counted_len;
use coldstandby_engine::{InstanceId, InstanceState, Observation};

use crate::{output, CommandError, Exit, InitArgs};

/// One group of the starter file.
struct Starter {
    name: String,
    primary: InstanceId,
    standbys: Vec<InstanceId>,
}

pub fn run(args: &InitArgs) -> anyhow::Result<Exit> {
    let region = match &args.region {
        Some(region) => region.clone(),
        None => ["AWS_REGION", "AWS_DEFAULT_REGION"]
            .into_iter()
            .find_map(|variable| std::env::var(variable).ok().filter(|value| !value.is_empty()))
            .ok_or_else(|| {
                CommandError::usage("give --region (AWS_REGION and AWS_DEFAULT_REGION are not set)")
            })?,
    };
    let (groups, described) = if args.from_tags { from_tags(&region)? } else { from_flags(args, &region)? };
    let text = starter(&region, &groups, &described);
    // The same check every command makes: a starter that would not load is not written.
    coldstandby_config::parse(&text, &args.config.display().to_string())?;
    write(&args.config, &text, args.force)?;
    let names: Vec<&str> = groups.iter().map(|group| group.name.as_str()).collect();
    let mut lines = vec![format!(
        "wrote {}: {} ({}); next: `coldstandby check --config {}`",
        args.config.display(),
        counted_len(groups.len(), "group", "groups"),
        names.join(", "),
        args.config.display()
    )];
    lines.extend(groups.iter().filter_map(|group| zone_warning(group, &described)));
    output::print_lines(&lines)?;
    Ok(Exit::Success)
}

/// The group the command line names, and what EC2 says of its members (unless --offline).
fn from_flags(args: &InitArgs, region: &str) -> anyhow::Result<(Vec<Starter>, Vec<Observation>)> {
    let parse = |text: &str, flag: &str| -> anyhow::Result<InstanceId> {
        text.parse().map_err(|error| CommandError::usage(format!("{flag} {text}: {error}")))
    };
    let primary = parse(args.primary.as_deref().unwrap_or_default(), "--primary")?;
    let standbys =
        args.standbys.iter().map(|text| parse(text, "--standby")).collect::<anyhow::Result<Vec<_>>>()?;
    let members: Vec<InstanceId> = std::iter::once(primary.clone()).chain(standbys.iter().cloned()).collect();
    let described = if args.offline { Vec::new() } else { describe(region, &members) };
    Ok((vec![Starter { name: args.name.clone(), primary, standbys }], described))
}

/// One group per `coldstandby:group` tag value: the member tagged active is its primary (else
/// the running one, else the first by id); the others are its standbys, by id.
fn from_tags(region: &str) -> anyhow::Result<(Vec<Starter>, Vec<Observation>)> {
    let runtime = crate::sdk_runtime()?;
    let tagged = runtime
        .block_on(async {
            let sdk = coldstandby_aws::ec2::sdk_config(region).await;
            coldstandby_aws::Ec2Provider::from_config(&sdk).describe_tagged(GROUP_TAG).await
        })
        .map_err(|error| CommandError {
            exit: Exit::Failed,
            message: format!("--from-tags: DescribeInstances failed: {error}"),
        })?;
    let mut by_group: BTreeMap<String, Vec<&Observation>> = BTreeMap::new();
    for observation in &tagged {
        if let Some(group) = observation.tags.get(GROUP_TAG) {
            by_group.entry(group.clone()).or_default().push(observation);
        }
    }
    if by_group.is_empty() {
        return Err(CommandError::usage(format!("no instance in {region} carries the tag {GROUP_TAG}")));
    }
    let mut groups = Vec::new();
    for (name, mut members) in by_group {
        members.sort_by(|a, b| a.instance.cmp(&b.instance));
        let recorded =
            members.iter().position(|m| m.tags.get(ROLE_TAG).map(String::as_str) == Some("active"));
        let running = members.iter().position(|m| m.state == InstanceState::Running);
        let primary = members.remove(recorded.or(running).unwrap_or(0)).instance.clone();
        if members.is_empty() {
            return Err(CommandError::usage(format!(
                "group `{name}` has only {primary} tagged: tag its standbys {GROUP_TAG}={name} too"
            )));
        }
        let standbys = members.iter().map(|member| member.instance.clone()).collect();
        groups.push(Starter { name, primary, standbys });
    }
    Ok((groups, tagged))
}

/// The members as EC2 describes them, or none (and why, on stderr) when it cannot be asked.
fn describe(region: &str, members: &[InstanceId]) -> Vec<Observation> {
    let answer = crate::sdk_runtime().map(|runtime| {
        runtime.block_on(async {
            let sdk = coldstandby_aws::ec2::sdk_config(region).await;
            let provider = coldstandby_aws::Ec2Provider::from_config(&sdk);
            coldstandby_engine::Provider::describe(&provider, members).await
        })
    });
    match answer {
        Ok(Ok(observations)) => observations,
        Ok(Err(error)) => {
            output::print_error_line(&format!(
                "note: EC2 could not be asked for the instances' names and zones ({error}); \
                 writing the file without them"
            ));
            Vec::new()
        }
        Err(error) => {
            output::print_error_line(&format!("note: {error:#}; writing the file without names and zones"));
            Vec::new()
        }
    }
}

/// "  # web-1, ap-northeast-1a" for an instance EC2 described, else nothing.
fn note(instance: &InstanceId, described: &[Observation]) -> String {
    let Some(observation) = described.iter().find(|observation| observation.instance == *instance) else {
        return String::new();
    };
    match observation.tags.get("Name") {
        Some(name) => format!("  # {name}, {}", observation.availability_zone),
        None => format!("  # {}", observation.availability_zone),
    }
}

fn starter(region: &str, groups: &[Starter], described: &[Observation]) -> String {
    let mut text = format!(
        "# coldstandby configuration, written by `coldstandby init`.\n\
         # Every key is in docs/configuration.md; `coldstandby check` validates the file.\n\
         region = \"{region}\"\n"
    );
    for group in groups {
        let list: Vec<String> = group.standbys.iter().map(|standby| format!("\"{standby}\"")).collect();
        text.push_str(&format!(
            "\n[[group]]\nname = \"{}\"\nprimary = \"{}\"{}\nstandbys = [{}]  # tried in this order\n",
            group.name,
            group.primary,
            note(&group.primary, described),
            list.join(", ")
        ));
        for standby in &group.standbys {
            let note = note(standby, described);
            if !note.is_empty() {
                text.push_str(&format!("# {standby}:{}\n", note.trim_start_matches("  #")));
            }
        }
        text.push_str(GROUP_SETTINGS);
    }
    text
}

/// The settings most often changed, commented out with their defaults, under each group.
const GROUP_SETTINGS: &str = "\
alarms = []  # names of the CloudWatch alarms whose ALARM state fails this group over
# ordering = \"fence-first\"           # or \"parallel\": start the standby while the primary stops
# stop_timeout_seconds = 60          # then the stop is forced
# forced_stop_timeout_seconds = 120  # then the fence fails closed: nothing is promoted
# start_timeout_seconds = 300        # each standby's time to reach running
# failover_timeout_seconds = 840     # the whole failover's deadline

# Readiness checks and movers (docs/clients.md), for example:
# [[group.readiness]]
# type = \"tcp\"
# port = 443
";

/// A standby EC2 places in the primary's zone does not survive that zone's outage.
fn zone_warning(group: &Starter, described: &[Observation]) -> Option<String> {
    let zone_of = |instance: &InstanceId| {
        described.iter().find(|observation| observation.instance == *instance).map(|o| &o.availability_zone)
    };
    let primary_zone = zone_of(&group.primary)?;
    let same: Vec<String> = group
        .standbys
        .iter()
        .filter(|standby| zone_of(standby) == Some(primary_zone))
        .map(ToString::to_string)
        .collect();
    (!same.is_empty()).then(|| {
        format!(
            "warning: group `{}`: {} in {primary_zone}, the primary's zone: an outage of that zone takes both",
            group.name,
            same.join(", ")
        )
    })
}

/// Write `text` to `path`; an existing file is replaced only with `force`.
fn write(path: &Path, text: &str, force: bool) -> anyhow::Result<()> {
    let opened = if force { std::fs::File::create(path) } else { std::fs::File::create_new(path) };
    let mut file = opened.map_err(|error| -> anyhow::Error {
        if error.kind() == std::io::ErrorKind::AlreadyExists {
            CommandError::usage(format!("{} exists: give --force to replace it", path.display()))
        } else {
            CommandError { exit: Exit::Failed, message: format!("writing {}: {error}", path.display()) }
                .into()
        }
    })?;
    file.write_all(text.as_bytes()).map_err(|error| CommandError {
        exit: Exit::Failed,
        message: format!("writing {}: {error}", path.display()),
    })?;
    Ok(())
}
