//! A group's lease in a shared store (a DynamoDB table): the one right to act on the group,
//! across processes. Sans-IO like the rest of the engine: [`Lease::poll`] names the next store
//! call or when to wake, [`Lease::on_result`] takes its answer.
//!
//! The rules, and why:
//! - Taken and renewed only by conditional writes on the record's `version`, which every write
//!   changes: of two writers that saw the same record, one wins.
//! - A record held by someone else is taken over only after it was seen unchanged for its whole
//!   `duration`, timed on this process's own clock from when the read answered. The holder's
//!   right to act ended at most `duration` after it sent its last successful write, which was
//!   before that read: no clock is compared with another.
//! - The holder acts only until [`ACT_MARGIN_DIVISOR`] of the duration before its own deadline
//!   (counted from when it *sent* the write that granted it), and stops acting when it cannot
//!   renew in time: there is no renewal that outlives the process's right to act.
//! - The lease fences sends, not only decisions: a call is sent only with at least
//!   [`MIN_CALL_WINDOW`] of acting time left, and abandoned by [`Lease::act_until`] at the latest;
//!   a call abandoned so is assumed to land, if ever, within the margin after. A renewal refused
//!   (the record changed) stops acting at once, until a read shows the record still ours. A run
//!   whose last calls went unanswered releases only once they can no longer land
//!   ([`Lease::release_after`]).
//! - Expiry is never left to the store (DynamoDB's TTL deletes items days late): a released
//!   record stays, without owner, so the epoch keeps counting up.
//! - A write whose answer was lost may have landed: the next read recognises our own version.

mod store;
#[cfg(test)]
mod tests;

use std::time::Duration;

pub use store::{LeaseCall, LeaseEnd, LeaseRecord, LeaseReply, LeaseSettings};

use crate::backoff::Backoff;
use crate::provider::{ApiError, ErrorKind};
use crate::time::{millis, Timestamp};

/// The lease duration unless configured: a crashed holder's group waits this long (plus a read)
/// before another process takes it over; a holder renews every third of it.
pub const DEFAULT_DURATION: Duration = Duration::from_secs(20);

/// The holder stops acting when a quarter of the duration is left: a call sent just before
/// then still lands well before a contender can take over, unless the network holds it longer.
pub const ACT_MARGIN_DIVISOR: u32 = 4;

/// The least acting time left for a call to be sent: a call needs time to be answered before
/// the holder must stop, or it would only be abandoned.
pub const MIN_CALL_WINDOW: Duration = Duration::from_secs(1);

/// How many store calls one lease may make: a bound on its loop, far above any real lease's
/// needs (a renewal every few seconds for the longest failover).
const MAX_CALLS: u32 = 10_000;

/// What the lease needs next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LeaseStep {
    /// Make this call; abandon it (a transient error) if unanswered by `answer_by`.
    Call { call: LeaseCall, answer_by: Timestamp },
    /// Nothing to do before then.
    Sleep { until: Timestamp },
    /// Over: nothing more will be asked.
    Ended,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum State {
    /// Read the record at `at`.
    ToRead {
        at: Timestamp,
    },
    /// Someone else's record, seen unchanged since `since`: read again at `next_read` (a
    /// change means its holder is alive), and claim it once its whole duration has passed.
    Watching {
        seen: LeaseRecord,
        since: Timestamp,
        next_read: Timestamp,
    },
    /// Write `claim` if the record's version is still `expected`.
    Claiming {
        claim: LeaseRecord,
        expected: Option<String>,
    },
    /// Held until `deadline` (acting stops a margin before it); renew from `renew_at`.
    Held {
        record: LeaseRecord,
        deadline: Timestamp,
        renew_at: Timestamp,
    },
    /// A renewal was refused or unanswered: read at `at` whether ours landed. `refused`: the
    /// store said the record changed, so someone else may hold it: no acting meanwhile.
    Checking {
        record: LeaseRecord,
        deadline: Timestamp,
        at: Timestamp,
        refused: bool,
    },
    /// The run is over: write the record back without owner.
    Releasing {
        record: LeaseRecord,
        deadline: Timestamp,
    },
    Ended(LeaseEnd),
}

/// One group's lease, from the first read to its release.
#[derive(Debug)]
pub struct Lease {
    settings: LeaseSettings,
    group: String,
    state: State,
    /// The run is over: release what is held, claim nothing more.
    released: bool,
    /// Hold (renewed, not acting) until then before releasing: an abandoned call may land.
    release_at: Option<Timestamp>,
    /// The call in flight, with when it was sent.
    in_flight: Option<(LeaseCall, Timestamp)>,
    /// Our writes whose answer never came (they may have landed): version and send time.
    unanswered: Vec<(String, Timestamp)>,
    /// Failed calls in a row, for the backoff.
    failures: u32,
    calls: u32,
    writes: u64,
    /// Drawn once per lease, in every version it writes: the same process's next run on the
    /// group writes other versions, so a read never takes an earlier run's write for its own.
    nonce: u64,
    rng: fastrand::Rng,
}

impl Lease {
    /// A lease on `group`, to be asked for from `now`.
    pub fn new(settings: LeaseSettings, group: &str, now: Timestamp, seed: u64) -> Self {
        assert!(!settings.duration.is_zero(), "a lease lasts some time");
        Self {
            settings,
            group: group.to_owned(),
            state: State::ToRead { at: now },
            released: false,
            release_at: None,
            in_flight: None,
            unanswered: Vec::new(),
            failures: 0,
            calls: 0,
            writes: 0,
            nonce: fastrand::Rng::with_seed(seed ^ now.unix_millis().rotate_left(17) ^ 0x0ce).u64(..),
            rng: fastrand::Rng::with_seed(seed ^ 0x1ea5e),
        }
    }

    pub fn settings(&self) -> &LeaseSettings {
        &self.settings
    }

    /// The epoch held, if the lease is held.
    pub fn held_epoch(&self) -> Option<u64> {
        match &self.state {
            State::Held { record, .. } | State::Checking { record, .. } => Some(record.epoch),
            _ => None,
        }
    }

    /// Whether a call may be sent at `now`: held (no renewal refused since), the run not over,
    /// and at least [`MIN_CALL_WINDOW`] of acting time left.
    pub fn may_act(&self, now: Timestamp) -> bool {
        !self.released && self.act_until().is_some_and(|until| now + MIN_CALL_WINDOW <= until)
    }

    /// Until when the holder may act: a margin before its deadline. A call sent under the lease
    /// must be answered or abandoned by then. None while not held, or after a refused renewal.
    pub fn act_until(&self) -> Option<Timestamp> {
        match &self.state {
            State::Held { deadline, .. } | State::Checking { deadline, refused: false, .. } => {
                Some(self.act_until_for(*deadline))
            }
            _ => None,
        }
    }

    /// How long after its abandonment a call is assumed able to land: the margin.
    pub fn landing_bound(&self) -> Duration {
        self.settings.duration / ACT_MARGIN_DIVISOR
    }

    /// How it ended, once it has.
    pub fn end(&self) -> Option<&LeaseEnd> {
        match &self.state {
            State::Ended(end) => Some(end),
            _ => None,
        }
    }

    /// Whether it is over: ended, nothing in flight.
    pub fn is_ended(&self) -> bool {
        self.in_flight.is_none() && matches!(self.state, State::Ended(_))
    }

    /// The holder this lease is waiting out, while it watches someone else's record.
    pub fn watching(&self) -> Option<&str> {
        match &self.state {
            State::Watching { seen, .. } => seen.owner.as_deref(),
            _ => None,
        }
    }

    /// The run is over: release what is held (after the call in flight, if any), claim
    /// nothing more.
    pub fn release(&mut self) {
        self.released = true;
    }

    /// The run is over, but a call it abandoned may land until `at`: stop acting now, keep the
    /// record (renewed) until then, so no contender acts while it might, and release after.
    pub fn release_after(&mut self, at: Timestamp) {
        self.released = true;
        // Released only after `at`: a call may still land at that very instant.
        let after = at + Duration::from_millis(1);
        self.release_at = Some(self.release_at.map_or(after, |earlier| earlier.max(after)));
    }

    /// The next step at `now`.
    #[must_use = "the step is the lease's next call to make, or what it now allows"]
    pub fn poll(&mut self, now: Timestamp) -> LeaseStep {
        assert!(self.in_flight.is_none(), "a lease is polled while its call is in flight");
        self.settle(now);
        let call = match &self.state {
            State::Ended(_) => return LeaseStep::Ended,
            State::ToRead { at } | State::Checking { at, .. } if now < *at => {
                return LeaseStep::Sleep { until: *at };
            }
            State::Watching { next_read, .. } if now < *next_read => {
                return LeaseStep::Sleep { until: *next_read }
            }
            State::Held { renew_at, .. } if now < *renew_at => {
                // Held past the run's end (an abandoned call may land): wake to release too.
                let release_at = self.release_at.filter(|at| self.released && now < *at);
                return LeaseStep::Sleep { until: release_at.map_or(*renew_at, |at| at.min(*renew_at)) };
            }
            State::ToRead { .. } | State::Watching { .. } | State::Checking { .. } => self.read(),
            State::Claiming { claim, expected } => self.write(claim.clone(), expected.clone()),
            State::Held { record, .. } => {
                let (owner, epoch, version) = (record.owner.clone(), record.epoch, record.version.clone());
                let renewed = self.next_record(owner, epoch);
                self.write(renewed, Some(version))
            }
            State::Releasing { record, .. } => {
                let (epoch, version) = (record.epoch, record.version.clone());
                let released = self.next_record(None, epoch);
                self.write(released, Some(version))
            }
        };
        self.calls += 1;
        self.in_flight = Some((call.clone(), now));
        // A store call answers in milliseconds; a quarter of the lease bounds the wait.
        let answer_by = now + (self.settings.duration / ACT_MARGIN_DIVISOR).max(Duration::from_secs(1));
        LeaseStep::Call { call, answer_by }
    }

    /// Take in the answer to the call in flight.
    pub fn on_result(&mut self, now: Timestamp, result: Result<LeaseReply, ApiError>) {
        let (call, sent_at) = self.in_flight.take().expect("a result for a call in flight");
        match (call, result) {
            (LeaseCall::Read { .. }, Ok(LeaseReply::Read(record))) => {
                self.failures = 0;
                self.on_read(now, record);
            }
            (LeaseCall::Write { record, .. }, Ok(LeaseReply::Written)) => {
                self.failures = 0;
                self.unanswered.clear();
                self.on_written(record, sent_at);
            }
            (LeaseCall::Write { record: written, .. }, Err(error))
                if error.kind.is_retryable() && matches!(self.state, State::Releasing { .. }) =>
            {
                // Asked again until the deadline (then it expires by itself); a timeout may
                // have landed, which the read tells.
                if error.kind == ErrorKind::Transient {
                    self.unanswered.push((written.version, sent_at));
                }
                let at = now + self.backoff();
                let State::Releasing { record, deadline } =
                    std::mem::replace(&mut self.state, State::ToRead { at })
                else {
                    unreachable!("matched above")
                };
                self.state = State::Checking { record, deadline, at, refused: false };
            }
            (LeaseCall::Write { .. }, Err(_)) if matches!(self.state, State::Releasing { .. }) => {
                // Refused: someone else's now, or it expires by itself after its duration.
                self.state = State::Ended(LeaseEnd::Released);
            }
            (LeaseCall::Write { .. }, Err(error)) if error.kind == ErrorKind::WrongState => {
                // The record moved under us: read it again.
                self.state = match std::mem::replace(&mut self.state, State::ToRead { at: now }) {
                    State::Held { record, deadline, .. } => {
                        State::Checking { record, deadline, at: now, refused: true }
                    }
                    _ => State::ToRead { at: now },
                };
            }
            (LeaseCall::Write { record: written, .. }, Err(error)) if error.kind.is_retryable() => {
                // It may have landed: the next read tells.
                self.unanswered.push((written.version, sent_at));
                let at = now + self.backoff();
                self.state = match std::mem::replace(&mut self.state, State::ToRead { at }) {
                    State::Held { record, deadline, .. } => {
                        State::Checking { record, deadline, at, refused: false }
                    }
                    _ => State::ToRead { at },
                };
            }
            (LeaseCall::Read { .. }, Err(error)) if error.kind.is_retryable() => {
                let at = now + self.backoff();
                match &mut self.state {
                    State::ToRead { at: due } | State::Checking { at: due, .. } => *due = at,
                    // A watch re-reads when the duration is up; a failed read says nothing.
                    State::Watching { .. } => self.state = State::ToRead { at },
                    State::Claiming { .. }
                    | State::Held { .. }
                    | State::Releasing { .. }
                    | State::Ended(_) => {}
                }
            }
            (_, Err(error)) => {
                let end = match &self.state {
                    State::Held { .. } | State::Checking { .. } => {
                        LeaseEnd::Lost { reason: format!("the store refused: {error}") }
                    }
                    _ => LeaseEnd::Unavailable { error },
                };
                self.state = State::Ended(end);
            }
            (call, Ok(reply)) => unreachable!("{} answered with {reply:?}", call.operation()),
        }
    }

    /// Move on what time and the run's end decide, before the next call.
    fn settle(&mut self, now: Timestamp) {
        if self.calls >= MAX_CALLS && !matches!(self.state, State::Ended(_)) {
            let reason = format!("gave up after {MAX_CALLS} store calls");
            self.state = State::Ended(LeaseEnd::Lost { reason });
        }
        if let State::Held { deadline, .. } | State::Checking { deadline, .. } = &self.state {
            if now >= self.act_until_for(*deadline) {
                let reason = "not renewed in time: stopped acting".to_owned();
                self.state =
                    State::Ended(if self.released { LeaseEnd::Released } else { LeaseEnd::Lost { reason } });
            }
        }
        let holding_on = self.release_at.is_some_and(|at| now < at)
            && matches!(self.state, State::Held { .. } | State::Checking { refused: false, .. });
        if !self.released || holding_on {
            return;
        }
        self.state = match std::mem::replace(&mut self.state, State::Ended(LeaseEnd::Released)) {
            State::Held { record, deadline, .. } => State::Releasing { record, deadline },
            // A claim whose answer was lost may have landed: read to release it.
            State::ToRead { at } if !self.unanswered.is_empty() => State::ToRead { at },
            State::Checking { record, deadline, at, refused } => {
                State::Checking { record, deadline, at, refused }
            }
            State::Releasing { record, deadline } => State::Releasing { record, deadline },
            State::Ended(end) => State::Ended(end),
            State::ToRead { .. } | State::Watching { .. } | State::Claiming { .. } => {
                State::Ended(LeaseEnd::Released)
            }
        };
    }

    fn on_read(&mut self, now: Timestamp, record: Option<LeaseRecord>) {
        // One of our writes whose answer was lost landed: it holds from when it was sent.
        let landed = record.as_ref().and_then(|record| {
            let (_, sent_at) = self.unanswered.iter().find(|(version, _)| *version == record.version)?;
            Some((record.clone(), *sent_at))
        });
        self.unanswered.clear();
        if let Some((record, sent_at)) = landed {
            self.on_written(record, sent_at);
            return;
        }
        let owner = Some(self.settings.owner.clone());
        self.state = match (std::mem::replace(&mut self.state, State::ToRead { at: now }), record) {
            (State::Checking { record: mine, deadline, .. }, Some(current)) if current == mine => {
                // Our renewal did not land; the record is still ours.
                State::Held { record: mine, deadline, renew_at: now }
            }
            (State::Checking { .. }, current) => {
                let reason = match current.and_then(|c| c.owner.map(|owner| (owner, c.epoch))) {
                    Some((owner, epoch)) => format!("taken over by {owner} (epoch {epoch})"),
                    None => "released by another process".to_owned(),
                };
                State::Ended(LeaseEnd::Lost { reason })
            }
            _ if self.released => State::Ended(LeaseEnd::Released),
            (_, None) => State::Claiming { claim: self.next_record(owner, 1), expected: None },
            (_, Some(current)) if current.owner.is_none() => State::Claiming {
                claim: self.next_record(owner, current.epoch + 1),
                expected: Some(current.version),
            },
            (State::Watching { seen, since, .. }, Some(current)) if seen == current => {
                let duration = Duration::from_millis(current.duration_ms);
                if now.saturating_since(since) >= duration {
                    // Unchanged for its whole duration: its holder's right has ended.
                    let claim = self.next_record(owner, current.epoch + 1);
                    State::Claiming { claim, expected: Some(current.version) }
                } else {
                    State::Watching { seen, since, next_read: self.next_watch_read(now, since, duration) }
                }
            }
            (State::Watching { .. }, Some(current)) => State::Ended(LeaseEnd::HeldBy {
                owner: current.owner.unwrap_or_default(),
                epoch: current.epoch,
            }),
            (_, Some(current)) => {
                let next_read = self.next_watch_read(now, now, Duration::from_millis(current.duration_ms));
                State::Watching { seen: current, since: now, next_read }
            }
        };
    }

    /// When a watcher reads again: every quarter of the duration (a live holder renews every
    /// third, so a change shows within one), and when the duration is up.
    fn next_watch_read(&self, now: Timestamp, since: Timestamp, duration: Duration) -> Timestamp {
        (now + (duration / 4).max(Duration::from_millis(100))).min(since + duration)
    }

    fn on_written(&mut self, record: LeaseRecord, sent_at: Timestamp) {
        self.state = match record.owner {
            None => State::Ended(LeaseEnd::Released),
            Some(_) => {
                let deadline = sent_at + Duration::from_millis(record.duration_ms);
                let renew_at = sent_at + self.settings.duration / 3;
                State::Held { record, deadline, renew_at }
            }
        };
    }

    fn backoff(&mut self) -> Duration {
        let delay = Backoff::API.delay(self.failures, &mut self.rng);
        self.failures += 1;
        delay
    }

    fn act_until_for(&self, deadline: Timestamp) -> Timestamp {
        let margin = millis(self.settings.duration / ACT_MARGIN_DIVISOR);
        Timestamp::from_unix_millis(deadline.unix_millis().saturating_sub(margin))
    }

    fn read(&self) -> LeaseCall {
        LeaseCall::Read { table: self.settings.table.clone(), group: self.group.clone() }
    }

    fn write(&self, record: LeaseRecord, expected: Option<String>) -> LeaseCall {
        LeaseCall::Write { table: self.settings.table.clone(), record, expected }
    }

    fn next_record(&mut self, owner: Option<String>, epoch: u64) -> LeaseRecord {
        self.writes += 1;
        LeaseRecord {
            group: self.group.clone(),
            version: format!("{} {:016x} #{}", self.settings.owner, self.nonce, self.writes),
            owner,
            epoch,
            duration_ms: millis(self.settings.duration),
        }
    }
}
