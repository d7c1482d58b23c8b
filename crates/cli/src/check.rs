//! `coldstandby check`: validate a configuration file and say what it defines; every problem at
//! once (the config crate collects them), nothing called.

use serde::Serialize;

use crate::{output, CheckArgs, CommandError, Exit, OutputFormat};

#[derive(Serialize)]
struct Checked {
    file: String,
    valid: bool,
    region: String,
    groups: Vec<String>,
}

pub fn run(args: &CheckArgs) -> anyhow::Result<Exit> {
    // An invalid file is an error carrying every problem: main reports it (exit 3).
    let config = coldstandby_config::load(&args.config)?;
    if args.lambda {
        coldstandby_deploy::sizing::worst_case(&config).map_err(|too_long| CommandError {
            exit: Exit::InvalidInput,
            message: format!("{}: for the Lambda function: {too_long}", args.config.display()),
        })?;
    }
    let checked = Checked {
        file: args.config.display().to_string(),
        valid: true,
        region: config.region.clone(),
        groups: config.group_names().into_iter().map(ToOwned::to_owned).collect(),
    };
    match args.output {
        OutputFormat::Json => output::print_json(&checked)?,
        OutputFormat::Text => output::print_lines(&[format!(
            "{}: valid; region {}; {}: {}",
            checked.file,
            checked.region,
            coldstandby_engine::text::counted_len(checked.groups.len(), "group", "groups"),
            checked.groups.join(", ")
        )])?,
    }
    Ok(Exit::Success)
}
