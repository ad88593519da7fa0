//! Runs: the record, its `run_logs` rows, and the platform-executed kind.
//! Routes: `POST /api/agents/@s/n/run`, `GET /api/runs/{id}[?wait=]`,
//! `GET /api/runs/{id}/logs`, `POST /api/runs/{id}/cancel`, `GET /api/runs`,
//! `GET /api/agents/@s/n/runs`.
//!
//! Execution is simulated: each agent follows the [`RunScript`] a test set
//! with [`FakeInstance::script_runs`]; a task appends its log rows over
//! time, then closes the run the way the platform's finalize does.
//!
//! | file | what |
//! | --- | --- |
//! | `script.rs` | [`RunScript`] and the task that plays it |
//! | `store.rs` | records, log rows, the store, finalize |
//! | `input.rs` | input layering and schema checks |
//! | `trigger.rs` | `POST …/run` with its idempotency layer |
//! | `read.rs` | get (long poll), logs, cancel, lists |
//! | `mod.rs` | what a test reads back ([`RunInfo`]) |

mod input;
mod read;
mod script;
mod store;
mod trigger;

use std::time::{Duration, Instant};

use serde_json::Value;

use super::FakeInstance;

pub(crate) use input::{effective_input, input_errors, input_schema, output_schema};
pub(crate) use read::{cancel, get_run, list_agent_runs, list_runs, logs};
pub use script::{RunScript, ScriptedRow};
pub(crate) use store::{LogRow, NewRun, RunRecord, RunStore, Terminal};
pub(crate) use trigger::{runner_context, trigger};

/// The platform's message for a run that finished without using a token.
pub(crate) const LLM_UNREACHABLE: &str = "The AI agent could not reach the LLM API — check that the API key is valid and the provider is accessible";

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
