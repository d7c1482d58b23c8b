//! The `isolate` fence on EC2: DescribeNetworkAcls filtered by `association.subnet-id` (which ACL a
//! subnet is on, and the association's id), and ReplaceNetworkAclAssociation (move the subnet onto
//! the quarantine ACL). Both are Regional VPC calls: they need no answer from the subnet's zone.

use coldstandby_engine::isolation::SubnetAcl;
use coldstandby_engine::{ApiError, ErrorKind};

use aws_sdk_ec2::types::Filter;

use crate::errors::from_sdk_error;

pub(super) async fn read(client: &aws_sdk_ec2::Client, subnet: &str) -> Result<SubnetAcl, ApiError> {
    let filter = Filter::builder().name("association.subnet-id").values(subnet).build();
    let answer = client
        .describe_network_acls()
        .filters(filter)
        .send()
        .await
        .map_err(|error| from_sdk_error("DescribeNetworkAcls", error))?;
    let found = answer.network_acls().iter().find_map(|acl| {
        let association = acl.associations().iter().find(|a| a.subnet_id() == Some(subnet))?;
        Some(SubnetAcl {
            subnet: subnet.to_owned(),
            association: association.network_acl_association_id()?.to_owned(),
            network_acl: acl.network_acl_id()?.to_owned(),
        })
    });
    found.ok_or_else(|| {
        let message = format!("no network ACL is associated with subnet '{subnet}'");
        ApiError::new(ErrorKind::NotFound, "InvalidSubnetID.NotFound", message)
    })
}

pub(super) async fn replace(
    client: &aws_sdk_ec2::Client,
    association: &str,
    network_acl: &str,
) -> Result<(), ApiError> {
    client
        .replace_network_acl_association()
        .association_id(association)
        .network_acl_id(network_acl)
        .send()
        .await
        .map(|_| ())
        .map_err(|error| from_sdk_error("ReplaceNetworkAclAssociation", error))
}
