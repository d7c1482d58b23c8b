//! Two `coldstandby watch` processes against moto (EC2, DynamoDB) and local TCP listeners as the
//! members' services (the members' private addresses are on the loopback network): killing the
//! primary's listener fails the group over once; killing the lease holder mid-failover lets the
//! other watcher finish it; a holder cut off from DynamoDB stops acting and the other finishes.
//! Judged from moto's instances and tags, and from the watchers' own metrics and logs.

#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(clippy::disallowed_methods)] // waits, with deadlines, for real processes (moto, daemons)

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_ec2::types::InstanceStateName;
use common::*;

const TABLE: &str = "coldstandby-leases";
const SERVICE_PORT: u16 = 18080;

/// A member's service: accepts connections until killed, then refuses them.
struct Service {
    alive: Arc<AtomicBool>,
    address: String,
}

impl Service {
    fn start(ip: &str) -> Self {
        let address = format!("{ip}:{SERVICE_PORT}");
        let listener = TcpListener::bind(&address).unwrap();
        let alive = Arc::new(AtomicBool::new(true));
        let flag = Arc::clone(&alive);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if !flag.load(Ordering::SeqCst) {
                    break; // the listener is dropped: connections are refused from now on
                }
                drop(stream);
            }
        });
        Self { alive, address }
    }

    fn kill(&self) {
        self.alive.store(false, Ordering::SeqCst);
        let _ = TcpStream::connect(&self.address); // wakes the accept loop so it drops the listener
    }
}

/// A TCP relay to moto that can be cut: what a watcher losing DynamoDB sees.
struct Relay {
    cut: Arc<AtomicBool>,
    endpoint: String,
}

impl Relay {
    fn start(to: &str) -> Self {
        let target = to.trim_start_matches("http://").to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let cut = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&cut);
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                if flag.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let Ok(server) = TcpStream::connect(&target) else { continue };
                for (from, to) in
                    [(client.try_clone().unwrap(), server.try_clone().unwrap()), (server, client)]
                {
                    let flag = Arc::clone(&flag);
                    std::thread::spawn(move || pump(from, to, &flag));
                }
            }
        });
        Self { cut, endpoint }
    }
}

fn pump(mut from: TcpStream, mut to: TcpStream, cut: &AtomicBool) {
    from.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    let mut buffer = [0u8; 16 * 1024];
    loop {
        if cut.load(Ordering::SeqCst) {
            break;
        }
        match from.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => {
                if to.write_all(&buffer[..n]).is_err() {
                    break;
                }
            }
            Err(error)
                if matches!(error.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            Err(_) => break,
        }
    }
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
}

/// A watcher process, its log lines collected as they come.
struct Watcher {
    name: String,
    child: Child,
    port: u16,
    log: Arc<Mutex<Vec<String>>>,
    relay: Relay,
}

impl Watcher {
    fn log_has(&self, needle: &str) -> bool {
        self.log.lock().unwrap().iter().any(|line| line.contains(needle))
    }

    fn log_text(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    fn get(&self, path: &str) -> Option<(u16, String)> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
        write!(stream, "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").ok()?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer).ok()?;
        let status = answer.split_whitespace().nth(1)?.parse().ok()?;
        Some((status, answer))
    }

    /// The sum of a metric's samples (every label set) in `/metrics`.
    fn metric(&self, name: &str, label: &str) -> f64 {
        let Some((_, text)) = self.get("/metrics") else { return 0.0 };
        text.lines()
            .filter(|line| line.starts_with(name) && line.contains(label))
            .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Setup {
    article: Moto,
    runtime: tokio::runtime::Runtime,
    sdk: aws_config::SdkConfig,
    /// Where the watchers publish outcomes, and the queue subscribed to it.
    topic: String,
    queue: String,
    ec2: aws_sdk_ec2::Client,
    primary: String,
    standby: String,
    dir: PathBuf,
    primary_service: Service,
    _standby_service: Service,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Setup {
    /// `net`: the tests run at once, each on its own loopback subnets (127.0.net.0/24 for the
    /// primary, the next for the standby), so their listeners do not collide.
    fn new(name: &str, net: u8) -> Self {
        let primary_ip = format!("127.0.{net}.11");
        let standby_ip = format!("127.0.{}.12", net + 1);
        let moto = Moto::start();
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let sdk = moto_sdk(&moto, &runtime);
        let (topic, queue) = notification_topic(&runtime, &sdk);
        let ec2 = aws_sdk_ec2::Client::new(&sdk);
        let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
        let (primary, standby) = runtime.block_on(async {
            // The members' private addresses are on the loopback network, where the test's
            // listeners serve for them.
            let subnets = vpc_with_subnets(
                &ec2,
                "127.0.0.0/16",
                &[
                    ("ap-northeast-1a", &format!("127.0.{net}.0/24")),
                    ("ap-northeast-1c", &format!("127.0.{}.0/24", net + 1)),
                ],
            )
            .await;
            let images = ec2.describe_images().owners("amazon").send().await.unwrap();
            let image = images.images()[0].image_id().unwrap().to_owned();
            let mut ids = Vec::new();
            for (subnet, ip) in subnets.iter().zip([&primary_ip, &standby_ip]) {
                let run = ec2
                    .run_instances()
                    .image_id(&image)
                    .instance_type(aws_sdk_ec2::types::InstanceType::T3Micro)
                    .subnet_id(subnet)
                    .private_ip_address(ip)
                    .min_count(1)
                    .max_count(1)
                    .send()
                    .await
                    .unwrap();
                ids.push(run.instances()[0].instance_id().unwrap().to_owned());
            }
            ec2.stop_instances().instance_ids(&ids[1]).send().await.unwrap();
            create_lease_table(&dynamodb, TABLE).await;
            (ids[0].clone(), ids[1].clone())
        });
        let dir = std::env::temp_dir().join(format!("coldstandby-watch-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self {
            article: moto,
            runtime,
            sdk,
            topic,
            queue,
            ec2,
            primary,
            standby,
            dir,
            primary_service: Service::start(&primary_ip),
            _standby_service: Service::start(&standby_ip),
        }
    }

    fn config(&self, path: &Path, listen: u16, peer: u16) {
        let text = format!(
            "region = \"{REGION}\"\nnotification_topic_arn = \"{}\"\n\
             [lease]\ntable = \"{TABLE}\"\nduration_seconds = 5\n\
             [watch]\ninterval_ms = 200\ntimeout_ms = 150\nlisten = \"127.0.0.1:{listen}\"\npeers = [\"http://127.0.0.1:{peer}\"]\n\
             [[group]]\nname = \"web\"\nprimary = \"{}\"\nstandbys = [\"{}\"]\n\
             [[group.readiness]]\ntype = \"tcp\"\nport = {SERVICE_PORT}\nsuccesses = 3\ninterval_seconds = 2\n",
            self.topic, self.primary, self.standby
        );
        std::fs::write(path, text).unwrap();
    }

    /// Two watchers, each with its own relay to DynamoDB.
    fn watchers(&self) -> [Watcher; 2] {
        let ports = [free_port(), free_port()];
        let names = ["watcher-a", "watcher-b"];
        let mut watchers = Vec::new();
        for index in 0..2 {
            let config = self.dir.join(format!("{}.toml", names[index]));
            self.config(&config, ports[index], ports[1 - index]);
            let relay = Relay::start(&self.article.endpoint);
            let mut child = Command::new(env!("CARGO_BIN_EXE_coldstandby"))
                .args(["watch", "--config", config.to_str().unwrap(), "--name", names[index]])
                .envs(aws_environment(&self.article))
                .env("AWS_ENDPOINT_URL_DYNAMODB", &relay.endpoint)
                .env("RUST_LOG", "info")
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            let log = Arc::new(Mutex::new(Vec::new()));
            let lines = Arc::clone(&log);
            let stderr = child.stderr.take().unwrap();
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    lines.lock().unwrap().push(line);
                }
            });
            watchers.push(Watcher { name: names[index].to_owned(), child, port: ports[index], log, relay });
        }
        let watchers: [Watcher; 2] = watchers.try_into().ok().unwrap();
        for watcher in &watchers {
            wait_for(Duration::from_secs(30), || {
                watcher.get("/readyz").is_some_and(|(status, _)| status == 200)
                    && watcher.metric("coldstandby_probe_duration_seconds_count", "passed") >= 3.0
            })
            .unwrap_or_else(|| panic!("{} never got ready:\n{}", watcher.name, watcher.log_text()));
        }
        watchers
    }

    fn state(&self, id: &str) -> (InstanceStateName, Option<String>) {
        self.runtime.block_on(async {
            let out = self.ec2.describe_instances().instance_ids(id).send().await.unwrap();
            let instance = &out.reservations()[0].instances()[0];
            let role = instance
                .tags()
                .iter()
                .find(|tag| tag.key() == Some("coldstandby:role"))
                .and_then(|tag| tag.value().map(str::to_owned));
            (instance.state().unwrap().name().unwrap().clone(), role)
        })
    }

    /// The standby runs and is recorded active, the primary is stopped: the group failed over.
    fn failed_over(&self) -> bool {
        let (standby, role) = self.state(&self.standby);
        standby == InstanceStateName::Running
            && role.as_deref() == Some("active")
            && self.state(&self.primary).0 == InstanceStateName::Stopped
    }
}

fn wait_for(limit: Duration, mut done: impl FnMut() -> bool) -> Option<()> {
    let started = Instant::now();
    while started.elapsed() < limit {
        if done() {
            return Some(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    None
}

fn logs(watchers: &[Watcher]) -> String {
    watchers.iter().map(|w| format!("--- {}\n{}", w.name, w.log_text())).collect::<Vec<_>>().join("\n")
}

#[test]
fn killing_the_primarys_service_fails_the_group_over_once() {
    let setup = Setup::new("once", 1);
    let watchers = setup.watchers();
    assert_eq!(setup.state(&setup.primary).0, InstanceStateName::Running, "nothing happens while it serves");
    setup.primary_service.kill();
    wait_for(Duration::from_secs(60), || setup.failed_over())
        .unwrap_or_else(|| panic!("the group did not fail over:\n{}", logs(&watchers)));
    // Give the other watcher time to make a second failover, if it were going to.
    std::thread::sleep(Duration::from_secs(8));
    let starts: f64 = watchers
        .iter()
        .map(|w| w.metric("coldstandby_ec2_calls_total", "operation=\"StartInstances\",result=\"ok\""))
        .sum();
    assert_eq!(starts, 1.0, "one StartInstances between them:\n{}", logs(&watchers));
    let stops: f64 = watchers
        .iter()
        .map(|w| w.metric("coldstandby_ec2_calls_total", "operation=\"StopInstances\",result=\"ok\""))
        .sum();
    assert_eq!(stops, 1.0, "one StopInstances between them:\n{}", logs(&watchers));
    // One controller for the group: only one watcher changed anything.
    let changers: Vec<&str> = watchers
        .iter()
        .filter(|w| {
            ["StartInstances", "StopInstances", "CreateTags"].iter().any(|operation| {
                let labels = format!("operation=\"{operation}\",result=\"ok\"");
                w.metric("coldstandby_ec2_calls_total", &labels) > 0.0
            })
        })
        .map(|w| w.name.as_str())
        .collect();
    assert_eq!(changers.len(), 1, "watchers that changed instances: {changers:?}\n{}", logs(&watchers));
    let failed_over: f64 =
        watchers.iter().map(|w| w.metric("coldstandby_failovers_total", "failed-over")).sum();
    assert!(failed_over >= 1.0);
    assert!(setup.failed_over(), "still failed over, to the standby");
    // The team was told once, by the watcher that acted.
    let told = notifications(&setup.runtime, &setup.sdk, &setup.queue);
    assert_eq!(told.len(), 1, "one notification: {told:?}\n{}", logs(&watchers));
    assert_eq!(told[0].1["result"], "failed-over");
    assert_eq!(told[0].1["to"].as_str(), Some(&*setup.standby));
    assert!(told[0].1["source"].as_str().unwrap().ends_with("(watch)"), "{told:?}");
    // Both now watch the promoted standby, and see it up.
    for watcher in &watchers {
        assert!(
            watcher.log_has(&setup.standby),
            "{} never named the standby:\n{}",
            watcher.name,
            watcher.log_text()
        );
    }
}

/// Kill the primary's service, then disable (kill, or cut from DynamoDB) whichever watcher takes
/// the lease, as soon as it does; the other must finish the failover.
fn holder_lost_mid_failover(name: &str, net: u8, kill: bool) {
    let setup = Setup::new(name, net);
    let watchers = setup.watchers();
    setup.primary_service.kill();
    // A killed holder is lost once it has asked EC2 to stop the primary: killed before any call,
    // the survivor is left with one vantage point and EC2 reporting the primary running, which
    // is not enough to fail over on (docs/watch.md) until the killed watcher is back.
    let lost_after = if kill { "StopRequested" } else { "LeaseTaken" };
    let mut holder = None;
    wait_for(Duration::from_secs(30), || {
        holder = watchers.iter().position(|w| w.log_has(lost_after));
        holder.is_some()
    })
    .unwrap_or_else(|| panic!("no watcher got to {lost_after}:\n{}", logs(&watchers)));
    let holder = holder.unwrap();
    let [first, second] = &watchers;
    let (lost, survivor) = if holder == 0 { (first, second) } else { (second, first) };
    if kill {
        kill_now(lost);
    } else {
        lost.relay.cut.store(true, Ordering::SeqCst);
    }
    assert!(!setup.failed_over(), "the failover was still under way when its holder was lost");
    wait_for(Duration::from_secs(90), || setup.failed_over())
        .unwrap_or_else(|| panic!("the survivor did not finish the failover:\n{}", logs(&watchers)));
    assert!(survivor.log_has("LeaseTaken"), "{} took the lease over:\n{}", survivor.name, logs(&watchers));
    if !kill {
        wait_for(Duration::from_secs(20), || lost.log_has("StoppedActing") || lost.log_has("lease"))
            .unwrap_or_else(|| panic!("{} never stopped acting:\n{}", lost.name, logs(&watchers)));
        assert!(
            lost.log_has("StoppedActing"),
            "the cut-off holder says it stopped acting:\n{}",
            lost.log_text()
        );
    }
}

/// SIGKILL: the process dies where it is, its lease left held.
fn kill_now(watcher: &Watcher) {
    let pid = watcher.child.id().to_string();
    let status = Command::new("kill").args(["-KILL", &pid]).status().unwrap();
    assert!(status.success());
}

#[test]
fn killing_the_lease_holder_mid_failover_lets_the_other_watcher_finish_it() {
    holder_lost_mid_failover("killed", 3, true);
}

#[test]
fn a_holder_cut_off_from_dynamodb_stops_acting_and_the_other_watcher_finishes() {
    holder_lost_mid_failover("cut", 5, false);
}

#[test]
fn the_watchers_metric_reader_reads_an_alarms_metric_from_get_metric_data() {
    use aws_sdk_cloudwatch::primitives::DateTime;
    use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
    use coldstandby_alarm::{AlarmDefinition, Comparison, MetricSource, Statistic, TreatMissingData};
    use coldstandby_aws::watch::CloudWatchMetrics;
    use coldstandby_engine::Timestamp;
    use coldstandby_watch::MetricReader;

    let moto = Moto::start();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let sdk = moto_sdk(&moto, &runtime);
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&sdk);
    // Ten minutes of CPU samples every 10 s: 20 % for five minutes, then 90 %.
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64;
    let start = (now / 60_000 - 11) * 60_000;
    runtime.block_on(async {
        for minute in 0..10u64 {
            let value = if minute < 5 { 20.0 } else { 90.0 };
            let data: Vec<MetricDatum> = (0..6u64)
                .map(|tick| {
                    let at = start + minute * 60_000 + tick * 10_000;
                    MetricDatum::builder()
                        .metric_name("CPUUtilization")
                        .dimensions(
                            Dimension::builder().name("InstanceId").value("i-0a1b2c3d4e5f60718").build(),
                        )
                        .timestamp(DateTime::from_millis(at as i64))
                        .value(value)
                        .unit(StandardUnit::Percent)
                        .build()
                })
                .collect();
            cloudwatch
                .put_metric_data()
                .namespace("AWS/EC2")
                .set_metric_data(Some(data))
                .send()
                .await
                .unwrap();
        }
    });
    let alarm = AlarmDefinition {
        name: "web-primary-cpu-high".to_owned(),
        namespace: "AWS/EC2".to_owned(),
        metric_name: "CPUUtilization".to_owned(),
        dimensions: [("InstanceId".to_owned(), "i-0a1b2c3d4e5f60718".to_owned())].into(),
        statistic: Statistic::Average,
        period_seconds: 60,
        evaluation_periods: 1,
        datapoints_to_alarm: 1,
        threshold: 50.0,
        comparison: Comparison::GreaterThanThreshold,
        treat_missing_data: TreatMissingData::Missing,
        evaluation_range: 3,
    };
    let reader = CloudWatchMetrics::new(&sdk);
    let (from, until) =
        (Timestamp::from_unix_millis(start), Timestamp::from_unix_millis(start + 10 * 60_000));
    let points = runtime.block_on(reader.read(&alarm, from, until)).unwrap();
    let minute = |n: u64| {
        let at = Timestamp::from_unix_millis(start + n * 60_000);
        points.datapoint(at, Timestamp::from_unix_millis(start + (n + 1) * 60_000))
    };
    assert_eq!(minute(2), Some(20.0));
    assert_eq!(minute(7), Some(90.0));
    assert_eq!(minute(10), None, "nothing after the data");
}
