//! Whole-file validation: the minimal file, the defaults, and every kind of problem reported at
//! once with its key and line.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::time::Duration;

use coldstandby_config::parse;
use coldstandby_engine::{FenceMode, Ordering};

const MINIMAL: &str = r#"
region = "ap-northeast-1"

[[group]]
name = "web"
primary = "i-0a1b2c3d4e5f60718"
standbys = ["i-0f9e8d7c6b5a40312"]
alarms = ["web-primary-cpu-high"]
"#;

#[test]
fn the_minimal_file_is_valid_and_gets_defaults() {
    let config = parse(MINIMAL, "minimal.toml").unwrap();
    assert_eq!(config.region, "ap-northeast-1");
    let group = config.group("web").unwrap();
    assert_eq!(group.spec.primary.as_str(), "i-0a1b2c3d4e5f60718");
    assert_eq!(group.spec.standbys.len(), 1);
    assert_eq!(group.alarms, vec!["web-primary-cpu-high".to_owned()]);
    assert_eq!(group.spec.ordering, Ordering::FenceFirst);
    assert_eq!(group.spec.fence, FenceMode::Stop);
    assert_eq!(group.spec.timeouts.stop, Duration::from_secs(60));
    assert_eq!(group.spec.timeouts.failover, Duration::from_secs(840));
}

#[test]
fn every_setting_is_read() {
    let text = r#"
region = "us-east-1"
[[group]]
name = "db"
primary = "i-0a1b2c3d"
standbys = ["i-0b1b2c3d", "i-0c1b2c3d"]
ordering = "parallel"
fence = "force-stop"
stop_timeout_seconds = 10
forced_stop_timeout_seconds = 20
start_timeout_seconds = 30
capacity_retry_seconds = 40
failover_timeout_seconds = 50
"#;
    let config = parse(text, "full.toml").unwrap();
    let spec = &config.groups[0].spec;
    assert_eq!(spec.ordering, Ordering::Parallel);
    assert_eq!(spec.fence, FenceMode::ForceStop);
    let t = spec.timeouts;
    assert_eq!(
        [t.stop, t.forced_stop, t.start, t.capacity_retry, t.failover].map(|d| d.as_secs()),
        [10, 20, 30, 40, 50]
    );
    assert!(config.groups[0].alarms.is_empty());
}

#[test]
fn every_problem_is_reported_at_once_with_key_and_line() {
    let text = r#"region = "tokyo"
colour = "blue"

[[group]]
name = "web"
primary = "i-XYZ"
standbys = ["i-0f9e8d7c6b5a40312", "i-0f9e8d7c6b5a40312", 7]
ordering = "sideways"
stop_timeout_seconds = 0
start_timeout_seconds = "soon"
standby = ["i-0f9e8d7c6b5a40312"]

[[group]]
name = "web"
primary = "i-0f9e8d7c6b5a40312"
standbys = []
"#;
    let error = parse(text, "bad.toml").unwrap_err();
    let found: Vec<(String, Option<usize>)> =
        error.problems.iter().map(|p| (p.key.clone(), p.line)).collect();
    let expect = |key: &str, line: usize| {
        assert!(
            found.contains(&(key.to_owned(), Some(line))),
            "no problem for `{key}` on line {line} in {found:#?}"
        );
    };
    expect("region", 1);
    expect("colour", 2);
    expect("group[0].primary", 6);
    expect("group[0].standbys[2]", 7);
    expect("group[0].ordering", 8);
    expect("group[0].stop_timeout_seconds", 9);
    expect("group[0].start_timeout_seconds", 10);
    expect("group[0].standby", 11);
    expect("group[1].standbys", 16);
    let message = error.to_string();
    assert!(message.starts_with("bad.toml: "), "{message}");
    assert!(message.contains("nothing was done"), "{message}");
    assert!(message.contains("`sideways` is not one of `fence-first`, `parallel`"), "{message}");
}

#[test]
fn duplicates_across_and_within_groups_are_errors() {
    let text = r#"
region = "ap-northeast-1"
[[group]]
name = "web"
primary = "i-0a1b2c3d"
standbys = ["i-0b1b2c3d", "i-0b1b2c3d", "i-0a1b2c3d"]
[[group]]
name = "web"
primary = "i-0c1b2c3d"
standbys = ["i-0b1b2c3d"]
"#;
    let error = parse(text, "dup.toml").unwrap_err();
    let messages: Vec<String> = error.problems.iter().map(|p| format!("{}: {}", p.key, p.message)).collect();
    let has =
        |needle: &str| assert!(messages.iter().any(|m| m.contains(needle)), "no `{needle}` in {messages:#?}");
    has("group[0].standbys: i-0b1b2c3d is listed twice");
    has("i-0a1b2c3d is the primary; it cannot also be a standby");
    has("group[1].name: `web` is already the name of group[0]");
    has("i-0b1b2c3d is already in group `web`");
}

#[test]
fn missing_keys_and_syntax_errors_are_named() {
    let error = parse("[[group]]\nname = \"x\"\n", "empty.toml").unwrap_err();
    let keys: Vec<&str> = error.problems.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(
        keys.iter().filter(|k| ["region", "group[0].primary", "group[0].standbys"].contains(k)).count(),
        3,
        "{keys:?}"
    );

    let error = parse("region = \"ap-northeast-1\"\n[[group]\n", "broken.toml").unwrap_err();
    assert_eq!(error.problems.len(), 1);
    assert_eq!(error.problems[0].key, "(syntax)");
    assert_eq!(error.problems[0].line, Some(2));

    let error = parse("region = \"ap-northeast-1\"\n", "nogroup.toml").unwrap_err();
    assert_eq!(error.problems[0].key, "group");
}

#[test]
fn a_group_alarm_table_is_read_with_defaults() {
    let text = format!(
        "{MINIMAL}\n[group.alarm]\nmetric_name = \"CPUUtilization\"\nthreshold = 50\ncomparison_operator = \"GreaterThanThreshold\"\n"
    );
    let config = parse(&text, "alarm.toml").unwrap();
    let alarm = config.groups[0].alarm.as_ref().expect("the alarm is read");
    assert_eq!(alarm.name, "web-primary-cpu-high", "named after the group's first alarm");
    assert_eq!(alarm.namespace, "AWS/EC2");
    assert_eq!(alarm.dimensions["InstanceId"], "i-0a1b2c3d4e5f60718", "watches the primary");
    assert_eq!(alarm.threshold, 50.0);
    assert_eq!((alarm.period_seconds, alarm.evaluation_periods, alarm.datapoints_to_alarm), (60, 1, 1));
    assert_eq!(alarm.evaluation_range, 3);
    assert_eq!(
        alarm.summary(),
        "CPUUtilization Average > 50 for 1 of 1 periods of 60 s (missing data: missing)"
    );
}

#[test]
fn a_bad_alarm_table_names_each_key() {
    let text = format!(
        "{MINIMAL}\n[group.alarm]\nmetric_name = \"CPUUtilization\"\nstatistic = \"Mode\"\nperiod_seconds = 45\nevaluation_periods = 2\ndatapoints_to_alarm = 3\ncomparison_operator = \"GreaterThanUpperThreshold\"\ntreat_missing_data = \"sometimes\"\nthreshhold = 5\n"
    );
    let error = parse(&text, "bad-alarm.toml").unwrap_err();
    let found: Vec<(&str, Option<usize>)> = error.problems.iter().map(|p| (p.key.as_str(), p.line)).collect();
    for (key, line) in [
        ("group[0].alarm.statistic", 12),
        ("group[0].alarm.period_seconds", 13),
        ("group[0].alarm.datapoints_to_alarm", 15),
        ("group[0].alarm.comparison_operator", 16),
        ("group[0].alarm.treat_missing_data", 17),
        ("group[0].alarm.threshhold", 18),
    ] {
        assert!(found.contains(&(key, Some(line))), "no problem for `{key}` on line {line} in {found:#?}");
    }
    assert!(
        found.iter().any(|(key, _)| *key == "group[0].alarm.threshold"),
        "the required threshold is missing"
    );
}

#[test]
fn bad_readiness_checks_and_movers_are_each_named_with_their_key() {
    let text = format!(
        r#"{MINIMAL}
[[group.readiness]]
type = "ping"

[[group.readiness]]
type = "http"
path = "health"
timeout_seconds = 2

[[group.mover]]
type = "overlay-ip"
address = "10.255.0.0/24"
route_tables = ["rtb-xyz"]

[[group.mover]]
type = "dns"
hosted_zone = "example.internal"
record = "db.internal"

[[group.mover]]
type = "target-group"
arn = "arn:aws:ec2:ap-northeast-1:111122223333:instance/i-0a1b2c3d"
color = "blue"
"#
    );
    let error = parse(&text, "clients.toml").unwrap_err();
    let keys: Vec<&str> = error.problems.iter().map(|problem| problem.key.as_str()).collect();
    for expected in [
        "group[0].readiness[0].type",
        "group[0].readiness[1].port",
        "group[0].readiness[1].path",
        "group[0].readiness[1]",
        "group[0].mover[0].address",
        "group[0].mover[0].route_tables[0]",
        "group[0].mover[1].hosted_zone",
        "group[0].mover[2].arn",
        "group[0].mover[2].color",
    ] {
        assert!(keys.contains(&expected), "{expected} not reported: {error}");
    }
    assert!(
        error.problems.iter().all(|problem| problem.line.is_some() || !problem.key.contains("mover")),
        "{error}"
    );
}

#[test]
fn a_record_name_gets_its_final_dot_and_a_bare_overlay_address_its_prefix() {
    let text = format!(
        r#"{MINIMAL}
[[group.mover]]
type = "dns"
hosted_zone = "Z0123456789ABCDEFGHIJ"
record = "db.internal.example"

[[group.mover]]
type = "overlay-ip"
address = "10.255.0.10"
route_tables = ["rtb-0a1b2c3d"]
"#
    );
    let config = parse(&text, "clients.toml").unwrap();
    let rendered = coldstandby_config::to_toml(&config);
    assert!(rendered.contains("record = \"db.internal.example.\""), "{rendered}");
    assert!(rendered.contains("address = \"10.255.0.10/32\""), "{rendered}");
}

#[test]
fn checks_a_user_would_expect_before_the_outage() {
    // A Region that does not exist is caught, with the near one named; a new one can be allowed.
    let typo = MINIMAL.replace("ap-northeast-1", "ap-northeast-4");
    let error = parse(&typo, "typo.toml").unwrap_err();
    let message = &error.problems.iter().find(|p| p.key == "region").unwrap().message;
    assert!(
        message.contains("did you mean ap-northeast-1?") && message.contains("allow_unknown_region"),
        "{message}"
    );
    let allowed = format!("allow_unknown_region = true\n{typo}");
    let config = parse(&allowed, "new.toml").unwrap();
    // Written back (as the template does), it reads back the same way.
    assert_eq!(parse(&coldstandby_config::to_toml(&config), "rendered").unwrap(), config);

    // A failover deadline shorter than the fence itself may take.
    let short = format!("{MINIMAL}stop_timeout_seconds = 300\nforced_stop_timeout_seconds = 300\nfailover_timeout_seconds = 400\n");
    let error = parse(&short, "short.toml").unwrap_err();
    let problem = error.problems.iter().find(|p| p.key == "group[0].failover_timeout_seconds").unwrap();
    assert!(problem.message.contains("400 s is shorter than the fence alone may take (600 s"), "{problem:?}");
    assert_eq!(problem.line, Some(11), "{problem:?}");

    // A syntax error says that it may hide other problems.
    let error = parse("region = \"ap-northeast-1\"\n[[group]\n", "broken.toml").unwrap_err();
    assert!(error.problems[0].message.contains("the other checks run only on a file that parses"));
}

#[test]
fn the_notification_topic_is_an_sns_topic_in_the_configured_region() {
    let with = |arn: &str| format!("notification_topic_arn = \"{arn}\"\n{MINIMAL}");
    let config = parse(&with("arn:aws:sns:ap-northeast-1:111122223333:outcomes"), "ok.toml").unwrap();
    assert_eq!(
        config.notification_topic_arn.as_deref(),
        Some("arn:aws:sns:ap-northeast-1:111122223333:outcomes")
    );
    assert_eq!(parse(MINIMAL, "none.toml").unwrap().notification_topic_arn, None);
    // Written back (the function's environment) and read again, it is the same.
    let again = parse(&coldstandby_config::to_toml(&config), "rendered").unwrap();
    assert_eq!(again.notification_topic_arn, config.notification_topic_arn);
    for (arn, expected) in [
        ("arn:aws:sqs:ap-northeast-1:111122223333:outcomes", "is not an SNS topic ARN"),
        ("outcomes", "is not an SNS topic ARN"),
        ("arn:aws:sns:us-east-1:111122223333:outcomes", "the topic is in us-east-1, not in ap-northeast-1"),
    ] {
        let error = parse(&with(arn), "bad.toml").unwrap_err().to_string();
        assert!(error.contains("notification_topic_arn") && error.contains(expected), "{arn}: {error}");
        assert!(error.contains("line 1"), "the line is named: {error}");
    }
}
