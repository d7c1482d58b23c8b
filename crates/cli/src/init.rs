//! `coldstandby init`: a commented starter configuration from a primary and its standbys, with
//! each instance's name and zone from DescribeInstances when EC2 answers. Checked as every
//! command checks a configuration before it is written; an existing file is kept unless --force.

use std::io::Write;
use std::path::Path;

use coldstandby_engine::{InstanceId, Observation};

use crate::{output, CommandError, Exit, InitArgs};

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
    let parse = |text: &str, flag: &str| -> anyhow::Result<InstanceId> {
        text.parse().map_err(|error| CommandError::usage(format!("{flag} {text}: {error}")))
    };
    let primary = parse(&args.primary, "--primary")?;
    let standbys =
        args.standbys.iter().map(|text| parse(text, "--standby")).collect::<anyhow::Result<Vec<_>>>()?;
    let members: Vec<InstanceId> = std::iter::once(primary.clone()).chain(standbys.iter().cloned()).collect();
    let described = if args.offline { Vec::new() } else { describe(&region, &members) };
    let text = starter(&args.name, &region, &primary, &standbys, &described);
    // The same check every command makes: a starter that would not load is not written.
    coldstandby_config::parse(&text, &args.config.display().to_string())?;
    write(&args.config, &text, args.force)?;
    let mut lines = vec![format!(
        "wrote {}: group `{}`, primary {primary}, {}; next: `coldstandby check --config {}`",
        args.config.display(),
        args.name,
        coldstandby_engine::text::counted_len(standbys.len(), "standby", "standbys"),
        args.config.display()
    )];
    lines.extend(zone_warning(&primary, &described));
    output::print_lines(&lines)?;
    Ok(Exit::Success)
}

/// The members as EC2 describes them, or none (and why, on stderr) when it cannot be asked.
fn describe(region: &str, members: &[InstanceId]) -> Vec<Observation> {
    let answer = crate::sdk_runtime().and_then(|runtime| {
        runtime.block_on(async {
            let sdk = coldstandby_aws::ec2::sdk_config(region).await;
            let provider = coldstandby_aws::Ec2Provider::from_config(&sdk);
            Ok(coldstandby_engine::Provider::describe(&provider, members).await)
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

/// "web-1, ap-northeast-1a" for an instance EC2 described, else nothing.
fn note(instance: &InstanceId, described: &[Observation]) -> String {
    let Some(observation) = described.iter().find(|observation| observation.instance == *instance) else {
        return String::new();
    };
    match observation.tags.get("Name") {
        Some(name) => format!("  # {name}, {}", observation.availability_zone),
        None => format!("  # {}", observation.availability_zone),
    }
}

fn starter(
    name: &str,
    region: &str,
    primary: &InstanceId,
    standbys: &[InstanceId],
    described: &[Observation],
) -> String {
    let list: Vec<String> = standbys.iter().map(|standby| format!("\"{standby}\"")).collect();
    let mut text = format!(
        "# coldstandby configuration, written by `coldstandby init`.\n\
         # Every key is in docs/configuration.md; `coldstandby check` validates the file.\n\
         region = \"{region}\"\n\
         \n\
         [[group]]\n\
         name = \"{name}\"\n\
         primary = \"{primary}\"{}\n\
         standbys = [{}]  # tried in this order\n",
        note(primary, described),
        list.join(", ")
    );
    for standby in standbys {
        let note = note(standby, described);
        if !note.is_empty() {
            text.push_str(&format!("# {standby}:{}\n", note.trim_start_matches("  #")));
        }
    }
    text.push_str(
        "alarms = []  # names of the CloudWatch alarms whose ALARM state fails this group over\n\
         # ordering = \"fence-first\"           # or \"parallel\": start the standby while the primary stops\n\
         # stop_timeout_seconds = 60          # then the stop is forced\n\
         # forced_stop_timeout_seconds = 120  # then the fence fails closed: nothing is promoted\n\
         # start_timeout_seconds = 300        # each standby's time to reach running\n\
         # failover_timeout_seconds = 840     # the whole failover's deadline\n\
         \n\
         # Readiness checks and movers (docs/clients.md), for example:\n\
         # [[group.readiness]]\n\
         # type = \"tcp\"\n\
         # port = 443\n",
    );
    text
}

/// A standby EC2 places in the primary's zone does not survive that zone's outage.
fn zone_warning(primary: &InstanceId, described: &[Observation]) -> Option<String> {
    let zone_of = |instance: &InstanceId| {
        described
            .iter()
            .find(|observation| observation.instance == *instance)
            .map(|o| o.availability_zone.clone())
    };
    let primary_zone = zone_of(primary)?;
    let same: Vec<String> = described
        .iter()
        .filter(|observation| {
            observation.instance != *primary && observation.availability_zone == primary_zone
        })
        .map(|observation| observation.instance.to_string())
        .collect();
    (!same.is_empty()).then(|| {
        format!(
            "warning: {} in {primary_zone}, the primary's zone: an outage of that zone takes both",
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
