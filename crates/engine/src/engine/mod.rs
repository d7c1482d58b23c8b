//! The failover state machine. It owns no client and reads no clock: the caller asks it for the
//! next [`Action`] with the current time, makes the call it names (or sleeps until the time it
//! names), and feeds the result back. Every decision is taken from the latest observation of the
//! whole group (level-triggered), so a second run, or a run resumed after a crash, picks up from
//! whatever state the instances are really in.

mod complete;
mod fence;
mod plan;
mod promote;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

use crate::backoff::Backoff;
use crate::group::{FenceMode, GroupSpec, Ordering};
use crate::instance::{InstanceId, InstanceState, Observation};
use crate::provider::{ApiError, Call, ErrorKind, Reply};
use crate::rate_limit::RateLimiter;
use crate::report::{Event, EventKind, Failure, Milestones, Outcome, Plan, Report};
use crate::tags::Role;
use crate::time::Timestamp;

/// How often the group is described while a state change is awaited. 250 ms keeps the time
/// between a change and its observation well under a second with typical API latency, at four
/// describe calls a second: a fifth of the filtered-describe refill rate.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_millis(250);

/// How long a standby may be missing from describe results before it counts as not found
/// (describe results are eventually consistent, and an empty answer proves nothing).
const NOT_VISIBLE_GRACE: Duration = Duration::from_secs(10);

/// A standby seen `stopped` this long after its start was accepted did not start.
const FAILED_START_GRACE: Duration = Duration::from_secs(5);

/// How long a standby this run did not start must be observed running, without a break, before it
/// is promoted: longer than describe answers stay stale, so an answer from before another run's
/// stop cannot promote a standby that is in fact stopping.
pub const RUNNING_SETTLE: Duration = Duration::from_secs(3);

/// How long a failed run keeps trying to stop a standby it started that is still pending (EC2
/// refuses to stop it until it runs): longer than a slow boot. Past it, the invocation's retry
/// (or the next run) finds the standby and deals with it.
pub const ROLLBACK_LIMIT: Duration = Duration::from_secs(600);

/// The error code of a call that could not be signed: no credentials, for any instance.
const NO_CREDENTIALS: &str = "NoCredentials";

/// An abandoned standby still seen running this long after its stop was accepted is stopped
/// again (the first answer may have been stale, or the stop lost).
const RESTOP_AFTER: Duration = Duration::from_secs(10);

/// How a failover is run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// Why this failover runs (an alarm name, "manual", ...), for the report.
    pub trigger: String,
    /// Observe and plan, change nothing.
    pub dry_run: bool,
    pub poll_interval: Duration,
    /// Seeds the backoff jitter, so a simulated run replays exactly.
    pub seed: u64,
    /// A deadline earlier than the group's own (e.g. a Lambda invocation's remaining time).
    pub deadline: Option<Timestamp>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            trigger: "manual".to_owned(),
            dry_run: false,
            poll_interval: DEFAULT_POLL_INTERVAL,
            seed: 0,
            deadline: None,
        }
    }
}

/// What the caller must do next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Make this call and pass its result to [`Failover::on_result`].
    Call(Call),
    /// Nothing to do before `until`; `waiting_for` says what for (for progress display).
    Sleep { until: Timestamp, waiting_for: String },
    /// The failover is over: take the report with [`Failover::into_report`].
    Finished,
}

#[derive(Clone, Debug)]
struct Queued {
    call: Call,
    not_before: Timestamp,
    attempt: u32,
}

/// The latest word on one member.
#[derive(Clone, Debug, Default)]
struct Seen {
    observation: Option<Observation>,
    /// Since when describe results have not included it.
    absent_since: Option<Timestamp>,
}

impl Seen {
    /// The state from the latest describe call; None if that call did not return the instance
    /// (an earlier answer is stale, and must never count as the current state).
    fn state(&self) -> Option<InstanceState> {
        if self.absent_since.is_some() {
            return None;
        }
        self.observation.as_ref().map(|observation| observation.state)
    }
}

#[derive(Clone, Debug)]
struct FenceTarget {
    instance: InstanceId,
    stop_requested_at: Option<Timestamp>,
    force_requested: bool,
    /// A stop call is queued or in flight.
    stop_in_flight: bool,
    /// A stop was sent while the target was not visible (sent once: it may not exist).
    blind_stop_sent: bool,
}

/// A standby this run started, or found live and adopted, and then gave up on: it is stopped
/// until a stop is observed, so no run ends with it booting beside the promoted member.
#[derive(Clone, Debug, Default)]
struct Abandoned {
    /// A stop call is queued or in flight.
    stop_in_flight: bool,
    stop_accepted_at: Option<Timestamp>,
}

/// The standby currently being promoted.
#[derive(Clone, Debug)]
struct Candidate {
    instance: InstanceId,
    since: Timestamp,
    /// A start call is queued or in flight.
    start_in_flight: bool,
    /// When a start call was accepted.
    start_accepted_at: Option<Timestamp>,
    saw_pending_after_start: bool,
    /// Since when it has been observed running without a break.
    running_since: Option<Timestamp>,
    retry_start_at: Option<Timestamp>,
    capacity_since: Option<Timestamp>,
    capacity_attempts: u32,
    not_found_since: Option<Timestamp>,
}

impl Candidate {
    fn new(instance: InstanceId, since: Timestamp) -> Self {
        Self {
            instance,
            since,
            start_in_flight: false,
            start_accepted_at: None,
            saw_pending_after_start: false,
            running_since: None,
            retry_start_at: None,
            capacity_since: None,
            capacity_attempts: 0,
            not_found_since: None,
        }
    }
}

/// One failover of one group, from the first observation to a recorded active standby or a
/// reported failure.
#[derive(Debug)]
pub struct Failover {
    spec: GroupSpec,
    options: Options,
    rng: fastrand::Rng,
    limiter: RateLimiter,
    started_at: Timestamp,
    deadline: Timestamp,
    events: Vec<Event>,
    calls: BTreeMap<&'static str, u32>,
    seen: BTreeMap<InstanceId, Seen>,
    plan: Option<Plan>,
    fence: Vec<FenceTarget>,
    fence_started_at: Option<Timestamp>,
    candidates: VecDeque<InstanceId>,
    current: Option<Candidate>,
    tried: Vec<(InstanceId, String)>,
    /// Standbys whose start this run had accepted, or whose start call got no answer (it may
    /// have been accepted).
    started: BTreeSet<InstanceId>,
    /// Standbys found live at plan time and taken as the first candidate: started by an earlier
    /// run, so this run answers for stopping them if it does not promote them.
    adopted: BTreeSet<InstanceId>,
    /// Standbys given up on, stopped until a stop is observed.
    abandoned: BTreeMap<InstanceId, Abandoned>,
    /// When the run failed and began stopping what it started.
    rollback_started_at: Option<Timestamp>,
    milestones: Milestones,
    /// Tag writes still to be acknowledged, once recording has begun.
    record_remaining: Option<usize>,
    /// The write that records the new active member, held back until every demotion is
    /// acknowledged: a demotion retried after an error must still land first.
    activation: Option<Call>,
    queue: Vec<Queued>,
    in_flight: Option<Queued>,
    next_observe_at: Timestamp,
    describe_failures: u32,
    /// Set once the outcome is known; remaining rollback calls drain before `Finished`.
    finishing: Option<Outcome>,
    finished: bool,
}

impl Failover {
    /// A failover of `spec` starting at `now`.
    pub fn new(spec: GroupSpec, options: Options, now: Timestamp) -> Self {
        spec.assert_well_formed();
        assert!(!options.poll_interval.is_zero(), "the poll interval must be positive");
        let own_deadline = now + spec.timeouts.failover;
        let deadline = options.deadline.map_or(own_deadline, |given| given.min(own_deadline));
        let seen = spec.members().into_iter().map(|member| (member, Seen::default())).collect();
        let mut failover = Self {
            rng: fastrand::Rng::with_seed(options.seed),
            limiter: RateLimiter::new(),
            started_at: now,
            deadline,
            events: Vec::new(),
            calls: BTreeMap::new(),
            seen,
            plan: None,
            fence: Vec::new(),
            fence_started_at: None,
            candidates: VecDeque::new(),
            current: None,
            tried: Vec::new(),
            started: BTreeSet::new(),
            adopted: BTreeSet::new(),
            abandoned: BTreeMap::new(),
            rollback_started_at: None,
            milestones: Milestones::default(),
            record_remaining: None,
            activation: None,
            queue: Vec::new(),
            in_flight: None,
            next_observe_at: now,
            describe_failures: 0,
            finishing: None,
            finished: false,
            spec,
            options,
        };
        failover.emit(
            now,
            EventKind::Started {
                group: failover.spec.name.clone(),
                trigger: failover.options.trigger.clone(),
                ordering: failover.spec.ordering,
            },
        );
        failover
    }

    /// Every event so far, oldest first.
    pub fn events(&self) -> &[Event] {
        &self.events
    }

    /// The failover's deadline.
    pub fn deadline(&self) -> Timestamp {
        self.deadline
    }

    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// The final report. Panics if the failover has not finished.
    pub fn into_report(self) -> Report {
        assert!(self.finished, "into_report before the failover finished");
        let outcome = self.finishing.expect("a finished failover has an outcome");
        let finished_at = self.events.last().map_or(self.started_at, |event| event.at);
        Report {
            group: self.spec.name,
            started_at: self.started_at,
            finished_at,
            outcome,
            milestones: self.milestones,
            calls: self.calls,
            events: self.events,
        }
    }

    /// The next thing to do at `now`.
    pub fn poll(&mut self, now: Timestamp) -> Action {
        assert!(self.in_flight.is_none(), "poll while a call awaits its result");
        if self.finished {
            return Action::Finished;
        }
        self.check_deadlines(now);
        if self.finishing.is_some() && self.queue.is_empty() {
            self.finish(now);
            return Action::Finished;
        }

        let ready = self.queue.iter().position(|queued| queued.not_before <= now);
        let observe_due = self.finishing.is_none() && now >= self.next_observe_at;
        let next = match ready {
            Some(index) => Some(self.queue.remove(index)),
            None if observe_due => Some(Queued {
                call: Call::Describe { instances: self.spec.members() },
                not_before: now,
                attempt: 0,
            }),
            None => None,
        };
        if let Some(queued) = next {
            match self.limiter.try_take(&queued.call, now) {
                Ok(()) => {
                    *self.calls.entry(queued.call.operation()).or_default() += 1;
                    let call = queued.call.clone();
                    self.in_flight = Some(queued);
                    return Action::Call(call);
                }
                Err(token_at) => {
                    // Put a mutating call back; a describe is simply made again when due.
                    if !matches!(queued.call, Call::Describe { .. }) {
                        self.queue.insert(0, Queued { not_before: token_at, ..queued });
                    } else {
                        self.next_observe_at = token_at;
                    }
                    return self.sleep_until(token_at, "a request token (client-side rate limit)".to_owned());
                }
            }
        }

        let mut until = self
            .queue
            .iter()
            .map(|queued| queued.not_before)
            .min()
            .unwrap_or(Timestamp::from_unix_millis(u64::MAX));
        if self.finishing.is_none() {
            until = until.min(self.next_observe_at).min(self.deadline);
            if let Some(fence_deadline) = self.fence_deadline() {
                until = until.min(fence_deadline);
            }
        }
        let waiting_for = self.waiting_for();
        self.sleep_until(until, waiting_for)
    }

    /// Fail when the fence or the whole failover runs out of time, whether or not describe
    /// calls are getting through.
    fn check_deadlines(&mut self, now: Timestamp) {
        if self.finishing.is_some() {
            return;
        }
        if self.fence_deadline().is_some_and(|deadline| now >= deadline) {
            let unconfirmed = self
                .fence
                .iter()
                .map(|target| (target.instance.clone(), self.seen[&target.instance].state()))
                .find(|(_, state)| state.is_none_or(InstanceState::is_live))
                .expect("an unconfirmed fence has a live or unseen target");
            let (instance, last_state) = unconfirmed;
            self.fail(now, Failure::FenceNotConfirmed { instance, last_state });
        } else if now >= self.deadline {
            let waiting_for = self.waiting_for();
            self.fail(now, Failure::DeadlineExceeded { waiting_for });
        }
    }

    fn sleep_until(&self, until: Timestamp, waiting_for: String) -> Action {
        assert!(until < Timestamp::from_unix_millis(u64::MAX), "a sleep with nothing to wake for");
        Action::Sleep { until, waiting_for }
    }

    /// The result of the call the last [`Action::Call`] named.
    pub fn on_result(&mut self, now: Timestamp, result: Result<Reply, ApiError>) {
        let queued = self.in_flight.take().expect("on_result without a call in flight");
        match result {
            Ok(reply) => self.on_success(now, queued.call, reply),
            Err(error) => self.on_error(now, queued, error),
        }
    }

    fn on_success(&mut self, now: Timestamp, call: Call, reply: Reply) {
        match (call, reply) {
            (Call::Describe { .. }, Reply::Described(observations)) => {
                self.describe_failures = 0;
                self.next_observe_at = now + self.options.poll_interval;
                self.observe(now, observations);
                if self.finishing.is_none() {
                    self.reconcile(now);
                }
            }
            (Call::Start { instance }, Reply::Done) => {
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
                if let Some(target) = self.fence.iter_mut().find(|t| t.instance == instance) {
                    target.stop_in_flight = false;
                    target.stop_requested_at.get_or_insert(now);
                }
                if let Some(abandoned) = self.abandoned.get_mut(&instance) {
                    abandoned.stop_in_flight = false;
                    abandoned.stop_accepted_at = Some(now);
                }
                if self.finishing.is_some() {
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
            (call, reply) => unreachable!("{} answered with {reply:?}", call.operation()),
        }
    }

    /// One of the recording's tag writes is done (or, for a member never recorded active, given
    /// up): the activation follows the last demotion, and the run ends with the activation.
    fn tag_write_settled(&mut self, now: Timestamp) {
        if let Some(remaining) = self.record_remaining.as_mut() {
            *remaining -= 1;
            let demotions_done = *remaining == 1 && self.activation.is_some();
            if demotions_done && self.finishing.is_none() {
                let activation = self.activation.take().expect("checked above");
                self.enqueue(now, activation);
            } else if *remaining == 0 && self.finishing.is_none() {
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
        if self.finishing.is_some() || !target_running || !self.others_settled(&target, now) {
            return;
        }
        let from = self.plan.as_ref().expect("recording follows planning").active.clone();
        self.finishing = Some(Outcome::FailedOver { from, to: target });
    }

    fn on_error(&mut self, now: Timestamp, queued: Queued, error: ApiError) {
        if let (Call::Start { instance }, ErrorKind::Transient) = (&queued.call, error.kind) {
            // No answer (a timeout, a dropped connection) is not a refusal: EC2 may have
            // accepted the start, so the instance joins those this run answers for.
            self.started.insert(instance.clone());
        }
        let operation = queued.call.operation();
        let instance = queued.call.instance().cloned();
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
        if self.finishing.is_some() {
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
        match (&queued.call, error.kind) {
            (Call::Start { instance }, ErrorKind::Capacity) => {
                self.on_capacity_error(now, instance.clone(), error)
            }
            (Call::Start { instance }, ErrorKind::NotFound) => {
                self.call_failed(now, &queued.call, &error, Some(self.options.poll_interval));
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
                if let Some(target) = self.fence.iter_mut().find(|t| t.instance == *instance) {
                    target.stop_in_flight = false;
                    target.stop_requested_at = None;
                    target.force_requested = false;
                }
                if let Some(abandoned) = self.abandoned.get_mut(instance) {
                    abandoned.stop_in_flight = false;
                }
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

    fn call_failed(&mut self, now: Timestamp, call: &Call, error: &ApiError, retry_in: Option<Duration>) {
        self.emit(
            now,
            EventKind::CallFailed {
                operation: call.operation().to_owned(),
                instance: call.instance().cloned(),
                kind: error.kind,
                code: error.code.clone(),
                message: error.message.clone(),
                retry_in_ms: retry_in.map(|delay| u64::try_from(delay.as_millis()).unwrap_or(u64::MAX)),
            },
        );
    }

    /// Take in one describe result: note what changed, and what went missing.
    fn observe(&mut self, now: Timestamp, observations: Vec<Observation>) {
        let mut by_id: BTreeMap<InstanceId, Observation> = observations
            .into_iter()
            .filter(|observation| self.seen.contains_key(&observation.instance))
            .map(|observation| (observation.instance.clone(), observation))
            .collect();
        let members = self.spec.members();
        for member in members {
            let seen = self.seen.get_mut(&member).expect("every member has an entry");
            match by_id.remove(&member) {
                Some(observation) => {
                    let previous = seen.state();
                    let state = observation.state;
                    seen.absent_since = None;
                    seen.observation = Some(observation);
                    if previous != Some(state) {
                        self.emit(now, EventKind::Observed { instance: member, state, previous });
                    }
                }
                None => {
                    if seen.absent_since.is_none() {
                        seen.absent_since = Some(now);
                        self.emit(now, EventKind::NotVisible { instance: member });
                    }
                }
            }
        }
    }

    /// Decide the next steps from the latest observation.
    fn reconcile(&mut self, now: Timestamp) {
        if self.plan.is_none() {
            // An empty or partial answer is no basis for a plan: wait (a bounded while) until
            // the primary is visible, so its state and tags are known.
            let primary_visible = self.seen[&self.spec.primary].observation.is_some();
            if !primary_visible && now.saturating_since(self.started_at) < NOT_VISIBLE_GRACE {
                return;
            }
            self.make_plan(now);
            if self.finishing.is_some() {
                return;
            }
        }
        self.advance_fence(now);
        self.advance_abandoned(now);
        let may_promote =
            self.spec.ordering == Ordering::Parallel || self.milestones.fence_confirmed_at.is_some();
        if self.finishing.is_none() && may_promote {
            self.advance_promotion(now);
        }
        if self.finishing.is_none() {
            self.advance_completion(now);
        }
    }

    fn enqueue(&mut self, now: Timestamp, call: Call) {
        assert!(!self.options.dry_run, "a dry run queued {}", call.operation());
        if let Some(instance) = call.instance() {
            assert!(
                self.spec.contains(instance),
                "{} on {instance}, outside group {}",
                call.operation(),
                self.spec.name
            );
        }
        self.queue.push(Queued { call, not_before: now, attempt: 0 });
    }

    /// End with a failure, stopping every standby this run answers for (started, possibly
    /// started, adopted or abandoned) except one it promoted behind a fence that still holds: a
    /// failed failover leaves nothing it started running beside another member.
    fn fail(&mut self, now: Timestamp, failure: Failure) {
        assert!(self.finishing.is_none(), "a failover fails once");
        self.queue.clear();
        self.rollback_started_at = Some(now);
        let fence_held_and_promoted =
            self.milestones.fence_confirmed_at.is_some() && self.milestones.promoted_at.is_some();
        let promoted_behind_fence = self
            .current
            .as_ref()
            .filter(|_| fence_held_and_promoted)
            .map(|candidate| candidate.instance.clone());
        let mut rollback: BTreeSet<InstanceId> = self.started.union(&self.adopted).cloned().collect();
        rollback.extend(self.abandoned.keys().cloned());
        // Its last observed state may predate the start, and stopping a stopped instance is a
        // harmless no-op: every one is stopped.
        for instance in
            rollback.into_iter().filter(|instance| Some(instance) != promoted_behind_fence.as_ref())
        {
            self.queue.push(Queued {
                call: Call::Stop { instance, force: true },
                not_before: now,
                attempt: 0,
            });
        }
        self.finishing = Some(Outcome::Failed { failure });
    }

    /// Until when a failed call may be retried: the failover's deadline while it runs, and
    /// `ROLLBACK_LIMIT` after a failure for the rollback's calls.
    fn retries_until(&self) -> Timestamp {
        self.rollback_started_at.map_or(self.deadline, |failed_at| failed_at + ROLLBACK_LIMIT)
    }

    /// Whether the latest observation of `instance` records it active.
    fn recorded_active(&self, instance: &InstanceId) -> bool {
        let observation = self.seen.get(instance).and_then(|seen| seen.observation.as_ref());
        observation.and_then(|observation| Role::recorded_in(&observation.tags)) == Some(Role::Active)
    }

    /// The convergence rule: every member but `target` is, in the latest observation, stopped or
    /// gone (or has not been returned for longer than answers stay stale, after last being seen
    /// gone or never at all).
    fn others_settled(&self, target: &InstanceId, now: Timestamp) -> bool {
        self.seen.iter().filter(|(member, _)| *member != target).all(|(_, seen)| match seen.state() {
            Some(state) => !state.is_live() || state.is_gone(),
            None => {
                let last = seen.observation.as_ref().map(|observation| observation.state);
                let long_gone =
                    seen.absent_since.is_some_and(|since| now.saturating_since(since) >= NOT_VISIBLE_GRACE);
                long_gone && last.is_none_or(InstanceState::is_gone)
            }
        })
    }

    fn finish(&mut self, now: Timestamp) {
        if let Some(Outcome::FailedOver { to, .. }) = &self.finishing {
            // The convergence rule, on the latest observation, whatever path led here.
            debug_assert!(
                self.seen[to].state() == Some(InstanceState::Running) && self.others_settled(to, now),
                "group {}: success reported while {to} is not the only member that can serve",
                self.spec.name
            );
        }
        let outcome = self.finishing.as_ref().expect("finish needs an outcome").to_string();
        self.emit(now, EventKind::Finished { outcome });
        self.finished = true;
    }

    /// What the failover is waiting for, in words.
    fn waiting_for(&self) -> String {
        if self.finishing.is_some() {
            return "rollback calls".to_owned();
        }
        if self.plan.is_none() {
            return "the first observation of the group".to_owned();
        }
        if self.milestones.fence_confirmed_at.is_none() {
            if let Some(target) =
                self.fence.iter().find(|t| self.seen[&t.instance].state().is_none_or(InstanceState::is_live))
            {
                return format!("{} to stop", target.instance);
            }
        }
        if let Some(candidate) = &self.current {
            if self.milestones.promoted_at.is_none() {
                return format!("{} to start", candidate.instance);
            }
        }
        if self.milestones.fence_confirmed_at.is_none() && self.spec.ordering == Ordering::Parallel {
            return "the fence to be confirmed".to_owned();
        }
        if let Some((instance, _)) = self
            .abandoned
            .iter()
            .find(|(instance, _)| self.seen[*instance].state().is_none_or(InstanceState::is_live))
        {
            return format!("{instance} (a standby given up on) to stop");
        }
        "tags to be recorded".to_owned()
    }

    fn emit(&mut self, at: Timestamp, kind: EventKind) {
        self.events.push(Event { at, kind });
    }
}
