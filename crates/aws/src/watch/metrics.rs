//! The watcher's Prometheus metrics (text format, via `prometheus-client`) and the observer that
//! keeps them and writes one structured log line per decision and run.

use std::collections::HashSet;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use coldstandby_engine::notification::{Notification, RunKind};
use coldstandby_engine::{Event, EventKind, InstanceId, Outcome, Report, Timestamp};
use coldstandby_watch::{Verdict, View, WatchObserver};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabel {
    pub result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CallLabels {
    pub operation: String,
    pub result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PeerLabel {
    pub peer: String,
}

/// Every metric the watcher exports.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    pub probe_seconds: Family<ResultLabel, Histogram>,
    /// `probe_seconds` of passed and failed rounds, looked up once (a round is counted without
    /// a label lookup).
    probe_passed_seconds: Histogram,
    probe_failed_seconds: Histogram,
    pub probe_failures: Counter,
    pub members_down: Gauge,
    pub verdicts: Family<ResultLabel, Counter>,
    pub failovers: Family<ResultLabel, Counter>,
    pub leases_held: Gauge,
    pub calls: Family<CallLabels, Counter>,
    pub groups: Gauge,
    pub groups_needing_attention: Gauge,
    pub peer_up: Family<PeerLabel, Gauge>,
}

fn probe_histogram() -> Histogram {
    // 1 ms to about 2 s: a VPC answer, a slow one, a timeout.
    Histogram::new([0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0])
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("coldstandby");
        let probe_seconds =
            Family::<ResultLabel, Histogram>::new_with_constructor(probe_histogram as fn() -> Histogram);
        registry.register(
            "probe_duration_seconds",
            "Probe rounds by result (passed or failed), in seconds",
            probe_seconds.clone(),
        );
        let probe_failures = Counter::default();
        registry.register("probe_failures", "Probe rounds that failed", probe_failures.clone());
        let members_down = Gauge::default();
        registry.register(
            "members_down",
            "Active members this watcher sees down (M of N rounds failed)",
            members_down.clone(),
        );
        let verdicts = Family::<ResultLabel, Counter>::default();
        registry.register(
            "verdicts",
            "Confirmations by verdict (failed, vetoed, undecided)",
            verdicts.clone(),
        );
        let failovers = Family::<ResultLabel, Counter>::default();
        registry.register("failovers", "Failover runs by outcome", failovers.clone());
        let leases_held = Gauge::default();
        registry.register("leases_held", "Group leases this watcher holds now", leases_held.clone());
        let calls = Family::<CallLabels, Counter>::default();
        registry.register(
            "ec2_calls",
            "AWS calls by operation and result (ok, throttled, error)",
            calls.clone(),
        );
        let groups = Gauge::default();
        registry.register("groups_watched", "Groups this watcher probes", groups.clone());
        let groups_needing_attention = Gauge::default();
        registry.register(
            "groups_needing_attention",
            "Groups whose last describe showed what `status` calls NEEDS ATTENTION (a member other \
             than the active one running, say)",
            groups_needing_attention.clone(),
        );
        let peer_up = Family::<PeerLabel, Gauge>::default();
        registry.register(
            "peer_up",
            "Whether the other watcher answered its last question (1) or not (0)",
            peer_up.clone(),
        );
        let probe_passed_seconds = probe_seconds.get_or_create(&label("passed")).clone();
        let probe_failed_seconds = probe_seconds.get_or_create(&label("failed")).clone();
        Self {
            registry,
            probe_seconds,
            probe_passed_seconds,
            probe_failed_seconds,
            probe_failures,
            members_down,
            verdicts,
            failovers,
            leases_held,
            calls,
            groups,
            groups_needing_attention,
            peer_up,
        }
    }
}

impl Metrics {
    /// The Prometheus text exposition of every metric.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }

    pub fn count_call(&self, operation: &str, result: &str) {
        self.calls
            .get_or_create(&CallLabels { operation: operation.to_owned(), result: result.to_owned() })
            .inc();
    }
}

fn label(result: &str) -> ResultLabel {
    ResultLabel { result: result.to_owned() }
}

/// The watch observer of the daemon: metrics, and a log line per view change, verdict and run.
#[derive(Debug)]
pub struct DaemonObserver<'a> {
    pub metrics: &'a Metrics,
    /// Groups by lease held (a run may hold several).
    held: Mutex<Vec<String>>,
    /// Groups whose active member this watcher sees down.
    down: Mutex<HashSet<String>>,
    /// Groups whose last answer showed something `status` would call NEEDS ATTENTION.
    attention: Mutex<HashSet<String>>,
    /// When the loop last reported anything or was checked: for `/healthz`.
    pub heartbeat: &'a AtomicI64,
    /// Where a run's outcome is published, when the configuration names a topic.
    notifier: Option<crate::notify::Notifier>,
}

impl<'a> DaemonObserver<'a> {
    pub fn new(
        metrics: &'a Metrics,
        heartbeat: &'a AtomicI64,
        notifier: Option<crate::notify::Notifier>,
    ) -> Self {
        Self {
            metrics,
            held: Mutex::new(Vec::new()),
            down: Mutex::new(HashSet::new()),
            attention: Mutex::new(HashSet::new()),
            heartbeat,
            notifier,
        }
    }
}

impl WatchObserver for DaemonObserver<'_> {
    fn on_probe(&self, _group: &str, _member: &InstanceId, passed: bool, latency: Duration, _detail: &str) {
        if passed {
            self.metrics.probe_passed_seconds.observe(latency.as_secs_f64());
        } else {
            self.metrics.probe_failed_seconds.observe(latency.as_secs_f64());
            self.metrics.probe_failures.inc();
        }
    }

    fn on_view(&self, group: &str, member: &InstanceId, view: View, _at: Timestamp) {
        self.set_down(group, view == View::Down);
        tracing::info!(group, member = member.as_str(), view = ?view, "view changed");
    }

    fn on_verdict(&self, group: &str, member: &InstanceId, verdict: &Verdict, _at: Timestamp) {
        let (result, why) = match verdict {
            Verdict::Failed(why) => ("failed", why),
            Verdict::Vetoed(why) => ("vetoed", why),
            Verdict::Undecided(why) => ("undecided", why),
        };
        self.metrics.verdicts.get_or_create(&label(result)).inc();
        tracing::warn!(
            group,
            member = member.as_str(),
            verdict = result,
            reason = why.as_str(),
            "confirmation"
        );
    }

    fn on_describe_failed(&self, error: &coldstandby_engine::ApiError) {
        tracing::warn!(
            code = error.code.as_str(),
            message = error.message.as_str(),
            "DescribeInstances failed"
        );
    }

    fn on_alarm_read_failed(&self, group: &str, error: &coldstandby_engine::ApiError) {
        tracing::warn!(
            group,
            code = error.code.as_str(),
            message = error.message.as_str(),
            "GetMetricData failed"
        );
    }

    fn on_attention(&self, group: &str, findings: &[String], _at: Timestamp) {
        let mut needing = self.attention.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let changed =
            if findings.is_empty() { needing.remove(group) } else { needing.insert(group.to_owned()) };
        if changed {
            self.metrics.groups_needing_attention.set(i64::try_from(needing.len()).unwrap_or(i64::MAX));
        }
        if findings.is_empty() {
            tracing::info!(group, "no longer needs attention");
        } else {
            tracing::warn!(group, findings = findings.join("; "), "NEEDS ATTENTION");
        }
    }

    fn on_run_started(&self, groups: &[String], _at: Timestamp) {
        tracing::warn!(groups = groups.join(","), "failover started");
    }

    fn on_run_event(&self, group: &str, event: &Event) {
        match &event.kind {
            EventKind::LeaseTaken { .. } => {
                let mut held = self.held.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                if !held.iter().any(|name| name == group) {
                    held.push(group.to_owned());
                    self.metrics.leases_held.inc();
                }
            }
            EventKind::StoppedActing { .. } => self.release(group),
            _ => {}
        }
        tracing::info!(group, event = ?event.kind, "failover event");
    }

    fn on_run_finished(&self, group: &str, report: &Report) {
        self.release(group);
        let outcome = match &report.outcome {
            Outcome::FailedOver { .. } => "failed-over",
            Outcome::AlreadyActive { .. } => "already-active",
            Outcome::MovedOn { .. } => "moved-on",
            Outcome::Planned { .. } => "planned",
            Outcome::Failed { .. } => "failed",
        };
        self.metrics.failovers.get_or_create(&label(outcome)).inc();
        // The member seen down is no longer watched: the run moved the group on (or it rests).
        self.set_down(group, false);
        tracing::warn!(group, outcome = %report.outcome, "failover finished");
        self.publish(report);
    }
}

impl DaemonObserver<'_> {
    /// Publish the outcome in the background: the watch loop does not wait on SNS. A publish
    /// that fails is logged.
    fn publish(&self, report: &Report) {
        let Some(notifier) =
            self.notifier.clone().filter(|_| coldstandby_engine::notification::worth_telling(report))
        else {
            return;
        };
        let notification = Notification::new(RunKind::Failover, report, &crate::notify::source("watch"));
        tokio::spawn(async move {
            if let Err(error) = notifier.publish(&notification).await {
                tracing::warn!(group = %notification.group, topic = notifier.topic_arn(), error = %error, "could not publish the outcome");
            }
        });
    }

    fn set_down(&self, group: &str, down: bool) {
        let mut groups = self.down.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let changed = if down { groups.insert(group.to_owned()) } else { groups.remove(group) };
        if changed {
            self.metrics.members_down.set(i64::try_from(groups.len()).unwrap_or(i64::MAX));
        }
    }

    fn release(&self, group: &str) {
        let mut held = self.held.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(at) = held.iter().position(|name| name == group) {
            held.swap_remove(at);
            self.metrics.leases_held.dec();
        }
    }

    /// Mark the loop alive now.
    pub fn beat(&self, now: Timestamp) {
        self.heartbeat.store(i64::try_from(now.unix_millis()).unwrap_or(i64::MAX), Ordering::Relaxed);
    }
}
