//! The CloudEvents 1.0 envelope of the HttpSink and Standard Webhooks
//! HMAC signing (docs/afps.md#cloudevents-and-webhook-signing).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use serde_json::{Map, Value};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::date::iso_from_millis;
use crate::run_events::RunEvent;

/// The `dataschema` URI of a canonical event type.
pub fn canonical_event_schema_uri(event_type: &str) -> Option<String> {
    let base = match event_type {
        "memory.added" | "pinned.set" | "output.emitted" | "log.written" => {
            "https://schemas.afps.dev/v0/events"
        }
        "appstrate.progress" | "appstrate.error" | "appstrate.metric" => {
            "https://schemas.appstrate.dev/v0/events"
        }
        _ => return None,
    };
    Some(format!("{base}/{event_type}.schema.json"))
}

/// Wrap a RunEvent in a CloudEvents 1.0 envelope. `data` is the event
/// minus `type`, `timestamp`, `runId` and `toolCallId`; `dataschema` is
/// present only for canonical events; `time` comes from `now_ms`
/// (defaulting to the event timestamp).
pub fn build_cloud_event(event: &RunEvent, sequence: u64, id: &str, now_ms: Option<f64>) -> Value {
    let data: Map<String, Value> = event
        .0
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "type" | "timestamp" | "runId" | "toolCallId"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let now = now_ms.or_else(|| event.timestamp()).unwrap_or(0.0);
    let mut m = Map::new();
    m.insert("specversion".into(), Value::String("1.0".into()));
    m.insert("type".into(), Value::String(event.event_type().into()));
    let run_id = event
        .run_id()
        .map_or_else(|| "undefined".to_string(), str::to_string);
    m.insert(
        "source".into(),
        Value::String(format!("/afps/runs/{run_id}")),
    );
    m.insert("id".into(), Value::String(id.into()));
    m.insert(
        "time".into(),
        Value::String(iso_from_millis(now).unwrap_or_default()),
    );
    m.insert(
        "datacontenttype".into(),
        Value::String("application/json".into()),
    );
    m.insert("data".into(), Value::Object(data));
    if let Some(uri) =
        canonical_event_schema_uri(event.event_type()).filter(|_| event.is_canonical())
    {
        m.insert("dataschema".into(), Value::String(uri));
    }
    m.insert("sequence".into(), Value::from(sequence));
    Value::Object(m)
}

/// The three Standard Webhooks headers of one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookHeaders {
    /// `webhook-id`.
    pub id: String,
    /// `webhook-timestamp` (Unix seconds).
    pub timestamp: String,
    /// `webhook-signature`: `v1,<base64 HMAC-SHA256>`.
    pub signature: String,
}

fn hmac_b64(secret: &str, msg_id: &str, timestamp_sec: i64, body: &str) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(format!("{msg_id}.{timestamp_sec}.{body}").as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

/// Sign `<id>.<timestamp>.<body>` with the secret's UTF-8 bytes.
pub fn sign_webhook(secret: &str, msg_id: &str, timestamp_sec: i64, body: &str) -> WebhookHeaders {
    WebhookHeaders {
        id: msg_id.into(),
        timestamp: timestamp_sec.to_string(),
        signature: format!("v1,{}", hmac_b64(secret, msg_id, timestamp_sec, body)),
    }
}

/// Check a `webhook-signature` header (space-separated `v1,<sig>` list) in
/// constant time, refusing timestamps more than `tolerance_sec` from `now_sec`.
pub fn verify_webhook(
    secret: &str,
    msg_id: &str,
    timestamp_sec: i64,
    body: &str,
    signature_header: &str,
    now_sec: i64,
    tolerance_sec: i64,
) -> bool {
    if (now_sec - timestamp_sec).abs() > tolerance_sec {
        return false;
    }
    let expected = hmac_b64(secret, msg_id, timestamp_sec, body);
    signature_header.split_whitespace().any(|part| {
        part.strip_prefix("v1,").is_some_and(|sig| {
            sig.len() == expected.len() && bool::from(sig.as_bytes().ct_eq(expected.as_bytes()))
        })
    })
}
