//! A third controller beside the watchers (`simulate --watchers`): an operator's `switchover`
//! from the primary to the first standby, under the group's lease, while the watchers run. The
//! watchers see the primary stop and may decide it failed; once the operator is done, the
//! member switched in is healthy, and no watcher may act on its verdict about the old one.

use std::cell::RefCell;
use std::ops::ControlFlow;
use std::time::Duration;

use coldstandby_engine::driver::{self, Driven, Quiet};
use coldstandby_engine::fleet::{Fleet, Zones};
use coldstandby_engine::lease::LeaseSettings;
use coldstandby_engine::{Call, Clock, Failover, GroupSpec, InstanceId, Options, Outcome, Timestamp};

use super::checker::Violation;
use super::watch::NO_FAILOVER_OF_HEALTHY_PRIMARY;
use crate::region::SimRegion;

/// The operator's name in the call log and the lease table.
pub const OPERATOR: &str = "operator-cli";

/// When the operator's switchover ended, and the member it switched in (None: it did not).
#[derive(Debug, Default)]
pub struct SwitchoverEnd {
    pub finished_at: Option<Timestamp>,
    pub switched_in: Option<InstanceId>,
}

/// The operator's switchover of `spec` from its primary to its first standby, from `at`.
pub async fn switchover(
    region: &SimRegion,
    spec: &GroupSpec,
    lease: LeaseSettings,
    at: Timestamp,
    end: &RefCell<SwitchoverEnd>,
) {
    let controller = region.controller(OPERATOR);
    controller.sleep_until(at).await;
    let began = controller.now();
    let planned = spec.switchover(&spec.primary, &spec.standbys[0]);
    let options = Options { trigger: "switchover".to_owned(), ..Options::default() };
    let failover = Failover::new(planned, options, began);
    let settings = LeaseSettings { owner: OPERATOR.to_owned(), ..lease };
    let fleet = Fleet::new(vec![failover], Zones::default(), began).with_leases(&settings, began);
    let driven =
        driver::drive(fleet, &controller, &controller, &mut Quiet, |_, _| ControlFlow::Continue(())).await;
    if let Driven::Finished(reports) = driven {
        let report = &reports[0];
        let switched_in = match &report.outcome {
            Outcome::FailedOver { to, .. } => Some(to.clone()),
            _ => None,
        };
        *end.borrow_mut() = SwitchoverEnd { finished_at: Some(report.finished_at), switched_in };
    }
}

/// No watcher stops the member the operator switched in, once the switchover ended: its service
/// is healthy, and the watchers' verdict was about the member switched out.
pub fn switched_in_left_alone(region: &SimRegion, end: &SwitchoverEnd, seed: u64) -> Vec<Violation> {
    let (Some(finished_at), Some(switched_in)) = (end.finished_at, end.switched_in.as_ref()) else {
        return Vec::new();
    };
    region
        .calls()
        .into_iter()
        .filter(|record| record.at >= finished_at && record.caller.as_deref() != Some(OPERATOR))
        .filter(|record| matches!(&record.call, Call::Stop { instance, .. } if instance == switched_in))
        .take(1)
        .map(|stop| Violation {
            seed,
            invariant: NO_FAILOVER_OF_HEALTHY_PRIMARY,
            at: stop.at,
            detail: format!(
                "{} stopped {switched_in}, switched in by the operator {} ms before and healthy",
                stop.caller.as_deref().unwrap_or("someone"),
                stop.at.saturating_since(finished_at).as_millis()
            ),
        })
        .collect()
}

/// When the operator starts: around the primary's failure (or the start), give or take 10 s.
pub fn start_time(rng: &mut fastrand::Rng, around: Timestamp) -> Timestamp {
    let from = Timestamp::from_unix_millis(around.unix_millis().saturating_sub(10_000));
    from + Duration::from_millis(rng.u64(0..=20_000))
}
