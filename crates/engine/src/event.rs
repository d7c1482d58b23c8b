//! The steps a failover reports as they happen, each stamped with the (injected) time.

use serde::Serialize;

use crate::group::Ordering;
use crate::instance::{InstanceId, InstanceState};
use crate::provider::ErrorKind;
use crate::tags::Role;
use crate::time::Timestamp;
/// One step of a failover, stamped with the (injected) time it happened.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Event {
    pub at: Timestamp,
    #[serde(flatten)]
    pub kind: EventKind,
}

/// The steps a failover reports.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "step", rename_all = "kebab-case")]
pub enum EventKind {
    /// The engine began; `trigger` says why (an alarm, a manual command).
    Started {
        group: String,
        trigger: String,
        ordering: Ordering,
    },
    /// A describe call showed a member in a new state (or for the first time).
    Observed {
        instance: InstanceId,
        state: InstanceState,
        previous: Option<InstanceState>,
    },
    /// A describe call did not return a member it returned before (or never returned it).
    NotVisible {
        instance: InstanceId,
    },
    /// A describe naming the member failed while other members' answered: its Availability
    /// Zone does not answer, and its state cannot be known.
    Unobservable {
        instance: InstanceId,
        zone: Option<String>,
        error: String,
    },
    /// The group's lease was taken (`epoch`: the fencing token written into the trigger tag).
    LeaseTaken {
        epoch: u64,
        owner: String,
    },
    /// The run stopped acting: its lease ended before the run did (taken over, or not renewed
    /// in time), so it made no further call, rollback included.
    StoppedActing {
        reason: String,
    },
    /// The plan made from the first observation.
    Planned {
        fence: Vec<InstanceId>,
        candidates: Vec<InstanceId>,
    },
    StopRequested {
        instance: InstanceId,
        force: bool,
    },
    /// A normal stop ran past its timeout; a forced stop follows.
    FenceEscalated {
        instance: InstanceId,
        waited_ms: u64,
    },
    /// A member that could not be observed was cut off: its subnet is on the quarantine
    /// network ACL, as read back.
    Isolated {
        instance: InstanceId,
        subnet: String,
        network_acl: String,
    },
    /// Every member that could serve is confirmed stopped (or terminated), or cut off.
    Fenced {
        instances: Vec<InstanceId>,
        /// Those of them cut off rather than seen stopped (their zone did not answer).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        cut_off: Vec<InstanceId>,
    },
    StartRequested {
        instance: InstanceId,
    },
    /// A standby was given up on; the next one in the list is tried.
    StandbySkipped {
        instance: InstanceId,
        reason: String,
    },
    /// The standby's start timeout ran out while it was still `pending`: EC2 refuses to stop
    /// a pending instance, so the run keeps it as the candidate rather than start another
    /// beside it.
    StandbyOverdue {
        instance: InstanceId,
        waited_ms: u64,
        /// Its state in the last answer that returned it (none: no answer has since its start).
        last_seen: Option<InstanceState>,
    },
    /// The standby was observed `running`.
    Promoted {
        instance: InstanceId,
    },
    /// The promoted standby passed the readiness check (for now: its state is `running`).
    Verified {
        instance: InstanceId,
        check: String,
    },
    /// One readiness check passed its number of probes in a row on the promoted member.
    CheckPassed {
        instance: InstanceId,
        check: String,
        passes: u32,
    },
    /// Every readiness check passed: clients may move to it.
    Ready {
        instance: InstanceId,
        checks: usize,
    },
    /// A mover made one change (a route, a record, a registration, an association).
    ClientsChanged {
        operation: String,
        change: String,
    },
    /// A mover read back that clients reach the member through it.
    ClientsMoved {
        instance: InstanceId,
        mover: String,
    },
    /// Every mover verified (`method` lists them, or says none is configured).
    Redirected {
        instance: InstanceId,
        method: String,
    },
    /// The member's role was written to its tags.
    Recorded {
        instance: InstanceId,
        role: Role,
    },
    /// A standby this run answered for (started, adopted or abandoned) was stopped after the run
    /// failed: a failed run leaves nothing it brought up running.
    RolledBack {
        instance: InstanceId,
    },
    /// The run failed, but keeps this member running: it was promoted, or was already running
    /// when the run took it over, and every other member is fenced, so it is the one member that
    /// may serve (stopping it would leave none).
    Kept {
        instance: InstanceId,
    },
    CallFailed {
        operation: String,
        instance: Option<InstanceId>,
        kind: ErrorKind,
        code: String,
        message: String,
        /// When the call (or what it was for) will be tried again, if it will.
        retry_in_ms: Option<u64>,
    },
    Finished {
        outcome: String,
    },
}

impl EventKind {
    /// The step's name, as it appears in JSON (`"step": "stop-requested"`).
    pub fn step(&self) -> &'static str {
        match self {
            Self::Started { .. } => "started",
            Self::Observed { .. } => "observed",
            Self::NotVisible { .. } => "not-visible",
            Self::Unobservable { .. } => "unobservable",
            Self::LeaseTaken { .. } => "lease-taken",
            Self::StoppedActing { .. } => "stopped-acting",
            Self::Planned { .. } => "planned",
            Self::StopRequested { .. } => "stop-requested",
            Self::FenceEscalated { .. } => "fence-escalated",
            Self::Isolated { .. } => "isolated",
            Self::Fenced { .. } => "fenced",
            Self::StartRequested { .. } => "start-requested",
            Self::StandbySkipped { .. } => "standby-skipped",
            Self::StandbyOverdue { .. } => "standby-overdue",
            Self::Promoted { .. } => "promoted",
            Self::Verified { .. } => "verified",
            Self::CheckPassed { .. } => "check-passed",
            Self::Ready { .. } => "ready",
            Self::ClientsChanged { .. } => "clients-changed",
            Self::ClientsMoved { .. } => "clients-moved",
            Self::Redirected { .. } => "redirected",
            Self::Recorded { .. } => "recorded",
            Self::RolledBack { .. } => "rolled-back",
            Self::Kept { .. } => "kept",
            Self::CallFailed { .. } => "call-failed",
            Self::Finished { .. } => "finished",
        }
    }

    /// The one instance the step is about, if there is one.
    pub fn instance(&self) -> Option<&InstanceId> {
        match self {
            Self::Observed { instance, .. }
            | Self::NotVisible { instance }
            | Self::Unobservable { instance, .. }
            | Self::Isolated { instance, .. }
            | Self::StopRequested { instance, .. }
            | Self::FenceEscalated { instance, .. }
            | Self::StartRequested { instance }
            | Self::StandbySkipped { instance, .. }
            | Self::StandbyOverdue { instance, .. }
            | Self::Promoted { instance }
            | Self::Verified { instance, .. }
            | Self::Redirected { instance, .. }
            | Self::CheckPassed { instance, .. }
            | Self::Ready { instance, .. }
            | Self::ClientsMoved { instance, .. }
            | Self::Recorded { instance, .. }
            | Self::RolledBack { instance }
            | Self::Kept { instance } => Some(instance),
            Self::CallFailed { instance, .. } => instance.as_ref(),
            Self::Started { .. }
            | Self::LeaseTaken { .. }
            | Self::StoppedActing { .. }
            | Self::Planned { .. }
            | Self::Fenced { .. }
            | Self::ClientsChanged { .. }
            | Self::Finished { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_names_match_the_json_tags() {
        let instance: InstanceId = "i-0000000a".parse().unwrap();
        let kinds = [
            EventKind::NotVisible { instance: instance.clone() },
            EventKind::StopRequested { instance: instance.clone(), force: true },
            EventKind::Fenced { instances: vec![instance.clone()], cut_off: Vec::new() },
            EventKind::Kept { instance: instance.clone() },
            EventKind::RolledBack { instance },
        ];
        for kind in kinds {
            let json = serde_json::to_value(&kind).unwrap();
            assert_eq!(json["step"], kind.step());
        }
    }
}
