//! The execution role's permissions for readiness checks and movers: the describe calls they
//! read with (which AWS grants only on `*`), and each change on exactly the resources the
//! configuration names (route tables, the hosted zone and its record, the target group, the
//! allocation).

use coldstandby_config::Config;
use coldstandby_engine::clients::{Mover, Probe};
use coldstandby_engine::WhenUnobservable;

use crate::policy::{Condition, Statement, ACCOUNT, PARTITION};

/// The statements readiness checks and movers need; none when no group has any.
pub fn statements(config: &Config) -> Vec<Statement> {
    let region = &config.region;
    let specs = config.groups.iter().map(|group| &group.spec);
    let probes: Vec<&Probe> =
        specs.clone().flat_map(|spec| spec.readiness.iter().map(|check| &check.probe)).collect();
    let movers: Vec<&Mover> = specs.flat_map(|spec| spec.movers.iter()).collect();
    let mut reads: Vec<&'static str> = Vec::new();
    let mut statements = Vec::new();
    if probes.iter().any(|probe| matches!(probe, Probe::Ec2Status)) {
        reads.push("ec2:DescribeInstanceStatus");
    }
    if probes.iter().any(|probe| matches!(probe, Probe::TargetHealth { .. }))
        || movers.iter().any(|mover| matches!(mover, Mover::TargetGroup(_)))
    {
        reads.push("elasticloadbalancing:DescribeTargetHealth");
    }
    let network_interfaces = format!("arn:{PARTITION}:ec2:{region}:{ACCOUNT}:network-interface/*");

    let tables: Vec<String> = movers
        .iter()
        .filter_map(|mover| match mover {
            Mover::OverlayIp(overlay) => Some(&overlay.route_tables),
            _ => None,
        })
        .flatten()
        .map(|table| format!("arn:{PARTITION}:ec2:{region}:{ACCOUNT}:route-table/{table}"))
        .collect();
    if !tables.is_empty() {
        reads.extend(["ec2:DescribeRouteTables", "ec2:DescribeNetworkInterfaceAttribute"]);
        statements.push(Statement {
            sid: "RouteOverlayAddressesInListedTables",
            actions: vec!["ec2:CreateRoute", "ec2:ReplaceRoute"],
            resources: tables,
            condition: None,
        });
        // The members' interfaces are not known when the template is made.
        statements.push(Statement {
            sid: "TurnOffSourceDestCheckOnInterfaces",
            actions: vec!["ec2:ModifyNetworkInterfaceAttribute"],
            resources: vec![network_interfaces.clone()],
            condition: None,
        });
    }

    for mover in &movers {
        match mover {
            Mover::Dns(dns) => {
                let zone = format!("arn:{PARTITION}:route53:::hostedzone/{}", dns.hosted_zone);
                statements.push(Statement {
                    sid: "ReadRecordsInListedZones",
                    actions: vec!["route53:ListResourceRecordSets"],
                    resources: vec![zone.clone()],
                    condition: None,
                });
                statements.push(Statement {
                    sid: "ChangeOnlyTheListedRecords",
                    actions: vec!["route53:ChangeResourceRecordSets"],
                    resources: vec![zone],
                    condition: Some(Condition {
                        operator: "ForAllValues:StringEquals",
                        key: "route53:ChangeResourceRecordSetsNormalizedRecordNames",
                        values: vec![dns.record.trim_end_matches('.').to_ascii_lowercase()],
                    }),
                });
                statements.push(Statement {
                    sid: "FollowRecordChanges",
                    actions: vec!["route53:GetChange"],
                    resources: vec![format!("arn:{PARTITION}:route53:::change/*")],
                    condition: None,
                });
            }
            Mover::TargetGroup(group) if group.move_registration => statements.push(Statement {
                sid: "MoveRegistrationInListedTargetGroups",
                actions: vec![
                    "elasticloadbalancing:DeregisterTargets",
                    "elasticloadbalancing:RegisterTargets",
                ],
                resources: vec![group.arn.clone()],
                condition: None,
            }),
            Mover::TargetGroup(_) | Mover::OverlayIp(_) => {}
            Mover::ElasticIp(address) => {
                reads.push("ec2:DescribeAddresses");
                statements.push(Statement {
                    sid: "AssociateListedAddresses",
                    actions: vec!["ec2:AssociateAddress"],
                    resources: vec![
                        format!("arn:{PARTITION}:ec2:{region}:{ACCOUNT}:elastic-ip/{}", address.allocation),
                        network_interfaces.clone(),
                    ],
                    condition: None,
                });
            }
        }
    }
    // The `isolate` fence: read which ACL a member's subnet is on, and move it onto the
    // quarantine ACL (the new ACL and the subnet are named; the ACL it leaves is not known).
    for spec in config.groups.iter().map(|group| &group.spec) {
        let WhenUnobservable::Isolate { network_acl } = &spec.when_unobservable else { continue };
        reads.push("ec2:DescribeNetworkAcls");
        let mut resources = vec![format!("arn:{PARTITION}:ec2:{region}:{ACCOUNT}:network-acl/{network_acl}")];
        resources.extend(
            spec.members()
                .iter()
                .filter_map(|member| spec.subnet_of(member))
                .map(|subnet| format!("arn:{PARTITION}:ec2:{region}:{ACCOUNT}:subnet/{subnet}")),
        );
        statements.push(Statement {
            sid: "IsolateUnobservableMembersSubnets",
            actions: vec!["ec2:ReplaceNetworkAclAssociation"],
            resources,
            condition: None,
        });
    }
    if !reads.is_empty() {
        reads.sort_unstable();
        reads.dedup();
        // These calls take no resource-level permission: AWS grants them only on `*`.
        statements.insert(
            0,
            Statement {
                sid: "ReadWhereClientsAreSent",
                actions: reads,
                resources: vec!["*".to_owned()],
                condition: None,
            },
        );
    }
    merge_same_sid(statements)
}

/// One statement per purpose: the same sid from several groups becomes one with every resource.
fn merge_same_sid(statements: Vec<Statement>) -> Vec<Statement> {
    let mut merged: Vec<Statement> = Vec::new();
    for statement in statements {
        match merged.iter_mut().find(|kept| {
            kept.sid == statement.sid && kept.condition.is_none() && statement.condition.is_none()
        }) {
            Some(kept) => {
                for resource in statement.resources {
                    if !kept.resources.contains(&resource) {
                        kept.resources.push(resource);
                    }
                }
            }
            None => merged.push(statement),
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLIENTS: &str = include_str!("../../../examples/clients.toml");

    #[test]
    fn each_change_is_granted_on_the_named_resources_only() {
        let config = coldstandby_config::parse(CLIENTS, "clients.toml").unwrap();
        let statements = statements(&config);
        let by_sid =
            |sid: &str| statements.iter().find(|s| s.sid == sid).unwrap_or_else(|| panic!("no {sid}"));
        assert_eq!(by_sid("ReadWhereClientsAreSent").resources, ["*"]);
        let routes = by_sid("RouteOverlayAddressesInListedTables");
        assert_eq!(routes.resources.len(), 2);
        assert!(routes.resources.iter().all(|arn| arn.contains(":route-table/rtb-")));
        let records = by_sid("ChangeOnlyTheListedRecords");
        assert_eq!(records.resources, ["arn:${AWS::Partition}:route53:::hostedzone/Z0123456789ABCDEFGHIJ"]);
        assert_eq!(records.condition.as_ref().unwrap().values, ["db.internal.example"]);
        // Every member stays registered: the target group needs no change permission.
        assert!(statements.iter().all(|s| !s.actions.contains(&"elasticloadbalancing:RegisterTargets")));
        // Only describe calls are granted on `*`.
        for statement in statements.iter().filter(|s| s.resources.iter().any(|r| r == "*")) {
            assert!(
                statement.actions.iter().all(|a| a.contains(":Describe") || a.contains(":List")),
                "{statement:?}"
            );
        }
    }

    #[test]
    fn doctor_asks_the_role_for_each_granted_call_on_its_resource() {
        let config = coldstandby_config::parse(CLIENTS, "clients.toml").unwrap();
        let requests = crate::doctor::required_permissions(&config, "aws", "111122223333");
        let record = requests.iter().find(|r| r.action == "route53:ChangeResourceRecordSets").unwrap();
        assert_eq!(record.resource, "arn:aws:route53:::hostedzone/Z0123456789ABCDEFGHIJ");
        assert_eq!(
            record.context["route53:changeresourcerecordsetsnormalizedrecordnames"],
            ["db.internal.example"]
        );
        let routes: Vec<_> = requests.iter().filter(|r| r.action == "ec2:ReplaceRoute").collect();
        assert_eq!(routes.len(), 2);
        assert!(routes
            .iter()
            .all(|r| r.resource.starts_with("arn:aws:ec2:ap-northeast-1:111122223333:route-table/rtb-")));
    }

    /// doctor asks for what the template grants, so this does not prove the grant suffices; it
    /// proves the rendered policy, conditions included, allows those requests when evaluated.
    #[test]
    fn the_role_the_template_makes_allows_every_call_doctor_asks_for() {
        let config = coldstandby_config::parse(CLIENTS, "clients.toml").unwrap();
        let options =
            crate::policy::RoleOptions { function_name: "coldstandby".to_owned(), ..Default::default() };
        let references = std::collections::BTreeMap::from([
            (crate::policy::PARTITION, "aws".to_owned()),
            (crate::policy::ACCOUNT, "111122223333".to_owned()),
        ]);
        let statements = crate::policy::role_statements(&config, &options);
        let document = crate::policy::policy_document(&statements, &references).unwrap();
        for request in crate::doctor::required_permissions(&config, "aws", "111122223333") {
            let decision = crate::iam::evaluate(std::slice::from_ref(&document), &request);
            assert_eq!(decision, crate::iam::Decision::Allowed, "{request:?}");
        }
    }

    #[test]
    fn isolate_is_granted_on_the_quarantine_acl_and_the_members_subnets_only() {
        let text = include_str!("../../../examples/az-outage.toml");
        let config = coldstandby_config::parse(text, "az-outage.toml").unwrap();
        let statements = statements(&config);
        let isolate = statements.iter().find(|s| s.sid == "IsolateUnobservableMembersSubnets").unwrap();
        assert_eq!(isolate.actions, ["ec2:ReplaceNetworkAclAssociation"]);
        assert_eq!(
            isolate.resources,
            [
                "arn:${AWS::Partition}:ec2:ap-northeast-1:${AWS::AccountId}:network-acl/acl-0123456789abcdef0",
                "arn:${AWS::Partition}:ec2:ap-northeast-1:${AWS::AccountId}:subnet/subnet-0aaaaaaaaaaaaaaa1",
                "arn:${AWS::Partition}:ec2:ap-northeast-1:${AWS::AccountId}:subnet/subnet-0ccccccccccccccc1",
            ]
        );
        let reads = statements.iter().find(|s| s.sid == "ReadWhereClientsAreSent").unwrap();
        assert_eq!(reads.actions, ["ec2:DescribeNetworkAcls"]);
        let requests = crate::doctor::required_permissions(&config, "aws", "111122223333");
        assert!(
            requests.iter().any(|r| r.action == "ec2:ReplaceNetworkAclAssociation"),
            "doctor asks for it"
        );
    }

    #[test]
    fn a_group_without_movers_needs_nothing_more() {
        let config =
            coldstandby_config::parse(include_str!("../../../examples/coldstandby.toml"), "example").unwrap();
        assert!(statements(&config).is_empty());
    }
}
