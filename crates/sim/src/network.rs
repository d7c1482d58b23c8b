//! What clients see of the simulated region: route tables, a private hosted zone, target groups
//! and Elastic IPs (the movers' mechanisms), and the services on the instances (what readiness
//! probes reach). Each answers as AWS does, with its delays and faults: routes to a stopped
//! instance's interface are blackholes, a record change is `PENDING` before `INSYNC`, a target
//! is `initial` until enough health checks passed, and a stale compare-and-swap is refused.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use coldstandby_engine::clients::{
    AddressView, Change, ClientView, Endpoint, Mover, Probe, ProbeResult, RecordView, RouteView,
    TargetHealth, TargetView,
};
use coldstandby_engine::{ApiError, ErrorKind, GroupSpec, InstanceId, Timestamp};

use crate::model::SimInstance;
use serde::{Deserialize, Serialize};

/// How the services on the instances and the client-facing mechanisms behave.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkTimings {
    /// From `running` to the service accepting connections.
    pub service_start_ms: u64,
    /// From `running` to EC2's status checks reporting `ok` (they say `initializing` before).
    pub status_ok_after_ms: u64,
    /// A Route 53 change is `INSYNC` this long after it was accepted.
    pub record_in_sync_ms: u64,
    /// The target groups' health check: interval and passes needed to become healthy.
    pub health_interval_ms: u64,
    pub healthy_threshold: u32,
    /// A newly registered target counts for health checks only after this long.
    pub registration_ms: u64,
    /// A deregistered target drains for this long.
    pub deregistration_delay_ms: u64,
}

impl Default for NetworkTimings {
    fn default() -> Self {
        Self {
            service_start_ms: 3_000,
            status_ok_after_ms: 120_000,
            record_in_sync_ms: 30_000,
            health_interval_ms: 10_000,
            healthy_threshold: 3,
            registration_ms: 120_000,
            deregistration_delay_ms: 300_000,
        }
    }
}

/// Faults on the client-facing side.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkFaults {
    /// These instances' services never accept connections.
    pub never_ready: BTreeSet<InstanceId>,
    /// This route table refuses the next N route changes with `InternalError`.
    pub refusing_table: Option<(String, u32)>,
}

/// One change to where clients are sent, as the region made it: for invariants.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrafficChange {
    pub at: Timestamp,
    /// What was changed: `rtb-1`, `db.internal.`, a target group ARN, an allocation.
    pub place: String,
    /// The member it now sends clients to, when it names one.
    pub to: Option<InstanceId>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Record {
    value: String,
    ttl: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Registration {
    at: Timestamp,
    deregistered_at: Option<Timestamp>,
}

/// The client-facing side of the region.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Network {
    pub timings: NetworkTimings,
    pub faults: NetworkFaults,
    /// Route table -> destination CIDR -> interface.
    routes: BTreeMap<String, BTreeMap<String, String>>,
    /// Interfaces whose source/destination check is off (on by default, as in EC2).
    source_dest_check_off: BTreeSet<String>,
    /// Zone -> name -> record.
    records: BTreeMap<String, BTreeMap<String, Record>>,
    /// Change id -> when it is `INSYNC`.
    record_changes: BTreeMap<String, Timestamp>,
    /// Target group -> member -> registration.
    target_groups: BTreeMap<String, BTreeMap<InstanceId, Registration>>,
    /// Allocation -> interface.
    addresses: BTreeMap<String, Option<String>>,
    changes: Vec<TrafficChange>,
}

/// What the network needs to know of the instances: their endpoints and state history.
pub trait Instances {
    /// The member whose primary interface is `eni`.
    fn owner_of_interface(&self, eni: &str) -> Option<InstanceId>;
    /// The member whose private address is `ip`.
    fn owner_of_address(&self, ip: &str) -> Option<InstanceId>;
    /// Since when the instance has been `running` without a break, at `at`.
    fn running_since(&self, id: &InstanceId, at: Timestamp) -> Option<Timestamp>;
}

impl Network {
    /// Set up an overlay route in `table` to `eni` (a group's starting point).
    pub fn add_route(&mut self, table: &str, destination: &str, eni: &str) {
        self.routes.entry(table.to_owned()).or_default().insert(destination.to_owned(), eni.to_owned());
    }

    /// An empty route table.
    pub fn add_route_table(&mut self, table: &str) {
        self.routes.entry(table.to_owned()).or_default();
    }

    pub fn set_source_dest_check(&mut self, eni: &str, on: bool) {
        if on {
            self.source_dest_check_off.remove(eni);
        } else {
            self.source_dest_check_off.insert(eni.to_owned());
        }
    }

    pub fn add_record(&mut self, zone: &str, name: &str, value: &str, ttl: u32) {
        let record = Record { value: value.to_owned(), ttl };
        self.records.entry(zone.to_owned()).or_default().insert(name.to_owned(), record);
    }

    /// Register `instance` in `target_group`, long enough ago to count for health checks.
    pub fn add_target(&mut self, target_group: &str, instance: &InstanceId, at: Timestamp) {
        let registration = Registration { at, deregistered_at: None };
        self.target_groups.entry(target_group.to_owned()).or_default().insert(instance.clone(), registration);
    }

    pub fn add_address(&mut self, allocation: &str, eni: Option<&str>) {
        self.addresses.insert(allocation.to_owned(), eni.map(str::to_owned));
    }

    /// Set up every mover of `spec` as a group that has run on `active` for a long time would
    /// have it: routes and addresses to its interface (its source/destination check off), the
    /// record holding its address, every member registered in the target groups.
    pub fn provision(&mut self, spec: &GroupSpec, members: &[SimInstance], active: &InstanceId) {
        let Some(serving) = members.iter().find(|member| member.id == *active) else { return };
        let long_ago = Timestamp::from_unix_millis(0);
        for mover in &spec.movers {
            match mover {
                Mover::OverlayIp(overlay) => {
                    for table in &overlay.route_tables {
                        self.add_route(table, &overlay.address, &serving.network_interface());
                    }
                    self.set_source_dest_check(&serving.network_interface(), false);
                }
                Mover::Dns(dns) => {
                    self.add_record(&dns.hosted_zone, &dns.record, &serving.private_ip(), dns.ttl)
                }
                Mover::TargetGroup(group) => {
                    let registered: Vec<&SimInstance> = if group.move_registration {
                        vec![serving]
                    } else {
                        members.iter().filter(|member| spec.contains(&member.id)).collect()
                    };
                    for member in registered {
                        self.add_target(&group.arn, &member.id, long_ago);
                    }
                }
                Mover::ElasticIp(address) => {
                    self.add_address(&address.allocation, Some(&serving.network_interface()));
                }
            }
        }
    }

    /// Every change to where clients go, in order.
    pub fn changes(&self) -> &[TrafficChange] {
        &self.changes
    }

    /// The members every mechanism sends clients to at `now` (routes and addresses that are not
    /// blackholes, record values, healthy targets), by place.
    pub fn pointers(&self, instances: &impl Instances, now: Timestamp) -> Vec<(String, InstanceId)> {
        let mut pointers = Vec::new();
        for (table, routes) in &self.routes {
            for eni in routes.values() {
                if let Some(owner) = instances.owner_of_interface(eni) {
                    pointers.push((table.clone(), owner));
                }
            }
        }
        for (name, record) in self.records.values().flatten() {
            if let Some(owner) = instances.owner_of_address(&record.value) {
                pointers.push((name.clone(), owner));
            }
        }
        for (arn, targets) in &self.target_groups {
            for instance in targets.keys() {
                if self.health(instances, arn, instance, now) == Some(TargetHealth::Healthy) {
                    pointers.push((arn.clone(), instance.clone()));
                }
            }
        }
        for (allocation, eni) in &self.addresses {
            if let Some(owner) = eni.as_deref().and_then(|eni| instances.owner_of_interface(eni)) {
                pointers.push((allocation.clone(), owner));
            }
        }
        pointers
    }

    /// When the service on `id` accepts connections, if it does by `now`.
    fn service_ready_since(
        &self,
        instances: &impl Instances,
        id: &InstanceId,
        now: Timestamp,
    ) -> Option<Timestamp> {
        if self.faults.never_ready.contains(id) {
            return None;
        }
        let ready = instances.running_since(id, now)? + Duration::from_millis(self.timings.service_start_ms);
        (ready <= now).then_some(ready)
    }

    /// Whether the service on `id` accepts connections at `now` (it has started, and is not
    /// one that never does).
    pub(crate) fn service_started(
        &self,
        instances: &impl Instances,
        id: &InstanceId,
        now: Timestamp,
    ) -> bool {
        self.service_ready_since(instances, id, now).is_some()
    }

    /// One target's health, as DescribeTargetHealth would report it; None if not registered.
    fn health(
        &self,
        instances: &impl Instances,
        arn: &str,
        id: &InstanceId,
        now: Timestamp,
    ) -> Option<TargetHealth> {
        let registration = self.target_groups.get(arn)?.get(id)?;
        if let Some(gone) = registration.deregistered_at {
            let drained = gone + Duration::from_millis(self.timings.deregistration_delay_ms);
            return (now < drained).then_some(TargetHealth::Draining);
        }
        if instances.running_since(id, now).is_none() {
            return Some(TargetHealth::Unused);
        }
        let counts_from = registration.at + Duration::from_millis(self.timings.registration_ms);
        let checks = Duration::from_millis(
            self.timings.health_interval_ms * u64::from(self.timings.healthy_threshold),
        );
        let healthy = self
            .service_ready_since(instances, id, now)
            .is_some_and(|ready| now >= ready.max(counts_from) + checks);
        Some(if healthy { TargetHealth::Healthy } else { TargetHealth::Initial })
    }

    /// A readiness probe of `id`.
    pub fn probe(
        &self,
        instances: &impl Instances,
        id: &InstanceId,
        probe: &Probe,
        now: Timestamp,
    ) -> ProbeResult {
        let result = |passed: bool, detail: &str| ProbeResult { passed, detail: detail.to_owned() };
        match probe {
            Probe::Tcp { .. } | Probe::Http { .. } => {
                if instances.running_since(id, now).is_none() {
                    return result(false, "timed out (not running)");
                }
                if self.service_ready_since(instances, id, now).is_none() {
                    return result(false, "connection refused");
                }
                match probe {
                    Probe::Http { status, body_contains, .. } => {
                        let body_ok = body_contains.as_deref().is_none_or(|wanted| "ok".contains(wanted));
                        if *status == 200 && body_ok {
                            result(true, "status 200")
                        } else {
                            result(false, "status 200, not the answer expected")
                        }
                    }
                    _ => result(true, "connected"),
                }
            }
            Probe::Ec2Status => match instances.running_since(id, now) {
                None => result(false, "not running"),
                Some(since)
                    if now.saturating_since(since).as_millis()
                        < u128::from(self.timings.status_ok_after_ms) =>
                {
                    result(false, "initializing")
                }
                Some(_) => result(true, "ok"),
            },
            Probe::TargetHealth { target_group } => match self.health(instances, target_group, id, now) {
                Some(TargetHealth::Healthy) => result(true, "healthy"),
                Some(health) => result(false, health.as_str()),
                None => result(false, "not registered"),
            },
        }
    }

    /// Where `mover` points now.
    pub fn read(
        &self,
        instances: &impl Instances,
        mover: &Mover,
        desired: &Endpoint,
        change: Option<&str>,
        now: Timestamp,
    ) -> Result<ClientView, ApiError> {
        Ok(match mover {
            Mover::OverlayIp(overlay) => {
                let mut routes = Vec::new();
                for table in &overlay.route_tables {
                    let Some(table_routes) = self.routes.get(table) else {
                        return Err(not_found("InvalidRouteTableID.NotFound", table));
                    };
                    let eni = table_routes.get(&overlay.address);
                    let blackhole = eni.is_some_and(|eni| {
                        instances
                            .owner_of_interface(eni)
                            .is_none_or(|owner| instances.running_since(&owner, now).is_none())
                    });
                    routes.push(RouteView {
                        route_table: table.clone(),
                        network_interface: eni.cloned(),
                        exists: eni.is_some(),
                        blackhole,
                    });
                }
                let source_dest_check = !self.source_dest_check_off.contains(&desired.network_interface);
                ClientView::Routes { routes, source_dest_check }
            }
            Mover::Dns(dns) => {
                let record = self.records.get(&dns.hosted_zone).and_then(|zone| zone.get(&dns.record));
                let in_sync = change.map(|id| self.record_changes.get(id).is_some_and(|at| now >= *at));
                ClientView::Record(RecordView {
                    value: record.map(|record| record.value.clone()),
                    ttl: record.map(|record| record.ttl),
                    in_sync,
                })
            }
            Mover::TargetGroup(group) => {
                let Some(targets) = self.target_groups.get(&group.arn) else {
                    return Err(not_found("TargetGroupNotFound", &group.arn));
                };
                let views = targets
                    .keys()
                    .filter_map(|id| {
                        let health = self.health(instances, &group.arn, id, now)?;
                        Some(TargetView { instance: id.clone(), health })
                    })
                    .collect();
                ClientView::Targets(views)
            }
            Mover::ElasticIp(address) => {
                let Some(eni) = self.addresses.get(&address.allocation) else {
                    return Err(not_found("InvalidAllocationID.NotFound", &address.allocation));
                };
                ClientView::Address(AddressView { network_interface: eni.clone() })
            }
        })
    }

    /// Make one change; the Route 53 change id when there is one.
    #[expect(clippy::too_many_lines, reason = "one match arm per mover change the region carries out")]
    pub fn change(
        &mut self,
        instances: &impl Instances,
        change: &Change,
        now: Timestamp,
    ) -> Result<Option<String>, ApiError> {
        match change {
            Change::Route { route_table, destination, network_interface, create } => {
                if let Some((table, left)) = self.faults.refusing_table.as_mut() {
                    if table == route_table && *left > 0 {
                        *left -= 1;
                        return Err(ApiError::new(
                            ErrorKind::Transient,
                            "InternalError",
                            "An internal error has occurred.",
                        ));
                    }
                }
                let Some(routes) = self.routes.get_mut(route_table) else {
                    return Err(not_found("InvalidRouteTableID.NotFound", route_table));
                };
                match (routes.contains_key(destination), create) {
                    (false, false) => {
                        return Err(ApiError::new(
                            ErrorKind::WrongState,
                            "InvalidParameterValue",
                            format!("There is no route defined for '{destination}' in the route table."),
                        ))
                    }
                    (true, true) => {
                        return Err(ApiError::new(
                            ErrorKind::WrongState,
                            "RouteAlreadyExists",
                            format!("The route identified by {destination} already exists."),
                        ))
                    }
                    _ => {}
                }
                routes.insert(destination.clone(), network_interface.clone());
                let to = instances.owner_of_interface(network_interface);
                self.changes.push(TrafficChange { at: now, place: route_table.clone(), to });
                Ok(None)
            }
            Change::DisableSourceDestCheck { network_interface } => {
                self.source_dest_check_off.insert(network_interface.clone());
                Ok(None)
            }
            Change::Record { hosted_zone, record, from, to, ttl } => {
                let zone = self.records.entry(hosted_zone.clone()).or_default();
                // Route 53 deletes only an exact match: the value and the TTL.
                let current = zone.get(record).map(|r| (r.value.clone(), r.ttl));
                if current != *from {
                    return Err(ApiError::new(
                        ErrorKind::WrongState,
                        "InvalidChangeBatch",
                        format!("Tried to delete resource record set [name='{record}', type='A'] but the values provided do not match the current values"),
                    ));
                }
                zone.insert(record.clone(), Record { value: to.clone(), ttl: *ttl });
                let id = format!("C{:08}", self.record_changes.len() + 1);
                self.record_changes
                    .insert(id.clone(), now + Duration::from_millis(self.timings.record_in_sync_ms));
                let owner = instances.owner_of_address(to);
                self.changes.push(TrafficChange { at: now, place: record.clone(), to: owner });
                Ok(Some(id))
            }
            Change::Register { target_group, instance, .. } => {
                let targets = self
                    .target_groups
                    .get_mut(target_group)
                    .ok_or_else(|| not_found("TargetGroupNotFound", target_group))?;
                if instances.running_since(instance, now).is_none() {
                    return Err(ApiError::new(
                        ErrorKind::WrongState,
                        "InvalidTarget",
                        format!("The following targets are not in a running state and cannot be registered: '{instance}'"),
                    ));
                }
                let fresh = targets.get(instance).is_none_or(|r| r.deregistered_at.is_some());
                if fresh {
                    targets.insert(instance.clone(), Registration { at: now, deregistered_at: None });
                    self.changes.push(TrafficChange {
                        at: now,
                        place: target_group.clone(),
                        to: Some(instance.clone()),
                    });
                }
                Ok(None)
            }
            Change::Deregister { target_group, instance, .. } => {
                let targets = self
                    .target_groups
                    .get_mut(target_group)
                    .ok_or_else(|| not_found("TargetGroupNotFound", target_group))?;
                if let Some(registration) = targets.get_mut(instance) {
                    registration.deregistered_at.get_or_insert(now);
                }
                Ok(None)
            }
            Change::Associate { allocation, network_interface } => {
                let address = self
                    .addresses
                    .get_mut(allocation)
                    .ok_or_else(|| not_found("InvalidAllocationID.NotFound", allocation))?;
                *address = Some(network_interface.clone());
                let to = instances.owner_of_interface(network_interface);
                self.changes.push(TrafficChange { at: now, place: allocation.clone(), to });
                Ok(None)
            }
        }
    }
}

fn not_found(code: &str, what: &str) -> ApiError {
    ApiError::new(ErrorKind::NotFound, code, format!("'{what}' does not exist"))
}
