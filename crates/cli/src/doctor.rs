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
    let facts = runtime.block_on(async {
        let sdk = coldstandby_aws::ec2::sdk_config(&config.region).await;
        Inspector::new(&sdk).gather(&config, args.function.as_deref(), &args.subnets).await
    });
    let config_path = args.config.display().to_string();
    let context = doctor::Context { config: &config, config_path: &config_path };
    let checks = doctor::run_checks(&context, &facts);
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
