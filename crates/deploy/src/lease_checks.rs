//! doctor's checks of the group lease: the table exists with the key the lease writes
//! (`group`, a string) and is safe to depend on (deletion protection, on-demand billing), and a
//! function in a VPC can reach DynamoDB (a gateway endpoint on its subnets' route tables, or a
//! NAT route).

use coldstandby_config::Config;

use crate::doctor::{Check, FunctionFacts, Lookup, NetworkFacts, Status, VpcPlacement};

/// What doctor found of the lease table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseTableFacts {
    /// The key schema: (attribute, `HASH` or `RANGE`, attribute type).
    pub key: Vec<(String, String, String)>,
    /// `PAY_PER_REQUEST` or `PROVISIONED`.
    pub billing_mode: String,
    pub deletion_protection: bool,
    pub status: String,
}

/// The table check, when the configuration has `[lease]`. `table`: Ok(None) when it does not
/// exist.
pub fn table_check(config: &Config, table: Option<&Lookup<Option<LeaseTableFacts>>>) -> Option<Check> {
    let lease = config.lease.as_ref()?;
    let subject = format!("lease table {}", lease.table);
    let check = |status, found: String, fix: Option<String>| Check {
        subject: subject.clone(),
        check: "lease table",
        status,
        found,
        fix,
    };
    let create = format!(
        "deploy the template (it creates the table), or: aws dynamodb create-table --table-name {} \
         --attribute-definitions AttributeName=group,AttributeType=S --key-schema AttributeName=group,KeyType=HASH \
         --billing-mode PAY_PER_REQUEST --deletion-protection-enabled",
        lease.table
    );
    let facts = match table {
        None => return Some(check(Status::Warn, "not examined".to_owned(), None)),
        Some(Err(reason)) => {
            return Some(check(Status::Fail, format!("could not be read: {}", reason.0), None))
        }
        Some(Ok(None)) => {
            let found = "does not exist: every failover would fail closed, taking no lease".to_owned();
            return Some(check(Status::Fail, found, Some(create)));
        }
        Some(Ok(Some(facts))) => facts,
    };
    let wanted = [("group".to_owned(), "HASH".to_owned(), "S".to_owned())];
    if facts.key != wanted {
        let key: Vec<String> =
            facts.key.iter().map(|(name, kind, t)| format!("{name} ({kind}, {t})")).collect();
        let found = format!(
            "its key is {}; the lease needs the partition key `group` (a string) alone",
            key.join(", ")
        );
        return Some(check(Status::Fail, found, Some(create)));
    }
    let mut concerns = Vec::new();
    if !facts.deletion_protection {
        concerns.push("deletion protection is off (a deleted table resets every group's epoch)");
    }
    if facts.billing_mode != "PAY_PER_REQUEST" {
        concerns.push("provisioned capacity can throttle an alarm storm's lease writes");
    }
    if !facts.status.eq_ignore_ascii_case("ACTIVE") {
        concerns.push("it is not ACTIVE");
    }
    Some(if concerns.is_empty() {
        check(Status::Pass, "key `group`, on-demand, deletion protection on".to_owned(), None)
    } else {
        let fix = format!(
            "aws dynamodb update-table --table-name {} --deletion-protection-enabled --billing-mode PAY_PER_REQUEST",
            lease.table
        );
        check(Status::Warn, concerns.join("; "), Some(fix))
    })
}

/// For a function in a VPC with `[lease]`: every subnet reaches DynamoDB through a gateway
/// endpoint on its route table, or a NAT route.
pub fn reach_check(
    config: &Config,
    function: &FunctionFacts,
    vpc: &VpcPlacement,
    network: &NetworkFacts,
) -> Option<Check> {
    config.lease.as_ref()?;
    let cut_off: Vec<&str> = vpc
        .subnet_ids
        .iter()
        .filter(|subnet| {
            let through_endpoint = network
                .subnet_route_tables
                .get(*subnet)
                .is_some_and(|table| network.dynamodb_gateway_route_tables.contains(table));
            !through_endpoint && !network.subnets_with_nat.contains(subnet)
        })
        .map(String::as_str)
        .collect();
    let subject = format!("function {}", function.name);
    Some(if cut_off.is_empty() {
        Check {
            subject,
            check: "lease table reach",
            status: Status::Pass,
            found: "every subnet reaches DynamoDB (a gateway endpoint on its route table, or a NAT route)"
                .to_owned(),
            fix: None,
        }
    } else {
        let tables: Vec<&str> = cut_off
            .iter()
            .filter_map(|subnet| network.subnet_route_tables.get(*subnet))
            .map(String::as_str)
            .collect();
        Check {
            subject,
            check: "lease table reach",
            status: Status::Fail,
            found: format!(
                "{} reach DynamoDB neither through a gateway endpoint nor a NAT route: the lease cannot be \
                 taken, so failovers there fail closed",
                cut_off.join(", ")
            ),
            fix: Some(format!(
                "aws ec2 create-vpc-endpoint --vpc-id {} --vpc-endpoint-type Gateway --service-name com.amazonaws.{}.dynamodb \
                 --route-table-ids {} (free of charge); or give the template's DynamoDbRouteTableIds",
                vpc.vpc_id,
                config.region,
                tables.join(" ")
            )),
        }
    })
}
