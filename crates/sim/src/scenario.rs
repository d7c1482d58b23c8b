//! The article's scenario on the simulated region: EC2-1 runs in ap-northeast-1a, EC2-2 waits
//! stopped in ap-northeast-1c, CPU load starts on EC2-1, a CPU > 50% alarm fires and the group
//! fails over. Also the RTO breakdown and the change-versus-observation pairing a demo reports.

use std::time::Duration;

use coldstandby_engine::driver::{self, Observer};
use coldstandby_engine::{
    EventKind, Failover, GroupSpec, InstanceId, InstanceState, Options, Ordering, Report, Timestamp,
};
use serde::Serialize;

use crate::metrics::{Datapoint, PERIOD, PUBLISH_DELAY};
use crate::model::{SimInstance, Timings, Transition};
use crate::region::SimRegion;
use crate::run_ready;

/// The article's primary (EC2-1).
pub const PRIMARY: &str = "i-0a1b2c3d4e5f60718";
/// The article's standby (EC2-2).
pub const STANDBY: &str = "i-0f9e8d7c6b5a40312";
pub const GROUP: &str = "web";
pub const ALARM: &str = "web-primary-cpu-high";
pub const REGION: &str = "ap-northeast-1";
/// 2026-11-20T03:00:00Z, when the scenario's clock starts.
pub const SCENARIO_START: Timestamp = Timestamp::from_unix_millis(1_795_143_600_000);
/// The CPU load starts 80 s in, partway through the 03:01 minute.
const LOAD_STARTS_AFTER: Duration = Duration::from_secs(80);
/// Standard alarms are evaluated once a minute; this is the second within the minute.
const EVALUATION_OFFSET: Duration = Duration::from_secs(7);
/// The alarm's threshold (CPUUtilization Average > 50, 1 out of 1 one-minute periods).
pub const THRESHOLD: f64 = 50.0;

/// An alarm evaluation that changed the alarm's state.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AlarmChange {
    pub at: Timestamp,
    pub from: &'static str,
    pub to: &'static str,
    /// The data point that decided it, if any.
    pub datapoint: Option<Datapoint>,
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
    /// Standby running (and fence confirmed) to readiness verified.
    pub verify_ms: u64,
    /// Verified to the active member recorded in tags.
    pub record_ms: u64,
    /// Failure to recorded active standby.
    pub total_ms: u64,
    /// Trigger to recorded: what the controller is responsible for.
    pub failover_ms: u64,
    /// How long the instances themselves took (stop, then boot; in parallel the longer path).
    pub instance_ms: u64,
    /// `failover_ms - instance_ms`: the controller's own added time.
    pub overhead_ms: u64,
}

/// Everything the demo shows.
#[derive(Debug)]
pub struct ArticleRun {
    pub seed: u64,
    pub group: GroupSpec,
    pub failure_at: Timestamp,
    pub alarm_changes: Vec<AlarmChange>,
    pub report: Report,
    pub transitions: Vec<ObservedTransition>,
    pub rto: Option<RtoBreakdown>,
    pub region: SimRegion,
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

fn id(text: &str) -> InstanceId {
    text.parse().expect("the scenario's ids are valid")
}

/// Run the article's scenario to the end. `observer` sees the failover's events as they happen.
pub fn run_article(seed: u64, ordering: Ordering, observer: &mut impl Observer) -> ArticleRun {
    let region = article_region(seed);
    let group = article_group(ordering);
    let failure_at = SCENARIO_START + LOAD_STARTS_AFTER;
    region.advance_to(failure_at);
    region.with_instance(&group.primary, |primary, now| primary.cpu_load.push((now, 100.0)));

    let (alarm_changes, alarm_at) = wait_for_alarm(&region, &group.primary);
    let options = Options { trigger: format!("alarm {ALARM}"), seed, ..Options::default() };
    let failover = Failover::new(group.clone(), options, alarm_at);
    let report = run_ready(driver::run(failover, &region, &region, observer));
    let transitions = pair_transitions(&region.transitions(), &report);
    let rto = rto_breakdown(failure_at, alarm_at, &report, &region.transitions());
    ArticleRun { seed, group, failure_at, alarm_changes, report, transitions, rto, region }
}

/// Evaluate the article's alarm once a minute until it fires (at most an hour of virtual time).
fn wait_for_alarm(region: &SimRegion, primary: &InstanceId) -> (Vec<AlarmChange>, Timestamp) {
    let mut state = "INSUFFICIENT_DATA";
    let mut changes = Vec::new();
    let period_ms = PERIOD.as_millis() as u64;
    let now = coldstandby_engine::Clock::now(region).unix_millis();
    let mut evaluation = Timestamp::from_unix_millis(now.div_ceil(period_ms) * period_ms) + EVALUATION_OFFSET;
    for _ in 0..60 {
        region.advance_to(evaluation);
        let newest = region
            .cpu_datapoints(primary, SCENARIO_START)
            .into_iter()
            .rfind(|point| point.period_start + PERIOD + PUBLISH_DELAY <= evaluation);
        let next = match newest {
            Some(point) if point.value > THRESHOLD => "ALARM",
            Some(_) => "OK",
            None => "INSUFFICIENT_DATA",
        };
        if next != state {
            changes.push(AlarmChange { at: evaluation, from: state, to: next, datapoint: newest });
            state = next;
            if next == "ALARM" {
                return (changes, evaluation);
            }
        }
        evaluation = evaluation + PERIOD;
    }
    panic!("the article's alarm did not fire within an hour of virtual time");
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
    let milestones = report.milestones;
    let fenced = milestones.fence_confirmed_at?;
    let promoted = milestones.promoted_at?;
    let verified = milestones.verified_at?;
    let recorded = milestones.recorded_at?;
    let millis = |duration: Duration| u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
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
            EventKind::Fenced { instances } => Some(instances.clone()),
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
    let promote_from = match report.events.first().map(|event| &event.kind) {
        Some(EventKind::Started { ordering: Ordering::Parallel, .. }) => trigger_at,
        _ => fenced,
    };
    let failover = recorded.saturating_since(trigger_at);
    Some(RtoBreakdown {
        detection_ms: millis(trigger_at.saturating_since(failure_at)),
        fence_ms: millis(fenced.saturating_since(trigger_at)),
        promote_ms: millis(promoted.saturating_since(promote_from)),
        verify_ms: millis(verified.saturating_since(fenced.max(promoted))),
        record_ms: millis(recorded.saturating_since(verified)),
        total_ms: millis(recorded.saturating_since(failure_at)),
        failover_ms: millis(failover),
        instance_ms: millis(instance_time),
        overhead_ms: millis(failover.saturating_sub(instance_time)),
    })
}
