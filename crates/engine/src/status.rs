//! A group's status from one observation: who is active, in what state, and what looks wrong.
//! Pure, so the simulated and the AWS paths report the same way.

use serde::Serialize;

use crate::group::GroupSpec;
use crate::instance::{InstanceId, InstanceState, Observation};
use crate::tags::{self, Role};

/// One member as observed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MemberStatus {
    pub instance: InstanceId,
    /// `primary` or `standby`, as configured.
    pub configured_as: &'static str,
    /// None when the describe call did not return it.
    pub state: Option<InstanceState>,
    pub availability_zone: Option<String>,
    pub recorded_role: Option<Role>,
}

/// Where the active member's identity comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ActiveSource {
    /// A member's tags record it active.
    Recorded,
    /// Nothing is recorded: the configured primary is taken as active.
    ConfiguredPrimary,
    /// Tags record several active members.
    Conflicting,
}

/// A group's status.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GroupStatus {
    pub group: String,
    pub active: Option<InstanceId>,
    pub active_source: ActiveSource,
    /// Whether the active member runs and nothing else does.
    pub healthy: bool,
    /// Members other than the active one that are pending or running: a fenced member started
    /// again (to read its logs, by an instance scheduler) that clients may reach beside it.
    pub stray: Vec<InstanceId>,
    pub members: Vec<MemberStatus>,
    /// Plain-language findings, empty when all is well.
    pub warnings: Vec<String>,
}

/// Summarize `spec` from `observations` (one describe of its members).
#[expect(
    clippy::too_many_lines,
    reason = "the status findings one after another from one observation; split per finding when next touched"
)]
pub fn group_status(spec: &GroupSpec, observations: &[Observation]) -> GroupStatus {
    let members: Vec<MemberStatus> = spec
        .members()
        .into_iter()
        .map(|instance| {
            let observation = observations.iter().find(|o| o.instance == instance);
            MemberStatus {
                configured_as: if instance == spec.primary { "primary" } else { "standby" },
                state: observation.map(|o| o.state),
                availability_zone: observation.map(|o| o.availability_zone.clone()),
                recorded_role: observation.and_then(|o| Role::recorded_in(&o.tags)),
                instance,
            }
        })
        .collect();

    let mut warnings = Vec::new();
    let recorded: Vec<&MemberStatus> =
        members.iter().filter(|m| m.recorded_role == Some(Role::Active)).collect();
    let activated_at = |member: &InstanceId| {
        observations.iter().find(|o| o.instance == *member).and_then(|o| tags::activated_at(&o.tags))
    };
    let records: Vec<(InstanceId, Option<u64>)> =
        recorded.iter().map(|m| (m.instance.clone(), activated_at(&m.instance))).collect();
    let newest = tags::newest_records(&records);
    let (active, active_source) = match (recorded.as_slice(), newest.as_slice()) {
        ([], _) => (Some(spec.primary.clone()), ActiveSource::ConfiguredPrimary),
        (_, [one]) => {
            if recorded.len() > 1 {
                // A member cut off while its zone did not answer keeps its old record: the
                // failover's rule, the newer record wins, holds here too.
                let older: Vec<&str> =
                    recorded.iter().map(|m| m.instance.as_str()).filter(|m| *m != one.as_str()).collect();
                warnings.push(format!(
                    "tags record several active members; {one}'s record is the newest, {} keep an \
                     older one (a member cut off while its zone did not answer): a failover run \
                     once that zone answers stops it and rewrites its record",
                    older.join(", ")
                ));
            }
            (Some(one.clone()), ActiveSource::Recorded)
        }
        (_, several) => {
            let list: Vec<&str> = several.iter().map(InstanceId::as_str).collect();
            warnings.push(format!("tags record several active members: {}", list.join(", ")));
            (None, ActiveSource::Conflicting)
        }
    };
    for member in &members {
        if member.state.is_none() {
            warnings.push(format!("{} was not returned by DescribeInstances", member.instance));
        }
    }
    let live: Vec<&MemberStatus> =
        members.iter().filter(|m| m.state.is_some_and(InstanceState::is_live)).collect();
    let serving =
        |m: &&&MemberStatus| matches!(m.state, Some(InstanceState::Pending | InstanceState::Running));
    let stray: Vec<InstanceId> = match &active {
        Some(active) => live
            .iter()
            .filter(serving)
            .filter(|m| m.instance != *active)
            .map(|m| m.instance.clone())
            .collect(),
        None => Vec::new(),
    };
    for member in live.iter().filter(|m| stray.contains(&m.instance)) {
        let state = member.state.map_or("?", InstanceState::as_str);
        warnings.push(format!(
            "{} is {state} but is not the active member: clients may reach it (a fenced member \
             started again?); stop it, or start it only with its service disabled",
            member.instance
        ));
    }
    if live.len() > 1 {
        let list: Vec<String> = live
            .iter()
            .map(|m| format!("{} ({})", m.instance, m.state.map_or("?", InstanceState::as_str)))
            .collect();
        warnings.push(format!("more than one member is live: {}", list.join(", ")));
    }
    let active_state =
        active.as_ref().and_then(|a| members.iter().find(|m| m.instance == *a)).and_then(|m| m.state);
    if let (Some(active), Some(state)) = (&active, active_state) {
        if state != InstanceState::Running {
            warnings.push(format!("the active member {active} is {state}, not running"));
        }
    }
    let healthy = active_state == Some(InstanceState::Running) && live.len() == 1;
    GroupStatus { group: spec.name.clone(), active, active_source, healthy, stray, members, warnings }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> GroupSpec {
        GroupSpec::new("web", "i-0000000a".parse().unwrap(), vec!["i-0000000b".parse().unwrap()])
    }

    fn seen(id: &str, state: InstanceState, role: Option<Role>) -> Observation {
        Observation {
            instance: id.parse().unwrap(),
            state,
            availability_zone: "ap-northeast-1a".to_owned(),
            state_reason: None,
            tags: role.map(|role| role.tags_for("web")).unwrap_or_default(),
            network_interface: None,
            private_ip: None,
            instance_type: None,
        }
    }

    #[test]
    fn nothing_recorded_means_the_primary_is_active() {
        let status = group_status(
            &spec(),
            &[
                seen("i-0000000a", InstanceState::Running, None),
                seen("i-0000000b", InstanceState::Stopped, None),
            ],
        );
        assert_eq!(status.active_source, ActiveSource::ConfiguredPrimary);
        assert_eq!(status.active.unwrap().as_str(), "i-0000000a");
        assert!(status.healthy);
        assert!(status.warnings.is_empty());
    }

    #[test]
    fn a_recorded_standby_that_runs_alone_is_healthy() {
        let status = group_status(
            &spec(),
            &[
                seen("i-0000000a", InstanceState::Stopped, Some(Role::Standby)),
                seen("i-0000000b", InstanceState::Running, Some(Role::Active)),
            ],
        );
        assert_eq!(status.active_source, ActiveSource::Recorded);
        assert_eq!(status.active.unwrap().as_str(), "i-0000000b");
        assert!(status.healthy);
    }

    #[test]
    fn two_live_members_conflicts_and_missing_members_are_warned_about() {
        let both_live = group_status(
            &spec(),
            &[
                seen("i-0000000a", InstanceState::Running, None),
                seen("i-0000000b", InstanceState::Pending, None),
            ],
        );
        assert!(!both_live.healthy);
        assert!(both_live.warnings.iter().any(|w| w.contains("more than one member is live")));
        // The primary is taken as active (nothing recorded): the standby is the stray one.
        assert_eq!(both_live.stray, vec!["i-0000000b".parse::<InstanceId>().unwrap()]);
        assert!(both_live.warnings[0].contains("i-0000000b is pending but is not the active member"));

        let conflicting = group_status(
            &spec(),
            &[
                seen("i-0000000a", InstanceState::Running, Some(Role::Active)),
                seen("i-0000000b", InstanceState::Stopped, Some(Role::Active)),
            ],
        );
        assert_eq!(conflicting.active_source, ActiveSource::Conflicting);
        assert!(conflicting.active.is_none() && !conflicting.healthy);

        let missing = group_status(&spec(), &[seen("i-0000000a", InstanceState::Stopped, None)]);
        assert!(!missing.healthy);
        assert!(missing.warnings.iter().any(|w| w.contains("i-0000000b was not returned")));
        assert!(missing.warnings.iter().any(|w| w.contains("is stopped, not running")));
    }
}
