//! The facts `coldstandby doctor` decides from, read from a live account with the SDK: the
//! groups' instances, the function (configuration, concurrency, resource policy), the alarms, the
//! role's permissions (IAM policy simulator, else the role's own policy documents) and, for a
//! function in a VPC, its EC2 endpoint or NAT routes. Read-only: nothing here changes anything.

use std::collections::BTreeMap;

use aws_config::SdkConfig;
use aws_sdk_ec2::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_ec2::types::Filter;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use coldstandby_config::Config;
use coldstandby_deploy::doctor::{
    self, AccountConcurrency, AlarmFacts, EndpointFacts, Facts, FunctionFacts, InstanceFacts, Lookup,
    LookupFailed, MetricFacts, NetworkFacts, PermissionFact, RoleFacts, VpcPlacement,
};
use coldstandby_deploy::iam::{self, Decision, Request};
use coldstandby_deploy::mover_checks::MoverFacts;
use coldstandby_deploy::subnets::{PlannedSubnets, SubnetFacts};
use coldstandby_engine::clients::Endpoint;
use coldstandby_engine::Observation;
use coldstandby_engine::{ApiError, InstanceId};
use serde_json::Value;

use crate::ec2;
use crate::errors::from_sdk_error;

/// The SDK clients doctor reads with.
#[derive(Clone, Debug)]
pub struct Inspector {
    ec2: aws_sdk_ec2::Client,
    /// Route tables, Route 53, load balancing and addresses: the movers' reads.
    clients: crate::clients::ClientApis,
    lambda: aws_sdk_lambda::Client,
    iam: aws_sdk_iam::Client,
    cloudwatch: aws_sdk_cloudwatch::Client,
    dynamodb: aws_sdk_dynamodb::Client,
}

fn describe_error<E>(operation: &str, error: SdkError<E, HttpResponse>) -> LookupFailed
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    lookup_error(operation, from_sdk_error(operation, error))
}

/// A failed lookup as doctor prints it, naming the operation once.
fn lookup_error(operation: &str, error: ApiError) -> LookupFailed {
    if error.message.starts_with(operation) {
        LookupFailed(format!("{}: {}", error.code, error.message))
    } else {
        LookupFailed(format!("{operation}: {error}"))
    }
}

fn is_not_found<E: ProvideErrorMetadata>(error: &SdkError<E, HttpResponse>) -> bool {
    error.as_service_error().and_then(ProvideErrorMetadata::code) == Some("ResourceNotFoundException")
}

impl Inspector {
    pub fn new(config: &SdkConfig) -> Self {
        Self {
            ec2: aws_sdk_ec2::Client::new(config),
            clients: crate::clients::ClientApis::from_config(config),
            lambda: aws_sdk_lambda::Client::new(config),
            iam: aws_sdk_iam::Client::new(config),
            cloudwatch: aws_sdk_cloudwatch::Client::new(config),
            dynamodb: aws_sdk_dynamodb::Client::new(config),
        }
    }

    /// Everything doctor checks for `config`, and the function called `function` if given.
    /// `planned_subnets`: the subnets a `--vpc` deployment will be given, checked before it is
    /// (none: not checked).
    pub async fn gather(&self, config: &Config, function: Option<&str>, planned_subnets: &[String]) -> Facts {
        let function = match function {
            Some(name) => Some(self.function(name).await),
            None => None,
        };
        let found = function.as_ref().and_then(|lookup| lookup.as_ref().ok()).and_then(Option::as_ref);
        let ids = doctor::instances_to_describe(config, found.and_then(|f| f.environment_config.as_deref()));
        let (instances, owner, observations) = match self.instances(&ids).await {
            Ok((instances, owner, observations)) => (Ok(instances), owner, Ok(observations)),
            Err(reason) => (Err(reason.clone()), None, Err(reason)),
        };
        let arn_parts = found.map(|f| f.arn.split(':').map(str::to_owned).collect::<Vec<_>>());
        let partition =
            arn_parts.as_ref().and_then(|p| p.get(1).cloned()).unwrap_or_else(|| "aws".to_owned());
        let account = arn_parts.as_ref().and_then(|p| p.get(4).cloned()).or(owner);
        let mut names: Vec<String> = config.groups.iter().flat_map(|g| g.alarms.iter().cloned()).collect();
        names.sort();
        names.dedup();
        let alarms = self.alarms(&names).await;
        let (role, network) = match found {
            Some(function) => {
                let role = match &account {
                    Some(account) => {
                        let requests = doctor::required_permissions(config, &partition, account);
                        Some(self.role(&function.role_arn, &requests).await)
                    }
                    None => {
                        Some(Err(LookupFailed("the account is unknown (no instance was found)".to_owned())))
                    }
                };
                let network = match &function.vpc {
                    Some(vpc) => Some(self.network(&config.region, vpc).await),
                    None => None,
                };
                (role, network)
            }
            None => (None, None),
        };
        let planned_subnets = if planned_subnets.is_empty() {
            None
        } else {
            Some(PlannedSubnets {
                requested: planned_subnets.to_vec(),
                found: self.subnets(planned_subnets).await,
            })
        };
        let clients = self.movers(config, &observations).await;
        let lease_table = match &config.lease {
            Some(lease) => Some(crate::inspect_lease::lease_table(&self.dynamodb, &lease.table).await),
            None => None,
        };
        Facts {
            partition,
            account,
            instances,
            function,
            alarms,
            role,
            network,
            planned_subnets,
            clients,
            lease_table,
        }
    }

    /// Every group's movers, read with the same calls a failover makes, judged later against
    /// the group's active member (recorded in tags, else the configured primary).
    async fn movers(&self, config: &Config, described: &Lookup<Vec<Observation>>) -> Vec<MoverFacts> {
        let mut facts = Vec::new();
        for group in config.groups.iter().filter(|group| !group.spec.movers.is_empty()) {
            let observations: Vec<Observation> = match described {
                Ok(all) => all.iter().filter(|o| group.spec.contains(&o.instance)).cloned().collect(),
                Err(_) => Vec::new(),
            };
            let status = coldstandby_engine::status::group_status(&group.spec, &observations);
            let endpoints: Vec<Endpoint> = observations.iter().filter_map(|o| o.endpoint()).collect();
            let active =
                status.active.and_then(|active| endpoints.iter().find(|e| e.instance == active).cloned());
            for mover in &group.spec.movers {
                let view = match &active {
                    Some(active) => self
                        .clients
                        .read(mover, active, None)
                        .await
                        .map_err(|error| lookup_error("reading the mover", error)),
                    None => Err(match described {
                        Err(reason) => reason.clone(),
                        Ok(_) => {
                            LookupFailed("the active member was not returned by DescribeInstances".to_owned())
                        }
                    }),
                };
                facts.push(MoverFacts {
                    group: group.spec.name.clone(),
                    mover: mover.clone(),
                    active: active.clone(),
                    members: endpoints.clone(),
                    view,
                });
            }
        }
        facts
    }

    /// The subnets among `ids` that exist (a filter, so a missing id is absent, not an error).
    async fn subnets(&self, ids: &[String]) -> Lookup<Vec<SubnetFacts>> {
        let answer = self
            .ec2
            .describe_subnets()
            .filters(Filter::builder().name("subnet-id").set_values(Some(ids.to_vec())).build())
            .send()
            .await
            .map_err(|error| describe_error("DescribeSubnets", error))?;
        Ok(answer
            .subnets()
            .iter()
            .map(|subnet| SubnetFacts {
                id: subnet.subnet_id().unwrap_or_default().to_owned(),
                vpc_id: subnet.vpc_id().unwrap_or_default().to_owned(),
                availability_zone: subnet.availability_zone().unwrap_or_default().to_owned(),
            })
            .collect())
    }

    /// The instances that exist among `ids`, and the account that owns them.
    async fn instances(
        &self,
        ids: &[InstanceId],
    ) -> Lookup<(BTreeMap<InstanceId, InstanceFacts>, Option<String>, Vec<Observation>)> {
        let reservations = ec2::describe_reservations(&self.ec2, ids)
            .await
            .map_err(|error| lookup_error("DescribeInstances", error))?;
        let mut found = BTreeMap::new();
        let mut owner = None;
        // The same answer as the engine reads it: the movers are judged from it.
        let observations =
            reservations.iter().flat_map(|r| r.instances()).filter_map(ec2::observation).collect();
        for reservation in &reservations {
            owner = owner.or_else(|| reservation.owner_id().map(str::to_owned));
            for instance in reservation.instances() {
                let Some(id) = instance.instance_id().and_then(|id| id.parse::<InstanceId>().ok()) else {
                    continue;
                };
                let facts = InstanceFacts {
                    state: instance
                        .state()
                        .and_then(|s| s.name())
                        .map_or("unknown", |n| n.as_str())
                        .to_owned(),
                    availability_zone: ec2::availability_zone(instance),
                    root_device_type: instance
                        .root_device_type()
                        .map_or("unknown", |t| t.as_str())
                        .to_owned(),
                    tags: ec2::tags(instance),
                    subnet_id: instance.subnet_id().map(str::to_owned),
                };
                found.insert(id, facts);
            }
        }
        Ok((found, owner, observations))
    }

    async fn function(&self, name: &str) -> Lookup<Option<FunctionFacts>> {
        let configuration = match self.lambda.get_function_configuration().function_name(name).send().await {
            Ok(configuration) => configuration,
            Err(error) if is_not_found(&error) => return Ok(None),
            Err(error) => return Err(describe_error("GetFunctionConfiguration", error)),
        };
        let reserved_concurrency = self
            .lambda
            .get_function_concurrency()
            .function_name(name)
            .send()
            .await
            .map_err(|error| describe_error("GetFunctionConcurrency", error))?
            .reserved_concurrent_executions()
            .map(|n| u32::try_from(n).unwrap_or(0));
        let resource_policy = match self.lambda.get_policy().function_name(name).send().await {
            Ok(policy) => policy.policy().map(str::to_owned),
            Err(error) if is_not_found(&error) => None,
            Err(error) => return Err(describe_error("GetPolicy", error)),
        };
        let vpc =
            configuration.vpc_config().filter(|vpc| !vpc.subnet_ids().is_empty()).map(|vpc| VpcPlacement {
                vpc_id: vpc.vpc_id().unwrap_or_default().to_owned(),
                subnet_ids: vpc.subnet_ids().to_vec(),
            });
        let account_concurrency = self.account_concurrency().await;
        Ok(Some(FunctionFacts {
            name: configuration.function_name().unwrap_or(name).to_owned(),
            arn: configuration.function_arn().unwrap_or_default().to_owned(),
            runtime: configuration.runtime().map(|r| r.as_str().to_owned()),
            timeout_seconds: configuration.timeout().map_or(3, |t| u64::try_from(t).unwrap_or(0)),
            reserved_concurrency,
            environment_config: configuration
                .environment()
                .and_then(|e| e.variables())
                .and_then(|variables| variables.get(coldstandby_config::CONFIG_VARIABLE))
                .cloned(),
            role_arn: configuration.role().unwrap_or_default().to_owned(),
            vpc,
            resource_policy,
            account_concurrency,
        }))
    }

    /// The account's concurrency quota and what is unreserved (GetAccountSettings).
    pub async fn account_concurrency(&self) -> Lookup<AccountConcurrency> {
        let settings = self
            .lambda
            .get_account_settings()
            .send()
            .await
            .map_err(|error| describe_error("GetAccountSettings", error))?;
        let limit = settings
            .account_limit()
            .ok_or_else(|| LookupFailed("GetAccountSettings: no AccountLimit in the answer".to_owned()))?;
        let count = |n: Option<i32>| n.and_then(|n| u32::try_from(n).ok());
        match (count(Some(limit.concurrent_executions())), count(limit.unreserved_concurrent_executions())) {
            (Some(limit), Some(unreserved)) => Ok(AccountConcurrency { limit, unreserved }),
            _ => Err(LookupFailed("GetAccountSettings: no concurrency figures in the answer".to_owned())),
        }
    }

    /// The alarms among `names` that exist, by name.
    pub async fn alarms(&self, names: &[String]) -> Lookup<BTreeMap<String, AlarmFacts>> {
        let mut found = BTreeMap::new();
        for chunk in names.chunks(coldstandby_handler::storm::NAMES_PER_CALL) {
            self.alarm_pages(chunk, &mut found).await?;
        }
        Ok(found)
    }

    /// DescribeAlarms for up to 100 names, every page, into `found`.
    async fn alarm_pages(&self, names: &[String], found: &mut BTreeMap<String, AlarmFacts>) -> Lookup<()> {
        let pages = crate::alarm_states::describe_alarm_pages(&self.cloudwatch, names)
            .await
            .map_err(|error| lookup_error("DescribeAlarms", error))?;
        for page in pages {
            for alarm in page.metric_alarms() {
                let Some(name) = alarm.alarm_name() else { continue };
                let dimensions = alarm
                    .dimensions()
                    .iter()
                    .filter_map(|d| Some((d.name()?.to_owned(), d.value()?.to_owned())))
                    .collect();
                let metric = alarm.metric_name().map(|metric_name| MetricFacts {
                    namespace: alarm.namespace().unwrap_or_default().to_owned(),
                    name: metric_name.to_owned(),
                    dimensions,
                });
                let facts = alarm_facts(
                    alarm.alarm_arn(),
                    alarm.actions_enabled(),
                    [alarm.alarm_actions(), alarm.insufficient_data_actions()],
                    metric,
                );
                found.insert(name.to_owned(), facts);
            }
            for alarm in page.composite_alarms() {
                let Some(name) = alarm.alarm_name() else { continue };
                let actions = [alarm.alarm_actions(), alarm.insufficient_data_actions()];
                let facts = alarm_facts(alarm.alarm_arn(), alarm.actions_enabled(), actions, None);
                found.insert(name.to_owned(), facts);
            }
        }
        Ok(())
    }

    /// The role's decisions: from the IAM policy simulator, or, where it cannot be used (not
    /// permitted, or a local emulator without it), from the role's own policy documents.
    pub async fn role(&self, role_arn: &str, requests: &[Request]) -> Lookup<RoleFacts> {
        match self.simulate(role_arn, requests).await {
            Ok(permissions) => Ok(RoleFacts { method: "the IAM policy simulator".to_owned(), permissions }),
            Err(simulator) => {
                let documents = self.role_documents(role_arn).await.map_err(|reading| {
                    LookupFailed(format!("{simulator}; and reading the role's policies failed: {reading}"))
                })?;
                let permissions = requests
                    .iter()
                    .map(|request| PermissionFact {
                        request: request.clone(),
                        decision: iam::evaluate(&documents, request),
                    })
                    .collect();
                Ok(RoleFacts {
                    method: "the role's policy documents (the simulator was not available; permission boundaries and SCPs were not considered)".to_owned(),
                    permissions,
                })
            }
        }
    }

    async fn simulate(&self, role_arn: &str, requests: &[Request]) -> Lookup<Vec<PermissionFact>> {
        use aws_sdk_iam::types::{ContextEntry, ContextKeyTypeEnum};
        let mut permissions = Vec::new();
        for request in requests {
            let entries: Vec<ContextEntry> = request
                .context
                .iter()
                .map(|(key, values)| {
                    ContextEntry::builder()
                        .context_key_name(key)
                        .set_context_key_values(Some(values.clone()))
                        .context_key_type(ContextKeyTypeEnum::StringList)
                        .build()
                })
                .collect();
            let answer = self
                .iam
                .simulate_principal_policy()
                .policy_source_arn(role_arn)
                .action_names(&request.action)
                .resource_arns(&request.resource)
                .set_context_entries(Some(entries))
                .send()
                .await
                .map_err(|error| describe_error("SimulatePrincipalPolicy", error))?;
            let decision = match answer.evaluation_results().first().map(|r| r.eval_decision().as_str()) {
                Some("allowed") => Decision::Allowed,
                Some("explicitDeny") => Decision::ExplicitDeny,
                Some("implicitDeny") => Decision::ImplicitDeny,
                other => {
                    Decision::Undecided(iam::Unmodelled::SimulatorDecision { decision: format!("{other:?}") })
                }
            };
            permissions.push(PermissionFact { request: request.clone(), decision });
        }
        Ok(permissions)
    }

    /// The role's inline and attached managed policy documents, as JSON.
    async fn role_documents(&self, role_arn: &str) -> Lookup<Vec<Value>> {
        let role = role_arn.rsplit('/').next().unwrap_or(role_arn);
        let mut documents = Vec::new();
        let inline = self
            .iam
            .list_role_policies()
            .role_name(role)
            .send()
            .await
            .map_err(|error| describe_error("ListRolePolicies", error))?;
        for name in inline.policy_names() {
            let policy = self
                .iam
                .get_role_policy()
                .role_name(role)
                .policy_name(name)
                .send()
                .await
                .map_err(|error| describe_error("GetRolePolicy", error))?;
            documents.push(policy_json(policy.policy_document())?);
        }
        let attached = self
            .iam
            .list_attached_role_policies()
            .role_name(role)
            .send()
            .await
            .map_err(|error| describe_error("ListAttachedRolePolicies", error))?;
        for policy_arn in attached.attached_policies().iter().filter_map(|p| p.policy_arn()) {
            let policy = self
                .iam
                .get_policy()
                .policy_arn(policy_arn)
                .send()
                .await
                .map_err(|error| describe_error("GetPolicy", error))?;
            let version = policy.policy().and_then(|p| p.default_version_id()).unwrap_or("v1");
            let document = self
                .iam
                .get_policy_version()
                .policy_arn(policy_arn)
                .version_id(version)
                .send()
                .await
                .map_err(|error| describe_error("GetPolicyVersion", error))?;
            documents
                .push(policy_json(document.policy_version().and_then(|v| v.document()).unwrap_or("{}"))?);
        }
        Ok(documents)
    }

    #[expect(
        clippy::too_many_lines,
        reason = "one network's facts gathered call by call (endpoints, routes, NAT); split per fact when next touched"
    )]
    async fn network(&self, region: &str, vpc: &VpcPlacement) -> Lookup<NetworkFacts> {
        let endpoints = self
            .ec2
            .describe_vpc_endpoints()
            .filters(Filter::builder().name("vpc-id").values(&vpc.vpc_id).build())
            .filters(
                Filter::builder()
                    .name("service-name")
                    .values(format!("com.amazonaws.{region}.ec2"))
                    .values(format!("com.amazonaws.{region}.elasticloadbalancing"))
                    .values("com.amazonaws.route53")
                    .values(format!("com.amazonaws.{region}.dynamodb"))
                    .build(),
            )
            .send()
            .await
            .map_err(|error| describe_error("DescribeVpcEndpoints", error))?;
        let of_service = |service: &str| -> Vec<EndpointFacts> {
            endpoints
                .vpc_endpoints()
                .iter()
                .filter(|endpoint| endpoint.service_name() == Some(service))
                .map(|endpoint| EndpointFacts {
                    id: endpoint.vpc_endpoint_id().unwrap_or_default().to_owned(),
                    state: endpoint.state().map_or("unknown", |s| s.as_str()).to_owned(),
                    private_dns: endpoint.private_dns_enabled().unwrap_or(false),
                })
                .collect()
        };
        let ec2_endpoints = of_service(&format!("com.amazonaws.{region}.ec2"));
        let load_balancing_endpoints = of_service(&format!("com.amazonaws.{region}.elasticloadbalancing"));
        let route53_endpoints = of_service("com.amazonaws.route53");
        let sns_endpoints = of_service(&format!("com.amazonaws.{region}.sns"));
        let tables = self
            .ec2
            .describe_route_tables()
            .filters(Filter::builder().name("vpc-id").values(&vpc.vpc_id).build())
            .send()
            .await
            .map_err(|error| describe_error("DescribeRouteTables", error))?;
        let has_nat = |table: &aws_sdk_ec2::types::RouteTable| {
            table.routes().iter().any(|route| {
                route.destination_cidr_block() == Some("0.0.0.0/0") && route.nat_gateway_id().is_some()
            })
        };
        let main =
            tables.route_tables().iter().find(|t| t.associations().iter().any(|a| a.main() == Some(true)));
        let table_of = |subnet: &str| {
            let explicit = tables
                .route_tables()
                .iter()
                .find(|table| table.associations().iter().any(|a| a.subnet_id() == Some(subnet)));
            explicit.or(main)
        };
        let subnets_with_nat =
            vpc.subnet_ids.iter().filter(|subnet| table_of(subnet).is_some_and(has_nat)).cloned().collect();
        let subnet_route_tables = vpc
            .subnet_ids
            .iter()
            .filter_map(|subnet| {
                let table = table_of(subnet)?.route_table_id()?;
                Some((subnet.clone(), table.to_owned()))
            })
            .collect();
        let dynamodb_gateway_route_tables = crate::inspect_lease::gateway_route_tables(
            &endpoints,
            &format!("com.amazonaws.{region}.dynamodb"),
        );
        Ok(NetworkFacts {
            ec2_endpoints,
            load_balancing_endpoints,
            route53_endpoints,
            sns_endpoints,
            subnets_with_nat,
            subnet_route_tables,
            dynamodb_gateway_route_tables,
        })
    }
}

/// What doctor keeps of a metric or composite alarm (CloudWatch's default: actions enabled).
/// `actions`: the alarm's ALARM actions and its INSUFFICIENT_DATA actions.
fn alarm_facts(
    arn: Option<&str>,
    actions_enabled: Option<bool>,
    [alarm_actions, insufficient_data_actions]: [&[String]; 2],
    metric: Option<MetricFacts>,
) -> AlarmFacts {
    AlarmFacts {
        arn: arn.unwrap_or_default().to_owned(),
        actions_enabled: actions_enabled.unwrap_or(true),
        alarm_actions: alarm_actions.to_vec(),
        insufficient_data_actions: insufficient_data_actions.to_vec(),
        metric,
    }
}

/// IAM returns policy documents URL-encoded; a document that is already JSON is taken as is.
fn policy_json(text: &str) -> Result<Value, LookupFailed> {
    let decoded = if text.trim_start().starts_with('{') {
        text.to_owned()
    } else {
        percent_encoding::percent_decode_str(text)
            .decode_utf8()
            .map_err(|error| LookupFailed(format!("a policy document is not UTF-8 once decoded: {error}")))?
            .into_owned()
    };
    serde_json::from_str(&decoded)
        .map_err(|error| LookupFailed(format!("a policy document is not JSON: {error}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_documents_are_read_encoded_or_not() {
        let plain = r#"{"Statement": [{"Effect": "Allow", "Action": "ec2:*", "Resource": "*"}]}"#;
        let encoded = "%7B%22Statement%22%3A%20%5B%7B%22Effect%22%3A%20%22Allow%22%2C%20%22Action%22%3A%20%22ec2%3A%2A%22%2C%20%22Resource%22%3A%20%22%2A%22%7D%5D%7D";
        assert_eq!(policy_json(plain).unwrap(), policy_json(encoded).unwrap());
        assert!(policy_json("%7Bnot json").unwrap_err().to_string().contains("not JSON"));
    }
}
