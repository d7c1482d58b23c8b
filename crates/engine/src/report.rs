//! What a failover tells its caller: timestamped events as they happen, and a final report
//! with the outcome and the milestones an RTO breakdown is computed from.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use crate::group::Ordering;
use crate::instance::{InstanceId, InstanceState};
use crate::provider::ApiError;
use crate::time::Timestamp;

pub use crate::event::{Event, EventKind};

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
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "kebab-case")]
pub enum Superseded {
    /// Another member than the one seen failing is recorded active.
    OtherMemberActive,
    /// The member seen failing was activated after the failure was seen.
    ActivatedAfter,
    /// `member` was made active after the failure was seen (and may have been demoted again
    /// since): the group changed after it, whichever member serves now.
    GroupActivatedAfter { member: InstanceId, activated_at: Timestamp },
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
                    Superseded::GroupActivatedAfter { member, activated_at } => write!(
                        f,
                        "moved on: {member} was made active at {activated_at}, after the failure of \
                         {failed} seen at {evidence_at}"
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
