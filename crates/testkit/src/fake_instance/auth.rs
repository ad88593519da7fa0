//! `/api/auth/*`: the device flow, the CLI token endpoint (device grant and
//! refresh), revoke, JWKS, and the cookie-only session routes. Errors here are
//! `{error, error_description}`, never problem+json (docs/platform-api.md#errors).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};

use super::routes::{ParsedRequest, json_response};
use super::state::{CLI_CLIENT_ID, DeviceMetadata, OAuthError, State, TokenGrant};

const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
const REFRESH_TOKEN_GRANT: &str = "refresh_token";

/// Routes under `/api/auth`; `None` when the path is not one of them.
pub(crate) fn handle(state: &mut State, req: &ParsedRequest) -> Option<Response> {
    let response = match (req.method.as_str(), req.path.as_str()) {
        ("POST", "/api/auth/device/code") => device_code(state, req),
        ("POST", "/api/auth/cli/token") => token(state, req),
        ("POST", "/api/auth/cli/revoke") => revoke(state, req),
        ("GET", "/api/auth/jwks") => json_response(StatusCode::OK, &state.signer.jwks()),
        // Cookie-only on the platform: a bearer (or nothing) is never enough.
        ("GET", "/api/auth/cli/sessions")
        | ("POST", "/api/auth/cli/sessions/revoke")
        | ("POST", "/api/auth/cli/sessions/revoke-all") => json_response(
            StatusCode::UNAUTHORIZED,
            &json!({ "error": "unauthorized", "error_description": "Authentication required." }),
        ),
        _ => return None,
    };
    Some(response)
}

/// The form-urlencoded shim (docs/platform-api.md#device-code): form bodies are read as if they were
/// JSON objects; JSON bodies are accepted too. String fields only.
fn body_fields(req: &ParsedRequest) -> Vec<(String, String)> {
    let is_form = req
        .header("content-type")
        .map(|ct| {
            ct.to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        })
        .unwrap_or(false);
    if is_form {
        return form_urlencoded::parse(&req.body).into_owned().collect();
    }
    match serde_json::from_slice::<Value>(&req.body) {
        Ok(Value::Object(map)) => map
            .into_iter()
            .filter_map(|(k, v)| v.as_str().map(|s| (k, s.to_owned())))
            .collect(),
        _ => Vec::new(),
    }
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

fn oauth_error(err: &OAuthError) -> Response {
    let status = StatusCode::from_u16(err.status).unwrap_or(StatusCode::BAD_REQUEST);
    let mut response = json_response(
        status,
        &json!({ "error": err.code, "error_description": err.description }),
    );
    no_store(&mut response);
    response
}

fn no_store(response: &mut Response) {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

fn missing(what: &str) -> OAuthError {
    OAuthError {
        status: 400,
        code: "invalid_request",
        description: format!("{what} is required."),
    }
}

fn device_code(state: &mut State, req: &ParsedRequest) -> Response {
    let fields = body_fields(req);
    let Some(client_id) = field(&fields, "client_id") else {
        return oauth_error(&missing("client_id"));
    };
    if client_id != CLI_CLIENT_ID {
        return oauth_error(&OAuthError {
            status: 400,
            code: "invalid_client",
            description: "Invalid client ID".into(),
        });
    }
    let scope = field(&fields, "scope").unwrap_or_default().to_owned();
    let body = state.create_device_code(client_id, &scope);
    let mut response = json_response(StatusCode::OK, &body);
    no_store(&mut response);
    response
}

fn token(state: &mut State, req: &ParsedRequest) -> Response {
    let fields = body_fields(req);
    let (Some(grant_type), Some(client_id)) =
        (field(&fields, "grant_type"), field(&fields, "client_id"))
    else {
        return oauth_error(&missing("grant_type and client_id"));
    };
    if client_id != CLI_CLIENT_ID {
        return oauth_error(&OAuthError::unknown_client());
    }
    let outcome = match grant_type {
        DEVICE_CODE_GRANT => match field(&fields, "device_code") {
            None => Err(OAuthError {
                status: 400,
                code: "invalid_request",
                description: "device_code is required for device_code grant.".into(),
            }),
            Some(device_code) => {
                let metadata = DeviceMetadata {
                    device_name: req.header("x-appstrate-device-name").map(str::to_owned),
                    user_agent: req.header("user-agent").map(str::to_owned),
                    ip: Some(req.peer_ip.clone()),
                };
                state.exchange_device_code(device_code, client_id, metadata)
            }
        },
        REFRESH_TOKEN_GRANT => match field(&fields, "refresh_token") {
            None => Err(OAuthError {
                status: 400,
                code: "invalid_request",
                description: "refresh_token is required for refresh_token grant.".into(),
            }),
            Some(refresh_token) => {
                state.rotate_refresh_token(refresh_token, client_id, Some(req.peer_ip.clone()))
            }
        },
        other => Err(OAuthError {
            status: 400,
            code: "invalid_request",
            description: format!("Unsupported grant_type: {other}"),
        }),
    };
    match outcome {
        Ok(grant) => token_response(&grant),
        Err(err) => oauth_error(&err),
    }
}

fn token_response(grant: &TokenGrant) -> Response {
    let mut response = json_response(
        StatusCode::OK,
        &json!({
            "access_token": grant.access_token,
            "refresh_token": grant.refresh_token,
            "token_type": "Bearer",
            "expires_in": grant.expires_in,
            "refresh_expires_in": grant.refresh_expires_in,
            "scope": grant.scope,
        }),
    );
    no_store(&mut response);
    response
}

fn revoke(state: &mut State, req: &ParsedRequest) -> Response {
    let fields = body_fields(req);
    let (Some(token), Some(client_id)) = (field(&fields, "token"), field(&fields, "client_id"))
    else {
        return oauth_error(&missing("token and client_id"));
    };
    if client_id != CLI_CLIENT_ID {
        return oauth_error(&OAuthError::unknown_client());
    }
    // RFC 7009: the answer never tells whether the token existed.
    state.revoke_refresh_token(token, client_id);
    json_response(StatusCode::OK, &json!({ "revoked": true }))
}
