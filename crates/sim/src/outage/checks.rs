//! What an AZ outage run must leave true, judged from the simulated region (its instances, its
//! network ACLs and its log of calls), never from the engine's reports alone.

use std::collections::BTreeMap;

use coldstandby_engine::{Call, GroupSpec, InstanceId, InstanceState, Report, Timestamp};
use serde::Serialize;

use super::layout::Policy;
use crate::region::SimRegion;

/// One broken rule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OutageViolation {
    pub invariant: &'static str,
    pub group: String,
    pub detail: String,
}

/// Every rule, over every group.
pub fn check(
    region: &SimRegion,
    specs: &[GroupSpec],
    reports: &[Report],
    policy: Policy,
) -> Vec<OutageViolation> {
    let mut violations = Vec::new();
    let mut violate = |invariant: &'static str, group: &str, detail: String| {
        violations.push(OutageViolation { invariant, group: group.to_owned(), detail });
    };
    let calls = region.calls();
    let mut starts: BTreeMap<&InstanceId, Vec<Timestamp>> = BTreeMap::new();
    for record in calls.iter().filter(|record| record.error.is_none()) {
        if let Call::Start { instance } = &record.call {
            starts.entry(instance).or_default().push(record.at);
        }
    }
    let acl_changes = region.with_acls(|acls| acls.changes().to_vec());
    for (spec, report) in specs.iter().zip(reports) {
        // At most one member can serve: live and not cut off from the network.
        let serving: Vec<String> = spec
            .members()
            .into_iter()
            .filter(|member| {
                let state = region.instance(member).map(|i| i.state);
                state.is_some_and(InstanceState::is_live) && !region.is_cut_off(member)
            })
            .map(|member| member.to_string())
            .collect();
        if serving.len() > 1 {
            violate("one-member-can-serve", &spec.name, format!("{} can all serve", serving.join(", ")));
        }
        // A standby starts only once the primary is cut off or stopped.
        let primary_subnet = spec.subnet_of(&spec.primary).unwrap_or_default();
        let cut_off_at: Option<Timestamp> =
            acl_changes.iter().filter(|change| change.subnet == primary_subnet).map(|change| change.at).min();
        for standby in &spec.standbys {
            for at in starts.get(standby).into_iter().flatten().copied() {
                if policy == Policy::FailClosed {
                    violate("fail-closed-starts-nothing", &spec.name, format!("{standby} started at {at}"));
                }
                let stopped = region.state_at(&spec.primary, at) == Some(InstanceState::Stopped);
                if !stopped && cut_off_at.is_none_or(|cut| cut > at) {
                    let detail =
                        format!("{standby} started at {at} before {} was cut off or stopped", spec.primary);
                    violate("fence-before-start", &spec.name, detail);
                }
            }
        }
        // Decided by the deadline; a failed run's rollback may go on for its own limit after.
        let allowance = spec.timeouts.failover + coldstandby_engine::failover::ROLLBACK_LIMIT;
        if report.finished_at > report.started_at + allowance {
            violate("within-deadline", &spec.name, format!("finished at {}", report.finished_at));
        }
    }
    for record in calls.iter().filter(|record| record.bucket_exceeded) {
        violate(
            "within-request-buckets",
            "",
            format!("{} exceeded its bucket at {}", record.call.operation(), record.at),
        );
    }
    violations
}
