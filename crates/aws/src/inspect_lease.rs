//! doctor's facts about the group lease, read-only: the lease table as DynamoDB describes it,
//! and the route tables a DynamoDB gateway endpoint in the function's VPC is on (read from the
//! endpoints doctor already describes).

use aws_sdk_dynamodb::operation::describe_table::DescribeTableError;
use aws_sdk_ec2::operation::describe_vpc_endpoints::DescribeVpcEndpointsOutput;
use coldstandby_deploy::doctor::{Lookup, LookupFailed};
use coldstandby_deploy::lease_checks::LeaseTableFacts;

use crate::errors::from_sdk_error;

/// The lease table called `table`; Ok(None) if it does not exist.
pub(crate) async fn lease_table(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
) -> Lookup<Option<LeaseTableFacts>> {
    let answer = match client.describe_table().table_name(table).send().await {
        Ok(answer) => answer,
        Err(error)
            if matches!(error.as_service_error(), Some(DescribeTableError::ResourceNotFoundException(_))) =>
        {
            return Ok(None)
        }
        Err(error) => {
            return Err(LookupFailed(format!("DescribeTable: {}", from_sdk_error("DescribeTable", error))))
        }
    };
    let Some(description) = answer.table() else { return Ok(None) };
    let type_of = |name: &str| {
        description
            .attribute_definitions()
            .iter()
            .find(|definition| definition.attribute_name() == name)
            .map_or_else(|| "?".to_owned(), |definition| definition.attribute_type().as_str().to_owned())
    };
    let key = description
        .key_schema()
        .iter()
        .map(|element| {
            let name = element.attribute_name().to_owned();
            (name.clone(), element.key_type().as_str().to_owned(), type_of(&name))
        })
        .collect();
    // A table created without a billing mode says nothing about it: it is provisioned.
    let billing_mode = description
        .billing_mode_summary()
        .and_then(|summary| summary.billing_mode())
        .map_or_else(|| "PROVISIONED".to_owned(), |mode| mode.as_str().to_owned());
    Ok(Some(LeaseTableFacts {
        key,
        billing_mode,
        deletion_protection: description.deletion_protection_enabled().unwrap_or(false),
        status: description.table_status().map_or_else(|| "unknown".to_owned(), |s| s.as_str().to_owned()),
    }))
}

/// The route tables the available gateway endpoints of `service` in `endpoints` are on.
pub(crate) fn gateway_route_tables(endpoints: &DescribeVpcEndpointsOutput, service: &str) -> Vec<String> {
    let mut tables: Vec<String> = endpoints
        .vpc_endpoints()
        .iter()
        .filter(|endpoint| endpoint.service_name() == Some(service))
        .filter(|endpoint| {
            endpoint.state().is_none_or(|state| state.as_str().eq_ignore_ascii_case("available"))
        })
        .flat_map(|endpoint| endpoint.route_table_ids().iter().cloned())
        .collect();
    tables.sort();
    tables.dedup();
    tables
}
