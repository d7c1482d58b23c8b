//! The `coldstandby` binary end to end: exit statuses, output formats, and that a bad config
//! changes nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn coldstandby(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_coldstandby")).args(args).output().expect("the binary runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

fn json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", stdout(output)))
}

/// A scratch directory unique to one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("coldstandby-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `command` on the simulated region kept in `state`, for `config`.
fn on_sim_state(command: &[&str], config: &Path, state: &Path) -> Output {
    let mut args = command.to_vec();
    args.extend([
        "--config",
        config.to_str().unwrap(),
        "--target",
        "sim",
        "--sim-state",
        state.to_str().unwrap(),
    ]);
    coldstandby(&args)
}

fn example_config() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/coldstandby.toml")
}

#[test]
fn the_demo_prints_a_timeline_and_an_rto_breakdown() {
    let output = coldstandby(&["demo"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    for expected in
        ["ALARM", "confirmed stopped", "StartInstances accepted", "RTO breakdown", "detection", "total"]
    {
        assert!(text.contains(expected), "no `{expected}` in:\n{text}");
    }
    assert!(stderr(&output).is_empty(), "no progress noise when not on a terminal");
}

#[test]
fn the_demo_with_watchers_detects_within_three_seconds_where_the_alarm_takes_a_minute_or_never() {
    for failure in ["cpu-load", "dies"] {
        let watched =
            json(&coldstandby(&["demo", "--detector", "watch", "--failure", failure, "--output", "json"]));
        assert_eq!(watched["outcome"]["result"], "failed-over", "{failure}: {watched}");
        let detection = watched["rto"]["detection_ms"].as_u64().unwrap();
        assert!(detection < 3_000, "{failure}: detection {detection} ms");
        assert_eq!(watched["scenario"]["detector"], "watch");
        let verdicts: Vec<&str> = watched["watch"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|line| line["what"].as_str())
            .filter(|what| what.starts_with("failed:"))
            .collect();
        assert!(!verdicts.is_empty(), "{failure}: a verdict in {}", watched["watch"]);
        // The run started at the verdict, and the world shows it: the standby runs, the primary stopped.
        let transitions = watched["transitions"].as_array().unwrap();
        assert!(transitions
            .iter()
            .any(|t| t["to"] == "running" && t["instance"] == watched["scenario"]["standby"]));
        assert!(transitions
            .iter()
            .any(|t| t["to"] == "stopped" && t["instance"] == watched["scenario"]["primary"]));
    }
    let alarmed = json(&coldstandby(&["demo", "--output", "json"]));
    assert!(alarmed["rto"]["detection_ms"].as_u64().unwrap() > 30_000, "the alarm's minute");
    let dies = json(&coldstandby(&["demo", "--failure", "dies", "--output", "json"]));
    assert!(dies["outcome"].is_null(), "a dead primary never alarms under `missing`");
    let text = stdout(&coldstandby(&["demo", "--detector", "watch"]));
    assert!(text.contains("failure to both watchers agreeing"), "{text}");
}

#[test]
fn the_demo_json_pairs_every_change_with_its_observation() {
    for order in ["fence-first", "parallel"] {
        let output = coldstandby(&["demo", "--seed", "4", "--order", order, "--output", "json"]);
        assert_eq!(output.status.code(), Some(0));
        let demo = json(&output);
        assert_eq!(demo["ordering"], order);
        assert_eq!(demo["outcome"]["result"], "failed-over");
        let transitions = demo["transitions"].as_array().unwrap();
        assert_eq!(transitions.len(), 4);
        for transition in transitions {
            let changed = transition["changed_at"].as_u64().unwrap();
            let observed = transition["observed_at"].as_u64().unwrap();
            assert!(observed > changed && observed - changed <= 1000, "{transition}");
            assert_eq!(transition["lag_ms"].as_u64().unwrap(), observed - changed);
        }
        let rto = &demo["rto"];
        // Beyond the instances' own time: at most a second of polling per change, and the wait
        // for answers that cannot predate the stop and the start (10 s after each request).
        assert!(rto["overhead_ms"].as_u64().unwrap() <= 1000 + 2 * 10_000, "{rto}");
        for key in ["detection_ms", "fence_ms", "promote_ms", "verify_ms", "record_ms", "total_ms"] {
            assert!(rto[key].is_u64(), "rto.{key} missing in {rto}");
        }
        assert!(demo["events"].as_array().unwrap().iter().all(|e| e["at"].is_u64() && e["step"].is_string()));
    }
}

#[test]
fn the_demo_with_a_mover_runs_to_clients_served_by_the_standby() {
    for mechanism in ["overlay-ip", "dns", "target-group", "elastic-ip"] {
        let text = stdout(&coldstandby(&["demo", "--redirect", mechanism]));
        for expected in [
            "readiness check passed",
            "clients reach it",
            "  readiness ",
            "  clients ",
            "failure to clients served",
        ] {
            assert!(text.contains(expected), "{mechanism}: no `{expected}` in:\n{text}");
        }
        let output = coldstandby(&["demo", "--redirect", mechanism, "--output", "json"]);
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        let demo = json(&output);
        let rto = &demo["rto"];
        let part = |key: &str| rto[key].as_u64().unwrap_or_else(|| panic!("rto.{key} missing in {rto}"));
        assert!(part("readiness_ms") > 0 && part("clients_ms") > 0, "{mechanism}: {rto}");
        let parts: u64 = [
            "detection_ms",
            "fence_ms",
            "promote_ms",
            "verify_ms",
            "readiness_ms",
            "clients_ms",
            "record_ms",
        ]
        .into_iter()
        .map(part)
        .sum();
        assert_eq!(parts, part("total_ms"), "{mechanism}: the lines add up to the total");
        let events = demo["events"].as_array().unwrap();
        let step_index = |step: &str| events.iter().position(|event| event["step"] == step);
        let (fenced, changed, recorded) = (
            step_index("fenced").unwrap(),
            step_index("clients-moved").unwrap(),
            step_index("recorded").unwrap(),
        );
        assert!(fenced < changed && changed < recorded, "{mechanism}: fence, then clients, then the record");
    }
    // The DNS record waits for Route 53 to report the change in sync.
    let dns = json(&coldstandby(&["demo", "--redirect", "dns", "--output", "json"]));
    assert!(dns["rto"]["clients_ms"].as_u64().unwrap() >= 30_000, "{}", dns["rto"]);
}

#[test]
fn the_same_seed_prints_the_same_demo() {
    let run = |seed: &str| stdout(&coldstandby(&["demo", "--seed", seed, "--output", "json"]));
    assert_eq!(run("8"), run("8"));
    assert_ne!(run("8"), run("9"));
}

#[test]
fn a_bad_config_is_reported_whole_with_exit_3_and_nothing_is_done() {
    let dir = scratch("bad-config");
    let config = dir.join("bad.toml");
    std::fs::write(&config, "region = \"ap-northeast-1\"\n[[group]]\nname = \"web\"\nprimary = \"i-nope\"\nstandbys = []\ntimeout = 3\n").unwrap();
    let state = dir.join("sim.json");
    let config_arg = config.to_str().unwrap();
    let state_arg = state.to_str().unwrap();
    for command in ["failover", "status"] {
        let mut args = vec![command, "--config", config_arg, "--sim-state", state_arg];
        if command == "failover" {
            args.extend(["--group", "web"]);
        }
        let output = coldstandby(&args);
        assert_eq!(output.status.code(), Some(3), "{command}: {}", stderr(&output));
        let message = stderr(&output);
        for key in ["group[0].primary", "group[0].standbys", "group[0].timeout"] {
            assert!(message.contains(key), "{command}: `{key}` not named in:\n{message}");
        }
        assert!(message.contains("nothing was done"), "{message}");
        assert!(stdout(&output).is_empty());
        assert!(!state.exists(), "{command}: the simulated region was not even created");
    }
}

#[test]
fn an_unknown_group_is_a_usage_error() {
    let output =
        coldstandby(&["failover", "--config", example_config().to_str().unwrap(), "--group", "nope"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("defines no group `nope` (it defines: web, batch)"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn failover_then_status_then_failover_again_on_a_kept_simulated_region() {
    let dir = scratch("rehearsal");
    let state = dir.join("sim.json");
    let config = example_config();
    let base =
        ["--config", config.to_str().unwrap(), "--target", "sim", "--sim-state", state.to_str().unwrap()];
    let with = |extra: &[&'static str]| -> Vec<String> {
        let mut args: Vec<String> = extra.iter().map(ToString::to_string).collect();
        args.extend(base.iter().map(ToString::to_string));
        args
    };
    let run = |args: Vec<String>| coldstandby(&args.iter().map(String::as_str).collect::<Vec<_>>());

    let dry = run(with(&["failover", "--group", "web", "--dry-run"]));
    assert_eq!(dry.status.code(), Some(0));
    assert!(stdout(&dry).contains("promote i-0f9e8d7c6b5a40312 (stopped)"), "{}", stdout(&dry));
    assert!(!state.exists(), "a dry run saves nothing");

    let first = run(with(&["failover", "--group", "web", "--output", "json"]));
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    let report = json(&first);
    assert_eq!(report["outcome"]["to"], "i-0f9e8d7c6b5a40312");

    let status = json(&run(with(&["status", "--output", "json"])));
    let web = &status[0];
    assert_eq!(web["group"], "web");
    assert_eq!(web["active"], "i-0f9e8d7c6b5a40312");
    assert_eq!(web["active_source"], "recorded");
    assert_eq!(web["healthy"], true);
    assert_eq!(status[1]["active_source"], "configured-primary", "the other group is untouched");

    let again = run(with(&["failover", "--group", "web"]));
    assert_eq!(again.status.code(), Some(0));
    let text = stdout(&again);
    assert!(text.contains("already failed over"), "{text}");
    // The member already active is not offered as a standby to try.
    assert!(text.contains("nothing to fence: i-0f9e8d7c6b5a40312 is active and stays active"), "{text}");
    assert!(!text.contains("standbys to try"), "{text}");
}

#[test]
fn help_explains_the_commands_and_exit_statuses() {
    let output = coldstandby(&["--help"]);
    let text = stdout(&output);
    for expected in [
        "demo",
        "failover",
        "status",
        "backtest",
        "Exit status",
        "invalid input (configuration, alarm or data file)",
    ] {
        assert!(text.contains(expected), "no `{expected}` in --help:\n{text}");
    }
    let failover = stdout(&coldstandby(&["failover", "--help"]));
    assert!(failover.contains("--dry-run") && failover.contains("--sim-state"), "{failover}");
}

fn example(path: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples").join(path).to_str().unwrap().to_owned()
}

#[test]
fn backtest_prints_transitions_and_a_summary_and_json_for_scripts() {
    let alarm = example("alarms/cpu-4-of-5.json");
    let data = example("metrics/web-primary-cpu.csv");
    let text = coldstandby(&["backtest", "--alarm", &alarm, "--data", &data]);
    assert_eq!(text.status.code(), Some(0), "{}", stderr(&text));
    let out = stdout(&text);
    assert!(out.contains("ALARM transitions: 1"), "{out}");
    assert!(out.contains("3m 43s after the first breaching sample (2026-11-03T14:10:17Z)"), "{out}");

    let json_output = coldstandby(&["backtest", "--alarm", &alarm, "--data", &data, "--output", "json"]);
    let report = json(&json_output);
    let transitions = report["transitions"].as_array().unwrap();
    for transition in transitions {
        assert!(transition["at"].is_u64(), "times are Unix milliseconds: {transition}");
        for key in ["from", "to", "reason"] {
            assert!(transition[key].is_string(), "{key} in {transition}");
        }
    }
    assert_eq!(transitions.iter().filter(|t| t["to"] == "ALARM").count(), 1);
    assert_eq!(report["final_state"], "OK");
    assert_eq!(report["summary"]["alarms"][0]["delay_ms"], 223_000);

    let window = coldstandby(&[
        "backtest",
        "--alarm",
        &example("alarms/cpu-1-of-1.json"),
        "--data",
        &data,
        "--initial-state",
        "OK",
        "--from",
        "2026-11-03T00:00:00Z",
        "--until",
        "2026-11-03T12:00:00.000+0000",
        "--output",
        "json",
    ]);
    let report = json(&window);
    assert_eq!(report["summary"]["evaluations"], 721);
    assert_eq!(report["summary"]["alarm_transitions"], 1, "only the night's batch job");
}

#[test]
fn backtest_rejects_bad_inputs_naming_the_line_or_field() {
    let dir = scratch("backtest-bad");
    let alarm = example("alarms/cpu-1-of-1.json");
    let cases = [
        ("timestamp,value\n2026-11-01T00:00:00Z,1\n2026-11-01T00:01:00Z;2\n", "line 3: expected 2 fields"),
        (
            "timestamp,value\n2026-11-01T00:01:00Z,1\n2026-11-01T00:00:00Z,2\n",
            "line 3: timestamp 2026-11-01T00:00:00Z is earlier",
        ),
        ("", "file: is empty"),
        ("timestamp,value\n2026-11-01T00:00:00Z,lots\n", "line 2: `lots` is not a finite number"),
    ];
    for (index, (content, expected)) in cases.iter().enumerate() {
        let data = dir.join(format!("data-{index}.csv"));
        std::fs::write(&data, content).unwrap();
        let output = coldstandby(&["backtest", "--alarm", &alarm, "--data", data.to_str().unwrap()]);
        assert_eq!(output.status.code(), Some(3), "{expected}: {}", stderr(&output));
        assert!(stderr(&output).contains(expected), "wanted `{expected}` in {}", stderr(&output));
        assert!(stdout(&output).is_empty());
    }

    let bad_alarm = dir.join("alarm.json");
    std::fs::write(&bad_alarm, r#"{"AlarmName":"a","MetricName":"m","Namespace":"n","Statistic":"Mode","Period":60,"EvaluationPeriods":1,"Threshold":1,"ComparisonOperator":"GreaterThanThreshold"}"#).unwrap();
    let data = example("metrics/web-primary-cpu.csv");
    let output = coldstandby(&["backtest", "--alarm", bad_alarm.to_str().unwrap(), "--data", &data]);
    assert_eq!(output.status.code(), Some(3));
    assert!(
        stderr(&output).contains("Statistic: `Mode` is not a supported statistic"),
        "{}",
        stderr(&output)
    );

    let output = coldstandby(&["backtest", "--alarm", &alarm, "--data", &data, "--from", "Tuesday"]);
    assert_eq!(output.status.code(), Some(2), "a bad flag value is a usage error");
    assert!(stderr(&output).contains("--from"), "{}", stderr(&output));
}

#[test]
fn the_dies_demo_shows_what_missing_data_does() {
    let missing = coldstandby(&["demo", "--failure", "dies"]);
    assert_eq!(missing.status.code(), Some(0), "a correct demonstration, even without a failover");
    let text = stdout(&missing);
    assert!(text.contains("(missing data: missing)"), "the setting is shown: {text}");
    assert!(text.contains("OK -> INSUFFICIENT_DATA"), "{text}");
    assert!(text.contains("No failover"), "{text}");
    assert!(!text.contains("RTO breakdown"), "{text}");

    let breaching = json(&coldstandby(&[
        "demo",
        "--failure",
        "dies",
        "--treat-missing-data",
        "breaching",
        "--output",
        "json",
    ]));
    assert_eq!(breaching["scenario"]["failure"], "dies");
    assert!(breaching["scenario"]["alarm_rule"].as_str().unwrap().contains("missing data: breaching"));
    assert_eq!(breaching["outcome"]["result"], "failed-over");
    let alarm = breaching["alarm"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(alarm["to"], "ALARM");
    assert!(alarm["reason"].as_str().unwrap().contains("counted as breaching"), "{alarm}");

    let none = json(&coldstandby(&["demo", "--failure", "dies", "--output", "json"]));
    assert!(none["outcome"].is_null() && none["rto"].is_null());
    assert_eq!(none["events"].as_array().unwrap().len(), 0);

    let bad = coldstandby(&["demo", "--treat-missing-data", "sometimes"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        stderr(&bad).contains("`sometimes` is not one of missing, notBreaching, breaching, ignore"),
        "{}",
        stderr(&bad)
    );
}

#[test]
fn backtest_can_take_the_alarm_from_a_config_group() {
    let config = example_config();
    let data = example("metrics/web-primary-cpu.csv");
    let args = [
        "backtest",
        "--config",
        config.to_str().unwrap(),
        "--group",
        "web",
        "--data",
        &data,
        "--output",
        "json",
    ];
    let from_config = json(&coldstandby(&args));
    let from_json = json(&coldstandby(&[
        "backtest",
        "--alarm",
        &example("alarms/cpu-1-of-1.json"),
        "--data",
        &data,
        "--output",
        "json",
    ]));
    assert_eq!(from_config["transitions"], from_json["transitions"], "the same alarm either way");

    let no_alarm =
        coldstandby(&["backtest", "--config", config.to_str().unwrap(), "--group", "batch", "--data", &data]);
    assert_eq!(no_alarm.status.code(), Some(2));
    assert!(stderr(&no_alarm).contains("has no [group.alarm] table"));
}

#[test]
fn simulate_summarises_a_sweep_for_people_and_scripts() {
    let text = coldstandby(&["simulate", "--seeds", "25", "--start-seed", "40"]);
    assert_eq!(text.status.code(), Some(0), "{}", stderr(&text));
    let out = stdout(&text);
    assert!(out.contains("Sweep of 25 seeds (40 to 64)"), "{out}");
    assert!(out.contains("invariant violations: 0"), "{out}");
    assert!(out.contains("RTO, trigger to standby recorded active"), "{out}");

    let summary =
        json(&coldstandby(&["simulate", "--seeds", "25", "--start-seed", "40", "--output", "json"]));
    assert_eq!(summary["scenarios"], 25);
    assert!(summary["violations"].as_array().unwrap().is_empty());
    assert!(summary["failovers_completed"].as_u64().unwrap() > 0);
    assert!(summary["rto"]["p50_ms"].as_u64().unwrap() > 0);
    let again = json(&coldstandby(&["simulate", "--seeds", "25", "--start-seed", "40", "--output", "json"]));
    assert_eq!(summary, again, "the same seeds give the same sweep");

    // An outside check of every run from the members' true states: after a failover, exactly
    // one member runs, and it is the one recorded active.
    let runs = summary["runs"].as_array().unwrap();
    assert!(runs.len() >= 25, "one entry per trigger");
    for run in runs.iter().filter(|run| run["outcome"] == "failed-over") {
        let members = run["members"].as_array().unwrap();
        let running: Vec<&Value> = members.iter().filter(|m| m["state"] == "running").collect();
        assert_eq!(running.len(), 1, "{run}");
        assert_eq!(running[0]["role"], "active", "{run}");
        let settled =
            |m: &&Value| ["running", "stopped", "terminated"].contains(&m["state"].as_str().unwrap());
        assert!(members.iter().all(|m| settled(&m)), "{run}");
    }
}

#[test]
fn every_sweep_gives_the_same_bytes_whatever_the_number_of_jobs() {
    for kind in [&[][..], &["--race"], &["--watchers"]] {
        let run = |jobs: &str| {
            let args = [
                &["simulate"][..],
                kind,
                &["--seeds", "70", "--start-seed", "7", "--output", "json", "--jobs", jobs],
            ]
            .concat();
            let output = coldstandby(&args);
            assert_eq!(output.status.code(), Some(0), "{args:?}: {}", stderr(&output));
            output.stdout
        };
        let one = run("1");
        assert_eq!(one, run("3"), "{kind:?}: --jobs 3 differs from --jobs 1");
        let document: Value = serde_json::from_slice(&one).expect("one JSON document");
        let list = ["runs", "races", "seeds_run"].iter().find_map(|key| document[*key].as_array()).unwrap();
        assert!(list.len() >= 70, "{kind:?}: one entry per seed at least");
    }
}

#[test]
fn the_race_and_watcher_sweeps_replay_a_seed_call_by_call() {
    let race = coldstandby(&["simulate", "--race", "--seeds", "1", "--start-seed", "5", "--events"]);
    assert_eq!(race.status.code(), Some(0), "{}", stderr(&race));
    let out = stdout(&race);
    assert!(out.starts_with("seed 5: lease "), "{out}");
    assert!(out.contains("StopInstances by lambda: ok"), "each call with its caller: {out}");
    assert!(out.contains("group sweep-5: lambda (epoch 1)"), "each lease write: {out}");
    assert!(out.contains("[lambda] fence: "), "each controller's steps: {out}");
    assert!(out.contains("Race of controllers under the group lease, seeds 5 to 5"), "{out}");

    let watchers = coldstandby(&["simulate", "--watchers", "--seeds", "1", "--start-seed", "5", "--events"]);
    assert_eq!(watchers.status.code(), Some(0), "{}", stderr(&watchers));
    let out = stdout(&watchers);
    assert!(out.contains("watcher faults: watcher-a paused for 30 s"), "{out}");
    assert!(out.contains("StopInstances by watcher-"), "the fence, with its caller: {out}");
}

#[test]
fn a_failover_without_aws_credentials_stops_at_once_with_the_reason() {
    // No moto here: the endpoint is a closed loopback port, and no credentials are available.
    let output = Command::new(env!("CARGO_BIN_EXE_coldstandby"))
        .args([
            "failover",
            "--config",
            example_config().to_str().unwrap(),
            "--group",
            "web",
            "--target",
            "aws",
            "--output",
            "json",
            "--yes",
        ])
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_PROFILE")
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let report = json(&output);
    assert_eq!(report["outcome"]["failure"]["reason"], "permanent-error");
    assert_eq!(report["outcome"]["failure"]["error"]["code"], "NoCredentials");
    assert_eq!(report["calls"]["DescribeInstances"], 1, "not retried: {report}");
    let message = report["outcome"]["failure"]["error"]["message"].as_str().unwrap();
    assert!(message.contains("no AWS credentials found (looked in the environment"), "{message}");
    assert!(!message.contains("ProviderError"), "one sentence, not the SDK's dump: {message}");
    let log = stderr(&output);
    assert!(!log.contains('\x1b') && !log.contains("WARN"), "no SDK log lines, no colour: {log}");
    assert!(log.contains("--target sim"), "the hint to rehearse: {log}");
}

#[test]
fn outside_lambda_the_function_says_where_it_runs_and_no_arguments_is_still_the_help() {
    let lambda = Command::new(env!("CARGO_BIN_EXE_coldstandby"))
        .arg("lambda")
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .env_remove("AWS_LAMBDA_FUNCTION_NAME")
        .output()
        .unwrap();
    assert_eq!(lambda.status.code(), Some(2), "{}", stderr(&lambda));
    let message = stderr(&lambda);
    assert!(
        message.contains("runs inside AWS Lambda") && message.contains("AWS_LAMBDA_RUNTIME_API"),
        "{message}"
    );
    assert!(!message.contains("panicked"), "{message}");

    // Started by a person with no arguments: the usage, as before (only Lambda's start differs).
    let bare = Command::new(env!("CARGO_BIN_EXE_coldstandby"))
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .output()
        .unwrap();
    assert_eq!(bare.status.code(), Some(2));
    assert!(stderr(&bare).contains("Usage: coldstandby"), "{}", stderr(&bare));

    let help = coldstandby(&["--help"]);
    assert!(
        stdout(&help).contains("Lambda runs with no\narguments")
            || stdout(&help).contains("Lambda runs with no arguments"),
        "{}",
        stdout(&help)
    );
}

#[test]
fn every_invariant_the_sweep_checks_is_named_in_the_help_and_the_readme() {
    use coldstandby_sim::sweep::invariant::Invariant;
    let help = stdout(&coldstandby(&["simulate", "--help"]));
    for invariant in Invariant::ALL {
        let line = format!("{}: {}", invariant.name(), invariant.meaning());
        assert!(help.replace('\n', " ").contains(&line.replace('\n', " ")), "simulate --help lacks {line}");
    }
    // The table in docs/commands.md is generated from the same descriptions.
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/commands.md");
    generated_section(
        &path,
        GENERATED_FROM_INVARIANTS,
        "<!-- end of the generated table -->",
        &Invariant::markdown_table(),
    );
    assert_eq!(coldstandby_sim::sweep::checker::ALL, Invariant::ALL.map(Invariant::name));
}

/// Where the documents' generated invariant sections start.
const GENERATED_FROM_INVARIANTS: &str = "<!-- generated from crates/sim/src/sweep/invariant.rs";

/// The text between `doc`'s generated-section marker (a line starting with `start`) and `end`,
/// compared with `generated`; with UPDATE_EXPECT set, `path` is rewritten with it instead.
fn generated_section(path: &Path, start: &str, end: &str, generated: &str) {
    let doc = std::fs::read_to_string(path).unwrap();
    let begin = doc.find(start).unwrap_or_else(|| panic!("{} has no `{start}` marker", path.display()));
    let from = begin + doc[begin..].find('\n').unwrap() + 1;
    let to =
        from + doc[from..].find(end).unwrap_or_else(|| panic!("{} has no `{end}` marker", path.display()));
    if std::env::var_os("UPDATE_EXPECT").is_some() {
        std::fs::write(path, format!("{}{generated}{}", &doc[..from], &doc[to..])).unwrap();
    } else {
        assert_eq!(&doc[from..to], generated, "{}: regenerate with UPDATE_EXPECT=1", path.display());
    }
}

#[test]
fn every_invariant_the_watchers_sweep_checks_is_documented_from_its_one_source() {
    use coldstandby_sim::sweep::invariant::WatchInvariant;
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/watch.md");
    generated_section(
        &path,
        GENERATED_FROM_INVARIANTS,
        "<!-- end of the generated list -->",
        &WatchInvariant::markdown_list(),
    );
    let help = stdout(&coldstandby(&["simulate", "--help"])).replace('\n', " ");
    for invariant in WatchInvariant::ALL {
        assert!(help.contains(invariant.name()), "simulate --help does not name {}", invariant.name());
    }
    assert_eq!(coldstandby_sim::sweep::watch::INVARIANTS, WatchInvariant::ALL.map(WatchInvariant::name));
}

/// Issue 26, item 7: a fenced member someone starts again (to read its logs) may take clients
/// beside the active one; `status` names it and exits 5 instead of saying the group is healthy.
#[test]
fn status_names_a_fenced_member_started_again_and_needs_attention() {
    let dir = scratch("status-stray");
    let clients = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/clients.toml");
    let state = dir.join("region.json");
    let with_state = |command: &[&str]| on_sim_state(command, &clients, &state);
    let failover = with_state(&["failover", "--group", "db"]);
    assert_eq!(failover.status.code(), Some(0), "{}", stderr(&failover));

    let mut region: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    let old_primary = &mut region["instances"]["i-0a1b2c3d4e5f60718"];
    assert_eq!(old_primary["state"], "stopped", "the failover fenced it");
    old_primary["state"] = "running".into();
    std::fs::write(&state, serde_json::to_string(&region).unwrap()).unwrap();

    let output = with_state(&["status", "--output", "json"]);
    assert_eq!(output.status.code(), Some(5), "{}", stdout(&output));
    let status = json(&output);
    let db = status.as_array().unwrap().iter().find(|group| group["group"] == "db").unwrap();
    assert_eq!(db["healthy"], false, "{db}");
    assert_eq!(db["stray"], serde_json::json!(["i-0a1b2c3d4e5f60718"]), "{db}");
    let warnings = db["warnings"].to_string();
    assert!(warnings.contains("i-0a1b2c3d4e5f60718 is running but is not the active member"), "{warnings}");
}

#[test]
fn status_says_where_each_mover_sends_clients_and_warns_when_not_to_the_active_member() {
    let dir = scratch("status-clients");
    let clients = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/clients.toml");
    let state = dir.join("region.json");
    let with_state = |command: &[&str]| on_sim_state(command, &clients, &state);
    let failover = with_state(&["failover", "--group", "db"]);
    assert_eq!(failover.status.code(), Some(0), "{}", stderr(&failover));
    let healthy = with_state(&["status", "--output", "json"]);
    assert_eq!(healthy.status.code(), Some(0), "every group healthy: {}", stderr(&healthy));
    let status = json(&healthy);
    let group = &status[0];
    assert_eq!(group["healthy"], true, "{group}");
    assert!(group["clients"].as_array().unwrap().iter().all(|c| c["to_active"] == true), "{group}");

    // Someone points one route table back at the old primary's interface.
    let text = std::fs::read_to_string(&state).unwrap();
    let moved = text.replacen(
        "\"10.255.0.10/32\": \"eni-0f9e8d7c6b5a40312\"",
        "\"10.255.0.10/32\": \"eni-0a1b2c3d4e5f60718\"",
        1,
    );
    assert_ne!(moved, text, "the saved region holds the route");
    std::fs::write(&state, moved).unwrap();
    let output = with_state(&["status"]);
    let out = stdout(&output);
    assert!(out.contains("NEEDS ATTENTION"), "{out}");
    assert_eq!(output.status.code(), Some(5), "a group that needs attention: exit 5");
    assert!(
        out.contains("warning: overlay-ip 10.255.0.10/32")
            && out.contains("does not send clients to i-0f9e8d7c6b5a40312"),
        "{out}"
    );
}

#[test]
fn switchover_moves_a_failed_over_group_back_and_refuses_a_stranger() {
    let dir = scratch("switchover");
    let config = example_config();
    let state = dir.join("region.json");
    let run = |command: &[&str]| on_sim_state(command, &config, &state);
    let nothing = run(&["switchover", "--group", "web"]);
    assert_eq!(nothing.status.code(), Some(0), "{}", stderr(&nothing));
    assert!(stdout(&nothing).contains("already the active member"), "{}", stdout(&nothing));
    assert_eq!(run(&["failover", "--group", "web"]).status.code(), Some(0));
    let back = run(&["switchover", "--group", "web"]);
    assert_eq!(back.status.code(), Some(0), "{}", stderr(&back));
    assert!(
        stdout(&back).contains("Result: switched over from i-0f9e8d7c6b5a40312 to i-0a1b2c3d4e5f60718"),
        "{}",
        stdout(&back)
    );
    let status = json(&run(&["status", "--output", "json"]));
    assert_eq!(status[0]["active"], "i-0a1b2c3d4e5f60718");
    assert_eq!(status[0]["healthy"], true);
    let stranger = run(&["switchover", "--group", "web", "--to", "i-0123456789abcdef0"]);
    assert_eq!(stranger.status.code(), Some(2), "{}", stderr(&stranger));
    assert!(stderr(&stranger).contains("is not a member of group `web`"), "{}", stderr(&stranger));
}

/// Runs `args` with stdout (and, with `stderr_too`, stderr) on a pipe whose reader has already
/// gone, as `... | head` leaves it once head has read its lines.
fn with_closed_pipe(args: &[&str], stderr_too: bool) -> Output {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let mut command = Command::new(env!("CARGO_BIN_EXE_coldstandby"));
    command.args(args).stdout(writer.try_clone().unwrap());
    if stderr_too {
        command.stderr(writer);
    } else {
        command.stderr(std::process::Stdio::piped());
    }
    command.output().unwrap()
}

#[test]
fn a_reader_that_goes_away_ends_the_output_quietly_with_the_commands_own_status() {
    for args in [
        &["simulate", "--seeds", "20", "--output", "json"][..],
        &["simulate", "--seeds", "20"],
        &["template", "quarantine-acl"],
        &["demo", "--output", "json"],
    ] {
        let output = with_closed_pipe(args, false);
        assert_eq!(output.status.code(), Some(0), "{args:?}: {}", stderr(&output));
        assert!(stderr(&output).is_empty(), "{args:?}: {}", stderr(&output));
        // `2>&1 | head`: stderr is the closed pipe too; nothing may panic.
        let output = with_closed_pipe(args, true);
        assert_eq!(output.status.code(), Some(0), "{args:?} with stderr on the pipe");
    }
    // A failing command keeps its failing status when it cannot even say why.
    let output = with_closed_pipe(&["status", "--config", "/nonexistent/coldstandby.toml"], true);
    assert_eq!(output.status.code(), Some(3));
}

#[test]
fn with_output_json_a_failure_prints_a_json_error_object_on_stdout() {
    let dir = scratch("json-errors");
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "region = \"ap-northeast-1\"\n[[group]]\nname = \"web\"\nprimary = \"not-an-id\"\n")
        .unwrap();
    let output = coldstandby(&["status", "--config", bad.to_str().unwrap(), "--output", "json"]);
    assert_eq!(output.status.code(), Some(3));
    let error = &json(&output)["error"];
    assert_eq!(error["kind"], "invalid-input", "{error}");
    assert_eq!(error["exit_status"], 3, "{error}");
    assert_eq!(error["file"], bad.to_str().unwrap(), "{error}");
    let problems = error["problems"].as_array().unwrap();
    assert!(problems.iter().any(|p| p["key"] == "group[0].primary" && p["line"] == 4), "{error}");

    // A command line clap refuses, in either spelling of the flag.
    for output_flag in [&["--output", "json"][..], &["--output=json"]] {
        let mut args = vec!["failover", "--no-such-flag"];
        args.extend(output_flag);
        let output = coldstandby(&args);
        assert_eq!(output.status.code(), Some(2));
        let error = &json(&output)["error"];
        assert_eq!(error["kind"], "usage", "{error}");
        assert!(error["message"].as_str().unwrap().contains("--no-such-flag"), "{error}");
    }

    // A failure while running: files that do not exist. The object's status is the process's.
    let output = coldstandby(&[
        "backtest",
        "--alarm",
        "/nonexistent/a.json",
        "--data",
        "/nonexistent/d.csv",
        "--output",
        "json",
    ]);
    let error = &json(&output)["error"];
    assert_eq!(error["exit_status"].as_i64(), output.status.code().map(i64::from), "{error}");
    assert!(error["message"].as_str().unwrap().contains("/nonexistent/a.json"), "{error}");

    // Text output keeps stdout for results: nothing there on failure.
    let output = coldstandby(&["status", "--config", bad.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(3));
    assert!(output.stdout.is_empty(), "{}", stdout(&output));
    assert!(stderr(&output).contains("group[0].primary"), "{}", stderr(&output));
}

/// The exit statuses documented in docs/commands.md's table.
fn documented_exit_statuses() -> Vec<i32> {
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/commands.md"))
        .unwrap();
    let table = doc.split("## Exit status").nth(1).expect("docs/commands.md has an exit status section");
    table.lines().filter_map(|line| line.strip_prefix("| ")?.split(' ').next()?.parse().ok()).collect()
}

#[test]
fn every_command_exits_as_the_documented_table_says() {
    let dir = scratch("exit-table");
    let missing = dir.join("missing.toml");
    let missing = missing.to_str().unwrap();
    let binary = dir.join("binary.csv");
    std::fs::write(&binary, [0xff, 0xfe, 0x00, 0x81, b'\n']).unwrap();
    let binary = binary.to_str().unwrap();
    let config = example_config();
    let config = config.to_str().unwrap();
    let alarm = example("alarms/cpu-4-of-5.json");
    let data = example("metrics/web-primary-cpu.csv");
    let state = dir.join("region.json");
    let state = state.to_str().unwrap();
    let sim = ["--target", "sim", "--sim-state", state];
    let cases: Vec<(Vec<&str>, i32)> = vec![
        (vec!["demo", "--seed", "1"], 0),
        (vec!["demo", "--no-such-flag"], 2),
        (vec!["failover", "--config", missing, "--group", "web"], 3),
        ([&["failover", "--config", config, "--group", "no-such-group"][..], &sim].concat(), 2),
        ([&["failover", "--config", config, "--group", "web"][..], &sim].concat(), 0),
        (vec!["switchover", "--config", missing, "--group", "web"], 3),
        ([&["switchover", "--config", config, "--group", "no-such-group"][..], &sim].concat(), 2),
        (vec!["status", "--config", missing], 3),
        (vec!["status", "--config", config, "--target", "aws", "--seed", "5"], 2),
        ([&["status", "--config", config][..], &sim].concat(), 0),
        (vec!["backtest", "--alarm", &alarm, "--data", &data], 0),
        (vec!["backtest", "--alarm", missing, "--data", &data], 3),
        (vec!["backtest", "--alarm", &alarm, "--data", missing], 3),
        (vec!["backtest", "--alarm", &alarm, "--data", binary], 3),
        (vec!["backtest", "--alarm", binary, "--data", &data], 3),
        (vec!["backtest", "--alarm", &alarm, "--data", &data, "--evaluation-range", "0"], 2),
        ([&["handle-event", "--config", config, "--event", missing][..], &sim].concat(), 3),
        ([&["handle-event", "--config", config, "--event", binary][..], &sim].concat(), 3),
        (vec!["simulate", "--seeds", "3"], 0),
        (vec!["template", "cloudformation", "--config", missing], 3),
        (vec!["template", "cloudformation", "--config", config], 0),
        (vec!["doctor", "--config", missing], 3),
        (vec!["watch", "--config", missing, "--check"], 3),
        (vec!["check", "--config", config], 0),
        (vec!["check", "--config", missing], 3),
        (vec!["completions", "nushell"], 2),
    ];
    let documented = documented_exit_statuses();
    assert_eq!(documented, [0, 1, 2, 3, 4, 5], "the table in docs/commands.md");
    for (args, expected) in cases {
        let output = coldstandby(&args);
        assert_eq!(output.status.code(), Some(expected), "{args:?}: {}", stderr(&output));
        assert!(documented.contains(&expected), "{expected} is not in the documented table");
        if expected != 0 {
            assert!(stderr(&output).starts_with("error:"), "{args:?} says why: {}", stderr(&output));
        }
    }
    // The flag, not the alarm file, is blamed for a bad --evaluation-range.
    let output = coldstandby(&["backtest", "--alarm", &alarm, "--data", &data, "--evaluation-range", "0"]);
    assert!(stderr(&output).contains("--evaluation-range 0"), "{}", stderr(&output));
    assert!(!stderr(&output).contains("cpu-4-of-5.json"), "{}", stderr(&output));
    let output = coldstandby(&["backtest", "--alarm", &alarm, "--data", binary]);
    assert!(stderr(&output).contains("not UTF-8 text"), "{}", stderr(&output));
}

#[test]
fn messages_count_in_the_singular_when_there_is_one() {
    let dir = scratch("singular");
    let data = dir.join("one.csv");
    std::fs::write(&data, "timestamp,value\n2026-11-03T14:10:17Z,80\n").unwrap();
    let alarm = example("alarms/cpu-1-of-1.json");
    let until = ["--until", "2026-11-03T14:11:00Z", "--from", "2026-11-03T14:11:00Z"];
    let output = coldstandby(
        &[&["backtest", "--alarm", &alarm, "--data", data.to_str().unwrap()][..], &until].concat(),
    );
    let text = stdout(&output);
    assert!(text.contains("1 sample; evaluated 1 time from"), "{text}");

    let sweep = stdout(&coldstandby(&["simulate", "--seeds", "1", "--start-seed", "3"]));
    assert!(sweep.starts_with("Sweep of 1 seed (3)"), "{sweep}");
    let events = stdout(&coldstandby(&["simulate", "--seeds", "1", "--start-seed", "3", "--events"]));
    let faults = events.lines().next().unwrap();
    assert!(faults.contains("throttling burst") && !faults.contains("ThrottlingBurst"), "{faults}");
}

#[test]
fn a_sim_state_file_is_locked_while_in_use_and_refused_for_another_config() {
    let dir = scratch("sim-state-lock");
    let state = dir.join("region.json");
    let run = |command: &[&str], config: &Path| on_sim_state(command, config, &state);
    let sim = |config: &Path| run(&["status"], config);
    let first = run(&["failover", "--group", "web"], &example_config());
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));

    // Another process holds the lock: this one waits for nothing and changes nothing.
    let lock = std::fs::File::options().write(true).open(dir.join("region.json.lock")).unwrap();
    lock.lock().unwrap();
    let before = std::fs::read_to_string(&state).unwrap();
    let busy = sim(&example_config());
    assert_eq!(busy.status.code(), Some(4), "{}", stderr(&busy));
    assert!(stderr(&busy).contains("in use by another coldstandby process"), "{}", stderr(&busy));
    lock.unlock().unwrap();
    assert_eq!(sim(&example_config()).status.code(), Some(0), "free again");

    // A state file saved for the example config is not reused for another one.
    let clients = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/clients.toml");
    let other = sim(&clients);
    assert_eq!(other.status.code(), Some(3), "{}", stderr(&other));
    let message = stderr(&other);
    assert!(
        message.contains("saved for other instances") && message.contains("it has i-0123456789abcdef0"),
        "{message}"
    );
    assert_eq!(std::fs::read_to_string(&state).unwrap(), before, "nothing changed");
}

/// The fenced code blocks, the links and the inline `coldstandby ...` commands of a README.
fn commands_and_links(text: &str) -> (Vec<String>, Vec<String>, Vec<String>) {
    let blocks: Vec<String> = text.split("```").skip(1).step_by(2).map(str::to_owned).collect();
    let links: Vec<String> =
        text.split("](").skip(1).filter_map(|rest| Some(rest.split_once(')')?.0.to_owned())).collect();
    let mut commands: Vec<String> = text
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|span| span.starts_with("coldstandby ") || span.starts_with("--"))
        .map(str::to_owned)
        .collect();
    commands.sort();
    (blocks, links, commands)
}

#[test]
fn the_japanese_readme_has_the_same_commands_and_links_as_the_english_one() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let english = std::fs::read_to_string(root.join("README.md")).unwrap();
    let japanese = std::fs::read_to_string(root.join("README.ja.md")).unwrap();
    assert!(english.len() < 8 * 1024, "README.md is {} bytes: keep it under 8 KB", english.len());
    let (english_blocks, mut english_links, english_commands) = commands_and_links(&english);
    let (japanese_blocks, mut japanese_links, japanese_commands) = commands_and_links(&japanese);
    assert_eq!(english_blocks, japanese_blocks, "code blocks differ");
    assert_eq!(english_commands, japanese_commands, "inline commands differ");
    // Each links to the other; every other link is the same, in the same order.
    english_links.retain(|link| link != "README.ja.md");
    japanese_links.retain(|link| link != "README.md");
    assert_eq!(english_links, japanese_links, "links differ");
    for link in &english_links {
        assert!(root.join(link).exists(), "README links to {link}, which does not exist");
    }
}

#[test]
fn check_lists_every_problem_and_completions_and_the_man_page_come_from_the_same_definitions() {
    let dir = scratch("check");
    let bad = dir.join("bad.toml");
    std::fs::write(
        &bad,
        "region = \"ap-northeast-1\"\n[[group]]\nname = \"web\"\nprimary = \"i-zz\"\nstandbys = []\n",
    )
    .unwrap();
    let output = coldstandby(&["check", "--config", bad.to_str().unwrap(), "--output", "json"]);
    assert_eq!(output.status.code(), Some(3));
    let problems = json(&output)["error"]["problems"].as_array().unwrap().clone();
    assert!(problems.len() >= 2, "every problem at once: {problems:?}");

    // Two groups on one alarm run one after another in one invocation: past Lambda's 900 s.
    let storm = dir.join("storm.toml");
    std::fs::write(
        &storm,
        "region = \"ap-northeast-1\"\n\
         [[group]]\nname = \"a\"\nprimary = \"i-0a1b2c3d4e5f60718\"\nstandbys = [\"i-0f9e8d7c6b5a40312\"]\nalarms = [\"az\"]\n\
         [[group]]\nname = \"b\"\nprimary = \"i-0123456789abcdef0\"\nstandbys = [\"i-0fedcba9876543210\"]\nalarms = [\"az\"]\n",
    )
    .unwrap();
    let storm = storm.to_str().unwrap();
    assert_eq!(coldstandby(&["check", "--config", storm]).status.code(), Some(0), "valid as such");
    let for_lambda = coldstandby(&["check", "--config", storm, "--lambda"]);
    assert_eq!(for_lambda.status.code(), Some(3), "{}", stderr(&for_lambda));
    assert!(stderr(&for_lambda).contains("900 s"), "{}", stderr(&for_lambda));

    let good = coldstandby(&["check", "--config", example_config().to_str().unwrap()]);
    assert_eq!(good.status.code(), Some(0), "{}", stderr(&good));
    assert!(
        stdout(&good).contains("valid; region ap-northeast-1; 2 groups: web, batch"),
        "{}",
        stdout(&good)
    );

    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let script = coldstandby(&["completions", shell]);
        assert_eq!(script.status.code(), Some(0), "{shell}");
        let text = stdout(&script);
        assert!(text.contains("failover") && text.contains("sim-state"), "{shell}: {text}");
    }
    let page = stdout(&coldstandby(&["man"]));
    assert!(page.contains(".TH coldstandby 1") && page.contains("failover"), "{page}");
}

#[test]
fn the_config_file_defaults_to_the_variable_then_the_current_directory() {
    let dir = scratch("config-default");
    let run = |variable: Option<&Path>| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_coldstandby"));
        command.args(["check"]).current_dir(&dir).env_remove("COLDSTANDBY_CONFIG_FILE");
        if let Some(path) = variable {
            command.env("COLDSTANDBY_CONFIG_FILE", path);
        }
        command.output().unwrap()
    };
    let missing = run(None);
    assert_eq!(missing.status.code(), Some(3));
    assert!(
        stderr(&missing).contains("COLDSTANDBY_CONFIG_FILE or else ./coldstandby.toml"),
        "{}",
        stderr(&missing)
    );
    let from_variable = run(Some(&example_config()));
    assert_eq!(from_variable.status.code(), Some(0), "{}", stderr(&from_variable));
    std::fs::copy(example_config(), dir.join("coldstandby.toml")).unwrap();
    let from_directory = run(None);
    assert_eq!(from_directory.status.code(), Some(0), "{}", stderr(&from_directory));
    assert!(stdout(&from_directory).starts_with("coldstandby.toml: valid"), "{}", stdout(&from_directory));
}

#[test]
fn init_writes_a_starter_that_checks_and_never_overwrites_without_force() {
    let dir = scratch("init");
    let path = dir.join("coldstandby.toml");
    let init = |extra: &[&str]| {
        let mut args = vec![
            "init",
            "--primary",
            "i-0a1b2c3d4e5f60718",
            "--standby",
            "i-0f9e8d7c6b5a40312",
            "--region",
            "ap-northeast-1",
            "--offline",
            "--config",
            path.to_str().unwrap(),
        ];
        args.extend(extra);
        coldstandby(&args)
    };
    let first = init(&[]);
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    let written = std::fs::read_to_string(&path).unwrap();
    assert!(
        written.contains("primary = \"i-0a1b2c3d4e5f60718\"") && written.contains("# stop_timeout_seconds"),
        "{written}"
    );
    let check = coldstandby(&["check", "--config", path.to_str().unwrap()]);
    assert_eq!(check.status.code(), Some(0), "the starter is valid: {}", stderr(&check));

    std::fs::write(&path, "# mine\n").unwrap();
    let again = init(&[]);
    assert_eq!(again.status.code(), Some(2));
    assert!(stderr(&again).contains("exists: give --force"), "{}", stderr(&again));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "# mine\n", "kept");
    assert_eq!(init(&["--force"]).status.code(), Some(0));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), written);

    // Bad input writes nothing.
    let other = dir.join("other.toml");
    let starter = |primary: &str, region: &str| {
        coldstandby(&[
            "init",
            "--primary",
            primary,
            "--standby",
            "i-0f9e8d7c6b5a40312",
            "--region",
            region,
            "--offline",
            "--config",
            other.to_str().unwrap(),
        ])
    };
    let bad = starter("nope", "ap-northeast-1");
    assert_eq!(bad.status.code(), Some(2), "{}", stderr(&bad));
    let bad = starter("i-0a1b2c3d4e5f60718", "mars-1");
    assert_eq!(bad.status.code(), Some(3), "{}", stderr(&bad));
    assert!(!other.exists());
}

/// Every field of `value` named `at` or ending in `_at` holds Unix milliseconds, and every field
/// ending in `_ms` a whole number; returns how many times it saw.
fn times_follow_the_rule(value: &Value, path: &str) -> usize {
    match value {
        Value::Object(fields) => fields
            .iter()
            .map(|(key, field)| {
                let here = format!("{path}.{key}");
                let own = if key == "at" || key.ends_with("_at") {
                    assert!(field.is_u64() || field.is_null(), "{here} is not Unix milliseconds: {field}");
                    assert!(
                        field.as_u64().is_none_or(|ms| ms > 1_000_000_000_000),
                        "{here}: {field} is not in ms"
                    );
                    1
                } else {
                    if key.ends_with("_ms") {
                        assert!(field.is_u64() || field.is_null() || field.is_object(), "{here}: {field}");
                    }
                    0
                };
                own + times_follow_the_rule(field, &here)
            })
            .sum(),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| times_follow_the_rule(item, &format!("{path}[{i}]")))
            .sum(),
        _ => 0,
    }
}

#[test]
fn every_json_output_gives_times_one_way() {
    let dir = scratch("json-times");
    let config = example_config();
    let config = config.to_str().unwrap();
    let state = dir.join("region.json");
    let state = state.to_str().unwrap();
    let outputs = [
        coldstandby(&["demo", "--output", "json"]),
        coldstandby(&[
            "backtest",
            "--alarm",
            &example("alarms/cpu-4-of-5.json"),
            "--data",
            &example("metrics/web-primary-cpu.csv"),
            "--output",
            "json",
        ]),
        coldstandby(&[
            "failover",
            "--config",
            config,
            "--group",
            "web",
            "--target",
            "sim",
            "--sim-state",
            state,
            "--output",
            "json",
        ]),
        coldstandby(&[
            "status",
            "--config",
            config,
            "--target",
            "sim",
            "--sim-state",
            state,
            "--output",
            "json",
        ]),
        coldstandby(&["simulate", "--seeds", "3", "--output", "json"]),
    ];
    let mut seen = 0;
    for output in &outputs {
        seen += times_follow_the_rule(&json(output), "");
    }
    assert!(seen > 20, "only {seen} times seen");
}
