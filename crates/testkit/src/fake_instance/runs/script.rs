//! What a platform-executed run does ([`RunScript`], set by a test with
//! [`FakeInstance::script_runs`](super::super::FakeInstance::script_runs)),
//! and the task that plays it: rows appended over time, then the end the
//! platform's finalize writes.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::super::server::{Shared, lock};
use super::store::{RunRecord, Terminal};

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

/// Play a script: rows over time, then the end (unless cancelled first).
pub(super) async fn execute(shared: Shared, run_id: String, script: RunScript) {
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
