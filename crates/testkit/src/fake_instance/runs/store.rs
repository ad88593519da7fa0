//! The runs and their `run_logs` rows: the record and its DTO, the store
//! the state holds, and the platform's finalize ([`RunStore::close`]).

use std::collections::HashMap;

use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use super::super::platform::AppScope;
use super::super::reported_runs::Sink;
use super::super::state::{Problem, State, iso};
use super::LLM_UNREACHABLE;
use super::input::input_errors;
use super::script::RunScript;

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

/// What both kinds of run (platform-executed and reported) start from.
pub(crate) struct NewRun<'a> {
    pub scope: &'a AppScope,
    pub id: String,
    pub package_id: String,
    /// `running` (platform) or `pending` (reported, until its first event).
    pub status: &'static str,
    /// `platform` or `remote`.
    pub run_origin: &'static str,
    pub input: Map<String, Value>,
    pub version_label: Option<String>,
    /// `X-Appstrate-Runner-Name` / `-Kind`, or the CLI session's.
    pub runner: (Option<String>, Option<String>),
    pub run_number: u64,
    pub started_at: OffsetDateTime,
}

impl RunRecord {
    /// A run that has just started: nothing measured or ended yet, and no
    /// model, overrides, snapshot, sink or output schema (callers add theirs).
    pub(crate) fn new(run: NewRun<'_>) -> RunRecord {
        let (runner_name, runner_kind) = run.runner;
        RunRecord {
            id: run.id,
            org_id: run.scope.org_id.clone(),
            app_id: run.scope.app_id.clone(),
            package_id: run.package_id,
            user_id: Some(run.scope.user_id.clone()),
            api_key_id: run.scope.api_key_id.clone(),
            status: run.status.into(),
            input: Value::Object(run.input),
            result: None,
            error: None,
            started_at: run.started_at,
            completed_at: None,
            duration: None,
            cost: None,
            token_usage: None,
            version_ref: Some(run.version_label.clone().unwrap_or_else(|| "draft".into())),
            version_label: run.version_label,
            model_label: None,
            model_source: None,
            runner_name,
            runner_kind,
            run_origin: run.run_origin,
            context_snapshot: None,
            dependency_overrides: None,
            run_number: run.run_number,
            sink: None,
            output_schema: None,
        }
    }

    pub(crate) fn is_terminal(&self) -> bool {
        matches!(
            self.status.as_str(),
            "success" | "failed" | "timeout" | "cancelled"
        )
    }

    pub(crate) fn to_json(&self, state: &State) -> Value {
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
    pub(crate) fn to_json(&self) -> Value {
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
pub(super) struct CachedReply {
    pub(super) body_hash: String,
    pub(super) status: u16,
    pub(super) content_type: String,
    pub(super) body: Vec<u8>,
}

#[derive(Default)]
pub(crate) struct RunStore {
    pub runs: Vec<RunRecord>,
    pub logs: Vec<LogRow>,
    next_log_id: u64,
    pub(super) scripts: HashMap<String, RunScript>,
    pub(crate) ingestion_faults: super::super::reported_runs::IngestionFaults,
    pub(super) idempotency: HashMap<(String, String, String), CachedReply>,
}

pub(super) fn level_rank(level: &str) -> u8 {
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
    pub(super) fn scoped(&self, scope: &AppScope, id: &str) -> Result<&RunRecord, Problem> {
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
        let usage = match (&terminal.usage, terminal.status.as_str()) {
            (Some(usage), _) => usage.clone(),
            (None, "success") => json!({ "input_tokens": 0, "output_tokens": 0 }),
            (None, _) => run
                .token_usage
                .clone()
                .unwrap_or_else(|| json!({ "input_tokens": 0, "output_tokens": 0 })),
        };
        let verdict = Verdict::of(run, &terminal, &usage);
        let result = terminal
            .output
            .clone()
            .filter(|o| !o.is_null())
            .map(|output| json!({ "output": output }));
        let duration = terminal.duration_ms.unwrap_or_else(|| {
            u64::try_from((now - run.started_at).whole_milliseconds()).unwrap_or(0)
        });
        run.status = verdict.status.clone();
        run.error = verdict.error.clone();
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
        self.append_closing_rows(run_id, verdict, result, now);
        true
    }

    /// `system/output_validation` (when the output failed its schema),
    /// `result/result` (a success with output), `system/run_completed`.
    fn append_closing_rows(
        &mut self,
        run_id: &str,
        verdict: Verdict,
        result: Option<Value>,
        now: OffsetDateTime,
    ) {
        let Verdict {
            status,
            error,
            output_errors,
        } = verdict;
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
    }
}

/// How a run really ended: a success whose output misses its schema, or
/// that used no token, is recorded `failed`.
struct Verdict {
    status: String,
    error: Option<String>,
    /// The schema's complaints about the output, for the validation row.
    output_errors: Option<Vec<String>>,
}

impl Verdict {
    fn of(run: &RunRecord, terminal: &Terminal, usage: &Value) -> Verdict {
        let mut verdict = Verdict {
            status: terminal.status.clone(),
            error: terminal.error.clone(),
            output_errors: None,
        };
        if verdict.status == "success"
            && let Some(schema) = &run.output_schema
        {
            let emitted = terminal.output.as_ref().and_then(Value::as_object);
            let errors: Vec<String> = input_errors(schema, &emitted.cloned().unwrap_or_default())
                .into_iter()
                .map(|(field, message)| format!("Field '{field}': {message}"))
                .collect();
            if !errors.is_empty() {
                let missing = errors.join("; ");
                verdict.status = "failed".into();
                verdict.error = Some(if emitted.is_some() {
                    format!("Output validation failed: {missing}")
                } else {
                    format!(
                        "Agent finished without calling the required `output` tool. This agent \
                         declares an output schema, so it must call `output` exactly once before \
                         finishing with all required fields (missing: {missing})."
                    )
                });
                verdict.output_errors = Some(errors);
            }
        }
        let tokens = |key: &str| usage.get(key).and_then(Value::as_u64).unwrap_or(0);
        if verdict.status == "success"
            && tokens("input_tokens") == 0
            && tokens("output_tokens") == 0
        {
            verdict.status = "failed".into();
            verdict.error = Some(LLM_UNREACHABLE.into());
        }
        verdict
    }
}
