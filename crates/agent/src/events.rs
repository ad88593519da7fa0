//! The RunEvents the loop emits (docs/run.md "Events and the end of a run"): every event is an
//! open JSON object stamped with `type`, `timestamp` (Unix ms) and `runId`.

use serde_json::{Map, Value, json};

use crate::model::Usage;

/// The type of a streamed piece of thinking.
pub const THINKING_DELTA: &str = "appstrate.thinking.delta";

/// Stamps events of one run. The clock is injectable so tests and the
/// golden files can pin timestamps.
#[derive(Clone)]
pub struct Stamp {
    pub run_id: String,
    clock: fn() -> u64,
}

pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// A local run's id: `cli_<ms>_<8 base36 chars>`.
/// A random RFC 4122 version 4 UUID in canonical form (CloudEvent and
/// webhook ids, credential-proxy session ids).
pub fn uuid_v4() -> String {
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

pub fn new_cli_run_id() -> String {
    const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let tail: String = (0..8)
        .map(|_| ALPHABET[rand::random_range(0..ALPHABET.len())] as char)
        .collect();
    format!("cli_{}_{tail}", now_ms())
}

impl Stamp {
    pub fn new(run_id: impl Into<String>) -> Self {
        Stamp {
            run_id: run_id.into(),
            clock: now_ms,
        }
    }

    pub fn with_clock(mut self, clock: fn() -> u64) -> Self {
        self.clock = clock;
        self
    }

    /// A bridge event: `{type, timestamp, runId, …payload}`.
    pub fn event(&self, ty: &str, payload: Value) -> Value {
        let mut m = Map::new();
        m.insert("type".into(), json!(ty));
        m.insert("timestamp".into(), json!((self.clock)()));
        m.insert("runId".into(), json!(self.run_id));
        if let Value::Object(p) = payload {
            m.extend(p);
        }
        Value::Object(m)
    }

    /// A runtime-tool event, in the order the original's emitter writes it:
    /// `{timestamp, runId, type, …}`; a timestamp the tool set is kept.
    pub fn tool_event(&self, event: &Value) -> Value {
        let mut m = Map::new();
        let ts = event
            .get("timestamp")
            .cloned()
            .unwrap_or(json!((self.clock)()));
        m.insert("timestamp".into(), ts);
        m.insert("runId".into(), json!(self.run_id));
        if let Value::Object(p) = event {
            for (k, v) in p {
                if k != "timestamp" && k != "runId" {
                    m.insert(k.clone(), v.clone());
                }
            }
        }
        Value::Object(m)
    }

    pub fn progress(&self, message: impl Into<String>, data: Value) -> Value {
        self.event(
            "appstrate.progress",
            json!({"message": message.into(), "data": data}),
        )
    }

    pub fn runtime_ready(&self, ready_ms: u64, extensions: usize) -> Value {
        self.event(
            "appstrate.progress",
            json!({
                "message": format!("runtime ready in {ready_ms}ms"),
                "data": {"bundleLoaded": true, "extensions": extensions, "totalToReadyMs": ready_ms},
                "level": "info"
            }),
        )
    }

    /// A piece of the model's thinking as it streams
    /// (`appstrate.thinking.delta`): shown and written with `--json`, never
    /// reported nor folded into the RunResult (see [`crate::sink::Sink::live`]).
    pub fn thinking_delta(&self, delta: &str) -> Value {
        self.event(THINKING_DELTA, json!({"delta": delta}))
    }

    pub fn error(&self, message: impl Into<String>) -> Value {
        self.event("appstrate.error", json!({"message": message.into()}))
    }

    /// The breadcrumb of a compaction (followed by a metric: the summary
    /// call is paid for).
    pub fn compaction(&self, done: &crate::compaction::Compaction) -> Value {
        let (before, after) = (done.tokens_before, done.estimated_tokens_after);
        self.progress(
            format!("Context compacted — {before} → {after} tokens"),
            json!({
                "event": "compaction",
                "reason": done.reason.as_str(),
                "tokensBefore": before,
                "estimatedTokensAfter": after,
                "inputTokens": done.usage.input,
                "outputTokens": done.usage.output,
            }),
        )
    }

    pub fn metric(&self, usage: &Usage, cost: f64) -> Value {
        self.event(
            "appstrate.metric",
            json!({"usage": usage_json(usage), "cost": cost}),
        )
    }
}

/// Usage in the RunEvent / RunResult shape.
pub fn usage_json(u: &Usage) -> Value {
    json!({
        "input_tokens": u.input,
        "output_tokens": u.output,
        "cache_creation_input_tokens": u.cache_write,
        "cache_read_input_tokens": u.cache_read,
    })
}
