//! The LLM proxy a preset-mode run talks to:
//! `POST /api/llm-proxy/{openai-completions/v1/chat/completions,
//! anthropic-messages/v1/messages, mistral-conversations/v1/chat/completions}`.
//! The body's `model` is a preset id; the proxy swaps in the preset's real
//! model, injects the real provider key and streams the upstream reply
//! back unchanged. There is no `/responses` route.

use std::collections::HashMap;

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use futures_util::StreamExt as _;
use serde_json::{Value, json};

use super::FakeInstance;
use super::routes::{ParsedRequest, authenticate, org_context, problem_response};
use super::server::{Shared, lock};
use super::state::{Problem, random_alnum, uuid_v4};

/// A model preset's upstream: where it forwards and with which key.
#[derive(Clone, Debug)]
struct Preset {
    org_id: String,
    api_shape: String,
    base_url: String,
    model_id: String,
    api_key: String,
}

#[derive(Default)]
pub(crate) struct Presets {
    presets: HashMap<String, Preset>,
}

/// Request headers never forwarded upstream (auth, platform context,
/// hop-by-hop).
const DROPPED_HEADERS: &[&str] = &[
    "authorization",
    "x-api-key",
    "x-org-id",
    "x-application-id",
    "x-run-id",
    "host",
    "content-length",
    "connection",
    "cookie",
    "accept-encoding",
    "transfer-encoding",
];

/// `(api shape, upstream path)` of a proxy route.
fn route(rest: &[&str]) -> Option<(&'static str, &'static str)> {
    match rest {
        ["openai-completions", "v1", "chat", "completions"] => {
            Some(("openai-completions", "/chat/completions"))
        }
        ["anthropic-messages", "v1", "messages"] => Some(("anthropic-messages", "/v1/messages")),
        ["mistral-conversations", "v1", "chat", "completions"] => {
            Some(("mistral-conversations", "/v1/chat/completions"))
        }
        _ => None,
    }
}

/// Everything the forward needs, decided under the lock.
struct Forward {
    url: String,
    body: Vec<u8>,
    api_shape: &'static str,
    api_key: String,
}

fn prepare(
    shared: &Shared,
    req: &ParsedRequest,
    api_shape: &'static str,
    upstream_path: &str,
) -> Result<Forward, Problem> {
    let state = lock(shared);
    let caller = authenticate(&state, req)?;
    let org_id = org_context(&state, req, &caller)?;
    if let Some(run_id) = req.header("x-run-id").filter(|v| !v.is_empty()) {
        check_run_attribution(&state, req, &caller, &org_id, run_id)?;
    }
    if req.body.is_empty() {
        return Err(Problem::invalid_request("Request body is empty"));
    }
    let mut body = match serde_json::from_slice::<Value>(&req.body) {
        Ok(Value::Object(body)) => body,
        _ => {
            return Err(Problem::invalid_request(
                "Request body must be a JSON object",
            ));
        }
    };
    let Some(preset_id) = body.get("model").and_then(Value::as_str).map(str::to_owned) else {
        return Err(Problem::invalid_request(
            "Request body must carry a string `model`",
        ));
    };
    let preset = state
        .llm
        .presets
        .get(&preset_id)
        .filter(|p| p.org_id == org_id)
        .ok_or_else(|| Problem::not_found(format!("Model '{preset_id}' not found")))?;
    if preset.api_shape != api_shape {
        return Err(Problem::invalid_request(format!(
            "Model '{preset_id}' uses apiShape '{}', not '{api_shape}'",
            preset.api_shape
        )));
    }
    body.insert("model".into(), json!(preset.model_id));
    Ok(Forward {
        url: format!("{}{upstream_path}", preset.base_url.trim_end_matches('/')),
        body: Value::Object(body).to_string().into_bytes(),
        api_shape,
        api_key: preset.api_key.clone(),
    })
}

/// `assertRunAttributable`: an `X-Run-Id` must name an active run of the
/// organization (and application, when one is given) that a JWT caller owns.
fn check_run_attribution(
    state: &super::state::State,
    req: &ParsedRequest,
    caller: &super::state::Caller,
    org_id: &str,
    run_id: &str,
) -> Result<(), Problem> {
    let not_found = || Problem::not_found(format!("run {run_id} not found"));
    let run = state
        .runs
        .get(run_id)
        .filter(|r| r.org_id == org_id)
        .ok_or_else(not_found)?;
    let app = caller
        .api_key
        .as_ref()
        .map(|k| k.app_id.as_str())
        .or_else(|| req.header("x-application-id"));
    if app.is_some_and(|app| app != run.app_id) {
        return Err(not_found());
    }
    if caller.api_key.is_none() && run.user_id.as_deref() != Some(caller.user_id.as_str()) {
        return Err(Problem::forbidden(
            "X-Run-Id does not reference a run owned by the calling user",
        ));
    }
    if run.is_terminal() {
        return Err(Problem::invalid_request(format!(
            "run {run_id} is no longer active"
        )));
    }
    Ok(())
}

/// The proxy route; `None` for paths it does not serve (they 404).
pub(crate) async fn handle(
    shared: &Shared,
    req: &ParsedRequest,
    rest: &[&str],
) -> Option<Response> {
    let (api_shape, upstream_path) = route(rest)?;
    let forward = match prepare(shared, req, api_shape, upstream_path) {
        Ok(forward) => forward,
        Err(problem) => return Some(problem_response(&problem, &req.request_id)),
    };
    Some(
        send(req, forward)
            .await
            .unwrap_or_else(|problem| problem_response(&problem, &req.request_id)),
    )
}

async fn send(req: &ParsedRequest, forward: Forward) -> Result<Response, Problem> {
    let client = reqwest::Client::builder().no_proxy().build().map_err(|e| {
        Problem::new(
            500,
            "internal_error",
            "Internal Server Error",
            e.to_string(),
        )
    })?;
    let mut upstream = client.post(&forward.url).body(forward.body);
    for (name, value) in &req.headers {
        if !DROPPED_HEADERS.contains(&name.as_str()) {
            upstream = upstream.header(name.as_str(), value.as_bytes());
        }
    }
    upstream = if forward.api_shape == "anthropic-messages" {
        upstream.header("x-api-key", &forward.api_key)
    } else {
        upstream.bearer_auth(&forward.api_key)
    };
    let reply = upstream.send().await.map_err(|_| {
        Problem::new(
            502,
            "bad_gateway",
            "Bad Gateway",
            "The model provider could not be reached",
        )
    })?;
    let status = StatusCode::from_u16(reply.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let headers = reply.headers().clone();
    let stream = reply
        .bytes_stream()
        .map(|chunk| chunk.map_err(std::io::Error::other));
    let mut response = Response::new(Body::from_stream(stream));
    *response.status_mut() = status;
    for (name, value) in &headers {
        let lower = name.as_str();
        if matches!(
            lower,
            "content-length" | "content-encoding" | "transfer-encoding" | "connection"
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
    Ok(response)
}

/// `PUT /api/models/default {"modelId": <id|null>}`: the org's default
/// preset; answers the new default model, or 204 when none remains.
pub(crate) fn set_default(
    state: &mut super::state::State,
    req: &ParsedRequest,
) -> Result<Response, Problem> {
    let caller = authenticate(state, req)?;
    let org_id = org_context(state, req, &caller)?;
    if !state
        .role_in(&org_id, &caller.user_id)
        .is_some_and(|r| r.is_admin())
        && caller.api_key.is_none()
    {
        return Err(Problem::forbidden("Insufficient permissions"));
    }
    let body = super::routes::json_object(req)?;
    let model_id = match body.get("modelId") {
        Some(Value::Null) => None,
        Some(Value::String(id)) => Some(id.clone()),
        _ => {
            return Err(Problem::validation_failed(
                "modelId",
                "Expected string or null",
            ));
        }
    };
    let models = state.models.entry(org_id).or_default();
    if let Some(id) = &model_id
        && !models
            .iter()
            .any(|m| m.get("id").and_then(Value::as_str) == Some(id))
    {
        return Err(Problem::not_found(format!("Model '{id}' not found")));
    }
    for model in models.iter_mut() {
        let is_default =
            model_id.is_some() && model.get("id").and_then(Value::as_str) == model_id.as_deref();
        if let Some(map) = model.as_object_mut() {
            map.insert("is_default".into(), json!(is_default));
        }
    }
    Ok(
        match models
            .iter()
            .find(|m| m.get("is_default") == Some(&json!(true)))
        {
            Some(model) => super::routes::json_response(StatusCode::OK, model),
            None => {
                let mut response = Response::new(Body::empty());
                *response.status_mut() = StatusCode::NO_CONTENT;
                response
            }
        },
    )
}

fn provider_of(api_shape: &str) -> &'static str {
    match api_shape {
        "anthropic-messages" => "anthropic",
        "mistral-conversations" => "mistral",
        _ => "openai-compatible",
    }
}

impl FakeInstance {
    /// Add a model preset to `org_id` that the LLM proxy forwards to
    /// `upstream_base_url` (e.g. a [`crate::model_server`] URL) as
    /// `real_model_id`; listed by `GET /api/models` with `is_default`
    /// (only one default: making this one default clears the others).
    /// Returns the preset id (a UUID) clients send as `model`. The provider
    /// key is random; read it with [`FakeInstance::preset_api_key`].
    pub fn add_model_preset(
        &self,
        org_id: &str,
        label: &str,
        api_shape: &str,
        upstream_base_url: &str,
        real_model_id: &str,
        is_default: bool,
    ) -> String {
        let id = uuid_v4();
        self.with(|s| {
            let models = s.models.entry(org_id.to_owned()).or_default();
            if is_default {
                for model in models.iter_mut() {
                    if let Some(flag) = model.get_mut("is_default") {
                        *flag = json!(false);
                    }
                }
            }
            models.push(json!({
                "id": id,
                "label": label,
                "apiShape": api_shape,
                "providerId": provider_of(api_shape),
                "baseUrl": upstream_base_url,
                "modelId": real_model_id,
                "credentialId": uuid_v4(),
                "enabled": true,
                "is_default": is_default,
                "source": "custom",
                "contextWindow": 128000,
                "maxTokens": 4096,
                "reasoning": false,
                "input": ["text"],
                "cost": { "input": 0, "output": 0, "cacheRead": 0, "cacheWrite": 0 },
            }));
            s.llm.presets.insert(
                id.clone(),
                Preset {
                    org_id: org_id.to_owned(),
                    api_shape: api_shape.to_owned(),
                    base_url: upstream_base_url.to_owned(),
                    model_id: real_model_id.to_owned(),
                    api_key: format!("sk-upstream-{}", random_alnum(24)),
                },
            );
        });
        id
    }

    /// Mark a preset as a reasoning model (or not): the `reasoning` flag
    /// `GET /api/models` lists for it.
    pub fn set_preset_reasoning(&self, preset_id: &str, reasoning: bool) {
        self.with(|s| {
            for model in s.models.values_mut().flatten() {
                if model.get("id").and_then(Value::as_str) == Some(preset_id) {
                    model["reasoning"] = json!(reasoning);
                }
            }
        });
    }

    /// The provider key the proxy sends upstream for a preset.
    pub fn preset_api_key(&self, preset_id: &str) -> Option<String> {
        self.with(|s| s.llm.presets.get(preset_id).map(|p| p.api_key.clone()))
    }

    /// Replace the provider key of a preset.
    pub fn set_preset_api_key(&self, preset_id: &str, api_key: &str) {
        self.with(|s| {
            if let Some(p) = s.llm.presets.get_mut(preset_id) {
                p.api_key = api_key.to_owned();
            }
        });
    }
}
