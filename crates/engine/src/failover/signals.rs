//! What a driver may ask of or tell a run besides a call's result: the group and its poll
//! interval, a call it could not send for want of a request token, and an observation brought
//! forward to share a fleet's describe round.

use super::*;

impl Failover {
    /// The group this failover runs for.
    pub fn spec(&self) -> &GroupSpec {
        &self.spec
    }

    /// The seed of its random choices (backoff jitter).
    pub fn seed(&self) -> u64 {
        self.options.seed
    }

    /// How often it observes while waiting for a change.
    pub fn poll_interval(&self) -> Duration {
        self.options.poll_interval
    }

    /// Observe no more often than every `at_least` (a fleet's describe round covers many
    /// groups and takes several requests).
    pub fn stretch_poll_interval(&mut self, at_least: Duration) {
        self.options.poll_interval = self.options.poll_interval.max(at_least);
    }

    /// The call the last [`Action::Call`] named was not sent: the driver had no request token
    /// for it before `until`. A describe is simply made again then; any other call waits in the
    /// queue for its turn.
    pub fn defer(&mut self, now: Timestamp, until: Timestamp) {
        let queued = self.in_flight.take().expect("defer without a call in flight");
        self.answer_by = None;
        if let Some(count) = self.calls.get_mut(queued.call.operation()) {
            *count -= 1;
        }
        let until = until.max(now);
        self.token_wait_until = Some(until);
        if matches!(queued.call, Call::Describe { .. }) {
            self.next_observe_at = self.next_observe_at.max(until);
        } else {
            self.queue.insert(0, Queued { not_before: until, ..queued });
        }
    }

    /// Observe now rather than at the next poll, if the next observation is due by `by` (a
    /// driver describing many groups at once brings their observations together).
    /// Whether it was brought forward.
    pub fn observe_early(&mut self, now: Timestamp, by: Timestamp) -> bool {
        assert!(self.in_flight.is_none(), "observe_early while a call awaits its result");
        let due = self.timer(Timer::Observe).is_some_and(|at| at <= by);
        if due && !self.is_finished() {
            self.next_observe_at = self.next_observe_at.min(now);
        }
        due
    }

    /// The group's lease was taken by `owner` with `epoch`: the fencing token this run writes
    /// into the trigger tag.
    pub fn lease_taken(&mut self, now: Timestamp, epoch: u64, owner: &str) {
        self.lease_epoch = Some(epoch);
        self.emit(now, EventKind::LeaseTaken { epoch, owner: owner.to_owned() });
    }

    /// Stop at once, with no further call (a rollback included): the right to act is gone (the
    /// lease was lost or never held). A run already closing keeps its outcome and says why its
    /// remaining calls were not made.
    pub fn stop_acting(&mut self, now: Timestamp, failure: Failure) {
        assert!(self.in_flight.is_none(), "stop_acting while a call awaits its result");
        if self.is_finished() {
            return;
        }
        self.queue.clear();
        self.activation = None;
        self.emit(now, EventKind::StoppedActing { reason: failure.to_string() });
        if !self.phase.is_closing() {
            self.close(now, Outcome::Failed { failure });
        }
        self.finish(now);
    }
}
