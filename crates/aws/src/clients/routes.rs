//! `overlay-ip` on EC2: the overlay address's route in each listed table (DescribeRouteTables),
//! the interface's source/destination check, and ReplaceRoute / CreateRoute by interface id
//! (what an instance with several interfaces needs).

use aws_sdk_ec2::types::{AttributeBooleanValue, NetworkInterfaceAttribute, RouteState};
use coldstandby_engine::clients::{Change, ClientView, Endpoint, OverlayIp, RouteView};
use coldstandby_engine::{ApiError, ErrorKind};

use super::reclassified;
use crate::errors::from_sdk_error;

pub(super) async fn read(
    client: &aws_sdk_ec2::Client,
    overlay: &OverlayIp,
    desired: &Endpoint,
) -> Result<ClientView, ApiError> {
    let answer = client
        .describe_route_tables()
        .set_route_table_ids(Some(overlay.route_tables.clone()))
        .send()
        .await
        .map_err(|error| from_sdk_error("DescribeRouteTables", error))?;
    let mut routes = Vec::new();
    for table in &overlay.route_tables {
        let Some(found) = answer.route_tables().iter().find(|t| t.route_table_id() == Some(table.as_str()))
        else {
            let message = format!("The routeTable ID '{table}' does not exist");
            return Err(ApiError::new(ErrorKind::NotFound, "InvalidRouteTableID.NotFound", message));
        };
        let route = found
            .routes()
            .iter()
            .find(|route| route.destination_cidr_block() == Some(overlay.address.as_str()));
        routes.push(RouteView {
            route_table: table.clone(),
            network_interface: route.and_then(|route| route.network_interface_id()).map(str::to_owned),
            exists: route.is_some(),
            blackhole: route.and_then(|route| route.state()) == Some(&RouteState::Blackhole),
        });
    }
    let attribute = client
        .describe_network_interface_attribute()
        .network_interface_id(&desired.network_interface)
        .attribute(NetworkInterfaceAttribute::SourceDestCheck)
        .send()
        .await
        .map_err(|error| from_sdk_error("DescribeNetworkInterfaceAttribute", error))?;
    // EC2 checks source and destination unless told otherwise.
    let source_dest_check =
        attribute.source_dest_check().and_then(AttributeBooleanValue::value).unwrap_or(true);
    Ok(ClientView::Routes { routes, source_dest_check })
}

pub(super) async fn change(client: &aws_sdk_ec2::Client, change: &Change) -> Result<(), ApiError> {
    match change {
        Change::Route { route_table, destination, network_interface, create: false } => client
            .replace_route()
            .route_table_id(route_table)
            .destination_cidr_block(destination)
            .network_interface_id(network_interface)
            .send()
            .await
            .map(|_| ())
            // No such route yet (EC2 says InvalidParameterValue): read again, and create it.
            .map_err(|error| {
                let error = from_sdk_error("ReplaceRoute", error);
                reclassified(
                    error,
                    &["InvalidParameterValue", "InvalidRoute.NotFound"],
                    ErrorKind::WrongState,
                )
            }),
        Change::Route { route_table, destination, network_interface, create: true } => client
            .create_route()
            .route_table_id(route_table)
            .destination_cidr_block(destination)
            .network_interface_id(network_interface)
            .send()
            .await
            .map(|_| ())
            .map_err(|error| {
                reclassified(
                    from_sdk_error("CreateRoute", error),
                    &["RouteAlreadyExists"],
                    ErrorKind::WrongState,
                )
            }),
        Change::DisableSourceDestCheck { network_interface } => client
            .modify_network_interface_attribute()
            .network_interface_id(network_interface)
            .source_dest_check(AttributeBooleanValue::builder().value(false).build())
            .send()
            .await
            .map(|_| ())
            .map_err(|error| from_sdk_error("ModifyNetworkInterfaceAttribute", error)),
        other => unreachable!("not a route change: {other}"),
    }
}
