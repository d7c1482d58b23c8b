//! CPU metrics the simulated instances publish, the way EC2 detailed monitoring does: one
//! `CPUUtilization` data point a minute while the instance runs, nothing while it does not.

use std::time::Duration;

use coldstandby_engine::{InstanceId, InstanceState, Timestamp};
use serde::Serialize;

use crate::region::SimRegion;

/// The metric period of detailed monitoring.
pub const PERIOD: Duration = Duration::from_secs(60);
/// How long after its period ends a data point becomes visible to alarms.
pub const PUBLISH_DELAY: Duration = Duration::from_secs(3);
/// Raw samples taken within one period.
const SAMPLES_PER_PERIOD: u64 = 6;

/// One aggregated data point.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Datapoint {
    pub period_start: Timestamp,
    /// The average of the period's samples, in percent.
    pub value: f64,
    pub sample_count: u32,
}

impl SimRegion {
    /// The instance's state at `at`, from the region's lifecycle log.
    pub fn state_at(&self, id: &InstanceId, at: Timestamp) -> Option<InstanceState> {
        let transitions = self.transitions();
        let mine: Vec<_> = transitions.iter().filter(|t| t.instance == *id).collect();
        if let Some(last) = mine.iter().rev().find(|t| t.at <= at) {
            return Some(last.to);
        }
        match mine.first() {
            Some(first) => Some(first.from),
            None => self.instance(id).map(|instance| instance.state),
        }
    }

    /// The `CPUUtilization` data points of every period that started at or after `from` and
    /// was published by the current time, oldest first. A period in which the instance never
    /// ran has no data point.
    pub fn cpu_datapoints(&self, id: &InstanceId, from: Timestamp) -> Vec<Datapoint> {
        let Some(instance) = self.instance(id) else {
            return Vec::new();
        };
        let now = self.now_time();
        let period_ms = PERIOD.as_millis() as u64;
        let first = from.unix_millis().div_ceil(period_ms) * period_ms;
        let mut points = Vec::new();
        let mut start = Timestamp::from_unix_millis(first);
        while start + PERIOD + PUBLISH_DELAY <= now {
            let step = period_ms / SAMPLES_PER_PERIOD;
            let samples: Vec<f64> = (0..SAMPLES_PER_PERIOD)
                .map(|i| start + Duration::from_millis(i * step))
                .filter(|at| self.state_at(id, *at) == Some(InstanceState::Running))
                .map(|at| (instance.cpu_load_at(at) + noise(id, at)).clamp(0.0, 100.0))
                .collect();
            if !samples.is_empty() {
                let value = samples.iter().sum::<f64>() / samples.len() as f64;
                points.push(Datapoint { period_start: start, value, sample_count: samples.len() as u32 });
            }
            start = start + PERIOD;
        }
        points
    }

    fn now_time(&self) -> Timestamp {
        coldstandby_engine::Clock::now(self)
    }
}

/// Measurement noise of up to ±2 percentage points, derived from the instance and time alone,
/// so reading metrics never disturbs the region's random stream.
fn noise(id: &InstanceId, at: Timestamp) -> f64 {
    let mut hash = at.unix_millis() ^ 0x9E37_79B9_7F4A_7C15;
    for byte in id.as_str().bytes() {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01B3);
    }
    hash ^= hash >> 33;
    hash = hash.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
    hash ^= hash >> 33;
    (hash % 4001) as f64 / 1000.0 - 2.0
}
