//! Observation: what the latest describe answer says about each member, what went missing from
//! it, and the convergence rule judged on it.

use super::*;

/// The latest word on one member.
#[derive(Clone, Debug)]
pub(super) struct Seen {
    pub(super) observation: Option<Observation>,
    /// When the latest answer that returned it was asked for.
    observed_at: Option<Timestamp>,
    /// Since when describe results have not included it.
    pub(super) absent_since: Option<Timestamp>,
    /// The run's start, or this run's latest start or stop request on it (accepted, or sent
    /// without an answer): answers from before `DESCRIBE_STALENESS` after it may predate it.
    changed_at: Timestamp,
    /// Since when describes naming it have failed while others answered, and the last error.
    pub(super) unobservable: Option<(Timestamp, ApiError)>,
    /// A describe naming it answered without it: EC2 did not find it (not found, not unknown).
    answered_without_it: bool,
}

impl Seen {
    pub(super) fn new(run_started_at: Timestamp) -> Self {
        Self {
            observation: None,
            observed_at: None,
            absent_since: None,
            changed_at: run_started_at,
            unobservable: None,
            answered_without_it: false,
        }
    }

    /// Nothing is known of it: no answer of this run returned it or answered without it, and
    /// describes naming it have failed. It may be running, even be the member recorded active.
    pub(super) fn unknown(&self) -> bool {
        self.observation.is_none() && !self.answered_without_it && self.unobservable.is_some()
    }

    /// This run asked EC2 to change the instance's state at `at`.
    pub(super) fn change_requested(&mut self, at: Timestamp) {
        self.changed_at = self.changed_at.max(at);
    }

    /// The latest state, if the answer that showed it cannot predate this run or this run's last
    /// request on the instance (see `DESCRIBE_STALENESS`).
    pub(super) fn settled_state(&self) -> Option<InstanceState> {
        let settled = self.observed_at.is_some_and(|at| at >= self.changed_at + DESCRIBE_STALENESS);
        self.state().filter(|_| settled)
    }

    /// The state from the latest describe call; None if that call did not return the instance
    /// (an earlier answer is stale, and must never count as the current state).
    pub(super) fn state(&self) -> Option<InstanceState> {
        if self.absent_since.is_some() {
            return None;
        }
        self.observation.as_ref().map(|observation| observation.state)
    }
}

impl Failover {
    /// Take in one describe result: note what changed, and what went missing.
    /// `asked_at` is when the describe was sent: what the answer shows may be that much older
    /// than its arrival, on top of its staleness.
    /// `failed`: members a describe could not be asked about (their zone failed it).
    /// `unasked`: members whose request was refused as a request (throttled): nothing is learned
    /// of them, not even that an answer left them out.
    pub(super) fn observe(
        &mut self,
        now: Timestamp,
        asked_at: Timestamp,
        observations: Vec<Observation>,
        failed: BTreeMap<InstanceId, ApiError>,
        unasked: &BTreeSet<InstanceId>,
    ) {
        let mut by_id: BTreeMap<InstanceId, Observation> = observations
            .into_iter()
            .filter(|observation| self.seen.contains_key(&observation.instance))
            .map(|observation| (observation.instance.clone(), observation))
            .collect();
        for member in self.spec.members() {
            if unasked.contains(&member) && !by_id.contains_key(&member) {
                continue;
            }
            let seen = self.seen.get_mut(&member).expect("every member has an entry");
            match by_id.remove(&member) {
                Some(observation) => {
                    seen.unobservable = None;
                    let previous = seen.state();
                    let state = observation.state;
                    seen.absent_since = None;
                    seen.observed_at = Some(asked_at);
                    seen.observation = Some(observation);
                    if previous != Some(state) {
                        self.emit(now, EventKind::Observed { instance: member, state, previous });
                    }
                }
                None => {
                    let newly_absent = seen.absent_since.is_none();
                    if newly_absent {
                        seen.absent_since = Some(now);
                    }
                    if let Some(error) = failed.get(&member) {
                        // A failed describe after an answer that left it out: that answer may
                        // have been partial, and this one could not say; unknown again.
                        seen.answered_without_it = false;
                        let first = seen.unobservable.is_none();
                        let since = seen.unobservable.as_ref().map_or(now, |(since, _)| *since);
                        seen.unobservable = Some((since, error.clone()));
                        if first {
                            let zone = self.zone_of(&member);
                            let error = error.to_string();
                            self.emit(now, EventKind::Unobservable { instance: member, zone, error });
                        }
                    } else {
                        seen.answered_without_it = true;
                        if newly_absent {
                            self.emit(now, EventKind::NotVisible { instance: member });
                        }
                    }
                }
            }
        }
    }

    /// The member's zone: from its last observation, else from the configuration.
    pub(super) fn zone_of(&self, member: &InstanceId) -> Option<String> {
        let observed = self.seen[member].observation.as_ref().map(|o| o.availability_zone.clone());
        observed.filter(|zone| !zone.is_empty()).or_else(|| self.spec.zone_of(member).map(str::to_owned))
    }

    /// Whether the latest observation of `instance` records it active.
    pub(super) fn recorded_active(&self, instance: &InstanceId) -> bool {
        let observation = self.seen.get(instance).and_then(|seen| seen.observation.as_ref());
        observation.and_then(|observation| Role::recorded_in(&observation.tags)) == Some(Role::Active)
    }

    /// The convergence rule: every member but `target` is, in the latest settled observation,
    /// stopped or gone (or has not been returned for longer than answers stay stale, after last
    /// being seen gone or never at all). A member nothing is known of (its describes failed) is
    /// never gone: only isolating it lets the rule pass over it.
    pub(super) fn others_settled(&self, target: &InstanceId, now: Timestamp) -> bool {
        let mut others =
            self.seen.iter().filter(|(member, _)| *member != target && !self.is_isolated(member));
        others.all(|(_, seen)| match seen.state() {
            _ if seen.unknown() => false,
            Some(state) if seen.settled_state().is_none() => state.is_gone(),
            Some(state) => !state.is_live() || state.is_gone(),
            None => {
                let last = seen.observation.as_ref().map(|observation| observation.state);
                let long_gone =
                    seen.absent_since.is_some_and(|since| now.saturating_since(since) >= NOT_VISIBLE_GRACE);
                long_gone && last.is_none_or(InstanceState::is_gone)
            }
        })
    }
}
