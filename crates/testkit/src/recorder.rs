//! A recording HTTP server: the counterpart of `appstrate api` (and of the
//! system `curl` it is compared with).
//!
//! Every request is recorded (method, target, version, headers in wire
//! order, body). Routes provide what the curl engine must cope with:
//!
//! | route | answer |
//! |---|---|
//! | `/echo` | 200, JSON of what was received |
//! | `/status/<code>` | that status, body `status <code>\n` |
//! | `/redirect/<code>?to=<url>` | that status with `Location: <url>`, empty body |
//! | `/gzip`, `/deflate`, `/br` | a fixed text body, compressed, with `Content-Encoding` |
//! | `/bad-gzip` | `Content-Encoding: gzip` over a body that is not gzip |
//! | `/slow?chunks=N&delay_ms=M` | N lines, one every M ms |
//! | `/stall-headers?ms=M` | waits M ms before the headers |
//! | `/stall-body` | headers, one line, then nothing for an hour |
//! | `/flaky?key=K&fail=N&status=S&retry_after=V` | S (default 503) with `Retry-After: V` for the first N calls with key K, then 200 |
//! | `/sse` | `text/event-stream`: one event, then the second only after [`Recorder::open_gate`] |
//! | `/bytes?n=N` | N bytes (`0123456789` repeated), streamed in 64 KiB chunks |
//! | anything else | 200, `content-type: application/json`, body `{"ok":true}\n` |
//!
//! [`Recorder::start_tls`] serves the same routes over HTTPS with a fresh
//! self-signed certificate (ALPN `h2` and `http/1.1`); [`StalledListener`]
//! accepts TCP connections and never answers.

use std::collections::HashMap;
use std::convert::Infallible;
use std::io::Write;
use std::net::{SocketAddr, TcpListener as StdTcpListener};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::body::{Frame, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::sync::{Notify, oneshot};

/// One request as the server received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    pub method: String,
    /// Path and query, as sent.
    pub target: String,
    /// `HTTP/1.1`, `HTTP/2.0`.
    pub version: String,
    /// Lower-case names, in the order received.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RecordedRequest {
    /// The first value of a header (name compared case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

struct State {
    requests: Mutex<Vec<RecordedRequest>>,
    flaky: Mutex<HashMap<String, u32>>,
    gate: Notify,
}

type Body = BoxBody<Bytes, Infallible>;

/// A running recording server; stops when dropped.
pub struct Recorder {
    addr: SocketAddr,
    tls: bool,
    state: Arc<State>,
    /// PEM of the self-signed certificate (HTTPS only).
    pub cert_pem: Option<String>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

pub const DEFAULT_BODY: &str = "{\"ok\":true}\n";
pub const COMPRESSIBLE_TEXT: &str = "The quick brown fox jumps over the lazy dog.\nAgain: the quick brown fox jumps over the lazy dog.\n";

impl Recorder {
    /// Plain HTTP on 127.0.0.1:0.
    pub fn start() -> Recorder {
        Self::spawn(None)
    }

    /// HTTPS on 127.0.0.1:0 with a self-signed certificate for
    /// `127.0.0.1` and `localhost`.
    pub fn start_tls() -> Recorder {
        let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()])
            .unwrap_or_else(|e| panic!("self-signed certificate: {e}"));
        let cert_pem = cert.cert.pem();
        let der = cert.cert.der().clone();
        let key = rustls::pki_types::PrivateKeyDer::try_from(cert.key_pair.serialize_der())
            .unwrap_or_else(|e| panic!("private key: {e}"));
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap_or_else(|e| panic!("tls versions: {e}"))
            .with_no_client_auth()
            .with_single_cert(vec![der], key)
            .unwrap_or_else(|e| panic!("tls config: {e}"));
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        let mut rec = Self::spawn(Some(tokio_rustls::TlsAcceptor::from(Arc::new(config))));
        rec.cert_pem = Some(cert_pem);
        rec
    }

    fn spawn(tls: Option<tokio_rustls::TlsAcceptor>) -> Recorder {
        let listener = StdTcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("bind: {e}"));
        listener
            .set_nonblocking(true)
            .unwrap_or_else(|e| panic!("nonblocking: {e}"));
        let addr = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("addr: {e}"));
        let state = Arc::new(State {
            requests: Mutex::new(Vec::new()),
            flaky: Mutex::new(HashMap::new()),
            gate: Notify::new(),
        });
        let (tx, rx) = oneshot::channel();
        let is_tls = tls.is_some();
        let thread_state = state.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap_or_else(|e| panic!("runtime: {e}"));
            rt.block_on(serve(listener, tls, thread_state, rx));
        });
        Recorder {
            addr,
            tls: is_tls,
            state,
            cert_pem: None,
            shutdown: Some(tx),
            thread: Some(thread),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:<port>` (or `https://`), no trailing slash.
    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state
            .requests
            .lock()
            .map(|r| r.clone())
            .unwrap_or_default()
    }

    pub fn clear(&self) {
        if let Ok(mut r) = self.state.requests.lock() {
            r.clear();
        }
    }

    /// Lets `/sse` send its second event.
    pub fn open_gate(&self) {
        self.state.gate.notify_one();
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn serve(
    listener: StdTcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    state: Arc<State>,
    mut shutdown: oneshot::Receiver<()>,
) {
    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
        return;
    };
    loop {
        let stream = tokio::select! {
            _ = &mut shutdown => return,
            accepted = listener.accept() => match accepted {
                Ok((s, _)) => s,
                Err(_) => continue,
            },
        };
        let state = state.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| handle(state.clone(), req));
            let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            match tls {
                Some(acceptor) => {
                    if let Ok(tls_stream) = acceptor.accept(stream).await {
                        let _ = builder
                            .serve_connection(TokioIo::new(tls_stream), service)
                            .await;
                    }
                }
                None => {
                    let _ = builder
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                }
            }
        });
    }
}

fn full(status: u16, headers: &[(&str, &str)], body: impl Into<Bytes>) -> Response<Body> {
    let mut b = Response::builder().status(status);
    for (n, v) in headers {
        b = b.header(*n, *v);
    }
    b.body(Full::new(body.into()).boxed())
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new()).boxed()))
}

fn streamed<S>(headers: &[(&str, &str)], stream: S) -> Response<Body>
where
    S: futures_util::Stream<Item = Bytes> + Send + Sync + 'static,
{
    use futures_util::StreamExt;
    let mut b = Response::builder().status(200);
    for (n, v) in headers {
        b = b.header(*n, *v);
    }
    let body = StreamBody::new(stream.map(|c| Ok::<_, Infallible>(Frame::data(c))));
    b.body(BodyExt::boxed(body))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new()).boxed()))
}

fn query_map(query: Option<&str>) -> HashMap<String, String> {
    form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

fn echo_json(r: &RecordedRequest) -> String {
    serde_json::json!({
        "method": r.method,
        "target": r.target,
        "version": r.version,
        "headers": r.headers,
        "body": String::from_utf8_lossy(&r.body),
    })
    .to_string()
}

async fn handle(state: Arc<State>, req: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes().to_vec())
        .unwrap_or_default();
    let recorded = RecordedRequest {
        method: parts.method.to_string(),
        target: parts
            .uri
            .path_and_query()
            .map(|p| p.to_string())
            .unwrap_or_else(|| "/".into()),
        version: format!("{:?}", parts.version),
        headers: parts
            .headers
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body,
    };
    if let Ok(mut r) = state.requests.lock() {
        r.push(recorded.clone());
    }
    let q = query_map(parts.uri.query());
    Ok(respond(&state, parts.uri.path(), &q, &recorded).await)
}

/// The query parameter `key` as a number, else `default`.
fn num(q: &HashMap<String, String>, key: &str, default: u64) -> u64 {
    q.get(key).and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// The reply of each route (see the module docs); anything else gets
/// [`DEFAULT_BODY`].
async fn respond(
    state: &Arc<State>,
    path: &str,
    q: &HashMap<String, String>,
    recorded: &RecordedRequest,
) -> Response<Body> {
    let text = [("content-type", "text/plain")];
    if let Some(code) = path.strip_prefix("/status/") {
        let code: u16 = code.parse().unwrap_or(500);
        return full(code, &text, format!("status {code}\n"));
    }
    if let Some(code) = path.strip_prefix("/redirect/") {
        let code: u16 = code.parse().unwrap_or(302);
        let to = q.get("to").cloned().unwrap_or_else(|| "/".into());
        return full(code, &[("location", to.as_str())], Bytes::new());
    }
    match path {
        "/echo" => full(
            200,
            &[("content-type", "application/json")],
            echo_json(recorded),
        ),
        "/gzip" | "/deflate" | "/br" => {
            let encoded = compress(&path[1..], COMPRESSIBLE_TEXT.as_bytes());
            full(
                200,
                &[
                    ("content-type", "text/plain"),
                    ("content-encoding", &path[1..]),
                ],
                encoded,
            )
        }
        "/bad-gzip" => full(
            200,
            &[("content-type", "text/plain"), ("content-encoding", "gzip")],
            "this is not gzip",
        ),
        "/slow" => slow(
            num(q, "chunks", 3),
            Duration::from_millis(num(q, "delay_ms", 100)),
        ),
        "/stall-headers" => {
            tokio::time::sleep(Duration::from_millis(num(q, "ms", 3_600_000))).await;
            full(200, &text, "late\n")
        }
        "/stall-body" => stall_body(),
        "/flaky" => flaky(state, q),
        "/sse" => sse(state.clone()),
        "/bytes" => bytes(num(q, "n", 1024)),
        _ => full(200, &[("content-type", "application/json")], DEFAULT_BODY),
    }
}

/// `chunks` lines `chunk <i>`, `delay` apart.
fn slow(chunks: u64, delay: Duration) -> Response<Body> {
    let stream = futures_util::stream::unfold(0u64, move |i| async move {
        if i >= chunks {
            return None;
        }
        if i > 0 {
            tokio::time::sleep(delay).await;
        }
        Some((Bytes::from(format!("chunk {i}\n")), i + 1))
    });
    streamed(&[("content-type", "text/plain")], stream)
}

/// `first\n`, then nothing for an hour.
fn stall_body() -> Response<Body> {
    let stream = futures_util::stream::unfold(0u8, |i| async move {
        match i {
            0 => Some((Bytes::from_static(b"first\n"), 1)),
            _ => {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                None
            }
        }
    });
    streamed(&[("content-type", "text/plain")], stream)
}

/// Fails (`status`, optional `retry_after`) the first `fail` times a
/// `key` is asked for, then succeeds.
fn flaky(state: &State, q: &HashMap<String, String>) -> Response<Body> {
    let key = q.get("key").cloned().unwrap_or_default();
    let fail = num(q, "fail", 1) as u32;
    let seen = {
        let mut map = state.flaky.lock().unwrap_or_else(|p| p.into_inner());
        let n = map.entry(key).or_insert(0);
        *n += 1;
        *n
    };
    if seen > fail {
        return full(
            200,
            &[("content-type", "text/plain")],
            format!("attempt {seen} ok\n"),
        );
    }
    let status = num(q, "status", 503) as u16;
    let mut headers = vec![("content-type", "text/plain")];
    if let Some(ra) = q.get("retry_after") {
        headers.push(("retry-after", ra.as_str()));
    }
    full(status, &headers, format!("attempt {seen} failed\n"))
}

/// Two server-sent events; the second waits for the test's gate.
fn sse(state: Arc<State>) -> Response<Body> {
    let stream = futures_util::stream::unfold(0u8, move |i| {
        let st = state.clone();
        async move {
            match i {
                0 => Some((Bytes::from_static(b"data: first\n\n"), 1)),
                1 => {
                    st.gate.notified().await;
                    Some((Bytes::from_static(b"data: second\n\n"), 2))
                }
                _ => None,
            }
        }
    });
    streamed(
        &[
            ("content-type", "text/event-stream"),
            ("cache-control", "no-cache"),
        ],
        stream,
    )
}

/// `total` bytes of `0123456789…` in 64 KiB chunks, length declared.
fn bytes(total: u64) -> Response<Body> {
    let chunk: Bytes = Bytes::from(b"0123456789".repeat(64 * 1024 / 10 + 1)).slice(..64 * 1024);
    let stream = futures_util::stream::unfold(0u64, move |sent| {
        let chunk = chunk.clone();
        async move {
            if sent >= total {
                return None;
            }
            let n = (total - sent).min(chunk.len() as u64) as usize;
            Some((chunk.slice(..n), sent + n as u64))
        }
    });
    let len = total.to_string();
    streamed(
        &[
            ("content-type", "application/octet-stream"),
            ("content-length", &len),
        ],
        stream,
    )
}

/// Compresses with the named `Content-Encoding`.
pub fn compress(encoding: &str, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    match encoding {
        "gzip" => {
            let mut e = flate2::write::GzEncoder::new(&mut out, flate2::Compression::default());
            let _ = e.write_all(data);
            let _ = e.finish();
        }
        "deflate" => {
            let mut e = flate2::write::ZlibEncoder::new(&mut out, flate2::Compression::default());
            let _ = e.write_all(data);
            let _ = e.finish();
        }
        _ => {
            let mut e = brotli::CompressorWriter::new(&mut out, 4096, 5, 22);
            let _ = e.write_all(data);
            let _ = e.flush();
            drop(e);
        }
    }
    out
}

/// Accepts TCP connections and never answers (a TLS handshake or a
/// response that never comes).
pub struct StalledListener {
    addr: SocketAddr,
    _listener: StdTcpListener,
}

impl StalledListener {
    pub fn start() -> StalledListener {
        // Connections complete in the kernel backlog; nobody ever reads.
        let listener = StdTcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("bind: {e}"));
        let addr = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("addr: {e}"));
        StalledListener {
            addr,
            _listener: listener,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

/// A port on 127.0.0.1 where nothing listens (connection refused).
pub fn closed_port() -> u16 {
    let l = StdTcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("bind: {e}"));
    let port = l.local_addr().map(|a| a.port()).unwrap_or(1);
    drop(l);
    port
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Recorder({})", self.url())
    }
}
