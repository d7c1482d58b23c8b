//! `target-group` on Elastic Load Balancing: every registered target's health
//! (DescribeTargetHealth), and RegisterTargets / DeregisterTargets for groups that move the
//! registration; also the `target-health` readiness probe.

use aws_sdk_elasticloadbalancingv2::types::{TargetDescription, TargetHealthStateEnum};
use coldstandby_engine::clients::{Change, ClientView, ProbeResult, TargetGroup, TargetHealth, TargetView};
use coldstandby_engine::{ApiError, InstanceId};

use crate::errors::from_sdk_error;

fn health_of(state: &TargetHealthStateEnum) -> TargetHealth {
    match state {
        TargetHealthStateEnum::Initial => TargetHealth::Initial,
        TargetHealthStateEnum::Healthy => TargetHealth::Healthy,
        TargetHealthStateEnum::Unused => TargetHealth::Unused,
        TargetHealthStateEnum::Draining | TargetHealthStateEnum::UnhealthyDraining => TargetHealth::Draining,
        TargetHealthStateEnum::Unavailable => TargetHealth::Unavailable,
        _ => TargetHealth::Unhealthy,
    }
}

async fn targets(
    client: &aws_sdk_elasticloadbalancingv2::Client,
    arn: &str,
) -> Result<Vec<TargetView>, ApiError> {
    let answer = client
        .describe_target_health()
        .target_group_arn(arn)
        .send()
        .await
        .map_err(|error| from_sdk_error("DescribeTargetHealth", error))?;
    Ok(answer
        .target_health_descriptions()
        .iter()
        .filter_map(|description| {
            let instance: InstanceId = description.target()?.id()?.parse().ok()?;
            let health = description
                .target_health()
                .and_then(|h| h.state())
                .map_or(TargetHealth::Unavailable, health_of);
            Some(TargetView { instance, health })
        })
        .collect())
}

pub(super) async fn read(
    client: &aws_sdk_elasticloadbalancingv2::Client,
    group: &TargetGroup,
) -> Result<ClientView, ApiError> {
    targets(client, &group.arn).await.map(ClientView::Targets)
}

pub(super) async fn probe_health(
    client: &aws_sdk_elasticloadbalancingv2::Client,
    arn: &str,
    instance: &InstanceId,
) -> Result<ProbeResult, ApiError> {
    let health =
        targets(client, arn).await?.into_iter().find(|target| target.instance == *instance).map(|t| t.health);
    Ok(match health {
        Some(TargetHealth::Healthy) => ProbeResult { passed: true, detail: "healthy".to_owned() },
        Some(health) => ProbeResult { passed: false, detail: health.as_str().to_owned() },
        None => ProbeResult { passed: false, detail: "not registered".to_owned() },
    })
}

pub(super) async fn change(
    client: &aws_sdk_elasticloadbalancingv2::Client,
    change: &Change,
) -> Result<(), ApiError> {
    let (target_group, instance, port) = match change {
        Change::Register { target_group, instance, port }
        | Change::Deregister { target_group, instance, port } => (target_group, instance, port),
        other => unreachable!("not a target change: {other}"),
    };
    let target = TargetDescription::builder().id(instance.as_str()).set_port(port.map(i32::from)).build();
    let result = if matches!(change, Change::Register { .. }) {
        client
            .register_targets()
            .target_group_arn(target_group)
            .targets(target)
            .send()
            .await
            .map(|_| ())
            .map_err(|error| from_sdk_error("RegisterTargets", error))
    } else {
        client
            .deregister_targets()
            .target_group_arn(target_group)
            .targets(target)
            .send()
            .await
            .map(|_| ())
            .map_err(|error| from_sdk_error("DeregisterTargets", error))
    };
    result
}
