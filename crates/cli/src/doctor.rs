//! `coldstandby doctor`: reads the live account (read-only) and prints each check as PASS, WARN
//! or FAIL with what it found and, for a FAIL, the fix. Exits 1 when anything failed.

use coldstandby_aws::Inspector;
use coldstandby_deploy::doctor::{self, Check, Status};
use coldstandby_engine::text::counted_len;
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
        OutputFormat::Text => output::print_lines(&render(&summary))?,
    }
    Ok(if summary.failed > 0 { Exit::Failed } else { Exit::Success })
}

fn render(summary: &Summary<'_>) -> Vec<String> {
    let subject_width = summary.checks.iter().map(|c| c.subject.len()).max().unwrap_or(0);
    let check_width = summary.checks.iter().map(|c| c.check.len()).max().unwrap_or(0);
    let mut lines = Vec::new();
    for check in summary.checks {
        lines.push(format!(
            "{}  {:<subject_width$}  {:<check_width$}  {}",
            check.status.as_str(),
            check.subject,
            check.check,
            check.found
        ));
        if let Some(fix) = &check.fix {
            if check.status != Status::Pass {
                lines.push(format!("      fix: {fix}"));
            }
        }
    }
    lines.push(String::new());
    let verdict = if summary.failed > 0 { "NOT READY" } else { "ready" };
    lines.push(format!(
        "{}: {} passed, {}, {} failed: {verdict}",
        counted_len(summary.checks.len(), "check", "checks"),
        summary.passed,
        counted_len(summary.warnings, "warning", "warnings"),
        summary.failed
    ));
    lines
}
