//! The HTTP client of the platform layer and how its failures read.

use std::time::Duration;

use crate::env::Env;
use crate::error::PlatformError;

/// How long a request to the instance may take when
/// `APPSTRATE_HTTP_TIMEOUT` does not say ([`Env::http_timeout`]).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// The most a reply from the instance may weigh in memory.
pub const REPLY_LIMIT: u64 = 16 * 1024 * 1024;
/// The OpenAPI document is the one large reply the tool reads.
pub const OPENAPI_REPLY_LIMIT: u64 = 64 * 1024 * 1024;

/// A client for talking to the instance: rustls, HTTP/2 when offered,
/// bounded time, and **no redirects**: every request may carry a bearer,
/// a refresh token or the org/app pins, and a hop to another origin would
/// hand them over (see COMPATIBILITY.md). A 3xx reaches the caller, which
/// turns it into [`redirect_error`]. `env` gives the request timeout.
pub fn client(env: &Env) -> Result<reqwest::Client, PlatformError> {
    let timeout = env.http_timeout();
    appstrate_tls::client_builder()
        .redirect(reqwest::redirect::Policy::none())
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

/// `Err` for a redirect reply (any 3xx but 304 Not Modified), naming the
/// status and where it pointed (resolved against `url`).
pub fn refuse_redirect(url: &str, resp: &reqwest::Response) -> Result<(), PlatformError> {
    let status = resp.status();
    if !status.is_redirection() || status == reqwest::StatusCode::NOT_MODIFIED {
        return Ok(());
    }
    let location = resp
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(|loc| {
            resp.url()
                .join(loc)
                .map(|u| u.to_string())
                .unwrap_or_else(|_| loc.to_string())
        });
    Err(redirect_error(url, status.as_u16(), location.as_deref()))
}

/// The one sentence for a refused redirect.
pub fn redirect_error(url: &str, status: u16, location: Option<&str>) -> PlatformError {
    let target = match location {
        Some(location) => format!("redirecting to {location}"),
        None => "with a redirect and no Location".to_string(),
    };
    PlatformError::Protocol(format!(
        "The instance answered {status} {target} (request to {url}); appstrate does not follow redirects from the instance. Check the instance URL (https://, host, path)."
    ))
}

fn too_large(url: &str, limit: u64) -> PlatformError {
    PlatformError::Protocol(format!(
        "The reply from {url} is larger than {} MiB; refusing to read it. Check that the URL points at an Appstrate instance.",
        limit / (1024 * 1024)
    ))
}

/// Reads the body of `resp` into memory, at most `limit` bytes: a declared
/// `Content-Length` over the limit is refused before reading, and a
/// streamed body is cut off as soon as it passes the limit.
pub async fn read_capped(
    url: &str,
    mut resp: reqwest::Response,
    limit: u64,
) -> Result<bytes::Bytes, PlatformError> {
    if resp.content_length().is_some_and(|n| n > limit) {
        return Err(too_large(url, limit));
    }
    let mut body = bytes::BytesMut::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| network_error(url, &e))? {
        if (body.len() + chunk.len()) as u64 > limit {
            return Err(too_large(url, limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

fn root_cause(err: &(dyn std::error::Error + 'static)) -> String {
    let mut current = err;
    while let Some(next) = current.source() {
        current = next;
    }
    current.to_string()
}
