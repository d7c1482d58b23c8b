//! doctor's checks of the deployed function: its timeout against the groups' failover deadlines,
//! its reserved concurrency, and the configuration it runs with.

use std::collections::BTreeMap;

use coldstandby_engine::InstanceId;

use crate::doctor::{check, Check, Context, FunctionFacts, InstanceFacts, Lookup, Status, LOOKUP_FIX};
use crate::sizing;

pub(crate) fn function_checks<'f>(
    context: &Context<'_>,
    lookup: &'f Lookup<Option<FunctionFacts>>,
    instances: &Lookup<BTreeMap<InstanceId, InstanceFacts>>,
    checks: &mut Vec<Check>,
) -> Option<&'f FunctionFacts> {
    let function = match lookup {
        Err(reason) => {
            checks.push(check(
                "function",
                "deployed",
                Status::Fail,
                format!("could not look it up: {reason}"),
                Some(LOOKUP_FIX.to_owned()),
            ));
            return None;
        }
        Ok(None) => {
            checks.push(check(
                "function",
                "deployed",
                Status::Fail,
                "no such function in the region".into(),
                Some("deploy it: `coldstandby template cloudformation --config FILE` and `aws cloudformation deploy` (docs/deploying.md)".into()),
            ));
            return None;
        }
        Ok(Some(function)) => function,
    };
    let subject = format!("function {}", function.name);
    checks.push(check(&subject, "deployed", Status::Pass, function.arn.clone(), None));

    match sizing::worst_case(context.config) {
        Ok(worst) => {
            let needed = worst.function_timeout.as_secs();
            let found = format!(
                "timeout {} s; {} needs up to {} s ({} s of failovers + start-up and margin)",
                function.timeout_seconds,
                worst.trigger,
                needed,
                worst.failovers.as_secs()
            );
            checks.push(if function.timeout_seconds >= needed {
                check(&subject, "timeout", Status::Pass, found, None)
            } else {
                check(
                    &subject,
                    "timeout",
                    Status::Fail,
                    format!("{found}: a failover would be cut off mid-way (the article's 3 s default dies while the standby boots)"),
                    Some(format!(
                        "aws lambda update-function-configuration --function-name {} --timeout {needed}",
                        function.name
                    )),
                )
            });
        }
        Err(too_long) => checks.push(check(
            &subject,
            "timeout",
            Status::Fail,
            too_long.to_string(),
            Some(format!("lower the groups' timeouts in {}", context.config_path)),
        )),
    }

    checks.push(concurrency_check(&subject, function, context.config.lease.is_some()));
    checks.push(configuration_check(context, &subject, function, instances));
    Some(function)
}

/// Reserved concurrency 1 serialises alarm events. Where the account cannot reserve even one
/// execution, running without a reservation is the best possible, and said as a warning. With
/// the group lease, any reservation (or none) is safe: each group is acted on by one holder.
pub(crate) fn concurrency_check(subject: &str, function: &FunctionFacts, leased: bool) -> Check {
    if leased && function.reserved_concurrency != Some(0) {
        let found = match function.reserved_concurrency {
            Some(n) => format!("{n}: the group lease keeps each group to one invocation at a time"),
            None => "not reserved: the group lease keeps each group to one invocation at a time".to_owned(),
        };
        return check(subject, "reserved concurrency", Status::Pass, found, None);
    }
    let fix = format!(
        "aws lambda put-function-concurrency --function-name {} --reserved-concurrent-executions 1 (or deploy the template with ReservedConcurrency=1)",
        function.name
    );
    let unserialised = "two alarm events can run two failovers of one group at once";
    match function.reserved_concurrency {
        Some(1) => check(subject, "reserved concurrency", Status::Pass, "1: alarm events are handled one at a time".into(), None),
        Some(0) => check(subject, "reserved concurrency", Status::Fail, "0: the function is throttled and never runs".into(), Some(fix)),
        Some(n) => check(subject, "reserved concurrency", Status::Fail, format!("{n}: {unserialised}"), Some(fix)),
        None => match &function.account_concurrency {
            Ok(account) if !account.can_reserve_one() => check(
                subject,
                "reserved concurrency",
                Status::Warn,
                format!(
                    "not reserved, and the account cannot reserve any: its quota is {} with {} unreserved, and Lambda keeps at least {} unreserved; {unserialised}",
                    account.limit,
                    account.unreserved,
                    account.minimum_unreserved()
                ),
                Some("ask for a higher Lambda concurrent-executions quota (Service Quotas), then reserve 1".into()),
            ),
            Ok(account) => check(
                subject,
                "reserved concurrency",
                Status::Fail,
                format!(
                    "not reserved ({} of the account's {} are unreserved, so 1 can be): {unserialised}, and a busy account can throttle it",
                    account.unreserved, account.limit
                ),
                Some(fix),
            ),
            Err(reason) => check(
                subject,
                "reserved concurrency",
                Status::Fail,
                format!("not reserved: {unserialised}; whether the account could reserve 1 is unknown ({reason})"),
                Some(fix),
            ),
        },
    }
}

pub(crate) fn configuration_check(
    context: &Context<'_>,
    subject: &str,
    function: &FunctionFacts,
    instances: &Lookup<BTreeMap<InstanceId, InstanceFacts>>,
) -> Check {
    let Some(text) = &function.environment_config else {
        return check(
            subject,
            "configuration",
            Status::Warn,
            format!(
                "no {} in its environment: it reads coldstandby.toml from its zip, which doctor cannot see",
                coldstandby_config::CONFIG_VARIABLE
            ),
            None,
        );
    };
    let deployed = match coldstandby_config::parse(text, coldstandby_config::CONFIG_VARIABLE) {
        Ok(deployed) => deployed,
        Err(error) => {
            return check(
                subject,
                "configuration",
                Status::Fail,
                format!("does not parse, so every invocation fails: {error}"),
                Some("regenerate the template from a valid file and redeploy".into()),
            )
        }
    };
    if let Ok(instances) = instances {
        let missing: Vec<String> = deployed
            .groups
            .iter()
            .flat_map(|group| group.spec.members())
            .filter(|id| !instances.contains_key(id))
            .map(|id| id.to_string())
            .collect();
        if !missing.is_empty() {
            return check(
                subject,
                "configuration",
                Status::Fail,
                format!("names instances that do not exist: {}", missing.join(", ")),
                Some("correct the instance ids and redeploy".into()),
            );
        }
    }
    if deployed != *context.config {
        return check(
            subject,
            "configuration",
            Status::Warn,
            format!("parses, but differs from {}", context.config_path),
            Some("regenerate the template from this file and redeploy, if this file is the one meant".into()),
        );
    }
    check(subject, "configuration", Status::Pass, format!("parses and matches {}", context.config_path), None)
}
