//! One controller among several sharing a simulated region (a Lambda invocation, its retry, an
//! operator's CLI): the region's `Provider` and `Clock`, with every call it makes recorded as
//! that controller's, so invariants can tell who acted and the lease table can cut one off. A
//! controller may be suspended for a while (a laptop closed, a process stopped): nothing of it
//! runs while the world moves on, and its clock either counts that time (the product's clock,
//! `CLOCK_BOOTTIME`) or stands still (a monotonic clock that does not count it).

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use serde::Serialize;

use coldstandby_engine::clients::{Change, ClientView, Endpoint, Mover, Probe, ProbeResult};
use coldstandby_engine::isolation::SubnetAcl;
use coldstandby_engine::lease::{LeaseCall, LeaseReply};
use coldstandby_engine::{millis, ApiError, Clock, InstanceId, Observation, Provider, Timestamp};

use crate::region::SimRegion;

/// The region as one named controller reaches it.
#[derive(Clone, Copy, Debug)]
pub struct Controller<'a> {
    region: &'a SimRegion,
    name: &'a str,
    suspension: Option<Suspension>,
}

/// A time the controller does not run at all, in the region's time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Suspension {
    pub from: Timestamp,
    pub until: Timestamp,
    /// Its clock stands still meanwhile (and lags the world by the suspension after it), as
    /// `Instant` does through a suspend; otherwise it counts the time, as the product's clock does.
    pub clock_stands_still: bool,
}

impl SimRegion {
    /// The region as the controller `name` reaches it.
    pub fn controller<'a>(&'a self, name: &'a str) -> Controller<'a> {
        Controller { region: self, name, suspension: None }
    }
}

impl Controller<'_> {
    pub fn name(&self) -> &str {
        self.name
    }

    /// The same controller, suspended during `suspension`.
    #[must_use]
    pub fn suspended(self, suspension: Option<Suspension>) -> Self {
        Self { suspension, ..self }
    }

    /// How far its clock lags the region's at region time `at`.
    fn lag_at(&self, at: Timestamp) -> Duration {
        match self.suspension {
            Some(suspension) if suspension.clock_stands_still && at > suspension.from => {
                at.min(suspension.until).saturating_since(suspension.from)
            }
            _ => Duration::ZERO,
        }
    }

    /// Nothing of the controller runs while it is suspended: whatever it waited for that came
    /// meanwhile, it sees only when it runs again.
    async fn resume_if_suspended(&self) {
        let now = self.region.now();
        if let Some(suspension) = self.suspension.filter(|s| s.from <= now && now < s.until) {
            self.region.sleep_until(suspension.until).await;
        }
    }

    async fn call<T>(&self, call: impl Future<Output = T>) -> T {
        let result = self.region.as_caller(self.name, call).await;
        self.resume_if_suspended().await;
        result
    }
}

impl Provider for Controller<'_> {
    async fn describe(&self, instances: &[InstanceId]) -> Result<Vec<Observation>, ApiError> {
        self.call(self.region.describe(instances)).await
    }
    async fn start(&self, instances: &[InstanceId]) -> Result<(), ApiError> {
        self.call(self.region.start(instances)).await
    }
    async fn stop(&self, instances: &[InstanceId], force: bool) -> Result<(), ApiError> {
        self.call(self.region.stop(instances, force)).await
    }
    async fn set_tags(
        &self,
        instances: &[InstanceId],
        tags: &BTreeMap<String, String>,
    ) -> Result<(), ApiError> {
        self.call(self.region.set_tags(instances, tags)).await
    }
    async fn probe(
        &self,
        instance: &InstanceId,
        address: &str,
        probe: &Probe,
    ) -> Result<ProbeResult, ApiError> {
        self.call(self.region.probe(instance, address, probe)).await
    }
    async fn read_clients(
        &self,
        mover: &Mover,
        desired: &Endpoint,
        change: Option<&str>,
    ) -> Result<ClientView, ApiError> {
        self.call(self.region.read_clients(mover, desired, change)).await
    }
    async fn move_clients(&self, change: &Change) -> Result<Option<String>, ApiError> {
        self.call(self.region.move_clients(change)).await
    }
    async fn read_network_acl(&self, subnet: &str) -> Result<SubnetAcl, ApiError> {
        self.call(self.region.read_network_acl(subnet)).await
    }
    async fn isolate(&self, association: &str, network_acl: &str) -> Result<(), ApiError> {
        self.call(self.region.isolate(association, network_acl)).await
    }
    async fn lease(&self, call: &LeaseCall) -> Result<LeaseReply, ApiError> {
        self.call(self.region.lease(call)).await
    }
}

impl Clock for Controller<'_> {
    fn now(&self) -> Timestamp {
        let now = self.region.now();
        Timestamp::from_unix_millis(now.unix_millis() - millis(self.lag_at(now)))
    }

    async fn sleep_until(&self, until: Timestamp) {
        // Its clock reads `until` once the region's has moved on by the lag too: a clock that
        // stood still reads `from` throughout the suspension, and lags by all of it after.
        let region_until = match self.suspension {
            Some(suspension) if suspension.clock_stands_still && until > suspension.from => {
                until + suspension.until.saturating_since(suspension.from)
            }
            _ => until,
        };
        self.region.sleep_until(region_until).await;
        self.resume_if_suspended().await;
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
