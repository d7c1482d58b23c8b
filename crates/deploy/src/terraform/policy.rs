//! The module's IAM side: the function's role and its policy document (statements from the same
//! model as the template's, CloudFormation references turned into data sources), and the key
//! policy of the encryption key the module creates.

use coldstandby_config::Config;

use super::{ACCOUNT, PARTITION, REGION};
use crate::findings;
use crate::hcl::{Body, Expr};
use crate::policy::{self, RoleOptions, Statement};
use crate::template::TemplateOptions;

pub(super) fn key(leased: bool) -> Body {
    let body = Body::new()
        .attr("description", "coldstandby: the failover function's logs, on-failure topic and environment")
        .attr("enable_key_rotation", true)
        .attr("policy", Expr::raw("data.aws_iam_policy_document.encryption_key.json"));
    // The lease table outlives the module; so must the key it is encrypted with.
    if leased {
        body.block("lifecycle", &[], Body::new().attr("prevent_destroy", true))
    } else {
        body
    }
}

/// A policy-document statement block.
pub(super) fn statement(sid: &str, actions: Expr, resources: Expr) -> Body {
    Body::new().attr("sid", sid).attr("effect", "Allow").attr("actions", actions).attr("resources", resources)
}

pub(super) fn principals(kind: &str, identifiers: Expr) -> Body {
    Body::new().attr("type", kind).attr("identifiers", identifiers)
}

pub(super) fn condition(test: &str, variable: &str, values: Expr) -> Body {
    Body::new().attr("test", test).attr("variable", variable).attr("values", values)
}

/// The created key's policy, as the template's.
pub(super) fn key_policy(options: &TemplateOptions) -> Body {
    let log_group_arn = format!(
        "arn:${{{PARTITION}}}:logs:${{{REGION}}}:${{{ACCOUNT}}}:log-group:{}",
        hcl_escape(&policy::log_group_name(&options.function_name))
    );
    findings::terraform_comments(Body::new(), &findings::KEY_POLICY_RESOURCES)
        .block(
            "statement",
            &[],
            statement("AccountAdministersTheKey", Expr::strs(["kms:*"]), Expr::strs(["*"])).block(
                "principals",
                &[],
                principals(
                    "AWS",
                    Expr::List(vec![Expr::template(format!(
                        "arn:${{{PARTITION}}}:iam::${{{ACCOUNT}}}:root"
                    ))]),
                ),
            ),
        )
        .block(
            "statement",
            &[],
            statement(
                "CloudWatchAlarmsPublishToTheTopic",
                Expr::strs(["kms:Decrypt", "kms:GenerateDataKey*"]),
                Expr::strs(["*"]),
            )
            .block("principals", &[], principals("Service", Expr::strs(["cloudwatch.amazonaws.com"])))
            .block(
                "condition",
                &[],
                condition("StringEquals", "aws:SourceAccount", Expr::List(vec![Expr::raw(ACCOUNT)])),
            ),
        )
        .block(
            "statement",
            &[],
            statement(
                "CloudWatchLogsEncryptTheLogGroup",
                Expr::strs([
                    "kms:Encrypt*",
                    "kms:Decrypt*",
                    "kms:ReEncrypt*",
                    "kms:GenerateDataKey*",
                    "kms:Describe*",
                ]),
                Expr::strs(["*"]),
            )
            .block(
                "principals",
                &[],
                principals(
                    "Service",
                    Expr::List(vec![Expr::template(format!("logs.${{{REGION}}}.amazonaws.com"))]),
                ),
            )
            .block(
                "condition",
                &[],
                condition(
                    "ArnEquals",
                    "kms:EncryptionContext:aws:logs:arn",
                    Expr::List(vec![Expr::template(log_group_arn)]),
                ),
            ),
        )
}

pub(super) fn assume_role() -> Body {
    Body::new().block(
        "statement",
        &[],
        Body::new().attr("effect", "Allow").attr("actions", Expr::strs(["sts:AssumeRole"])).block(
            "principals",
            &[],
            principals("Service", Expr::strs(["lambda.amazonaws.com"])),
        ),
    )
}

pub(super) fn role() -> Body {
    Body::new()
        .attr("description", "coldstandby's failover function: the EC2 calls on its groups' instances only")
        .attr("assume_role_policy", Expr::raw("data.aws_iam_policy_document.assume_role.json"))
}

pub(super) fn role_policy_attachment() -> Body {
    Body::new()
        .attr("name", "coldstandby-failover")
        .attr("role", Expr::raw("aws_iam_role.function.id"))
        .attr("policy", Expr::raw("data.aws_iam_policy_document.function.json"))
}

/// `${` in a literal part of a template is doubled, as in [`hcl::quoted`].
pub(super) fn hcl_escape(text: &str) -> String {
    text.replace("${", "$${").replace("%{", "%%{")
}

/// A policy-model string (CloudFormation references) as an HCL value.
pub(super) fn reference_string(text: &str) -> Expr {
    if !text.contains("${") {
        return Expr::Str(text.to_owned());
    }
    let escaped = hcl_escape(text)
        .replace("$${AWS::Partition}", &format!("${{{PARTITION}}}"))
        .replace("$${AWS::AccountId}", &format!("${{{ACCOUNT}}}"))
        .replace("$${AWS::Region}", &format!("${{{REGION}}}"))
        .replace("$${VpcId}", "${var.vpc_id}");
    Expr::template(escaped)
}

pub(super) fn model_statement(model: &Statement) -> Body {
    let mut body = statement(
        model.sid,
        Expr::strs(&model.actions),
        Expr::List(model.resources.iter().map(|resource| reference_string(resource)).collect()),
    );
    if let Some(model) = &model.condition {
        let values = Expr::List(model.values.iter().map(|value| reference_string(value)).collect());
        body.push_block("condition", &[], condition(model.operator, model.key, values));
    }
    body
}

pub(super) fn role_policy(config: &Config, options: &TemplateOptions) -> Body {
    let role_options = RoleOptions {
        function_name: options.function_name.clone(),
        kms_key_arns: options.kms_key_arns.clone(),
        in_vpc: options.vpc,
    };
    let mut body = Body::new();
    for model in policy::role_statements(config, &role_options) {
        body.push_block("statement", &[], model_statement(&model));
    }
    body.push_block(
        "statement",
        &[],
        statement(
            "PublishFailedEvents",
            Expr::strs(["sns:Publish"]),
            Expr::List(vec![Expr::raw("local.on_failure_destination")]),
        ),
    );
    body.push_block(
        "statement",
        &[],
        statement(
            "UseEncryptionKey",
            Expr::strs(["kms:Decrypt", "kms:GenerateDataKey"]),
            Expr::List(vec![Expr::raw("local.encryption_key_arn")]),
        ),
    );
    body
}
