//! doctor's checks of what the function may do and reach: its role's permissions for every
//! call the engine makes, and a network path to the EC2 API.

use crate::doctor::{check, Check, Context, FunctionFacts, Lookup, NetworkFacts, RoleFacts, Status};
use crate::iam::Decision;

pub(crate) fn role_check(context: &Context<'_>, function: &FunctionFacts, role: &Lookup<RoleFacts>) -> Check {
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

#[expect(
    clippy::too_many_lines,
    reason = "the network path's cases (endpoint, NAT, none) each with its message"
)]
pub(crate) fn network_check(
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
