//! Who a platform call speaks for: a signed-in profile (JWT with silent
//! refresh) or a headless API key (`ask_…`, `--api-key` /
//! `APPSTRATE_API_KEY`). Commands that accept either (`appstrate run` by
//! id) resolve a [`Credential`] once and send every request through it.
//!
//! With an API key, the instance, application and organization come from
//! `APPSTRATE_INSTANCE`, `APPSTRATE_APP_ID` and `APPSTRATE_ORG_ID`, and the
//! profile row fills whatever they leave unset (docs/run.md, "Credentials").

use std::fmt;

use reqwest::Method;
use serde_json::Value;
use zeroize::Zeroizing;

use crate::config::{self, Config, Profile};
use crate::env::Env;
use crate::error::{PlatformError, Result};
use crate::http;
use crate::instance::normalize_instance;
use crate::session::{self, Caller, RawResponse, Session};

/// A headless API key. Never printed: `Debug` shows only that one is set.
#[derive(Clone)]
pub struct ApiKey(Zeroizing<String>);

impl ApiKey {
    pub fn new(key: impl Into<String>) -> Self {
        ApiKey(Zeroizing::new(key.into()))
    }

    /// The key itself, for the `Authorization` header only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

/// An API key with the instance and pins it acts on.
pub struct KeyCredential {
    key: ApiKey,
    instance: String,
    application_id: Option<String>,
    org_id: Option<String>,
    http: reqwest::Client,
}

pub enum Credential {
    Session(Box<Session>),
    ApiKey(KeyCredential),
}

/// Names the two ways to authenticate, for errors that find neither.
pub const SIGN_IN_HINT: &str =
    "run `appstrate login`, or pass --api-key (or set APPSTRATE_API_KEY with APPSTRATE_INSTANCE)";

impl Credential {
    /// The API key (flag first, then `APPSTRATE_API_KEY`) when one is given,
    /// else the signed-in profile.
    pub async fn resolve(
        env: &Env,
        profile_flag: Option<&str>,
        api_key_flag: Option<&str>,
    ) -> Result<Credential> {
        let key = api_key_flag
            .filter(|k| !k.is_empty())
            .map(ApiKey::new)
            .or_else(|| env.api_key.clone());
        match key {
            Some(key) => Ok(Credential::ApiKey(KeyCredential::resolve(
                env,
                profile_flag,
                key,
            )?)),
            None => {
                let config = Config::load(&env.config_dir())?;
                let name =
                    config::resolve_profile_name(profile_flag, env, config.default_profile());
                if config.profile(&name).is_none() {
                    return Err(PlatformError::Auth(format!(
                        "Not signed in (no profile \"{name}\") and no API key given — {SIGN_IN_HINT}."
                    )));
                }
                Ok(Credential::Session(Box::new(
                    Session::open(env, profile_flag).await?,
                )))
            }
        }
    }

    /// The validated instance URL, without a trailing slash.
    pub fn instance(&self) -> Result<String> {
        match self {
            Credential::Session(s) => s.instance(),
            Credential::ApiKey(k) => Ok(k.instance.clone()),
        }
    }

    pub fn application_id(&self) -> Option<&str> {
        match self {
            Credential::Session(s) => s.profile().application_id.as_deref(),
            Credential::ApiKey(k) => k.application_id.as_deref(),
        }
    }

    pub fn org_id(&self) -> Option<&str> {
        match self {
            Credential::Session(s) => s.profile().org_id.as_deref(),
            Credential::ApiKey(k) => k.org_id.as_deref(),
        }
    }

    /// Fails unless an application is pinned: run-scoped routes need
    /// `X-Application-Id`.
    pub fn require_application(&self) -> Result<&str> {
        if let Some(app) = self.application_id() {
            return Ok(app);
        }
        Err(match self {
            Credential::Session(s) => PlatformError::Auth(format!(
                "Profile \"{}\" has no application pinned — run `appstrate app switch --profile {}`.",
                s.profile_name(),
                s.profile_name()
            )),
            Credential::ApiKey(_) => PlatformError::Auth(
                "No application id pinned — set APPSTRATE_APP_ID (or pin one with `appstrate app switch`)."
                    .into(),
            ),
        })
    }

    /// One authenticated request. With a profile: proactive refresh and one
    /// reactive refresh on 401. With an API key: sent as is (a key cannot
    /// be refreshed, so a 401 is returned to the caller).
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        headers: &[(String, String)],
        body: Option<&Value>,
    ) -> Result<RawResponse> {
        match self {
            Credential::Session(s) => s.request(method, path, headers, body).await,
            Credential::ApiKey(k) => k.request(&method, path, headers, body).await,
        }
    }
}

impl KeyCredential {
    fn resolve(env: &Env, profile_flag: Option<&str>, key: ApiKey) -> Result<KeyCredential> {
        // The profile row is only a fallback here: a missing or unreadable
        // config must not stop a headless caller that set everything.
        let profile: Option<Profile> = Config::load(&env.config_dir()).ok().and_then(|config| {
            let name = config::resolve_profile_name(profile_flag, env, config.default_profile());
            config.profile(&name)
        });
        let instance = env
            .instance
            .clone()
            .or_else(|| profile.as_ref().map(|p| p.instance.clone()))
            .ok_or_else(|| {
                PlatformError::Auth(
                    "No Appstrate instance URL for the API key — set APPSTRATE_INSTANCE (or sign in once with `appstrate login`)."
                        .into(),
                )
            })?;
        let instance = normalize_instance(&instance, env.insecure)?;
        let pick = |from_env: &Option<String>, from_profile: fn(&Profile) -> &Option<String>| {
            from_env
                .clone()
                .or_else(|| profile.as_ref().and_then(|p| from_profile(p).clone()))
        };
        Ok(KeyCredential {
            key,
            instance,
            application_id: pick(&env.application_id, |p| &p.application_id),
            org_id: pick(&env.org_id, |p| &p.org_id),
            http: http::client()?,
        })
    }

    async fn request(
        &self,
        method: &Method,
        path: &str,
        headers: &[(String, String)],
        body: Option<&Value>,
    ) -> Result<RawResponse> {
        let caller = Caller {
            bearer: self.key.expose(),
            org_id: self.org_id.as_deref(),
            application_id: self.application_id.as_deref(),
        };
        let req = session::authorized_request(
            &self.http,
            &self.instance,
            method,
            path,
            headers,
            body,
            &caller,
        )
        .ok_or_else(|| {
            PlatformError::Auth(
                "The API key is not a valid header value (check --api-key / APPSTRATE_API_KEY for stray characters)."
                    .into(),
            )
        })?;
        session::send(req, &format!("{}{path}", self.instance), crate::http::REPLY_LIMIT).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_key_debug_is_redacted() {
        let key = ApiKey::new("ask_supersecret");
        assert_eq!(format!("{key:?}"), "ApiKey(<redacted>)");
        let env = Env {
            api_key: Some(key),
            ..Env::default()
        };
        assert!(!format!("{env:?}").contains("supersecret"));
    }

    fn env_in(dir: &std::path::Path) -> Env {
        Env {
            home: Some(dir.to_path_buf()),
            xdg_config_home: Some(dir.join("config")),
            ..Env::default()
        }
    }

    #[test]
    fn key_uses_env_pins_before_the_profile() {
        let dir = tempfile::tempdir().expect("tempdir");
        let config_dir = dir.path().join("config/appstrate");
        std::fs::create_dir_all(&config_dir).expect("mkdir");
        std::fs::write(
            config_dir.join("config.toml"),
            "defaultProfile = \"default\"\n\n[profile.default]\ninstance = \"https://profile.example\"\nuserId = \"u\"\nemail = \"a@b.c\"\norgId = \"org_profile\"\napplicationId = \"app_profile\"\n",
        )
        .expect("config");
        let mut env = env_in(dir.path());
        env.application_id = Some("app_env".into());
        let cred = KeyCredential::resolve(&env, None, ApiKey::new("ask_x")).expect("resolves");
        assert_eq!(cred.instance, "https://profile.example");
        assert_eq!(cred.application_id.as_deref(), Some("app_env"));
        assert_eq!(cred.org_id.as_deref(), Some("org_profile"));

        env.instance = Some("https://env.example/".into());
        let cred = KeyCredential::resolve(&env, None, ApiKey::new("ask_x")).expect("resolves");
        assert_eq!(cred.instance, "https://env.example");
    }

    #[test]
    fn key_without_any_instance_says_what_to_set() {
        let dir = tempfile::tempdir().expect("tempdir");
        let err = KeyCredential::resolve(&env_in(dir.path()), None, ApiKey::new("ask_x"))
            .err()
            .expect("no instance");
        assert!(err.to_string().contains("APPSTRATE_INSTANCE"), "{err}");
    }

    #[test]
    fn key_refuses_plain_http_to_a_remote_host() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut env = env_in(dir.path());
        env.instance = Some("http://example.com".into());
        assert!(KeyCredential::resolve(&env, None, ApiKey::new("ask_x")).is_err());
    }
}
