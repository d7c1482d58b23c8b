//! doctor's check of `[group.placement]` against EC2: the zone and subnet written there for each
//! member are what EC2 reports. The `isolate` fence moves the written subnet onto the deny-all
//! ACL without asking EC2 (its zone does not answer then): a wrong subnet would cut off the
//! wrong machines and leave the primary reachable beside the promoted standby.

use std::collections::BTreeMap;

use coldstandby_config::GroupConfig;
use coldstandby_engine::InstanceId;

use crate::doctor::{Check, InstanceFacts, Status};

/// One check for a group with a placement table; None without one.
pub fn check(
    group: &GroupConfig,
    instances: &BTreeMap<InstanceId, InstanceFacts>,
    config_path: &str,
) -> Option<Check> {
    let spec = &group.spec;
    if spec.placement.is_empty() {
        return None;
    }
    let mut wrong = Vec::new();
    for (member, placement) in &spec.placement {
        let Some(facts) = instances.get(member) else { continue }; // named by the existence check
        if facts.availability_zone != placement.zone {
            wrong.push(format!("{member} is in {}, not {}", facts.availability_zone, placement.zone));
        }
        if let (Some(written), Some(actual)) = (&placement.subnet, &facts.subnet_id) {
            if written != actual {
                wrong.push(format!("{member} is in {actual}, not {written}"));
            }
        }
    }
    let subject = format!("group {}", spec.name);
    Some(if wrong.is_empty() {
        Check {
            subject,
            check: "placement",
            status: Status::Pass,
            found: format!("{} members' zones and subnets match EC2", spec.placement.len()),
            fix: None,
        }
    } else {
        Check {
            subject,
            check: "placement",
            status: Status::Fail,
            found: format!(
                "{}: a zone that does not answer would be handled with the wrong facts (isolate would cut off \
                 the wrong subnet)",
                wrong.join("; ")
            ),
            fix: Some(format!("correct [group.placement] for group {} in {config_path}", spec.name)),
        }
    })
}
