//! Running as the Lambda function: telling Lambda's way of starting the binary from a person's,
//! logging as Lambda's logging controls ask, and the exit status of a function that cannot start.

use std::ffi::{OsStr, OsString};
use std::path::Path;

use coldstandby_aws::lambda::LambdaError;

use crate::Exit;

/// The file name Lambda's custom runtimes execute from the unzipped package.
pub const BOOTSTRAP: &str = "bootstrap";

/// Whether the process was started the way Lambda starts a `provided.al2023` function: the
/// package's `bootstrap`, executed with no arguments. An executable named `bootstrap`, or one
/// with the Runtime API's address in its environment, started with no arguments, runs the
/// function; any argument means the command line, as always.
pub fn started_by_lambda(args: &[OsString], runtime_api: Option<&OsStr>) -> bool {
    let [program] = args else { return false };
    let named_bootstrap = Path::new(program).file_name() == Some(OsStr::new(BOOTSTRAP));
    named_bootstrap || runtime_api.is_some_and(|address| !address.is_empty())
}

/// How the function's log lines look, from the variables Lambda's logging controls set for a
/// custom runtime: `AWS_LAMBDA_LOG_FORMAT` (`JSON`, the default here, or `Text`) and
/// `AWS_LAMBDA_LOG_LEVEL` (`TRACE` ... `FATAL`; else `RUST_LOG`; else INFO). JSON lines carry
/// the invocation's request id in `spans` (the runtime's `Lambda runtime invoke` span); text
/// lines carry it in their span prefix.
pub fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let format = std::env::var("AWS_LAMBDA_LOG_FORMAT").unwrap_or_default();
    let filter = match std::env::var("AWS_LAMBDA_LOG_LEVEL") {
        Ok(level) => EnvFilter::new(lambda_level(&level)),
        Err(_) => EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
    };
    let builder =
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(false);
    let result = if format.eq_ignore_ascii_case("text") {
        builder.with_target(false).try_init()
    } else {
        builder.json().flatten_event(true).with_current_span(false).with_span_list(true).try_init()
    };
    // Already initialised (cannot happen in this binary): keep the existing subscriber.
    drop(result);
}

/// A Lambda log level as a `tracing` filter: FATAL has no equivalent and means errors only; an
/// unknown word falls back to INFO rather than silencing the function.
fn lambda_level(level: &str) -> &'static str {
    match level.to_ascii_uppercase().as_str() {
        "TRACE" => "trace",
        "DEBUG" => "debug",
        "WARN" => "warn",
        "ERROR" | "FATAL" => "error",
        _ => "info",
    }
}

/// Run the function until Lambda shuts it down.
pub fn run() -> anyhow::Result<Exit> {
    let runtime = crate::sdk_runtime()?;
    match runtime.block_on(coldstandby_aws::lambda::run()) {
        Ok(()) => Ok(Exit::Success),
        Err(error @ LambdaError::NotInLambda { .. }) => Err(crate::CommandError::usage(error.to_string())),
        Err(error @ LambdaError::Config(_)) => {
            Err(crate::CommandError { exit: Exit::InvalidInput, message: error.to_string() }.into())
        }
        Err(error @ LambdaError::Runtime(_)) => Err(error.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    #[test]
    fn lambda_starts_bootstrap_with_no_arguments() {
        assert!(started_by_lambda(&args(&["/var/task/bootstrap"]), None));
        assert!(started_by_lambda(&args(&["./bootstrap"]), Some(OsStr::new("127.0.0.1:9001"))));
        assert!(started_by_lambda(&args(&["coldstandby"]), Some(OsStr::new("127.0.0.1:9001"))));
    }

    #[test]
    fn every_other_start_is_the_command_line() {
        assert!(!started_by_lambda(&args(&["coldstandby"]), None));
        assert!(!started_by_lambda(&args(&["coldstandby"]), Some(OsStr::new(""))));
        assert!(!started_by_lambda(&args(&["/var/task/bootstrap", "--help"]), None));
        assert!(!started_by_lambda(&args(&["bootstrap", "status"]), Some(OsStr::new("127.0.0.1:9001"))));
        assert!(!started_by_lambda(&args(&["/usr/bin/not-bootstrap"]), None));
        assert!(!started_by_lambda(&[], None));
    }

    #[test]
    fn lambda_log_levels_map_to_filters() {
        assert_eq!(lambda_level("DEBUG"), "debug");
        assert_eq!(lambda_level("fatal"), "error");
        assert_eq!(lambda_level("WARN"), "warn");
        assert_eq!(lambda_level("nonsense"), "info");
    }
}
