//! One random scenario per seed: the group (1-3 standbys, any starting states), the timings and
//! timeouts, the faults, and the triggers (crashes, concurrent and duplicate triggers, failback).

use std::time::Duration;

use coldstandby_engine::clients::{Dns, ElasticIp, Mover, OverlayIp, Probe, ReadinessCheck, TargetGroup};
use coldstandby_engine::{
    FenceMode, GroupSpec, InstanceId, InstanceState, Ordering, Timeouts, Timestamp, WhenNotReady,
};
use serde::Serialize;

use crate::model::{CapacityShortage, SimInstance, Span, Timings};
use crate::network::{NetworkFaults, NetworkTimings};
use crate::region::{RegionFaults, SimRegion};
use crate::zones::ImpairedCalls;

/// Where every scenario's clock starts (2026-11-20T00:00:00Z).
pub const SCENARIO_START: Timestamp = Timestamp::from_unix_millis(1_795_132_800_000);
/// When the first trigger arrives.
pub const FIRST_TRIGGER_AFTER: Duration = Duration::from_secs(10);
/// When Lambda retries an invocation that died (about a minute later).
pub const RETRY_AFTER: Duration = Duration::from_secs(60);

/// How long after it was made a call that lands late may land (longer than any caller waits)...
pub const LATE_LANDING_MAX_MS: u64 = 60_000;
/// ...and how long after its caller gave up on it: a quarter of the shortest lease the sweeps
/// draw (6 s), the landing bound the lease assumes (docs/safety.md).
pub const LATE_LANDING_AFTER_ABANDON_MS: u64 = 1_500;

/// The kinds of fault a scenario can inject, for the summary.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FaultKind {
    ThrottlingBurst,
    TransientErrors,
    CapacityForAWhile,
    CapacityForGood,
    StopHangs,
    StartFails,
    EmptyDescribes,
    StaleDescribes,
    LatencySpikes,
    ControllerCrash,
    ConcurrentTrigger,
    DuplicateTrigger,
    Failback,
    StandbyNotStopped,
    StartAnswerLost,
    StartDenied,
    SlowBoot,
    SlowForcedStop,
    ForcedStopHangs,
    LongStaleDescribes,
    PartialDescribes,
    TagLag,
    StartUnsupported,
    PurgedStandby,
    Movers,
    NeverReady,
    RefusingRouteTable,
    SlowRecordSync,
    RedeliveredAfterFailback,
    ZoneNotAnswering,
    CallsLandLate,
}

impl FaultKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ThrottlingBurst => "throttling burst",
            Self::TransientErrors => "transient errors",
            Self::CapacityForAWhile => "capacity shortage for a while",
            Self::CapacityForGood => "capacity shortage for good",
            Self::StopHangs => "stop hangs until forced",
            Self::StartFails => "start falls back to stopped",
            Self::EmptyDescribes => "empty describe results",
            Self::StaleDescribes => "stale describe results",
            Self::LatencySpikes => "API latency spikes",
            Self::ControllerCrash => "controller crash and retry",
            Self::ConcurrentTrigger => "concurrent trigger",
            Self::DuplicateTrigger => "duplicate trigger",
            Self::Failback => "failback after failover",
            Self::StandbyNotStopped => "standby not in stopped state",
            Self::StartAnswerLost => "start carried out but its answer lost",
            Self::StartDenied => "start denied for one standby",
            Self::SlowBoot => "standby boots slower than its start timeout",
            Self::SlowForcedStop => "forced stop takes minutes",
            Self::ForcedStopHangs => "primary never stops, even forced",
            Self::LongStaleDescribes => "describe results up to 10 s stale",
            Self::PartialDescribes => "partial describe results",
            Self::TagLag => "tag writes visible late",
            Self::StartUnsupported => "start unsupported for one standby",
            Self::PurgedStandby => "terminated standby purged from answers",
            Self::Movers => "clients moved by readiness checks and movers",
            Self::NeverReady => "standby whose service never gets ready",
            Self::RefusingRouteTable => "route table refusing changes for a while",
            Self::SlowRecordSync => "DNS change PENDING for minutes",
            Self::RedeliveredAfterFailback => "the first alarm event delivered again after the failback",
            Self::ZoneNotAnswering => "a member's zone not answering EC2 calls, from mid-run",
            Self::CallsLandLate => "starts, stops and tag writes landing after the caller gave up",
        }
    }
}

/// A window of time during which requests are throttled at `rate`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct ThrottleBurst {
    pub from: Timestamp,
    pub until: Timestamp,
    pub rate: f64,
}

/// A zone that stops answering EC2 calls naming its instances (see `crate::zones`): the
/// primary's, a standby's (perhaps the one promoted), from some time after the first trigger,
/// for a while or for good. Its instances go on as they were.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ZoneOutage {
    pub zone: String,
    pub calls: ImpairedCalls,
    pub from: Timestamp,
    pub until: Option<Timestamp>,
}

/// Everything one seed decides.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Scenario {
    pub seed: u64,
    pub spec: GroupSpec,
    /// An instance outside the group: no call may touch it.
    pub outsider: InstanceId,
    pub timings: Timings,
    /// Faults present throughout (throttling bursts are switched on and off by time).
    pub steady_faults: RegionFaults,
    pub bursts: Vec<ThrottleBurst>,
    pub faults: Vec<FaultKind>,
    /// The first trigger's run is cut off after this many engine steps, then retried.
    pub crash_after_steps: Option<u64>,
    /// A second trigger tries to start while the first runs, after this many steps.
    pub concurrent_after_steps: Option<u64>,
    pub duplicate_trigger: bool,
    pub failback: bool,
    /// After the failback, the first trigger's alarm event arrives once more (a retry, or an
    /// event queued behind others for minutes): history, to be left alone.
    pub redelivered_after_failback: bool,
    pub zone_outage: Option<ZoneOutage>,
    /// Instances with their starting state, next step and per-instance faults.
    pub instances: Vec<SimInstance>,
    /// How the services and the movers' mechanisms behave, and their faults.
    pub network_timings: NetworkTimings,
    pub network_faults: NetworkFaults,
}

fn instance_id(rng: &mut fastrand::Rng) -> InstanceId {
    format!("i-{:017x}", rng.u64(..) & 0x0fff_ffff_ffff_ffff_u64).parse().expect("17 hex digits make an id")
}

fn span(rng: &mut fastrand::Rng, min_ms: u64, max_ms: u64) -> Span {
    let a = rng.u64(min_ms..=max_ms);
    let b = rng.u64(min_ms..=max_ms);
    Span::millis(a.min(b), a.max(b))
}

fn seconds(rng: &mut fastrand::Rng, min: u64, max: u64) -> Duration {
    Duration::from_secs(rng.u64(min..=max))
}

/// The scenario for `seed`.
#[expect(
    clippy::too_many_lines,
    reason = "one draw per fault from the seed, in a fixed order that keeps old seeds' scenarios; reordering would change every seed"
)]
pub fn generate(seed: u64) -> Scenario {
    let mut rng = fastrand::Rng::with_seed(seed ^ 0x5eed_c01d_57a0_dbee);
    // The faults added later draw from their own stream, so every earlier draw (and so each
    // regression seed's original scenario) stays as it was.
    let mut harsh = fastrand::Rng::with_seed(seed ^ 0x0ba5_e1e5_5ca1_ab1e);
    let mut faults = Vec::new();
    let zones = ["ap-northeast-1a", "ap-northeast-1c", "ap-northeast-1d"];

    let mut timings = Timings {
        boot: span(&mut rng, 2_000, 30_000),
        stop: span(&mut rng, 3_000, 90_000),
        forced_stop: span(&mut rng, 8_000, 45_000),
        terminate: span(&mut rng, 5_000, 30_000),
        api_latency: span(&mut rng, 10, 200),
    };
    if rng.f64() < 0.15 {
        // AWS publishes no figure for a forced stop; on an impaired host it takes minutes.
        timings.forced_stop = span(&mut rng, 45_000, 300_000);
        faults.push(FaultKind::SlowForcedStop);
    }
    let primary = instance_id(&mut rng);
    let standby_count = rng.usize(1..=3);
    let standbys: Vec<InstanceId> = (0..standby_count).map(|_| instance_id(&mut rng)).collect();
    let outsider = instance_id(&mut rng);
    let first_trigger = SCENARIO_START + FIRST_TRIGGER_AFTER;

    let mut instances = Vec::new();
    let mut primary_instance = SimInstance::new(primary.clone(), zones[0], InstanceState::Running);
    if rng.f64() < 0.3 {
        primary_instance.faults.stop_hangs = true;
        faults.push(FaultKind::StopHangs);
    }
    if harsh.f64() < 0.02 {
        primary_instance.faults.forced_stop_hangs = true;
        faults.push(FaultKind::ForcedStopHangs);
    }
    instances.push(primary_instance);
    for (index, standby) in standbys.iter().enumerate() {
        let zone = zones[1 + index % 2];
        let roll = rng.f64();
        let (state, next) = match roll {
            r if r < 0.70 => (InstanceState::Stopped, None),
            r if r < 0.78 => {
                (InstanceState::Stopping, Some((seconds(&mut rng, 5, 60), InstanceState::Stopped)))
            }
            r if r < 0.83 => {
                (InstanceState::Pending, Some((seconds(&mut rng, 2, 10), InstanceState::Running)))
            }
            r if r < 0.88 => (InstanceState::Running, None),
            r if r < 0.94 => {
                (InstanceState::ShuttingDown, Some((seconds(&mut rng, 5, 30), InstanceState::Terminated)))
            }
            _ => (InstanceState::Terminated, None),
        };
        if state != InstanceState::Stopped && !faults.contains(&FaultKind::StandbyNotStopped) {
            faults.push(FaultKind::StandbyNotStopped);
        }
        let mut instance = SimInstance::new(standby.clone(), zone, state);
        instance.next = next.map(|(after, to)| (SCENARIO_START + after, to));
        if rng.f64() < 0.15 {
            instance.faults.capacity_shortage =
                Some(CapacityShortage::Until(first_trigger + seconds(&mut rng, 10, 150)));
            faults.push(FaultKind::CapacityForAWhile);
        } else if rng.f64() < 0.08 {
            instance.faults.capacity_shortage = Some(CapacityShortage::ForGood);
            faults.push(FaultKind::CapacityForGood);
        }
        if rng.f64() < 0.08 {
            instance.faults.start_fails_with =
                Some("Client.InternalError: Client error on launch".to_owned());
            faults.push(FaultKind::StartFails);
        }
        if rng.f64() < 0.08 {
            instance.faults.start_times_out = true;
            faults.push(FaultKind::StartAnswerLost);
        }
        // Denied for every call on it: only for one that is stopped, since no controller could
        // stop a live member it may not touch.
        if rng.f64() < 0.04 && state == InstanceState::Stopped {
            instance.faults.denied = true;
            faults.push(FaultKind::StartDenied);
        }
        if rng.f64() < 0.06 {
            // Start timeouts are 60-300 s: this boot may outlast the one this group gets.
            instance.faults.boot_takes_ms = Some(rng.u64(60_000..=420_000));
            faults.push(FaultKind::SlowBoot);
        }
        if harsh.f64() < 0.04 && state == InstanceState::Stopped {
            instance.faults.start_unsupported = true;
            faults.push(FaultKind::StartUnsupported);
        }
        if state == InstanceState::Terminated {
            // Terminated a while ago: EC2 still returns it for about an hour, then not at all.
            let purged = harsh.bool();
            let ago = if purged { Duration::from_secs(7200) } else { seconds(&mut harsh, 10, 600) };
            instance.terminated_at = Some(Timestamp::from_unix_millis(
                SCENARIO_START.unix_millis() - u64::try_from(ago.as_millis()).unwrap_or(0),
            ));
            if purged {
                faults.push(FaultKind::PurgedStandby);
            }
        }
        instances.push(instance);
    }
    instances.push(SimInstance::new(outsider.clone(), zones[0], InstanceState::Running));

    let mut steady_faults = RegionFaults::default();
    if rng.f64() < 0.25 {
        steady_faults.transient = rng.f64() * 0.1;
        faults.push(FaultKind::TransientErrors);
    }
    if rng.f64() < 0.25 {
        steady_faults.empty_describe = 0.05 + rng.f64() * 0.25;
        faults.push(FaultKind::EmptyDescribes);
    }
    if rng.f64() < 0.25 {
        steady_faults.stale_describe = 0.05 + rng.f64() * 0.25;
        faults.push(FaultKind::StaleDescribes);
    }
    if steady_faults.stale_describe > 0.0 && harsh.f64() < 0.5 {
        steady_faults.stale_describe_max_ms = harsh.u64(2_000..=10_000);
        faults.push(FaultKind::LongStaleDescribes);
    }
    if harsh.f64() < 0.15 {
        steady_faults.partial_describe = 0.05 + harsh.f64() * 0.25;
        faults.push(FaultKind::PartialDescribes);
    }
    if harsh.f64() < 0.2 {
        steady_faults.tag_lag_ms = harsh.u64(500..=10_000);
        faults.push(FaultKind::TagLag);
    }
    if rng.f64() < 0.2 {
        steady_faults.latency_spike = 0.02 + rng.f64() * 0.08;
        steady_faults.latency_spike_ms = rng.u64(500..=3_000);
        faults.push(FaultKind::LatencySpikes);
    }
    let mut bursts = Vec::new();
    if rng.f64() < 0.3 {
        for _ in 0..rng.usize(1..=3) {
            let from = first_trigger + seconds(&mut rng, 0, 120);
            bursts.push(ThrottleBurst {
                from,
                until: from + seconds(&mut rng, 2, 30),
                rate: 0.4 + rng.f64() * 0.5,
            });
        }
        faults.push(FaultKind::ThrottlingBurst);
    }

    let mut timeouts = Timeouts {
        stop: seconds(&mut rng, 20, 60),
        forced_stop: seconds(&mut rng, 30, 120),
        start: seconds(&mut rng, 60, 300),
        capacity_retry: seconds(&mut rng, 20, 120),
        failover: Duration::ZERO,
    };
    timeouts.failover = seconds(&mut rng, 300, 840);
    let spec = GroupSpec {
        name: format!("sweep-{seed}"),
        primary,
        standbys,
        ordering: if rng.bool() { Ordering::FenceFirst } else { Ordering::Parallel },
        fence: if rng.f64() < 0.2 { FenceMode::ForceStop } else { FenceMode::Stop },
        timeouts,
        readiness: Vec::new(),
        movers: Vec::new(),
        when_not_ready: coldstandby_engine::WhenNotReady::default(),
        when_unobservable: coldstandby_engine::WhenUnobservable::default(),
        placement: std::collections::BTreeMap::new(),
    };

    let mut spec = spec;
    let (network_timings, network_faults) = clients(seed, &mut spec, &mut faults);

    let crash_after_steps = (rng.f64() < 0.3).then(|| rng.u64(1..=80));
    let concurrent_after_steps = (rng.f64() < 0.2).then(|| rng.u64(1..=40));
    let duplicate_trigger = rng.f64() < 0.4;
    let failback = rng.f64() < 0.3;
    faults.extend(crash_after_steps.map(|_| FaultKind::ControllerCrash));
    faults.extend(concurrent_after_steps.map(|_| FaultKind::ConcurrentTrigger));
    faults.extend(duplicate_trigger.then_some(FaultKind::DuplicateTrigger));
    faults.extend(failback.then_some(FaultKind::Failback));
    // Drawn from its own stream, so every earlier draw stays as it was.
    let mut later = fastrand::Rng::with_seed(seed ^ 0x1a7e_de11_7e4e_d0c5);
    let redelivered_after_failback = failback && later.bool();
    faults.extend(redelivered_after_failback.then_some(FaultKind::RedeliveredAfterFailback));
    let zone_outage = (later.f64() < 0.1).then(|| {
        let from = first_trigger + Duration::from_millis(later.u64(0..=240_000));
        let calls = [ImpairedCalls::Fail, ImpairedCalls::Hang, ImpairedCalls::Either][later.usize(0..3)];
        let until = (later.f64() < 0.7).then(|| from + Duration::from_millis(later.u64(10_000..=900_000)));
        ZoneOutage { zone: zones[later.usize(0..zones.len())].to_owned(), calls, from, until }
    });
    faults.extend(zone_outage.as_ref().map(|_| FaultKind::ZoneNotAnswering));
    if later.f64() < 0.15 {
        steady_faults.late_landing = 0.02 + later.f64() * 0.08;
        steady_faults.late_landing_max_ms = LATE_LANDING_MAX_MS;
        steady_faults.late_landing_after_abandon_ms = LATE_LANDING_AFTER_ABANDON_MS;
        faults.push(FaultKind::CallsLandLate);
    }
    faults.sort();
    faults.dedup();

    Scenario {
        seed,
        spec,
        outsider,
        timings,
        steady_faults,
        bursts,
        faults,
        crash_after_steps,
        concurrent_after_steps,
        duplicate_trigger,
        failback,
        redelivered_after_failback,
        zone_outage,
        instances,
        network_timings,
        network_faults,
    }
}

/// Half the scenarios move clients: readiness checks and movers drawn from their own stream, so
/// every earlier draw stays as it was.
#[expect(
    clippy::too_many_lines,
    reason = "one draw per mover from the seed, in a fixed order that keeps old seeds' scenarios"
)]
fn clients(seed: u64, spec: &mut GroupSpec, faults: &mut Vec<FaultKind>) -> (NetworkTimings, NetworkFaults) {
    let mut rng = fastrand::Rng::with_seed(seed ^ 0xc11e_475f_0110_0a11);
    let mut timings = NetworkTimings {
        service_start_ms: rng.u64(1_000..=30_000),
        status_ok_after_ms: rng.u64(60_000..=180_000),
        record_in_sync_ms: rng.u64(5_000..=60_000),
        health_interval_ms: rng.u64(5_000..=30_000),
        healthy_threshold: rng.u32(2..=5),
        registration_ms: rng.u64(60_000..=180_000),
        deregistration_delay_ms: rng.u64(0..=300_000),
    };
    let mut network_faults = NetworkFaults::default();
    if !rng.bool() {
        return (timings, network_faults);
    }
    faults.push(FaultKind::Movers);
    let hex = |rng: &mut fastrand::Rng, prefix: &str| {
        format!("{prefix}{:017x}", rng.u64(..) & 0x0fff_ffff_ffff_ffff)
    };
    let tables: Vec<String> = (0..rng.usize(1..=3)).map(|_| hex(&mut rng, "rtb-")).collect();
    let target_group = format!(
        "arn:aws:elasticloadbalancing:ap-northeast-1:111122223333:targetgroup/sweep/{:016x}",
        rng.u64(..)
    );
    let all = [
        Mover::OverlayIp(OverlayIp { address: "10.255.0.10/32".to_owned(), route_tables: tables.clone() }),
        Mover::Dns(Dns {
            hosted_zone: "Z0SWEEPZONE".to_owned(),
            record: "svc.internal.".to_owned(),
            ttl: 10,
        }),
        Mover::TargetGroup(TargetGroup {
            arn: target_group.clone(),
            port: None,
            move_registration: rng.f64() < 0.3,
        }),
        Mover::ElasticIp(ElasticIp { allocation: hex(&mut rng, "eipalloc-") }),
    ];
    spec.movers = all.into_iter().filter(|_| rng.f64() < 0.5).collect();
    if spec.movers.is_empty() {
        spec.movers
            .push(Mover::OverlayIp(OverlayIp { address: "10.255.0.10/32".to_owned(), route_tables: tables }));
    }
    for _ in 0..rng.usize(0..=2) {
        let probe = match rng.f64() {
            r if r < 0.6 => Probe::Tcp { port: 5432 },
            r if r < 0.8 => {
                Probe::Http { port: 80, path: "/health".to_owned(), status: 200, body_contains: None }
            }
            _ => Probe::Ec2Status,
        };
        let mut check = ReadinessCheck::new(probe);
        check.successes = rng.u32(1..=3);
        check.interval = Duration::from_secs(rng.u64(1..=3));
        check.timeout = Duration::from_secs(rng.u64(60..=300));
        if !spec.readiness.iter().any(|earlier| earlier.probe == check.probe) {
            spec.readiness.push(check);
        }
    }
    spec.when_not_ready = if rng.bool() { WhenNotReady::KeepRunning } else { WhenNotReady::Stop };
    if rng.f64() < 0.1 {
        if let Some(standby) = spec.standbys.first() {
            network_faults.never_ready.insert(standby.clone());
            faults.push(FaultKind::NeverReady);
        }
    }
    if let Some(Mover::OverlayIp(overlay)) = spec.movers.first() {
        if rng.f64() < 0.15 {
            network_faults.refusing_table = Some((overlay.route_tables[0].clone(), rng.u32(1..=8)));
            faults.push(FaultKind::RefusingRouteTable);
        }
    }
    if rng.f64() < 0.1 {
        timings.record_in_sync_ms = rng.u64(60_000..=240_000);
        faults.push(FaultKind::SlowRecordSync);
    }
    (timings, network_faults)
}

impl Scenario {
    /// The simulated region the scenario starts from.
    pub fn region(&self) -> SimRegion {
        let region = SimRegion::new(self.seed, SCENARIO_START, self.timings);
        for instance in &self.instances {
            region.add_instance(instance.clone());
        }
        region.set_faults(self.steady_faults);
        region.with_network(|network, _| {
            network.timings = self.network_timings.clone();
            network.faults = self.network_faults.clone();
        });
        region.provision_clients(&self.spec, &self.spec.primary);
        if let Some(outage) = &self.zone_outage {
            region.impair_zone_between(&outage.zone, outage.calls, outage.from, outage.until);
        }
        region
    }

    /// The faults in force at `now`: the steady ones, plus any throttling burst.
    pub fn faults_at(&self, now: Timestamp) -> RegionFaults {
        let burst =
            self.bursts.iter().filter(|b| b.from <= now && now < b.until).map(|b| b.rate).fold(0.0, f64::max);
        RegionFaults { throttle: burst, ..self.steady_faults }
    }
}
