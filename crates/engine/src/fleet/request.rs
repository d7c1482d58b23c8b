//! What the fleet sends: one group's call as it is, or the same call of several groups merged
//! into one EC2 request (describes by zone, starts, stops and tag writes by zone and kind).

use std::collections::BTreeMap;
use std::fmt;

use crate::instance::{InstanceId, Observation};
use crate::lease::{LeaseCall, LeaseReply};
use crate::provider::{execute, ApiError, Call, Provider, Reply};
use crate::rate_limit::Bucket;

/// The most instance ids one start, stop or tag write names. EC2 documents no limit; callers
/// report refusals above 200, and a refused merged request is split and asked again.
pub const MAX_IDS_PER_REQUEST: usize = 200;

/// The most ids one describe names: 1000, EC2's largest page, so a round makes one request per
/// zone until a zone holds more members than that. EC2 documents no limit on `InstanceIds`; a
/// describe refused as invalid for naming more than
/// [`MAX_IDS_PER_REQUEST`] makes the fleet fall back to that many (both readings are modelled).
pub const DESCRIBE_IDS_PER_REQUEST: usize = 1000;

/// One request to EC2 (or another API), as the driver makes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    /// `DescribeInstances` naming its ids in `InstanceIds`, every page.
    Describe { instances: Vec<InstanceId> },
    /// `StartInstances` for several groups' standbys.
    Start { instances: Vec<InstanceId> },
    /// `StopInstances` for several groups' members.
    Stop { instances: Vec<InstanceId>, force: bool },
    /// `CreateTags` with the same tags on several instances.
    SetTags { instances: Vec<InstanceId>, tags: BTreeMap<String, String> },
    /// One group's call that is never merged: a probe, a mover's read or change.
    Single(Call),
    /// A call to the lease store (not EC2: no request bucket).
    Lease(LeaseCall),
}

impl Request {
    /// The API operation.
    pub fn operation(&self) -> &'static str {
        match self {
            Self::Describe { .. } => "DescribeInstances",
            Self::Start { .. } => "StartInstances",
            Self::Stop { .. } => "StopInstances",
            Self::SetTags { .. } => "CreateTags",
            Self::Single(call) => call.operation(),
            Self::Lease(call) => call.operation(),
        }
    }

    /// The instances it names (none for a call that names no instance).
    pub fn instances(&self) -> &[InstanceId] {
        match self {
            Self::Describe { instances }
            | Self::Start { instances }
            | Self::Stop { instances, .. }
            | Self::SetTags { instances, .. } => instances,
            Self::Single(_) | Self::Lease(_) => &[],
        }
    }

    /// The request bucket it draws from, and the instance bucket with how many instances (EC2
    /// counts started and stopped instances as well as requests).
    pub fn buckets(&self) -> (Option<Bucket>, Option<(Bucket, u64)>) {
        let count = self.instances().len() as u64;
        match self {
            Self::Describe { .. } => (Some(Bucket::DescribeInstancesById), None),
            Self::Start { .. } => (Some(Bucket::StartInstances), Some((Bucket::InstancesStarted, count))),
            Self::Stop { .. } => (Some(Bucket::Mutating), Some((Bucket::InstancesStopped, count))),
            Self::SetTags { .. } => (Some(Bucket::CreateTags), None),
            // A start or stop sent alone still draws its instance's token.
            Self::Single(call @ Call::Start { .. }) => {
                (Bucket::of(call), Some((Bucket::InstancesStarted, 1)))
            }
            Self::Single(call @ Call::Stop { .. }) => (Bucket::of(call), Some((Bucket::InstancesStopped, 1))),
            Self::Single(call) => (Bucket::of(call), None),
            Self::Lease(_) => (None, None),
        }
    }

    /// The same request for `part` of its instances (a refused batch is asked again in halves).
    pub fn with_instances(&self, part: Vec<InstanceId>) -> Self {
        match self {
            Self::Describe { .. } => Self::Describe { instances: part },
            Self::Start { .. } => Self::Start { instances: part },
            Self::Stop { force, .. } => Self::Stop { instances: part, force: *force },
            Self::SetTags { tags, .. } => Self::SetTags { instances: part, tags: tags.clone() },
            Self::Single(call) => Self::Single(call.clone()),
            Self::Lease(call) => Self::Lease(call.clone()),
        }
    }

    /// Make the request.
    pub async fn execute<P: Provider>(&self, provider: &P) -> Result<Answer, ApiError> {
        match self {
            Self::Describe { instances } => provider.describe(instances).await.map(Answer::Described),
            Self::Start { instances } => provider.start(instances).await.map(|()| Answer::Done),
            Self::Stop { instances, force } => provider.stop(instances, *force).await.map(|()| Answer::Done),
            Self::SetTags { instances, tags } => {
                provider.set_tags(instances, tags).await.map(|()| Answer::Done)
            }
            Self::Single(call) => execute(provider, call).await.map(Answer::Single),
            Self::Lease(call) => provider.lease(call).await.map(Answer::Lease),
        }
    }
}

impl fmt::Display for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Single(call) => f.write_str(call.operation()),
            Self::Lease(call) => write!(f, "{} (lease of {})", call.operation(), call.group()),
            request => write!(f, "{} ({} instances)", request.operation(), request.instances().len()),
        }
    }
}

/// What a successful request returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    Described(Vec<Observation>),
    Done,
    Single(Reply),
    Lease(LeaseReply),
}

/// Which calls of different groups may share one request: the same operation, arguments and
/// Availability Zone (a zone that does not answer must not hold up another's calls).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum MergeKey {
    /// Starts by instance type too: EC2 runs short of capacity by type and zone, so a capacity
    /// refusal of such a request speaks for all of it.
    Start {
        zone: Option<String>,
        instance_type: Option<String>,
    },
    Stop {
        zone: Option<String>,
        force: bool,
    },
    SetTags {
        zone: Option<String>,
        tags: BTreeMap<String, String>,
    },
}

impl MergeKey {
    /// The key of `call` on an instance in `zone` of `instance_type`, or None for a call that
    /// is never merged.
    pub(super) fn of(
        call: &Call,
        zone: Option<&str>,
        instance_type: Option<&str>,
    ) -> Option<(Self, InstanceId)> {
        let zone = zone.map(str::to_owned);
        match call {
            Call::Start { instance } => {
                let instance_type = instance_type.map(str::to_owned);
                Some((Self::Start { zone, instance_type }, instance.clone()))
            }
            Call::Stop { instance, force } => Some((Self::Stop { zone, force: *force }, instance.clone())),
            Call::SetTags { instance, tags } => {
                Some((Self::SetTags { zone, tags: tags.clone() }, instance.clone()))
            }
            _ => None,
        }
    }

    pub(super) fn request(&self, instances: Vec<InstanceId>) -> Request {
        match self {
            Self::Start { .. } => Request::Start { instances },
            Self::Stop { force, .. } => Request::Stop { instances, force: *force },
            Self::SetTags { tags, .. } => Request::SetTags { instances, tags: tags.clone() },
        }
    }
}
