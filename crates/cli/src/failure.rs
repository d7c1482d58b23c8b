//! How a command that fails says so: one message on stderr always, and with `--output json` also
//! a JSON error object on stdout, so a consumer of JSON always gets JSON.

use std::ffi::OsString;

use coldstandby_config::ConfigError;
use serde::Serialize;

use crate::{output, CommandError, Exit};

/// Whether the command line asks for JSON (`--output json` or `--output=json`). Read from the
/// raw arguments so that a command line clap refuses is answered in JSON too.
pub fn wants_json(args: &[OsString]) -> bool {
    let args: Vec<&str> = args.iter().filter_map(|arg| arg.to_str()).collect();
    args.contains(&"--output=json") || args.windows(2).any(|pair| pair[0] == "--output" && pair[1] == "json")
}

/// The JSON printed on stdout when a command fails.
#[derive(Debug, Serialize)]
pub struct ErrorReport {
    pub error: ErrorBody,
}

#[derive(Debug, Serialize)]
pub struct ErrorBody {
    /// `usage`, `invalid-input`, `failed` or `busy`: the exit status in words.
    pub kind: &'static str,
    pub message: String,
    pub exit_status: u8,
    /// The file the problems are in, when one is known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// Each problem with its key and line, for an invalid configuration.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<ProblemReport>,
}

#[derive(Debug, Serialize)]
pub struct ProblemReport {
    pub key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    pub message: String,
}

fn kind(exit: Exit) -> &'static str {
    match exit {
        Exit::Success => "none",
        Exit::Failed => "failed",
        Exit::Usage => "usage",
        Exit::InvalidInput => "invalid-input",
        Exit::Busy => "busy",
        Exit::NeedsAttention => "needs-attention",
    }
}

/// What to try when AWS could not be reached at all, by the error code the adapter gives.
pub fn aws_hint(code: &str) -> Option<&'static str> {
    match code {
        "NoCredentials" => Some(
            "hint: give this shell credentials for the account (AWS_PROFILE, or an instance role), \
             or rehearse without AWS: add --target sim",
        ),
        "NetworkError" => Some(
            "hint: check the route to the AWS endpoints (in a closed network, the VPC endpoints \
             and AWS_ENDPOINT_URL), or rehearse without AWS: add --target sim",
        ),
        _ => None,
    }
}

/// Say what went wrong (stderr, and stdout as JSON when asked) and give the exit status.
pub fn report(error: &anyhow::Error, json: bool) -> Exit {
    let (exit, message, file, problems) = match error.downcast_ref::<ConfigError>() {
        Some(config) => {
            let problems = config
                .problems
                .iter()
                .map(|problem| ProblemReport {
                    key: problem.key.clone(),
                    line: problem.line,
                    message: problem.message.clone(),
                })
                .collect();
            (
                Exit::InvalidInput,
                format!("invalid configuration {config}"),
                Some(config.source_name.clone()),
                problems,
            )
        }
        None => {
            let exit = error.downcast_ref::<CommandError>().map_or(Exit::Failed, |error| error.exit);
            (exit, format!("{error:#}"), None, Vec::new())
        }
    };
    output::print_error_line(&format!("error: {message}"));
    if file.as_deref() == Some(crate::DEFAULT_CONFIG)
        && problems.iter().any(|problem| problem.key == "(file)")
    {
        output::print_error_line(&format!(
            "hint: without --config the file is ${} or else ./{}: give one of them",
            crate::CONFIG_ENV,
            crate::DEFAULT_CONFIG
        ));
    }
    let api_error = error.chain().find_map(|cause| cause.downcast_ref::<coldstandby_engine::ApiError>());
    if let Some(hint) = api_error.and_then(|api_error| aws_hint(&api_error.code)) {
        output::print_error_line(hint);
    }
    if json {
        print_report(exit, message, file, problems);
    }
    exit
}

/// A command line clap refused: its own message (help and version are not failures), and the
/// JSON error when asked.
pub fn report_usage(error: &clap::Error, json: bool) -> std::process::ExitCode {
    use clap::error::ErrorKind;
    // Clap's own message on stderr (or help on stdout); a closed stream is not worth a panic.
    let _ = error.print();
    let code = u8::try_from(error.exit_code()).unwrap_or(Exit::Usage as u8);
    let informational = matches!(
        error.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    );
    if json && !informational {
        let rendered = error.to_string();
        let first = rendered.lines().next().unwrap_or_default();
        print_report(Exit::Usage, first.trim_start_matches("error: ").to_owned(), None, Vec::new());
    }
    std::process::ExitCode::from(code)
}

fn print_report(exit: Exit, message: String, file: Option<String>, problems: Vec<ProblemReport>) {
    let report = ErrorReport {
        error: ErrorBody { kind: kind(exit), message, exit_status: exit as u8, file, problems },
    };
    // Stdout closed or unwritable: the message on stderr already said it.
    let _ = output::print_json(&report);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    #[test]
    fn json_is_wanted_in_either_spelling_only() {
        assert!(wants_json(&args(&["coldstandby", "status", "--output", "json"])));
        assert!(wants_json(&args(&["coldstandby", "status", "--output=json"])));
        assert!(!wants_json(&args(&["coldstandby", "status", "--output", "text"])));
        assert!(!wants_json(&args(&["coldstandby", "status", "json"])));
    }
}
