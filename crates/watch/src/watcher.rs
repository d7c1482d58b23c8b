//! The watcher's loop: probe every group's active member on schedule, describe the members
//! now and then, ask EC2 and the other watchers when a member fails its window, and fail
//! confirmed groups over together (one fleet run under their leases). Runtime-free like the
//! engine's driver: whoever polls the future drives it, tokio in the daemon, the simulated
//! region's executor in rehearsals.

use std::cell::Cell;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::future::Future;
use std::pin::{pin, Pin};
use std::rc::Rc;
use std::task::Poll;
use std::time::Duration;

use coldstandby_engine::clients::{Probe, ProbeResult};
use coldstandby_engine::driver::{self, Observer};
use coldstandby_engine::fleet::{Fleet, Zones};
use coldstandby_engine::lease::LeaseSettings;
use coldstandby_engine::{
    ApiError, Clock, Event, EventKind, Evidence, Failover, InstanceId, Observation, Options, Provider,
    Report, Timestamp,
};
use futures_util::future::join_all;
use futures_util::stream::{FuturesUnordered, StreamExt};

use coldstandby_alarm::{AlarmDefinition, AlarmState, Datapoints};

use crate::alarms::{history, next_evaluation, MetricReader};
use crate::board::{Board, Question};
use crate::describe::{self, ZonedAnswer};
use crate::group::{GroupWatch, Phase, WatchedGroup};
use crate::settings::Settings;
use crate::vantage::{decide, PeerView, Verdict, View};

/// Upper bound on loop steps: each handles an answer or a wake-up; this only turns a loop
/// that stopped advancing into a panic.
const MAX_STEPS: u64 = u64::MAX / 2;

/// Probes a member's service over the network (`tcp`, `http`).
pub trait Prober {
    fn probe(&self, instance: &InstanceId, address: &str, probe: &Probe)
        -> impl Future<Output = ProbeResult>;
}

/// The other watchers, asked what they see.
pub trait Peers {
    /// Their names, as verdicts name them.
    fn names(&self) -> Vec<String>;
    /// Ask `peer` about these members: one view per question, in order.
    fn ask(&self, peer: &str, questions: &[Question]) -> impl Future<Output = Result<Vec<View>, String>>;
}

/// No other watcher (a watcher configured alone).
#[derive(Debug, Default)]
pub struct NoPeers;

impl Peers for NoPeers {
    fn names(&self) -> Vec<String> {
        Vec::new()
    }
    async fn ask(&self, _: &str, _: &[Question]) -> Result<Vec<View>, String> {
        Err("no peers".to_owned())
    }
}

/// What the loop reports as it goes (through `&self`: runs in flight report together).
pub trait WatchObserver {
    fn on_probe(&self, _group: &str, _member: &InstanceId, _passed: bool, _latency: Duration, _detail: &str) {
    }
    fn on_view(&self, _group: &str, _member: &InstanceId, _view: View, _at: Timestamp) {}
    fn on_verdict(&self, _group: &str, _member: &InstanceId, _verdict: &Verdict, _at: Timestamp) {}
    fn on_describe_failed(&self, _error: &ApiError) {}
    fn on_alarm_read_failed(&self, _group: &str, _error: &ApiError) {}
    fn on_run_started(&self, _groups: &[String], _at: Timestamp) {}
    fn on_run_event(&self, _group: &str, _event: &Event) {}
    fn on_run_finished(&self, _group: &str, _report: &Report) {}
    /// A group's findings changed (`status` would say NEEDS ATTENTION while any is listed): a
    /// member other than the active one running, say, which clients may reach. Empty: cleared.
    fn on_attention(&self, _group: &str, _findings: &[String], _at: Timestamp) {}
}

/// Reports nothing.
#[derive(Debug, Default)]
pub struct QuietWatch;

impl WatchObserver for QuietWatch {}

/// What the caller tells the loop between steps.
#[derive(Debug)]
pub enum Directive {
    Continue,
    /// Stop probing; finish the runs under way, then return.
    Stop,
    /// Watch these groups from now on (a group failing over keeps its run).
    Reload(Vec<WatchedGroup>),
    /// Do nothing at all until then, not even answer (a simulated stop-the-world pause).
    Pause(Timestamp),
}

/// Checked before every step.
pub trait Control {
    fn check(&mut self, now: Timestamp) -> Directive;
}

/// What the watcher works with.
#[derive(Debug)]
pub struct Env<'a, P, C, R, N, O, M = crate::alarms::NoMetrics> {
    pub provider: &'a P,
    pub clock: &'a C,
    pub prober: &'a R,
    pub peers: &'a N,
    pub observer: &'a O,
    /// Where this watcher's views are published for other watchers.
    pub board: &'a Board,
    /// Where the groups' `[group.alarm]` metrics are read.
    pub metrics: &'a M,
}

impl<P, C, R, N, O, M> Clone for Env<'_, P, C, R, N, O, M> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<P, C, R, N, O, M> Copy for Env<'_, P, C, R, N, O, M> {}

/// How a watcher runs.
#[derive(Clone, Debug)]
pub struct Plan {
    pub settings: Settings,
    /// The groups' leases (None: act without one, a single watcher).
    pub lease: Option<LeaseSettings>,
    /// Zone hints for the fleet's describes.
    pub zones: Zones,
}

/// A task's result. Indices are into the groups as they were at `epoch` (a reload renumbers
/// them: results of an earlier epoch are dropped, except a run's, found again by name).
enum Done {
    Probe {
        epoch: u64,
        index: usize,
        generation: u64,
        /// What failed (None: every probe passed).
        failure: Option<String>,
        latency: Duration,
    },
    Described {
        epoch: u64,
        indices: Vec<usize>,
        answer: ZonedAnswer,
    },
    Confirmed {
        epoch: u64,
        /// When EC2 and the peers were asked.
        asked_at: Timestamp,
        indices: Vec<usize>,
        ec2: ZonedAnswer,
        peers: Vec<(String, Result<Vec<View>, String>)>,
    },
    Ran {
        groups: Vec<String>,
        reports: Vec<Report>,
    },
    Alarms {
        epoch: u64,
        at: Timestamp,
        read: Vec<(usize, Result<Datapoints, ApiError>)>,
    },
    /// A run dropped before it took a lease: its member answered again.
    Abandoned {
        groups: Vec<String>,
    },
}

type Task<'a> = Pin<Box<dyn Future<Output = Done> + 'a>>;

/// Run the watcher until `control` stops it (and its runs under way have finished).
#[expect(
    clippy::too_many_lines,
    reason = "the watcher loop's setup and select; split with the task builders (issue 27, item 2)"
)]
pub async fn watch<'a, P, C, R, N, O, M>(
    env: Env<'a, P, C, R, N, O, M>,
    plan: Plan,
    groups: Vec<WatchedGroup>,
    control: &mut impl Control,
) where
    P: Provider,
    C: Clock,
    R: Prober,
    N: Peers,
    O: WatchObserver,
    M: MetricReader,
{
    let settings = plan.settings;
    let start = env.clock.now();
    let mut state = State::new(groups, &settings, start);
    state.zones = plan.zones.clone();
    let mut tasks: FuturesUnordered<Task<'a>> = FuturesUnordered::new();
    let mut next_refresh = start;
    let mut alarm_every = state.alarm_interval();
    let mut next_alarms = alarm_every.map(|every| next_evaluation(start, every));
    let mut stopping = false;
    for _ in 0..MAX_STEPS {
        let now = env.clock.now();
        match control.check(now) {
            Directive::Continue => {}
            Directive::Stop => stopping = true,
            Directive::Reload(groups) => {
                state.reload(groups, &settings, now);
                // A reload may add or remove the groups' alarms.
                alarm_every = state.alarm_interval();
                next_alarms = alarm_every.map(|every| next_evaluation(now, every));
            }
            Directive::Pause(until) => {
                env.clock.sleep_until(until).await;
                continue;
            }
        }
        if stopping && state.runs.is_empty() {
            return;
        }
        if !stopping {
            if now >= next_refresh {
                let all: Vec<usize> = (0..state.groups.len()).collect();
                describe_tasks(env, &state, all, &mut tasks);
                state.to_locate.clear();
                next_refresh = now + settings.refresh;
            } else if !state.to_locate.is_empty() {
                let indices = std::mem::take(&mut state.to_locate);
                describe_tasks(env, &state, indices, &mut tasks);
            }
            launch_probes(env, &mut state, &settings, now, &mut tasks);
            if let (Some(at), Some(every)) = (next_alarms, alarm_every) {
                if now >= at {
                    tasks.push(alarm_task(env, &state, at));
                    next_alarms = Some(next_evaluation(now, every));
                }
            }
            let confirm: Vec<usize> = std::mem::take(&mut state.to_confirm)
                .into_iter()
                .filter(|index| state.groups[*index].wants_confirmation(now))
                .collect();
            if !confirm.is_empty() {
                for index in &confirm {
                    state.groups[*index].phase = Phase::Confirming;
                }
                tasks.push(confirm_task(env, &state, confirm, &settings));
            }
            let failing: Vec<usize> = std::mem::take(&mut state.to_fail_over);
            if !failing.is_empty() {
                let names: Vec<String> =
                    failing.iter().map(|index| state.groups[*index].name().to_owned()).collect();
                let (task, handle) = run_task(env, &state, failing, &plan, now);
                for name in names {
                    state.runs.insert(name, handle.clone());
                }
                tasks.push(task);
            }
        }
        let wake = if stopping {
            None
        } else {
            Some(state.next_wake(next_refresh).min(next_alarms.unwrap_or(next_refresh)))
        };
        let finished = next_finished(&mut tasks, wake.map(|at| env.clock.sleep_until(at))).await;
        // Everything that finished together is handled before the next step: one step (and one
        // timer) per wake-up, not per probe.
        let now = env.clock.now();
        for done in finished {
            handle(done, &mut state, env, &settings, now);
        }
    }
}

/// Take in one finished task's result: probe windows, locations, verdicts, run endings.
#[expect(
    clippy::too_many_lines,
    reason = "one arm per finished task kind; split with the task builders (issue 27, item 2)"
)]
fn handle<P, C, R, N, O: WatchObserver, M>(
    done: Done,
    state: &mut State,
    env: Env<'_, P, C, R, N, O, M>,
    settings: &Settings,
    now: Timestamp,
) {
    match done {
        Done::Probe { epoch, .. }
        | Done::Described { epoch, .. }
        | Done::Confirmed { epoch, .. }
        | Done::Alarms { epoch, .. }
            if epoch != state.epoch => {}
        Done::Alarms { at, read, .. } => {
            for (index, result) in read {
                let group = &mut state.groups[index];
                let datapoints = match result {
                    Ok(datapoints) => datapoints,
                    Err(error) => {
                        env.observer.on_alarm_read_failed(group.name(), &error);
                        continue;
                    }
                };
                let Some(evaluator) = group.alarm.as_mut() else { continue };
                let Some(change) = evaluator.evaluate(at, &datapoints) else { continue };
                if change.to != AlarmState::Alarm {
                    continue;
                }
                let Some(member) = group.target.as_ref().map(|target| target.instance.clone()) else {
                    continue;
                };
                let verdict = Verdict::Failed(format!("alarm {}: {}", evaluator.alarm().name, change.reason));
                env.observer.on_verdict(group.name(), &member, &verdict, now);
                if group.alarmed(now, settings) {
                    state.to_fail_over.push(index);
                } else if let Phase::Resting { until } = group.phase {
                    state.rest(index, until);
                }
            }
        }
        Done::Probe { index, generation, failure, latency, .. } => {
            let passed = failure.is_none();
            let group = &mut state.groups[index];
            let changed = group.probed(generation, passed, now, settings);
            if let Some(target) = group.target.as_ref().filter(|_| generation == group.generation) {
                let member = &target.instance;
                let detail = failure.as_deref().unwrap_or("passed");
                env.observer.on_probe(group.name(), member, passed, latency, detail);
                env.board.set(group.name(), member, group.window.view(), now);
                if let Some(view) = changed {
                    env.observer.on_view(group.name(), member, view, now);
                }
            }
            if group.phase == Phase::FailingOver && group.window.view() == View::Up {
                if let Some(handle) = state.runs.get(group.name()) {
                    handle.abandon.set(true);
                }
            }
            if group.wants_confirmation(now) {
                state.to_confirm.push(index);
            }
        }
        Done::Abandoned { groups } => {
            for name in groups {
                state.runs.remove(&name);
                let Some(group) = state.groups.iter_mut().find(|group| group.name() == name) else {
                    continue;
                };
                if let Some(member) = group.target.as_ref().map(|target| target.instance.clone()) {
                    let verdict = Verdict::Vetoed(
                        "it answered again before this watcher could take its lease: the run was dropped"
                            .to_owned(),
                    );
                    env.observer.on_verdict(&name, &member, &verdict, now);
                }
                group.phase = Phase::Watching;
            }
        }
        Done::Described { indices, answer, .. } => {
            if let Some(error) = answer.an_error() {
                env.observer.on_describe_failed(error);
            }
            state.zones.learn(&answer.observations);
            let by_instance = index_by_instance(&answer.observations);
            for index in indices {
                let group = &mut state.groups[index];
                if group.phase != Phase::FailingOver {
                    group.located(&group.own_observations(&by_instance), &answer.unanswered, now);
                    if let Some(findings) = group.take_attention_change() {
                        env.observer.on_attention(group.name(), &findings, now);
                    }
                    if group.wants_confirmation(now) {
                        state.to_confirm.push(index);
                    }
                }
            }
        }
        Done::Confirmed { indices, ec2, peers, asked_at, .. } => {
            state.zones.learn(&ec2.observations);
            let by_instance = index_by_instance(&ec2.observations);
            for (position, index) in indices.into_iter().enumerate() {
                let group = &mut state.groups[index];
                if group.phase != Phase::Confirming {
                    continue;
                }
                let generation = group.generation;
                let own = group.own_observations(&by_instance);
                group.located(&own, &ec2.unanswered, now);
                if group.generation != generation {
                    // Another member is active now (another watcher failed it over): watch it.
                    group.phase = Phase::Watching;
                    continue;
                }
                let ec2_view = group.ec2_view(Some(&own), now);
                let views: Vec<(String, PeerView)> = peers
                    .iter()
                    .map(|(name, answer)| {
                        let view = match answer {
                            Ok(views) => views
                                .get(position)
                                .map_or(PeerView::Unreachable("answered short".to_owned()), |view| {
                                    PeerView::Answered(*view)
                                }),
                            Err(error) => PeerView::Unreachable(error.clone()),
                        };
                        (name.clone(), view)
                    })
                    .collect();
                let running = ec2_view == crate::vantage::Ec2View::Running;
                let own_rounds_old = group.window.has_failed() && !group.rounds_are_current(now, settings);
                let verdict = if own_rounds_old && running {
                    Verdict::Undecided(
                        "its failed probe rounds are from before a pause: probing again".to_owned(),
                    )
                } else if group.window.has_failed() || !running {
                    decide(ec2_view, &views)
                } else {
                    Verdict::Vetoed("its probes passed again".to_owned())
                };
                let may = group.may_fail_over(ec2_view);
                if let Some(target) = &group.target {
                    env.observer.on_verdict(group.name(), &target.instance, &verdict, now);
                }
                group.decided(&verdict, may, now, settings);
                if group.phase == Phase::FailingOver {
                    // The evidence is as old as the answers it rests on (the watcher may have
                    // paused while they came).
                    group.failure_decided_at = Some(asked_at);
                }
                match group.phase {
                    Phase::FailingOver => state.to_fail_over.push(index),
                    Phase::Resting { until } => state.rest(index, until),
                    _ => {}
                }
            }
        }
        Done::Ran { groups, reports } => {
            for (name, report) in groups.into_iter().zip(reports) {
                state.runs.remove(&name);
                let Some(&index) = state.by_name.get(&name) else {
                    // Reloaded away while it ran: its report still goes out.
                    env.observer.on_run_finished(&name, &report);
                    continue;
                };
                let group = &mut state.groups[index];
                env.observer.on_run_finished(group.name(), &report);
                group.run_ended(&report, now, settings);
                state.to_locate.push(index);
                if let Phase::Resting { until } = state.groups[index].phase {
                    state.rest(index, until);
                }
            }
        }
    }
}

/// A describe's answers by instance.
fn index_by_instance(observations: &[Observation]) -> HashMap<&InstanceId, &Observation> {
    observations.iter().map(|observation| (&observation.instance, observation)).collect()
}

/// The loop's bookkeeping: the groups, the probe schedule, and what waits to be done.
struct State {
    groups: Vec<GroupWatch>,
    /// Counts reloads: tasks started before the last one are stale.
    epoch: u64,
    /// (due, group index): the next probe round of each group.
    schedule: BinaryHeap<Reverse<(Timestamp, usize)>>,
    /// (until, group index): groups resting, to look at again when their rest ends.
    resting: BinaryHeap<Reverse<(Timestamp, usize)>>,
    to_locate: Vec<usize>,
    to_confirm: Vec<usize>,
    to_fail_over: Vec<usize>,
    /// Runs under way, by group name.
    runs: HashMap<String, RunHandle>,
    /// Each group's index in `groups`, by name: in an AZ outage thousands of runs end together.
    by_name: HashMap<String, usize>,
    /// Where each member lives: the configuration's hints, then every answer.
    zones: Zones,
}

impl State {
    fn new(groups: Vec<WatchedGroup>, settings: &Settings, start: Timestamp) -> Self {
        let mut state = Self {
            groups: Vec::new(),
            epoch: 0,
            schedule: BinaryHeap::new(),
            resting: BinaryHeap::new(),
            to_locate: Vec::new(),
            to_confirm: Vec::new(),
            to_fail_over: Vec::new(),
            runs: HashMap::new(),
            by_name: HashMap::new(),
            zones: Zones::default(),
        };
        state.reload(groups, settings, start);
        state
    }

    /// Watch `groups`: a group already watched keeps its state (its run, if failing over);
    /// its spec and probes are the new ones.
    fn reload(&mut self, groups: Vec<WatchedGroup>, settings: &Settings, now: Timestamp) {
        let mut old: HashMap<String, GroupWatch> = std::mem::take(&mut self.groups)
            .into_iter()
            .map(|watch| (watch.name().to_owned(), watch))
            .collect();
        self.by_name.clear();
        self.epoch += 1;
        self.schedule.clear();
        self.resting.clear();
        self.to_confirm.clear();
        assert!(self.to_fail_over.is_empty(), "runs are started in the step that confirms them");
        let count = u32::try_from(groups.len().max(1)).unwrap_or(u32::MAX);
        for (index, group) in groups.into_iter().enumerate() {
            let watch = match old.remove(&group.spec.name) {
                Some(mut watch) => {
                    // Its probe or confirmation in flight is dropped with the old epoch.
                    watch.probing = false;
                    if watch.phase == Phase::Confirming {
                        watch.phase = Phase::Watching;
                    }
                    if watch.group.spec != group.spec {
                        watch.target = None;
                        watch.window.clear();
                        watch.generation += 1;
                    }
                    watch.group = group;
                    watch
                }
                None => GroupWatch::new(group, settings),
            };
            if let Phase::Resting { until } = watch.phase {
                self.resting.push(Reverse((until, index)));
            }
            self.by_name.insert(watch.name().to_owned(), index);
            self.groups.push(watch);
            // Spread the groups' rounds over one interval.
            let offset = settings.interval * (u32::try_from(index).unwrap_or(u32::MAX) % count) / count;
            self.schedule.push(Reverse((now + offset, index)));
        }
        self.to_locate = (0..self.groups.len()).collect();
    }

    /// How often the groups' alarms are evaluated: the shortest interval among them.
    fn alarm_interval(&self) -> Option<Duration> {
        self.groups
            .iter()
            .filter_map(|group| group.alarm.as_ref())
            .map(|alarm| alarm.alarm().evaluation_interval())
            .min()
    }

    fn rest(&mut self, index: usize, until: Timestamp) {
        self.resting.push(Reverse((until, index)));
    }

    /// When the loop must look again: the next probe due, the next rest ending, the refresh.
    fn next_wake(&mut self, next_refresh: Timestamp) -> Timestamp {
        let probe = self.schedule.peek().map(|Reverse((at, _))| *at);
        let rest = self.resting.peek().map(|Reverse((at, _))| *at);
        [probe, rest, Some(next_refresh)].into_iter().flatten().min().unwrap_or(next_refresh)
    }
}

fn launch_probes<'a, P, C, R, N, O, M>(
    env: Env<'a, P, C, R, N, O, M>,
    state: &mut State,
    settings: &Settings,
    now: Timestamp,
    tasks: &mut FuturesUnordered<Task<'a>>,
) where
    P: Provider,
    C: Clock,
    R: Prober,
    N: Peers,
    O: WatchObserver,
{
    while let Some(Reverse((until, index))) = state.resting.peek().copied() {
        if until > now {
            break;
        }
        state.resting.pop();
        state.to_confirm.push(index);
    }
    while let Some(Reverse((due, index))) = state.schedule.peek().copied() {
        if due > now {
            break;
        }
        state.schedule.pop();
        let next =
            if due + settings.interval > now { due + settings.interval } else { now + settings.interval };
        state.schedule.push(Reverse((next, index)));
        let group = &mut state.groups[index];
        if !group.wants_probe() {
            continue;
        }
        let Some(target) = group.target.clone() else { continue };
        group.probing = true;
        let generation = group.generation;
        let epoch = state.epoch;
        let probes = group.group.probes.clone();
        let timeout = settings.timeout;
        tasks.push(Box::pin(async move {
            let started = env.clock.now();
            let give_up = started + timeout;
            let results = join_all(probes.iter().map(|probe| {
                driver::first_of(
                    env.prober.probe(&target.instance, &target.address, probe),
                    env.clock.sleep_until(give_up),
                )
            }))
            .await;
            let failure = results.iter().zip(&probes).find_map(|(result, probe)| match result {
                Some(result) if result.passed => None,
                Some(result) => Some(format!("{probe}: {}", result.detail)),
                None => Some(format!("{probe}: no answer within {} ms", timeout.as_millis())),
            });
            let latency = env.clock.now().saturating_since(started);
            Done::Probe { epoch, index, generation, failure, latency }
        }));
    }
}

/// Describe the members of these groups, zone by zone (1,000 ids a request at most).
fn describe_tasks<'a, P, C, R, N, O, M>(
    env: Env<'a, P, C, R, N, O, M>,
    state: &State,
    indices: Vec<usize>,
    tasks: &mut FuturesUnordered<Task<'a>>,
) where
    P: Provider,
    C: Clock,
{
    if indices.is_empty() {
        return;
    }
    let ids: Vec<InstanceId> =
        indices.iter().flat_map(|index| state.groups[*index].group.spec.members()).collect();
    let requests = describe::requests(ids, &state.zones);
    let epoch = state.epoch;
    tasks.push(Box::pin(async move {
        let give_up = env.clock.now() + coldstandby_engine::provider::CALL_TIMEOUT;
        let answer = describe::describe(env.provider, env.clock, requests, give_up).await;
        Done::Described { epoch, indices, answer }
    }));
}

/// Ask EC2 (the groups' members, zone by zone: their targets, and whether another member
/// became active meanwhile) and every other watcher (one question list each) about these
/// groups' targets, each within the peer timeout.
fn confirm_task<'a, P, C, R, N, O, M>(
    env: Env<'a, P, C, R, N, O, M>,
    state: &State,
    indices: Vec<usize>,
    settings: &Settings,
) -> Task<'a>
where
    P: Provider,
    C: Clock,
    N: Peers,
{
    let indices: Vec<usize> =
        indices.into_iter().filter(|index| state.groups[*index].target.is_some()).collect();
    let questions: Vec<Question> = indices
        .iter()
        .filter_map(|index| {
            let group = &state.groups[*index];
            let target = group.target.as_ref()?;
            Some(Question { group: group.name().to_owned(), member: target.instance.clone() })
        })
        .collect();
    let ids: Vec<InstanceId> =
        indices.iter().flat_map(|index| state.groups[*index].group.spec.members()).collect();
    let requests = describe::requests(ids, &state.zones);
    let timeout = settings.peer_timeout;
    let epoch = state.epoch;
    Box::pin(async move {
        let asked_at = env.clock.now();
        let give_up = asked_at + timeout;
        let ec2 = describe::describe(env.provider, env.clock, requests, give_up);
        let names = env.peers.names();
        let peers = join_all(names.iter().map(|name| {
            let questions = &questions;
            async move {
                let answer = driver::first_of(env.peers.ask(name, questions), env.clock.sleep_until(give_up))
                    .await
                    .unwrap_or_else(|| Err(format!("no answer within {} ms", timeout.as_millis())));
                (name.clone(), answer)
            }
        }));
        let (ec2, peers) = futures_util::future::join(ec2, peers).await;
        Done::Confirmed { epoch, asked_at, indices, ec2, peers }
    })
}

/// Read every alarmed group's metric for an evaluation at `at`.
fn alarm_task<'a, P, C, R, N, O, M>(env: Env<'a, P, C, R, N, O, M>, state: &State, at: Timestamp) -> Task<'a>
where
    M: MetricReader,
{
    let alarms: Vec<(usize, AlarmDefinition)> = state
        .groups
        .iter()
        .enumerate()
        .filter_map(|(index, group)| Some((index, group.alarm.as_ref()?.alarm().clone())))
        .collect();
    let epoch = state.epoch;
    Box::pin(async move {
        let reads = join_all(alarms.iter().map(|(index, alarm)| async move {
            (*index, env.metrics.read(alarm, history(alarm, at), at).await)
        }))
        .await;
        Done::Alarms { epoch, at, read: reads }
    })
}

/// How long a verdict may be acted on: a run may wait up to a lease's duration for a holder that
/// died, plus the quarter at which it reads the record, and a second for its first describe.
/// Older (the watcher paused, or could not reach the lease table), the member's state then
/// says nothing of now: the run changes nothing and the member must be seen failing again.
fn verdict_fresh_for(plan: &Plan) -> Duration {
    let lease_wait = plan.lease.as_ref().map_or(Duration::ZERO, |lease| lease.duration + lease.duration / 4);
    lease_wait + plan.settings.interval + Duration::from_secs(1)
}

/// Fail these groups over together: one fleet run, under their leases.
fn run_task<'a, P, C, R, N, O, M>(
    env: Env<'a, P, C, R, N, O, M>,
    state: &State,
    indices: Vec<usize>,
    plan: &Plan,
    now: Timestamp,
) -> (Task<'a>, RunHandle)
where
    P: Provider,
    C: Clock,
    O: WatchObserver,
{
    let failovers: Vec<Failover> = indices
        .iter()
        .map(|index| {
            let group = &state.groups[*index];
            let member = group.target.as_ref().map(|target| target.instance.clone());
            let name = member.as_ref().map_or("?", InstanceId::as_str);
            // The verdict, with its member and the time it was decided (the watcher may have
            // paused since): once the lease is had (an operator's switchover may hold it
            // meanwhile), a group found moved on, or a verdict grown too old, is left as it is.
            let decided_at = group.failure_decided_at.unwrap_or(now);
            let options = Options {
                trigger: format!("watch: {name} failed"),
                evidence: Some(Evidence { member, at: decided_at, fresh_for: Some(verdict_fresh_for(plan)) }),
                seed: now.unix_millis(),
                ..Options::default()
            };
            Failover::new(group.group.spec.clone(), options, now)
        })
        .collect();
    let names: Vec<String> = indices.iter().map(|index| state.groups[*index].name().to_owned()).collect();
    env.observer.on_run_started(&names, now);
    drop(indices);
    let mut fleet = Fleet::new(failovers, plan.zones.clone(), now);
    if let Some(lease) = &plan.lease {
        fleet = fleet.with_leases(lease, now);
    }
    let handle = RunHandle {
        abandon: Rc::new(Cell::new(false)),
        lease_taken: Rc::new(Cell::new(plan.lease.is_none())),
    };
    let (abandon, taken) = (Rc::clone(&handle.abandon), Rc::clone(&handle.lease_taken));
    let task = Box::pin(async move {
        let mut events = RunEvents { observer: env.observer, lease_taken: Rc::clone(&taken) };
        // A run that has not taken its lease has made no call: it is dropped when its member
        // answers again, so a verdict that went stale while the lease could not be had (the
        // table unreachable, say) is never acted on.
        let stale = async {
            loop {
                env.clock.sleep_until(env.clock.now() + ABANDON_CHECK).await;
                if abandon.get() && !taken.get() {
                    return;
                }
            }
        };
        match driver::first_of(driver::run_fleet(fleet, env.provider, env.clock, &mut events), stale).await {
            Some(reports) => Done::Ran { groups: names, reports },
            None => Done::Abandoned { groups: names },
        }
    });
    (task, handle)
}

/// What the loop keeps of a run under way: whether it took a lease, and the flag that drops it.
#[derive(Clone, Debug)]
struct RunHandle {
    abandon: Rc<Cell<bool>>,
    lease_taken: Rc<Cell<bool>>,
}

/// How often a run waiting for its lease looks whether it should be dropped.
const ABANDON_CHECK: Duration = Duration::from_millis(100);

/// The engine's events of a run, passed on to the watch observer.
struct RunEvents<'a, O> {
    observer: &'a O,
    lease_taken: Rc<Cell<bool>>,
}

impl<O: WatchObserver> Observer for RunEvents<'_, O> {
    fn on_event(&mut self, group: &str, event: &Event) {
        if matches!(event.kind, EventKind::LeaseTaken { .. }) {
            self.lease_taken.set(true);
        }
        self.observer.on_run_event(group, event);
    }
}

/// The tasks that have finished, at least one unless `wake` comes first (or there is nothing
/// to wait for): then none.
async fn next_finished<'a>(
    tasks: &mut FuturesUnordered<Task<'a>>,
    wake: Option<impl Future<Output = ()>>,
) -> Vec<Done> {
    let mut wake = pin!(wake);
    std::future::poll_fn(|context| {
        let mut finished = Vec::new();
        // Bounded: a FuturesUnordered yields (Pending) after polling as many tasks as it holds.
        while let Poll::Ready(Some(done)) = tasks.poll_next_unpin(context) {
            finished.push(done);
        }
        if !finished.is_empty() {
            return Poll::Ready(finished);
        }
        match wake.as_mut().as_pin_mut() {
            Some(timer) => timer.poll(context).map(|()| Vec::new()),
            None if tasks.is_empty() => Poll::Ready(Vec::new()),
            None => Poll::Pending,
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use coldstandby_engine::clients::Probe;
    use coldstandby_engine::GroupSpec;

    use super::*;

    fn watched(name: &str, number: u64) -> WatchedGroup {
        let id = |n: u64| format!("i-{n:017x}").parse::<InstanceId>().unwrap_or_else(|_| unreachable!());
        WatchedGroup {
            spec: GroupSpec::new(name, id(2 * number), vec![id(2 * number + 1)]),
            probes: vec![Probe::Tcp { port: 5432 }],
            alarm: None,
        }
    }

    #[test]
    fn a_reload_keeps_each_groups_state_under_its_name_and_indexes_the_new_order() {
        let settings = Settings::default();
        let start = Timestamp::from_unix_millis(1_767_225_600_000);
        let mut state = State::new(vec![watched("a", 1), watched("b", 2)], &settings, start);
        state.groups[1].window.record(false);

        state.reload(vec![watched("c", 3), watched("b", 2)], &settings, start);

        let names: Vec<&str> = state.groups.iter().map(GroupWatch::name).collect();
        assert_eq!(names, ["c", "b"]);
        assert_eq!(state.by_name.len(), 2, "a reloaded-away group is no longer found: {:?}", state.by_name);
        for (index, group) in state.groups.iter().enumerate() {
            assert_eq!(state.by_name.get(group.name()), Some(&index), "{}", group.name());
        }
        assert_eq!(state.groups[1].window.failed_rounds(), 1, "b kept its probe rounds");
        assert_eq!(state.groups[0].window.failed_rounds(), 0, "c is new");
    }
}
