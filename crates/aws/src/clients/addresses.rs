//! `elastic-ip` on EC2: DescribeAddresses by allocation, AssociateAddress to an interface (with
//! AllowReassociation: the address moves from wherever it is).

use coldstandby_engine::clients::{AddressView, ClientView, ElasticIp};
use coldstandby_engine::{ApiError, ErrorKind};

use crate::errors::from_sdk_error;

pub(super) async fn read(client: &aws_sdk_ec2::Client, address: &ElasticIp) -> Result<ClientView, ApiError> {
    let answer = client
        .describe_addresses()
        .allocation_ids(&address.allocation)
        .send()
        .await
        .map_err(|error| from_sdk_error("DescribeAddresses", error))?;
    let Some(found) = answer.addresses().first() else {
        let message = format!("The allocation ID '{}' does not exist", address.allocation);
        return Err(ApiError::new(ErrorKind::NotFound, "InvalidAllocationID.NotFound", message));
    };
    let network_interface = found.network_interface_id().map(str::to_owned);
    Ok(ClientView::Address(AddressView { network_interface }))
}

pub(super) async fn associate(
    client: &aws_sdk_ec2::Client,
    allocation: &str,
    network_interface: &str,
) -> Result<(), ApiError> {
    client
        .associate_address()
        .allocation_id(allocation)
        .network_interface_id(network_interface)
        .allow_reassociation(true)
        .send()
        .await
        .map(|_| ())
        .map_err(|error| from_sdk_error("AssociateAddress", error))
}
