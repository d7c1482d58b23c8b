//! `coldstandby template`: the CloudFormation template (or the same as a Terraform module) for a
//! configuration, the execution role's
//! policy as JSON for one account, the quarantine ACL, or two watchers. All read the file only;
//! nothing touches AWS.

use std::collections::BTreeMap;

use coldstandby_deploy::policy::{self, RoleOptions};
use coldstandby_deploy::template::{self, TemplateError, TemplateOptions};

use crate::{
    CloudFormationArgs, CommandError, Exit, IamPolicyArgs, TemplateArgs, TemplateKind, WatchersArgs,
};

pub fn run(args: &TemplateArgs) -> anyhow::Result<Exit> {
    match &args.kind {
        TemplateKind::Cloudformation(args) => cloudformation(args, template::cloudformation),
        TemplateKind::Terraform(args) => cloudformation(args, coldstandby_deploy::terraform::terraform),
        TemplateKind::IamPolicy(args) => iam_policy(args),
        TemplateKind::QuarantineAcl => {
            crate::output::write_stdout(template::quarantine_acl().as_bytes())?;
            Ok(Exit::Success)
        }
        TemplateKind::Watchers(args) => watchers(args),
    }
}

fn invalid(message: String) -> anyhow::Error {
    CommandError { exit: Exit::InvalidInput, message }.into()
}

/// The function's deployment, rendered by `render` (CloudFormation or Terraform).
fn cloudformation(
    args: &CloudFormationArgs,
    render: fn(&coldstandby_config::Config, &TemplateOptions) -> Result<String, TemplateError>,
) -> anyhow::Result<Exit> {
    let config = coldstandby_config::load(&args.config)?;
    if !args.vpc {
        // A function outside the VPC cannot reach a private address: such a check would fail
        // every failover. Said now, not on the day of the outage.
        let unreachable: Vec<String> = config
            .groups
            .iter()
            .flat_map(|group| {
                coldstandby_config::network_checks(&group.spec.readiness)
                    .map(move |check| format!("group `{}`: `{}`", group.spec.name, check.probe))
            })
            .collect();
        if !unreachable.is_empty() {
            return Err(invalid(format!(
                "{}: these readiness checks connect to the member's private address, which a function \
                 outside the VPC cannot reach: {}; deploy it in the VPC (--vpc) or use ec2-status and \
                 target-health checks, which ask AWS",
                args.config.display(),
                unreachable.join(", ")
            )));
        }
    }
    let options = TemplateOptions {
        function_name: args.function_name.clone(),
        log_retention_days: args.log_retention_days,
        retry_attempts: args.retry_attempts,
        max_event_age_seconds: args.max_event_age_seconds,
        kms_key_arns: args.kms_key_arn.clone(),
        encryption_key_arn: args.encryption_key_arn.clone(),
        vpc: args.vpc,
        config_in_environment: !args.config_in_zip,
    };
    let text = render(&config, &options).map_err(|error| match error {
        TemplateError::Option(problems) => CommandError::usage(problems),
        other => invalid(format!("{}: {other}", args.config.display())),
    })?;
    crate::output::write_stdout(text.as_bytes())?;
    Ok(Exit::Success)
}

/// The two watchers' template; a configuration they cannot run from exits 3.
fn watchers(args: &WatchersArgs) -> anyhow::Result<Exit> {
    let config = coldstandby_config::load(&args.config)?;
    let text = coldstandby_deploy::watchers::watchers(&config).map_err(|error| CommandError {
        exit: Exit::InvalidInput,
        message: format!("{}: {error}", args.config.display()),
    })?;
    crate::output::write_stdout(text.as_bytes())?;
    Ok(Exit::Success)
}

fn iam_policy(args: &IamPolicyArgs) -> anyhow::Result<Exit> {
    let config = coldstandby_config::load(&args.config)?;
    if !(args.account.len() == 12 && args.account.bytes().all(|b| b.is_ascii_digit())) {
        return Err(CommandError::usage(format!(
            "--account `{}`: an AWS account id is 12 digits",
            args.account
        )));
    }
    let options = RoleOptions {
        function_name: args.function_name.clone(),
        kms_key_arns: args.kms_key_arn.clone(),
        in_vpc: args.vpc_id.is_some(),
    };
    let probe = TemplateOptions {
        function_name: options.function_name.clone(),
        kms_key_arns: options.kms_key_arns.clone(),
        ..TemplateOptions::default()
    };
    let problems = probe.problems();
    if !problems.is_empty() {
        return Err(CommandError::usage(problems.join("; ")));
    }
    let mut references = BTreeMap::from([
        (policy::PARTITION, args.partition.clone()),
        (policy::ACCOUNT, args.account.clone()),
    ]);
    if let Some(vpc) = &args.vpc_id {
        references.insert(policy::VPC, vpc.clone());
    }
    let document = policy::policy_document(&policy::role_statements(&config, &options), &references)
        .map_err(|message| anyhow::anyhow!("{message} (a bug: every reference should be resolved)"))?;
    crate::output::print_json(&document)?;
    Ok(Exit::Success)
}
