//! `coldstandby doctor`: checks of a live account, decided here from facts an adapter gathered
//! (instances, the function, its resource policy, the alarms, the role's permissions, the
//! network). Each check is PASS, WARN or FAIL, says what it found, and for a FAIL the fix.

use std::collections::BTreeMap;

use coldstandby_config::{Config, GroupConfig};
use coldstandby_engine::tags::ROLE_TAG;
use coldstandby_engine::InstanceId;
use serde::Serialize;

use crate::iam::{Decision, Request};
use crate::policy::{self, TOOL_TAG_KEYS};

/// What to do when a lookup doctor depends on failed: nothing it would have checked is known.
pub(crate) const LOOKUP_FIX: &str =
    "check the credentials, region and endpoint, and give them the read access doctor \
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
    /// SNS interface endpoints (for notifications).
    pub sns_endpoints: Vec<EndpointFacts>,
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
    // The movers', readiness checks', lease's and notifications' calls: what the template
    // grants, asked one by one.
    let resolve =
        |resource: &str| resource.replace(policy::PARTITION, partition).replace(policy::ACCOUNT, account);
    let extra = policy::lease_statement(config)
        .into_iter()
        .chain(policy::alarm_states_statement(config))
        .chain(policy::notification_statement(config));
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
        Some(lookup) => {
            crate::function_checks::function_checks(context, lookup, &facts.instances, &mut checks)
        }
    };
    for alarm in context
        .config
        .groups
        .iter()
        .flat_map(|group| &group.alarms)
        .collect::<std::collections::BTreeSet<_>>()
    {
        checks.extend(crate::alarm_checks::alarm_checks(context, facts, alarm, function));
    }
    if let Some(function) = function {
        checks.extend(
            context.config.groups.iter().filter_map(|group| crate::reach::readiness_reach(group, function)),
        );
        if let Some(role) = &facts.role {
            checks.push(crate::access_checks::role_check(context, function, role));
        }
        checks.push(crate::access_checks::network_check(context, function, facts.network.as_ref()));
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

pub(crate) fn check(
    subject: &str,
    check: &'static str,
    status: Status,
    found: String,
    fix: Option<String>,
) -> Check {
    Check { subject: subject.to_owned(), check, status, found, fix }
}

#[expect(clippy::too_many_lines, reason = "each group's checks in the order doctor prints them")]
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

/// The checks as `coldstandby doctor` prints them: one line each (the fix under a WARN or FAIL),
/// then the totals and the verdict.
pub fn render_text(checks: &[Check]) -> Vec<String> {
    use coldstandby_engine::text::counted_len;
    let subject_width = checks.iter().map(|c| c.subject.len()).max().unwrap_or(0);
    let check_width = checks.iter().map(|c| c.check.len()).max().unwrap_or(0);
    let mut lines = Vec::new();
    for check in checks {
        lines.push(format!(
            "{}  {:<subject_width$}  {:<check_width$}  {}",
            check.status.as_str(),
            check.subject,
            check.check,
            check.found
        ));
        if let Some(fix) = check.fix.as_ref().filter(|_| check.status != Status::Pass) {
            lines.push(format!("      fix: {fix}"));
        }
    }
    let count = |status: Status| checks.iter().filter(|check| check.status == status).count();
    let failed = count(Status::Fail);
    lines.push(String::new());
    let verdict = if failed > 0 { "NOT READY" } else { "ready" };
    lines.push(format!(
        "{}: {} passed, {}, {failed} failed: {verdict}",
        counted_len(checks.len(), "check", "checks"),
        count(Status::Pass),
        counted_len(count(Status::Warn), "warning", "warnings"),
    ));
    lines
}
