//! The HTTP client of the platform layer and how its failures read.

use std::time::Duration;

use crate::error::PlatformError;

/// Seconds before a request to the instance gives up, overridable with
/// `APPSTRATE_HTTP_TIMEOUT` (seconds) for slow links and for tests.
fn request_timeout() -> Duration {
    std::env::var("APPSTRATE_HTTP_TIMEOUT")
        .ok()
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|v| v.is_finite() && *v > 0.0)
        .map(Duration::from_secs_f64)
        .unwrap_or(Duration::from_secs(30))
}

/// A client for talking to the instance: rustls, HTTP/2 when offered,
/// default redirect policy, bounded time.
pub fn client() -> Result<reqwest::Client, PlatformError> {
    let timeout = request_timeout();
    reqwest::Client::builder()
        .use_rustls_tls()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .build()
        .map_err(|err| PlatformError::Other(format!("cannot build the HTTP client: {err}")))
}

/// A transport failure as one clear sentence naming the URL (never a token:
/// URLs we build carry none).
pub fn network_error(url: &str, err: &reqwest::Error) -> PlatformError {
    let cause = root_cause(err);
    let message = if err.is_timeout() {
        format!(
            "Request to {url} timed out. Check that the instance is up, or raise APPSTRATE_HTTP_TIMEOUT."
        )
    } else if err.is_connect() {
        if cause.contains("dns error") || cause.contains("failed to lookup") {
            format!("Could not resolve the host of {url} ({cause}).")
        } else {
            format!("Could not connect to {url} ({cause}). Is the instance running?")
        }
    } else if err.is_body() || err.is_decode() {
        format!("The connection to {url} failed while reading the response ({cause}).")
    } else {
        format!("Request to {url} failed ({cause}).")
    };
    PlatformError::network(message)
}

fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut current = err;
    while let Some(next) = current.source() {
        current = next;
    }
    current.to_string()
}
