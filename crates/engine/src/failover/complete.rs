//! Completion: once the fence holds and the standby runs alone, verify it, bring clients to it
//! (readiness, then movers) and record the new active member in the instances' tags.

use super::*;
use crate::tags::{trigger_tag, ACTIVATED_AT_TAG, GROUP_TAG, TRIGGER_TAG};

impl Failover {
    /// Verify, move clients and record once the fence holds and the standby runs alone.
    pub(super) fn advance_completion(&mut self, now: Timestamp) {
        let (Some(_), Some(_)) = (self.fence_confirmed_at, self.promoted()) else {
            return;
        };
        if let Some(remaining) = self.record_remaining {
            if remaining == 0 {
                // Recorded, but an answer since showed another member not (yet) stopped.
                self.finish_if_converged(now);
            }
            return;
        }
        let target = self.current.as_ref().expect("promotion leaves a current candidate").instance.clone();
        if self.seen[&target].state() != Some(InstanceState::Running) {
            return; // it left `running` since it was promoted: promotion deals with it
        }
        // Settled answers only: a stale one may show a fenced member still stopping.
        let restarted = self.fence.iter().find(|t| {
            !self.is_isolated(&t.instance)
                && matches!(
                    self.seen[&t.instance].settled_state(),
                    Some(InstanceState::Pending | InstanceState::Running)
                )
        });
        if let Some(restarted) = restarted {
            // Something outside this run brought a fenced member back: the fence no longer
            // holds, so fail closed (which stops the standby this run started).
            let failure = Failure::FenceNotConfirmed {
                instance: restarted.instance.clone(),
                last_state: self.seen[&restarted.instance].state(),
            };
            self.fence_confirmed_at = None;
            self.milestones.fence_confirmed_at = None;
            self.fail(now, failure);
            return;
        }
        if !self.others_settled(&target, now) {
            // The convergence rule: success only once every other member is seen stopped.
            return;
        }
        if self.milestones.verified_at.is_none() {
            self.milestones.verified_at = Some(now);
            let check = "instance state is running".to_owned();
            self.emit(now, EventKind::Verified { instance: target.clone(), check });
        }
        if !self.advance_clients(now, &target) {
            return;
        }
        self.milestones.redirected_at.get_or_insert(now);
        let method = if self.spec.movers.is_empty() {
            "no mover configured".to_owned()
        } else {
            self.spec.movers.iter().map(Mover::kind).collect::<Vec<_>>().join(", ")
        };
        self.emit(now, EventKind::Redirected { instance: target.clone(), method });
        self.start_recording(now, &target);
    }

    /// Record `target` active in the members' tags: demote before promoting, so that no moment
    /// has two members recorded active.
    fn start_recording(&mut self, now: Timestamp, target: &InstanceId) {
        let mut writes = Vec::new();
        for member in self.spec.members() {
            let role = if member == *target { Role::Active } else { Role::Standby };
            let mut wanted = role.tag();
            if role == Role::Active {
                // Which trigger made it active: a duplicate delivery of the same alarm event
                // is recognised from this tag.
                wanted.insert(TRIGGER_TAG.to_owned(), trigger_tag(&self.options.trigger, self.lease_epoch));
                wanted.insert(ACTIVATED_AT_TAG.to_owned(), self.started_at.unix_millis().to_string());
            }
            // A member never seen does not exist (or cannot be seen): there is nothing to tag.
            let Some(observation) = &self.seen[&member].observation else { continue };
            // Nor can one cut off in a zone that does not answer: its demotion would fail until
            // the zone answers and hold the new record back all that while. It keeps its old
            // `active` record, which the new one's later `activated-at` outranks.
            if role == Role::Standby && self.is_isolated(&member) {
                continue;
            }
            // The group is written only where it is missing: role writes that name no group are
            // alike across groups, and a fleet makes them in shared requests.
            if observation.tags.get(GROUP_TAG) != Some(&self.spec.name) {
                wanted.insert(GROUP_TAG.to_owned(), self.spec.name.clone());
            }
            let up_to_date = wanted.iter().all(|(k, v)| observation.tags.get(k) == Some(v));
            if !up_to_date {
                writes.push((role, Call::SetTags { instance: member, tags: wanted }));
            }
        }
        self.record_remaining = Some(writes.len());
        self.enter(Phase::Recording);
        if writes.is_empty() {
            self.milestones.recorded_at = Some(now);
            self.finish_if_converged(now);
            return;
        }
        // Demote first; the activation follows once every demotion is acknowledged.
        let (demotions, activation): (Vec<_>, Vec<_>) =
            writes.into_iter().partition(|(role, _)| *role == Role::Standby);
        self.activation = activation.into_iter().next().map(|(_, call)| call);
        if demotions.is_empty() {
            let activation = self.activation.take().expect("writes hold at least the activation");
            self.enqueue(now, activation);
        }
        for (_, call) in demotions {
            self.enqueue(now, call);
        }
    }
}
