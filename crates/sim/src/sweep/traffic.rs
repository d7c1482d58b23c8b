//! The invariants about clients, judged from the region's own routes, records, target health and
//! addresses (not from what the movers reported).

use coldstandby_engine::{InstanceId, InstanceState, Timestamp};

use super::checker::Checker;
use crate::region::SimRegion;

/// Once a failover succeeds, every mechanism sends clients to the member recorded active and to
/// no other member (a route, the record, a healthy target, an address).
pub const TRAFFIC_TO_ACTIVE_ONLY: &str = super::invariant::Invariant::TrafficToActiveOnly.name();
/// No change sends clients to a member while another member of the group may still serve
/// (pending, running or stopping).
pub const NO_TRAFFIC_BEFORE_FENCE: &str = super::invariant::Invariant::NoTrafficBeforeFence.name();

impl Checker {
    /// After a success (or once the region settled after one): clients go to `active` only.
    pub fn traffic_to_active_only(&mut self, region: &SimRegion, at: Timestamp, active: &InstanceId) {
        let elsewhere: Vec<String> = region
            .traffic_pointers()
            .into_iter()
            .filter(|(_, member)| member != active)
            .map(|(place, member)| format!("{place} -> {member}"))
            .collect();
        if !elsewhere.is_empty() {
            let detail = format!("{active} is active but {}", elsewhere.join(", "));
            self.violate(TRAFFIC_TO_ACTIVE_ONLY, at, detail);
        }
    }

    /// Every change since the last check that sent clients to a member came while every other
    /// member was stopped (or gone), by the region's own lifecycle log.
    pub fn no_traffic_before_fence(&mut self, region: &SimRegion) {
        let changes = region.traffic_changes();
        let from = self.traffic_checked.min(changes.len());
        for change in &changes[from..] {
            let Some(to) = &change.to else { continue };
            for other in self.members.clone().iter().filter(|member| *member != to) {
                // Pending, running or stopping: it may serve. A member shutting down is gone
                // for good, as the engine and `single-live` count it.
                let state = region.state_at(other, change.at);
                if state.is_some_and(|state| state.is_live() && !state.is_gone()) {
                    let detail = format!(
                        "{} sent to {to} while {other} was {}",
                        change.place,
                        state.map_or("?", InstanceState::as_str)
                    );
                    self.violate(NO_TRAFFIC_BEFORE_FENCE, change.at, detail);
                }
            }
        }
        self.traffic_checked = changes.len();
    }
}

#[cfg(test)]
mod tests {
    use coldstandby_engine::clients::{Change, Mover, OverlayIp};
    use coldstandby_engine::{GroupSpec, InstanceId, InstanceState, Provider, Timestamp};

    use super::*;
    use crate::model::{SimInstance, Timings};

    fn id(text: &str) -> InstanceId {
        text.parse().unwrap()
    }

    /// A primary running and a standby already running beside it (a bad state to move to).
    fn region() -> (SimRegion, GroupSpec) {
        let region = SimRegion::new(1, Timestamp::from_unix_millis(1_000_000), Timings::default());
        region.add_instance(SimInstance::new(id("i-0000000a"), "ap-northeast-1a", InstanceState::Running));
        region.add_instance(SimInstance::new(id("i-0000000b"), "ap-northeast-1c", InstanceState::Running));
        let mut spec = GroupSpec::new("web", id("i-0000000a"), vec![id("i-0000000b")]);
        let overlay =
            OverlayIp { address: "10.255.0.10/32".to_owned(), route_tables: vec!["rtb-0000000a".to_owned()] };
        spec.movers = vec![Mover::OverlayIp(overlay)];
        region.provision_clients(&spec, &spec.primary);
        (region, spec)
    }

    #[test]
    fn a_route_moved_while_the_old_member_runs_breaks_both_traffic_invariants() {
        let (region, spec) = region();
        let mut checker = Checker::new(1, spec.members());
        checker.no_traffic_before_fence(&region);
        assert!(checker.violations.is_empty(), "provisioning is not a move");
        let change = Change::Route {
            route_table: "rtb-0000000a".to_owned(),
            destination: "10.255.0.10/32".to_owned(),
            network_interface: "eni-0000000b".to_owned(),
            create: false,
        };
        region.run(region.move_clients(&change)).unwrap();
        checker.no_traffic_before_fence(&region);
        checker.traffic_to_active_only(&region, Timestamp::from_unix_millis(2_000_000), &id("i-0000000a"));
        let names: Vec<&str> = checker.violations.iter().map(|v| v.invariant).collect();
        assert_eq!(names, [NO_TRAFFIC_BEFORE_FENCE, TRAFFIC_TO_ACTIVE_ONLY]);
    }

    #[test]
    fn clients_left_on_the_active_member_break_nothing() {
        let (region, spec) = region();
        let mut checker = Checker::new(1, spec.members());
        checker.traffic_to_active_only(&region, Timestamp::from_unix_millis(2_000_000), &id("i-0000000a"));
        assert!(checker.violations.is_empty(), "{:?}", checker.violations);
    }
}
