//! Tool-result truncation before transport (docs/afps.md#tool-result-truncation).

use serde_json::{Map, Value};

/// Default cap on a forwarded tool result, bytes.
pub const DEFAULT_TOOL_RESULT_BYTE_LIMIT: usize = 2048;

/// The cap from the raw `TOOL_RESULT_BYTE_LIMIT` value (the caller reads
/// the environment): a positive integer, else 2048.
pub fn tool_result_byte_limit(raw: Option<&str>) -> usize {
    raw.and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|v| *v > 0)
        .unwrap_or(DEFAULT_TOOL_RESULT_BYTE_LIMIT)
}

/// Cut a string at a UTF-8 boundary at or below `limit` bytes, adding
/// `…(truncated, N bytes)`; unchanged when it fits.
pub fn truncate_string(s: &str, limit: usize) -> String {
    if s.len() <= limit {
        return s.to_string();
    }
    let mut cut = limit;
    while cut > 0 && !s.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}…(truncated, {} bytes)", &s[..cut], s.len())
}

/// Truncate a tool result for transport: strings are cut with a marker;
/// arrays and objects whose JSON exceeds `limit` become
/// `{"__truncated":true,"reason":"size","bytes":N,"limit":L,"preview":…}`
/// (preview = the first `min(512, limit)` bytes of the JSON, marked);
/// other values are returned unchanged.
pub fn truncate_tool_result(result: &Value, limit: usize) -> Value {
    match result {
        Value::String(s) => Value::String(truncate_string(s, limit)),
        Value::Array(_) | Value::Object(_) => {
            let json = appstrate_jsjson::stringify(result);
            if json.len() <= limit {
                return result.clone();
            }
            let mut m = Map::new();
            m.insert("__truncated".into(), Value::Bool(true));
            m.insert("reason".into(), Value::String("size".into()));
            m.insert("bytes".into(), Value::from(json.len()));
            m.insert("limit".into(), Value::from(limit));
            m.insert(
                "preview".into(),
                Value::String(truncate_string(&json, limit.min(512))),
            );
            Value::Object(m)
        }
        other => other.clone(),
    }
}
