//! Reported runs: a run executed elsewhere (the CLI's `--report`) that
//! streams signed CloudEvents back. Routes: `POST /api/runs/remote`,
//! `POST /api/runs/{id}/events[/finalize|/heartbeat]` (Standard Webhooks
//! HMAC with the run's secret), `PATCH /api/runs/{id}/sink/extend`.

use std::collections::{BTreeMap, HashSet};

use appstrate_afps::cloudevents::verify_webhook;
use axum::http::StatusCode;
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use super::FakeInstance;
use super::agents::export_version;
use super::platform::{AppScope, Perm, require_perm};
use super::routes::{ParsedRequest, json_object, json_response};
use super::runs::{
    NewRun, RunRecord, Terminal, effective_input, input_errors, input_schema, output_schema,
    runner_context,
};
use super::state::{Problem, State, iso, unix_now, uuid_v4};

/// `WEBHOOK_TIMESTAMP_TOLERANCE_SECONDS`.
const TIMESTAMP_TOLERANCE_SECS: i64 = 300;
/// Sink lifetime when the register body names none.
const DEFAULT_SINK_TTL_SECS: i64 = 3600;
const MAX_SINK_TTL_SECS: i64 = 86_400;
const CONTEXT_SNAPSHOT_MAX_BYTES: usize = 16 * 1024;

/// The event sink of a reported run.
#[derive(Clone, Debug)]
pub(crate) struct Sink {
    pub secret: String,
    pub expires_at: OffsetDateTime,
    pub closed: bool,
    pub last_sequence: u64,
    /// Out-of-order events waiting for the gap to fill, by sequence.
    buffer: BTreeMap<u64, Value>,
    seen_webhook_ids: HashSet<String>,
    /// Accepted envelopes in arrival order (replays excluded).
    pub received: Vec<Value>,
    pub finalize_body: Option<Value>,
    pub heartbeats: usize,
}

impl Sink {
    /// A sink nothing has been sent to yet.
    fn open(secret: String, expires_at: OffsetDateTime) -> Self {
        Sink {
            secret,
            expires_at,
            closed: false,
            last_sequence: 0,
            buffer: BTreeMap::new(),
            seen_webhook_ids: HashSet::new(),
            received: Vec::new(),
            finalize_body: None,
            heartbeats: 0,
        }
    }
}

/// Injected failures of the ingestion routes (count, status).
#[derive(Clone, Debug, Default)]
pub(crate) struct IngestionFaults {
    events: Option<(u32, u16)>,
    finalize: Option<(u32, u16)>,
    /// Registrations answer a secret other than the one the sink checks
    /// (a secret mangled on the way: every signature then mismatches).
    wrong_secret: bool,
}

fn take_fault(slot: &mut Option<(u32, u16)>) -> Option<u16> {
    let (left, status) = slot.as_mut()?;
    if *left == 0 {
        return None;
    }
    *left -= 1;
    Some(*status)
}

fn validation(field: &str, message: &str) -> Problem {
    let mut problem = Problem::validation_failed(field, message);
    problem.errors = Some(Box::new(
        json!([{ "field": field, "code": "invalid", "title": "Invalid", "message": message }]),
    ));
    problem
}

fn reject_unknown_keys(
    object: &Map<String, Value>,
    allowed: &[&str],
    prefix: &str,
) -> Result<(), Problem> {
    match object.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(key) => Err(validation(
            if prefix.is_empty() { key } else { prefix },
            &format!("Unrecognized key: \"{key}\""),
        )),
        None => Ok(()),
    }
}

fn string_field<'a>(
    object: &'a Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<&'a str, Problem> {
    match object.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s),
        _ => Err(validation(path, "Expected a non-empty string")),
    }
}

/// `POST /api/runs/remote`.
pub(crate) fn register(
    state: &mut State,
    req: &ParsedRequest,
    scope: &AppScope,
) -> Result<Response, Problem> {
    require_perm(state, scope, Perm::AgentsRun)?;
    let body = json_object(req)?;
    let parsed = RegisterBody::parse(&body)?;
    if parsed.application_id != scope.app_id {
        return Err(Problem::forbidden(
            "Caller's application scope does not include this application",
        ));
    }
    let source = match parsed.source.get("kind").and_then(Value::as_str) {
        Some("registry") => registry_source(state, scope, parsed.source, &parsed.caller_input)?,
        Some("inline") => inline_source(parsed.source, &parsed.caller_input)?,
        _ => {
            return Err(validation(
                "source.kind",
                "Invalid discriminator value. Expected 'inline' | 'registry'",
            ));
        }
    };
    let now = state.next_timestamp();
    let run_id = format!("run_{}", uuid_v4());
    let secret = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
    let expires_at = now + time::Duration::seconds(parsed.ttl);
    let run = RunRecord {
        context_snapshot: parsed.context_snapshot,
        dependency_overrides: parsed.dependency_overrides,
        output_schema: source.output_schema,
        sink: Some(Sink::open(secret.clone(), expires_at)),
        ..RunRecord::new(NewRun {
            scope,
            id: run_id.clone(),
            run_number: state
                .runs
                .next_run_number(&scope.app_id, &source.package_id),
            package_id: source.package_id,
            status: "pending",
            run_origin: "remote",
            input: source.input,
            version_label: source.version_label,
            runner: runner_context(state, req, scope),
            started_at: now,
        })
    };
    state.runs.runs.push(run);
    let url = format!("{}/api/runs/{run_id}/events", state.base_url);
    let secret = if state.runs.ingestion_faults.wrong_secret {
        URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
    } else {
        secret
    };
    Ok(json_response(
        StatusCode::CREATED,
        &json!({
            "id": run_id,
            "url": url,
            "finalize_url": format!("{url}/finalize"),
            "secret": secret,
            "expiresAt": iso(expires_at),
        }),
    ))
}

/// The register body, checked field by field as the platform's schema does.
struct RegisterBody<'a> {
    source: &'a Map<String, Value>,
    application_id: &'a str,
    caller_input: Map<String, Value>,
    context_snapshot: Option<Value>,
    /// Sink lifetime, seconds.
    ttl: i64,
    dependency_overrides: Option<Value>,
}

impl<'a> RegisterBody<'a> {
    fn parse(body: &'a Map<String, Value>) -> Result<Self, Problem> {
        reject_unknown_keys(
            body,
            &[
                "source",
                "applicationId",
                "input",
                "dependency_overrides",
                "contextSnapshot",
                "sink",
            ],
            "",
        )?;
        let Some(Value::Object(source)) = body.get("source") else {
            return Err(validation("source", "Required"));
        };
        let application_id = string_field(body, "applicationId", "applicationId")?;
        let caller_input = match body.get("input") {
            None => Map::new(),
            Some(Value::Object(input)) => input.clone(),
            Some(_) => return Err(validation("input", "Expected object")),
        };
        Ok(RegisterBody {
            source,
            application_id,
            caller_input,
            context_snapshot: context_snapshot(body)?,
            ttl: sink_ttl(body)?,
            dependency_overrides: dependency_overrides(body)?,
        })
    }
}

/// `contextSnapshot`: an object of at most 16 KiB of JSON.
fn context_snapshot(body: &Map<String, Value>) -> Result<Option<Value>, Problem> {
    match body.get("contextSnapshot") {
        None => Ok(None),
        Some(Value::Object(snapshot)) => {
            if Value::Object(snapshot.clone()).to_string().len() > CONTEXT_SNAPSHOT_MAX_BYTES {
                return Err(validation(
                    "contextSnapshot",
                    &format!("contextSnapshot exceeds {CONTEXT_SNAPSHOT_MAX_BYTES} bytes"),
                ));
            }
            Ok(Some(Value::Object(snapshot.clone())))
        }
        Some(_) => Err(validation("contextSnapshot", "Expected object")),
    }
}

/// `sink.ttl_seconds`: 1 to 86 400, else the default.
fn sink_ttl(body: &Map<String, Value>) -> Result<i64, Problem> {
    Ok(match body.get("sink") {
        None => DEFAULT_SINK_TTL_SECS,
        Some(Value::Object(sink)) => {
            reject_unknown_keys(sink, &["ttl_seconds"], "sink")?;
            match sink.get("ttl_seconds") {
                None => DEFAULT_SINK_TTL_SECS,
                Some(v) => v
                    .as_i64()
                    .filter(|t| (1..=MAX_SINK_TTL_SECS).contains(t))
                    .ok_or_else(|| {
                        validation("sink.ttl_seconds", "Expected an integer in 1..=86400")
                    })?,
            }
        }
        Some(_) => return Err(validation("sink", "Expected object")),
    })
}

/// `dependency_overrides`: a non-empty map of strings, or nothing.
fn dependency_overrides(body: &Map<String, Value>) -> Result<Option<Value>, Problem> {
    Ok(match body.get("dependency_overrides") {
        None => None,
        Some(Value::Object(m)) if m.values().all(Value::is_string) => {
            (!m.is_empty()).then(|| Value::Object(m.clone()))
        }
        Some(_) => {
            return Err(validation(
                "dependency_overrides",
                "Expected a map of strings",
            ));
        }
    })
}

/// What the source resolves to: the package (or an inline shadow id), the
/// version, the layered input, the output schema to check the end against.
struct ResolvedSource {
    package_id: String,
    version_label: Option<String>,
    input: Map<String, Value>,
    output_schema: Option<Map<String, Value>>,
}

/// `source.kind = registry`: an installed agent, its draft or a published
/// (not yanked) version, the input layered over the application's values.
fn registry_source(
    state: &State,
    scope: &AppScope,
    source: &Map<String, Value>,
    caller_input: &Map<String, Value>,
) -> Result<ResolvedSource, Problem> {
    reject_unknown_keys(
        source,
        &["kind", "packageId", "stage", "spec", "integrity"],
        "source",
    )?;
    let package_id = string_field(source, "packageId", "source.packageId")?.to_owned();
    let stage = match source.get("stage") {
        None => "published",
        Some(Value::String(s)) if s == "draft" || s == "published" => s.as_str(),
        Some(_) => {
            return Err(validation("source.stage", "Expected 'draft' | 'published'"));
        }
    };
    let spec = match source.get("spec") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(validation("source.spec", "Expected string")),
    };
    if stage == "draft" && spec.is_some() {
        return Err(Problem::new(
            400,
            "draft_with_spec",
            "Conflicting Source",
            "stage: 'draft' cannot be combined with a spec — drafts have no published id",
        ));
    }
    let agent = registry_agent(state, scope, &package_id)?;
    let (manifest, label) = if stage == "draft" {
        (agent.draft_manifest().clone(), "draft".to_owned())
    } else {
        let version = export_version(agent, &scope.app_id, spec.as_deref())?;
        if version.yanked {
            return Err(Problem::new(
                410,
                "version_yanked",
                "Version Yanked",
                format!(
                    "Version '{}' of '{package_id}' has been yanked",
                    version.version
                ),
            ));
        }
        (
            version.bundle.root_package().manifest.clone(),
            version.version.clone(),
        )
    };
    let install = agent.install(&scope.app_id).cloned().unwrap_or_default();
    let schema = input_schema(&manifest);
    let input = effective_input(schema, &install.values, &install.locked, Some(caller_input))?;
    if let Some(schema) = schema
        && let Some((field, message)) = input_errors(schema, &input).into_iter().next()
    {
        return Err(Problem::new(
            400,
            "invalid_input",
            "Invalid Input",
            format!("{field}: {message}"),
        ));
    }
    Ok(ResolvedSource {
        package_id,
        version_label: Some(label),
        input,
        output_schema: output_schema(&manifest),
    })
}

/// `source.kind = inline`: the manifest and prompt travel in the body; the
/// run gets a shadow id `@inline/r-…`.
fn inline_source(
    source: &Map<String, Value>,
    caller_input: &Map<String, Value>,
) -> Result<ResolvedSource, Problem> {
    reject_unknown_keys(source, &["kind", "manifest", "prompt"], "source")?;
    let Some(Value::Object(manifest)) = source.get("manifest") else {
        return Err(validation("source.manifest", "Expected object"));
    };
    string_field(source, "prompt", "source.prompt")?;
    let schema = input_schema(manifest);
    let input = effective_input(schema, &Map::new(), &[], Some(caller_input))?;
    if let Some(schema) = schema
        && let Some((field, message)) = input_errors(schema, &input).into_iter().next()
    {
        return Err(Problem::validation_failed(
            &format!("input.{field}"),
            &message,
        ));
    }
    let shadow = format!("@inline/r-{}", &uuid_v4()[..8]);
    Ok(ResolvedSource {
        package_id: shadow,
        version_label: None,
        input,
        output_schema: output_schema(manifest),
    })
}

/// `resolveRegistryAgent`'s lookup: 404 `package_not_found` outside the
/// organization, 404 `package_not_installed_in_app` outside the application.
fn registry_agent<'a>(
    state: &'a State,
    scope: &AppScope,
    package_id: &str,
) -> Result<&'a super::agents::PackageRecord, Problem> {
    let agent = state
        .registry
        .get(&scope.org_id, package_id)
        .ok_or_else(|| {
            Problem::new(
                404,
                "package_not_found",
                "Package Not Found",
                format!("Package '{package_id}' not found in this organization"),
            )
        })?;
    if agent.install(&scope.app_id).is_none() {
        let app = &scope.app_id;
        return Err(Problem::new(
            404,
            "package_not_installed_in_app",
            "Package Not Installed",
            format!(
                "Package '{package_id}' exists in this organization but is not installed in application '{app}'. \
                 Install it via POST /api/applications/{app}/packages, or pick a different application."
            ),
        ));
    }
    Ok(agent)
}

/// `PATCH /api/runs/{id}/sink/extend {"ttl_seconds"}`.
pub(crate) fn extend(
    state: &mut State,
    req: &ParsedRequest,
    scope: &AppScope,
    run_id: &str,
) -> Result<Response, Problem> {
    require_perm(state, scope, Perm::AgentsRun)?;
    let body = json_object(req)?;
    reject_unknown_keys(&body, &["ttl_seconds"], "")?;
    let ttl = body
        .get("ttl_seconds")
        .and_then(Value::as_i64)
        .filter(|t| (1..=MAX_SINK_TTL_SECS).contains(t))
        .ok_or_else(|| validation("ttl_seconds", "Expected an integer in 1..=86400"))?;
    let now = state.next_timestamp();
    let not_found = || Problem::not_found(format!("run {run_id} not found or sink already closed"));
    let run = state
        .runs
        .get_mut(run_id)
        .filter(|r| r.org_id == scope.org_id && r.app_id == scope.app_id)
        .ok_or_else(not_found)?;
    let sink = run
        .sink
        .as_mut()
        .filter(|s| !s.closed)
        .ok_or_else(not_found)?;
    sink.expires_at = now + time::Duration::seconds(ttl);
    Ok(json_response(
        StatusCode::OK,
        &json!({ "id": run_id, "expiresAt": iso(sink.expires_at) }),
    ))
}

/// `verifyRunSignature`: the run and its open sink, then the Standard
/// Webhooks headers against the raw body. Returns the `webhook-id`.
fn verify(state: &mut State, req: &ParsedRequest, run_id: &str) -> Result<String, Problem> {
    let now = state.next_timestamp();
    let run = state
        .runs
        .get(run_id)
        .filter(|r| r.sink.is_some())
        .ok_or_else(|| {
            Problem::new(
                404,
                "run_not_found",
                "Not Found",
                format!("run {run_id} not found"),
            )
        })?;
    let Some(sink) = run.sink.as_ref() else {
        return Err(Problem::new(
            404,
            "run_not_found",
            "Not Found",
            format!("run {run_id} not found"),
        ));
    };
    if sink.closed {
        return Err(Problem::new(
            410,
            "run_sink_closed",
            "Gone",
            format!("run {run_id} sink is closed"),
        ));
    }
    if sink.expires_at <= now {
        return Err(Problem::new(
            410,
            "run_sink_expired",
            "Gone",
            format!("run {run_id} sink has expired"),
        ));
    }
    let unauthorized =
        |code: &'static str, detail: &str| Problem::new(401, code, "Unauthorized", detail);
    let (Some(id), Some(timestamp), Some(signature)) = (
        req.header("webhook-id").filter(|v| !v.is_empty()),
        req.header("webhook-timestamp").filter(|v| !v.is_empty()),
        req.header("webhook-signature").filter(|v| !v.is_empty()),
    ) else {
        return Err(unauthorized(
            "missing_signature_headers",
            "webhook-id, webhook-timestamp and webhook-signature headers are required",
        ));
    };
    let Ok(ts) = timestamp.trim().parse::<i64>() else {
        return Err(unauthorized(
            "invalid_timestamp",
            "webhook-timestamp must be an integer (unix seconds)",
        ));
    };
    let now_secs = i64::try_from(unix_now()).unwrap_or(i64::MAX);
    if (now_secs - ts).abs() > TIMESTAMP_TOLERANCE_SECS {
        return Err(unauthorized(
            "timestamp_out_of_tolerance",
            "webhook-timestamp is outside the accepted tolerance window",
        ));
    }
    let body = String::from_utf8_lossy(&req.body);
    if !verify_webhook(
        &sink.secret,
        id,
        ts,
        &body,
        signature,
        now_secs,
        TIMESTAMP_TOLERANCE_SECS,
    ) {
        return Err(unauthorized(
            "invalid_signature",
            "webhook-signature does not match",
        ));
    }
    Ok(id.to_owned())
}

fn injected(status: u16) -> Problem {
    Problem::new(
        status,
        "internal_error",
        "Internal Server Error",
        "Injected ingestion failure",
    )
}

/// The strict CloudEvents envelope schema of the ingestion route.
fn parse_envelope(req: &ParsedRequest) -> Result<(Map<String, Value>, u64), Problem> {
    let envelope = json_object(req)?;
    reject_unknown_keys(
        &envelope,
        &[
            "specversion",
            "type",
            "source",
            "id",
            "time",
            "datacontenttype",
            "data",
            "dataschema",
            "sequence",
        ],
        "",
    )?;
    if envelope.get("specversion").and_then(Value::as_str) != Some("1.0") {
        return Err(validation(
            "specversion",
            "Invalid literal value, expected \"1.0\"",
        ));
    }
    for key in ["type", "source", "id"] {
        string_field(&envelope, key, key)?;
    }
    let time_ok = envelope
        .get("time")
        .and_then(Value::as_str)
        .is_some_and(|t| {
            OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).is_ok()
        });
    if !time_ok {
        return Err(validation("time", "Invalid ISO datetime"));
    }
    if envelope.get("datacontenttype").and_then(Value::as_str) != Some("application/json") {
        return Err(validation(
            "datacontenttype",
            "Invalid literal value, expected \"application/json\"",
        ));
    }
    if !envelope.get("data").is_some_and(Value::is_object) {
        return Err(validation("data", "Expected object"));
    }
    if let Some(schema) = envelope.get("dataschema")
        && schema.as_str().is_none_or(str::is_empty)
    {
        return Err(validation("dataschema", "Expected a non-empty string"));
    }
    let sequence = envelope
        .get("sequence")
        .and_then(Value::as_u64)
        .ok_or_else(|| validation("sequence", "Expected a non-negative integer"))?;
    Ok((envelope, sequence))
}

/// `POST /api/runs/{id}/events`.
pub(crate) fn event(
    state: &mut State,
    req: &ParsedRequest,
    run_id: &str,
) -> Result<Response, Problem> {
    let webhook_id = verify(state, req, run_id)?;
    let (envelope, sequence) = parse_envelope(req)?;
    if let Some(status) = take_fault(&mut state.runs.ingestion_faults.events) {
        return Err(injected(status));
    }
    let now = state.next_timestamp();
    let Some(sink) = state.runs.get_mut(run_id).and_then(|r| r.sink.as_mut()) else {
        return Err(Problem::not_found(format!("run {run_id} not found")));
    };
    if !sink.seen_webhook_ids.insert(webhook_id) || sequence <= sink.last_sequence {
        return Ok(json_response(
            StatusCode::OK,
            &json!({ "ok": true, "outcome": "replay" }),
        ));
    }
    sink.received.push(Value::Object(envelope.clone()));
    let event = run_event(&envelope, run_id);
    sink.buffer.insert(sequence, event);
    drain(state, run_id, false, now);
    let persisted = state
        .runs
        .get(run_id)
        .and_then(|r| r.sink.as_ref())
        .is_some_and(|s| s.last_sequence >= sequence);
    let outcome = if persisted { "persisted" } else { "buffered" };
    Ok(json_response(
        StatusCode::OK,
        &json!({ "ok": true, "outcome": outcome, "sequence": sequence }),
    ))
}

/// `envelopeToRunEvent`: the data plus `type`, `runId`, `timestamp`.
fn run_event(envelope: &Map<String, Value>, run_id: &str) -> Value {
    let mut event = envelope
        .get("data")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    event.insert(
        "type".into(),
        envelope.get("type").cloned().unwrap_or(Value::Null),
    );
    event.insert("runId".into(), json!(run_id));
    Value::Object(event)
}

/// Persist buffered events in sequence order; with `allow_gaps` (finalize)
/// across missing sequences too.
fn drain(state: &mut State, run_id: &str, allow_gaps: bool, now: OffsetDateTime) {
    loop {
        let Some(run) = state.runs.get_mut(run_id) else {
            return;
        };
        let Some(sink) = run.sink.as_mut() else {
            return;
        };
        let Some((&sequence, _)) = sink.buffer.iter().next() else {
            return;
        };
        if sequence != sink.last_sequence + 1 && !allow_gaps {
            return;
        }
        let Some(event) = sink.buffer.remove(&sequence) else {
            return;
        };
        sink.last_sequence = sequence;
        if run.status == "pending" {
            run.status = "running".into();
        }
        persist(state, run_id, &event, now);
    }
}

/// `persistRunEvent`: the platform's write-through table.
fn persist(state: &mut State, run_id: &str, event: &Value, now: OffsetDateTime) {
    let text = |key: &str| event.get(key).and_then(Value::as_str).map(str::to_owned);
    let object = |key: &str| event.get(key).filter(|v| v.is_object()).cloned();
    let runs = &mut state.runs;
    match event.get("type").and_then(Value::as_str) {
        Some("output.emitted") => {
            let data = event.get("data").cloned().filter(|d| !d.is_null());
            runs.append_log(run_id, "result", "output", None, data, "info", now);
        }
        Some("log.written") => {
            if let (Some(level @ ("info" | "warn" | "error")), Some(message)) =
                (event.get("level").and_then(Value::as_str), text("message"))
            {
                runs.append_log(run_id, "progress", "log", Some(message), None, level, now);
            }
        }
        Some("appstrate.progress") => {
            let level = event
                .get("level")
                .and_then(Value::as_str)
                .filter(|l| matches!(*l, "debug" | "info" | "warn" | "error"))
                .unwrap_or("debug");
            runs.append_log(
                run_id,
                "progress",
                "progress",
                text("message"),
                object("data"),
                level,
                now,
            );
        }
        Some("appstrate.error") => {
            runs.append_log(
                run_id,
                "system",
                "adapter_error",
                text("message"),
                object("data"),
                "error",
                now,
            );
        }
        Some("appstrate.metric") => {
            if let Some(run) = runs.get_mut(run_id) {
                if let Some(usage) = object("usage") {
                    run.token_usage = Some(usage);
                }
                if let Some(cost) = event.get("cost").and_then(Value::as_f64)
                    && run.cost.is_none_or(|c| cost > c)
                {
                    run.cost = Some(cost);
                }
            }
        }
        _ => {}
    }
}

/// The tolerant `usage` boundary: known numeric fields, else ignored.
fn finalize_usage(usage: Option<&Value>) -> Option<Value> {
    let usage = usage?.as_object()?;
    let mut out = Map::new();
    for key in [
        "input_tokens",
        "output_tokens",
        "cache_creation_input_tokens",
        "cache_read_input_tokens",
    ] {
        match usage.get(key) {
            None => {}
            Some(v) if v.as_u64().is_some() => {
                out.insert(key.into(), v.clone());
            }
            Some(_) => return None,
        }
    }
    Some(Value::Object(out))
}

/// `POST /api/runs/{id}/events/finalize` with the RunResult.
pub(crate) fn finalize(
    state: &mut State,
    req: &ParsedRequest,
    run_id: &str,
) -> Result<Response, Problem> {
    verify(state, req, run_id)?;
    let result = json_object(req)?;
    let status = match result.get("status") {
        None => None,
        Some(Value::String(s))
            if matches!(s.as_str(), "success" | "failed" | "timeout" | "cancelled") =>
        {
            Some(s.clone())
        }
        Some(_) => {
            return Err(validation(
                "status",
                "Expected 'success' | 'failed' | 'timeout' | 'cancelled'",
            ));
        }
    };
    let error = match result.get("error") {
        None => None,
        Some(Value::Object(e)) => Some(
            e.get("message")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| validation("error.message", "Required"))?,
        ),
        Some(_) => return Err(validation("error", "Expected object")),
    };
    if let Some(status) = take_fault(&mut state.runs.ingestion_faults.finalize) {
        return Err(injected(status));
    }
    let now = state.next_timestamp();
    if let Some(sink) = state.runs.get_mut(run_id).and_then(|r| r.sink.as_mut()) {
        sink.finalize_body = Some(Value::Object(result.clone()));
    }
    drain(state, run_id, true, now);
    let terminal = Terminal {
        status: status.unwrap_or_else(|| {
            if error.is_some() {
                "failed".into()
            } else {
                "success".into()
            }
        }),
        output: result.get("output").cloned(),
        error,
        usage: finalize_usage(result.get("usage")),
        cost: result
            .get("cost")
            .and_then(Value::as_f64)
            .filter(|c| *c >= 0.0),
        duration_ms: result.get("durationMs").and_then(Value::as_u64),
    };
    state.runs.close(run_id, terminal, now);
    Ok(json_response(StatusCode::OK, &json!({ "ok": true })))
}

/// `POST /api/runs/{id}/events/heartbeat`.
pub(crate) fn heartbeat(
    state: &mut State,
    req: &ParsedRequest,
    run_id: &str,
) -> Result<Response, Problem> {
    verify(state, req, run_id)?;
    if let Some(sink) = state.runs.get_mut(run_id).and_then(|r| r.sink.as_mut()) {
        sink.heartbeats += 1;
    }
    Ok(json_response(StatusCode::OK, &json!({ "ok": true })))
}

impl FakeInstance {
    /// The CloudEvents a reported run accepted, in arrival order (replays
    /// and rejected posts excluded).
    pub fn reported_events(&self, run_id: &str) -> Vec<Value> {
        self.with(|s| {
            s.runs
                .get(run_id)
                .and_then(|r| r.sink.as_ref())
                .map(|sink| sink.received.clone())
                .unwrap_or_default()
        })
    }

    /// The RunResult body the reported run was finalized with.
    pub fn reported_finalize(&self, run_id: &str) -> Option<Value> {
        self.with(|s| s.runs.get(run_id)?.sink.as_ref()?.finalize_body.clone())
    }

    /// The webhook secret the sink of a reported run checks (to prove it
    /// never leaks into the CLI's output).
    pub fn reported_sink_secret(&self, run_id: &str) -> Option<String> {
        self.with(|s| Some(s.runs.get(run_id)?.sink.as_ref()?.secret.clone()))
    }

    /// Signed heartbeats the reported run sent.
    pub fn reported_heartbeats(&self, run_id: &str) -> usize {
        self.with(|s| {
            s.runs
                .get(run_id)
                .and_then(|r| r.sink.as_ref())
                .map_or(0, |sink| sink.heartbeats)
        })
    }

    /// The next `times` signed, well-formed event posts (any reported run)
    /// answer `status` without being ingested (the same `webhook-id` may
    /// be retried).
    pub fn fail_event_ingestion(&self, times: u32, status: u16) {
        self.with(|s| s.runs.ingestion_faults.events = Some((times, status)));
    }

    /// The next `times` signed finalize posts answer `status`, run left open.
    pub fn fail_finalize(&self, times: u32, status: u16) {
        self.with(|s| s.runs.ingestion_faults.finalize = Some((times, status)));
    }

    /// From now on, registrations hand out a secret the sink does not
    /// check against, so every signed post gets 401 `invalid_signature`.
    pub fn hand_out_wrong_sink_secrets(&self) {
        self.with(|s| s.runs.ingestion_faults.wrong_secret = true);
    }

    /// Make the sink of a reported run expire now (its posts get 410).
    pub fn expire_sink(&self, run_id: &str) {
        self.with(|s| {
            if let Some(sink) = s.runs.get_mut(run_id).and_then(|r| r.sink.as_mut()) {
                sink.expires_at = OffsetDateTime::now_utc() - time::Duration::seconds(1);
            }
        });
    }
}
