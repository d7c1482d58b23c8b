//! Instances as the engine sees them: validated ids, the EC2 lifecycle states and one observation.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// An EC2 instance id (`i-` followed by 8 or 17 lowercase hex digits), validated on construction.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct InstanceId(String);

/// Why a string is not an instance id.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{value}` is not an EC2 instance id (expected `i-` and 8 or 17 lowercase hex digits)")]
pub struct InvalidInstanceId {
    /// The rejected text.
    pub value: String,
}

impl InstanceId {
    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for InstanceId {
    type Err = InvalidInstanceId;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let valid = value.strip_prefix("i-").is_some_and(|hex| {
            (hex.len() == 8 || hex.len() == 17)
                && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        });
        if valid {
            Ok(Self(value.to_owned()))
        } else {
            Err(InvalidInstanceId { value: value.to_owned() })
        }
    }
}

impl TryFrom<String> for InstanceId {
    type Error = InvalidInstanceId;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<InstanceId> for String {
    fn from(id: InstanceId) -> Self {
        id.0
    }
}

impl fmt::Display for InstanceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The EC2 instance lifecycle states (`docs/aws-behaviour.md` section 5), with their documented codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InstanceState {
    Pending,
    Running,
    ShuttingDown,
    Terminated,
    Stopping,
    Stopped,
}

impl InstanceState {
    /// Every state, in code order.
    pub const ALL: [Self; 6] =
        [Self::Pending, Self::Running, Self::ShuttingDown, Self::Terminated, Self::Stopping, Self::Stopped];

    /// The state's name as EC2 spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Running => "running",
            Self::ShuttingDown => "shutting-down",
            Self::Terminated => "terminated",
            Self::Stopping => "stopping",
            Self::Stopped => "stopped",
        }
    }

    /// The low byte of EC2's state code.
    pub fn code(self) -> u8 {
        match self {
            Self::Pending => 0,
            Self::Running => 16,
            Self::ShuttingDown => 32,
            Self::Terminated => 48,
            Self::Stopping => 64,
            Self::Stopped => 80,
        }
    }

    /// Whether an instance in this state may be serving or about to serve clients.
    /// Only `stopped` and `terminated` count as fenced.
    pub fn is_live(self) -> bool {
        !matches!(self, Self::Stopped | Self::Terminated)
    }

    /// Whether the instance can never run again.
    pub fn is_gone(self) -> bool {
        matches!(self, Self::ShuttingDown | Self::Terminated)
    }
}

impl fmt::Display for InstanceState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for InstanceState {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|state| state.as_str() == value)
            .ok_or_else(|| format!("`{value}` is not an EC2 instance state"))
    }
}

/// What one describe call said about one instance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Observation {
    pub instance: InstanceId,
    pub state: InstanceState,
    pub availability_zone: String,
    /// EC2's `StateReason` message, when it gave one (for example a failed start).
    pub state_reason: Option<String>,
    pub tags: BTreeMap<String, String>,
    /// The primary network interface (device index 0): what routes and addresses point at.
    #[serde(default)]
    pub network_interface: Option<String>,
    /// The primary private IPv4 address: what a DNS record holds.
    #[serde(default)]
    pub private_ip: Option<String>,
    /// `m5.large`: EC2 runs short of capacity by instance type and zone, so starts are merged
    /// by both.
    #[serde(default)]
    pub instance_type: Option<String>,
}

impl Observation {
    /// Where clients reach this instance, when the answer said.
    pub fn endpoint(&self) -> Option<crate::clients::Endpoint> {
        Some(crate::clients::Endpoint {
            instance: self.instance.clone(),
            network_interface: self.network_interface.clone()?,
            private_ip: self.private_ip.clone()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_ids_accept_both_lengths_and_reject_the_rest() {
        assert!("i-0a1b2c3d".parse::<InstanceId>().is_ok());
        assert!("i-0a1b2c3d4e5f60718".parse::<InstanceId>().is_ok());
        for bad in ["", "i-", "0a1b2c3d", "i-0A1B2C3D", "i-0a1b2c3", "i-0a1b2c3d4e5f6071", "i-0a1b2c3g"] {
            let error = bad.parse::<InstanceId>().unwrap_err();
            assert_eq!(error.value, bad);
        }
    }

    #[test]
    fn state_names_round_trip_and_only_stopped_or_terminated_are_fenced() {
        for state in InstanceState::ALL {
            assert_eq!(state.as_str().parse::<InstanceState>(), Ok(state));
            assert_eq!(state.is_live(), !matches!(state, InstanceState::Stopped | InstanceState::Terminated));
        }
        assert_eq!(InstanceState::Stopped.code(), 80);
    }
}
