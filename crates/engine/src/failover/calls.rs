//! Calls' results: what an accepted call changes, and what each kind of error leads to (retry
//! with backoff, move to the next standby, wait for the next observation, or end the run).

use super::*;

/// The error code of a call that could not be signed: no credentials, for any instance.
const NO_CREDENTIALS: &str = "NoCredentials";

impl Failover {
    /// The result of the call the last [`Action::Call`] named.
    pub fn on_result(&mut self, now: Timestamp, result: Result<Reply, ApiError>) {
        let queued = self.in_flight.take().expect("on_result without a call in flight");
        self.answer_by = None;
        match result {
            Ok(reply) => self.on_success(now, queued.call, reply),
            Err(error) => self.on_error(now, queued, error),
        }
    }

    pub(super) fn on_success(&mut self, now: Timestamp, call: Call, reply: Reply) {
        match (call, reply) {
            (Call::Describe { .. }, Reply::Described { observations, failed, unasked }) => {
                self.describe_failures = 0;
                self.next_observe_at = now + self.options.poll_interval;
                let asked_at = self.call_sent_at.unwrap_or(now);
                self.observe(now, asked_at, observations, failed, &unasked);
                if !self.phase.is_closing() {
                    self.reconcile(now);
                }
            }
            (Call::Start { instance }, Reply::Done) => {
                self.seen.get_mut(&instance).expect("calls name members").change_requested(now);
                self.started.insert(instance.clone());
                if let Some(candidate) = self.current.as_mut().filter(|c| c.instance == instance) {
                    candidate.start_in_flight = false;
                    candidate.start_accepted_at = Some(now);
                    candidate.capacity_since = None;
                    candidate.not_found_since = None;
                }
                self.emit(now, EventKind::StartRequested { instance });
            }
            (Call::Stop { instance, force }, Reply::Done) => {
                self.seen.get_mut(&instance).expect("calls name members").change_requested(now);
                if let Some(target) = self.fence.iter_mut().find(|t| t.instance == instance) {
                    target.stop_in_flight = false;
                    target.stop_requested_at.get_or_insert(now);
                }
                if let Some(abandoned) = self.abandoned.get_mut(&instance) {
                    abandoned.stop_in_flight = false;
                    abandoned.stop_accepted_at = Some(now);
                }
                if self.phase.is_closing() {
                    self.emit(now, EventKind::RolledBack { instance });
                } else {
                    self.emit(now, EventKind::StopRequested { instance, force });
                }
            }
            (Call::SetTags { instance, tags }, Reply::Done) => {
                let role = Role::recorded_in(&tags).expect("the engine writes only role tags it knows");
                self.emit(now, EventKind::Recorded { instance, role });
                self.tag_write_settled(now);
            }
            (Call::Probe { probe, .. }, Reply::Probed(result)) => self.on_probed(now, &probe, result),
            (Call::ReadClients { mover, .. }, Reply::Clients(view)) => {
                self.on_clients_read(now, &mover, view)
            }
            (Call::MoveClients { change }, Reply::Moved { change: id }) => {
                self.on_clients_changed(now, &change, id)
            }
            (Call::ReadNetworkAcl { .. }, Reply::NetworkAcl(read)) => self.on_network_acl(now, read),
            (Call::Isolate { subnet, .. }, Reply::Done) => self.reread_network_acl(now, subnet),
            (call, reply) => unreachable!("{} answered with {reply:?}", call.operation()),
        }
    }

    /// One of the recording's tag writes is done (or, for a member never recorded active, given
    /// up): the activation follows the last demotion, and the run ends with the activation.
    pub(super) fn tag_write_settled(&mut self, now: Timestamp) {
        if let Some(remaining) = self.record_remaining.as_mut() {
            *remaining -= 1;
            let demotions_done = *remaining == 1 && self.activation.is_some();
            if demotions_done && !self.phase.is_closing() {
                let activation = self.activation.take().expect("checked above");
                self.enqueue(now, activation);
            } else if *remaining == 0 && !self.phase.is_closing() {
                self.milestones.recorded_at = Some(now);
                self.finish_if_converged(now);
            }
        }
    }

    /// Report success once recorded, and only while the latest observation shows every other
    /// member stopped or gone (a later answer may not: then the next one decides).
    pub(super) fn finish_if_converged(&mut self, now: Timestamp) {
        let target = self.current.as_ref().expect("recording follows promotion").instance.clone();
        let target_running = self.seen[&target].state() == Some(InstanceState::Running);
        if self.phase.is_closing() || !target_running || !self.others_settled(&target, now) {
            return;
        }
        let from = self.plan.as_ref().expect("recording follows planning").active.clone();
        self.close(now, Outcome::FailedOver { from, to: target });
    }

    pub(super) fn on_error(&mut self, now: Timestamp, queued: Queued, error: ApiError) {
        if let (Call::Start { instance } | Call::Stop { instance, .. }, ErrorKind::Transient) =
            (&queued.call, error.kind)
        {
            // No answer (a timeout, a dropped connection) is not a refusal: EC2 may have
            // carried the call out, so answers from before it no longer settle anything, and a
            // start's instance joins those this run answers for.
            self.seen.get_mut(instance).expect("calls name members").change_requested(now);
            if matches!(queued.call, Call::Start { .. }) {
                self.started.insert(instance.clone());
            }
        }
        let retryable = error.kind.is_retryable()
            || (matches!(queued.call, Call::Describe { .. }) && !error.kind.is_permanent());
        // Describes count their failures across calls (each is a new call); others per call.
        let is_describe = matches!(queued.call, Call::Describe { .. });
        let attempt = if is_describe { self.describe_failures } else { queued.attempt };
        let delay = Backoff::API.delay(attempt, &mut self.rng);
        let may_retry = now + delay < self.retries_until();
        if retryable && may_retry {
            self.call_failed(now, &queued.call, &error, Some(delay));
            if is_describe {
                self.describe_failures += 1;
                self.next_observe_at = now + delay;
            } else {
                let attempt = queued.attempt + 1;
                self.queue.push(Queued { call: queued.call, not_before: now + delay, attempt });
            }
            return;
        }
        if retryable && !self.phase.is_closing() {
            // A transient error with no time left to retry it: the deadline ended the run, not
            // the error (a rerun may well succeed).
            self.call_failed(now, &queued.call, &error, None);
            let waiting_for = format!("{} (last error: {error})", self.waiting_for());
            self.fail(now, Failure::DeadlineExceeded { waiting_for });
            return;
        }
        if self.phase.is_closing() {
            // A rollback stop that met a still-pending instance (EC2 refuses to stop those)
            // waits for it to reach running, for as long as a slow boot takes; anything else is
            // reported and finishing goes on.
            if error.kind == ErrorKind::WrongState && now < self.retries_until() {
                let delay = Backoff::CAPACITY.delay(queued.attempt, &mut self.rng);
                self.call_failed(now, &queued.call, &error, Some(delay));
                let attempt = queued.attempt + 1;
                self.queue.push(Queued { call: queued.call, not_before: now + delay, attempt });
                return;
            }
            self.call_failed(now, &queued.call, &error, None);
            return;
        }
        self.on_refused(now, queued, error);
    }

    /// A call refused for a reason retrying will not change, while the run goes on: each
    /// refusal leads to the next observation, the next standby, or the end of the run.
    fn on_refused(&mut self, now: Timestamp, queued: Queued, error: ApiError) {
        let operation = queued.call.operation();
        let instance = queued.call.instance().cloned();
        match (&queued.call, error.kind) {
            (Call::Start { instance }, ErrorKind::Capacity) => {
                self.on_capacity_error(now, instance.clone(), error)
            }
            (Call::Start { instance }, ErrorKind::NotFound) => {
                self.call_failed(now, &queued.call, &error, Some(self.options.poll_interval));
                self.on_start_not_found(now, instance, &error);
            }
            (Call::Start { instance }, ErrorKind::WrongState) => {
                // It moved under us (e.g. still stopping): the next observation decides.
                self.call_failed(now, &queued.call, &error, Some(self.options.poll_interval));
                if let Some(candidate) = self.current.as_mut().filter(|c| c.instance == *instance) {
                    candidate.start_in_flight = false;
                }
            }
            (Call::Stop { instance, .. }, ErrorKind::WrongState | ErrorKind::NotFound) => {
                // Pending instances cannot be stopped yet, and an id that is not found is not
                // proof of anything: keep observing (the fence until its deadline, fail closed;
                // an abandoned standby until it can be stopped).
                self.call_failed(now, &queued.call, &error, Some(self.options.poll_interval));
                self.forget_stop(instance);
            }
            (
                Call::SetTags { instance, tags },
                ErrorKind::Denied | ErrorKind::Invalid | ErrorKind::NotFound,
            ) if Role::recorded_in(tags) == Some(Role::Standby) && !self.recorded_active(instance) => {
                // Tagging a member that was never recorded active only tidies the record (a
                // standby this role may not touch, say): it cannot make two members active.
                self.call_failed(now, &queued.call, &error, None);
                self.tag_write_settled(now);
            }
            (Call::Isolate { subnet, .. }, ErrorKind::WrongState | ErrorKind::NotFound) => {
                // The association changed since the read (someone moved the subnet): read again.
                self.call_failed(now, &queued.call, &error, Some(Duration::ZERO));
                self.reread_network_acl(now, subnet.clone());
            }
            (Call::MoveClients { change }, ErrorKind::WrongState | ErrorKind::NotFound) => {
                // What the change replaces moved meanwhile (a compare-and-swap that lost, a
                // route gone since the read): read again and decide from what is there now.
                self.call_failed(now, &queued.call, &error, Some(Duration::from_secs(1)));
                self.on_clients_refused(now, change, error);
            }
            (Call::Start { .. }, ErrorKind::Denied) if error.code == NO_CREDENTIALS => {
                // Would refuse every standby alike: end the run with the reason.
                self.call_failed(now, &queued.call, &error, None);
                let failure = Failure::PermanentError { operation: operation.to_owned(), instance, error };
                self.fail(now, failure);
            }
            (Call::Start { instance }, ErrorKind::Denied | ErrorKind::Invalid) => {
                // This standby cannot be started (denied for it, an instance type no longer
                // offered, ...): the next one may well be.
                self.call_failed(now, &queued.call, &error, None);
                if self.current.as_ref().is_some_and(|c| c.instance == *instance) {
                    self.skip_candidate(now, format!("{}: {}", error.code, error.message));
                }
            }
            _ => {
                self.call_failed(now, &queued.call, &error, None);
                let failure = Failure::PermanentError { operation: operation.to_owned(), instance, error };
                self.fail(now, failure);
            }
        }
    }

    /// A start refused as not found: a new instance may not be visible to every endpoint yet,
    /// so it is tried again for `NOT_VISIBLE_GRACE`, then skipped.
    fn on_start_not_found(&mut self, now: Timestamp, instance: &InstanceId, error: &ApiError) {
        let Some(candidate) = self.current.as_mut().filter(|c| c.instance == *instance) else {
            return;
        };
        candidate.start_in_flight = false;
        let since = *candidate.not_found_since.get_or_insert(now);
        if now.saturating_since(since) >= NOT_VISIBLE_GRACE {
            let reason = format!("{}: {}", error.code, error.message);
            self.skip_candidate(now, reason);
        } else {
            candidate.retry_start_at = Some(now + NOT_VISIBLE_GRACE / 4);
        }
    }

    /// A stop that did not take: the fence (or the abandoned standby) sends another when the
    /// observations call for one.
    fn forget_stop(&mut self, instance: &InstanceId) {
        if let Some(target) = self.fence.iter_mut().find(|t| t.instance == *instance) {
            target.stop_in_flight = false;
            target.stop_requested_at = None;
            target.force_requested = false;
        }
        if let Some(abandoned) = self.abandoned.get_mut(instance) {
            abandoned.stop_in_flight = false;
        }
    }

    pub(super) fn call_failed(
        &mut self,
        now: Timestamp,
        call: &Call,
        error: &ApiError,
        retry_in: Option<Duration>,
    ) {
        self.emit(
            now,
            EventKind::CallFailed {
                operation: call.operation().to_owned(),
                instance: call.instance().cloned(),
                kind: error.kind,
                code: error.code.clone(),
                message: error.message.clone(),
                retry_in_ms: retry_in.map(millis),
            },
        );
    }
}
