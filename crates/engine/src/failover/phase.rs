//! The failover's phases, the timers that wake it and what it waits for: the three things a
//! reader needs to know where a run stands, as enums rather than flags spread over fields.

use std::fmt;

use super::Failover;
use crate::instance::{InstanceId, InstanceState};

/// Where a failover stands. Entered only through [`Failover::enter`](super::Failover), which
/// asserts the transition is one [`Phase::may_enter`] allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Waiting for an observation to plan from (the primary visible, or a grace period over).
    Observing,
    /// Stopping the members to fence; no standby is touched yet (fence-first ordering).
    Fencing,
    /// Bringing a standby to `running`, moving down the list when one cannot make it. In the
    /// parallel ordering the fence is still being confirmed at the same time.
    Promoting,
    /// The standby runs alone behind the fence: its readiness checks are being probed.
    Readying,
    /// It passed them: the movers point clients at it and read their work back.
    MovingClients,
    /// Clients reach it: the members' roles are being written, and success waits for every
    /// other member to be seen stopped.
    Recording,
    /// The outcome is known; the last calls (a failure's rollback stops) drain.
    Closing,
    /// Nothing more to do: the report can be taken.
    Finished,
}

impl Phase {
    /// The legal transitions, as one table.
    pub fn may_enter(self, next: Phase) -> bool {
        use Phase::*;
        matches!(
            (self, next),
            (Observing, Fencing | Promoting | Closing)
                | (Fencing, Promoting | Closing)
                | (Promoting, Readying | Closing)
                | (Readying, MovingClients | Closing)
                | (MovingClients, Recording | Closing)
                // The promoted standby fell back before success: the next one is tried.
                | (Readying | MovingClients | Recording, Promoting)
                | (Recording, Closing)
                | (Closing, Finished)
        )
    }

    /// Whether a promoted standby (or one on its way) is being taken to success: the phases in
    /// which it can still fall back and the next one be tried.
    pub fn is_promoting(self) -> bool {
        matches!(self, Phase::Promoting | Phase::Readying | Phase::MovingClients | Phase::Recording)
    }

    /// Whether the outcome is decided (the run only drains calls, or is over).
    pub fn is_closing(self) -> bool {
        matches!(self, Phase::Closing | Phase::Finished)
    }
}

/// What wakes a sleeping failover. Each has at most one deadline at a time, computed from the
/// state (see `Failover::timer`); the earliest is the next wake-up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timer {
    /// The next describe of the group.
    Observe,
    /// The earliest queued call (a retry after backoff, or one waiting for a request token).
    Call,
    /// The fence must be confirmed by then (stop plus forced-stop timeouts).
    Fence,
    /// The next readiness probe or mover read that is due.
    Clients,
    /// The whole failover's deadline (its own, or the caller's if earlier).
    Failover,
}

impl Timer {
    /// Every timer, in the order ties are reported.
    pub const ALL: [Timer; 5] = [Timer::Call, Timer::Observe, Timer::Fence, Timer::Clients, Timer::Failover];
}

/// What a failover is waiting for, for progress display and the deadline's failure message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WaitingFor {
    FirstObservation,
    /// A client-side request token (the engine's own rate limit).
    RequestToken,
    /// A member being fenced to stop.
    Stop(InstanceId),
    /// The standby being promoted to run.
    Start(InstanceId),
    /// The fence, in the parallel ordering, once the standby runs.
    FenceConfirmation,
    /// A standby this run gave up on to be seen stopped.
    AbandonedStop(InstanceId),
    /// Every member but the promoted one to be seen stopped (the convergence rule).
    OthersStopped,
    /// A readiness check to pass on the promoted member.
    Readiness(String),
    /// A mover to verify.
    Clients(String),
    /// The role tag writes.
    TagWrites,
    /// A failed run's rollback stops.
    RollbackCalls,
    /// The group's lease, held by another process (if known): taken over once seen unchanged
    /// for its whole duration.
    Lease {
        holder: Option<String>,
    },
}

impl fmt::Display for WaitingFor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::FirstObservation => f.write_str("the first observation of the group"),
            Self::RequestToken => f.write_str("a request token (client-side rate limit)"),
            Self::Stop(instance) => write!(f, "{instance} to stop"),
            Self::Start(instance) => write!(f, "{instance} to start"),
            Self::FenceConfirmation => f.write_str("the fence to be confirmed"),
            Self::AbandonedStop(instance) => write!(f, "{instance} (a standby given up on) to stop"),
            Self::OthersStopped => f.write_str("every other member to be seen stopped"),
            Self::Readiness(check) => write!(f, "readiness check `{check}` to pass"),
            Self::Clients(mover) => write!(f, "clients to be moved: {mover}"),
            Self::TagWrites => f.write_str("tags to be recorded"),
            Self::RollbackCalls => f.write_str("rollback calls"),
            Self::Lease { holder: Some(holder) } => write!(
                f,
                "the group's lease, held by {holder} (taken over if it stays unchanged for its duration)"
            ),
            Self::Lease { holder: None } => f.write_str("the group's lease"),
        }
    }
}

impl Failover {
    /// What the failover is waiting for.
    pub(super) fn waiting_for(&self) -> WaitingFor {
        let live_or_unseen =
            |instance: &InstanceId| self.seen[instance].state().is_none_or(InstanceState::is_live);
        match self.phase {
            Phase::Observing => return WaitingFor::FirstObservation,
            Phase::Closing | Phase::Finished => return WaitingFor::RollbackCalls,
            Phase::Readying | Phase::MovingClients => {
                if let Some(stage) = &self.clients {
                    return stage.waiting_for(&self.spec);
                }
            }
            Phase::Fencing | Phase::Promoting | Phase::Recording => {}
        }
        if self.fence_confirmed_at.is_none() {
            let unsettled = |instance: &InstanceId| {
                !matches!(
                    self.seen[instance].settled_state(),
                    Some(InstanceState::Stopped | InstanceState::Terminated)
                )
            };
            if let Some(target) = self.fence.iter().find(|target| unsettled(&target.instance)) {
                return WaitingFor::Stop(target.instance.clone());
            }
        }
        if let Some(candidate) = self.current.as_ref().filter(|candidate| candidate.promoted_at.is_none()) {
            return WaitingFor::Start(candidate.instance.clone());
        }
        if self.fence_confirmed_at.is_none() {
            return WaitingFor::FenceConfirmation;
        }
        if let Some(instance) = self.abandoned.keys().find(|instance| live_or_unseen(instance)) {
            return WaitingFor::AbandonedStop(instance.clone());
        }
        if self.phase == Phase::Recording && self.record_remaining.is_some_and(|remaining| remaining > 0) {
            return WaitingFor::TagWrites;
        }
        WaitingFor::OthersStopped
    }
}

#[cfg(test)]
mod tests {
    use super::Phase::{self, *};

    const ALL: [Phase; 8] =
        [Observing, Fencing, Promoting, Readying, MovingClients, Recording, Closing, Finished];

    #[test]
    fn every_phase_can_reach_finished_and_finished_is_final() {
        for phase in ALL {
            // Every phase but Finished can close, and only Closing finishes.
            assert_eq!(phase.may_enter(Closing), !phase.is_closing(), "{phase:?}");
            assert_eq!(phase.may_enter(Finished), phase == Closing, "{phase:?}");
        }
        assert!(ALL.iter().all(|next| !Finished.may_enter(*next)));
    }

    #[test]
    fn no_phase_goes_back_to_observing_or_fencing() {
        for phase in ALL {
            assert!(!phase.may_enter(Observing), "{phase:?}");
            assert_eq!(phase.may_enter(Fencing), phase == Observing, "{phase:?}");
        }
    }
}
