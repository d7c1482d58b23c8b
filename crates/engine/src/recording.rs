//! A provider that passes every call on and keeps a record of it (when, which operation, on
//! what, and how it ended), for a report's table of every call made against real EC2.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde::Serialize;

use crate::clients::{Change, ClientView, Endpoint, Mover, Probe, ProbeResult};
use crate::isolation::SubnetAcl;
use crate::lease::{LeaseCall, LeaseReply};
use crate::{ApiError, Clock, InstanceId, Observation, Provider, Timestamp};

/// One call as it was made.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RecordedCall {
    /// When it was sent.
    pub at: Timestamp,
    pub operation: String,
    /// What it was about: instances, a mover, a subnet.
    pub subject: String,
    /// `None` when it succeeded, else the error's code.
    pub error: Option<String>,
}

/// `inner`, with every call recorded, timed by `clock`.
#[derive(Debug)]
pub struct Recording<'a, P, C> {
    inner: &'a P,
    clock: &'a C,
    calls: Mutex<Vec<RecordedCall>>,
}

impl<'a, P: Provider, C: Clock> Recording<'a, P, C> {
    pub fn new(inner: &'a P, clock: &'a C) -> Self {
        Self { inner, clock, calls: Mutex::new(Vec::new()) }
    }

    /// Every call so far, in the order they were sent.
    pub fn calls(&self) -> Vec<RecordedCall> {
        let mut calls = self.calls.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        calls.sort_by_key(|call| call.at);
        calls
    }

    async fn record<T>(
        &self,
        operation: &str,
        subject: String,
        call: impl std::future::Future<Output = Result<T, ApiError>>,
    ) -> Result<T, ApiError> {
        let at = self.clock.now();
        let result = call.await;
        let error = result.as_ref().err().map(|error| error.code.clone());
        let record = RecordedCall { at, operation: operation.to_owned(), subject, error };
        self.calls.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(record);
        result
    }
}

fn ids(instances: &[InstanceId]) -> String {
    instances.iter().map(InstanceId::as_str).collect::<Vec<_>>().join(", ")
}

impl<P: Provider, C: Clock> Provider for Recording<'_, P, C> {
    async fn describe(&self, instances: &[InstanceId]) -> Result<Vec<Observation>, ApiError> {
        self.record("DescribeInstances", ids(instances), self.inner.describe(instances)).await
    }

    async fn start(&self, instances: &[InstanceId]) -> Result<(), ApiError> {
        self.record("StartInstances", ids(instances), self.inner.start(instances)).await
    }

    async fn stop(&self, instances: &[InstanceId], force: bool) -> Result<(), ApiError> {
        let operation = if force { "StopInstances (force)" } else { "StopInstances" };
        self.record(operation, ids(instances), self.inner.stop(instances, force)).await
    }

    async fn set_tags(
        &self,
        instances: &[InstanceId],
        tags: &BTreeMap<String, String>,
    ) -> Result<(), ApiError> {
        let subject = format!("{}: {}", ids(instances), tags.keys().cloned().collect::<Vec<_>>().join(", "));
        self.record("CreateTags", subject, self.inner.set_tags(instances, tags)).await
    }

    async fn probe(
        &self,
        instance: &InstanceId,
        address: &str,
        probe: &Probe,
    ) -> Result<ProbeResult, ApiError> {
        let operation = format!("probe {}", probe.kind());
        let subject = format!("{instance} ({address})");
        self.record(&operation, subject, self.inner.probe(instance, address, probe)).await
    }

    async fn read_clients(
        &self,
        mover: &Mover,
        desired: &Endpoint,
        change: Option<&str>,
    ) -> Result<ClientView, ApiError> {
        let operation = format!("read {}", mover.kind());
        self.record(&operation, mover.to_string(), self.inner.read_clients(mover, desired, change)).await
    }

    async fn move_clients(&self, change: &Change) -> Result<Option<String>, ApiError> {
        self.record(change.operation(), change.to_string(), self.inner.move_clients(change)).await
    }

    async fn read_network_acl(&self, subnet: &str) -> Result<SubnetAcl, ApiError> {
        self.record("DescribeNetworkAcls", subnet.to_owned(), self.inner.read_network_acl(subnet)).await
    }

    async fn lease(&self, call: &LeaseCall) -> Result<LeaseReply, ApiError> {
        self.record(call.operation(), "the group's lease".to_owned(), self.inner.lease(call)).await
    }

    async fn isolate(&self, association: &str, network_acl: &str) -> Result<(), ApiError> {
        let subject = format!("{association} -> {network_acl}");
        self.record("ReplaceNetworkAclAssociation", subject, self.inner.isolate(association, network_acl))
            .await
    }
}
