//! A provider hooked to a `Recorder` passes each call on unchanged, and the recorder keeps when
//! it was made, what it was and how it ended: what a drill's report on real EC2 lists.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use std::collections::BTreeMap;
use std::sync::Mutex;

use coldstandby_engine::call_hooks::{CallHook, CallTiming, Hooked, ProviderCall};
use coldstandby_engine::clients::{Change, ClientView, ElasticIp, Endpoint, Mover, Probe, ProbeResult};
use coldstandby_engine::isolation::SubnetAcl;
use coldstandby_engine::lease::{LeaseCall, LeaseReply};
use coldstandby_engine::recording::Recorder;
use coldstandby_engine::{ApiError, ErrorKind, InstanceId, InstanceState, Observation, Provider, Timestamp};
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
    let recorder = Recorder::default();
    let recording = Hooked::new(&region, &region, &recorder);
    region.run(async {
        let seen = recording.describe(std::slice::from_ref(&standby)).await.unwrap();
        assert_eq!(seen[0].state, InstanceState::Stopped, "the answer is the inner provider's");
        recording.start(std::slice::from_ref(&standby)).await.unwrap();
        assert!(recording.start(std::slice::from_ref(&unknown)).await.is_err());
    });
    let calls = recorder.calls();
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

/// Answers every call with an error naming the method, so a call the wrapper failed to forward
/// (answered by the trait's default refusal instead) shows.
struct NamesEachMethod;

fn reached(method: &str) -> ApiError {
    ApiError::new(ErrorKind::Invalid, format!("Reached.{method}"), "the inner provider answered")
}

impl Provider for NamesEachMethod {
    async fn describe(&self, _: &[InstanceId]) -> Result<Vec<Observation>, ApiError> {
        Err(reached("describe"))
    }
    async fn start(&self, _: &[InstanceId]) -> Result<(), ApiError> {
        Err(reached("start"))
    }
    async fn stop(&self, _: &[InstanceId], _: bool) -> Result<(), ApiError> {
        Err(reached("stop"))
    }
    async fn set_tags(&self, _: &[InstanceId], _: &BTreeMap<String, String>) -> Result<(), ApiError> {
        Err(reached("set_tags"))
    }
    async fn probe(&self, _: &InstanceId, _: &str, _: &Probe) -> Result<ProbeResult, ApiError> {
        Err(reached("probe"))
    }
    async fn read_clients(&self, _: &Mover, _: &Endpoint, _: Option<&str>) -> Result<ClientView, ApiError> {
        Err(reached("read_clients"))
    }
    async fn move_clients(&self, _: &Change) -> Result<Option<String>, ApiError> {
        Err(reached("move_clients"))
    }
    async fn read_network_acl(&self, _: &str) -> Result<SubnetAcl, ApiError> {
        Err(reached("read_network_acl"))
    }
    async fn isolate(&self, _: &str, _: &str) -> Result<(), ApiError> {
        Err(reached("isolate"))
    }
    async fn lease(&self, _: &LeaseCall) -> Result<LeaseReply, ApiError> {
        Err(reached("lease"))
    }
}

/// What a hook was told of one call.
struct Heard {
    operation: String,
    subject: String,
    error: Option<String>,
    aws: bool,
}

#[derive(Default)]
struct Told(Mutex<Vec<Heard>>);

impl CallHook for Told {
    fn ended(&self, call: &ProviderCall<'_>, timing: CallTiming, error: Option<&ApiError>) {
        assert!(timing.ended_at >= timing.sent_at, "a call ends after it is sent");
        self.0.lock().unwrap().push(Heard {
            operation: call.operation().into_owned(),
            subject: call.subject(),
            error: error.map(|error| error.code.clone()),
            aws: call.is_aws_call(),
        });
    }
}

#[test]
#[expect(
    clippy::too_many_lines,
    reason = "one call per provider method: the test's point is to name every one"
)]
fn every_provider_method_is_forwarded_and_told_to_the_hook_once() {
    let start = Timestamp::from_unix_millis(1_767_225_600_000);
    let clock = SimRegion::new(1, start, Timings::default());
    let told = Told::default();
    let hooked = Hooked::new(&NamesEachMethod, &clock, &told);
    let member: InstanceId = "i-0f9e8d7c6b5a40312".parse().unwrap();
    let members = std::slice::from_ref(&member);
    let tags = BTreeMap::from([("coldstandby:active".to_owned(), "true".to_owned())]);
    let mover = Mover::ElasticIp(ElasticIp { allocation: "eipalloc-0123456789abcdef0".to_owned() });
    let endpoint = Endpoint {
        instance: member.clone(),
        network_interface: "eni-0123456789abcdef0".to_owned(),
        private_ip: "10.0.1.10".to_owned(),
    };
    let change = Change::DisableSourceDestCheck { network_interface: "eni-0123456789abcdef0".to_owned() };
    let lease = LeaseCall::Read { table: "coldstandby-leases".to_owned(), group: "web".to_owned() };
    let codes: Vec<String> = clock.run(async {
        let answers = [
            hooked.describe(members).await.map(drop),
            hooked.start(members).await,
            hooked.stop(members, true).await,
            hooked.set_tags(members, &tags).await,
            hooked.probe(&member, "10.0.1.10", &Probe::Tcp { port: 5432 }).await.map(drop),
            hooked.probe(&member, "10.0.1.10", &Probe::Ec2Status).await.map(drop),
            hooked.read_clients(&mover, &endpoint, None).await.map(drop),
            hooked.move_clients(&change).await.map(drop),
            hooked.read_network_acl("subnet-0123456789abcdef0").await.map(drop),
            hooked.isolate("aclassoc-01234567", "acl-0123456789abcdef0").await,
            hooked.lease(&lease).await.map(drop),
        ];
        answers.into_iter().map(|answer| answer.unwrap_err().code).collect()
    });
    let reached: Vec<&str> = codes.iter().map(|code| code.strip_prefix("Reached.").unwrap_or(code)).collect();
    assert_eq!(
        reached,
        [
            "describe",
            "start",
            "stop",
            "set_tags",
            "probe",
            "probe",
            "read_clients",
            "move_clients",
            "read_network_acl",
            "isolate",
            "lease"
        ],
        "each call reaches the inner provider, unchanged"
    );
    let told = told.0.into_inner().unwrap();
    let operations: Vec<(&str, bool)> =
        told.iter().map(|heard| (heard.operation.as_str(), heard.aws)).collect();
    assert_eq!(
        operations,
        [
            ("DescribeInstances", true),
            ("StartInstances", true),
            ("StopInstances", true),
            ("CreateTags", true),
            ("tcp", false),
            ("ec2-status", true),
            ("read elastic-ip", true),
            ("ModifyNetworkInterfaceAttribute", true),
            ("DescribeNetworkAcls", true),
            ("ReplaceNetworkAclAssociation", true),
            ("GetItem", true)
        ]
    );
    assert!(told.iter().zip(&codes).all(|(heard, code)| heard.error.as_deref() == Some(code.as_str())));
    assert_eq!(told[3].subject, "i-0f9e8d7c6b5a40312: coldstandby:active");
    assert_eq!(told[9].subject, "aclassoc-01234567 -> acl-0123456789abcdef0");
}
