//! The watcher's HTTP side: it serves `/metrics`, `/healthz`, `/readyz` and the other
//! watchers' questions (`POST /v1/views`), and asks the other watchers the same question.
//! Plain HTTP/1.1 on the VPC network; one connection per question.

use std::convert::Infallible;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use coldstandby_engine::Clock;
use coldstandby_watch::{Peers, Question, View};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde::Serialize;
use tokio::net::{TcpListener, TcpStream};

use super::metrics::PeerLabel;
use super::Shared;

/// The most a question list may weigh (10,000 groups' questions fit).
const MAX_BODY: usize = 4 * 1024 * 1024;
/// How long `/healthz` accepts the loop's silence: it steps at least once per probe interval.
const HEALTHY_WITHIN: Duration = Duration::from_secs(10);

/// Serve on `listener` until the process ends.
pub async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                tracing::warn!(error = %error, "accepting a connection failed");
                crate::SystemClock.sleep_until(crate::SystemClock::now() + Duration::from_millis(100)).await;
                continue;
            }
        };
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let shared = Arc::clone(&shared);
                async move { Ok::<_, Infallible>(route(request, &shared).await) }
            });
            let connection =
                hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service);
            if let Err(error) = connection.await {
                tracing::debug!(error = %error, "connection ended with an error");
            }
        });
    }
}

fn text(status: StatusCode, content_type: &str, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    if let Ok(value) = content_type.parse() {
        response.headers_mut().insert(hyper::header::CONTENT_TYPE, value);
    }
    response
}

fn json(status: StatusCode, value: &impl Serialize) -> Response<Full<Bytes>> {
    let body = serde_json::to_string(value).unwrap_or_else(|_| "{}".to_owned());
    text(status, "application/json", body)
}

#[derive(Serialize)]
struct Readiness {
    ready: bool,
    /// Why not, or what is degraded.
    notes: Vec<String>,
}

async fn route(request: Request<Incoming>, shared: &Shared) -> Response<Full<Bytes>> {
    let now = crate::SystemClock::now();
    match (request.method(), request.uri().path()) {
        (&Method::GET, "/metrics") => text(
            StatusCode::OK,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            shared.metrics.encode(),
        ),
        (&Method::GET, "/healthz") => {
            let beat = u64::try_from(shared.heartbeat.load(Ordering::Relaxed)).unwrap_or(0);
            let silent = now.saturating_since(coldstandby_engine::Timestamp::from_unix_millis(beat));
            if silent <= HEALTHY_WITHIN {
                text(StatusCode::OK, "text/plain", "ok\n".to_owned())
            } else {
                let body = format!("the watch loop has not stepped for {} s\n", silent.as_secs());
                text(StatusCode::SERVICE_UNAVAILABLE, "text/plain", body)
            }
        }
        (&Method::GET, "/readyz") => {
            let readiness = shared.readiness();
            let status = if readiness.0 { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
            json(status, &Readiness { ready: readiness.0, notes: readiness.1 })
        }
        (&Method::POST, "/v1/views") => {
            let body = match Limited::new(request.into_body(), MAX_BODY).collect().await {
                Ok(collected) => collected.to_bytes(),
                Err(error) => return text(StatusCode::BAD_REQUEST, "text/plain", format!("{error}\n")),
            };
            match serde_json::from_slice::<Vec<Question>>(&body) {
                Ok(questions) => {
                    let views = shared.board.answer(&questions, now, shared.fresh_for);
                    json(StatusCode::OK, &views)
                }
                Err(error) => {
                    text(StatusCode::BAD_REQUEST, "text/plain", format!("not a list of questions: {error}\n"))
                }
            }
        }
        (_, "/metrics" | "/healthz" | "/readyz" | "/v1/views") => {
            text(StatusCode::METHOD_NOT_ALLOWED, "text/plain", "method not allowed\n".to_owned())
        }
        _ => text(
            StatusCode::NOT_FOUND,
            "text/plain",
            "not found: try /metrics, /healthz, /readyz\n".to_owned(),
        ),
    }
}

/// The other watchers, asked over HTTP.
#[derive(Debug)]
pub struct HttpPeers<'a> {
    /// Their base URLs (`http://10.0.2.10:9323`), which are also their names.
    pub peers: Vec<String>,
    pub shared: &'a Shared,
}

impl Peers for HttpPeers<'_> {
    fn names(&self) -> Vec<String> {
        self.peers.clone()
    }

    async fn ask(&self, peer: &str, questions: &[Question]) -> Result<Vec<View>, String> {
        let result = ask(peer, questions).await;
        let up = i64::from(result.is_ok());
        self.shared.metrics.peer_up.get_or_create(&PeerLabel { peer: peer.to_owned() }).set(up);
        if let Err(error) = &result {
            tracing::warn!(peer, error = error.as_str(), "the other watcher could not be asked");
        }
        result
    }
}

/// `POST {peer}/v1/views` with `questions`; the views, one per question.
pub async fn ask(peer: &str, questions: &[Question]) -> Result<Vec<View>, String> {
    let authority = peer.strip_prefix("http://").ok_or_else(|| format!("`{peer}` is not an http:// URL"))?;
    let stream = TcpStream::connect(authority).await.map_err(|error| format!("connecting: {error}"))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|error| format!("handshake: {error}"))?;
    tokio::spawn(async move {
        // The connection ends with the exchange; its error, if any, is the request's.
        let _ = connection.await;
    });
    let body = serde_json::to_vec(questions).map_err(|error| error.to_string())?;
    let request = Request::post("/v1/views")
        .header(hyper::header::HOST, authority)
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body)))
        .map_err(|error| error.to_string())?;
    let response = sender.send_request(request).await.map_err(|error| format!("request: {error}"))?;
    let status = response.status();
    let body = Limited::new(response.into_body(), MAX_BODY)
        .collect()
        .await
        .map_err(|error| format!("reading the answer: {error}"))?
        .to_bytes();
    if !status.is_success() {
        return Err(format!("answered {status}: {}", String::from_utf8_lossy(&body).trim()));
    }
    let views: Vec<View> =
        serde_json::from_slice(&body).map_err(|error| format!("not a list of views: {error}"))?;
    if views.len() != questions.len() {
        return Err(format!("{} answers to {} questions", views.len(), questions.len()));
    }
    Ok(views)
}
