//! The remote resolver: the platform's credential proxy injects the
//! connection's credential (`/api/credential-proxy/proxy`), so the secret
//! never reaches this machine. An upstream 401 after which the platform
//! refreshed the credential (`x-auth-refreshed: true`) is retried once.

use appstrate_platform::access::PlatformAccess;

use super::request::{ApiRequest, Body};
use super::{ApiCallTool, is_reserved};

const PROXY_PATH: &str = "/api/credential-proxy/proxy";

/// Who is calling: the process's session, and the reported run if any.
pub struct CallIds<'a> {
    pub session: &'a str,
    pub run: Option<&'a str>,
}

pub async fn send(
    tool: &ApiCallTool,
    access: &PlatformAccess,
    ids: CallIds<'_>,
    req: &ApiRequest,
) -> Result<reqwest::Response, String> {
    let mut headers: Vec<(&str, &str)> = vec![
        ("x-session-id", ids.session),
        ("x-integration-id", tool.integration_id.as_str()),
        ("x-target", req.target.as_str()),
    ];
    if let Some(run) = ids.run {
        headers.push(("x-run-id", run));
    }
    if req.substitute_body {
        headers.push(("x-substitute-body", "true"));
    }
    for (name, value) in &req.headers {
        // The run's attribution is ours to set while the run is reported.
        let ours = ids.run.is_some() && name.eq_ignore_ascii_case("x-run-id");
        if !is_reserved(name) && !ours {
            headers.push((name.as_str(), value.as_str()));
        }
    }
    let body = match &req.body {
        Some(Body::Text(t)) => Some(t.clone().into_bytes()),
        Some(Body::Bytes(b)) => Some(b.clone()),
        None => None,
    };
    let first = send_once(access, req, &headers, body.clone()).await?;
    let refreshed = first
        .headers()
        .get("x-auth-refreshed")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"true"));
    if first.status() == reqwest::StatusCode::UNAUTHORIZED && refreshed {
        return send_once(access, req, &headers, body).await;
    }
    Ok(first)
}

async fn send_once(
    access: &PlatformAccess,
    req: &ApiRequest,
    headers: &[(&str, &str)],
    body: Option<Vec<u8>>,
) -> Result<reqwest::Response, String> {
    access
        .send_bytes(req.method.clone(), PROXY_PATH, headers, body)
        .await
        .map_err(|e| format!("the credential proxy of {} failed: {e}", access.instance()))
}
