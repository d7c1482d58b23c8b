//! The AWS side of readiness probes and movers: each mechanism's read and change as SDK calls,
//! one module per mechanism, answering in the engine's terms (`ClientView`, `ApiError`).

mod acls;
mod addresses;
pub mod leases;
mod probes;
mod records;
mod routes;
mod targets;

use aws_config::SdkConfig;
use coldstandby_engine::clients::{Change, ClientView, Endpoint, Mover, Probe, ProbeResult};
use coldstandby_engine::{ApiError, ErrorKind, InstanceId};

/// The clients of the services the movers and probes call, made from one SDK configuration.
#[derive(Clone, Debug)]
pub struct ClientApis {
    ec2: aws_sdk_ec2::Client,
    route53: aws_sdk_route53::Client,
    load_balancing: aws_sdk_elasticloadbalancingv2::Client,
}

/// A `tcp` or `http` probe of `address` from this host; None for the probes that are AWS calls.
pub async fn probe_network(_instance: &InstanceId, address: &str, probe: &Probe) -> Option<ProbeResult> {
    match probe {
        Probe::Tcp { port } => Some(probes::tcp(address, *port).await),
        Probe::Http { port, path, status, body_contains } => {
            Some(probes::http(address, *port, path, *status, body_contains.as_deref()).await)
        }
        Probe::Ec2Status | Probe::TargetHealth { .. } => None,
    }
}

impl ClientApis {
    pub fn from_config(config: &SdkConfig) -> Self {
        Self {
            ec2: aws_sdk_ec2::Client::new(config),
            route53: aws_sdk_route53::Client::new(config),
            load_balancing: aws_sdk_elasticloadbalancingv2::Client::new(config),
        }
    }

    pub async fn probe(
        &self,
        instance: &InstanceId,
        address: &str,
        probe: &Probe,
    ) -> Result<ProbeResult, ApiError> {
        match probe {
            Probe::Tcp { port } => Ok(probes::tcp(address, *port).await),
            Probe::Http { port, path, status, body_contains } => {
                Ok(probes::http(address, *port, path, *status, body_contains.as_deref()).await)
            }
            Probe::Ec2Status => probes::ec2_status(&self.ec2, instance).await,
            Probe::TargetHealth { target_group } => {
                targets::probe_health(&self.load_balancing, target_group, instance).await
            }
        }
    }

    pub async fn read(
        &self,
        mover: &Mover,
        desired: &Endpoint,
        change: Option<&str>,
    ) -> Result<ClientView, ApiError> {
        match mover {
            Mover::OverlayIp(overlay) => routes::read(&self.ec2, overlay, desired).await,
            Mover::Dns(dns) => records::read(&self.route53, dns, change).await,
            Mover::TargetGroup(group) => targets::read(&self.load_balancing, group).await,
            Mover::ElasticIp(address) => addresses::read(&self.ec2, address).await,
        }
    }

    /// Which network ACL `subnet` is on.
    pub async fn read_network_acl(
        &self,
        subnet: &str,
    ) -> Result<coldstandby_engine::isolation::SubnetAcl, ApiError> {
        acls::read(&self.ec2, subnet).await
    }

    /// Move the subnet of `association` onto `network_acl`.
    pub async fn isolate(&self, association: &str, network_acl: &str) -> Result<(), ApiError> {
        acls::replace(&self.ec2, association, network_acl).await
    }

    pub async fn change(&self, change: &Change) -> Result<Option<String>, ApiError> {
        match change {
            Change::Route { .. } | Change::DisableSourceDestCheck { .. } => {
                routes::change(&self.ec2, change).await.map(|()| None)
            }
            Change::Record { .. } => records::change(&self.route53, change).await.map(Some),
            Change::Register { .. } | Change::Deregister { .. } => {
                targets::change(&self.load_balancing, change).await.map(|()| None)
            }
            Change::Associate { allocation, network_interface } => {
                addresses::associate(&self.ec2, allocation, network_interface).await.map(|()| None)
            }
        }
    }
}

/// `error` with its kind replaced: the same code means something else for this call (a
/// ReplaceRoute refused because the route is not there yet is "read again", not "invalid").
fn reclassified(mut error: ApiError, codes: &[&str], kind: ErrorKind) -> ApiError {
    if codes.contains(&error.code.as_str()) {
        error.kind = kind;
    }
    error
}
