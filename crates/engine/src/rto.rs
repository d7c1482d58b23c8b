//! The phases of a recovery (detection, fence, promote, verify, readiness, clients, record), cut
//! from a failover's milestones the way the demo's RTO breakdown cuts them.

use crate::{millis, EventKind, Ordering, Report, Timestamp};
use serde::Serialize;

/// A phase of the recovery.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PhaseName {
    /// The failure to the trigger (an alarm, the watchers agreeing).
    Detection,
    /// The trigger to every old member confirmed stopped (or cut off).
    Fence,
    /// To the standby observed running.
    Promote,
    /// To its state verified and every other member seen stopped.
    Verify,
    /// To every readiness check passed.
    Readiness,
    /// To every mover verified: clients reach the new member.
    Clients,
    /// To the active member recorded in the tags.
    Record,
}

impl PhaseName {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Detection => "detection",
            Self::Fence => "fence",
            Self::Promote => "promote",
            Self::Verify => "verify",
            Self::Readiness => "readiness",
            Self::Clients => "clients",
            Self::Record => "record",
        }
    }
}

/// One phase: from `from` until `until`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct RecoveryPhase {
    pub name: PhaseName,
    pub from: Timestamp,
    pub until: Timestamp,
}

impl RecoveryPhase {
    pub fn duration_ms(&self) -> u64 {
        millis(self.until.saturating_since(self.from))
    }
}

/// From the first phase's start to the last one's end. Not the sum of the phases: with
/// `ordering = "parallel"` the standby is promoted while the primary is fenced.
pub fn recovery_ms(phases: &[RecoveryPhase]) -> u64 {
    match (phases.iter().map(|phase| phase.from).min(), phases.iter().map(|phase| phase.until).max()) {
        (Some(from), Some(until)) => millis(until.saturating_since(from)),
        _ => 0,
    }
}

/// The phases `report` completed, in order. `trigger_at` is when the failover was asked for and
/// `failure_at` when the failure began (None for a planned move: no detection phase). A run that
/// stopped part way has the phases it finished.
pub fn phases(report: &Report, trigger_at: Timestamp, failure_at: Option<Timestamp>) -> Vec<RecoveryPhase> {
    let milestones = report.milestones;
    let mut phases = Vec::new();
    let mut push = |name, from: Timestamp, until: Option<Timestamp>| {
        if let Some(until) = until {
            phases.push(RecoveryPhase { name, from, until: until.max(from) });
        }
    };
    if let Some(failure_at) = failure_at {
        push(PhaseName::Detection, failure_at, Some(trigger_at));
    }
    let Some(fenced) = milestones.fence_confirmed_at else {
        return phases;
    };
    push(PhaseName::Fence, trigger_at, Some(fenced));
    let parallel = report
        .events
        .iter()
        .any(|event| matches!(event.kind, EventKind::Started { ordering: Ordering::Parallel, .. }));
    let Some(promoted) = milestones.promoted_at else {
        return phases;
    };
    push(PhaseName::Promote, if parallel { trigger_at } else { fenced }, Some(promoted));
    let Some(verified) = milestones.verified_at else {
        return phases;
    };
    push(PhaseName::Verify, fenced.max(promoted), Some(verified));
    // A group without readiness checks or movers passes those phases in no time.
    let ready = milestones.ready_at.or(milestones.recorded_at.map(|_| verified));
    push(PhaseName::Readiness, verified, ready);
    let Some(ready) = ready else {
        return phases;
    };
    let redirected = milestones.redirected_at.or(milestones.recorded_at.map(|_| ready));
    push(PhaseName::Clients, ready, redirected);
    if let Some(redirected) = redirected {
        push(PhaseName::Record, redirected, milestones.recorded_at);
    }
    phases
}
