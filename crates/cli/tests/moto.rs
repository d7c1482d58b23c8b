//! The real binary against a real EC2 API implementation: moto's server on loopback. Each test
//! starts its own server on a free port, builds a VPC with subnets in two Availability Zones, a
//! running primary and a stopped standby, drives `failover`, `status` and `handle-event`, and
//! checks the instances' states and tags through the API afterwards.
//!
//! Moto changes states instantly and is more lenient than EC2 in places; slow and illegal
//! transitions are covered on the simulated region. `scripts/test` installs moto when missing.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

mod common;

use aws_sdk_ec2::types::InstanceStateName;
use common::{json, notification_topic, notifications, stderr, with_notifications, write_config, Article};

#[test]
fn the_articles_failover_on_ec2_then_a_no_op_rerun_and_status() {
    let article = Article::new("failover");
    assert_eq!(article.zone(&article.primary), "ap-northeast-1a");
    assert_eq!(article.zone(&article.standby), "ap-northeast-1c");

    // Without --yes and without a terminal to ask: refused, saying where it would have acted.
    let config = article.config.to_str().unwrap();
    let unconfirmed = article.run(&["failover", "--config", config, "--target", "aws", "--group", "web"]);
    assert_eq!(unconfirmed.status.code(), Some(2), "{}", stderr(&unconfirmed));
    let message = stderr(&unconfirmed);
    assert!(
        message.contains("real EC2")
            && message.contains("123456789012")
            && message.contains("ap-northeast-1")
            && message.contains("--yes"),
        "{message}"
    );
    assert_eq!(article.instance(&article.primary).0, InstanceStateName::Running, "nothing was changed");

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
fn init_fills_in_each_instances_zone_from_ec2() {
    let article = Article::new("init");
    let path = article.dir.join("starter.toml");
    let output = article.run(&[
        "init",
        "--primary",
        &article.primary,
        "--standby",
        &article.standby,
        "--region",
        "ap-northeast-1",
        "--config",
        path.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.contains(&format!("primary = \"{}\"  # ", article.primary)) && text.contains("ap-northeast-1a"),
        "{text}"
    );
    assert!(text.contains(&format!("# {}:", article.standby)) && text.contains("ap-northeast-1c"), "{text}");

    // From the instances' coldstandby:group tags instead: the running member is the primary.
    article.runtime.block_on(async {
        let tag = aws_sdk_ec2::types::Tag::builder().key("coldstandby:group").value("db").build();
        article
            .client
            .create_tags()
            .resources(&article.standby)
            .resources(&article.primary)
            .tags(tag)
            .send()
            .await
            .unwrap();
    });
    let tagged = article.dir.join("tagged.toml");
    let output = article.run(&[
        "init",
        "--from-tags",
        "--region",
        "ap-northeast-1",
        "--config",
        tagged.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = std::fs::read_to_string(&tagged).unwrap();
    assert!(text.contains("name = \"db\""), "{text}");
    assert!(text.contains(&format!("primary = \"{}\"", article.primary)), "{text}");
    assert!(text.contains(&format!("standbys = [\"{}\"]", article.standby)), "{text}");
    let check = article.run(&["check", "--config", tagged.to_str().unwrap()]);
    assert_eq!(check.status.code(), Some(0), "{}", stderr(&check));
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

#[test]
fn a_failover_publishes_its_outcome_and_a_drill_on_ec2_needs_a_doctor_without_fail() {
    let article = Article::new("notify");
    let (topic, queue) = notification_topic(&article.runtime, &article.sdk);
    with_notifications(&article, &topic);

    let failover = article.run_with_config("failover", &["--group", "web"]);
    assert_eq!(failover.status.code(), Some(0), "{}", stderr(&failover));
    assert!(stderr(&failover).contains(&format!("outcome published to {topic}")), "{}", stderr(&failover));
    // What EC2 shows, and what the team was told, agree.
    assert_eq!(article.instance(&article.standby).0, InstanceStateName::Running);
    assert_eq!(article.instance(&article.primary).0, InstanceStateName::Stopped);
    let told = notifications(&article.runtime, &article.sdk, &queue);
    assert_eq!(told.len(), 1, "{told:?}");
    let (subject, message) = &told[0];
    assert_eq!(message["kind"], "failover");
    assert_eq!(message["group"], "web");
    assert_eq!(message["result"], "failed-over");
    assert_eq!(
        (message["from"].as_str(), message["to"].as_str()),
        (Some(&*article.primary), Some(&*article.standby))
    );
    assert!(message["rto"]["fence_ms"].is_u64() && message["recovery_ms"].is_u64(), "{message}");
    assert!(subject.starts_with("coldstandby web: failover "), "{subject}");

    // A re-run finds it done: not news, nothing published.
    let rerun = article.run_with_config("failover", &["--group", "web"]);
    assert_eq!(rerun.status.code(), Some(0), "{}", stderr(&rerun));
    assert!(
        notifications(&article.runtime, &article.sdk, &queue).is_empty(),
        "an already-active run is not published"
    );

    // Not from a terminal and without --yes: a usage error before doctor runs; nothing changes.
    let unconfirmed = article.run(&[
        "drill",
        "--config",
        article.config.to_str().unwrap(),
        "--group",
        "web",
        "--target",
        "aws",
    ]);
    assert_eq!(unconfirmed.status.code(), Some(2), "{}", stderr(&unconfirmed));
    assert!(stderr(&unconfirmed).contains("add --yes"), "{}", stderr(&unconfirmed));

    // No alarm exists in this account: doctor finds a FAIL, so the drill does not start.
    let drill = article.run_with_config("drill", &["--group", "web", "--yes"]);
    assert_eq!(drill.status.code(), Some(1), "{}", stderr(&drill));
    assert!(stderr(&drill).contains("doctor finds"), "{}", stderr(&drill));
    assert!(stderr(&drill).contains("nothing was changed"), "{}", stderr(&drill));
    assert_eq!(article.instance(&article.standby).0, InstanceStateName::Running, "the drill changed nothing");
    assert_eq!(article.instance(&article.primary).0, InstanceStateName::Stopped);
    assert!(notifications(&article.runtime, &article.sdk, &queue).is_empty());

    // With the alarm in place doctor passes, and the drill moves the group to the configured
    // primary and back to where it was, publishing both runs and reporting them.
    put_cpu_alarm(&article);
    let report = article.dir.join("drill.html");
    let drill = article.run_with_config(
        "drill",
        &["--group", "web", "--yes", "--output", "json", "--report", report.to_str().unwrap()],
    );
    assert_eq!(drill.status.code(), Some(0), "{}{}", stderr(&drill), String::from_utf8_lossy(&drill.stdout));
    assert_eq!(json(&drill)["restored"], true);
    assert_eq!(article.instance(&article.standby).0, InstanceStateName::Running, "back where it was");
    assert_eq!(article.instance(&article.primary).0, InstanceStateName::Stopped);
    let told = notifications(&article.runtime, &article.sdk, &queue);
    let kinds: Vec<&str> = told.iter().map(|(_, message)| message["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["drill-failover", "drill-switchback"], "{told:?}");
    assert_eq!(told[0].1["to"].as_str(), Some(&*article.primary));
    let html = std::fs::read_to_string(&report).unwrap();
    assert!(html.contains("as coldstandby observed them"), "on EC2 the lanes are the run's observations");
    // Every call made is in the table, the reads too, as EC2 answered them.
    for operation in ["DescribeInstances", "StopInstances", "StartInstances", "CreateTags"] {
        assert!(html.contains(&format!("<td>{operation}</td>")), "the report lists {operation}");
    }
}

/// The article's CPU alarm on the primary, as the configuration names it.
fn put_cpu_alarm(article: &Article) {
    article.runtime.block_on(async {
        let cloudwatch = aws_sdk_cloudwatch::Client::new(&article.sdk);
        let dimension = aws_sdk_cloudwatch::types::Dimension::builder()
            .name("InstanceId")
            .value(&article.primary)
            .build();
        cloudwatch
            .put_metric_alarm()
            .alarm_name("web-primary-cpu-high")
            .namespace("AWS/EC2")
            .metric_name("CPUUtilization")
            .dimensions(dimension)
            .statistic(aws_sdk_cloudwatch::types::Statistic::Average)
            .period(60)
            .evaluation_periods(1)
            .threshold(50.0)
            .comparison_operator(aws_sdk_cloudwatch::types::ComparisonOperator::GreaterThanThreshold)
            .send()
            .await
            .unwrap();
    });
}
