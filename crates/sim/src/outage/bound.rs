//! The least time EC2's documented request limits allow for the calls an AZ outage scenario
//! cannot batch: each isolation is one subnet's own call, and every started instance draws a
//! token of its own. Each bucket drains on its own, so the bound is the slowest bucket's time
//! beyond its burst; the arithmetic is kept for people to check.

use coldstandby_engine::rate_limit::Bucket;
use serde::Serialize;

/// The bound and how it was reached.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Bound {
    pub ms: u64,
    /// One line per bucket: the calls, the bucket's limits, the time beyond its burst.
    pub arithmetic: Vec<String>,
}

/// Calls of one kind that cannot share a request.
#[derive(Clone, Debug)]
pub struct Unbatched {
    pub what: String,
    pub count: u64,
    pub bucket: Bucket,
}

fn bucket_name(bucket: Bucket) -> &'static str {
    match bucket {
        Bucket::DescribeFiltered => "filtered-describe",
        Bucket::DescribeInstancesById => "describe-by-id",
        Bucket::StartInstances => "StartInstances request",
        Bucket::Mutating => "mutating-request",
        Bucket::CreateTags => "CreateTags",
        Bucket::Route53 => "Route 53",
        Bucket::LoadBalancing => "load-balancing",
        Bucket::InstancesStarted => "started-instance",
        Bucket::InstancesStopped => "stopped-instance",
    }
}

/// The bound for `calls` (several kinds may share a bucket: their counts add up).
pub fn bound(calls: &[Unbatched]) -> Bound {
    let mut result = Bound::default();
    for bucket in Bucket::ALL {
        let mine: Vec<&Unbatched> =
            calls.iter().filter(|call| call.bucket == bucket && call.count > 0).collect();
        if mine.is_empty() {
            continue;
        }
        let total: u64 = mine.iter().map(|call| call.count).sum();
        let (burst, refill) = bucket.limits();
        let beyond = total.saturating_sub(burst);
        let ms = beyond * 1000 / refill;
        let what: Vec<String> = mine.iter().map(|call| format!("{} {}", call.count, call.what)).collect();
        result.arithmetic.push(format!(
            "{} from the {} bucket (burst {burst}, {refill}/s): max(0, {total} - {burst}) / {refill} = {:.1} s",
            what.join(" + "),
            bucket_name(bucket),
            ms as f64 / 1000.0
        ));
        result.ms = result.ms.max(ms);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_bucket_drains_beyond_its_burst_at_its_refill_and_the_slowest_bounds() {
        let calls = [
            Unbatched { what: "isolations".to_owned(), count: 60, bucket: Bucket::Mutating },
            Unbatched { what: "route changes".to_owned(), count: 15, bucket: Bucket::Mutating },
            Unbatched { what: "instances started".to_owned(), count: 1004, bucket: Bucket::InstancesStarted },
        ];
        let bound = bound(&calls);
        // Mutating: 75 - 50 = 25 at 5/s = 5 s; instances: 4 at 2/s = 2 s.
        assert_eq!(bound.ms, 5_000);
        assert_eq!(bound.arithmetic.len(), 2);
        assert!(bound.arithmetic[0].contains("60 isolations + 15 route changes"), "{:?}", bound.arithmetic);
    }
}
