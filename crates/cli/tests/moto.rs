//! The real binary against a real EC2 API implementation: moto's server on loopback. Each test
//! starts its own server on a free port, builds a VPC with subnets in two Availability Zones, a
//! running primary and a stopped standby, drives `failover`, `status` and `handle-event`, and
//! checks the instances' states and tags through the API afterwards.
//!
//! Moto changes states instantly and is more lenient than EC2 in places; slow and illegal
//! transitions are covered on the simulated region. `scripts/test` installs moto when missing.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::Duration;

use aws_sdk_ec2::types::InstanceStateName;
use common::{aws_environment, json, stderr, write_config, Article};
use serde_json::Value;

#[test]
fn the_articles_failover_on_ec2_then_a_no_op_rerun_and_status() {
    let article = Article::new("failover");
    assert_eq!(article.zone(&article.primary), "ap-northeast-1a");
    assert_eq!(article.zone(&article.standby), "ap-northeast-1c");

    let dry = article.run_with_config("failover", &["--group", "web", "--dry-run", "--output", "json"]);
    assert_eq!(dry.status.code(), Some(0), "{}", stderr(&dry));
    assert_eq!(json(&dry)["outcome"]["result"], "planned");
    assert_eq!(article.instance(&article.standby).0, InstanceStateName::Stopped, "a dry run changes nothing");

    let first = article.run_with_config("failover", &["--group", "web", "--output", "json"]);
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    let report = json(&first);
    assert_eq!(report["outcome"]["result"], "failed-over");
    assert_eq!(report["outcome"]["to"], article.standby.as_str());

    let (primary_state, primary_tags) = article.instance(&article.primary);
    let (standby_state, standby_tags) = article.instance(&article.standby);
    assert_eq!(primary_state, InstanceStateName::Stopped);
    assert_eq!(standby_state, InstanceStateName::Running);
    assert_eq!(primary_tags["coldstandby:role"], "standby");
    assert_eq!(standby_tags["coldstandby:role"], "active");
    assert_eq!(standby_tags["coldstandby:group"], "web");

    let again = article.run_with_config("failover", &["--group", "web", "--output", "json"]);
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    assert_eq!(json(&again)["outcome"]["result"], "already-active");
    let calls = json(&again)["calls"].clone();
    assert!(calls.get("StopInstances").is_none() && calls.get("StartInstances").is_none(), "{calls}");

    let status = article.run_with_config("status", &["--output", "json"]);
    assert_eq!(status.status.code(), Some(0), "{}", stderr(&status));
    let web = &json(&status)[0];
    assert_eq!(web["active"], article.standby.as_str());
    assert_eq!(web["active_source"], "recorded");
    assert_eq!(web["healthy"], true);
}

#[test]
fn handle_event_acts_only_on_alarm_and_only_once() {
    let article = Article::new("events");
    for (name, decision) in [("cpu-ok.json", "ignored"), ("cpu-insufficient-data.json", "ignored")] {
        let event = article.event(name);
        let output = article
            .run_with_config("handle-event", &["--event", event.to_str().unwrap(), "--output", "json"]);
        assert_eq!(output.status.code(), Some(0), "{name}: {}", stderr(&output));
        assert_eq!(json(&output)["decision"], decision, "{name}");
        assert_eq!(
            article.instance(&article.primary).0,
            InstanceStateName::Running,
            "{name} changes nothing"
        );
        assert_eq!(
            article.instance(&article.standby).0,
            InstanceStateName::Stopped,
            "{name} changes nothing"
        );
    }

    let alarm = article.event("cpu-alarm.json");
    let acted =
        article.run_with_config("handle-event", &["--event", alarm.to_str().unwrap(), "--output", "json"]);
    assert_eq!(acted.status.code(), Some(0), "{}", stderr(&acted));
    let handled = json(&acted);
    assert_eq!(handled["decision"], "acted");
    assert_eq!(handled["groups"][0]["outcome"]["result"], "failed-over");
    let (standby_state, tags) = article.instance(&article.standby);
    assert_eq!(standby_state, InstanceStateName::Running);
    assert!(
        tags["coldstandby:trigger"].contains("web-primary-cpu-high ALARM at 2026-11-20T03:02:07.118"),
        "{tags:?}"
    );

    // The same delivery again (Lambda's at-least-once): recognised, nothing done.
    let duplicate =
        article.run_with_config("handle-event", &["--event", alarm.to_str().unwrap(), "--output", "json"]);
    assert_eq!(duplicate.status.code(), Some(0), "{}", stderr(&duplicate));
    assert_eq!(json(&duplicate)["groups"][0]["result"], "duplicate");
    assert_eq!(article.instance(&article.standby).0, InstanceStateName::Running);
    assert_eq!(article.instance(&article.primary).0, InstanceStateName::Stopped);

    // Text output says what it did.
    let text = article.run_with_config("handle-event", &["--event", alarm.to_str().unwrap()]);
    let out = String::from_utf8_lossy(&text.stdout);
    assert!(out.contains("already handled"), "{out}");
}

#[test]
fn an_alarm_no_group_lists_is_logged_and_succeeds() {
    let article = Article::new("no-group");
    let event = article.event("cpu-alarm.json");
    let text =
        std::fs::read_to_string(&event).unwrap().replace("web-primary-cpu-high", "db-primary-cpu-high");
    std::fs::write(&event, text).unwrap();
    let output = article.run_with_config("handle-event", &["--event", event.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(String::from_utf8_lossy(&output.stdout).contains("No group lists alarm `db-primary-cpu-high`"));
    assert_eq!(article.instance(&article.primary).0, InstanceStateName::Running);
}

#[test]
fn an_unknown_instance_id_is_named_and_nothing_changes() {
    let article = Article::new("unknown-id");
    write_config(&article.config, &article.primary, "i-0badc0ffee0000000");
    let failover = article
        .run_with_config("handle-event", &["--event", article.event("cpu-alarm.json").to_str().unwrap()]);
    assert_eq!(failover.status.code(), Some(1));
    assert!(stderr(&failover).contains("i-0badc0ffee0000000 not found"), "{}", stderr(&failover));
    assert_eq!(article.instance(&article.primary).0, InstanceStateName::Running, "nothing changed");

    let status = article.run_with_config("status", &[]);
    assert_eq!(status.status.code(), Some(0));
    let out = String::from_utf8_lossy(&status.stdout);
    assert!(out.contains("i-0badc0ffee0000000 was not returned by DescribeInstances"), "{out}");
}

#[test]
fn a_malformed_event_is_rejected_and_nothing_changes() {
    let article = Article::new("malformed");
    let broken = article.dir.join("broken.json");
    for (content, expected) in [
        ("{\"source\": \"aws.cloudwatch\", \"alarmData\": {}}", "not a CloudWatch alarm event"),
        ("this is not json", "not valid JSON"),
    ] {
        std::fs::write(&broken, content).unwrap();
        let output = article.run_with_config("handle-event", &["--event", broken.to_str().unwrap()]);
        assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
        assert!(stderr(&output).contains(expected), "{}", stderr(&output));
    }
    assert_eq!(article.instance(&article.primary).0, InstanceStateName::Running);
    assert_eq!(article.instance(&article.standby).0, InstanceStateName::Stopped);
}

/// A stand-in for the Lambda Runtime API: serves one event, then records the function's answer.
/// Plain HTTP/1.1 on loopback, keep-alive, just the two routes a function calls.
struct RuntimeApi {
    address: String,
    answer: std::sync::mpsc::Receiver<(String, String)>,
}

impl RuntimeApi {
    fn serve(event: String) -> Self {
        use std::io::{BufRead, BufReader, Read, Write};
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let (send, answer) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut served = false;
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut writer = stream;
                loop {
                    let mut request_line = String::new();
                    if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
                        break;
                    }
                    let mut length = 0;
                    loop {
                        let mut header = String::new();
                        reader.read_line(&mut header).unwrap();
                        if header == "\r\n" {
                            break;
                        }
                        if let Some(value) = header.to_ascii_lowercase().strip_prefix("content-length:") {
                            length = value.trim().parse().unwrap();
                        }
                    }
                    let mut body = vec![0; length];
                    reader.read_exact(&mut body).unwrap();
                    let path = request_line.split_whitespace().nth(1).unwrap_or_default().to_owned();
                    if request_line.starts_with("GET") && !served {
                        served = true;
                        let deadline = std::time::SystemTime::now()
                            .duration_since(std::time::UNIX_EPOCH)
                            .unwrap()
                            .as_millis()
                            + 120_000;
                        let head = format!(
                            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nLambda-Runtime-Aws-Request-Id: test-1\r\nLambda-Runtime-Deadline-Ms: {deadline}\r\nLambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:ap-northeast-1:111122223333:function:coldstandby\r\nContent-Length: {}\r\n\r\n",
                            event.len()
                        );
                        writer.write_all(head.as_bytes()).unwrap();
                        writer.write_all(event.as_bytes()).unwrap();
                    } else if request_line.starts_with("GET") {
                        std::thread::sleep(Duration::from_secs(600)); // no second event
                    } else {
                        writer.write_all(b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n").unwrap();
                        let _ = send.send((path, String::from_utf8_lossy(&body).into_owned()));
                    }
                }
            }
        });
        Self { address, answer }
    }
}

fn invoke_lambda(article: &Article, config: &str, event: String) -> (String, String) {
    let api = RuntimeApi::serve(event);
    let mut function = Command::new(env!("CARGO_BIN_EXE_coldstandby"))
        .arg("lambda")
        .envs(aws_environment(&article.moto))
        .env("AWS_LAMBDA_RUNTIME_API", &api.address)
        .env("AWS_LAMBDA_FUNCTION_NAME", "coldstandby")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("COLDSTANDBY_CONFIG", config)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let answer = api.answer.recv_timeout(Duration::from_secs(60));
    let _ = function.kill();
    let output = function.wait_with_output().unwrap();
    let logs = String::from_utf8_lossy(&output.stderr).into_owned();
    let (path, body) = answer.unwrap_or_else(|_| panic!("the function never answered; its logs:\n{logs}"));
    (format!("{path} {body}"), logs)
}

#[test]
fn the_lambda_function_fails_over_on_an_alarm_and_logs_json_steps() {
    let article = Article::new("lambda");
    let config = std::fs::read_to_string(&article.config).unwrap();
    let event = std::fs::read_to_string(article.event("cpu-alarm.json")).unwrap();
    let (answer, logs) = invoke_lambda(&article, &config, event);
    assert!(answer.starts_with("/2018-06-01/runtime/invocation/test-1/response "), "{answer}\n{logs}");
    assert!(answer.contains("\"decision\":\"acted\"") && answer.contains("failed-over"), "{answer}");
    assert_eq!(article.instance(&article.standby).0, InstanceStateName::Running);
    assert_eq!(article.instance(&article.primary).0, InstanceStateName::Stopped);

    let steps: Vec<Value> = logs
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .filter(|l: &Value| l["step"].is_string())
        .collect();
    for step in ["started", "fenced", "promoted", "recorded", "finished"] {
        assert!(steps.iter().any(|l| l["step"] == step), "no `{step}` log line in:\n{logs}");
    }
    assert!(steps.iter().all(|l| l["group"] == "web" && l["elapsed_ms"].is_u64()), "{logs}");
}

#[test]
fn the_lambda_function_with_an_invalid_config_fails_every_invocation_and_touches_nothing() {
    let article = Article::new("lambda-bad-config");
    let event = std::fs::read_to_string(article.event("cpu-alarm.json")).unwrap();
    let (answer, _) =
        invoke_lambda(&article, "region = \"ap-northeast-1\"\n[[group]]\nname = \"web\"\n", event);
    assert!(answer.starts_with("/2018-06-01/runtime/invocation/test-1/error "), "{answer}");
    assert!(answer.contains("invalid configuration") && answer.contains("group[0].primary"), "{answer}");
    assert_eq!(article.instance(&article.primary).0, InstanceStateName::Running);
    assert_eq!(article.instance(&article.standby).0, InstanceStateName::Stopped);
}
