//! `coldstandby template cloudformation`: one CloudFormation template (YAML) with everything the
//! function needs, derived from the configuration so that nothing is edited by hand.

use std::collections::BTreeMap;

use coldstandby_alarm::{AlarmDefinition, Statistic};
use coldstandby_config::Config;

use crate::encryption::{self, KeySource};
use crate::findings;
use crate::interface_endpoints::{self, InterfaceEndpoint};
use crate::policy::{self, RoleOptions};
use crate::sizing::{self, TooLong};
use crate::yaml::{self, Node};

/// The principal CloudWatch alarms invoke a function as.
pub const ALARM_PRINCIPAL: &str = "lambda.alarms.cloudwatch.amazonaws.com";
/// Lambda's limit on a function's environment (names and values together).
pub const ENVIRONMENT_LIMIT_BYTES: usize = 4096;
/// The retention periods CloudWatch Logs accepts, in days.
pub const LOG_RETENTION_DAYS: [u32; 22] =
    [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];

/// The choices a template is generated with (the command's flags).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TemplateOptions {
    pub function_name: String,
    pub log_retention_days: u32,
    /// Lambda's retries of a failed asynchronous invocation (0-2).
    pub retry_attempts: u32,
    /// How old an alarm event may be and still be delivered (60-21600 s).
    pub max_event_age_seconds: u32,
    /// Keys of encrypted EBS volumes on the groups' instances.
    pub kms_key_arns: Vec<String>,
    /// The customer managed key for the logs, the topic and the environment; None: the stack
    /// creates one.
    pub encryption_key_arn: Option<String>,
    /// Place the function in a VPC (subnets are parameters) with an EC2 interface endpoint.
    pub vpc: bool,
    /// Put the configuration in the function's environment (else it is bundled in the zip).
    pub config_in_environment: bool,
}

impl Default for TemplateOptions {
    fn default() -> Self {
        Self {
            function_name: "coldstandby".to_owned(),
            log_retention_days: 90,
            retry_attempts: 2,
            max_event_age_seconds: 3600,
            kms_key_arns: Vec::new(),
            encryption_key_arn: None,
            vpc: false,
            config_in_environment: true,
        }
    }
}

/// Why no template was generated.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("{0}")]
    Option(String),
    #[error(transparent)]
    TooLong(#[from] TooLong),
    #[error(
        "the configuration takes {bytes} bytes of the function's environment, more than Lambda's \
         {ENVIRONMENT_LIMIT_BYTES}: bundle it in the zip (scripts/package-lambda FILE) and generate \
         the template with --config-in-zip"
    )]
    ConfigTooLarge { bytes: usize },
}

impl TemplateOptions {
    /// Every problem with these options, each naming its flag.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let name_ok = (1..=64).contains(&self.function_name.len())
            && self.function_name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !name_ok {
            problems
                .push(format!("--function-name `{}`: 1-64 letters, digits, `-` and `_`", self.function_name));
        }
        if !LOG_RETENTION_DAYS.contains(&self.log_retention_days) {
            problems.push(format!(
                "--log-retention-days {}: CloudWatch Logs accepts {}",
                self.log_retention_days,
                LOG_RETENTION_DAYS.map(|d| d.to_string()).join(", ")
            ));
        }
        if self.retry_attempts > 2 {
            problems.push(format!("--retry-attempts {}: Lambda allows 0, 1 or 2", self.retry_attempts));
        }
        if !(60..=21_600).contains(&self.max_event_age_seconds) {
            problems.push(format!(
                "--max-event-age-seconds {}: Lambda allows 60 to 21600",
                self.max_event_age_seconds
            ));
        }
        let keys = self.kms_key_arns.iter().map(|arn| ("--kms-key-arn", arn));
        for (flag, arn) in keys.chain(self.encryption_key_arn.iter().map(|arn| ("--encryption-key-arn", arn)))
        {
            let parts: Vec<&str> = arn.split(':').collect();
            let is_key =
                parts.len() == 6 && parts[0] == "arn" && parts[2] == "kms" && parts[5].starts_with("key/");
            if !is_key {
                problems.push(format!(
                    "{flag} `{arn}`: expected a key ARN, arn:aws:kms:REGION:ACCOUNT:key/KEY-ID"
                ));
            }
        }
        problems
    }
}

/// What both deployment files are made from, once the options and the configuration are known
/// to fit Lambda.
pub(crate) struct Checked {
    /// The function's timeout: the groups' worst case.
    pub timeout_seconds: u64,
    /// The configuration as the function's environment holds it.
    pub config_text: String,
}

/// The options' problems, a worst case past Lambda's limit, or a configuration too large for the
/// environment: each an error before anything is generated.
pub(crate) fn check(config: &Config, options: &TemplateOptions) -> Result<Checked, TemplateError> {
    let problems = options.problems();
    if !problems.is_empty() {
        return Err(TemplateError::Option(problems.join("; ")));
    }
    let worst = sizing::worst_case(config)?;
    let config_text = coldstandby_config::to_toml(config);
    let environment_bytes = coldstandby_config::CONFIG_VARIABLE.len() + config_text.len();
    if options.config_in_environment && environment_bytes > ENVIRONMENT_LIMIT_BYTES {
        return Err(TemplateError::ConfigTooLarge { bytes: environment_bytes });
    }
    Ok(Checked { timeout_seconds: worst.function_timeout.as_secs(), config_text })
}

/// An alarm the groups list, as both deployment files declare it.
pub(crate) struct ListedAlarm<'a> {
    /// Its logical-id stem, unique in the file (`AlarmWebPrimaryCpuHigh`).
    pub logical_id: String,
    pub name: String,
    /// Its definition when a group defines it in `[group.alarm]`.
    pub defined: Option<DefinedAlarm<'a>>,
}

pub(crate) struct DefinedAlarm<'a> {
    pub definition: &'a AlarmDefinition,
    /// The groups that list it.
    pub groups: Vec<String>,
    /// Whether one of them fails over on INSUFFICIENT_DATA too.
    pub on_insufficient_data: bool,
}

/// Each alarm the groups list, with its definition when a group defines it.
pub(crate) fn listed_alarms(config: &Config) -> Vec<ListedAlarm<'_>> {
    alarm_logical_ids(config)
        .into_iter()
        .map(|(logical_id, name)| {
            let definition = config.groups.iter().filter_map(|g| g.alarm.as_ref()).find(|a| a.name == name);
            let defined = definition.map(|definition| {
                let listing = config.groups_for_alarm(&name);
                DefinedAlarm {
                    definition,
                    groups: listing.iter().map(|group| group.spec.name.clone()).collect(),
                    on_insufficient_data: listing.iter().any(|group| group.fail_over_on_insufficient_data),
                }
            });
            ListedAlarm { logical_id, name, defined }
        })
        .collect()
}

/// The template for `config`, as YAML. The same configuration and options give the same bytes.
pub fn cloudformation(config: &Config, options: &TemplateOptions) -> Result<String, TemplateError> {
    let Checked { timeout_seconds, config_text } = check(config, options)?;
    let endpoints = interface_endpoints::needed(config, options.vpc);
    let description = format!(
        "coldstandby: cold-standby failover for the groups {} in {} (generated by `coldstandby template \
         cloudformation`; regenerate rather than edit)",
        config.group_names().join(", "),
        config.region
    );
    let key = KeySource::new(options.encryption_key_arn.as_deref());
    let mut resources = Node::map();
    if key == KeySource::Created {
        let key_resource = encryption::key_resource(&options.function_name);
        // The lease table outlives the stack; so must the key it is encrypted with.
        let key_resource = if config.lease.is_some() {
            key_resource.with("DeletionPolicy", "Retain").with("UpdateReplacePolicy", "Retain")
        } else {
            key_resource
        };
        resources.insert(encryption::KEY_LOGICAL_ID, key_resource);
    }
    resources = resources
        .with("LogGroup", log_group(options, key))
        .with("OnFailureTopic", on_failure_topic(key))
        .with("ExecutionRole", execution_role(config, options, key))
        .with("Function", function(options, timeout_seconds, &config_text, config.lease.is_some(), key))
        .with("EventInvokeConfig", event_invoke_config(options));
    for (logical_id, resource) in crate::refusals::resources(reference("LogGroup"), on_failure_destination())
    {
        resources.insert(logical_id, resource);
    }
    for alarm in listed_alarms(config) {
        let logical_id = &alarm.logical_id;
        resources.insert(&format!("{logical_id}Permission"), permission(&alarm.name));
        if let Some(defined) = &alarm.defined {
            let resource = alarm_resource(defined.definition, &defined.groups, defined.on_insufficient_data);
            resources.insert(&format!("{logical_id}Alarm"), resource);
        }
    }
    if options.vpc {
        resources.insert("FunctionSecurityGroup", function_security_group());
        for (id, resource) in endpoints.iter().flat_map(|endpoint| endpoint.cloudformation_resources()) {
            resources.insert(id, resource);
        }
    }
    if let Some(lease) = &config.lease {
        resources.insert("LeaseTable", lease_table(&lease.table, key));
        if options.vpc {
            resources.insert("LeaseTableEndpoint", lease_table_endpoint());
        }
    }
    let template = Node::map()
        .with("AWSTemplateFormatVersion", "2010-09-09")
        .with("Description", description)
        .with("Parameters", parameters(options, config.lease.is_some(), &endpoints))
        .with("Rules", region_rule(&config.region))
        .with("Conditions", conditions(options, config.lease.is_some(), &endpoints))
        .with("Resources", resources)
        .with("Outputs", outputs());
    Ok(yaml::to_string(&template))
}

/// A template of its own for the `isolate` fence's quarantine: a network ACL in the VPC given at
/// deploy time, with no rule of its own, so EC2's final rule denies all traffic both ways.
/// Deployed before the configuration is written: its output is `quarantine_network_acl`.
pub fn quarantine_acl() -> String {
    let acl = Node::map().with("Type", "AWS::EC2::NetworkAcl").with(
        "Properties",
        Node::map().with("VpcId", reference("VpcId")).with(
            "Tags",
            Node::list([Node::map().with("Key", "Name").with("Value", "coldstandby-quarantine")]),
        ),
    );
    let template = Node::map()
        .with("AWSTemplateFormatVersion", "2010-09-09")
        .with(
            "Description",
            "coldstandby: a deny-all network ACL for the isolate fence (generated by `coldstandby template \
             quarantine-acl`); put its id in quarantine_network_acl",
        )
        .with(
            "Parameters",
            Node::map().with(
                "VpcId",
                Node::map()
                    .with("Type", "AWS::EC2::VPC::Id")
                    .with("Description", "The VPC of the groups whose primaries' subnets may be isolated"),
            ),
        )
        .with("Resources", Node::map().with("QuarantineNetworkAcl", acl))
        .with(
            "Outputs",
            Node::map().with(
                "QuarantineNetworkAclId",
                Node::map()
                    .with("Description", "quarantine_network_acl in the configuration")
                    .with("Value", reference("QuarantineNetworkAcl")),
            ),
        );
    yaml::to_string(&template)
}

fn reference(name: &str) -> Node {
    Node::tagged("!Ref", name)
}

fn get_att(resource: &str, attribute: &str) -> Node {
    Node::tagged("!GetAtt", format!("{resource}.{attribute}"))
}

fn sub(text: &str) -> Node {
    Node::tagged("!Sub", text)
}

fn on_failure_destination() -> Node {
    Node::tagged(
        "!If",
        Node::list([
            Node::from("CreateOnFailureTopic"),
            reference("OnFailureTopic"),
            reference("OnFailureTopicArn"),
        ]),
    )
}

/// Without the lease, two events for one group must not run at once: 1 (reserved) or 0 (none
/// reserved, for an account with none to spare). With it, each group is acted on by one
/// invocation at a time whatever runs, so more may run together.
fn reserved_concurrency(leased: bool) -> Node {
    if leased {
        return Node::map()
            .with("Type", "Number")
            .with("MinValue", 0u32)
            .with("MaxValue", 1000u32)
            .with("Default", "10")
            .with(
                "Description",
                "Invocations that may run at once (0: no reservation). The group lease keeps each group \
                 to one at a time, so an alarm storm's events are handled together; each unit comes \
                 out of the account's unreserved concurrency",
            );
    }
    Node::map()
        .with("Type", "Number")
        .with("AllowedValues", Node::list(["1", "0"]))
        .with("Default", "1")
        .with(
            "Description",
            "1: alarm events are handled one at a time (the safe setting without [lease]; needs one \
             unit of the account's concurrency beyond the unreserved minimum Lambda keeps). 0: no \
             reservation, for accounts whose quota leaves none to reserve; two events for one group \
             may then run at once (see docs/safety.md)",
        )
}

fn parameters(options: &TemplateOptions, leased: bool, endpoints: &[InterfaceEndpoint]) -> Node {
    let mut parameters = Node::map()
        .with(
            "CodeS3Bucket",
            Node::map()
                .with("Type", "String")
                .with("Description", "S3 bucket holding the function's zip (scripts/package-lambda builds it)"),
        )
        .with(
            "CodeS3Key",
            Node::map()
                .with("Type", "String")
                .with("Default", "coldstandby-lambda.zip")
                .with("Description", "S3 key of the function's zip"),
        )
        .with(
            "Architecture",
            Node::map()
                .with("Type", "String")
                .with("AllowedValues", Node::list(["x86_64", "arm64"]))
                .with("Default", "x86_64")
                .with("Description", "The architecture the zip's bootstrap was built for"),
        )
        .with("ReservedConcurrency", reserved_concurrency(leased))
        .with(
            "OnFailureTopicArn",
            Node::map().with("Type", "String").with("Default", "").with(
                "Description",
                "SNS topic told about alarm events the function failed to handle; empty: the stack creates one",
            ),
        );
    if options.vpc {
        parameters.insert(
            "VpcId",
            Node::map().with("Type", "AWS::EC2::VPC::Id").with("Description", "The VPC the function runs in"),
        );
        parameters.insert(
            "SubnetIds",
            Node::map().with("Type", "List<AWS::EC2::Subnet::Id>").with(
                "Description",
                "Subnets for the function and the EC2 endpoint: two or more AZs, one subnet per AZ \
                     (coldstandby doctor --subnets checks them)",
            ),
        );
        if leased {
            parameters.insert(
                "DynamoDbRouteTableIds",
                Node::map().with("Type", "CommaDelimitedList").with("Default", "").with(
                    "Description",
                    "Route tables of the function's subnets, to get a DynamoDB gateway endpoint for the \
                     group lease; empty when the VPC already has one (coldstandby doctor checks)",
                ),
            );
        }
    }
    for endpoint in endpoints {
        parameters.insert(endpoint.parameter, endpoint.skip_parameter());
    }
    parameters
}

fn region_rule(region: &str) -> Node {
    let assertion = Node::map()
        .with("Assert", Node::tagged("!Equals", Node::list([reference("AWS::Region"), Node::from(region)])))
        .with(
            "AssertDescription",
            format!("The configuration's instances and alarms are in {region}: deploy the stack there"),
        );
    Node::map().with("StackInConfiguredRegion", Node::map().with("Assertions", Node::list([assertion])))
}

fn conditions(options: &TemplateOptions, leased: bool, endpoints: &[InterfaceEndpoint]) -> Node {
    let mut conditions = Node::map()
        .with(
            "CreateOnFailureTopic",
            Node::tagged("!Equals", Node::list([reference("OnFailureTopicArn"), Node::from("")])),
        )
        .with(
            "ReserveConcurrency",
            Node::tagged(
                "!Not",
                Node::list([Node::tagged(
                    "!Equals",
                    Node::list([reference("ReservedConcurrency"), Node::from("0")]),
                )]),
            ),
        );
    if options.vpc && leased {
        let joined = Node::tagged("!Join", Node::list([Node::from(""), reference("DynamoDbRouteTableIds")]));
        conditions.insert(
            "ShouldCreateDynamoDbEndpoint",
            Node::tagged("!Not", Node::list([Node::tagged("!Equals", Node::list([joined, Node::from("")]))])),
        );
    }
    for endpoint in endpoints {
        conditions.insert(endpoint.condition, endpoint.skip_condition());
    }
    conditions
}

fn log_group(options: &TemplateOptions, key: KeySource<'_>) -> Node {
    Node::map().with("Type", "AWS::Logs::LogGroup").with(
        "Properties",
        Node::map()
            .with("LogGroupName", policy::log_group_name(&options.function_name))
            .with("RetentionInDays", options.log_retention_days)
            .with("KmsKeyId", key.arn()),
    )
}

fn on_failure_topic(key: KeySource<'_>) -> Node {
    Node::map().with("Type", "AWS::SNS::Topic").with("Condition", "CreateOnFailureTopic").with(
        "Properties",
        Node::map()
            .with("DisplayName", "coldstandby: alarm events the failover function failed to handle")
            .with("KmsMasterKeyId", key.arn()),
    )
}

fn execution_role(config: &Config, options: &TemplateOptions, key: KeySource<'_>) -> Node {
    let role_options = RoleOptions {
        function_name: options.function_name.clone(),
        kms_key_arns: options.kms_key_arns.clone(),
        in_vpc: options.vpc,
    };
    let mut statements: Vec<Node> =
        policy::role_statements(config, &role_options).iter().map(policy::Statement::to_node).collect();
    statements.push(
        Node::map()
            .with("Sid", "PublishFailedEvents")
            .with("Effect", "Allow")
            .with("Action", "sns:Publish")
            .with("Resource", on_failure_destination()),
    );
    statements.push(encryption::role_statement(key));
    role_resource(
        "lambda.amazonaws.com",
        "coldstandby-failover",
        "coldstandby's failover function: the EC2 calls on its groups' instances only",
        statements,
    )
}

/// An IAM role `service` assumes, with one inline policy of `statements`.
pub(crate) fn role_resource(
    service: &str,
    policy_name: &str,
    description: &str,
    statements: Vec<Node>,
) -> Node {
    let trust = Node::map().with("Version", "2012-10-17").with(
        "Statement",
        Node::list([Node::map()
            .with("Effect", "Allow")
            .with("Principal", Node::map().with("Service", service))
            .with("Action", "sts:AssumeRole")]),
    );
    let policy = Node::map().with("PolicyName", policy_name).with(
        "PolicyDocument",
        Node::map().with("Version", "2012-10-17").with("Statement", Node::List(statements)),
    );
    Node::map().with("Type", "AWS::IAM::Role").with(
        "Properties",
        Node::map()
            .with("Description", description)
            .with("AssumeRolePolicyDocument", trust)
            .with("Policies", Node::list([policy])),
    )
}

fn function(
    options: &TemplateOptions,
    timeout_seconds: u64,
    config_text: &str,
    leased: bool,
    key: KeySource<'_>,
) -> Node {
    // Without the lease the parameter allows only 1 or 0, so "reserve" means 1 (a literal, which
    // every CloudFormation implementation reads as a number).
    let reservation = if leased { reference("ReservedConcurrency") } else { Node::from(1u32) };
    let mut properties = Node::map()
        .with("FunctionName", options.function_name.as_str())
        .with("Description", "coldstandby: fences a failed primary and promotes a standby (alarm action)")
        .with("Runtime", "provided.al2023")
        .with("Handler", "bootstrap")
        .with("Architectures", Node::list([reference("Architecture")]))
        .with(
            "Code",
            Node::map().with("S3Bucket", reference("CodeS3Bucket")).with("S3Key", reference("CodeS3Key")),
        )
        .with("MemorySize", 128u32)
        .with("Timeout", i64::try_from(timeout_seconds).expect("at most 900"))
        .with(
            "ReservedConcurrentExecutions",
            Node::tagged(
                "!If",
                Node::list([Node::from("ReserveConcurrency"), reservation, reference("AWS::NoValue")]),
            ),
        )
        .with("Role", get_att("ExecutionRole", "Arn"))
        .with("KmsKeyArn", key.arn());
    if options.config_in_environment {
        properties.insert(
            "Environment",
            Node::map().with("Variables", Node::map().with(coldstandby_config::CONFIG_VARIABLE, config_text)),
        );
    }
    if options.vpc {
        properties.insert(
            "VpcConfig",
            Node::map()
                .with("SubnetIds", reference("SubnetIds"))
                .with("SecurityGroupIds", Node::list([reference("FunctionSecurityGroup")])),
        );
    }
    let mut accepted = vec![findings::NO_DEAD_LETTER_QUEUE];
    if !options.vpc {
        accepted.push(findings::OUTSIDE_VPC);
    }
    Node::map()
        .with("Type", "AWS::Lambda::Function")
        .with("DependsOn", "LogGroup")
        .with("Metadata", findings::cloudformation_metadata(&accepted))
        .with("Properties", properties)
}

fn event_invoke_config(options: &TemplateOptions) -> Node {
    Node::map().with("Type", "AWS::Lambda::EventInvokeConfig").with(
        "Properties",
        Node::map()
            .with("FunctionName", reference("Function"))
            .with("Qualifier", "$LATEST")
            .with("MaximumRetryAttempts", options.retry_attempts)
            .with("MaximumEventAgeInSeconds", options.max_event_age_seconds)
            .with(
                "DestinationConfig",
                Node::map().with("OnFailure", Node::map().with("Destination", on_failure_destination())),
            ),
    )
}

/// Every alarm the groups list, each with a logical-id stem unique in the template.
pub fn alarm_logical_ids(config: &Config) -> Vec<(String, String)> {
    let mut taken: BTreeMap<String, usize> = BTreeMap::new();
    let mut out: Vec<(String, String)> = Vec::new();
    for alarm in config.groups.iter().flat_map(|group| &group.alarms) {
        if out.iter().any(|(_, listed)| listed == alarm) {
            continue;
        }
        let stem: String = alarm
            .split(|c: char| !c.is_ascii_alphanumeric())
            .filter(|word| !word.is_empty())
            .map(|word| {
                let mut chars = word.chars();
                chars
                    .next()
                    .map(|first| first.to_ascii_uppercase())
                    .into_iter()
                    .chain(chars)
                    .collect::<String>()
            })
            .collect::<String>()
            .chars()
            .take(64)
            .collect();
        let stem = if stem.is_empty() { "Unnamed".to_owned() } else { stem };
        let count = taken.entry(stem.clone()).or_insert(0);
        *count += 1;
        let id = if *count == 1 { stem } else { format!("{stem}{count}") };
        out.push((format!("Alarm{id}"), alarm.clone()));
    }
    out
}

/// `${` in a name would be read by `!Sub` as a reference; `${!` is its escape.
fn sub_escaped(text: &str) -> String {
    text.replace("${", "${!")
}

/// The ARN of the alarm called `name`, for `!Sub`.
pub fn alarm_arn_sub(name: &str) -> String {
    policy::alarm_arn(policy::PARTITION, "${AWS::Region}", policy::ACCOUNT, &sub_escaped(name))
}

fn permission(alarm: &str) -> Node {
    Node::map().with("Type", "AWS::Lambda::Permission").with(
        "Properties",
        Node::map()
            .with("FunctionName", get_att("Function", "Arn"))
            .with("Action", "lambda:InvokeFunction")
            .with("Principal", ALARM_PRINCIPAL)
            .with("SourceAccount", reference("AWS::AccountId"))
            .with("SourceArn", sub(&alarm_arn_sub(alarm))),
    )
}

/// The alarm a group defines. `on_insufficient_data`: a group listing it fails over on
/// INSUFFICIENT_DATA too, so the function is also that state's action (CloudWatch invokes only
/// the actions of the state an alarm moves into).
fn alarm_resource(definition: &AlarmDefinition, groups: &[String], on_insufficient_data: bool) -> Node {
    let dimensions = definition
        .dimensions
        .iter()
        .map(|(name, value)| Node::map().with("Name", name.as_str()).with("Value", value.as_str()));
    let mut properties = Node::map()
        .with("AlarmName", definition.name.as_str())
        .with("AlarmDescription", format!("coldstandby: ALARM fails over the group(s) {}", groups.join(", ")))
        .with("Namespace", definition.namespace.as_str())
        .with("MetricName", definition.metric_name.as_str())
        .with("Dimensions", Node::List(dimensions.collect()));
    match definition.statistic {
        Statistic::Percentile(_) => properties.insert("ExtendedStatistic", definition.statistic.to_string()),
        _ => properties.insert("Statistic", definition.statistic.to_string()),
    }
    properties = properties
        .with("Period", definition.period_seconds)
        .with("EvaluationPeriods", definition.evaluation_periods)
        .with("DatapointsToAlarm", definition.datapoints_to_alarm)
        .with("Threshold", Node::Float(definition.threshold))
        .with("ComparisonOperator", definition.comparison.as_str())
        .with("TreatMissingData", definition.treat_missing_data.as_str())
        .with("ActionsEnabled", true)
        // The function only: it stops the primary itself, in order, before promoting.
        .with("AlarmActions", Node::list([get_att("Function", "Arn")]));
    if on_insufficient_data {
        properties.insert("InsufficientDataActions", Node::list([get_att("Function", "Arn")]));
    }
    Node::map().with("Type", "AWS::CloudWatch::Alarm").with("Properties", properties)
}

/// The groups' lease table: on-demand (a lease costs a few writes a failover), kept when the
/// stack is deleted and protected from deletion, since a lost table resets every epoch.
fn lease_table(name: &str, encryption_key: KeySource<'_>) -> Node {
    let key = |attribute: &str, key_type: &str| {
        Node::map().with("AttributeName", attribute).with("KeyType", key_type)
    };
    Node::map()
        .with("Type", "AWS::DynamoDB::Table")
        .with("DeletionPolicy", "Retain")
        .with("UpdateReplacePolicy", "Retain")
        .with(
            "Properties",
            Node::map()
                .with("TableName", name)
                .with("BillingMode", "PAY_PER_REQUEST")
                .with("DeletionProtectionEnabled", true)
                .with(
                    "AttributeDefinitions",
                    Node::list([Node::map().with("AttributeName", "group").with("AttributeType", "S")]),
                )
                .with("KeySchema", Node::list([key("group", "HASH")]))
                .with(
                    "PointInTimeRecoverySpecification",
                    Node::map().with("PointInTimeRecoveryEnabled", true),
                )
                .with(
                    "SSESpecification",
                    Node::map()
                        .with("SSEEnabled", true)
                        .with("SSEType", "KMS")
                        .with("KMSMasterKeyId", encryption_key.arn()),
                ),
        )
}

/// A gateway endpoint, so a function in a VPC without a NAT reaches DynamoDB (free of charge),
/// on the route tables given.
fn lease_table_endpoint() -> Node {
    Node::map().with("Type", "AWS::EC2::VPCEndpoint").with("Condition", "ShouldCreateDynamoDbEndpoint").with(
        "Properties",
        Node::map()
            .with("VpcId", reference("VpcId"))
            .with("ServiceName", sub("com.amazonaws.${AWS::Region}.dynamodb"))
            .with("VpcEndpointType", "Gateway")
            .with("RouteTableIds", reference("DynamoDbRouteTableIds")),
    )
}

/// The function's security group in its VPC: HTTPS out, to the endpoints or a NAT.
fn function_security_group() -> Node {
    Node::map().with("Type", "AWS::EC2::SecurityGroup").with(
        "Properties",
        Node::map()
            .with("GroupDescription", "coldstandby function: HTTPS out to the AWS API endpoints only")
            .with("VpcId", reference("VpcId"))
            .with(
                "SecurityGroupEgress",
                Node::list([Node::map()
                    .with("Description", "AWS APIs through interface endpoints (or NAT)")
                    .with("IpProtocol", "tcp")
                    .with("FromPort", 443u32)
                    .with("ToPort", 443u32)
                    .with("CidrIp", "0.0.0.0/0")]),
            ),
    )
}

fn outputs() -> Node {
    let output =
        |description: &str, value: Node| Node::map().with("Description", description).with("Value", value);
    Node::map()
        .with("FunctionName", output("Pass to `coldstandby doctor --function`", reference("Function")))
        .with("FunctionArn", output("The alarm action", get_att("Function", "Arn")))
        .with("ExecutionRoleArn", output("The function's role", get_att("ExecutionRole", "Arn")))
        .with(
            "OnFailureTopicArn",
            output("Subscribe to hear of failed invocations", on_failure_destination()),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(alarms: &str, extra_groups: usize) -> Config {
        let mut text = format!(
            "region = \"ap-northeast-1\"\n[[group]]\nname = \"g0\"\nprimary = \"i-00000000000000a00\"\nstandbys = [\"i-00000000000000b00\"]\nalarms = [{alarms}]\n"
        );
        for n in 1..=extra_groups {
            text.push_str(&format!(
                "[[group]]\nname = \"g{n}\"\nprimary = \"i-00000000000000a{n:02}\"\nstandbys = [\"i-00000000000000b{n:02}\"]\n"
            ));
        }
        coldstandby_config::parse(&text, "test").unwrap()
    }

    #[test]
    fn alarm_names_that_clean_up_alike_get_distinct_logical_ids() {
        let ids = alarm_logical_ids(&config(r#""web-cpu", "web_cpu", "web cpu", "%%""#, 0));
        let stems: Vec<&str> = ids.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(stems, ["AlarmWebCpu", "AlarmWebCpu2", "AlarmWebCpu3", "AlarmUnnamed"]);
    }

    #[test]
    fn a_group_that_fails_over_on_silence_gets_the_function_as_insufficient_data_action() {
        let text = |opt_in: bool| {
            let config = coldstandby_config::parse(
                &format!(
                    "region = \"ap-northeast-1\"\n[[group]]\nname = \"g0\"\nprimary = \"i-00000000000000a00\"\nstandbys = [\"i-00000000000000b00\"]\nalarms = [\"cpu\"]\nfail_over_on_insufficient_data = {opt_in}\n[group.alarm]\nmetric_name = \"CPUUtilization\"\nthreshold = 50\ncomparison_operator = \"GreaterThanThreshold\"\n"
                ),
                "test",
            )
            .unwrap();
            cloudformation(&config, &TemplateOptions::default()).unwrap()
        };
        assert!(
            text(true).contains("InsufficientDataActions:\n        - !GetAtt Function.Arn"),
            "{}",
            text(true)
        );
        assert!(!text(false).contains("InsufficientDataActions"));
    }

    #[test]
    fn the_reservation_is_a_parameter_that_can_be_dropped_and_raised_only_with_the_lease() {
        let text = cloudformation(&config(r#""a""#, 0), &TemplateOptions::default()).unwrap();
        assert!(
            text.contains("ReservedConcurrentExecutions: !If\n        - ReserveConcurrency\n        - 1\n        - !Ref AWS::NoValue"),
            "{text}"
        );
        assert!(
            text.contains("AllowedValues:\n      - '1'\n      - '0'")
                || text.contains("AllowedValues:\n      - \"1\"\n      - \"0\""),
            "{text}"
        );
        assert!(!text.contains("LeaseTable") && !text.contains("dynamodb"), "no lease, no table");

        let mut leased = config(r#""a""#, 0);
        leased.lease = Some(coldstandby_config::LeaseConfig {
            table: "coldstandby-leases".to_owned(),
            duration: std::time::Duration::from_secs(20),
        });
        let vpc = TemplateOptions { vpc: true, ..TemplateOptions::default() };
        let text = cloudformation(&leased, &vpc).unwrap();
        assert!(text.contains("MaxValue: 1000") && !text.contains("AllowedValues:\n      - '1'"), "{text}");
        assert!(text.contains("- ReserveConcurrency\n        - !Ref ReservedConcurrency"), "{text}");
        for expected in [
            "Type: AWS::DynamoDB::Table",
            "DeletionPolicy: Retain",
            "BillingMode: PAY_PER_REQUEST",
            "DeletionProtectionEnabled: true",
            "TableName: coldstandby-leases",
            "- dynamodb:GetItem",
            "- dynamodb:PutItem",
            ":table/coldstandby-leases",
            "VpcEndpointType: Gateway",
            "DynamoDbRouteTableIds:",
        ] {
            assert!(text.contains(expected), "{expected} missing:\n{text}");
        }
    }

    #[test]
    fn a_dollar_brace_in_an_alarm_name_is_escaped_for_sub() {
        assert!(alarm_arn_sub("odd${name}").ends_with(":alarm:odd${!name}"));
    }

    #[test]
    fn a_configuration_too_large_for_the_environment_is_refused_unless_bundled() {
        let big = config(r#""a""#, 12);
        let error = cloudformation(&big, &TemplateOptions::default()).unwrap_err();
        assert!(matches!(error, TemplateError::ConfigTooLarge { .. }), "{error}");
        assert!(error.to_string().contains("--config-in-zip"));
        let bundled = TemplateOptions { config_in_environment: false, ..TemplateOptions::default() };
        let text = cloudformation(&big, &bundled).unwrap();
        assert!(!text.contains("COLDSTANDBY_CONFIG"));
    }

    #[test]
    fn every_bad_option_is_named() {
        let options = TemplateOptions {
            function_name: "bad name".to_owned(),
            log_retention_days: 10,
            retry_attempts: 3,
            max_event_age_seconds: 30,
            kms_key_arns: vec!["alias/ebs".to_owned()],
            ..TemplateOptions::default()
        };
        let problems = options.problems();
        assert_eq!(problems.len(), 5, "{problems:#?}");
        for flag in [
            "--function-name",
            "--log-retention-days",
            "--retry-attempts",
            "--max-event-age-seconds",
            "--kms-key-arn",
        ] {
            assert!(problems.iter().any(|p| p.starts_with(flag)), "{flag} not named in {problems:#?}");
        }
    }
}
