//! The article's scenario on the simulated region: EC2-1 runs in ap-northeast-1a, EC2-2 waits
//! stopped in ap-northeast-1c, EC2-1 fails (CPU load, or it dies outright), the article's alarm
//! is evaluated the way CloudWatch would, and, if it fires, the group fails over; or two watchers
//! probe it and fail it over themselves. Also the RTO breakdown and the change-versus-observation
//! pairing a demo reports.

use std::collections::BTreeMap;
use std::time::Duration;

use coldstandby_alarm::evaluator::evaluation_times;
use coldstandby_alarm::{
    AlarmDefinition, AlarmEvaluator, AlarmState, Comparison, StateChange, Statistic, TreatMissingData,
};
use coldstandby_engine::clients::{Dns, ElasticIp, Mover, OverlayIp, Probe, ReadinessCheck, TargetGroup};
use coldstandby_engine::driver::{self, Observer};
use coldstandby_engine::fleet::Zones;
use coldstandby_engine::lease::LeaseSettings;
use coldstandby_engine::rto::{self, PhaseName, RecoveryPhase};
use coldstandby_engine::{
    millis, EventKind, Failover, Failure, GroupSpec, InstanceId, InstanceState, Options, Ordering, Outcome,
    Report, Timestamp,
};
use coldstandby_watch::{Plan, Settings as WatchSettings, View, WatchedGroup};
use serde::Serialize;

use crate::metrics::CpuMetric;
use crate::model::{SimInstance, Timings, Transition};
use crate::region::SimRegion;
use crate::services::ServiceFault;
use crate::watchers::{run_watchers, WatcherSetup};

/// The article's primary (EC2-1).
pub const PRIMARY: &str = "i-0a1b2c3d4e5f60718";
/// The article's standby (EC2-2).
pub const STANDBY: &str = "i-0f9e8d7c6b5a40312";
pub const GROUP: &str = "web";
pub const ALARM: &str = "web-primary-cpu-high";
pub const REGION: &str = "ap-northeast-1";
/// 2026-11-20T03:00:00Z, when the scenario's clock starts.
pub const SCENARIO_START: Timestamp = Timestamp::from_unix_millis(1_795_143_600_000);
/// The failure happens 80 s in, partway through the 03:01 minute.
const FAILURE_AFTER: Duration = Duration::from_secs(80);
/// CloudWatch evaluates standard alarms once a minute; this is the second within the minute.
pub const EVALUATION_OFFSET: Duration = Duration::from_secs(7);
/// How long after the failure the alarm is watched before the demo gives up on it.
const ALARM_WATCH: Duration = Duration::from_secs(15 * 60);

/// How the primary fails.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailureKind {
    /// The article's test: CPU load pegs the primary (it keeps publishing metrics).
    #[default]
    CpuLoad,
    /// The primary dies outright: it publishes nothing more, and its stop hangs until forced.
    Dies,
}

/// One lifecycle change of a simulated instance and when the engine first saw its result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ObservedTransition {
    pub instance: InstanceId,
    pub from: InstanceState,
    pub to: InstanceState,
    pub changed_at: Timestamp,
    /// The first describe after the change (None if the engine had finished by then).
    pub observed_at: Option<Timestamp>,
    /// The state that describe showed (a later one, if the instance moved on in between).
    pub observed_state: Option<InstanceState>,
}

impl ObservedTransition {
    pub fn lag(&self) -> Option<Duration> {
        self.observed_at.map(|observed| observed.saturating_since(self.changed_at))
    }
}

/// Where the recovery time went.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct RtoBreakdown {
    /// Failure to alarm.
    pub detection_ms: u64,
    /// Trigger to every old member confirmed stopped.
    pub fence_ms: u64,
    /// Fence (fence-first) or trigger (parallel) to the standby observed running.
    pub promote_ms: u64,
    /// Standby running (and fence confirmed) to its state verified (and every other member seen
    /// stopped).
    pub verify_ms: u64,
    /// Verified to every readiness check passed (0 with none configured).
    pub readiness_ms: u64,
    /// Ready to every mover verified: clients are sent to the standby (0 with none configured).
    pub clients_ms: u64,
    /// Clients moved to the active member recorded in tags.
    pub record_ms: u64,
    /// Failure to recorded active standby, clients moved to it.
    pub total_ms: u64,
    /// Trigger to recorded: what the controller is responsible for.
    pub failover_ms: u64,
    /// How long the instances themselves took (stop, then boot; in parallel the longer path).
    pub instance_ms: u64,
    /// `failover_ms` less `instance_ms`, `readiness_ms` and `clients_ms`: the controller's own
    /// added time.
    pub overhead_ms: u64,
}

/// What detects the failure.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Detector {
    /// The article's CloudWatch alarm, evaluated once a minute, its action starting the failover.
    #[default]
    Alarm,
    /// Two `coldstandby watch` watchers (one in each zone) probing `http :80/` every second,
    /// under the group's lease.
    Watch,
}

/// The watchers of the demo, one in each zone, and how they probe.
pub const WATCHERS: [&str; 2] = ["watcher-1a", "watcher-1c"];
/// At 100 % CPU the article's web server answers in this long: past the watcher's timeout.
const LOADED_ANSWER_MS: u64 = 2_000;
/// The lease table the demo's watchers share.
const LEASE_TABLE: &str = "coldstandby-leases";

/// How the demo's clients follow the failover (none: the article's recipe, which moves nothing).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Redirect {
    OverlayIp,
    Dns,
    TargetGroup,
    ElasticIp,
}

/// The overlay address, record and target group the demo's clients use.
pub const OVERLAY_ADDRESS: &str = "10.255.0.80/32";
pub const ROUTE_TABLES: [&str; 2] = ["rtb-0a1a1a1a1a1a1a1a1", "rtb-0c1c1c1c1c1c1c1c1"];
pub const HOSTED_ZONE: &str = "Z0DEMOPRIVATEZONE";
pub const RECORD: &str = "web.internal.example.";
pub const TARGET_GROUP: &str =
    "arn:aws:elasticloadbalancing:ap-northeast-1:111122223333:targetgroup/web/0123456789abcdef";
pub const ALLOCATION: &str = "eipalloc-0e1e1e1e1e1e1e1e1";

impl Redirect {
    /// The mover this redirect configures.
    pub fn mover(self) -> Mover {
        match self {
            Self::OverlayIp => Mover::OverlayIp(OverlayIp {
                address: OVERLAY_ADDRESS.to_owned(),
                route_tables: ROUTE_TABLES.map(str::to_owned).to_vec(),
            }),
            Self::Dns => {
                Mover::Dns(Dns { hosted_zone: HOSTED_ZONE.to_owned(), record: RECORD.to_owned(), ttl: 10 })
            }
            Self::TargetGroup => Mover::TargetGroup(TargetGroup {
                arn: TARGET_GROUP.to_owned(),
                port: None,
                move_registration: false,
            }),
            Self::ElasticIp => Mover::ElasticIp(ElasticIp { allocation: ALLOCATION.to_owned() }),
        }
    }
}

/// How to run the article's scenario.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArticleSetup {
    pub seed: u64,
    pub ordering: Ordering,
    pub failure: FailureKind,
    pub treat_missing_data: TreatMissingData,
    /// Readiness (a TCP check on port 80) and this mover; None moves no client.
    pub redirect: Option<Redirect>,
    pub detector: Detector,
}

impl Default for ArticleSetup {
    fn default() -> Self {
        Self {
            seed: 1,
            ordering: Ordering::FenceFirst,
            failure: FailureKind::CpuLoad,
            treat_missing_data: TreatMissingData::Missing,
            redirect: None,
            detector: Detector::Alarm,
        }
    }
}

/// Everything the demo shows.
#[derive(Debug)]
pub struct ArticleRun {
    pub setup: ArticleSetup,
    pub group: GroupSpec,
    pub alarm: AlarmDefinition,
    pub failure_at: Timestamp,
    /// Every state change of the alarm, with the data points that decided it.
    pub alarm_changes: Vec<StateChange>,
    /// With the watchers: each one's changes of view and verdicts, in time order.
    pub watch_log: Vec<WatchLine>,
    /// The failover, if the alarm fired.
    pub report: Option<Report>,
    pub transitions: Vec<ObservedTransition>,
    pub rto: Option<RtoBreakdown>,
    pub region: SimRegion,
}

/// One line of the watchers' log: what one watcher saw or decided.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct WatchLine {
    pub at: Timestamp,
    pub watcher: String,
    pub member: InstanceId,
    pub what: String,
}

/// The article's region: EC2-1 running in 1a with light load, EC2-2 stopped in 1c.
pub fn article_region(seed: u64) -> SimRegion {
    let region = SimRegion::new(seed, SCENARIO_START, Timings::default());
    let mut primary = SimInstance::new(id(PRIMARY), format!("{REGION}a"), InstanceState::Running);
    primary.cpu_load.push((SCENARIO_START, 8.0));
    region.add_instance(primary);
    region.add_instance(SimInstance::new(id(STANDBY), format!("{REGION}c"), InstanceState::Stopped));
    region
}

/// The article's group.
pub fn article_group(ordering: Ordering) -> GroupSpec {
    let mut group = GroupSpec::new(GROUP, id(PRIMARY), vec![id(STANDBY)]);
    group.ordering = ordering;
    group
}

/// The article's alarm: CPUUtilization Average > 50, one 60 s period, 1 out of 1, on EC2-1.
pub fn article_alarm(treat_missing_data: TreatMissingData) -> AlarmDefinition {
    AlarmDefinition {
        name: ALARM.to_owned(),
        namespace: "AWS/EC2".to_owned(),
        metric_name: "CPUUtilization".to_owned(),
        dimensions: BTreeMap::from([("InstanceId".to_owned(), PRIMARY.to_owned())]),
        statistic: Statistic::Average,
        period_seconds: 60,
        evaluation_periods: 1,
        datapoints_to_alarm: 1,
        threshold: 50.0,
        comparison: Comparison::GreaterThanThreshold,
        treat_missing_data,
        evaluation_range: 3,
    }
}

fn id(text: &str) -> InstanceId {
    text.parse().expect("the scenario's ids are valid")
}

/// Run the article's scenario to the end. `observer` sees the failover's events as they happen.
pub fn run_article(setup: ArticleSetup, observer: &mut impl Observer) -> ArticleRun {
    let region = article_region(setup.seed);
    let mut group = article_group(setup.ordering);
    if let Some(redirect) = setup.redirect {
        group.readiness = vec![ReadinessCheck::new(Probe::Tcp { port: 80 })];
        group.movers = vec![redirect.mover()];
        region.provision_clients(&group, &group.primary);
    }
    let alarm = article_alarm(setup.treat_missing_data);
    let mut evaluator = AlarmEvaluator::new(alarm.clone(), AlarmState::Ok);
    let metric = CpuMetric { region: &region, instance: group.primary.clone(), statistic: alarm.statistic };

    // Evaluate while all is well, then fail the primary.
    let failure_at = SCENARIO_START + FAILURE_AFTER;
    let mut alarm_changes = Vec::new();
    for at in evaluation_times(&alarm, SCENARIO_START, failure_at, EVALUATION_OFFSET) {
        region.advance_to(at);
        alarm_changes.extend(evaluator.evaluate(at, &metric));
    }
    if setup.detector == Detector::Watch {
        return run_watched(setup, region, group, alarm, failure_at, observer);
    }
    region.advance_to(failure_at);
    fail_primary(&region, &group.primary, setup.failure, failure_at);

    // Evaluate at CloudWatch's cadence until the alarm fires or the watch ends.
    let mut alarm_at = None;
    for at in evaluation_times(&alarm, failure_at, failure_at + ALARM_WATCH, EVALUATION_OFFSET) {
        region.advance_to(at);
        if let Some(change) = evaluator.evaluate(at, &metric) {
            let fired = change.to == AlarmState::Alarm;
            alarm_changes.push(change);
            if fired {
                alarm_at = Some(at);
                break;
            }
        }
    }

    let Some(alarm_at) = alarm_at else {
        return ArticleRun {
            setup,
            group,
            alarm,
            failure_at,
            alarm_changes,
            watch_log: Vec::new(),
            report: None,
            transitions: Vec::new(),
            rto: None,
            region,
        };
    };
    let options = Options { trigger: format!("alarm {ALARM}"), seed: setup.seed, ..Options::default() };
    let failover = Failover::new(group.clone(), options, alarm_at);
    let report = region.run(driver::run(failover, &region, &region, observer));
    let transitions = pair_transitions(&region.transitions(), &report);
    let rto = rto_breakdown(failure_at, alarm_at, &report, &region.transitions());
    ArticleRun {
        setup,
        group,
        alarm,
        failure_at,
        alarm_changes,
        watch_log: Vec::new(),
        report: Some(report),
        transitions,
        rto,
        region,
    }
}

/// Make the primary fail at `at`: its CPU pegged (metrics keep coming, the web server answers
/// in 2 s), or dead (no metrics, no answers, a stop that hangs until forced).
fn fail_primary(region: &SimRegion, primary: &InstanceId, failure: FailureKind, at: Timestamp) {
    region.with_instance(primary, |instance, _| match failure {
        FailureKind::CpuLoad => instance.cpu_load.push((at, 100.0)),
        FailureKind::Dies => {
            instance.publishes_metrics_until = Some(at);
            instance.faults.stop_hangs = true;
        }
    });
    let fault = match failure {
        FailureKind::CpuLoad => ServiceFault::Slow { latency_ms: LOADED_ANSWER_MS },
        FailureKind::Dies => ServiceFault::Silent,
    };
    region.with_services(|services| services.fail(primary, fault, at, None));
}

/// The scenario with two watchers instead of the alarm: they probe from the start, the primary
/// fails at `failure_at`, and the watcher holding the lease fails the group over.
fn run_watched(
    setup: ArticleSetup,
    region: SimRegion,
    group: GroupSpec,
    alarm: AlarmDefinition,
    failure_at: Timestamp,
    observer: &mut impl Observer,
) -> ArticleRun {
    fail_primary(&region, &group.primary, setup.failure, failure_at);
    let watched = WatchedGroup {
        spec: group.clone(),
        probes: vec![Probe::Http { port: 80, path: "/".to_owned(), status: 200, body_contains: None }],
        // The article's rule too, evaluated by the watchers themselves: it fires a minute late,
        // so the probes decide first.
        alarm: Some(alarm.clone()),
    };
    let plan = Plan {
        settings: WatchSettings::default(),
        lease: Some(LeaseSettings {
            table: LEASE_TABLE.to_owned(),
            owner: String::new(),
            duration: coldstandby_engine::lease::DEFAULT_DURATION,
        }),
        zones: Zones::default(),
    };
    let setups: Vec<WatcherSetup> = WATCHERS.iter().map(|name| WatcherSetup::new(name)).collect();
    // Told to stop a minute after the failure, a watcher first finishes the run it has under way.
    let stop_at = failure_at + Duration::from_secs(60);
    let journals = run_watchers(&region, &setups, &plan, std::slice::from_ref(&watched), stop_at);
    let mut watch_log = Vec::new();
    let mut report = None;
    for (setup, journal) in setups.iter().zip(&journals) {
        for (at, member, view) in journal.views.borrow().iter() {
            let what = format!("probes say {}", view_name(*view));
            watch_log.push(WatchLine { at: *at, watcher: setup.name.clone(), member: member.clone(), what });
        }
        for (at, _, member, verdict) in journal.verdicts.borrow().iter() {
            let what = verdict.to_string();
            watch_log.push(WatchLine { at: *at, watcher: setup.name.clone(), member: member.clone(), what });
        }
        for (_, ran) in journal.reports.borrow().iter() {
            let at = ran.events.last().map_or(ran.started_at, |event| event.at);
            let what = format!("its run ended: {}", ran.outcome);
            watch_log.push(WatchLine {
                at,
                watcher: setup.name.clone(),
                member: group.primary.clone(),
                what,
            });
        }
        // One watcher ran it; the other found it held, or done afterwards: the demo shows the
        // earliest run that held the lease (which watcher wins it is the lease race's draw).
        let held_elsewhere =
            |ran: &Report| matches!(&ran.outcome, Outcome::Failed { failure: Failure::LeaseHeld { .. } });
        let acted =
            journal.reports.borrow().iter().map(|(_, ran)| ran.clone()).find(|ran| !held_elsewhere(ran));
        if let Some(ran) = acted {
            if report.as_ref().is_none_or(|first: &Report| ran.started_at < first.started_at) {
                report = Some(ran);
            }
        }
    }
    watch_log.sort_by(|a, b| (a.at, &a.watcher).cmp(&(b.at, &b.watcher)));
    for event in report.iter().flat_map(|report| &report.events) {
        observer.on_event(&group.name, event);
    }
    let transitions = report.as_ref().map(|report| pair_transitions(&region.transitions(), report));
    let rto = report
        .as_ref()
        .and_then(|report| rto_breakdown(failure_at, report.started_at, report, &region.transitions()));
    ArticleRun {
        setup,
        group,
        alarm,
        failure_at,
        alarm_changes: Vec::new(),
        watch_log,
        report,
        transitions: transitions.unwrap_or_default(),
        rto,
        region,
    }
}

fn view_name(view: View) -> &'static str {
    match view {
        View::Up => "up",
        View::Down => "down (2 of the last 3 rounds failed)",
        View::Unknown => "unsure (a round failed)",
    }
}

/// Pair every lifecycle change made after the failover began with the engine's first
/// observation, after it, of that instance in another state than the one it left.
pub fn pair_transitions(transitions: &[Transition], report: &Report) -> Vec<ObservedTransition> {
    transitions
        .iter()
        .filter(|transition| transition.at >= report.started_at)
        .map(|transition| {
            let observed = report.events.iter().find_map(|event| match &event.kind {
                // A describe answered at the very moment of the change saw the old state.
                EventKind::Observed { instance, state, .. }
                    if *instance == transition.instance
                        && event.at > transition.at
                        && *state != transition.from =>
                {
                    Some((event.at, *state))
                }
                _ => None,
            });
            ObservedTransition {
                instance: transition.instance.clone(),
                from: transition.from,
                to: transition.to,
                changed_at: transition.at,
                observed_at: observed.map(|(at, _)| at),
                observed_state: observed.map(|(_, state)| state),
            }
        })
        .collect()
}

/// The RTO breakdown of a completed failover (None if it did not complete).
pub fn rto_breakdown(
    failure_at: Timestamp,
    trigger_at: Timestamp,
    report: &Report,
    transitions: &[Transition],
) -> Option<RtoBreakdown> {
    // A breakdown only of a run that completed every phase.
    let milestones = report.milestones;
    milestones.fence_confirmed_at?;
    milestones.promoted_at?;
    let verified = milestones.verified_at?;
    let recorded = milestones.recorded_at?;
    let redirected = milestones.redirected_at.or(milestones.ready_at).unwrap_or(verified);
    let span = |instance: &InstanceId, from_state: InstanceState, to_state: InstanceState| {
        let mut mine = transitions.iter().filter(|t| t.instance == *instance && t.at >= trigger_at);
        let begin = mine.clone().find(|t| t.from == from_state)?.at;
        let end = mine.rfind(|t| t.to == to_state)?.at;
        Some(end.saturating_since(begin))
    };
    let fence_span: Duration = report
        .events
        .iter()
        .find_map(|event| match &event.kind {
            EventKind::Fenced { instances, .. } => Some(instances.clone()),
            _ => None,
        })
        .unwrap_or_default()
        .iter()
        .filter_map(|instance| span(instance, InstanceState::Running, InstanceState::Stopped))
        .max()
        .unwrap_or_default();
    let promoted_instance = report.events.iter().find_map(|event| match &event.kind {
        EventKind::Promoted { instance } => Some(instance.clone()),
        _ => None,
    })?;
    let boot_span =
        span(&promoted_instance, InstanceState::Stopped, InstanceState::Running).unwrap_or_default();
    let instance_time = match report.events.iter().find_map(|event| match &event.kind {
        EventKind::Started { ordering, .. } => Some(*ordering),
        _ => None,
    }) {
        Some(Ordering::Parallel) => fence_span.max(boot_span),
        _ => fence_span + boot_span,
    };
    let failover = recorded.saturating_since(trigger_at);
    // The service's own start and the mechanism's propagation are not the controller's time.
    let waited_on_others = redirected.saturating_since(verified);
    // The phases are cut once, by the engine, for this breakdown, the reports and the notifications.
    let phases = rto::phases(report, trigger_at, Some(failure_at));
    let phase_ms =
        |name| phases.iter().find(|phase| phase.name == name).map_or(0, RecoveryPhase::duration_ms);
    Some(RtoBreakdown {
        detection_ms: phase_ms(PhaseName::Detection),
        fence_ms: phase_ms(PhaseName::Fence),
        promote_ms: phase_ms(PhaseName::Promote),
        verify_ms: phase_ms(PhaseName::Verify),
        readiness_ms: phase_ms(PhaseName::Readiness),
        clients_ms: phase_ms(PhaseName::Clients),
        record_ms: phase_ms(PhaseName::Record),
        total_ms: millis(recorded.saturating_since(failure_at)),
        failover_ms: millis(failover),
        instance_ms: millis(instance_time),
        overhead_ms: millis(failover.saturating_sub(instance_time).saturating_sub(waited_on_others)),
    })
}
