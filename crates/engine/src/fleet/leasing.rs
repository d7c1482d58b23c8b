//! Runs under a lease: a run is polled only once its group's lease is taken, stops acting the
//! moment the lease can no longer be trusted, and releases it when it ends. The leases' store
//! calls go out with the fleet's other requests.

use super::*;
use crate::lease::{LeaseEnd, LeaseReply, LeaseSettings, LeaseStep};
use crate::report::Failure;

impl Fleet {
    /// Every run of this fleet acts only while it holds its group's lease in `settings`' table.
    /// Called before the first poll.
    pub fn with_leases(mut self, settings: &LeaseSettings, now: Timestamp) -> Self {
        assert!(self.sent.is_empty() && self.next_id == 0, "leases are added before the first poll");
        self.idle.clear();
        for (index, run) in self.runs.iter_mut().enumerate() {
            let group = run.failover.spec().name.clone();
            run.lease = Some(Lease::new(settings.clone(), &group, now, run.failover.seed()));
            run.started = false;
            run.lease_wake = Some(now);
            self.lease_idle.insert((now, index));
        }
        self
    }

    /// Poll run `index`'s lease at `at` (once: an earlier wake-up it had is dropped).
    fn wake_lease(&mut self, index: usize, at: Timestamp) {
        let run = &mut self.runs[index];
        if let Some(previous) = run.lease_wake.replace(at) {
            self.lease_idle.remove(&(previous, index));
        }
        self.lease_idle.insert((at, index));
    }

    /// How each run's lease ended, in the fleet's order (None: no lease, or not ended yet).
    pub fn lease_ends(&self) -> impl Iterator<Item = Option<&LeaseEnd>> {
        self.runs.iter().map(|run| run.lease.as_ref().and_then(Lease::end))
    }

    /// Whether run `index` may make a call at `now`: it has no lease, or holds it with time to
    /// spare.
    pub(super) fn may_act(&self, index: usize, now: Timestamp) -> bool {
        self.runs[index].lease.as_ref().is_none_or(|lease| lease.may_act(now))
    }

    /// Poll every lease that is due.
    pub(super) fn poll_leases(&mut self, now: Timestamp, send: &mut Vec<Outgoing>) {
        let due: Vec<(Timestamp, usize)> = self.lease_idle.range(..=(now, usize::MAX)).copied().collect();
        for entry in due {
            self.lease_idle.remove(&entry);
            self.runs[entry.1].lease_wake = None;
            self.poll_lease(entry.1, now, send);
        }
    }

    fn poll_lease(&mut self, index: usize, now: Timestamp, send: &mut Vec<Outgoing>) {
        let run = &mut self.runs[index];
        let deadline = run.failover.deadline();
        let lease = run.lease.as_mut().expect("only runs with a lease are polled for it");
        if !run.started && now >= deadline {
            // Waited for the lease until the run's deadline: give up on it.
            lease.release();
        }
        match lease.poll(now) {
            LeaseStep::Call { call, answer_by } => {
                run.lease_busy = true;
                let request = Request::Lease(call);
                let id = self.record(&request, Sent::Lease { run: index });
                send.push(Outgoing { id, request, answer_by });
            }
            LeaseStep::Sleep { until } if !run.started => {
                let until = until.min(deadline);
                let holder = lease.watching().map(str::to_owned);
                run.sleep = Some((until, WaitingFor::Lease { holder }));
                self.wake_lease(index, until);
                self.touched.insert(index);
            }
            LeaseStep::Sleep { until } => self.wake_lease(index, until),
            LeaseStep::Ended => self.lease_ended(index, now),
        }
    }

    pub(super) fn on_lease_answer(
        &mut self,
        now: Timestamp,
        index: usize,
        result: Result<LeaseReply, ApiError>,
    ) {
        let run = &mut self.runs[index];
        let lease = run.lease.as_mut().expect("a lease answer for a run with a lease");
        lease.on_result(now, result);
        run.lease_busy = false;
        if !run.started {
            if let Some(epoch) = lease.held_epoch() {
                let owner = lease.settings().owner.clone();
                run.started = true;
                run.failover.lease_taken(now, epoch, &owner);
                self.idle.insert((now, index));
            }
        }
        self.wake_lease(index, now);
        self.touched.insert(index);
    }

    /// The lease of run `index` is over: a run that has not finished stops here.
    fn lease_ended(&mut self, index: usize, now: Timestamp) {
        let run = &self.runs[index];
        if run.failover.is_finished() || run.busy {
            // A run with a call at the fleet is stopped at its next poll (it may not act).
            return;
        }
        self.stop_run(index, now);
    }

    /// Stop run `index` at `now` for want of its lease, with what the lease says.
    pub(super) fn stop_run(&mut self, index: usize, now: Timestamp) {
        let run = &mut self.runs[index];
        let lease = run.lease.as_ref().expect("only a leased run is stopped for its lease");
        let failure = match lease.end() {
            Some(LeaseEnd::HeldBy { owner, epoch }) => {
                Failure::LeaseHeld { owner: owner.clone(), epoch: *epoch }
            }
            Some(LeaseEnd::Unavailable { error }) => Failure::LeaseUnavailable { error: error.clone() },
            Some(LeaseEnd::Lost { reason }) => Failure::LeaseLost { why: reason.clone() },
            Some(LeaseEnd::Released) | None if !run.started => {
                Failure::DeadlineExceeded { waiting_for: WaitingFor::Lease { holder: None }.to_string() }
            }
            Some(LeaseEnd::Released) | None => Failure::LeaseLost { why: "not renewed in time".to_owned() },
        };
        run.failover.stop_acting(now, failure);
        run.sleep = None;
        self.touched.insert(index);
        self.release_lease(index, now);
    }

    /// Run `index` is over: release its lease.
    pub(super) fn release_lease(&mut self, index: usize, now: Timestamp) {
        let run = &mut self.runs[index];
        let may_land_until = run.may_land_until.filter(|until| now < *until);
        if let Some(lease) = run.lease.as_mut() {
            match may_land_until {
                Some(until) => lease.release_after(until),
                None => lease.release(),
            }
            if !run.lease_busy {
                self.wake_lease(index, now);
            }
        }
    }

    /// The parts of a refused request's piece whose runs may still act (the others' runs are
    /// told it was not sent, and stop at their next poll), or None if no part is left.
    pub(super) fn still_allowed(
        &mut self,
        now: Timestamp,
        request: Request,
        parts: Vec<Part>,
    ) -> Option<(Request, Vec<Part>)> {
        let (allowed, stopped): (Vec<Part>, Vec<Part>) =
            parts.into_iter().partition(|part| self.may_act(part.run, now));
        for part in stopped {
            let error = ApiError::new(ErrorKind::Transient, "NotSent", "not sent: the group's lease ended");
            self.deliver(now, part.run, Err(error));
        }
        if allowed.is_empty() {
            return None;
        }
        let ids = allowed.iter().map(|part| part.instance.clone()).collect();
        Some((request.with_instances(ids), allowed))
    }
}
