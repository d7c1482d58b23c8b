//! The clients stage: once the fence holds and the promoted member runs alone, its readiness
//! checks must pass (each so many times in a row), then every mover is read, changed and read
//! back until it verifies. Only then is the member recorded active.

use super::*;
use crate::clients::{ClientView, Endpoint, ReadinessCheck, Step};

/// How often a mover is read again while it waits (a change propagating, a health check).
const MOVER_POLL: Duration = Duration::from_secs(1);

/// Changes of one mover refused in a row (what they replace moved meanwhile, by the API's
/// account) before the run gives up on it: a compare-and-swap lost to another writer once or
/// twice is normal; one refused every time means the change itself is wrong.
const MAX_REFUSALS: u32 = 5;

/// Readiness and movers for one promoted member. Dropped when that member is given up on: the
/// next candidate earns it all again.
#[derive(Clone, Debug)]
pub(super) struct ClientsStage {
    target: Endpoint,
    began_at: Timestamp,
    checks: Vec<CheckRun>,
    movers: Vec<MoverRun>,
    ready: bool,
}

#[derive(Clone, Debug)]
struct CheckRun {
    /// Passes in a row so far.
    streak: u32,
    passed: bool,
    in_flight: bool,
    next_at: Timestamp,
    /// What the latest probe saw, for the failure message.
    last: Option<String>,
}

#[derive(Clone, Debug)]
struct MoverRun {
    verified: bool,
    read_in_flight: bool,
    changes_in_flight: usize,
    next_read_at: Timestamp,
    /// The last change's id, when the mechanism has one to follow (Route 53).
    change: Option<String>,
    /// What the last read said it waits for.
    waiting: Option<String>,
    /// Changes refused in a row.
    refusals: u32,
}

impl ClientsStage {
    fn new(target: Endpoint, spec: &GroupSpec, now: Timestamp) -> Self {
        let check = |_: &ReadinessCheck| CheckRun {
            streak: 0,
            passed: false,
            in_flight: false,
            next_at: now,
            last: None,
        };
        let mover = |_: &Mover| MoverRun {
            verified: false,
            read_in_flight: false,
            changes_in_flight: 0,
            next_read_at: now,
            change: None,
            waiting: None,
            refusals: 0,
        };
        Self {
            target,
            began_at: now,
            checks: spec.readiness.iter().map(check).collect(),
            movers: spec.movers.iter().map(mover).collect(),
            ready: false,
        }
    }

    /// When the stage next has something to do, if it waits for time rather than for a call.
    pub(super) fn wakes_at(&self) -> Option<Timestamp> {
        let checks = self.checks.iter().filter(|c| !c.passed && !c.in_flight).map(|c| c.next_at);
        let movers = self
            .movers
            .iter()
            .filter(|m| self.ready && !m.verified && !m.read_in_flight && m.changes_in_flight == 0)
            .map(|m| m.next_read_at);
        checks.chain(movers).min()
    }

    /// What the stage waits for, for progress display and a deadline's message.
    pub(super) fn waiting_for(&self, spec: &GroupSpec) -> WaitingFor {
        if let Some(index) = self.checks.iter().position(|check| !check.passed) {
            return WaitingFor::Readiness(spec.readiness[index].probe.to_string());
        }
        let index = self.movers.iter().position(|mover| !mover.verified).unwrap_or(0);
        let what = match &self.movers.get(index).and_then(|mover| mover.waiting.clone()) {
            Some(waiting) => format!("{} ({waiting})", spec.movers[index]),
            None => spec.movers.get(index).map_or_else(String::new, ToString::to_string),
        };
        WaitingFor::Clients(what)
    }
}

impl Failover {
    /// Readiness, then movers, for `target` (running, fenced, alone). True once every mover is
    /// verified (at once when none is configured).
    pub(super) fn advance_clients(&mut self, now: Timestamp, target: &InstanceId) -> bool {
        if self.clients.as_ref().is_none_or(|stage| stage.target.instance != *target) {
            let Some(endpoint) = self.endpoint_of(target) else {
                // Movers need the interface and address: wait for an answer that has them.
                return false;
            };
            self.clients = Some(ClientsStage::new(endpoint, &self.spec, now));
            self.enter(Phase::Readying);
        }
        let stage = self.clients.as_ref().expect("set above");
        if !stage.ready {
            if !self.advance_readiness(now) {
                return false;
            }
            let stage = self.clients.as_mut().expect("set above");
            stage.ready = true;
            self.milestones.ready_at = Some(now);
            self.emit(now, EventKind::Ready { instance: target.clone(), checks: self.spec.readiness.len() });
            self.enter(Phase::MovingClients);
        }
        self.advance_movers(now)
    }

    /// From `poll`: send the probes and reads that came due since the last observation.
    pub(super) fn advance_clients_due(&mut self, now: Timestamp) {
        let ready = match (&self.clients, self.phase) {
            (Some(stage), Phase::Readying | Phase::MovingClients) => stage.ready,
            _ => return,
        };
        if ready {
            self.advance_movers(now);
        } else {
            self.advance_readiness(now);
        }
    }

    /// Describe the group now rather than at the next poll, unless a throttled or failed
    /// describe is backing off.
    fn observe_soon(&mut self, now: Timestamp) {
        if self.describe_failures == 0 {
            self.next_observe_at = self.next_observe_at.min(now);
        }
    }

    /// The endpoint of `instance` from its latest observation; a provider that does not report
    /// one is fine while nothing needs it (no mover, no probe over the network).
    fn endpoint_of(&self, instance: &InstanceId) -> Option<Endpoint> {
        let observation = self.seen[instance].observation.as_ref()?;
        let needed = !self.spec.movers.is_empty()
            || self.spec.readiness.iter().any(|check| check.probe.needs_network_path());
        observation.endpoint().or_else(|| {
            (!needed).then(|| Endpoint {
                instance: instance.clone(),
                network_interface: String::new(),
                private_ip: String::new(),
            })
        })
    }

    /// Probe what is due; fail the run when a check ran out of time. True once all passed.
    fn advance_readiness(&mut self, now: Timestamp) -> bool {
        let stage = self.clients.as_mut().expect("readiness runs within the stage");
        let target = stage.target.clone();
        let mut due = Vec::new();
        for (index, check) in stage.checks.iter_mut().enumerate() {
            let spec = &self.spec.readiness[index];
            if check.passed || check.in_flight {
                continue;
            }
            if now.saturating_since(stage.began_at) >= spec.timeout {
                let last = check.last.clone().unwrap_or_else(|| "never probed".to_owned());
                let failure = Failure::NotReady {
                    instance: target.instance.clone(),
                    check: spec.probe.to_string(),
                    last,
                };
                self.fail(now, failure);
                return false;
            }
            if check.next_at <= now {
                check.in_flight = true;
                due.push(Call::Probe {
                    instance: target.instance.clone(),
                    address: target.private_ip.clone(),
                    probe: spec.probe.clone(),
                });
            }
        }
        for call in due {
            self.enqueue(now, call);
        }
        let stage = self.clients.as_ref().expect("still there");
        stage.checks.iter().all(|check| check.passed)
    }

    /// Read what is due, and verify or change each mover. True once every mover verified.
    fn advance_movers(&mut self, now: Timestamp) -> bool {
        let stage = self.clients.as_mut().expect("movers run within the stage");
        let target = stage.target.clone();
        let mut reads = Vec::new();
        for (index, mover) in stage.movers.iter_mut().enumerate() {
            if mover.verified
                || mover.read_in_flight
                || mover.changes_in_flight > 0
                || mover.next_read_at > now
            {
                continue;
            }
            mover.read_in_flight = true;
            reads.push(Call::ReadClients {
                mover: self.spec.movers[index].clone(),
                desired: target.clone(),
                change: mover.change.clone(),
            });
        }
        for call in reads {
            self.enqueue(now, call);
        }
        let stage = self.clients.as_ref().expect("still there");
        stage.movers.iter().all(|mover| mover.verified)
    }

    /// A probe's answer: the streak grows or starts again.
    pub(super) fn on_probed(&mut self, now: Timestamp, probe: &Probe, result: ProbeResult) {
        let Some(stage) = self.clients.as_mut() else { return };
        let Some(index) = self.spec.readiness.iter().position(|check| check.probe == *probe) else { return };
        let spec = &self.spec.readiness[index];
        let check = &mut stage.checks[index];
        check.in_flight = false;
        check.next_at = now + spec.interval;
        check.streak = if result.passed { check.streak + 1 } else { 0 };
        check.last = Some(result.detail);
        if check.streak >= spec.successes && !check.passed {
            check.passed = true;
            let all_passed = stage.checks.iter().all(|check| check.passed);
            let instance = stage.target.instance.clone();
            let (check, passes) = (spec.probe.to_string(), spec.successes);
            self.emit(now, EventKind::CheckPassed { instance, check, passes });
            if all_passed {
                // Clients move from the next observation, once the convergence rule still holds.
                self.observe_soon(now);
            }
        }
    }

    /// A mover's read: verified, changed, or read again later.
    pub(super) fn on_clients_read(&mut self, now: Timestamp, mover: &Mover, view: ClientView) {
        let Some(index) = self.spec.movers.iter().position(|m| m == mover) else { return };
        let members: Vec<Endpoint> =
            self.seen.values().filter_map(|seen| seen.observation.as_ref()?.endpoint()).collect();
        let Some(stage) = self.clients.as_mut() else { return };
        let run = &mut stage.movers[index];
        run.read_in_flight = false;
        match mover.next_step_for_run(&view, &stage.target, &members) {
            Step::Verified => {
                run.verified = true;
                run.waiting = None;
                let instance = stage.target.instance.clone();
                let all_verified = stage.movers.iter().all(|mover| mover.verified);
                self.emit(now, EventKind::ClientsMoved { instance, mover: mover.to_string() });
                if all_verified {
                    self.milestones.redirected_at = Some(now);
                    // Recording follows on the next observation, once the convergence rule
                    // still holds then.
                    self.observe_soon(now);
                }
            }
            Step::Change(changes) => {
                run.changes_in_flight = changes.len();
                run.waiting = None;
                for change in changes {
                    self.enqueue(now, Call::MoveClients { change });
                }
            }
            Step::Wait(reason) => {
                run.next_read_at = now + MOVER_POLL;
                run.waiting = Some(reason);
            }
        }
    }

    /// A change was refused because what it replaces moved meanwhile: read again, a second
    /// later, and decide from what is there; after `MAX_REFUSALS` in a row, fail with the refusal.
    pub(super) fn on_clients_refused(&mut self, now: Timestamp, change: &Change, error: ApiError) {
        let Some(run) = waiting_run(self.clients.as_mut(), &self.spec.movers, change) else { return };
        run.refusals += 1;
        run.changes_in_flight -= 1;
        run.next_read_at = now + MOVER_POLL;
        if run.refusals >= MAX_REFUSALS {
            let operation = change.operation().to_owned();
            self.fail(now, Failure::PermanentError { operation, instance: None, error });
        }
    }

    /// One change of a mover is done: read the mover again once its last change is back.
    pub(super) fn on_clients_changed(&mut self, now: Timestamp, change: &Change, id: Option<String>) {
        let Some(run) = waiting_run(self.clients.as_mut(), &self.spec.movers, change) else { return };
        run.changes_in_flight -= 1;
        run.refusals = 0;
        if id.is_some() {
            run.change = id;
        }
        if run.changes_in_flight == 0 {
            run.next_read_at = now;
        }
        let (operation, change) = (change.operation().to_owned(), change.to_string());
        self.emit(now, EventKind::ClientsChanged { operation, change });
    }
}

/// The run of the mover `change` belongs to: the first one still waiting for changes of its kind.
fn waiting_run<'a>(
    stage: Option<&'a mut ClientsStage>,
    movers: &[Mover],
    change: &Change,
) -> Option<&'a mut MoverRun> {
    let runs = stage?.movers.iter_mut().zip(movers);
    runs.filter(|(run, mover)| run.changes_in_flight > 0 && mover_makes(mover, change))
        .map(|(run, _)| run)
        .next()
}

/// Whether `change` is one `mover` asks for.
fn mover_makes(mover: &Mover, change: &Change) -> bool {
    match (mover, change) {
        (Mover::OverlayIp(overlay), Change::Route { destination, .. }) => overlay.address == *destination,
        (Mover::OverlayIp(_), Change::DisableSourceDestCheck { .. }) => true,
        (Mover::Dns(dns), Change::Record { hosted_zone, record, .. }) => {
            dns.hosted_zone == *hosted_zone && dns.record == *record
        }
        (
            Mover::TargetGroup(group),
            Change::Register { target_group, .. } | Change::Deregister { target_group, .. },
        ) => group.arn == *target_group,
        (Mover::ElasticIp(address), Change::Associate { allocation, .. }) => {
            address.allocation == *allocation
        }
        _ => false,
    }
}
