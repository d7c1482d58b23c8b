//! One watched group: who is active and where to reach it, its probe window, and the phase it is
//! in (locating, watching, confirming a failure, failing over, resting), with the transitions
//! between them.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use coldstandby_engine::clients::Probe;
use coldstandby_engine::status::group_status;
use coldstandby_engine::{
    ApiError, GroupSpec, InstanceId, InstanceState, Observation, Outcome, Report, Role, Timestamp,
};

use coldstandby_alarm::{AlarmDefinition, AlarmEvaluator, AlarmState};

use crate::settings::Settings;
use crate::vantage::{Ec2View, Verdict, View};
use crate::window::ProbeWindow;

/// A group as the watcher is given it: its spec, what to probe on its active member, and the
/// alarm it evaluates itself, if any.
#[derive(Clone, Debug, PartialEq)]
pub struct WatchedGroup {
    pub spec: GroupSpec,
    /// `tcp` and `http` probes; a round passes when all of them pass.
    pub probes: Vec<Probe>,
    /// `[group.alarm]`, evaluated from `GetMetricData` at CloudWatch's cadence.
    pub alarm: Option<AlarmDefinition>,
}

/// The active member and where it is reached.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub instance: InstanceId,
    pub address: String,
}

/// Where a group is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// The active member or its address is not known yet (before the first describe, after a
    /// run): nothing to probe.
    Locating,
    /// Probing the active member.
    Watching,
    /// Its window failed (or EC2 saw it stop): EC2 and the other watchers are being asked.
    Confirming,
    /// A failover run is under way.
    FailingOver,
    /// Not confirmed, or a run did not succeed: probes go on, no new confirmation before then.
    Resting { until: Timestamp },
}

/// One group's watch.
#[derive(Clone, Debug)]
pub struct GroupWatch {
    pub group: WatchedGroup,
    pub target: Option<Target>,
    pub window: ProbeWindow,
    pub phase: Phase,
    /// Bumped when the target changes, so a probe of the previous one is not counted.
    pub generation: u64,
    pub probing: bool,
    /// EC2's last word on the target (None: not described yet).
    pub ec2_state: Option<InstanceState>,
    /// Since when EC2 has not answered for the target (a describe failing or leaving it out).
    pub ec2_silent_since: Option<Timestamp>,
    /// The group's alarm and its state, when it has one.
    pub alarm: Option<AlarmEvaluator>,
    /// What the last full answer showed wrong with the group (a member other than the active one
    /// running, the active one not running, ...), as `status` words it: empty when all is well.
    pub attention: Vec<String>,
    /// `attention` changed with the last answer and is not reported yet.
    attention_changed: bool,
    /// When the last probe round of the target ended.
    last_round_at: Option<Timestamp>,
    /// When the failure the group is to be failed over for was decided (its verdict or alarm):
    /// the evidence's time, whenever the run gets to start.
    pub failure_decided_at: Option<Timestamp>,
}

impl GroupWatch {
    pub fn new(group: WatchedGroup, settings: &Settings) -> Self {
        // CloudWatch starts an alarm without data; the first evaluation decides.
        let alarm = group.alarm.clone().map(|alarm| AlarmEvaluator::new(alarm, AlarmState::InsufficientData));
        Self {
            alarm,
            group,
            target: None,
            window: ProbeWindow::new(settings.window, settings.failures),
            phase: Phase::Locating,
            generation: 0,
            probing: false,
            ec2_state: None,
            ec2_silent_since: None,
            attention: Vec::new(),
            attention_changed: false,
            last_round_at: None,
            failure_decided_at: None,
        }
    }

    /// What needs attention now, once after each change (empty: it no longer does).
    pub fn take_attention_change(&mut self) -> Option<Vec<String>> {
        std::mem::take(&mut self.attention_changed).then(|| self.attention.clone())
    }

    pub fn name(&self) -> &str {
        &self.group.spec.name
    }

    /// This group's members among a describe's answers, indexed by instance (a describe covers
    /// up to 1,000 instances: each group looks up its own instead of scanning them all).
    pub fn own_observations(&self, by_instance: &HashMap<&InstanceId, &Observation>) -> Vec<Observation> {
        let spec = &self.group.spec;
        std::iter::once(&spec.primary)
            .chain(&spec.standbys)
            .filter_map(|member| by_instance.get(member).map(|observation| (*observation).clone()))
            .collect()
    }

    /// A describe of the group's members answered (`mine`: those of its members, as
    /// [`Self::own_observations`] gives them): learn the active member and its address, and
    /// EC2's view of it.
    /// `unanswered`: members whose zone's describe failed. While any member is unanswered, who
    /// is active cannot be read from the tags (an unanswered member may hold the newer record):
    /// the target changes only to an answered member recorded active and running (the one
    /// promoted during an outage), and silence counts only when the target's own zone failed.
    pub fn located(
        &mut self,
        mine: &[Observation],
        unanswered: &BTreeMap<InstanceId, ApiError>,
        now: Timestamp,
    ) {
        debug_assert!(mine.iter().all(|observation| self.group.spec.contains(&observation.instance)));
        if self.group.spec.members().iter().any(|member| unanswered.contains_key(member)) {
            self.located_in_part(mine, unanswered, now);
            return;
        }
        let status = group_status(&self.group.spec, mine);
        if status.warnings != self.attention {
            self.attention = status.warnings.clone();
            self.attention_changed = true;
        }
        let Some(active) = status.active else { return };
        self.locate_at(active, mine, now);
    }

    /// [`Self::located`] while some members' zones do not answer.
    fn located_in_part(
        &mut self,
        mine: &[Observation],
        unanswered: &BTreeMap<InstanceId, ApiError>,
        now: Timestamp,
    ) {
        let serving = mine.iter().find(|observation| {
            Role::recorded_in(&observation.tags) == Some(Role::Active)
                && observation.state == InstanceState::Running
        });
        if let Some(serving) = serving {
            let instance = serving.instance.clone();
            self.locate_at(instance, mine, now);
            return;
        }
        let Some(target) = self.target.as_ref() else { return };
        match mine.iter().find(|observation| observation.instance == target.instance) {
            Some(observation) => {
                self.ec2_silent_since = None;
                self.ec2_state = Some(observation.state);
            }
            None if unanswered.contains_key(&target.instance) => {
                self.ec2_silent_since.get_or_insert(now);
            }
            None => {}
        }
    }

    /// Watch `active`, as `mine` shows it.
    fn locate_at(&mut self, active: InstanceId, mine: &[Observation], now: Timestamp) {
        let Some(observation) = mine.iter().find(|observation| observation.instance == active) else {
            self.ec2_silent_since.get_or_insert(now);
            return;
        };
        self.ec2_silent_since = None;
        self.ec2_state = Some(observation.state);
        let address = observation.private_ip.clone();
        let changed = self.target.as_ref().map(|target| &target.instance) != Some(&active);
        if changed {
            self.generation += 1;
            self.window.clear();
            self.target = address.map(|address| Target { instance: active, address });
        }
        if self.phase == Phase::Locating && self.target.is_some() {
            self.phase = Phase::Watching;
        }
    }

    /// A describe failed, or its answer left the target out.
    pub fn unanswered(&mut self, now: Timestamp) {
        self.ec2_silent_since.get_or_insert(now);
    }

    /// A probe round of generation `generation` ended at `now`: whether it counted (the target is
    /// the same) and, if the view changed, the new view. Rounds before a gap longer than
    /// [`Settings::round_gap_limit`] are forgotten first: they are history, not the last N.
    pub fn probed(
        &mut self,
        generation: u64,
        passed: bool,
        now: Timestamp,
        settings: &Settings,
    ) -> Option<View> {
        self.probing = false;
        if generation != self.generation {
            return None;
        }
        let before = self.window.view();
        if !self.rounds_are_current(now, settings) {
            self.window.clear();
        }
        self.window.record(passed);
        self.last_round_at = Some(now);
        let after = self.window.view();
        (after != before).then_some(after)
    }

    /// Whether the window's last round is recent enough to speak for now.
    pub fn rounds_are_current(&self, now: Timestamp, settings: &Settings) -> bool {
        self.last_round_at.is_some_and(|at| now.saturating_since(at) <= settings.round_gap_limit())
    }

    /// Whether this watcher sees the target failed: M of N rounds, or EC2 reports it stopped.
    fn sees_failed(&self) -> bool {
        self.window.has_failed() || self.ec2_state.is_some_and(stopped_by_ec2)
    }

    /// Whether it is time to ask EC2 and the other watchers about the target.
    pub fn wants_confirmation(&self, now: Timestamp) -> bool {
        let ready = match self.phase {
            Phase::Watching => true,
            Phase::Resting { until } => now >= until,
            Phase::Locating | Phase::Confirming | Phase::FailingOver => false,
        };
        ready && self.target.is_some() && self.sees_failed()
    }

    /// Whether a probe round may start now (during a run too: a member that answers again
    /// before the run takes its lease drops the run).
    pub fn wants_probe(&self) -> bool {
        !self.probing && self.target.is_some() && self.phase != Phase::Locating
    }

    /// EC2's view for the confirmation, from a describe's answer (None: it failed).
    pub fn ec2_view(&mut self, observations: Option<&[Observation]>, now: Timestamp) -> Ec2View {
        let target = self.target.as_ref().map(|target| target.instance.clone());
        let seen = observations
            .and_then(|observations| observations.iter().find(|o| Some(&o.instance) == target.as_ref()));
        match seen {
            Some(observation) => {
                self.ec2_silent_since = None;
                self.ec2_state = Some(observation.state);
                match observation.state {
                    InstanceState::Running => Ec2View::Running,
                    state => Ec2View::NotRunning(state),
                }
            }
            None => {
                let since = *self.ec2_silent_since.get_or_insert(now);
                Ec2View::Unanswered(now.saturating_since(since))
            }
        }
    }

    /// Whether the watcher may fail this group over on a failed verdict: from the primary, or
    /// from any member EC2 reports not running (a running standby that stops answering is kept:
    /// failover moves away from the primary; `switchover` moves back).
    pub fn may_fail_over(&self, ec2: Ec2View) -> bool {
        let from_primary =
            self.target.as_ref().is_some_and(|target| target.instance == self.group.spec.primary);
        from_primary || matches!(ec2, Ec2View::NotRunning(state) if stopped_by_ec2(state))
    }

    /// The confirmation's verdict: fail over, or rest and ask again later.
    pub fn decided(&mut self, verdict: &Verdict, may_fail_over: bool, now: Timestamp, settings: &Settings) {
        if matches!(verdict, Verdict::Failed(_)) && may_fail_over {
            self.failure_decided_at = Some(now);
        }
        self.phase = match verdict {
            Verdict::Failed(_) if may_fail_over => Phase::FailingOver,
            Verdict::Failed(_) => Phase::Resting { until: now + settings.retry_after },
            Verdict::Vetoed(_) | Verdict::Undecided(_) => {
                Phase::Resting { until: now + rest_after_doubt(settings) }
            }
        };
    }

    /// The run this watcher made for the group ended: locate the active member again (it moved
    /// if the run succeeded); after a run that did not succeed, wait before trying again.
    pub fn run_ended(&mut self, report: &Report, now: Timestamp, settings: &Settings) {
        self.target = None;
        self.ec2_state = None;
        self.window.clear();
        self.generation += 1;
        self.phase = match report.outcome {
            Outcome::Failed { .. } => Phase::Resting { until: now + settings.retry_after },
            _ => Phase::Locating,
        };
    }

    /// The group's alarm went to ALARM: fail over at once (from the primary; the metric is
    /// CloudWatch's own vantage point), unless a run is already under way.
    pub fn alarmed(&mut self, now: Timestamp, settings: &Settings) -> bool {
        let from_primary =
            self.target.as_ref().is_some_and(|target| target.instance == self.group.spec.primary);
        if self.phase == Phase::FailingOver || self.target.is_none() {
            return false;
        }
        if from_primary {
            self.failure_decided_at = Some(now);
        }
        self.phase = if from_primary {
            Phase::FailingOver
        } else {
            Phase::Resting { until: now + settings.retry_after }
        };
        from_primary
    }

    /// A resting group with no target learns it at the next describe.
    pub fn needs_target(&self) -> bool {
        self.target.is_none() && self.phase != Phase::FailingOver
    }
}

/// After a vetoed or undecided confirmation: as long as the window takes to fill again.
fn rest_after_doubt(settings: &Settings) -> Duration {
    settings.interval * settings.window
}

/// A state EC2 reports that means the instance does not serve, whatever the probes say (not
/// `pending`: a member being started is on its way).
pub fn stopped_by_ec2(state: InstanceState) -> bool {
    !matches!(state, InstanceState::Running | InstanceState::Pending)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn watch() -> GroupWatch {
        let id = |text: &str| text.parse::<InstanceId>().unwrap_or_else(|_| unreachable!());
        let spec = GroupSpec::new("web", id("i-0000000000000000a"), vec![id("i-0000000000000000b")]);
        GroupWatch::new(WatchedGroup { spec, probes: Vec::new(), alarm: None }, &Settings::default())
    }

    /// A paused watcher's rounds from before the pause are history: a round after it starts the
    /// window over, so the old failures and one new one do not add up to M of N.
    #[test]
    fn rounds_before_a_gap_are_forgotten() {
        let settings = Settings::default();
        let start = Timestamp::from_unix_millis(1_800_000_000_000);
        let mut group = watch();
        group.probed(0, false, start, &settings);
        group.probed(0, false, start + settings.interval, &settings);
        assert!(group.window.has_failed(), "two failed rounds of three, in a row");
        let after_pause = start + Duration::from_secs(30);
        assert!(!group.rounds_are_current(after_pause, &settings));
        group.probed(0, false, after_pause, &settings);
        assert_eq!(group.window.failed_rounds(), 1, "the rounds before the pause were dropped");
        assert!(!group.window.has_failed());
        assert!(group.rounds_are_current(after_pause, &settings));
    }
}
