//! The failover state machine. It owns no client and reads no clock: the caller asks it for the
//! next [`Action`] with the current time, makes the call it names (or sleeps until the time it
//! names), and feeds the result back. Every decision is taken from the latest observation of the
//! whole group (level-triggered), so a second run, or a run resumed after a crash, picks up from
//! whatever state the instances are really in.
//!
//! Where a run stands is its [`Phase`]; what wakes it is a [`Timer`]; what it waits for is a
//! [`WaitingFor`]. The report's milestones are written for output only and never read back.

mod calls;
mod clients;
mod complete;
mod fence;
mod isolate;
mod observe;
mod options;
mod phase;
mod plan;
mod signals;
use plan::SincePlan;
use promote::Candidate;
mod promote;
mod rollback;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

pub use isolate::UNOBSERVABLE_GRACE;
pub use options::{Evidence, Options};
pub use phase::{Phase, Timer, WaitingFor};

use crate::backoff::Backoff;
use crate::clients::{Change, Mover, Probe, ProbeResult};
use crate::group::{FenceMode, GroupSpec, Ordering, WhenNotReady};
use crate::instance::{InstanceId, InstanceState, Observation};
use crate::provider::{ApiError, Call, ErrorKind, Reply, CALL_TIMEOUT};
use crate::report::{Event, EventKind, Failure, Milestones, Outcome, Plan, Report};
use crate::tags::Role;
use crate::time::{millis, Timestamp};
use clients::ClientsStage;
use observe::Seen;
use rollback::Abandoned;

/// How often the group is described while a state change is awaited. 250 ms keeps the time
/// between a change and its observation well under a second with typical API latency, at four
/// describe calls a second for a group in one zone (a request per zone: the fleet stretches the
/// interval to keep all of its describes under `DESCRIBES_PER_SECOND`).
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_millis(250);

/// How long a standby may be missing from describe results before it counts as not found
/// (describe results are eventually consistent, and an empty answer proves nothing).
pub const NOT_VISIBLE_GRACE: Duration = Duration::from_secs(10);

/// How old a describe answer may be: EC2 documents no bound for its eventual consistency, so the
/// engine assumes an answer can show an instance as it was up to 10 s earlier. An observation
/// counts as settled (fit to confirm a fence, promote a standby or judge convergence) only when
/// it was made at least this long after this run began and after this run's last start or stop
/// request on that instance: it then shows a state from after those, whatever its age.
pub const DESCRIBE_STALENESS: Duration = Duration::from_secs(10);

/// How long a failed run keeps trying to stop a standby it started that is still pending (EC2
/// refuses to stop it until it runs): longer than a slow boot. Past it, the invocation's retry
/// (or the next run) finds the standby and deals with it.
pub const ROLLBACK_LIMIT: Duration = Duration::from_secs(600);

/// What the caller must do next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Make this call and pass its result to [`Failover::on_result`]; a call still unanswered
    /// at [`Failover::answer_by`] is abandoned and reported as a timeout.
    Call(Call),
    /// Nothing to do before `until`.
    Sleep { until: Timestamp, waiting_for: WaitingFor },
    /// The failover is over: take the report with [`Failover::into_report`].
    Finished,
}

#[derive(Clone, Debug)]
struct Queued {
    call: Call,
    not_before: Timestamp,
    attempt: u32,
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
    /// Cutting it off, when it cannot be observed and the group isolates such members.
    isolation: Option<isolate::Isolation>,
}

impl FenceTarget {
    /// A member the plan fences, nothing sent to it yet.
    fn new(instance: InstanceId) -> Self {
        Self {
            instance,
            stop_requested_at: None,
            force_requested: false,
            stop_in_flight: false,
            blind_stop_sent: false,
            isolation: None,
        }
    }
}

/// One failover of one group, from the first observation to a recorded active standby or a
/// reported failure.
#[derive(Debug)]
pub struct Failover {
    spec: GroupSpec,
    options: Options,
    phase: Phase,
    rng: fastrand::Rng,
    /// Until when the driver had no request token for this run's last call.
    token_wait_until: Option<Timestamp>,
    started_at: Timestamp,
    /// When the first describe answer of this run arrived: the grace for a complete answer
    /// counts from it, not from the start (throttled describes may use the grace up).
    first_answer_at: Option<Timestamp>,
    deadline: Timestamp,
    events: Vec<Event>,
    calls: BTreeMap<&'static str, u32>,
    seen: BTreeMap<InstanceId, Seen>,
    plan: Option<Plan>,
    fence: Vec<FenceTarget>,
    fence_started_at: Option<Timestamp>,
    fence_confirmed_at: Option<Timestamp>,
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
    /// Standbys given up on for not running within the start timeout.
    too_slow: BTreeSet<InstanceId>,
    /// A standby given up on for slowness was taken back once the list ran out (once a run).
    took_back_late: bool,
    /// When the run failed and began stopping what it started.
    rollback_started_at: Option<Timestamp>,
    /// For the report only: never read to take a decision.
    milestones: Milestones,
    /// Readiness and movers for the promoted member, once it runs alone behind the fence.
    clients: Option<ClientsStage>,
    /// Tag writes still to be acknowledged, once recording has begun.
    record_remaining: Option<usize>,
    /// The write that records the new active member, held back until every demotion is
    /// acknowledged: a demotion retried after an error must still land first.
    activation: Option<Call>,
    queue: Vec<Queued>,
    in_flight: Option<Queued>,
    /// When the call in flight must have answered by.
    answer_by: Option<Timestamp>,
    /// When the call in flight was sent.
    call_sent_at: Option<Timestamp>,
    next_observe_at: Timestamp,
    describe_failures: u32,
    /// Set when the run enters `Closing`.
    outcome: Option<Outcome>,
    /// The epoch of the group's lease, when the run holds one (for the trigger tag).
    lease_epoch: Option<u64>,
    /// An isolating group's standby subnets: whether each is on the quarantine ACL (None: not
    /// read yet). See `isolate.rs`.
    standby_subnets: BTreeMap<String, Option<bool>>,
}

impl Failover {
    /// A failover of `spec` starting at `now`.
    pub fn new(spec: GroupSpec, options: Options, now: Timestamp) -> Self {
        spec.assert_well_formed();
        assert!(!options.poll_interval.is_zero(), "the poll interval must be positive");
        let own_deadline = now + crate::budget::longest_run(&spec);
        let deadline = options.deadline.map_or(own_deadline, |given| given.min(own_deadline));
        let seen = spec.members().into_iter().map(|member| (member, Seen::new(now))).collect();
        let mut failover = Self {
            phase: Phase::Observing,
            rng: fastrand::Rng::with_seed(options.seed),
            token_wait_until: None,
            started_at: now,
            first_answer_at: None,
            deadline,
            events: Vec::new(),
            calls: BTreeMap::new(),
            seen,
            plan: None,
            fence: Vec::new(),
            fence_started_at: None,
            fence_confirmed_at: None,
            candidates: VecDeque::new(),
            current: None,
            tried: Vec::new(),
            started: BTreeSet::new(),
            adopted: BTreeSet::new(),
            abandoned: BTreeMap::new(),
            too_slow: BTreeSet::new(),
            took_back_late: false,
            rollback_started_at: None,
            milestones: Milestones::default(),
            clients: None,
            record_remaining: None,
            activation: None,
            queue: Vec::new(),
            in_flight: None,
            answer_by: None,
            call_sent_at: None,
            next_observe_at: now,
            describe_failures: 0,
            outcome: None,
            lease_epoch: None,
            standby_subnets: BTreeMap::new(),
            spec,
            options,
        };
        failover.read_standby_subnets(now);
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

    pub fn phase(&self) -> Phase {
        self.phase
    }

    pub fn is_finished(&self) -> bool {
        self.phase == Phase::Finished
    }

    /// When the call named by the last [`Action::Call`] must have answered by: one call's
    /// timeout, or less when the time left to retry (the deadline, or the rollback's limit) is
    /// shorter. A call that has not answered by then counts as a timeout (which, for a start or
    /// a stop, may still have happened).
    pub fn answer_by(&self) -> Timestamp {
        self.answer_by.expect("answer_by is asked while a call is in flight")
    }

    /// The final report. Panics if the run has not finished.
    pub fn into_report(self) -> Report {
        assert!(self.is_finished(), "into_report before the failover finished");
        let outcome = self.outcome.expect("a finished failover has an outcome");
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
    #[must_use = "the action is the run's next step: a call to make, a time to sleep until, or the end"]
    pub fn poll(&mut self, now: Timestamp) -> Action {
        assert!(self.in_flight.is_none(), "poll while a call awaits its result");
        if self.is_finished() {
            return Action::Finished;
        }
        self.check_deadlines(now);
        self.advance_clients_due(now);
        if self.phase == Phase::Closing && self.queue.is_empty() {
            self.finish(now);
            return Action::Finished;
        }

        let ready = self.queue.iter().position(|queued| queued.not_before <= now);
        let observe_due = self.timer(Timer::Observe).is_some_and(|at| now >= at);
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
            *self.calls.entry(queued.call.operation()).or_default() += 1;
            let call = queued.call.clone();
            let time_left = self.retries_until().max(now + Duration::from_secs(1));
            self.answer_by = Some((now + CALL_TIMEOUT).min(time_left));
            self.call_sent_at = Some(now);
            self.in_flight = Some(queued);
            return Action::Call(call);
        }

        let until = Timer::ALL
            .into_iter()
            .filter_map(|timer| self.timer(timer))
            .min()
            .expect("a failover that is not finished always has a timer set");
        let waiting_for = match self.token_wait_until {
            Some(at) if now < at => WaitingFor::RequestToken,
            _ => self.waiting_for(),
        };
        Action::Sleep { until, waiting_for }
    }

    /// When `timer` fires, if it is set. While closing, only queued calls wake the run.
    pub fn timer(&self, timer: Timer) -> Option<Timestamp> {
        let running = !self.phase.is_closing();
        match timer {
            Timer::Call => self.queue.iter().map(|queued| queued.not_before).min(),
            Timer::Observe => running.then_some(self.next_observe_at),
            Timer::Fence => self.fence_deadline().filter(|_| running),
            Timer::Clients => self.clients.as_ref().and_then(ClientsStage::wakes_at).filter(|_| running),
            Timer::Failover => running.then_some(self.deadline),
        }
    }

    /// Move to `next`, which must be a legal transition from the current phase, with the data
    /// that phase works on in place: a plan to fence and promote by; a fence that held and a
    /// promoted member before clients move or the record is written; an outcome to finish with.
    fn enter(&mut self, next: Phase) {
        assert!(
            self.phase.may_enter(next),
            "group {}: illegal phase change {:?} -> {next:?}",
            self.spec.name,
            self.phase
        );
        let has_what_it_needs = match next {
            Phase::Fencing | Phase::Promoting => self.plan.is_some(),
            Phase::Readying | Phase::MovingClients | Phase::Recording => {
                self.fence_confirmed_at.is_some() && self.promoted().is_some()
            }
            Phase::Finished => self.outcome.is_some(),
            Phase::Observing | Phase::Closing => true,
        };
        assert!(has_what_it_needs, "group {}: entering {next:?} without the data it needs", self.spec.name);
        self.phase = next;
    }

    /// Decide the outcome and start closing: queued calls (a rollback's stops) still drain.
    fn close(&mut self, now: Timestamp, outcome: Outcome) {
        if let Outcome::FailedOver { to, .. } = &outcome {
            // The convergence rule, on the latest observation, whatever path led here: the safety
            // claim itself, cheap to check, so checked in release builds too.
            assert!(
                self.seen[to].state() == Some(InstanceState::Running) && self.others_settled(to, now),
                "group {}: success reported while {to} is not the only member that can serve",
                self.spec.name
            );
        }
        self.enter(Phase::Closing);
        self.outcome = Some(outcome);
    }

    /// Fail when the fence or the whole failover runs out of time, whether or not describe
    /// calls are getting through.
    fn check_deadlines(&mut self, now: Timestamp) {
        if self.phase.is_closing() {
            return;
        }
        if self.fence_deadline().is_some_and(|deadline| now >= deadline) {
            let confirmed = |state: Option<InstanceState>| {
                matches!(state, Some(InstanceState::Stopped | InstanceState::Terminated))
            };
            let target = self.fence.iter().find(|target| {
                !confirmed(self.seen[&target.instance].settled_state()) && !self.is_isolated(&target.instance)
            });
            let Some(target) = target else {
                // Every target is settled stopped (or left the fence to become the candidate)
                // since the fence was last advanced: it holds.
                self.advance_fence(now);
                return;
            };
            let (instance, last_state) = (target.instance.clone(), self.seen[&target.instance].state());
            let failure = match &self.seen[&instance].unobservable {
                Some((_, error)) => {
                    let zone = self.zone_of(&instance);
                    Failure::Unobservable { instance, zone, error: error.to_string() }
                }
                None => Failure::FenceNotConfirmed { instance, last_state },
            };
            self.fail(now, failure);
        } else if now >= self.deadline {
            let waiting_for = self.waiting_for().to_string();
            self.fail(now, Failure::DeadlineExceeded { waiting_for });
        }
    }

    /// Decide the next steps from the latest observation.
    fn reconcile(&mut self, now: Timestamp) {
        if self.phase == Phase::Observing {
            // An empty or partial answer is no basis for a plan: wait (a bounded while) until
            // every member has been returned, so their states and tags are known.
            // Every member, not just the primary: a standby left out of a partial answer may be
            // the one serving, and a plan that cannot see it would start another beside it.
            // The while counts from the first answer: one that comes late (describes throttled
            // for longer than the grace) and empty must not be planned on alone.
            let all_seen = self.seen.values().all(|seen| seen.observation.is_some())
                && self.standby_subnets.values().all(Option::is_some);
            let answering_since = *self.first_answer_at.get_or_insert(now);
            if !all_seen && now.saturating_since(answering_since) < NOT_VISIBLE_GRACE {
                return;
            }
            // A group already failed over (a standby recorded active) is judged only on a settled
            // answer that returns that standby: a stale or partial one may show it not running,
            // and fencing it for that would undo a good failover. Nothing is urgent then, so the
            // run waits for one, up to its deadline.
            let recorded_standby = self.spec.standbys.iter().find(|standby| self.recorded_active(standby));
            if recorded_standby.is_some_and(|standby| self.seen[standby].settled_state().is_none()) {
                return;
            }
            self.make_plan(now);
            if self.phase.is_closing() {
                return;
            }
        }
        let since_plan =
            if self.phase == Phase::Fencing { self.history_since_plan(now) } else { SincePlan::Unchanged };
        match since_plan {
            SincePlan::MovedOn => return,
            SincePlan::Hold => self.hold_fence(),
            SincePlan::Unchanged => {
                self.advance_isolation(now);
                self.advance_fence(now);
            }
        }
        self.advance_abandoned(now);
        if self.phase == Phase::Fencing && self.fence_confirmed_at.is_some() {
            self.enter(Phase::Promoting);
        }
        if self.phase.is_promoting() {
            self.advance_promotion(now);
        }
        if self.phase.is_promoting() {
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

    /// The promoted standby, if the current candidate is running and taken as such.
    fn promoted(&self) -> Option<&InstanceId> {
        self.current.as_ref().filter(|candidate| candidate.promoted_at.is_some()).map(|c| &c.instance)
    }

    fn finish(&mut self, now: Timestamp) {
        let outcome = self.outcome.as_ref().expect("finish needs an outcome").to_string();
        self.emit(now, EventKind::Finished { outcome });
        self.enter(Phase::Finished);
    }

    fn emit(&mut self, at: Timestamp, kind: EventKind) {
        self.events.push(Event { at, kind });
    }
}
