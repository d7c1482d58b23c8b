//! What the SDK edge sends and how it reads AWS's answers, against recorded answers on loopback,
//! for what moto cannot show: DescribeAlarms paging, GetAccountSettings, the parameters of
//! a forced StopInstances, and how DescribeInstances names its ids.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::TcpListener;

use coldstandby_aws::{Ec2Provider, Inspector};
use coldstandby_deploy::doctor::AccountConcurrency;
use coldstandby_engine::{InstanceId, Provider};

const FUNCTION_ARN: &str = "arn:aws:lambda:ap-northeast-1:111122223333:function:coldstandby";

fn listener() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    (listener, endpoint)
}

/// One DescribeAlarms page holding `alarm`, and a NextToken when `next` is given.
fn alarms_page(alarm: &str, next: Option<&str>) -> String {
    let next = next.map(|token| format!("<NextToken>{token}</NextToken>")).unwrap_or_default();
    format!(
        r#"<DescribeAlarmsResponse xmlns="http://monitoring.amazonaws.com/doc/2010-08-01/">
  <DescribeAlarmsResult>
    <MetricAlarms>
      <member>
        <AlarmName>{alarm}</AlarmName>
        <AlarmArn>arn:aws:cloudwatch:ap-northeast-1:111122223333:alarm:{alarm}</AlarmArn>
        <ActionsEnabled>true</ActionsEnabled>
        <AlarmActions><member>{FUNCTION_ARN}</member></AlarmActions>
        <InsufficientDataActions><member>{FUNCTION_ARN}:live</member></InsufficientDataActions>
        <Namespace>AWS/EC2</Namespace>
        <MetricName>CPUUtilization</MetricName>
        <Dimensions><member><Name>InstanceId</Name><Value>i-0a1b2c3d4e5f60718</Value></member></Dimensions>
      </member>
    </MetricAlarms>
    <CompositeAlarms/>
    {next}
  </DescribeAlarmsResult>
  <ResponseMetadata><RequestId>4ec4f3ac-0d94-4bd0-8f57-EXAMPLE</RequestId></ResponseMetadata>
</DescribeAlarmsResponse>"#
    )
}

#[test]
fn every_page_of_describe_alarms_is_read() {
    let (listener, endpoint) = listener();
    let server = common::serve(listener, 2, |request| {
        let page = if request.body.contains("NextToken=page-2") {
            alarms_page("db-cpu", None)
        } else {
            alarms_page("web-cpu", Some("page-2"))
        };
        ("text/xml", page)
    });
    let names = vec!["db-cpu".to_owned(), "web-cpu".to_owned()];
    let alarms = common::runtime().block_on(async {
        let sdk = common::sdk_config(&endpoint).await;
        Inspector::new(&sdk).alarms(&names).await
    });
    let requests = server.join().unwrap();
    let alarms = alarms.unwrap();
    assert_eq!(alarms.keys().collect::<Vec<_>>(), ["db-cpu", "web-cpu"], "both pages");
    assert_eq!(requests.len(), 2, "one call per page");
    assert!(requests[1].body.contains("NextToken=page-2"), "{:?}", requests[1]);
    assert_eq!(alarms["web-cpu"].insufficient_data_actions, [format!("{FUNCTION_ARN}:live")]);
}

#[test]
fn the_accounts_concurrency_comes_from_get_account_settings() {
    let (listener, endpoint) = listener();
    let server = common::serve(listener, 1, |_| {
        let answer = r#"{"AccountLimit":{"TotalCodeSize":80530636800,"CodeSizeUnzipped":262144000,"CodeSizeZipped":52428800,"ConcurrentExecutions":10,"UnreservedConcurrentExecutions":10},"AccountUsage":{"TotalCodeSize":0,"FunctionCount":1}}"#;
        ("application/json", answer.to_owned())
    });
    let concurrency = common::runtime().block_on(async {
        let sdk = common::sdk_config(&endpoint).await;
        Inspector::new(&sdk).account_concurrency().await
    });
    let requests = server.join().unwrap();
    assert!(requests[0].request_line.starts_with("GET /2016-08-19/account-settings"), "{:?}", requests[0]);
    let concurrency = concurrency.unwrap();
    assert_eq!(concurrency, AccountConcurrency { limit: 10, unreserved: 10 });
    assert!(!concurrency.can_reserve_one(), "a quota of 10 leaves nothing to reserve");
}

#[test]
fn a_forced_stop_skips_the_os_shutdown_and_forces() {
    let (listener, endpoint) = listener();
    let server = common::serve(listener, 2, |_| {
        let answer = r#"<StopInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
  <requestId>59dbff89-35bd-4eac-99ed-be587EXAMPLE</requestId>
  <instancesSet><item><instanceId>i-0a1b2c3d4e5f60718</instanceId>
    <currentState><code>64</code><name>stopping</name></currentState>
    <previousState><code>16</code><name>running</name></previousState>
  </item></instancesSet>
</StopInstancesResponse>"#;
        ("text/xml", answer.to_owned())
    });
    let instance: InstanceId = "i-0a1b2c3d4e5f60718".parse().unwrap();
    common::runtime().block_on(async {
        let provider = Ec2Provider::from_config(&common::sdk_config(&endpoint).await);
        provider.stop(std::slice::from_ref(&instance), false).await.unwrap();
        provider.stop(std::slice::from_ref(&instance), true).await.unwrap();
    });
    let requests = server.join().unwrap();
    let graceful = &requests[0].body;
    assert!(!graceful.contains("SkipOsShutdown=true") && !graceful.contains("Force=true"), "{graceful}");
    let forced = &requests[1].body;
    assert!(forced.contains("SkipOsShutdown=true"), "no OS shutdown, as force-stop promises: {forced}");
    assert!(forced.contains("Force=true"), "{forced}");
}

/// One DescribeInstances page holding `instance` (running), with a NextToken when `next` is given.
fn instances_page(instance: &str, next: Option<&str>) -> String {
    let next = next.map(|token| format!("<nextToken>{token}</nextToken>")).unwrap_or_default();
    format!(
        r#"<DescribeInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
  <requestId>8f7724cf-496f-496e-8fe3-example</requestId>
  <reservationSet><item>
    <reservationId>r-1234567890abcdef0</reservationId><ownerId>111122223333</ownerId>
    <instancesSet><item>
      <instanceId>{instance}</instanceId>
      <instanceState><code>16</code><name>running</name></instanceState>
      <placement><availabilityZone>ap-northeast-1a</availabilityZone></placement>
    </item></instancesSet>
  </item></reservationSet>
  {next}
</DescribeInstancesResponse>"#
    )
}

#[test]
fn describe_instances_names_the_ids_drops_unknown_ones_and_reads_every_page() {
    const UNKNOWN: &str = "i-0123456789abcdef0";
    let (listener, endpoint) = listener();
    let server = common::serve_with_status(listener, 3, |request| {
        if request.body.contains(UNKNOWN) {
            let refusal = format!(
                r#"<?xml version="1.0" encoding="UTF-8"?>
<Response><Errors><Error><Code>InvalidInstanceID.NotFound</Code><Message>The instance ID '{UNKNOWN}' does not exist</Message></Error></Errors><RequestID>7a62c49f-347e-4fc4-9331-6e8eEXAMPLE</RequestID></Response>"#
            );
            return ("400 Bad Request", "text/xml", refusal);
        }
        let page = if request.body.contains("NextToken=page-2") {
            instances_page("i-0f9e8d7c6b5a40312", None)
        } else {
            instances_page("i-0a1b2c3d4e5f60718", Some("page-2"))
        };
        ("200 OK", "text/xml", page)
    });
    let members: Vec<InstanceId> = ["i-0a1b2c3d4e5f60718", UNKNOWN, "i-0f9e8d7c6b5a40312"]
        .iter()
        .map(|id| id.parse().unwrap())
        .collect();
    let observations = common::runtime().block_on(async {
        let provider = Ec2Provider::from_config(&common::sdk_config(&endpoint).await);
        provider.describe(&members).await
    });
    let requests = server.join().unwrap();
    let seen: Vec<String> = observations.unwrap().iter().map(|o| o.instance.to_string()).collect();
    assert_eq!(seen, ["i-0a1b2c3d4e5f60718", "i-0f9e8d7c6b5a40312"], "both pages, the unknown id dropped");
    assert_eq!(requests.len(), 3, "the refused ask, then two pages");
    for request in &requests {
        // The ids as InstanceIds (what keeps a describe working during a zone's disruption),
        // never as a filter, and without MaxResults, which EC2 refuses beside InstanceIds.
        assert!(request.body.contains("InstanceId.1=i-0a1b2c3d4e5f60718"), "{}", request.body);
        assert!(!request.body.contains("Filter."), "no filter: {}", request.body);
        assert!(!request.body.contains("MaxResults"), "{}", request.body);
    }
    assert!(requests[1].body.contains("InstanceId.2=i-0f9e8d7c6b5a40312"), "asked again without it");
}

#[test]
fn access_denied_and_no_route_read_as_one_sentence_naming_the_call() {
    let (answering, endpoint) = listener();
    let server = common::serve_with_status(answering, 1, |_| {
        let answer = r#"<?xml version="1.0" encoding="UTF-8"?>
<Response><Errors><Error><Code>UnauthorizedOperation</Code><Message>You are not authorized to perform this operation.</Message></Error></Errors><RequestID>7a62c49f-347e-4fc4-9331-6e8eEXAMPLE</RequestID></Response>"#;
        ("403 Forbidden", "text/xml", answer.to_owned())
    });
    let instance: InstanceId = "i-0a1b2c3d4e5f60718".parse().unwrap();
    let denied = common::runtime().block_on(async {
        let provider = Ec2Provider::from_config(&common::sdk_config(&endpoint).await);
        provider.describe(std::slice::from_ref(&instance)).await.unwrap_err()
    });
    server.join().unwrap();
    assert_eq!(denied.code, "UnauthorizedOperation");
    assert!(
        denied.message.starts_with("access denied for DescribeInstances: You are not authorized"),
        "{denied}"
    );

    // Nothing listens on the port any more: the endpoint cannot be reached.
    let (closed, endpoint) = listener();
    drop(closed);
    let unreachable = common::runtime().block_on(async {
        let provider = Ec2Provider::from_config(&common::sdk_config(&endpoint).await);
        provider.describe(std::slice::from_ref(&instance)).await.unwrap_err()
    });
    assert_eq!(unreachable.code, "NetworkError", "{unreachable}");
    assert!(
        unreachable.message.starts_with("DescribeInstances: the AWS endpoint could not be reached: ")
            && unreachable.message.contains("refused"),
        "{unreachable}"
    );
}
