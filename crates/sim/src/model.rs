//! The simulated instances: EC2's lifecycle with seeded timings, and the faults that can be set
//! on one instance.

use std::collections::BTreeMap;
use std::time::Duration;

use coldstandby_engine::{InstanceId, InstanceState, Observation, Timestamp};
use serde::{Deserialize, Serialize};

/// An inclusive range of durations, sampled uniformly, in milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Span {
    pub min_ms: u64,
    pub max_ms: u64,
}

impl Span {
    pub const fn seconds(min: u64, max: u64) -> Self {
        Self { min_ms: min * 1000, max_ms: max * 1000 }
    }

    pub const fn millis(min_ms: u64, max_ms: u64) -> Self {
        Self { min_ms, max_ms }
    }

    pub fn sample(self, rng: &mut fastrand::Rng) -> Duration {
        assert!(self.min_ms <= self.max_ms, "span {}..{} ms is empty", self.min_ms, self.max_ms);
        Duration::from_millis(rng.u64(self.min_ms..=self.max_ms))
    }
}

/// How long the simulated region takes to do things. The defaults follow the published
/// measurements in `docs/aws-behaviour.md` (EC2 instance lifecycle).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timings {
    /// pending -> running.
    pub boot: Span,
    /// running -> stopped after a normal stop.
    pub stop: Span,
    /// stopping -> stopped once a forced stop (no OS shutdown) is asked for: the power-off is
    /// immediate, but EC2 still releases the host and detaches the volumes. AWS publishes no
    /// figure; it is not the instant it once was here (1-4 s), and runs well past a normal stop's
    /// fastest case.
    pub forced_stop: Span,
    /// shutting-down -> terminated.
    pub terminate: Span,
    /// Round trip of one API call.
    pub api_latency: Span,
}

impl Default for Timings {
    fn default() -> Self {
        Self {
            boot: Span::millis(4_000, 7_000),
            stop: Span::seconds(5, 60),
            forced_stop: Span::seconds(8, 45),
            terminate: Span::seconds(5, 20),
            api_latency: Span::millis(20, 80),
        }
    }
}

/// A shortage of the instance's type in its zone: starts fail with
/// `InsufficientInstanceCapacity`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CapacityShortage {
    Until(Timestamp),
    ForGood,
}

impl CapacityShortage {
    pub fn is_short_at(self, now: Timestamp) -> bool {
        match self {
            Self::Until(until) => now < until,
            Self::ForGood => true,
        }
    }
}

/// Faults set on one instance.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceFaults {
    /// Starts fail with `InsufficientInstanceCapacity` while it lasts.
    #[serde(default)]
    pub capacity_shortage: Option<CapacityShortage>,
    /// A normal stop never completes; only a forced stop does.
    pub stop_hangs: bool,
    /// The instance goes pending -> stopped with this state reason instead of booting
    /// (as an encrypted volume with a missing KMS grant does).
    pub start_fails_with: Option<String>,
    /// Start, stop and tag calls on it are refused with `UnauthorizedOperation`.
    pub denied: bool,
    /// It takes this long from pending to running (a slow boot), instead of the region's timing.
    #[serde(default)]
    pub boot_takes_ms: Option<u64>,
    /// The next start is carried out, but its answer never reaches the caller (a client-side
    /// timeout after EC2 acted): the caller sees a transient error. Cleared once used.
    #[serde(default)]
    pub start_times_out: bool,
    /// Starts are refused with `UnsupportedOperation` (an instance type no longer offered, say).
    #[serde(default)]
    pub start_unsupported: bool,
    /// Not even a forced stop completes: it stays `stopping` (an impaired host).
    #[serde(default)]
    pub forced_stop_hangs: bool,
}

/// One simulated instance.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SimInstance {
    pub id: InstanceId,
    pub availability_zone: String,
    pub state: InstanceState,
    pub state_reason: Option<String>,
    pub tags: BTreeMap<String, String>,
    /// The next lifecycle step already under way, and when it completes.
    pub next: Option<(Timestamp, InstanceState)>,
    pub faults: InstanceFaults,
    /// CPU load changes over time, oldest first: (from, percent).
    pub cpu_load: Vec<(Timestamp, f64)>,
    /// The instance publishes no metrics from this time on (it died without EC2 noticing).
    pub publishes_metrics_until: Option<Timestamp>,
    /// Tags as describe answers showed them before the latest write, until the write becomes
    /// visible at the given time (tag writes are eventually consistent).
    #[serde(default)]
    pub tags_before_write: Option<(Timestamp, BTreeMap<String, String>)>,
    /// When it became `terminated`; describe answers leave it out some time after.
    #[serde(default)]
    pub terminated_at: Option<Timestamp>,
    /// Its private address; the region gives each instance its own when it is added.
    #[serde(default)]
    pub address: Option<String>,
    /// The subnet it lives in, where a scenario says (network ACLs apply by subnet).
    #[serde(default)]
    pub subnet: Option<String>,
    #[serde(default = "default_instance_type")]
    pub instance_type: String,
}

fn default_instance_type() -> String {
    "m5.large".to_owned()
}

impl SimInstance {
    pub fn new(id: InstanceId, availability_zone: impl Into<String>, state: InstanceState) -> Self {
        Self {
            id,
            availability_zone: availability_zone.into(),
            state,
            state_reason: None,
            tags: BTreeMap::new(),
            next: None,
            faults: InstanceFaults::default(),
            cpu_load: Vec::new(),
            publishes_metrics_until: None,
            tags_before_write: None,
            terminated_at: None,
            address: None,
            subnet: None,
            instance_type: default_instance_type(),
        }
    }

    /// The instance as a describe answer at `now` shows it (its latest tag write may not show yet).
    pub fn observation(&self, now: Timestamp) -> Observation {
        let tags = match &self.tags_before_write {
            Some((visible_at, before)) if now < *visible_at => before.clone(),
            _ => self.tags.clone(),
        };
        Observation {
            instance: self.id.clone(),
            state: self.state,
            availability_zone: self.availability_zone.clone(),
            state_reason: self.state_reason.clone(),
            tags,
            network_interface: Some(self.network_interface()),
            private_ip: Some(self.private_ip()),
            instance_type: Some(self.instance_type.clone()),
        }
    }

    /// Its primary network interface's id, made from the instance id.
    pub fn network_interface(&self) -> String {
        format!("eni-{}", self.id.as_str().trim_start_matches("i-"))
    }

    /// Its private address (the region assigns one when the instance is added).
    pub fn private_ip(&self) -> String {
        self.address.clone().unwrap_or_else(|| Self::address_for(&self.availability_zone, 0))
    }

    /// The `index`-th address in the zone's subnet (one subnet per zone, by the zone's letter).
    pub fn address_for(zone: &str, index: usize) -> String {
        let zone = zone.bytes().last().map_or(0, |letter| letter.saturating_sub(b'a'));
        format!("10.{zone}.{}.{}", index / 250, index % 250 + 4)
    }

    /// The CPU load at `at` (0 before any load is set).
    pub fn cpu_load_at(&self, at: Timestamp) -> f64 {
        self.cpu_load.iter().rev().find(|(from, _)| *from <= at).map_or(0.0, |(_, load)| *load)
    }
}

/// One lifecycle change the simulated region made.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transition {
    pub at: Timestamp,
    pub instance: InstanceId,
    pub from: InstanceState,
    pub to: InstanceState,
}
