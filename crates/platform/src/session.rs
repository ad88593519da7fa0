//! A signed-in profile: its config row, its tokens, and authenticated
//! requests with silent refresh (docs/platform-api.md#refresh, #errors).
//!
//! Refresh tokens are single-use and a reuse revokes the whole family, so a
//! refresh is serialised **across processes** with a lock file per profile:
//! whoever gets the lock first refreshes; the others re-read the store under
//! the lock, find the rotated pair and use it.

use std::path::PathBuf;

use reqwest::Method;
use reqwest::header::HeaderMap;
use serde_json::Value;
use zeroize::Zeroizing;

use crate::auth;
use crate::config::{self, Config, Profile, lock_file};
use crate::credentials::CredentialStore;
use crate::env::Env;
use crate::error::{PlatformError, Result};
use crate::fsutil;
use crate::http::{self, network_error};
use crate::instance::normalize_instance;
use crate::request_headers::{self, Pins};
use crate::tokens::{RefreshToken, TokenRecord, now_ms};

/// One request as the caller asked for it, sent once a bearer per try.
struct Call<'a> {
    url: String,
    method: &'a Method,
    headers: &'a [(String, String)],
    body: Option<&'a Value>,
    /// The most the reply may weigh.
    limit: u64,
}

/// Refresh when this little of the access token's life remains.
pub const PROACTIVE_REFRESH_MS: i64 = 30_000;

/// A raw response, for callers that need status and headers (ETag caches).
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub reason: String,
    pub headers: HeaderMap,
    pub body: bytes::Bytes,
}

pub struct Session {
    env: Env,
    name: String,
    profile: Profile,
    store: CredentialStore,
    http: reqwest::Client,
    /// When the sign-in of the last record read or stored ends (epoch ms),
    /// so [`Session::signed_in_until`] needs no second read of the store.
    seen_until: std::sync::Mutex<Option<i64>>,
}

fn login_hint(name: &str) -> String {
    format!("Run: appstrate login --profile {}", shell_word(name))
}

/// `Profile "<p>" not configured. Run: appstrate login --instance <URL> …`:
/// the one message for "this profile has never signed in". The profile
/// has no instance yet, so the hint names `--instance` (or `install`).
pub fn not_configured(name: &str) -> PlatformError {
    PlatformError::Auth(format!(
        "Profile \"{name}\" not configured. Run: appstrate login --instance <URL> --profile {} (no instance yet? `appstrate install` starts one)",
        shell_word(name)
    ))
}

/// `name` as one shell word: bare when it is plain, single-quoted
/// otherwise (an empty or blank profile stays visible in a hint).
pub fn shell_word(name: &str) -> String {
    let plain = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@'));
    if plain {
        name.to_string()
    } else {
        format!("'{}'", name.replace('\'', r"'\''"))
    }
}

impl Session {
    /// Resolves the profile (docs/files.md#profile-resolution) and requires its config row. Tokens are
    /// read lazily, on the first request.
    pub async fn open(env: &Env, profile_flag: Option<&str>) -> Result<Session> {
        let config = Config::load(&env.config_dir())?;
        let name = config::resolve_profile_name(profile_flag, env, config.default_profile());
        let profile = config.profile(&name).ok_or_else(|| not_configured(&name))?;
        Self::with_profile(env, name, profile).await
    }

    /// A session for a profile row the caller already has (login).
    pub async fn with_profile(env: &Env, name: String, profile: Profile) -> Result<Session> {
        let store = CredentialStore::open(env).await;
        Ok(Session {
            env: env.clone(),
            name,
            profile,
            store,
            http: http::client(env)?,
            seen_until: std::sync::Mutex::new(None),
        })
    }

    pub fn profile_name(&self) -> &str {
        &self.name
    }

    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    pub fn env(&self) -> &Env {
        &self.env
    }

    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    pub fn store(&self) -> &CredentialStore {
        &self.store
    }

    /// The validated instance URL (no trailing slash).
    pub fn instance(&self) -> Result<String> {
        normalize_instance(&self.profile.instance, self.env.insecure)
    }

    /// Edits the profile row in one atomic config write and keeps the
    /// in-memory copy in step.
    pub fn update_profile(&mut self, edit: impl FnOnce(&mut Profile)) -> Result<()> {
        let name = self.name.clone();
        let updated = config::update(&self.env.config_dir(), |cfg| {
            cfg.update_profile(&name, edit)?;
            Ok(cfg.profile(&name))
        })?;
        if let Some(profile) = updated {
            self.profile = profile;
        }
        Ok(())
    }

    /// Pins an application chosen from the applications of the org this
    /// session listed them with, in one config write that first re-checks,
    /// under the config lock, that this org is still the pinned one: a
    /// concurrent `org switch` must not end up with an app of another org.
    pub fn pin_application_of_listed_org(&mut self, application_id: &str) -> Result<()> {
        let name = self.name.clone();
        let listed_org = self.profile.org_id.clone();
        let app = application_id.to_string();
        let updated = config::update(&self.env.config_dir(), |cfg| {
            let on_disk = cfg.profile(&name).ok_or_else(|| not_configured(&name))?;
            if on_disk.org_id != listed_org {
                return Err(PlatformError::Other(format!(
                    "The pinned organization changed while this command ran (now {}); the application was not pinned. Run `appstrate app switch` again.",
                    on_disk.org_id.as_deref().unwrap_or("none")
                )));
            }
            cfg.update_profile(&name, |p| p.application_id = Some(app))?;
            Ok(cfg.profile(&name))
        })?;
        if let Some(profile) = updated {
            self.profile = profile;
        }
        Ok(())
    }

    /// Sends the next requests with these pins without saving them: the
    /// org → app cascade lists the new org's applications first, then saves
    /// org and app in one write.
    pub fn pin_in_memory(&mut self, org_id: Option<String>, application_id: Option<String>) {
        self.profile.org_id = org_id;
        self.profile.application_id = application_id;
    }

    fn no_credentials(&self) -> PlatformError {
        PlatformError::Auth(format!(
            "No credentials for profile \"{}\". {}",
            self.name,
            login_hint(&self.name)
        ))
    }

    async fn load_tokens(&self) -> Result<TokenRecord> {
        let record = self
            .store
            .load(&self.name)
            .await?
            .ok_or_else(|| self.no_credentials())?;
        self.remember(&record);
        Ok(record)
    }

    fn remember(&self, record: &TokenRecord) {
        if let Ok(mut seen) = self.seen_until.lock() {
            *seen = Some(record.signed_in_until());
        }
    }

    /// When the sign-in ends (epoch ms), as of the last record this session
    /// read or stored (so a refresh earlier in the command is reflected);
    /// the store is read only when the session has not read it yet.
    pub async fn signed_in_until(&self) -> Result<i64> {
        let seen = self.seen_until.lock().ok().and_then(|seen| *seen);
        match seen {
            Some(until) => Ok(until),
            None => Ok(self.load_tokens().await?.signed_in_until()),
        }
    }

    /// A usable access token, refreshed first when it expires within 30 s.
    pub async fn access_token(&self) -> Result<Zeroizing<String>> {
        let tokens = self.load_tokens().await?;
        if tokens.expires_at - now_ms() > PROACTIVE_REFRESH_MS {
            return Ok(tokens.access_token);
        }
        if tokens.refresh.is_none() {
            if tokens.expires_at > now_ms() {
                return Ok(tokens.access_token);
            }
            return Err(PlatformError::Auth(format!(
                "The access token of profile \"{}\" expired and no refresh token is stored (legacy credentials). {}",
                self.name,
                login_hint(&self.name)
            )));
        }
        Ok(self
            .refresh_serialised(&tokens.access_token)
            .await?
            .access_token)
    }

    fn lock_path(&self) -> PathBuf {
        let encoded: String =
            percent_encoding::utf8_percent_encode(&self.name, percent_encoding::NON_ALPHANUMERIC)
                .to_string();
        self.env
            .config_dir()
            .join(format!("refresh-{encoded}.lock"))
    }

    /// Refreshes under the cross-process lock, unless another process (or
    /// an earlier call) already rotated away from `stale_access`.
    async fn refresh_serialised(&self, stale_access: &str) -> Result<TokenRecord> {
        let dir = self.env.config_dir();
        fsutil::create_private_dir(&dir)
            .map_err(|e| PlatformError::Other(format!("cannot create {}: {e}", dir.display())))?;
        let path = self.lock_path();
        let _lock = tokio::task::spawn_blocking(move || lock_file(&path))
            .await
            .map_err(|e| PlatformError::Other(format!("refresh lock task failed: {e}")))??;
        let current = self.load_tokens().await?;
        if current.access_token.as_str() != stale_access
            && current.expires_at - now_ms() > PROACTIVE_REFRESH_MS
        {
            return Ok(current);
        }
        self.refresh_now(current).await
    }

    async fn refresh_now(&self, current: TokenRecord) -> Result<TokenRecord> {
        let Some(refresh) = current.refresh.clone() else {
            return Err(self.no_credentials());
        };
        if refresh.expires_at <= now_ms() {
            let _ = self.store.delete(&self.name).await;
            return Err(PlatformError::Auth(format!(
                "Refresh token expired for profile \"{}\". {}",
                self.name,
                login_hint(&self.name)
            )));
        }
        let instance = self.instance()?;
        let started = now_ms();
        let response = match auth::refresh(&self.http, &instance, &refresh.token).await {
            Ok(response) => response,
            Err(PlatformError::DeviceFlow { code, .. }) if code == "invalid_grant" => {
                let _ = self.store.delete(&self.name).await;
                return Err(PlatformError::Auth(format!(
                    "Session for profile \"{}\" is no longer valid (invalid_grant). {}",
                    self.name,
                    login_hint(&self.name)
                )));
            }
            Err(err) => return Err(err),
        };
        let Some(new_refresh) = response.refresh_token else {
            let _ = self.store.delete(&self.name).await;
            return Err(PlatformError::Auth(format!(
                "Server did not return a rotated refresh_token for profile \"{}\". {}",
                self.name,
                login_hint(&self.name)
            )));
        };
        let record = TokenRecord {
            access_token: response.access_token,
            expires_at: started + response.expires_in * 1000,
            refresh: Some(RefreshToken {
                token: new_refresh,
                expires_at: response
                    .refresh_expires_in
                    .map_or(refresh.expires_at, |s| started + s * 1000),
            }),
        };
        self.store.save(&self.name, &record).await?;
        self.remember(&record);
        Ok(record)
    }

    /// The token to retry with after the instance rejected `rejected` with a
    /// 401: the one another process stored meanwhile, else a fresh one
    /// (refresh serialised across processes). For callers that send their
    /// own requests (streamed downloads).
    pub async fn token_after_rejection(&self, rejected: &str) -> Result<Zeroizing<String>> {
        let stored = self.load_tokens().await?;
        if stored.access_token.as_str() != rejected
            && stored.expires_at - now_ms() > PROACTIVE_REFRESH_MS
        {
            return Ok(stored.access_token);
        }
        Ok(self.refresh_serialised(rejected).await?.access_token)
    }

    fn build(&self, call: &Call<'_>, bearer: &str) -> Result<reqwest::RequestBuilder> {
        let caller = call.headers.iter().map(|(n, v)| (n.as_str(), v.as_str()));
        let pins = Pins {
            org_id: self.profile.org_id.as_deref(),
            application_id: self.profile.application_id.as_deref(),
        };
        let map = request_headers::authenticated(caller, bearer, pins, call.body.is_some())
            .map_err(|_| {
                PlatformError::Auth(format!(
                    "The stored access token is not a valid header value. {}",
                    login_hint(&self.name)
                ))
            })?;
        let mut req = self
            .http
            .request(call.method.clone(), &call.url)
            .headers(map);
        if let Some(body) = call.body {
            req = req.body(body.to_string());
        }
        Ok(req)
    }

    async fn send_once(&self, call: &Call<'_>, bearer: &str) -> Result<RawResponse> {
        let url = &call.url;
        let resp = self
            .build(call, bearer)?
            .send()
            .await
            .map_err(|e| network_error(url, &e))?;
        http::refuse_redirect(url, &resp)?;
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = http::read_capped(url, resp, call.limit).await?;
        Ok(RawResponse {
            status: status.as_u16(),
            reason: status.canonical_reason().unwrap_or("").to_string(),
            headers,
            body,
        })
    }

    /// An authenticated request with proactive refresh only: a 401 is
    /// returned as is (for routes where 401 means "not allowed with a
    /// bearer" rather than "token expired").
    pub async fn request_without_retry(
        &self,
        method: Method,
        path: &str,
        headers: &[(String, String)],
        body: Option<&Value>,
    ) -> Result<RawResponse> {
        let call = Call {
            url: format!("{}{path}", self.instance()?),
            method: &method,
            headers,
            body,
            limit: http::REPLY_LIMIT,
        };
        let bearer = self.access_token().await?;
        self.send_once(&call, &bearer).await
    }

    /// An authenticated request with proactive refresh and one reactive
    /// refresh on 401 (`apiFetchRaw`). A 401 that survives is returned.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        headers: &[(String, String)],
        body: Option<&Value>,
    ) -> Result<RawResponse> {
        self.request_limited(method, path, headers, body, http::REPLY_LIMIT)
            .await
    }

    /// [`Session::request`] with a reply size limit other than
    /// [`http::REPLY_LIMIT`] (the OpenAPI document).
    pub async fn request_limited(
        &self,
        method: Method,
        path: &str,
        headers: &[(String, String)],
        body: Option<&Value>,
        limit: u64,
    ) -> Result<RawResponse> {
        let call = Call {
            url: format!("{}{path}", self.instance()?),
            method: &method,
            headers,
            body,
            limit,
        };
        let bearer = self.access_token().await?;
        let first = self.send_once(&call, &bearer).await?;
        if first.status != 401 {
            return Ok(first);
        }
        let Ok(Some(stored)) = self.store.load(&self.name).await else {
            return Ok(first);
        };
        self.remember(&stored);
        if stored.access_token.as_str() != bearer.as_str() {
            // Another caller rotated meanwhile: try its token first.
            let retry = self.send_once(&call, &stored.access_token).await?;
            if retry.status != 401 {
                return Ok(retry);
            }
        }
        let rotated = match self.refresh_serialised(&stored.access_token).await {
            Ok(rotated) => rotated,
            Err(_) => return Ok(first),
        };
        self.send_once(&call, &rotated.access_token).await
    }

    /// `apiFetch`: JSON in, JSON out, errors as docs/platform-api.md#errors says.
    pub async fn fetch_json(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value> {
        let resp = self.request(method, path, &[], body).await?;
        if resp.status == 401 {
            return Err(PlatformError::Auth(format!(
                "Unauthorized — your session may have been revoked. {}",
                login_hint(&self.name)
            )));
        }
        let json = serde_json::from_slice::<Value>(&resp.body);
        if !(200..300).contains(&resp.status) {
            let message = json
                .ok()
                .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_string))
                .unwrap_or_else(|| format!("HTTP {} {}", resp.status, resp.reason));
            return Err(PlatformError::Api {
                status: resp.status,
                message,
                body: None,
            });
        }
        if resp.status == 204 || resp.body.is_empty() {
            return Ok(Value::Null);
        }
        json.map_err(|_| {
            PlatformError::Protocol(format!(
                "The instance sent a reply to {path} that is not valid JSON (HTTP {}). Check that the profile's instance URL points at Appstrate.",
                resp.status
            ))
        })
    }

    pub async fn get_json(&self, path: &str) -> Result<Value> {
        self.fetch_json(Method::GET, path, None).await
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Result<Value> {
        self.fetch_json(Method::POST, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Result<Value> {
        self.fetch_json(Method::DELETE, path, None).await
    }

    /// `apiList`: the `data` array of a list envelope.
    pub async fn list(&self, path: &str) -> Result<Vec<Value>> {
        list_items(path, self.get_json(path).await?)
    }
}

/// The `data` array of the list envelope `reply` from `path`.
pub(crate) fn list_items(path: &str, reply: Value) -> Result<Vec<Value>> {
    match reply {
        Value::Object(mut obj) => match obj.remove("data") {
            Some(Value::Array(items)) => Ok(items),
            _ => Err(malformed_list(path)),
        },
        _ => Err(malformed_list(path)),
    }
}

fn malformed_list(path: &str) -> PlatformError {
    PlatformError::Api {
        status: 500,
        message: format!(
            "Malformed list response from {path}: expected {{ object: \"list\", data: [...] }}."
        ),
        body: None,
    }
}
