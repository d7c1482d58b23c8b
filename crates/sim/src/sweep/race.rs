//! Racing controllers: two or three processes (a Lambda invocation, its retry, a second
//! invocation, an operator's CLI) fail the same group over at once on one simulated region, each
//! under the group's lease. Some crash holding it, some lose the lease table for a while (their
//! calls failing, or never answering), some are suspended for up to a minute while the others go
//! on, the table throttles and loses answers, and EC2 calls may land after their caller gave up. A last retry runs
//! after them all (and up to two more while it fails or times out), as Lambda retries a failed
//! invocation.
//!
//! Judged from the world: `one-controller-per-group` from the table's history of writes and the
//! region's log of calls (each mutating call made while the table named its caller the holder),
//! and `single-live` from the members' true states once the region has settled.

use std::collections::BTreeMap;
use std::future::Future;
use std::ops::ControlFlow;
use std::pin::Pin;
use std::time::Duration;

use coldstandby_engine::budget;
use coldstandby_engine::driver::{self, Driven, Quiet};
use coldstandby_engine::fleet::{Fleet, Zones};
use coldstandby_engine::lease::LeaseSettings;
use coldstandby_engine::{Call, Clock, Failover, InstanceId, Options, Timestamp};
use serde::Serialize;

use super::checker::{Checker, Violation, ONE_CONTROLLER_PER_GROUP};
use super::scenario::{self, Scenario, RETRY_AFTER};
use super::{outcome_name, reach, WorldLog, MAX_STEPS_PER_TRIGGER, SETTLE};
use crate::controller::{join_all, Controller, Suspension};
use crate::leases::{CutOff, LeaseFaults};
use crate::region::SimRegion;

/// The lease table the racers share.
const TABLE: &str = "coldstandby-leases";

/// Whether every racer takes the lease.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RaceMode {
    #[default]
    Leased,
    /// Test-only: the second racer runs without the lease (an operator's CLI configured
    /// without it). The sweep must catch it.
    #[doc(hidden)]
    SecondWithoutLeaseForTesting,
    /// Test-only: a suspended racer's clock stands still through the suspension (as `Instant`
    /// does through a suspend) instead of counting it. The sweep must catch it.
    #[doc(hidden)]
    ClockStandsStillForTesting,
}

/// One racing controller.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Racer {
    pub name: String,
    /// After the scenario's first trigger time.
    pub start_after_ms: u64,
    /// It dies after this many engine steps, its lease left held.
    pub crash_after_steps: Option<u64>,
    /// It cannot reach the lease table for a while.
    pub cut_off: Option<CutOff>,
    /// It does not run for a while (a laptop closed, a process stopped) while the world moves.
    pub suspended: Option<Suspension>,
    pub leased: bool,
}

/// What one seed's race did.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RaceResult {
    pub seed: u64,
    pub lease_seconds: u64,
    pub table_faults: LeaseFaults,
    pub racers: Vec<Racer>,
    /// Each racer's end (`failed-over`, `failed: lease-held`, `crashed`, ...), the last retry's last.
    pub outcomes: Vec<String>,
    /// Lease writes that landed.
    pub lease_writes: usize,
    pub violations: Vec<Violation>,
    /// Calls of a suspended holder that landed after its lease passed on: the limitation
    /// docs/lease.md states, not counted as violations.
    pub suspended_in_flight: Vec<Violation>,
    /// Every call, lease write and racer's events (for `--events`).
    #[serde(skip)]
    pub log: WorldLog,
}

/// The command that replays one seed's race.
pub fn replay_command(seed: u64) -> String {
    format!("coldstandby simulate --race --seeds 1 --start-seed {seed}")
}

/// Race the controllers of `seed`.
#[expect(
    clippy::too_many_lines,
    reason = "the race's setup, racers, last retry and judgement in order; split when next touched"
)]
pub fn run_race(seed: u64, mode: RaceMode) -> RaceResult {
    let scenario = scenario::generate(seed);
    let region = scenario.region();
    let start = scenario::SCENARIO_START + scenario::FIRST_TRIGGER_AFTER;
    region.advance_to(start);
    let mut rng = fastrand::Rng::with_seed(seed ^ 0x0dac_e0ff_1ea5_e5ed);
    let lease_seconds = [6, 10, 20][rng.usize(0..3)];
    let table_faults = LeaseFaults {
        throttle: if rng.f64() < 0.3 { rng.f64() * 0.1 } else { 0.0 },
        lost_answer: if rng.f64() < 0.3 { rng.f64() * 0.3 } else { 0.0 },
    };
    let names = ["lambda", "operator-cli", "lambda-second"];
    let mut pauses = fastrand::Rng::with_seed(seed ^ 0x5005_9e4d_ed0c_10c5);
    let racers: Vec<Racer> = (0..rng.usize(2..=3))
        .map(|index| {
            let start_after_ms = if index == 0 { 0 } else { rng.u64(0..=30_000) };
            let cut_off = (rng.f64() < 0.25).then(|| {
                let from = start + Duration::from_millis(start_after_ms + rng.u64(0..=20_000));
                CutOff {
                    from,
                    until: from + Duration::from_millis(rng.u64(1_000..=60_000)),
                    hang: rng.bool(),
                }
            });
            // Drawn from its own stream, so every earlier draw stays as it was.
            let suspended = (pauses.f64() < 0.2).then(|| {
                let from = start + Duration::from_millis(start_after_ms + pauses.u64(0..=40_000));
                Suspension {
                    from,
                    until: from + Duration::from_millis(pauses.u64(2_000..=60_000)),
                    clock_stands_still: mode == RaceMode::ClockStandsStillForTesting,
                }
            });
            Racer {
                name: names[index].to_owned(),
                start_after_ms,
                crash_after_steps: (rng.f64() < 0.25).then(|| rng.u64(1..=400)),
                cut_off,
                suspended,
                leased: !(mode == RaceMode::SecondWithoutLeaseForTesting && index == 1),
            }
        })
        .collect();
    region.with_leases(|table| {
        table.faults = table_faults;
        for racer in &racers {
            if let Some(cut) = racer.cut_off {
                table.cut_off.insert(racer.name.clone(), cut);
            }
        }
    });
    let settings = |name: &str| LeaseSettings {
        table: TABLE.to_owned(),
        owner: name.to_owned(),
        duration: Duration::from_secs(lease_seconds),
    };

    let races: Vec<Pin<Box<dyn Future<Output = RacerEnd> + '_>>> = racers
        .iter()
        .enumerate()
        .map(|(number, racer)| {
            let settings = racer.leased.then(|| settings(&racer.name));
            let at = start + Duration::from_millis(racer.start_after_ms);
            let controller = region.controller(&racer.name).suspended(racer.suspended);
            Box::pin(race_one(
                &region,
                controller,
                &scenario,
                at,
                number as u64,
                settings,
                racer.crash_after_steps,
            )) as Pin<Box<dyn Future<Output = RacerEnd> + '_>>
        })
        .collect();
    let ends = region.run(join_all(races));
    let mut runs: Vec<(String, Vec<coldstandby_engine::Event>)> = racers
        .iter()
        .map(|racer| racer.name.clone())
        .zip(ends.iter().map(|end| end.events.clone()))
        .collect();
    let mut outcomes: Vec<String> = ends.into_iter().map(|end| end.outcome).collect();
    // Lambda retries a failed invocation, twice: the runs after them all, which nothing disturbs
    // (a crash can leave two members running, and one invocation may not be enough to mend it).
    for (number, name) in [(9, "lambda-retry"), (10, "lambda-retry-2"), (11, "lambda-retry-3")] {
        let retry_at = region.now() + RETRY_AFTER;
        let controller = region.controller(name);
        let retry = race_one(&region, controller, &scenario, retry_at, number, Some(settings(name)), None);
        let RacerEnd { outcome, events } = region.run(retry);
        runs.push((name.to_owned(), events));
        let failed = outcome.starts_with("failed:") || outcome == "timed-out";
        outcomes.push(outcome);
        if !failed {
            break;
        }
    }
    region.with_leases(|table| table.faults = LeaseFaults::default());

    let last_run_ended = region.now();
    let settled = last_run_ended + SETTLE;
    region.advance_to(settled);
    // Members out of every controller's reach are not counted, unless a controller started a
    // member: starting one beside a member that may run is the very fault to catch.
    let members = scenario.spec.members();
    let excused = reach::excused_at(&region, &members, last_run_ended, settled, &[]);
    let counted: Vec<InstanceId> = members.into_iter().filter(|member| !excused.contains(member)).collect();
    let mut checker = Checker::new(seed, counted);
    // As the invariant says: after a success, the member serving is the one recorded active. A
    // last run cut off or failed may leave another behind the fence that held (a standby it
    // started, booting past its end), while the record still names the member it fenced.
    let succeeded = outcomes.last().is_some_and(|last| last == "failed-over" || last == "already-active");
    let active = recorded_active(&region, &scenario).filter(|_| succeeded);
    checker.single_live(&region, settled, active.as_ref());
    let mut violations = checker.violations;
    let suspensions: BTreeMap<String, Suspension> = racers
        .iter()
        .filter_map(|racer| racer.suspended.map(|suspension| (racer.name.clone(), suspension)))
        .collect();
    let judged = one_controller_per_group(&region, seed, &suspensions);
    violations.extend(judged.violations);
    RaceResult {
        seed,
        lease_seconds,
        table_faults,
        racers,
        outcomes,
        lease_writes: region.lease_history().len(),
        violations,
        suspended_in_flight: judged.suspended_in_flight,
        log: WorldLog { runs, ..WorldLog::of(&region) },
    }
}

/// How one racer's run ended: its outcome's name and the engine's events.
struct RacerEnd {
    outcome: String,
    events: Vec<coldstandby_engine::Event>,
}

/// One racer's run, from `at`: its outcome's name.
async fn race_one(
    region: &SimRegion,
    controller: Controller<'_>,
    scenario: &Scenario,
    at: Timestamp,
    number: u64,
    lease: Option<LeaseSettings>,
    crash_after: Option<u64>,
) -> RacerEnd {
    let name = controller.name();
    controller.sleep_until(at).await;
    let spec = scenario.spec.clone();
    let began = region.now();
    // As Lambda runs it: an invocation timeout sized from the group, the deadline before it.
    let invocation_timeout = budget::invocation_timeout(budget::longest_run(&spec));
    let invocation_ends = began + invocation_timeout;
    let options = Options {
        trigger: format!("race {name}"),
        seed: scenario.seed.wrapping_mul(31).wrapping_add(number),
        deadline: Some(began + invocation_timeout.saturating_sub(budget::DEADLINE_MARGIN)),
        ..Options::default()
    };
    let failover = Failover::new(spec, options, began);
    let mut fleet = Fleet::new(vec![failover], Zones::default(), began);
    if let Some(settings) = &lease {
        fleet = fleet.with_leases(settings, began);
    }
    let mut steps = 0;
    let hook = |_: &Fleet, now: Timestamp| {
        steps += 1;
        if crash_after.is_some_and(|after| steps > after)
            || steps > MAX_STEPS_PER_TRIGGER
            || now >= invocation_ends
        {
            return ControlFlow::Break(());
        }
        region.set_faults(scenario.faults_at(now));
        ControlFlow::Continue(())
    };
    let crashed = |steps: u64| crash_after.is_some_and(|after| steps > after);
    match driver::drive(fleet, &controller, &controller, &mut Quiet, hook).await {
        Driven::Finished(mut reports) => {
            let report = reports.remove(0);
            RacerEnd { outcome: outcome_name(&report.outcome), events: report.events }
        }
        Driven::Stopped(fleet) => RacerEnd {
            outcome: if crashed(steps) { "crashed" } else { "timed-out" }.to_owned(),
            events: fleet.failovers().next().map(|run| run.events().to_vec()).unwrap_or_default(),
        },
    }
}

/// The member the tags record active, if exactly one is.
fn recorded_active(region: &SimRegion, scenario: &Scenario) -> Option<InstanceId> {
    let active: Vec<InstanceId> = scenario
        .spec
        .members()
        .into_iter()
        .filter(|id| {
            region.instance(id).is_some_and(|instance| {
                coldstandby_engine::Role::recorded_in(&instance.tags)
                    == Some(coldstandby_engine::Role::Active)
            })
        })
        .collect();
    match active.as_slice() {
        [one] => Some(one.clone()),
        _ => None,
    }
}

/// Every mutating call (a start, stop, tag write, traffic move or isolation, answered or not)
/// was made while the lease table named its caller the group's holder.
pub(crate) fn one_controller_per_group(
    region: &SimRegion,
    seed: u64,
    suspensions: &BTreeMap<String, Suspension>,
) -> Judged {
    let history = region.lease_history();
    let mut judged = Judged::default();
    for (index, record) in region.calls().iter().enumerate() {
        let mutating = matches!(
            record.call,
            Call::Start { .. }
                | Call::Stop { .. }
                | Call::SetTags { .. }
                | Call::MoveClients { .. }
                | Call::Isolate { .. }
        );
        let Some(caller) = record.caller.as_deref().filter(|_| mutating) else { continue };
        let holder = history
            .iter()
            .rfind(|change| change.calls_before <= index)
            .and_then(|change| change.owner.as_deref());
        if holder != Some(caller) {
            let detail = format!(
                "{caller} made {} while the lease table named {} the holder",
                record.call.operation(),
                holder.unwrap_or("no one")
            );
            judged.violations.push(Violation {
                seed,
                invariant: ONE_CONTROLLER_PER_GROUP,
                at: record.at,
                detail,
            });
        }
        // A call that landed after its caller gave up must land while the caller still holds
        // the record: the lease covers the call until it can no longer land.
        let Some(landed) = record.landed_at else { continue };
        let holder_then =
            history.iter().rfind(|change| change.at <= landed).and_then(|change| change.owner.as_deref());
        if holder_then != Some(caller) {
            let detail = format!(
                "{}'s {} landed at {landed} while the lease table named {} the holder",
                caller,
                record.call.operation(),
                holder_then.unwrap_or("no one")
            );
            let violation = Violation { seed, invariant: ONE_CONTROLLER_PER_GROUP, at: landed, detail };
            // Suspended between sending it and its landing: the limitation docs/lease.md states.
            let suspended_in_flight = suspensions
                .get(caller)
                .is_some_and(|suspension| suspension.from >= record.at && suspension.from < landed);
            if suspended_in_flight {
                judged.suspended_in_flight.push(violation);
            } else {
                judged.violations.push(violation);
            }
        }
    }
    judged
}

/// What `one_controller_per_group` found.
#[derive(Debug, Default)]
pub(crate) struct Judged {
    pub(crate) violations: Vec<Violation>,
    /// Calls sent by a holder that was then suspended, landing after its lease passed on: what no
    /// lease can prevent (docs/lease.md, "What it cannot cover"), counted apart.
    pub(crate) suspended_in_flight: Vec<Violation>,
}

/// The totals of a race sweep.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct RaceSummary {
    pub start_seed: u64,
    pub seeds: u64,
    /// Seeds by how many controllers raced.
    pub by_racers: BTreeMap<usize, u64>,
    /// Racers' ends by outcome (the last retries included).
    pub outcomes: BTreeMap<String, u64>,
    pub crashes: u64,
    pub cut_off_from_table: u64,
    pub lease_writes: u64,
    pub violations: Vec<Violation>,
    /// See [`RaceResult::suspended_in_flight`].
    pub suspended_in_flight: Vec<Violation>,
    pub replay: BTreeMap<u64, String>,
}

/// Race `count` seeds from `start_seed`, calling `on_seed` after each.
pub fn race_sweep(start_seed: u64, count: u64, on_seed: impl FnMut(&RaceResult)) -> RaceSummary {
    let seeds = start_seed..start_seed.saturating_add(count);
    summarize_races(start_seed, seeds.map(|seed| run_race(seed, RaceMode::Leased)), on_seed)
}

/// Sum up races (run in seed order from `start_seed`, however they were run), calling `on_seed`
/// after each.
pub fn summarize_races(
    start_seed: u64,
    results: impl IntoIterator<Item = RaceResult>,
    mut on_seed: impl FnMut(&RaceResult),
) -> RaceSummary {
    let mut summary = RaceSummary { start_seed, ..RaceSummary::default() };
    for result in results {
        let seed = result.seed;
        on_seed(&result);
        summary.seeds += 1;
        *summary.by_racers.entry(result.racers.len()).or_default() += 1;
        for outcome in &result.outcomes {
            *summary.outcomes.entry(outcome.clone()).or_default() += 1;
        }
        summary.crashes += result.racers.iter().filter(|r| r.crash_after_steps.is_some()).count() as u64;
        summary.cut_off_from_table += result.racers.iter().filter(|r| r.cut_off.is_some()).count() as u64;
        summary.lease_writes += result.lease_writes as u64;
        if !result.violations.is_empty() {
            summary.replay.insert(seed, replay_command(seed));
        }
        summary.violations.extend(result.violations);
        summary.suspended_in_flight.extend(result.suspended_in_flight);
    }
    summary
}
