//! The deployment package run exactly as AWS Lambda runs a `provided.al2023` function: the zip
//! that `scripts/package-lambda` builds (from this test's own binary, so no release build is
//! needed) is unzipped into a task root, and its `bootstrap` is executed there with no arguments,
//! as an unprivileged user when the tests run as root, and with only the environment Lambda gives
//! a function. A stand-in for the Runtime API on loopback hands it events; moto on loopback is
//! EC2. What counts is what the Runtime API receives and what EC2 shows afterwards.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design
#![allow(clippy::disallowed_methods)] // waits, with deadlines, for real processes (moto, daemons)

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

use aws_sdk_ec2::types::InstanceStateName;
use common::{Article, REGION};
use serde_json::Value;

/// Lambda's memory setting for the function (the template's `MemorySize`).
const MEMORY_LIMIT_MB: u64 = 128;
/// The user Lambda-like runs use when the tests run as root (nobody).
const UNPRIVILEGED_UID: u32 = 65534;
const FUNCTION_ARN: &str = "arn:aws:lambda:ap-northeast-1:111122223333:function:coldstandby";

/// One request the function made to the Runtime API, other than waiting for an event.
#[derive(Debug)]
struct Posted {
    path: String,
    headers: BTreeMap<String, String>,
    body: String,
}

impl Posted {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("{} is not JSON ({e}): {}", self.path, self.body))
    }
}

/// A stand-in for the Lambda Runtime API: hands out the given events one per
/// `GET /2018-06-01/runtime/invocation/next` (request ids `req-1`, `req-2`, ...), then holds
/// further polls open, as Lambda does between invocations; every POST is passed to the test.
struct RuntimeApi {
    address: String,
    posted: Receiver<Posted>,
}

impl RuntimeApi {
    fn serve(events: Vec<String>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let (send, posted) = channel();
        std::thread::spawn(move || {
            let mut events = events.into_iter().enumerate();
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut writer = stream;
                loop {
                    let mut request_line = String::new();
                    if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
                        break;
                    }
                    let mut headers = BTreeMap::new();
                    loop {
                        let mut line = String::new();
                        reader.read_line(&mut line).unwrap();
                        if line == "\r\n" || line.is_empty() {
                            break;
                        }
                        if let Some((name, value)) = line.split_once(':') {
                            headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_owned());
                        }
                    }
                    let length = headers.get("content-length").map_or(0, |v| v.parse().unwrap());
                    let mut body = vec![0; length];
                    reader.read_exact(&mut body).unwrap();
                    let path = request_line.split_whitespace().nth(1).unwrap_or_default().to_owned();
                    if request_line.starts_with("GET") {
                        let Some((index, event)) = events.next() else {
                            std::thread::sleep(Duration::from_secs(600)); // no further event
                            return;
                        };
                        let deadline = std::time::SystemTime::now()
                            .duration_since(std::time::UNIX_EPOCH)
                            .unwrap()
                            .as_millis()
                            + 120_000;
                        let head = format!(
                            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
                             Lambda-Runtime-Aws-Request-Id: req-{}\r\nLambda-Runtime-Deadline-Ms: {deadline}\r\n\
                             Lambda-Runtime-Invoked-Function-Arn: {FUNCTION_ARN}\r\n\
                             Lambda-Runtime-Trace-Id: Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1\r\n\
                             Content-Length: {}\r\n\r\n",
                            index + 1,
                            event.len()
                        );
                        writer.write_all(head.as_bytes()).unwrap();
                        writer.write_all(event.as_bytes()).unwrap();
                    } else {
                        writer.write_all(b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n").unwrap();
                        let body = String::from_utf8_lossy(&body).into_owned();
                        let _ = send.send(Posted { path, headers: headers.clone(), body });
                    }
                }
            }
        });
        Self { address, posted }
    }

    /// The function's next POST, within 90 s; a process that exits without one fails at once.
    fn next_post(&self, function: &mut Function) -> Posted {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(90) {
            if let Ok(posted) = self.posted.recv_timeout(Duration::from_millis(200)) {
                return posted;
            }
            if let Some(status) = function.child.try_wait().unwrap() {
                if let Ok(posted) = self.posted.recv_timeout(Duration::from_millis(500)) {
                    return posted;
                }
                panic!("the function exited ({status}) without posting; its output:\n{}", function.stop());
            }
        }
        panic!("the function posted nothing to the Runtime API in 90 s; its logs:\n{}", function.stop())
    }
}

/// The package, unzipped as Lambda does into a task root.
struct TaskRoot {
    root: PathBuf,
}

impl TaskRoot {
    /// `scripts/package-lambda` with this test's binary, then the zip extracted with the
    /// permissions it records (so a `bootstrap` without its execute bit would fail here too).
    fn from_package(article: &Article, bundled_config: Option<&Path>) -> Self {
        let dir = article.dir.join("lambda");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let zip = dir.join("coldstandby-lambda.zip");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/package-lambda");
        let mut package = Command::new(&script);
        package.args(["--binary", env!("CARGO_BIN_EXE_coldstandby"), "--output", zip.to_str().unwrap()]);
        if let Some(config) = bundled_config {
            package.arg(config);
        }
        let packaged = package.output().unwrap();
        assert!(packaged.status.success(), "package-lambda: {}", String::from_utf8_lossy(&packaged.stderr));

        // Whatever the umask, the unprivileged user must reach the task root.
        for path in [&article.dir, &dir] {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let root = dir.join("task");
        let extract = "import os, sys, zipfile\n\
            archive, root = sys.argv[1:3]\n\
            with zipfile.ZipFile(archive) as z:\n\
            \x20   for info in z.infolist():\n\
            \x20       z.extract(info, root)\n\
            \x20       os.chmod(os.path.join(root, info.filename), (info.external_attr >> 16) & 0o777)\n";
        let unzipped = Command::new("python3")
            .args(["-c", extract, zip.to_str().unwrap(), root.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(unzipped.status.success(), "unzip: {}", String::from_utf8_lossy(&unzipped.stderr));
        // Read-only, as /var/task is. (Root ignores permissions, which is why the function runs
        // as another user when the tests run as root, and why `unchanged` checks afterwards.)
        std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o555)).unwrap();
        Self { root }
    }

    fn listing(&self) -> Vec<(String, u64, u32)> {
        let mut listing: Vec<_> = std::fs::read_dir(&self.root)
            .unwrap()
            .map(|entry| {
                let entry = entry.unwrap();
                let metadata = entry.metadata().unwrap();
                (
                    entry.file_name().to_string_lossy().into_owned(),
                    metadata.len(),
                    metadata.permissions().mode(),
                )
            })
            .collect();
        listing.sort();
        listing
    }
}

impl Drop for TaskRoot {
    fn drop(&mut self) {
        let _ = std::fs::set_permissions(&self.root, std::fs::Permissions::from_mode(0o755));
    }
}

fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").map(|m| m.uid() == 0).unwrap_or(false)
}

/// The bootstrap process, started as Lambda starts it.
struct Function {
    child: Child,
    logs: Receiver<String>,
    collected: String,
}

impl Function {
    /// `bootstrap`, no arguments, working directory the task root, and only what Lambda puts in
    /// a provided.al2023 function's environment plus the function's own variables (`extra`).
    fn start(task: &TaskRoot, api: &RuntimeApi, article: &Article, extra: &[(&str, &str)]) -> Self {
        let mut command = Command::new(task.root.join("bootstrap"));
        command
            .env_clear()
            .current_dir(&task.root)
            .env("LAMBDA_TASK_ROOT", &task.root)
            .env("LAMBDA_RUNTIME_DIR", "/var/runtime")
            .env("_HANDLER", "bootstrap")
            .env("AWS_LAMBDA_RUNTIME_API", &api.address)
            .env("AWS_LAMBDA_FUNCTION_NAME", "coldstandby")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", MEMORY_LIMIT_MB.to_string())
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/coldstandby")
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "2026/12/01/[$LATEST]0123456789abcdef0123456789abcdef")
            .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
            .env("AWS_LAMBDA_LOG_LEVEL", "INFO")
            .env("AWS_REGION", REGION)
            .env("AWS_DEFAULT_REGION", REGION)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_SESSION_TOKEN", "testing")
            .env("PATH", "/usr/local/bin:/usr/bin/:/bin:/opt/bin")
            .env(
                "LD_LIBRARY_PATH",
                "/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib",
            )
            .env("LANG", "en_US.UTF-8")
            .env("TZ", ":UTC")
            // The function's own variable: EC2's endpoint (moto here; a VPC endpoint in a VPC).
            .env("AWS_ENDPOINT_URL", &article.moto.endpoint)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (name, value) in extra {
            command.env(name, value);
        }
        if running_as_root() {
            command.uid(UNPRIVILEGED_UID).gid(UNPRIVILEGED_UID);
        }
        let mut child = command.spawn().unwrap();
        // Lambda sends both streams to CloudWatch Logs; read both, line by line.
        let (send, logs) = channel();
        for stream in [
            child.stdout.take().map(|s| Box::new(s) as Box<dyn Read + Send>),
            child.stderr.take().map(|s| Box::new(s) as Box<dyn Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let send = send.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    let _ = send.send(line);
                }
            });
        }
        Self { child, logs, collected: String::new() }
    }

    fn drain_logs(&mut self) -> &str {
        while let Ok(line) = self.logs.try_recv() {
            self.collected.push_str(&line);
            self.collected.push('\n');
        }
        &self.collected
    }

    /// The peak resident set size since exec (VmHWM), in KiB.
    fn peak_resident_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let line = status.lines().find(|line| line.starts_with("VmHWM:")).expect("VmHWM in /proc status");
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    }

    /// Wait for the process to exit by itself, at most `limit`.
    fn wait_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let started = Instant::now();
        while started.elapsed() < limit {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    /// Stop the process (Lambda freezes or ends it between invocations) and return its logs.
    fn stop(&mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::thread::sleep(Duration::from_millis(100));
        self.drain_logs().to_owned()
    }
}

impl Drop for Function {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn event(article: &Article, name: &str) -> String {
    std::fs::read_to_string(article.event(name)).unwrap()
}

fn config_text(article: &Article) -> String {
    std::fs::read_to_string(&article.config).unwrap()
}

#[test]
fn the_package_serves_alarm_events_as_lambda_runs_it() {
    let article = Article::new("contract");
    let (topic, queue) = common::notification_topic(&article.runtime, &article.sdk);
    common::with_notifications(&article, &topic);
    let config = config_text(&article);
    let events = vec![
        event(&article, "cpu-alarm.json"),
        // A metric alarm that watches another instance: refused, a permanent error.
        event(&article, "cpu-alarm.json").replace(&article.primary, "i-0fedcba9876543210"),
        event(&article, "cpu-ok.json"),
    ];
    let task = TaskRoot::from_package(&article, None);
    let before = task.listing();
    let api = RuntimeApi::serve(events);
    let mut function = Function::start(&task, &api, &article, &[("COLDSTANDBY_CONFIG", &config)]);

    // 1. The ALARM: the failover is done in EC2 before the response is posted.
    let first = api.next_post(&mut function);
    assert_eq!(first.path, "/2018-06-01/runtime/invocation/req-1/response", "{first:?}");
    let handled = first.json();
    assert_eq!(handled["decision"], "acted", "{handled}");
    assert_eq!(handled["groups"][0]["outcome"]["result"], "failed-over", "{handled}");
    assert_eq!(article.instance(&article.standby).0, InstanceStateName::Running);
    assert_eq!(article.instance(&article.primary).0, InstanceStateName::Stopped);
    // ... and the team is told, by the function itself.
    let told = common::notifications(&article.runtime, &article.sdk, &queue);
    assert_eq!(told.len(), 1, "{told:?}");
    assert_eq!(told[0].1["result"], "failed-over");
    assert_eq!(told[0].1["to"].as_str(), Some(&*article.standby));
    assert!(told[0].1["source"].as_str().unwrap().ends_with("(lambda)"), "{told:?}");

    // 2. A permanent failure: answered as a refusal (a function error would make Lambda retry
    // the same refusal twice), naming our error; nothing changed.
    let second = api.next_post(&mut function);
    assert_eq!(second.path, "/2018-06-01/runtime/invocation/req-2/response", "{second:?}");
    let refused = second.json();
    assert_eq!(refused["decision"], "refused", "{refused}");
    assert_eq!(refused["retry"], false, "{refused}");
    assert_eq!(refused["errorType"], "ColdStandby.DimensionMismatch", "{refused}");
    assert!(refused["errorMessage"].as_str().unwrap().contains("i-0fedcba9876543210"), "{refused}");
    assert_eq!(article.instance(&article.standby).0, InstanceStateName::Running, "nothing changed");

    // 3. The same process keeps serving: an OK event is acknowledged as ignored.
    let third = api.next_post(&mut function);
    assert_eq!(third.path, "/2018-06-01/runtime/invocation/req-3/response", "{third:?}");
    assert_eq!(third.json()["decision"], "ignored");
    assert!(function.child.try_wait().unwrap().is_none(), "the function exited after serving");

    let peak_kib = function.peak_resident_kib();
    let logs = function.stop();
    eprintln!("bootstrap peak resident memory over three invocations: {:.1} MB", peak_kib as f64 / 1024.0);
    assert!(
        peak_kib < MEMORY_LIMIT_MB * 1024,
        "peak resident memory {peak_kib} KiB exceeds the function's {MEMORY_LIMIT_MB} MB"
    );
    assert_eq!(task.listing(), before, "the function wrote to its read-only task root");

    // JSON logs (AWS_LAMBDA_LOG_FORMAT=JSON), each step line carrying its request id.
    let lines: Vec<Value> = logs.lines().filter_map(|line| serde_json::from_str(line).ok()).collect();
    let steps: Vec<&Value> = lines.iter().filter(|line| line["step"].is_string()).collect();
    for step in ["started", "fenced", "promoted", "recorded", "finished"] {
        assert!(steps.iter().any(|line| line["step"] == step), "no `{step}` log line in:\n{logs}");
    }
    for line in &steps {
        let request_ids: Vec<&Value> =
            line["spans"].as_array().into_iter().flatten().filter_map(|span| span.get("requestId")).collect();
        assert_eq!(request_ids, [&Value::from("req-1")], "a step line without its request id: {line}");
    }
    // One summary line per outcome, whatever the subscriptions.
    let outcomes: Vec<&Value> = lines.iter().filter(|line| line["result"].is_string()).collect();
    assert_eq!(outcomes.len(), 1, "one outcome line:\n{logs}");
    assert_eq!(outcomes[0]["result"], "failed-over");
    assert!(outcomes[0]["recovery_ms"].is_u64(), "{}", outcomes[0]);
    assert_eq!(outcomes[0]["to"].as_str(), Some(&*article.standby), "{}", outcomes[0]);
    let failure = lines.iter().find(|line| line["error_type"].is_string()).expect("the failure is logged");
    assert_eq!(failure["error_type"], "ColdStandby.DimensionMismatch");
    assert_eq!(failure["retry"], "Permanent", "{failure}");
    assert!(logs.lines().all(|line| !line.contains('\u{1b}')), "colour codes in the logs:\n{logs}");
}

#[test]
fn an_invalid_configuration_is_an_init_error_and_the_process_exits() {
    let article = Article::new("contract-bad-config");
    let task = TaskRoot::from_package(&article, None);
    let api = RuntimeApi::serve(vec![event(&article, "cpu-alarm.json")]);
    let broken = "region = \"ap-northeast-1\"\n[[group]]\nname = \"web\"\n";
    let mut function = Function::start(&task, &api, &article, &[("COLDSTANDBY_CONFIG", broken)]);

    let posted = api.next_post(&mut function);
    assert_eq!(posted.path, "/2018-06-01/runtime/init/error", "{posted:?}");
    let error = posted.json();
    assert_eq!(error["errorType"], "ColdStandby.InvalidConfiguration", "{error}");
    assert_eq!(
        posted.headers.get("lambda-runtime-function-error-type").map(String::as_str),
        Some("ColdStandby.InvalidConfiguration"),
        "{posted:?}"
    );
    assert!(error["errorMessage"].as_str().unwrap().contains("group[0].primary"), "{error}");
    let status = function.wait_exit(Duration::from_secs(30)).expect("the process exits after an init error");
    assert!(!status.success(), "{status}");
    assert!(api.posted.try_recv().is_err(), "nothing else was posted");
    assert_eq!(article.instance(&article.primary).0, InstanceStateName::Running);
    assert_eq!(article.instance(&article.standby).0, InstanceStateName::Stopped);
}

#[test]
fn a_configuration_bundled_in_the_package_is_read_from_the_task_root() {
    let article = Article::new("contract-bundled");
    let task = TaskRoot::from_package(&article, Some(&article.config));
    let api = RuntimeApi::serve(vec![event(&article, "cpu-alarm.json")]);
    let mut function = Function::start(&task, &api, &article, &[]);
    let posted = api.next_post(&mut function);
    assert_eq!(
        posted.path,
        "/2018-06-01/runtime/invocation/req-1/response",
        "{posted:?}\n{}",
        function.stop()
    );
    assert_eq!(article.instance(&article.standby).0, InstanceStateName::Running);
}

#[test]
fn text_logs_when_lambda_asks_for_them() {
    let article = Article::new("contract-text-logs");
    let config = config_text(&article);
    let task = TaskRoot::from_package(&article, None);
    let api = RuntimeApi::serve(vec![event(&article, "cpu-ok.json")]);
    let extra = [("COLDSTANDBY_CONFIG", config.as_str()), ("AWS_LAMBDA_LOG_FORMAT", "Text")];
    let mut function = Function::start(&task, &api, &article, &extra);
    let posted = api.next_post(&mut function);
    assert!(posted.path.ends_with("/req-1/response"), "{posted:?}");
    let logs = function.stop();
    assert!(logs.contains("configuration loaded"), "{logs}");
    assert!(logs.lines().all(|line| serde_json::from_str::<Value>(line).is_err()), "JSON lines:\n{logs}");
    assert!(logs.contains("requestId=req-1") || logs.contains("requestId=\"req-1\""), "{logs}");
}

/// `scripts/package-lambda --binary BINARY ...`: its exit status and what it said.
fn package(binary: &Path, extra: &[&str]) -> (Option<i32>, String) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/package-lambda");
    let dir = std::env::temp_dir().join(format!("coldstandby-package-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let output = Command::new(script)
        .args(["--binary", binary.to_str().unwrap(), "--output", dir.join("out.zip").to_str().unwrap()])
        .args(extra)
        .output()
        .unwrap();
    let said =
        format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.code(), said)
}

#[test]
fn package_lambda_refuses_a_binary_provided_al2023_cannot_load() {
    let dir = std::env::temp_dir().join(format!("coldstandby-refused-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ours = Path::new(env!("CARGO_BIN_EXE_coldstandby"));

    let (status, said) = package(ours, &[]);
    assert_eq!(status, Some(0), "{said}");
    assert!(said.contains("x86_64, glibc symbols up to 2."), "{said}");

    // The same binary claimed for Graviton, and a binary for another machine.
    let (status, said) = package(ours, &["--arch", "arm64"]);
    assert_eq!(status, Some(1), "{said}");
    assert!(said.contains("built for Advanced Micro Devices X86-64, but the package is for arm64"), "{said}");
    let mut elf = std::fs::read(ours).unwrap();
    elf[18..20].copy_from_slice(&0x28u16.to_le_bytes()); // e_machine: ARM (32-bit)
    let foreign = dir.join("foreign");
    std::fs::write(&foreign, elf).unwrap();
    let (status, said) = package(&foreign, &[]);
    assert_eq!(status, Some(1), "{said}");
    assert!(said.contains("it is built for ARM, but the package is for x86_64"), "{said}");

    // Not an executable at all.
    let text = dir.join("script.sh");
    std::fs::write(&text, "#!/bin/sh\n").unwrap();
    let (status, said) = package(&text, &[]);
    assert_eq!(status, Some(1), "{said}");
    assert!(said.contains("not an ELF file"), "{said}");

    // glibc newer than Amazon Linux 2023's 2.34: arc4random arrived in glibc 2.36.
    let source = dir.join("new.c");
    std::fs::write(&source, "#include <stdlib.h>\nint main(void) { return (int)(arc4random() & 1); }\n")
        .unwrap();
    let newer = dir.join("newer");
    let compiled = Command::new("cc").arg(&source).arg("-o").arg(&newer).output().unwrap();
    assert!(compiled.status.success(), "cc: {}", String::from_utf8_lossy(&compiled.stderr));
    let (status, said) = package(&newer, &[]);
    assert_eq!(status, Some(1), "{said}");
    assert!(said.contains("needs glibc 2.36, but provided.al2023 has 2.34"), "{said}");
}

/// Twenty groups whose primaries are in ap-northeast-1a (the article's group and 19 more), each
/// with an alarm in moto's CloudWatch set to ALARM: an Availability Zone's outage as the function
/// sees it. Returns the groups' (primary, standby) ids and the configuration text (with the lease).
#[expect(clippy::too_many_lines, reason = "a storm's moto setup, resource after resource")]
fn storm_setup(article: &Article) -> (Vec<(String, String)>, String) {
    let ec2 = &article.client;
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&article.sdk);
    let dynamodb = aws_sdk_dynamodb::Client::new(&article.sdk);
    let mut pairs = vec![(article.primary.clone(), article.standby.clone())];
    article.runtime.block_on(async {
        let images = ec2.describe_images().owners("amazon").send().await.unwrap();
        let image = images.images()[0].image_id().unwrap().to_owned();
        for _ in 1..20 {
            let mut ids = Vec::new();
            for zone in ["ap-northeast-1a", "ap-northeast-1c"] {
                ids.push(common::launch(ec2, &image, common::Placed::Zone(zone)).await);
            }
            ec2.stop_instances().instance_ids(&ids[1]).send().await.unwrap();
            pairs.push((ids[0].clone(), ids[1].clone()));
        }
        for (n, (primary, _)) in pairs.iter().enumerate() {
            let dimension =
                aws_sdk_cloudwatch::types::Dimension::builder().name("InstanceId").value(primary).build();
            cloudwatch
                .put_metric_alarm()
                .alarm_name(format!("g{n}-down"))
                .namespace("AWS/EC2")
                .metric_name("StatusCheckFailed")
                .dimensions(dimension)
                .statistic(aws_sdk_cloudwatch::types::Statistic::Maximum)
                .period(60)
                .evaluation_periods(1)
                .threshold(1.0)
                .comparison_operator(
                    aws_sdk_cloudwatch::types::ComparisonOperator::GreaterThanOrEqualToThreshold,
                )
                .send()
                .await
                .unwrap();
            let alarm = cloudwatch.set_alarm_state().alarm_name(format!("g{n}-down"));
            alarm
                .state_value(aws_sdk_cloudwatch::types::StateValue::Alarm)
                .state_reason("down")
                .send()
                .await
                .unwrap();
        }
        let key = |name: &str| {
            aws_sdk_dynamodb::types::KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(aws_sdk_dynamodb::types::KeyType::Hash)
                .build()
                .unwrap()
        };
        let attribute = aws_sdk_dynamodb::types::AttributeDefinition::builder()
            .attribute_name("group")
            .attribute_type(aws_sdk_dynamodb::types::ScalarAttributeType::S)
            .build()
            .unwrap();
        dynamodb
            .create_table()
            .table_name("coldstandby-leases")
            .billing_mode(aws_sdk_dynamodb::types::BillingMode::PayPerRequest)
            .attribute_definitions(attribute)
            .key_schema(key("group"))
            .send()
            .await
            .unwrap();
    });
    let mut config = format!("region = \"{REGION}\"\n[lease]\ntable = \"coldstandby-leases\"\n");
    for (n, (primary, standby)) in pairs.iter().enumerate() {
        config.push_str(&format!(
            "[[group]]\nname = \"g{n}\"\nprimary = \"{primary}\"\nstandbys = [\"{standby}\"]\nalarms = [\"g{n}-down\"]\n"
        ));
    }
    (pairs, config)
}

fn storm_event(alarm: &str, at: &str) -> String {
    serde_json::json!({
        "source": "aws.cloudwatch",
        "alarmArn": format!("arn:aws:cloudwatch:{REGION}:111122223333:alarm:{alarm}"),
        "accountId": "111122223333",
        "time": at,
        "region": REGION,
        "alarmData": {
            "alarmName": alarm,
            "state": {"value": "ALARM", "reason": "down", "timestamp": at},
            "previousState": {"value": "OK", "reason": "up", "timestamp": "2026-11-20T02:41:09.001+0000"},
            "configuration": {"metrics": []}
        }
    })
    .to_string()
}

#[test]
fn an_alarm_storm_of_twenty_groups_is_one_fleet_failover_through_the_lambda_path() {
    let article = Article::new("contract-storm");
    let (pairs, config) = storm_setup(&article);
    // The alarms entered ALARM during the setup, just now: the events tell of those changes (the
    // function reads each alarm again, and acts only on what it still shows).
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
    let at = coldstandby_alarm::timestamp::format(coldstandby_engine::Timestamp::from_unix_millis(
        now.as_millis() as u64,
    ));
    let events = vec![storm_event("g0-down", &at), storm_event("g7-down", &at)];
    let task = TaskRoot::from_package(&article, None);
    let api = RuntimeApi::serve(events);
    let mut function = Function::start(&task, &api, &article, &[("COLDSTANDBY_CONFIG", &config)]);

    // The first event fails every group whose alarm is in ALARM over, in one invocation.
    let first = api.next_post(&mut function);
    assert_eq!(
        first.path,
        "/2018-06-01/runtime/invocation/req-1/response",
        "{first:?}\n{}",
        function.drain_logs()
    );
    let handled = first.json();
    assert_eq!(handled["decision"], "acted", "{handled}");
    let groups = handled["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 20, "{handled}");
    assert!(groups.iter().all(|g| g["outcome"]["result"] == "failed-over"), "{handled}");
    for (primary, standby) in &pairs {
        assert_eq!(article.instance(standby).0, InstanceStateName::Running, "{standby}");
        assert_eq!(article.instance(primary).0, InstanceStateName::Stopped, "{primary}");
        let (_, tags) = article.instance(standby);
        assert!(tags["coldstandby:trigger"].ends_with(" lease-epoch 1"), "{tags:?}");
    }

    // The next event of the storm tells of a state change from before its group's standby was
    // activated (by the first event's run): history; nothing moves.
    let second = api.next_post(&mut function);
    assert_eq!(second.path, "/2018-06-01/runtime/invocation/req-2/response", "{second:?}");
    let handled = second.json();
    let g7 = handled["groups"].as_array().unwrap().iter().find(|g| g["group"] == "g7").unwrap().clone();
    assert_eq!(g7["result"], "history", "{handled}");
    for (primary, standby) in &pairs {
        assert_eq!(article.instance(standby).0, InstanceStateName::Running, "{standby}");
        assert_eq!(article.instance(primary).0, InstanceStateName::Stopped, "{primary}");
    }
    let logs = function.stop();
    assert!(logs.contains("its alarm is firing too"), "the storm is logged:\n{logs}");
}
