//! Aggregating one period's raw samples into its data point, by the alarm's statistic.

use crate::definition::Statistic;

/// The data point of a period with these samples; None when there are none (a missing point).
///
/// Percentiles use the nearest-rank method on the sorted samples: CloudWatch does not publish its
/// estimator, and nearest-rank returns a value that was actually observed.
pub fn aggregate(statistic: Statistic, samples: &[f64]) -> Option<f64> {
    if samples.is_empty() {
        return None;
    }
    let count = samples.len() as f64;
    Some(match statistic {
        Statistic::SampleCount => count,
        Statistic::Sum => samples.iter().sum(),
        Statistic::Average => samples.iter().sum::<f64>() / count,
        Statistic::Minimum => samples.iter().copied().fold(f64::INFINITY, f64::min),
        Statistic::Maximum => samples.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        Statistic::Percentile(percent) => {
            let mut sorted = samples.to_vec();
            sorted.sort_by(f64::total_cmp);
            let rank = ((percent / 100.0) * count).ceil().max(1.0) as usize;
            sorted[rank.min(sorted.len()) - 1]
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_statistic_on_known_samples() {
        let samples = [4.0, 1.0, 3.0, 2.0, 10.0];
        let cases = [
            (Statistic::SampleCount, 5.0),
            (Statistic::Sum, 20.0),
            (Statistic::Average, 4.0),
            (Statistic::Minimum, 1.0),
            (Statistic::Maximum, 10.0),
            (Statistic::Percentile(50.0), 3.0),
            (Statistic::Percentile(80.0), 4.0),
            (Statistic::Percentile(81.0), 10.0),
            (Statistic::Percentile(99.0), 10.0),
            (Statistic::Percentile(0.1), 1.0),
        ];
        for (statistic, expected) in cases {
            assert_eq!(aggregate(statistic, &samples), Some(expected), "{statistic}");
        }
        assert_eq!(aggregate(Statistic::Average, &[]), None);
    }
}
