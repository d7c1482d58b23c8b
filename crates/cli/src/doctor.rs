//! `coldstandby doctor`: reads the live account (read-only) and prints each check as PASS, WARN
//! or FAIL with what it found and, for a FAIL, the fix. Exits 1 when anything failed.

use coldstandby_aws::Inspector;
use coldstandby_deploy::doctor::{self, Check, Status};
use serde::Serialize;

use crate::{output, DoctorArgs, Exit, OutputFormat};

#[derive(Debug, Serialize)]
struct Summary<'a> {
    region: &'a str,
    function: Option<&'a str>,
    passed: usize,
    warnings: usize,
    failed: usize,
    checks: &'a [Check],
}

/// Gather the account's facts (read-only) and judge them: every check, in doctor's order.
pub fn checks(
    runtime: &tokio::runtime::Runtime,
    config: &coldstandby_config::Config,
    config_path: &str,
    function: Option<&str>,
    subnets: &[String],
) -> Vec<Check> {
    let facts = runtime.block_on(async {
        let sdk = coldstandby_aws::ec2::sdk_config(&config.region).await;
        Inspector::new(&sdk).gather(config, function, subnets).await
    });
    doctor::run_checks(&doctor::Context { config, config_path }, &facts)
}

pub fn run(args: &DoctorArgs) -> anyhow::Result<Exit> {
    let config = coldstandby_config::load(&args.config)?;
    let runtime = crate::sdk_runtime()?;
    if args.output == OutputFormat::Text {
        crate::output::print_error_line(&format!(
            "checking {} in {} ...",
            args.config.display(),
            config.region
        ));
    }
    let config_path = args.config.display().to_string();
    let checks = checks(&runtime, &config, &config_path, args.function.as_deref(), &args.subnets);
    let count = |status: Status| checks.iter().filter(|check| check.status == status).count();
    let summary = Summary {
        region: &config.region,
        function: args.function.as_deref(),
        passed: count(Status::Pass),
        warnings: count(Status::Warn),
        failed: count(Status::Fail),
        checks: &checks,
    };
    match args.output {
        OutputFormat::Json => output::print_json(&summary)?,
        OutputFormat::Text => output::print_lines(&doctor::render_text(&checks))?,
    }
    Ok(if summary.failed > 0 { Exit::Failed } else { Exit::Success })
}
