//! The execution context a run hands to the prompt builders (docs/afps.md#execution-context).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// What the agent sees of a run: input, memories, checkpoint, history,
/// pinned slots. Deserialises from the platform's camelCase JSON
/// (`context.json`), with every field but `runId` optional.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionContext {
    /// The run id.
    #[serde(default)]
    pub run_id: String,
    /// Merged input values (insertion order kept).
    #[serde(default)]
    pub input: Map<String, Value>,
    /// Memories, each `{content, createdAt?}` (kept as raw JSON).
    #[serde(default)]
    pub memories: Vec<Value>,
    /// Carry-over checkpoint; `None` when absent or null.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<Value>,
    /// Prior runs (only the Mustache view uses it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history: Option<Value>,
    /// Named pinned slots (platform only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pinned_slots: Option<Map<String, Value>>,
    /// Agent config (platform only; never rendered locally).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<Value>,
}

impl ExecutionContext {
    /// Merge a snapshot document (`{memories?, history?, checkpoint?}`):
    /// each present key replaces the context field; other keys are ignored.
    pub fn apply_snapshot(&mut self, snapshot: &Map<String, Value>) {
        if let Some(Value::Array(m)) = snapshot.get("memories") {
            self.memories = m.clone();
        }
        if let Some(h) = snapshot.get("history") {
            self.history = Some(h.clone());
        }
        if let Some(c) = snapshot.get("checkpoint") {
            self.checkpoint = if c.is_null() { None } else { Some(c.clone()) };
        }
    }
}
