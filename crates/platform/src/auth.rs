//! The OAuth endpoints of the instance: device flow (RFC 8628,
//! docs/platform-api.md#device-flow), refresh (#refresh) and revoke
//! (#revoke). Requests are
//! form-urlencoded; errors are `{error, error_description}`.

use std::time::{Duration, Instant};

use serde_json::Value;
use zeroize::Zeroizing;

use crate::error::{PlatformError, Result};
use crate::http::{REPLY_LIMIT, network_error, read_capped, refuse_redirect};
use crate::instance::check_verification_url;
use crate::{CLIENT_ID, user_agent};

pub const DEVICE_SCOPE: &str = "openid profile email offline_access";
const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// The poll loop never outlives this, whatever `expires_in` says.
const POLL_CAP: Duration = Duration::from_secs(15 * 60);

#[derive(Debug, Clone)]
pub struct DeviceCode {
    pub device_code: Zeroizing<String>,
    pub user_code: String,
    pub verification_uri: String,
    pub verification_uri_complete: String,
    pub expires_in: u64,
    pub interval: u64,
}

/// A successful `/api/auth/cli/token` answer.
pub struct TokenResponse {
    pub access_token: Zeroizing<String>,
    pub refresh_token: Option<Zeroizing<String>>,
    pub expires_in: i64,
    pub refresh_expires_in: Option<i64>,
    pub scope: String,
}

fn form(pairs: &[(&str, &str)]) -> String {
    let mut ser = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        ser.append_pair(k, v);
    }
    ser.finish()
}

/// `ABCDEFGH` → `ABCD-EFGH`; anything else is shown as sent.
pub fn format_user_code(code: &str) -> String {
    let bare: String = code.chars().filter(|&c| c != '-').collect();
    if bare.chars().count() == 8 {
        let (a, b) = bare.split_at(bare.char_indices().nth(4).map_or(4, |(i, _)| i));
        format!("{a}-{b}")
    } else {
        code.to_string()
    }
}

/// What an OAuth endpoint answered: status, JSON body (`Null` when the body
/// is not JSON) and content type, for messages about non-OAuth replies.
struct FormReply {
    url: String,
    status: u16,
    json: Value,
    content_type: String,
}

impl FormReply {
    fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

async fn post_form(
    http: &reqwest::Client,
    url: &str,
    body: String,
    extra: &[(&str, String)],
    cli_ua: bool,
) -> Result<FormReply> {
    let mut req = http
        .post(url)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body);
    if cli_ua {
        req = req.header("User-Agent", user_agent());
    }
    for (name, value) in extra {
        req = req.header(*name, value.as_str());
    }
    let resp = req.send().await.map_err(|e| network_error(url, &e))?;
    refuse_redirect(url, &resp)?;
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("no content type")
        .to_string();
    let bytes = read_capped(url, resp, REPLY_LIMIT).await?;
    let json = serde_json::from_slice::<Value>(&bytes).unwrap_or(Value::Null);
    Ok(FormReply {
        url: url.to_string(),
        status,
        json,
        content_type,
    })
}

/// An `{error, error_description}` reply as a device-flow error; anything
/// else (a proxy's HTML page, an empty 5xx) says what actually came back.
fn oauth_error(reply: &FormReply) -> PlatformError {
    let Some(code) = reply.json.get("error").and_then(Value::as_str) else {
        let content = if reply.json.is_null() {
            reply.content_type.clone()
        } else {
            format!("{} without an OAuth error", reply.content_type)
        };
        return PlatformError::Api {
            status: reply.status,
            message: format!(
                "{} answered HTTP {} ({content}) instead of an OAuth reply. Retry later, or check that the instance URL points at Appstrate.",
                reply.url, reply.status
            ),
            body: None,
        };
    };
    PlatformError::DeviceFlow {
        code: code.to_string(),
        description: reply
            .json
            .get("error_description")
            .and_then(Value::as_str)
            .map(str::to_string),
        http_status: reply.status,
    }
}

fn str_field(body: &Value, name: &str) -> Option<String> {
    body.get(name).and_then(Value::as_str).map(str::to_string)
}

fn num_field(body: &Value, name: &str) -> Option<i64> {
    body.get(name)
        .and_then(Value::as_f64)
        .filter(|n| n.is_finite())
        .map(|n| n as i64)
}

fn protocol(what: &str) -> PlatformError {
    PlatformError::Protocol(format!(
        "The instance sent an unexpected reply to {what}. Check that the URL points at an Appstrate instance."
    ))
}

/// Step 1: ask for a device code and check its verification URLs.
pub async fn request_device_code(
    http: &reqwest::Client,
    instance: &str,
    insecure: bool,
) -> Result<DeviceCode> {
    let url = format!("{instance}/api/auth/device/code");
    let body = form(&[("client_id", CLIENT_ID), ("scope", DEVICE_SCOPE)]);
    let reply = post_form(http, &url, body, &[], false).await?;
    if !reply.is_success() {
        return Err(oauth_error(&reply));
    }
    let json = reply.json;
    let field = |name| str_field(&json, name).ok_or_else(|| protocol("the device-code request"));
    let code = DeviceCode {
        device_code: Zeroizing::new(field("device_code")?),
        user_code: field("user_code")?,
        verification_uri: field("verification_uri")?,
        verification_uri_complete: str_field(&json, "verification_uri_complete")
            .unwrap_or_else(|| str_field(&json, "verification_uri").unwrap_or_default()),
        expires_in: num_field(&json, "expires_in").unwrap_or(600).max(0) as u64,
        interval: num_field(&json, "interval").unwrap_or(5).max(0) as u64,
    };
    for uri in [&code.verification_uri, &code.verification_uri_complete] {
        if let Err(reason) = check_verification_url(uri, instance, insecure) {
            return Err(PlatformError::DeviceFlow {
                code: "invalid_request".into(),
                description: Some(reason),
                http_status: 0,
            });
        }
    }
    Ok(code)
}

fn token_response(json: &Value) -> Result<TokenResponse> {
    Ok(TokenResponse {
        access_token: Zeroizing::new(
            str_field(json, "access_token").ok_or_else(|| protocol("the token request"))?,
        ),
        refresh_token: str_field(json, "refresh_token").map(Zeroizing::new),
        expires_in: num_field(json, "expires_in").unwrap_or(900),
        refresh_expires_in: num_field(json, "refresh_expires_in"),
        scope: str_field(json, "scope").unwrap_or_default(),
    })
}

/// Step 2: poll until approved, denied or expired. `interval` seconds are
/// slept before every poll, including the first; `slow_down` adds 5 s.
pub async fn poll_for_token(
    http: &reqwest::Client,
    instance: &str,
    code: &DeviceCode,
    device_name: Option<&str>,
) -> Result<TokenResponse> {
    let url = format!("{instance}/api/auth/cli/token");
    let start = Instant::now();
    let deadline = start + Duration::from_secs(code.expires_in).min(POLL_CAP);
    let mut interval = code.interval;
    let extra: Vec<(&str, String)> = device_name
        .filter(|n| !n.is_empty())
        .map(|n| vec![("X-Appstrate-Device-Name", n.to_string())])
        .unwrap_or_default();
    while Instant::now() < deadline {
        let wait = Duration::from_secs(interval);
        let remaining = deadline.saturating_duration_since(Instant::now());
        tokio::time::sleep(wait.min(remaining)).await;
        if Instant::now() >= deadline && wait > remaining {
            break;
        }
        let body = form(&[
            ("grant_type", DEVICE_GRANT),
            ("device_code", code.device_code.as_str()),
            ("client_id", CLIENT_ID),
        ]);
        let reply = post_form(http, &url, body, &extra, true).await?;
        if reply.is_success() {
            return token_response(&reply.json);
        }
        match reply.json.get("error").and_then(Value::as_str) {
            Some("authorization_pending") => {}
            Some("slow_down") => interval += 5,
            _ => return Err(oauth_error(&reply)),
        }
    }
    Err(PlatformError::DeviceFlow {
        code: "expired_token".into(),
        description: Some("The device code expired before the user approved it.".into()),
        http_status: 0,
    })
}

/// Exchanges a refresh token for a new pair (both rotate).
pub async fn refresh(
    http: &reqwest::Client,
    instance: &str,
    refresh_token: &str,
) -> Result<TokenResponse> {
    let url = format!("{instance}/api/auth/cli/token");
    let body = form(&[
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
        ("client_id", CLIENT_ID),
    ]);
    let reply = post_form(http, &url, body, &[], true).await?;
    if reply.is_success() {
        token_response(&reply.json)
    } else {
        Err(oauth_error(&reply))
    }
}

/// Revokes a refresh token's family (RFC 7009: 200 even for unknown tokens).
pub async fn revoke(http: &reqwest::Client, instance: &str, refresh_token: &str) -> Result<()> {
    let url = format!("{instance}/api/auth/cli/revoke");
    let body = form(&[("token", refresh_token), ("client_id", CLIENT_ID)]);
    let reply = post_form(http, &url, body, &[], true).await?;
    if reply.is_success() {
        Ok(())
    } else {
        Err(oauth_error(&reply))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_code_formatting() {
        assert_eq!(format_user_code("ABCDEFGH"), "ABCD-EFGH");
        assert_eq!(format_user_code("ABCD-EFGH"), "ABCD-EFGH");
        assert_eq!(format_user_code("ABC"), "ABC");
    }

    #[test]
    fn form_uses_plus_for_space() {
        assert_eq!(
            form(&[("client_id", CLIENT_ID), ("scope", DEVICE_SCOPE)]),
            "client_id=appstrate-cli&scope=openid+profile+email+offline_access"
        );
        assert_eq!(
            form(&[("grant_type", DEVICE_GRANT)]),
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code"
        );
    }
}
