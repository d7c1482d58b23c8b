//! Encryption at rest for what the function writes: its log group, its on-failure topic and its
//! environment (the configuration) under one customer managed KMS key, the one given with
//! `--encryption-key-arn` or one the stack creates (the lease table too, when there is one).
//!
//! Why a customer managed key and not the AWS managed ones: CloudWatch alarms cannot publish to a
//! topic encrypted with `alias/aws/sns` (that key's policy cannot let CloudWatch use it), and the
//! refused-events alarm publishes to the on-failure topic. A CloudWatch Logs log group can only
//! name a customer managed key.

use crate::policy;
use crate::yaml::Node;

/// The logical id of the key the stack creates when none is given.
pub const KEY_LOGICAL_ID: &str = "EncryptionKey";

/// Where the key comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeySource<'a> {
    /// The stack creates a key (rotated yearly) whose policy admits exactly the services below.
    Created,
    /// The key given with `--encryption-key-arn`: its policy must admit them (docs/deploying.md).
    Given(&'a str),
}

impl<'a> KeySource<'a> {
    pub fn new(given: Option<&'a str>) -> Self {
        given.map_or(Self::Created, Self::Given)
    }

    /// The key's ARN, as a template value.
    pub fn arn(self) -> Node {
        match self {
            Self::Created => Node::tagged("!GetAtt", format!("{KEY_LOGICAL_ID}.Arn")),
            Self::Given(arn) => Node::from(arn),
        }
    }
}

/// The role's use of the key: decrypting its environment, and encrypting what it publishes to
/// the on-failure topic (Lambda publishes a failed event with the function's role).
pub fn role_statement(key: KeySource<'_>) -> Node {
    Node::map()
        .with("Sid", "UseEncryptionKey")
        .with("Effect", "Allow")
        .with("Action", Node::list(["kms:Decrypt", "kms:GenerateDataKey"]))
        .with("Resource", key.arn())
}

/// The key the stack creates: the account administers it (so IAM policies apply), CloudWatch
/// alarms may encrypt to the topic, CloudWatch Logs may use it for the function's log group only.
pub fn key_resource(function_name: &str) -> Node {
    let service = |name: &str| Node::map().with("Service", name);
    let administration = Node::map()
        .with("Sid", "AccountAdministersTheKey")
        .with("Effect", "Allow")
        .with(
            "Principal",
            Node::map()
                .with("AWS", Node::tagged("!Sub", "arn:${AWS::Partition}:iam::${AWS::AccountId}:root")),
        )
        .with("Action", "kms:*")
        .with("Resource", "*");
    let alarms = Node::map()
        .with("Sid", "CloudWatchAlarmsPublishToTheTopic")
        .with("Effect", "Allow")
        .with("Principal", service("cloudwatch.amazonaws.com"))
        .with("Action", Node::list(["kms:Decrypt", "kms:GenerateDataKey*"]))
        .with("Resource", "*")
        .with(
            "Condition",
            Node::map().with(
                "StringEquals",
                Node::map().with("aws:SourceAccount", Node::tagged("!Ref", "AWS::AccountId")),
            ),
        );
    let log_group_arn = format!(
        "arn:${{AWS::Partition}}:logs:${{AWS::Region}}:${{AWS::AccountId}}:log-group:{}",
        policy::log_group_name(function_name)
    );
    let logs = Node::map()
        .with("Sid", "CloudWatchLogsEncryptTheLogGroup")
        .with("Effect", "Allow")
        .with("Principal", service_sub("logs.${AWS::Region}.amazonaws.com"))
        .with(
            "Action",
            Node::list([
                "kms:Encrypt*",
                "kms:Decrypt*",
                "kms:ReEncrypt*",
                "kms:GenerateDataKey*",
                "kms:Describe*",
            ]),
        )
        .with("Resource", "*")
        .with(
            "Condition",
            Node::map().with(
                "ArnEquals",
                Node::map().with("kms:EncryptionContext:aws:logs:arn", Node::tagged("!Sub", log_group_arn)),
            ),
        );
    Node::map().with("Type", "AWS::KMS::Key").with(
        "Properties",
        Node::map()
            .with(
                "Description",
                "coldstandby: the failover function's logs, on-failure topic and environment",
            )
            .with("EnableKeyRotation", true)
            .with(
                "KeyPolicy",
                Node::map()
                    .with("Version", "2012-10-17")
                    .with("Statement", Node::list([administration, alarms, logs])),
            ),
    )
}

fn service_sub(name: &str) -> Node {
    Node::map().with("Service", Node::tagged("!Sub", name))
}
