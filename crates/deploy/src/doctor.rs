//! `coldstandby doctor`: checks of a live account, decided here from facts an adapter gathered
//! (instances, the function, its resource policy, the alarms, the role's permissions, the
//! network). Each check is PASS, WARN or FAIL, says what it found, and for a FAIL the fix.

use std::collections::BTreeMap;

use coldstandby_config::{Config, GroupConfig};
use coldstandby_engine::tags::ROLE_TAG;
use coldstandby_engine::InstanceId;
use serde::Serialize;
use serde_json::Value;

use crate::iam::{statements, texts, wildcard_match, Decision, Request};
use crate::policy::{self, TOOL_TAG_KEYS};
use crate::sizing;
use crate::template::ALARM_PRINCIPAL;

/// What to do when a lookup doctor depends on failed: nothing it would have checked is known.
const LOOKUP_FIX: &str = "check the credentials, region and endpoint, and give them the read access doctor \
                          needs (docs/commands.md, `coldstandby doctor`)";

/// Why a fact could not be looked up (access denied, throttled, ...), as doctor reports it: the
/// operation and the service's own code and message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct LookupFailed(pub String);

/// A fact, or why it could not be looked up.
pub type Lookup<T> = Result<T, LookupFailed>;

/// One instance as EC2 describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstanceFacts {
    pub state: String,
    pub availability_zone: String,
    /// `ebs` or `instance-store`.
    pub root_device_type: String,
    pub tags: BTreeMap<String, String>,
    /// None for an instance outside a VPC (EC2-Classic no longer exists, but the field is optional).
    pub subnet_id: Option<String>,
}

/// Where a function attached to a VPC runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VpcPlacement {
    pub vpc_id: String,
    pub subnet_ids: Vec<String>,
}

/// The deployed function.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FunctionFacts {
    pub name: String,
    pub arn: String,
    pub runtime: Option<String>,
    pub timeout_seconds: u64,
    /// None: no reserved concurrency (the account's unreserved pool).
    pub reserved_concurrency: Option<u32>,
    /// `COLDSTANDBY_CONFIG` from its environment.
    pub environment_config: Option<String>,
    pub role_arn: String,
    pub vpc: Option<VpcPlacement>,
    /// The resource-based policy (JSON); None when it has none.
    pub resource_policy: Option<String>,
    /// The account's concurrency (GetAccountSettings), to tell whether a reservation is possible.
    pub account_concurrency: Lookup<AccountConcurrency>,
}

/// The account's Lambda concurrency, as GetAccountSettings reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AccountConcurrency {
    /// The account's concurrent-executions quota in the region.
    pub limit: u32,
    /// What no function has reserved (the pool unreserved functions share).
    pub unreserved: u32,
}

impl AccountConcurrency {
    /// The unreserved concurrency Lambda insists on keeping: 100, or the whole quota in accounts
    /// whose quota is lower (new accounts often have 10, and then nothing can be reserved).
    pub fn minimum_unreserved(self) -> u32 {
        self.limit.min(100)
    }

    /// Whether one more execution can be reserved (for a function that has none yet).
    pub fn can_reserve_one(self) -> bool {
        self.unreserved > self.minimum_unreserved()
    }
}

/// One alarm as `describe-alarms` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlarmFacts {
    pub arn: String,
    pub actions_enabled: bool,
    pub alarm_actions: Vec<String>,
    /// What the alarm invokes on a transition into INSUFFICIENT_DATA.
    pub insufficient_data_actions: Vec<String>,
    /// None for a composite or metric-math alarm.
    pub metric: Option<MetricFacts>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetricFacts {
    pub namespace: String,
    pub name: String,
    pub dimensions: BTreeMap<String, String>,
}

/// One call the engine makes, and whether the role may make it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PermissionFact {
    pub request: Request,
    pub decision: Decision,
}

/// The role's permissions for every call the engine makes, and how they were decided.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleFacts {
    /// "the IAM policy simulator" or "the role's policy documents".
    pub method: String,
    pub permissions: Vec<PermissionFact>,
}

/// An interface endpoint for the EC2 API in the function's VPC.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndpointFacts {
    pub id: String,
    pub state: String,
    pub private_dns: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetworkFacts {
    pub ec2_endpoints: Vec<EndpointFacts>,
    /// Interface endpoints for the load-balancing and Route 53 APIs (the movers' and readiness
    /// checks' calls), in the function's VPC.
    pub load_balancing_endpoints: Vec<EndpointFacts>,
    pub route53_endpoints: Vec<EndpointFacts>,
    /// Subnets whose route table sends 0.0.0.0/0 to a NAT gateway.
    pub subnets_with_nat: Vec<String>,
    /// The function's subnets' route tables (explicit association, else the VPC's main table).
    pub subnet_route_tables: BTreeMap<String, String>,
    /// Route tables a DynamoDB gateway endpoint in the VPC is on.
    pub dynamodb_gateway_route_tables: Vec<String>,
}

/// Everything doctor looked at.
#[derive(Clone, Debug)]
pub struct Facts {
    pub partition: String,
    /// The account the alarms are in (from the function's ARN or the instances' owner).
    pub account: Option<String>,
    /// Every instance the configuration (and the function's configuration) names; absent ones
    /// do not exist.
    pub instances: Lookup<BTreeMap<InstanceId, InstanceFacts>>,
    /// None: no function was named. Ok(None): it does not exist.
    pub function: Option<Lookup<Option<FunctionFacts>>>,
    /// The alarms the groups list, by name; absent ones do not exist.
    pub alarms: Lookup<BTreeMap<String, AlarmFacts>>,
    pub role: Option<Lookup<RoleFacts>>,
    /// Only for a function in a VPC.
    pub network: Option<Lookup<NetworkFacts>>,
    /// Only when `--subnets` names the subnets of a `--vpc` deployment to come.
    pub planned_subnets: Option<crate::subnets::PlannedSubnets>,
    /// Every group's movers, read now.
    pub clients: Vec<crate::mover_checks::MoverFacts>,
    /// The lease table, with `[lease]` configured. Ok(None): it does not exist.
    pub lease_table: Option<Lookup<Option<crate::lease_checks::LeaseTableFacts>>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Status {
    Pass,
    Warn,
    Fail,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "PASS",
            Self::Warn => "WARN",
            Self::Fail => "FAIL",
        }
    }
}

/// One check's result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Check {
    /// What was checked: `group web`, `function coldstandby`, `alarm web-cpu`, ...
    pub subject: String,
    /// Which check: `members exist`, `timeout`, `invoke permission`, ...
    pub check: &'static str,
    pub status: Status,
    /// What was found.
    pub found: String,
    /// For a FAIL (and some WARNs): what to do.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

/// What doctor needs besides the facts.
#[derive(Clone, Debug)]
pub struct Context<'a> {
    pub config: &'a Config,
    /// The configuration file, for fixes that point into it.
    pub config_path: &'a str,
}

/// The instance ids the engine will call: those of `config` and of the function's own
/// configuration (when it parses), so the adapter describes them all at once.
pub fn instances_to_describe(config: &Config, function_config: Option<&str>) -> Vec<InstanceId> {
    let mut ids: Vec<InstanceId> = config.groups.iter().flat_map(|group| group.spec.members()).collect();
    if let Some(Ok(deployed)) = function_config.map(|text| coldstandby_config::parse(text, "function")) {
        ids.extend(deployed.groups.iter().flat_map(|group| group.spec.members()));
    }
    ids.sort();
    ids.dedup();
    ids
}

/// The calls the role must be allowed, for every member of every group.
pub fn required_permissions(config: &Config, partition: &str, account: &str) -> Vec<Request> {
    let tag_keys = TOOL_TAG_KEYS.iter().map(|key| (*key).to_owned()).collect::<Vec<_>>();
    let mut requests = vec![Request {
        action: "ec2:DescribeInstances".into(),
        resource: "*".into(),
        context: BTreeMap::new(),
    }];
    for member in config.groups.iter().flat_map(|group| group.spec.members()) {
        let arn = policy::instance_arn(partition, &config.region, account, member.as_str());
        for action in ["ec2:StopInstances", "ec2:StartInstances"] {
            requests.push(Request { action: action.into(), resource: arn.clone(), context: BTreeMap::new() });
        }
        requests.push(Request {
            action: "ec2:CreateTags".into(),
            resource: arn,
            context: BTreeMap::from([("aws:tagkeys".to_owned(), tag_keys.clone())]),
        });
    }
    // The movers', readiness checks' and lease's calls: what the template grants, asked one by one.
    let resolve =
        |resource: &str| resource.replace(policy::PARTITION, partition).replace(policy::ACCOUNT, account);
    let extra = policy::lease_statement(config).into_iter().chain(policy::alarm_states_statement(config));
    for statement in crate::movers::statements(config).into_iter().chain(extra) {
        let context: BTreeMap<String, Vec<String>> = statement
            .condition
            .iter()
            .map(|condition| (condition.key.to_ascii_lowercase(), condition.values.clone()))
            .collect();
        for action in &statement.actions {
            for resource in &statement.resources {
                requests.push(Request {
                    action: (*action).into(),
                    resource: resolve(resource),
                    context: context.clone(),
                });
            }
        }
    }
    requests
}

/// Every check, in a fixed order: groups, function, alarms, role, network.
pub fn run_checks(context: &Context<'_>, facts: &Facts) -> Vec<Check> {
    let mut checks = Vec::new();
    for group in &context.config.groups {
        checks.extend(group_checks(context, group, &facts.instances));
        if let Ok(instances) = &facts.instances {
            checks.extend(crate::placement_checks::check(group, instances, context.config_path));
        }
    }
    checks.extend(crate::mover_checks::checks(&facts.clients));
    checks.extend(crate::lease_checks::table_check(context.config, facts.lease_table.as_ref()));
    let function = match &facts.function {
        None => {
            checks.push(Check {
                subject: "function".into(),
                check: "deployed",
                status: Status::Warn,
                found:
                    "not checked: no --function given, so its timeout, concurrency, configuration, invoke \
                        permissions, role and network were not looked at"
                        .into(),
                fix: Some("run doctor with --function NAME (the stack's FunctionName output)".into()),
            });
            None
        }
        Some(lookup) => function_checks(context, lookup, &facts.instances, &mut checks),
    };
    for alarm in context
        .config
        .groups
        .iter()
        .flat_map(|group| &group.alarms)
        .collect::<std::collections::BTreeSet<_>>()
    {
        checks.extend(alarm_checks(context, facts, alarm, function));
    }
    if let Some(function) = function {
        checks.extend(
            context.config.groups.iter().filter_map(|group| crate::reach::readiness_reach(group, function)),
        );
        if let Some(role) = &facts.role {
            checks.push(role_check(context, function, role));
        }
        checks.push(network_check(context, function, facts.network.as_ref()));
        if let (Some(vpc), Some(Ok(network))) = (&function.vpc, &facts.network) {
            checks.extend(crate::reach::api_reach(context.config, function, vpc, network));
            checks.extend(crate::lease_checks::reach_check(context.config, function, vpc, network));
        }
    }
    if let Some(planned) = &facts.planned_subnets {
        checks.push(crate::subnets::check(planned));
    }
    checks
}

fn check(subject: &str, check: &'static str, status: Status, found: String, fix: Option<String>) -> Check {
    Check { subject: subject.to_owned(), check, status, found, fix }
}

fn group_checks(
    context: &Context<'_>,
    group: &GroupConfig,
    instances: &Lookup<BTreeMap<InstanceId, InstanceFacts>>,
) -> Vec<Check> {
    let subject = format!("group {}", group.spec.name);
    let instances = match instances {
        Ok(instances) => instances,
        Err(reason) => {
            return vec![check(
                &subject,
                "members exist",
                Status::Fail,
                format!("could not describe the instances: {reason}"),
                Some(LOOKUP_FIX.to_owned()),
            )]
        }
    };
    let members = group.spec.members();
    let missing: Vec<&str> =
        members.iter().filter(|id| !instances.contains_key(id)).map(InstanceId::as_str).collect();
    let mut checks = Vec::new();
    if !missing.is_empty() {
        checks.push(check(
            &subject,
            "members exist",
            Status::Fail,
            format!(
                "{} not found in {}; the function refuses to act on a group with a missing member",
                missing.join(", "),
                context.config.region
            ),
            Some(format!(
                "correct the group's instance ids in {} (and redeploy), or check the region",
                context.config_path
            )),
        ));
        return checks;
    }
    checks.push(check(
        &subject,
        "members exist",
        Status::Pass,
        format!("{} members found", members.len()),
        None,
    ));
    let fact = |id: &InstanceId| &instances[id];

    let instance_store: Vec<&str> =
        members.iter().filter(|id| fact(id).root_device_type != "ebs").map(InstanceId::as_str).collect();
    checks.push(if instance_store.is_empty() {
        check(
            &subject,
            "EBS root",
            Status::Pass,
            "every member has an EBS root volume, so it can be stopped".into(),
            None,
        )
    } else {
        check(
            &subject,
            "EBS root",
            Status::Fail,
            format!(
                "{} boot from instance store, which cannot be stopped (only terminated)",
                instance_store.join(", ")
            ),
            Some("use EBS-backed instances for every member of a cold-standby group".into()),
        )
    });

    let primary_zone = &fact(&group.spec.primary).availability_zone;
    let same_zone: Vec<&str> = group
        .spec
        .standbys
        .iter()
        .filter(|id| &fact(id).availability_zone == primary_zone)
        .map(InstanceId::as_str)
        .collect();
    checks.push(if same_zone.is_empty() {
        let zones: Vec<String> =
            members.iter().map(|id| format!("{id} {}", fact(id).availability_zone)).collect();
        check(&subject, "separate AZs", Status::Pass, zones.join(", "), None)
    } else {
        check(
            &subject,
            "separate AZs",
            Status::Warn,
            format!("{} in {primary_zone}, the primary's AZ: an AZ outage takes both", same_zone.join(", ")),
            Some("place standbys in another Availability Zone than the primary".into()),
        )
    });
    checks.push(states_check(&subject, group, instances));
    checks
}

fn states_check(
    subject: &str,
    group: &GroupConfig,
    instances: &BTreeMap<InstanceId, InstanceFacts>,
) -> Check {
    let members = group.spec.members();
    let state = |id: &InstanceId| instances[id].state.as_str();
    let live: Vec<&InstanceId> =
        members.iter().filter(|id| matches!(state(id), "running" | "pending")).collect();
    let recorded_active: Vec<&InstanceId> = members
        .iter()
        .filter(|id| instances[*id].tags.get(ROLE_TAG).map(String::as_str) == Some("active"))
        .collect();
    let listing: Vec<String> = members.iter().map(|id| format!("{id} {}", state(id))).collect();
    let listing = listing.join(", ");
    let expected_active = match recorded_active.as_slice() {
        [one] => (*one).clone(),
        _ => group.spec.primary.clone(),
    };
    match live.as_slice() {
        [one] if **one == expected_active => check(subject, "member states", Status::Pass, listing, None),
        [one] => check(
            subject,
            "member states",
            Status::Warn,
            format!("{listing}; {one} runs but {expected_active} is the member expected active"),
            Some(format!("`coldstandby status --config FILE` shows the recorded roles; a failover of group {} records the running member", group.spec.name)),
        ),
        [] => check(
            subject,
            "member states",
            Status::Warn,
            format!("{listing}: no member is running, so there is nothing to fail over from"),
            None,
        ),
        _ => check(
            subject,
            "member states",
            Status::Fail,
            format!("{listing}: more than one member is live (two primaries)"),
            Some("stop every member but the one that should serve (`aws ec2 stop-instances --instance-ids ...`)".into()),
        ),
    }
}

fn function_checks<'f>(
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
fn concurrency_check(subject: &str, function: &FunctionFacts, leased: bool) -> Check {
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

fn configuration_check(
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

/// The ARN an alarm has (or will have) in this account.
fn alarm_arn(context: &Context<'_>, facts: &Facts, name: &str) -> Option<String> {
    if let Ok(Some(alarm)) = facts.alarms.as_ref().map(|alarms| alarms.get(name)) {
        return Some(alarm.arn.clone());
    }
    let account = facts.account.as_ref()?;
    Some(policy::alarm_arn(&facts.partition, &context.config.region, account, name))
}

fn alarm_checks(
    context: &Context<'_>,
    facts: &Facts,
    name: &str,
    function: Option<&FunctionFacts>,
) -> Vec<Check> {
    let subject = format!("alarm {name}");
    let mut checks = Vec::new();
    if let Some(function) = function {
        checks.push(permission_check(
            &subject,
            function,
            alarm_arn(context, facts, name).as_deref(),
            facts.account.as_deref(),
        ));
    }
    let alarms = match &facts.alarms {
        Ok(alarms) => alarms,
        Err(reason) => {
            checks.push(check(
                &subject,
                "defined",
                Status::Fail,
                format!("could not describe alarms: {reason}"),
                Some(LOOKUP_FIX.to_owned()),
            ));
            return checks;
        }
    };
    let Some(alarm) = alarms.get(name) else {
        let defined_here =
            context.config.groups.iter().any(|g| g.alarm.as_ref().is_some_and(|a| a.name == name));
        let fix = if defined_here {
            "deploy the template: it creates this alarm from the group's [group.alarm] table".to_owned()
        } else {
            "create it (aws cloudwatch put-metric-alarm ...), or define it in the group's [group.alarm] table and deploy the template".to_owned()
        };
        checks.push(check(
            &subject,
            "defined",
            Status::Fail,
            format!("no alarm named {name} in {}", context.config.region),
            Some(fix),
        ));
        return checks;
    };
    checks.push(check(&subject, "defined", Status::Pass, alarm.arn.clone(), None));

    if let Some(function) = function {
        if let Some(action_check) = insufficient_data_check(context, &subject, name, alarm, function) {
            checks.push(action_check);
        }
        let invokes = alarm.alarm_actions.iter().any(|action| same_function(action, &function.arn));
        let stop_actions: Vec<&String> = alarm
            .alarm_actions
            .iter()
            .filter(|a| a.contains(":automate:") && a.ends_with(":ec2:stop"))
            .collect();
        checks.push(if !invokes {
            check(
                &subject,
                "alarm action",
                Status::Fail,
                format!("its alarm actions ({}) do not include {}", alarm.alarm_actions.join(", "), function.arn),
                Some(format!(
                    "add {} to the alarm's actions (put-metric-alarm replaces the whole alarm: repeat its settings), or define the alarm in [group.alarm] and deploy the template",
                    function.arn
                )),
            )
        } else if !alarm.actions_enabled {
            check(
                &subject,
                "alarm action",
                Status::Fail,
                "its actions are disabled: the function is never invoked".into(),
                Some(format!("aws cloudwatch enable-alarm-actions --alarm-names {name}")),
            )
        } else if !stop_actions.is_empty() {
            check(
                &subject,
                "alarm action",
                Status::Warn,
                "invokes the function, and also has an EC2 stop action: the two run in no order; the function stops the primary itself, in order".into(),
                Some("remove the EC2 stop action from the alarm".into()),
            )
        } else {
            check(&subject, "alarm action", Status::Pass, format!("invokes {}", function.arn), None)
        });
    }

    for group in context.config.groups.iter().filter(|g| g.alarms.iter().any(|a| a == name)) {
        let primary = group.spec.primary.as_str();
        let watched = alarm.metric.as_ref().and_then(|metric| metric.dimensions.get("InstanceId"));
        checks.push(match watched {
            Some(instance) if instance == primary => check(
                &subject,
                "watches the primary",
                Status::Pass,
                format!("{} of {primary} (group {})", alarm.metric.as_ref().map_or("", |m| m.name.as_str()), group.spec.name),
                None,
            ),
            Some(instance) => check(
                &subject,
                "watches the primary",
                Status::Fail,
                format!("watches {instance}, not group {}'s primary {primary}: the function refuses such events", group.spec.name),
                Some(format!("point the alarm's InstanceId dimension at {primary}")),
            ),
            None => check(
                &subject,
                "watches the primary",
                Status::Warn,
                format!("has no InstanceId dimension (composite, math or aggregate alarm): cannot tell whether it watches {primary}"),
                None,
            ),
        });
    }
    checks
}

/// For an alarm a group fails over on in INSUFFICIENT_DATA too: the function must be among that
/// state's actions, or the silence the group opted into never reaches it.
fn insufficient_data_check(
    context: &Context<'_>,
    subject: &str,
    name: &str,
    alarm: &AlarmFacts,
    function: &FunctionFacts,
) -> Option<Check> {
    let groups: Vec<&str> = context
        .config
        .groups_for_alarm(name)
        .into_iter()
        .filter(|group| group.fail_over_on_insufficient_data)
        .map(|group| group.spec.name.as_str())
        .collect();
    if groups.is_empty() {
        return None;
    }
    let invoked = alarm.insufficient_data_actions.iter().any(|action| same_function(action, &function.arn));
    Some(if invoked {
        check(subject, "insufficient-data action", Status::Pass, format!("invokes {}", function.arn), None)
    } else {
        check(
            subject,
            "insufficient-data action",
            Status::Fail,
            format!(
                "group {} fails over on INSUFFICIENT_DATA, but the alarm's insufficient-data actions ({}) do not include {}: CloudWatch never invokes it for that state",
                groups.join(", "),
                if alarm.insufficient_data_actions.is_empty() { "none".to_owned() } else { alarm.insufficient_data_actions.join(", ") },
                function.arn
            ),
            Some(format!(
                "add {} to the alarm's insufficient-data actions, or define the alarm in [group.alarm] and deploy the template",
                function.arn
            )),
        )
    })
}

/// Whether an alarm action names the function: its ARN, or the ARN with a version or alias
/// qualifier (`...:function:NAME:prod`, `...:function:NAME:3`, `$LATEST`), which CloudWatch
/// accepts as an action too.
fn same_function(action: &str, function_arn: &str) -> bool {
    let unqualified = function_arn.splitn(8, ':').take(7).collect::<Vec<_>>().join(":");
    match action.strip_prefix(unqualified.as_str()) {
        Some("") => true,
        Some(rest) => rest.strip_prefix(':').is_some_and(|qualifier| {
            !qualifier.is_empty()
                && qualifier.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '$'))
        }),
        None => false,
    }
}

fn permission_check(
    subject: &str,
    function: &FunctionFacts,
    alarm_arn: Option<&str>,
    account: Option<&str>,
) -> Check {
    let Some(alarm_arn) = alarm_arn else {
        return check(
            subject,
            "invoke permission",
            Status::Warn,
            "the account is unknown, so the alarm's ARN is too".into(),
            None,
        );
    };
    let policy =
        function.resource_policy.as_deref().and_then(|text| serde_json::from_str::<Value>(text).ok());
    if policy.iter().flat_map(statements).any(|statement| allows_alarm(statement, alarm_arn, account)) {
        return check(
            subject,
            "invoke permission",
            Status::Pass,
            format!("{ALARM_PRINCIPAL} may invoke it for {alarm_arn}"),
            None,
        );
    }
    let alarm_name = alarm_arn.rsplit(":alarm:").next().unwrap_or(alarm_arn);
    let statement_id: String = format!("coldstandby-{alarm_name}")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '-' })
        .take(100)
        .collect();
    let account_flag = account.map(|a| format!(" --source-account {a}")).unwrap_or_default();
    check(
        subject,
        "invoke permission",
        Status::Fail,
        format!(
            "the function's resource-based policy has no statement letting {ALARM_PRINCIPAL} call lambda:InvokeFunction for {alarm_arn}; \
             the alarm would fail with \"CloudWatch Alarms is not authorized to perform: lambda:InvokeFunction\""
        ),
        Some(format!(
            "aws lambda add-permission --function-name {} --statement-id {statement_id} --action lambda:InvokeFunction \
             --principal {ALARM_PRINCIPAL} --source-arn {alarm_arn}{account_flag}",
            function.name
        )),
    )
}

/// Whether one resource-policy statement lets the alarm principal invoke for `alarm_arn`.
fn allows_alarm(statement: &Value, alarm_arn: &str, account: Option<&str>) -> bool {
    let allow = statement.get("Effect").and_then(Value::as_str) == Some("Allow");
    let principal = statement.get("Principal");
    let principal_ok = principal
        .and_then(|p| p.get("Service"))
        .is_some_and(|service| texts(Some(service)).iter().any(|s| s == ALARM_PRINCIPAL))
        || principal.and_then(Value::as_str) == Some("*");
    let action_ok = texts(statement.get("Action"))
        .iter()
        .any(|action| wildcard_match(&action.to_ascii_lowercase(), "lambda:invokefunction"));
    if !(allow && principal_ok && action_ok) {
        return false;
    }
    let conditions = statement.get("Condition").and_then(Value::as_object);
    let mut source_arn_ok = true;
    let mut source_account_ok = true;
    for (operator, tests) in conditions.into_iter().flatten() {
        for (key, expected) in tests.as_object().into_iter().flatten() {
            let expected = texts(Some(expected));
            match key.to_ascii_lowercase().as_str() {
                "aws:sourcearn" => {
                    source_arn_ok = if operator.ends_with("Like") {
                        expected.iter().any(|pattern| wildcard_match(pattern, alarm_arn))
                    } else {
                        expected.iter().any(|arn| arn == alarm_arn)
                    }
                }
                "aws:sourceaccount" => {
                    source_account_ok = account.is_none_or(|a| expected.iter().any(|e| e == a))
                }
                _ => {}
            }
        }
    }
    source_arn_ok && source_account_ok
}

fn role_check(context: &Context<'_>, function: &FunctionFacts, role: &Lookup<RoleFacts>) -> Check {
    let subject = format!("role {}", function.role_arn.rsplit('/').next().unwrap_or(&function.role_arn));
    let role = match role {
        Ok(role) => role,
        Err(reason) => {
            return check(&subject, "permissions", Status::Warn, format!("could not check: {reason}"), None)
        }
    };
    let denied: Vec<String> = role
        .permissions
        .iter()
        .filter(|p| matches!(p.decision, Decision::ImplicitDeny | Decision::ExplicitDeny))
        .map(|p| format!("{} on {}", p.request.action, p.request.resource))
        .collect();
    let undecided: Vec<String> = role
        .permissions
        .iter()
        .filter_map(|p| match &p.decision {
            Decision::Undecided(reason) => {
                Some(format!("{} on {}: {reason}", p.request.action, p.request.resource))
            }
            _ => None,
        })
        .collect();
    if !denied.is_empty() {
        return check(
            &subject,
            "permissions",
            Status::Fail,
            format!("by {}, the role may not call: {}", role.method, denied.join("; ")),
            Some(format!(
                "give the role the policy `coldstandby template iam-policy --config {} --account ACCOUNT` prints (the template's role has it)",
                context.config_path
            )),
        );
    }
    if !undecided.is_empty() {
        return check(
            &subject,
            "permissions",
            Status::Warn,
            format!("by {}, undecided: {}", role.method, undecided.join("; ")),
            None,
        );
    }
    check(
        &subject,
        "permissions",
        Status::Pass,
        format!("by {}: all {} calls the engine makes are allowed", role.method, role.permissions.len()),
        None,
    )
}

fn network_check(
    context: &Context<'_>,
    function: &FunctionFacts,
    network: Option<&Lookup<NetworkFacts>>,
) -> Check {
    let subject = format!("function {}", function.name);
    let Some(vpc) = &function.vpc else {
        return check(
            &subject,
            "network",
            Status::Pass,
            "not attached to a VPC: it reaches the EC2 API directly".into(),
            None,
        );
    };
    let network = match network {
        Some(Ok(network)) => network,
        Some(Err(reason)) => {
            return check(
                &subject,
                "network",
                Status::Warn,
                format!("could not check {}: {reason}", vpc.vpc_id),
                None,
            )
        }
        None => {
            return check(&subject, "network", Status::Warn, format!("{} was not examined", vpc.vpc_id), None)
        }
    };
    let usable =
        network.ec2_endpoints.iter().find(|e| e.private_dns && e.state.eq_ignore_ascii_case("available"));
    if let Some(endpoint) = usable {
        return check(
            &subject,
            "network",
            Status::Pass,
            format!("in {}; EC2 endpoint {} with private DNS", vpc.vpc_id, endpoint.id),
            None,
        );
    }
    let without_nat: Vec<&String> =
        vpc.subnet_ids.iter().filter(|s| !network.subnets_with_nat.contains(s)).collect();
    if without_nat.is_empty() && !vpc.subnet_ids.is_empty() {
        return check(
            &subject,
            "network",
            Status::Pass,
            format!("in {}; every subnet routes to a NAT gateway", vpc.vpc_id),
            None,
        );
    }
    let endpoints = if network.ec2_endpoints.is_empty() {
        "no EC2 interface endpoint".to_owned()
    } else {
        let listed: Vec<String> = network
            .ec2_endpoints
            .iter()
            .map(|e| {
                format!("{} ({}, private DNS {})", e.id, e.state, if e.private_dns { "on" } else { "off" })
            })
            .collect();
        format!("EC2 endpoints {} not usable", listed.join(", "))
    };
    check(
        &subject,
        "network",
        Status::Fail,
        format!(
            "in {} with {endpoints} and no NAT route from {}: its EC2 calls cannot leave the VPC",
            vpc.vpc_id,
            without_nat.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
        ),
        Some(format!(
            "aws ec2 create-vpc-endpoint --vpc-id {} --vpc-endpoint-type Interface --service-name com.amazonaws.{}.ec2 \
             --subnet-ids {} --private-dns-enabled; or deploy the template generated with --vpc, which creates it",
            vpc.vpc_id,
            context.config.region,
            vpc.subnet_ids.join(" ")
        )),
    )
}
