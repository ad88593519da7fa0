//! API keys (`ask_…`): a bearer a user creates for headless callers (CI,
//! GitHub Actions). Unlike a CLI JWT, a key pins one organization and one
//! application, so `X-Org-Id`/`X-Application-Id` are implied and, when sent,
//! must agree with the pin.

use super::state::{Caller, Problem, random_alnum};

/// Prefix of every API key the platform mints.
pub(crate) const API_KEY_PREFIX: &str = "ask_";

/// The org and app a key is pinned to.
#[derive(Clone, Debug)]
pub(crate) struct ApiKeyScope {
    pub key_id: String,
    pub org_id: String,
    pub app_id: String,
}

#[derive(Clone, Debug)]
struct ApiKey {
    secret: String,
    user_id: String,
    scope: ApiKeyScope,
    revoked: bool,
}

#[derive(Default)]
pub(crate) struct ApiKeys {
    keys: Vec<ApiKey>,
}

impl ApiKeys {
    /// Mint a key for `user` pinned to `org`/`app`; returns the secret.
    pub(crate) fn create(&mut self, user_id: &str, org_id: &str, app_id: &str) -> String {
        let secret = format!("{API_KEY_PREFIX}{}", random_alnum(40));
        self.keys.push(ApiKey {
            secret: secret.clone(),
            user_id: user_id.to_owned(),
            scope: ApiKeyScope {
                key_id: format!("apikey_{}", random_alnum(16)),
                org_id: org_id.to_owned(),
                app_id: app_id.to_owned(),
            },
            revoked: false,
        });
        secret
    }

    /// Revoke a key; `false` if unknown.
    pub(crate) fn revoke(&mut self, secret: &str) -> bool {
        match self.keys.iter_mut().find(|k| k.secret == secret) {
            Some(key) => {
                key.revoked = true;
                true
            }
            None => false,
        }
    }

    /// The caller a live key speaks for (its creator must still exist).
    pub(crate) fn authenticate(
        &self,
        secret: &str,
        user_exists: impl Fn(&str) -> bool,
    ) -> Result<Caller, Problem> {
        self.keys
            .iter()
            .find(|k| k.secret == secret && !k.revoked && user_exists(&k.user_id))
            .map(|k| Caller {
                user_id: k.user_id.clone(),
                api_key: Some(k.scope.clone()),
            })
            .ok_or_else(|| Problem::unauthorized("Invalid or missing session"))
    }
}

/// The organization of a key-authenticated request: the pin, which an
/// explicit `X-Org-Id` must match.
pub(crate) fn pinned_org(key: &ApiKeyScope, header: Option<&str>) -> Result<String, Problem> {
    match header.map(str::trim).filter(|v| !v.is_empty()) {
        Some(org) if org != key.org_id => Err(Problem::forbidden(
            "X-Org-Id does not match authenticated organization",
        )),
        _ => Ok(key.org_id.clone()),
    }
}

impl super::FakeInstance {
    /// Mint an API key (`ask_…`) for `user_id`, pinned to `org_id` and
    /// `app_id`, usable as a bearer on every route but `/api/auth`.
    pub fn add_api_key(&self, user_id: &str, org_id: &str, app_id: &str) -> String {
        self.with(|s| s.api_keys.create(user_id, org_id, app_id))
    }

    /// Revoke an API key (later requests with it get 401).
    pub fn revoke_api_key(&self, key: &str) -> bool {
        self.with(|s| s.api_keys.revoke(key))
    }
}
