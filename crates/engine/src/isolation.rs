//! Cutting off a member whose zone does not answer: its subnet is moved onto a deny-all network
//! ACL with `ReplaceNetworkAclAssociation`, a Regional call that needs nothing from the zone, and
//! the change is read back with `DescribeNetworkAcls`. A network ACL is stateless, so connections
//! already open are cut too (a security group would keep tracked connections until they time
//! out); but it applies to everything in the subnet.

use serde::{Deserialize, Serialize};

/// Which network ACL a subnet is associated with, as read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubnetAcl {
    pub subnet: String,
    /// The association's id: what `ReplaceNetworkAclAssociation` replaces (it changes with
    /// every replacement, so a replacement made from an old read is refused).
    pub association: String,
    pub network_acl: String,
}

/// What to do about a subnet that must be cut off, from a read of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IsolationStep {
    /// The subnet is on the quarantine ACL: the member is cut off.
    Verified,
    /// Move the subnet onto the quarantine ACL, then read again.
    Replace { association: String },
}

/// The next step for `read`, to put its subnet onto `quarantine`.
pub fn next_step(read: &SubnetAcl, quarantine: &str) -> IsolationStep {
    if read.network_acl == quarantine {
        IsolationStep::Verified
    } else {
        IsolationStep::Replace { association: read.association.clone() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subnet_on_the_quarantine_acl_is_verified_and_any_other_is_replaced_from_its_association() {
        let read = |acl: &str| SubnetAcl {
            subnet: "subnet-0aaaaaaa".to_owned(),
            association: "aclassoc-01".to_owned(),
            network_acl: acl.to_owned(),
        };
        assert_eq!(next_step(&read("acl-0deny000"), "acl-0deny000"), IsolationStep::Verified);
        assert_eq!(
            next_step(&read("acl-0default"), "acl-0deny000"),
            IsolationStep::Replace { association: "aclassoc-01".to_owned() }
        );
    }
}
