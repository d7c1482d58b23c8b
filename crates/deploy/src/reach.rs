//! doctor's readiness-reach check: `tcp` and `http` readiness checks connect to the members'
//! private addresses, which a function outside the VPC cannot reach; `ec2-status` and
//! `target-health` ask AWS and work from anywhere.

use coldstandby_config::GroupConfig;

use crate::doctor::{Check, FunctionFacts, Status};

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
