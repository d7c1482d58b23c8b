//! The provider trait: the few EC2 calls the engine makes, and how their failures are classified.
//!
//! The AWS adapter implements it with the SDK, the simulated region with its model. Both convert
//! their own errors into [`ApiError`] once, so the engine decides retry-or-stop from
//! [`ErrorKind`] alone.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::future::Future;
use std::slice;

use serde::{Deserialize, Serialize};

use crate::clients::{Change, ClientView, Endpoint, Mover, Probe, ProbeResult};
use crate::instance::{InstanceId, Observation};
use crate::isolation::SubnetAcl;
use crate::lease::{LeaseCall, LeaseReply};

/// The longest one provider call may take, answer or not: a provider gives up on a call (and
/// reports it as transient: it may have happened) after this long. Deadlines are sized with it.
pub const CALL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);

/// The instance API the engine drives.
///
/// `describe` must behave like `DescribeInstances` with an `instance-id` filter: ids that it
/// does not return are simply absent from the result (the engine treats absence as "unknown",
/// never as "stopped").
pub trait Provider {
    /// Observe the given instances in one call.
    fn describe(&self, instances: &[InstanceId]) -> impl Future<Output = Result<Vec<Observation>, ApiError>>;

    /// `StartInstances` for these instances, in one request (one refused id fails it whole).
    fn start(&self, instances: &[InstanceId]) -> impl Future<Output = Result<(), ApiError>>;

    /// `StopInstances` for these instances, in one request. `force`: stop without an OS
    /// shutdown (EC2's `SkipOsShutdown` and `Force`), for the `force-stop` fence and for a stop
    /// that timed out.
    fn stop(&self, instances: &[InstanceId], force: bool) -> impl Future<Output = Result<(), ApiError>>;

    /// `CreateTags`: add or overwrite these tags on these instances, in one request.
    fn set_tags(
        &self,
        instances: &[InstanceId],
        tags: &BTreeMap<String, String>,
    ) -> impl Future<Output = Result<(), ApiError>>;

    /// Run one readiness probe against `instance` (reached at `address`, its private address).
    /// A provider that cannot probe refuses, and a group that configures checks fails closed.
    fn probe(
        &self,
        instance: &InstanceId,
        address: &str,
        probe: &Probe,
    ) -> impl Future<Output = Result<ProbeResult, ApiError>> {
        let _ = (instance, address);
        let refusal = unsupported(probe.kind());
        async move { Err(refusal) }
    }

    /// Read where `mover` points clients now. `change` is the last change this run made through
    /// it, when the mechanism reports its progress (a Route 53 change id).
    fn read_clients(
        &self,
        mover: &Mover,
        desired: &Endpoint,
        change: Option<&str>,
    ) -> impl Future<Output = Result<ClientView, ApiError>> {
        let _ = (desired, change);
        let refusal = unsupported(mover.kind());
        async move { Err(refusal) }
    }

    /// Make one change; returns the change's id when the mechanism has one to follow.
    fn move_clients(&self, change: &Change) -> impl Future<Output = Result<Option<String>, ApiError>> {
        let refusal = unsupported(change.operation());
        async move { Err(refusal) }
    }

    /// `DescribeNetworkAcls` for the ACL `subnet` is associated with.
    fn read_network_acl(&self, subnet: &str) -> impl Future<Output = Result<SubnetAcl, ApiError>> {
        let _ = subnet;
        let refusal = unsupported("DescribeNetworkAcls");
        async move { Err(refusal) }
    }

    /// A call to the store of groups' leases (a DynamoDB table): a strongly consistent read, or
    /// a write conditional on the stored version (refused with [`ErrorKind::WrongState`]).
    fn lease(&self, call: &LeaseCall) -> impl Future<Output = Result<LeaseReply, ApiError>> {
        let refusal = unsupported(call.operation());
        async move { Err(refusal) }
    }

    /// `ReplaceNetworkAclAssociation`: move the subnet of `association` onto `network_acl`.
    fn isolate(&self, association: &str, network_acl: &str) -> impl Future<Output = Result<(), ApiError>> {
        let _ = (association, network_acl);
        let refusal = unsupported("ReplaceNetworkAclAssociation");
        async move { Err(refusal) }
    }
}

/// The refusal of a provider that does not model `what`.
fn unsupported(what: &str) -> ApiError {
    ApiError::new(ErrorKind::Invalid, "Unsupported", format!("this provider cannot do {what}"))
}

/// How the engine must react to a failed call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorKind {
    /// `RequestLimitExceeded`: back off with jitter and retry.
    Throttled,
    /// 5xx, timeouts, connection failures: retry with backoff.
    Transient,
    /// `InsufficientInstanceCapacity`, `InstanceLimitExceeded`, `VcpuLimitExceeded`: retry
    /// within the capacity budget, then give up on that instance.
    Capacity,
    /// `IncorrectInstanceState`: the instance moved under us; observe again.
    WrongState,
    /// `InvalidInstanceID.NotFound` (also returned briefly for new ids).
    NotFound,
    /// `UnauthorizedOperation` and friends: permanent, stop at once.
    Denied,
    /// Malformed request: permanent, stop at once.
    Invalid,
}

impl ErrorKind {
    /// Whether retrying the same call later can succeed.
    pub fn is_retryable(self) -> bool {
        matches!(self, Self::Throttled | Self::Transient)
    }

    /// Whether no retry can help and the failover must stop.
    pub fn is_permanent(self) -> bool {
        matches!(self, Self::Denied | Self::Invalid)
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Throttled => "throttled",
            Self::Transient => "transient",
            Self::Capacity => "capacity",
            Self::WrongState => "wrong state",
            Self::NotFound => "not found",
            Self::Denied => "denied",
            Self::Invalid => "invalid",
        })
    }
}

/// A failed provider call, already classified.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    pub kind: ErrorKind,
    /// The provider's own error code, e.g. `InsufficientInstanceCapacity`.
    pub code: String,
    /// The provider's message, kept whole (for `UnauthorizedOperation` it carries the encoded
    /// authorization message).
    pub message: String,
}

impl ApiError {
    pub fn new(kind: ErrorKind, code: impl Into<String>, message: impl Into<String>) -> Self {
        Self { kind, code: code.into(), message: message.into() }
    }
}

/// One call the engine asks its driver to make.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "call", rename_all = "kebab-case")]
pub enum Call {
    Describe {
        instances: Vec<InstanceId>,
    },
    Start {
        instance: InstanceId,
    },
    Stop {
        instance: InstanceId,
        force: bool,
    },
    SetTags {
        instance: InstanceId,
        tags: BTreeMap<String, String>,
    },
    /// A readiness probe of the promoted member.
    Probe {
        instance: InstanceId,
        address: String,
        probe: Probe,
    },
    /// Where a mover points clients now.
    ReadClients {
        mover: Mover,
        desired: Endpoint,
        change: Option<String>,
    },
    /// One change a mover asked for.
    MoveClients {
        change: Change,
    },
    /// Which network ACL a subnet is on (to cut off a member whose zone does not answer).
    ReadNetworkAcl {
        subnet: String,
    },
    /// Move a subnet onto the quarantine network ACL.
    Isolate {
        subnet: String,
        association: String,
        network_acl: String,
    },
}

impl Call {
    /// The EC2 API operation this call maps to.
    pub fn operation(&self) -> &'static str {
        match self {
            Self::Describe { .. } => "DescribeInstances",
            Self::Start { .. } => "StartInstances",
            Self::Stop { .. } => "StopInstances",
            Self::SetTags { .. } => "CreateTags",
            Self::Probe { probe, .. } => match probe {
                Probe::Tcp { .. } => "TcpProbe",
                Probe::Http { .. } => "HttpProbe",
                Probe::Ec2Status => "DescribeInstanceStatus",
                Probe::TargetHealth { .. } => "DescribeTargetHealth",
            },
            Self::ReadClients { mover, .. } => match mover {
                Mover::OverlayIp(_) => "DescribeRouteTables",
                Mover::Dns(_) => "ListResourceRecordSets",
                Mover::TargetGroup(_) => "DescribeTargetHealth",
                Mover::ElasticIp(_) => "DescribeAddresses",
            },
            Self::MoveClients { change } => change.operation(),
            Self::ReadNetworkAcl { .. } => "DescribeNetworkAcls",
            Self::Isolate { .. } => "ReplaceNetworkAclAssociation",
        }
    }

    /// The one instance a mutating call touches.
    pub fn instance(&self) -> Option<&InstanceId> {
        match self {
            Self::Describe { .. }
            | Self::ReadClients { .. }
            | Self::ReadNetworkAcl { .. }
            | Self::Isolate { .. } => None,
            Self::Start { instance }
            | Self::Stop { instance, .. }
            | Self::SetTags { instance, .. }
            | Self::Probe { instance, .. } => Some(instance),
            Self::MoveClients { change } => change.instance(),
        }
    }
}

/// What a successful call returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// What EC2 returned, and the members it could not be asked about: a describe naming them
    /// failed (their Availability Zone does not answer) while others' answered; or the request
    /// naming them was refused before EC2 looked at them (`unasked`: throttled, say), so the
    /// answer says nothing of them, not even that they were left out.
    Described {
        observations: Vec<Observation>,
        failed: BTreeMap<InstanceId, ApiError>,
        unasked: BTreeSet<InstanceId>,
    },
    Done,
    Probed(ProbeResult),
    Clients(ClientView),
    /// A mover's change was accepted, with its id when it has one to follow.
    Moved {
        change: Option<String>,
    },
    NetworkAcl(SubnetAcl),
}

/// Make one call on a provider.
pub async fn execute<P: Provider>(provider: &P, call: &Call) -> Result<Reply, ApiError> {
    match call {
        Call::Describe { instances } => {
            let observations = provider.describe(instances).await?;
            Ok(Reply::Described { observations, failed: BTreeMap::new(), unasked: BTreeSet::new() })
        }
        Call::Start { instance } => provider.start(slice::from_ref(instance)).await.map(|()| Reply::Done),
        Call::Stop { instance, force } => {
            provider.stop(slice::from_ref(instance), *force).await.map(|()| Reply::Done)
        }
        Call::SetTags { instance, tags } => {
            provider.set_tags(slice::from_ref(instance), tags).await.map(|()| Reply::Done)
        }
        Call::Probe { instance, address, probe } => {
            provider.probe(instance, address, probe).await.map(Reply::Probed)
        }
        Call::ReadClients { mover, desired, change } => {
            provider.read_clients(mover, desired, change.as_deref()).await.map(Reply::Clients)
        }
        Call::MoveClients { change } => {
            provider.move_clients(change).await.map(|change| Reply::Moved { change })
        }
        Call::ReadNetworkAcl { subnet } => provider.read_network_acl(subnet).await.map(Reply::NetworkAcl),
        Call::Isolate { association, network_acl, .. } => {
            provider.isolate(association, network_acl).await.map(|()| Reply::Done)
        }
    }
}
