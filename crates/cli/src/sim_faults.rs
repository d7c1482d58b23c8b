//! `--sim-faults`: EC2 misbehaving on the simulated region, written `throttle=0.2,transient=0.1`,
//! so a drill can be rehearsed against a region that throttles, fails and answers late.

use coldstandby_sim::RegionFaults;

use crate::CommandError;

/// The faults a person may name, what they mean, and whether they take a probability.
const FAULTS: [(&str, &str); 6] = [
    ("throttle", "RequestLimitExceeded on a share of calls"),
    ("transient", "a 5xx InternalError on a share of calls"),
    ("empty-describe", "DescribeInstances answers with an empty list"),
    ("stale-describe", "DescribeInstances answers with states up to 2 s old"),
    ("partial-describe", "DescribeInstances leaves out about half of the instances"),
    ("latency-spike", "a call takes 5 s longer"),
];

/// The listed faults, each `NAME=PROBABILITY` (0 to 1), separated by commas.
pub fn parse(text: &str) -> anyhow::Result<RegionFaults> {
    let mut faults = RegionFaults::default();
    for item in text.split(',').map(str::trim).filter(|item| !item.is_empty()) {
        let (name, value) = item.split_once('=').ok_or_else(|| problem(item, "is not NAME=PROBABILITY"))?;
        let probability: f64 = value
            .trim()
            .parse()
            .ok()
            .filter(|probability: &f64| (0.0..=1.0).contains(probability))
            .ok_or_else(|| problem(item, "needs a probability from 0 to 1"))?;
        match name.trim() {
            "throttle" => faults.throttle = probability,
            "transient" => faults.transient = probability,
            "empty-describe" => faults.empty_describe = probability,
            "stale-describe" => faults.stale_describe = probability,
            "partial-describe" => faults.partial_describe = probability,
            "latency-spike" => {
                faults.latency_spike = probability;
                faults.latency_spike_ms = 5_000;
            }
            _ => return Err(problem(item, "names no fault")),
        }
    }
    Ok(faults)
}

fn problem(item: &str, what: &str) -> anyhow::Error {
    let known: Vec<String> = FAULTS.iter().map(|(name, meaning)| format!("{name} ({meaning})")).collect();
    CommandError::usage(format!("--sim-faults: `{item}` {what}; the faults are: {}", known.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_probabilities_set_the_region_faults() {
        let faults = parse("throttle=0.2, transient=0.1,latency-spike=1").unwrap();
        assert_eq!((faults.throttle, faults.transient, faults.latency_spike), (0.2, 0.1, 1.0));
        assert_eq!(faults.latency_spike_ms, 5_000);
        assert_eq!(parse("").unwrap(), RegionFaults::default());
    }

    #[test]
    fn a_wrong_fault_is_named_with_the_list() {
        for (text, expected) in [
            ("slow=0.1", "`slow=0.1` names no fault"),
            ("throttle=2", "needs a probability from 0 to 1"),
            ("throttle", "is not NAME=PROBABILITY"),
        ] {
            let message = parse(text).unwrap_err().to_string();
            assert!(message.contains(expected) && message.contains("stale-describe"), "{message}");
        }
    }
}
