//! Per-application run settings of an installed agent (what a local run
//! inherits): `GET /api/applications/{app}/packages/@s/n/run-config` and its
//! setters `PUT /api/agents/@s/n/{model,proxy,input-settings}` and
//! `PUT /api/applications/{app}/packages/@s/n`.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Map, Value, json};

use super::FakeInstance;
use super::agents::{Install, PackageRecord};
use super::platform::{AppScope, Perm, require_perm};
use super::routes::{ParsedRequest, json_object, json_response};
use super::state::{Problem, State};

/// Run settings a test sets directly with [`FakeInstance::set_run_config`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RunConfig {
    /// Model preset id (`modelId`).
    pub model_id: Option<String>,
    pub proxy_id: Option<String>,
    /// `generation` (e.g. `{"temperature":0.2}`).
    pub generation: Option<Value>,
    /// A published version the application is pinned to (`version_pin`).
    pub version_pin: Option<String>,
    /// Per-application input values (`input.values`).
    pub values: Map<String, Value>,
    /// Fields callers may not override (`input.locked_fields`).
    pub locked_fields: Vec<String>,
}

fn not_installed(id: &str, app_id: &str) -> Problem {
    Problem::new(
        404,
        "package_not_installed",
        "Package Not Installed",
        format!("Package '{id}' is not installed in application '{app_id}'"),
    )
}

fn installed<'a>(
    state: &'a mut State,
    scope: &AppScope,
    id: &str,
) -> Result<&'a mut PackageRecord, Problem> {
    state
        .registry
        .get_mut(&scope.org_id, id)
        .filter(|p| p.install(&scope.app_id).is_some())
        .ok_or_else(|| not_installed(id, &scope.app_id))
}

fn config_json(agent: &PackageRecord, install: &Install) -> Value {
    let pin = install
        .version_id
        .and_then(|vid| agent.versions.iter().find(|v| v.id == vid))
        .map(|v| v.version.clone());
    json!({
        "generation": install.generation,
        "modelId": install.model_id,
        "proxyId": install.proxy_id,
        "version_pin": pin,
        "input": { "values": install.values, "locked_fields": install.locked },
    })
}

/// `GET …/run-config`.
pub(crate) fn get(state: &mut State, scope: &AppScope, id: &str) -> Result<Response, Problem> {
    let agent = installed(state, scope, id)?;
    let install = agent
        .install(&scope.app_id)
        .ok_or_else(|| not_installed(id, &scope.app_id))?;
    Ok(json_response(StatusCode::OK, &config_json(agent, install)))
}

/// The properties and `required` list of the draft's input schema.
fn input_schema(agent: &PackageRecord) -> (Map<String, Value>, Vec<String>) {
    let schema = agent
        .draft_manifest()
        .get("input")
        .and_then(|i| i.get("schema"));
    let properties = schema
        .and_then(|s| s.get("properties"))
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let required = schema
        .and_then(|s| s.get("required"))
        .and_then(Value::as_array)
        .map(|r| {
            r.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    (properties, required)
}

fn model_exists(state: &State, org_id: &str, model_id: &str) -> bool {
    state.models.get(org_id).is_some_and(|models| {
        models
            .iter()
            .any(|m| m.get("id").and_then(Value::as_str) == Some(model_id))
    })
}

fn optional_string(
    body: &Map<String, Value>,
    key: &'static str,
) -> Result<Option<Option<String>>, Problem> {
    match body.get(key) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(Value::String(s)) => Ok(Some(Some(s.clone()))),
        Some(_) => Err(Problem::validation_failed(key, "Expected string or null")),
    }
}

/// `PUT /api/agents/@s/n/{model|proxy|input-settings}` for the current app.
pub(crate) fn put_setting(
    state: &mut State,
    req: &ParsedRequest,
    scope: &AppScope,
    id: &str,
    setting: &str,
) -> Result<Response, Problem> {
    require_perm(state, scope, Perm::AgentsWrite)?;
    let body = json_object(req)?;
    if state.registry.get(&scope.org_id, id).is_none() {
        return Err(super::agents::agent_not_found(id));
    }
    match setting {
        "model" => put_model(state, scope, id, &body),
        "proxy" => put_proxy(state, scope, id, &body),
        _ => put_input_settings(state, scope, id, &body),
    }
}

/// `{modelId, generation}`: a known model (or null), the generation kept
/// unless given.
fn put_model(
    state: &mut State,
    scope: &AppScope,
    id: &str,
    body: &Map<String, Value>,
) -> Result<Response, Problem> {
    let model_id = optional_string(body, "modelId")?.flatten();
    if let Some(model_id) = &model_id
        && !model_exists(state, &scope.org_id, model_id)
    {
        return Err(Problem::not_found(format!("Model '{model_id}' not found")));
    }
    let generation = body.get("generation").cloned();
    let agent = installed(state, scope, id)?;
    let install = agent
        .install_mut(&scope.app_id)
        .ok_or_else(|| not_installed(id, &scope.app_id))?;
    install.model_id = model_id.clone();
    if let Some(generation) = generation.clone() {
        install.generation = (!generation.is_null()).then_some(generation);
    }
    Ok(json_response(
        StatusCode::OK,
        &json!({ "modelId": model_id, "generation": install.generation }),
    ))
}

/// `{proxyId}` (or null).
fn put_proxy(
    state: &mut State,
    scope: &AppScope,
    id: &str,
    body: &Map<String, Value>,
) -> Result<Response, Problem> {
    let proxy_id = optional_string(body, "proxyId")?.flatten();
    let agent = installed(state, scope, id)?;
    let install = agent
        .install_mut(&scope.app_id)
        .ok_or_else(|| not_installed(id, &scope.app_id))?;
    install.proxy_id = proxy_id.clone();
    Ok(json_response(
        StatusCode::OK,
        &json!({ "proxyId": proxy_id }),
    ))
}

/// `{values, locked_fields}`: keys outside the input schema are pruned; a
/// locked required field needs a value.
fn put_input_settings(
    state: &mut State,
    scope: &AppScope,
    id: &str,
    body: &Map<String, Value>,
) -> Result<Response, Problem> {
    let values = match body.get("values") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(values)) => values.clone(),
        Some(_) => return Err(Problem::validation_failed("values", "Expected object")),
    };
    let locked: Vec<String> = match body.get("locked_fields") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect::<Option<_>>()
            .ok_or_else(|| {
                Problem::validation_failed("locked_fields", "Expected array of strings")
            })?,
        Some(_) => {
            return Err(Problem::validation_failed(
                "locked_fields",
                "Expected array",
            ));
        }
    };
    let agent = installed(state, scope, id)?;
    let (properties, required) = input_schema(agent);
    // Unknown keys are pruned, as the platform does.
    let values: Map<String, Value> = values
        .into_iter()
        .filter(|(k, _)| properties.contains_key(k))
        .collect();
    let locked: Vec<String> = locked
        .into_iter()
        .filter(|k| properties.contains_key(k))
        .collect();
    if let Some(field) = locked
        .iter()
        .find(|f| required.contains(f) && !values.contains_key(f.as_str()))
    {
        return Err(Problem::invalid_request(format!(
            "Locked field '{field}' is required and must have a value"
        )));
    }
    let install = agent
        .install_mut(&scope.app_id)
        .ok_or_else(|| not_installed(id, &scope.app_id))?;
    install.values = values.clone();
    install.locked = locked.clone();
    Ok(json_response(
        StatusCode::OK,
        &json!({ "values": values, "locked_fields": locked }),
    ))
}

/// `PUT /api/applications/{app}/packages/@s/n`.
pub(crate) fn put_install(
    state: &mut State,
    req: &ParsedRequest,
    scope: &AppScope,
    id: &str,
) -> Result<Response, Problem> {
    require_perm(state, scope, Perm::AgentsWrite)?;
    let body = json_object(req)?;
    if let Some(key) = body.keys().find(|k| {
        !matches!(
            k.as_str(),
            "modelId" | "proxyId" | "version_id" | "enabled" | "generationConfig"
        )
    }) {
        return Err(Problem::validation_failed(key, "Unrecognized key"));
    }
    let model_id = optional_string(&body, "modelId")?;
    if let Some(Some(model_id)) = &model_id
        && !model_exists(state, &scope.org_id, model_id)
    {
        return Err(Problem::not_found(format!("Model '{model_id}' not found")));
    }
    let proxy_id = optional_string(&body, "proxyId")?;
    let version_id = match body.get("version_id") {
        None => None,
        Some(Value::Null) => Some(None),
        Some(v) => Some(Some(v.as_u64().ok_or_else(|| {
            Problem::validation_failed("version_id", "Expected integer or null")
        })?)),
    };
    let enabled = match body.get("enabled") {
        None => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(_) => return Err(Problem::validation_failed("enabled", "Expected boolean")),
    };
    let agent = installed(state, scope, id)?;
    if let Some(Some(vid)) = version_id
        && !agent.versions.iter().any(|v| v.id == vid)
    {
        return Err(Problem::not_found(format!(
            "Version {vid} not found for '{id}'"
        )));
    }
    let install = agent
        .install_mut(&scope.app_id)
        .ok_or_else(|| not_installed(id, &scope.app_id))?;
    if let Some(model_id) = model_id {
        install.model_id = model_id;
    }
    if let Some(proxy_id) = proxy_id {
        install.proxy_id = proxy_id;
    }
    if let Some(version_id) = version_id {
        install.version_id = version_id;
    }
    if let Some(enabled) = enabled {
        install.enabled = enabled;
    }
    if let Some(generation) = body.get("generationConfig") {
        install.generation = (!generation.is_null()).then(|| generation.clone());
    }
    Ok(json_response(
        StatusCode::OK,
        &json!({
            "packageId": id,
            "applicationId": scope.app_id,
            "modelId": install.model_id,
            "proxyId": install.proxy_id,
            "version_id": install.version_id,
            "enabled": install.enabled,
            "generationConfig": install.generation,
        }),
    ))
}

impl FakeInstance {
    /// Set the run settings of an installed agent in `app_id` directly.
    /// Panics if the agent is not installed there or the pin names no
    /// published version.
    pub fn set_run_config(&self, app_id: &str, agent_id: &str, config: RunConfig) {
        self.with(|s| {
            let agent = s
                .registry
                .packages
                .iter_mut()
                .find(|p| p.id == agent_id && p.install(app_id).is_some())
                .unwrap_or_else(|| {
                    panic!("fake instance: {agent_id} is not installed in {app_id}")
                });
            let version_id = config.version_pin.as_ref().map(|pin| {
                agent
                    .version(pin)
                    .map(|v| v.id)
                    .unwrap_or_else(|| panic!("fake instance: {agent_id}@{pin} is not published"))
            });
            if let Some(install) = agent.install_mut(app_id) {
                install.model_id = config.model_id;
                install.proxy_id = config.proxy_id;
                install.generation = config.generation;
                install.version_id = version_id;
                install.values = config.values;
                install.locked = config.locked_fields;
            }
        });
    }

    /// The run settings of an installed agent in `app_id`, as stored.
    pub fn run_config(&self, app_id: &str, agent_id: &str) -> Option<RunConfig> {
        self.with(|s| {
            let agent = s.registry.packages.iter().find(|p| p.id == agent_id)?;
            let install = agent.install(app_id)?;
            Some(RunConfig {
                model_id: install.model_id.clone(),
                proxy_id: install.proxy_id.clone(),
                generation: install.generation.clone(),
                version_pin: install
                    .version_id
                    .and_then(|vid| agent.versions.iter().find(|v| v.id == vid))
                    .map(|v| v.version.clone()),
                values: install.values.clone(),
                locked_fields: install.locked.clone(),
            })
        })
    }
}
