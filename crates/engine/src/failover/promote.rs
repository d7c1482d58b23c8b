//! Promotion: bring the current standby to `running` from whatever state it is in, retrying
//! capacity errors within their budget and moving down the list when a standby cannot make it.

use super::*;

/// The standby currently being promoted.
#[derive(Clone, Debug)]
pub(super) struct Candidate {
    pub(super) instance: InstanceId,
    pub(super) since: Timestamp,
    /// A start call is queued or in flight.
    pub(super) start_in_flight: bool,
    /// When a start call was accepted.
    pub(super) start_accepted_at: Option<Timestamp>,
    /// When it was taken as running (promoted).
    pub(super) promoted_at: Option<Timestamp>,
    /// Past its start timeout but kept: still pending when the timeout ran out (EC2 cannot stop
    /// it), or taken back after every other standby was tried. Only the deadline, or a state
    /// that shows it cannot run, gives up on it now.
    pub(super) late: bool,
    pub(super) retry_start_at: Option<Timestamp>,
    pub(super) capacity_since: Option<Timestamp>,
    pub(super) capacity_attempts: u32,
    pub(super) not_found_since: Option<Timestamp>,
}

impl Candidate {
    pub(super) fn new(instance: InstanceId, since: Timestamp) -> Self {
        Self {
            instance,
            since,
            start_in_flight: false,
            start_accepted_at: None,
            promoted_at: None,
            late: false,
            retry_start_at: None,
            capacity_since: None,
            capacity_attempts: 0,
            not_found_since: None,
        }
    }
}

impl Failover {
    /// Bring the current candidate to `running`, moving down the list when one cannot make it.
    pub(super) fn advance_promotion(&mut self, now: Timestamp) {
        // Each pass either returns or drops a candidate, so this ends within the list's length.
        for _ in 0..=self.spec.standbys.len() {
            if self.current.is_none() {
                if self.take_next_candidate(now) {
                    continue;
                }
                return;
            }
            if self.past_start_timeout(now) {
                continue;
            }
            let Some(candidate) = self.current.as_mut() else { unreachable!("checked above") };
            let seen = &self.seen[&candidate.instance];
            let state = seen.state();
            let settled = seen.settled_state();
            match state {
                Some(InstanceState::Running)
                    if self.fence.iter().any(|t| t.instance == candidate.instance) =>
                {
                    // Fenced at plan time (it was live): the fence stops it first, and lets it go
                    // once it is seen stopped; then it is started like any other.
                    return;
                }
                Some(InstanceState::Running) => {
                    // DescribeInstances is eventually consistent: a "running" from before someone
                    // else's stop (or this run's) must not promote. Only a settled answer does.
                    if settled != Some(InstanceState::Running) {
                        return;
                    }
                    if candidate.promoted_at.is_none() {
                        candidate.promoted_at = Some(now);
                        self.milestones.promoted_at = Some(now);
                        let instance = candidate.instance.clone();
                        self.emit(now, EventKind::Promoted { instance });
                    }
                    return;
                }
                Some(InstanceState::Pending | InstanceState::Stopping) => return,
                Some(state @ (InstanceState::ShuttingDown | InstanceState::Terminated)) => {
                    self.skip_candidate(now, format!("instance is {state}"));
                    continue;
                }
                Some(InstanceState::Stopped) => {
                    if self.start_or_give_up_stopped(now) {
                        continue;
                    }
                    return;
                }
                None if candidate.start_accepted_at.is_some() || seen.observation.is_some() => {
                    // It exists (its start was accepted, or an answer returned it): a missing
                    // answer proves nothing, and only the start timeout gives up on it.
                    return;
                }
                None => {
                    // Each candidate gets the whole grace from its turn.
                    let absent_since = seen.absent_since.unwrap_or(now).max(candidate.since);
                    if now.saturating_since(absent_since) >= NOT_VISIBLE_GRACE {
                        self.skip_candidate(now, "not returned by DescribeInstances (not found)".to_owned());
                        continue;
                    }
                    return;
                }
            }
        }
    }

    /// The next standby in the list becomes the current candidate (true), or, the list run out,
    /// a late one is taken back (true) or the run fails (false).
    fn take_next_candidate(&mut self, now: Timestamp) -> bool {
        match self.candidates.pop_front() {
            Some(next) => {
                // Its turn: whatever stopped it before (found live out of turn), this run now
                // brings it up.
                self.cancel_stops(&next);
                self.current = Some(Candidate::new(next, now));
                true
            }
            None if self.take_back_late_standby(now) => true,
            None => {
                let tried = std::mem::take(&mut self.tried);
                self.fail(now, Failure::NoStandbyAvailable { tried });
                false
            }
        }
    }

    /// The current candidate past its start timeout: kept and waited for (overdue) when it may
    /// still be booting or running unseen, given up when it is not running; true when either
    /// happened.
    fn past_start_timeout(&mut self, now: Timestamp) -> bool {
        let Some(candidate) = self.current.as_mut() else { return false };
        let seen = &self.seen[&candidate.instance];
        let state = seen.state();
        // Once promoted, only a settled answer (not a missing or stale one) can give up on it.
        let not_running = match candidate.promoted_at {
            Some(_) => seen.settled_state().is_some_and(|state| state != InstanceState::Running),
            None => state != Some(InstanceState::Running),
        };
        // From its turn: waiting for it to stop, capacity retries and the boot all count.
        let timed_out = !candidate.late && now.saturating_since(candidate.since) >= self.spec.timeouts.start;
        if !timed_out {
            return false;
        }
        // Not answered for now (left out of answers, its zone silent) and last seen pending,
        // whoever started it (a crashed run, say, whose standby this run took over), or
        // started by this run and never seen since: it may still be pending, as much as one
        // seen so. Last seen running and now unknown (its zone silent): it may still run.
        let last_seen = seen.observation.as_ref().map(|observation| observation.state);
        let started = self.started.contains(&candidate.instance);
        let may_be_pending = state == Some(InstanceState::Pending)
            || (state.is_none() && last_seen == Some(InstanceState::Pending))
            || (state.is_none() && started && last_seen.is_none());
        let may_be_running =
            state.is_none() && seen.unobservable.is_some() && last_seen == Some(InstanceState::Running);
        if may_be_pending || may_be_running {
            // EC2 refuses to stop a pending instance, and cannot be asked about one whose
            // zone is silent, so moving on now could leave this one running beside the next:
            // it stays the candidate, promoted if it is seen running, given up if it falls
            // back to stopped; only the deadline ends the wait.
            candidate.late = true;
            let instance = candidate.instance.clone();
            let waited_ms = millis(now.saturating_since(candidate.since));
            self.emit(now, EventKind::StandbyOverdue { instance, waited_ms, last_seen });
            return true;
        }
        if !not_running {
            return false;
        }
        let state_text = state.map_or("not visible".to_owned(), |s| s.to_string());
        let reason =
            format!("not running after {}s (last seen: {state_text})", self.spec.timeouts.start.as_secs());
        let instance = candidate.instance.clone();
        self.too_slow.insert(instance);
        self.skip_candidate(now, reason);
        true
    }

    /// The current candidate is stopped: start it (unless a start is in flight or backing off),
    /// or, stopped in a settled answer after its start was accepted, give it up as fallen back
    /// (true).
    fn start_or_give_up_stopped(&mut self, now: Timestamp) -> bool {
        let Some(candidate) = self.current.as_ref() else { return false };
        // A member fenced at plan time (it was stopping) is a candidate again once stopped: its
        // part of the fence is done, and starting it must not read as a fenced member coming
        // back.
        let instance = candidate.instance.clone();
        self.fence.retain(|target| target.instance != instance);
        let seen = &self.seen[&instance];
        let Some(candidate) = self.current.as_mut() else { return false };
        if candidate.start_accepted_at.is_some() {
            // Stopped in an answer that cannot predate the start: it fell back.
            if seen.settled_state() == Some(InstanceState::Stopped) {
                let why = seen.observation.as_ref().and_then(|o| o.state_reason.clone());
                let why = why.unwrap_or_else(|| "no state reason given".to_owned());
                self.skip_candidate(now, format!("returned to stopped after its start ({why})"));
                return true;
            }
            return false;
        }
        let backing_off = candidate.retry_start_at.is_some_and(|at| now < at);
        if !candidate.start_in_flight && !backing_off {
            candidate.start_in_flight = true;
            self.enqueue(now, Call::Start { instance });
        }
        false
    }

    /// Every standby has been tried, but one this run started is still booting, given up on only
    /// for being slower than its start timeout: the run would wait for it to run anyway, to stop
    /// it (EC2 refuses to stop a pending instance), so it is taken back and promoted if it runs
    /// before the deadline. Once a run.
    fn take_back_late_standby(&mut self, now: Timestamp) -> bool {
        if self.took_back_late {
            return false;
        }
        let booting = |instance: &InstanceId| {
            matches!(self.seen[instance].state(), Some(InstanceState::Pending | InstanceState::Running))
        };
        let late = self
            .too_slow
            .iter()
            .find(|instance| self.started.contains(*instance) && booting(instance))
            .cloned();
        let Some(instance) = late else { return false };
        self.took_back_late = true;
        self.cancel_stops(&instance);
        let mut candidate = Candidate::new(instance, now);
        candidate.late = true;
        candidate.start_accepted_at = Some(now);
        self.current = Some(candidate);
        true
    }

    /// `instance` is to be promoted after all: no longer stopped as abandoned, and no stop queued
    /// for it is sent.
    fn cancel_stops(&mut self, instance: &InstanceId) {
        self.abandoned.remove(instance);
        self.queue.retain(|queued| !matches!(&queued.call, Call::Stop { instance: i, .. } if i == instance));
    }

    /// Give up on the current candidate and move on. One this run started (or may have), or
    /// adopted, is abandoned: stopped until a stop is observed, whatever state it is in now (a
    /// start accepted late boots after its timeout).
    pub(super) fn skip_candidate(&mut self, now: Timestamp, reason: String) {
        let candidate = self.current.take().expect("skipping needs a current candidate");
        if matches!(self.phase, Phase::Readying | Phase::MovingClients | Phase::Recording) {
            self.enter(Phase::Promoting);
        }
        // Readiness and movers were for this candidate: nothing of theirs is sent any more.
        self.clients = None;
        self.milestones.ready_at = None;
        self.queue.retain(|queued| {
            !matches!(queued.call, Call::Probe { .. } | Call::ReadClients { .. } | Call::MoveClients { .. })
        });
        // What was promoted, verified or recorded was this candidate: the next one must earn it
        // all again (its own tag writes included).
        self.milestones.promoted_at = None;
        self.milestones.verified_at = None;
        self.milestones.redirected_at = None;
        self.milestones.recorded_at = None;
        self.record_remaining = None;
        self.activation = None;
        self.queue.retain(|queued| queued.call.instance() != Some(&candidate.instance));
        if self.started.contains(&candidate.instance) || self.adopted.contains(&candidate.instance) {
            self.abandoned.entry(candidate.instance.clone()).or_default();
        }
        self.emit(
            now,
            EventKind::StandbySkipped { instance: candidate.instance.clone(), reason: reason.clone() },
        );
        self.tried.push((candidate.instance, reason));
    }

    pub(super) fn on_capacity_error(&mut self, now: Timestamp, instance: InstanceId, error: ApiError) {
        let budget = self.spec.timeouts.capacity_retry;
        let Some(candidate) = self.current.as_mut().filter(|c| c.instance == instance) else {
            return;
        };
        candidate.start_in_flight = false;
        let since = *candidate.capacity_since.get_or_insert(now);
        if now.saturating_since(since) >= budget {
            let call = Call::Start { instance };
            self.call_failed(now, &call, &error, None);
            let reason = format!("{} for longer than {}s: {}", error.code, budget.as_secs(), error.message);
            self.skip_candidate(now, reason);
            return;
        }
        let delay = Backoff::CAPACITY.delay(candidate.capacity_attempts, &mut self.rng);
        candidate.capacity_attempts += 1;
        candidate.retry_start_at = Some(now + delay);
        self.call_failed(now, &Call::Start { instance }, &error, Some(delay));
    }
}
