//! `Recording` passes each call on unchanged and keeps when it was made, what it was and how it
//! ended: what a drill's report on real EC2 lists.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use coldstandby_engine::recording::Recording;
use coldstandby_engine::{InstanceId, InstanceState, Provider, Timestamp};
use coldstandby_sim::{SimInstance, SimRegion, Timings};

#[test]
fn every_call_is_passed_on_and_recorded_with_its_result() {
    let start = Timestamp::from_unix_millis(1_767_225_600_000);
    let region = SimRegion::new(7, start, Timings::default());
    let standby: InstanceId = "i-0f9e8d7c6b5a40312".parse().unwrap();
    let unknown: InstanceId = "i-0aaaabbbbccccdddd".parse().unwrap();
    region.add_instance(SimInstance::new(
        standby.clone(),
        "ap-northeast-1c".to_owned(),
        InstanceState::Stopped,
    ));
    let recording = Recording::new(&region, &region);
    region.run(async {
        let seen = recording.describe(std::slice::from_ref(&standby)).await.unwrap();
        assert_eq!(seen[0].state, InstanceState::Stopped, "the answer is the inner provider's");
        recording.start(std::slice::from_ref(&standby)).await.unwrap();
        assert!(recording.start(std::slice::from_ref(&unknown)).await.is_err());
    });
    let calls = recording.calls();
    let summary: Vec<(&str, &str, Option<&str>)> = calls
        .iter()
        .map(|call| (call.operation.as_str(), call.subject.as_str(), call.error.as_deref()))
        .collect();
    assert_eq!(
        summary,
        [
            ("DescribeInstances", "i-0f9e8d7c6b5a40312", None),
            ("StartInstances", "i-0f9e8d7c6b5a40312", None),
            ("StartInstances", "i-0aaaabbbbccccdddd", Some("InvalidInstanceID.NotFound")),
        ]
    );
    assert!(calls.iter().all(|call| call.at >= start));
    // The region saw the start: the standby is on its way up.
    assert_ne!(region.instance(&standby).unwrap().state, InstanceState::Stopped);
}
