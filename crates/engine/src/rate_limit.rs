//! Client-side token buckets mirroring EC2's request buckets (`docs/aws-behaviour.md` section 6), so the
//! engine never throttles itself or its neighbours in the account.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::clients::{Change, Mover, Probe};
use crate::provider::Call;
use crate::time::{millis, Timestamp};

/// The EC2 request bucket a call draws from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Bucket {
    /// `Describe*` with a filter or pagination: burst 100, refill 20/s.
    DescribeFiltered,
    /// `DescribeInstances` naming its ids in `InstanceIds`, with no filter and no pagination (EC2
    /// refuses `MaxResults` beside `InstanceIds`): burst 50, refill 10/s. The form that keeps
    /// working during a zone's disruption; it draws from EC2's smaller, unfiltered bucket.
    DescribeInstancesById,
    /// `StartInstances` requests: burst 5, refill 2/s.
    StartInstances,
    /// Other mutating calls, `StopInstances` among them: burst 50, refill 5/s.
    Mutating,
    /// `CreateTags`: burst 100, refill 10/s.
    CreateTags,
    /// Route 53's API: 5 requests a second per account (its historical limit; kept because a
    /// higher one is not documented for every account).
    Route53,
    /// Elastic Load Balancing's API. AWS documents no number here; 10 a second with a burst of
    /// 10 keeps one failover far below what other tools in the account need.
    LoadBalancing,
    /// Instances started (a resource bucket: one token per instance a StartInstances names):
    /// burst 1000, refill 2/s.
    InstancesStarted,
    /// Instances stopped (one token per instance a StopInstances names): burst 1000, refill 20/s.
    InstancesStopped,
}

impl Bucket {
    pub const ALL: [Self; 9] = [
        Self::DescribeFiltered,
        Self::DescribeInstancesById,
        Self::StartInstances,
        Self::Mutating,
        Self::CreateTags,
        Self::Route53,
        Self::LoadBalancing,
        Self::InstancesStarted,
        Self::InstancesStopped,
    ];

    /// The bucket's documented (burst, refill per second).
    pub fn limits(self) -> (u64, u64) {
        match self {
            Self::DescribeFiltered => (100, 20),
            Self::DescribeInstancesById => (50, 10),
            Self::StartInstances => (5, 2),
            Self::Mutating => (50, 5),
            Self::CreateTags => (100, 10),
            Self::Route53 => (5, 5),
            Self::LoadBalancing => (10, 10),
            Self::InstancesStarted => (1000, 2),
            Self::InstancesStopped => (1000, 20),
        }
    }

    /// The bucket a call draws from; None for a probe over the network, which calls no API.
    pub fn of(call: &Call) -> Option<Self> {
        Some(match call {
            Call::Describe { .. } => Self::DescribeInstancesById,
            Call::Start { .. } => Self::StartInstances,
            Call::Stop { .. } => Self::Mutating,
            Call::SetTags { .. } => Self::CreateTags,
            Call::Probe { probe, .. } => match probe {
                Probe::Tcp { .. } | Probe::Http { .. } => return None,
                Probe::Ec2Status => Self::DescribeFiltered,
                Probe::TargetHealth { .. } => Self::LoadBalancing,
            },
            Call::ReadClients { mover, .. } => match mover {
                Mover::OverlayIp(_) | Mover::ElasticIp(_) => Self::DescribeFiltered,
                Mover::Dns(_) => Self::Route53,
                Mover::TargetGroup(_) => Self::LoadBalancing,
            },
            Call::ReadNetworkAcl { .. } => Self::DescribeFiltered,
            Call::Isolate { .. } => Self::Mutating,
            Call::MoveClients { change } => match change {
                Change::Route { .. } | Change::DisableSourceDestCheck { .. } | Change::Associate { .. } => {
                    Self::Mutating
                }
                Change::Record { .. } => Self::Route53,
                Change::Register { .. } | Change::Deregister { .. } => Self::LoadBalancing,
            },
        })
    }
}

/// One token bucket, counted in thousandths of a token so that refill is exact in integers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenBucket {
    capacity: u64,
    refill_per_second: u64,
    milli_tokens: u64,
    updated: Option<Timestamp>,
    /// No token before then: EC2 said the account's bucket is empty.
    #[serde(default)]
    held_until: Option<Timestamp>,
}

impl TokenBucket {
    /// A full bucket holding `capacity` tokens that refills `refill_per_second` tokens a second.
    pub fn new(capacity: u64, refill_per_second: u64) -> Self {
        assert!(capacity > 0 && refill_per_second > 0, "a token bucket needs room and refill");
        Self { capacity, refill_per_second, milli_tokens: capacity * 1000, updated: None, held_until: None }
    }

    fn refill(&mut self, now: Timestamp) {
        if let Some(updated) = self.updated {
            let elapsed = millis(now.saturating_since(updated));
            let added = elapsed.saturating_mul(self.refill_per_second);
            self.milli_tokens = self.milli_tokens.saturating_add(added).min(self.capacity * 1000);
        }
        if self.updated.is_none_or(|updated| now > updated) {
            self.updated = Some(now);
        }
    }

    /// Take one token, or say when one will be there.
    pub fn try_take(&mut self, now: Timestamp) -> Result<(), Timestamp> {
        self.ready_at(1, now)?;
        self.milli_tokens -= 1000;
        Ok(())
    }

    /// Ok if `count` tokens are there now (taking none), else when they will be. A count above
    /// the burst is asked for as the whole burst: it can never be there at once.
    fn ready_at(&mut self, count: u64, now: Timestamp) -> Result<(), Timestamp> {
        if let Some(held_until) = self.held_until.filter(|until| now < *until) {
            return Err(held_until);
        }
        self.refill(now);
        let wanted = count.min(self.capacity) * 1000;
        if self.milli_tokens >= wanted {
            Ok(())
        } else {
            let wait_millis = (wanted - self.milli_tokens).div_ceil(self.refill_per_second);
            Err(now + Duration::from_millis(wait_millis))
        }
    }

    /// Take `count` tokens (at most the burst), after `ready_at` said they are there.
    fn take(&mut self, count: u64) {
        let taken = count.min(self.capacity) * 1000;
        debug_assert!(self.milli_tokens >= taken, "take only what ready_at found");
        self.milli_tokens -= taken;
    }
}

/// The API request buckets, as one caller's share of the account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateLimiter {
    buckets: Vec<(Bucket, TokenBucket)>,
}

impl Default for RateLimiter {
    fn default() -> Self {
        Self::new()
    }
}

impl RateLimiter {
    /// Buckets with EC2's documented limits.
    pub fn new() -> Self {
        let buckets = Bucket::ALL
            .into_iter()
            .map(|bucket| {
                let (capacity, refill) = bucket.limits();
                (bucket, TokenBucket::new(capacity, refill))
            })
            .collect();
        Self { buckets }
    }

    /// Take a token for `call`, or say when one will be there.
    pub fn try_take(&mut self, call: &Call, now: Timestamp) -> Result<(), Timestamp> {
        match Bucket::of(call) {
            Some(bucket) => self.try_take_all(&[(bucket, 1)], now),
            None => Ok(()),
        }
    }

    /// Take every token in `wanted` (bucket, count), or none of them and say when all will be
    /// there.
    pub fn try_take_all(&mut self, wanted: &[(Bucket, u64)], now: Timestamp) -> Result<(), Timestamp> {
        let mut ready = Ok(());
        for (bucket, count) in wanted {
            if let Err(at) = self.bucket(*bucket).ready_at(*count, now) {
                ready = Err(ready.err().map_or(at, |earlier: Timestamp| earlier.max(at)));
            }
        }
        ready?;
        for (bucket, count) in wanted {
            self.bucket(*bucket).take(*count);
        }
        Ok(())
    }

    /// Give no token from `bucket` before `until`: EC2 answered `RequestLimitExceeded` (the
    /// account's bucket is shared with other callers, so its level is not ours to know).
    pub fn hold(&mut self, bucket: Bucket, until: Timestamp) {
        let held = &mut self.bucket(bucket).held_until;
        *held = Some(held.map_or(until, |earlier| earlier.max(until)));
    }

    fn bucket(&mut self, wanted: Bucket) -> &mut TokenBucket {
        let (_, bucket) = self
            .buckets
            .iter_mut()
            .find(|(bucket, _)| *bucket == wanted)
            .expect("every bucket kind is created in RateLimiter::new");
        bucket
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_its_burst_then_refills_at_its_rate() {
        let start = Timestamp::from_unix_millis(1_000_000);
        let mut bucket = TokenBucket::new(5, 2);
        for _ in 0..5 {
            assert_eq!(bucket.try_take(start), Ok(()));
        }
        // Empty: the next token comes after 500 ms at 2 tokens a second.
        let next = start + Duration::from_millis(500);
        assert_eq!(bucket.try_take(start), Err(next));
        assert_eq!(bucket.try_take(next), Ok(()));
        assert!(bucket.try_take(next).is_err());
        // A long pause refills to the burst size, not beyond.
        let later = next + Duration::from_secs(60);
        for _ in 0..5 {
            assert_eq!(bucket.try_take(later), Ok(()));
        }
        assert!(bucket.try_take(later).is_err());
    }
}
