//! Recorded AWS answers served on loopback, for the calls moto does not answer (or answers less
//! strictly than AWS): one HTTP/1.1 exchange per connection, the answer chosen from the request.

#![allow(clippy::unwrap_used, dead_code)] // each test file uses part of it
#![allow(clippy::disallowed_methods)] // waits, with deadlines, for real processes (moto, daemons)

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::thread::JoinHandle;

/// One request as the server received it.
#[derive(Debug, Clone)]
pub struct Received {
    pub request_line: String,
    pub body: String,
}

/// Serve up to `count` requests on `listener`, each answered with `answer(request) -> (content
/// type, body)` and status 200, for at most 30 s (so a client that makes fewer calls than
/// expected fails its test instead of hanging it). Returns the requests received.
pub fn serve(
    listener: TcpListener,
    count: usize,
    answer: impl Fn(&Received) -> (&'static str, String) + Send + 'static,
) -> JoinHandle<Vec<Received>> {
    serve_with_status(listener, count, move |request| {
        let (content_type, body) = answer(request);
        ("200 OK", content_type, body)
    })
}

/// [`serve`], with the status line's code and reason chosen too (`"403 Forbidden"`).
pub fn serve_with_status(
    listener: TcpListener,
    count: usize,
    answer: impl Fn(&Received) -> (&'static str, &'static str, String) + Send + 'static,
) -> JoinHandle<Vec<Received>> {
    std::thread::spawn(move || {
        let mut received = Vec::new();
        listener.set_nonblocking(true).unwrap();
        let give_up = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while received.len() < count && std::time::Instant::now() < give_up {
            let stream = match listener.accept() {
                Ok((stream, _)) => stream,
                Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {
                    std::thread::sleep(std::time::Duration::from_millis(10));
                    continue;
                }
                Err(error) => panic!("accept: {error}"),
            };
            stream.set_nonblocking(false).unwrap();
            let mut reader = BufReader::new(stream);
            let mut request_line = String::new();
            reader.read_line(&mut request_line).unwrap();
            let mut length = 0;
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = value.trim().parse().unwrap();
                }
                if line == "\r\n" || line.is_empty() {
                    break;
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            let request = Received { request_line, body: String::from_utf8(body).unwrap() };
            let (status, content_type, answer) = answer(&request);
            let mut stream = reader.into_inner();
            write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                answer.len()
            )
            .unwrap();
            received.push(request);
        }
        received
    })
}

/// The SDK configuration for an endpoint on loopback: dummy credentials, no retries.
pub async fn sdk_config(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("ap-northeast-1"))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_iam::config::Credentials::new(
            "testing", "testing", None, None, "tests",
        ))
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .load()
        .await
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}
