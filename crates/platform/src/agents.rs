//! Agents on the instance as `run` needs them (docs/run.md "Runs by id"):
//! the bundle of a draft or a published version, and the run configuration
//! an application stores for an agent.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::Method;
use serde_json::{Map, Value};

use crate::access::{PlatformAccess, read_capped};
use crate::error::{PlatformError, Result};

/// What `encodeURIComponent` leaves alone.
const URI_COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'!')
    .remove(b'~')
    .remove(b'*')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')');

/// `encodeURIComponent(text)`.
pub fn encode_component(text: &str) -> String {
    utf8_percent_encode(text, URI_COMPONENT).to_string()
}

/// `/api/agents/@scope/name/bundle?source=draft` without a spec, else
/// `?version=<spec>`. The `@scope/name` stays as it is: the route refuses
/// `%40`.
pub fn bundle_path(agent_id: &str, spec: Option<&str>) -> String {
    match spec {
        None => format!("/api/agents/{agent_id}/bundle?source=draft"),
        Some(spec) => format!(
            "/api/agents/{agent_id}/bundle?version={}",
            encode_component(spec)
        ),
    }
}

/// The bundle as the instance sent it, still unverified.
pub struct DownloadedBundle {
    pub bytes: Vec<u8>,
    /// `X-Bundle-Integrity`: `sha256-<base64>` of the bytes on the wire.
    pub integrity: Option<String>,
    /// `X-Bundle-Version`: a concrete version, or `draft`.
    pub version: String,
}

/// Downloads the bundle of `agent_id` (`@scope/name`), at most `cap`
/// bytes. 404s say which of agent, installation or version is missing.
pub async fn download_bundle(
    access: &PlatformAccess,
    agent_id: &str,
    spec: Option<&str>,
    cap: u64,
) -> Result<DownloadedBundle> {
    let path = bundle_path(agent_id, spec);
    let url = format!("{}{path}", access.instance());
    let resp = access.send(Method::GET, &path, None).await?;
    let status = resp.status();
    if status == reqwest::StatusCode::UNAUTHORIZED {
        return Err(access.unauthorized());
    }
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.trim().to_string())
    };
    let integrity = header("x-bundle-integrity");
    let version = header("x-bundle-version");
    if !status.is_success() {
        // Only the start of an error body matters.
        let body = read_capped(resp, 64 * 1024, &url).await.unwrap_or_default();
        return Err(bundle_error(access, agent_id, spec, status, &body));
    }
    let Some(version) = version.filter(|v| !v.is_empty()) else {
        return Err(PlatformError::Protocol(format!(
            "Failed to fetch {agent_id}: the reply has no X-Bundle-Version header. Check that the instance URL points at Appstrate."
        )));
    };
    let bytes = read_capped(resp, cap, &url).await?;
    Ok(DownloadedBundle {
        bytes,
        integrity,
        version,
    })
}

fn bundle_error(
    access: &PlatformAccess,
    agent_id: &str,
    spec: Option<&str>,
    status: reqwest::StatusCode,
    body: &[u8],
) -> PlatformError {
    let text = String::from_utf8_lossy(body);
    let problem: Option<Value> = serde_json::from_slice(body).ok();
    let code = problem
        .as_ref()
        .and_then(|p| p.get("code"))
        .and_then(Value::as_str);
    // The sentences are complete: no `API error (…)` framing.
    let api = PlatformError::Other;
    if status == reqwest::StatusCode::NOT_FOUND {
        if code == Some("agent_not_installed_in_app") {
            return api(format!(
                "Agent {agent_id} is not installed in application {} — install it there, or pin the application that has it (appstrate app switch)",
                access.application_id().unwrap_or("(none)")
            ));
        }
        if let Some(spec) = spec
            && text.to_lowercase().contains("version")
        {
            return api(format!(
                "Version \"{spec}\" of {agent_id} not found — give a published version, dist-tag or range, or drop @{spec} to run the draft"
            ));
        }
        return api(format!(
            "Agent {agent_id} not found on {} — check the id and the pinned application",
            access.instance()
        ));
    }
    let start: String = text.chars().take(200).collect();
    api(format!(
        "Failed to fetch {agent_id}: HTTP {} {} — {start}",
        status.as_u16(),
        status.canonical_reason().unwrap_or("")
    ))
}

/// What an application stores for an agent: preset, proxy, pinned version,
/// input values and locked fields.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunConfig {
    pub model_id: Option<String>,
    pub proxy_id: Option<String>,
    pub version_pin: Option<String>,
    pub input_values: Map<String, Value>,
    pub locked_fields: Vec<String>,
    /// `generation.temperature`, when set.
    pub temperature: Option<f64>,
    /// `generation.reasoningLevel` (a thinking level name), when set.
    pub reasoning_level: Option<String>,
}

impl RunConfig {
    /// Lenient: missing or null fields are "not set".
    pub fn from_json(value: &Value) -> RunConfig {
        let text = |k: &str| {
            value
                .get(k)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let input = value.get("input");
        RunConfig {
            model_id: text("modelId"),
            proxy_id: text("proxyId"),
            version_pin: text("version_pin"),
            input_values: input
                .and_then(|i| i.get("values"))
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default(),
            locked_fields: input
                .and_then(|i| i.get("locked_fields"))
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default(),
            temperature: value
                .get("generation")
                .and_then(|g| g.get("temperature"))
                .and_then(Value::as_f64),
            reasoning_level: value
                .pointer("/generation/reasoningLevel")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string),
        }
    }
}

/// `GET /api/applications/{app}/packages/@scope/name/run-config`; a 404
/// means the application stores nothing for the agent.
pub async fn run_config(
    access: &PlatformAccess,
    application_id: &str,
    agent_id: &str,
) -> Result<Option<RunConfig>> {
    let path = format!(
        "/api/applications/{}/packages/{agent_id}/run-config",
        encode_component(application_id)
    );
    match access.get_json(&path).await {
        Ok(value) => Ok(Some(RunConfig::from_json(&value))),
        Err(PlatformError::Api { status: 404, .. }) => Ok(None),
        Err(err) => Err(err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn bundle_paths_keep_the_at_and_encode_the_spec() {
        assert_eq!(
            bundle_path("@acme/agent", None),
            "/api/agents/@acme/agent/bundle?source=draft"
        );
        assert_eq!(
            bundle_path("@acme/agent", Some("^1.2 || >=2")),
            "/api/agents/@acme/agent/bundle?version=%5E1.2%20%7C%7C%20%3E%3D2"
        );
        assert_eq!(
            bundle_path("@acme/agent", Some("1.0.0-beta.1")),
            "/api/agents/@acme/agent/bundle?version=1.0.0-beta.1"
        );
    }

    #[test]
    fn run_config_reads_the_wire_names() {
        let c = RunConfig::from_json(&json!({
            "generation": {"temperature": 0.2, "reasoningLevel": "high"},
            "modelId": "preset-1", "proxyId": null, "version_pin": "1.2.3",
            "input": {"values": {"a": 1}, "locked_fields": ["a"]}
        }));
        assert_eq!(c.model_id.as_deref(), Some("preset-1"));
        assert_eq!(c.proxy_id, None);
        assert_eq!(c.version_pin.as_deref(), Some("1.2.3"));
        assert_eq!(c.input_values.get("a"), Some(&json!(1)));
        assert_eq!(c.locked_fields, vec!["a".to_string()]);
        assert_eq!(c.temperature, Some(0.2));
        assert_eq!(c.reasoning_level.as_deref(), Some("high"));
        assert_eq!(RunConfig::from_json(&json!({})), RunConfig::default());
    }
}
