//! What a report shows, as plain data: the callers (demo, drill, simulate) fill it from what they
//! ran, and the page renders it. Times are Unix milliseconds; nothing here reads a clock.

use coldstandby_engine::{InstanceState, Timestamp};
use serde::Serialize;

use coldstandby_engine::rto::RecoveryPhase;

/// One report: a page about one rehearsal (one or more runs of the engine).
#[derive(Clone, Debug, Serialize)]
pub struct Document {
    /// The page's heading, e.g. "Drill of group web".
    pub title: String,
    /// `coldstandby 0.1.0`.
    pub tool: String,
    /// When the rehearsal began (virtual time on the simulated region); None for many runs.
    pub ran_at: Option<Timestamp>,
    /// Where it ran: "a simulated ap-northeast-1", "ap-northeast-1, account 123456789012".
    pub target: String,
    /// Whether the times are the simulated region's (virtual) rather than the real clock's.
    pub simulated: bool,
    /// A line or two saying what was rehearsed and how it ended.
    pub summary: Vec<String>,
    pub runs: Vec<Run>,
    /// The configuration used, as text (TOML), shown verbatim.
    pub configuration: Option<String>,
    /// For a sweep or an AZ-outage simulation: the recovery times of every run.
    pub distribution: Option<Distribution>,
}

/// One run of the engine (a failover, a switchover) with its timeline.
#[derive(Clone, Debug, Serialize)]
pub struct Run {
    /// "Failover", "Switchover back".
    pub title: String,
    /// The outcome as a sentence ("failed over from i-... to i-...").
    pub outcome: String,
    pub succeeded: bool,
    /// The timeline's left edge (the failure, or the trigger when there was no failure).
    pub origin: Timestamp,
    /// The timeline's right edge.
    pub end: Timestamp,
    /// Where the instance lanes come from.
    pub lanes_source: LanesSource,
    pub lanes: Vec<Lane>,
    /// The controller's lane: every step the engine logged.
    pub steps: Vec<Step>,
    pub phases: Vec<RecoveryPhase>,
    /// Every call the run made, in order, with its result.
    pub calls: Vec<CallRow>,
}

/// Whose account of the instances' states the lanes give.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LanesSource {
    /// The simulated region's own record of every change, when it happened.
    Region,
    /// What coldstandby observed through DescribeInstances (real EC2: a change shows when it
    /// was seen, not when it happened).
    Observations,
}

/// One instance's lane: its states as spans of time.
#[derive(Clone, Debug, Serialize)]
pub struct Lane {
    pub instance: String,
    /// "primary, ap-northeast-1a".
    pub label: String,
    pub spans: Vec<StateSpan>,
}

/// An instance in one state from `from` until `until`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct StateSpan {
    pub state: InstanceState,
    pub from: Timestamp,
    pub until: Timestamp,
}

/// One step in the controller's lane.
#[derive(Clone, Debug, Serialize)]
pub struct Step {
    pub at: Timestamp,
    /// The step's name as in the JSON report (`stop-requested`).
    pub step: &'static str,
    pub subject: String,
    pub detail: String,
    /// A step that is a problem (a failed call, a rollback, a failed outcome).
    pub trouble: bool,
}

/// One call to AWS (or the simulated region) and how it ended.
#[derive(Clone, Debug, Serialize)]
pub struct CallRow {
    pub at: Timestamp,
    pub operation: String,
    pub subject: String,
    /// "ok", or the error code.
    pub result: String,
}

/// Recovery times of many runs.
#[derive(Clone, Debug, Serialize)]
pub struct Distribution {
    /// What the runs were: "100 seeds of the AZ-outage simulation".
    pub title: String,
    /// Each completed run's recovery time.
    pub rto_ms: Vec<u64>,
    /// Runs that did not recover (counted apart: they have no recovery time).
    pub not_recovered: usize,
}

impl Run {
    /// The lanes from a list of state changes (`at`, instance, from, to) sorted by time, with
    /// `initial` states for instances that had no change; each lane runs from `origin` to `end`.
    pub fn lanes_from_changes(
        origin: Timestamp,
        end: Timestamp,
        members: &[(String, String, Option<InstanceState>)],
        changes: &[(Timestamp, String, InstanceState, InstanceState)],
    ) -> Vec<Lane> {
        members
            .iter()
            .map(|(instance, label, initial)| {
                let mine: Vec<_> = changes
                    .iter()
                    .filter(|(at, id, _, _)| id == instance && *at <= end)
                    .map(|(at, _, from, to)| ((*at).max(origin), *from, *to))
                    .collect();
                let mut spans = Vec::new();
                let mut state = mine.first().map(|(_, from, _)| *from).or(*initial);
                let mut since = origin;
                for (at, _, to) in mine {
                    if let Some(state) = state.filter(|_| at > since) {
                        spans.push(StateSpan { state, from: since, until: at });
                    }
                    (state, since) = (Some(to), at);
                }
                if let Some(state) = state.filter(|_| end > since) {
                    spans.push(StateSpan { state, from: since, until: end });
                }
                Lane { instance: instance.clone(), label: label.clone(), spans }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: u64) -> Timestamp {
        Timestamp::from_unix_millis(seconds * 1000)
    }

    #[test]
    fn a_lane_covers_the_window_with_one_span_per_state() {
        let members = [
            ("i-1".to_owned(), "primary".to_owned(), Some(InstanceState::Running)),
            ("i-2".to_owned(), "standby".to_owned(), Some(InstanceState::Stopped)),
        ];
        let changes = [
            (at(12), "i-1".to_owned(), InstanceState::Running, InstanceState::Stopping),
            (at(30), "i-1".to_owned(), InstanceState::Stopping, InstanceState::Stopped),
        ];
        let lanes = Run::lanes_from_changes(at(10), at(40), &members, &changes);
        let states: Vec<_> = lanes[0].spans.iter().map(|span| (span.state, span.from, span.until)).collect();
        assert_eq!(
            states,
            [
                (InstanceState::Running, at(10), at(12)),
                (InstanceState::Stopping, at(12), at(30)),
                (InstanceState::Stopped, at(30), at(40)),
            ]
        );
        assert_eq!(
            lanes[1].spans,
            [StateSpan { state: InstanceState::Stopped, from: at(10), until: at(40) }]
        );
    }

    #[test]
    fn a_change_before_the_window_sets_the_state_it_opens_with() {
        let members = [("i-1".to_owned(), "primary".to_owned(), None)];
        let changes = [(at(5), "i-1".to_owned(), InstanceState::Stopped, InstanceState::Pending)];
        let lanes = Run::lanes_from_changes(at(10), at(20), &members, &changes);
        assert_eq!(
            lanes[0].spans,
            [StateSpan { state: InstanceState::Pending, from: at(10), until: at(20) }]
        );
    }
}
