//! Readiness probes: a TCP connect and a plain-HTTP GET to the member's private address (from
//! wherever this runs: the function must be in the VPC), and EC2's status checks.

use std::time::Duration;

use aws_sdk_ec2::types::SummaryStatus;
use coldstandby_engine::clients::ProbeResult;
use coldstandby_engine::{ApiError, InstanceId};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::errors::from_sdk_error;

/// How long one probe may take: a check probes again at its interval.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
/// The most of an HTTP answer read: the status line and enough body for a substring.
const MAX_ANSWER: usize = 64 * 1024;

fn result(passed: bool, detail: impl Into<String>) -> ProbeResult {
    ProbeResult { passed, detail: detail.into() }
}

async fn connect(address: &str, port: u16) -> Result<TcpStream, String> {
    match tokio::time::timeout(PROBE_TIMEOUT, TcpStream::connect((address, port))).await {
        Ok(Ok(stream)) => Ok(stream),
        Ok(Err(error)) => Err(error.to_string()),
        Err(_) => Err(format!("no answer within {} s", PROBE_TIMEOUT.as_secs())),
    }
}

/// Passed when a TCP connection to `address:port` is accepted.
pub(super) async fn tcp(address: &str, port: u16) -> ProbeResult {
    match connect(address, port).await {
        Ok(_) => result(true, "connected"),
        Err(error) => result(false, error),
    }
}

/// Passed when `GET path` answers `status` (and its body holds `body_contains`). Plain HTTP/1.1
/// with `Connection: close`: what a health endpoint on a private address serves.
pub(super) async fn http(
    address: &str,
    port: u16,
    path: &str,
    status: u16,
    body_contains: Option<&str>,
) -> ProbeResult {
    let exchange = async {
        let mut stream = connect(address, port).await?;
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {address}:{port}\r\nUser-Agent: coldstandby\r\nConnection: close\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await.map_err(|error| error.to_string())?;
        // Read into the heap, not a buffer in the future: a watcher holds one probe future per
        // group in flight, and after a pause thousands at once.
        let mut answer = Vec::new();
        let limit = u64::try_from(MAX_ANSWER).unwrap_or(u64::MAX);
        stream.take(limit).read_to_end(&mut answer).await.map_err(|error| error.to_string())?;
        Ok::<Vec<u8>, String>(answer)
    };
    let answer = match tokio::time::timeout(PROBE_TIMEOUT, exchange).await {
        Ok(Ok(answer)) => answer,
        Ok(Err(error)) => return result(false, error),
        Err(_) => return result(false, format!("no answer within {} s", PROBE_TIMEOUT.as_secs())),
    };
    let text = String::from_utf8_lossy(&answer);
    let got = text
        .lines()
        .next()
        .and_then(|line| line.strip_prefix("HTTP/1."))
        .and_then(|rest| rest.get(2..5))
        .and_then(|code| code.parse::<u16>().ok());
    let Some(got) = got else { return result(false, "not an HTTP answer") };
    if got != status {
        return result(false, format!("status {got}, expected {status}"));
    }
    let body = text.split_once("\r\n\r\n").map_or("", |(_, body)| body);
    match body_contains {
        Some(wanted) if !body.contains(wanted) => {
            result(false, format!("status {got}, body without `{wanted}`"))
        }
        _ => result(true, format!("status {got}")),
    }
}

/// Passed when DescribeInstanceStatus shows both the instance and the system checks `ok`.
pub(super) async fn ec2_status(
    client: &aws_sdk_ec2::Client,
    instance: &InstanceId,
) -> Result<ProbeResult, ApiError> {
    let answer = client
        .describe_instance_status()
        .instance_ids(instance.as_str())
        .include_all_instances(true)
        .send()
        .await
        .map_err(|error| from_sdk_error("DescribeInstanceStatus", error))?;
    let Some(status) = answer.instance_statuses().first() else {
        return Ok(result(false, "no status yet"));
    };
    let summary = |status: Option<&SummaryStatus>| status.map_or("unknown", SummaryStatus::as_str).to_owned();
    let instance_check = summary(status.instance_status().and_then(|s| s.status()));
    let system_check = summary(status.system_status().and_then(|s| s.status()));
    let passed = instance_check == "ok" && system_check == "ok";
    Ok(result(passed, format!("instance {instance_check}, system {system_check}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server on loopback that answers one connection with `answer`.
    async fn serve_once(answer: &'static str) -> u16 {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut request = [0u8; 1024];
            let _ = stream.read(&mut request).await;
            stream.write_all(answer.as_bytes()).await.unwrap();
        });
        port
    }

    #[tokio::test]
    async fn http_checks_the_status_and_the_body_and_tcp_tells_refused_from_accepted() {
        let port = serve_once("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok").await;
        assert!(http("127.0.0.1", port, "/health", 200, Some("ok")).await.passed);
        let port = serve_once("HTTP/1.1 503 Service Unavailable\r\n\r\nstarting").await;
        let failed = http("127.0.0.1", port, "/health", 200, None).await;
        assert_eq!(failed.detail, "status 503, expected 200");
        let port = serve_once("HTTP/1.1 200 OK\r\n\r\nstarting").await;
        assert!(!http("127.0.0.1", port, "/", 200, Some("ready")).await.passed);

        let port = serve_once("").await;
        assert!(tcp("127.0.0.1", port).await.passed);
        // A port just released: nothing listens there.
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let refused = tcp("127.0.0.1", closed).await;
        assert!(!refused.passed && refused.detail.to_lowercase().contains("refused"), "{}", refused.detail);
    }
}
