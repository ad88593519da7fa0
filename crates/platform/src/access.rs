//! Who `run` acts as on the instance (docs/run.md "Signing in or an API
//! key"): a headless API key (`--api-key` / `APPSTRATE_API_KEY`) with the
//! instance, application and organization from `APPSTRATE_INSTANCE`,
//! `APPSTRATE_APP_ID` and `APPSTRATE_ORG_ID`, the profile filling the gaps;
//! or else the signed-in profile, its tokens refreshed as needed.
//!
//! Every request carries the bearer, `X-Application-Id` and `X-Org-Id` when
//! known, and the CLI's `User-Agent`; the bearer only ever goes to the
//! instance's own origin.

use reqwest::Method;
use reqwest::header::HeaderMap;
use serde_json::Value;
use zeroize::Zeroizing;

use crate::config::{self, Config};
use crate::env::Env;
use crate::error::{PlatformError, Result};
use crate::http::{self, network_error};
use crate::instance::normalize_instance;
use crate::request_headers::{self, Pins};
use crate::session::Session;

/// Larger JSON replies are refused: no answer `run` reads comes close.
const MAX_JSON_REPLY_BYTES: u64 = 16 * 1024 * 1024;

enum Credential {
    ApiKey(Zeroizing<String>),
    Profile(Box<Session>),
}

pub struct PlatformAccess {
    instance: String,
    application_id: Option<String>,
    org_id: Option<String>,
    profile_name: String,
    credential: Credential,
    http: reqwest::Client,
}

impl std::fmt::Debug for PlatformAccess {
    // Never the key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlatformAccess")
            .field("instance", &self.instance)
            .field("application_id", &self.application_id)
            .field("org_id", &self.org_id)
            .field("api_key", &self.is_api_key())
            .finish()
    }
}

impl PlatformAccess {
    /// The API key when one is given (flag, then `APPSTRATE_API_KEY`), else
    /// the profile when it is configured; `Ok(None)` when there is neither.
    pub async fn resolve(
        env: &Env,
        profile_flag: Option<&str>,
        api_key_flag: Option<&str>,
    ) -> Result<Option<PlatformAccess>> {
        let cfg = Config::load(&env.config_dir())?;
        let profile_name = config::resolve_profile_name(profile_flag, env, cfg.default_profile());
        let profile = cfg.profile(&profile_name);
        let api_key = api_key_flag
            .filter(|k| !k.trim().is_empty())
            .or_else(|| env.var("APPSTRATE_API_KEY"))
            .map(|k| Zeroizing::new(k.trim().to_string()));
        if let Some(key) = api_key {
            let from_env = |name: &str| env.var(name).map(|v| v.trim().to_string());
            let instance = from_env("APPSTRATE_INSTANCE")
                .or_else(|| profile.as_ref().map(|p| p.instance.clone()))
                .ok_or_else(|| {
                    PlatformError::Other(
                        "No Appstrate instance URL for the API key — set APPSTRATE_INSTANCE (or sign in with `appstrate login` to use the profile's)".into(),
                    )
                })?;
            return Ok(Some(PlatformAccess {
                instance: normalize_instance(&instance, env.insecure)?,
                application_id: from_env("APPSTRATE_APP_ID")
                    .or_else(|| profile.as_ref().and_then(|p| p.application_id.clone())),
                org_id: from_env("APPSTRATE_ORG_ID")
                    .or_else(|| profile.as_ref().and_then(|p| p.org_id.clone())),
                profile_name,
                credential: Credential::ApiKey(key),
                http: http::client(env)?,
            }));
        }
        let Some(profile) = profile else {
            return Ok(None);
        };
        let session = Session::with_profile(env, profile_name.clone(), profile.clone()).await?;
        Ok(Some(PlatformAccess {
            instance: session.instance()?,
            application_id: profile.application_id,
            org_id: profile.org_id,
            profile_name,
            credential: Credential::Profile(Box::new(session)),
            http: http::client(env)?,
        }))
    }

    /// The validated instance URL, without a trailing slash.
    pub fn instance(&self) -> &str {
        &self.instance
    }

    pub fn is_api_key(&self) -> bool {
        matches!(self.credential, Credential::ApiKey(_))
    }

    pub fn profile_name(&self) -> &str {
        &self.profile_name
    }

    pub fn application_id(&self) -> Option<&str> {
        self.application_id.as_deref()
    }

    pub fn org_id(&self) -> Option<&str> {
        self.org_id.as_deref()
    }

    /// The pinned application, or how to pin one.
    pub fn require_application(&self) -> Result<&str> {
        self.application_id.as_deref().ok_or_else(|| {
            PlatformError::Other(if self.is_api_key() {
                "No application id pinned — set APPSTRATE_APP_ID (or pin one in the profile with `appstrate app switch`)".into()
            } else {
                format!(
                    "Profile \"{0}\" has no application pinned — run: appstrate app switch --profile {0}",
                    self.profile_name
                )
            })
        })
    }

    /// The pinned organization, or how to pin one; `what` names who needs it.
    pub fn require_org(&self, what: &str) -> Result<&str> {
        self.org_id.as_deref().ok_or_else(|| {
            PlatformError::Other(if self.is_api_key() {
                format!("{what} requires a pinned org id — set APPSTRATE_ORG_ID (or pin one in the profile with `appstrate org switch`)")
            } else {
                format!(
                    "{what} requires a pinned org id — run: appstrate org switch --profile {}",
                    self.profile_name
                )
            })
        })
    }

    /// The bearer to send now (a profile's is refreshed first when it is
    /// about to expire).
    pub async fn bearer(&self) -> Result<Zeroizing<String>> {
        match &self.credential {
            Credential::ApiKey(key) => Ok(key.clone()),
            Credential::Profile(session) => session.access_token().await,
        }
    }

    /// The request headers (one rule for every request: [`request_headers`]).
    fn headers(&self, extra: &[(&str, &str)], bearer: &str, json_body: bool) -> Result<HeaderMap> {
        let pins = Pins {
            org_id: self.org_id.as_deref(),
            application_id: self.application_id.as_deref(),
        };
        request_headers::authenticated(extra.iter().copied(), bearer, pins, json_body).map_err(
            |_| {
                PlatformError::Auth(
                    "The API key or access token is not a valid header value.".into(),
                )
            },
        )
    }

    async fn send_once(
        &self,
        method: &Method,
        url: &str,
        extra_headers: &[(&str, &str)],
        body: Option<&Value>,
        bearer: &str,
    ) -> Result<reqwest::Response> {
        let headers = self.headers(extra_headers, bearer, body.is_some())?;
        let mut req = self.http.request(method.clone(), url).headers(headers);
        if let Some(body) = body {
            req = req.body(body.to_string());
        }
        let resp = req.send().await.map_err(|e| network_error(url, &e))?;
        // The bearer never follows a redirect to wherever it points.
        crate::http::refuse_redirect(url, &resp)?;
        Ok(resp)
    }

    /// Sends `method path_and_query` and returns the response unread (the
    /// caller streams or bounds the body). A profile's token rejected with
    /// a 401 is replaced once; a 401 that survives is returned.
    pub async fn send(
        &self,
        method: Method,
        path_and_query: &str,
        body: Option<&Value>,
    ) -> Result<reqwest::Response> {
        self.send_with(method, path_and_query, &[], body).await
    }

    /// [`send`](Self::send) with extra request headers (`Idempotency-Key`).
    pub async fn send_with(
        &self,
        method: Method,
        path_and_query: &str,
        extra_headers: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<reqwest::Response> {
        let url = format!("{}{path_and_query}", self.instance);
        let bearer = self.bearer().await?;
        let first = self
            .send_once(&method, &url, extra_headers, body, &bearer)
            .await?;
        let Credential::Profile(session) = &self.credential else {
            return Ok(first);
        };
        if first.status() != reqwest::StatusCode::UNAUTHORIZED {
            return Ok(first);
        }
        match session.token_after_rejection(&bearer).await {
            Ok(fresh) => {
                self.send_once(&method, &url, extra_headers, body, &fresh)
                    .await
            }
            Err(_) => Ok(first),
        }
    }

    /// One request with a raw body and extra headers (the integration
    /// credential proxy): no token retry, so an upstream 401 passed through
    /// by the proxy stays the caller's to read.
    pub async fn send_bytes(
        &self,
        method: Method,
        path_and_query: &str,
        extra_headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> Result<reqwest::Response> {
        let url = format!("{}{path_and_query}", self.instance);
        let bearer = self.bearer().await?;
        let headers = self.headers(extra_headers, &bearer, false)?;
        let mut req = self.http.request(method, &url).headers(headers);
        if let Some(body) = body {
            req = req.body(body);
        }
        let resp = req.send().await.map_err(|e| network_error(&url, &e))?;
        crate::http::refuse_redirect(&url, &resp)?;
        Ok(resp)
    }

    /// The message for a 401 that survived.
    pub fn unauthorized(&self) -> PlatformError {
        PlatformError::Auth(if self.is_api_key() {
            "The instance rejected the API key (HTTP 401) — check --api-key / APPSTRATE_API_KEY and APPSTRATE_INSTANCE".into()
        } else {
            format!(
                "Unauthorized — your session may have been revoked. Run: appstrate login --profile {}",
                self.profile_name
            )
        })
    }

    /// JSON in, JSON out: non-2xx → `PlatformError::Api` with the server's
    /// message (and the problem+json body), 401 → how to sign in again.
    pub async fn json(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Value> {
        let url = format!("{}{path}", self.instance);
        let resp = self.send(method, path, body).await?;
        let status = resp.status();
        if status == reqwest::StatusCode::UNAUTHORIZED {
            return Err(self.unauthorized());
        }
        let bytes = read_capped(resp, MAX_JSON_REPLY_BYTES, &url).await?;
        let json = serde_json::from_slice::<Value>(&bytes);
        if !status.is_success() {
            let body = json.ok();
            let message = body
                .as_ref()
                .and_then(|v| {
                    v.get("detail")
                        .or_else(|| v.get("message"))
                        .and_then(Value::as_str)
                })
                .map(str::to_string)
                .unwrap_or_else(|| {
                    format!(
                        "HTTP {} {}",
                        status.as_u16(),
                        status.canonical_reason().unwrap_or("")
                    )
                });
            return Err(PlatformError::Api {
                status: status.as_u16(),
                message,
                body,
            });
        }
        if bytes.is_empty() {
            return Ok(Value::Null);
        }
        json.map_err(|_| {
            PlatformError::Protocol(format!(
                "The instance sent a reply to {path} that is not valid JSON (HTTP {}). Check that the instance URL points at Appstrate.",
                status.as_u16()
            ))
        })
    }

    pub async fn get_json(&self, path: &str) -> Result<Value> {
        self.json(Method::GET, path, None).await
    }

    /// The `data` array of a list envelope.
    pub async fn list(&self, path: &str) -> Result<Vec<Value>> {
        crate::session::list_items(path, self.get_json(path).await?)
    }
}

/// Reads a response body, refusing one larger than `cap` bytes (one
/// implementation: [`crate::http::read_capped`]).
pub async fn read_capped(resp: reqwest::Response, cap: u64, url: &str) -> Result<Vec<u8>> {
    crate::http::read_capped(url, resp, cap)
        .await
        .map(Vec::from)
}
