//! The region on the day of an AZ outage: `groups` groups whose primaries all live in the zone
//! that goes down, packed into shared subnets as they are in practice, with one or two standbys
//! each in the other zones, in a mix of states, orderings and recoverable faults. Each group is
//! drawn from its own random stream, so group `k` is the same whatever the group count.

use std::time::Duration;

use coldstandby_engine::{
    GroupSpec, InstanceId, InstanceState, Ordering, Placement, Role, Timestamp, WhenUnobservable,
};

use crate::model::{CapacityShortage, SimInstance, Timings};
use crate::region::SimRegion;

/// The zone that goes down.
pub const DOWN_ZONE: &str = "ap-northeast-1a";
/// The zones the standbys live in.
pub const STANDBY_ZONES: [&str; 2] = ["ap-northeast-1c", "ap-northeast-1d"];
/// Primaries sharing one subnet.
pub const PRIMARIES_PER_SUBNET: usize = 25;
/// Every subnet's ordinary network ACL.
const DEFAULT_ACL: &str = "acl-0000000000000000a";
/// The deny-all ACL `isolate` moves a subnet onto.
pub const QUARANTINE_ACL: &str = "acl-0000000000000000d";

/// Which fence policy every group has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    FailClosed,
    Isolate,
}

impl Policy {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::FailClosed => "fail-closed",
            Self::Isolate => "isolate",
        }
    }
}

fn instance(kind: u64, group: usize) -> InstanceId {
    format!("i-{kind:x}{group:016x}").parse().expect("a well-formed instance id")
}

/// The subnet of the `index`-th block of `zone`.
pub fn subnet(zone: &str, index: usize) -> String {
    let letter = zone.chars().last().expect("a zone name ends with its letter");
    format!("subnet-0{letter}{index:015x}")
}

/// The instance types standbys have.
const INSTANCE_TYPES: [&str; 3] = ["m5.large", "c5.xlarge", "r5.2xlarge"];

/// The group specs and a region holding their instances (time at `start`, nothing impaired yet).
/// One instance type in one standby zone runs short of capacity for a while (the other zones take
/// the failed one's load), as EC2 runs short: by type and zone.
pub fn build(seed: u64, groups: usize, policy: Policy, start: Timestamp) -> (SimRegion, Vec<GroupSpec>) {
    build_groups(seed, 0..groups, policy, start)
}

/// Only the groups in `range` of the layout (group `k` is the same whatever else is built).
pub fn build_groups(
    seed: u64,
    range: std::ops::Range<usize>,
    policy: Policy,
    start: Timestamp,
) -> (SimRegion, Vec<GroupSpec>) {
    let region = SimRegion::new(seed ^ range.start as u64, start, Timings::default());
    let mut scenario_rng = fastrand::Rng::with_seed(seed);
    let short_zone = STANDBY_ZONES[scenario_rng.usize(0..STANDBY_ZONES.len())];
    let short_type = INSTANCE_TYPES[scenario_rng.usize(0..INSTANCE_TYPES.len())];
    let short_until = start + Duration::from_secs(scenario_rng.u64(60..=150));
    region.with_acls(|acls| acls.add_deny_all(QUARANTINE_ACL));
    // EC2 documents no limit on a describe's instance-id values; odd seeds take the stricter
    // reading (200), which the fleet must notice and fall back to.
    if seed % 2 == 1 {
        region
            .set_faults(crate::RegionFaults { describe_filter_limit: 200, ..crate::RegionFaults::default() });
    }
    let mut specs = Vec::with_capacity(range.len());
    for group in range {
        let mut rng =
            fastrand::Rng::with_seed(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15).wrapping_add(group as u64));
        let name = format!("g{group:04}");
        let primary = instance(1, group);
        let standby_count = if rng.f64() < 0.3 { 2 } else { 1 };
        let first_zone = rng.usize(0..STANDBY_ZONES.len());
        let standbys: Vec<(InstanceId, &str)> = (0..standby_count)
            .map(|n| (instance(2 + n as u64, group), STANDBY_ZONES[(first_zone + n) % STANDBY_ZONES.len()]))
            .collect();

        let primary_subnet = subnet(DOWN_ZONE, group / PRIMARIES_PER_SUBNET);
        let mut members = vec![(primary.clone(), DOWN_ZONE, primary_subnet, InstanceState::Running)];
        for (n, (standby, zone)) in standbys.iter().enumerate() {
            // Standbys share subnets too; most are stopped, some still stopping from a drill,
            // a few running (a person started one to look at it).
            let state = match rng.f64() {
                x if x < 0.04 && n == 0 => InstanceState::Stopping,
                x if x < 0.06 && n == 0 => InstanceState::Running,
                _ => InstanceState::Stopped,
            };
            members.push((standby.clone(), zone, subnet(zone, group / PRIMARIES_PER_SUBNET), state));
        }
        let mut spec =
            GroupSpec::new(name.clone(), primary, standbys.iter().map(|(id, _)| id.clone()).collect());
        spec.ordering = if rng.bool() { Ordering::FenceFirst } else { Ordering::Parallel };
        spec.when_unobservable = match policy {
            Policy::FailClosed => WhenUnobservable::FailClosed,
            Policy::Isolate => WhenUnobservable::Isolate { network_acl: QUARANTINE_ACL.to_owned() },
        };
        for (index, (id, zone, subnet_id, state)) in members.into_iter().enumerate() {
            spec.placement
                .insert(id.clone(), Placement { zone: zone.to_owned(), subnet: Some(subnet_id.clone()) });
            let mut sim = SimInstance::new(id, zone, state);
            sim.subnet = Some(subnet_id.clone());
            sim.instance_type = INSTANCE_TYPES[rng.usize(0..INSTANCE_TYPES.len())].to_owned();
            if index > 0 && zone == short_zone && sim.instance_type == short_type {
                sim.faults.capacity_shortage = Some(CapacityShortage::Until(short_until));
            }
            // Tagged with its group, as after a first drill; the primary recorded active.
            sim.tags = if index == 0 { Role::Active.tags_for(&name) } else { Role::Standby.tags_for(&name) };
            if state == InstanceState::Stopping {
                let after = Duration::from_secs(rng.u64(5..=30));
                sim.next = Some((start + after, InstanceState::Stopped));
            }
            if index == 1 && rng.f64() < 0.05 {
                // A slow boot, within the start timeout.
                sim.faults.boot_takes_ms = Some(rng.u64(30_000..=90_000));
            }
            region.with_acls(|acls| {
                if acls.read(&subnet_id).is_err() {
                    acls.add_subnet(&subnet_id, DEFAULT_ACL);
                }
            });
            region.add_instance(sim);
        }
        specs.push(spec);
    }
    (region, specs)
}
