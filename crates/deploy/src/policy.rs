//! The execution role's permissions, least privilege: exactly the calls the function makes, on
//! exactly the groups' instances. One model renders both the template's policy (with
//! CloudFormation `${...}` references) and a concrete JSON policy for a given account.

use std::collections::BTreeMap;

use coldstandby_config::Config;
use coldstandby_engine::tags::{ACTIVATED_AT_TAG, GROUP_TAG, ROLE_TAG, TRIGGER_TAG};
use serde_json::{json, Value};

use crate::yaml::Node;

/// The tag keys the engine writes: the only ones the role may write.
pub const TOOL_TAG_KEYS: [&str; 4] = [GROUP_TAG, ROLE_TAG, TRIGGER_TAG, ACTIVATED_AT_TAG];

/// The references a resource string may contain, CloudFormation style.
pub const PARTITION: &str = "${AWS::Partition}";
pub const ACCOUNT: &str = "${AWS::AccountId}";
/// The VPC the function is placed in (the template's `VpcId` parameter).
pub const VPC: &str = "${VpcId}";

/// One condition: `operator: { key: values }`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Condition {
    pub operator: &'static str,
    pub key: &'static str,
    pub values: Vec<String>,
}

/// One `Allow` statement. Resource strings may hold the references above.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Statement {
    pub sid: &'static str,
    pub actions: Vec<&'static str>,
    pub resources: Vec<String>,
    pub condition: Option<Condition>,
}

/// What the role must allow besides the EC2 calls on the groups' instances.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RoleOptions {
    /// The function's name: its log group is `/aws/lambda/NAME`.
    pub function_name: String,
    /// KMS keys of encrypted EBS volumes: starting such an instance needs a grant on its key.
    pub kms_key_arns: Vec<String>,
    /// The function runs in a VPC and manages its network interfaces there.
    pub in_vpc: bool,
}

/// The ARN of `instance`; partition and account may be references ([`PARTITION`], [`ACCOUNT`]).
pub fn instance_arn(partition: &str, region: &str, account: &str, instance: &str) -> String {
    format!("arn:{partition}:ec2:{region}:{account}:instance/{instance}")
}

/// The ARN of the alarm called `name`; partition, region and account may be references.
pub fn alarm_arn(partition: &str, region: &str, account: &str, name: &str) -> String {
    format!("arn:{partition}:cloudwatch:{region}:{account}:alarm:{name}")
}

/// The ARN of the function's own log group (and its streams).
pub fn log_group_arn(region: &str, function_name: &str) -> String {
    format!("arn:{PARTITION}:logs:{region}:{ACCOUNT}:log-group:{}:*", log_group_name(function_name))
}

/// The ARN of the lease table; partition and account are references.
pub fn lease_table_arn(region: &str, table: &str) -> String {
    format!("arn:{PARTITION}:dynamodb:{region}:{ACCOUNT}:table/{table}")
}

/// The log group Lambda writes the function's logs to.
pub fn log_group_name(function_name: &str) -> String {
    format!("/aws/lambda/{function_name}")
}

/// Reading and conditionally writing the group lease's items, when `[lease]` is configured.
pub fn lease_statement(config: &Config) -> Option<Statement> {
    let lease = config.lease.as_ref()?;
    Some(Statement {
        sid: "TakeAndRenewGroupLeases",
        actions: vec!["dynamodb:GetItem", "dynamodb:PutItem"],
        resources: vec![lease_table_arn(&config.region, &lease.table)],
        condition: None,
    })
}

/// Reading the listed alarms' states: every event's alarm is read again before acting (an event
/// the alarm no longer shows is history), and with `check_every_alarm` every listed alarm (an
/// alarm storm handled at once).
pub fn alarm_states_statement(config: &Config) -> Option<Statement> {
    let mut names: Vec<&String> = config.groups.iter().flat_map(|group| &group.alarms).collect();
    names.sort();
    names.dedup();
    if names.is_empty() {
        return None;
    }
    Some(Statement {
        sid: "ReadListedAlarmStates",
        actions: vec!["cloudwatch:DescribeAlarms"],
        resources: names.iter().map(|name| alarm_arn(PARTITION, &config.region, ACCOUNT, name)).collect(),
        condition: None,
    })
}

/// Publishing each run's outcome, when `notification_topic_arn` is configured.
pub fn notification_statement(config: &Config) -> Option<Statement> {
    let topic = config.notification_topic_arn.as_ref()?;
    Some(Statement {
        sid: "PublishOutcomes",
        actions: vec!["sns:Publish"],
        resources: vec![topic.clone()],
        condition: None,
    })
}

/// The statements the execution role needs for `config`.
pub fn role_statements(config: &Config, options: &RoleOptions) -> Vec<Statement> {
    let region = &config.region;
    let instances: Vec<String> = config
        .groups
        .iter()
        .flat_map(|group| group.spec.members())
        .map(|id| instance_arn(PARTITION, region, ACCOUNT, id.as_str()))
        .collect();
    let mut statements = vec![
        Statement {
            sid: "DescribeInstances",
            actions: vec!["ec2:DescribeInstances"],
            resources: vec!["*".to_owned()],
            condition: None,
        },
        Statement {
            sid: "StartAndStopGroupMembers",
            actions: vec!["ec2:StartInstances", "ec2:StopInstances"],
            resources: instances.clone(),
            condition: None,
        },
        Statement {
            sid: "TagGroupMembersWithToolKeys",
            actions: vec!["ec2:CreateTags"],
            resources: instances,
            condition: Some(Condition {
                operator: "ForAllValues:StringEquals",
                key: "aws:TagKeys",
                values: TOOL_TAG_KEYS.iter().map(|key| (*key).to_owned()).collect(),
            }),
        },
        Statement {
            sid: "WriteOwnLogs",
            actions: vec!["logs:CreateLogStream", "logs:PutLogEvents"],
            resources: vec![log_group_arn(region, &options.function_name)],
            condition: None,
        },
    ];
    statements.extend(crate::movers::statements(config));
    statements.extend(lease_statement(config));
    statements.extend(alarm_states_statement(config));
    statements.extend(notification_statement(config));
    if !options.kms_key_arns.is_empty() {
        statements.push(Statement {
            sid: "GrantEbsAccessToEncryptionKeys",
            actions: vec!["kms:CreateGrant"],
            resources: options.kms_key_arns.clone(),
            condition: Some(Condition {
                operator: "Bool",
                key: "kms:GrantIsForAWSResource",
                values: vec!["true".to_owned()],
            }),
        });
    }
    if options.in_vpc {
        let network_interfaces = format!("arn:{PARTITION}:ec2:{region}:{ACCOUNT}:network-interface/*");
        statements.extend([
            Statement {
                sid: "DescribeNetworkForVpcPlacement",
                actions: vec!["ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"],
                resources: vec!["*".to_owned()],
                condition: None,
            },
            Statement {
                sid: "CreateNetworkInterfacesInOwnVpc",
                actions: vec!["ec2:CreateNetworkInterface"],
                resources: vec![
                    network_interfaces.clone(),
                    format!("arn:{PARTITION}:ec2:{region}:{ACCOUNT}:subnet/*"),
                    format!("arn:{PARTITION}:ec2:{region}:{ACCOUNT}:security-group/*"),
                ],
                condition: Some(Condition {
                    operator: "ArnEquals",
                    key: "ec2:Vpc",
                    values: vec![format!("arn:{PARTITION}:ec2:{region}:{ACCOUNT}:vpc/{VPC}")],
                }),
            },
            Statement {
                sid: "ManageOwnNetworkInterfaces",
                actions: vec![
                    "ec2:AssignPrivateIpAddresses",
                    "ec2:DeleteNetworkInterface",
                    "ec2:UnassignPrivateIpAddresses",
                ],
                resources: vec![network_interfaces],
                condition: None,
            },
        ]);
    }
    statements
}

fn one_or_many(items: &[String]) -> Value {
    match items {
        [one] => json!(one),
        many => json!(many),
    }
}

impl Statement {
    /// This statement as template YAML: strings with references become `!Sub`.
    pub fn to_node(&self) -> Node {
        let text = |value: &str| {
            if value.contains("${") {
                Node::tagged("!Sub", value)
            } else {
                Node::from(value)
            }
        };
        let list_or_one = |items: Vec<Node>| match <[Node; 1]>::try_from(items) {
            Ok([one]) => one,
            Err(many) => Node::List(many),
        };
        let mut node = Node::map()
            .with("Sid", self.sid)
            .with("Effect", "Allow")
            .with("Action", list_or_one(self.actions.iter().map(|a| Node::from(*a)).collect()))
            .with("Resource", list_or_one(self.resources.iter().map(|r| text(r)).collect()));
        if let Some(condition) = &self.condition {
            let values = list_or_one(condition.values.iter().map(|v| text(v)).collect());
            let test = Node::map().with(condition.key, values);
            node.insert("Condition", Node::map().with(condition.operator, test));
        }
        node
    }

    /// This statement with every reference replaced, as IAM JSON.
    pub fn to_json(&self, references: &BTreeMap<&str, String>) -> Value {
        let resolve = |value: &String| {
            references.iter().fold(value.clone(), |text, (reference, actual)| text.replace(reference, actual))
        };
        let mut statement = json!({
            "Sid": self.sid,
            "Effect": "Allow",
            "Action": one_or_many(&self.actions.iter().map(|a| (*a).to_owned()).collect::<Vec<_>>()),
            "Resource": one_or_many(&self.resources.iter().map(resolve).collect::<Vec<_>>()),
        });
        if let Some(condition) = &self.condition {
            let values: Vec<String> = condition.values.iter().map(resolve).collect();
            statement["Condition"] = json!({ condition.operator: { condition.key: one_or_many(&values) } });
        }
        statement
    }
}

/// A `${Name}` in a policy that no value was given for.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the policy needs a value for {reference}")]
pub struct UnresolvedReference {
    pub reference: String,
}

/// A whole policy document for an account: what `coldstandby template iam-policy` prints.
/// Err names a reference that `references` does not resolve.
pub fn policy_document(
    statements: &[Statement],
    references: &BTreeMap<&str, String>,
) -> Result<Value, UnresolvedReference> {
    let document = json!({
        "Version": "2012-10-17",
        "Statement": statements.iter().map(|s| s.to_json(references)).collect::<Vec<_>>(),
    });
    let text = document.to_string();
    match text.find("${") {
        Some(at) => {
            let reference: String = text[at..].chars().take_while(|c| *c != '}').chain(['}']).collect();
            Err(UnresolvedReference { reference })
        }
        None => Ok(document),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example() -> Config {
        coldstandby_config::parse(include_str!("../../../examples/coldstandby.toml"), "example").unwrap()
    }

    fn options() -> RoleOptions {
        RoleOptions { function_name: "coldstandby".to_owned(), ..RoleOptions::default() }
    }

    #[test]
    fn only_describe_is_granted_on_every_resource() {
        for in_vpc in [false, true] {
            let statements = role_statements(&example(), &RoleOptions { in_vpc, ..options() });
            for statement in statements.iter().filter(|s| s.resources.iter().any(|r| r == "*")) {
                assert!(
                    statement.actions.iter().all(|a| a.starts_with("ec2:Describe")),
                    "{} grants {:?} on *",
                    statement.sid,
                    statement.actions
                );
            }
        }
    }

    #[test]
    fn start_stop_and_tag_name_every_member_and_nothing_else() {
        let statements = role_statements(&example(), &options());
        let members: Vec<String> = example()
            .groups
            .iter()
            .flat_map(|g| g.spec.members())
            .map(|id| instance_arn(PARTITION, "ap-northeast-1", ACCOUNT, id.as_str()))
            .collect();
        for sid in ["StartAndStopGroupMembers", "TagGroupMembersWithToolKeys"] {
            let statement = statements.iter().find(|s| s.sid == sid).unwrap();
            assert_eq!(statement.resources, members);
        }
    }

    #[test]
    fn the_concrete_policy_has_no_references_left() {
        let references =
            BTreeMap::from([(PARTITION, "aws".to_owned()), (ACCOUNT, "111122223333".to_owned())]);
        let document = policy_document(&role_statements(&example(), &options()), &references).unwrap();
        let text = document.to_string();
        assert!(!text.contains("${"), "{text}");
        assert!(text.contains("arn:aws:ec2:ap-northeast-1:111122223333:instance/i-0a1b2c3d4e5f60718"));
        let in_vpc = RoleOptions { in_vpc: true, ..options() };
        let error = policy_document(&role_statements(&example(), &in_vpc), &references).unwrap_err();
        assert_eq!(error.to_string(), "the policy needs a value for ${VpcId}");
        assert_eq!(
            document["Statement"][2]["Condition"]["ForAllValues:StringEquals"]["aws:TagKeys"],
            json!([
                "coldstandby:group",
                "coldstandby:role",
                "coldstandby:trigger",
                "coldstandby:activated-at"
            ])
        );
    }
}
