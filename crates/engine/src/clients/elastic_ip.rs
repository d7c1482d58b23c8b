//! `elastic-ip`: a public address associated with the active member's network interface (for a
//! public-facing pair), moved with `AssociateAddress` and read back with `DescribeAddresses`.

use serde::{Deserialize, Serialize};

use super::{Change, Endpoint, Step};

/// The mover's configuration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ElasticIp {
    /// The address's allocation id (`eipalloc-...`).
    pub allocation: String,
}

/// The address as DescribeAddresses shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddressView {
    /// The interface it is associated with, if any.
    pub network_interface: Option<String>,
}

impl ElasticIp {
    /// Verified when the address is associated with `desired`'s interface.
    pub fn next_step(&self, address: &AddressView, desired: &Endpoint) -> Step {
        if address.network_interface.as_ref() == Some(&desired.network_interface) {
            return Step::Verified;
        }
        Step::Change(vec![Change::Associate {
            allocation: self.allocation.clone(),
            network_interface: desired.network_interface.clone(),
        }])
    }
}
