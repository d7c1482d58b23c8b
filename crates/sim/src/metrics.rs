//! CPU metrics the simulated instances publish: a `CPUUtilization` sample every 10 s while an
//! instance runs and publishes (detailed monitoring aggregates these per minute), visible a few
//! seconds after they are taken, nothing while it is stopped or dead. Alarms read them through
//! the alarm crate's `MetricSource`, so the simulated region is evaluated exactly as CloudWatch
//! would evaluate it.

use std::time::Duration;

use coldstandby_alarm::statistic::aggregate;
use coldstandby_alarm::{MetricSource, Statistic};
use coldstandby_engine::{Clock, InstanceId, InstanceState, Timestamp};

use crate::region::SimRegion;

/// How often an instance takes a CPU sample.
pub const SAMPLE_INTERVAL: Duration = Duration::from_secs(10);
/// How long after it is taken a sample becomes visible to alarms.
pub const PUBLISH_DELAY: Duration = Duration::from_secs(3);

impl SimRegion {
    /// The `CPUUtilization` samples `id` took in `[start, end)` that are visible now.
    pub fn cpu_samples(&self, id: &InstanceId, start: Timestamp, end: Timestamp) -> Vec<(Timestamp, f64)> {
        let Some(instance) = self.instance(id) else { return Vec::new() };
        let now = self.now();
        let step = SAMPLE_INTERVAL.as_millis() as u64;
        let first = start.unix_millis().div_ceil(step) * step;
        (first..end.unix_millis())
            .step_by(step as usize)
            .map(Timestamp::from_unix_millis)
            .filter(|at| *at + PUBLISH_DELAY <= now)
            .filter(|at| instance.publishes_metrics_until.is_none_or(|until| *at < until))
            .filter(|at| self.state_at(id, *at) == Some(InstanceState::Running))
            .map(|at| (at, (instance.cpu_load_at(at) + noise(id, at)).clamp(0.0, 100.0)))
            .collect()
    }
}

/// One instance's `CPUUtilization`, aggregated per period by an alarm's statistic.
#[derive(Debug)]
pub struct CpuMetric<'a> {
    pub region: &'a SimRegion,
    pub instance: InstanceId,
    pub statistic: Statistic,
}

impl MetricSource for CpuMetric<'_> {
    fn datapoint(&self, start: Timestamp, end: Timestamp) -> Option<f64> {
        let values: Vec<f64> =
            self.region.cpu_samples(&self.instance, start, end).into_iter().map(|(_, value)| value).collect();
        aggregate(self.statistic, &values)
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
