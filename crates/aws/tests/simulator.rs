//! The IAM policy simulator path of doctor's role check, against recorded
//! SimulatePrincipalPolicy answers served on loopback (moto has no simulator).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::net::TcpListener;

use coldstandby_aws::Inspector;
use coldstandby_deploy::iam::{Decision, Request};

const INSTANCE: &str = "arn:aws:ec2:ap-northeast-1:111122223333:instance/i-0a1b2c3d4e5f60718";

/// IAM's answer for one action, as the simulator words it.
fn recorded_answer(action: &str, decision: &str) -> String {
    format!(
        r#"<SimulatePrincipalPolicyResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">
  <SimulatePrincipalPolicyResult>
    <IsTruncated>false</IsTruncated>
    <EvaluationResults>
      <member>
        <EvalActionName>{action}</EvalActionName>
        <EvalResourceName>{INSTANCE}</EvalResourceName>
        <EvalDecision>{decision}</EvalDecision>
        <MatchedStatements/>
        <MissingContextValues/>
      </member>
    </EvaluationResults>
  </SimulatePrincipalPolicyResult>
  <ResponseMetadata><RequestId>7a62c49f-347e-4fc4-9331-6e8eEXAMPLE</RequestId></ResponseMetadata>
</SimulatePrincipalPolicyResponse>"#
    )
}

#[test]
fn the_simulators_decisions_are_used_when_it_answers() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let requests: Vec<Request> = ["ec2:StartInstances", "ec2:StopInstances", "ec2:CreateTags"]
        .iter()
        .map(|action| Request {
            action: (*action).to_owned(),
            resource: INSTANCE.to_owned(),
            context: if *action == "ec2:CreateTags" {
                BTreeMap::from([("aws:tagkeys".to_owned(), vec!["coldstandby:role".to_owned()])])
            } else {
                BTreeMap::new()
            },
        })
        .collect();
    // StopInstances is denied, everything else allowed.
    let server = common::serve(listener, requests.len(), |request| {
        let stop = request.body.contains("ec2%3AStopInstances");
        let (action, decision) =
            if stop { ("ec2:StopInstances", "implicitDeny") } else { ("other", "allowed") };
        ("text/xml", recorded_answer(action, decision))
    });
    let role = common::runtime().block_on(async {
        let sdk = common::sdk_config(&endpoint).await;
        Inspector::new(&sdk).role("arn:aws:iam::111122223333:role/coldstandby", &requests).await
    });
    let bodies: Vec<String> = server.join().unwrap().into_iter().map(|r| r.body).collect();
    let role = role.unwrap();
    assert_eq!(role.method, "the IAM policy simulator");
    let decisions: Vec<&Decision> = role.permissions.iter().map(|p| &p.decision).collect();
    assert_eq!(decisions, [&Decision::Allowed, &Decision::ImplicitDeny, &Decision::Allowed]);
    let tagging = &bodies[2];
    assert!(tagging.contains("Action=SimulatePrincipalPolicy"), "{tagging}");
    assert!(
        tagging.contains("aws%3ATagKeys") || tagging.contains("aws%3Atagkeys"),
        "context passed: {tagging}"
    );
    assert!(tagging.contains("stringList"), "{tagging}");
}
