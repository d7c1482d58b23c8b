//! `target-group`: an internal load balancer's target group in which the active member is the
//! one healthy target. The recommended shape keeps every member registered (a stopped one is
//! simply not healthy), so a failover needs no control-plane call and waits only for the health
//! check; `move-registration` registers the new member and deregisters the others instead.

use serde::{Deserialize, Serialize};

use super::{Change, Endpoint, Step};
use crate::instance::InstanceId;

/// The mover's configuration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetGroup {
    /// The target group's ARN.
    pub arn: String,
    /// The port targets are registered on, when not the group's default.
    pub port: Option<u16>,
    /// Deregister the other members on a failover (default: keep every member registered).
    pub move_registration: bool,
}

/// A target's health as the load balancer reports it (`DescribeTargetHealth`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TargetHealth {
    /// Registered, health checks not yet passed.
    Initial,
    Healthy,
    Unhealthy,
    /// Registered to an instance that is not running.
    Unused,
    /// Deregistered, finishing its connections for the deregistration delay.
    Draining,
    Unavailable,
}

impl TargetHealth {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Initial => "initial",
            Self::Healthy => "healthy",
            Self::Unhealthy => "unhealthy",
            Self::Unused => "unused",
            Self::Draining => "draining",
            Self::Unavailable => "unavailable",
        }
    }
}

/// One registered target.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetView {
    pub instance: InstanceId,
    pub health: TargetHealth,
}

impl TargetGroup {
    /// Verified when `desired` is healthy and no other member is: healthy, or (with
    /// `move_registration`) still registered other than draining. Registers `desired` if it is
    /// not (also in the keep-registered shape: a repair, not a toggle).
    pub fn next_step(&self, targets: &[TargetView], desired: &Endpoint, members: &[Endpoint]) -> Step {
        let desired_target = targets.iter().find(|target| target.instance == desired.instance);
        let mut changes = Vec::new();
        if desired_target.is_none() {
            changes.push(Change::Register {
                target_group: self.arn.clone(),
                instance: desired.instance.clone(),
                port: self.port,
            });
        }
        let is_member = |instance: &InstanceId| members.iter().any(|member| member.instance == *instance);
        let others = targets
            .iter()
            .filter(|target| target.instance != desired.instance && is_member(&target.instance));
        for other in others {
            if self.move_registration && other.health != TargetHealth::Draining {
                changes.push(Change::Deregister {
                    target_group: self.arn.clone(),
                    instance: other.instance.clone(),
                    port: self.port,
                });
            } else if other.health == TargetHealth::Healthy {
                return Step::Wait(format!("{} is still healthy in the target group", other.instance));
            }
        }
        if !changes.is_empty() {
            return Step::Change(changes);
        }
        match desired_target.map(|target| target.health) {
            Some(TargetHealth::Healthy) => Step::Verified,
            health => Step::Wait(format!(
                "{} is {} in the target group",
                desired.instance,
                health.map_or("not registered", TargetHealth::as_str)
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(instance: &str) -> Endpoint {
        Endpoint {
            instance: instance.parse().unwrap(),
            network_interface: format!("eni-{instance}"),
            private_ip: "10.0.0.1".to_owned(),
        }
    }

    fn target(instance: &str, health: TargetHealth) -> TargetView {
        TargetView { instance: instance.parse().unwrap(), health }
    }

    #[test]
    fn keeping_every_member_registered_needs_no_change_and_waits_for_health() {
        let mover = TargetGroup { arn: "arn:tg".to_owned(), port: None, move_registration: false };
        let members = [endpoint("i-0000000a"), endpoint("i-0000000b")];
        let initial =
            [target("i-0000000a", TargetHealth::Unused), target("i-0000000b", TargetHealth::Initial)];
        assert!(matches!(mover.next_step(&initial, &members[1], &members), Step::Wait(_)));
        let healthy =
            [target("i-0000000a", TargetHealth::Unused), target("i-0000000b", TargetHealth::Healthy)];
        assert_eq!(mover.next_step(&healthy, &members[1], &members), Step::Verified);
    }

    #[test]
    fn moving_registration_registers_the_new_member_and_deregisters_the_old() {
        let mover = TargetGroup { arn: "arn:tg".to_owned(), port: Some(80), move_registration: true };
        let members = [endpoint("i-0000000a"), endpoint("i-0000000b")];
        let before = [target("i-0000000a", TargetHealth::Unused)];
        let Step::Change(changes) = mover.next_step(&before, &members[1], &members) else { panic!() };
        assert_eq!(
            changes.iter().map(Change::operation).collect::<Vec<_>>(),
            ["RegisterTargets", "DeregisterTargets"]
        );
        let after =
            [target("i-0000000a", TargetHealth::Draining), target("i-0000000b", TargetHealth::Healthy)];
        assert_eq!(mover.next_step(&after, &members[1], &members), Step::Verified);
    }
}
