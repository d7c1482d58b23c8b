//! A failover group as the engine receives it: members, ordering, fence mode and timeouts.
//! (The config crate builds these from the TOML file after validating it.)

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::clients::{Mover, ReadinessCheck};
use crate::instance::InstanceId;

/// When the standby may start relative to the fence.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Ordering {
    /// The standby starts only after the primary is confirmed stopped.
    #[default]
    FenceFirst,
    /// The standby starts while the primary stops; recording it active (and any redirect)
    /// still waits for the fence.
    Parallel,
}

impl Ordering {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::FenceFirst => "fence-first",
            Self::Parallel => "parallel",
        }
    }
}

impl fmt::Display for Ordering {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How the primary is stopped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FenceMode {
    /// A normal stop (clean OS shutdown), escalated to a forced stop after `stop` timeout.
    #[default]
    Stop,
    /// A forced stop from the start: faster, but the OS gets no clean shutdown.
    ForceStop,
}

impl FenceMode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stop => "stop",
            Self::ForceStop => "force-stop",
        }
    }
}

/// Every bound on a failover's waits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timeouts {
    /// How long a normal stop may take before the engine escalates to a forced stop.
    pub stop: Duration,
    /// How long the forced stop may take before the fence fails (closed: nothing is promoted).
    pub forced_stop: Duration,
    /// How long one standby may take to reach `running` before the engine moves to the next.
    pub start: Duration,
    /// How long one standby's `InsufficientInstanceCapacity` errors are retried.
    pub capacity_retry: Duration,
    /// The whole failover's deadline.
    pub failover: Duration,
}

impl Timeouts {
    /// How long the fence may take before it fails closed: the normal stop and then the forced
    /// one (`stop`), or the forced stop alone (`force-stop`). The engine's fence deadline and the
    /// function's timeout sizing both use this.
    pub fn fence(&self, mode: FenceMode) -> Duration {
        match mode {
            FenceMode::Stop => self.stop + self.forced_stop,
            FenceMode::ForceStop => self.forced_stop,
        }
    }
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            stop: Duration::from_secs(60),
            forced_stop: Duration::from_secs(120),
            start: Duration::from_secs(300),
            capacity_retry: Duration::from_secs(120),
            failover: Duration::from_secs(840),
        }
    }
}

/// What a failover leaves behind when the promoted member never passes its readiness checks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WhenNotReady {
    /// The member keeps running, without clients, behind the fence (the old member stays
    /// stopped): a person can look at it, and a rerun resumes from it. The safe default: it is
    /// the only member that can serve, and stopping it leaves none.
    #[default]
    KeepRunning,
    /// The member is stopped like anything else a failed run started.
    Stop,
}

impl WhenNotReady {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::KeepRunning => "keep-running",
            Self::Stop => "stop",
        }
    }
}

/// What the fence does with a member whose state EC2 cannot tell: every describe naming it fails
/// while the other members' answer (its Availability Zone is disrupted).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "policy", rename_all = "kebab-case")]
pub enum WhenUnobservable {
    /// Keep trying to stop and observe it until the fence's deadline, then fail closed: nothing
    /// is promoted while it may still serve.
    #[default]
    FailClosed,
    /// Cut it off with Regional calls that need no answer from its zone: its subnet is moved
    /// onto `network_acl` (a deny-all network ACL), the change read back, and only then is a
    /// standby promoted. The old instance may still run and write to its own volumes.
    Isolate { network_acl: String },
}

impl WhenUnobservable {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::FailClosed => "fail-closed",
            Self::Isolate { .. } => "isolate",
        }
    }
}

/// Where a member lives, known beforehand: what a controller needs about it when its zone
/// cannot answer a describe.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Placement {
    pub zone: String,
    /// Needed by the `isolate` policy: the subnet whose network ACL cuts the member off.
    #[serde(default)]
    pub subnet: Option<String>,
}

/// One primary and its ordered standbys.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupSpec {
    pub name: String,
    pub primary: InstanceId,
    /// Tried in this order.
    pub standbys: Vec<InstanceId>,
    pub ordering: Ordering,
    pub fence: FenceMode,
    pub timeouts: Timeouts,
    /// Checks the promoted member must pass before any client is moved to it.
    #[serde(default)]
    pub readiness: Vec<ReadinessCheck>,
    /// How clients are moved to the active member, each verified before the run records it.
    #[serde(default)]
    pub movers: Vec<Mover>,
    #[serde(default)]
    pub when_not_ready: WhenNotReady,
    #[serde(default)]
    pub when_unobservable: WhenUnobservable,
    /// Each member's zone and subnet, where the configuration states them.
    #[serde(default)]
    pub placement: BTreeMap<InstanceId, Placement>,
}

impl GroupSpec {
    /// A group with default ordering, fence mode and timeouts.
    pub fn new(name: impl Into<String>, primary: InstanceId, standbys: Vec<InstanceId>) -> Self {
        Self {
            name: name.into(),
            primary,
            standbys,
            ordering: Ordering::default(),
            fence: FenceMode::default(),
            timeouts: Timeouts::default(),
            readiness: Vec::new(),
            movers: Vec::new(),
            when_not_ready: WhenNotReady::default(),
            when_unobservable: WhenUnobservable::default(),
            placement: BTreeMap::new(),
        }
    }

    /// The member's zone, as the configuration states it.
    pub fn zone_of(&self, member: &InstanceId) -> Option<&str> {
        self.placement.get(member).map(|placement| placement.zone.as_str())
    }

    /// The member's subnet, as the configuration states it.
    pub fn subnet_of(&self, member: &InstanceId) -> Option<&str> {
        self.placement.get(member).and_then(|placement| placement.subnet.as_deref())
    }

    /// Primary first, then the standbys in order.
    pub fn members(&self) -> Vec<InstanceId> {
        std::iter::once(&self.primary).chain(&self.standbys).cloned().collect()
    }

    /// The group as a planned move from `active` to `to` sees it: `active` is the member to
    /// fence, `to` the first standby, then every other member in the configured order (the
    /// member moved away from is not started again on its own). Both must be members.
    pub fn switchover(&self, active: &InstanceId, to: &InstanceId) -> GroupSpec {
        assert!(self.contains(active) && self.contains(to) && active != to, "switchover between two members");
        let rest = self.members().into_iter().filter(|member| member != active && member != to);
        let mut spec = self.clone();
        spec.primary = active.clone();
        spec.standbys = std::iter::once(to.clone()).chain(rest).collect();
        spec
    }

    /// Whether `instance` belongs to this group.
    pub fn contains(&self, instance: &InstanceId) -> bool {
        self.primary == *instance || self.standbys.contains(instance)
    }

    /// Panics unless the group is well formed. The config crate reports these as errors
    /// before a group ever reaches the engine, so a failure here is a bug.
    pub fn assert_well_formed(&self) {
        assert!(!self.name.is_empty(), "a group needs a name");
        assert!(!self.standbys.is_empty(), "group {}: no standbys", self.name);
        let mut members = self.members();
        members.sort();
        members.dedup();
        assert_eq!(members.len(), self.standbys.len() + 1, "group {}: a member is listed twice", self.name);
        assert!(!self.timeouts.failover.is_zero(), "group {}: zero failover deadline", self.name);
        // A probe's or a mover's answer is matched to its check or mover by value.
        for (index, check) in self.readiness.iter().enumerate() {
            let twice = self.readiness[..index].iter().any(|earlier| earlier.probe == check.probe);
            assert!(!twice, "group {}: readiness check {} listed twice", self.name, check.probe);
        }
        for (index, mover) in self.movers.iter().enumerate() {
            assert!(!self.movers[..index].contains(mover), "group {}: {mover} listed twice", self.name);
        }
        for member in self.placement.keys() {
            assert!(self.contains(member), "group {}: placement of {member}, not a member", self.name);
        }
        if matches!(self.when_unobservable, WhenUnobservable::Isolate { .. }) {
            for member in self.members() {
                assert!(
                    self.subnet_of(&member).is_some(),
                    "group {}: isolate needs {member}'s subnet",
                    self.name
                );
            }
        }
    }
}
