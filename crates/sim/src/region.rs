//! The simulated region: a virtual clock, the instances, region-wide faults, and the EC2 calls
//! the engine makes, answered the way EC2 answers them (`docs/aws-behaviour.md` sections 5 and 6).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::{pin, Pin};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use coldstandby_engine::clients::{Change, ClientView, Endpoint, Mover, Probe, ProbeResult};
use coldstandby_engine::isolation::SubnetAcl;
use coldstandby_engine::lease::{LeaseCall, LeaseReply};
use coldstandby_engine::{
    millis, ApiError, Call, Clock, ErrorKind, InstanceId, InstanceState, Observation, Provider, Timestamp,
};
use serde::{Deserialize, Serialize};

use crate::acls::NetworkAcls;
use crate::buckets::Ec2Buckets;
pub use crate::faults::RegionFaults;
use crate::faults::{
    denied, incorrect_state, not_found, BUCKET_EXCEEDED, DEFAULT_MAX_STALENESS, DEFAULT_PURGE_AFTER,
};
use crate::late::{Abandonment, Landing};
use crate::leases::{LeaseChange, LeaseTable};
use crate::model::{SimInstance, Timings, Transition};
use crate::network::{Instances, Network, TrafficChange};
use crate::services::{Reach, Services};
use crate::zones::{no_answer, ZoneAnswer, HANG};
pub use crate::zones::{ImpairedCalls, Impairment};

/// One API call as the region received it, for tests and invariant checks. A request naming
/// several instances is recorded as one call per instance, with the same `request`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallRecord {
    pub at: Timestamp,
    /// Which request it was part of (counted from 0 in the region's life).
    #[serde(default)]
    pub request: u64,
    pub call: Call,
    /// The error code, if the call failed.
    pub error: Option<String>,
    /// The call was refused because the caller exceeded EC2's request bucket (not an injected fault).
    #[serde(default)]
    pub bucket_exceeded: bool,
    /// The controller that made it, when several share the region (see [`SimRegion::controller`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller: Option<String>,
    /// When EC2 carried it out, if that was after its caller gave up (see `crate::late`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub landed_at: Option<Timestamp>,
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Inner {
    pub(crate) now: Timestamp,
    #[serde(skip, default = "default_rng")]
    pub(crate) rng: fastrand::Rng,
    seed: u64,
    timings: Timings,
    pub(crate) faults: RegionFaults,
    pub(crate) instances: BTreeMap<InstanceId, SimInstance>,
    transitions: Vec<Transition>,
    pub(crate) calls: Vec<CallRecord>,
    /// EC2's buckets, as the region counts them (not the engine's client-side model).
    #[serde(default)]
    buckets: Ec2Buckets,
    /// Routes, records, target groups, addresses and the instances' services.
    #[serde(default)]
    network: Network,
    /// Subnets' network ACLs.
    #[serde(default)]
    acls: NetworkAcls,
    /// Availability Zones that do not answer.
    #[serde(default)]
    pub(crate) impaired: BTreeMap<String, Impairment>,
    /// Requests received, to be carried out later (see `crate::late`).
    #[serde(default)]
    pub(crate) landings: Vec<Landing>,
    /// Requests answered so far.
    #[serde(default)]
    pub(crate) requests: u64,
    /// The groups' lease table (DynamoDB).
    #[serde(default)]
    leases: LeaseTable,
    /// The services' health and the partitions watchers' probes meet.
    #[serde(default)]
    services: Services,
}

fn default_rng() -> fastrand::Rng {
    fastrand::Rng::with_seed(0)
}

/// A deterministic simulated EC2 region. Same seed and same calls, same answers, byte for byte.
///
/// It implements the engine's [`Provider`] (the EC2 calls) and [`Clock`] (the virtual clock).
/// A call is answered when it is made and its answer arrives after the call's latency; a sleep
/// lasts until the virtual clock reaches its end. Drive its futures with [`SimRegion::run`],
/// which moves the clock from one wake-up to the next, so calls in flight together overlap.
#[derive(Debug)]
pub struct SimRegion {
    inner: RefCell<Inner>,
    /// The sleeps pending in the future [`SimRegion::run`] drives: their ends, and the wakers
    /// to wake then (so a future that polls only what was woken, as `FuturesUnordered` does,
    /// is polled again).
    wakeups: RefCell<BTreeMap<Timestamp, Vec<Waker>>>,
    /// The controller whose future is being polled, if one is (see [`SimRegion::controller`]).
    caller: RefCell<Option<String>>,
}

/// A sleep on the virtual clock: pending until [`SimRegion::run`] moves the clock to its end.
#[derive(Debug)]
pub struct Sleep<'a> {
    region: &'a SimRegion,
    until: Timestamp,
}

impl Future for Sleep<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<()> {
        if self.region.now() >= self.until {
            return Poll::Ready(());
        }
        let mut wakeups = self.region.wakeups.borrow_mut();
        let wakers = wakeups.entry(self.until).or_default();
        if !wakers.iter().any(|waker| waker.will_wake(context.waker())) {
            wakers.push(context.waker().clone());
        }
        Poll::Pending
    }
}

/// Upper bound on the wake-ups of one simulated run: each moves the clock forward, so this only
/// turns a run that never ends into a panic.
const MAX_WAKEUPS: u64 = 1_000_000_000;

impl SimRegion {
    /// An empty region whose clock reads `start`.
    pub fn new(seed: u64, start: Timestamp, timings: Timings) -> Self {
        let inner = Inner {
            now: start,
            rng: fastrand::Rng::with_seed(seed),
            seed,
            timings,
            faults: RegionFaults::default(),
            instances: BTreeMap::new(),
            transitions: Vec::new(),
            calls: Vec::new(),
            buckets: Ec2Buckets::default(),
            network: Network::default(),
            impaired: BTreeMap::new(),
            landings: Vec::new(),
            acls: NetworkAcls::default(),
            requests: 0,
            leases: LeaseTable::default(),
            services: Services::default(),
        };
        Self {
            inner: RefCell::new(inner),
            wakeups: RefCell::new(BTreeMap::new()),
            caller: RefCell::new(None),
        }
    }

    /// Run `future` to completion in virtual time: whenever it waits, move the clock to the
    /// earliest end of a sleep it waits on. Panics if it waits on anything else (real I/O or a
    /// real timer in a simulation).
    pub fn run<F: Future>(&self, future: F) -> F::Output {
        let mut future = pin!(future);
        let mut context = Context::from_waker(Waker::noop());
        self.wakeups.borrow_mut().clear();
        for _ in 0..MAX_WAKEUPS {
            if let Poll::Ready(output) = future.as_mut().poll(&mut context) {
                self.wakeups.borrow_mut().clear();
                return output;
            }
            let next = self.wakeups.borrow().keys().next().copied();
            let next = next.expect("a simulated run waited on something outside the simulation");
            self.advance_to(next);
            // Wake every sleep that has ended (a sleep dropped since only costs a wasted poll).
            let later = self.wakeups.borrow_mut().split_off(&(next + Duration::from_millis(1)));
            let ended = std::mem::replace(&mut *self.wakeups.borrow_mut(), later);
            ended.into_values().flatten().for_each(Waker::wake);
        }
        panic!("a simulated run woke {MAX_WAKEUPS} times without finishing");
    }

    /// Change the lease table (its faults, who is cut off from it) in place.
    pub fn with_leases<R>(&self, change: impl FnOnce(&mut LeaseTable) -> R) -> R {
        change(&mut self.inner.borrow_mut().leases)
    }

    /// Every lease write that landed, oldest first.
    pub fn lease_history(&self) -> Vec<LeaseChange> {
        self.inner.borrow().leases.history().to_vec()
    }

    /// Poll `future` as `name`: the calls it makes are recorded as that controller's.
    pub(crate) async fn as_caller<F: Future>(&self, name: &str, future: F) -> F::Output {
        let mut future = pin!(future);
        std::future::poll_fn(|context| {
            let previous = self.caller.replace(Some(name.to_owned()));
            let result = future.as_mut().poll(context);
            self.caller.replace(previous);
            result
        })
        .await
    }

    /// Change the services' health and the partitions in place.
    pub fn with_services<R>(&self, change: impl FnOnce(&mut Services) -> R) -> R {
        change(&mut self.inner.borrow_mut().services)
    }

    /// A `tcp` or `http` probe of `instance` from the vantage point `vantage`, as the network
    /// answers it: after the service's latency, or `give_up` later with no answer. Not an API
    /// call: it is not in the call log.
    pub async fn probe_service(
        &self,
        vantage: &str,
        instance: &InstanceId,
        probe: &Probe,
        give_up: Duration,
    ) -> ProbeResult {
        let now = self.now();
        let reach = {
            let mut inner = self.inner.borrow_mut();
            inner.advance_to(now);
            let inner = &*inner;
            let running = inner.running_since(instance, now).is_some();
            let started = inner.network.service_started(inner, instance, now);
            inner.services.reach(vantage, instance, probe, now, running, started)
        };
        match reach {
            Reach::Answer { after, result } if after <= give_up => {
                self.sleep_until(now + after).await;
                result
            }
            Reach::Answer { .. } => {
                self.sleep_until(now + give_up).await;
                ProbeResult { passed: false, detail: format!("no answer within {} ms", give_up.as_millis()) }
            }
            Reach::Silent { why } => {
                self.sleep_until(now + give_up).await;
                ProbeResult { passed: false, detail: why.to_owned() }
            }
        }
    }

    /// Change the subnets' network ACLs in place.
    pub fn with_acls<R>(&self, change: impl FnOnce(&mut NetworkAcls) -> R) -> R {
        change(&mut self.inner.borrow_mut().acls)
    }

    /// Whether `instance` is cut off from the network (its subnet is on a deny-all ACL).
    pub fn is_cut_off(&self, instance: &InstanceId) -> bool {
        let inner = self.inner.borrow();
        let subnet = inner.instances.get(instance).and_then(|i| i.subnet.as_deref());
        subnet.is_some_and(|subnet| inner.acls.is_cut_off(subnet))
    }

    /// From now on, `zone` does not answer (see [`Impairment`]).
    pub fn impair_zone(&self, zone: &str, calls: ImpairedCalls) {
        let since = self.inner.borrow().now;
        self.impair_zone_from(zone, calls, since);
    }

    /// From `since` (now, or later: mid-run), `zone` does not answer.
    pub fn impair_zone_from(&self, zone: &str, calls: ImpairedCalls, since: Timestamp) {
        self.impair_zone_between(zone, calls, since, None);
    }

    /// From `since` until `until` (None: until restored), `zone` does not answer.
    pub fn impair_zone_between(
        &self,
        zone: &str,
        calls: ImpairedCalls,
        since: Timestamp,
        until: Option<Timestamp>,
    ) {
        self.inner.borrow_mut().impaired.insert(zone.to_owned(), Impairment { calls, since, until });
    }

    /// Whether `zone` did not answer at some time from `from` to `until`.
    pub fn zone_impaired_during(&self, zone: &str, from: Timestamp, until: Timestamp) -> bool {
        self.inner.borrow().impaired.get(zone).is_some_and(|impairment| {
            impairment.since <= until && impairment.until.is_none_or(|end| end > from)
        })
    }

    /// `zone` answers again.
    pub fn restore_zone(&self, zone: &str) {
        self.inner.borrow_mut().impaired.remove(zone);
    }

    /// Add an instance. Panics if the id is taken (a scenario bug).
    pub fn add_instance(&self, mut instance: SimInstance) {
        let mut inner = self.inner.borrow_mut();
        if instance.address.is_none() {
            // Unique in the region: the count of instances already added.
            instance.address =
                Some(SimInstance::address_for(&instance.availability_zone, inner.instances.len()));
        }
        let id = instance.id.clone();
        let previous = inner.instances.insert(id.clone(), instance);
        assert!(previous.is_none(), "instance {id} added twice");
    }

    /// Change one instance in place (faults, tags, load); the closure gets the current time.
    pub fn with_instance<R>(
        &self,
        id: &InstanceId,
        change: impl FnOnce(&mut SimInstance, Timestamp) -> R,
    ) -> R {
        let mut inner = self.inner.borrow_mut();
        let now = inner.now;
        let instance = inner.instances.get_mut(id).unwrap_or_else(|| panic!("no simulated instance {id}"));
        change(instance, now)
    }

    pub fn set_faults(&self, faults: RegionFaults) {
        self.inner.borrow_mut().faults = faults;
    }

    pub fn set_timings(&self, timings: Timings) {
        self.inner.borrow_mut().timings = timings;
    }

    /// A copy of one instance as it is now.
    pub fn instance(&self, id: &InstanceId) -> Option<SimInstance> {
        self.inner.borrow().instances.get(id).cloned()
    }

    /// Every instance, by id.
    pub fn instances(&self) -> Vec<SimInstance> {
        self.inner.borrow().instances.values().cloned().collect()
    }

    /// Every lifecycle change so far, in order.
    pub fn transitions(&self) -> Vec<Transition> {
        self.inner.borrow().transitions.clone()
    }

    /// Every API call so far, in order.
    pub fn calls(&self) -> Vec<CallRecord> {
        self.inner.borrow().calls.clone()
    }

    /// The API calls from the `from`-th on (for checkers that read the log as it grows).
    pub fn calls_since(&self, from: usize) -> Vec<CallRecord> {
        let inner = self.inner.borrow();
        inner.calls[from.min(inner.calls.len())..].to_vec()
    }

    /// Change the client-facing side in place (routes, records, targets, faults).
    pub fn with_network<R>(&self, change: impl FnOnce(&mut Network, Timestamp) -> R) -> R {
        let mut inner = self.inner.borrow_mut();
        let now = inner.now;
        change(&mut inner.network, now)
    }

    /// Set up `spec`'s movers as if `active` had served for a long time.
    pub fn provision_clients(&self, spec: &coldstandby_engine::GroupSpec, active: &InstanceId) {
        let mut inner = self.inner.borrow_mut();
        let members: Vec<SimInstance> = inner.instances.values().cloned().collect();
        inner.network.provision(spec, &members, active);
    }

    /// Every change to where clients go so far, in order.
    pub fn traffic_changes(&self) -> Vec<TrafficChange> {
        self.inner.borrow().network.changes().to_vec()
    }

    /// Where every mechanism sends clients now: (place, member).
    pub fn traffic_pointers(&self) -> Vec<(String, InstanceId)> {
        let inner = self.inner.borrow();
        inner.network.pointers(&*inner, inner.now)
    }

    /// The instance's state at `at`, from the lifecycle log.
    pub fn state_at(&self, id: &InstanceId, at: Timestamp) -> Option<InstanceState> {
        self.inner.borrow().state_at(id, at)
    }

    /// Move the virtual clock to `until`, completing every lifecycle step due by then, in time
    /// order. Never moves the clock backwards.
    pub fn advance_to(&self, until: Timestamp) {
        self.inner.borrow_mut().advance_to(until);
    }

    /// Move the virtual clock forward by `duration`.
    pub fn advance(&self, duration: Duration) {
        let until = self.now() + duration;
        self.advance_to(until);
    }

    /// The region as JSON, so a rehearsal can continue from it in a later process.
    pub fn to_json(&self) -> String {
        serde_json_string(&self.inner.borrow())
    }

    /// A region saved by [`Self::to_json`]. The random stream restarts from the saved seed
    /// mixed with the saved time, so a continued run is deterministic too.
    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        let mut inner: Inner = serde_json::from_str(text)?;
        inner.rng = fastrand::Rng::with_seed(inner.seed ^ inner.now.unix_millis());
        Ok(Self {
            inner: RefCell::new(inner),
            wakeups: RefCell::new(BTreeMap::new()),
            caller: RefCell::new(None),
        })
    }

    /// Answer one request at the current time: one call, or one call per instance it names.
    /// Returns the answer and when it arrives (after the call's latency; much later for a call
    /// into a zone that hangs).
    fn request<T>(
        &self,
        calls: Vec<Call>,
        answer: impl FnOnce(&mut Inner) -> Result<T, ApiError>,
    ) -> (Result<T, ApiError>, Timestamp) {
        let mut inner = self.inner.borrow_mut();
        let now = inner.now;
        inner.advance_to(now);
        let request = inner.requests;
        inner.requests += 1;
        let first = calls.first().expect("a request makes at least one call");
        let impaired = inner.impaired_answer(&calls);
        let fault = match &impaired {
            Some(_) => None,
            None => inner.injected_fault(first, calls.len() as u64),
        };
        let bucket_exceeded = fault.as_ref().is_some_and(|error| error.message == BUCKET_EXCEEDED);
        let hangs = matches!(impaired, Some(ZoneAnswer::Hang));
        let lands_late = impaired.is_none() && fault.is_none() && inner.draws_late_landing(&calls);
        let result = match impaired {
            Some(ZoneAnswer::Fail(error)) => Err(error),
            Some(ZoneAnswer::Hang) => Err(no_answer()),
            None if lands_late => Err(no_answer()),
            None => fault.map_or_else(|| answer(&mut inner), Err),
        };
        let error = result.as_ref().err().map(|error| error.code.clone());
        let caller = self.caller.borrow().clone();
        for call in &calls {
            let caller = caller.clone();
            let (call, error) = (call.clone(), error.clone());
            let record =
                CallRecord { at: now, request, call, error, bucket_exceeded, caller, landed_at: None };
            inner.calls.push(record);
        }
        if lands_late {
            inner.keep_for_landing(&calls);
        }
        let mut latency = inner.timings.api_latency.sample(&mut inner.rng);
        if inner.faults.latency_spike > 0.0 && inner.rng.f64() < inner.faults.latency_spike {
            latency += Duration::from_millis(inner.faults.latency_spike_ms);
        }
        if hangs || lands_late {
            latency = HANG;
        }
        (result, now + latency)
    }

    /// Answer a request at the current time, and wait for the answer to arrive.
    async fn answered<T>(
        &self,
        calls: Vec<Call>,
        answer: impl FnOnce(&mut Inner) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        let (result, arrives_at) = self.request(calls, answer);
        let late = self.inner.borrow().last_request_landing_late();
        let mut abandonment = late.map(|request| Abandonment { region: self, request, answered: false });
        self.sleep_until(arrives_at).await;
        if let Some(abandonment) = &mut abandonment {
            abandonment.answered = true;
        }
        result
    }

    /// The caller of `request`, kept to land late, gave up on it (see `crate::late`).
    pub(crate) fn abandon_landing(&self, request: u64) {
        // A future is dropped outside any borrow of the region's state.
        let mut inner =
            self.inner.try_borrow_mut().expect("no call is being answered while a caller gives up");
        inner.abandoned(request);
    }
}

fn serde_json_string(inner: &Inner) -> String {
    serde_json::to_string_pretty(inner).expect("the simulated region always serializes")
}

impl Inner {
    fn state_at(&self, id: &InstanceId, at: Timestamp) -> Option<InstanceState> {
        let mut mine = self.transitions.iter().filter(|t| t.instance == *id);
        let first = mine.clone().next();
        if let Some(last) = mine.rfind(|t| t.at <= at) {
            return Some(last.to);
        }
        match first {
            Some(first) => Some(first.from),
            None => self.instances.get(id).map(|instance| instance.state),
        }
    }

    /// The instance, unless it terminated long enough ago that EC2 no longer returns it.
    fn visible(&self, id: &InstanceId) -> Option<&SimInstance> {
        let purge_after = match self.faults.purge_terminated_after_ms {
            0 => DEFAULT_PURGE_AFTER,
            ms => Duration::from_millis(ms),
        };
        let instance = self.instances.get(id)?;
        let purged = instance.state == InstanceState::Terminated
            && instance.terminated_at.is_some_and(|at| self.now.saturating_since(at) >= purge_after);
        (!purged).then_some(instance)
    }

    fn advance_to(&mut self, until: Timestamp) {
        // Each pass completes one scheduled step or lands the requests due at one time. An
        // instance has at most one step scheduled, a completed step schedules at most one more
        // (shutting-down -> terminated), and a landing schedules at most one per instance, so
        // this bounds the passes.
        let landings = self.landings.len();
        for _ in 0..=(2 * self.instances.len() + 1) * (landings + 1) {
            let due = self
                .instances
                .values()
                .filter_map(|instance| instance.next.map(|(at, _)| (at, instance.id.clone())))
                .filter(|(at, _)| *at <= until)
                .min();
            let landing = self.next_landing(until);
            match (due, landing) {
                (Some((at, _)), Some(lands)) if lands < at => self.land_at(lands),
                (None, Some(lands)) => self.land_at(lands),
                (Some((at, id)), _) => {
                    self.now = self.now.max(at);
                    self.complete_step(&id, at);
                }
                (None, None) => break,
            }
        }
        debug_assert!(self.next_landing(until).is_none(), "a landing was left behind");
        debug_assert!(
            self.instances.values().all(|i| i.next.is_none_or(|(at, _)| at > until)),
            "a lifecycle step was left behind"
        );
        self.now = self.now.max(until);
    }

    fn land_at(&mut self, at: Timestamp) {
        self.now = self.now.max(at);
        self.land_due(at);
    }

    fn complete_step(&mut self, id: &InstanceId, at: Timestamp) {
        let timings = self.timings;
        let instance = self.instances.get_mut(id).expect("scheduled instances exist");
        let (_, to) = instance.next.take().expect("a due step exists");
        let from = instance.state;
        let mut to = to;
        let mut reason = None;
        if from == InstanceState::Pending && to == InstanceState::Running {
            if let Some(failure) = instance.faults.start_fails_with.clone() {
                to = InstanceState::Stopped;
                reason = Some(failure);
            }
        }
        instance.state = to;
        instance.state_reason = reason;
        if to == InstanceState::Running {
            instance.state_reason = None;
        }
        if to == InstanceState::Terminated {
            instance.terminated_at = Some(at);
        }
        if to == InstanceState::ShuttingDown {
            instance.next = Some((at + timings.terminate.sample(&mut self.rng), InstanceState::Terminated));
        }
        self.transitions.push(Transition { at, instance: id.clone(), from, to });
    }

    /// A region-wide fault for this call, if one strikes; otherwise the request buckets (for a
    /// request naming `instances` instances).
    fn injected_fault(&mut self, call: &Call, instances: u64) -> Option<ApiError> {
        if matches!(call, Call::Probe { probe: Probe::Tcp { .. } | Probe::Http { .. }, .. }) {
            // A probe over the network calls no API: its failures are failed probes.
            return None;
        }
        let faults = self.faults;
        if faults.throttle > 0.0 && self.rng.f64() < faults.throttle {
            return Some(ApiError::new(
                ErrorKind::Throttled,
                "RequestLimitExceeded",
                "Request limit exceeded.",
            ));
        }
        if faults.transient > 0.0 && self.rng.f64() < faults.transient {
            return Some(ApiError::new(
                ErrorKind::Transient,
                "InternalError",
                "An internal error has occurred.",
            ));
        }
        let now = self.now;
        if !self.buckets.admit(call, instances, now) {
            return Some(ApiError::new(ErrorKind::Throttled, "RequestLimitExceeded", BUCKET_EXCEEDED));
        }
        None
    }

    fn schedule(&mut self, id: &InstanceId, after: Duration, to: InstanceState) {
        let now = self.now;
        let instance = self.instances.get_mut(id).expect("scheduled instances exist");
        instance.next = Some((now + after, to));
    }

    fn set_state(&mut self, id: &InstanceId, to: InstanceState) {
        let now = self.now;
        let instance = self.instances.get_mut(id).expect("changed instances exist");
        let from = instance.state;
        instance.state = to;
        instance.state_reason = None;
        instance.next = None;
        self.transitions.push(Transition { at: now, instance: id.clone(), from, to });
    }

    fn describe(&mut self, ids: &[InstanceId]) -> Vec<Observation> {
        let faults = self.faults;
        if faults.empty_describe > 0.0 && self.rng.f64() < faults.empty_describe {
            return Vec::new();
        }
        let partial = faults.partial_describe > 0.0 && self.rng.f64() < faults.partial_describe;
        let stale = faults.stale_describe > 0.0 && self.rng.f64() < faults.stale_describe;
        let max_lag = match faults.stale_describe_max_ms {
            0 => DEFAULT_MAX_STALENESS,
            ms => Duration::from_millis(ms),
        };
        let max_lag_ms = millis(max_lag);
        let now = self.now;
        let mut answer = Vec::new();
        for id in ids {
            if partial && self.rng.bool() {
                continue;
            }
            let Some(mut observation) = self.visible(id).map(|instance| instance.observation(now)) else {
                continue;
            };
            if stale {
                // As it was some time ago: never before the simulation began.
                let lag = Duration::from_millis(self.rng.u64(0..=max_lag_ms));
                let then =
                    Timestamp::from_unix_millis(now.unix_millis().saturating_sub(lag.as_millis() as u64));
                if let Some(state) = self.state_at(id, then).filter(|state| *state != observation.state) {
                    observation.state = state;
                    observation.state_reason = None;
                }
            }
            answer.push(observation);
        }
        answer
    }

    fn start(&mut self, id: &InstanceId) -> Result<(), ApiError> {
        let instance = self.visible(id).ok_or_else(|| not_found(id))?;
        if instance.faults.denied {
            return Err(denied(id, "ec2:StartInstances"));
        }
        if instance.faults.start_unsupported {
            return Err(ApiError::new(
                ErrorKind::Invalid,
                "UnsupportedOperation",
                format!("The instance '{id}' cannot be started: its instance type is not supported in this Availability Zone."),
            ));
        }
        match instance.state {
            InstanceState::Running | InstanceState::Pending => Ok(()),
            InstanceState::Stopped => {
                if instance.faults.capacity_shortage.is_some_and(|shortage| shortage.is_short_at(self.now)) {
                    return Err(ApiError::new(
                        ErrorKind::Capacity,
                        "InsufficientInstanceCapacity",
                        format!(
                            "We currently do not have sufficient capacity in the Availability Zone {}.",
                            instance.availability_zone
                        ),
                    ));
                }
                let (boot_takes, times_out) =
                    (instance.faults.boot_takes_ms, instance.faults.start_times_out);
                self.set_state(id, InstanceState::Pending);
                let boot = match boot_takes {
                    Some(ms) => Duration::from_millis(ms),
                    None => self.timings.boot.sample(&mut self.rng),
                };
                self.schedule(id, boot, InstanceState::Running);
                if times_out {
                    let instance = self.instances.get_mut(id).expect("it was just started");
                    instance.faults.start_times_out = false;
                    return Err(ApiError::new(
                        ErrorKind::Transient,
                        "Timeout",
                        "StartInstances timed out before an answer came (EC2 started the instance)",
                    ));
                }
                Ok(())
            }
            InstanceState::Stopping | InstanceState::ShuttingDown | InstanceState::Terminated => {
                Err(incorrect_state(id, "is not in a state from which it can be started."))
            }
        }
    }

    fn stop(&mut self, id: &InstanceId, force: bool) -> Result<(), ApiError> {
        let instance = self.visible(id).ok_or_else(|| not_found(id))?;
        if instance.faults.denied {
            return Err(denied(id, "ec2:StopInstances"));
        }
        let now = self.now;
        match instance.state {
            InstanceState::Stopped => Ok(()),
            InstanceState::Pending => {
                Err(incorrect_state(id, "cannot be stopped as it has never reached the 'running' state."))
            }
            InstanceState::ShuttingDown | InstanceState::Terminated => {
                Err(incorrect_state(id, "is not in a state from which it can be stopped."))
            }
            InstanceState::Running | InstanceState::Stopping => {
                let hangs = instance.faults.stop_hangs;
                let force_hangs = instance.faults.forced_stop_hangs;
                let scheduled = instance.next.map(|(at, _)| at);
                if instance.state == InstanceState::Running {
                    self.set_state(id, InstanceState::Stopping);
                }
                let candidate = if force_hangs {
                    None
                } else if force {
                    Some(now + self.timings.forced_stop.sample(&mut self.rng))
                } else if hangs {
                    None
                } else {
                    Some(now + self.timings.stop.sample(&mut self.rng))
                };
                // A second stop never delays one already under way.
                let done_at = match (scheduled, candidate) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
                if let Some(done_at) = done_at {
                    let instance = self.instances.get_mut(id).expect("checked above");
                    instance.next = Some((done_at, InstanceState::Stopped));
                }
                Ok(())
            }
        }
    }

    /// Why EC2 would refuse to start `id` now, without changing anything.
    fn start_refusal(&self, id: &InstanceId) -> Option<ApiError> {
        let Some(instance) = self.visible(id) else { return Some(not_found(id)) };
        if instance.faults.denied {
            return Some(denied(id, "ec2:StartInstances"));
        }
        if instance.faults.start_unsupported {
            return Some(ApiError::new(ErrorKind::Invalid, "UnsupportedOperation", format!("The instance '{id}' cannot be started: its instance type is not supported in this Availability Zone.")));
        }
        match instance.state {
            InstanceState::Stopping | InstanceState::ShuttingDown | InstanceState::Terminated => {
                Some(incorrect_state(id, "is not in a state from which it can be started."))
            }
            InstanceState::Stopped
                if instance
                    .faults
                    .capacity_shortage
                    .is_some_and(|shortage| shortage.is_short_at(self.now)) =>
            {
                Some(ApiError::new(
                    ErrorKind::Capacity,
                    "InsufficientInstanceCapacity",
                    format!(
                        "We currently do not have sufficient capacity in the Availability Zone {}.",
                        instance.availability_zone
                    ),
                ))
            }
            _ => None,
        }
    }

    /// Why EC2 would refuse to stop `id` now, without changing anything.
    fn stop_refusal(&self, id: &InstanceId) -> Option<ApiError> {
        let Some(instance) = self.visible(id) else { return Some(not_found(id)) };
        if instance.faults.denied {
            return Some(denied(id, "ec2:StopInstances"));
        }
        match instance.state {
            InstanceState::Pending => {
                Some(incorrect_state(id, "cannot be stopped as it has never reached the 'running' state."))
            }
            InstanceState::ShuttingDown | InstanceState::Terminated => {
                Some(incorrect_state(id, "is not in a state from which it can be stopped."))
            }
            _ => None,
        }
    }

    /// Whether a request naming `count` instances passes over one in a wrong state (and leaves
    /// it as it is) instead of refusing whole: AWS does not say which it does.
    fn spares_wrong_state(&self, count: usize) -> bool {
        count > 1 && self.faults.wrong_state_spares_batch
    }

    /// `StartInstances` for several instances: refused whole for one id it cannot find, one it
    /// may not start, capacity, or (unless the region spares them) one in a wrong state.
    pub(crate) fn start_many(&mut self, ids: &[InstanceId]) -> Result<(), ApiError> {
        let spare = self.spares_wrong_state(ids.len());
        if let Some(refusal) = ids
            .iter()
            .filter_map(|id| self.start_refusal(id))
            .find(|refusal| !(spare && refusal.kind == ErrorKind::WrongState))
        {
            return Err(refusal);
        }
        let mut lost = Ok(());
        let startable: Vec<&InstanceId> = ids.iter().filter(|id| self.start_refusal(id).is_none()).collect();
        for id in startable {
            if let Err(error) = self.start(id) {
                lost = Err(error);
            }
        }
        lost
    }

    /// `StopInstances` for several instances, refused whole as `start_many` is.
    pub(crate) fn stop_many(&mut self, ids: &[InstanceId], force: bool) -> Result<(), ApiError> {
        let spare = self.spares_wrong_state(ids.len());
        if let Some(refusal) = ids
            .iter()
            .filter_map(|id| self.stop_refusal(id))
            .find(|refusal| !(spare && refusal.kind == ErrorKind::WrongState))
        {
            return Err(refusal);
        }
        let stoppable: Vec<&InstanceId> = ids.iter().filter(|id| self.stop_refusal(id).is_none()).collect();
        for id in stoppable {
            self.stop(id, force)?;
        }
        Ok(())
    }

    /// `CreateTags` on several instances: refused whole for one id it cannot find or may not tag.
    pub(crate) fn set_tags_many(
        &mut self,
        ids: &[InstanceId],
        tags: &BTreeMap<String, String>,
    ) -> Result<(), ApiError> {
        for id in ids {
            let Some(instance) = self.visible(id) else { return Err(not_found(id)) };
            if instance.faults.denied {
                return Err(denied(id, "ec2:CreateTags"));
            }
        }
        for id in ids {
            self.set_tags(id, tags)?;
        }
        Ok(())
    }

    fn set_tags(&mut self, id: &InstanceId, tags: &BTreeMap<String, String>) -> Result<(), ApiError> {
        self.visible(id).ok_or_else(|| not_found(id))?;
        let (now, lag) = (self.now, Duration::from_millis(self.faults.tag_lag_ms));
        let instance = self.instances.get_mut(id).expect("checked visible above");
        if instance.faults.denied {
            return Err(denied(id, "ec2:CreateTags"));
        }
        let shown_now = instance.observation(now).tags;
        instance.tags.extend(tags.iter().map(|(k, v)| (k.clone(), v.clone())));
        instance.tags_before_write = (!lag.is_zero()).then(|| (now + lag, shown_now));
        Ok(())
    }
}

impl Instances for Inner {
    fn owner_of_interface(&self, eni: &str) -> Option<InstanceId> {
        self.instances.values().find(|instance| instance.network_interface() == eni).map(|i| i.id.clone())
    }

    fn owner_of_address(&self, ip: &str) -> Option<InstanceId> {
        self.instances.values().find(|instance| instance.private_ip() == ip).map(|i| i.id.clone())
    }

    fn running_since(&self, id: &InstanceId, at: Timestamp) -> Option<Timestamp> {
        if self.state_at(id, at)? != InstanceState::Running {
            return None;
        }
        let since = self
            .transitions
            .iter()
            .rfind(|t| t.instance == *id && t.at <= at && t.to == InstanceState::Running)
            .map_or(Timestamp::from_unix_millis(0), |t| t.at);
        Some(since)
    }
}

impl Provider for SimRegion {
    async fn describe(&self, instances: &[InstanceId]) -> Result<Vec<Observation>, ApiError> {
        let call = Call::Describe { instances: instances.to_vec() };
        self.answered(vec![call], |inner| {
            let limit = inner.faults.describe_filter_limit;
            if limit > 0 && instances.len() > limit {
                let message = format!(
                    "The request names {} instance IDs; at most {limit} are allowed",
                    instances.len()
                );
                return Err(ApiError::new(ErrorKind::Invalid, "InvalidParameterValue", message));
            }
            Ok(inner.describe(instances))
        })
        .await
    }

    async fn start(&self, instances: &[InstanceId]) -> Result<(), ApiError> {
        let calls = instances.iter().map(|instance| Call::Start { instance: instance.clone() }).collect();
        self.answered(calls, |inner| inner.start_many(instances)).await
    }

    async fn stop(&self, instances: &[InstanceId], force: bool) -> Result<(), ApiError> {
        let calls =
            instances.iter().map(|instance| Call::Stop { instance: instance.clone(), force }).collect();
        self.answered(calls, |inner| inner.stop_many(instances, force)).await
    }

    async fn set_tags(
        &self,
        instances: &[InstanceId],
        tags: &BTreeMap<String, String>,
    ) -> Result<(), ApiError> {
        let calls = instances
            .iter()
            .map(|instance| Call::SetTags { instance: instance.clone(), tags: tags.clone() })
            .collect();
        self.answered(calls, |inner| inner.set_tags_many(instances, tags)).await
    }

    async fn probe(
        &self,
        instance: &InstanceId,
        address: &str,
        probe: &Probe,
    ) -> Result<ProbeResult, ApiError> {
        let call =
            Call::Probe { instance: instance.clone(), address: address.to_owned(), probe: probe.clone() };
        self.answered(vec![call], |inner| Ok(inner.network.probe(&*inner, instance, probe, inner.now))).await
    }

    async fn read_clients(
        &self,
        mover: &Mover,
        desired: &Endpoint,
        change: Option<&str>,
    ) -> Result<ClientView, ApiError> {
        let call = Call::ReadClients {
            mover: mover.clone(),
            desired: desired.clone(),
            change: change.map(str::to_owned),
        };
        self.answered(vec![call], |inner| inner.network.read(&*inner, mover, desired, change, inner.now))
            .await
    }

    async fn move_clients(&self, change: &Change) -> Result<Option<String>, ApiError> {
        let call = Call::MoveClients { change: change.clone() };
        self.answered(vec![call], |inner| {
            let now = inner.now;
            let mut network = std::mem::take(&mut inner.network);
            let result = network.change(&*inner, change, now);
            inner.network = network;
            result
        })
        .await
    }
    async fn read_network_acl(&self, subnet: &str) -> Result<SubnetAcl, ApiError> {
        self.read_acl(subnet).await
    }

    async fn lease(&self, call: &LeaseCall) -> Result<LeaseReply, ApiError> {
        let (result, arrives_at) = {
            let mut inner = self.inner.borrow_mut();
            let inner = &mut *inner;
            let caller = self.caller.borrow().clone();
            inner.leases.answer(caller.as_deref(), call, inner.now, inner.calls.len(), &mut inner.rng)
        };
        self.sleep_until(arrives_at).await;
        result
    }

    async fn isolate(&self, association: &str, network_acl: &str) -> Result<(), ApiError> {
        let subnet = self.inner.borrow().acls.subnet_of(association).unwrap_or_default();
        let call = Call::Isolate {
            subnet,
            association: association.to_owned(),
            network_acl: network_acl.to_owned(),
        };
        self.answered(vec![call], |inner| {
            let now = inner.now;
            inner.acls.replace(association, network_acl, now)
        })
        .await
    }
}

impl SimRegion {
    async fn read_acl(&self, subnet: &str) -> Result<SubnetAcl, ApiError> {
        let call = Call::ReadNetworkAcl { subnet: subnet.to_owned() };
        self.answered(vec![call], |inner| inner.acls.read(subnet)).await
    }
}

impl Clock for SimRegion {
    fn now(&self) -> Timestamp {
        self.inner.borrow().now
    }

    fn sleep_until(&self, until: Timestamp) -> impl Future<Output = ()> {
        Sleep { region: self, until }
    }
}
