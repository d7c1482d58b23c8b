//! The IAM policy simulator path of doctor's role check, against recorded
//! SimulatePrincipalPolicy answers served on loopback (moto has no simulator).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
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

/// Serve `count` simulator requests: StopInstances is denied, everything else allowed.
/// Returns the request bodies.
fn serve(listener: TcpListener, count: usize) -> std::thread::JoinHandle<Vec<String>> {
    std::thread::spawn(move || {
        let mut bodies = Vec::new();
        for _ in 0..count {
            let (stream, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(stream);
            let mut length = 0;
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = value.trim().parse().unwrap();
                }
                if line == "\r\n" {
                    break;
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            let body = String::from_utf8(body).unwrap();
            let action = if body.contains("ec2%3AStopInstances") { "ec2:StopInstances" } else { "other" };
            let decision = if action == "ec2:StopInstances" { "implicitDeny" } else { "allowed" };
            let answer = recorded_answer(action, decision);
            let mut stream = reader.into_inner();
            write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                answer.len()
            )
            .unwrap();
            bodies.push(body);
        }
        bodies
    })
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
    let server = serve(listener, requests.len());
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let role = runtime.block_on(async {
        let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("ap-northeast-1"))
            .endpoint_url(&endpoint)
            .credentials_provider(aws_sdk_iam::config::Credentials::new(
                "testing", "testing", None, None, "tests",
            ))
            .retry_config(aws_config::retry::RetryConfig::disabled())
            .load()
            .await;
        Inspector::new(&sdk).role("arn:aws:iam::111122223333:role/coldstandby", &requests).await
    });
    let bodies = server.join().unwrap();
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
