//! `coldstandby watch`, the daemon: the watcher loop of `coldstandby-watch` on tokio, with EC2
//! through the SDK, TCP and HTTP probes, the other watchers over HTTP, Prometheus metrics,
//! `/healthz` and `/readyz`, SIGTERM (stop probing, finish the failovers under way, release
//! their leases, exit) and SIGHUP (reload the groups; an invalid file keeps the old ones).

mod call_counter;
mod http;
mod metric_data;
mod metrics;
pub mod open_files;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use coldstandby_config::Config;
use coldstandby_engine::call_hooks::Hooked;
use coldstandby_engine::clients::{Probe, ProbeResult};
use coldstandby_engine::fleet::Zones;
use coldstandby_engine::{millis, InstanceId, Timestamp};
use coldstandby_watch::{Board, Control, Directive, Env, Plan, Prober, WatchedGroup};

use self::call_counter::CallCounter;
use self::http::HttpPeers;
pub use self::metric_data::CloudWatchMetrics;
pub use self::metrics::{DaemonObserver, Metrics};
use crate::{Ec2Provider, SystemClock};

/// Why the daemon could not run.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("{0}")]
    Config(#[from] coldstandby_config::ConfigError),
    #[error("{0}")]
    NotWatchable(String),
    #[error("listening on {address}: {source}")]
    Listen { address: std::net::SocketAddr, source: std::io::Error },
    #[error("starting the async runtime: {0}")]
    Runtime(std::io::Error),
}

/// How the daemon is started.
#[derive(Clone, Debug)]
pub struct DaemonOptions {
    pub config_path: PathBuf,
    /// This watcher's name in leases and logs (its host name, by default).
    pub name: String,
}

/// What the loop, the HTTP server and the signal handlers share.
#[derive(Debug)]
pub struct Shared {
    pub metrics: Metrics,
    pub board: Board,
    /// The loop's last step (Unix ms), for `/healthz`.
    pub heartbeat: AtomicI64,
    /// A view older than this is unknown to the other watchers.
    pub fresh_for: Duration,
    /// When DescribeInstances last answered and last failed (Unix ms), for `/readyz`.
    pub described_ok_at: AtomicI64,
    pub described_failed_at: AtomicI64,
    stop: AtomicBool,
    reload: Mutex<Option<Vec<WatchedGroup>>>,
    peers: Vec<String>,
}

impl Shared {
    /// Whether the watcher can act (its last describe answered, its loop steps), and notes.
    pub fn readiness(&self) -> (bool, Vec<String>) {
        let mut notes = Vec::new();
        let ok_at = self.described_ok_at.load(Ordering::Relaxed);
        let failed_at = self.described_failed_at.load(Ordering::Relaxed);
        if ok_at == 0 && failed_at == 0 {
            notes.push("EC2 has not answered a describe yet".to_owned());
        } else if ok_at == 0 {
            notes.push("every DescribeInstances has failed so far (the logs say why)".to_owned());
        } else if failed_at > ok_at {
            notes.push("the last DescribeInstances failed".to_owned());
        }
        let ready = notes.is_empty();
        for peer in &self.peers {
            let up = self.metrics.peer_up.get_or_create(&metrics::PeerLabel { peer: peer.clone() }).get();
            if up == 0 {
                notes.push(format!(
                    "watcher {peer} did not answer its last question: a member that stops answering while EC2 reports it running is not failed over until it does"
                ));
            }
        }
        (ready, notes)
    }
}

/// The groups a configuration gives the watcher: each probed with its `tcp` and `http`
/// readiness checks. A group without one cannot be watched.
pub fn watched_groups(config: &Config) -> Result<Vec<WatchedGroup>, String> {
    let mut groups = Vec::new();
    let mut unwatchable = Vec::new();
    for group in &config.groups {
        let probes: Vec<Probe> = group
            .spec
            .readiness
            .iter()
            .map(|check| check.probe.clone())
            .filter(Probe::needs_network_path)
            .collect();
        if probes.is_empty() {
            unwatchable.push(group.spec.name.clone());
        }
        groups.push(WatchedGroup { spec: group.spec.clone(), probes, alarm: group.alarm.clone() });
    }
    if !unwatchable.is_empty() {
        let (noun, verb) = if unwatchable.len() == 1 { ("group", "has") } else { ("groups", "have") };
        return Err(format!(
            "{noun} {} {verb} no `tcp` or `http` readiness check for the watcher to probe (add a [[group.readiness]] table)",
            unwatchable.join(", ")
        ));
    }
    if config.watch.peers.is_empty() {
        return Ok(groups);
    }
    if config.lease.is_none() {
        return Err(
            "[watch] names other watchers, so [lease] is required: two watchers act on a group only under its lease"
                .to_owned(),
        );
    }
    Ok(groups)
}

/// Load and check `path` for the watcher.
pub fn load(path: &Path) -> Result<(Config, Vec<WatchedGroup>), DaemonError> {
    let config = coldstandby_config::load(path)?;
    let groups = watched_groups(&config)
        .map_err(|message| DaemonError::NotWatchable(format!("{}: {message}", path.display())))?;
    Ok((config, groups))
}

/// TCP and HTTP probes from this host.
#[derive(Debug)]
pub struct NetworkProber;

impl Prober for NetworkProber {
    async fn probe(&self, instance: &InstanceId, address: &str, probe: &Probe) -> ProbeResult {
        match crate::clients::probe_network(instance, address, probe).await {
            Some(result) => result,
            None => ProbeResult { passed: false, detail: format!("{probe} is not a network probe") },
        }
    }
}

struct DaemonControl<'a> {
    shared: &'a Shared,
    observer: &'a DaemonObserver<'a>,
    stopping: bool,
}

impl Control for DaemonControl<'_> {
    fn check(&mut self, now: Timestamp) -> Directive {
        self.observer.beat(now);
        if self.shared.stop.load(Ordering::Relaxed) {
            if !self.stopping {
                self.stopping = true;
                tracing::warn!("stopping: no more probes; finishing the failovers under way");
            }
            return Directive::Stop;
        }
        let pending = self.shared.reload.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
        match pending {
            Some(groups) => {
                self.shared.metrics.groups.set(i64::try_from(groups.len()).unwrap_or(i64::MAX));
                Directive::Reload(groups)
            }
            None => Directive::Continue,
        }
    }
}

/// Watch the groups of `options.config_path` until SIGTERM or SIGINT.
pub fn run(options: &DaemonOptions) -> Result<(), DaemonError> {
    let (config, groups) = load(&options.config_path)?;
    open_files::raise_and_log(&groups);
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(DaemonError::Runtime)?;
    runtime.block_on(watch_until_stopped(options, config, groups))
}

async fn watch_until_stopped(
    options: &DaemonOptions,
    config: Config,
    groups: Vec<WatchedGroup>,
) -> Result<(), DaemonError> {
    let mut settings = config.watch.settings;
    if let Some(lease) = &config.lease {
        // A group whose run did not succeed is tried again once a lease could have changed hands.
        settings.retry_after = lease.duration;
    }
    let shared = Arc::new(Shared {
        metrics: Metrics::default(),
        board: Board::default(),
        heartbeat: AtomicI64::new(0),
        fresh_for: settings.interval * 3,
        described_ok_at: AtomicI64::new(0),
        described_failed_at: AtomicI64::new(0),
        stop: AtomicBool::new(false),
        reload: Mutex::new(None),
        peers: config.watch.peers.clone(),
    });
    shared.metrics.groups.set(i64::try_from(groups.len()).unwrap_or(i64::MAX));
    let listener = tokio::net::TcpListener::bind(config.watch.listen)
        .await
        .map_err(|source| DaemonError::Listen { address: config.watch.listen, source })?;
    let address = listener.local_addr().map_or_else(|_| config.watch.listen.to_string(), |a| a.to_string());
    tokio::spawn(http::serve(listener, Arc::clone(&shared)));
    spawn_signal_handlers(Arc::clone(&shared), options.config_path.clone());

    let sdk = crate::ec2::sdk_config(&config.region).await;
    let ec2 = Ec2Provider::from_config(&sdk);
    let clock = SystemClock;
    let counter = CallCounter { shared: &shared };
    let provider = Hooked::new(&ec2, &clock, &counter);
    let notifier = crate::notify::Notifier::from_config(&sdk, &config);
    let observer = DaemonObserver::new(&shared.metrics, &shared.heartbeat, notifier);
    let peers = HttpPeers { peers: config.watch.peers.clone(), shared: &shared };
    let cloudwatch = CloudWatchMetrics::new(&sdk);
    let env = Env {
        provider: &provider,
        clock: &clock,
        prober: &NetworkProber,
        peers: &peers,
        observer: &observer,
        board: &shared.board,
        metrics: &cloudwatch,
    };
    let plan = Plan {
        settings,
        lease: config.lease.as_ref().map(|lease| lease.settings(&options.name)),
        zones: Zones::default(),
    };
    tracing::warn!(
        name = options.name.as_str(),
        listen = address.as_str(),
        groups = groups.len(),
        peers = config.watch.peers.join(","),
        interval_ms = millis(settings.interval),
        "watching"
    );
    let mut control = DaemonControl { shared: &shared, observer: &observer, stopping: false };
    coldstandby_watch::watch(env, plan, groups, &mut control).await;
    tracing::warn!("stopped");
    Ok(())
}

fn spawn_signal_handlers(shared: Arc<Shared>, config_path: PathBuf) {
    use tokio::signal::unix::{signal, SignalKind};
    let stopper = Arc::clone(&shared);
    tokio::spawn(async move {
        let (Ok(mut term), Ok(mut interrupt)) =
            (signal(SignalKind::terminate()), signal(SignalKind::interrupt()))
        else {
            tracing::error!("cannot listen for SIGTERM and SIGINT");
            return;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = interrupt.recv() => {}
        }
        stopper.stop.store(true, Ordering::Relaxed);
    });
    tokio::spawn(async move {
        let Ok(mut hangup) = signal(SignalKind::hangup()) else {
            tracing::error!("cannot listen for SIGHUP: reloads are off");
            return;
        };
        while hangup.recv().await.is_some() {
            match load(&config_path) {
                Ok((_, groups)) => {
                    tracing::warn!(groups = groups.len(), "reloading: the configuration is valid");
                    open_files::raise_and_log(&groups);
                    *shared.reload.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(groups);
                }
                Err(error) => {
                    tracing::error!(error = %error, "reload refused: keeping the groups watched now")
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A watcher holds one probe future per group in flight, and after a pause every group's at
    /// once: at 10,000 groups, an 8 KB read buffer inside each future (as the HTTP probe once
    /// had) is 86 MB of the watcher's 100 MB.
    #[test]
    fn a_probe_in_flight_takes_little_memory() {
        let member: InstanceId = "i-0123456789abcdef0".parse().unwrap_or_else(|_| unreachable!());
        let http = Probe::Http { port: 8080, path: "/healthz".to_owned(), status: 200, body_contains: None };
        for probe in [Probe::Tcp { port: 5432 }, http] {
            let future = NetworkProber.probe(&member, "10.0.1.10", &probe);
            let size = std::mem::size_of_val(&future);
            assert!(size <= 2048, "a {probe} probe's future takes {size} bytes");
        }
    }
}
