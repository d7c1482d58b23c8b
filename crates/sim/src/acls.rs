//! Subnets' network ACL associations, as `DescribeNetworkAcls` and
//! `ReplaceNetworkAclAssociation` see them: what the `isolate` fence changes. A subnet on a
//! deny-all ACL cuts off every instance in it, at once and whatever its zone's state (the VPC's
//! network, not the zone's control plane, applies it).

use std::collections::{BTreeMap, BTreeSet};

use coldstandby_engine::isolation::SubnetAcl;
use coldstandby_engine::{ApiError, ErrorKind, Timestamp};
use serde::{Deserialize, Serialize};

/// One association change, for invariants and reports.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AclChange {
    pub at: Timestamp,
    pub subnet: String,
    pub network_acl: String,
}

/// Every subnet's ACL association.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkAcls {
    /// Subnet -> (association id, network ACL).
    associations: BTreeMap<String, (String, String)>,
    /// Network ACLs that deny everything.
    deny_all: BTreeSet<String>,
    /// Every ACL that exists.
    known: BTreeSet<String>,
    associations_made: u64,
    changes: Vec<AclChange>,
}

impl NetworkAcls {
    /// A subnet associated with `network_acl` (which then exists).
    pub fn add_subnet(&mut self, subnet: &str, network_acl: &str) {
        let association = self.new_association();
        self.known.insert(network_acl.to_owned());
        self.associations.insert(subnet.to_owned(), (association, network_acl.to_owned()));
    }

    /// A network ACL with no rule but the final deny: nothing passes.
    pub fn add_deny_all(&mut self, network_acl: &str) {
        self.known.insert(network_acl.to_owned());
        self.deny_all.insert(network_acl.to_owned());
    }

    /// Whether everything in `subnet` is cut off.
    pub fn is_cut_off(&self, subnet: &str) -> bool {
        self.associations.get(subnet).is_some_and(|(_, acl)| self.deny_all.contains(acl))
    }

    /// The subnet an association id names, if it still names one.
    pub fn subnet_of(&self, association: &str) -> Option<String> {
        self.associations.iter().find(|(_, (id, _))| id == association).map(|(subnet, _)| subnet.clone())
    }

    /// Every association change so far.
    pub fn changes(&self) -> &[AclChange] {
        &self.changes
    }

    /// `DescribeNetworkAcls` filtered by `association.subnet-id`.
    pub fn read(&self, subnet: &str) -> Result<SubnetAcl, ApiError> {
        let (association, network_acl) = self.associations.get(subnet).ok_or_else(|| {
            ApiError::new(
                ErrorKind::NotFound,
                "InvalidSubnetID.NotFound",
                format!("The subnet ID '{subnet}' does not exist"),
            )
        })?;
        Ok(SubnetAcl {
            subnet: subnet.to_owned(),
            association: association.clone(),
            network_acl: network_acl.clone(),
        })
    }

    /// `ReplaceNetworkAclAssociation`: the subnet of `association` onto `network_acl`, with a
    /// new association id (an old one no longer names anything).
    pub fn replace(&mut self, association: &str, network_acl: &str, now: Timestamp) -> Result<(), ApiError> {
        if !self.known.contains(network_acl) {
            return Err(ApiError::new(
                ErrorKind::Invalid,
                "InvalidNetworkAclID.NotFound",
                format!("The network ACL ID '{network_acl}' does not exist"),
            ));
        }
        let Some(subnet) = self.subnet_of(association) else {
            return Err(ApiError::new(
                ErrorKind::NotFound,
                "InvalidAssociationID.NotFound",
                format!("The association ID '{association}' does not exist"),
            ));
        };
        let new_association = self.new_association();
        self.associations.insert(subnet.clone(), (new_association, network_acl.to_owned()));
        self.changes.push(AclChange { at: now, subnet, network_acl: network_acl.to_owned() });
        Ok(())
    }

    fn new_association(&mut self) -> String {
        self.associations_made += 1;
        format!("aclassoc-{:017x}", self.associations_made)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replacement_from_an_old_read_is_refused_and_the_deny_all_acl_cuts_the_subnet_off() {
        let now = Timestamp::from_unix_millis(1_000);
        let mut acls = NetworkAcls::default();
        acls.add_subnet("subnet-0aaaaaaa", "acl-0default");
        acls.add_deny_all("acl-0deny000");
        let read = acls.read("subnet-0aaaaaaa").unwrap();
        assert!(!acls.is_cut_off("subnet-0aaaaaaa"));
        acls.replace(&read.association, "acl-0deny000", now).unwrap();
        assert!(acls.is_cut_off("subnet-0aaaaaaa"));
        let error = acls.replace(&read.association, "acl-0default", now).unwrap_err();
        assert_eq!(error.code, "InvalidAssociationID.NotFound");
        assert!(acls.is_cut_off("subnet-0aaaaaaa"), "a refused replacement changes nothing");
        assert_eq!(acls.read("subnet-0aaaaaaa").unwrap().network_acl, "acl-0deny000");
    }
}
