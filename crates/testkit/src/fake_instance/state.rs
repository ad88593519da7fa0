//! The fake platform's data and rules: users, organizations, memberships,
//! applications, model presets, device codes and CLI refresh-token families.
//! Pure and synchronous; `auth.rs` and `routes.rs` map it onto HTTP.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use super::faults::Fault;
use super::jwt::JwtSigner;
use super::{Approval, RecordedRequest, Role};

/// The only OAuth client the platform registers for the CLI.
pub(crate) const CLI_CLIENT_ID: &str = "appstrate-cli";
/// Device-name header value kept by the server (`DEVICE_NAME_MAX_LENGTH`).
const DEVICE_NAME_MAX_CHARS: usize = 120;
const USER_AGENT_MAX_CHARS: usize = 512;
/// GitHub-style user-code alphabet of the platform: no vowels, no digits.
const USER_CODE_ALPHABET: &[u8] = b"BCDFGHJKLMNPQRSTVWXZ";

/// Tunables a test can change before or while the instance runs.
#[derive(Clone, Debug)]
pub(crate) struct Config {
    pub interval_secs: u64,
    /// Minimum gap between two polls of one device code before `slow_down`;
    /// `None` = `interval_secs` seconds, as on the platform.
    pub polling_guard: Option<Duration>,
    pub device_expires_in_secs: u64,
    pub access_ttl_secs: u64,
    pub refresh_ttl_secs: u64,
    pub approval: Approval,
    pub org_creation_disabled: bool,
}

impl Default for Config {
    fn default() -> Self {
        // The platform's own values (docs/platform-api.md#device-code, #refresh).
        Config {
            interval_secs: 2,
            polling_guard: None,
            device_expires_in_secs: 600,
            access_ttl_secs: 900,
            refresh_ttl_secs: 30 * 24 * 60 * 60,
            approval: Approval::Manual,
            org_creation_disabled: false,
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct User {
    pub id: String,
    pub email: String,
    pub name: Option<String>,
    pub display_name: Option<String>,
    pub language: Option<String>,
    pub email_verified: bool,
}

#[derive(Clone, Debug)]
pub(crate) struct Org {
    pub id: String,
    pub name: String,
    pub slug: String,
    pub created_at: OffsetDateTime,
}

#[derive(Clone, Debug)]
pub(crate) struct Membership {
    pub org_id: String,
    pub user_id: String,
    pub role: Role,
}

#[derive(Clone, Debug)]
pub(crate) struct App {
    pub id: String,
    pub org_id: String,
    pub name: String,
    pub is_default: bool,
    pub created_at: OffsetDateTime,
    pub created_by: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum DeviceStatus {
    Pending,
    Approved(String),
    Denied,
}

#[derive(Clone, Debug)]
pub(crate) struct DeviceCode {
    pub user_code: String,
    pub client_id: String,
    pub scope: String,
    pub expires_at: Instant,
    pub polling_guard: Duration,
    pub last_polled: Option<Instant>,
    pub status: DeviceStatus,
    pub pending_polls: u32,
}

#[derive(Clone, Debug)]
pub(crate) struct RefreshRow {
    pub family_id: String,
    pub client_id: String,
    pub expires_at: SystemTime,
    pub used: bool,
}

/// One CLI session: the head of a refresh-token family.
#[derive(Clone, Debug)]
pub(crate) struct Family {
    pub id: String,
    pub user_id: String,
    pub scope: String,
    pub device_name: Option<String>,
    pub user_agent: Option<String>,
    pub created_ip: Option<String>,
    pub last_used_ip: Option<String>,
    pub created_at: OffsetDateTime,
    pub last_used_at: Option<OffsetDateTime>,
    pub expires_at: OffsetDateTime,
    pub revoked: Option<String>,
    pub origin: FamilyOrigin,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum FamilyOrigin {
    DeviceFlow,
    Seeded,
}

/// Metadata the token endpoint captures from the request.
#[derive(Clone, Debug, Default)]
pub(crate) struct DeviceMetadata {
    pub device_name: Option<String>,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
}

/// An OAuth-style error (`{error, error_description}`) with its status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct OAuthError {
    pub status: u16,
    pub code: &'static str,
    pub description: String,
}

impl OAuthError {
    fn bad(code: &'static str, description: impl Into<String>) -> Self {
        OAuthError {
            status: 400,
            code,
            description: description.into(),
        }
    }

    pub(crate) fn unknown_client() -> Self {
        OAuthError {
            status: 401,
            code: "invalid_client",
            description: "Unknown or disabled client.".into(),
        }
    }
}

/// An RFC 9457 problem (`type, title, status, detail, …`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Problem {
    pub status: u16,
    pub code: &'static str,
    pub title: &'static str,
    pub detail: String,
    pub param: Option<&'static str>,
    /// RFC 9457 `errors[]` (field-level failures), when the platform sends one.
    pub errors: Option<Box<Value>>,
}

impl Problem {
    pub(crate) fn new(
        status: u16,
        code: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        Problem {
            status,
            code,
            title,
            detail: detail.into(),
            param: None,
            errors: None,
        }
    }
    pub(crate) fn invalid_request(detail: impl Into<String>) -> Self {
        Problem::new(400, "invalid_request", "Invalid Request", detail)
    }
    pub(crate) fn validation_failed(field: &str, message: &str) -> Self {
        Problem::new(
            400,
            "validation_failed",
            "Validation Failed",
            format!("{field}: {message}"),
        )
    }
    pub(crate) fn unauthorized(detail: impl Into<String>) -> Self {
        Problem::new(401, "unauthorized", "Unauthorized", detail)
    }
    pub(crate) fn forbidden(detail: impl Into<String>) -> Self {
        Problem::new(403, "forbidden", "Forbidden", detail)
    }
    pub(crate) fn not_found(detail: impl Into<String>) -> Self {
        Problem::new(404, "not_found", "Not Found", detail)
    }
}

/// A successful token response.
#[derive(Clone, Debug)]
pub(crate) struct TokenGrant {
    pub access_token: String,
    pub refresh_token: String,
    pub expires_in: u64,
    pub refresh_expires_in: u64,
    pub scope: String,
    pub family_id: String,
}

/// Who a valid bearer token speaks for.
#[derive(Clone, Debug)]
pub(crate) struct Caller {
    pub user_id: String,
    /// Set when the bearer was an API key: the org and app it is pinned to.
    pub api_key: Option<super::api_keys::ApiKeyScope>,
}

pub(crate) struct State {
    pub base_url: String,
    pub config: Config,
    pub signer: JwtSigner,
    pub users: Vec<User>,
    pub orgs: Vec<Org>,
    pub members: Vec<Membership>,
    pub apps: Vec<App>,
    pub models: HashMap<String, Vec<Value>>,
    pub device_codes: HashMap<String, DeviceCode>,
    pub refresh_tokens: HashMap<String, RefreshRow>,
    pub families: Vec<Family>,
    pub rejected_jtis: HashSet<String>,
    pub issued_jtis: Vec<String>,
    pub requests: Vec<RecordedRequest>,
    pub faults: Vec<Fault>,
    pub openapi: Option<Vec<u8>>,
    pub api_keys: super::api_keys::ApiKeys,
    pub registry: super::agents::Registry,
    pub runs: super::runs::RunStore,
    pub llm: super::llm_proxy::Presets,
    pub credentials: super::credential_proxy::Credentials,
    pub end_users: super::end_users::EndUsers,
    last_timestamp: OffsetDateTime,
}

impl State {
    pub(crate) fn new(config: Config) -> Self {
        State {
            base_url: String::new(),
            config,
            signer: JwtSigner::generate(),
            users: Vec::new(),
            orgs: Vec::new(),
            members: Vec::new(),
            apps: Vec::new(),
            models: HashMap::new(),
            device_codes: HashMap::new(),
            refresh_tokens: HashMap::new(),
            families: Vec::new(),
            rejected_jtis: HashSet::new(),
            issued_jtis: Vec::new(),
            requests: Vec::new(),
            faults: Vec::new(),
            openapi: None,
            api_keys: Default::default(),
            registry: Default::default(),
            runs: Default::default(),
            llm: Default::default(),
            credentials: Default::default(),
            end_users: Default::default(),
            last_timestamp: OffsetDateTime::UNIX_EPOCH,
        }
    }

    /// A creation timestamp strictly after the previous one, so that
    /// "ordered by createdAt" is deterministic even within a millisecond.
    pub(crate) fn next_timestamp(&mut self) -> OffsetDateTime {
        let now = OffsetDateTime::now_utc();
        let next = if now > self.last_timestamp {
            now
        } else {
            self.last_timestamp + time::Duration::milliseconds(1)
        };
        self.last_timestamp = next;
        next
    }

    // ── users, orgs, apps ────────────────────────────────────────────────

    pub(crate) fn user(&self, id: &str) -> Option<&User> {
        self.users.iter().find(|u| u.id == id)
    }

    pub(crate) fn role_in(&self, org_id: &str, user_id: &str) -> Option<Role> {
        self.members
            .iter()
            .find(|m| m.org_id == org_id && m.user_id == user_id)
            .map(|m| m.role)
    }

    pub(crate) fn set_member(&mut self, org_id: &str, user_id: &str, role: Role) {
        match self
            .members
            .iter_mut()
            .find(|m| m.org_id == org_id && m.user_id == user_id)
        {
            Some(existing) => existing.role = role,
            None => self.members.push(Membership {
                org_id: org_id.to_owned(),
                user_id: user_id.to_owned(),
                role,
            }),
        }
    }

    pub(crate) fn insert_org(&mut self, name: &str, slug: &str) -> String {
        let id = uuid_v4();
        let created_at = self.next_timestamp();
        self.orgs.push(Org {
            id: id.clone(),
            name: name.to_owned(),
            slug: slug.to_owned(),
            created_at,
        });
        id
    }

    pub(crate) fn insert_app(
        &mut self,
        org_id: &str,
        name: &str,
        is_default: bool,
        created_by: Option<String>,
    ) -> String {
        let id = format!("app_{}", random_alnum(24));
        let created_at = self.next_timestamp();
        self.apps.push(App {
            id: id.clone(),
            org_id: org_id.to_owned(),
            name: name.to_owned(),
            is_default,
            created_at,
            created_by,
        });
        id
    }

    /// `POST /api/orgs`: slug from the request or generated from the name,
    /// the caller becomes owner, and a default application is provisioned.
    pub(crate) fn create_org(
        &mut self,
        user_id: &str,
        name: &str,
        slug: Option<&str>,
    ) -> Result<Value, Problem> {
        if self.config.org_creation_disabled {
            return Err(Problem::forbidden(
                "Organization creation is disabled on this instance",
            ));
        }
        let requested = slug.map(str::trim).filter(|s| !s.is_empty());
        let slug = match requested {
            Some(s) => s.to_owned(),
            None => to_slug(name, 50),
        };
        if slug.is_empty() {
            return Err(Problem::invalid_request(
                "Invalid slug (kebab-case required)",
            ));
        }
        if self.orgs.iter().any(|o| o.slug == slug) {
            return Err(Problem::new(
                400,
                "slug_taken",
                "Bad Request",
                format!("Slug '{slug}' is already in use"),
            ));
        }
        let name = name.trim();
        let org_id = self.insert_org(name, &slug);
        self.set_member(&org_id, user_id, Role::Owner);
        self.insert_app(&org_id, "Default", true, Some(user_id.to_owned()));
        let created_at = self
            .orgs
            .iter()
            .find(|o| o.id == org_id)
            .map(|o| iso(o.created_at))
            .unwrap_or_default();
        Ok(json!({
            "id": org_id,
            "name": name,
            "slug": slug,
            "role": "owner",
            "createdAt": created_at,
        }))
    }

    pub(crate) fn orgs_of(&self, user_id: &str) -> Vec<Value> {
        self.orgs
            .iter()
            .filter_map(|o| {
                let role = self.role_in(&o.id, user_id)?;
                Some(json!({
                    "id": o.id,
                    "name": o.name,
                    "slug": o.slug,
                    "role": role.as_str(),
                    "createdAt": iso(o.created_at),
                }))
            })
            .collect()
    }

    /// Default first, then by creation time.
    pub(crate) fn apps_of(&self, org_id: &str) -> Vec<Value> {
        let mut apps: Vec<&App> = self.apps.iter().filter(|a| a.org_id == org_id).collect();
        apps.sort_by(|a, b| {
            b.is_default
                .cmp(&a.is_default)
                .then(a.created_at.cmp(&b.created_at))
        });
        apps.into_iter().map(app_json).collect()
    }

    pub(crate) fn app_json_by_id(&self, app_id: &str) -> Option<Value> {
        self.apps.iter().find(|a| a.id == app_id).map(app_json)
    }

    // ── device flow ──────────────────────────────────────────────────────

    pub(crate) fn create_device_code(&mut self, client_id: &str, scope: &str) -> Value {
        let device_code = random_alnum(40);
        let user_code = loop {
            let code: String = (0..8)
                .map(|_| {
                    let i = rand::random_range(0..USER_CODE_ALPHABET.len());
                    char::from(USER_CODE_ALPHABET[i])
                })
                .collect();
            if !self.device_codes.values().any(|d| d.user_code == code) {
                break code;
            }
        };
        let status = match &self.config.approval {
            Approval::AutoApprove(user) => DeviceStatus::Approved(user.clone()),
            Approval::Deny => DeviceStatus::Denied,
            Approval::Manual | Approval::ApproveAfterPolls { .. } => DeviceStatus::Pending,
        };
        let expires_in = self.config.device_expires_in_secs;
        let guard = self
            .config
            .polling_guard
            .unwrap_or(Duration::from_secs(self.config.interval_secs));
        self.device_codes.insert(
            device_code.clone(),
            DeviceCode {
                user_code: user_code.clone(),
                client_id: client_id.to_owned(),
                scope: scope.to_owned(),
                expires_at: Instant::now() + Duration::from_secs(expires_in),
                polling_guard: guard,
                last_polled: None,
                status,
                pending_polls: 0,
            },
        );
        let verification_uri = format!("{}/activate", self.base_url);
        json!({
            "device_code": device_code,
            "user_code": user_code,
            "verification_uri": verification_uri,
            "verification_uri_complete": format!("{verification_uri}?user_code={user_code}"),
            "expires_in": expires_in,
            "interval": self.config.interval_secs,
        })
    }

    /// Find a pending device code by its user code (dash and case ignored).
    pub(crate) fn device_by_user_code(&mut self, user_code: &str) -> Option<&mut DeviceCode> {
        let wanted: String = user_code
            .chars()
            .filter(|c| *c != '-')
            .flat_map(char::to_uppercase)
            .collect();
        self.device_codes
            .values_mut()
            .find(|d| d.user_code == wanted)
    }

    /// The device-code grant, rule for rule as the platform's
    /// `exchangeDeviceCodeForTokens` (docs/platform-api.md#token-response).
    pub(crate) fn exchange_device_code(
        &mut self,
        device_code: &str,
        client_id: &str,
        metadata: DeviceMetadata,
    ) -> Result<TokenGrant, OAuthError> {
        let now = Instant::now();
        let approval = self.config.approval.clone();
        let Some(row) = self.device_codes.get_mut(device_code) else {
            return Err(OAuthError::bad(
                "invalid_grant",
                "Unknown or already-consumed device_code.",
            ));
        };
        if row.client_id != client_id {
            return Err(OAuthError::bad(
                "invalid_grant",
                "client_id does not match device_code issuer.",
            ));
        }
        if let Some(last) = row.last_polled
            && now.duration_since(last) < row.polling_guard
        {
            return Err(OAuthError::bad(
                "slow_down",
                "Polling too frequently — back off per RFC 8628 §5.5.",
            ));
        }
        row.last_polled = Some(now);
        if row.expires_at <= now {
            self.device_codes.remove(device_code);
            return Err(OAuthError::bad(
                "expired_token",
                "Device code expired before approval.",
            ));
        }
        if row.status == DeviceStatus::Pending {
            row.pending_polls += 1;
            if let Approval::ApproveAfterPolls { user, polls } = approval
                && row.pending_polls > polls
            {
                row.status = DeviceStatus::Approved(user);
            }
        }
        let user_id = match row.status.clone() {
            DeviceStatus::Pending => {
                return Err(OAuthError::bad(
                    "authorization_pending",
                    "Waiting for the user to approve.",
                ));
            }
            DeviceStatus::Denied => {
                self.device_codes.remove(device_code);
                return Err(OAuthError::bad(
                    "access_denied",
                    "User denied the authorization request.",
                ));
            }
            DeviceStatus::Approved(user_id) => user_id,
        };
        let scope = row.scope.clone();
        if self.user(&user_id).is_none() {
            return Err(OAuthError::bad(
                "server_error",
                "Approving user no longer exists.",
            ));
        }
        // One-shot: a racing second exchange finds nothing.
        self.device_codes.remove(device_code);
        Ok(self.start_family(&user_id, &scope, metadata, FamilyOrigin::DeviceFlow))
    }

    /// A new session (refresh-token family) with its first token pair.
    pub(crate) fn start_family(
        &mut self,
        user_id: &str,
        scope: &str,
        metadata: DeviceMetadata,
        origin: FamilyOrigin,
    ) -> TokenGrant {
        let family_id = format!("crf_{}", random_alnum(24));
        let created_at = self.next_timestamp();
        self.families.push(Family {
            id: family_id.clone(),
            user_id: user_id.to_owned(),
            scope: scope.to_owned(),
            device_name: clamp(metadata.device_name.as_deref(), DEVICE_NAME_MAX_CHARS),
            user_agent: clamp(metadata.user_agent.as_deref(), USER_AGENT_MAX_CHARS),
            created_ip: metadata.ip.clone(),
            last_used_ip: None,
            created_at,
            last_used_at: None,
            expires_at: created_at
                + time::Duration::seconds(secs_i64(self.config.refresh_ttl_secs)),
            revoked: None,
            origin,
        });
        self.mint(user_id, &family_id, scope)
    }

    /// A token pair for an existing family.
    fn mint(&mut self, user_id: &str, family_id: &str, scope: &str) -> TokenGrant {
        let access_ttl = self.config.access_ttl_secs;
        let refresh_ttl = self.config.refresh_ttl_secs;
        let access_token = self.sign_access_token(user_id, family_id, scope);
        let refresh_token = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
        self.refresh_tokens.insert(
            refresh_token.clone(),
            RefreshRow {
                family_id: family_id.to_owned(),
                client_id: CLI_CLIENT_ID.to_owned(),
                expires_at: SystemTime::now() + Duration::from_secs(refresh_ttl),
                used: false,
            },
        );
        TokenGrant {
            access_token,
            refresh_token,
            expires_in: access_ttl,
            refresh_expires_in: refresh_ttl,
            scope: scope.to_owned(),
            family_id: family_id.to_owned(),
        }
    }

    /// The access-token JWT with exactly the claims of docs/platform-api.md#access-token.
    fn sign_access_token(&mut self, user_id: &str, family_id: &str, scope: &str) -> String {
        let (email, name, email_verified) = match self.user(user_id) {
            Some(u) => (
                u.email.clone(),
                u.name.clone().unwrap_or_else(|| u.email.clone()),
                u.email_verified,
            ),
            None => (String::new(), String::new(), false),
        };
        let issuer = format!("{}/api/auth", self.base_url);
        let iat = unix_now();
        let jti = hex::encode(rand::random::<[u8; 16]>());
        let mut claims = Map::new();
        claims.insert("iss".into(), json!(issuer));
        claims.insert("aud".into(), json!(issuer));
        claims.insert("sub".into(), json!(user_id));
        claims.insert("iat".into(), json!(iat));
        claims.insert("exp".into(), json!(iat + self.config.access_ttl_secs));
        claims.insert("jti".into(), json!(jti));
        claims.insert("azp".into(), json!(CLI_CLIENT_ID));
        claims.insert("actor_type".into(), json!("user"));
        claims.insert("email".into(), json!(email));
        claims.insert("email_verified".into(), json!(email_verified));
        claims.insert("name".into(), json!(name));
        claims.insert("cli_family_id".into(), json!(family_id));
        if !scope.is_empty() {
            claims.insert("scope".into(), json!(scope));
        }
        self.issued_jtis.push(jti);
        self.signer.sign(&Value::Object(claims))
    }

    /// The refresh grant with rotation and reuse detection (docs/platform-api.md#refresh).
    pub(crate) fn rotate_refresh_token(
        &mut self,
        token: &str,
        client_id: &str,
        ip: Option<String>,
    ) -> Result<TokenGrant, OAuthError> {
        let Some(row) = self.refresh_tokens.get(token).cloned() else {
            return Err(OAuthError::bad("invalid_grant", "Unknown refresh token."));
        };
        if row.client_id != client_id {
            return Err(OAuthError::bad(
                "invalid_grant",
                "Refresh token was issued to a different client.",
            ));
        }
        let Some(family) = self
            .families
            .iter()
            .find(|f| f.id == row.family_id)
            .cloned()
        else {
            return Err(OAuthError::bad("invalid_grant", "Unknown refresh token."));
        };
        if family.revoked.is_some() {
            return Err(OAuthError::bad(
                "invalid_grant",
                "Refresh token has been revoked.",
            ));
        }
        if row.expires_at < SystemTime::now() {
            return Err(OAuthError::bad(
                "invalid_grant",
                "Refresh token has expired.",
            ));
        }
        if row.used {
            // RFC 6819 §5.2.2.3: a used token means theft or a race; either
            // way the whole family goes.
            self.revoke_family(&row.family_id, "reuse");
            return Err(OAuthError::bad(
                "invalid_grant",
                "Refresh token has been revoked.",
            ));
        }
        if self.user(&family.user_id).is_none() {
            return Err(OAuthError::bad("invalid_grant", "User no longer exists."));
        }
        if let Some(r) = self.refresh_tokens.get_mut(token) {
            r.used = true;
        }
        let now = self.next_timestamp();
        if let Some(f) = self.families.iter_mut().find(|f| f.id == row.family_id) {
            f.last_used_at = Some(now);
            f.last_used_ip = ip.or(f.last_used_ip.take());
        }
        Ok(self.mint(&family.user_id, &family.id, &family.scope))
    }

    /// `/api/auth/cli/revoke`: revoke the family of `token` when it exists
    /// and belongs to `client_id`; the caller always answers `{revoked:true}`.
    pub(crate) fn revoke_refresh_token(&mut self, token: &str, client_id: &str) -> bool {
        match self.refresh_tokens.get(token).cloned() {
            Some(row) if row.client_id == client_id => self.revoke_family(&row.family_id, "logout"),
            _ => false,
        }
    }

    /// Revoke a family; `false` if unknown or already revoked.
    pub(crate) fn revoke_family(&mut self, family_id: &str, reason: &str) -> bool {
        match self.families.iter_mut().find(|f| f.id == family_id) {
            Some(f) if f.revoked.is_none() => {
                f.revoked = Some(reason.to_owned());
                true
            }
            _ => false,
        }
    }

    /// Validate `Authorization: Bearer <jwt>`: signature, expiry, not
    /// rejected by a test, family not revoked, user still exists.
    pub(crate) fn authenticate(&self, authorization: Option<&str>) -> Result<Caller, Problem> {
        let invalid = || Problem::unauthorized("Invalid or missing session");
        let token = authorization
            .and_then(|h| {
                h.strip_prefix("Bearer ")
                    .or_else(|| h.strip_prefix("bearer "))
            })
            .map(str::trim)
            .ok_or_else(invalid)?;
        if token.starts_with(super::api_keys::API_KEY_PREFIX) {
            return self
                .api_keys
                .authenticate(token, |id| self.user(id).is_some());
        }
        let claims = self.signer.verify(token).ok_or_else(invalid)?;
        let exp = claims
            .get("exp")
            .and_then(Value::as_u64)
            .ok_or_else(invalid)?;
        if exp <= unix_now() {
            return Err(invalid());
        }
        let jti = claims
            .get("jti")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if self.rejected_jtis.contains(jti) {
            return Err(invalid());
        }
        let family_id = claims
            .get("cli_family_id")
            .and_then(Value::as_str)
            .ok_or_else(invalid)?;
        match self.families.iter().find(|f| f.id == family_id) {
            Some(f) if f.revoked.is_none() => {}
            _ => return Err(invalid()),
        }
        let user_id = claims
            .get("sub")
            .and_then(Value::as_str)
            .ok_or_else(invalid)?;
        if self.user(user_id).is_none() {
            return Err(invalid());
        }
        Ok(Caller {
            user_id: user_id.to_owned(),
            api_key: None,
        })
    }

    // ── org-admin CLI session oversight ──────────────────────────────────

    /// `GET /api/orgs/{orgId}/cli-sessions`: live families of current members,
    /// most recently used first (platform `listSessionsForOrg`).
    pub(crate) fn org_sessions(&self, org_id: &str) -> Vec<Value> {
        let now = OffsetDateTime::now_utc();
        let mut rows: Vec<&Family> = self
            .families
            .iter()
            .filter(|f| f.revoked.is_none() && f.expires_at > now)
            .filter(|f| self.role_in(org_id, &f.user_id).is_some())
            .collect();
        rows.sort_by(|a, b| {
            let a_ts = a.last_used_at.unwrap_or(a.created_at);
            let b_ts = b.last_used_at.unwrap_or(b.created_at);
            b_ts.cmp(&a_ts)
        });
        rows.into_iter()
            .map(|f| {
                let user = self.user(&f.user_id);
                json!({
                    "familyId": f.id,
                    "deviceName": f.device_name,
                    "userAgent": f.user_agent,
                    "createdIp": f.created_ip,
                    "lastUsedIp": f.last_used_ip,
                    "lastUsedAt": f.last_used_at.map(iso),
                    "createdAt": iso(f.created_at),
                    "expiresAt": iso(f.expires_at),
                    "current": false,
                    "userId": f.user_id,
                    "userEmail": user.map(|u| u.email.clone()),
                    "userName": user.and_then(|u| u.name.clone()),
                })
            })
            .collect()
    }

    /// `DELETE /api/orgs/{orgId}/cli-sessions/{familyId}`
    /// (platform `revokeFamilyForOrgAdmin`): refused (`false`) when the
    /// family is unknown, not a member's, already revoked, or its owner also
    /// belongs to another organization (the credential is user-global).
    pub(crate) fn revoke_for_org_admin(&mut self, org_id: &str, family_id: &str) -> bool {
        let Some(family) = self.families.iter().find(|f| f.id == family_id) else {
            return false;
        };
        if family.revoked.is_some() || self.role_in(org_id, &family.user_id).is_none() {
            return false;
        }
        let owner = family.user_id.clone();
        if self
            .members
            .iter()
            .any(|m| m.user_id == owner && m.org_id != org_id)
        {
            return false;
        }
        self.revoke_family(family_id, "org_admin_revoked")
    }
}

fn app_json(app: &App) -> Value {
    json!({
        "object": "application",
        "id": app.id,
        "orgId": app.org_id,
        "name": app.name,
        "isDefault": app.is_default,
        "settings": {},
        "createdAt": iso(app.created_at),
        "updatedAt": iso(app.created_at),
        "created_by": app.created_by,
    })
}

/// The platform's `toSlug`: lower-case, strip accents, runs of anything
/// else than `[a-z0-9]` become one `-`, trimmed of `-`, cut to `max` chars.
pub(crate) fn to_slug(value: &str, max: usize) -> String {
    let mut out = String::new();
    let mut dash = false;
    for c in value.to_lowercase().chars().map(strip_accent) {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            if dash && !out.is_empty() {
                out.push('-');
            }
            dash = false;
            out.push(c);
        } else {
            dash = true;
        }
    }
    out.chars().take(max).collect()
}

/// Base letter of common Latin accented letters (NFD + mark removal).
fn strip_accent(c: char) -> char {
    match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' => 'a',
        'ç' | 'ć' | 'č' => 'c',
        'ď' => 'd',
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ė' | 'ę' | 'ě' => 'e',
        'ì' | 'í' | 'î' | 'ï' | 'ī' | 'į' => 'i',
        'ñ' | 'ń' | 'ň' => 'n',
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ō' | 'ő' => 'o',
        'ŕ' | 'ř' => 'r',
        'ś' | 'š' | 'ş' => 's',
        'ť' | 'ţ' => 't',
        'ù' | 'ú' | 'û' | 'ü' | 'ū' | 'ů' | 'ű' | 'ų' => 'u',
        'ý' | 'ÿ' => 'y',
        'ź' | 'ż' | 'ž' => 'z',
        other => other,
    }
}

/// Valid slug per the platform's `SLUG_REGEX` `^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`.
pub(crate) fn is_valid_slug(slug: &str) -> bool {
    let bytes = slug.as_bytes();
    let edge = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    match (bytes.first(), bytes.last()) {
        (Some(first), Some(last)) => {
            edge(first) && edge(last) && bytes.iter().all(|b| edge(b) || *b == b'-')
        }
        _ => false,
    }
}

fn clamp(value: Option<&str>, max: usize) -> Option<String> {
    let trimmed = value?.trim();
    (!trimmed.is_empty()).then(|| trimmed.chars().take(max).collect())
}

/// JavaScript `Date.toISOString()`: millisecond precision, `Z`.
pub(crate) fn iso(t: OffsetDateTime) -> String {
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    t.format(&format).unwrap_or_default()
}

pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn secs_i64(secs: u64) -> i64 {
    i64::try_from(secs).unwrap_or(i64::MAX / 1_000_000)
}

pub(crate) fn random_alnum(len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    (0..len)
        .map(|_| char::from(ALPHABET[rand::random_range(0..ALPHABET.len())]))
        .collect()
}

pub(crate) fn uuid_v4() -> String {
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_follow_the_platform_rules() {
        assert_eq!(to_slug("Acme Corp", 50), "acme-corp");
        assert_eq!(to_slug("  Éléphant & Co!! ", 50), "elephant-co");
        assert_eq!(to_slug("!!!", 50), "");
        assert_eq!(to_slug(&"a".repeat(80), 50).len(), 50);
        assert!(is_valid_slug("acme-2"));
        assert!(!is_valid_slug("-acme"));
        assert!(!is_valid_slug("Acme"));
        assert!(!is_valid_slug(""));
    }

    #[test]
    fn uuids_look_like_v4() {
        let id = uuid_v4();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
    }
}
