//! From what the platform stores about a run back to what a local run
//! prints (docs/run.md, "Remote runs"): `run_logs` rows become RunEvents,
//! the run record's usage becomes the closing `appstrate.metric`, and the
//! record becomes the RunResult.

use appstrate_afps::{RunError, RunEvent, RunResult, TokenUsage};
use serde_json::{Map, Value, json};

/// The error code of every failed remote run's RunResult.
pub const REMOTE_RUN_ERROR: &str = "remote_run_error";

/// Unix ms of an RFC 3339 timestamp (`createdAt`, `completed_at`).
pub fn parse_timestamp_ms(text: &str) -> Option<i64> {
    let at =
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()?;
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).ok()
}

fn stamp(ty: &str, run_id: &str, timestamp: i64) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("type".into(), json!(ty));
    m.insert("timestamp".into(), json!(timestamp));
    m.insert("runId".into(), json!(run_id));
    m
}

/// The RunEvent a `run_logs` row stands for, or `None` for rows that have
/// none (`result/result`, `system/run_completed`, …: the finalize line
/// covers them). `now_ms` stamps rows without a usable `createdAt`.
pub fn log_row_event(row: &Value, run_id: &str, now_ms: i64) -> Option<Value> {
    let field = |k: &str| row.get(k).and_then(Value::as_str);
    let timestamp = field("createdAt")
        .and_then(parse_timestamp_ms)
        .unwrap_or(now_ms);
    let run_id = field("runId").unwrap_or(run_id);
    let object_data = || row.get("data").filter(|d| d.is_object()).cloned();
    let message = field("message");
    let mut event = match (field("type")?, field("event")?) {
        ("progress", "progress") => {
            let mut e = stamp("appstrate.progress", run_id, timestamp);
            e.insert("message".into(), json!(message.unwrap_or("")));
            if let Some(data) = object_data() {
                e.insert("data".into(), data);
            }
            e
        }
        // The `log` tool: the same `log.written` a local run emits (silent
        // in the human renderer, kept in `--json` and the RunResult).
        ("progress", "log") => {
            let level = field("level").unwrap_or("info");
            let mut e = stamp("log.written", run_id, timestamp);
            e.insert("level".into(), json!(level));
            e.insert("message".into(), json!(message.unwrap_or("")));
            e
        }
        ("result", "output") => {
            let mut e = stamp("output.emitted", run_id, timestamp);
            e.insert(
                "data".into(),
                row.get("data").cloned().unwrap_or(Value::Null),
            );
            e
        }
        ("system", "adapter_error") => {
            let mut e = stamp("appstrate.error", run_id, timestamp);
            e.insert("message".into(), json!(message.unwrap_or("adapter error")));
            if let Some(data) = object_data() {
                e.insert("data".into(), data);
            }
            e
        }
        _ => return None,
    };
    if let Some(call) = row.get("toolCallId").and_then(Value::as_str) {
        event.insert("toolCallId".into(), json!(call));
    }
    Some(Value::Object(event))
}

fn record_usage(record: &Value) -> Option<TokenUsage> {
    let usage = record
        .get("token_usage")
        .or_else(|| record.get("tokenUsage"))
        .filter(|u| u.is_object())?;
    let n = |k: &str| usage.get(k).and_then(Value::as_u64);
    Some(TokenUsage {
        input_tokens: n("input_tokens").unwrap_or(0),
        output_tokens: n("output_tokens").unwrap_or(0),
        cache_creation_input_tokens: n("cache_creation_input_tokens"),
        cache_read_input_tokens: n("cache_read_input_tokens"),
    })
}

fn record_cost(record: &Value) -> Option<f64> {
    record
        .get("cost")
        .and_then(Value::as_f64)
        .filter(|c| c.is_finite() && *c >= 0.0)
}

fn record_duration(record: &Value) -> Option<u64> {
    record.get("duration").and_then(Value::as_u64)
}

/// The `appstrate.metric` a local run would have printed last: the platform
/// keeps only the totals on the record, not the events. `None` when the
/// record has neither token counts nor a cost.
pub fn metric_event(record: &Value, run_id: &str, now_ms: i64) -> Option<Value> {
    let usage = record_usage(record).filter(|u| u.input_tokens > 0 || u.output_tokens > 0);
    let cost = record_cost(record);
    if usage.is_none() && cost.is_none() {
        return None;
    }
    let timestamp = ["completed_at", "completedAt"]
        .iter()
        .find_map(|k| record.get(k).and_then(Value::as_str))
        .and_then(parse_timestamp_ms)
        .unwrap_or(now_ms);
    let mut e = stamp("appstrate.metric", run_id, timestamp);
    if let Some(u) = usage {
        e.insert(
            "usage".into(),
            json!({
                "input_tokens": u.input_tokens,
                "output_tokens": u.output_tokens,
                "cache_creation_input_tokens": u.cache_creation_input_tokens.unwrap_or(0),
                "cache_read_input_tokens": u.cache_read_input_tokens.unwrap_or(0),
            }),
        );
    }
    if let Some(cost) = cost {
        e.insert("cost".into(), json!(cost));
    }
    if let Some(ms) = record_duration(record) {
        e.insert("durationMs".into(), json!(ms));
    }
    Some(Value::Object(e))
}

/// The RunResult of a finished remote run. `folded` holds what the
/// rendered events reduced to (the `log` tool's lines, the last output);
/// the record wins where it knows better (output, status, error, usage).
/// Memories and pinned slots are not readable from the record.
pub fn run_result(record: &Value, status: &str, folded: &RunResult) -> RunResult {
    let output = record
        .get("result")
        .and_then(|r| r.get("output"))
        .cloned()
        .filter(|o| !o.is_null())
        .unwrap_or_else(|| folded.output.clone());
    let error = (status != "success").then(|| {
        let message = record
            .get("error")
            .and_then(|e| match e {
                Value::String(s) => Some(s.clone()),
                Value::Object(o) => o.get("message").and_then(Value::as_str).map(str::to_string),
                _ => None,
            })
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| format!("Run ended with status {status}"));
        RunError {
            code: Some(REMOTE_RUN_ERROR.into()),
            message,
            ..Default::default()
        }
    });
    RunResult {
        memories: Vec::new(),
        output,
        logs: folded.logs.clone(),
        pinned: Some(Map::new()),
        error,
        status: Some(status.to_string()),
        duration_ms: record_duration(record),
        usage: Some(record_usage(record).unwrap_or_default()),
        cost: record_cost(record),
    }
}

/// Folds a rendered event into the running reduction.
pub fn fold(result: &mut RunResult, event: &Value) {
    if let Value::Object(map) = event {
        result.fold(&RunEvent(map.clone()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RUN: &str = "run_1";

    fn row(ty: &str, event: &str, extra: Value) -> Value {
        let mut r = json!({"id": 7, "runId": RUN, "type": ty, "event": event,
                           "level": "info", "createdAt": "2026-01-15T10:30:00.250Z"});
        if let (Value::Object(r), Value::Object(extra)) = (&mut r, extra) {
            r.extend(extra);
        }
        r
    }

    #[test]
    fn progress_rows_become_progress_events_with_the_row_time() {
        let r = row(
            "progress",
            "progress",
            json!({"message": "Tool: output", "data": {"tool": "output", "args": {"a": 1}}}),
        );
        let e = log_row_event(&r, RUN, 0).expect("mapped");
        assert_eq!(
            e,
            json!({"type": "appstrate.progress", "timestamp": 1_768_473_000_250i64, "runId": RUN,
                   "message": "Tool: output", "data": {"tool": "output", "args": {"a": 1}}})
        );
        // A non-object `data` is left out, as the local renderer expects.
        let r = row(
            "progress",
            "progress",
            json!({"message": "boot", "data": [1]}),
        );
        assert!(
            log_row_event(&r, RUN, 0)
                .expect("mapped")
                .get("data")
                .is_none()
        );
    }

    #[test]
    fn output_error_and_log_rows_map_and_the_rest_is_dropped() {
        let out = log_row_event(&row("result", "output", json!({"data": {"n": 2}})), RUN, 0)
            .expect("output");
        assert_eq!(out["type"], "output.emitted");
        assert_eq!(out["data"], json!({"n": 2}));
        let err = log_row_event(
            &row("system", "adapter_error", json!({"message": "boom"})),
            RUN,
            0,
        )
        .expect("error");
        assert_eq!(err["type"], "appstrate.error");
        assert_eq!(err["message"], "boom");
        let log = log_row_event(
            &row(
                "progress",
                "log",
                json!({"level": "warn", "message": "careful"}),
            ),
            RUN,
            0,
        )
        .expect("log");
        assert_eq!(
            (&log["type"], &log["level"], &log["message"]),
            (&json!("log.written"), &json!("warn"), &json!("careful"))
        );
        for (ty, ev) in [("result", "result"), ("system", "run_completed")] {
            assert!(log_row_event(&row(ty, ev, json!({})), RUN, 0).is_none());
        }
        // No createdAt: stamped with the caller's clock.
        let bare = json!({"id": 1, "type": "progress", "event": "progress", "message": "x"});
        assert_eq!(
            log_row_event(&bare, RUN, 42).expect("mapped")["timestamp"],
            42
        );
    }

    #[test]
    fn metric_from_record_totals_or_nothing() {
        let record = json!({"status": "success", "cost": 0.0123, "duration": 900,
            "token_usage": {"input_tokens": 120, "output_tokens": 30},
            "completed_at": "2026-01-15T10:31:12Z"});
        let m = metric_event(&record, RUN, 0).expect("metric");
        assert_eq!(m["usage"]["input_tokens"], 120);
        assert_eq!(m["usage"]["cache_read_input_tokens"], 0);
        assert_eq!(m["cost"], 0.0123);
        assert_eq!(m["durationMs"], 900);
        assert_eq!(m["timestamp"], 1_768_473_072_000i64);
        assert!(metric_event(&json!({"status": "success", "token_usage": null}), RUN, 0).is_none());
    }

    #[test]
    fn result_carries_output_status_and_a_remote_error() {
        let record = json!({"status": "failed", "error": "model unreachable",
            "result": {"output": {"ok": false}}, "duration": 5, "cost": 0.5,
            "token_usage": {"input_tokens": 1, "output_tokens": 2}});
        let r = run_result(&record, "failed", &RunResult::empty());
        let v = r.to_value();
        assert_eq!(v["output"], json!({"ok": false}));
        assert_eq!(v["pinned"], json!({}));
        assert_eq!(
            v["error"],
            json!({"code": "remote_run_error", "message": "model unreachable"})
        );
        assert_eq!(v["usage"], json!({"input_tokens": 1, "output_tokens": 2}));
        // A cancelled run without an error text still reads as not a success.
        let r = run_result(
            &json!({"status": "cancelled"}),
            "cancelled",
            &RunResult::empty(),
        );
        assert_eq!(
            r.error.map(|e| e.message).as_deref(),
            Some("Run ended with status cancelled")
        );
        let ok = run_result(
            &json!({"status": "success", "result": null}),
            "success",
            &RunResult::empty(),
        );
        assert!(ok.error.is_none());
        assert_eq!(ok.output, Value::Null);
    }
}
