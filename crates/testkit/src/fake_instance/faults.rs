//! Failure injection: make one route misbehave the way real networks and
//! servers do (error statuses, HTML from a proxy, cut bodies, slowness,
//! dropped connections) so tests can check how the CLI copes.

use std::time::Duration;

use serde_json::{Value, json};

/// What an injected fault does to a matching request.
#[derive(Clone, Debug)]
pub enum FaultAction {
    /// Answer with this status, headers and body instead of the real handler.
    Respond {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// Send the status line, headers (with a `Content-Length` larger than the
    /// body) and only `body`, then close the connection.
    Truncate {
        status: u16,
        content_type: String,
        body: Vec<u8>,
    },
    /// Answer `status` with `len` bytes of `content_type`, generated lazily
    /// in 64 KiB chunks (a hostile server's endless reply costs the test
    /// nothing); `declare_length` sends `Content-Length`, else chunked.
    Huge {
        status: u16,
        content_type: String,
        len: u64,
        declare_length: bool,
    },
    /// Wait, then handle the request normally.
    Delay(Duration),
    /// Never answer (until the fake instance is dropped).
    Stall,
    /// Close the connection without sending a single byte.
    DropConnection,
}

/// A rule: which requests it matches, what it does, how many times.
///
/// ```no_run
/// # use appstrate_testkit::fake_instance::{FakeInstance, Fault};
/// let fake = FakeInstance::start();
/// fake.inject(Fault::status("/api/orgs", 500).times(1));
/// fake.inject(Fault::drop_connection("/api/auth/cli/token").body_contains("grant_type=refresh_token"));
/// ```
#[derive(Clone, Debug)]
pub struct Fault {
    pub(crate) path: String,
    pub(crate) method: Option<String>,
    pub(crate) body_contains: Option<String>,
    pub(crate) remaining: Option<u32>,
    pub(crate) action: FaultAction,
}

impl Fault {
    /// A fault on `path` (exact match on the path without query; a trailing
    /// `*` matches any path with that prefix), any method, every time.
    pub fn new(path: &str, action: FaultAction) -> Self {
        Fault {
            path: path.to_owned(),
            method: None,
            body_contains: None,
            remaining: None,
            action,
        }
    }

    /// Answer `status` with an empty body.
    pub fn status(path: &str, status: u16) -> Self {
        Fault::respond(path, status, "text/plain; charset=UTF-8", Vec::new())
    }

    /// Answer `status` with `body` of `content_type`.
    pub fn respond(path: &str, status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        Fault::new(
            path,
            FaultAction::Respond {
                status,
                headers: vec![("content-type".into(), content_type.to_owned())],
                body: body.into(),
            },
        )
    }

    /// Answer `status` with a JSON body.
    pub fn json(path: &str, status: u16, body: &Value) -> Self {
        Fault::respond(path, status, "application/json", body.to_string())
    }

    /// Answer with an RFC 9457 problem (`code`, `detail`) as the platform would.
    pub fn problem(path: &str, status: u16, code: &str, detail: &str) -> Self {
        let body = json!({
            "type": format!("https://docs.appstrate.dev/errors/{}", code.replace('_', "-")),
            "title": super::routes::reason_phrase(status),
            "status": status,
            "detail": detail,
            "instance": "urn:appstrate:request:req_injected",
            "code": code,
            "requestId": "req_injected",
        });
        Fault::respond(path, status, "application/problem+json", body.to_string())
    }

    /// Answer with an auth-endpoint error `{error, error_description}`.
    pub fn oauth_error(path: &str, status: u16, error: &str, description: &str) -> Self {
        Fault::json(
            path,
            status,
            &json!({ "error": error, "error_description": description }),
        )
    }

    /// The platform's rate limiter: 429 `rate_limited` with `Retry-After`.
    pub fn rate_limited(path: &str, retry_after_secs: u64) -> Self {
        let bucket = if path.contains("device/code") {
            "device-code"
        } else {
            "cli-token"
        };
        Fault::oauth_error(
            path,
            429,
            "rate_limited",
            &format!("Too many requests to {bucket}. Retry after {retry_after_secs}s."),
        )
        .header("retry-after", &retry_after_secs.to_string())
    }

    /// Answer `status` with an HTML page, as a reverse proxy would.
    pub fn non_json(path: &str, status: u16) -> Self {
        Fault::respond(
            path,
            status,
            "text/html; charset=utf-8",
            "<html><body><h1>502 Bad Gateway</h1></body></html>",
        )
    }

    /// Send a JSON content type and only the first half of `body`, then cut.
    pub fn truncated(path: &str, status: u16, full_body: &str) -> Self {
        let cut = full_body.len() / 2;
        Fault::new(
            path,
            FaultAction::Truncate {
                status,
                content_type: "application/json".into(),
                body: full_body.as_bytes()[..cut].to_vec(),
            },
        )
    }

    /// A JSON-typed reply of `len` bytes streamed lazily (see
    /// [`FaultAction::Huge`]), with or without `Content-Length`.
    pub fn huge(path: &str, len: u64, declare_length: bool) -> Self {
        Fault::new(
            path,
            FaultAction::Huge {
                status: 200,
                content_type: "application/json".into(),
                len,
                declare_length,
            },
        )
    }

    /// A redirect to `location` (hostile or misconfigured instance).
    pub fn redirect(path: &str, status: u16, location: &str) -> Self {
        Fault::respond(path, status, "text/plain; charset=UTF-8", Vec::new())
            .header("location", location)
    }

    /// Wait `delay` before handling the request normally.
    pub fn delay(path: &str, delay: Duration) -> Self {
        Fault::new(path, FaultAction::Delay(delay))
    }

    /// Never answer.
    pub fn stall(path: &str) -> Self {
        Fault::new(path, FaultAction::Stall)
    }

    /// Close the connection without answering.
    pub fn drop_connection(path: &str) -> Self {
        Fault::new(path, FaultAction::DropConnection)
    }

    /// Only requests with this method (case-insensitive).
    pub fn method(mut self, method: &str) -> Self {
        self.method = Some(method.to_ascii_uppercase());
        self
    }

    /// Only requests whose body contains `needle` (e.g.
    /// `grant_type=refresh_token` to tell refreshes from device polls).
    pub fn body_contains(mut self, needle: &str) -> Self {
        self.body_contains = Some(needle.to_owned());
        self
    }

    /// Fire only for the next `n` matching requests, then step aside.
    pub fn times(mut self, n: u32) -> Self {
        self.remaining = Some(n);
        self
    }

    /// Add a response header (for `Respond`).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        if let FaultAction::Respond { headers, .. } = &mut self.action {
            headers.push((name.to_ascii_lowercase(), value.to_owned()));
        }
        self
    }

    pub(crate) fn matches(&self, method: &str, path: &str, body: &[u8]) -> bool {
        if self.remaining == Some(0) {
            return false;
        }
        if let Some(m) = &self.method
            && !m.eq_ignore_ascii_case(method)
        {
            return false;
        }
        let path_ok = match self.path.strip_suffix('*') {
            Some(prefix) => path.starts_with(prefix),
            None => path == self.path,
        };
        if !path_ok {
            return false;
        }
        match &self.body_contains {
            Some(needle) => String::from_utf8_lossy(body).contains(needle.as_str()),
            None => true,
        }
    }
}
