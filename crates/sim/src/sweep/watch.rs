//! Two watchers against the simulated region, seed by seed (`simulate --watchers`): the primary's
//! service dies, hangs, goes silent, slows down, flaps or stays healthy; a watcher is cut off from
//! the primary (and from the other watcher), pauses for 30 s, crashes mid-failover, or loses
//! the lease table. Judged from the world: the services' true health and reachability, the
//! region's call log, the lease table's history and the members' final states.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use coldstandby_engine::clients::Probe;
use coldstandby_engine::lease::LeaseSettings;
use coldstandby_engine::{millis, Call, Clock, GroupSpec, InstanceId, InstanceState, Timestamp};
use coldstandby_watch::{Plan, Settings, WatchedGroup};
use serde::Serialize;

use super::checker::{Violation, ONE_CONTROLLER_PER_GROUP, SINGLE_LIVE};
use super::invariant::WatchInvariant;
use super::operator;
use super::race::one_controller_per_group;
use crate::leases::CutOff;
use crate::model::{SimInstance, Timings};
use crate::region::SimRegion;
use crate::services::{Partition, ServiceFault};
use crate::watchers::{run_watchers_beside, WatcherSetup};

/// A primary reachable from a majority of vantage points (the live watchers over the network,
/// EC2 by the instance running) is never fenced while its service is healthy.
pub const NO_FAILOVER_OF_HEALTHY_PRIMARY: &str = WatchInvariant::NoFailoverOfHealthyPrimary.name();
/// A primary whose service fails for good, with both watchers well, is stopped within the
/// watchers' detection bound and [`FENCE_CALL_ALLOWANCE`].
pub const DETECT_WITHIN: &str = WatchInvariant::DetectWithin.name();
/// A primary that failed for good is replaced by a running standby by the end, whenever the
/// watchers can decide it (see `must_decide`).
pub const RECOVERED: &str = WatchInvariant::Recovered.name();

/// From the window failing to the stop call: the confirmation (a describe, a question to the
/// other watcher) and the run's first calls (the lease's read and write, a describe), each well
/// under 100 ms on the simulated region.
pub const FENCE_CALL_ALLOWANCE: Duration = Duration::from_secs(1);

/// Where every watcher seed's clock starts.
pub const START: Timestamp = Timestamp::from_unix_millis(1_795_143_600_000);
const TABLE: &str = "coldstandby-leases";
const GROUP: &str = "web";
const WATCHERS: [&str; 2] = ["watcher-a", "watcher-b"];
/// How long after the failure (or the start) the watchers run before they are told to stop.
const WATCH_FOR: Duration = Duration::from_secs(240);

/// What one seed did.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WatchResult {
    pub seed: u64,
    pub interval_ms: u64,
    pub probe: String,
    /// The primary's service fault (None: healthy), from when, for good or not.
    pub failure: Option<String>,
    pub failure_at: Option<Timestamp>,
    pub watcher_faults: Vec<String>,
    /// The first stop of the primary, if any.
    pub fenced_at: Option<Timestamp>,
    /// Failure to the first stop of the primary.
    pub detection_ms: Option<u64>,
    /// Whether `detect-within` judged this seed (a failure for good the probe sees, no watcher
    /// fault).
    pub detection_judged: bool,
    pub violations: Vec<Violation>,
    /// Every call and lease write (for `--events`).
    #[serde(skip)]
    pub log: super::WorldLog,
}

/// The command that replays one seed.
pub fn replay_command(seed: u64) -> String {
    format!("coldstandby simulate --watchers --seeds 1 --start-seed {seed}")
}

/// What a test may break on purpose.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum WatchMode {
    #[default]
    Honest,
    /// Test-only: every watcher tells the others it sees every member down, so one watcher's
    /// partial view decides. The sweep must catch it.
    #[doc(hidden)]
    LyingPeersForTesting,
    /// Test-only: the watchers wait for every round of the window to fail, one more than the
    /// settings the sweep judges them by. The sweep must catch it.
    #[doc(hidden)]
    SlowDetectionForTesting,
}

struct Setup {
    /// The settings the watchers are judged by.
    settings: Settings,
    /// The settings they run with (the same, unless a test breaks them on purpose).
    running: Settings,
    probe: Probe,
    failure: Option<(ServiceFault, Timestamp, Option<Timestamp>)>,
    watchers: Vec<WatcherSetup>,
    partitions: Vec<Partition>,
    lease_cut: Option<(String, CutOff)>,
    lease_seconds: u64,
    faults: Vec<String>,
    /// An operator's switchover from the primary to the first standby starts then.
    switchover_at: Option<Timestamp>,
}

fn id(n: u64) -> InstanceId {
    format!("i-{n:017x}").parse().expect("generated ids are valid")
}

#[expect(
    clippy::too_many_lines,
    reason = "one draw per fault from the seed, in a fixed order that keeps old seeds' scenarios"
)]
fn generate(seed: u64, mode: WatchMode) -> Setup {
    let mut rng = fastrand::Rng::with_seed(seed ^ 0x3a7c_4e2d_91b0_55f1);
    let interval = Duration::from_millis([200, 500, 1_000, 1_000][rng.usize(0..4)]);
    let settings =
        Settings { interval, timeout: (interval / 2).min(Duration::from_millis(500)), ..Settings::default() };
    let probe = if rng.bool() {
        Probe::Tcp { port: 80 }
    } else {
        Probe::Http { port: 80, path: "/health".to_owned(), status: 200, body_contains: None }
    };
    let failure_at = START + Duration::from_millis(rng.u64(10_000..=40_000));
    let failure = (rng.f64() < 0.75).then(|| {
        let fault = match rng.usize(0..6) {
            0 => ServiceFault::Dead,
            1 => ServiceFault::Hung,
            2 => ServiceFault::Silent,
            3 => ServiceFault::Slow { latency_ms: rng.u64(50..=1_500) },
            4 => ServiceFault::Flapping { period_ms: rng.u64(200..=3_000) },
            _ => ServiceFault::Dead,
        };
        let until = (rng.f64() < 0.2).then(|| failure_at + Duration::from_millis(rng.u64(300..=5_000)));
        (fault, failure_at, until)
    });
    let mut watchers: Vec<WatcherSetup> = WATCHERS.iter().map(|name| WatcherSetup::new(name)).collect();
    let mut partitions = Vec::new();
    let mut faults = Vec::new();
    // Watcher faults start from 10 s before the failure to 10 s after it.
    let around = |rng: &mut fastrand::Rng| {
        earlier(failure_at, Duration::from_millis(10_000)) + Duration::from_millis(rng.u64(0..=20_000))
    };
    if rng.f64() < 0.3 {
        let who = rng.usize(0..2);
        let from = around(&mut rng);
        let until = from + Duration::from_millis(rng.u64(5_000..=60_000));
        partitions.push(Partition {
            vantage: WATCHERS[who].to_owned(),
            instances: vec![id(1)],
            from,
            until: Some(until),
        });
        let also_peer = rng.bool();
        if also_peer {
            watchers[who].cut_from.push((WATCHERS[1 - who].to_owned(), from, until));
        }
        faults.push(format!(
            "{} cut off from the primary{} for {} s",
            WATCHERS[who],
            if also_peer { " and the other watcher" } else { "" },
            until.saturating_since(from).as_secs()
        ));
    }
    if rng.f64() < 0.2 {
        let who = rng.usize(0..2);
        let from = around(&mut rng);
        watchers[who].pauses.push((from, from + Duration::from_secs(30)));
        faults.push(format!("{} paused for 30 s", WATCHERS[who]));
    }
    if rng.f64() < 0.15 {
        let who = rng.usize(0..2);
        watchers[who].crash_at = Some(failure_at + Duration::from_millis(rng.u64(0..=15_000)));
        faults.push(format!("{} crashes", WATCHERS[who]));
    }
    let lease_cut = (rng.f64() < 0.15).then(|| {
        let who = rng.usize(0..2);
        let from = around(&mut rng);
        let cut =
            CutOff { from, until: from + Duration::from_millis(rng.u64(1_000..=60_000)), hang: rng.bool() };
        faults.push(format!("{} cut off from the lease table", WATCHERS[who]));
        (WATCHERS[who].to_owned(), cut)
    });
    if mode == WatchMode::LyingPeersForTesting {
        for watcher in &mut watchers {
            watcher.lies_for_testing = true;
        }
    }
    let mut running = settings;
    if mode == WatchMode::SlowDetectionForTesting {
        running.failures = running.window;
    }
    // Drawn from its own stream, so every earlier draw stays as it was.
    let mut third = fastrand::Rng::with_seed(seed ^ 0x0e7a_70c1_1000_5a1d);
    let switchover_at = (third.f64() < 0.15).then(|| operator::start_time(&mut third, failure_at));
    if switchover_at.is_some() {
        faults.push(format!("{} switches over to the first standby", operator::OPERATOR));
    }
    Setup {
        switchover_at,
        settings,
        running,
        probe,
        failure,
        watchers,
        partitions,
        lease_cut,
        lease_seconds: [6, 10, 20][rng.usize(0..3)],
        faults,
    }
}

/// Run one seed.
pub fn run_seed(seed: u64, mode: WatchMode) -> WatchResult {
    let setup = generate(seed, mode);
    let region = SimRegion::new(seed, START, Timings::default());
    let primary = id(1);
    let standbys = vec![id(2), id(3)];
    region.add_instance(SimInstance::new(primary.clone(), "ap-northeast-1a", InstanceState::Running));
    region.add_instance(SimInstance::new(standbys[0].clone(), "ap-northeast-1c", InstanceState::Stopped));
    region.add_instance(SimInstance::new(standbys[1].clone(), "ap-northeast-1d", InstanceState::Stopped));
    // The primary has served for a while: its service is up from the start.
    region.advance(Duration::from_secs(10));
    region.with_services(|services| {
        if let Some((fault, from, until)) = setup.failure {
            services.fail(&primary, fault, from, until);
        }
        services.partitions.extend(setup.partitions.iter().cloned());
    });
    if let Some((who, cut)) = &setup.lease_cut {
        region.with_leases(|table| {
            table.cut_off.insert(who.clone(), *cut);
        });
    }
    let spec = GroupSpec::new(GROUP, primary.clone(), standbys);
    let groups = vec![WatchedGroup { spec: spec.clone(), probes: vec![setup.probe.clone()], alarm: None }];
    let plan = Plan {
        settings: setup.running,
        lease: Some(LeaseSettings {
            table: TABLE.to_owned(),
            owner: String::new(),
            duration: Duration::from_secs(setup.lease_seconds),
        }),
        zones: coldstandby_engine::fleet::Zones::default(),
    };
    let failure_at = setup.failure.map(|(_, at, _)| at);
    let stop_at = failure_at.unwrap_or(START + Duration::from_secs(40)) + WATCH_FOR;
    let switchover_end = RefCell::new(operator::SwitchoverEnd::default());
    let mut others: Vec<Pin<Box<dyn Future<Output = ()> + '_>>> = Vec::new();
    if let (Some(at), Some(lease)) = (setup.switchover_at, plan.lease.clone()) {
        others.push(Box::pin(operator::switchover(&region, &spec, lease, at, &switchover_end)));
    }
    run_watchers_beside(&region, &setup.watchers, &plan, &groups, stop_at, others);

    let fenced_at = region
        .calls()
        .iter()
        .find(|record| matches!(&record.call, Call::Stop { instance, .. } if *instance == primary))
        .map(|record| record.at);
    let mut violations = Vec::new();
    violations.extend(healthy_primary_fenced(&region, &setup, &primary, seed));
    violations.extend(detection(&setup, fenced_at, seed));
    violations.extend(final_states(&region, &setup, &spec, fenced_at, seed));
    // Watchers pause between steps (nothing in flight), never suspended with a call in flight.
    violations.extend(one_controller_per_group(&region, seed, &BTreeMap::new()).violations);
    violations.extend(operator::switched_in_left_alone(&region, &switchover_end.borrow(), seed));
    WatchResult {
        seed,
        interval_ms: millis(setup.settings.interval),
        probe: setup.probe.kind().to_owned(),
        failure: setup.failure.map(|(fault, _, until)| {
            format!("{}{}", fault.name(), if until.is_some() { " for a moment" } else { "" })
        }),
        failure_at,
        watcher_faults: setup.faults.clone(),
        fenced_at,
        detection_ms: fenced_at
            .zip(failure_at)
            .map(|(fenced, failed)| millis(fenced.saturating_since(failed))),
        detection_judged: must_detect(&setup).is_some() && setup.faults.is_empty(),
        violations,
        log: super::WorldLog::of(&region),
    }
}

/// Whether the primary's service answers its probes properly at `at` (slow, but within the
/// probe's timeout, counts as healthy).
fn healthy_at(region: &SimRegion, setup: &Setup, primary: &InstanceId, at: Timestamp) -> bool {
    let fault = region.with_services(|services| services.fault_at(primary, at));
    match fault.map(|outage| outage.fault) {
        None => true,
        Some(ServiceFault::Slow { latency_ms }) => {
            !matches!(setup.probe, Probe::Http { .. })
                || Duration::from_millis(latency_ms) < setup.settings.timeout
        }
        Some(ServiceFault::Hung) => matches!(setup.probe, Probe::Tcp { .. }),
        Some(_) => false,
    }
}

/// Whether more than half of the vantage points reach the primary at `at`: each live,
/// unpaused watcher not partitioned from it, and EC2 (the instance running).
fn majority_reaches(region: &SimRegion, setup: &Setup, primary: &InstanceId, at: Timestamp) -> bool {
    let running = region.state_at(primary, at) == Some(InstanceState::Running);
    let live: Vec<&WatcherSetup> = setup
        .watchers
        .iter()
        .filter(|watcher| {
            watcher.crash_at.is_none_or(|crash| at < crash)
                && !watcher.pauses.iter().any(|(from, until)| at >= *from && at < *until)
        })
        .collect();
    let reaching = live
        .iter()
        .filter(|watcher| region.with_services(|services| services.reachable(&watcher.name, primary, at)))
        .count();
    let points = live.len() + 1;
    let reached = reaching + usize::from(running);
    2 * reached > points
}

/// `no-failover-of-healthy-primary`: a stop of the primary is a violation when, for the whole
/// time a decision takes before it, the service was healthy and a majority reached it.
fn healthy_primary_fenced(
    region: &SimRegion,
    setup: &Setup,
    primary: &InstanceId,
    seed: u64,
) -> Vec<Violation> {
    let settings = setup.settings;
    // How long a decision can take: a failure seen at its start is a stop by its end.
    let decision = settings.detection_bound() + settings.peer_timeout + FENCE_CALL_ALLOWANCE;
    let Some(stop) = region
        .calls()
        .into_iter()
        .filter(|record| record.caller.as_deref() != Some(operator::OPERATOR))
        .find(|record| matches!(&record.call, Call::Stop { instance, .. } if instance == primary))
    else {
        return Vec::new();
    };
    let step = Duration::from_millis(50);
    let mut at = earlier(stop.at, decision);
    while at <= stop.at {
        if !healthy_at(region, setup, primary, at) || !majority_reaches(region, setup, primary, at) {
            return Vec::new();
        }
        at = at + step;
    }
    vec![Violation {
        seed,
        invariant: NO_FAILOVER_OF_HEALTHY_PRIMARY,
        at: stop.at,
        detail: format!(
            "{} stopped the primary while its service was healthy and a majority of vantage points reached it for the {} ms before",
            stop.caller.as_deref().unwrap_or("someone"),
            decision.as_millis()
        ),
    }]
}

/// Whether the failure is one the probe must see, for good, with both watchers well around it.
fn must_detect(setup: &Setup) -> Option<Timestamp> {
    let (fault, at, until) = setup.failure?;
    let visible = match fault {
        ServiceFault::Dead | ServiceFault::Silent => true,
        ServiceFault::Hung => matches!(setup.probe, Probe::Http { .. }),
        ServiceFault::Slow { latency_ms } => {
            matches!(setup.probe, Probe::Http { .. })
                && Duration::from_millis(latency_ms) > setup.settings.timeout
        }
        ServiceFault::Flapping { .. } => false,
    };
    (visible && until.is_none()).then_some(at)
}

/// Whether the watchers can decide a failure the probe sees, for good: both stay up (a pause,
/// a partition, a lease-table cut end), or the crash came after the primary was stopped (EC2
/// then reports it, which one watcher may act on). A watcher left alone with a member that
/// stops answering while EC2 reports it running does not act: it cannot tell its own network
/// from the member (see `coldstandby_watch::vantage`).
fn must_decide(setup: &Setup, fenced_at: Option<Timestamp>) -> bool {
    let crash = setup.watchers.iter().filter_map(|watcher| watcher.crash_at).min();
    must_detect(setup).is_some()
        && match crash {
            None => true,
            Some(crash) => fenced_at.is_some_and(|fenced| fenced < crash),
        }
}

/// `detect-within`: with no watcher fault at all, the primary is stopped within the bound.
fn detection(setup: &Setup, fenced_at: Option<Timestamp>, seed: u64) -> Vec<Violation> {
    let Some(failed_at) = must_detect(setup) else { return Vec::new() };
    if !setup.faults.is_empty() {
        return Vec::new();
    }
    let settings = setup.settings;
    let bound = settings.detection_bound() + FENCE_CALL_ALLOWANCE;
    match fenced_at {
        Some(fenced) if fenced >= failed_at && fenced.saturating_since(failed_at) <= bound => Vec::new(),
        other => vec![Violation {
            seed,
            invariant: DETECT_WITHIN,
            at: failed_at + bound,
            detail: match other {
                Some(fenced) => format!(
                    "the primary failed at {failed_at} and was stopped at {fenced}, {} ms later (bound {} ms)",
                    fenced.saturating_since(failed_at).as_millis(),
                    bound.as_millis()
                ),
                None => format!("the primary failed at {failed_at} and was never stopped"),
            },
        }],
    }
}

/// `single-live` at the end (at most one member running), and `recovered`: a primary that
/// failed for good is replaced by a running standby whenever the watchers can decide it.
fn final_states(
    region: &SimRegion,
    setup: &Setup,
    spec: &GroupSpec,
    fenced_at: Option<Timestamp>,
    seed: u64,
) -> Vec<Violation> {
    let now = region.now();
    let live: Vec<InstanceId> = spec
        .members()
        .into_iter()
        .filter(|member| {
            region.instance(member).is_some_and(|instance| {
                matches!(instance.state, InstanceState::Running | InstanceState::Pending)
            })
        })
        .collect();
    let mut violations = Vec::new();
    if live.len() > 1 {
        violations.push(Violation {
            seed,
            invariant: SINGLE_LIVE,
            at: now,
            detail: format!("{} are live at the end", list(&live)),
        });
    }
    if must_decide(setup, fenced_at) && !(live.len() == 1 && live[0] != spec.primary) {
        violations.push(Violation {
            seed,
            invariant: RECOVERED,
            at: now,
            detail: format!("the primary failed for good; live at the end: {}", list(&live)),
        });
    }
    violations
}

fn earlier(at: Timestamp, by: Duration) -> Timestamp {
    Timestamp::from_unix_millis(at.unix_millis().saturating_sub(millis(by)))
}

fn list(ids: &[InstanceId]) -> String {
    if ids.is_empty() {
        return "none".to_owned();
    }
    ids.iter().map(InstanceId::as_str).collect::<Vec<_>>().join(", ")
}

/// The totals of a watcher sweep.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct WatchSummary {
    pub start_seed: u64,
    pub seeds: u64,
    /// Seeds by the primary's failure ("healthy" when none).
    pub failures: BTreeMap<String, u64>,
    /// Seeds with each kind of watcher fault.
    pub watcher_faults: BTreeMap<String, u64>,
    pub fenced: u64,
    /// Failure to fence, over the seeds `detect-within` judged: percentiles in ms.
    pub detection_ms: BTreeMap<String, u64>,
    pub violations: Vec<Violation>,
    pub replay: BTreeMap<u64, String>,
}

/// Every invariant this sweep judges.
pub const INVARIANTS: [&str; 5] =
    [NO_FAILOVER_OF_HEALTHY_PRIMARY, DETECT_WITHIN, RECOVERED, SINGLE_LIVE, ONE_CONTROLLER_PER_GROUP];

/// Run `count` seeds from `start_seed`, calling `on_seed` after each.
pub fn watch_sweep(
    start_seed: u64,
    count: u64,
    mode: WatchMode,
    on_seed: impl FnMut(&WatchResult),
) -> WatchSummary {
    let seeds = start_seed..start_seed.saturating_add(count);
    summarize_watches(start_seed, seeds.map(|seed| run_seed(seed, mode)), on_seed)
}

/// Sum up watcher seeds (run in seed order from `start_seed`, however they were run), calling
/// `on_seed` after each.
pub fn summarize_watches(
    start_seed: u64,
    results: impl IntoIterator<Item = WatchResult>,
    mut on_seed: impl FnMut(&WatchResult),
) -> WatchSummary {
    let mut summary = WatchSummary { start_seed, ..WatchSummary::default() };
    let mut detections = Vec::new();
    for result in results {
        let seed = result.seed;
        on_seed(&result);
        summary.seeds += 1;
        let failure = result.failure.clone().unwrap_or_else(|| "healthy".to_owned());
        let failure = failure.split(' ').next().unwrap_or_default().to_owned();
        *summary.failures.entry(failure).or_default() += 1;
        for fault in &result.watcher_faults {
            let kind = fault.split_once(' ').map_or(fault.as_str(), |(_, rest)| rest);
            let kind = kind.split(" for ").next().unwrap_or(kind).to_owned();
            *summary.watcher_faults.entry(kind).or_default() += 1;
        }
        summary.fenced += u64::from(result.fenced_at.is_some());
        if let (true, Some(ms)) = (result.detection_judged, result.detection_ms) {
            detections.push(ms);
        }
        if !result.violations.is_empty() {
            summary.replay.insert(seed, replay_command(seed));
        }
        summary.violations.extend(result.violations);
    }
    detections.sort_unstable();
    if !detections.is_empty() {
        let pick = |percent: usize| detections[(detections.len() - 1) * percent / 100];
        for (name, percent) in [("p50", 50), ("p90", 90), ("p99", 99), ("max", 100)] {
            summary.detection_ms.insert(name.to_owned(), pick(percent));
        }
    }
    summary
}
