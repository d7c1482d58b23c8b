//! doctor's reach checks: `tcp` and `http` readiness checks connect to the members' private
//! addresses, which a function outside the VPC cannot reach; and a function inside a VPC reaches
//! the load-balancing and Route 53 APIs (for movers and AWS-side checks) only through a NAT route
//! or an interface endpoint with private DNS, as it reaches SNS to publish outcomes.

use coldstandby_config::{Config, GroupConfig};
use coldstandby_engine::clients::{Mover, Probe};

use crate::doctor::{Check, EndpointFacts, FunctionFacts, NetworkFacts, Status, VpcPlacement};

/// One check per group with readiness checks that need a network path, given where the deployed
/// function runs; None for a group with none.
pub fn readiness_reach(group: &GroupConfig, function: &FunctionFacts) -> Option<Check> {
    let needing: Vec<String> = coldstandby_config::network_checks(&group.spec.readiness)
        .map(|check| format!("`{}`", check.probe))
        .collect();
    if needing.is_empty() {
        return None;
    }
    let subject = format!("group {}", group.spec.name);
    let list = needing.join(", ");
    Some(match &function.vpc {
        Some(vpc) => Check {
            subject,
            check: "readiness reach",
            status: Status::Pass,
            found: format!(
                "{list} connect to the members' private addresses from {} in {}; their security groups must \
                 allow it",
                function.name, vpc.vpc_id
            ),
            fix: None,
        },
        None => Check {
            subject,
            check: "readiness reach",
            status: Status::Fail,
            found: format!(
                "{list} connect to the members' private addresses, but {} runs outside the VPC: they would never \
                 pass, and every failover would end not-ready",
                function.name
            ),
            fix: Some(
                "deploy the template generated with --vpc, or use ec2-status and target-health checks, which ask AWS"
                    .to_owned(),
            ),
        },
    })
}

/// For a function in a VPC: one check per API beyond EC2 that the groups' movers and checks call
/// (Elastic Load Balancing, Route 53) or the notifications use (SNS), passing with a NAT route from every subnet or an available
/// interface endpoint with private DNS.
pub fn api_reach(
    config: &Config,
    function: &FunctionFacts,
    vpc: &VpcPlacement,
    network: &NetworkFacts,
) -> Vec<Check> {
    let specs = || config.groups.iter().map(|group| &group.spec);
    let load_balancing = specs().any(|spec| {
        spec.movers.iter().any(|mover| matches!(mover, Mover::TargetGroup(_)))
            || spec.readiness.iter().any(|check| matches!(check.probe, Probe::TargetHealth { .. }))
    });
    let route53 = specs().any(|spec| spec.movers.iter().any(|mover| matches!(mover, Mover::Dns(_))));
    let nat_everywhere = !vpc.subnet_ids.is_empty()
        && vpc.subnet_ids.iter().all(|subnet| network.subnets_with_nat.contains(subnet));
    let mut checks = Vec::new();
    let mut reach = |needed: bool, api: &str, endpoints: &[EndpointFacts], service: String| {
        let what = if api == "SNS" { "the outcomes' notifications" } else { "the movers' calls" };
        if !needed {
            return;
        }
        let usable = endpoints.iter().find(|e| e.private_dns && e.state.eq_ignore_ascii_case("available"));
        let (status, found, fix) = match (usable, nat_everywhere) {
            (Some(endpoint), _) => (Status::Pass, format!("{api}: endpoint {} with private DNS", endpoint.id), None),
            (None, true) => (Status::Pass, format!("{api}: every subnet routes to a NAT gateway"), None),
            (None, false) => (
                Status::Fail,
                format!("{api}: no interface endpoint with private DNS and no NAT route from every subnet of {}: {what} cannot leave the VPC", vpc.vpc_id),
                Some(format!(
                    "aws ec2 create-vpc-endpoint --vpc-id {} --vpc-endpoint-type Interface --service-name {service} --subnet-ids {} --private-dns-enabled (where the Region offers it), or a NAT route",
                    vpc.vpc_id,
                    vpc.subnet_ids.join(" ")
                )),
            ),
        };
        checks.push(Check {
            subject: format!("function {}", function.name),
            check: if api == "SNS" { "notification API" } else { "mover APIs" },
            status,
            found,
            fix,
        });
    };
    reach(
        load_balancing,
        "Elastic Load Balancing",
        &network.load_balancing_endpoints,
        format!("com.amazonaws.{}.elasticloadbalancing", config.region),
    );
    reach(route53, "Route 53", &network.route53_endpoints, "com.amazonaws.route53".to_owned());
    reach(
        config.notification_topic_arn.is_some(),
        "SNS",
        &network.sns_endpoints,
        format!("com.amazonaws.{}.sns", config.region),
    );
    checks
}
