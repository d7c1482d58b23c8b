//! The module's resources besides IAM: log group, topic, function and its invoke settings, the
//! refused-events filter and alarm, the alarms' permissions and definitions, the VPC's security
//! groups and endpoints, the lease table; each as the template declares it.

use coldstandby_alarm::{AlarmDefinition, Statistic};
use coldstandby_config::Config;

use super::policy::hcl_escape;
use super::{ACCOUNT, FUNCTION_ARN, PARTITION, REGION};
use crate::findings;
use crate::hcl::{self, Body, Expr};
use crate::policy;
use crate::refusals;
use crate::template::{TemplateOptions, ALARM_PRINCIPAL};

pub(super) fn log_group(options: &TemplateOptions) -> Body {
    let accepted: &[_] = if options.log_retention_days < 365 { &[findings::SHORT_RETENTION] } else { &[] };
    findings::terraform_comments(Body::new(), accepted)
        .attr("name", policy::log_group_name(&options.function_name))
        .attr("retention_in_days", options.log_retention_days)
        .attr("kms_key_id", Expr::raw("local.encryption_key_arn"))
}

pub(super) fn on_failure_topic() -> Body {
    Body::new()
        .attr("count", Expr::raw("var.on_failure_topic_arn == \"\" ? 1 : 0"))
        .attr("display_name", "coldstandby: alarm events the failover function failed to handle")
        .attr("kms_master_key_id", Expr::raw("local.encryption_key_arn"))
}

pub(super) fn function(
    config: &Config,
    options: &TemplateOptions,
    timeout_seconds: u64,
    config_text: &str,
) -> Body {
    let leased = config.lease.is_some();
    let mut accepted = vec![findings::NO_DEAD_LETTER_QUEUE, findings::NO_CODE_SIGNING, findings::NO_TRACING];
    if !options.vpc {
        accepted.push(findings::OUTSIDE_VPC);
    }
    // As the template: 0 reserves nothing (-1 is Terraform's "unreserved"); without the lease,
    // "reserve" means 1.
    let reservation = if leased { "var.reserved_concurrency" } else { "1" };
    let mut body = findings::terraform_comments(Body::new(), &accepted)
        .attr("function_name", options.function_name.as_str())
        .attr("description", "coldstandby: fences a failed primary and promotes a standby (alarm action)")
        .attr("runtime", "provided.al2023")
        .attr("handler", "bootstrap")
        .attr("architectures", Expr::List(vec![Expr::raw("var.architecture")]))
        .attr("s3_bucket", Expr::raw("var.code_s3_bucket"))
        .attr("s3_key", Expr::raw("var.code_s3_key"))
        .attr("memory_size", 128u32)
        .attr("timeout", i64::try_from(timeout_seconds).expect("at most 900"))
        .attr(
            "reserved_concurrent_executions",
            Expr::raw(format!("var.reserved_concurrency == 0 ? -1 : {reservation}")),
        )
        .attr("role", Expr::raw("aws_iam_role.function.arn"))
        .attr("kms_key_arn", Expr::raw("local.encryption_key_arn"));
    if options.config_in_environment {
        let variables = Expr::Object(vec![(
            coldstandby_config::CONFIG_VARIABLE.to_owned(),
            Expr::Heredoc(config_text.to_owned()),
        )]);
        body.push_block("environment", &[], Body::new().attr("variables", variables));
    }
    if options.vpc {
        body.push_block(
            "vpc_config",
            &[],
            Body::new()
                .attr("subnet_ids", Expr::raw("var.subnet_ids"))
                .attr("security_group_ids", Expr::List(vec![Expr::raw("aws_security_group.function.id")])),
        );
    }
    let region_check = Body::new()
        .attr("condition", Expr::raw(format!("{REGION} == {}", hcl::quoted(&config.region))))
        .attr(
            "error_message",
            format!(
                "The configuration's instances and alarms are in {}: apply the module there.",
                config.region
            ),
        );
    body.attr("depends_on", Expr::List(vec![Expr::raw("aws_cloudwatch_log_group.function")])).block(
        "lifecycle",
        &[],
        Body::new().block("precondition", &[], region_check),
    )
}

pub(super) fn event_invoke_config(options: &TemplateOptions) -> Body {
    Body::new()
        .attr("function_name", Expr::raw("aws_lambda_function.function.function_name"))
        .attr("qualifier", "$LATEST")
        .attr("maximum_retry_attempts", options.retry_attempts)
        .attr("maximum_event_age_in_seconds", options.max_event_age_seconds)
        .block(
            "destination_config",
            &[],
            Body::new().block(
                "on_failure",
                &[],
                Body::new().attr("destination", Expr::raw("local.on_failure_destination")),
            ),
        )
}

/// Terraform needs the names CloudFormation would generate.
pub(super) fn refusal_resources(options: &TemplateOptions) -> (Body, Body) {
    let filter = Body::new()
        .attr("name", format!("{}-refused-alarm-events", options.function_name))
        .attr("log_group_name", Expr::raw("aws_cloudwatch_log_group.function.name"))
        .attr("pattern", refusals::REFUSAL_PATTERN)
        .block(
            "metric_transformation",
            &[],
            Body::new()
                .attr("namespace", refusals::METRIC_NAMESPACE)
                .attr("name", refusals::REFUSALS_METRIC)
                .attr("value", "1"),
        );
    let alarm = Body::new()
        .attr("alarm_name", format!("{}-refused-alarm-events", options.function_name))
        .attr(
            "alarm_description",
            "coldstandby: the failover function refused an alarm event it can never handle as configured (see its log for the errorType and message)",
        )
        .attr("namespace", refusals::METRIC_NAMESPACE)
        .attr("metric_name", refusals::REFUSALS_METRIC)
        .attr("statistic", "Sum")
        .attr("period", 60u32)
        .attr("evaluation_periods", 1u32)
        .attr("threshold", Expr::Float(1.0))
        .attr("comparison_operator", "GreaterThanOrEqualToThreshold")
        .attr("treat_missing_data", "notBreaching")
        .attr("alarm_actions", Expr::List(vec![Expr::raw("local.on_failure_destination")]));
    (filter, alarm)
}

pub(super) fn permission(alarm: &str) -> Body {
    let arn = policy::alarm_arn(
        &format!("${{{PARTITION}}}"),
        &format!("${{{REGION}}}"),
        &format!("${{{ACCOUNT}}}"),
        &hcl_escape(alarm),
    );
    Body::new()
        .attr("function_name", Expr::raw(FUNCTION_ARN))
        .attr("action", "lambda:InvokeFunction")
        .attr("principal", ALARM_PRINCIPAL)
        .attr("source_account", Expr::raw(ACCOUNT))
        .attr("source_arn", Expr::template(arn))
}

pub(super) fn metric_alarm(
    definition: &AlarmDefinition,
    groups: &[String],
    on_insufficient_data: bool,
) -> Body {
    let dimensions = Expr::Object(
        definition.dimensions.iter().map(|(name, value)| (name.clone(), Expr::Str(value.clone()))).collect(),
    );
    let statistic = match definition.statistic {
        Statistic::Percentile(_) => ("extended_statistic", definition.statistic.to_string()),
        _ => ("statistic", definition.statistic.to_string()),
    };
    let mut body = Body::new()
        .attr("alarm_name", definition.name.as_str())
        .attr(
            "alarm_description",
            format!("coldstandby: ALARM fails over the group(s) {}", groups.join(", ")),
        )
        .attr("namespace", definition.namespace.as_str())
        .attr("metric_name", definition.metric_name.as_str())
        .attr(statistic.0, statistic.1)
        .attr("period", definition.period_seconds)
        .attr("evaluation_periods", definition.evaluation_periods)
        .attr("datapoints_to_alarm", definition.datapoints_to_alarm)
        .attr("threshold", Expr::Float(definition.threshold))
        .attr("comparison_operator", definition.comparison.as_str())
        .attr("treat_missing_data", definition.treat_missing_data.as_str())
        .attr("actions_enabled", true)
        .attr("alarm_actions", Expr::List(vec![Expr::raw(FUNCTION_ARN)]));
    if on_insufficient_data {
        body.push_attr("insufficient_data_actions", Expr::List(vec![Expr::raw(FUNCTION_ARN)]));
    }
    body.attr("dimensions", dimensions)
}

pub(super) fn https_rule(description: &str) -> Body {
    Body::new()
        .attr("description", description)
        .attr("protocol", "tcp")
        .attr("from_port", 443u32)
        .attr("to_port", 443u32)
}

/// The function's security group in its VPC: HTTPS out, to the endpoints or a NAT.
pub(super) fn function_security_group() -> Body {
    Body::new()
        .attr("description", "coldstandby function: HTTPS out to the AWS API endpoints only")
        .attr("vpc_id", Expr::raw("var.vpc_id"))
        .block(
            "egress",
            &[],
            https_rule("AWS APIs through interface endpoints (or NAT)")
                .attr("cidr_blocks", Expr::strs(["0.0.0.0/0"])),
        )
}

/// Kept when the module is destroyed, as the template's `Retain`: a lost table resets every epoch.
pub(super) fn lease_table(name: &str) -> Body {
    Body::new()
        .attr("name", name)
        .attr("billing_mode", "PAY_PER_REQUEST")
        .attr("hash_key", "group")
        .attr("deletion_protection_enabled", true)
        .block("attribute", &[], Body::new().attr("name", "group").attr("type", "S"))
        .block("point_in_time_recovery", &[], Body::new().attr("enabled", true))
        .block(
            "server_side_encryption",
            &[],
            Body::new().attr("enabled", true).attr("kms_key_arn", Expr::raw("local.encryption_key_arn")),
        )
        .block("lifecycle", &[], Body::new().attr("prevent_destroy", true))
}

pub(super) fn lease_table_endpoint() -> Body {
    Body::new()
        .attr("count", Expr::raw("length(var.dynamodb_route_table_ids) > 0 ? 1 : 0"))
        .attr("vpc_id", Expr::raw("var.vpc_id"))
        .attr("service_name", Expr::template(format!("com.amazonaws.${{{REGION}}}.dynamodb")))
        .attr("vpc_endpoint_type", "Gateway")
        .attr("route_table_ids", Expr::raw("var.dynamodb_route_table_ids"))
}
