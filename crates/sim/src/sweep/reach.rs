//! Members out of every controller's reach: live since before any controller began, in a zone
//! that swallowed every call that could have stopped them. `single-live` does not count them
//! while no controller has started a member (starting one beside them is the fault to catch).

use std::collections::BTreeSet;

use coldstandby_engine::{Call, InstanceId, InstanceState, Timestamp};

use crate::region::SimRegion;

/// A member live before any controller began, whose state never changed, whose zone was still
/// not answering EC2 when the last run ended, and that no controller could act on: every stop
/// of it was lost in its zone (stops were tried), or no controller that lived on ever saw it
/// (every describe naming it failed, but those of runs that crashed, within `crashed`: no plan
/// could tell it from the member that serves). Nothing any controller could do would have
/// stopped it.
pub(crate) fn out_of_every_reach(
    region: &SimRegion,
    member: &InstanceId,
    last_run_ended: Timestamp,
    crashed: &[(Timestamp, Timestamp)],
) -> bool {
    let Some(instance) = region.instance(member) else { return false };
    let untouched = region.transitions().iter().all(|transition| &transition.instance != member);
    let calls = region.calls();
    let stops_tried =
        calls.iter().any(|record| matches!(&record.call, Call::Stop { instance, .. } if instance == member));
    let by_a_crashed_run = |at: Timestamp| crashed.iter().any(|(from, until)| *from <= at && at <= *until);
    let never_seen = calls
        .iter()
        .filter(|record| matches!(&record.call, Call::Describe { instances } if instances.contains(member)))
        .all(|record| record.error.is_some() || by_a_crashed_run(record.at));
    matches!(instance.state, InstanceState::Pending | InstanceState::Running)
        && untouched
        && (stops_tried || never_seen)
        && region.zone_impaired_during(&instance.availability_zone, last_run_ended, last_run_ended)
}

/// Of `members`, those out of every reach at `at` (see [`out_of_every_reach`]); none once any
/// controller has started a member by then.
pub(crate) fn excused_at(
    region: &SimRegion,
    members: &[InstanceId],
    last_run_ended: Timestamp,
    at: Timestamp,
    crashed: &[(Timestamp, Timestamp)],
) -> BTreeSet<InstanceId> {
    let started_any = region.transitions().iter().any(|t| t.to == InstanceState::Pending && t.at <= at);
    if started_any {
        return BTreeSet::new();
    }
    members
        .iter()
        .filter(|member| out_of_every_reach(region, member, last_run_ended, crashed))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{SimInstance, Timings};
    use crate::region::ImpairedCalls;
    use coldstandby_engine::Clock;

    const START: Timestamp = Timestamp::from_unix_millis(1_800_000_000_000);

    fn region_with(member: &InstanceId) -> SimRegion {
        let region = SimRegion::new(1, START, Timings::default());
        region.add_instance(SimInstance::new(member.clone(), "ap-northeast-1c", InstanceState::Running));
        region
    }

    fn call(region: &SimRegion, call: Call) -> bool {
        region.run(coldstandby_engine::provider::execute(region, &call)).is_ok()
    }

    #[test]
    fn a_member_every_stop_of_which_was_lost_in_its_silent_zone_is_out_of_reach() {
        let member: InstanceId = "i-0000000000000000b".parse().unwrap();
        let region = region_with(&member);
        assert!(
            call(&region, Call::Describe { instances: vec![member.clone()] }),
            "seen while its zone answered"
        );
        region.impair_zone("ap-northeast-1c", ImpairedCalls::Fail);
        assert!(
            !out_of_every_reach(&region, &member, region.now(), &[]),
            "seen, and nobody tried to stop it"
        );

        assert!(!call(&region, Call::Stop { instance: member.clone(), force: true }), "the zone failed it");
        assert!(out_of_every_reach(&region, &member, region.now(), &[]));

        // Its zone back before the last run ended: that run could have stopped it.
        region.restore_zone("ap-northeast-1c");
        assert!(!out_of_every_reach(&region, &member, region.now(), &[]));
    }

    #[test]
    fn a_member_no_controller_ever_saw_is_out_of_reach_until_a_member_is_started() {
        let member: InstanceId = "i-0000000000000000b".parse().unwrap();
        let other: InstanceId = "i-0000000000000000c".parse().unwrap();
        let region = region_with(&member);
        region.add_instance(SimInstance::new(other.clone(), "ap-northeast-1d", InstanceState::Stopped));
        region.impair_zone("ap-northeast-1c", ImpairedCalls::Fail);
        assert!(!call(&region, Call::Describe { instances: vec![member.clone()] }), "the zone failed it");
        let members = [member.clone(), other.clone()];
        let excused = excused_at(&region, &members, region.now(), region.now(), &[]);
        assert_eq!(excused, BTreeSet::from([member.clone()]));

        assert!(call(&region, Call::Start { instance: other }));
        assert!(
            excused_at(&region, &members, region.now(), region.now(), &[]).is_empty(),
            "a start beside it counts"
        );
    }

    #[test]
    fn a_member_seen_only_by_a_run_that_crashed_is_out_of_reach() {
        let member: InstanceId = "i-0000000000000000b".parse().unwrap();
        let region = region_with(&member);
        let crashed_from = region.now();
        assert!(call(&region, Call::Describe { instances: vec![member.clone()] }), "seen");
        let crashed = [(crashed_from, region.now())];
        region.impair_zone("ap-northeast-1c", ImpairedCalls::Fail);
        assert!(!call(&region, Call::Describe { instances: vec![member.clone()] }), "the zone failed it");
        assert!(!out_of_every_reach(&region, &member, region.now(), &[]), "a living run saw it");
        assert!(out_of_every_reach(&region, &member, region.now(), &crashed), "only the crashed run saw it");
    }
}
