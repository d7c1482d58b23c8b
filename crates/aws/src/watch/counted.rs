//! A provider that counts every call it passes on, by operation and result (ok, throttled,
//! error), for the watcher's metrics.

use std::collections::BTreeMap;

use coldstandby_engine::clients::{Change, ClientView, Endpoint, Mover, Probe, ProbeResult};
use coldstandby_engine::isolation::SubnetAcl;
use coldstandby_engine::lease::{LeaseCall, LeaseReply};
use coldstandby_engine::{ApiError, ErrorKind, InstanceId, Observation, Provider};

use super::metrics::Metrics;
use super::Shared;

/// `inner`, with its calls counted in `metrics`, and DescribeInstances' last answer kept for
/// `/readyz`.
#[derive(Debug)]
pub struct Counted<'a, P> {
    pub inner: &'a P,
    pub metrics: &'a Metrics,
    pub shared: &'a Shared,
}

impl<P> Counted<'_, P> {
    fn count<T>(&self, operation: &str, result: Result<T, ApiError>) -> Result<T, ApiError> {
        let outcome = match &result {
            Ok(_) => "ok",
            Err(error) if error.kind == ErrorKind::Throttled => "throttled",
            Err(_) => "error",
        };
        self.metrics.count_call(operation, outcome);
        result
    }
}

impl<P: Provider> Provider for Counted<'_, P> {
    async fn describe(&self, instances: &[InstanceId]) -> Result<Vec<Observation>, ApiError> {
        let result = self.inner.describe(instances).await;
        let now = i64::try_from(crate::SystemClock::now().unix_millis()).unwrap_or(i64::MAX);
        let at = if result.is_ok() { &self.shared.described_ok_at } else { &self.shared.described_failed_at };
        at.store(now, std::sync::atomic::Ordering::Relaxed);
        self.count("DescribeInstances", result)
    }
    async fn start(&self, instances: &[InstanceId]) -> Result<(), ApiError> {
        self.count("StartInstances", self.inner.start(instances).await)
    }
    async fn stop(&self, instances: &[InstanceId], force: bool) -> Result<(), ApiError> {
        self.count("StopInstances", self.inner.stop(instances, force).await)
    }
    async fn set_tags(
        &self,
        instances: &[InstanceId],
        tags: &BTreeMap<String, String>,
    ) -> Result<(), ApiError> {
        self.count("CreateTags", self.inner.set_tags(instances, tags).await)
    }
    async fn probe(
        &self,
        instance: &InstanceId,
        address: &str,
        probe: &Probe,
    ) -> Result<ProbeResult, ApiError> {
        // Readiness probes of a promoted member: tcp and http are not AWS calls.
        let result = self.inner.probe(instance, address, probe).await;
        if probe.needs_network_path() {
            return result;
        }
        self.count(probe.kind(), result)
    }
    async fn read_clients(
        &self,
        mover: &Mover,
        desired: &Endpoint,
        change: Option<&str>,
    ) -> Result<ClientView, ApiError> {
        let operation = format!("read {}", mover.kind());
        self.count(&operation, self.inner.read_clients(mover, desired, change).await)
    }
    async fn move_clients(&self, change: &Change) -> Result<Option<String>, ApiError> {
        self.count(change.operation(), self.inner.move_clients(change).await)
    }
    async fn read_network_acl(&self, subnet: &str) -> Result<SubnetAcl, ApiError> {
        self.count("DescribeNetworkAcls", self.inner.read_network_acl(subnet).await)
    }
    async fn isolate(&self, association: &str, network_acl: &str) -> Result<(), ApiError> {
        self.count("ReplaceNetworkAclAssociation", self.inner.isolate(association, network_acl).await)
    }
    async fn lease(&self, call: &LeaseCall) -> Result<LeaseReply, ApiError> {
        self.count(call.operation(), self.inner.lease(call).await)
    }
}
