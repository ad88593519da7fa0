//! The HTTP plumbing: one tokio runtime on its own thread, an accept loop,
//! hyper HTTP/1.1 connections driving an axum router. Each request is read
//! in full, logged, checked against injected faults, then dispatched.
//! Connections are served by hand (not `axum::serve`) so that a fault can
//! close one without answering.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{Notify, oneshot};
use tower_service::Service as _;

use super::faults::FaultAction;
use super::routes::{ParsedRequest, problem_response};
use super::state::{Problem, State, random_alnum};
use super::{RecordedRequest, auth, platform, routes};

/// Largest request body the fake reads (the platform caps bodies too).
const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;

pub(crate) type Shared = Arc<Mutex<State>>;

/// Lock the state even if a previous holder panicked: the fake must keep
/// answering so the test sees the real failure, not a poisoned mutex.
pub(crate) fn lock(shared: &Shared) -> MutexGuard<'_, State> {
    shared
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Per-connection facts handed to the handler through request extensions.
#[derive(Clone)]
struct Connection {
    peer: SocketAddr,
    kill: Arc<Notify>,
}

/// Serve until `shutdown` fires (or its sender is dropped).
pub(crate) async fn serve(
    listener: TcpListener,
    shared: Shared,
    mut shutdown: oneshot::Receiver<()>,
) {
    let router = Router::new().fallback(handle).with_state(shared);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(pair) => pair,
                    Err(_) => {
                        // Out of file descriptors or similar: back off, retry.
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                };
                tokio::spawn(serve_connection(stream, peer, router.clone()));
            }
        }
    }
}

async fn serve_connection(stream: tokio::net::TcpStream, peer: SocketAddr, router: Router) {
    let kill = Arc::new(Notify::new());
    let connection = Connection {
        peer,
        kill: kill.clone(),
    };
    let service = hyper::service::service_fn(move |mut request: Request<hyper::body::Incoming>| {
        request.extensions_mut().insert(connection.clone());
        let mut router = router.clone();
        async move { router.call(request.map(Body::new)).await }
    });
    let conn =
        hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service);
    // Dropping the connection future closes the socket mid-exchange.
    tokio::select! {
        _ = conn => {}
        _ = kill.notified() => {}
    }
}

async fn handle(
    axum::extract::State(shared): axum::extract::State<Shared>,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let connection = parts.extensions.get::<Connection>().cloned();
    let request_id = format!("req_{}", random_alnum(20));
    let body = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(bytes) => bytes,
        Err(_) => {
            let problem = Problem::new(
                413,
                "payload_too_large",
                "Payload Too Large",
                "Request body too large or unreadable",
            );
            return with_request_id(problem_response(&problem, &request_id), &request_id);
        }
    };
    let parsed = ParsedRequest {
        method: parts.method.as_str().to_owned(),
        path: parts.uri.path().to_owned(),
        headers: parts.headers.clone(),
        body: body.to_vec(),
        query: parts.uri.query().map(str::to_owned),
        peer_ip: connection
            .as_ref()
            .map(|c| c.peer.ip().to_string())
            .unwrap_or_else(|| "127.0.0.1".into()),
        request_id: request_id.clone(),
    };

    // Log first, so that even a dropped or stalled request is on record.
    let fault = record_and_match_fault(&shared, &parsed);
    if let Some(response) = play_fault(fault, connection).await {
        return with_request_id(response, &request_id);
    }

    if let Some(response) = platform::handle(&shared, &parsed).await {
        return with_request_id(response, &request_id);
    }
    let response = {
        let mut state = lock(&shared);
        match auth::handle(&mut state, &parsed) {
            Some(response) => response,
            None => routes::handle(&mut state, &parsed),
        }
    };
    with_request_id(response, &request_id)
}

/// Logs the request, then takes the first fault that matches it (one use
/// of a counted fault).
fn record_and_match_fault(shared: &Shared, parsed: &ParsedRequest) -> Option<FaultAction> {
    let mut state = lock(shared);
    state.requests.push(RecordedRequest {
        method: parsed.method.clone(),
        path: parsed.path.clone(),
        query: parsed.query.clone(),
        headers: parsed
            .headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: parsed.body.clone(),
    });
    let matching = state
        .faults
        .iter_mut()
        .find(|f| f.matches(&parsed.method, &parsed.path, &parsed.body));
    matching.map(|fault| {
        if let Some(n) = fault.remaining.as_mut() {
            *n = n.saturating_sub(1);
        }
        fault.action.clone()
    })
}

/// What an injected fault does: a reply of its own, or (after a delay)
/// `None` to go on to the routes; a stall or a dropped connection never
/// returns.
async fn play_fault(
    fault: Option<FaultAction>,
    connection: Option<Connection>,
) -> Option<Response> {
    match fault? {
        FaultAction::Delay(delay) => {
            tokio::time::sleep(delay).await;
            None
        }
        FaultAction::Respond {
            status,
            headers,
            body,
        } => {
            let mut response = Response::new(Body::from(body));
            *response.status_mut() =
                StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            for (name, value) in headers {
                if let (Ok(name), Ok(value)) = (
                    header::HeaderName::from_bytes(name.as_bytes()),
                    HeaderValue::from_str(&value),
                ) {
                    response.headers_mut().insert(name, value);
                }
            }
            Some(response)
        }
        FaultAction::Truncate {
            status,
            content_type,
            body,
        } => Some(truncated(status, &content_type, body)),
        FaultAction::Huge {
            status,
            content_type,
            len,
            declare_length,
        } => Some(huge(status, &content_type, len, declare_length)),
        FaultAction::Stall => std::future::pending().await,
        FaultAction::DropConnection => {
            if let Some(connection) = connection {
                connection.kill.notify_one();
            }
            std::future::pending().await
        }
    }
}

fn with_request_id(mut response: Response, request_id: &str) -> Response {
    if let Ok(value) = HeaderValue::from_str(request_id) {
        response.headers_mut().insert("request-id", value);
    }
    response
}

/// `len` bytes of spaces (valid JSON whitespace, so only the size can be
/// wrong), produced chunk by chunk as the client reads them.
fn huge(status: u16, content_type: &str, len: u64, declare_length: bool) -> Response {
    const CHUNK: u64 = 64 * 1024;
    let chunk = Bytes::from(vec![b' '; CHUNK as usize]);
    let chunks = futures_util::stream::unfold(0u64, move |sent| {
        let chunk = chunk.clone();
        async move {
            if sent >= len {
                return None;
            }
            let n = (len - sent).min(CHUNK);
            Some((
                Ok::<Bytes, std::io::Error>(chunk.slice(..n as usize)),
                sent + n,
            ))
        }
    });
    let mut response = Response::new(Body::from_stream(chunks));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(content_type) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    if declare_length {
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    }
    response
}

/// Headers promise more bytes than the body delivers; the stream then fails,
/// which makes hyper abort the connection mid-body.
fn truncated(status: u16, content_type: &str, body: Vec<u8>) -> Response {
    let declared = body.len() * 2 + 16;
    use futures_util::StreamExt as _;
    let head = futures_util::stream::iter([Ok::<Bytes, std::io::Error>(Bytes::from(body))]);
    // Give the first chunk time to reach the socket before failing.
    let cut = futures_util::stream::once(async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionAborted,
            "injected truncation",
        ))
    });
    let mut response = Response::new(Body::from_stream(head.chain(cut)));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(content_type) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(declared));
    response
}
