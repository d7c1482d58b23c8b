//! Combining vantage points: this watcher's probes, the other watchers' probes and EC2's view of
//! the instance decide together whether a member that failed this watcher's probes has failed.
//!
//! The rule, in order:
//!
//! 1. EC2 reports the instance not `running` (stopping, stopped, shutting down, terminated):
//!    failed. EC2's word on its own instance is enough.
//! 2. Another watcher reaches it (its last probe round passed): not failed. A member that
//!    answers someone is not failed over on one watcher's word; this watcher's own network is
//!    the likelier fault.
//! 3. More than half of all watchers (this one included) see it down: failed.
//! 4. Another watcher is not sure yet (one failed round, not M of N): ask again shortly.
//! 5. No other watcher could be asked: EC2 decides. If the instance's zone has not answered
//!    EC2 for [`ZONE_SILENCE`], failed (the engine's fence policy then decides what may be
//!    done). If EC2 reports it `running`, not failed: one vantage point cannot tell its own
//!    network failing from the member failing, so it waits for a second one (or for EC2 to see
//!    the instance stop).
//!
//! A watcher configured without peers decides alone (rule 3 with one watcher).

use std::fmt;
use std::time::Duration;

use coldstandby_engine::InstanceState;
use serde::{Deserialize, Serialize};

/// How long EC2 must fail to answer for an instance's zone before its silence counts as the
/// zone failing (the `isolate` fence's own threshold).
pub const ZONE_SILENCE: Duration = Duration::from_secs(10);

/// What one watcher's probes say of a member.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum View {
    /// Its last probe round passed.
    Up,
    /// M of its last N probe rounds failed.
    Down,
    /// No recent round, or a failed round short of M of N.
    Unknown,
}

/// What EC2 says of the instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ec2View {
    Running,
    /// Any state but `running` (pending counts: it is not serving yet).
    NotRunning(InstanceState),
    /// DescribeInstances has not answered for it, for this long.
    Unanswered(Duration),
}

/// One other watcher's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PeerView {
    Answered(View),
    /// It could not be asked (no answer in time, refused, an error).
    Unreachable(String),
}

/// The decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Failed: fail the group over. Why.
    Failed(String),
    /// Reachable from elsewhere: do not fail over. Why.
    Vetoed(String),
    /// Not yet decidable: ask again. Why.
    Undecided(String),
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Failed(why) => write!(f, "failed: {why}"),
            Self::Vetoed(why) => write!(f, "not failed: {why}"),
            Self::Undecided(why) => write!(f, "undecided: {why}"),
        }
    }
}

/// Decide for a member this watcher sees down (M of N of its probe rounds failed), from EC2's
/// view and every other watcher's (name, answer).
pub fn decide(ec2: Ec2View, peers: &[(String, PeerView)]) -> Verdict {
    if let Ec2View::NotRunning(state) = ec2 {
        return Verdict::Failed(format!("EC2 reports the instance {state}"));
    }
    let answered = |wanted: View| {
        peers
            .iter()
            .filter(move |(_, view)| *view == PeerView::Answered(wanted))
            .map(|(name, _)| name.as_str())
            .collect::<Vec<_>>()
    };
    let up = answered(View::Up);
    if !up.is_empty() {
        return Verdict::Vetoed(format!("watcher {} still reaches it", up.join(", ")));
    }
    let down = answered(View::Down);
    let watchers = peers.len() + 1;
    if 2 * (down.len() + 1) > watchers {
        return Verdict::Failed(if down.is_empty() {
            "no other watcher is configured".to_owned()
        } else {
            format!("watcher {} fails to reach it too", down.join(", "))
        });
    }
    let unsure = answered(View::Unknown);
    if !unsure.is_empty() {
        return Verdict::Undecided(format!("watcher {} is not sure yet", unsure.join(", ")));
    }
    let unreachable: Vec<&str> = peers
        .iter()
        .filter(|(_, view)| matches!(view, PeerView::Unreachable(_)))
        .map(|(name, _)| name.as_str())
        .collect();
    match ec2 {
        Ec2View::Unanswered(silent) if silent >= ZONE_SILENCE => Verdict::Failed(format!(
            "EC2 has not answered for the instance for {} s and watcher {} cannot be asked",
            silent.as_secs(),
            unreachable.join(", ")
        )),
        Ec2View::Unanswered(_) => Verdict::Undecided("EC2 has not answered for the instance yet".to_owned()),
        _ => Verdict::Undecided(format!(
            "watcher {} cannot be asked and EC2 reports the instance running: one vantage point is not enough",
            unreachable.join(", ")
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(name: &str, view: PeerView) -> (String, PeerView) {
        (name.to_owned(), view)
    }

    fn unreachable() -> PeerView {
        PeerView::Unreachable("no answer".to_owned())
    }

    #[test]
    fn ec2_seeing_the_instance_stopped_is_enough() {
        let peers = [peer("b", PeerView::Answered(View::Up))];
        assert!(matches!(decide(Ec2View::NotRunning(InstanceState::Stopped), &peers), Verdict::Failed(_)));
    }

    #[test]
    fn a_peer_that_reaches_the_member_vetoes() {
        let peers = [peer("b", PeerView::Answered(View::Up))];
        assert!(matches!(decide(Ec2View::Running, &peers), Verdict::Vetoed(_)));
        let three = [peer("b", PeerView::Answered(View::Down)), peer("c", PeerView::Answered(View::Up))];
        assert!(matches!(decide(Ec2View::Running, &three), Verdict::Vetoed(_)));
    }

    #[test]
    fn two_watchers_that_agree_fail_it_over() {
        let peers = [peer("b", PeerView::Answered(View::Down))];
        assert!(matches!(decide(Ec2View::Running, &peers), Verdict::Failed(_)));
        let three = [peer("b", PeerView::Answered(View::Down)), peer("c", unreachable())];
        assert!(matches!(decide(Ec2View::Running, &three), Verdict::Failed(_)), "two of three");
    }

    #[test]
    fn one_watcher_alone_waits_while_ec2_reports_the_instance_running() {
        let peers = [peer("b", unreachable())];
        assert!(matches!(decide(Ec2View::Running, &peers), Verdict::Undecided(_)));
        let unsure = [peer("b", PeerView::Answered(View::Unknown))];
        assert!(matches!(decide(Ec2View::Running, &unsure), Verdict::Undecided(_)));
    }

    #[test]
    fn a_zone_silent_long_enough_counts_when_no_peer_can_be_asked() {
        let peers = [peer("b", unreachable())];
        assert!(matches!(decide(Ec2View::Unanswered(Duration::from_secs(3)), &peers), Verdict::Undecided(_)));
        assert!(matches!(decide(Ec2View::Unanswered(ZONE_SILENCE), &peers), Verdict::Failed(_)));
    }

    #[test]
    fn a_watcher_configured_alone_decides_alone() {
        assert!(matches!(decide(Ec2View::Running, &[]), Verdict::Failed(_)));
    }
}
