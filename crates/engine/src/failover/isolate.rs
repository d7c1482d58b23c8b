//! The `isolate` fence: a member to fence that cannot be observed (every describe naming it has
//! failed for `UNOBSERVABLE_GRACE` while other members' answered) is cut off instead of stopped:
//! its subnet is moved onto the quarantine network ACL and the move read back. An isolated
//! member counts as fenced; if its zone answers again and shows it running, it is stopped too.

use super::*;
use crate::group::WhenUnobservable;
use crate::isolation::{next_step, IsolationStep, SubnetAcl};

/// How long a member must have been unobservable before it is isolated: a zone whose describes
/// fail for this long while the others answer is taken as disrupted, not as a passing error.
pub const UNOBSERVABLE_GRACE: Duration = Duration::from_secs(10);

/// Replacements of one subnet's association before the run stops trying (each follows a read
/// that showed another ACL: someone keeps moving it back).
const MAX_REPLACEMENTS: u32 = 5;

/// Where one fence target's isolation stands.
#[derive(Clone, Debug)]
pub(super) struct Isolation {
    subnet: String,
    /// A read or a replacement is queued or in flight.
    in_flight: bool,
    replacements: u32,
    pub(super) isolated_at: Option<Timestamp>,
    /// A stop after its zone answered again and showed it live.
    stop_sent: bool,
}

impl Failover {
    /// The quarantine ACL, when the group isolates members it cannot observe.
    fn quarantine_acl(&self) -> Option<&str> {
        match &self.spec.when_unobservable {
            WhenUnobservable::Isolate { network_acl } => Some(network_acl),
            WhenUnobservable::FailClosed => None,
        }
    }

    /// Whether `member` is a fence target cut off by this run.
    pub(super) fn is_isolated(&self, member: &InstanceId) -> bool {
        self.fence.iter().any(|target| {
            target.instance == *member && target.isolation.as_ref().is_some_and(|i| i.isolated_at.is_some())
        })
    }

    /// Whether the fence skips stopping `member`: the group isolates what it cannot observe, and
    /// it cannot be observed (a stop into its zone would fail or hang).
    pub(super) fn isolates_instead_of_stopping(&self, member: &InstanceId) -> bool {
        self.quarantine_acl().is_some() && self.seen[member].unobservable.is_some()
    }

    /// Begin isolating every fence target unobservable for long enough, and stop an isolated
    /// target whose zone answers again and shows it live.
    pub(super) fn advance_isolation(&mut self, now: Timestamp) {
        if self.quarantine_acl().is_none() || self.phase.is_closing() {
            return;
        }
        let mut reads = Vec::new();
        let mut stops = Vec::new();
        for index in 0..self.fence.len() {
            let instance = self.fence[index].instance.clone();
            let seen = &self.seen[&instance];
            let unobservable_long = seen
                .unobservable
                .as_ref()
                .is_some_and(|(since, _)| now.saturating_since(*since) >= UNOBSERVABLE_GRACE);
            let live_again = matches!(seen.settled_state(), Some(InstanceState::Running));
            let subnet = self.spec.subnet_of(&instance).map(str::to_owned);
            let target = &mut self.fence[index];
            match target.isolation.as_mut() {
                None if unobservable_long && self.fence_confirmed_at.is_none() => {
                    let subnet = subnet.expect("config validation: isolate needs every member's subnet");
                    target.isolation = Some(Isolation {
                        subnet: subnet.clone(),
                        in_flight: true,
                        replacements: 0,
                        isolated_at: None,
                        stop_sent: false,
                    });
                    reads.push(subnet);
                }
                Some(isolation) if isolation.isolated_at.is_some() && live_again && !isolation.stop_sent => {
                    isolation.stop_sent = true;
                    stops.push(instance);
                }
                _ => {}
            }
        }
        for subnet in reads {
            self.enqueue(now, Call::ReadNetworkAcl { subnet });
        }
        for instance in stops {
            self.seen.get_mut(&instance).expect("fence targets are members").change_requested(now);
            self.enqueue(now, Call::Stop { instance, force: true });
        }
    }

    /// An isolating group reads its standbys' subnets before it plans: an earlier run may have
    /// cut one off, and a standby promoted there would be unreachable while the member it
    /// replaces is fenced (a `switchover` back to an isolated old primary, say).
    pub(super) fn read_standby_subnets(&mut self, now: Timestamp) {
        if self.quarantine_acl().is_none() || self.options.dry_run {
            return;
        }
        let subnets: BTreeSet<String> = self
            .spec
            .standbys
            .iter()
            .filter_map(|standby| self.spec.placement.get(standby).and_then(|p| p.subnet.clone()))
            .collect();
        for subnet in subnets {
            self.standby_subnets.insert(subnet.clone(), None);
            self.enqueue(now, Call::ReadNetworkAcl { subnet });
        }
    }

    /// Why `standby` cannot be promoted: its subnet was read on the quarantine ACL.
    pub(super) fn quarantined(&self, standby: &InstanceId) -> Option<String> {
        let subnet = self.spec.placement.get(standby)?.subnet.as_ref()?;
        let quarantine = self.quarantine_acl()?;
        (self.standby_subnets.get(subnet) == Some(&Some(true))).then(|| {
            format!("its subnet {subnet} is on the quarantine network ACL {quarantine} (cut off by an earlier run)")
        })
    }

    /// A read of a subnet's ACL: verified, or replace and read again.
    pub(super) fn on_network_acl(&mut self, now: Timestamp, read: SubnetAcl) {
        let quarantine = self.quarantine_acl().expect("only an isolating group reads ACLs").to_owned();
        if let Some(known) = self.standby_subnets.get_mut(&read.subnet) {
            known.get_or_insert(read.network_acl == quarantine);
        }
        if self.plan.is_none() {
            // Only the standbys' subnets are read before the plan; there is no fence yet.
            return;
        }
        let step = next_step(&read, &quarantine);
        let mut calls = Vec::new();
        let mut isolated = Vec::new();
        for target in &mut self.fence {
            let Some(isolation) =
                target.isolation.as_mut().filter(|i| i.subnet == read.subnet && i.in_flight)
            else {
                continue;
            };
            match &step {
                IsolationStep::Verified => {
                    isolation.in_flight = false;
                    isolation.isolated_at.get_or_insert(now);
                    isolated.push(target.instance.clone());
                }
                IsolationStep::Replace { .. } if isolation.replacements >= MAX_REPLACEMENTS => {
                    // Someone keeps moving it back: stop trying; the fence's deadline fails
                    // the run closed with the reason.
                    isolation.in_flight = false;
                }
                IsolationStep::Replace { association } => {
                    isolation.replacements += 1;
                    calls.push(Call::Isolate {
                        subnet: read.subnet.clone(),
                        association: association.clone(),
                        network_acl: quarantine.clone(),
                    });
                }
            }
        }
        calls.dedup();
        for call in calls {
            self.enqueue(now, call);
        }
        for instance in isolated {
            let (subnet, network_acl) = (read.subnet.clone(), quarantine.clone());
            self.emit(now, EventKind::Isolated { instance, subnet, network_acl });
        }
        self.advance_fence(now);
    }

    /// A replacement was accepted (or refused as made from an old read): read the subnet again.
    pub(super) fn reread_network_acl(&mut self, now: Timestamp, subnet: String) {
        self.enqueue(now, Call::ReadNetworkAcl { subnet });
    }
}
