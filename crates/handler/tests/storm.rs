//! An alarm storm (an Availability Zone down under 20 groups): the first event reads every
//! listed alarm's state and fails every firing group over in one fleet run; the next event finds
//! its group already active; without `check_every_alarm`, or when the alarms cannot be read, only
//! the event's group acts. A storm group whose alarm has been firing since before its active
//! member was activated is history, not news. Judged from the simulated region.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::collections::BTreeMap;

use coldstandby_config::Config;
use coldstandby_engine::driver::Quiet;
use coldstandby_engine::lock::InProcessLocks;
use coldstandby_engine::{ApiError, Call, InstanceState, Outcome, Timestamp};
use coldstandby_handler::{
    AlarmReading, AlarmState, AlarmStates, GroupResult, Handled, Handler, HandlerError, NoAlarmStates,
};
use coldstandby_sim::{SimInstance, SimRegion, Timings};
use serde_json::{json, Value};

const START: Timestamp = Timestamp::from_unix_millis(1_795_143_600_000);
const GROUPS: usize = 20;

/// Alarm states as CloudWatch would answer them, counting the calls.
struct FixedAlarms {
    states: BTreeMap<String, AlarmState>,
    /// Since when every alarm has been in its state, when CloudWatch says.
    since: Option<Timestamp>,
    calls: std::cell::Cell<usize>,
}

impl AlarmStates for FixedAlarms {
    async fn alarm_states(&self, names: &[String]) -> Result<BTreeMap<String, AlarmReading>, ApiError> {
        assert!(names.len() <= 100, "DescribeAlarms takes at most 100 names");
        self.calls.set(self.calls.get() + 1);
        let reading = |state: AlarmState| AlarmReading { state, since: self.since };
        Ok(names.iter().filter_map(|name| Some((name.clone(), reading(*self.states.get(name)?)))).collect())
    }
}

fn primary(n: usize) -> String {
    format!("i-0a{n:015x}")
}

fn standby(n: usize) -> String {
    format!("i-0b{n:015x}")
}

fn config(extra: &str) -> Config {
    let mut text = format!("region = \"ap-northeast-1\"\n{extra}\n");
    for n in 0..GROUPS {
        text.push_str(&format!(
            "[[group]]\nname = \"g{n}\"\nprimary = \"{}\"\nstandbys = [\"{}\"]\nalarms = [\"g{n}-down\"]\n",
            primary(n),
            standby(n)
        ));
    }
    coldstandby_config::parse(&text, "storm.toml").unwrap()
}

fn region() -> SimRegion {
    let region = SimRegion::new(5, START, Timings::default());
    for n in 0..GROUPS {
        region.add_instance(SimInstance::new(
            primary(n).parse().unwrap(),
            "ap-northeast-1a",
            InstanceState::Running,
        ));
        region.add_instance(SimInstance::new(
            standby(n).parse().unwrap(),
            "ap-northeast-1c",
            InstanceState::Stopped,
        ));
    }
    region
}

fn event(alarm: &str, at: &str) -> Value {
    json!({
        "source": "aws.cloudwatch",
        "alarmArn": format!("arn:aws:cloudwatch:ap-northeast-1:111122223333:alarm:{alarm}"),
        "accountId": "111122223333",
        "time": at,
        "region": "ap-northeast-1",
        "alarmData": {
            "alarmName": alarm,
            "state": {"value": "ALARM", "reason": "down", "timestamp": at},
            "previousState": {"value": "OK", "reason": "up", "timestamp": "2026-11-20T02:41:09.001+0000"},
            "configuration": {"metrics": []}
        }
    })
}

fn handle(
    config: &Config,
    region: &SimRegion,
    alarms: &impl AlarmStates,
    event: &Value,
) -> Result<Handled, HandlerError> {
    let locks = InProcessLocks::default();
    let handler = Handler { config, provider: region, clock: region, locks: &locks, owner: "test", alarms };
    region.run(handler.handle(event, None, &mut Quiet))
}

fn all_firing() -> FixedAlarms {
    let states = (0..GROUPS).map(|n| (format!("g{n}-down"), AlarmState::Alarm)).collect();
    FixedAlarms { states, since: None, calls: std::cell::Cell::new(0) }
}

fn running(region: &SimRegion) -> Vec<String> {
    region
        .instances()
        .into_iter()
        .filter(|i| i.state == InstanceState::Running)
        .map(|i| i.id.to_string())
        .collect()
}

fn requests(region: &SimRegion, wanted: impl Fn(&Call) -> bool) -> usize {
    let mut ids: Vec<u64> =
        region.calls().into_iter().filter(|r| wanted(&r.call)).map(|r| r.request).collect();
    ids.dedup();
    ids.len()
}

#[test]
fn the_first_event_of_a_storm_fails_every_firing_group_over_in_one_run() {
    let (config, region, alarms) = (config(""), region(), all_firing());
    let handled =
        handle(&config, &region, &alarms, &event("g0-down", "2026-11-20T03:02:09.731+0000")).unwrap();
    let Handled::Acted { groups, .. } = handled else { panic!("{handled:?}") };
    assert_eq!(groups.len(), GROUPS);
    assert!(groups.iter().all(|g| matches!(g, GroupResult::Ran { outcome: Outcome::FailedOver { .. }, .. })));
    assert_eq!(alarms.calls.get(), 1, "one DescribeAlarms for 20 alarms");
    // Every standby runs, every primary is stopped: as EC2 shows it.
    let mut expected: Vec<String> = (0..GROUPS).map(standby).collect();
    expected.sort();
    let mut found = running(&region);
    found.sort();
    assert_eq!(found, expected);
    // Batched: one start request for all standbys of one zone and type, not twenty.
    // Batched: the twenty stops in one request; the describes of one run, not twenty runs'.
    assert_eq!(requests(&region, |c| matches!(c, Call::Stop { .. })), 1);
    let alone = self::region();
    handle(
        &self::config("check_every_alarm = false"),
        &alone,
        &NoAlarmStates,
        &event("g0-down", "2026-11-20T03:02:09.731+0000"),
    )
    .unwrap();
    let (storm, one) = (
        requests(&region, |c| matches!(c, Call::Describe { .. })),
        requests(&alone, |c| matches!(c, Call::Describe { .. })),
    );
    assert!(storm < 4 * one, "{storm} describes for 20 groups, {one} for one alone");
    assert!(requests(&region, |c| matches!(c, Call::Stop { .. })) < 4);

    // The next event of the storm finds its group already active on its standby.
    let before = region.calls().iter().filter(|r| !matches!(r.call, Call::Describe { .. })).count();
    let handled =
        handle(&config, &region, &alarms, &event("g5-down", "2026-11-20T03:02:11.104+0000")).unwrap();
    let Handled::Acted { groups, .. } = handled else { panic!("{handled:?}") };
    let g5 = groups.iter().find(|g| matches!(g, GroupResult::Ran { group, .. } if group == "g5")).unwrap();
    assert!(matches!(g5, GroupResult::Ran { outcome: Outcome::AlreadyActive { .. }, .. }), "{g5:?}");
    let after = region.calls().iter().filter(|r| !matches!(r.call, Call::Describe { .. })).count();
    assert_eq!(before, after, "nothing changed");
}

#[test]
fn without_check_every_alarm_or_alarms_to_read_only_the_events_group_acts() {
    for (config, alarms) in [(config("check_every_alarm = false"), Some(all_firing())), (config(""), None)] {
        let region = region();
        let event = event("g3-down", "2026-11-20T03:02:09.731+0000");
        let handled = match &alarms {
            Some(alarms) => handle(&config, &region, alarms, &event),
            None => handle(&config, &region, &NoAlarmStates, &event),
        }
        .unwrap();
        let Handled::Acted { groups, .. } = handled else { panic!("{handled:?}") };
        assert_eq!(groups.len(), 1);
        assert_eq!(running(&region).iter().filter(|id| id.starts_with("i-0b")).count(), 1);
        // Only the event's own alarm is read again (is it still firing?), in one call.
        assert!(alarms.is_none_or(|alarms| alarms.calls.get() == 1), "one read when off");
    }
}

#[test]
fn a_firing_group_another_process_holds_is_left_to_it_and_does_not_fail_the_event() {
    use coldstandby_engine::lease::{LeaseCall, LeaseRecord};
    use coldstandby_engine::{Clock, Provider};
    let config = config("[lease]\ntable = \"leases\"\nduration_seconds = 10");
    let (region, alarms) = (region(), all_firing());
    // Another invocation holds g3 and renews its lease every 3 s for a minute.
    let renewer = async {
        let mut expected = None;
        for n in 0..20u64 {
            let record = LeaseRecord {
                group: "g3".to_owned(),
                owner: Some("lambda other".to_owned()),
                epoch: 1,
                version: format!("other #{n}"),
                duration_ms: 10_000,
            };
            let call = LeaseCall::Write { table: "leases".to_owned(), record, expected: expected.take() };
            region.lease(&call).await.unwrap();
            expected = Some(format!("other #{n}"));
            region.sleep_until(region.now() + std::time::Duration::from_secs(3)).await;
        }
        None
    };
    let handling = async {
        let locks = InProcessLocks::default();
        let handler = Handler {
            config: &config,
            provider: &region,
            clock: &region,
            locks: &locks,
            owner: "test",
            alarms: &alarms,
        };
        Some(handler.handle(&event("g0-down", "2026-11-20T03:02:09.731+0000"), None, &mut Quiet).await)
    };
    let results =
        region.run(coldstandby_sim::controller::join_all(vec![Box::pin(renewer), Box::pin(handling)]));
    let handled = results.into_iter().flatten().next().unwrap().unwrap();
    let Handled::Acted { groups, .. } = handled else { panic!("{handled:?}") };
    let g3 = groups.iter().find(|g| matches!(g, GroupResult::HeldElsewhere { group, .. } if group == "g3"));
    assert!(
        matches!(g3, Some(GroupResult::HeldElsewhere { owner, .. }) if owner == "lambda other"),
        "{groups:?}"
    );
    let failed_over = groups
        .iter()
        .filter(|g| matches!(g, GroupResult::Ran { outcome: Outcome::FailedOver { .. }, .. }))
        .count();
    assert_eq!(failed_over, GROUPS - 1);
    assert_eq!(
        region.instance(&primary(3).parse().unwrap()).unwrap().state,
        InstanceState::Running,
        "g3 untouched"
    );
}

#[test]
fn a_zone_that_does_not_answer_reaches_the_engines_fence_policy_not_a_describe_error() {
    let (config, region, alarms) = (config(""), region(), all_firing());
    region.impair_zone("ap-northeast-1a", coldstandby_sim::ImpairedCalls::Fail);
    let error =
        handle(&config, &region, &alarms, &event("g0-down", "2026-11-20T03:02:09.731+0000")).unwrap_err();
    let HandlerError::GroupsFailed { failed, .. } = error else { panic!("{error}") };
    assert_eq!(failed.len(), GROUPS);
    for error in &failed {
        let HandlerError::FailoverFailed { report, .. } = error else { panic!("{error}") };
        assert!(
            matches!(
                &report.outcome,
                Outcome::Failed { failure: coldstandby_engine::Failure::Unobservable { .. } }
            ),
            "{:?}",
            report.outcome
        );
    }
    assert!(running(&region).iter().all(|id| id.starts_with("i-0a")), "fail-closed started nothing");
}

/// A storm group whose alarm has been firing since before its active member was activated (an
/// operator switched it back while the alarm still showed the old failure) is history: its
/// healthy primary is left alone, while the event's own group fails over.
#[test]
fn a_storm_group_whose_alarm_fired_before_its_activation_is_left_alone() {
    use coldstandby_engine::tags::ACTIVATED_AT_TAG;
    use coldstandby_engine::Role;
    let (config, region) = (config(""), region());
    let switched_back = START + std::time::Duration::from_secs(300);
    region.with_instance(&primary(7).parse().unwrap(), |primary, _| {
        primary.tags = Role::Active.tags_for("g7");
        primary.tags.insert(ACTIVATED_AT_TAG.to_owned(), switched_back.unix_millis().to_string());
    });
    let alarms = FixedAlarms { since: Some(START), ..all_firing() };
    let handled =
        handle(&config, &region, &alarms, &event("g0-down", "2026-11-20T03:02:09.731+0000")).unwrap();
    let Handled::Acted { groups, .. } = handled else { panic!("{handled:?}") };
    let g7 = groups.iter().find(|g| matches!(g, GroupResult::History { group, .. } if group == "g7"));
    assert!(g7.is_some(), "{groups:?}");
    let g0 = groups.iter().find(|g| matches!(g, GroupResult::Ran { group, .. } if group == "g0")).unwrap();
    assert!(matches!(g0, GroupResult::Ran { outcome: Outcome::FailedOver { .. }, .. }), "{g0:?}");
    let running = running(&region);
    assert!(running.contains(&primary(7)) && !running.contains(&standby(7)), "g7 untouched: {running:?}");
}
