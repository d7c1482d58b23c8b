//! The fleet driver's own cost as the number of groups grows: an AZ outage (`isolate`) of 10,
//! 100, 1,000 and 10,000 groups, each run to the end on the simulated region with a hand-written
//! copy of the driver loop that times only the fleet's `poll` and `on_answer` (the simulated
//! region's work is not counted). Prints the fleet's CPU time per group and per group and step;
//! neither should grow with the number of groups.
//!
//! `cargo bench -p coldstandby-sim --bench fleet [-- MAX_GROUPS]`

#![allow(clippy::print_stdout, clippy::disallowed_methods)] // a benchmark reports on stdout, in wall time

use std::time::{Duration, Instant};

use coldstandby_engine::driver::{self, InFlight};
use coldstandby_engine::fleet::{Fleet, Zones};
use coldstandby_engine::{Clock, Failover, Options};
use coldstandby_sim::outage::layout::{self, Policy};
use coldstandby_sim::outage::{DETECTION, OUTAGE_START};
use coldstandby_sim::ImpairedCalls;

struct Measured {
    fleet: Duration,
    steps: u64,
    wall: Duration,
    /// Groups made active (beyond 1,000 groups, EC2's started-instance bucket, 2 a second past
    /// its burst of 1,000, leaves many past their deadline: a limit of EC2, reported).
    active: usize,
}

fn one_outage(groups: usize) -> Measured {
    let wall = Instant::now();
    let (region, specs) = layout::build(7, groups, Policy::Isolate, OUTAGE_START);
    region.impair_zone(layout::DOWN_ZONE, ImpairedCalls::Either);
    region.advance_to(OUTAGE_START + DETECTION);
    let began = region.now();
    let started = Instant::now();
    let failovers = specs.iter().map(|spec| Failover::new(spec.clone(), Options::default(), began)).collect();
    let mut fleet = Fleet::new(failovers, Zones::default(), began);
    let mut fleet_time = started.elapsed();
    let mut steps = 0;
    let mut in_flight: Vec<InFlight<'_>> = Vec::new();
    loop {
        let now = region.now();
        let started = Instant::now();
        let poll = fleet.poll(now);
        fleet_time += started.elapsed();
        steps += 1;
        if fleet.is_finished() {
            break;
        }
        for outgoing in poll.send {
            in_flight.push((outgoing.id, Box::pin(driver::make(&region, &region, outgoing, now))));
        }
        let wake = poll.wake_at.map(|at| region.sleep_until(at));
        if let Some((id, result)) = region.run(driver::next_answer(&mut in_flight, wake)) {
            let now = region.now();
            let started = Instant::now();
            fleet.on_answer(now, id, result);
            fleet_time += started.elapsed();
        }
    }
    let reports = fleet.into_reports();
    let active = reports.iter().filter(|report| report.outcome.is_success()).count();
    Measured { fleet: fleet_time, steps, wall: wall.elapsed(), active }
}

fn main() {
    let largest: usize = std::env::args().skip(1).find_map(|arg| arg.parse().ok()).unwrap_or(10_000);
    println!("coldstandby fleet driver cost in an AZ outage (isolate), by number of groups");
    println!(
        "{:>7} {:>7} {:>7} {:>12} {:>14} {:>18} {:>10}",
        "groups", "active", "steps", "fleet CPU", "per group", "per group-step", "wall"
    );
    one_outage(10); // warm up
    for groups in [10, 100, 1_000, 10_000].into_iter().filter(|groups| *groups <= largest) {
        let measured = one_outage(groups);
        let per_group = measured.fleet / groups as u32;
        let per_group_step = measured.fleet.as_nanos() as f64 / (groups as f64 * measured.steps as f64);
        println!(
            "{groups:>7} {:>7} {:>7} {:>9.1} ms {:>11.1} µs {:>15.1} ns {:>7.1} s",
            measured.active,
            measured.steps,
            measured.fleet.as_secs_f64() * 1000.0,
            per_group.as_secs_f64() * 1e6,
            per_group_step,
            measured.wall.as_secs_f64()
        );
    }
}
