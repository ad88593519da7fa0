//! Runs: the record, its `run_logs` rows, and the platform-executed kind.
//! Routes: `POST /api/agents/@s/n/run`, `GET /api/runs/{id}[?wait=]`,
//! `GET /api/runs/{id}/logs`, `POST /api/runs/{id}/cancel`, `GET /api/runs`,
//! `GET /api/agents/@s/n/runs`.
//!
//! Execution is simulated: each agent follows the [`RunScript`] a test set
//! with [`FakeInstance::script_runs`]; a task appends its log rows over
//! time, then closes the run the way the platform's finalize does.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::{Map, Value, json};
use sha2::{Digest as _, Sha256};
use time::OffsetDateTime;

use super::FakeInstance;
use super::agents::{PackageRecord, export_version};
use super::platform::{AppScope, Perm, app_scope, require_perm};
use super::reported_runs::Sink;
use super::routes::{ParsedRequest, json_response, problem_json, problem_response};
use super::server::{Shared, lock};
use super::state::{Problem, State, iso, uuid_v4};

/// The platform's message for a run that finished without using a token.
pub(crate) const LLM_UNREACHABLE: &str = "The AI agent could not reach the LLM API — check that the API key is valid and the provider is accessible";
/// `MAX_WAIT_SECONDS` of `GET /api/runs/{id}?wait=`.
const MAX_WAIT_SECONDS: u64 = 55;
const IDEMPOTENCY_KEY_MAX: usize = 255;

/// One `run_logs` row to append, `delay` after the previous step.
#[derive(Clone, Debug, PartialEq)]
pub struct ScriptedRow {
    pub delay: Duration,
    /// `type`: `progress`, `result`, `system`.
    pub kind: String,
    /// `event`: `progress`, `log`, `output`, `adapter_error`, …
    pub event: String,
    /// `debug`, `info`, `warn`, `error`.
    pub level: String,
    pub message: Option<String>,
    pub data: Option<Value>,
}

/// What a platform-executed run of an agent does: its log rows, then its
/// end. Built with [`RunScript::success`] or [`RunScript::failure`] and the
/// row methods; the default is a successful run emitting one progress row.
///
/// As on the platform, a run that ends `success` with zero token usage is
/// recorded `failed` ("could not reach the LLM API"), so scripts carry a
/// usage of 10 input / 5 output tokens unless [`RunScript::usage`] says
/// otherwise.
#[derive(Clone, Debug, PartialEq)]
pub struct RunScript {
    pub rows: Vec<ScriptedRow>,
    /// Wait after the last row before the run ends.
    pub end_delay: Duration,
    /// `success`, `failed` or `timeout`.
    pub status: String,
    pub output: Option<Value>,
    pub error: Option<String>,
    pub token_usage: Option<Value>,
    pub cost: Option<f64>,
    /// Never end on its own (until cancelled).
    pub hold: bool,
}

impl Default for RunScript {
    fn default() -> Self {
        RunScript::success(None).progress(Duration::ZERO, "Run started", None)
    }
}

impl RunScript {
    /// A run ending `success`, with `output` (also emitted as a
    /// `result/output` row just before the end when `Some`).
    pub fn success(output: Option<Value>) -> Self {
        RunScript {
            rows: Vec::new(),
            end_delay: Duration::ZERO,
            status: "success".into(),
            output,
            error: None,
            token_usage: Some(json!({ "input_tokens": 10, "output_tokens": 5 })),
            cost: None,
            hold: false,
        }
    }

    /// A run ending `failed` with `error`.
    pub fn failure(error: &str) -> Self {
        RunScript {
            status: "failed".into(),
            error: Some(error.to_owned()),
            ..RunScript::success(None)
        }
    }

    /// Append any row.
    pub fn row(mut self, row: ScriptedRow) -> Self {
        self.rows.push(row);
        self
    }

    /// A `progress/progress` row (level `debug`, as the runtime's are).
    pub fn progress(self, delay: Duration, message: &str, data: Option<Value>) -> Self {
        self.row(ScriptedRow {
            delay,
            kind: "progress".into(),
            event: "progress".into(),
            level: "debug".into(),
            message: Some(message.to_owned()),
            data,
        })
    }

    /// A `progress/log` row (the `log` tool).
    pub fn log(self, delay: Duration, level: &str, message: &str) -> Self {
        self.row(ScriptedRow {
            delay,
            kind: "progress".into(),
            event: "log".into(),
            level: level.to_owned(),
            message: Some(message.to_owned()),
            data: None,
        })
    }

    /// A `result/output` row (the `output` tool) with `data`.
    pub fn output_row(self, delay: Duration, data: Value) -> Self {
        self.row(ScriptedRow {
            delay,
            kind: "result".into(),
            event: "output".into(),
            level: "info".into(),
            message: None,
            data: Some(data),
        })
    }

    /// A `system/adapter_error` row (`appstrate.error`).
    pub fn adapter_error(self, delay: Duration, message: &str) -> Self {
        self.row(ScriptedRow {
            delay,
            kind: "system".into(),
            event: "adapter_error".into(),
            level: "error".into(),
            message: Some(message.to_owned()),
            data: None,
        })
    }

    /// Terminal token usage (`None` = none reported).
    pub fn usage(mut self, usage: Option<Value>) -> Self {
        self.token_usage = usage;
        self
    }

    pub fn cost(mut self, cost: f64) -> Self {
        self.cost = Some(cost);
        self
    }

    /// Wait this long after the last row before ending.
    pub fn end_after(mut self, delay: Duration) -> Self {
        self.end_delay = delay;
        self
    }

    /// End with this status (`success`, `failed`, `timeout`).
    pub fn status(mut self, status: &str) -> Self {
        self.status = status.to_owned();
        self
    }

    /// Keep running until cancelled.
    pub fn hold(mut self) -> Self {
        self.hold = true;
        self
    }
}

/// How a run ends; the input of [`RunStore::close`].
#[derive(Clone, Debug, Default)]
pub(crate) struct Terminal {
    pub status: String,
    pub output: Option<Value>,
    pub error: Option<String>,
    /// `None`: no usage reported (kept from metric events when not success).
    pub usage: Option<Value>,
    pub cost: Option<f64>,
    pub duration_ms: Option<u64>,
}

#[derive(Clone, Debug)]
pub(crate) struct RunRecord {
    pub id: String,
    pub org_id: String,
    pub app_id: String,
    pub package_id: String,
    pub user_id: Option<String>,
    pub api_key_id: Option<String>,
    pub status: String,
    pub input: Value,
    pub result: Option<Value>,
    pub error: Option<String>,
    pub started_at: OffsetDateTime,
    pub completed_at: Option<OffsetDateTime>,
    pub duration: Option<u64>,
    pub cost: Option<f64>,
    pub token_usage: Option<Value>,
    pub version_label: Option<String>,
    pub version_ref: Option<String>,
    pub model_label: Option<String>,
    pub model_source: Option<String>,
    pub runner_name: Option<String>,
    pub runner_kind: Option<String>,
    pub run_origin: &'static str,
    pub context_snapshot: Option<Value>,
    pub dependency_overrides: Option<Value>,
    pub run_number: u64,
    /// Sink of a reported run (`POST /api/runs/remote`).
    pub sink: Option<Sink>,
    /// `manifest.output.schema` of the definition the run executed.
    pub output_schema: Option<Map<String, Value>>,
}

impl RunRecord {
    pub(crate) fn is_terminal(&self) -> bool {
        matches!(
            self.status.as_str(),
            "success" | "failed" | "timeout" | "cancelled"
        )
    }

    fn to_json(&self, state: &State) -> Value {
        let (agent_scope, agent_name) = self
            .package_id
            .split_once('/')
            .map(|(s, n)| (Some(s.to_owned()), Some(n.to_owned())))
            .unwrap_or((None, None));
        let user = self.user_id.as_deref().and_then(|id| state.user(id));
        let by_key = self.api_key_id.is_some();
        let user_id = self.user_id.clone().filter(|_| !by_key);
        let user_name = user
            .map(|u| u.name.clone().unwrap_or_else(|| u.email.clone()))
            .filter(|_| !by_key);
        let mut dto = json!({
            "id": self.id,
            "packageId": self.package_id,
            "userId": user_id,
            "endUserId": null,
            "apiKeyId": self.api_key_id,
            "orgId": self.org_id,
            "applicationId": self.app_id,
            "scheduleId": null,
            "status": self.status,
            "input": self.input,
            "result": self.result,
            "artifacts": null,
            "checkpoint": null,
            "error": self.error,
            "metadata": null,
            "started_at": iso(self.started_at),
            "completed_at": self.completed_at.map(iso),
            "duration": self.duration,
            "cost": self.cost,
            "cost_pricing_status": null,
        });
        let extra = json!({
            "runNumber": self.run_number,
            "token_usage": self.token_usage,
            "version_label": self.version_label,
            "version_ref": self.version_ref,
            "proxy_label": null,
            "model_label": self.model_label,
            "model_source": self.model_source,
            "generation": null,
            "generation_override": null,
            "runner_name": self.runner_name,
            "runner_kind": self.runner_kind,
            "agent_scope": agent_scope,
            "agent_name": agent_name,
            "runOrigin": self.run_origin,
            "contextSnapshot": self.context_snapshot,
            "modelCredentialId": null,
            "connection_overrides": null,
            "dependency_overrides": self.dependency_overrides,
            "user_name": user_name,
            "end_user_name": null,
            "api_key_name": self.api_key_id.as_ref().map(|_| "test key"),
            "schedule_name": null,
            "connections_used": null,
            "package_ephemeral": false,
            "unread": false,
            "document_counts": { "input": 0, "output": 0 },
            "primary_document_id": null,
        });
        if let (Some(map), Value::Object(extra)) = (dto.as_object_mut(), extra) {
            map.extend(extra);
        }
        dto
    }
}

/// One `run_logs` row.
#[derive(Clone, Debug)]
pub(crate) struct LogRow {
    pub id: u64,
    pub run_id: String,
    pub org_id: String,
    pub kind: String,
    pub event: String,
    pub level: String,
    pub message: Option<String>,
    pub data: Option<Value>,
    pub created_at: OffsetDateTime,
}

impl LogRow {
    fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "runId": self.run_id,
            "orgId": self.org_id,
            "type": self.kind,
            "level": self.level,
            "event": self.event,
            "message": self.message,
            "data": self.data,
            "createdAt": iso(self.created_at),
        })
    }
}

/// A reply the idempotency layer replays for the same key and body.
#[derive(Clone, Debug)]
struct CachedReply {
    body_hash: String,
    status: u16,
    content_type: String,
    body: Vec<u8>,
}

#[derive(Default)]
pub(crate) struct RunStore {
    pub runs: Vec<RunRecord>,
    pub logs: Vec<LogRow>,
    next_log_id: u64,
    scripts: HashMap<String, RunScript>,
    pub(crate) ingestion_faults: super::reported_runs::IngestionFaults,
    idempotency: HashMap<(String, String, String), CachedReply>,
}

fn level_rank(level: &str) -> u8 {
    match level {
        "debug" => 0,
        "info" => 1,
        "warn" => 2,
        _ => 3,
    }
}

impl RunStore {
    pub(crate) fn running_count(&self, app_id: &str, package_id: &str) -> usize {
        self.runs
            .iter()
            .filter(|r| r.app_id == app_id && r.package_id == package_id && !r.is_terminal())
            .count()
    }

    pub(crate) fn last_run(&self, app_id: &str, package_id: &str) -> Value {
        self.runs
            .iter()
            .rev()
            .find(|r| r.app_id == app_id && r.package_id == package_id)
            .map(|r| json!({ "id": r.id, "status": r.status, "started_at": iso(r.started_at) }))
            .unwrap_or(Value::Null)
    }

    pub(crate) fn get(&self, id: &str) -> Option<&RunRecord> {
        self.runs.iter().find(|r| r.id == id)
    }

    pub(crate) fn get_mut(&mut self, id: &str) -> Option<&mut RunRecord> {
        self.runs.iter_mut().find(|r| r.id == id)
    }

    /// The run `id` as seen from `scope` (other apps' runs do not exist).
    fn scoped(&self, scope: &AppScope, id: &str) -> Result<&RunRecord, Problem> {
        self.get(id)
            .filter(|r| r.org_id == scope.org_id && r.app_id == scope.app_id)
            .ok_or_else(|| Problem::not_found("Run not found"))
    }

    pub(crate) fn next_run_number(&self, app_id: &str, package_id: &str) -> u64 {
        self.runs
            .iter()
            .filter(|r| r.app_id == app_id && r.package_id == package_id)
            .map(|r| r.run_number)
            .max()
            .unwrap_or(0)
            + 1
    }

    /// Append a `run_logs` row; ids only grow.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn append_log(
        &mut self,
        run_id: &str,
        kind: &str,
        event: &str,
        message: Option<String>,
        data: Option<Value>,
        level: &str,
        now: OffsetDateTime,
    ) {
        let Some(org_id) = self.get(run_id).map(|r| r.org_id.clone()) else {
            return;
        };
        self.next_log_id += 1;
        self.logs.push(LogRow {
            id: self.next_log_id,
            run_id: run_id.to_owned(),
            org_id,
            kind: kind.to_owned(),
            event: event.to_owned(),
            level: level.to_owned(),
            message,
            data,
            created_at: now,
        });
    }

    /// The platform's `finalizeRun`: the terminal status (zero-token success
    /// becomes `failed`), `result: {output}`, the `result/result` and
    /// `system/run_completed` rows. A no-op once the run is terminal.
    pub(crate) fn close(&mut self, run_id: &str, terminal: Terminal, now: OffsetDateTime) -> bool {
        let Some(run) = self.get_mut(run_id) else {
            return false;
        };
        if run.is_terminal() || run.sink.as_ref().is_some_and(|s| s.closed) {
            return false;
        }
        let mut status = terminal.status.clone();
        let mut error = terminal.error.clone();
        let usage = match (&terminal.usage, status.as_str()) {
            (Some(usage), _) => usage.clone(),
            (None, "success") => json!({ "input_tokens": 0, "output_tokens": 0 }),
            (None, _) => run
                .token_usage
                .clone()
                .unwrap_or_else(|| json!({ "input_tokens": 0, "output_tokens": 0 })),
        };
        let mut output_errors = None;
        if status == "success"
            && let Some(schema) = &run.output_schema
        {
            let emitted = terminal.output.as_ref().and_then(Value::as_object);
            let errors: Vec<String> = input_errors(schema, &emitted.cloned().unwrap_or_default())
                .into_iter()
                .map(|(field, message)| format!("Field '{field}': {message}"))
                .collect();
            if !errors.is_empty() {
                let missing = errors.join("; ");
                status = "failed".into();
                error = Some(if emitted.is_some() {
                    format!("Output validation failed: {missing}")
                } else {
                    format!(
                        "Agent finished without calling the required `output` tool. This agent \
                         declares an output schema, so it must call `output` exactly once before \
                         finishing with all required fields (missing: {missing})."
                    )
                });
                output_errors = Some(errors);
            }
        }
        let tokens = |key: &str| usage.get(key).and_then(Value::as_u64).unwrap_or(0);
        if status == "success" && tokens("input_tokens") == 0 && tokens("output_tokens") == 0 {
            status = "failed".into();
            error = Some(LLM_UNREACHABLE.into());
        }
        let result = terminal
            .output
            .clone()
            .filter(|o| !o.is_null())
            .map(|output| json!({ "output": output }));
        let duration = terminal.duration_ms.unwrap_or_else(|| {
            u64::try_from((now - run.started_at).whole_milliseconds()).unwrap_or(0)
        });
        run.status = status.clone();
        run.error = error.clone();
        run.result = result.clone();
        run.completed_at = Some(now);
        run.duration = Some(duration);
        run.token_usage = Some(usage);
        if let Some(cost) = terminal.cost.filter(|c| *c > 0.0) {
            run.cost = Some(cost);
        }
        if let Some(sink) = run.sink.as_mut() {
            sink.closed = true;
        }
        if let Some(errors) = output_errors {
            let data = json!({ "valid": false, "errors": errors });
            self.append_log(
                run_id,
                "system",
                "output_validation",
                None,
                Some(data),
                "error",
                now,
            );
        }
        if status == "success"
            && let Some(result) = result
        {
            self.append_log(run_id, "result", "result", None, Some(result), "info", now);
        }
        let mut completed = json!({ "runId": run_id, "status": status });
        if let (Some(error), Some(map)) = (&error, completed.as_object_mut()) {
            map.insert("error".into(), json!(error));
        }
        let level = if status == "success" { "info" } else { "error" };
        self.append_log(
            run_id,
            "system",
            "run_completed",
            None,
            Some(completed),
            level,
            now,
        );
        true
    }
}

// ── input resolution ─────────────────────────────────────────────────────

/// The output schema of a manifest (`manifest.output.schema`).
pub(crate) fn output_schema(manifest: &Map<String, Value>) -> Option<Map<String, Value>> {
    manifest.get("output")?.get("schema")?.as_object().cloned()
}

/// The input schema of a manifest (`manifest.input.schema`).
pub(crate) fn input_schema(manifest: &Map<String, Value>) -> Option<&Map<String, Value>> {
    manifest.get("input")?.get("schema")?.as_object()
}

/// `resolveEffectiveInput`: author defaults < per-app values < caller
/// input; a caller may not set a locked field.
pub(crate) fn effective_input(
    schema: Option<&Map<String, Value>>,
    values: &Map<String, Value>,
    locked: &[String],
    caller: Option<&Map<String, Value>>,
) -> Result<Map<String, Value>, Problem> {
    let mut input = Map::new();
    if let Some(properties) = schema
        .and_then(|s| s.get("properties"))
        .and_then(Value::as_object)
    {
        for (key, property) in properties {
            if let Some(default) = property.get("default") {
                input.insert(key.clone(), default.clone());
            }
        }
    }
    for (key, value) in values {
        input.insert(key.clone(), value.clone());
    }
    if let Some(caller) = caller {
        for (key, value) in caller {
            if locked.contains(key) {
                let problem = Problem::new(
                    400,
                    "locked_input_field",
                    "Locked Input Field",
                    format!(
                        "Field '{key}' is locked by the application settings and cannot be overridden"
                    ),
                );
                return Err(problem);
            }
            input.insert(key.clone(), value.clone());
        }
    }
    Ok(input)
}

/// AJV-style errors of `input` against `schema`: missing `required`
/// properties and primitive `type` mismatches, as `(field, message)`.
pub(crate) fn input_errors(
    schema: &Map<String, Value>,
    input: &Map<String, Value>,
) -> Vec<(String, String)> {
    let mut errors = Vec::new();
    let properties = schema.get("properties").and_then(Value::as_object);
    for required in schema
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        if !input.contains_key(required) {
            errors.push((
                required.to_owned(),
                format!("must have required property '{required}'"),
            ));
        }
    }
    for (key, value) in input {
        let Some(expected) = properties
            .and_then(|p| p.get(key))
            .and_then(|p| p.get("type"))
            .and_then(Value::as_str)
        else {
            continue;
        };
        let ok = match expected {
            "string" => value.is_string(),
            "number" => value.is_number(),
            "integer" => value.as_f64().is_some_and(|n| n.fract() == 0.0),
            "boolean" => value.is_boolean(),
            "object" => value.is_object(),
            "array" => value.is_array(),
            "null" => value.is_null(),
            _ => true,
        };
        if !ok {
            errors.push((key.clone(), format!("must be {expected}")));
        }
    }
    errors
}

fn validation_failed(errors: &[(String, String)]) -> Problem {
    let fields: Vec<Value> = errors
        .iter()
        .map(|(field, message)| {
            json!({ "field": format!("input.{field}"), "code": "invalid_input", "title": "Invalid Input", "message": message })
        })
        .collect();
    let (field, message) = &errors[0];
    let mut detail = format!("input.{field}: {message}");
    if errors.len() > 1 {
        detail.push_str(&format!(" (+{} more)", errors.len() - 1));
    }
    let mut problem = Problem::new(400, "validation_failed", "Validation Failed", detail);
    problem.errors = Some(Box::new(Value::Array(fields)));
    problem
}

// ── routes ───────────────────────────────────────────────────────────────

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
        super::routes::json_object(req)?
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
    let (runner_name, runner_kind) = runner_context(state, req, scope);
    let now = state.next_timestamp();
    let run_id = format!("run_{}", uuid_v4());
    let run = RunRecord {
        id: run_id.clone(),
        org_id: scope.org_id.clone(),
        app_id: scope.app_id.clone(),
        package_id: id.to_owned(),
        user_id: Some(scope.user_id.clone()),
        api_key_id: scope.api_key_id.clone(),
        status: "running".into(),
        input: Value::Object(input),
        result: None,
        error: None,
        started_at: now,
        completed_at: None,
        duration: None,
        cost: None,
        token_usage: None,
        version_ref: Some(version_label.clone().unwrap_or_else(|| "draft".into())),
        version_label,
        model_label: model
            .as_ref()
            .and_then(|m| m.get("label").and_then(Value::as_str).map(str::to_owned)),
        model_source: model.as_ref().map(|_| "org".to_owned()),
        runner_name,
        runner_kind,
        run_origin: "platform",
        context_snapshot: None,
        dependency_overrides: body
            .get("dependency_overrides")
            .cloned()
            .filter(|v| v.as_object().is_some_and(|m| !m.is_empty())),
        run_number: state.runs.next_run_number(&scope.app_id, id),
        sink: None,
        output_schema: output_schema(&manifest),
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
            .and_then(|t| super::jwt::decode_claims(t.trim()))
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

/// Play a script: rows over time, then the end (unless cancelled first).
async fn execute(shared: Shared, run_id: String, script: RunScript) {
    let started = Instant::now();
    for row in &script.rows {
        // A zero delay appends at once (a timer still costs a tick or more).
        if !row.delay.is_zero() {
            tokio::time::sleep(row.delay).await;
        }
        let mut state = lock(&shared);
        if state.runs.get(&run_id).is_none_or(RunRecord::is_terminal) {
            return;
        }
        let now = state.next_timestamp();
        state.runs.append_log(
            &run_id,
            &row.kind,
            &row.event,
            row.message.clone(),
            row.data.clone(),
            &row.level,
            now,
        );
    }
    if script.hold {
        return;
    }
    tokio::time::sleep(script.end_delay).await;
    let mut state = lock(&shared);
    let now = state.next_timestamp();
    let terminal = Terminal {
        status: script.status.clone(),
        output: script.output.clone(),
        error: script.error.clone(),
        usage: script.token_usage.clone(),
        cost: script.cost,
        duration_ms: Some(u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)),
    };
    state.runs.close(&run_id, terminal, now);
}

/// `GET /api/runs/{id}[?wait=<seconds|true|false>]`: long-polls (no lock
/// held) until the run is terminal or the wait elapses.
pub(crate) async fn get_run(shared: &Shared, req: &ParsedRequest, run_id: &str) -> Response {
    let fail = |problem: Problem| problem_response(&problem, &req.request_id);
    let wait = match parse_wait(req.query_param("wait")) {
        Ok(wait) => wait,
        Err(problem) => return fail(problem),
    };
    let deadline = Instant::now() + wait;
    loop {
        {
            let state = lock(shared);
            let scope = match app_scope(&state, req) {
                Ok(scope) => scope,
                Err(problem) => return fail(problem),
            };
            let run = match state.runs.scoped(&scope, run_id) {
                Ok(run) => run,
                Err(problem) => return fail(problem),
            };
            if run.is_terminal() || Instant::now() >= deadline {
                return json_response(StatusCode::OK, &run.to_json(&state));
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn parse_wait(raw: Option<String>) -> Result<Duration, Problem> {
    let secs = match raw.as_deref() {
        None => 0,
        Some("" | "true") => MAX_WAIT_SECONDS,
        Some("false") => 0,
        Some(n) => match n.parse::<u64>() {
            Ok(n) if n <= MAX_WAIT_SECONDS => n,
            _ => {
                let mut problem = Problem::invalid_request(format!(
                    "Invalid 'wait' value: expected true, false, or a non-negative integer number of seconds (max {MAX_WAIT_SECONDS})"
                ));
                problem.param = Some("wait");
                return Err(problem);
            }
        },
    };
    Ok(Duration::from_secs(secs))
}

/// `GET /api/runs/{id}/logs[?since=][&level=][&limit=]`.
pub(crate) fn logs(
    state: &State,
    req: &ParsedRequest,
    scope: &AppScope,
    run_id: &str,
) -> Result<Response, Problem> {
    state.runs.scoped(scope, run_id)?;
    let since = req.query_param("since").and_then(|s| s.parse::<u64>().ok());
    let min_level = req
        .query_param("level")
        .filter(|l| matches!(l.as_str(), "debug" | "info" | "warn" | "error"));
    let limit = req
        .query_param("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .filter(|l| *l >= 1)
        .map_or(1000, |l| l.min(1000));
    let rows: Vec<&LogRow> = state
        .runs
        .logs
        .iter()
        .filter(|l| l.run_id == run_id && l.org_id == scope.org_id)
        .filter(|l| since.is_none_or(|s| l.id > s))
        .filter(|l| {
            min_level
                .as_deref()
                .is_none_or(|min| level_rank(&l.level) >= level_rank(min))
        })
        .take(limit + 1)
        .collect();
    let has_more = rows.len() > limit;
    let page: Vec<Value> = rows.iter().take(limit).map(|l| l.to_json()).collect();
    let mut response = json_response(
        StatusCode::OK,
        &json!({ "object": "list", "data": page, "hasMore": has_more }),
    );
    if has_more
        && let Some(last) = rows.get(limit.saturating_sub(1))
        && let Ok(value) = HeaderValue::from_str(&format!(
            "<{}/api/runs/{run_id}/logs?since={}>; rel=\"next\"",
            state.base_url, last.id
        ))
    {
        response.headers_mut().insert(header::LINK, value);
    }
    Ok(response)
}

/// `POST /api/runs/{id}/cancel`.
pub(crate) fn cancel(
    state: &mut State,
    scope: &AppScope,
    run_id: &str,
) -> Result<Response, Problem> {
    let status = state.runs.scoped(scope, run_id)?.status.clone();
    require_perm(state, scope, Perm::RunsCancel)?;
    if status != "pending" && status != "running" {
        return Err(Problem::new(
            409,
            "not_cancellable",
            "Conflict",
            "This run cannot be cancelled",
        ));
    }
    let now = state.next_timestamp();
    state.runs.close(
        run_id,
        Terminal {
            status: "cancelled".into(),
            error: Some("Cancelled by user".into()),
            ..Terminal::default()
        },
        now,
    );
    let run = state.runs.scoped(scope, run_id)?;
    Ok(json_response(StatusCode::OK, &run.to_json(state)))
}

fn page(req: &ParsedRequest, default_limit: usize) -> (usize, usize) {
    let limit = req
        .query_param("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .filter(|l| *l >= 1)
        .map_or(default_limit, |l| l.min(100));
    let offset = req
        .query_param("offset")
        .and_then(|o| o.parse::<usize>().ok())
        .unwrap_or(0);
    (limit, offset)
}

fn run_list(state: &State, runs: Vec<&RunRecord>, limit: usize, offset: usize) -> Response {
    let total = runs.len();
    let data: Vec<Value> = runs
        .into_iter()
        .rev()
        .skip(offset)
        .take(limit)
        .map(|r| r.to_json(state))
        .collect();
    json_response(
        StatusCode::OK,
        &json!({ "object": "list", "data": data, "hasMore": offset + limit < total, "total": total }),
    )
}

fn closed_set(
    req: &ParsedRequest,
    name: &'static str,
    allowed: &[&str],
) -> Result<Option<String>, Problem> {
    match req.query_param(name).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) if allowed.contains(&v.as_str()) => Ok(Some(v)),
        Some(_) => {
            let mut problem =
                Problem::invalid_request(format!("{name} must be one of: {}", allowed.join(", ")));
            problem.param = Some(name);
            Err(problem)
        }
    }
}

/// `GET /api/runs?limit&offset&status&kind&user=me`, newest first.
pub(crate) fn list_runs(
    state: &State,
    req: &ParsedRequest,
    scope: &AppScope,
) -> Result<Response, Problem> {
    let (limit, offset) = page(req, 20);
    let user = closed_set(req, "user", &["me"])?;
    let kind = closed_set(req, "kind", &["all", "package", "inline"])?;
    let status = closed_set(
        req,
        "status",
        &[
            "pending",
            "running",
            "success",
            "failed",
            "timeout",
            "cancelled",
        ],
    )?;
    let runs: Vec<&RunRecord> = state
        .runs
        .runs
        .iter()
        .filter(|r| r.org_id == scope.org_id && r.app_id == scope.app_id)
        .filter(|r| user.is_none() || r.user_id.as_deref() == Some(scope.user_id.as_str()))
        .filter(|r| match kind.as_deref() {
            Some("inline") => r.package_id.starts_with("@inline/"),
            Some("package") => !r.package_id.starts_with("@inline/"),
            _ => true,
        })
        .filter(|r| status.as_deref().is_none_or(|s| r.status == s))
        .collect();
    Ok(run_list(state, runs, limit, offset))
}

/// `GET /api/agents/@s/n/runs?limit&offset`, newest first.
pub(crate) fn list_agent_runs(
    state: &State,
    req: &ParsedRequest,
    scope: &AppScope,
    id: &str,
) -> Result<Response, Problem> {
    state
        .registry
        .require_agent(&scope.org_id, &scope.app_id, id)?;
    let (limit, offset) = page(req, 50);
    let runs: Vec<&RunRecord> = state
        .runs
        .runs
        .iter()
        .filter(|r| r.org_id == scope.org_id && r.app_id == scope.app_id && r.package_id == id)
        .collect();
    Ok(run_list(state, runs, limit, offset))
}

// ── test hooks ───────────────────────────────────────────────────────────

/// A run as a test sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct RunInfo {
    pub id: String,
    pub package_id: String,
    pub status: String,
    /// `platform` or `remote`.
    pub run_origin: String,
    pub input: Value,
    /// `result.output`.
    pub output: Option<Value>,
    pub error: Option<String>,
    pub token_usage: Option<Value>,
    pub version_label: Option<String>,
}

impl FakeInstance {
    /// Every platform-executed run of `agent_id` follows `script` from now on.
    pub fn script_runs(&self, agent_id: &str, script: RunScript) {
        self.with(|s| {
            s.runs.scripts.insert(agent_id.to_owned(), script);
        });
    }

    /// Every run, oldest first.
    pub fn runs(&self) -> Vec<RunInfo> {
        self.with(|s| {
            s.runs
                .runs
                .iter()
                .map(|r| RunInfo {
                    id: r.id.clone(),
                    package_id: r.package_id.clone(),
                    status: r.status.clone(),
                    run_origin: r.run_origin.to_owned(),
                    input: r.input.clone(),
                    output: r.result.as_ref().and_then(|v| v.get("output")).cloned(),
                    error: r.error.clone(),
                    token_usage: r.token_usage.clone(),
                    version_label: r.version_label.clone(),
                })
                .collect()
        })
    }

    /// One run by id.
    pub fn run(&self, run_id: &str) -> Option<RunInfo> {
        self.runs().into_iter().find(|r| r.id == run_id)
    }

    /// The `run_logs` rows of a run as `GET …/logs` serves them.
    pub fn run_logs(&self, run_id: &str) -> Vec<Value> {
        self.with(|s| {
            s.runs
                .logs
                .iter()
                .filter(|l| l.run_id == run_id)
                .map(LogRow::to_json)
                .collect()
        })
    }

    /// Wait (up to `timeout`) until the run is terminal; its final state.
    pub fn wait_for_run(&self, run_id: &str, timeout: Duration) -> Option<RunInfo> {
        let deadline = Instant::now() + timeout;
        loop {
            let run = self.run(run_id);
            if run.as_ref().is_some_and(|r| {
                matches!(
                    r.status.as_str(),
                    "success" | "failed" | "timeout" | "cancelled"
                )
            }) || Instant::now() >= deadline
            {
                return run;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
