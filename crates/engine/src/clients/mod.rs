//! Clients follow the failover: the readiness checks a promoted member must pass, and the movers
//! that point clients at it. Each mover is data (the group's configuration) plus one pure
//! decision, [`Mover::next_step`]: given what a read of the mechanism showed, is it verified,
//! what single change brings it closer, or what is there to wait for. Adapters (the simulated
//! region, the AWS SDK) carry out the reads and the changes.

pub mod dns;
pub mod elastic_ip;
pub mod overlay_ip;
pub mod readiness;
pub mod target_group;

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::instance::InstanceId;

pub use dns::{Dns, RecordView};
pub use elastic_ip::{AddressView, ElasticIp};
pub use overlay_ip::{OverlayIp, RouteView};
pub use readiness::{Probe, ProbeResult, ReadinessCheck};
pub use target_group::{TargetGroup, TargetHealth, TargetView};

/// Where clients reach one member: what the movers point at. Read from DescribeInstances (the
/// primary network interface, device index 0, and its private address).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Endpoint {
    pub instance: InstanceId,
    pub network_interface: String,
    pub private_ip: String,
}

/// One way of moving clients to the active member.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Mover {
    /// A /32 outside the VPC's range, routed to the active member's network interface.
    OverlayIp(OverlayIp),
    /// A record in a Route 53 private hosted zone holding the active member's private address.
    Dns(Dns),
    /// An internal load balancer's target group in which only the active member is healthy.
    TargetGroup(TargetGroup),
    /// An Elastic IP associated with the active member's network interface.
    ElasticIp(ElasticIp),
}

impl Mover {
    /// The mechanism's name, as the configuration spells it.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::OverlayIp(_) => "overlay-ip",
            Self::Dns(_) => "dns",
            Self::TargetGroup(_) => "target-group",
            Self::ElasticIp(_) => "elastic-ip",
        }
    }

    /// What it moves, for messages: `overlay-ip 10.255.0.10/32 (rtb-1, rtb-2)`.
    pub fn describe(&self) -> String {
        match self {
            Self::OverlayIp(mover) => {
                format!("overlay-ip {} ({})", mover.address, mover.route_tables.join(", "))
            }
            Self::Dns(mover) => format!("dns {} in {}", mover.record, mover.hosted_zone),
            Self::TargetGroup(mover) => format!("target-group {}", mover.arn),
            Self::ElasticIp(mover) => format!("elastic-ip {}", mover.allocation),
        }
    }

    /// What to do next to point this mover at `desired`, from a read of it. `members` are every
    /// member's endpoints (known ones), so a mover can tell the group's old targets.
    pub fn next_step(&self, view: &ClientView, desired: &Endpoint, members: &[Endpoint]) -> Step {
        match (self, view) {
            (Self::OverlayIp(mover), ClientView::Routes { routes, source_dest_check }) => {
                mover.next_step(routes, *source_dest_check, desired)
            }
            (Self::Dns(mover), ClientView::Record(record)) => mover.next_step(record, desired),
            (Self::TargetGroup(mover), ClientView::Targets(targets)) => {
                mover.next_step(targets, desired, members)
            }
            (Self::ElasticIp(mover), ClientView::Address(address)) => mover.next_step(address, desired),
            (mover, view) => unreachable!("{} read answered with {view:?}", mover.kind()),
        }
    }
}

impl Mover {
    /// As [`Self::next_step`], for a run that moves clients: a DNS record already right with no
    /// change of the run's own is written again so its propagation can be awaited
    /// ([`Dns::next_step_for_run`]).
    pub fn next_step_for_run(&self, view: &ClientView, desired: &Endpoint, members: &[Endpoint]) -> Step {
        match (self, view) {
            (Self::Dns(mover), ClientView::Record(record)) => mover.next_step_for_run(record, desired),
            _ => self.next_step(view, desired, members),
        }
    }
}

impl fmt::Display for Mover {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

/// What a read of one mover showed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "view", rename_all = "kebab-case")]
pub enum ClientView {
    /// Each listed route table's route for the overlay address, and whether the desired
    /// interface still checks source and destination (it must not, to accept the address).
    Routes {
        routes: Vec<RouteView>,
        source_dest_check: bool,
    },
    Record(RecordView),
    Targets(Vec<TargetView>),
    Address(AddressView),
}

/// One change a mover asks for. Every change sets a desired value (never toggles), so making it
/// twice is harmless.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "kebab-case")]
pub enum Change {
    /// `ReplaceRoute` (or `CreateRoute` when the table has no route for the address yet).
    Route { route_table: String, destination: String, network_interface: String, create: bool },
    /// `ModifyNetworkInterfaceAttribute` with `SourceDestCheck=false`.
    DisableSourceDestCheck { network_interface: String },
    /// `ChangeResourceRecordSets`: DELETE of exactly `from` (value and TTL, when there is a
    /// record) and CREATE of `to`, in one batch: it fails if the record changed meanwhile (a
    /// compare-and-swap).
    Record { hosted_zone: String, record: String, from: Option<(String, u32)>, to: String, ttl: u32 },
    /// `RegisterTargets`.
    Register { target_group: String, instance: InstanceId, port: Option<u16> },
    /// `DeregisterTargets`.
    Deregister { target_group: String, instance: InstanceId, port: Option<u16> },
    /// `AssociateAddress` with `AllowReassociation`.
    Associate { allocation: String, network_interface: String },
}

impl Change {
    /// The API operation that makes it.
    pub fn operation(&self) -> &'static str {
        match self {
            Self::Route { create: false, .. } => "ReplaceRoute",
            Self::Route { create: true, .. } => "CreateRoute",
            Self::DisableSourceDestCheck { .. } => "ModifyNetworkInterfaceAttribute",
            Self::Record { .. } => "ChangeResourceRecordSets",
            Self::Register { .. } => "RegisterTargets",
            Self::Deregister { .. } => "DeregisterTargets",
            Self::Associate { .. } => "AssociateAddress",
        }
    }

    /// The group member the change names, if it names one.
    pub fn instance(&self) -> Option<&InstanceId> {
        match self {
            Self::Register { instance, .. } | Self::Deregister { instance, .. } => Some(instance),
            _ => None,
        }
    }
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Route { route_table, destination, network_interface, .. } => {
                write!(f, "{route_table}: {destination} -> {network_interface}")
            }
            Self::DisableSourceDestCheck { network_interface } => {
                write!(f, "{network_interface}: source/destination check off")
            }
            Self::Record { record, from, to, .. } => match from {
                Some((from, _)) => write!(f, "{record}: {from} -> {to}"),
                None => write!(f, "{record}: (none) -> {to}"),
            },
            Self::Register { target_group, instance, .. } => write!(f, "{target_group}: register {instance}"),
            Self::Deregister { target_group, instance, .. } => {
                write!(f, "{target_group}: deregister {instance}")
            }
            Self::Associate { allocation, network_interface } => {
                write!(f, "{allocation} -> {network_interface}")
            }
        }
    }
}

/// A mover's verdict on one read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Clients reach `desired` through this mover, as read back.
    Verified,
    /// Make these changes, then read again.
    Change(Vec<Change>),
    /// Nothing to change; read again later (a change propagating, a health check to pass).
    Wait(String),
}
