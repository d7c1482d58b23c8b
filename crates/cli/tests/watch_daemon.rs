//! `coldstandby watch` as an operator runs it, without AWS (EC2 refuses every connection): its
//! HTTP endpoints, its JSON logs, SIGHUP with an invalid and then a valid file, SIGTERM, and
//! `--check` on configurations it cannot watch.

#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(clippy::disallowed_methods)] // waits, with deadlines, for real processes (moto, daemons)

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const PRIMARY: &str = "i-0123456789abcdef0";
const STANDBY: &str = "i-0123456789abcdef1";

fn group(name: &str) -> String {
    format!(
        "[[group]]\nname = \"{name}\"\nprimary = \"{PRIMARY}\"\nstandbys = [\"{STANDBY}\"]\n[[group.readiness]]\ntype = \"tcp\"\nport = 5432\n"
    )
}

fn dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("coldstandby-watchd-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn coldstandby(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_coldstandby")).args(args).output().unwrap()
}

fn get(port: u16, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    (answer.split_whitespace().nth(1).unwrap().parse().unwrap(), answer)
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < Duration::from_secs(20), "waited 20 s for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

struct Daemon {
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
}

impl Daemon {
    fn start(config: &Path) -> Self {
        Self::start_limited(config, None)
    }

    /// Started with the `ulimit` options given (`-Sn 64`: a soft open-file limit of 64), when any.
    fn start_limited(config: &Path, ulimit: Option<&str>) -> Self {
        let binary = env!("CARGO_BIN_EXE_coldstandby");
        let args = ["watch", "--config", config.to_str().unwrap(), "--name", "test-watcher"];
        let mut command = match ulimit {
            Some(options) => {
                let mut shell = Command::new("sh");
                shell.args(["-c", &format!("ulimit {options} && exec \"$0\" \"$@\""), binary]).args(args);
                shell
            }
            None => {
                let mut direct = Command::new(binary);
                direct.args(args);
                direct
            }
        };
        let mut child = command
            .env("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env_remove("RUST_LOG")
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
        Self { child, log }
    }

    fn logged(&self, needle: &str) -> bool {
        self.log.lock().unwrap().iter().any(|line| line.contains(needle))
    }

    fn signal(&self, name: &str) {
        let status =
            Command::new("kill").args([&format!("-{name}"), &self.child.id().to_string()]).status().unwrap();
        assert!(status.success());
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn groups_watched(port: u16) -> String {
    let (_, metrics) = get(port, "/metrics");
    metrics
        .lines()
        .find(|line| line.starts_with("coldstandby_groups_watched "))
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn the_watcher_serves_its_endpoints_reloads_on_sighup_and_stops_on_sigterm() {
    let dir = dir("signals");
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let config = dir.join("watch.toml");
    let header = format!("region = \"ap-northeast-1\"\n[watch]\nlisten = \"127.0.0.1:{port}\"\n");
    std::fs::write(&config, format!("{header}{}", group("web"))).unwrap();
    let mut daemon = Daemon::start(&config);
    wait_for("/healthz", || {
        TcpStream::connect(("127.0.0.1", port)).is_ok() && get(port, "/healthz").0 == 200
    });

    // EC2 cannot be reached: alive, not ready, and (once its first describe failed) it says why.
    let (status, readiness) = get(port, "/readyz");
    assert_eq!(status, 503, "{readiness}");
    assert!(readiness.contains("\"ready\":false"), "{readiness}");
    wait_for("the failed describe in /readyz", || {
        get(port, "/readyz").1.contains("DescribeInstances has failed")
    });
    assert_eq!(groups_watched(port), "coldstandby_groups_watched 1");
    assert_eq!(get(port, "/nothing-here").0, 404);
    let (_, metrics) = get(port, "/metrics");
    assert!(
        metrics.contains("coldstandby_ec2_calls_total{operation=\"DescribeInstances\",result=\"error\"}"),
        "{metrics}"
    );
    // Logs are JSON lines.
    wait_for("the start line", || daemon.logged("\"message\":\"watching\""));
    for line in daemon.log.lock().unwrap().iter() {
        serde_json::from_str::<serde_json::Value>(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
    }

    // An invalid file is refused, the groups kept.
    std::fs::write(&config, format!("{header}[[group]]\nname = \"web\"\nprimary = \"nope\"\n")).unwrap();
    daemon.signal("HUP");
    wait_for("the refusal", || daemon.logged("reload refused"));
    assert!(daemon.logged("nope"), "the refusal names what is wrong");
    assert_eq!(groups_watched(port), "coldstandby_groups_watched 1");

    // A valid one is taken.
    std::fs::write(
        &config,
        format!(
            "{header}{}{}",
            group("web"),
            group("db").replace(PRIMARY, "i-0123456789abcdef2").replace(STANDBY, "i-0123456789abcdef3")
        ),
    )
    .unwrap();
    daemon.signal("HUP");
    wait_for("the reload", || groups_watched(port) == "coldstandby_groups_watched 2");

    daemon.signal("TERM");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = daemon.child.try_wait().unwrap() {
            break status;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "still running 10 s after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(0));
    wait_for("the stop line", || daemon.logged("\"message\":\"stopped\""));
}

/// The `open-file limit` log line's fields, once it is logged.
fn open_file_limit(daemon: &Daemon) -> serde_json::Value {
    wait_for("the open-file limit line", || daemon.logged("open-file limit"));
    let log = daemon.log.lock().unwrap();
    let line = log.iter().find(|line| line.contains("open-file limit")).unwrap();
    serde_json::from_str(line).unwrap()
}

#[test]
fn the_watcher_raises_its_open_file_limit_for_its_probes_and_warns_when_it_cannot() {
    let dir = dir("open-files");
    let config = dir.join("watch.toml");
    let groups: String = (0..4)
        .map(|index| {
            group(&format!("g{index}"))
                .replace(PRIMARY, &format!("i-0123456789abcde{index:x}0"))
                .replace(STANDBY, &format!("i-0123456789abcde{index:x}1"))
        })
        .collect();
    std::fs::write(
        &config,
        format!("region = \"ap-northeast-1\"\n[watch]\nlisten = \"127.0.0.1:0\"\n{groups}"),
    )
    .unwrap();
    // Four groups of one tcp probe each, and 256 for everything else.
    let needed = 4 + 256;

    // A soft limit of 64 under a higher hard one: raised as far as needed.
    let raised = Daemon::start_limited(&config, Some("-Sn 64"));
    let line = open_file_limit(&raised);
    assert_eq!(line["level"], "INFO", "{line}");
    assert_eq!(line["limit"], needed, "{line}");
    assert_eq!(line["needed"], needed, "{line}");
    assert_eq!(soft_open_file_limit(&raised), needed, "the process's own limit, as the kernel has it");
    drop(raised);

    // A hard limit of 100: it cannot be, and the watcher says so and how to fix it.
    let short = Daemon::start_limited(&config, Some("-n 100"));
    let line = open_file_limit(&short);
    assert_eq!(line["level"], "WARN", "{line}");
    assert_eq!(line["limit"], 100, "{line}");
    assert_eq!(line["needed"], needed, "{line}");
    assert!(line["message"].as_str().unwrap().contains("LimitNOFILE"), "{line}");
    assert_eq!(soft_open_file_limit(&short), 100);
}

/// The daemon's soft open-file limit as the kernel shows it (`/proc/PID/limits`).
fn soft_open_file_limit(daemon: &Daemon) -> u64 {
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", daemon.child.id())).unwrap();
    let line = limits.lines().find(|line| line.starts_with("Max open files")).unwrap();
    line.split_whitespace().nth(3).unwrap().parse().unwrap()
}

#[test]
fn check_says_what_would_be_watched_and_refuses_what_cannot_be() {
    let dir = dir("check");
    let good = dir.join("good.toml");
    std::fs::write(&good, format!("region = \"ap-northeast-1\"\n{}", group("web"))).unwrap();
    let output = coldstandby(&["watch", "--config", good.to_str().unwrap(), "--check"]);
    assert_eq!(output.status.code(), Some(0));
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("web: tcp :5432") && text.contains("down after 2 of 3 rounds"), "{text}");

    let unprobed = dir.join("unprobed.toml");
    let no_checks =
        format!("[[group]]\nname = \"batch\"\nprimary = \"{PRIMARY}\"\nstandbys = [\"{STANDBY}\"]\n");
    std::fs::write(&unprobed, format!("region = \"ap-northeast-1\"\n{no_checks}")).unwrap();
    let output = coldstandby(&["watch", "--config", unprobed.to_str().unwrap(), "--check"]);
    assert_eq!(output.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&output.stderr)
        .contains("group batch has no `tcp` or `http` readiness check"));

    let unleased = dir.join("unleased.toml");
    let peers = "[watch]\npeers = [\"http://10.0.2.10:9323\"]\n";
    std::fs::write(&unleased, format!("region = \"ap-northeast-1\"\n{peers}{}", group("web"))).unwrap();
    let output = coldstandby(&["watch", "--config", unleased.to_str().unwrap(), "--check"]);
    assert_eq!(output.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&output.stderr).contains("[lease] is required"));

    let bad = dir.join("bad.toml");
    std::fs::write(&bad, format!("region = \"ap-northeast-1\"\n[watch]\ninterval_ms = 50\n{}", group("web")))
        .unwrap();
    let output = coldstandby(&["watch", "--config", bad.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(3), "an invalid file stops the daemon before it starts");
    assert!(String::from_utf8_lossy(&output.stderr).contains("watch.interval_ms"));
}
