//! Planning: the first observation decides who is active, which members to fence and which
//! standbys to try, in what order.

use super::*;
use crate::report::Superseded;
use crate::tags;

/// What the answers since the plan say of its evidence (see [`Failover::history_since_plan`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum SincePlan {
    /// Nothing new: the fence goes on.
    Unchanged,
    /// A member recorded active since the failure answered; wait for a settled answer of it.
    Hold,
    /// The run ended as moved-on.
    MovedOn,
}

impl Failover {
    /// Of several members recorded active, the one recorded last ([`tags::newest_records`]).
    fn newest_records(&self, recorded_active: Vec<InstanceId>) -> Vec<InstanceId> {
        let records: Vec<(InstanceId, Option<u64>)> =
            recorded_active.into_iter().map(|member| (member.clone(), self.activated_at(&member))).collect();
        tags::newest_records(&records)
    }

    /// When `member` was recorded active, by its tags in the latest answer.
    fn activated_at(&self, member: &InstanceId) -> Option<u64> {
        self.seen[member].observation.as_ref().and_then(|o| tags::activated_at(&o.tags))
    }

    /// Whether (and how) the failure this run was started on is history at `now`: too old to
    /// act on, or (every member's tags known: `all_known`) another member recorded `active`,
    /// or that member, or any other, activated since the failure was seen.
    fn superseded(&self, active: &InstanceId, all_known: bool, now: Timestamp) -> Option<Superseded> {
        let evidence = self.options.evidence.as_ref()?;
        let age = now.saturating_since(evidence.at);
        if let Some(fresh_for) = evidence.fresh_for.filter(|fresh_for| age > *fresh_for) {
            return Some(Superseded::TooOld { age_ms: millis(age), fresh_for_ms: millis(fresh_for) });
        }
        let seen_at = evidence.at.unix_millis();
        if self.recorded_active(active) {
            // That another member is active proves the failure history only when every member
            // answered: an unknown one may be the member that failed, recorded active more
            // recently.
            if all_known && evidence.member.as_ref().is_some_and(|failed| failed != active) {
                return Some(Superseded::OtherMemberActive);
            }
            // A member seen recorded active since the failure proves the group changed after
            // it, whatever members went unanswered.
            if self.activated_at(active).is_some_and(|at| at >= seen_at) {
                return Some(Superseded::ActivatedAfter);
            }
        }
        // So does any member activated since the failure, even one demoted again since (the
        // group was failed over after the failure, then switched back): whoever serves now, the
        // failure is older than the group's last activation. Its `activated-at` record stays
        // when it is demoted, so a standby that answers proves it while the member that serves
        // now (the one the failure names, say) is in a zone that does not answer. An activation
        // at the very moment the failure was seen counts: a run starts no earlier than the
        // failure it acts on, so it is the failover that failure caused.
        let members = self.spec.members();
        let activated_since = members
            .iter()
            .filter_map(|member| Some((member, self.activated_at(member)?)))
            .filter(|(_, at)| *at >= seen_at)
            .max_by_key(|(_, at)| *at);
        activated_since.map(|(member, at)| Superseded::GroupActivatedAfter {
            member: member.clone(),
            activated_at: Timestamp::from_unix_millis(at),
        })
    }

    /// While the fence has changed nothing yet (no stop accepted, nothing isolated or started),
    /// a member that answers again, recorded active since the failure, proves the failure
    /// history: its zone did not answer when the run planned, and the plan fenced it as unknown.
    /// A stop of it that got no answer may still have landed, so the fence holds (sends nothing)
    /// until a settled answer shows it: running, the run ends as moved-on; stopping, the stop
    /// landed, and the failover goes on, so the group is not left with nothing.
    pub(super) fn history_since_plan(&mut self, now: Timestamp) -> SincePlan {
        let Some(evidence) = self.options.evidence.clone() else { return SincePlan::Unchanged };
        let changed = !self.started.is_empty()
            || self
                .fence
                .iter()
                .any(|target| target.stop_requested_at.is_some() || self.is_isolated(&target.instance));
        if changed {
            return SincePlan::Unchanged;
        }
        let activated_since = |member: &InstanceId| {
            self.recorded_active(member)
                && self.activated_at(member).is_some_and(|at| at >= evidence.at.unix_millis())
        };
        let active: Vec<InstanceId> =
            self.spec.members().into_iter().filter(|m| activated_since(m)).collect();
        let [active] = active.as_slice() else { return SincePlan::Unchanged };
        match self.seen[active].settled_state() {
            Some(InstanceState::Running) => {
                self.move_on(now, active.clone(), Superseded::ActivatedAfter);
                SincePlan::MovedOn
            }
            Some(_) => SincePlan::Unchanged,
            None => SincePlan::Hold,
        }
    }

    /// End the run as moved on: its evidence is history, `active` serves; nothing changed.
    fn move_on(&mut self, now: Timestamp, active: InstanceId, because: Superseded) {
        let evidence = self.options.evidence.clone().expect("history needs evidence");
        let outcome = Outcome::MovedOn { active, failed: evidence.member, evidence_at: evidence.at, because };
        self.close(now, outcome);
    }

    /// Hold the fence: take back the stops waiting in the queue (a retry after backoff, say), so
    /// nothing is sent until [`Self::history_since_plan`] has a settled answer.
    pub(super) fn hold_fence(&mut self) {
        let fenced: Vec<InstanceId> = self.fence.iter().map(|target| target.instance.clone()).collect();
        let held = |queued: &Queued| matches!(&queued.call, Call::Stop { instance, .. } if fenced.contains(instance));
        let taken_back: Vec<InstanceId> = self
            .queue
            .iter()
            .filter(|queued| held(queued))
            .filter_map(|queued| queued.call.instance().cloned())
            .collect();
        self.queue.retain(|queued| !held(queued));
        for target in self.fence.iter_mut().filter(|target| taken_back.contains(&target.instance)) {
            target.stop_in_flight = false;
        }
    }

    /// The standbys to try, in order, and those left out with why: the active standby alone
    /// when the group already failed over to it and it runs; else every standby not gone and
    /// not unknown, a running or pending one first and any other live one last (it is fenced
    /// until then).
    fn candidates_in_order(
        &self,
        active: &InstanceId,
        unknown: &[InstanceId],
    ) -> (Vec<InstanceId>, Vec<(InstanceId, String)>) {
        let state_of = |instance: &InstanceId| self.seen[instance].state();
        let mut candidates: Vec<InstanceId>;
        let mut excluded = Vec::new();
        if *active != self.spec.primary && state_of(active) == Some(InstanceState::Running) {
            // Already failed over: keep the active standby, fence anything else still live.
            candidates = vec![active.clone()];
        } else {
            candidates = Vec::new();
            // A standby recorded active that is not running (stopped by someone, or by a rollback)
            // is still a member that can be started: it stays in the list, last.
            let mut in_order: Vec<&InstanceId> = self.spec.standbys.iter().filter(|s| *s != active).collect();
            in_order.extend(self.spec.standbys.iter().filter(|s| *s == active));
            for standby in in_order {
                match state_of(standby) {
                    Some(state) if state.is_gone() => {
                        excluded.push((standby.clone(), format!("instance is {state}")))
                    }
                    _ if unknown.contains(standby) => excluded.push((
                        standby.clone(),
                        "unknown: every describe naming it failed (fenced instead)".to_owned(),
                    )),
                    _ if self.quarantined(standby).is_some() => {
                        excluded.push((standby.clone(), self.quarantined(standby).unwrap_or_default()))
                    }
                    _ => candidates.push(standby.clone()),
                }
            }
            // A standby that is already up (a previous run's, say) is the fastest to promote;
            // the others keep the configured order (a stopping one starts once stopped).
            candidates.sort_by_key(|standby| match state_of(standby) {
                Some(InstanceState::Running) => 0,
                Some(InstanceState::Pending) => 1,
                _ => 2,
            });
            // Any other live standby is fenced: it runs now, and this run stops it. It is tried
            // again only last, once the fence has seen it stopped and let it go (as a stopping
            // one is), so it is never started while the fence still wants it stopped.
            let first = candidates.first().cloned();
            let live_later = |standby: &InstanceId| {
                Some(standby) != first.as_ref()
                    && matches!(state_of(standby), Some(InstanceState::Running | InstanceState::Pending))
            };
            let (later, mut now_list): (Vec<InstanceId>, Vec<InstanceId>) =
                candidates.into_iter().partition(|standby| live_later(standby));
            now_list.extend(later);
            candidates = now_list;
        }
        (candidates, excluded)
    }

    /// The first observation decides who is active, what to fence and which standbys to try.
    pub(super) fn make_plan(&mut self, now: Timestamp) {
        let members = self.spec.members();
        let recorded_active = members.iter().filter(|member| self.recorded_active(member)).cloned().collect();
        let recorded_active = self.newest_records(recorded_active);
        if recorded_active.len() > 1 {
            self.fail(now, Failure::ConflictingRecords { active: recorded_active });
            return;
        }
        let active = recorded_active.into_iter().next().unwrap_or_else(|| self.spec.primary.clone());
        let state_of = |instance: &InstanceId| self.seen[instance].state();
        // Members no answer of this run has returned or left out, whose describes failed (their
        // zone does not answer): state and role unknown, never absent. Any of them may be
        // running, even be the member recorded active, so each is fenced and none is a
        // candidate, whoever the answers that came name as active.
        let unknown: Vec<InstanceId> =
            members.iter().filter(|member| self.seen[*member].unknown()).cloned().collect();
        if let Some(because) = self.superseded(&active, unknown.is_empty(), now) {
            self.emit(now, EventKind::Planned { fence: Vec::new(), candidates: Vec::new() });
            self.move_on(now, active, because);
            return;
        }

        let (candidates, excluded) = self.candidates_in_order(&active, &unknown);
        let first_candidate = candidates.first().cloned();
        let adopted = first_candidate.clone().filter(|first| {
            *first != active
                && matches!(state_of(first), Some(InstanceState::Running | InstanceState::Pending))
        });
        let fence: Vec<InstanceId> = members
            .iter()
            .filter(|member| Some(*member) != first_candidate.as_ref())
            .filter(|member| {
                **member == active
                    || unknown.contains(member)
                    || state_of(member).is_some_and(|s| s.is_live() && !s.is_gone())
            })
            .cloned()
            .collect();

        let plan = Plan {
            active: active.clone(),
            ordering: self.spec.ordering,
            fence: fence.iter().map(|member| (member.clone(), state_of(member))).collect(),
            candidates: candidates.iter().map(|member| (member.clone(), state_of(member))).collect(),
            excluded: excluded.clone(),
        };
        let active_runs = state_of(&active) == Some(InstanceState::Running);
        self.emit(now, EventKind::Planned { fence: fence.clone(), candidates: candidates.clone() });

        if candidates.is_empty() {
            // Nothing can take over: leave the primary alone rather than fence it for nothing.
            self.plan = Some(plan);
            self.fail(now, Failure::NoStandbyAvailable { tried: excluded });
            return;
        }
        // Done only while the active member runs: one recorded active but stopped (by a rollback,
        // by someone) is started again like any standby.
        let already_done = candidates[0] == active && fence.is_empty() && active_runs;
        self.tried = excluded;
        self.plan = Some(plan.clone());
        if self.options.dry_run {
            self.close(now, Outcome::Planned { plan });
            return;
        }
        if already_done {
            self.close(now, Outcome::AlreadyActive { active });
            return;
        }
        self.fence = fence.into_iter().map(FenceTarget::new).collect();
        self.fence_started_at = Some(now);
        if let Some(first) = adopted {
            // Started by an earlier run: this run answers for it now.
            self.adopted.insert(first);
        }
        self.candidates = candidates.into();
        // A member to fence that is already `stopping` (an earlier attempt's stop that has not
        // finished, an impaired host) gains little from a parallel start and risks a standby the
        // rollback cannot stop in time (EC2 refuses to stop it while it is pending): fence first.
        // Likewise a member that cannot be observed: a standby started beside it could not be
        // kept until the fence holds, and may never be.
        let fence_stuck = plan.fence.iter().any(|(member, state)| {
            *state == Some(InstanceState::Stopping) || self.seen[member].unobservable.is_some()
        });
        self.enter(match self.spec.ordering {
            Ordering::Parallel if !fence_stuck => Phase::Promoting,
            Ordering::Parallel | Ordering::FenceFirst => Phase::Fencing,
        });
    }
}
