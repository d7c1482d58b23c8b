//! Rollback: the standbys this run answers for but does not promote (started, possibly started,
//! adopted, or found live out of turn) are stopped until a stop is observed, and a failed run
//! stops everything it started before it reports.

use super::*;

/// An abandoned standby still seen running this long after its stop was accepted is stopped
/// again (the first answer may have been stale, or the stop lost).
const RESTOP_AFTER: Duration = Duration::from_secs(10);

/// A standby this run started, or found live and adopted, and then gave up on: it is stopped
/// until a stop is observed, so no run ends with it booting beside the promoted member.
#[derive(Clone, Debug, Default)]
pub(super) struct Abandoned {
    /// A stop call is queued or in flight.
    pub(super) stop_in_flight: bool,
    pub(super) stop_accepted_at: Option<Timestamp>,
}

impl Failover {
    /// End with a failure, stopping every standby this run answers for (started, possibly
    /// started, adopted or abandoned) except the current candidate behind a fence that holds,
    /// if it was promoted or already running when the run took it over: a failed failover
    /// leaves nothing it started running beside another member, and does not stop the one
    /// member that may serve.
    pub(super) fn fail(&mut self, now: Timestamp, failure: Failure) {
        self.queue.clear();
        self.rollback_started_at = Some(now);
        // Kept running: the only member that can serve. Unless it failed its readiness checks
        // and the group asks for such a member to be stopped.
        let stop_unready =
            matches!(failure, Failure::NotReady { .. }) && self.spec.when_not_ready == WhenNotReady::Stop;
        // An adopted one too: it ran before this run (a failover whose record this run could not
        // read yet, say), and its zone may just have stopped answering.
        let current = self.current.as_ref().map(|candidate| &candidate.instance);
        let adopted = current.filter(|instance| self.adopted.contains(*instance));
        let kept = self
            .promoted()
            .or(adopted)
            .filter(|_| self.fence_confirmed_at.is_some() && !stop_unready)
            .cloned();
        let mut rollback: BTreeSet<InstanceId> = self.started.union(&self.adopted).cloned().collect();
        rollback.extend(self.abandoned.keys().cloned());
        if let Some(instance) = &kept {
            self.emit(now, EventKind::Kept { instance: instance.clone() });
        }
        // Its last observed state may predate the start, and stopping a stopped instance is a
        // harmless no-op: every one is stopped.
        for instance in rollback.into_iter().filter(|instance| Some(instance) != kept.as_ref()) {
            self.queue.push(Queued {
                call: Call::Stop { instance, force: true },
                not_before: now,
                attempt: 0,
            });
        }
        self.close(now, Outcome::Failed { failure });
    }

    /// Until when a failed call may be retried: the failover's deadline while it runs, and
    /// `ROLLBACK_LIMIT` after a failure for the rollback's calls.
    pub(super) fn retries_until(&self) -> Timestamp {
        self.rollback_started_at.map_or(self.deadline, |failed_at| failed_at + ROLLBACK_LIMIT)
    }

    /// Stop every abandoned standby that runs; one that is pending is stopped once it runs (EC2
    /// refuses to stop a pending instance), and a stop is sent again if it still runs a while
    /// after the last was accepted.
    pub(super) fn advance_abandoned(&mut self, now: Timestamp) {
        // A standby already given up on that is seen live after all was started by someone (an
        // earlier run, say, whose standby this run skipped as not found while the answers were
        // empty): this run answers for it too.
        let current = self.current.as_ref().map(|candidate| candidate.instance.clone());
        let strays: Vec<InstanceId> = self
            .tried
            .iter()
            .map(|(standby, _)| standby)
            .filter(|standby| Some(*standby) != current.as_ref())
            .filter(|standby| !self.fence.iter().any(|target| &target.instance == *standby))
            .filter(|standby| {
                matches!(self.seen[*standby].state(), Some(InstanceState::Pending | InstanceState::Running))
            })
            .cloned()
            .collect();
        for stray in strays {
            self.abandoned.entry(stray).or_default();
        }
        self.take_up_live_queued(now);
        let mut to_stop = Vec::new();
        for (instance, abandoned) in &mut self.abandoned {
            if self.seen[instance].state() != Some(InstanceState::Running) || abandoned.stop_in_flight {
                continue;
            }
            if abandoned.stop_accepted_at.is_none_or(|at| now.saturating_since(at) >= RESTOP_AFTER) {
                abandoned.stop_in_flight = true;
                to_stop.push(instance.clone());
            }
        }
        for instance in to_stop {
            self.enqueue(now, Call::Stop { instance, force: true });
        }
    }

    /// A standby still waiting its turn that is seen live was started outside this run (by a
    /// crashed earlier run, say, while this run's first answers were empty or partial). While
    /// this run has started nothing, it becomes the candidate: it runs already, and this run
    /// answers for it. Once this run has started (or adopted) another, it is stopped and tried
    /// again, from stopped, only if the one in progress fails.
    fn take_up_live_queued(&mut self, now: Timestamp) {
        let live =
            |seen: &Seen| matches!(seen.state(), Some(InstanceState::Pending | InstanceState::Running));
        // The head of the list seen live while nothing is being promoted yet (the plan's answers
        // left it out), not started by this run: someone started it (a run cut off at its
        // invocation's end, say). This run takes it over, so a failed run stops it; never a
        // member that is, or is recorded as, the active one (the group may have failed over to
        // it, its record unseen when the run planned): that one serves.
        let active = self.plan.as_ref().map(|plan| &plan.active);
        let live_head = self.candidates.front().filter(|head| {
            self.current.is_none()
                && Some(*head) != active
                && !self.recorded_active(head)
                && live(&self.seen[*head])
                && !self.started.contains(*head)
        });
        if let Some(head) = live_head.cloned() {
            self.adopted.insert(head);
        }
        // Each pass abandons one standby or moves one to the front, so the list's length bounds it.
        for _ in 0..self.spec.standbys.len() {
            // The head of the list, before promotion begins, is the next to be promoted.
            let head = if self.current.is_none() { self.candidates.front().cloned() } else { None };
            let Some(standby) = self
                .candidates
                .iter()
                .filter(|standby| Some(*standby) != head.as_ref())
                .filter(|standby| !self.fence.iter().any(|target| &target.instance == *standby))
                .find(|standby| live(&self.seen[*standby]) && !self.abandoned.contains_key(*standby))
                .cloned()
            else {
                return;
            };
            let committed = head.as_ref().is_some_and(|head| live(&self.seen[head]))
                || self.current.as_ref().is_some_and(|candidate| {
                    candidate.start_in_flight
                        || candidate.start_accepted_at.is_some()
                        || candidate.promoted_at.is_some()
                        || self.adopted.contains(&candidate.instance)
                        || live(&self.seen[&candidate.instance])
                });
            if committed {
                // Stopped now; still in the list, it is started again in its turn.
                let reason =
                    "found live while another standby was being promoted (started outside this run): \
                              stopped until its turn";
                self.emit(
                    now,
                    EventKind::StandbySkipped { instance: standby.clone(), reason: reason.to_owned() },
                );
                self.abandoned.entry(standby).or_default();
            } else {
                self.candidates.retain(|queued| *queued != standby);
                // Nothing started yet: the live one goes first, the one it displaces next.
                if let Some(displaced) = self.current.take() {
                    self.candidates.push_front(displaced.instance);
                }
                self.candidates.push_front(standby.clone());
                self.adopted.insert(standby);
            }
        }
    }
}
