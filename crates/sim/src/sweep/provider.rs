//! What the sweep's engine talks to: the simulated region itself, or (in tests) a deliberately
//! wrong variant of it the sweep must catch.

use std::collections::BTreeMap;

use coldstandby_engine::clients::{Change, ClientView, Endpoint, Mover, Probe, ProbeResult};
use coldstandby_engine::{ApiError, InstanceId, InstanceState, Observation, Provider};

use crate::region::SimRegion;

/// Which fence the sweep runs with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Fence {
    /// The engine as built.
    #[default]
    Correct,
    /// Test-only: the provider turns an empty describe answer into "every instance stopped", the
    /// mistake a field report describes. The sweep must catch it.
    #[doc(hidden)]
    EmptyMeansStoppedForTesting,
    /// Test-only: triggers carry no evidence (the alarm's state-change time), as before the
    /// handler passed it, so an event from before a switchback is taken as news. The sweep must
    /// catch it (`no-failover-of-healthy-primary`).
    #[doc(hidden)]
    NoEvidenceForTesting,
}

/// The provider a scenario's engine talks to: the region itself, or the faulty-fence wrapper.
pub(super) struct ScenarioProvider<'a> {
    pub(super) region: &'a SimRegion,
    pub(super) fence: Fence,
}

impl Provider for ScenarioProvider<'_> {
    async fn describe(&self, instances: &[InstanceId]) -> Result<Vec<Observation>, ApiError> {
        let answer = self.region.describe(instances).await?;
        if self.fence == Fence::EmptyMeansStoppedForTesting && answer.is_empty() {
            let made_up = instances
                .iter()
                .map(|instance| Observation {
                    instance: instance.clone(),
                    state: InstanceState::Stopped,
                    availability_zone: String::new(),
                    state_reason: None,
                    tags: BTreeMap::new(),
                    network_interface: None,
                    private_ip: None,
                    instance_type: None,
                })
                .collect();
            return Ok(made_up);
        }
        Ok(answer)
    }
    async fn start(&self, instances: &[InstanceId]) -> Result<(), ApiError> {
        self.region.start(instances).await
    }
    async fn stop(&self, instances: &[InstanceId], force: bool) -> Result<(), ApiError> {
        self.region.stop(instances, force).await
    }
    async fn set_tags(
        &self,
        instances: &[InstanceId],
        tags: &BTreeMap<String, String>,
    ) -> Result<(), ApiError> {
        self.region.set_tags(instances, tags).await
    }
    async fn probe(
        &self,
        instance: &InstanceId,
        address: &str,
        probe: &Probe,
    ) -> Result<ProbeResult, ApiError> {
        self.region.probe(instance, address, probe).await
    }
    async fn read_clients(
        &self,
        mover: &Mover,
        desired: &Endpoint,
        change: Option<&str>,
    ) -> Result<ClientView, ApiError> {
        self.region.read_clients(mover, desired, change).await
    }
    async fn move_clients(&self, change: &Change) -> Result<Option<String>, ApiError> {
        self.region.move_clients(change).await
    }
}
