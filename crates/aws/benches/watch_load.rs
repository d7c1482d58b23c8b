//! The watcher's own cost while probing: 1,000 and 10,000 groups at 1 Hz (the default
//! settings), each a `tcp` probe of a local listener, through the daemon's prober, observer and
//! metrics and the `coldstandby-watch` loop on a current-thread tokio runtime, as `coldstandby
//! watch` runs them. EC2 is a stub that describes every primary running on 127.0.0.1; the
//! listeners run in a child process. Reports probe rounds a second, CPU as a share of one core
//! (user: the watcher's own code; system: the kernel, mostly TCP handshakes), and peak resident
//! memory. For comparison it then measures the floor: the same number of bare TCP connects a
//! second from a minimal loop, with no watcher. On loopback the kernel's work for both ends of
//! each handshake (the listener's too) is done on the connecting process's time, so the system
//! share overstates what probing remote members costs.
//!
//! Last, the worst case for memory and open files: the largest size with every member silent
//! (a listener whose accept queue is full drops each SYN, as an unreachable host in an AZ outage
//! would), so every probe holds its socket until the probe timeout and, when the rounds line up,
//! every group's probe is in flight at once. The watcher then tries to fail the groups over: the
//! stub EC2 refuses every change, as a role without the permissions would.
//!
//! `cargo bench -p coldstandby-aws --bench watch_load [-- GROUPS... [--seconds N]]`

#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::disallowed_methods)] // a benchmark reports on stdout, in wall time

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::atomic::AtomicI64;
use std::time::{Duration, Instant};

use coldstandby_aws::watch::{DaemonObserver, Metrics, NetworkProber};
use coldstandby_aws::SystemClock;
use coldstandby_engine::clients::Probe;
use coldstandby_engine::fleet::Zones;
use coldstandby_engine::{
    ApiError, Clock, ErrorKind, GroupSpec, InstanceId, InstanceState, Observation, Provider, Timestamp,
};
use coldstandby_watch::{Board, Control, Directive, Env, NoMetrics, NoPeers, Plan, Settings, WatchedGroup};

/// Listening ports in the child process: probes spread over them.
const LISTENERS: u16 = 100;
const WARM_UP: Duration = Duration::from_secs(5);

/// EC2 as a stub: every member running on the loopback address, the primaries tagged active.
struct LocalEc2;

impl Provider for LocalEc2 {
    async fn describe(&self, instances: &[InstanceId]) -> Result<Vec<Observation>, ApiError> {
        Ok(instances
            .iter()
            .map(|instance| Observation {
                instance: instance.clone(),
                state: InstanceState::Running,
                availability_zone: "ap-northeast-1a".to_owned(),
                state_reason: None,
                tags: BTreeMap::new(),
                network_interface: Some("eni-0123456789abcdef0".to_owned()),
                private_ip: Some("127.0.0.1".to_owned()),
                instance_type: None,
            })
            .collect())
    }
    async fn start(&self, _: &[InstanceId]) -> Result<(), ApiError> {
        Err(refused("StartInstances"))
    }
    async fn stop(&self, _: &[InstanceId], _: bool) -> Result<(), ApiError> {
        Err(refused("StopInstances"))
    }
    async fn set_tags(&self, _: &[InstanceId], _: &BTreeMap<String, String>) -> Result<(), ApiError> {
        Err(refused("CreateTags"))
    }
}

/// Only the silent-members run gets here: a healthy member is never failed over.
fn refused(operation: &str) -> ApiError {
    ApiError::new(
        ErrorKind::Denied,
        "UnauthorizedOperation",
        format!("the benchmark's EC2 refuses {operation}"),
    )
}

struct StopAt(Timestamp);

impl Control for StopAt {
    fn check(&mut self, now: Timestamp) -> Directive {
        if now >= self.0 {
            Directive::Stop
        } else {
            Directive::Continue
        }
    }
}

/// CPU seconds this process has used so far, in user mode and in the kernel.
#[derive(Clone, Copy, Debug)]
struct Cpu {
    user: f64,
    system: f64,
}

/// (CPU so far, peak resident set in bytes) of this process.
fn usage() -> (Cpu, u64) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap().split_whitespace().collect();
    // After the command name: state is field 3; utime and stime are fields 14 and 15 (ticks of
    // 1/100 s).
    let ticks = |field: usize| fields[field].parse::<f64>().unwrap() / 100.0;
    let cpu = Cpu { user: ticks(11), system: ticks(12) };
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let peak_kb: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .unwrap();
    (cpu, peak_kb * 1024)
}

/// "34.1 % of one core (user 4.2 %, system 29.9 %)" for CPU used over `elapsed` seconds.
fn share(before: Cpu, after: Cpu, elapsed: f64) -> String {
    let percent = |seconds: f64| 100.0 * seconds / elapsed;
    let (user, system) = (after.user - before.user, after.system - before.system);
    format!(
        "{:>5.1} % of one core (user {:.1} %, system {:.1} %)",
        percent(user + system),
        percent(user),
        percent(system)
    )
}

fn listen_forever() -> ! {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let mut ports = Vec::new();
        for _ in 0..LISTENERS {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            ports.push(listener.local_addr().unwrap().port());
            tokio::spawn(async move {
                loop {
                    // Accept and close: a `tcp` probe passes on the connection alone.
                    let _ = listener.accept().await;
                }
            });
        }
        // The silent one, last: a backlog of one, never accepted. Once its queue is full the
        // kernel drops every SYN, and a connect waits until the probe gives up.
        let silent = tokio::net::TcpSocket::new_v4().unwrap();
        silent.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let silent = silent.listen(1).unwrap();
        ports.push(silent.local_addr().unwrap().port());
        let line: Vec<String> = ports.iter().map(ToString::to_string).collect();
        let mut stdout = std::io::stdout();
        writeln!(stdout, "{}", line.join(" ")).unwrap();
        stdout.flush().unwrap();
        let _held = silent;
        std::future::pending::<()>().await;
    });
    unreachable!("the listeners run until killed")
}

fn measure(groups: usize, ports: &[u16], seconds: u64, silent: bool) {
    let watched: Vec<WatchedGroup> = (0..groups)
        .map(|index| {
            let primary: InstanceId = format!("i-{:017x}", 2 * index + 1).parse().unwrap();
            let standby: InstanceId = format!("i-{:017x}", 2 * index + 2).parse().unwrap();
            let port = ports[index % ports.len()];
            WatchedGroup {
                spec: GroupSpec::new(format!("g{index}"), primary, vec![standby]),
                probes: vec![Probe::Tcp { port }],
                alarm: None,
            }
        })
        .collect();
    // Every probe may be in flight at once: open files for them as `coldstandby watch` does.
    let files = coldstandby_aws::watch::open_files::raise_for(&watched).unwrap();
    assert!(files.is_enough(), "{files:?}: raise the hard open-file limit (ulimit -Hn)");
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let metrics = Metrics::default();
    let heartbeat = AtomicI64::new(0);
    let observer = DaemonObserver::new(&metrics, &heartbeat, None);
    let board = Board::default();
    let clock = SystemClock;
    let env = Env {
        provider: &LocalEc2,
        clock: &clock,
        prober: &NetworkProber,
        peers: &NoPeers,
        observer: &observer,
        board: &board,
        metrics: &NoMetrics,
    };
    let plan = Plan { settings: Settings::default(), lease: None, zones: Zones::default() };
    let started = SystemClock::now();
    let measure_from = started + WARM_UP;
    let stop_at = measure_from + Duration::from_secs(seconds);
    let (before, wall, after) = runtime.block_on(async {
        let mut control = StopAt(stop_at);
        let watching = coldstandby_watch::watch(env, plan, watched, &mut control);
        let sampling = async {
            clock.sleep_until(measure_from).await;
            let before = (usage(), Instant::now(), rounds(&metrics));
            clock.sleep_until(stop_at).await;
            (before, (usage(), rounds(&metrics)))
        };
        let ((), (before, after)) = tokio::join!(watching, sampling);
        (before, after.0, after.1)
    });
    let ((cpu_before, _), at, rounds_before) = before;
    let elapsed = at.elapsed().as_secs_f64();
    let (cpu_after, peak) = wall;
    let rounds_per_second = (after - rounds_before) / elapsed;
    let failed = metrics
        .encode()
        .lines()
        .filter(|line| line.starts_with("coldstandby_probe_failures_total"))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>();
    let members = if silent { ", every member silent" } else { "" };
    println!(
        "{groups:>6} groups{members}: {rounds_per_second:>8.0} probe rounds/s ({failed} failed), CPU {}, peak RSS {:.1} MB",
        share(cpu_before, cpu_after, elapsed),
        peak as f64 / 1_048_576.0
    );
}

/// The floor under the watcher: `rate` bare TCP connects a second (each dropped at once), spread
/// as the watcher spreads its rounds (1 ms ticks), from a current-thread runtime.
fn measure_floor(rate: usize, ports: &[u16], seconds: u64) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let per_tick = rate.div_ceil(1_000);
    let (before, after, elapsed, connects) = runtime.block_on(async {
        let mut tick = tokio::time::interval(Duration::from_millis(1));
        let warm_until = Instant::now() + WARM_UP;
        let mut next_port = 0;
        let mut measured: Option<(Cpu, Instant)> = None;
        let mut connects = 0u64;
        let total = WARM_UP + Duration::from_secs(seconds);
        let started = Instant::now();
        // Bounded by the measuring time.
        while started.elapsed() < total {
            tick.tick().await;
            if measured.is_none() && Instant::now() >= warm_until {
                measured = Some((usage().0, Instant::now()));
            }
            let mut batch = tokio::task::JoinSet::new();
            for _ in 0..per_tick {
                next_port = (next_port + 1) % ports.len();
                batch.spawn(tokio::net::TcpStream::connect(("127.0.0.1", ports[next_port])));
            }
            while let Some(result) = batch.join_next().await {
                if measured.is_some() && matches!(result, Ok(Ok(_))) {
                    connects += 1;
                }
            }
        }
        let (before, at) = measured.unwrap();
        (before, usage().0, at.elapsed().as_secs_f64(), connects)
    });
    println!(
        "{rate:>6} bare connects a second (no watcher): {:>8.0} connects/s, CPU {}",
        connects as f64 / elapsed,
        share(before, after, elapsed)
    );
}

fn rounds(metrics: &Metrics) -> f64 {
    metrics
        .encode()
        .lines()
        .filter(|line| line.starts_with("coldstandby_probe_duration_seconds_count"))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

fn main() {
    if std::env::var_os("WATCH_LOAD_LISTENERS").is_some() {
        listen_forever();
    }
    let args: Vec<String> = std::env::args().skip(1).filter(|arg| arg != "--bench").collect();
    let seconds = args
        .iter()
        .position(|arg| arg == "--seconds")
        .and_then(|at| args.get(at + 1)?.parse().ok())
        .unwrap_or(30);
    let mut sizes: Vec<usize> =
        args.iter().take_while(|arg| *arg != "--seconds").filter_map(|arg| arg.parse().ok()).collect();
    if sizes.is_empty() {
        sizes = vec![1_000, 10_000];
    }
    // A measuring child: one size, its own process, so peak memory is that size's.
    if let Ok(ports) = std::env::var("WATCH_LOAD_PORTS") {
        let ports: Vec<u16> = ports.split_whitespace().map(|port| port.parse().unwrap()).collect();
        let (silent, answering) = ports.split_last().unwrap();
        match std::env::var("WATCH_LOAD_KIND").as_deref() {
            Ok("floor") => measure_floor(sizes[0], answering, seconds),
            Ok("silent") => measure(sizes[0], std::slice::from_ref(silent), seconds, true),
            _ => measure(sizes[0], answering, seconds, false),
        }
        return;
    }
    let mut listeners = Command::new(std::env::current_exe().unwrap())
        .env("WATCH_LOAD_LISTENERS", "1")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut ports = String::new();
    BufReader::new(listeners.stdout.take().unwrap()).read_line(&mut ports).unwrap();
    println!(
        "watcher probing {LISTENERS} local TCP listeners at 1 Hz, default settings ({seconds} s measured after {} s)",
        WARM_UP.as_secs()
    );
    let largest = sizes.iter().copied().max().unwrap_or(0);
    let runs = sizes
        .iter()
        .map(|size| ("watcher", *size))
        .chain(sizes.iter().map(|size| ("floor", *size)))
        .chain([("silent", largest)]);
    for (kind, size) in runs {
        let status = Command::new(std::env::current_exe().unwrap())
            .env("WATCH_LOAD_PORTS", ports.trim())
            .env("WATCH_LOAD_KIND", kind)
            .args([size.to_string(), "--seconds".to_owned(), seconds.to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "the {size}-group {kind} measurement failed");
    }
    let _ = listeners.kill();
    let _ = listeners.wait();
}
