//! The subnets a `--vpc` deployment will be given (`SubnetIds`), checked before the stack is:
//! the function's subnets are also where the template puts the EC2 interface endpoint, which
//! takes at most one subnet per Availability Zone; and a controller in one AZ dies with it.

use std::collections::BTreeMap;

use crate::doctor::{Check, Lookup, Status};

/// One subnet as DescribeSubnets shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubnetFacts {
    pub id: String,
    pub vpc_id: String,
    pub availability_zone: String,
}

/// The subnets named on the command line, and those of them that exist.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedSubnets {
    pub requested: Vec<String>,
    pub found: Lookup<Vec<SubnetFacts>>,
}

const SUBJECT: &str = "subnets for --vpc";
const CHECK: &str = "one per AZ";

fn result(status: Status, found: String, fix: Option<&str>) -> Check {
    Check { subject: SUBJECT.to_owned(), check: CHECK, status, found, fix: fix.map(str::to_owned) }
}

/// Every problem with the planned subnets, or a pass naming the VPC and the zones.
pub fn check(planned: &PlannedSubnets) -> Check {
    let found = match &planned.found {
        Ok(found) => found,
        Err(reason) => {
            return result(Status::Fail, format!("could not describe the subnets: {reason}"), None)
        }
    };
    let missing: Vec<&str> = planned
        .requested
        .iter()
        .filter(|id| !found.iter().any(|subnet| &subnet.id == *id))
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        return result(
            Status::Fail,
            format!("no such subnet in the region: {}", missing.join(", ")),
            Some("give the ids of existing subnets (aws ec2 describe-subnets)"),
        );
    }
    let mut vpcs: Vec<&str> = found.iter().map(|subnet| subnet.vpc_id.as_str()).collect();
    vpcs.sort_unstable();
    vpcs.dedup();
    if vpcs.len() > 1 {
        return result(
            Status::Fail,
            format!(
                "the subnets are in {} VPCs ({}): a function and an endpoint live in one",
                vpcs.len(),
                vpcs.join(", ")
            ),
            Some("give subnets of the VPC you pass as VpcId"),
        );
    }
    let mut by_zone: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for subnet in found {
        by_zone.entry(subnet.availability_zone.as_str()).or_default().push(subnet.id.as_str());
    }
    let shared: Vec<String> = by_zone
        .iter()
        .filter(|(_, ids)| ids.len() > 1)
        .map(|(zone, ids)| format!("{} are all in {zone}", ids.join(", ")))
        .collect();
    if !shared.is_empty() {
        return result(
            Status::Fail,
            format!(
                "{}: the template puts its EC2 interface endpoint in these subnets, and an endpoint takes at most one subnet per Availability Zone, so the stack would fail",
                shared.join("; ")
            ),
            Some("give one subnet per Availability Zone in SubnetIds (or deploy with CreateEc2Endpoint=false when the VPC already has an EC2 endpoint)"),
        );
    }
    let zones: Vec<&str> = by_zone.keys().copied().collect();
    let vpc = vpcs.first().copied().unwrap_or("no VPC");
    if zones.len() < 2 {
        return result(
            Status::Fail,
            format!("only one Availability Zone ({}): the controller would fail with the AZ it should fail away from", zones.join(", ")),
            Some("add a subnet in another Availability Zone"),
        );
    }
    result(
        Status::Pass,
        format!("{} subnets of {vpc}, one in each of {}", found.len(), zones.join(", ")),
        None,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subnet(id: &str, vpc: &str, zone: &str) -> SubnetFacts {
        SubnetFacts { id: id.to_owned(), vpc_id: vpc.to_owned(), availability_zone: zone.to_owned() }
    }

    fn planned(found: Vec<SubnetFacts>, extra: &[&str]) -> PlannedSubnets {
        let mut requested: Vec<String> = found.iter().map(|s| s.id.clone()).collect();
        requested.extend(extra.iter().map(|id| (*id).to_owned()));
        PlannedSubnets { requested, found: Ok(found) }
    }

    #[test]
    fn one_subnet_in_each_of_two_zones_passes() {
        let result =
            check(&planned(vec![subnet("subnet-a", "vpc-1", "1a"), subnet("subnet-c", "vpc-1", "1c")], &[]));
        assert_eq!(result.status, Status::Pass, "{result:?}");
        assert_eq!(result.found, "2 subnets of vpc-1, one in each of 1a, 1c");
    }

    #[test]
    fn two_subnets_in_one_zone_fail_naming_them() {
        let result = check(&planned(
            vec![
                subnet("subnet-a", "vpc-1", "1a"),
                subnet("subnet-b", "vpc-1", "1a"),
                subnet("subnet-c", "vpc-1", "1c"),
            ],
            &[],
        ));
        assert_eq!(result.status, Status::Fail);
        assert!(result.found.starts_with("subnet-a, subnet-b are all in 1a"), "{}", result.found);
    }

    #[test]
    fn missing_subnets_other_vpcs_and_a_single_zone_fail() {
        let missing = check(&planned(vec![subnet("subnet-a", "vpc-1", "1a")], &["subnet-gone"]));
        assert!(missing.found.contains("subnet-gone"), "{missing:?}");
        let vpcs =
            check(&planned(vec![subnet("subnet-a", "vpc-1", "1a"), subnet("subnet-c", "vpc-2", "1c")], &[]));
        assert!(vpcs.found.contains("2 VPCs"), "{vpcs:?}");
        let single = check(&planned(vec![subnet("subnet-a", "vpc-1", "1a")], &[]));
        assert!(single.found.contains("only one Availability Zone"), "{single:?}");
        for result in [missing, vpcs, single] {
            assert_eq!(result.status, Status::Fail);
        }
    }
}
