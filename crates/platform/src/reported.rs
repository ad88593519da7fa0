//! Registering a local run with the platform so it is recorded like a
//! platform run (docs/run.md "Reporting"): `POST /api/runs/remote` answers
//! the run id, the two ingestion URLs and the HMAC secret the events are
//! signed with.

use reqwest::Method;
use serde_json::Value;
use zeroize::Zeroizing;

use crate::access::{PlatformAccess, read_capped};
use crate::error::{PlatformError, Result};

const REGISTER_PATH: &str = "/api/runs/remote";
const MAX_REPLY_BYTES: u64 = 1024 * 1024;
/// How much of a refusal's body the error message quotes.
const ERROR_BODY_CHARS: usize = 512;

/// A registered run: where its events and its result go, and the secret
/// that signs them. The secret never shows in `Debug`.
pub struct ReportedRun {
    pub id: String,
    pub events_url: String,
    pub finalize_url: String,
    secret: Zeroizing<String>,
}

impl std::fmt::Debug for ReportedRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReportedRun")
            .field("id", &self.id)
            .field("events_url", &self.events_url)
            .field("finalize_url", &self.finalize_url)
            .field("secret", &"<redacted>")
            .finish()
    }
}

impl ReportedRun {
    pub fn new(id: String, events_url: String, finalize_url: String, secret: String) -> Self {
        ReportedRun {
            id,
            events_url,
            finalize_url,
            secret: Zeroizing::new(secret),
        }
    }

    /// The webhook secret (for signing only).
    pub fn secret(&self) -> &str {
        &self.secret
    }
}

/// `POST /api/runs/remote` with `body` (built by the caller: application,
/// input, source, context snapshot, sink TTL). The ingestion URLs must be
/// on the instance's own origin: the secret is never sent elsewhere.
pub async fn register(access: &PlatformAccess, body: &Value) -> Result<ReportedRun> {
    let url = format!("{}{REGISTER_PATH}", access.instance());
    let resp = access.send(Method::POST, REGISTER_PATH, Some(body)).await?;
    let status = resp.status();
    if status == reqwest::StatusCode::UNAUTHORIZED {
        return Err(access.unauthorized());
    }
    let bytes = read_capped(resp, MAX_REPLY_BYTES, &url).await?;
    if !status.is_success() {
        let text: String = String::from_utf8_lossy(&bytes)
            .chars()
            .take(ERROR_BODY_CHARS)
            .collect();
        // The server's own words, as the original CLI printed them.
        return Err(PlatformError::Other(format!(
            "POST {REGISTER_PATH} failed with HTTP {}: {}",
            status.as_u16(),
            text.trim()
        )));
    }
    let reply: Value = serde_json::from_slice(&bytes).map_err(|_| malformed())?;
    let field = |key: &str| {
        reply
            .get(key)
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
            .ok_or_else(malformed)
    };
    let run = ReportedRun::new(
        field("id")?,
        field("url")?,
        field("finalize_url")?,
        field("secret")?,
    );
    for target in [&run.events_url, &run.finalize_url] {
        if !same_origin(access.instance(), target) {
            return Err(PlatformError::Protocol(format!(
                "The instance asked for the run's events to go to {target}, which is not on {}; refusing to send them there.",
                access.instance()
            )));
        }
    }
    Ok(run)
}

fn malformed() -> PlatformError {
    PlatformError::Protocol(format!(
        "The reply to POST {REGISTER_PATH} lacks id, url, finalize_url or secret; the instance may be incompatible with this CLI."
    ))
}

/// Scheme, host and port equal.
pub fn same_origin(instance: &str, target: &str) -> bool {
    match (url::Url::parse(instance), url::Url::parse(target)) {
        (Ok(a), Ok(b)) => a.origin() == b.origin(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_compare_scheme_host_and_port() {
        assert!(same_origin(
            "http://127.0.0.1:4000",
            "http://127.0.0.1:4000/api/runs/r/events"
        ));
        assert!(!same_origin(
            "http://127.0.0.1:4000",
            "http://127.0.0.1:4001/api/runs/r/events"
        ));
        assert!(!same_origin(
            "https://a.example",
            "https://evil.example/api/runs/r/events"
        ));
        assert!(!same_origin("https://a.example", "not a url"));
    }

    #[test]
    fn debug_hides_the_secret() {
        let run = ReportedRun::new(
            "run_1".into(),
            "u".into(),
            "f".into(),
            "s3cr3t-value".into(),
        );
        assert!(!format!("{run:?}").contains("s3cr3t-value"));
    }
}
