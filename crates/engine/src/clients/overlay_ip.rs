//! `overlay-ip`: an address outside the VPC's range (a /32), routed in every listed route table
//! to the active member's network interface. Works across Availability Zones (a subnet's own
//! addresses do not); the guest OS must hold the address, and the interface must not check
//! source and destination.

use serde::{Deserialize, Serialize};

use super::{Change, Endpoint, Step};

/// The mover's configuration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OverlayIp {
    /// The routed address as a CIDR block, e.g. `10.255.0.10/32`.
    pub address: String,
    /// Every route table whose subnets' clients must reach the address.
    pub route_tables: Vec<String>,
}

/// One route table's route for the overlay address, as DescribeRouteTables shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteView {
    pub route_table: String,
    /// The interface the route targets; None when the table has no route for the address (or
    /// one to something other than an interface).
    pub network_interface: Option<String>,
    /// Whether the table has a route for the address at all.
    pub exists: bool,
    /// EC2 marks a route `blackhole` when its target cannot take traffic (its instance stopped).
    pub blackhole: bool,
}

impl OverlayIp {
    /// Verified when every table routes the address to `desired`'s interface, none of those
    /// routes is a blackhole, and the interface accepts traffic for an address not its own. A
    /// table left behind (a refused or throttled change) is changed again on the next read, so
    /// the tables are never left split.
    pub fn next_step(&self, routes: &[RouteView], source_dest_check: bool, desired: &Endpoint) -> Step {
        let eni = &desired.network_interface;
        let mut changes = Vec::new();
        if source_dest_check {
            changes.push(Change::DisableSourceDestCheck { network_interface: eni.clone() });
        }
        for table in &self.route_tables {
            let route = routes.iter().find(|route| route.route_table == *table);
            let exists = route.is_some_and(|route| route.exists);
            if route.and_then(|route| route.network_interface.as_ref()) != Some(eni) {
                changes.push(Change::Route {
                    route_table: table.clone(),
                    destination: self.address.clone(),
                    network_interface: eni.clone(),
                    create: !exists,
                });
            }
        }
        if !changes.is_empty() {
            return Step::Change(changes);
        }
        match routes.iter().find(|route| route.blackhole) {
            Some(route) => Step::Wait(format!("the route in {} is a blackhole", route.route_table)),
            None => Step::Verified,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mover() -> OverlayIp {
        OverlayIp { address: "10.255.0.10/32".to_owned(), route_tables: vec!["rtb-1".into(), "rtb-2".into()] }
    }

    fn desired() -> Endpoint {
        Endpoint {
            instance: "i-0000000b".parse().unwrap(),
            network_interface: "eni-b".to_owned(),
            private_ip: "10.0.2.10".to_owned(),
        }
    }

    fn route(table: &str, eni: Option<&str>, blackhole: bool) -> RouteView {
        RouteView {
            route_table: table.to_owned(),
            network_interface: eni.map(str::to_owned),
            exists: eni.is_some(),
            blackhole,
        }
    }

    #[test]
    fn a_split_pair_of_tables_is_moved_where_it_lags_and_a_missing_route_is_created() {
        let routes = [route("rtb-1", Some("eni-b"), false), route("rtb-2", Some("eni-a"), true)];
        let Step::Change(changes) = mover().next_step(&routes, false, &desired()) else { panic!() };
        assert_eq!(changes.len(), 1);
        assert!(
            matches!(&changes[0], Change::Route { route_table, create: false, .. } if route_table == "rtb-2")
        );

        let Step::Change(changes) = mover().next_step(&[], true, &desired()) else { panic!() };
        assert_eq!(changes[0], Change::DisableSourceDestCheck { network_interface: "eni-b".to_owned() });
        assert!(changes[1..].iter().all(|change| matches!(change, Change::Route { create: true, .. })));
    }

    #[test]
    fn only_routes_that_all_point_at_the_interface_and_are_not_blackholes_verify() {
        let moved = [route("rtb-1", Some("eni-b"), false), route("rtb-2", Some("eni-b"), true)];
        assert!(matches!(mover().next_step(&moved, false, &desired()), Step::Wait(_)));
        let settled = [route("rtb-1", Some("eni-b"), false), route("rtb-2", Some("eni-b"), false)];
        assert_eq!(mover().next_step(&settled, false, &desired()), Step::Verified);
    }
}
