//! `POST /api/agents/@s/n/run[?version=]`: the `Idempotency-Key` layer,
//! the body and input checks, the version and model the run uses, the
//! runner context, and the record (then the script's task is started).

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};

use super::super::agents::{PackageRecord, export_version};
use super::super::platform::{AppScope, Perm, require_perm};
use super::super::routes::{ParsedRequest, json_response, problem_json};
use super::super::server::Shared;
use super::super::state::{Problem, State, uuid_v4};
use super::input::{effective_input, input_errors, input_schema, output_schema, validation_failed};
use super::script::execute;
use super::store::{CachedReply, NewRun, RunRecord};

const IDEMPOTENCY_KEY_MAX: usize = 255;

const RUN_BODY_KEYS: &[&str] = &[
    "input",
    "modelId",
    "proxyId",
    "generation",
    "connection_overrides",
    "dependency_overrides",
    "context_documents",
    "rerun_from",
];

/// `POST /api/agents/@s/n/run[?version=]`, behind the `Idempotency-Key` layer.
pub(crate) fn trigger(
    state: &mut State,
    shared: &Shared,
    req: &ParsedRequest,
    scope: &AppScope,
    id: &str,
) -> Result<Response, Problem> {
    let Some(key) = req.header("idempotency-key").map(str::to_owned) else {
        return start_run(state, shared, req, scope, id)
            .map(|dto| json_response(StatusCode::CREATED, &dto));
    };
    if key.chars().count() > IDEMPOTENCY_KEY_MAX {
        let mut problem = Problem::new(
            400,
            "invalid_idempotency_key",
            "Invalid Idempotency Key",
            format!("Idempotency-Key must be at most {IDEMPOTENCY_KEY_MAX} characters."),
        );
        problem.param = Some("Idempotency-Key");
        return Err(problem);
    }
    let body_hash = hex::encode(Sha256::digest(&req.body));
    let slot = (scope.org_id.clone(), scope.app_id.clone(), key);
    if let Some(cached) = state.runs.idempotency.get(&slot) {
        if cached.body_hash != body_hash {
            let mut problem = Problem::new(
                422,
                "idempotency_conflict",
                "Idempotency Conflict",
                "This idempotency key was already used with a different request body.",
            );
            problem.param = Some("Idempotency-Key");
            return Err(problem);
        }
        let mut response = raw_response(cached.status, &cached.content_type, cached.body.clone());
        response
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
        return Ok(response);
    }
    let (status, content_type, bytes) = match start_run(state, shared, req, scope, id) {
        Ok(dto) => (201, "application/json", dto.to_string().into_bytes()),
        Err(problem) => (
            problem.status,
            "application/problem+json",
            problem_json(&problem, &req.request_id)
                .to_string()
                .into_bytes(),
        ),
    };
    // Replies below 500 are kept for replay with the same key and body.
    if status < 500 {
        state.runs.idempotency.insert(
            slot,
            CachedReply {
                body_hash,
                status,
                content_type: content_type.to_owned(),
                body: bytes.clone(),
            },
        );
    }
    Ok(raw_response(status, content_type, bytes))
}

fn raw_response(status: u16, content_type: &str, body: Vec<u8>) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    if let Ok(value) = HeaderValue::from_str(content_type) {
        response.headers_mut().insert(header::CONTENT_TYPE, value);
    }
    response
}

fn start_run(
    state: &mut State,
    shared: &Shared,
    req: &ParsedRequest,
    scope: &AppScope,
    id: &str,
) -> Result<Value, Problem> {
    let body = if req.body.iter().all(u8::is_ascii_whitespace) {
        Map::new()
    } else {
        super::super::routes::json_object(req)?
    };
    if let Some(key) = body.keys().find(|k| !RUN_BODY_KEYS.contains(&k.as_str())) {
        return Err(Problem::validation_failed(
            "body",
            &format!("Unrecognized key: \"{key}\""),
        ));
    }
    let agent = state
        .registry
        .require_agent(&scope.org_id, &scope.app_id, id)?;
    require_perm(state, scope, Perm::AgentsRun)?;
    let (manifest, version_label) = run_definition(agent, req.query_param("version"))?;
    let install = agent.install(&scope.app_id).cloned().unwrap_or_default();
    let caller = match body.get("input") {
        None | Some(Value::Null) => None,
        Some(Value::Object(input)) => Some(input),
        Some(_) => return Err(Problem::validation_failed("input", "Expected object")),
    };
    let schema = input_schema(&manifest);
    let input = effective_input(schema, &install.values, &install.locked, caller)?;
    if let Some(schema) = schema {
        let errors = input_errors(schema, &input);
        if !errors.is_empty() {
            return Err(validation_failed(&errors));
        }
    }
    let explicit_model = body.get("modelId").and_then(Value::as_str);
    let model = match explicit_model {
        Some(model_id) => Some(
            find_model(state, &scope.org_id, model_id)
                .ok_or_else(|| Problem::not_found(format!("Model '{model_id}' not found")))?,
        ),
        None => install
            .model_id
            .as_deref()
            .and_then(|m| find_model(state, &scope.org_id, m))
            .or_else(|| default_model(state, &scope.org_id)),
    };
    let run_id = format!("run_{}", uuid_v4());
    let run = RunRecord {
        model_label: model
            .as_ref()
            .and_then(|m| m.get("label").and_then(Value::as_str).map(str::to_owned)),
        model_source: model.as_ref().map(|_| "org".to_owned()),
        dependency_overrides: body
            .get("dependency_overrides")
            .cloned()
            .filter(|v| v.as_object().is_some_and(|m| !m.is_empty())),
        output_schema: output_schema(&manifest),
        ..RunRecord::new(NewRun {
            scope,
            id: run_id.clone(),
            package_id: id.to_owned(),
            status: "running",
            run_origin: "platform",
            input,
            version_label,
            runner: runner_context(state, req, scope),
            run_number: state.runs.next_run_number(&scope.app_id, id),
            started_at: state.next_timestamp(),
        })
    };
    let dto = run.to_json(state);
    state.runs.runs.push(run);
    let script = state.runs.scripts.get(id).cloned().unwrap_or_default();
    tokio::spawn(execute(shared.clone(), run_id, script));
    Ok(dto)
}

/// `resolveAgentRunVersion`: `draft`, latest published (`published` or no
/// selector) or a version spec; the manifest to run and its label.
fn run_definition(
    agent: &PackageRecord,
    selector: Option<String>,
) -> Result<(Map<String, Value>, Option<String>), Problem> {
    let selector = selector
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty());
    match selector.as_deref() {
        Some("draft") => Ok((agent.draft_manifest().clone(), None)),
        None | Some("published") => {
            let latest = agent.latest().ok_or_else(|| {
                Problem::new(
                    404,
                    "no_published_version",
                    "No Published Version",
                    format!(
                        "Agent '{}' has no published version — publish one or run with version=draft",
                        agent.id
                    ),
                )
            })?;
            Ok((
                latest.bundle.root_package().manifest.clone(),
                Some(latest.version.clone()),
            ))
        }
        Some(spec) => {
            let version = export_version(agent, "", Some(spec))
                .map_err(|_| Problem::not_found(format!("Version '{spec}' not found")))?;
            Ok((
                version.bundle.root_package().manifest.clone(),
                Some(version.version.clone()),
            ))
        }
    }
}

fn find_model(state: &State, org_id: &str, model_id: &str) -> Option<Value> {
    state
        .models
        .get(org_id)?
        .iter()
        .find(|m| m.get("id").and_then(Value::as_str) == Some(model_id))
        .cloned()
}

fn default_model(state: &State, org_id: &str) -> Option<Value> {
    state
        .models
        .get(org_id)?
        .iter()
        .find(|m| m.get("is_default").and_then(Value::as_bool) == Some(true))
        .cloned()
}

/// `resolveRunnerContext`: `X-Appstrate-Runner-Name`/`-Kind`, else the CLI
/// session's device name and kind `cli` for CLI tokens.
pub(crate) fn runner_context(
    state: &State,
    req: &ParsedRequest,
    scope: &AppScope,
) -> (Option<String>, Option<String>) {
    let clamp = |v: Option<&str>, max: usize| {
        v.map(str::trim)
            .filter(|v| !v.is_empty())
            .map(|v| v.chars().take(max).collect::<String>())
    };
    let header_name = clamp(req.header("x-appstrate-runner-name"), 120);
    let header_kind = clamp(req.header("x-appstrate-runner-kind"), 32).filter(|k| {
        k.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
    });
    let family = if scope.api_key_id.is_some() {
        None
    } else {
        req.header("authorization")
            .and_then(|h| h.strip_prefix("Bearer "))
            .and_then(|t| super::super::jwt::decode_claims(t.trim()))
            .and_then(|c| {
                c.get("cli_family_id")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .and_then(|fid| state.families.iter().find(|f| f.id == fid).cloned())
    };
    let name = header_name.or_else(|| family.as_ref().and_then(|f| f.device_name.clone()));
    let kind = header_kind.or_else(|| family.as_ref().map(|_| "cli".to_owned()));
    (name, kind)
}
