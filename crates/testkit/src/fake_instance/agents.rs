//! The package registry: agents (and the skills/integrations their bundles
//! carry) with a draft, published versions, dist-tags and per-application
//! installs. Routes: `GET /api/agents`, `GET /api/packages/agents/@s/n[/versions]`,
//! `GET /api/agents/@s/n/bundle`, `POST /api/packages/import-bundle`,
//! `POST /api/applications/{app}/packages`.

use std::collections::BTreeMap;

use appstrate_afps::{Bundle, Limits, Package, integrity::sri_sha256, read_bundle};
use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use super::platform::{AppScope, Perm, require_perm};
use super::routes::{ParsedRequest, json_response, list};
use super::semver::{Range, Version, max_satisfying};
use super::state::{Problem, State, iso};
use super::{FakeInstance, lock};

/// What the bundle route does to its headers, for "bad SRI" client tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BundleTamper {
    /// Headers as the platform sends them.
    #[default]
    None,
    /// `X-Bundle-Integrity` names other bytes than the body.
    WrongIntegrity,
    /// `X-Bundle-Integrity` is absent.
    DropIntegrity,
    /// `X-Bundle-Version` is absent.
    DropVersion,
}

/// A version published with [`FakeInstance::publish_agent`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublishedAgent {
    /// `@scope/name`.
    pub id: String,
    pub version: String,
    /// `package_versions.id`.
    pub version_id: u64,
    /// The package integrity (SRI of its RECORD).
    pub integrity: String,
}

/// One published version of a package.
#[derive(Clone, Debug)]
pub(crate) struct PublishedVersion {
    pub id: u64,
    pub version: String,
    pub bundle: Bundle,
    pub yanked: bool,
    pub created_by: Option<String>,
    pub created_at: OffsetDateTime,
}

/// A package's settings in one application (`application_packages`).
#[derive(Clone, Debug, Default)]
pub(crate) struct Install {
    pub app_id: String,
    pub version_id: Option<u64>,
    pub model_id: Option<String>,
    pub proxy_id: Option<String>,
    pub generation: Option<Value>,
    pub values: Map<String, Value>,
    pub locked: Vec<String>,
    pub enabled: bool,
}

#[derive(Clone, Debug)]
pub(crate) struct PackageRecord {
    pub id: String,
    pub org_id: String,
    pub kind: String,
    /// The working copy (always present; publishing also updates it).
    pub draft: Bundle,
    pub versions: Vec<PublishedVersion>,
    pub dist_tags: BTreeMap<String, String>,
    pub installs: Vec<Install>,
    pub updated_at: OffsetDateTime,
    pub lock_version: u64,
}

impl PackageRecord {
    pub(crate) fn install(&self, app_id: &str) -> Option<&Install> {
        self.installs.iter().find(|i| i.app_id == app_id)
    }
    pub(crate) fn install_mut(&mut self, app_id: &str) -> Option<&mut Install> {
        self.installs.iter_mut().find(|i| i.app_id == app_id)
    }
    pub(crate) fn version(&self, version: &str) -> Option<&PublishedVersion> {
        self.versions.iter().find(|v| v.version == version)
    }
    /// The draft's root manifest.
    pub(crate) fn draft_manifest(&self) -> &Map<String, Value> {
        &self.draft.root_package().manifest
    }
    /// `dist-tags.latest`, when it names an existing version.
    pub(crate) fn latest(&self) -> Option<&PublishedVersion> {
        self.dist_tags
            .get("latest")
            .and_then(|version| self.version(version))
    }

    /// The platform's three-step `resolveVersion`: exact version, then
    /// dist-tag, then the highest non-yanked version in a semver range.
    pub(crate) fn resolve(&self, spec: &str) -> Option<&PublishedVersion> {
        let spec = spec.trim();
        if Version::parse(spec).is_some() {
            return self.version(spec.trim_start_matches(['v', '=']));
        }
        if let Some(version) = self.dist_tags.get(spec) {
            return self.version(version);
        }
        let range = Range::parse(spec)?;
        let live = self
            .versions
            .iter()
            .filter(|v| !v.yanked)
            .map(|v| v.version.as_str());
        let best = max_satisfying(live, &range)?;
        self.version(best)
    }
}

#[derive(Default)]
pub(crate) struct Registry {
    pub packages: Vec<PackageRecord>,
    next_version_id: u64,
    pub tamper: BundleTamper,
}

/// Each imported `(id, version, status)`, and whether the root was newly
/// installed in the application.
type ImportOutcome = (Vec<(String, String, ImportStatus)>, bool);

/// The outcome of importing one package of a bundle.
enum ImportStatus {
    Inserted(u64),
    Reused(u64),
}

impl Registry {
    pub(crate) fn get(&self, org_id: &str, id: &str) -> Option<&PackageRecord> {
        self.packages
            .iter()
            .find(|p| p.org_id == org_id && p.id == id)
    }
    pub(crate) fn get_mut(&mut self, org_id: &str, id: &str) -> Option<&mut PackageRecord> {
        self.packages
            .iter_mut()
            .find(|p| p.org_id == org_id && p.id == id)
    }

    /// The agent `id` of `org` installed in `app`, or the platform's 404s.
    pub(crate) fn installed_agent(
        &self,
        org_id: &str,
        app_id: &str,
        id: &str,
    ) -> Result<&PackageRecord, Problem> {
        let agent = self
            .get(org_id, id)
            .filter(|p| p.kind == "agent")
            .ok_or_else(|| agent_not_found(id))?;
        if agent.install(app_id).is_none() {
            return Err(Problem::new(
                404,
                "agent_not_installed_in_app",
                "Agent Not Installed",
                format!(
                    "Agent '{id}' exists in this organization but is not installed in application '{app_id}'. \
                     Install it via POST /api/applications/{app_id}/packages, or pick a different application."
                ),
            ));
        }
        Ok(agent)
    }

    /// Publish every package of `bundle` into `org` (root installed in
    /// `app`). A `(id, version)` already published with other content is
    /// `bundle_conflict`; the same content again is reused.
    fn import(
        &mut self,
        org_id: &str,
        app_id: &str,
        user_id: Option<&str>,
        bundle: &Bundle,
        now: OffsetDateTime,
    ) -> Result<ImportOutcome, Problem> {
        for package in &bundle.packages {
            let (id, version) = split_identity(&package.identity)?;
            if let Some(existing) = self.get(org_id, &id).and_then(|p| p.version(&version))
                && existing.bundle.root_package().integrity != package.integrity
            {
                return Err(Problem::new(
                    409,
                    "bundle_conflict",
                    "Conflict",
                    format!(
                        "{}@{version} already exists with divergent integrity (existing {}, incoming {})",
                        id,
                        existing.bundle.root_package().integrity,
                        package.integrity
                    ),
                ));
            }
            if self
                .packages
                .iter()
                .any(|p| p.id == id && p.org_id != org_id)
            {
                return Err(Problem::new(
                    409,
                    "conflict",
                    "Conflict",
                    format!("Package '{id}' is owned by another organization"),
                ));
            }
        }
        let mut outcomes = Vec::new();
        for package in &bundle.packages {
            let (id, version) = split_identity(&package.identity)?;
            // The root carries its dependencies; a dependency is stored alone.
            let own_bundle = if package.identity == bundle.root {
                bundle.clone()
            } else {
                Bundle::of_one(package.clone())
            };
            let status = self.publish_one(org_id, user_id, &id, &version, package, own_bundle, now);
            outcomes.push((id, version, status));
        }
        let (root_id, _) = split_identity(&bundle.root)?;
        let root_installed = match self.get_mut(org_id, &root_id) {
            Some(root) if root.install(app_id).is_none() => {
                root.installs.push(Install {
                    app_id: app_id.to_owned(),
                    enabled: true,
                    ..Install::default()
                });
                true
            }
            _ => false,
        };
        Ok((outcomes, root_installed))
    }

    #[allow(clippy::too_many_arguments)]
    fn publish_one(
        &mut self,
        org_id: &str,
        user_id: Option<&str>,
        id: &str,
        version: &str,
        package: &Package,
        bundle: Bundle,
        now: OffsetDateTime,
    ) -> ImportStatus {
        if let Some(existing) = self.get(org_id, id).and_then(|p| p.version(version)) {
            return ImportStatus::Reused(existing.id);
        }
        self.next_version_id += 1;
        let version_id = self.next_version_id;
        let published = PublishedVersion {
            id: version_id,
            version: version.to_owned(),
            bundle: bundle.clone(),
            yanked: false,
            created_by: user_id.map(str::to_owned),
            created_at: now,
        };
        let kind = package.package_type().unwrap_or("agent").to_owned();
        let record = match self.get_mut(org_id, id) {
            Some(record) => record,
            None => {
                self.packages.push(PackageRecord {
                    id: id.to_owned(),
                    org_id: org_id.to_owned(),
                    kind,
                    draft: bundle.clone(),
                    versions: Vec::new(),
                    dist_tags: BTreeMap::new(),
                    installs: Vec::new(),
                    updated_at: now,
                    lock_version: 0,
                });
                let last = self.packages.len() - 1;
                &mut self.packages[last]
            }
        };
        record.versions.push(published);
        record.draft = bundle;
        record.updated_at = now;
        record.lock_version += 1;
        let newer = match record
            .dist_tags
            .get("latest")
            .and_then(|v| Version::parse(v))
        {
            None => true,
            Some(current) => Version::parse(version).is_some_and(|v| v > current),
        };
        let stable = Version::parse(version).is_some_and(|v| v.pre.is_empty());
        if newer && stable {
            record.dist_tags.insert("latest".into(), version.to_owned());
        }
        ImportStatus::Inserted(version_id)
    }
}

/// `@scope/name@version` → (`@scope/name`, `version`).
fn split_identity(identity: &str) -> Result<(String, String), Problem> {
    appstrate_afps::manifest::parse_identity(identity)
        .map(|i| (i.package_id(), i.version))
        .ok_or_else(|| Problem::invalid_request(format!("Invalid package identity '{identity}'")))
}

pub(crate) fn agent_not_found(id: &str) -> Problem {
    Problem::new(
        404,
        "agent_not_found",
        "Agent Not Found",
        format!("Agent '{id}' not found in this organization"),
    )
}

/// Read an `.afps` or `.afps-bundle`, or the problem the import route raises.
fn parse_bundle(bytes: &[u8]) -> Result<Bundle, Problem> {
    read_bundle(bytes, &Limits::default()).map_err(|err| {
        Problem::new(
            400,
            "invalid_bundle",
            "Invalid Bundle",
            format!("Invalid bundle: {err}"),
        )
    })
}

/// The wire bytes of a bundle, written as the platform writes them.
pub(crate) fn bundle_bytes(bundle: &Bundle) -> Vec<u8> {
    let mut bundle = bundle.clone();
    let mut metadata = Map::new();
    metadata.insert("builder".into(), json!("appstrate-platform"));
    bundle.metadata = Some(metadata);
    appstrate_afps::writer::write_bundle(&bundle).unwrap_or_default()
}

// ── routes ───────────────────────────────────────────────────────────────

/// `GET /api/agents`: the agents installed in the current application.
pub(crate) fn list_agents(state: &State, scope: &AppScope) -> Response {
    let running = |id: &str| state.runs.running_count(&scope.app_id, id);
    let data = state
        .registry
        .packages
        .iter()
        .filter(|p| {
            p.org_id == scope.org_id && p.kind == "agent" && p.install(&scope.app_id).is_some()
        })
        .map(|p| {
            let m = p.draft_manifest();
            let (s, _) = p.id.split_once('/').unwrap_or((&p.id, ""));
            json!({
                "id": p.id,
                "display_name": m.get("displayName").cloned().unwrap_or(Value::Null),
                "description": m.get("description").cloned().unwrap_or(Value::Null),
                "schema_version": m.get("schemaVersion").cloned().unwrap_or(Value::Null),
                "author": m.get("author").cloned().unwrap_or(Value::Null),
                "keywords": m.get("keywords").cloned().unwrap_or(json!([])),
                "dependencies": dependencies(m),
                "running_runs": running(&p.id),
                "source": "local",
                "scope": s,
                "version": m.get("version").cloned().unwrap_or(Value::Null),
                "type": "agent",
            })
        })
        .collect();
    json_response(StatusCode::OK, &list(data))
}

fn dependencies(manifest: &Map<String, Value>) -> Value {
    let declared = manifest.get("dependencies").and_then(Value::as_object);
    let section = |key: &str| {
        declared
            .and_then(|d| d.get(key))
            .cloned()
            .unwrap_or_else(|| json!({}))
    };
    json!({
        "skills": section("skills"),
        "mcp_servers": section("mcp_servers"),
        "integrations": section("integrations"),
    })
}

/// `GET /api/packages/agents/@s/n`.
pub(crate) fn agent_detail(state: &State, scope: &AppScope, id: &str) -> Result<Response, Problem> {
    let agent = state
        .registry
        .installed_agent(&scope.org_id, &scope.app_id, id)?;
    let m = agent.draft_manifest();
    let (s, _) = agent.id.split_once('/').unwrap_or((&agent.id, ""));
    let last_run = state.runs.last_run(&scope.app_id, id);
    let published_latest = agent.latest();
    let has_changes = published_latest
        .is_none_or(|v| v.bundle.root_package().integrity != agent.draft.root_package().integrity);
    let timeout = m.get("timeout").and_then(Value::as_u64).unwrap_or(300);
    Ok(json_response(
        StatusCode::OK,
        &json!({
            "id": agent.id,
            "display_name": m.get("displayName").cloned().unwrap_or(Value::Null),
            "description": m.get("description").cloned().unwrap_or(Value::Null),
            "source": "local",
            "scope": s,
            "version": m.get("version").cloned().unwrap_or(Value::Null),
            "dependencies": dependencies(m),
            "input": m.get("input").cloned().unwrap_or(Value::Null),
            "running_runs": state.runs.running_count(&scope.app_id, id),
            "last_run": last_run,
            "version_count": agent.versions.len(),
            "has_unarchived_changes": has_changes,
            "effective_timeout_seconds": timeout,
            "forked_from": null,
            "manifest": m,
            "updatedAt": iso(agent.updated_at),
            "lock_version": agent.lock_version,
            "prompt": agent.draft.root_package().text("prompt.md").unwrap_or_default(),
        }),
    ))
}

/// `GET /api/packages/agents/@s/n/versions`.
pub(crate) fn agent_versions(
    state: &State,
    scope: &AppScope,
    id: &str,
) -> Result<Response, Problem> {
    let agent = state
        .registry
        .installed_agent(&scope.org_id, &scope.app_id, id)?;
    let mut versions: Vec<&PublishedVersion> = agent.versions.iter().collect();
    versions.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
    let rows: Vec<Value> = versions
        .into_iter()
        .map(|v| {
            json!({
                "id": v.id,
                "version": v.version,
                "integrity": v.bundle.root_package().integrity,
                "artifact_size": bundle_bytes(&v.bundle).len(),
                "yanked": v.yanked,
                "created_by": v.created_by,
                "createdAt": iso(v.created_at),
            })
        })
        .collect();
    Ok(json_response(StatusCode::OK, &json!({ "versions": rows })))
}

/// `GET /api/agents/@s/n/bundle[?source=draft|published][&version=SPEC]`.
pub(crate) fn bundle(
    state: &State,
    req: &ParsedRequest,
    scope: &AppScope,
    id: &str,
) -> Result<Response, Problem> {
    require_perm(state, scope, Perm::AgentsRead)?;
    let spec = req.query_param("version").filter(|v| !v.is_empty());
    let source = req.query_param("source");
    if let Some(source) = source.as_deref()
        && source != "draft"
        && source != "published"
    {
        return Err(Problem::new(
            400,
            "invalid_source",
            "Invalid Source",
            format!("?source must be 'draft' or 'published' (got '{source}')"),
        ));
    }
    let draft = source.as_deref() == Some("draft");
    if draft && spec.is_some() {
        return Err(Problem::new(
            400,
            "draft_with_version",
            "Conflicting Query",
            "?source=draft cannot be combined with ?version — drafts have no published id",
        ));
    }
    let agent = state
        .registry
        .installed_agent(&scope.org_id, &scope.app_id, id)?;
    let (label, bundle) = if draft {
        ("draft".to_owned(), &agent.draft)
    } else {
        let version = export_version(agent, &scope.app_id, spec.as_deref())?;
        (version.version.clone(), &version.bundle)
    };
    let bytes = bundle_bytes(bundle);
    let mut integrity = sri_sha256(&bytes);
    if state.registry.tamper == BundleTamper::WrongIntegrity {
        integrity = sri_sha256(b"not these bytes");
    }
    let safe_name = agent.id.replacen('/', "-", 1);
    let mut response = Response::new(Body::from(bytes));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/zip"),
    );
    if let Ok(value) = HeaderValue::from_str(&format!(
        "attachment; filename=\"{safe_name}.afps-bundle.zip\""
    )) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    if state.registry.tamper != BundleTamper::DropIntegrity
        && let Ok(value) = HeaderValue::from_str(&integrity)
    {
        headers.insert("x-bundle-integrity", value);
    }
    if state.registry.tamper != BundleTamper::DropVersion
        && let Ok(value) = HeaderValue::from_str(&label)
    {
        headers.insert("x-bundle-version", value);
    }
    Ok(response)
}

/// `resolveExportVersion`: an explicit spec, else the version installed in
/// the application, else `latest`.
pub(crate) fn export_version<'a>(
    agent: &'a PackageRecord,
    app_id: &str,
    spec: Option<&str>,
) -> Result<&'a PublishedVersion, Problem> {
    if let Some(spec) = spec {
        return agent.resolve(spec).ok_or_else(|| {
            Problem::not_found(format!("Version '{spec}' not found for '{}'", agent.id))
        });
    }
    let pinned = agent
        .install(app_id)
        .and_then(|i| i.version_id)
        .and_then(|vid| agent.versions.iter().find(|v| v.id == vid));
    pinned.or_else(|| agent.latest()).ok_or_else(|| {
        Problem::not_found(format!(
            "No exportable version found for '{}' — publish a version first, then retry",
            agent.id
        ))
    })
}

/// `POST /api/packages/import-bundle` (multipart `file` or `bundle`).
pub(crate) fn import_bundle(
    state: &mut State,
    req: &ParsedRequest,
    scope: &AppScope,
) -> Result<Response, Problem> {
    require_perm(state, scope, Perm::AgentsWrite)?;
    let content_type = req.header("content-type").unwrap_or_default();
    let parts = super::multipart::parse(content_type, &req.body)
        .ok_or_else(|| Problem::invalid_request("Expected a multipart/form-data body"))?;
    let file = parts
        .iter()
        .find(|p| p.name == "file" || p.name == "bundle")
        .ok_or_else(|| {
            let mut p = Problem::invalid_request("Missing file field 'file'");
            p.param = Some("file");
            p
        })?;
    let filename = file
        .filename
        .as_deref()
        .unwrap_or_default()
        .to_ascii_lowercase();
    if ![".afps-bundle", ".afps", ".zip"]
        .iter()
        .any(|ext| filename.ends_with(ext))
    {
        return Err(Problem::invalid_request(
            "File must have a .afps-bundle, .afps or .zip extension",
        ));
    }
    let bundle = parse_bundle(&file.data)?;
    let now = state.next_timestamp();
    let user = scope.user_id.clone();
    let (outcomes, root_installed) =
        state
            .registry
            .import(&scope.org_id, &scope.app_id, Some(&user), &bundle, now)?;
    let (root_id, root_version) = split_identity(&bundle.root)?;
    let imported: Vec<Value> = outcomes
        .iter()
        .map(|(id, version, status)| {
            let (status, version_id) = match status {
                ImportStatus::Inserted(v) => ("inserted", *v),
                ImportStatus::Reused(v) => ("reused", *v),
            };
            let kind = state
                .registry
                .get(&scope.org_id, id)
                .map(|p| p.kind.clone())
                .unwrap_or_default();
            json!({
                "identity": format!("{id}@{version}"),
                "status": status,
                "version_id": version_id,
                "type": kind,
            })
        })
        .collect();
    Ok(json_response(
        StatusCode::CREATED,
        &json!({
            "imported": imported,
            "root_installed": root_installed,
            "root_package_id": root_id,
            "root_version": root_version,
            "warnings": [],
        }),
    ))
}

/// `POST /api/applications/{app}/packages {"packageId"}`: install a package
/// of the organization into another application.
pub(crate) fn install_package(
    state: &mut State,
    req: &ParsedRequest,
    scope: &AppScope,
    app_id: &str,
) -> Result<Response, Problem> {
    require_perm(state, scope, Perm::AgentsWrite)?;
    if !state
        .apps
        .iter()
        .any(|a| a.id == app_id && a.org_id == scope.org_id)
    {
        return Err(Problem::not_found(format!(
            "Application '{app_id}' not found"
        )));
    }
    let body = super::routes::json_object(req)?;
    let Some(package_id) = body.get("packageId").and_then(Value::as_str) else {
        return Err(Problem::validation_failed("packageId", "Required"));
    };
    let Some(package) = state.registry.get_mut(&scope.org_id, package_id) else {
        return Err(Problem::not_found(format!(
            "Package '{package_id}' not found"
        )));
    };
    if package.install(app_id).is_some() {
        return Err(Problem::new(
            409,
            "conflict",
            "Conflict",
            format!("Package '{package_id}' is already installed in this application"),
        ));
    }
    package.installs.push(Install {
        app_id: app_id.to_owned(),
        enabled: true,
        ..Install::default()
    });
    Ok(json_response(
        StatusCode::CREATED,
        &json!({ "packageId": package_id, "applicationId": app_id, "enabled": true }),
    ))
}

// ── test hooks ───────────────────────────────────────────────────────────

/// `.afps` bytes of an agent `id@version` (`id` = `@scope/name`): its
/// manifest is `{"name","version","type":"agent","schemaVersion":"1.0"}`
/// plus the keys of `manifest_extra` (e.g. `displayName`, `input`), its
/// `prompt.md` is `prompt`. For tests that publish or run agents.
pub fn agent_afps(id: &str, version: &str, manifest_extra: Value, prompt: &str) -> Vec<u8> {
    let mut manifest = Map::new();
    manifest.insert("name".into(), json!(id));
    manifest.insert("version".into(), json!(version));
    manifest.insert("type".into(), json!("agent"));
    manifest.insert("schemaVersion".into(), json!("1.0"));
    if let Value::Object(extra) = manifest_extra {
        manifest.extend(extra);
    }
    let mut files = appstrate_afps::archive::FileMap::new();
    files.insert(
        "manifest.json".into(),
        Value::Object(manifest).to_string().into_bytes(),
    );
    files.insert("prompt.md".into(), prompt.as_bytes().to_vec());
    let package = appstrate_afps::bundle::package_from_files(files)
        .unwrap_or_else(|e| panic!("agent_afps: {e}"));
    appstrate_afps::writer::write_afps(&Bundle::of_one(package))
        .unwrap_or_else(|e| panic!("agent_afps: {e}"))
}

fn org_of_app(state: &State, app_id: &str) -> String {
    state
        .apps
        .iter()
        .find(|a| a.id == app_id)
        .map(|a| a.org_id.clone())
        .unwrap_or_else(|| panic!("fake instance: unknown application {app_id}"))
}

impl FakeInstance {
    /// Publish an agent (`.afps` or `.afps-bundle` bytes) into the org of
    /// `app_id` and install it there, as `import-bundle` would. Its
    /// dependencies are published too. Also makes it the draft, and moves
    /// `latest` when the version is the highest stable one. Panics on a
    /// bundle the platform would refuse (a test set-up error).
    pub fn publish_agent(&self, app_id: &str, bundle: Vec<u8>) -> PublishedAgent {
        let parsed = parse_bundle(&bundle)
            .unwrap_or_else(|p| panic!("fake instance: publish_agent: {}", p.detail));
        let mut state = lock(&self.shared);
        let org_id = org_of_app(&state, app_id);
        let now = state.next_timestamp();
        state
            .registry
            .import(&org_id, app_id, None, &parsed, now)
            .unwrap_or_else(|p| panic!("fake instance: publish_agent: {}", p.detail));
        let (id, version) = split_identity(&parsed.root)
            .unwrap_or_else(|p| panic!("fake instance: publish_agent: {}", p.detail));
        let published = state
            .registry
            .get(&org_id, &id)
            .and_then(|p| p.version(&version))
            .map(|v| (v.id, v.bundle.root_package().integrity.clone()))
            .unwrap_or_else(|| panic!("fake instance: {id}@{version} was not stored"));
        PublishedAgent {
            id,
            version,
            version_id: published.0,
            integrity: published.1,
        }
    }

    /// Replace the working copy (draft) of the bundle's root agent, creating
    /// a never-published agent installed in `app_id` when it is new.
    /// Returns the agent id.
    pub fn set_draft(&self, app_id: &str, bundle: Vec<u8>) -> String {
        let parsed = parse_bundle(&bundle)
            .unwrap_or_else(|p| panic!("fake instance: set_draft: {}", p.detail));
        let (id, _) = split_identity(&parsed.root)
            .unwrap_or_else(|p| panic!("fake instance: set_draft: {}", p.detail));
        let mut state = lock(&self.shared);
        let org_id = org_of_app(&state, app_id);
        let now = state.next_timestamp();
        match state.registry.get_mut(&org_id, &id) {
            Some(record) => {
                record.draft = parsed;
                record.updated_at = now;
                record.lock_version += 1;
                if record.install(app_id).is_none() {
                    record.installs.push(Install {
                        app_id: app_id.to_owned(),
                        enabled: true,
                        ..Install::default()
                    });
                }
            }
            None => state.registry.packages.push(PackageRecord {
                id: id.clone(),
                org_id,
                kind: parsed
                    .root_package()
                    .package_type()
                    .unwrap_or("agent")
                    .to_owned(),
                draft: parsed,
                versions: Vec::new(),
                dist_tags: BTreeMap::new(),
                installs: vec![Install {
                    app_id: app_id.to_owned(),
                    enabled: true,
                    ..Install::default()
                }],
                updated_at: now,
                lock_version: 1,
            }),
        }
        id
    }

    /// Point dist-tag `tag` of `agent_id` (in any org) at `version`.
    pub fn set_dist_tag(&self, agent_id: &str, tag: &str, version: &str) {
        self.with(|s| {
            for p in s.registry.packages.iter_mut().filter(|p| p.id == agent_id) {
                p.dist_tags.insert(tag.to_owned(), version.to_owned());
            }
        });
    }

    /// Mark a published version yanked (ranges skip it).
    pub fn yank_version(&self, agent_id: &str, version: &str) {
        self.with(|s| {
            for p in s.registry.packages.iter_mut().filter(|p| p.id == agent_id) {
                for v in p.versions.iter_mut().filter(|v| v.version == version) {
                    v.yanked = true;
                }
            }
        });
    }

    /// Install an agent of the app's org into `app_id` too.
    pub fn install_agent(&self, app_id: &str, agent_id: &str) {
        self.with(|s| {
            let org_id = org_of_app(s, app_id);
            if let Some(p) = s.registry.get_mut(&org_id, agent_id)
                && p.install(app_id).is_none()
            {
                p.installs.push(Install {
                    app_id: app_id.to_owned(),
                    enabled: true,
                    ..Install::default()
                });
            }
        });
    }

    /// Remove an agent from `app_id` (it stays in the organization).
    pub fn uninstall_agent(&self, app_id: &str, agent_id: &str) {
        self.with(|s| {
            for p in s.registry.packages.iter_mut().filter(|p| p.id == agent_id) {
                p.installs.retain(|i| i.app_id != app_id);
            }
        });
    }

    /// Make the bundle route lie about or omit a header from now on.
    pub fn tamper_bundle_headers(&self, tamper: BundleTamper) {
        self.with(|s| s.registry.tamper = tamper);
    }

    /// The exact bytes `GET …/bundle` serves for `version` (`"draft"` for
    /// the working copy) of an agent, to compare with what a client saved.
    pub fn agent_bundle_bytes(&self, agent_id: &str, version: &str) -> Option<Vec<u8>> {
        self.with(|s| {
            let p = s.registry.packages.iter().find(|p| p.id == agent_id)?;
            let bundle = if version == "draft" {
                &p.draft
            } else {
                &p.version(version)?.bundle
            };
            Some(bundle_bytes(bundle))
        })
    }
}
