//! What the engine's scenario test files share: the group (a primary and two standbys in three
//! zones), the simulated region it lives in, and look-ups of what the region recorded.

#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)] // each test file uses part of it

use std::collections::BTreeMap;
use std::time::Duration;

use coldstandby_engine::driver::{self, Quiet};
use coldstandby_engine::{
    ApiError, Call, EventKind, Failover, Failure, GroupSpec, InstanceId, InstanceState, Observation, Options,
    Ordering, Outcome, Provider, Report, Role, Timestamp,
};
use coldstandby_sim::{SimInstance, SimRegion, Timings};

pub const PRIMARY: &str = "i-0000000000000000a";
pub const FIRST: &str = "i-0000000000000000b";
pub const SECOND: &str = "i-0000000000000000c";
pub const START: Timestamp = Timestamp::from_unix_millis(1_800_000_000_000);

pub fn id(text: &str) -> InstanceId {
    text.parse().unwrap()
}

/// A region with the primary running in 1a and two stopped standbys in 1c and 1d.
pub fn region(seed: u64) -> SimRegion {
    let region = SimRegion::new(seed, START, Timings::default());
    region.add_instance(SimInstance::new(id(PRIMARY), "ap-northeast-1a", InstanceState::Running));
    region.add_instance(SimInstance::new(id(FIRST), "ap-northeast-1c", InstanceState::Stopped));
    region.add_instance(SimInstance::new(id(SECOND), "ap-northeast-1d", InstanceState::Stopped));
    region
}

pub fn group(ordering: Ordering) -> GroupSpec {
    let mut spec = GroupSpec::new("web", id(PRIMARY), vec![id(FIRST), id(SECOND)]);
    spec.ordering = ordering;
    spec
}

pub fn run_on<P: Provider>(provider: &P, clock: &SimRegion, spec: GroupSpec, options: Options) -> Report {
    let failover = Failover::new(spec, options, coldstandby_engine::Clock::now(clock));
    clock.run(driver::run(failover, provider, clock, &mut Quiet))
}

pub fn run(region: &SimRegion, spec: GroupSpec) -> Report {
    run_on(region, region, spec, Options::default())
}

pub fn state(region: &SimRegion, instance: &str) -> InstanceState {
    region.instance(&id(instance)).unwrap().state
}

pub fn role(region: &SimRegion, instance: &str) -> Option<Role> {
    Role::recorded_in(&region.instance(&id(instance)).unwrap().tags)
}

/// When the region received each call matching `wanted`.
pub fn call_times(region: &SimRegion, wanted: impl Fn(&Call) -> bool) -> Vec<Timestamp> {
    region.calls().into_iter().filter(|record| wanted(&record.call)).map(|record| record.at).collect()
}

pub fn is_start_of(instance: &str) -> impl Fn(&Call) -> bool + '_ {
    move |call| matches!(call, Call::Start { instance: i } if i.as_str() == instance)
}

pub fn is_stop_of(instance: &str) -> impl Fn(&Call) -> bool + '_ {
    move |call| matches!(call, Call::Stop { instance: i, .. } if i.as_str() == instance)
}

/// When the region moved `instance` into `to`.
pub fn transition_time(region: &SimRegion, instance: &str, to: InstanceState) -> Option<Timestamp> {
    region.transitions().into_iter().find(|t| t.instance.as_str() == instance && t.to == to).map(|t| t.at)
}

pub fn event_time(report: &Report, wanted: impl Fn(&EventKind) -> bool) -> Option<Timestamp> {
    report.events.iter().find(|event| wanted(&event.kind)).map(|event| event.at)
}

pub fn failed_over_to(report: &Report, instance: &str) {
    match &report.outcome {
        Outcome::FailedOver { from, to } => {
            assert_eq!(from.as_str(), PRIMARY);
            assert_eq!(to.as_str(), instance, "{:#?}", report.events);
        }
        other => panic!("expected a failover to {instance}, got {other:?}\n{:#?}", report.events),
    }
}

pub fn failure(report: &Report) -> &Failure {
    match &report.outcome {
        Outcome::Failed { failure } => failure,
        other => panic!("expected a failure, got {other:?}"),
    }
}

/// A region whose first standby starts in `state`, with its next lifecycle step (if any) due
/// after `step_after`.
pub fn region_with_first_standby(
    state: InstanceState,
    step_after: Option<(Duration, InstanceState)>,
) -> SimRegion {
    let region = SimRegion::new(7, START, Timings::default());
    region.add_instance(SimInstance::new(id(PRIMARY), "ap-northeast-1a", InstanceState::Running));
    let mut first = SimInstance::new(id(FIRST), "ap-northeast-1c", state);
    first.next = step_after.map(|(after, to)| (START + after, to));
    region.add_instance(first);
    region.add_instance(SimInstance::new(id(SECOND), "ap-northeast-1d", InstanceState::Stopped));
    region
}

/// The region as a failover to FIRST left it, `activated_at`: FIRST runs, recorded active; the
/// primary is stopped and recorded standby.
pub fn failed_over_to_first(region: &SimRegion, activated_at: Timestamp) {
    region.with_instance(&id(PRIMARY), |primary, _| {
        primary.state = InstanceState::Stopped;
        primary.tags = Role::Standby.tags_for("web");
    });
    region.with_instance(&id(FIRST), |first, _| {
        first.state = InstanceState::Running;
        first.tags = Role::Active.tags_for("web");
        let at = activated_at.unix_millis().to_string();
        first.tags.insert(coldstandby_engine::tags::ACTIVATED_AT_TAG.to_owned(), at);
    });
}

/// The region, with each describe first offered to `answer`, which may answer it instead (an
/// error, an empty answer) at the moment a test needs; every other call goes to the region.
pub struct DescribesOverridden<'a, F> {
    pub region: &'a SimRegion,
    pub answer: F,
}

type DescribeAnswer = Result<Vec<Observation>, ApiError>;

impl<F: Fn(&[InstanceId], Timestamp) -> Option<DescribeAnswer>> Provider for DescribesOverridden<'_, F> {
    async fn describe(&self, instances: &[InstanceId]) -> DescribeAnswer {
        let now = coldstandby_engine::Clock::now(self.region);
        match (self.answer)(instances, now) {
            Some(answer) => answer,
            None => self.region.describe(instances).await,
        }
    }
    async fn start(&self, instances: &[InstanceId]) -> Result<(), ApiError> {
        self.region.start(instances).await
    }
    async fn stop(&self, instances: &[InstanceId], force: bool) -> Result<(), ApiError> {
        self.region.stop(instances, force).await
    }
    async fn set_tags(
        &self,
        instances: &[InstanceId],
        tags: &BTreeMap<String, String>,
    ) -> Result<(), ApiError> {
        self.region.set_tags(instances, tags).await
    }
}

/// What EC2 answers a describe refused by its request rate limit.
pub fn throttled() -> ApiError {
    ApiError::new(coldstandby_engine::ErrorKind::Throttled, "RequestLimitExceeded", "Request limit exceeded.")
}
