//! Executing a [`RequestPlan`]: the retry loop, redirects followed by hand
//! (so a cross-origin hop never carries the bearer and `-v` shows each hop),
//! the response output, write-out and the exit code.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use appstrate_tls::Verification;
use http::{HeaderMap, HeaderName, StatusCode};
use reqwest::{Method, Response, Url, Version};
use zeroize::Zeroizing;

use crate::args::FailMode;
use crate::body::{self, ReadError};
use crate::failure::{NetError, classify};
use crate::output::{Decoder, Sink, WriteFailure};
use crate::plan::{BodyPlan, HeaderValue, PlannedHeader, RequestPlan};
use crate::writeout::{self, Metrics, version_label};

/// The access token, kept out of `Debug` output and wiped on drop.
pub struct Bearer(Zeroizing<String>);

impl Bearer {
    pub fn new(token: Zeroizing<String>) -> Self {
        Bearer(token)
    }
}

impl std::fmt::Debug for Bearer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Bearer([REDACTED])")
    }
}

/// Where the command writes.
pub struct Streams<'a> {
    pub stdout: &'a mut (dyn Write + Send),
    pub stderr: &'a mut (dyn Write + Send),
}

/// How a run ended before the exit code is known.
pub(crate) enum Outcome {
    Done(u8),
    Net(NetError),
    /// A local failure with its message and exit code.
    Local(String, u8),
    BrokenPipe,
}

impl From<ReadError> for Outcome {
    fn from(e: ReadError) -> Self {
        Outcome::Local(e.0, 26)
    }
}

impl From<WriteFailure> for Outcome {
    fn from(e: WriteFailure) -> Self {
        match e {
            WriteFailure::BrokenPipe => Outcome::BrokenPipe,
            WriteFailure::Failed(m) => Outcome::Local(m, 23),
        }
    }
}

const MAX_REDIRECTS: u32 = 50;
const RETRYABLE: [u16; 6] = [408, 429, 500, 502, 503, 504];

/// Runs the request and prints everything; returns the process exit code.
/// `started` is when the command started (for `%{time_total}`).
pub async fn execute(
    plan: &RequestPlan,
    bearer: &Bearer,
    streams: Streams<'_>,
    started: Instant,
) -> u8 {
    let Streams { stdout, stderr } = streams;
    let mut m = Metrics::new(started, plan.url.as_str(), &plan.method);
    let policy = &plan.output;
    for w in &plan.warnings {
        if policy.shows_errors() {
            let _ = writeln!(stderr, "{w}");
        }
    }
    let upload = Arc::new(AtomicU64::new(0));
    let outcome = {
        let run = run(plan, bearer, &mut *stdout, &mut *stderr, &mut m, &upload);
        match plan.max_time {
            Some(limit) => match tokio::time::timeout(limit, run).await {
                Ok(o) => o,
                Err(_) => Outcome::Net(NetError::timeout()),
            },
            None => run.await,
        }
    };
    m.size_upload = upload.load(Ordering::Relaxed);
    let code = match outcome {
        Outcome::Done(code) => code,
        Outcome::BrokenPipe => return 0,
        Outcome::Net(err) => {
            let message = err.message();
            if policy.shows_errors() {
                let _ = writeln!(stderr, "{message}");
            }
            m.errormsg = message;
            err.exit_code()
        }
        Outcome::Local(message, code) => {
            if policy.shows_errors() {
                let _ = writeln!(stderr, "{message}");
            }
            m.errormsg = message;
            code
        }
    };
    let _ = stderr.flush();
    if let Some(format) = &policy.write_out {
        write_out(stdout, stderr, format, &m, code);
    }
    code
}

/// Prints `-w` (a `@file` format is read from that file).
pub fn write_out(
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
    format: &str,
    m: &Metrics,
    code: u8,
) {
    let format = match format.strip_prefix('@') {
        Some(path) => match std::fs::read_to_string(path) {
            Ok(f) => f,
            Err(e) => {
                let _ = writeln!(stderr, "cannot read write-out format from {path}: {e}");
                return;
            }
        },
        None => format.to_string(),
    };
    let _ = stdout.write_all(writeout::render(&format, m, code).as_bytes());
    let _ = stdout.flush();
}

pub(crate) fn build_client(plan: &RequestPlan) -> Result<reqwest::Client, String> {
    let verification = if plan.insecure_tls {
        Verification::Skip
    } else {
        Verification::Roots
    };
    let mut builder = appstrate_tls::client_builder_with(verification)
        .redirect(reqwest::redirect::Policy::none())
        .http1_title_case_headers();
    if let Some(t) = plan.connect_timeout {
        // Per attempt, TCP and TLS handshake, as curl's --connect-timeout.
        builder = builder.connect_timeout(t);
    }
    builder
        .build()
        .map_err(|e| format!("cannot set up the HTTP client: {e}"))
}

fn same_origin(a: &Url, b: &Url) -> bool {
    a.origin() == b.origin()
}

/// `Retry-After` (seconds or HTTP-date), ignored beyond an hour as curl
/// does, so the backoff applies instead.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(http::header::RETRY_AFTER)?.to_str().ok()?;
    let wait = appstrate_retryafter::parse(value, SystemTime::now())?;
    (wait < Duration::from_secs(3600)).then_some(wait)
}

fn backoff(plan: &RequestPlan, attempt: u32) -> Duration {
    let factor = 2f64.powi(attempt.saturating_sub(1).min(30) as i32);
    Duration::from_secs_f64((plan.retry.delay.as_secs_f64() * factor).min(86_400.0))
}

fn within_budget(plan: &RequestPlan, first: Instant, delay: Duration) -> bool {
    plan.retry.max_time.is_zero() || first.elapsed() + delay <= plan.retry.max_time
}

async fn run(
    plan: &RequestPlan,
    bearer: &Bearer,
    stdout: &mut (dyn Write + Send),
    stderr: &mut (dyn Write + Send),
    m: &mut Metrics,
    upload: &Arc<AtomicU64>,
) -> Outcome {
    let client = match build_client(plan) {
        Ok(c) => c,
        Err(e) => return Outcome::Local(e, 1),
    };
    let url = match initial_url(plan).await {
        Ok(url) => url,
        Err(e) => return e,
    };
    m.url_effective = url.to_string();
    let mut sink = Sink::new(stdout, plan.output.file.clone());
    match send_with_retries(plan, &client, url, bearer, stderr, &mut sink, m, upload).await {
        Ok(response) => respond(plan, response, stderr, &mut sink, m).await,
        Err(outcome) => outcome,
    }
}

/// The plan's URL with the `-G` data appended (its `@file`s read now).
pub(crate) async fn initial_url(plan: &RequestPlan) -> Result<Url, Outcome> {
    let mut url = plan.url.clone();
    if !plan.get_data.is_empty() {
        let query = body::query_from_data(&plan.get_data).await?;
        crate::plan::append_query(&mut url, &query);
    }
    Ok(url)
}

/// Sends the request (following redirects) under the `--retry` policy and
/// returns the response to handle: the first that is not retried.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn send_with_retries(
    plan: &RequestPlan,
    client: &reqwest::Client,
    url: Url,
    bearer: &Bearer,
    stderr: &mut (dyn Write + Send),
    sink: &mut Sink<'_>,
    m: &mut Metrics,
    upload: &Arc<AtomicU64>,
) -> Result<Response, Outcome> {
    let first = Instant::now();
    let mut attempt: u32 = 0;
    loop {
        attempt += 1;
        let can_retry = attempt <= plan.retry.retries;
        upload.store(0, Ordering::Relaxed);
        let response = match send_following(
            plan,
            client,
            url.clone(),
            bearer,
            stderr,
            sink,
            m,
            upload,
        )
        .await
        {
            Ok(r) => r,
            Err(Outcome::Net(err)) => {
                if can_retry && err.retryable(plan.retry.connrefused) {
                    let delay = backoff(plan, attempt);
                    if within_budget(plan, first, delay) {
                        if plan.output.verbose {
                            let _ = writeln!(
                                stderr,
                                "* retry after {}ms (network error)",
                                delay.as_millis()
                            );
                        }
                        tokio::time::sleep(delay).await;
                        continue;
                    }
                }
                return Err(Outcome::Net(err));
            }
            Err(other) => return Err(other),
        };
        let status = response.status().as_u16();
        if can_retry && RETRYABLE.contains(&status) {
            let delay = retry_after(response.headers()).unwrap_or_else(|| backoff(plan, attempt));
            if within_budget(plan, first, delay) {
                if plan.output.verbose {
                    let _ = writeln!(
                        stderr,
                        "* retry after {}ms (status {status})",
                        delay.as_millis()
                    );
                }
                drop(response);
                tokio::time::sleep(delay).await;
                continue;
            }
        }
        return Ok(response);
    }
}

fn status_line(response: &Response) -> String {
    let status = response.status();
    match response.version() {
        Version::HTTP_2 | Version::HTTP_3 => {
            format!(
                "HTTP/{} {} \r\n",
                version_label(response.version()),
                status.as_u16()
            )
        }
        v => {
            let reason = response
                .extensions()
                .get::<hyper::ext::ReasonPhrase>()
                .map(|r| String::from_utf8_lossy(r.as_bytes()).into_owned())
                .or_else(|| status.canonical_reason().map(str::to_string))
                .unwrap_or_default();
            format!("HTTP/{} {} {reason}\r\n", version_label(v), status.as_u16())
        }
    }
}

fn header_block(response: &Response) -> String {
    let mut out = status_line(response);
    for (name, value) in response.headers() {
        out.push_str(name.as_str());
        out.push_str(": ");
        out.push_str(&String::from_utf8_lossy(value.as_bytes()));
        out.push_str("\r\n");
    }
    out.push_str("\r\n");
    out
}

fn trace_request(
    stderr: &mut dyn Write,
    plan: &RequestPlan,
    method: &str,
    url: &Url,
    headers: &[&PlannedHeader],
    content_type: Option<&str>,
    with_bearer: bool,
) {
    let mut t = String::new();
    t.push_str(&format!(
        "* Profile: \"{}\" → {}\n",
        plan.injection.profile,
        plan.injection.instance.origin().ascii_serialization()
    ));
    if with_bearer {
        t.push_str("* Bearer injected from keyring, never exposed to caller\n");
    } else {
        t.push_str("* Cross-origin hop: Authorization and Cookie not sent\n");
    }
    let target = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_string(),
    };
    t.push_str(&format!("> {method} {target} HTTP/1.1\r\n"));
    let host = match url.port() {
        Some(p) => format!("{}:{p}", url.host_str().unwrap_or_default()),
        None => url.host_str().unwrap_or_default().to_string(),
    };
    t.push_str(&format!("> Host: {host}\r\n"));
    for h in headers {
        let value = if h.name.eq_ignore_ascii_case("authorization") {
            "Bearer [REDACTED]".to_string()
        } else {
            match &h.value {
                HeaderValue::Literal(v) => v.clone(),
                HeaderValue::InjectedBearer => "Bearer [REDACTED]".to_string(),
            }
        };
        t.push_str(&format!("> {}: {value}\r\n", h.name));
    }
    if let Some(ct) = content_type {
        t.push_str(&format!("> Content-Type: {ct}\r\n"));
    }
    t.push_str(">\r\n");
    let _ = stderr.write_all(t.as_bytes());
    let _ = stderr.flush();
}

fn trace_response(stderr: &mut dyn Write, response: &Response) {
    let block = header_block(response);
    let mut t = String::new();
    for line in block.split_inclusive("\r\n") {
        if line == "\r\n" {
            t.push_str("<\r\n");
        } else {
            t.push_str("< ");
            t.push_str(line);
        }
    }
    let _ = stderr.write_all(t.as_bytes());
    let _ = stderr.flush();
}

fn is_redirect(status: StatusCode) -> bool {
    matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308)
}

/// Sends one attempt, following redirects when `-L` asked for it.
#[allow(clippy::too_many_arguments)]
async fn send_following(
    plan: &RequestPlan,
    client: &reqwest::Client,
    url: Url,
    bearer: &Bearer,
    stderr: &mut (dyn Write + Send),
    sink: &mut Sink<'_>,
    m: &mut Metrics,
    upload: &Arc<AtomicU64>,
) -> Result<Response, Outcome> {
    let mut hop = Hop {
        method: plan.method.clone(),
        body: plan.body.clone(),
        url,
    };
    let mut hops = 0;
    m.num_redirects = 0;
    loop {
        let response = send_hop(plan, client, &hop, bearer, stderr, upload).await?;
        let Some(next) = redirect_to_follow(plan, &hop.url, &response) else {
            return Ok(response);
        };
        if hops >= MAX_REDIRECTS {
            return Err(Outcome::Local(
                format!("Maximum ({MAX_REDIRECTS}) redirects followed"),
                47,
            ));
        }
        hops += 1;
        m.num_redirects = hops;
        if plan.output.include {
            sink.write_meta(header_block(&response).as_bytes())?;
        }
        hop.redirected(response.status().as_u16())?;
        hop.url = next;
        m.url_effective = hop.url.to_string();
    }
}

/// One request of a redirect chain.
struct Hop {
    method: String,
    body: BodyPlan,
    url: Url,
}

impl Hop {
    /// The method and body the next hop takes after a `code` redirect
    /// (curl's rules: 303 becomes GET, and so do 301/302 after a POST).
    fn redirected(&mut self, code: u16) -> Result<(), Outcome> {
        let method = &self.method;
        if (code == 303 && method != "HEAD") || ((code == 301 || code == 302) && method == "POST") {
            self.method = "GET".into();
            self.body = BodyPlan::Empty;
        } else if self.body.uses_stdin() {
            return Err(Outcome::Local(
                format!(
                    "cannot follow the {code} redirect: the request body came from stdin and cannot be sent again"
                ),
                1,
            ));
        }
        Ok(())
    }
}

/// Sends one hop with its `-v` trace; the bearer and cookies go to the
/// instance's origin only.
async fn send_hop(
    plan: &RequestPlan,
    client: &reqwest::Client,
    hop: &Hop,
    bearer: &Bearer,
    stderr: &mut (dyn Write + Send),
    upload: &Arc<AtomicU64>,
) -> Result<Response, Outcome> {
    let trusted = same_origin(&hop.url, &plan.injection.instance);
    let headers = headers_for(plan, trusted);
    let built = body::build(&hop.body, upload).await?;
    let user_content_type = headers
        .iter()
        .any(|h| h.name.eq_ignore_ascii_case("content-type"));
    let extra_content_type = built.content_type.clone().filter(|_| !user_content_type);
    if plan.output.verbose {
        trace_request(
            stderr,
            plan,
            &hop.method,
            &hop.url,
            &headers,
            extra_content_type.as_deref(),
            trusted,
        );
    }
    let mut map = header_map(&headers, bearer)?;
    if let Some(ct) = &extra_content_type
        && let Ok(v) = http::HeaderValue::from_str(ct)
    {
        map.insert(http::header::CONTENT_TYPE, v);
    }
    if let Some(len) = built.length {
        map.insert(http::header::CONTENT_LENGTH, http::HeaderValue::from(len));
    }
    let Ok(req_method) = Method::from_bytes(hop.method.as_bytes()) else {
        return Err(Outcome::Local(
            format!("invalid HTTP method \"{}\"", hop.method),
            2,
        ));
    };
    let mut request = client.request(req_method, hop.url.clone()).headers(map);
    if let Some(b) = built.body {
        request = request.body(b);
    }
    let response = request
        .send()
        .await
        .map_err(|e| Outcome::Net(classify(&e)))?;
    if plan.output.verbose {
        trace_response(stderr, &response);
    }
    Ok(response)
}

/// The planned headers that travel to a hop: off the instance, neither
/// the bearer nor cookies do.
fn headers_for(plan: &RequestPlan, trusted: bool) -> Vec<&PlannedHeader> {
    plan.headers
        .iter()
        .filter(|h| {
            trusted
                || !(h.name.eq_ignore_ascii_case("authorization")
                    || h.name.eq_ignore_ascii_case("cookie"))
        })
        .collect()
}

/// The headers as sent, the bearer marked sensitive (redacted in `Debug`,
/// never indexed by HTTP/2); a value HTTP cannot carry is a usage error.
fn header_map(headers: &[&PlannedHeader], bearer: &Bearer) -> Result<HeaderMap, Outcome> {
    let mut map = HeaderMap::new();
    for h in headers {
        let Ok(name) = HeaderName::from_bytes(h.name.as_bytes()) else {
            continue;
        };
        let value = match &h.value {
            HeaderValue::Literal(v) => http::HeaderValue::from_str(v),
            HeaderValue::InjectedBearer => {
                let v = Zeroizing::new(format!("Bearer {}", bearer.0.as_str()));
                http::HeaderValue::from_str(&v).map(|mut hv| {
                    hv.set_sensitive(true);
                    hv
                })
            }
        };
        match value {
            Ok(v) => {
                map.insert(name, v);
            }
            Err(_) => {
                return Err(Outcome::Local(
                    format!("invalid value for header {}", h.name),
                    2,
                ));
            }
        }
    }
    Ok(map)
}

/// Where a redirect leads, when `-L` follows it.
fn redirect_to_follow(plan: &RequestPlan, url: &Url, response: &Response) -> Option<Url> {
    let location = response
        .headers()
        .get(http::header::LOCATION)
        .and_then(|l| l.to_str().ok())
        .and_then(|l| url.join(l).ok());
    location.filter(|_| plan.follow_redirects && is_redirect(response.status()))
}

/// Prints the final response and decides the exit code.
async fn respond(
    plan: &RequestPlan,
    mut response: Response,
    stderr: &mut (dyn Write + Send),
    sink: &mut Sink<'_>,
    m: &mut Metrics,
) -> Outcome {
    let policy = &plan.output;
    let status = response.status();
    let code = status.as_u16();
    let block = header_block(&response);
    record_response(m, &response, &block);

    if code == 401 && policy.shows_hints() {
        let _ = writeln!(
            stderr,
            "Session may be expired — run: appstrate login --profile {}",
            plan.injection.profile
        );
    }
    if is_redirect(status) {
        note_redirect(plan, &response, stderr, m);
    }
    let failed = policy.fail != FailMode::Off && code >= 400;
    let fail_code = if code >= 500 { 25 } else { 22 };
    if policy.include
        && let Err(e) = sink.write_meta(block.as_bytes())
    {
        return e.into();
    }
    if policy.head || plan.method == "HEAD" {
        if let Err(e) = sink.finish() {
            return e.into();
        }
        return Outcome::Done(if failed { fail_code } else { 0 });
    }
    if failed && policy.fail == FailMode::Fail {
        return Outcome::Done(fail_code);
    }
    if let Err(e) = sink.open() {
        return cannot_open_output(plan, &e);
    }
    if let Err(outcome) = stream_body(plan, &mut response, sink, m).await {
        return outcome;
    }
    if let Err(e) = sink.finish() {
        return e.into();
    }
    Outcome::Done(if failed { fail_code } else { 0 })
}

/// What `-w` reports about the final response.
fn record_response(m: &mut Metrics, response: &Response, header_block: &str) {
    m.http_code = response.status().as_u16();
    m.version = Some(response.version());
    m.url_effective = response.url().to_string();
    m.headers = response
        .headers()
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    m.size_header = header_block.len() as u64;
}

/// A redirect as the final response: `%{redirect_url}`, and a hint when
/// `-L` was not given (the body of a redirect is rarely what was wanted).
fn note_redirect(
    plan: &RequestPlan,
    response: &Response,
    stderr: &mut (dyn Write + Send),
    m: &mut Metrics,
) {
    let location = response
        .headers()
        .get(http::header::LOCATION)
        .map(|l| String::from_utf8_lossy(l.as_bytes()).into_owned());
    m.redirect_url = location
        .as_deref()
        .and_then(|l| response.url().join(l).ok())
        .map(|u| u.to_string());
    let policy = &plan.output;
    if !plan.follow_redirects && !policy.head && policy.shows_hints() {
        let suffix = location
            .map(|l| format!(" (Location: {l})"))
            .unwrap_or_default();
        let code = response.status().as_u16();
        let _ = writeln!(
            stderr,
            "HTTP {code} redirect not followed — the response body is likely empty{suffix}.\nRe-run with -L to follow it. Cross-origin hops drop Authorization/Cookie, but your -H headers and X-Org-Id/X-Application-Id are forwarded to that host."
        );
    }
}

fn cannot_open_output(plan: &RequestPlan, e: &std::io::Error) -> Outcome {
    Outcome::Local(
        format!(
            "cannot open output file {}: {e}",
            plan.output
                .file
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        ),
        23,
    )
}

/// Copies the body to the sink as it arrives, decoded under
/// `--compressed`, counting what `-w` reports.
async fn stream_body(
    plan: &RequestPlan,
    response: &mut Response,
    sink: &mut Sink<'_>,
    m: &mut Metrics,
) -> Result<(), Outcome> {
    let encoding = if plan.compressed {
        response
            .headers()
            .get(http::header::CONTENT_ENCODING)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    } else {
        None
    };
    let started = m.started;
    // `%{size_download}` counts bytes as received (compressed), like curl.
    let mut received: u64 = 0;
    let mut decoder = Decoder::new(&mut *sink, encoding.as_deref());
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if chunk.is_empty() {
                    continue;
                }
                if m.first_byte.is_none() {
                    m.first_byte = Some(started.elapsed());
                }
                received += chunk.len() as u64;
                m.size_download = received;
                if let Err(e) = decoder.chunk(&chunk) {
                    drop(decoder);
                    return Err(decode_or_write_failure(sink, e));
                }
            }
            Ok(None) => break,
            Err(e) => {
                drop(decoder);
                return Err(Outcome::Net(classify(&e)));
            }
        }
    }
    let finished = decoder.finish();
    if let Err(e) = finished {
        return Err(decode_or_write_failure(sink, e));
    }
    Ok(())
}

/// A corrupt compressed body is curl's exit 61; anything else is a write failure.
fn decode_or_write_failure(sink: &Sink<'_>, e: std::io::Error) -> Outcome {
    if !sink.broken_pipe
        && matches!(
            e.kind(),
            std::io::ErrorKind::InvalidData | std::io::ErrorKind::InvalidInput
        )
    {
        return Outcome::Local(
            format!("Error while processing content unencoding: {e}"),
            61,
        );
    }
    sink.failure(e).into()
}
