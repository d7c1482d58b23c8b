//! EC2's request and resource buckets as the simulated region keeps them, per account and Region:
//! its own model, written from the documented limits (`docs/aws-behaviour.md` section 6) and not
//! the engine's client-side limiter, so that `within-request-buckets` checks the engine against
//! EC2 rather than against itself. Unlike the engine, the region also counts instances
//! (StartInstances and StopInstances draw from a resource bucket per instance as well).

use coldstandby_engine::clients::{Change, Mover, Probe};
use coldstandby_engine::{millis, Call, Timestamp};
use serde::{Deserialize, Serialize};

/// One bucket: a level in milli-tokens, refilled continuously up to its burst.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Level {
    burst: u64,
    per_second: u64,
    milli: u64,
    at: Option<Timestamp>,
}

impl Level {
    fn full(burst: u64, per_second: u64) -> Self {
        Self { burst, per_second, milli: burst * 1000, at: None }
    }

    /// The level at `now` (time never runs backwards here: an earlier `now` adds nothing).
    fn settle(&mut self, now: Timestamp) {
        if let Some(at) = self.at {
            let elapsed_ms = millis(now.saturating_since(at));
            self.milli = (self.milli.saturating_add(elapsed_ms.saturating_mul(self.per_second)))
                .min(self.burst * 1000);
        }
        self.at = Some(self.at.map_or(now, |at| at.max(now)));
    }

    fn has_token(&self) -> bool {
        self.has_tokens(1)
    }

    fn has_tokens(&self, count: u64) -> bool {
        self.milli >= count.saturating_mul(1000)
    }

    fn take(&mut self) {
        debug_assert!(self.has_token(), "take only after has_token");
        self.milli -= 1000;
    }
}

/// Every bucket a call of the engine's can draw from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ec2Buckets {
    /// Describe* with a filter or pagination: burst 100, 20 a second.
    describe: Level,
    /// StartInstances requests: burst 5, 2 a second.
    start_requests: Level,
    /// Other mutating requests, StopInstances among them: burst 50, 5 a second.
    mutating_requests: Level,
    /// CreateTags requests: burst 100, 10 a second.
    tag_requests: Level,
    /// Instances started: burst 1000, 2 a second.
    instances_started: Level,
    /// Instances stopped: burst 1000, 20 a second.
    instances_stopped: Level,
    /// Route 53's API: 5 requests a second per account (historically documented).
    #[serde(default = "route53_requests")]
    route53_requests: Level,
    /// Elastic Load Balancing's API. AWS documents no figure here; the region allows a burst of
    /// 40 and 20 a second, more than the engine's own share so a breach means a real flood.
    #[serde(default = "load_balancing_requests")]
    load_balancing_requests: Level,
}

fn route53_requests() -> Level {
    Level::full(5, 5)
}

fn load_balancing_requests() -> Level {
    Level::full(40, 20)
}

impl Default for Ec2Buckets {
    fn default() -> Self {
        Self {
            describe: Level::full(100, 20),
            start_requests: Level::full(5, 2),
            mutating_requests: Level::full(50, 5),
            tag_requests: Level::full(100, 10),
            instances_started: Level::full(1000, 2),
            instances_stopped: Level::full(1000, 20),
            route53_requests: route53_requests(),
            load_balancing_requests: load_balancing_requests(),
        }
    }
}

impl Ec2Buckets {
    /// Admit a request of `call`s at `now`, taking its tokens, or refuse it (EC2's
    /// `RequestLimitExceeded`) taking none: one request and, for start and stop, one token per
    /// instance it names.
    pub fn admit(&mut self, call: &Call, instances: u64, now: Timestamp) -> bool {
        let (request, resource) = match call {
            Call::Describe { .. } => (&mut self.describe, None),
            Call::Start { .. } => (&mut self.start_requests, Some(&mut self.instances_started)),
            Call::Stop { .. } => (&mut self.mutating_requests, Some(&mut self.instances_stopped)),
            Call::SetTags { .. } => (&mut self.tag_requests, None),
            Call::Probe { probe, .. } => match probe {
                Probe::Tcp { .. } | Probe::Http { .. } => return true,
                Probe::Ec2Status => (&mut self.describe, None),
                Probe::TargetHealth { .. } => (&mut self.load_balancing_requests, None),
            },
            Call::ReadClients { mover, .. } => match mover {
                Mover::OverlayIp(_) | Mover::ElasticIp(_) => (&mut self.describe, None),
                Mover::Dns(_) => (&mut self.route53_requests, None),
                Mover::TargetGroup(_) => (&mut self.load_balancing_requests, None),
            },
            Call::ReadNetworkAcl { .. } => (&mut self.describe, None),
            Call::Isolate { .. } => (&mut self.mutating_requests, None),
            Call::MoveClients { change } => match change {
                Change::Record { .. } => (&mut self.route53_requests, None),
                Change::Register { .. } | Change::Deregister { .. } => {
                    (&mut self.load_balancing_requests, None)
                }
                Change::Route { .. } | Change::DisableSourceDestCheck { .. } | Change::Associate { .. } => {
                    (&mut self.mutating_requests, None)
                }
            },
        };
        request.settle(now);
        let mut resource = resource;
        if let Some(resource) = resource.as_deref_mut() {
            resource.settle(now);
        }
        let room = request.has_token() && resource.as_deref().is_none_or(|level| level.has_tokens(instances));
        if room {
            request.take();
            if let Some(resource) = resource {
                for _ in 0..instances {
                    resource.take();
                }
            }
        }
        room
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// How long a bucket of `per_second` takes to earn one token.
    fn token_interval(per_second: u64) -> Duration {
        Duration::from_millis(1000 / per_second)
    }

    fn start_call() -> Call {
        Call::Start { instance: "i-0000000000000000a".parse().expect("a valid id") }
    }

    #[test]
    fn five_starts_pass_then_the_sixth_waits_half_a_second() {
        let now = Timestamp::from_unix_millis(1_000_000);
        let mut buckets = Ec2Buckets::default();
        for _ in 0..5 {
            assert!(buckets.admit(&start_call(), 1, now));
        }
        assert!(!buckets.admit(&start_call(), 1, now), "the request bucket is empty");
        assert!(!buckets.admit(&start_call(), 1, now + Duration::from_millis(499)));
        assert!(buckets.admit(&start_call(), 1, now + token_interval(2)));
    }

    #[test]
    fn a_refused_call_takes_no_token() {
        let now = Timestamp::from_unix_millis(1_000_000);
        let mut buckets = Ec2Buckets::default();
        let describe = Call::Describe { instances: Vec::new() };
        for _ in 0..100 {
            assert!(buckets.admit(&describe, 1, now));
        }
        for _ in 0..10 {
            assert!(!buckets.admit(&describe, 1, now));
        }
        assert!(buckets.admit(&describe, 1, now + token_interval(20)), "one token after 50 ms, not owed");
    }
}
