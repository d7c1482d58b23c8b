//! One provider wrapper for whoever wants to see the calls a run makes: it passes every call on
//! unchanged and tells a [`CallHook`] what each call was, when it was sent and ended, and how.
//! The drill's call record and the watcher's call metrics are two such hooks, so a new
//! [`Provider`] method is forwarded here once, not once per onlooker.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::future::Future;

use crate::clients::{Change, ClientView, Endpoint, Mover, Probe, ProbeResult};
use crate::isolation::SubnetAcl;
use crate::lease::{LeaseCall, LeaseReply};
use crate::{ApiError, Clock, InstanceId, Observation, Provider, Timestamp};

/// A call on a [`Provider`] as the wrapper passed it on, its arguments borrowed: one API call,
/// several instances at once when the fleet merges them (the engine's own requests, one
/// instance each, are [`crate::Call`]).
#[derive(Clone, Copy, Debug)]
pub enum ProviderCall<'a> {
    Describe(&'a [InstanceId]),
    Start(&'a [InstanceId]),
    Stop { instances: &'a [InstanceId], force: bool },
    SetTags { instances: &'a [InstanceId], tags: &'a BTreeMap<String, String> },
    Probe { instance: &'a InstanceId, address: &'a str, probe: &'a Probe },
    ReadClients { mover: &'a Mover },
    MoveClients(&'a Change),
    ReadNetworkAcl { subnet: &'a str },
    Isolate { association: &'a str, network_acl: &'a str },
    Lease(&'a LeaseCall),
}

impl ProviderCall<'_> {
    /// The API operation (`StopInstances`), or what the call reads or probes (`read route`,
    /// `ec2-status`).
    pub fn operation(&self) -> Cow<'static, str> {
        match self {
            Self::Describe(_) => "DescribeInstances".into(),
            Self::Start(_) => "StartInstances".into(),
            Self::Stop { .. } => "StopInstances".into(),
            Self::SetTags { .. } => "CreateTags".into(),
            Self::Probe { probe, .. } => probe.kind().into(),
            Self::ReadClients { mover } => format!("read {}", mover.kind()).into(),
            Self::MoveClients(change) => change.operation().into(),
            Self::ReadNetworkAcl { .. } => "DescribeNetworkAcls".into(),
            Self::Isolate { .. } => "ReplaceNetworkAclAssociation".into(),
            Self::Lease(call) => call.operation().into(),
        }
    }

    /// What the call was about: instances, a mover, a subnet.
    pub fn subject(&self) -> String {
        fn ids(instances: &[InstanceId]) -> String {
            instances.iter().map(InstanceId::as_str).collect::<Vec<_>>().join(", ")
        }
        match self {
            Self::Describe(instances) | Self::Start(instances) | Self::Stop { instances, .. } => {
                ids(instances)
            }
            Self::SetTags { instances, tags } => {
                format!("{}: {}", ids(instances), tags.keys().cloned().collect::<Vec<_>>().join(", "))
            }
            Self::Probe { instance, address, .. } => format!("{instance} ({address})"),
            Self::ReadClients { mover } => mover.to_string(),
            Self::MoveClients(change) => change.to_string(),
            Self::ReadNetworkAcl { subnet } => (*subnet).to_owned(),
            Self::Isolate { association, network_acl } => format!("{association} -> {network_acl}"),
            Self::Lease(_) => "the group's lease".to_owned(),
        }
    }

    /// Whether the call goes to an AWS API: every call but a `tcp` or `http` probe, which goes
    /// to the member itself.
    pub fn is_aws_call(&self) -> bool {
        match self {
            Self::Probe { probe, .. } => !probe.needs_network_path(),
            _ => true,
        }
    }
}

/// When a call was sent and when its answer (or error) came back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CallTiming {
    pub sent_at: Timestamp,
    pub ended_at: Timestamp,
}

/// Told of every call a [`Hooked`] provider passes on, once it has ended.
pub trait CallHook {
    /// `error` is `None` when the call succeeded.
    fn ended(&self, call: &ProviderCall<'_>, timing: CallTiming, error: Option<&ApiError>);
}

/// `inner`, with every call it answers told to `hook`, timed by `clock`.
#[derive(Debug)]
pub struct Hooked<'a, P, C, H> {
    inner: &'a P,
    clock: &'a C,
    hook: &'a H,
}

impl<'a, P: Provider, C: Clock, H: CallHook> Hooked<'a, P, C, H> {
    pub fn new(inner: &'a P, clock: &'a C, hook: &'a H) -> Self {
        Self { inner, clock, hook }
    }

    async fn pass<T>(
        &self,
        call: ProviderCall<'_>,
        answer: impl Future<Output = Result<T, ApiError>>,
    ) -> Result<T, ApiError> {
        let sent_at = self.clock.now();
        let result = answer.await;
        let timing = CallTiming { sent_at, ended_at: self.clock.now() };
        self.hook.ended(&call, timing, result.as_ref().err());
        result
    }
}

impl<P: Provider, C: Clock, H: CallHook> Provider for Hooked<'_, P, C, H> {
    async fn describe(&self, instances: &[InstanceId]) -> Result<Vec<Observation>, ApiError> {
        self.pass(ProviderCall::Describe(instances), self.inner.describe(instances)).await
    }

    async fn start(&self, instances: &[InstanceId]) -> Result<(), ApiError> {
        self.pass(ProviderCall::Start(instances), self.inner.start(instances)).await
    }

    async fn stop(&self, instances: &[InstanceId], force: bool) -> Result<(), ApiError> {
        self.pass(ProviderCall::Stop { instances, force }, self.inner.stop(instances, force)).await
    }

    async fn set_tags(
        &self,
        instances: &[InstanceId],
        tags: &BTreeMap<String, String>,
    ) -> Result<(), ApiError> {
        self.pass(ProviderCall::SetTags { instances, tags }, self.inner.set_tags(instances, tags)).await
    }

    async fn probe(
        &self,
        instance: &InstanceId,
        address: &str,
        probe: &Probe,
    ) -> Result<ProbeResult, ApiError> {
        self.pass(
            ProviderCall::Probe { instance, address, probe },
            self.inner.probe(instance, address, probe),
        )
        .await
    }

    async fn read_clients(
        &self,
        mover: &Mover,
        desired: &Endpoint,
        change: Option<&str>,
    ) -> Result<ClientView, ApiError> {
        self.pass(ProviderCall::ReadClients { mover }, self.inner.read_clients(mover, desired, change)).await
    }

    async fn move_clients(&self, change: &Change) -> Result<Option<String>, ApiError> {
        self.pass(ProviderCall::MoveClients(change), self.inner.move_clients(change)).await
    }

    async fn read_network_acl(&self, subnet: &str) -> Result<SubnetAcl, ApiError> {
        self.pass(ProviderCall::ReadNetworkAcl { subnet }, self.inner.read_network_acl(subnet)).await
    }

    async fn isolate(&self, association: &str, network_acl: &str) -> Result<(), ApiError> {
        self.pass(
            ProviderCall::Isolate { association, network_acl },
            self.inner.isolate(association, network_acl),
        )
        .await
    }

    async fn lease(&self, call: &LeaseCall) -> Result<LeaseReply, ApiError> {
        self.pass(ProviderCall::Lease(call), self.inner.lease(call)).await
    }
}
