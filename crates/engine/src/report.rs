//! What a failover tells its caller: timestamped events as they happen, and a final report
//! with the outcome and the milestones an RTO breakdown is computed from.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use crate::group::Ordering;
use crate::instance::{InstanceId, InstanceState};
use crate::provider::{ApiError, ErrorKind};
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
    /// A standby this run started is being stopped again because the fence did not hold.
    RolledBack {
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
            | Self::RolledBack { instance } => Some(instance),
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

/// What the first observation showed and what the engine will do about it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// The member recorded active (or the configured primary when nothing is recorded).
    pub active: InstanceId,
    pub ordering: Ordering,
    /// Members to confirm stopped before anything is recorded active, with their states.
    pub fence: Vec<(InstanceId, Option<InstanceState>)>,
    /// Standbys to try, in order, with their states.
    pub candidates: Vec<(InstanceId, Option<InstanceState>)>,
    /// Standbys left out, and why.
    pub excluded: Vec<(InstanceId, String)>,
}

/// Why a failover did not complete.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "kebab-case")]
pub enum Failure {
    /// The fence could not be confirmed: nothing was recorded active (fail closed).
    FenceNotConfirmed { instance: InstanceId, last_state: Option<InstanceState> },
    /// A member to fence could not be observed at all until the fence's deadline (its zone's
    /// describes failed while others answered), and the group fails closed in that case.
    Unobservable { instance: InstanceId, zone: Option<String>, error: String },
    /// Every standby was tried (or none could be).
    NoStandbyAvailable { tried: Vec<(InstanceId, String)> },
    /// A call failed in a way no retry can mend.
    PermanentError { operation: String, instance: Option<InstanceId>, error: ApiError },
    /// The failover's deadline came first.
    DeadlineExceeded { waiting_for: String },
    /// The tags record more than one active member; the engine will not guess.
    ConflictingRecords { active: Vec<InstanceId> },
    /// The promoted member did not pass a readiness check in time: no client was moved to it.
    NotReady { instance: InstanceId, check: String, last: String },
    /// Another process holds the group's lease and renews it: this run did nothing.
    LeaseHeld { owner: String, epoch: u64 },
    /// The group's lease ended while the run acted (taken over, or not renewed in time): it
    /// stopped acting at once, wherever it was.
    LeaseLost { why: String },
    /// The lease store refused (permissions, a missing table): nothing was done.
    LeaseUnavailable { error: ApiError },
}

/// Whether running the same thing again later can succeed: what a caller that retries (Lambda's
/// asynchronous invocation does, twice) must know.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Retry {
    /// A rerun may succeed (capacity may come back, a stop may finish, a deadline resumes).
    Transient,
    /// Only a person can mend it (configuration, permissions, conflicting records).
    Permanent,
}

impl Failure {
    /// Whether a rerun of the failover can succeed where this one failed.
    pub fn retry(&self) -> Retry {
        match self {
            Self::FenceNotConfirmed { .. }
            | Self::Unobservable { .. }
            | Self::NoStandbyAvailable { .. }
            | Self::DeadlineExceeded { .. }
            | Self::NotReady { .. }
            | Self::LeaseHeld { .. }
            | Self::LeaseLost { .. } => Retry::Transient,
            Self::LeaseUnavailable { error } if !error.kind.is_permanent() => Retry::Transient,
            Self::LeaseUnavailable { .. } => Retry::Permanent,
            Self::PermanentError { error, .. } if !error.kind.is_permanent() => Retry::Transient,
            Self::PermanentError { .. } | Self::ConflictingRecords { .. } => Retry::Permanent,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::FenceNotConfirmed { instance, last_state } => {
                let state = last_state.map_or("not visible".to_owned(), |state| state.to_string());
                write!(
                    f,
                    "could not confirm {instance} stopped (last seen: {state}); no standby was made active"
                )
            }
            Self::Unobservable { instance, zone, error } => {
                let zone = zone.as_deref().map_or(String::new(), |zone| format!(" in {zone}"));
                write!(
                    f,
                    "primary unobservable: AZ impaired: {instance}{zone} could not be described ({error}); \
                     it was not confirmed stopped, so no standby was made active (fail-closed)"
                )
            }
            Self::NoStandbyAvailable { tried } => {
                write!(f, "no standby could be promoted")?;
                for (instance, reason) in tried {
                    write!(f, "; {instance}: {reason}")?;
                }
                Ok(())
            }
            Self::PermanentError { operation, instance, error } => match instance {
                Some(instance) => write!(f, "{operation} on {instance} failed: {error}"),
                None => write!(f, "{operation} failed: {error}"),
            },
            Self::DeadlineExceeded { waiting_for } => {
                write!(
                    f,
                    "deadline reached while waiting for {waiting_for}; run the failover again to resume"
                )
            }
            Self::LeaseHeld { owner, epoch } => write!(
                f,
                "another process holds this group's lease and renews it: {owner} (epoch {epoch}); \
                 this run did nothing"
            ),
            Self::LeaseLost { why } => {
                write!(f, "the group's lease was {why}; this run stopped acting where it was")
            }
            Self::LeaseUnavailable { error } => {
                write!(f, "the lease table could not be used ({error}); nothing was done")
            }
            Self::NotReady { instance, check, last } => write!(
                f,
                "{instance} did not pass its readiness check `{check}` in time (last probe: {last}); \
                 no client was moved to it"
            ),
            Self::ConflictingRecords { active } => {
                let list: Vec<_> = active.iter().map(InstanceId::as_str).collect();
                write!(f, "tags record several active members ({}); fix the tags by hand", list.join(", "))
            }
        }
    }
}

/// How a run knows the failure it was started on is history.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "kebab-case")]
pub enum Superseded {
    /// Another member than the one seen failing is recorded active.
    OtherMemberActive,
    /// The member seen failing was activated after the failure was seen.
    ActivatedAfter,
    /// The failure was seen longer ago than it may be acted on (a controller that paused, or
    /// waited long for the lease): whoever saw it must see it again.
    TooOld { age_ms: u64, fresh_for_ms: u64 },
}

/// How a failover ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "kebab-case")]
pub enum Outcome {
    /// `to` is running and recorded active; every other member is fenced.
    FailedOver {
        from: InstanceId,
        to: InstanceId,
    },
    /// The group had already failed over to `active`; nothing was changed.
    AlreadyActive {
        active: InstanceId,
    },
    /// The failure the run was started on is history (`because` says how it knows); `active`
    /// is the member recorded active now. Nothing was changed.
    MovedOn {
        active: InstanceId,
        failed: Option<InstanceId>,
        evidence_at: Timestamp,
        because: Superseded,
    },
    /// A dry run: the plan, with nothing changed.
    Planned {
        plan: Plan,
    },
    Failed {
        failure: Failure,
    },
}

impl Outcome {
    /// Whether the group ended with a running, recorded active standby.
    pub fn is_success(&self) -> bool {
        !matches!(self, Self::Failed { .. })
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::FailedOver { from, to } => write!(f, "failed over from {from} to {to}"),
            Self::AlreadyActive { active } => {
                write!(f, "already failed over: {active} is active; nothing changed")
            }
            Self::MovedOn { active, failed, evidence_at, because } => {
                let failed = failed.as_ref().map_or_else(|| "the group".to_owned(), ToString::to_string);
                match because {
                    Superseded::OtherMemberActive => write!(
                        f,
                        "moved on: the failure seen was of {failed}, and {active} is recorded active now"
                    )?,
                    Superseded::ActivatedAfter => write!(
                        f,
                        "moved on: {active} was activated after the failure of {failed} seen at {evidence_at}"
                    )?,
                    Superseded::TooOld { age_ms, fresh_for_ms } => write!(
                        f,
                        "the failure of {failed} was seen {age_ms} ms before the run could act, longer than \
                         the {fresh_for_ms} ms it is trusted for: it must be seen again"
                    )?,
                }
                write!(f, "; nothing changed")
            }
            Self::Planned { .. } => write!(f, "dry run: nothing changed"),
            Self::Failed { failure } => write!(f, "failed: {failure}"),
        }
    }
}

/// When each phase completed, for the RTO breakdown.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Milestones {
    pub fence_confirmed_at: Option<Timestamp>,
    pub promoted_at: Option<Timestamp>,
    pub verified_at: Option<Timestamp>,
    /// Every readiness check passed on the promoted member.
    pub ready_at: Option<Timestamp>,
    /// Every mover verified: clients reach the new member.
    pub redirected_at: Option<Timestamp>,
    pub recorded_at: Option<Timestamp>,
}

/// Everything a failover did.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    pub group: String,
    pub started_at: Timestamp,
    pub finished_at: Timestamp,
    pub outcome: Outcome,
    pub milestones: Milestones,
    /// Calls made, by EC2 operation.
    pub calls: BTreeMap<&'static str, u32>,
    pub events: Vec<Event>,
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
            EventKind::RolledBack { instance },
        ];
        for kind in kinds {
            let json = serde_json::to_value(&kind).unwrap();
            assert_eq!(json["step"], kind.step());
        }
    }

    #[test]
    fn only_what_a_person_must_mend_is_permanent() {
        use crate::provider::{ApiError, ErrorKind};
        let error = |kind| Failure::PermanentError {
            operation: "StartInstances".to_owned(),
            instance: None,
            error: ApiError::new(kind, "Code", "message"),
        };
        assert_eq!(error(ErrorKind::Denied).retry(), Retry::Permanent);
        assert_eq!(error(ErrorKind::Invalid).retry(), Retry::Permanent);
        assert_eq!(error(ErrorKind::Transient).retry(), Retry::Transient);
        assert_eq!(Failure::ConflictingRecords { active: Vec::new() }.retry(), Retry::Permanent);
        let deadline = Failure::DeadlineExceeded { waiting_for: "x".to_owned() };
        assert_eq!(deadline.retry(), Retry::Transient);
        assert_eq!(Failure::NoStandbyAvailable { tried: Vec::new() }.retry(), Retry::Transient);
    }
}
