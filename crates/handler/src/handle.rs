//! Handling one alarm event: find the groups that list the alarm, act only on a transition into
//! ALARM (or INSUFFICIENT_DATA for groups that opt in) that the alarm still shows, check the
//! event watches the group's primary, recognise duplicate deliveries and events older than the
//! group's last activation, and run the failover within the caller's deadline.

use coldstandby_config::{Config, GroupConfig};
use coldstandby_engine::driver::{self, Observer};
use coldstandby_engine::fleet::{Fleet, Zones};
use coldstandby_engine::lock::{GroupBusy, GroupLock, InProcessLocks};
use coldstandby_engine::tags::{recorded_trigger, trigger_tag_value, Role, ACTIVATED_AT_TAG, TRIGGER_TAG};
use coldstandby_engine::{
    ApiError, Clock, Evidence, Failover, Failure, InstanceId, Observation, Options, Outcome, Provider,
    Report, Retry, Timestamp,
};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

use crate::event::{self, AlarmEvent, MalformedEvent};
use crate::preflight;
use crate::storm::{self, AlarmReading, AlarmStates, NoAlarmStates};
use crate::AlarmState;

/// Time kept back from the caller's deadline (a Lambda invocation's), so the failover stops,
/// rolls back, reports and returns before the invocation is cut off.
pub use coldstandby_engine::budget::DEADLINE_MARGIN;

/// What happened to one group.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "result", rename_all = "kebab-case")]
pub enum GroupResult {
    /// The failover ran (its outcome says whether anything changed).
    Ran { group: String, outcome: Outcome, report: Box<Report> },
    /// This state change was already handled: a member carries its trigger tag.
    Duplicate { group: String, handled_by: InstanceId },
    /// A group the storm added (its alarm fires too) that another process holds and is failing
    /// over: nothing for this invocation to do about it.
    HeldElsewhere { group: String, owner: String },
    /// The alarm's state change is older than the activation of the member now recorded active
    /// (a delayed or retried delivery, from before a failover or a switchback): it tells of
    /// the member before, not of this one. Nothing is done.
    History { group: String, active: InstanceId, activated_at: Timestamp, evidence_at: Timestamp },
}

/// What the handler decided for the event as a whole.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "decision", rename_all = "kebab-case")]
pub enum Handled {
    /// No group lists the alarm.
    NoGroup { alarm: String },
    /// The state change is not one that fails over.
    Ignored { alarm: String, state: AlarmState, reason: String },
    /// Each listed group, handled.
    Acted { alarm: String, state: AlarmState, trigger: String, groups: Vec<GroupResult> },
}

impl Handled {
    /// The report of every failover this handling ran.
    pub fn reports(&self) -> Vec<&Report> {
        match self {
            Self::Acted { groups, .. } => groups.iter().filter_map(GroupResult::report).collect(),
            Self::NoGroup { .. } | Self::Ignored { .. } => Vec::new(),
        }
    }
}

/// The report of every failover a handling ran, whether it ended well or in an error.
pub fn reports(handled: &Result<Handled, HandlerError>) -> Vec<&Report> {
    match handled {
        Ok(handled) => handled.reports(),
        Err(error) => error.reports(),
    }
}

impl GroupResult {
    fn report(&self) -> Option<&Report> {
        match self {
            Self::Ran { report, .. } => Some(report),
            Self::Duplicate { .. } | Self::HeldElsewhere { .. } | Self::History { .. } => None,
        }
    }
}

/// Why the handler did not (fully) act. Every variant leaves the instances as they were, except
/// `FailoverFailed`, whose report says what was done.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    #[error(transparent)]
    MalformedEvent(#[from] MalformedEvent),
    #[error(
        "alarm `{alarm}` watches {watched}, but group `{group}`'s primary is {primary}: refusing to act (fix the config or the alarm)"
    )]
    DimensionMismatch { alarm: String, group: String, primary: InstanceId, watched: String },
    #[error(
        "group `{group}`: {} not found by DescribeInstances; nothing was changed (check the config)",
        list(missing)
    )]
    UnknownInstances { group: String, missing: Vec<InstanceId> },
    #[error("group `{group}`: could not describe its instances: {error}; nothing was changed")]
    Describe { group: String, error: ApiError },
    #[error(transparent)]
    Busy(#[from] GroupBusy),
    #[error("group `{group}`: {}", report.outcome)]
    FailoverFailed { group: String, report: Box<Report> },
    /// The alarm fails several groups over and some failed: every group was still handled.
    #[error("{} of {} groups failed: {}", failed.len(), failed.len() + done.len(), list_errors(failed))]
    GroupsFailed { done: Vec<GroupResult>, failed: Vec<HandlerError> },
}

fn list_errors(errors: &[HandlerError]) -> String {
    errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
}

impl HandlerError {
    /// The report of every failover that ran before (or as) this error.
    pub fn reports(&self) -> Vec<&Report> {
        match self {
            Self::FailoverFailed { report, .. } => vec![report],
            Self::GroupsFailed { done, failed } => done
                .iter()
                .filter_map(GroupResult::report)
                .chain(failed.iter().flat_map(HandlerError::reports))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Whether handling the same event again later can succeed. Lambda retries every function
    /// error, so the function answers a permanent one as a refusal instead (see the Lambda
    /// entry point): retrying it would only repeat the same refusal.
    pub fn retry(&self) -> Retry {
        match self {
            Self::MalformedEvent(_) | Self::DimensionMismatch { .. } | Self::UnknownInstances { .. } => {
                Retry::Permanent
            }
            Self::Describe { error, .. } if error.kind.is_permanent() => Retry::Permanent,
            Self::Describe { .. } | Self::Busy(_) => Retry::Transient,
            Self::FailoverFailed { report, .. } => match &report.outcome {
                Outcome::Failed { failure } => failure.retry(),
                _ => Retry::Transient,
            },
            Self::GroupsFailed { failed, .. } => {
                if failed.iter().any(|error| error.retry() == Retry::Transient) {
                    Retry::Transient
                } else {
                    Retry::Permanent
                }
            }
        }
    }

    /// The error's name as Lambda reports it (`errorType`, and so the on-failure record): one per
    /// variant, stable, so alerting can match on it.
    pub fn error_type(&self) -> &'static str {
        match self {
            Self::MalformedEvent(_) => "ColdStandby.MalformedEvent",
            Self::DimensionMismatch { .. } => "ColdStandby.DimensionMismatch",
            Self::UnknownInstances { .. } => "ColdStandby.UnknownInstances",
            Self::Describe { .. } => "ColdStandby.DescribeFailed",
            Self::Busy(_) => "ColdStandby.GroupBusy",
            Self::FailoverFailed { report, .. }
                if matches!(&report.outcome, Outcome::Failed { failure: Failure::LeaseHeld { .. } }) =>
            {
                "ColdStandby.GroupBusy"
            }
            Self::FailoverFailed { .. } => "ColdStandby.FailoverFailed",
            Self::GroupsFailed { .. } => "ColdStandby.GroupsFailed",
        }
    }
}

fn list(instances: &[InstanceId]) -> String {
    instances.iter().map(InstanceId::as_str).collect::<Vec<_>>().join(", ")
}

/// The handler's collaborators, built once (per Lambda cold start, or per command).
#[derive(Debug)]
pub struct Handler<'a, P, C, A = NoAlarmStates> {
    pub config: &'a Config,
    pub provider: &'a P,
    pub clock: &'a C,
    pub locks: &'a InProcessLocks,
    /// This process as other processes see it in a group's lease (with `[lease]` configured).
    pub owner: &'a str,
    /// Where the other alarms' states are read (`check_every_alarm`).
    pub alarms: &'a A,
}

/// A group to fail over in this run, and why.
struct Acting<'c> {
    group: &'c GroupConfig,
    trigger: String,
    /// When the alarm entered the state that triggers this run, when known.
    evidence_at: Option<Timestamp>,
    /// Added because its alarm fires too, not by this event.
    from_storm: bool,
}

impl<P: Provider, C: Clock, A: AlarmStates> Handler<'_, P, C, A> {
    /// Handle one alarm event. `deadline` is when the caller must have returned (e.g. the Lambda
    /// invocation's); the failover stops `DEADLINE_MARGIN` earlier.
    pub async fn handle(
        &self,
        event: &Value,
        deadline: Option<Timestamp>,
        observer: &mut impl Observer,
    ) -> Result<Handled, HandlerError> {
        let event = event::parse(event)?;
        let alarm = event.alarm_name.clone();
        let groups = self.config.groups_for_alarm(event.alarm_arn.as_deref().unwrap_or(&alarm));
        if groups.is_empty() {
            tracing::info!(alarm = %alarm, state = event.state.as_str(), "no group lists this alarm; nothing to do");
            return Ok(Handled::NoGroup { alarm });
        }
        let acts = |group: &GroupConfig| match event.state {
            AlarmState::Alarm => true,
            AlarmState::InsufficientData => group.fail_over_on_insufficient_data,
            AlarmState::Ok => false,
        };
        let acting: Vec<&GroupConfig> = groups.into_iter().filter(|group| acts(group)).collect();
        if acting.is_empty() {
            let reason = match event.state {
                AlarmState::InsufficientData => {
                    "INSUFFICIENT_DATA fails over only groups with fail_over_on_insufficient_data = true"
                        .to_owned()
                }
                _ => format!("only a transition into ALARM fails over, not {}", event.state.as_str()),
            };
            tracing::info!(alarm = %alarm, state = event.state.as_str(), reason = %reason, "ignored");
            return Ok(Handled::Ignored { alarm, state: event.state, reason });
        }
        // Check every group before acting on any, so a misconfigured one stops them all.
        for group in &acting {
            check_dimension(&event, group)?;
        }
        let trigger = event.trigger();
        // The alarms as they are now: the event's, and with `check_every_alarm` every listed one.
        let names = if self.config.check_every_alarm {
            storm::listed_alarms(self.config)
        } else {
            vec![alarm.clone()]
        };
        let readings = match storm::read_states(self.alarms, &names).await {
            Ok(readings) => Some(readings),
            Err(error) => {
                tracing::warn!(error = %error, "could not read the alarms' current states; acting on the event as delivered, and only on its groups");
                None
            }
        };
        if let Some(reason) = readings.as_ref().and_then(|readings| outdated(&event, readings.get(&alarm))) {
            tracing::info!(alarm = %alarm, state = event.state.as_str(), reason = %reason, "ignored");
            return Ok(Handled::Ignored { alarm, state: event.state, reason });
        }
        let mut runs: Vec<Acting<'_>> = acting
            .iter()
            .map(|group| Acting {
                group,
                trigger: trigger.clone(),
                evidence_at: Some(event.state_changed_at),
                from_storm: false,
            })
            .collect();
        if let (true, Some(readings)) = (self.config.check_every_alarm, &readings) {
            runs.extend(self.storm(&acting, &trigger, readings));
        }
        // Every group, all in one run: one that fails does not keep the others from failing over.
        let (done, mut failed) = self.run_groups(runs, deadline, observer).await;
        if failed.is_empty() {
            return Ok(Handled::Acted { alarm, state: event.state, trigger, groups: done });
        }
        if failed.len() == 1 && done.is_empty() {
            return Err(failed.remove(0));
        }
        Err(HandlerError::GroupsFailed { done, failed })
    }

    /// The other groups whose alarms are firing now, as `readings` (every listed alarm, read in
    /// one DescribeAlarms per 100 alarms) show them.
    fn storm(
        &self,
        acting: &[&GroupConfig],
        trigger: &str,
        readings: &BTreeMap<String, AlarmReading>,
    ) -> Vec<Acting<'_>> {
        storm::storm_groups(self.config, acting, readings)
            .into_iter()
            .map(|(group, alarm, since)| {
                tracing::info!(group = %group.spec.name, alarm = %alarm, "its alarm is firing too: failed over in the same run");
                let trigger = format!("{alarm} firing (read while handling {trigger})");
                Acting { group, trigger, evidence_at: since, from_storm: true }
            })
            .collect()
    }

    /// Lock, check and fail over `runs` together: one preflight for all, one fleet run.
    #[expect(
        clippy::too_many_lines,
        reason = "the event's groups through preflight, lock, leases and one fleet run; split when next touched"
    )]
    async fn run_groups(
        &self,
        runs: Vec<Acting<'_>>,
        deadline: Option<Timestamp>,
        observer: &mut impl Observer,
    ) -> (Vec<GroupResult>, Vec<HandlerError>) {
        let (mut done, mut failed) = (Vec::new(), Vec::new());
        let mut guards = Vec::new();
        let mut locked = Vec::new();
        for run in runs {
            match self.locks.try_lock(&run.group.spec.name) {
                Ok(guard) => {
                    guards.push(guard);
                    locked.push(run);
                }
                Err(busy) => failed.push(HandlerError::Busy(busy)),
            }
        }
        let members: Vec<InstanceId> = locked.iter().flat_map(|run| run.group.spec.members()).collect();
        let placements = locked
            .iter()
            .flat_map(|run| run.group.spec.placement.iter())
            .map(|(member, placement)| (member.clone(), placement.zone.clone()))
            .collect();
        let (observations, unanswered) =
            preflight::describe(self.provider, self.clock, &members, &placements).await;
        let mut failovers = Vec::new();
        let storm_added: Vec<String> =
            locked.iter().filter(|run| run.from_storm).map(|run| run.group.spec.name.clone()).collect();
        let now = self.clock.now();
        // The runs stop `DEADLINE_MARGIN` before the caller must have returned.
        let run_deadline = deadline.map(|at| {
            Timestamp::from_unix_millis(at.unix_millis().saturating_sub(DEADLINE_MARGIN.as_millis() as u64))
        });
        for (index, run) in locked.into_iter().enumerate() {
            let name = run.group.spec.name.clone();
            let mine = match preflight::check_group(run.group, &observations, &unanswered) {
                Ok(mine) => mine,
                Err(error) => {
                    failed.push(error);
                    continue;
                }
            };
            let tag = trigger_tag_value(&run.trigger);
            let handled_by = mine
                .iter()
                .find(|o| o.tags.get(TRIGGER_TAG).is_some_and(|value| recorded_trigger(value).0 == tag));
            if let Some(handled_by) = handled_by {
                tracing::info!(group = %name, trigger = %run.trigger, instance = %handled_by.instance, "duplicate delivery of a handled alarm event; nothing to do");
                done.push(GroupResult::Duplicate { group: name, handled_by: handled_by.instance.clone() });
                continue;
            }
            if let Some((active, activated_at)) = run.evidence_at.and_then(|at| activated_after(&mine, at)) {
                let evidence_at = run.evidence_at.expect("checked above");
                tracing::info!(group = %name, trigger = %run.trigger, active = %active, %activated_at, %evidence_at, "the alarm changed state before the active member was activated: history, nothing to do");
                done.push(GroupResult::History { group: name, active, activated_at, evidence_at });
                continue;
            }
            // The engine checks the evidence again once it holds the lease: a switchback may
            // have finished while this run waited for it.
            let evidence = run.evidence_at.map(|at| Evidence { member: None, at, fresh_for: None });
            let options = Options {
                trigger: run.trigger,
                evidence,
                deadline: run_deadline,
                seed: now.unix_millis().wrapping_add(index as u64),
                ..Options::default()
            };
            failovers.push(Failover::new(run.group.spec.clone(), options, now));
        }
        if failovers.is_empty() {
            return (done, failed);
        }
        let mut zones = Zones::default();
        zones.learn(&observations);
        let mut fleet = Fleet::new(failovers, zones, now);
        if let Some(lease) = &self.config.lease {
            fleet = fleet.with_leases(&lease.settings(self.owner), now);
        }
        for report in driver::run_fleet(fleet, self.provider, self.clock, observer).await {
            let (name, outcome) = (report.group.clone(), report.outcome.clone());
            tracing::info!(group = %name, outcome = %outcome, "failover finished");
            if outcome.is_success() {
                done.push(GroupResult::Ran { group: name, outcome, report: Box::new(report) });
            } else if let (true, Outcome::Failed { failure: Failure::LeaseHeld { owner, .. } }) =
                (storm_added.contains(&name), &outcome)
            {
                done.push(GroupResult::HeldElsewhere { group: name, owner: owner.clone() });
            } else {
                failed.push(HandlerError::FailoverFailed { group: name, report: Box::new(report) });
            }
        }
        drop(guards);
        (done, failed)
    }
}

/// Why the event is no longer news, if the alarm's current `reading` says so: it left the
/// event's state, or entered it again later (a newer state change, with its own event). An
/// alarm the answer does not hold (deleted, or named by ARN) is left to the event.
fn outdated(event: &AlarmEvent, reading: Option<&AlarmReading>) -> Option<String> {
    let reading = reading?;
    if reading.state != event.state {
        return Some(format!(
            "the alarm is {} now: this event's change to {} (at {}) is over",
            reading.state.as_str(),
            event.state.as_str(),
            event.state_timestamp
        ));
    }
    let since = reading.since.filter(|since| *since > event.state_changed_at)?;
    Some(format!(
        "the alarm entered {} again at {}: this event (its change at {}) is an older one",
        event.state.as_str(),
        coldstandby_alarm::timestamp::format(since),
        event.state_timestamp
    ))
}

/// The member the answers record active and its activation time, when it was activated after
/// `evidence_at`: evidence from before is about the member before it.
fn activated_after(members: &[Observation], evidence_at: Timestamp) -> Option<(InstanceId, Timestamp)> {
    members.iter().find_map(|member| {
        if Role::recorded_in(&member.tags) != Some(Role::Active) {
            return None;
        }
        let activated_at = member.tags.get(ACTIVATED_AT_TAG)?.parse::<u64>().ok()?;
        let activated_at = Timestamp::from_unix_millis(activated_at);
        (activated_at > evidence_at).then(|| (member.instance.clone(), activated_at))
    })
}

/// A metric alarm's InstanceId dimension must be the group's primary.
fn check_dimension(event: &AlarmEvent, group: &GroupConfig) -> Result<(), HandlerError> {
    if event.instance_ids.is_empty() || event.instance_ids.iter().any(|id| id == group.spec.primary.as_str())
    {
        return Ok(());
    }
    Err(HandlerError::DimensionMismatch {
        alarm: event.alarm_name.clone(),
        group: group.spec.name.clone(),
        primary: group.spec.primary.clone(),
        watched: event.instance_ids.join(", "),
    })
}
