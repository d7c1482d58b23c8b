//! The fleet: every group that is failing over, stepped together, with their calls merged. EC2's
//! request limits are per account and Region, so a thousand groups fail over as fast as one only
//! if they share requests: one describe round per poll for all of them (one request per
//! Availability Zone and per [`MAX_IDS_PER_REQUEST`] ids), starts, stops and tag writes merged by
//! zone and kind, and one set of request buckets. A merged request refused for one instance is
//! asked again in halves until every instance has its own answer; each group's [`Failover`] sees
//! only its own instances' results.
//!
//! Like `Failover` it reads no clock and makes no call: [`Fleet::poll`] says what to send and
//! when to wake, [`Fleet::on_answer`] takes what came back. One group alone is a fleet of one.

mod capacity;
mod leasing;
mod request;
mod round;
mod sending;
mod zones;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

pub use request::{Answer, Request, DESCRIBE_IDS_PER_REQUEST, MAX_IDS_PER_REQUEST};
pub use zones::Zones;

use crate::backoff::Backoff;
use crate::driver::Observer;
use crate::failover::{Action, Failover, WaitingFor};
use crate::instance::{InstanceId, Observation};
use crate::lease::Lease;
use crate::provider::{ApiError, Call, ErrorKind, Reply};
use crate::rate_limit::{Bucket, RateLimiter};
use crate::report::Report;
use crate::time::Timestamp;
use request::MergeKey;
use round::Round;

/// How many describe requests a second the fleet allows itself: four fifths of the refill of
/// the bucket that describes by id draw from (10/s), which keeps a group in two zones at its
/// 250 ms poll interval; other tools' describes by id share the rest and the burst of 50
/// (movers' reads are filtered describes: another bucket).
const DESCRIBES_PER_SECOND: u64 = 8;

/// One request sent, as the driver makes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outgoing {
    pub id: u64,
    pub request: Request,
    /// Abandon it (a transient failure: it may have happened) if no answer came by then.
    pub answer_by: Timestamp,
}

/// What to do after a poll.
#[derive(Debug, Default)]
pub struct Poll {
    /// Requests to send now.
    pub send: Vec<Outgoing>,
    /// Poll again then, if no answer comes first (None: only an answer can change anything).
    pub wake_at: Option<Timestamp>,
}

/// Requests by operation, for reports and benchmarks.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FleetStats {
    /// Requests sent, by operation.
    pub requests: BTreeMap<&'static str, u64>,
    /// Requests EC2 refused with `RequestLimitExceeded`.
    pub throttled: u64,
    /// Merged requests refused and asked again in halves.
    pub splits: u64,
    /// The most describe requests one round made.
    pub largest_round: usize,
}

#[derive(Debug)]
struct Run {
    failover: Failover,
    /// Its call is with the fleet: queued for a round, or sent.
    busy: bool,
    answer_by: Option<Timestamp>,
    /// Events already passed to the observer.
    reported: usize,
    /// Its latest sleep, and the last one passed to the observer.
    sleep: Option<(Timestamp, WaitingFor)>,
    last_wait: Option<(Timestamp, WaitingFor)>,
    /// The group's lease, when the fleet runs with leases: the run is polled only once it is
    /// held, and only while it may act.
    lease: Option<Lease>,
    /// Polled at least once (with leases: the lease was taken).
    started: bool,
    /// A lease call is in flight.
    lease_busy: bool,
    /// When its lease is next polled (its entry in `lease_idle`), if it waits.
    lease_wake: Option<Timestamp>,
    /// A call of this run was abandoned unanswered: it may still land until then, so the lease
    /// is kept (not acting) until then.
    may_land_until: Option<Timestamp>,
}

/// One instance's share of a merged request.
#[derive(Clone, Debug)]
struct Part {
    run: usize,
    instance: InstanceId,
}

#[derive(Debug)]
enum Sent {
    /// One request of the describe round in flight, for one zone (None: zone not known yet).
    Round {
        request: Request,
        zone: Option<String>,
    },
    Merged {
        request: Request,
        parts: Vec<Part>,
    },
    /// One call several runs asked for alike (one subnet's isolation): one answer for all.
    Shared {
        runs: Vec<usize>,
    },
    Single {
        run: usize,
    },
    Lease {
        run: usize,
    },
}

/// Many groups' failovers, stepped together.
#[derive(Debug)]
pub struct Fleet {
    runs: Vec<Run>,
    limiter: RateLimiter,
    zones: Zones,
    poll_interval: Duration,
    /// Runs with nothing at the fleet, by when they next need a poll.
    idle: BTreeSet<(Timestamp, usize)>,
    /// Runs polled or answered since the observer last heard.
    touched: BTreeSet<usize>,
    sent: BTreeMap<u64, Sent>,
    /// Pieces of refused merged requests, to send as soon as their tokens allow (their runs
    /// wait for them: sent again merged, they would be refused again).
    resend: Vec<(Timestamp, Request, Vec<Part>)>,
    round: Option<Round>,
    /// Runs whose describe waits for the round in flight to end.
    next_round: Vec<usize>,
    next_id: u64,
    stats: FleetStats,
    /// Instances whose calls go alone: a merged request was refused because of them.
    solo: BTreeSet<InstanceId>,
    /// Throttled answers in a row, by bucket: how long the next hold lasts.
    throttled_in_a_row: BTreeMap<Bucket, u32>,
    /// The jitter of those holds.
    rng: fastrand::Rng,
    /// Runs' leases with nothing in flight, by when they next need a poll.
    lease_idle: BTreeSet<(Timestamp, usize)>,
    /// Ids per describe: [`DESCRIBE_IDS_PER_REQUEST`], or fewer once EC2 refused that many.
    describe_ids: usize,
    /// Which instance types start in which zones (see `capacity.rs`).
    capacity: capacity::Capacity,
}

impl Fleet {
    /// A fleet of these failovers (built at `now`), with what is known of their zones. Their
    /// poll interval stretches, if need be, so the describe rounds stay within
    /// `DESCRIBES_PER_SECOND`.
    pub fn new(failovers: Vec<Failover>, mut zones: Zones, now: Timestamp) -> Self {
        assert!(!failovers.is_empty(), "a fleet needs at least one failover");
        for failover in &failovers {
            zones.hint(failover.spec().placement.iter().map(|(member, placement)| (member, &placement.zone)));
        }
        let mut members = BTreeSet::new();
        for failover in &failovers {
            members.extend(failover.spec().members());
        }
        let mut by_zone: BTreeMap<Option<&str>, usize> = BTreeMap::new();
        for member in &members {
            *by_zone.entry(zones.zone_of(member)).or_default() += 1;
        }
        let requests: usize = by_zone.values().map(|count| count.div_ceil(DESCRIBE_IDS_PER_REQUEST)).sum();
        let round_every = Duration::from_millis(1000 * requests as u64 / DESCRIBES_PER_SECOND);
        let runs: Vec<Run> = failovers
            .into_iter()
            .map(|mut failover| {
                failover.stretch_poll_interval(round_every);
                Run {
                    failover,
                    busy: false,
                    answer_by: None,
                    reported: 0,
                    sleep: None,
                    last_wait: None,
                    lease: None,
                    started: true,
                    lease_busy: false,
                    lease_wake: None,
                    may_land_until: None,
                }
            })
            .collect();
        let poll_interval = runs.iter().map(|run| run.failover.poll_interval()).max().unwrap_or_default();
        let seed = runs[0].failover.seed() ^ 0x00f1_ee75;
        Self {
            idle: (0..runs.len()).map(|index| (now, index)).collect(),
            touched: (0..runs.len()).collect(),
            runs,
            limiter: RateLimiter::new(),
            zones,
            poll_interval,
            sent: BTreeMap::new(),
            resend: Vec::new(),
            round: None,
            next_round: Vec::new(),
            next_id: 0,
            stats: FleetStats::default(),
            solo: BTreeSet::new(),
            throttled_in_a_row: BTreeMap::new(),
            rng: fastrand::Rng::with_seed(seed),
            lease_idle: BTreeSet::new(),
            describe_ids: DESCRIBE_IDS_PER_REQUEST,
            capacity: capacity::Capacity::default(),
        }
    }

    /// Every run finished, every lease released and nothing is in flight.
    pub fn is_finished(&self) -> bool {
        self.sent.is_empty()
            && self
                .runs
                .iter()
                .all(|run| run.failover.is_finished() && run.lease.as_ref().is_none_or(Lease::is_ended))
    }

    pub fn stats(&self) -> &FleetStats {
        &self.stats
    }

    /// The runs, in the order given.
    pub fn failovers(&self) -> impl Iterator<Item = &Failover> {
        self.runs.iter().map(|run| &run.failover)
    }

    /// Every run's report, in the order given. Panics if the fleet has not finished.
    pub fn into_reports(self) -> Vec<Report> {
        assert!(self.is_finished(), "into_reports before the fleet finished");
        self.runs.into_iter().map(|run| run.failover.into_report()).collect()
    }

    /// What to send at `now`, and when to poll again.
    #[must_use = "the requests must be sent, and the fleet polled again when it says"]
    pub fn poll(&mut self, now: Timestamp) -> Poll {
        let mut send = Vec::new();
        self.poll_leases(now, &mut send);
        let mut describing = Vec::new();
        let mut merged: BTreeMap<MergeKey, Vec<Part>> = BTreeMap::new();
        let mut singles: Vec<(Vec<usize>, Call)> = Vec::new();
        let due: Vec<(Timestamp, usize)> = self.idle.range(..=(now, usize::MAX)).copied().collect();
        for entry in due {
            self.idle.remove(&entry);
            self.poll_run(entry.1, now, &mut describing, &mut merged, &mut singles);
        }
        if !describing.is_empty() {
            // Bring together the observations due within a poll interval: one round for all.
            let soon = now + self.poll_interval;
            let upcoming: Vec<(Timestamp, usize)> = self.idle.range(..=(soon, usize::MAX)).copied().collect();
            for entry in upcoming {
                if self.runs[entry.1].failover.observe_early(now, soon) {
                    self.idle.remove(&entry);
                    self.poll_run(entry.1, now, &mut describing, &mut merged, &mut singles);
                }
            }
        }
        self.next_round.append(&mut describing);
        if self.round.is_none() && !self.next_round.is_empty() {
            let runs = std::mem::take(&mut self.next_round);
            self.start_round(now, runs, &mut send);
        }
        self.send_round_splits(now, &mut send);
        for (key, parts) in merged {
            let parts = self.capacity_gate(now, &key, parts);
            for chunk in parts.chunks(MAX_IDS_PER_REQUEST) {
                let request = key.request(chunk.iter().map(|part| part.instance.clone()).collect());
                self.send_merged(now, request, chunk.to_vec(), &mut send);
            }
        }
        let (due, later): (Vec<_>, Vec<_>) =
            std::mem::take(&mut self.resend).into_iter().partition(|(at, _, _)| *at <= now);
        self.resend = later;
        for (_, request, parts) in due {
            let Some((request, parts)) = self.still_allowed(now, request, parts) else { continue };
            let wanted = Self::tokens_for(&request);
            match self.limiter.try_take_all(&wanted, now) {
                Ok(()) => self.send_taken(now, request, parts, &mut send),
                Err(at) => self.resend.push((at, request, parts)),
            }
        }
        for (runs, call) in singles {
            self.send_single(now, runs, call, &mut send);
        }
        let resend_at = self.resend.iter().map(|(at, _, _)| *at).min();
        let lease_at = self.lease_idle.first().map(|(at, _)| *at);
        let wake_at = self.idle.first().map(|(at, _)| *at).into_iter().chain(resend_at).chain(lease_at).min();
        Poll { send, wake_at }
    }

    /// Take in the answer to request `id` at `now` (a timeout is a transient error).
    pub fn on_answer(&mut self, now: Timestamp, id: u64, result: Result<Answer, ApiError>) {
        let sent = self.sent.remove(&id).expect("an answer to a request that was sent");
        self.note_throttling(now, &sent, &result);
        if let Sent::Merged { request, .. } = &sent {
            self.note_capacity(request, &result);
        }
        match sent {
            Sent::Single { run } => {
                let result = result.map(|answer| match answer {
                    Answer::Single(reply) => reply,
                    other => unreachable!("a single call answered with {other:?}"),
                });
                self.deliver(now, run, result);
            }
            Sent::Shared { runs } => {
                let result = result.map(|answer| match answer {
                    Answer::Single(reply) => reply,
                    other => unreachable!("a shared call answered with {other:?}"),
                });
                for run in runs {
                    self.deliver(now, run, result.clone());
                }
            }
            Sent::Merged { request, parts } => match result {
                Ok(_) => {
                    for part in parts {
                        self.deliver(now, part.run, Ok(Reply::Done));
                    }
                }
                Err(error) if error.kind == ErrorKind::Capacity && Self::one_type(&request, &self.zones) => {
                    // Short of one instance type in one zone: the refusal speaks for every
                    // instance in the request, and each run retries within its own budget.
                    for part in parts {
                        self.deliver(now, part.run, Err(error.clone()));
                    }
                }
                Err(error) if parts.len() > 1 && !error.kind.is_retryable() => {
                    // EC2 refuses a whole request for one id or state: ask again without the
                    // instances the refusal names (each alone from now on), else in halves, so
                    // every instance gets its own answer.
                    self.stats.splits += 1;
                    let (named, rest): (Vec<Part>, Vec<Part>) =
                        parts.into_iter().partition(|part| error.message.contains(part.instance.as_str()));
                    let pieces: Vec<Vec<Part>> = if named.is_empty() || rest.is_empty() {
                        let mut all = if named.is_empty() { rest } else { named };
                        let second = all.split_off(all.len() / 2);
                        vec![all, second]
                    } else {
                        named.into_iter().map(|part| vec![part]).chain([rest]).collect()
                    };
                    for piece in pieces {
                        if let [part] = piece.as_slice() {
                            // Refused alone next time too, perhaps: its retries go alone.
                            self.solo.insert(part.instance.clone());
                        }
                        let ids = piece.iter().map(|part| part.instance.clone()).collect();
                        self.resend.push((now, request.with_instances(ids), piece));
                    }
                }
                Err(error) => {
                    for part in parts {
                        self.deliver(now, part.run, Err(error.clone()));
                    }
                }
            },
            Sent::Round { request, zone } => self.on_round_answer(now, request, zone, result),
            Sent::Lease { run } => {
                let result = result.map(|answer| match answer {
                    Answer::Lease(reply) => reply,
                    other => unreachable!("a lease call answered with {other:?}"),
                });
                self.on_lease_answer(now, run, result);
            }
        }
    }

    /// Pass every new event and changed wait to `observer`.
    pub fn report(&mut self, now: Timestamp, observer: &mut impl Observer) {
        for index in std::mem::take(&mut self.touched) {
            let run = &mut self.runs[index];
            let group = run.failover.spec().name.clone();
            for event in &run.failover.events()[run.reported..] {
                observer.on_event(&group, event);
            }
            run.reported = run.failover.events().len();
            if run.busy || run.failover.is_finished() {
                continue;
            }
            if run.sleep.is_some() && run.sleep != run.last_wait {
                let (until, waiting_for) = run.sleep.clone().expect("checked above");
                observer.on_wait(&group, now, until, &waiting_for);
                run.last_wait = run.sleep.clone();
            }
        }
    }

    fn poll_run(
        &mut self,
        index: usize,
        now: Timestamp,
        describing: &mut Vec<usize>,
        merged: &mut BTreeMap<MergeKey, Vec<Part>>,
        singles: &mut Vec<(Vec<usize>, Call)>,
    ) {
        self.touched.insert(index);
        if !self.may_act(index, now) {
            self.stop_run(index, now);
            return;
        }
        let run = &mut self.runs[index];
        assert!(!run.busy, "a run is polled while its call is with the fleet");
        match run.failover.poll(now) {
            Action::Call(call) => {
                run.busy = true;
                run.sleep = None;
                // Answered or abandoned while the lease still covers it.
                let act_until = run.lease.as_ref().and_then(Lease::act_until);
                let answer_by = run.failover.answer_by();
                run.answer_by = Some(act_until.map_or(answer_by, |until| answer_by.min(until)));
                let zone = call.instance().and_then(|instance| self.zones.zone_of(instance));
                let alone = call.instance().is_some_and(|instance| self.solo.contains(instance));
                let kind = call.instance().and_then(|instance| self.zones.type_of(instance));
                let key = MergeKey::of(&call, zone, kind).filter(|_| !alone);
                match (&call, key) {
                    (Call::Describe { .. }, _) => describing.push(index),
                    (_, Some((key, instance))) => {
                        merged.entry(key).or_default().push(Part { run: index, instance })
                    }
                    // A subnet's isolation, asked by every group with a member in it: once.
                    (Call::ReadNetworkAcl { .. } | Call::Isolate { .. }, None) => {
                        match singles.iter_mut().find(|(_, same)| *same == call) {
                            Some((runs, _)) => runs.push(index),
                            None => singles.push((vec![index], call)),
                        }
                    }
                    (_, None) => singles.push((vec![index], call)),
                }
            }
            Action::Sleep { until, waiting_for } => {
                run.sleep = Some((until, waiting_for));
                self.idle.insert((until, index));
            }
            Action::Finished => self.release_lease(index, now),
        }
    }

    pub(super) fn deliver(&mut self, now: Timestamp, index: usize, result: Result<Reply, ApiError>) {
        let run = &mut self.runs[index];
        if let (Err(error), Some(lease)) = (&result, run.lease.as_ref()) {
            if error.code == crate::driver::ABANDONED {
                let until = now + lease.landing_bound();
                run.may_land_until = Some(run.may_land_until.map_or(until, |earlier| earlier.max(until)));
            }
        }
        run.failover.on_result(now, result);
        run.busy = false;
        run.answer_by = None;
        self.idle.insert((now, index));
        self.touched.insert(index);
    }

    pub(super) fn defer(&mut self, now: Timestamp, index: usize, until: Timestamp) {
        let run = &mut self.runs[index];
        run.failover.defer(now, until);
        run.busy = false;
        run.answer_by = None;
        self.idle.insert((until, index));
        self.touched.insert(index);
    }
}
