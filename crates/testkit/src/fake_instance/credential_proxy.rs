//! The credential proxy a remote-resolver run calls for integration APIs:
//! `POST|GET|… /api/credential-proxy/proxy` with `X-Integration-Id`,
//! `X-Target` and `X-Session-Id`. The fake injects the credential the test
//! set for that integration (in the caller's application), substitutes
//! `{{field}}` placeholders, checks the authorized URIs, forwards to the
//! target and returns its reply. A 401 with a refreshable credential is
//! retried once (buffered bodies) or answered with `X-Auth-Refreshed: true`
//! (streamed bodies), as the platform does.

use std::collections::HashMap;

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::{Map, Value};

use super::FakeInstance;
use super::platform::{Perm, app_scope, require_perm};
use super::routes::{ParsedRequest, problem_response};
use super::server::{Shared, lock};
use super::state::Problem;

/// A connection's credential for one integration, set by a test.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct IntegrationCredential {
    /// Headers injected into every forwarded request.
    pub headers: Vec<(String, String)>,
    /// Values for `{{name}}` placeholders in the target, headers and (with
    /// `X-Substitute-Body: true`) the body.
    pub fields: Map<String, Value>,
    /// Glob allowlist of targets (`*` = one path segment, `**` = anything);
    /// `None` allows any target.
    pub authorized_uris: Option<Vec<String>>,
    /// What the headers become once the platform refreshes the credential
    /// after an upstream 401 (an OAuth refresh); `None` = not refreshable.
    pub refreshed_headers: Option<Vec<(String, String)>>,
}

impl IntegrationCredential {
    /// `Authorization: Bearer <token>` (an OAuth2 access token).
    pub fn bearer(token: &str) -> Self {
        Self::header("Authorization", &format!("Bearer {token}"))
    }

    /// One injected header (e.g. `X-Api-Key`).
    pub fn header(name: &str, value: &str) -> Self {
        IntegrationCredential {
            headers: vec![(name.to_owned(), value.to_owned())],
            ..Self::default()
        }
    }

    /// A field for `{{name}}` substitution.
    pub fn field(mut self, name: &str, value: &str) -> Self {
        self.fields
            .insert(name.to_owned(), Value::String(value.to_owned()));
        self
    }

    /// Restrict targets to these globs.
    pub fn authorized_uris(mut self, uris: &[&str]) -> Self {
        self.authorized_uris = Some(uris.iter().map(|u| (*u).to_owned()).collect());
        self
    }

    /// After an upstream 401 the token is refreshed to `token`.
    pub fn refreshes_to_bearer(mut self, token: &str) -> Self {
        self.refreshed_headers = Some(vec![("Authorization".into(), format!("Bearer {token}"))]);
        self
    }
}

#[derive(Default)]
pub(crate) struct Credentials {
    /// By (application, integration id).
    connections: HashMap<(String, String), IntegrationCredential>,
    /// `X-Session-Id` → the principal it was first used by.
    sessions: HashMap<String, String>,
}

/// Request headers the proxy consumes and never forwards.
const PROXY_CONTROL_HEADERS: &[&str] = &[
    "x-integration",
    "x-integration-id",
    "x-target",
    "x-session-id",
    "x-substitute-body",
    "x-run-id",
    "x-application-id",
    "x-org-id",
    "x-connection-id",
    "x-stream-request",
    "x-stream-response",
    "x-max-response-size",
    "authorization",
    "appstrate-user",
    "appstrate-version",
    "accept-encoding",
    "host",
    "content-length",
    "connection",
    "transfer-encoding",
];

/// A v4 UUID in its canonical text form.
fn is_uuid_v4(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            14 => *c == b'4',
            19 => matches!(c.to_ascii_lowercase(), b'8' | b'9' | b'a' | b'b'),
            _ => c.is_ascii_hexdigit(),
        })
}

/// Replace `{{name}}` with credential fields; an unknown name is an error.
fn substitute(text: &str, fields: &Map<String, Value>) -> Result<String, Problem> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let Some(end) = rest[start..].find("}}") else {
            break;
        };
        let name = rest[start + 2..start + end].trim();
        let value = match fields.get(name) {
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
            None => {
                return Err(Problem::invalid_request(format!(
                    "Unknown credential field '{{{{{name}}}}}'"
                )));
            }
        };
        out.push_str(&rest[..start]);
        out.push_str(&value);
        rest = &rest[start + end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// `authorized_uris` glob: `**` matches anything, `*` anything but `/`.
fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    match pattern {
        [] => text.is_empty(),
        [b'*', b'*', rest @ ..] => (0..=text.len()).any(|i| glob_match(rest, &text[i..])),
        [b'*', rest @ ..] => {
            let segment = text.iter().position(|c| *c == b'/').unwrap_or(text.len());
            (0..=segment).any(|i| glob_match(rest, &text[i..]))
        }
        [p, rest @ ..] => text.first() == Some(p) && glob_match(rest, &text[1..]),
    }
}

/// What the forward needs, decided under the lock.
struct Call {
    app_id: String,
    integration: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    streamed: bool,
    credential: IntegrationCredential,
}

fn prepare(shared: &Shared, req: &ParsedRequest) -> Result<Call, Problem> {
    let mut state = lock(shared);
    let scope = app_scope(&state, req)?;
    require_perm(&state, &scope, Perm::AgentsRun)?;
    let header = |name: &str| req.header(name).filter(|v| !v.is_empty());
    let integration = header("x-integration-id")
        .ok_or_else(|| Problem::invalid_request("Missing X-Integration-Id header"))?
        .to_owned();
    let target = header("x-target")
        .ok_or_else(|| Problem::invalid_request("Missing X-Target header"))?
        .to_owned();
    let session = header("x-session-id")
        .ok_or_else(|| Problem::invalid_request("Missing X-Session-Id header"))?
        .to_owned();
    if !is_uuid_v4(&session) {
        return Err(Problem::invalid_request("X-Session-Id must be a UUID v4"));
    }
    let principal = match &scope.api_key_id {
        Some(key) => format!("apikey:{key}"),
        None => format!("user:{}", scope.user_id),
    };
    let bound = state
        .credentials
        .sessions
        .entry(session)
        .or_insert_with(|| principal.clone());
    if *bound != principal {
        return Err(Problem::forbidden(
            "X-Session-Id is bound to a different principal",
        ));
    }
    let credential = state
        .credentials
        .connections
        .get(&(scope.app_id.clone(), integration.clone()))
        .cloned()
        .ok_or_else(|| {
            Problem::not_found(format!(
                "No connection for integration '{integration}' in this application"
            ))
        })?;
    let target = substitute(&target, &credential.fields)?;
    let parsed = reqwest::Url::parse(&target)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .ok_or_else(|| {
            Problem::invalid_request(format!("X-Target is not an absolute http(s) URL: {target}"))
        })?;
    if let Some(allowed) = &credential.authorized_uris
        && !allowed
            .iter()
            .any(|p| glob_match(p.as_bytes(), parsed.as_str().as_bytes()))
    {
        return Err(Problem::forbidden(format!(
            "Target '{target}' is not in the authorized URIs of '{integration}'"
        )));
    }
    let mut headers = Vec::new();
    for (name, value) in &req.headers {
        if PROXY_CONTROL_HEADERS.contains(&name.as_str()) {
            continue;
        }
        let value = String::from_utf8_lossy(value.as_bytes());
        headers.push((
            name.as_str().to_owned(),
            substitute(&value, &credential.fields)?,
        ));
    }
    let body = if req.header("x-substitute-body") == Some("true") {
        substitute(&String::from_utf8_lossy(&req.body), &credential.fields)?.into_bytes()
    } else {
        req.body.clone()
    };
    Ok(Call {
        app_id: scope.app_id,
        integration,
        target,
        headers,
        body,
        streamed: req.header("x-stream-request") == Some("1"),
        credential,
    })
}

pub(crate) async fn handle(shared: &Shared, req: &ParsedRequest) -> Response {
    let call = match prepare(shared, req) {
        Ok(call) => call,
        Err(problem) => return problem_response(&problem, &req.request_id),
    };
    match forward(shared, req, call).await {
        Ok(response) => response,
        Err(problem) => problem_response(&problem, &req.request_id),
    }
}

async fn send_once(
    req: &ParsedRequest,
    call: &Call,
    credential_headers: &[(String, String)],
) -> Result<reqwest::Response, Problem> {
    let client = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| {
            Problem::new(
                500,
                "internal_error",
                "Internal Server Error",
                e.to_string(),
            )
        })?;
    let method = reqwest::Method::from_bytes(req.method.as_bytes())
        .map_err(|_| Problem::invalid_request("Unsupported method"))?;
    let mut request = client.request(method.clone(), &call.target);
    let injected = |name: &str| {
        credential_headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case(name))
    };
    for (name, value) in &call.headers {
        if !injected(name) {
            request = request.header(name.as_str(), value.as_str());
        }
    }
    for (name, value) in credential_headers {
        let value = substitute(value, &call.credential.fields)?;
        request = request.header(name.as_str(), value);
    }
    if method != reqwest::Method::GET && method != reqwest::Method::HEAD && !call.body.is_empty() {
        request = request.body(call.body.clone());
    }
    request.send().await.map_err(|_| {
        Problem::new(
            502,
            "bad_gateway",
            "Bad Gateway",
            "The integration target could not be reached",
        )
    })
}

async fn forward(shared: &Shared, req: &ParsedRequest, call: Call) -> Result<Response, Problem> {
    let mut reply = send_once(req, &call, &call.credential.headers).await?;
    let mut refreshed = false;
    if reply.status() == reqwest::StatusCode::UNAUTHORIZED
        && let Some(fresh) = call.credential.refreshed_headers.clone()
    {
        {
            let mut state = lock(shared);
            if let Some(stored) = state
                .credentials
                .connections
                .get_mut(&(call.app_id.clone(), call.integration.clone()))
            {
                stored.headers = fresh.clone();
                stored.refreshed_headers = None;
            }
        }
        if call.streamed {
            refreshed = true;
        } else {
            reply = send_once(req, &call, &fresh).await?;
        }
    }
    let status = StatusCode::from_u16(reply.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let headers = reply.headers().clone();
    let body = reply.bytes().await.map_err(|_| {
        Problem::new(
            502,
            "bad_gateway",
            "Bad Gateway",
            "The integration target reply was cut",
        )
    })?;
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    for (name, value) in &headers {
        if matches!(
            name.as_str(),
            "content-length"
                | "content-encoding"
                | "transfer-encoding"
                | "connection"
                | "keep-alive"
        ) {
            continue;
        }
        if let (Ok(name), Ok(value)) = (
            header::HeaderName::from_bytes(name.as_str().as_bytes()),
            HeaderValue::from_bytes(value.as_bytes()),
        ) {
            response.headers_mut().append(name, value);
        }
    }
    if refreshed {
        response
            .headers_mut()
            .insert("x-auth-refreshed", HeaderValue::from_static("true"));
    }
    Ok(response)
}

impl FakeInstance {
    /// The connection `app_id` uses for `integration_id` (e.g. `@acme/github`)
    /// through the credential proxy, replacing any previous one.
    pub fn set_integration_credential(
        &self,
        app_id: &str,
        integration_id: &str,
        credential: IntegrationCredential,
    ) {
        self.with(|s| {
            s.credentials
                .connections
                .insert((app_id.to_owned(), integration_id.to_owned()), credential);
        });
    }

    /// The credential currently stored (after any refresh).
    pub fn integration_credential(
        &self,
        app_id: &str,
        integration_id: &str,
    ) -> Option<IntegrationCredential> {
        self.with(|s| {
            s.credentials
                .connections
                .get(&(app_id.to_owned(), integration_id.to_owned()))
                .cloned()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_segments_and_anything() {
        let m = |p: &str, t: &str| glob_match(p.as_bytes(), t.as_bytes());
        assert!(m("https://api.x.com/*/items", "https://api.x.com/v1/items"));
        assert!(!m(
            "https://api.x.com/*/items",
            "https://api.x.com/v1/a/items"
        ));
        assert!(m(
            "https://api.x.com/**",
            "https://api.x.com/v1/a/items?q=1"
        ));
        assert!(!m("https://api.x.com/**", "https://evil.com/api.x.com/"));
        assert!(is_uuid_v4("0f8fad5b-d9cb-469f-a165-70867728950e"));
        assert!(!is_uuid_v4("0f8fad5b-d9cb-169f-a165-70867728950e"));
    }

    #[test]
    fn placeholders_are_substituted_or_refused() {
        let fields = Map::from_iter([("org".to_owned(), Value::String("acme".into()))]);
        assert_eq!(
            substitute("https://x/{{org}}/repos", &fields)
                .ok()
                .as_deref(),
            Some("https://x/acme/repos")
        );
        assert!(substitute("{{nope}}", &fields).is_err());
    }
}
