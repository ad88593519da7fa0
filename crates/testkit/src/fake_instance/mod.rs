//! A fake Appstrate instance: the *server* side of the wire contract
//! (docs/platform-api.md), on `127.0.0.1:0`, for integration
//! tests of the `appstrate` binary.
//!
//! It runs on its own thread with its own tokio runtime, so tests stay
//! synchronous; it stops when dropped.
//!
//! ```no_run
//! use appstrate_testkit::fake_instance::{FakeInstance, Role};
//!
//! let fake = FakeInstance::builder().interval(0).start();
//! let alice = fake.add_user("alice@example.com");
//! let org = fake.add_org(&alice, "Acme", "acme", Role::Owner);
//! fake.add_app(&org, "Default", true);
//! fake.auto_approve(&alice); // device codes are approved as Alice at once
//! // … run `appstrate login --instance <fake.url()>` …
//! assert_eq!(fake.count("POST", "/api/auth/cli/token"), 1);
//! ```
//!
//! What it implements, faithfully: device codes (8-char user codes,
//! `interval`, `slow_down` when polled faster than the polling guard, expiry,
//! one-shot exchange, `access_denied`/`expired_token` deleting the code);
//! ES256 access JWTs with exactly the claims of docs/platform-api.md#access-token, signed by a per-instance key;
//! opaque single-use refresh tokens rotated on every use, with family
//! revocation on reuse and bearer rejection for revoked families;
//! `/api/auth/cli/revoke`; `/api/profile`; `/api/orgs` (GET/POST, slugs,
//! default application); `/api/applications` (GET/POST, `X-Org-Id`);
//! `/api/models`; `/api/openapi.json` with a strong ETag and 304; the
//! cookie-only session routes (401 to anything we can send); org-admin
//! `GET/DELETE /api/orgs/{orgId}/cli-sessions[/{familyId}]`. Errors are
//! problem+json outside `/api/auth`, `{error, error_description}` inside.
//!
//! The agent and run side of the platform (see [`FakeInstance`] for the
//! hooks that drive it): API keys (`ask_…`, pinned to an org and an app);
//! the package registry with drafts, published versions, dist-tags, yanks
//! and per-application installs (`GET /api/agents`,
//! `GET /api/packages/agents/@s/n[/versions]`,
//! `POST /api/packages/import-bundle`, `POST /api/applications/{app}/packages`);
//! bundle download `GET /api/agents/@s/n/bundle` with exact versions,
//! dist-tags and node-semver ranges, SRI and version headers; run-config
//! `GET /api/applications/{app}/packages/@s/n/run-config` and its setters;
//! model presets in `/api/models` (`is_default`, `PUT /api/models/default`)
//! backed by the LLM proxy
//! `POST /api/llm-proxy/{openai-completions/v1/chat/completions,
//! anthropic-messages/v1/messages, mistral-conversations/v1/chat/completions}`
//! (preset id swapped for the real model, real key injected, upstream reply
//! streamed back; no `/responses` route); platform-executed runs
//! (`POST /api/agents/@s/n/run` with input validation and `Idempotency-Key`,
//! `GET /api/runs/{id}[?wait=]`, `GET /api/runs/{id}/logs` with
//! `since`/`level`/`limit`, `POST /api/runs/{id}/cancel`, `GET /api/runs`,
//! `GET /api/agents/@s/n/runs`), simulated from a [`RunScript`] that appends
//! `run_logs` rows over time and ends as the platform's finalize does
//! (output-schema validation, zero-token success recorded `failed`);
//! reported runs (`POST /api/runs/remote` with strict body and validated
//! input, signed CloudEvents at `POST /api/runs/{id}/events` in sequence
//! order with buffering and replay acknowledgement, `…/events/heartbeat`,
//! `…/events/finalize`, 410 `run_sink_closed` afterwards,
//! `PATCH /api/runs/{id}/sink/extend`); the credential proxy
//! (`/api/credential-proxy/proxy`: test-set credential injected, `{{field}}`
//! substitution, authorized-URI globs, session binding, 401 refresh).
//!
//! Not implemented: rate limiting (inject [`Fault::rate_limited`] instead).

mod agents;
mod api_keys;
mod auth;
mod credential_proxy;
mod end_users;
mod faults;
mod jwt;
mod llm_proxy;
mod multipart;
mod platform;
mod reported_runs;
mod routes;
mod run_config;
mod runs;
mod semver;
mod server;
mod state;

use std::net::{Ipv4Addr, SocketAddr, TcpListener as StdTcpListener};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::oneshot;

pub use agents::{BundleTamper, PublishedAgent, agent_afps};
pub use credential_proxy::IntegrationCredential;
pub use faults::{Fault, FaultAction};
pub use jwt::{decode_claims, verify_es256};
pub use p256::ecdsa::VerifyingKey;
pub use run_config::RunConfig;
pub use runs::{RunInfo, RunScript, ScriptedRow};

use server::{Shared, lock};
use state::{Config, DeviceMetadata, DeviceStatus, FamilyOrigin, State, User, random_alnum};

/// The OpenAPI document served by default: the real platform's document
/// (copied from `shared/fixtures/openapi/appstrate-openapi.json`).
pub const DEFAULT_OPENAPI: &[u8] = include_bytes!("../../fixtures/appstrate-openapi.json");

/// The scope the CLI requests; used for sessions seeded by tests.
pub const CLI_SCOPE: &str = "openid profile email offline_access";

/// A member's role in an organization.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Owner,
    Admin,
    Member,
    Viewer,
}

impl Role {
    /// The wire name (`"owner"`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Member => "member",
            Role::Viewer => "viewer",
        }
    }

    /// Owners and admins hold `applications:write` and `cli-sessions:*`.
    pub fn is_admin(self) -> bool {
        matches!(self, Role::Owner | Role::Admin)
    }
}

/// What happens to a device code once it is issued.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Approval {
    /// Stays pending until the test calls [`FakeInstance::approve`] or
    /// [`FakeInstance::deny`] (the default).
    Manual,
    /// Approved at once by this user id.
    AutoApprove(String),
    /// Denied at once.
    Deny,
    /// Answers `authorization_pending` to the first `polls` polls, then is
    /// approved by `user`.
    ApproveAfterPolls { user: String, polls: u32 },
}

/// A user to create; `From<&str>` makes one from an e-mail address.
#[derive(Clone, Debug)]
pub struct NewUser {
    email: String,
    name: Option<String>,
    display_name: Option<String>,
    language: Option<String>,
    email_verified: bool,
}

impl NewUser {
    pub fn new(email: &str) -> Self {
        NewUser {
            email: email.to_owned(),
            name: None,
            display_name: None,
            language: None,
            email_verified: true,
        }
    }
    /// The account name (JWT `name` falls back to the e-mail without it).
    pub fn name(mut self, name: &str) -> Self {
        self.name = Some(name.to_owned());
        self
    }
    /// `displayName` in `/api/profile`.
    pub fn display_name(mut self, display_name: &str) -> Self {
        self.display_name = Some(display_name.to_owned());
        self
    }
    pub fn language(mut self, language: &str) -> Self {
        self.language = Some(language.to_owned());
        self
    }
    pub fn email_verified(mut self, verified: bool) -> Self {
        self.email_verified = verified;
        self
    }
}

impl From<&str> for NewUser {
    fn from(email: &str) -> Self {
        NewUser::new(email)
    }
}

/// One request as the fake received it.
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    pub method: String,
    /// Path without the query string.
    pub path: String,
    /// Raw query string, without `?`.
    pub query: Option<String>,
    /// Header names in lower case, in arrival order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RecordedRequest {
    /// First value of a header (name case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    /// The body as (lossy) UTF-8.
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    /// The body parsed as `application/x-www-form-urlencoded`.
    pub fn form(&self) -> Vec<(String, String)> {
        form_urlencoded::parse(&self.body).into_owned().collect()
    }
    /// One form field of the body.
    pub fn form_value(&self, name: &str) -> Option<String> {
        self.form()
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }
    /// The body parsed as JSON.
    pub fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

/// A CLI session (refresh-token family) as the fake sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionInfo {
    pub family_id: String,
    pub user_id: String,
    pub device_name: Option<String>,
    pub user_agent: Option<String>,
    /// `None` while live; else why: `reuse`, `logout`, `org_admin_revoked`, `test`.
    pub revoked: Option<String>,
    /// Created by the device flow (`true`) or seeded by a test (`false`).
    pub from_device_flow: bool,
}

/// Tokens of a session seeded with [`FakeInstance::issue_session`].
#[derive(Clone, Debug)]
pub struct Session {
    pub access_token: String,
    pub refresh_token: String,
    pub family_id: String,
    pub expires_in: u64,
    pub refresh_expires_in: u64,
}

/// Configure an instance before it starts; [`FakeInstanceBuilder::start`].
#[derive(Clone, Debug, Default)]
pub struct FakeInstanceBuilder {
    config: Config,
    openapi: Option<Vec<u8>>,
}

impl FakeInstanceBuilder {
    /// `interval` returned by `/device/code`, in seconds (platform: 2). Also
    /// the polling guard unless [`Self::polling_guard`] is set. `0` makes
    /// login tests fast and disables `slow_down`.
    pub fn interval(mut self, secs: u64) -> Self {
        self.config.interval_secs = secs;
        self
    }
    /// Minimum gap between two polls of one code before `slow_down`.
    pub fn polling_guard(mut self, guard: Duration) -> Self {
        self.config.polling_guard = Some(guard);
        self
    }
    /// Device-code lifetime in seconds (platform: 600).
    pub fn expires_in(mut self, secs: u64) -> Self {
        self.config.device_expires_in_secs = secs;
        self
    }
    /// Access-token lifetime in seconds (platform: 900).
    pub fn access_ttl(mut self, secs: u64) -> Self {
        self.config.access_ttl_secs = secs;
        self
    }
    /// Refresh-token lifetime in seconds (platform: 30 days).
    pub fn refresh_ttl(mut self, secs: u64) -> Self {
        self.config.refresh_ttl_secs = secs;
        self
    }
    /// What happens to new device codes (default [`Approval::Manual`]).
    pub fn approval(mut self, approval: Approval) -> Self {
        self.config.approval = approval;
        self
    }
    /// The document served at `/api/openapi.json`.
    pub fn openapi(mut self, document: impl Into<Vec<u8>>) -> Self {
        self.openapi = Some(document.into());
        self
    }
    /// Start serving; panics only if no local port or thread can be had.
    pub fn start(self) -> FakeInstance {
        self.try_start()
            .expect("fake Appstrate instance: cannot bind 127.0.0.1:0 or start its thread")
    }
    /// Start serving.
    pub fn try_start(self) -> std::io::Result<FakeInstance> {
        let listener = StdTcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))?;
        listener.set_nonblocking(true)?;
        let url = format!("http://{}", listener.local_addr()?);
        let mut state = State::new(self.config);
        state.base_url = url.clone();
        state.openapi = self.openapi;
        let shared: Shared = Arc::new(Mutex::new(state));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (shutdown_tx, shutdown_rx) = oneshot::channel();
        let thread_shared = shared.clone();
        let thread = std::thread::Builder::new()
            .name("fake-appstrate".into())
            .spawn(move || {
                runtime.block_on(async move {
                    match tokio::net::TcpListener::from_std(listener) {
                        Ok(listener) => server::serve(listener, thread_shared, shutdown_rx).await,
                        Err(err) => eprintln!("fake Appstrate instance: cannot listen: {err}"),
                    }
                });
                // Dropping the runtime here cancels stalled connections.
            })?;
        Ok(FakeInstance {
            url,
            shared,
            shutdown: Some(shutdown_tx),
            thread: Some(thread),
        })
    }
}

/// A running fake instance. Cheap to query from any thread; stops on drop.
///
/// Test-facing API beyond users, orgs, sessions and faults (signatures are
/// kept stable for the tests that use them):
///
/// * API keys: [`add_api_key`](Self::add_api_key)`(user, org, app) -> String`,
///   [`revoke_api_key`](Self::revoke_api_key).
/// * Registry: [`agent_afps`]`(id, version, manifest_extra, prompt) -> Vec<u8>`
///   builds a package; [`publish_agent`](Self::publish_agent)`(app, bytes) ->
///   PublishedAgent`, [`set_draft`](Self::set_draft)`(app, bytes) -> id`,
///   [`set_dist_tag`](Self::set_dist_tag), [`yank_version`](Self::yank_version),
///   [`install_agent`](Self::install_agent), [`uninstall_agent`](Self::uninstall_agent),
///   [`tamper_bundle_headers`](Self::tamper_bundle_headers)`(BundleTamper)`,
///   [`agent_bundle_bytes`](Self::agent_bundle_bytes)`(id, version|"draft")`.
/// * Run-config: [`set_run_config`](Self::set_run_config)`(app, agent, RunConfig)`,
///   [`run_config`](Self::run_config).
/// * Models and the LLM proxy: [`add_model_preset`](Self::add_model_preset)`(org,
///   label, api_shape, upstream_base_url, real_model_id, is_default) -> preset id`,
///   [`preset_api_key`](Self::preset_api_key), [`set_preset_api_key`](Self::set_preset_api_key).
/// * Platform runs: [`script_runs`](Self::script_runs)`(agent, RunScript)`,
///   [`runs`](Self::runs)`() -> Vec<RunInfo>`, [`run`](Self::run),
///   [`run_logs`](Self::run_logs)`(run) -> Vec<Value>`,
///   [`wait_for_run`](Self::wait_for_run)`(run, timeout) -> Option<RunInfo>`.
///   Faults ([`Fault`]`::…(path).times(n)`) apply to these routes too.
/// * Reported runs: [`reported_events`](Self::reported_events)`(run) -> Vec<Value>`
///   (accepted CloudEvents), [`reported_finalize`](Self::reported_finalize),
///   [`reported_heartbeats`](Self::reported_heartbeats),
///   [`fail_event_ingestion`](Self::fail_event_ingestion)`(times, status)`,
///   [`fail_finalize`](Self::fail_finalize)`(times, status)`, [`expire_sink`](Self::expire_sink).
/// * Credential proxy: [`set_integration_credential`](Self::set_integration_credential)`(app,
///   integration, IntegrationCredential)`, [`integration_credential`](Self::integration_credential).
pub struct FakeInstance {
    url: String,
    shared: Shared,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for FakeInstance {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl FakeInstance {
    /// Start with the platform's defaults (interval 2 s, codes valid 10 min,
    /// access tokens 15 min, manual approval).
    pub fn start() -> Self {
        FakeInstanceBuilder::default().start()
    }

    pub fn builder() -> FakeInstanceBuilder {
        FakeInstanceBuilder::default()
    }

    /// Base URL, `http://127.0.0.1:<port>` (no trailing slash).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// JWT `iss`/`aud`: `<url>/api/auth`.
    pub fn issuer(&self) -> String {
        format!("{}/api/auth", self.url)
    }

    fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        f(&mut lock(&self.shared))
    }

    // ── users, orgs, apps, models ────────────────────────────────────────

    /// Create a user; returns its id.
    pub fn add_user(&self, user: impl Into<NewUser>) -> String {
        let user = user.into();
        let id = random_alnum(32);
        self.with(|s| {
            s.users.push(User {
                id: id.clone(),
                email: user.email,
                name: user.name,
                display_name: user.display_name,
                language: user.language,
                email_verified: user.email_verified,
            })
        });
        id
    }

    /// Delete a user (its tokens stop working; approvals by it fail).
    pub fn remove_user(&self, user_id: &str) {
        self.with(|s| {
            s.users.retain(|u| u.id != user_id);
            s.members.retain(|m| m.user_id != user_id);
        });
    }

    /// Create an organization with `member` in it as `role`; returns its id.
    /// Unlike `POST /api/orgs` this provisions no application: add them with
    /// [`Self::add_app`].
    pub fn add_org(&self, member: &str, name: &str, slug: &str, role: Role) -> String {
        self.with(|s| {
            let id = s.insert_org(name, slug);
            s.set_member(&id, member, role);
            id
        })
    }

    /// Add `user` to `org` as `role` (or change its role).
    pub fn add_member(&self, org_id: &str, user_id: &str, role: Role) {
        self.with(|s| s.set_member(org_id, user_id, role));
    }

    /// Remove `user` from `org`.
    pub fn remove_member(&self, org_id: &str, user_id: &str) {
        self.with(|s| {
            s.members
                .retain(|m| !(m.org_id == org_id && m.user_id == user_id))
        });
    }

    /// Create an application in `org`; returns its id (`app_…`).
    pub fn add_app(&self, org_id: &str, name: &str, is_default: bool) -> String {
        self.with(|s| s.insert_app(org_id, name, is_default, None))
    }

    /// Add a model preset to `org`'s `/api/models`, passed through verbatim
    /// (the platform names the default flag `is_default`, as
    /// [`FakeInstance::add_model_preset`] writes it).
    pub fn add_model(&self, org_id: &str, preset: Value) {
        self.with(|s| s.models.entry(org_id.to_owned()).or_default().push(preset));
    }

    /// Sets (or, with `null`, removes) fields of the listed preset `id` of
    /// `org`, e.g. its `cost` or `contextWindow`.
    pub fn patch_model(&self, org_id: &str, id: &str, patch: Value) {
        self.with(|s| {
            let rows = s.models.entry(org_id.to_owned()).or_default();
            let row = rows.iter_mut().find(|m| m["id"] == id);
            if let (Some(Value::Object(row)), Value::Object(patch)) = (row, patch) {
                for (k, v) in patch {
                    if v.is_null() {
                        row.remove(&k);
                    } else {
                        row.insert(k, v);
                    }
                }
            }
        });
    }

    /// The organizations `user` sees, as `GET /api/orgs` returns them.
    pub fn orgs_of(&self, user_id: &str) -> Vec<Value> {
        self.with(|s| s.orgs_of(user_id))
    }

    /// The applications of `org`, as `GET /api/applications` returns them.
    pub fn apps_of(&self, org_id: &str) -> Vec<Value> {
        self.with(|s| s.apps_of(org_id))
    }

    /// Make `POST /api/orgs` answer 403 (self-hosting closed mode).
    pub fn set_org_creation_disabled(&self, disabled: bool) {
        self.with(|s| s.config.org_creation_disabled = disabled);
    }

    // ── device flow control ──────────────────────────────────────────────

    /// Policy for device codes issued from now on.
    pub fn set_approval(&self, approval: Approval) {
        self.with(|s| s.config.approval = approval);
    }

    /// New device codes are approved at once by `user_id`.
    pub fn auto_approve(&self, user_id: &str) {
        self.set_approval(Approval::AutoApprove(user_id.to_owned()));
    }

    /// New device codes are denied at once.
    pub fn deny_all(&self) {
        self.set_approval(Approval::Deny);
    }

    /// New device codes wait for [`Self::approve`] / [`Self::deny`].
    pub fn manual_approval(&self) {
        self.set_approval(Approval::Manual);
    }

    /// User codes of device codes still outstanding, oldest unknown order.
    pub fn pending_user_codes(&self) -> Vec<String> {
        self.with(|s| {
            s.device_codes
                .values()
                .filter(|d| d.status == DeviceStatus::Pending)
                .map(|d| d.user_code.clone())
                .collect()
        })
    }

    /// Wait (up to `timeout`) for a device code to be requested; returns its
    /// user code. Handy for manual approval while the CLI polls.
    pub fn wait_for_user_code(&self, timeout: Duration) -> Option<String> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(code) = self.pending_user_codes().into_iter().next() {
                return Some(code);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Approve the code (`ABCDEFGH` or `ABCD-EFGH`, any case) as `user_id`;
    /// `false` if no such code is outstanding.
    pub fn approve(&self, user_code: &str, user_id: &str) -> bool {
        self.with(|s| match s.device_by_user_code(user_code) {
            Some(code) => {
                code.status = DeviceStatus::Approved(user_id.to_owned());
                true
            }
            None => false,
        })
    }

    /// Deny the code; `false` if no such code is outstanding.
    pub fn deny(&self, user_code: &str) -> bool {
        self.with(|s| match s.device_by_user_code(user_code) {
            Some(code) => {
                code.status = DeviceStatus::Denied;
                true
            }
            None => false,
        })
    }

    /// Make the code expire now (its next poll gets `expired_token`).
    pub fn expire_device_code(&self, user_code: &str) -> bool {
        self.with(|s| match s.device_by_user_code(user_code) {
            Some(code) => {
                code.expires_at = Instant::now();
                true
            }
            None => false,
        })
    }

    /// `interval` (seconds) for codes issued from now on.
    pub fn set_interval(&self, secs: u64) {
        self.with(|s| s.config.interval_secs = secs);
    }

    /// Polling guard for codes issued from now on.
    pub fn set_polling_guard(&self, guard: Duration) {
        self.with(|s| s.config.polling_guard = Some(guard));
    }

    /// `expires_in` (seconds) for codes issued from now on.
    pub fn set_expires_in(&self, secs: u64) {
        self.with(|s| s.config.device_expires_in_secs = secs);
    }

    /// Access-token lifetime (seconds) for tokens minted from now on.
    pub fn set_access_ttl(&self, secs: u64) {
        self.with(|s| s.config.access_ttl_secs = secs);
    }

    /// Refresh-token lifetime (seconds) for tokens minted from now on.
    pub fn set_refresh_ttl(&self, secs: u64) {
        self.with(|s| s.config.refresh_ttl_secs = secs);
    }

    // ── tokens and sessions ──────────────────────────────────────────────

    /// Seed a signed-in state: a new session for `user_id`; returns
    /// `(access_token, refresh_token)`.
    pub fn issue_tokens(&self, user_id: &str) -> (String, String) {
        let session = self.issue_session(user_id, None);
        (session.access_token, session.refresh_token)
    }

    /// Seed a session with an optional device name; returns all its parts.
    pub fn issue_session(&self, user_id: &str, device_name: Option<&str>) -> Session {
        self.with(|s| {
            let metadata = DeviceMetadata {
                device_name: device_name.map(str::to_owned),
                user_agent: None,
                ip: Some("127.0.0.1".into()),
            };
            let grant = s.start_family(user_id, CLI_SCOPE, metadata, FamilyOrigin::Seeded);
            Session {
                access_token: grant.access_token,
                refresh_token: grant.refresh_token,
                family_id: grant.family_id,
                expires_in: grant.expires_in,
                refresh_expires_in: grant.refresh_expires_in,
            }
        })
    }

    /// Reject every access token minted so far (as if they had expired
    /// server-side); refresh tokens keep working. For reactive-refresh tests.
    pub fn expire_access_tokens(&self) {
        self.with(|s| {
            let issued = std::mem::take(&mut s.issued_jtis);
            s.rejected_jtis.extend(issued);
        });
    }

    /// Revoke a session as an admin would; `false` if unknown or revoked.
    pub fn revoke_family(&self, family_id: &str) -> bool {
        self.with(|s| s.revoke_family(family_id, "test"))
    }

    /// The family of a refresh token (`crf_…`), if the token was ever issued.
    pub fn family_of(&self, refresh_token: &str) -> Option<String> {
        self.with(|s| {
            s.refresh_tokens
                .get(refresh_token)
                .map(|r| r.family_id.clone())
        })
    }

    /// Whether the family has been revoked (`false` if unknown).
    pub fn is_family_revoked(&self, family_id: &str) -> bool {
        self.with(|s| {
            s.families
                .iter()
                .any(|f| f.id == family_id && f.revoked.is_some())
        })
    }

    /// Whether this refresh token would still be accepted once.
    pub fn is_refresh_token_live(&self, refresh_token: &str) -> bool {
        self.with(|s| match s.refresh_tokens.get(refresh_token) {
            Some(row) if !row.used => s
                .families
                .iter()
                .any(|f| f.id == row.family_id && f.revoked.is_none()),
            _ => false,
        })
    }

    /// Every session ever started, oldest first.
    pub fn sessions(&self) -> Vec<SessionInfo> {
        self.with(|s| {
            s.families
                .iter()
                .map(|f| SessionInfo {
                    family_id: f.id.clone(),
                    user_id: f.user_id.clone(),
                    device_name: f.device_name.clone(),
                    user_agent: f.user_agent.clone(),
                    revoked: f.revoked.clone(),
                    from_device_flow: f.origin == FamilyOrigin::DeviceFlow,
                })
                .collect()
        })
    }

    /// Device name recorded by the most recent device-code exchange
    /// (`X-Appstrate-Device-Name`, trimmed, ≤ 120 chars; `None` when absent
    /// or empty, or when no exchange happened).
    pub fn last_device_name(&self) -> Option<String> {
        self.with(|s| {
            s.families
                .iter()
                .rev()
                .find(|f| f.origin == FamilyOrigin::DeviceFlow)
                .and_then(|f| f.device_name.clone())
        })
    }

    /// The key that signs access tokens.
    pub fn verifying_key(&self) -> VerifyingKey {
        self.with(|s| s.signer.verifying_key())
    }

    /// The JWKS served at `/api/auth/jwks`.
    pub fn jwks(&self) -> Value {
        self.with(|s| s.signer.jwks())
    }

    // ── OpenAPI ──────────────────────────────────────────────────────────

    /// Serve `document` at `/api/openapi.json` from now on.
    pub fn set_openapi(&self, document: impl Into<Vec<u8>>) {
        let document = document.into();
        self.with(|s| s.openapi = Some(document));
    }

    /// The `ETag` the current document is served with (quotes included).
    pub fn openapi_etag(&self) -> String {
        self.with(|s| routes::etag_of(s.openapi.as_deref().unwrap_or(DEFAULT_OPENAPI)))
    }

    // ── faults ───────────────────────────────────────────────────────────

    /// Add a fault; the first matching, unexhausted fault fires.
    pub fn inject(&self, fault: Fault) {
        self.with(|s| s.faults.push(fault));
    }

    pub fn clear_faults(&self) {
        self.with(|s| s.faults.clear());
    }

    // ── request log ──────────────────────────────────────────────────────

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.with(|s| s.requests.clone())
    }

    /// Requests with this method (case-insensitive) and path.
    pub fn requests_to(&self, method: &str, path: &str) -> Vec<RecordedRequest> {
        self.with(|s| {
            s.requests
                .iter()
                .filter(|r| r.method.eq_ignore_ascii_case(method) && r.path == path)
                .cloned()
                .collect()
        })
    }

    /// How many requests had this method and path.
    pub fn count(&self, method: &str, path: &str) -> usize {
        self.requests_to(method, path).len()
    }

    /// Refresh attempts (`grant_type=refresh_token` at the token endpoint).
    pub fn refresh_calls(&self) -> usize {
        self.token_calls_with_grant("refresh_token")
    }

    /// Device-code polls (device grant at the token endpoint).
    pub fn device_polls(&self) -> usize {
        self.token_calls_with_grant("urn:ietf:params:oauth:grant-type:device_code")
    }

    fn token_calls_with_grant(&self, grant: &str) -> usize {
        self.requests_to("POST", "/api/auth/cli/token")
            .iter()
            .filter(|r| {
                r.form_value("grant_type").as_deref() == Some(grant)
                    || r.json()
                        .and_then(|v| {
                            v.get("grant_type")
                                .and_then(Value::as_str)
                                .map(str::to_owned)
                        })
                        .as_deref()
                        == Some(grant)
            })
            .count()
    }

    /// Forget the requests received so far.
    pub fn clear_requests(&self) {
        self.with(|s| s.requests.clear());
    }
}
