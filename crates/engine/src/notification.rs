//! What a team is told when a run ends: one JSON message per failover, switchover or drill step
//! (group, from, to, the recovery time by phase, why it failed), and the one-line subject that
//! goes with it. Built here from the report; sent by an adapter (SNS), logged by the Lambda.

use serde::Serialize;

use crate::rto::{self, PhaseName};
use crate::{EventKind, Failure, InstanceId, Outcome, Report, Timestamp};

/// What kind of run the message is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunKind {
    /// A failover after an alarm or a watcher's verdict, or `coldstandby failover`.
    Failover,
    /// `coldstandby switchover`: a planned move.
    Switchover,
    /// A drill's failover.
    DrillFailover,
    /// A drill's switchover back.
    DrillSwitchback,
}

impl RunKind {
    fn noun(self) -> &'static str {
        match self {
            Self::Failover => "failover",
            Self::Switchover => "switchover",
            Self::DrillFailover => "drill failover",
            Self::DrillSwitchback => "drill switch-back",
        }
    }
}

/// One run's outcome, as published.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Notification {
    pub kind: RunKind,
    pub group: String,
    /// `failed-over`, `already-active`, `planned` or `failed`.
    pub result: &'static str,
    /// The member moved away from and the one moved to (both for a completed move).
    pub from: Option<InstanceId>,
    pub to: Option<InstanceId>,
    /// Why the run failed, when it did: the reason's name and the sentence.
    pub failure_reason: Option<String>,
    pub failure: Option<String>,
    /// Why it ran (an alarm's name, a command).
    pub trigger: String,
    pub started_at: Timestamp,
    pub finished_at: Timestamp,
    /// Each phase the run completed, in milliseconds (`fence_ms`, `promote_ms`, ...).
    pub rto: serde_json::Map<String, serde_json::Value>,
    /// Trigger to the new member recorded active (None when it was not).
    pub recovery_ms: Option<u64>,
    /// Which program sent it: `coldstandby 0.1.0 (lambda)`.
    pub source: String,
}

impl Notification {
    /// The message for `report`. `source` names the sender.
    pub fn new(kind: RunKind, report: &Report, source: &str) -> Self {
        let trigger = report.events.iter().find_map(|event| match &event.kind {
            EventKind::Started { trigger, .. } => Some(trigger.as_str()),
            _ => None,
        });
        let (result, from, to) = match &report.outcome {
            Outcome::FailedOver { from, to } => ("failed-over", Some(from.clone()), Some(to.clone())),
            Outcome::AlreadyActive { active } => ("already-active", None, Some(active.clone())),
            Outcome::MovedOn { active, .. } => ("moved-on", None, Some(active.clone())),
            Outcome::Planned { .. } => ("planned", None, None),
            Outcome::Failed { .. } => ("failed", None, None),
        };
        let failure = match &report.outcome {
            Outcome::Failed { failure } => Some(failure),
            _ => None,
        };
        let phases = rto::phases(report, report.started_at, None);
        let rto = phases
            .iter()
            .map(|phase| {
                (format!("{}_ms", phase.name.as_str()), serde_json::Value::from(phase.duration_ms()))
            })
            .collect();
        let recorded = phases.iter().any(|phase| phase.name == PhaseName::Record);
        Self {
            kind,
            group: report.group.clone(),
            result,
            from,
            to,
            failure_reason: failure.map(failure_reason),
            failure: failure.map(ToString::to_string),
            trigger: trigger.unwrap_or("unknown").to_owned(),
            started_at: report.started_at,
            finished_at: report.finished_at,
            rto,
            recovery_ms: recorded.then(|| rto::recovery_ms(&phases)),
            source: source.to_owned(),
        }
    }

    /// One line for a notification's subject (SNS allows 100 characters, ASCII).
    pub fn subject(&self) -> String {
        let what = match (self.result, &self.from, &self.to) {
            ("failed-over", Some(from), Some(to)) => {
                let took =
                    self.recovery_ms.map_or(String::new(), |ms| format!(" in {:.1} s", ms as f64 / 1000.0));
                format!("{} {} -> {}{took}", self.kind.noun(), from, to)
            }
            ("already-active", _, Some(active)) => format!("{}: {active} already active", self.kind.noun()),
            ("failed", _, _) => {
                format!(
                    "{} FAILED ({})",
                    self.kind.noun(),
                    self.failure_reason.as_deref().unwrap_or("unknown")
                )
            }
            (result, _, _) => format!("{} {result}", self.kind.noun()),
        };
        let subject = format!("coldstandby {}: {what}", self.group);
        let ascii: String =
            subject.chars().map(|c| if c.is_ascii_graphic() || c == ' ' { c } else { '?' }).collect();
        ascii.chars().take(100).collect()
    }
}

/// The failure's reason as its JSON tag spells it (`fence-not-confirmed`).
fn failure_reason(failure: &Failure) -> String {
    serde_json::to_value(failure)
        .ok()
        .and_then(|value| value["reason"].as_str().map(str::to_owned))
        .unwrap_or_else(|| "unknown".to_owned())
}

/// Whether a run's outcome is news for the team: a move made, or a move that failed. A
/// duplicate delivery finding the group already moved, a run whose failure is history, a dry run,
/// and a run that found another process holding the group's lease are not.
pub fn worth_telling(report: &Report) -> bool {
    match &report.outcome {
        Outcome::FailedOver { .. } => true,
        Outcome::Failed { failure } => !matches!(failure, Failure::LeaseHeld { .. }),
        Outcome::AlreadyActive { .. } | Outcome::MovedOn { .. } | Outcome::Planned { .. } => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Milestones;

    fn at(seconds: u64) -> Timestamp {
        Timestamp::from_unix_millis(1_000_000 + seconds * 1000)
    }

    fn report(outcome: Outcome, milestones: Milestones) -> Report {
        Report {
            group: "web".to_owned(),
            started_at: at(0),
            finished_at: at(30),
            outcome,
            milestones,
            calls: Default::default(),
            events: Vec::new(),
        }
    }

    #[test]
    fn a_completed_failover_names_both_members_and_each_phase() {
        let (from, to): (InstanceId, InstanceId) =
            ("i-0000000a".parse().unwrap(), "i-0000000b".parse().unwrap());
        let milestones = Milestones {
            fence_confirmed_at: Some(at(18)),
            promoted_at: Some(at(28)),
            verified_at: Some(at(28)),
            ready_at: None,
            redirected_at: None,
            recorded_at: Some(at(29)),
        };
        let report = report(Outcome::FailedOver { from: from.clone(), to: to.clone() }, milestones);
        let notification = Notification::new(RunKind::Failover, &report, "coldstandby test");
        assert_eq!((notification.from.clone(), notification.to.clone()), (Some(from), Some(to)));
        assert_eq!(notification.rto["fence_ms"], 18_000);
        assert_eq!(notification.rto["promote_ms"], 10_000);
        assert_eq!(notification.recovery_ms, Some(29_000));
        assert_eq!(notification.subject(), "coldstandby web: failover i-0000000a -> i-0000000b in 29.0 s");
    }

    #[test]
    fn a_failed_run_says_why_in_its_subject_and_body() {
        let failure = Failure::DeadlineExceeded { waiting_for: "i-0000000a to stop".to_owned() };
        let report = report(Outcome::Failed { failure }, Milestones::default());
        let notification = Notification::new(RunKind::DrillFailover, &report, "coldstandby test");
        assert_eq!(notification.failure_reason.as_deref(), Some("deadline-exceeded"));
        assert_eq!(notification.recovery_ms, None);
        assert!(notification.rto.is_empty());
        assert_eq!(notification.subject(), "coldstandby web: drill failover FAILED (deadline-exceeded)");
        let long = Notification { group: "g".repeat(200), ..notification };
        assert_eq!(long.subject().len(), 100, "SNS's limit");
    }
}
