//! An Availability Zone goes down under many groups at once (`coldstandby simulate
//! --az-outage`): every group's primary lives in the zone, the function handles them all in one
//! fleet run, and the same groups are also handled one at a time (one alarm event after another,
//! as a function with reserved concurrency 1 and no fleet would), on a fresh copy of the region,
//! so the two can be compared in one report. Judged by the region's truth (`checks`).

mod bound;
mod checks;
pub mod layout;

use std::collections::{BTreeMap, BTreeSet};
use std::ops::ControlFlow;
use std::time::Duration;

use coldstandby_engine::driver::{self, Driven, Quiet};
use coldstandby_engine::fleet::{Fleet, Zones};
use coldstandby_engine::rate_limit::Bucket;
use coldstandby_engine::{millis, Clock, Failover, Failure, GroupSpec, Options, Outcome, Report, Timestamp};
use serde::Serialize;

pub use bound::{Bound, Unbatched};
pub use checks::OutageViolation;
use layout::{Policy, DOWN_ZONE};

use crate::region::SimRegion;
use crate::zones::ImpairedCalls;

/// When the zone goes down.
pub const OUTAGE_START: Timestamp = Timestamp::from_unix_millis(1_800_000_000_000);
/// From the outage to the function's first run: a status-check alarm with a one-minute period
/// reaches ALARM, and its action invokes the function. The same for every way of handling it.
pub const DETECTION: Duration = Duration::from_secs(60);

/// How long the region runs on after the fleet run before it is judged.
const SETTLE: Duration = Duration::from_secs(600);

/// What to simulate.
#[derive(Clone, Copy, Debug)]
pub struct OutageOptions {
    pub groups: usize,
    pub seed: u64,
    pub policy: Policy,
}

/// What happened, by the region's truth.
#[derive(Clone, Debug, Serialize)]
pub struct OutageReport {
    pub groups: usize,
    pub seed: u64,
    pub policy: &'static str,
    pub down_zone: &'static str,
    /// How calls into the zone fail: `fail`, `hang` or `either`.
    pub zone_calls: ImpairedCalls,
    /// From the outage to the last group recorded active (None if none was).
    pub outage_to_last_active_ms: Option<u64>,
    /// From the outage to the last group's run ending, whatever its outcome.
    pub outage_to_last_finished_ms: u64,
    /// The slowest group handled alone, with the same timings: what one group's failover takes.
    pub single_group_ms: u64,
    /// Every group handled one after another, each alone.
    pub one_at_a_time_ms: u64,
    pub request_limit_bound_ms: u64,
    pub request_limit_bound: Vec<String>,
    /// Requests the region received in the fleet run, by operation.
    pub calls: BTreeMap<String, u64>,
    /// Requests refused with `RequestLimitExceeded`.
    pub throttled_calls: u64,
    /// The most describe requests one round of the fleet made.
    pub describes_per_round: usize,
    pub active_groups: usize,
    pub failed_groups: usize,
    /// Failed groups by reason.
    pub failures: BTreeMap<String, usize>,
    pub violations: Vec<OutageViolation>,
    /// Each group made active: outage to recorded, in the fleet run (for the report's
    /// histogram; not in the JSON, where a thousand of them would drown the rest).
    #[serde(skip)]
    pub group_rto_ms: Vec<u64>,
}

/// How calls into the down zone fail, drawn from the seed.
fn zone_calls(seed: u64) -> ImpairedCalls {
    [ImpairedCalls::Fail, ImpairedCalls::Hang, ImpairedCalls::Either][(seed % 3) as usize]
}

/// The region and groups at the first run: the zone down since `OUTAGE_START`.
fn outage(options: &OutageOptions) -> (SimRegion, Vec<GroupSpec>) {
    let (region, specs) = layout::build(options.seed, options.groups, options.policy, OUTAGE_START);
    region.impair_zone(DOWN_ZONE, zone_calls(options.seed));
    region.advance_to(OUTAGE_START + DETECTION);
    (region, specs)
}

fn run_options(seed: u64) -> Options {
    Options { trigger: "az-outage".to_owned(), seed, ..Options::default() }
}

fn millis_since_outage(at: Timestamp) -> u64 {
    millis(at.saturating_since(OUTAGE_START))
}

/// Run the scenario both ways.
pub fn run(options: &OutageOptions) -> OutageReport {
    assert!(options.groups > 0, "an outage needs at least one group");
    let (region, specs) = outage(options);
    let began = region.now();
    let failovers =
        specs.iter().map(|spec| Failover::new(spec.clone(), run_options(options.seed), began)).collect();
    let fleet = Fleet::new(failovers, Zones::default(), began);
    let mut describes_per_round = 0;
    let hook = |fleet: &Fleet, _: Timestamp| {
        describes_per_round = describes_per_round.max(fleet.stats().largest_round);
        ControlFlow::Continue(())
    };
    let reports = match region.run(driver::drive(fleet, &region, &region, &mut Quiet, hook)) {
        Driven::Finished(reports) => reports,
        Driven::Stopped(_) => unreachable!("the hook never stops the run"),
    };
    // Judged once what the runs asked for has happened (a rollback's stop takes its while).
    region.advance(SETTLE);
    let violations = checks::check(&region, &specs, &reports, options.policy);
    let (calls, throttled_calls) = requests(&region);
    let bound = bound::bound(&unbatched(&specs, options.policy));

    let active: Vec<&Report> =
        reports.iter().filter(|r| matches!(r.outcome, Outcome::FailedOver { .. })).collect();
    let mut failures = BTreeMap::new();
    for report in &reports {
        if let Outcome::Failed { failure } = &report.outcome {
            *failures.entry(failure_kind(failure)).or_default() += 1;
        }
    }
    let (single_group_ms, one_at_a_time_ms) = one_at_a_time(options);
    OutageReport {
        groups: options.groups,
        seed: options.seed,
        policy: options.policy.as_str(),
        down_zone: DOWN_ZONE,
        zone_calls: zone_calls(options.seed),
        outage_to_last_active_ms: active.iter().map(|r| millis_since_outage(r.finished_at)).max(),
        outage_to_last_finished_ms: reports
            .iter()
            .map(|r| millis_since_outage(r.finished_at))
            .max()
            .unwrap_or(0),
        single_group_ms,
        one_at_a_time_ms,
        request_limit_bound_ms: bound.ms,
        request_limit_bound: bound.arithmetic,
        calls,
        throttled_calls,
        describes_per_round,
        active_groups: active.len(),
        failed_groups: reports.len() - active.len(),
        failures,
        violations,
        group_rto_ms: active.iter().map(|r| millis_since_outage(r.finished_at)).collect(),
    }
}

/// A failure's kind, for counting: what its message starts with, without instance ids.
fn failure_kind(failure: &Failure) -> String {
    match failure {
        Failure::Unobservable { .. } => "primary unobservable: AZ impaired",
        Failure::FenceNotConfirmed { .. } => "fence not confirmed",
        Failure::NoStandbyAvailable { .. } => "no standby could be promoted",
        Failure::PermanentError { .. } => "a call failed for good",
        Failure::DeadlineExceeded { .. } => "deadline reached",
        Failure::ConflictingRecords { .. } => "tags record several active members",
        Failure::NotReady { .. } => "not ready",
        Failure::LeaseHeld { .. } => "lease held by another process",
        Failure::LeaseLost { .. } => "lease lost",
        Failure::LeaseUnavailable { .. } => "lease table unavailable",
    }
    .to_owned()
}

/// Requests by operation (a request naming many instances counts once), and those throttled.
fn requests(region: &SimRegion) -> (BTreeMap<String, u64>, u64) {
    let mut seen = BTreeSet::new();
    let mut calls = BTreeMap::new();
    let mut throttled = 0;
    for record in region.calls() {
        if seen.insert(record.request) {
            *calls.entry(record.call.operation().to_owned()).or_default() += 1;
            if record.error.as_deref() == Some("RequestLimitExceeded") {
                throttled += 1;
            }
        }
    }
    (calls, throttled)
}

/// The calls this scenario cannot merge: one isolation per subnet (read, replace, read back),
/// and one instance token per standby started.
fn unbatched(specs: &[GroupSpec], policy: Policy) -> Vec<Unbatched> {
    if policy == Policy::FailClosed {
        return Vec::new(); // it starts nothing, and every stop can share a request
    }
    let subnets: BTreeSet<&str> = specs.iter().filter_map(|spec| spec.subnet_of(&spec.primary)).collect();
    let subnets = subnets.len() as u64;
    vec![
        Unbatched {
            what: "instances started (one first standby per group)".to_owned(),
            count: specs.len() as u64,
            bucket: Bucket::InstancesStarted,
        },
        Unbatched {
            what: format!("ReplaceNetworkAclAssociation (one per subnet, {subnets} subnets)"),
            count: subnets,
            bucket: Bucket::Mutating,
        },
        Unbatched {
            what: "DescribeNetworkAcls (a read and a read-back per subnet)".to_owned(),
            count: 2 * subnets,
            bucket: Bucket::DescribeFiltered,
        },
    ]
}

/// Each group alone, one after another, each handled once the one before has ended: the slowest
/// group's time from the outage, and the time from the outage to the last group's end. Each
/// group gets a region of its own (the same group, zone and faults; nothing else shares its
/// requests when groups take turns), so a thousand turns cost what a thousand small runs do.
fn one_at_a_time(options: &OutageOptions) -> (u64, u64) {
    let mut slowest = Duration::ZERO;
    let mut turn_begins = OUTAGE_START + DETECTION;
    for group in 0..options.groups {
        // Alone from the first alarm action, as in the fleet run (a capacity shortage early in
        // the outage hits it as it hits the fleet): what one group's failover takes.
        let alone = solo_run(options, group, OUTAGE_START + DETECTION);
        slowest = slowest.max(alone.finished_at.saturating_since(OUTAGE_START + DETECTION));
        // Then its turn, after the group before it.
        turn_begins = solo_run(options, group, turn_begins).finished_at;
    }
    let slowest_ms = millis(DETECTION + slowest);
    (slowest_ms, millis_since_outage(turn_begins))
}

/// Group `group` of the layout failed over alone, in a region of its own, from `begins`.
fn solo_run(options: &OutageOptions, group: usize, begins: Timestamp) -> Report {
    let (region, mut specs) =
        layout::build_groups(options.seed, group..group + 1, options.policy, OUTAGE_START);
    region.impair_zone(DOWN_ZONE, zone_calls(options.seed));
    region.advance_to(begins);
    let failover = Failover::new(specs.remove(0), run_options(options.seed), begins);
    region.run(driver::run(failover, &region, &region, &mut Quiet))
}
