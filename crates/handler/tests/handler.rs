//! The alarm handler on the simulated region: which events act, duplicates, mismatches, missing
//! instances, malformed events, deadlines and opting in to INSUFFICIENT_DATA.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::collections::BTreeMap;
use std::path::Path;

use coldstandby_config::Config;
use coldstandby_engine::driver::Quiet;
use coldstandby_engine::lock::{GroupLock, InProcessLocks};
use coldstandby_engine::tags::ACTIVATED_AT_TAG;
use coldstandby_engine::{ApiError, Call, InstanceState, Outcome, Role, Timestamp};
use coldstandby_handler::{
    AlarmReading, AlarmState, AlarmStates, GroupResult, Handled, Handler, HandlerError, NoAlarmStates,
};
use coldstandby_sim::{SimInstance, SimRegion, Timings};
use serde_json::Value;

const PRIMARY: &str = "i-0a1b2c3d4e5f60718";
const STANDBY: &str = "i-0f9e8d7c6b5a40312";
const START: Timestamp = Timestamp::from_unix_millis(1_795_143_600_000);

fn config(extra: &str) -> Config {
    let text = format!(
        "region = \"ap-northeast-1\"\n[[group]]\nname = \"web\"\nprimary = \"{PRIMARY}\"\nstandbys = [\"{STANDBY}\"]\nalarms = [\"web-primary-cpu-high\", \"web-primary-down\"]\n{extra}"
    );
    coldstandby_config::parse(&text, "test.toml").unwrap()
}

fn region() -> SimRegion {
    let region = SimRegion::new(3, START, Timings::default());
    region.add_instance(SimInstance::new(
        PRIMARY.parse().unwrap(),
        "ap-northeast-1a",
        InstanceState::Running,
    ));
    region.add_instance(SimInstance::new(
        STANDBY.parse().unwrap(),
        "ap-northeast-1c",
        InstanceState::Stopped,
    ));
    region
}

fn event(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/events").join(name);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The handler as a test drives it: on the simulated region, no alarms to read.
fn handler_on<'a>(
    config: &'a Config,
    region: &'a SimRegion,
    locks: &'a InProcessLocks,
) -> Handler<'a, SimRegion, SimRegion> {
    handler_reading(config, region, locks, &NoAlarmStates)
}

/// The handler on the simulated region, reading alarms from `alarms`.
fn handler_reading<'a, A: AlarmStates>(
    config: &'a Config,
    region: &'a SimRegion,
    locks: &'a InProcessLocks,
    alarms: &'a A,
) -> Handler<'a, SimRegion, SimRegion, A> {
    Handler { config, provider: region, clock: region, locks, owner: "test", alarms }
}

fn handle(config: &Config, region: &SimRegion, event: &Value) -> Result<Handled, HandlerError> {
    let locks = InProcessLocks::default();
    region.run(handler_on(config, region, &locks).handle(event, None, &mut Quiet))
}

fn mutating_calls(region: &SimRegion) -> usize {
    region.calls().iter().filter(|c| !matches!(c.call, Call::Describe { .. })).count()
}

fn state(region: &SimRegion, id: &str) -> InstanceState {
    region.instance(&id.parse().unwrap()).unwrap().state
}

#[test]
fn an_alarm_event_fails_the_group_over_and_records_the_trigger() {
    let config = config("");
    let region = region();
    let handled = handle(&config, &region, &event("cpu-alarm.json")).unwrap();
    let Handled::Acted { state, trigger, groups, .. } = handled else { panic!("{handled:?}") };
    assert_eq!(state, AlarmState::Alarm);
    assert_eq!(
        trigger,
        "alarm arn:aws:cloudwatch:ap-northeast-1:111122223333:alarm:web-primary-cpu-high ALARM at 2026-11-20T03:02:07.118+00:00"
    );
    assert!(matches!(&groups[0], GroupResult::Ran { outcome: Outcome::FailedOver { .. }, .. }), "{groups:?}");
    assert_eq!(state_of(&region), (InstanceState::Stopped, InstanceState::Running));
    let tags = region.instance(&STANDBY.parse().unwrap()).unwrap().tags;
    assert_eq!(Role::recorded_in(&tags), Some(Role::Active));
    assert_eq!(tags["coldstandby:trigger"], trigger);
}

fn state_of(region: &SimRegion) -> (InstanceState, InstanceState) {
    (state(region, PRIMARY), state(region, STANDBY))
}

#[test]
fn a_duplicate_delivery_is_a_no_op_and_a_new_alarm_finds_nothing_to_do() {
    let config = config("");
    let region = region();
    handle(&config, &region, &event("cpu-alarm.json")).unwrap();
    let after_first = mutating_calls(&region);

    let again = handle(&config, &region, &event("cpu-alarm.json")).unwrap();
    let Handled::Acted { groups, .. } = again else { panic!("{again:?}") };
    assert!(
        matches!(&groups[0], GroupResult::Duplicate { handled_by, .. } if handled_by.as_str() == STANDBY)
    );
    assert_eq!(mutating_calls(&region), after_first, "no second action");

    // The same alarm, a later state change (a new timestamp): the group is already failed over.
    let mut later = event("cpu-alarm.json");
    later["alarmData"]["state"]["timestamp"] = "2026-11-20T04:00:07.000+0000".into();
    let Handled::Acted { groups, .. } = handle(&config, &region, &later).unwrap() else { panic!() };
    assert!(
        matches!(&groups[0], GroupResult::Ran { outcome: Outcome::AlreadyActive { .. }, .. }),
        "{groups:?}"
    );
    assert_eq!(mutating_calls(&region), after_first);
}

#[test]
fn ok_and_insufficient_data_are_ignored_unless_the_group_opts_in() {
    let region = region();
    for name in ["cpu-ok.json", "cpu-insufficient-data.json"] {
        let handled = handle(&config(""), &region, &event(name)).unwrap();
        assert!(matches!(handled, Handled::Ignored { .. }), "{name}: {handled:?}");
    }
    assert!(region.calls().is_empty(), "not even a describe");

    let opted_in = config("fail_over_on_insufficient_data = true");
    let handled = handle(&opted_in, &region, &event("cpu-insufficient-data.json")).unwrap();
    assert!(matches!(handled, Handled::Acted { .. }), "{handled:?}");
    assert_eq!(state_of(&region), (InstanceState::Stopped, InstanceState::Running));
}

#[test]
fn an_alarm_no_group_lists_does_nothing_and_succeeds() {
    let region = region();
    let mut other = event("cpu-alarm.json");
    other["alarmArn"] = "arn:aws:cloudwatch:ap-northeast-1:111122223333:alarm:db-primary-cpu-high".into();
    other["alarmData"]["alarmName"] = "db-primary-cpu-high".into();
    let handled = handle(&config(""), &region, &other).unwrap();
    assert_eq!(handled, Handled::NoGroup { alarm: "db-primary-cpu-high".to_owned() });
    assert!(region.calls().is_empty());
}

#[test]
fn a_composite_alarm_listed_by_name_fails_the_group_over() {
    let region = region();
    let handled = handle(&config(""), &region, &event("composite-alarm.json")).unwrap();
    assert!(matches!(handled, Handled::Acted { .. }), "{handled:?}");
    assert_eq!(state_of(&region), (InstanceState::Stopped, InstanceState::Running));
}

#[test]
fn an_alarm_watching_another_instance_is_refused() {
    let region = region();
    let mut wrong = event("cpu-alarm.json");
    wrong["alarmData"]["configuration"]["metrics"][0]["metricStat"]["metric"]["dimensions"]["InstanceId"] =
        "i-0123456789abcdef0".into();
    let error = handle(&config(""), &region, &wrong).unwrap_err();
    let message = error.to_string();
    assert!(matches!(error, HandlerError::DimensionMismatch { .. }), "{message}");
    assert!(message.contains("watches i-0123456789abcdef0") && message.contains(PRIMARY), "{message}");
    assert_eq!(mutating_calls(&region), 0);
}

#[test]
fn an_instance_missing_from_ec2_is_named_and_nothing_changes() {
    let region = SimRegion::new(3, START, Timings::default());
    region.add_instance(SimInstance::new(
        PRIMARY.parse().unwrap(),
        "ap-northeast-1a",
        InstanceState::Running,
    ));
    let error = handle(&config(""), &region, &event("cpu-alarm.json")).unwrap_err();
    let message = error.to_string();
    assert!(message.contains(&format!("{STANDBY} not found")), "{message}");
    assert_eq!(mutating_calls(&region), 0);
    assert_eq!(state(&region, PRIMARY), InstanceState::Running);
}

#[test]
fn malformed_events_are_rejected_with_the_reason() {
    let region = region();
    let cases: [(Value, &str); 4] = [
        (serde_json::json!({"hello": "world"}), "missing field"),
        (serde_json::json!({"source": "aws.ec2", "time": "2026-11-20T03:02:07Z"}), "not aws.cloudwatch"),
        (
            serde_json::json!({"source": "aws.cloudwatch", "time": "2026-11-20T03:02:07Z", "alarmData": {}}),
            "alarmName",
        ),
        (serde_json::json!([1, 2, 3]), "not a CloudWatch alarm event"),
    ];
    for (bad, expected) in cases {
        let error = handle(&config(""), &region, &bad).unwrap_err();
        assert!(matches!(error, HandlerError::MalformedEvent(_)), "{error}");
        assert!(error.to_string().contains(expected), "`{expected}` not in `{error}`");
    }
    assert!(region.calls().is_empty());
}

#[test]
fn a_busy_group_is_not_acted_on_twice() {
    let config = config("");
    let region = region();
    let locks = InProcessLocks::default();
    let _held = locks.try_lock("web").unwrap();
    let handler = handler_on(&config, &region, &locks);
    let error = region.run(handler.handle(&event("cpu-alarm.json"), None, &mut Quiet)).unwrap_err();
    assert!(matches!(error, HandlerError::Busy(_)), "{error}");
    assert_eq!(mutating_calls(&region), 0);
}

#[test]
fn a_short_deadline_fails_the_invocation_and_a_retry_finishes_the_job() {
    let config = config("");
    let region = region();
    region.with_instance(&PRIMARY.parse().unwrap(), |primary, _| primary.faults.stop_hangs = true);
    let locks = InProcessLocks::default();
    let handler = handler_on(&config, &region, &locks);
    // Lambda's default 3 s timeout plus a little: far too short to fence a hanging primary.
    let deadline = Some(START + std::time::Duration::from_secs(10));
    let error = region.run(handler.handle(&event("cpu-alarm.json"), deadline, &mut Quiet)).unwrap_err();
    let HandlerError::FailoverFailed { report, .. } = &error else { panic!("{error}") };
    assert!(report.finished_at <= START + std::time::Duration::from_secs(7), "stopped before the margin");
    assert_eq!(state(&region, STANDBY), InstanceState::Stopped, "fence-first: nothing started");

    // The retried invocation, with a proper deadline, resumes from the real states.
    let handled = region.run(handler.handle(&event("cpu-alarm.json"), None, &mut Quiet)).unwrap();
    assert!(matches!(handled, Handled::Acted { .. }));
    assert_eq!(state_of(&region), (InstanceState::Stopped, InstanceState::Running));
}

#[test]
fn cloudwatch_timestamps_without_a_colon_in_the_offset_are_read() {
    let parsed = coldstandby_handler::event::parse(&event("cpu-ok.json")).unwrap();
    assert_eq!(parsed.state, AlarmState::Ok);
    assert_eq!(parsed.previous_state, Some(AlarmState::Alarm));
    assert_eq!(parsed.state_timestamp, "2026-11-20T03:09:07.530+00:00");
    assert_eq!(parsed.instance_ids, [PRIMARY]);
}

#[test]
fn a_group_that_fails_does_not_keep_the_other_groups_on_the_alarm_from_failing_over() {
    const OTHER_PRIMARY: &str = "i-0123456789abcdef0";
    const OTHER_STANDBY: &str = "i-0fedcba9876543210";
    let text = format!(
        "region = \"ap-northeast-1\"\n[[group]]\nname = \"broken\"\nprimary = \"{PRIMARY}\"\nstandbys = [\"{STANDBY}\"]\nalarms = [\"web-primary-cpu-high\"]\n[[group]]\nname = \"api\"\nprimary = \"{OTHER_PRIMARY}\"\nstandbys = [\"{OTHER_STANDBY}\"]\nalarms = [\"web-primary-cpu-high\"]\n"
    );
    let config = coldstandby_config::parse(&text, "test.toml").unwrap();
    let region = region();
    // The first group's only standby cannot be started.
    region.with_instance(&STANDBY.parse().unwrap(), |standby, _| standby.faults.denied = true);
    region.add_instance(SimInstance::new(
        OTHER_PRIMARY.parse().unwrap(),
        "ap-northeast-1a",
        InstanceState::Running,
    ));
    region.add_instance(SimInstance::new(
        OTHER_STANDBY.parse().unwrap(),
        "ap-northeast-1c",
        InstanceState::Stopped,
    ));
    // A metric alarm on one instance would be refused for the other group: use one without.
    let mut alarm = event("cpu-alarm.json");
    alarm["alarmData"]["configuration"]["metrics"][0]["metricStat"]["metric"]["dimensions"] =
        serde_json::json!({});

    let error = handle(&config, &region, &alarm).unwrap_err();
    let HandlerError::GroupsFailed { done, failed } = &error else { panic!("{error}") };
    assert_eq!(error.error_type(), "ColdStandby.GroupsFailed");
    assert!(error.to_string().starts_with("1 of 2 groups failed: group `broken`"), "{error}");
    assert_eq!(failed.len(), 1);
    assert!(matches!(&done[..], [GroupResult::Ran { outcome: Outcome::FailedOver { .. }, .. }]), "{done:?}");
    assert_eq!(state(&region, OTHER_STANDBY), InstanceState::Running, "the second group failed over");
    assert_eq!(state(&region, OTHER_PRIMARY), InstanceState::Stopped);
}

#[test]
fn a_standby_ec2_no_longer_returns_is_skipped_not_a_reason_to_refuse_the_event() {
    const PURGED: &str = "i-0aaaabbbbccccdddd";
    let config = coldstandby_config::parse(
        &format!(
            "region = \"ap-northeast-1\"\n[[group]]\nname = \"web\"\nprimary = \"{PRIMARY}\"\nstandbys = [\"{PURGED}\", \"{STANDBY}\"]\nalarms = [\"web-primary-cpu-high\"]\n"
        ),
        "test.toml",
    )
    .unwrap();
    let region = region();
    let handled = handle(&config, &region, &event("cpu-alarm.json")).unwrap();
    let Handled::Acted { groups, .. } = handled else { panic!("{handled:?}") };
    assert!(matches!(&groups[0], GroupResult::Ran { outcome: Outcome::FailedOver { .. }, .. }), "{groups:?}");
    assert_eq!(state_of(&region), (InstanceState::Stopped, InstanceState::Running));
}

/// The region after a failover and a switchback that activated the primary again at
/// `activated_at`: the primary runs, recorded active; the standby is stopped.
fn switched_back_region(activated_at: Timestamp) -> SimRegion {
    let region = region();
    region.with_instance(&PRIMARY.parse().unwrap(), |primary, _| {
        primary.tags = Role::Active.tags_for("web");
        primary.tags.insert(ACTIVATED_AT_TAG.to_owned(), activated_at.unix_millis().to_string());
    });
    region
        .with_instance(&STANDBY.parse().unwrap(), |standby, _| standby.tags = Role::Standby.tags_for("web"));
    region.advance(activated_at.saturating_since(START) + std::time::Duration::from_secs(60));
    region
}

/// Issue "an old verdict is not a new one": an ALARM event that waited in Lambda's queue (or was
/// retried) and arrives after an operator switched back told of the member before, and used to
/// fail the healthy primary over. It is history now; a state change after the activation acts.
#[test]
fn an_event_older_than_the_active_members_activation_is_history() {
    let config = config("");
    // cpu-alarm.json changed state at 03:02:07; the switchback activated the primary at 03:10.
    let region = switched_back_region(START + std::time::Duration::from_secs(600));
    let handled = handle(&config, &region, &event("cpu-alarm.json")).unwrap();
    let Handled::Acted { groups, .. } = handled else { panic!("{handled:?}") };
    assert!(
        matches!(&groups[0], GroupResult::History { active, .. } if active.as_str() == PRIMARY),
        "{groups:?}"
    );
    assert_eq!(mutating_calls(&region), 0, "nothing changed");
    assert_eq!(state_of(&region), (InstanceState::Running, InstanceState::Stopped));

    let mut newer = event("cpu-alarm.json");
    newer["alarmData"]["state"]["timestamp"] = "2026-11-20T03:10:30.000+0000".into();
    let Handled::Acted { groups, .. } = handle(&config, &region, &newer).unwrap() else { panic!() };
    assert!(matches!(&groups[0], GroupResult::Ran { outcome: Outcome::FailedOver { .. }, .. }), "{groups:?}");
    assert_eq!(state_of(&region), (InstanceState::Stopped, InstanceState::Running));
}

/// What DescribeAlarms answers for the event's alarm, fixed for a test.
struct AlarmNow(AlarmReading);

impl AlarmStates for AlarmNow {
    async fn alarm_states(&self, names: &[String]) -> Result<BTreeMap<String, AlarmReading>, ApiError> {
        Ok(names.iter().map(|name| (name.clone(), self.0)).collect())
    }
}

/// Before acting, the alarm is read again: an event whose alarm has since gone back to OK, or
/// entered ALARM again later (that later change has its own event), changes nothing. One that
/// the alarm still shows acts.
#[test]
fn an_event_the_alarm_no_longer_shows_changes_nothing() {
    let config = config("");
    let at = |text: &str| coldstandby_alarm::timestamp::parse(text).unwrap();
    for (now, expect_ignored) in [
        (AlarmReading { state: AlarmState::Ok, since: Some(at("2026-11-20T03:05:00Z")) }, true),
        (AlarmReading { state: AlarmState::Alarm, since: Some(at("2026-11-20T03:09:00Z")) }, true),
        (AlarmReading { state: AlarmState::Alarm, since: Some(at("2026-11-20T03:02:07.118Z")) }, false),
    ] {
        let region = region();
        let locks = InProcessLocks::default();
        let alarms = AlarmNow(now);
        let handler = handler_reading(&config, &region, &locks, &alarms);
        let handled = region.run(handler.handle(&event("cpu-alarm.json"), None, &mut Quiet)).unwrap();
        if expect_ignored {
            assert!(matches!(handled, Handled::Ignored { .. }), "{now:?}: {handled:?}");
            assert_eq!(mutating_calls(&region), 0, "{now:?}: nothing changed");
            assert_eq!(state_of(&region), (InstanceState::Running, InstanceState::Stopped));
        } else {
            assert!(matches!(handled, Handled::Acted { .. }), "{handled:?}");
            assert_eq!(state_of(&region), (InstanceState::Stopped, InstanceState::Running));
        }
    }
}
