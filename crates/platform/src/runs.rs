//! Runs executed by the platform (docs/run.md, "Remote runs"): trigger,
//! the run record, its log rows, cancel. Typed calls over a [`PlatformAccess`];
//! nothing here prints or loops forever.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Map, Value};

use crate::access::{PlatformAccess, read_capped};
use crate::agents::encode_component;
use crate::error::{PlatformError, Result};

/// Statuses after which a run never changes again.
pub const TERMINAL_STATUSES: [&str; 4] = ["success", "failed", "timeout", "cancelled"];

/// Waits before the second and third trigger attempts on 502/503/504.
pub const TRIGGER_RETRY_DELAYS: [Duration; 2] =
    [Duration::from_millis(500), Duration::from_millis(1500)];

/// Log pages followed per call through `hasMore` (a runaway guard).
pub const MAX_LOG_PAGES: usize = 50;

/// Larger replies are refused (a log page holds at most 1000 rows).
const MAX_REPLY_BYTES: u64 = 16 * 1024 * 1024;

/// A reply read whole: what a refused trigger is worded from.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub reason: String,
    pub body: Vec<u8>,
}

/// What the trigger sends besides the agent.
#[derive(Debug, Clone, Default)]
pub struct TriggerBody {
    /// Sent verbatim; the server applies defaults and validates.
    pub input: Map<String, Value>,
    pub model_id: Option<String>,
    pub proxy_id: Option<String>,
}

impl TriggerBody {
    fn to_json(&self) -> Value {
        let mut body = Map::new();
        body.insert("input".into(), Value::Object(self.input.clone()));
        if let Some(model) = &self.model_id {
            body.insert("modelId".into(), Value::String(model.clone()));
        }
        if let Some(proxy) = &self.proxy_id {
            body.insert("proxyId".into(), Value::String(proxy.clone()));
        }
        Value::Object(body)
    }
}

/// One `run_logs` row.
#[derive(Debug, Clone, PartialEq)]
pub struct LogRow {
    /// Monotonic per instance; `None` when the server sent none.
    pub id: Option<i64>,
    /// The whole row as sent.
    pub raw: Value,
}

impl LogRow {
    fn from_value(raw: Value) -> Self {
        LogRow {
            id: raw.get("id").and_then(Value::as_i64),
            raw,
        }
    }

    pub fn str(&self, key: &str) -> Option<&str> {
        self.raw.get(key).and_then(Value::as_str)
    }
}

/// The log rows fetched by one [`RunsApi::logs`] call.
#[derive(Debug, Default)]
pub struct LogBatch {
    pub rows: Vec<LogRow>,
    /// Why the paging stopped early, if it did (rows before it are kept).
    pub error: Option<PlatformError>,
}

pub struct RunsApi<'a> {
    access: &'a PlatformAccess,
    retry_delays: Vec<Duration>,
}

/// The message of a problem+json (`detail`, then `message`, then `title`)
/// or of a plain JSON error, with the per-field `errors[]` appended.
pub fn error_message(body: &[u8]) -> Option<String> {
    let json: Value = serde_json::from_slice(body).ok()?;
    let text = ["detail", "message", "title", "error"]
        .iter()
        .find_map(|k| json.get(k).and_then(Value::as_str))
        .map(str::to_string)?;
    let extra: Vec<String> = json
        .get("errors")
        .and_then(Value::as_array)
        .map(|errors| {
            errors
                .iter()
                .filter_map(|e| {
                    let message = e.get("message").and_then(Value::as_str)?;
                    Some(match e.get("field").and_then(Value::as_str) {
                        Some(field) if !message.contains(field) => format!("{field}: {message}"),
                        _ => message.to_string(),
                    })
                })
                .filter(|m| !text.contains(m.as_str()))
                .collect()
        })
        .unwrap_or_default();
    if extra.is_empty() {
        Some(text)
    } else {
        Some(format!("{text} ({})", extra.join("; ")))
    }
}

/// The machine `code` of a problem+json error body.
pub fn error_code(body: &[u8]) -> Option<String> {
    let json: Value = serde_json::from_slice(body).ok()?;
    json.get("code").and_then(Value::as_str).map(str::to_string)
}

fn api_error(path: &str, resp: &Reply) -> PlatformError {
    let detail = error_message(&resp.body).unwrap_or_else(|| {
        format!("HTTP {} {}", resp.status, resp.reason)
            .trim()
            .to_string()
    });
    PlatformError::Api {
        status: resp.status,
        message: format!("{path}: {detail}"),
        body: serde_json::from_slice(&resp.body).ok(),
    }
}

fn parse_json(path: &str, resp: &Reply) -> Result<Value> {
    serde_json::from_slice(&resp.body).map_err(|_| {
        PlatformError::Protocol(format!(
            "The instance sent a reply to {path} that is not JSON (HTTP {}).",
            resp.status
        ))
    })
}

impl<'a> RunsApi<'a> {
    pub fn new(access: &'a PlatformAccess) -> Self {
        RunsApi {
            access,
            retry_delays: TRIGGER_RETRY_DELAYS.to_vec(),
        }
    }

    /// One request, its reply read whole (bounded).
    async fn call(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<Reply> {
        let resp = self.access.send_with(method, path, headers, body).await?;
        let status = resp.status();
        let url = format!("{}{path}", self.access.instance());
        Ok(Reply {
            status: status.as_u16(),
            reason: status.canonical_reason().unwrap_or("").to_string(),
            body: read_capped(resp, MAX_REPLY_BYTES, &url).await?,
        })
    }

    /// `POST /api/agents/@scope/name/run[?version=spec]` (`agent_id` is
    /// `@scope/name`, sent as is: the route refuses `%40`) with the
    /// `Idempotency-Key`, retried on 502/503/504 (the key makes a retry of
    /// an attempt that did land replay it instead of starting a second
    /// run). Returns the created run resource; a non-2xx reply comes back
    /// as the raw response so the caller can word it.
    pub async fn trigger(
        &self,
        agent_id: &str,
        spec: Option<&str>,
        body: &TriggerBody,
        idempotency_key: &str,
    ) -> Result<std::result::Result<Value, Reply>> {
        let mut path = format!("/api/agents/{agent_id}/run");
        if let Some(spec) = spec {
            path.push_str("?version=");
            path.push_str(&encode_component(spec));
        }
        let headers = [("Idempotency-Key", idempotency_key)];
        let json = body.to_json();
        let mut delays = self.retry_delays.iter();
        loop {
            let resp = self
                .call(Method::POST, &path, &headers, Some(&json))
                .await?;
            if (200..300).contains(&resp.status) {
                let run = parse_json(&path, &resp)?;
                let has_id = run
                    .get("id")
                    .and_then(Value::as_str)
                    .is_some_and(|id| !id.is_empty());
                if !has_id {
                    return Err(PlatformError::Protocol(format!(
                        "The trigger reply (HTTP {}) has no run id; the instance may be incompatible with this CLI.",
                        resp.status
                    )));
                }
                return Ok(Ok(run));
            }
            let transient = matches!(resp.status, 502..=504);
            match delays.next() {
                Some(delay) if transient => tokio::time::sleep(*delay).await,
                _ => return Ok(Err(resp)),
            }
        }
    }

    /// `GET /api/runs/{id}[?wait=seconds]`: the run record (`wait` holds the
    /// reply until the run is terminal or the time is up).
    pub async fn record(&self, run_id: &str, wait: Option<u32>) -> Result<Value> {
        let mut path = format!("/api/runs/{}", encode_component(run_id));
        if let Some(seconds) = wait {
            path.push_str(&format!("?wait={seconds}"));
        }
        let resp = self.call(Method::GET, &path, &[], None).await?;
        if !(200..300).contains(&resp.status) {
            return Err(api_error(&path, &resp));
        }
        let record = parse_json(&path, &resp)?;
        if !record.get("status").is_some_and(Value::is_string) {
            return Err(PlatformError::Protocol(format!(
                "The run record from {path} has no status."
            )));
        }
        Ok(record)
    }

    /// `GET /api/runs/{id}/logs[?since=id]`, following `hasMore` for up to
    /// [`MAX_LOG_PAGES`] pages. A failing page ends the batch with what came
    /// before it.
    pub async fn logs(&self, run_id: &str, since: Option<i64>) -> LogBatch {
        let mut batch = LogBatch::default();
        let mut cursor = since;
        for _ in 0..MAX_LOG_PAGES {
            let mut path = format!("/api/runs/{}/logs", encode_component(run_id));
            if let Some(since) = cursor {
                path.push_str(&format!("?since={since}"));
            }
            let page = match self.call(Method::GET, &path, &[], None).await {
                Ok(resp) if (200..300).contains(&resp.status) => parse_json(&path, &resp),
                Ok(resp) => Err(api_error(&path, &resp)),
                Err(err) => Err(err),
            };
            let page = match page {
                Ok(page) => page,
                Err(err) => {
                    batch.error = Some(err);
                    break;
                }
            };
            let rows: Vec<LogRow> = page
                .get("data")
                .and_then(Value::as_array)
                .map(|rows| rows.iter().cloned().map(LogRow::from_value).collect())
                .unwrap_or_default();
            let last = rows.iter().rev().find_map(|r| r.id);
            batch.rows.extend(rows);
            let more = page.get("hasMore").and_then(Value::as_bool) == Some(true);
            match last {
                Some(last) if more && Some(last) != cursor => cursor = Some(last),
                _ => break,
            }
        }
        batch
    }

    /// `POST /api/runs/{id}/cancel {}`; 409 (already terminal) is success.
    pub async fn cancel(&self, run_id: &str) -> Result<()> {
        let path = format!("/api/runs/{}/cancel", encode_component(run_id));
        let resp = self
            .call(Method::POST, &path, &[], Some(&Value::Object(Map::new())))
            .await?;
        if (200..300).contains(&resp.status) || resp.status == 409 {
            return Ok(());
        }
        Err(api_error(&path, &resp))
    }
}

/// Whether a run status is final.
pub fn is_terminal(status: &str) -> bool {
    TERMINAL_STATUSES.contains(&status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problem_details_read_as_one_line() {
        let body = br#"{"type":"about:blank","title":"Validation Failed","status":400,"code":"validation_failed","detail":"input.topic: must have required property 'topic'"}"#;
        assert_eq!(
            error_message(body).as_deref(),
            Some("input.topic: must have required property 'topic'")
        );
        assert_eq!(error_code(body).as_deref(), Some("validation_failed"));
        let with_errors = br#"{"title":"Validation Failed","detail":"Invalid input","errors":[{"field":"input.topic","message":"must have required property 'topic'"}]}"#;
        assert_eq!(
            error_message(with_errors).as_deref(),
            Some("Invalid input (input.topic: must have required property 'topic')")
        );
        assert_eq!(error_message(b"<html>"), None);
    }

    #[test]
    fn trigger_body_sends_only_what_is_set() {
        let mut body = TriggerBody::default();
        assert_eq!(body.to_json().to_string(), r#"{"input":{}}"#);
        body.model_id = Some("m".into());
        body.input.insert("topic".into(), Value::String("x".into()));
        assert_eq!(
            body.to_json().to_string(),
            r#"{"input":{"topic":"x"},"modelId":"m"}"#
        );
    }
}
