//! RunEvents (docs/afps.md#run-events): the open event envelope, the canonical-shape
//! guard, and the reducer that folds events into a [`RunResult`].

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The canonical event types, in the platform's order.
pub const CANONICAL_EVENT_TYPES: [&str; 7] = [
    "memory.added",
    "pinned.set",
    "output.emitted",
    "log.written",
    "appstrate.progress",
    "appstrate.error",
    "appstrate.metric",
];

/// The token counters of [`TokenUsage`].
pub const TOKEN_USAGE_COUNTERS: [&str; 4] = [
    "input_tokens",
    "output_tokens",
    "cache_creation_input_tokens",
    "cache_read_input_tokens",
];

/// A RunEvent: an open JSON object with `type`, `timestamp` (Unix ms),
/// `runId`, optional `toolCallId`, and any payload keys. Key order is kept,
/// so a line written with [`RunEvent::to_json`] has the producer's order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RunEvent(pub Map<String, Value>);

impl RunEvent {
    /// `{type, timestamp, runId}`, ready for payload keys via [`RunEvent::with`].
    pub fn new(event_type: &str, run_id: &str, timestamp_ms: i64) -> Self {
        let mut m = Map::new();
        m.insert("type".into(), Value::String(event_type.into()));
        m.insert("timestamp".into(), Value::from(timestamp_ms));
        m.insert("runId".into(), Value::String(run_id.into()));
        RunEvent(m)
    }

    /// Add (or replace) a key, builder style.
    pub fn with(mut self, key: &str, value: Value) -> Self {
        self.0.insert(key.into(), value);
        self
    }

    /// `type`, or `""` when missing.
    pub fn event_type(&self) -> &str {
        self.0.get("type").and_then(Value::as_str).unwrap_or("")
    }

    /// `runId`, when a string.
    pub fn run_id(&self) -> Option<&str> {
        self.0.get("runId").and_then(Value::as_str)
    }

    /// `timestamp` in milliseconds, when a number.
    pub fn timestamp(&self) -> Option<f64> {
        self.0.get("timestamp").and_then(Value::as_f64)
    }

    /// One payload key.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key)
    }

    /// The event as one line of compact JSON (JS `JSON.stringify`).
    pub fn to_json(&self) -> String {
        appstrate_jsjson::stringify(&Value::Object(self.0.clone()))
    }

    /// True when the type is canonical and the payload has the canonical
    /// shape (`isCanonicalRunEvent`). Non-canonical events pass through sinks
    /// and are ignored by the reducer.
    pub fn is_canonical(&self) -> bool {
        let e = &self.0;
        let scope_ok = || {
            matches!(e.get("scope"), None | Some(Value::String(_))) && scope_valid(e.get("scope"))
        };
        let obj_or_absent = |k: &str| matches!(e.get(k), None | Some(Value::Object(_)));
        match self.event_type() {
            "memory.added" => e.get("content").is_some_and(Value::is_string) && scope_ok(),
            "pinned.set" => {
                e.get("key")
                    .and_then(Value::as_str)
                    .is_some_and(|k| !k.is_empty())
                    && e.contains_key("content")
                    && scope_ok()
            }
            "output.emitted" => e.contains_key("data"),
            "log.written" => {
                matches!(
                    e.get("level").and_then(Value::as_str),
                    Some("info" | "warn" | "error")
                ) && e.get("message").is_some_and(Value::is_string)
            }
            "appstrate.progress" | "appstrate.error" => {
                e.get("message").is_some_and(Value::is_string) && obj_or_absent("data")
            }
            "appstrate.metric" => {
                let usage_ok = match e.get("usage") {
                    None => true,
                    Some(Value::Object(u)) => TOKEN_USAGE_COUNTERS
                        .iter()
                        .all(|c| u.get(*c).is_none_or(Value::is_number)),
                    Some(_) => false,
                };
                let cost_ok = e
                    .get("cost")
                    .is_none_or(|c| c.as_f64().is_some_and(|c| c >= 0.0));
                let dur_ok = e.get("durationMs").is_none_or(Value::is_number);
                usage_ok && cost_ok && dur_ok
            }
            _ => false,
        }
    }
}

fn scope_valid(scope: Option<&Value>) -> bool {
    match scope {
        None => true,
        Some(Value::String(s)) => s == "actor" || s == "shared",
        Some(_) => false,
    }
}

/// A memory in a [`RunResult`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemoryEntry {
    /// Memory text.
    pub content: String,
    /// `actor` or `shared`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

/// A pinned slot in a [`RunResult`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PinnedSlot {
    /// Slot content (`null` when the event carried none).
    pub content: Value,
    /// `actor` or `shared`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

/// A log line in a [`RunResult`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogEntry {
    /// `info`, `warn` or `error`.
    pub level: String,
    /// Log text.
    pub message: String,
    /// The event's timestamp, verbatim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<Value>,
}

/// Token counters, as the platform stores them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct TokenUsage {
    /// Prompt tokens.
    pub input_tokens: u64,
    /// Generated tokens.
    pub output_tokens: u64,
    /// Tokens written to the prompt cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_creation_input_tokens: Option<u64>,
    /// Tokens read from the prompt cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_read_input_tokens: Option<u64>,
}

/// A run's error.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunError {
    /// Machine code (`adapter_error`, `timeout`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// One-line message.
    pub message: String,
    /// Stack or detail text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack: Option<String>,
    /// Extra context.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<Value>,
    /// When it happened (ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<Value>,
}

/// The result of a run: the reduction of its events plus what the runner
/// adds (status, error, usage, cost, duration). Serialises with the
/// platform's key names and order (`memories, output, logs, pinned, …`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunResult {
    /// Appended `memory.added` contents.
    pub memories: Vec<MemoryEntry>,
    /// The last `output.emitted` data (replaced, never merged), or null.
    pub output: Value,
    /// Appended `log.written` lines.
    pub logs: Vec<LogEntry>,
    /// `pinned.set`, last write wins per key; absent when none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pinned: Option<Map<String, Value>>,
    /// Run error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<RunError>,
    /// `success`, `failed`, `timeout` or `cancelled`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Wall-clock duration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    /// Cumulative token usage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<TokenUsage>,
    /// Cost in USD.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<f64>,
}

impl RunResult {
    /// The empty baseline: no memories, `output: null`, no logs, no pinned.
    pub fn empty() -> Self {
        RunResult {
            output: Value::Null,
            ..Default::default()
        }
    }

    /// Fold one event in (non-canonical and lifecycle events are ignored).
    pub fn fold(&mut self, event: &RunEvent) {
        if !event.is_canonical() {
            return;
        }
        let e = &event.0;
        let scope = || e.get("scope").and_then(Value::as_str).map(str::to_string);
        match event.event_type() {
            "memory.added" => self.memories.push(MemoryEntry {
                content: e
                    .get("content")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                scope: scope(),
            }),
            "pinned.set" => {
                let key = e
                    .get("key")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                let mut slot = Map::new();
                slot.insert(
                    "content".into(),
                    e.get("content").cloned().unwrap_or(Value::Null),
                );
                if let Some(s) = scope() {
                    slot.insert("scope".into(), Value::String(s));
                }
                self.pinned
                    .get_or_insert_with(Map::new)
                    .insert(key, Value::Object(slot));
            }
            "output.emitted" => self.output = e.get("data").cloned().unwrap_or(Value::Null),
            "log.written" => self.logs.push(LogEntry {
                level: e
                    .get("level")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                message: e
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                timestamp: e.get("timestamp").cloned(),
            }),
            _ => {}
        }
    }

    /// The result as JSON (keys in the platform's order).
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// Reduce a list of events to a [`RunResult`] (`reduceEvents`).
pub fn reduce_events<'a>(events: impl IntoIterator<Item = &'a RunEvent>) -> RunResult {
    let mut result = RunResult::empty();
    for e in events {
        result.fold(e);
    }
    result
}
