//! Readiness checks: what must pass on the promoted member, several times in a row, before any
//! client is moved to it. `tcp` and `http` need a network path to the member's private address
//! (a function in the VPC, or a controller inside it); `ec2-status` and `target-health` ask AWS
//! and work from anywhere.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// One check and how much of it is enough.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadinessCheck {
    pub probe: Probe,
    /// Consecutive passes needed.
    pub successes: u32,
    /// Time between two probes.
    pub interval: Duration,
    /// How long the check may take, from the member's promotion, before the failover fails.
    pub timeout: Duration,
}

impl ReadinessCheck {
    /// Defaults a user can defend: three passes a second apart rule out a service that answers
    /// once while it is still starting; five minutes covers an application's own start-up.
    pub const SUCCESSES: u32 = 3;
    pub const INTERVAL: Duration = Duration::from_secs(1);
    pub const TIMEOUT: Duration = Duration::from_secs(300);

    pub fn new(probe: Probe) -> Self {
        Self { probe, successes: Self::SUCCESSES, interval: Self::INTERVAL, timeout: Self::TIMEOUT }
    }
}

/// What is probed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Probe {
    /// A TCP connection to the member's private address accepted on `port`.
    Tcp { port: u16 },
    /// An HTTP GET of `path` answering `status`, its body containing `body_contains` if given.
    Http { port: u16, path: String, status: u16, body_contains: Option<String> },
    /// DescribeInstanceStatus: instance and system reachability both `ok`.
    Ec2Status,
    /// The member is `healthy` in this target group, as the load balancer sees it.
    TargetHealth { target_group: String },
}

impl Probe {
    /// The check's name, as the configuration spells it.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Tcp { .. } => "tcp",
            Self::Http { .. } => "http",
            Self::Ec2Status => "ec2-status",
            Self::TargetHealth { .. } => "target-health",
        }
    }

    /// Whether the prober needs a network path to the member (in the VPC); the others are AWS
    /// API calls.
    pub fn needs_network_path(&self) -> bool {
        matches!(self, Self::Tcp { .. } | Self::Http { .. })
    }
}

impl fmt::Display for Probe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Tcp { port } => write!(f, "tcp :{port}"),
            Self::Http { port, path, status, .. } => write!(f, "http :{port}{path} -> {status}"),
            Self::Ec2Status => f.write_str("ec2-status"),
            Self::TargetHealth { target_group } => write!(f, "target-health {target_group}"),
        }
    }
}

/// One probe's answer. A refused connection or a wrong status is a failed probe, not an error:
/// errors are for the AWS calls (`ec2-status`, `target-health`) that could not be made.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeResult {
    pub passed: bool,
    /// What was seen: `connected`, `connection refused`, `status 503`, `initializing`.
    pub detail: String,
}
