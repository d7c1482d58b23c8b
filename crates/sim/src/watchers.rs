//! Watchers on the simulated region: each one the `coldstandby-watch` loop with the region as
//! its provider and clock (its calls recorded as its own), probing services from its own vantage
//! point, and asking the other watchers over a simulated link that a cut, a pause or a crash
//! silences.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use coldstandby_alarm::{AlarmDefinition, Datapoints, MetricSource};
use coldstandby_engine::clients::{Probe, ProbeResult};
use coldstandby_engine::{ApiError, Clock, ErrorKind, Event, InstanceId, Report, Timestamp};
use coldstandby_watch::{
    Board, Control, Directive, Env, MetricReader, Peers, Plan, Prober, Question, Verdict, View,
    WatchObserver, WatchedGroup,
};
use serde::Serialize;

use crate::controller::join_all;
use crate::metrics::CpuMetric;
use crate::region::SimRegion;

/// How long a question to another watcher takes on the VPC network.
const PEER_LATENCY: Duration = Duration::from_millis(2);
/// What "no answer" waits for: longer than any timeout a watcher gives.
const NEVER: Duration = Duration::from_secs(3_600);

/// One simulated watcher and what happens to it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct WatcherSetup {
    pub name: String,
    /// Stop-the-world pauses: (from, until). Nothing runs, nothing answers.
    pub pauses: Vec<(Timestamp, Timestamp)>,
    /// It dies then: its runs abandoned mid-way, its leases left held.
    pub crash_at: Option<Timestamp>,
    /// Links to other watchers cut: (other watcher, from, until).
    pub cut_from: Vec<(String, Timestamp, Timestamp)>,
    /// Test-only: it tells others it sees every member down (a broken second vantage point).
    #[serde(skip)]
    #[doc(hidden)]
    pub lies_for_testing: bool,
}

impl WatcherSetup {
    pub fn new(name: &str) -> Self {
        Self { name: name.to_owned(), ..Self::default() }
    }

    fn paused_until(&self, now: Timestamp) -> Option<Timestamp> {
        self.pauses.iter().find(|(from, until)| now >= *from && now < *until).map(|(_, until)| *until)
    }

    fn alive_at(&self, now: Timestamp) -> bool {
        self.crash_at.is_none_or(|crash| now < crash)
    }

    fn cut_from_at(&self, other: &str, now: Timestamp) -> bool {
        self.cut_from.iter().any(|(name, from, until)| name == other && now >= *from && now < *until)
    }
}

/// What a simulated watcher reports: its verdicts and its runs' reports, for the sweep's
/// summary and the demo's timeline.
#[derive(Debug, Default)]
pub struct Journal {
    pub verdicts: RefCell<Vec<(Timestamp, String, InstanceId, Verdict)>>,
    pub runs_started: RefCell<Vec<(Timestamp, Vec<String>)>>,
    pub reports: RefCell<Vec<(String, Report)>>,
    pub events: RefCell<Vec<(String, Event)>>,
    /// (time, member, view) at each change of view.
    pub views: RefCell<Vec<(Timestamp, InstanceId, View)>>,
    /// (time, group, findings) at each change of what needs attention.
    pub attention: RefCell<Vec<(Timestamp, String, Vec<String>)>>,
}

impl WatchObserver for Journal {
    fn on_view(&self, _group: &str, member: &InstanceId, view: View, at: Timestamp) {
        self.views.borrow_mut().push((at, member.clone(), view));
    }
    fn on_verdict(&self, group: &str, member: &InstanceId, verdict: &Verdict, at: Timestamp) {
        self.verdicts.borrow_mut().push((at, group.to_owned(), member.clone(), verdict.clone()));
    }
    fn on_run_started(&self, groups: &[String], at: Timestamp) {
        self.runs_started.borrow_mut().push((at, groups.to_vec()));
    }
    fn on_run_event(&self, group: &str, event: &Event) {
        self.events.borrow_mut().push((group.to_owned(), event.clone()));
    }
    fn on_run_finished(&self, group: &str, report: &Report) {
        self.reports.borrow_mut().push((group.to_owned(), report.clone()));
    }
    fn on_attention(&self, group: &str, findings: &[String], at: Timestamp) {
        self.attention.borrow_mut().push((at, group.to_owned(), findings.to_vec()));
    }
}

struct SimProber<'a> {
    region: &'a SimRegion,
    vantage: &'a str,
}

impl Prober for SimProber<'_> {
    async fn probe(&self, instance: &InstanceId, _address: &str, probe: &Probe) -> ProbeResult {
        self.region.probe_service(self.vantage, instance, probe, NEVER).await
    }
}

struct SimPeers<'a> {
    region: &'a SimRegion,
    me: &'a WatcherSetup,
    others: Vec<(&'a WatcherSetup, &'a Board)>,
    fresh_for: Duration,
}

impl Peers for SimPeers<'_> {
    fn names(&self) -> Vec<String> {
        self.others.iter().map(|(setup, _)| setup.name.clone()).collect()
    }

    async fn ask(&self, peer: &str, questions: &[Question]) -> Result<Vec<View>, String> {
        let now = self.region.now();
        let Some((setup, board)) = self.others.iter().find(|(setup, _)| setup.name == peer) else {
            return Err(format!("no watcher {peer}"));
        };
        let silent = !setup.alive_at(now)
            || setup.paused_until(now).is_some()
            || self.me.cut_from_at(peer, now)
            || setup.cut_from_at(&self.me.name, now);
        if silent {
            self.region.sleep_until(now + NEVER).await;
            return Err("no answer".to_owned());
        }
        self.region.sleep_until(now + PEER_LATENCY).await;
        if setup.lies_for_testing {
            return Ok(vec![View::Down; questions.len()]);
        }
        Ok(board.answer(questions, now, self.fresh_for))
    }
}

/// The alarms' metrics as the simulated region publishes them: `CPUUtilization` of an instance
/// (the `InstanceId` dimension), aggregated per period by the alarm's statistic.
struct SimMetrics<'a> {
    region: &'a SimRegion,
}

impl MetricReader for SimMetrics<'_> {
    async fn read(
        &self,
        alarm: &AlarmDefinition,
        from: Timestamp,
        until: Timestamp,
    ) -> Result<Datapoints, ApiError> {
        let instance = alarm.dimensions.get("InstanceId").and_then(|id| id.parse::<InstanceId>().ok());
        let (Some(instance), "CPUUtilization") = (instance, alarm.metric_name.as_str()) else {
            let message = format!(
                "the simulated region publishes CPUUtilization by InstanceId only, not {}",
                alarm.metric_name
            );
            return Err(ApiError::new(ErrorKind::Invalid, "InvalidParameterValue", message));
        };
        let metric = CpuMetric { region: self.region, instance, statistic: alarm.statistic };
        let period = alarm.period();
        let step = u64::try_from(period.as_millis()).unwrap_or(60_000).max(1);
        let mut points = Vec::new();
        let mut start = Timestamp::from_unix_millis(from.unix_millis() / step * step);
        while start < until {
            if let Some(value) = metric.datapoint(start, start + period) {
                points.push((start, value));
            }
            start = start + period;
        }
        Ok(Datapoints::new(&points))
    }
}

struct SimControl<'a> {
    setup: &'a WatcherSetup,
    stop_at: Timestamp,
}

impl Control for SimControl<'_> {
    fn check(&mut self, now: Timestamp) -> Directive {
        if let Some(until) = self.setup.paused_until(now) {
            return Directive::Pause(until);
        }
        if now >= self.stop_at {
            return Directive::Stop;
        }
        Directive::Continue
    }
}

/// Run `setups`' watchers on `region` over `groups` until `stop_at` (each then finishes its runs
/// under way), or until it crashes. Each watcher's journal, in order.
pub fn run_watchers(
    region: &SimRegion,
    setups: &[WatcherSetup],
    plan: &Plan,
    groups: &[WatchedGroup],
    stop_at: Timestamp,
) -> Vec<Journal> {
    run_watchers_beside(region, setups, plan, groups, stop_at, Vec::new())
}

/// [`run_watchers`], with `others` (an operator's switchover, say) running on the region at the
/// same time.
pub fn run_watchers_beside<'a>(
    region: &'a SimRegion,
    setups: &'a [WatcherSetup],
    plan: &Plan,
    groups: &[WatchedGroup],
    stop_at: Timestamp,
    others: Vec<Pin<Box<dyn Future<Output = ()> + 'a>>>,
) -> Vec<Journal> {
    let boards: Vec<Board> = setups.iter().map(|_| Board::default()).collect();
    let metrics = SimMetrics { region };
    let journals: Vec<Journal> = setups.iter().map(|_| Journal::default()).collect();
    let fresh_for = plan.settings.interval * 3;
    let providers: Vec<_> = setups.iter().map(|setup| region.controller(&setup.name)).collect();
    let probers: Vec<SimProber<'_>> =
        setups.iter().map(|setup| SimProber { region, vantage: &setup.name }).collect();
    let peers: Vec<SimPeers<'_>> = setups
        .iter()
        .enumerate()
        .map(|(me, setup)| SimPeers {
            region,
            me: setup,
            others: setups
                .iter()
                .zip(&boards)
                .enumerate()
                .filter(|(other, _)| *other != me)
                .map(|(_, pair)| pair)
                .collect(),
            fresh_for,
        })
        .collect();
    let mut controls: Vec<SimControl<'_>> =
        setups.iter().map(|setup| SimControl { setup, stop_at }).collect();
    let mut futures: Vec<Pin<Box<dyn Future<Output = ()> + '_>>> = Vec::new();
    for (index, control) in controls.iter_mut().enumerate() {
        let setup = &setups[index];
        let mut plan = plan.clone();
        if let Some(lease) = &mut plan.lease {
            lease.owner = setup.name.clone();
        }
        let env = Env {
            provider: &providers[index],
            clock: &providers[index],
            prober: &probers[index],
            peers: &peers[index],
            observer: &journals[index],
            board: &boards[index],
            metrics: &metrics,
        };
        let watching = coldstandby_watch::watch(env, plan, groups.to_vec(), control);
        let crash_at = setup.crash_at;
        futures.push(Box::pin(async move {
            match crash_at {
                // A crash drops the loop where it is, requests in flight and leases held.
                Some(at) => {
                    let _ = coldstandby_engine::driver::first_of(watching, region.sleep_until(at)).await;
                }
                None => watching.await,
            }
        }));
    }
    futures.extend(others);
    region.run(join_all(futures));
    drop(controls);
    journals
}
