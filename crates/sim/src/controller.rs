//! One controller among several sharing a simulated region (a Lambda invocation, its retry, an
//! operator's CLI): the region's `Provider` and `Clock`, with every call it makes recorded as
//! that controller's, so invariants can tell who acted and the lease table can cut one off.

use std::collections::BTreeMap;
use std::future::Future;

use coldstandby_engine::clients::{Change, ClientView, Endpoint, Mover, Probe, ProbeResult};
use coldstandby_engine::isolation::SubnetAcl;
use coldstandby_engine::lease::{LeaseCall, LeaseReply};
use coldstandby_engine::{ApiError, Clock, InstanceId, Observation, Provider, Timestamp};

use crate::region::SimRegion;

/// The region as one named controller reaches it.
#[derive(Clone, Copy, Debug)]
pub struct Controller<'a> {
    region: &'a SimRegion,
    name: &'a str,
}

impl SimRegion {
    /// The region as the controller `name` reaches it.
    pub fn controller<'a>(&'a self, name: &'a str) -> Controller<'a> {
        Controller { region: self, name }
    }
}

impl Controller<'_> {
    pub fn name(&self) -> &str {
        self.name
    }
}

impl Provider for Controller<'_> {
    async fn describe(&self, instances: &[InstanceId]) -> Result<Vec<Observation>, ApiError> {
        self.region.as_caller(self.name, self.region.describe(instances)).await
    }
    async fn start(&self, instances: &[InstanceId]) -> Result<(), ApiError> {
        self.region.as_caller(self.name, self.region.start(instances)).await
    }
    async fn stop(&self, instances: &[InstanceId], force: bool) -> Result<(), ApiError> {
        self.region.as_caller(self.name, self.region.stop(instances, force)).await
    }
    async fn set_tags(
        &self,
        instances: &[InstanceId],
        tags: &BTreeMap<String, String>,
    ) -> Result<(), ApiError> {
        self.region.as_caller(self.name, self.region.set_tags(instances, tags)).await
    }
    async fn probe(
        &self,
        instance: &InstanceId,
        address: &str,
        probe: &Probe,
    ) -> Result<ProbeResult, ApiError> {
        self.region.as_caller(self.name, self.region.probe(instance, address, probe)).await
    }
    async fn read_clients(
        &self,
        mover: &Mover,
        desired: &Endpoint,
        change: Option<&str>,
    ) -> Result<ClientView, ApiError> {
        self.region.as_caller(self.name, self.region.read_clients(mover, desired, change)).await
    }
    async fn move_clients(&self, change: &Change) -> Result<Option<String>, ApiError> {
        self.region.as_caller(self.name, self.region.move_clients(change)).await
    }
    async fn read_network_acl(&self, subnet: &str) -> Result<SubnetAcl, ApiError> {
        self.region.as_caller(self.name, self.region.read_network_acl(subnet)).await
    }
    async fn isolate(&self, association: &str, network_acl: &str) -> Result<(), ApiError> {
        self.region.as_caller(self.name, self.region.isolate(association, network_acl)).await
    }
    async fn lease(&self, call: &LeaseCall) -> Result<LeaseReply, ApiError> {
        self.region.as_caller(self.name, self.region.lease(call)).await
    }
}

impl Clock for Controller<'_> {
    fn now(&self) -> Timestamp {
        self.region.now()
    }

    fn sleep_until(&self, until: Timestamp) -> impl Future<Output = ()> {
        self.region.sleep_until(until)
    }
}

/// Drive `futures` together (in the region's executor, [`SimRegion::run`]) until all are done;
/// their outputs in order. Controllers racing on one region are driven this way.
pub async fn join_all<'a, T>(futures: Vec<std::pin::Pin<Box<dyn Future<Output = T> + 'a>>>) -> Vec<T> {
    let mut futures: Vec<_> = futures.into_iter().map(Some).collect();
    let mut outputs: Vec<Option<T>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|context| {
        for (slot, output) in futures.iter_mut().zip(outputs.iter_mut()) {
            if let Some(future) = slot {
                if let std::task::Poll::Ready(value) = future.as_mut().poll(context) {
                    *output = Some(value);
                    *slot = None;
                }
            }
        }
        if futures.iter().all(Option::is_none) {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    outputs.into_iter().map(|output| output.expect("every future finished")).collect()
}
