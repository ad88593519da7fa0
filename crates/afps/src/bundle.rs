//! Bundles and packages, and the two readers: `.afps` (one package) and
//! `.afps-bundle` (several), told apart by content (docs/afps.md#archive-kinds).

use std::path::Path;

use serde_json::{Map, Value};

use crate::archive::{self, FileMap};
use crate::error::{BundleError, ErrorCode, err};
use crate::integrity::{
    bundle_integrity, compute_record_entries, integrity_eq, parse_record, record_file_hash,
    record_integrity, serialize_record,
};
use crate::limits::Limits;
use crate::manifest::{check_companion_files, decode_text, parse_identity, parse_manifest};

/// The only bundle format version written and read (major 1).
pub const BUNDLE_FORMAT_VERSION: &str = "1.0";

/// Which archive format a bundle was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchiveKind {
    /// A single-package `.afps` (manifest at the root).
    Afps,
    /// A multi-package `.afps-bundle` (with `bundle.json`).
    AfpsBundle,
}

impl ArchiveKind {
    /// `afps` or `afps-bundle`.
    pub fn as_str(self) -> &'static str {
        match self {
            ArchiveKind::Afps => "afps",
            ArchiveKind::AfpsBundle => "afps-bundle",
        }
    }
}

/// One package of a bundle.
#[derive(Debug, Clone, PartialEq)]
pub struct Package {
    /// `@scope/name@version`.
    pub identity: String,
    /// Directory inside a `.afps-bundle`, e.g. `packages/@s/n/1.0.0/`.
    pub path: String,
    /// The parsed `manifest.json` (unknown fields preserved, key order kept).
    pub manifest: Map<String, Value>,
    /// Every file of the package except `RECORD`, by relative path.
    pub files: FileMap,
    /// The canonical RECORD body computed from `files`.
    pub record: String,
    /// Package integrity: SRI of `record`.
    pub integrity: String,
}

impl Package {
    /// Build a package from its files, computing RECORD and integrity.
    pub fn from_files(
        identity: String,
        manifest: Map<String, Value>,
        mut files: FileMap,
    ) -> Result<Self, BundleError> {
        files.remove("RECORD");
        let path = parse_identity(&identity)
            .map(|id| id.bundle_path())
            .ok_or_else(|| {
                BundleError::new(
                    ErrorCode::BundleJsonInvalid,
                    format!("invalid package identity: {identity:?}"),
                )
            })?;
        let record = serialize_record(&compute_record_entries(&files))?;
        let integrity = record_integrity(&record);
        Ok(Package {
            identity,
            path,
            manifest,
            files,
            record,
            integrity,
        })
    }

    /// Raw bytes of one file.
    pub fn file(&self, path: &str) -> Option<&[u8]> {
        self.files.get(path).map(Vec::as_slice)
    }

    /// A file decoded as the platform does (BOM dropped, lossy UTF-8).
    pub fn text(&self, path: &str) -> Option<String> {
        self.file(path).map(decode_text)
    }

    /// `manifest.type` (`agent`, `skill`, `mcp-server`, `integration`).
    pub fn package_type(&self) -> Option<&str> {
        self.manifest.get("type").and_then(Value::as_str)
    }

    /// A string field of the manifest.
    pub fn manifest_str(&self, key: &str) -> Option<&str> {
        self.manifest.get(key).and_then(Value::as_str)
    }

    /// RECORD and integrity as if `signature.sig` were absent (what is signed).
    pub fn integrity_without_signature(&self) -> Result<String, BundleError> {
        let entries = compute_record_entries(
            self.files
                .iter()
                .filter(|(p, _)| p.as_str() != "signature.sig"),
        );
        Ok(record_integrity(&serialize_record(&entries)?))
    }
}

/// A bundle: a root package plus its dependencies.
#[derive(Debug, Clone, PartialEq)]
pub struct Bundle {
    /// `bundleFormatVersion` (`"1.0"`).
    pub format_version: String,
    /// Identity of the root package.
    pub root: String,
    /// Packages in `bundle.json` order (root first for a `.afps`).
    pub packages: Vec<Package>,
    /// Bundle integrity (SRI of the canonical package map).
    pub integrity: String,
    /// `bundle.json` metadata (not covered by integrity).
    pub metadata: Option<Map<String, Value>>,
    /// The format the bundle was read from.
    pub kind: ArchiveKind,
}

impl Bundle {
    /// A bundle of one package (how a `.afps` is read).
    pub fn of_one(package: Package) -> Bundle {
        let integrity = bundle_integrity([(
            package.identity.as_str(),
            package.path.as_str(),
            package.integrity.as_str(),
        )]);
        Bundle {
            format_version: BUNDLE_FORMAT_VERSION.into(),
            root: package.identity.clone(),
            packages: vec![package],
            integrity,
            metadata: None,
            kind: ArchiveKind::Afps,
        }
    }

    /// Look a package up by identity.
    pub fn get(&self, identity: &str) -> Option<&Package> {
        self.packages.iter().find(|p| p.identity == identity)
    }

    /// The root package (always present in a bundle returned by a reader).
    pub fn root_package(&self) -> &Package {
        self.get(&self.root).unwrap_or(&self.packages[0])
    }

    /// Recompute the bundle integrity from the packages' own integrities.
    pub fn compute_integrity(&self) -> String {
        bundle_integrity(
            self.packages
                .iter()
                .map(|p| (p.identity.as_str(), p.path.as_str(), p.integrity.as_str())),
        )
    }
}

/// Read a bundle from a file: the size cap is checked on the file's length
/// before reading it. Unreadable files are `ARCHIVE_INVALID`.
pub fn read_bundle_file(path: &Path, limits: &Limits) -> Result<Bundle, BundleError> {
    let meta = std::fs::metadata(path).map_err(|e| {
        BundleError::new(
            ErrorCode::ArchiveInvalid,
            format!("cannot read {}: {e}", path.display()),
        )
    })?;
    if meta.len() > limits.max_compressed_bytes {
        return err(
            ErrorCode::LimitsExceeded,
            format!(
                "archive ({} bytes) exceeds compressed limit {}",
                meta.len(),
                limits.max_compressed_bytes
            ),
        );
    }
    let bytes = std::fs::read(path).map_err(|e| {
        BundleError::new(
            ErrorCode::ArchiveInvalid,
            format!("cannot read {}: {e}", path.display()),
        )
    })?;
    read_bundle(&bytes, limits)
}

/// Read either format, detected by content: `bundle.json` at the root means
/// a `.afps-bundle`, verified in the platform's order; otherwise the archive
/// is a `.afps` and becomes a bundle of one package.
pub fn read_bundle(bytes: &[u8], limits: &Limits) -> Result<Bundle, BundleError> {
    let files = archive::extract(bytes, limits, "archive")?;
    if files.contains_key("bundle.json") {
        bundle_from_files(files, limits)
    } else {
        package_from_afps_files(files, limits).map(Bundle::of_one)
    }
}

/// Read a `.afps-bundle` only (`BUNDLE_JSON_MISSING` for anything else).
pub fn read_afps_bundle(bytes: &[u8], limits: &Limits) -> Result<Bundle, BundleError> {
    let files = archive::extract(bytes, limits, "bundle")?;
    bundle_from_files(files, limits)
}

/// Read a single-package `.afps` (wrapper folder stripped).
pub fn read_afps(bytes: &[u8], limits: &Limits) -> Result<Package, BundleError> {
    let files = archive::extract(bytes, limits, "afps")?;
    package_from_afps_files(files, limits)
}

fn package_from_afps_files(files: FileMap, _limits: &Limits) -> Result<Package, BundleError> {
    package_from_files(archive::strip_wrapper(files))
}

/// Build a package from its files as the `.afps` reader does: `manifest.json`
/// must be a JSON object with a scoped `name` and a `version`, and the
/// companion files of its `type` must be present. A `RECORD` file is ignored.
pub fn package_from_files(files: FileMap) -> Result<Package, BundleError> {
    let Some(manifest_bytes) = files.get("manifest.json") else {
        return err(
            ErrorCode::BundleJsonInvalid,
            ".afps archive missing manifest.json at root",
        );
    };
    let manifest = parse_manifest(manifest_bytes, None)?;
    let name = manifest.get("name").and_then(Value::as_str);
    let version = manifest.get("version").and_then(Value::as_str);
    let (Some(name), Some(version)) = (
        name.filter(|s| !s.is_empty()),
        version.filter(|s| !s.is_empty()),
    ) else {
        return err(
            ErrorCode::BundleJsonInvalid,
            format!(
                "manifest.json must declare name + version (got name={}, version={})",
                appstrate_jsjson::stringify(manifest.get("name").unwrap_or(&Value::Null)),
                appstrate_jsjson::stringify(manifest.get("version").unwrap_or(&Value::Null))
            ),
        );
    };
    if !name.starts_with('@') || !name.contains('/') {
        return err(
            ErrorCode::BundleJsonInvalid,
            format!("manifest.name must be scoped (@scope/name), got {name}"),
        );
    }
    let identity = format!("{name}@{version}");
    check_companion_files(&manifest, &files)?;
    Package::from_files(identity, manifest, files)
}

struct DeclaredPackage {
    identity: String,
    path: String,
    integrity: String,
}

fn bundle_from_files(files: FileMap, limits: &Limits) -> Result<Bundle, BundleError> {
    let BundleJson {
        format_version,
        root,
        declared_integrity,
        declared,
        metadata,
    } = BundleJson::parse(&files, limits)?;
    check_format_and_size(&format_version, declared.len(), limits)?;
    let mut files = files;
    let mut packages = Vec::with_capacity(declared.len());
    for (i, d) in declared.iter().enumerate() {
        let pkg_files = take_package_files(&mut files, &d.path, &declared[i + 1..]);
        packages.push(verify_package(d, pkg_files, limits)?);
    }

    let computed = bundle_integrity(
        declared
            .iter()
            .map(|d| (d.identity.as_str(), d.path.as_str(), d.integrity.as_str())),
    );
    if !integrity_eq(&computed, &declared_integrity) {
        return err(
            ErrorCode::IntegrityMismatch,
            format!(
                "bundle.json integrity mismatch (declared {declared_integrity}, computed {computed})"
            ),
        );
    }
    if !packages.iter().any(|p: &Package| p.identity == root) {
        return Err(BundleError::new(
            ErrorCode::BundleJsonInvalid,
            format!("root {root} is not present in packages map"),
        ));
    }
    Ok(Bundle {
        format_version,
        root,
        packages,
        integrity: computed,
        metadata,
        kind: ArchiveKind::AfpsBundle,
    })
}

/// `bundle.json`: what the archive says it holds.
struct BundleJson {
    format_version: String,
    root: String,
    declared_integrity: String,
    declared: Vec<DeclaredPackage>,
    metadata: Option<Map<String, Value>>,
}

impl BundleJson {
    fn parse(files: &FileMap, limits: &Limits) -> Result<BundleJson, BundleError> {
        let Some(bundle_json) = files.get("bundle.json") else {
            return err(
                ErrorCode::BundleJsonMissing,
                "archive does not contain bundle.json",
            );
        };
        let invalid = |m: String| BundleError::new(ErrorCode::BundleJsonInvalid, m);
        let doc = match serde_json::from_str::<Value>(&decode_text(bundle_json)) {
            Ok(Value::Object(o)) => o,
            Ok(_) => return Err(invalid("bundle.json must be a JSON object".into())),
            Err(e) => return Err(invalid(format!("bundle.json is not valid JSON: {e}"))),
        };
        let field = |k: &str| doc.get(k).and_then(Value::as_str).map(str::to_string);
        let format_version = field("bundleFormatVersion")
            .ok_or_else(|| invalid("bundle.json missing bundleFormatVersion".into()))?;
        let root = field("root").ok_or_else(|| invalid("bundle.json missing root".into()))?;
        let declared_integrity =
            field("integrity").ok_or_else(|| invalid("bundle.json missing integrity".into()))?;
        let Some(Value::Object(pkgs)) = doc.get("packages") else {
            return Err(invalid("bundle.json packages must be an object".into()));
        };
        let mut declared = Vec::with_capacity(pkgs.len().min(limits.max_packages as usize));
        for (id, entry) in pkgs {
            let Some(entry) = entry.as_object() else {
                return Err(invalid(format!(
                    "bundle.json.packages[{id}] must be an object"
                )));
            };
            let (Some(path), Some(integrity)) = (
                entry.get("path").and_then(Value::as_str),
                entry.get("integrity").and_then(Value::as_str),
            ) else {
                return Err(invalid(format!(
                    "bundle.json.packages[{id}] missing path/integrity"
                )));
            };
            declared.push(DeclaredPackage {
                identity: id.clone(),
                path: path.into(),
                integrity: integrity.into(),
            });
        }
        let metadata = match doc.get("metadata") {
            None => None,
            Some(Value::Object(m)) => Some(m.clone()),
            Some(_) => return Err(invalid("bundle.json metadata must be an object".into())),
        };
        Ok(BundleJson {
            format_version,
            root,
            declared_integrity,
            declared,
            metadata,
        })
    }
}

/// A major `bundleFormatVersion` of 1, and no more packages than allowed.
fn check_format_and_size(
    format_version: &str,
    package_count: usize,
    limits: &Limits,
) -> Result<(), BundleError> {
    let major = format_version.split('.').next().unwrap_or("");
    if major.is_empty()
        || !major.bytes().all(|b| b.is_ascii_digit())
        || major.parse::<u64>().ok() != Some(1)
    {
        return err(
            ErrorCode::VersionUnsupported,
            format!("bundleFormatVersion {format_version} not supported (accepts majors: 1)"),
        );
    }
    if package_count as u64 > limits.max_packages {
        return err(
            ErrorCode::LimitsExceeded,
            format!(
                "bundle has {} packages — exceeds limit {}",
                package_count, limits.max_packages
            ),
        );
    }
    Ok(())
}

/// The files under `path`, relative to it. Bytes are moved out of `files`
/// (no copy) unless a later package's path also claims them.
fn take_package_files(files: &mut FileMap, path: &str, later: &[DeclaredPackage]) -> FileMap {
    if path.is_empty() {
        return FileMap::new();
    }
    let keys: Vec<String> = files
        .range(path.to_string()..)
        .take_while(|(k, _)| k.starts_with(path))
        .filter(|(k, _)| k.len() > path.len())
        .map(|(k, _)| k.clone())
        .collect();
    let mut out = FileMap::new();
    for key in keys {
        let shared = later
            .iter()
            .any(|d| !d.path.is_empty() && key.starts_with(&d.path));
        let data = if shared {
            files.get(&key).cloned()
        } else {
            files.remove(&key)
        };
        if let Some(data) = data {
            out.insert(key[path.len()..].to_string(), data);
        }
    }
    out
}

fn verify_package(
    d: &DeclaredPackage,
    mut pkg_files: FileMap,
    limits: &Limits,
) -> Result<Package, BundleError> {
    let id = &d.identity;
    check_declared(d, limits)?;
    let Some(record_bytes) = pkg_files.remove("RECORD") else {
        return err(
            ErrorCode::RecordMissing,
            format!("package {id} missing RECORD file"),
        );
    };
    let record_body = decode_text(&record_bytes);
    check_files_against_record(id, &pkg_files, &record_body)?;
    let integrity = record_integrity(&record_body);
    if !integrity_eq(&integrity, &d.integrity) {
        return err(
            ErrorCode::IntegrityMismatch,
            format!("package {id}: per-package integrity mismatch"),
        );
    }
    let Some(manifest_bytes) = pkg_files.get("manifest.json") else {
        return err(
            ErrorCode::BundleJsonInvalid,
            format!("package {id} missing manifest.json"),
        );
    };
    let manifest = parse_manifest(manifest_bytes, Some(id))?;
    Ok(Package {
        identity: id.clone(),
        path: d.path.clone(),
        manifest,
        files: pkg_files,
        record: record_body,
        integrity,
    })
}

/// The identity (length, shape) and path (`dir/`) a package is declared with.
fn check_declared(d: &DeclaredPackage, limits: &Limits) -> Result<(), BundleError> {
    let id = &d.identity;
    if id.len() > limits.max_identity_bytes {
        return err(
            ErrorCode::LimitsExceeded,
            format!(
                "package identity exceeds {} bytes",
                limits.max_identity_bytes
            ),
        );
    }
    if parse_identity(id).is_none() {
        return err(
            ErrorCode::BundleJsonInvalid,
            format!("invalid package identity: {id:?}"),
        );
    }
    if d.path.is_empty() || !d.path.ends_with('/') || d.path.starts_with('/') {
        return err(
            ErrorCode::BundleJsonInvalid,
            format!("invalid package path for {id}: {:?}", d.path),
        );
    }
    Ok(())
}

/// Every file listed in RECORD with its size and hash, every RECORD entry
/// present, and RECORD itself in canonical form.
fn check_files_against_record(
    id: &str,
    pkg_files: &FileMap,
    record_body: &str,
) -> Result<(), BundleError> {
    let entries = parse_record(record_body)?;
    let index: std::collections::HashMap<&str, &crate::integrity::RecordEntry> =
        entries.iter().map(|e| (e.path.as_str(), e)).collect();
    for (rel, data) in pkg_files {
        let Some(entry) = index.get(rel.as_str()) else {
            return err(
                ErrorCode::RecordMismatch,
                format!("file {rel} in {id} is not listed in RECORD"),
            );
        };
        if entry.size != data.len() as u64 {
            return err(
                ErrorCode::RecordMismatch,
                format!(
                    "file {rel} in {id}: size mismatch (expected {}, got {})",
                    entry.size,
                    data.len()
                ),
            );
        }
        if record_file_hash(data) != entry.hash {
            return err(
                ErrorCode::RecordMismatch,
                format!("file {rel} in {id}: hash mismatch"),
            );
        }
    }
    for entry in &entries {
        if !pkg_files.contains_key(&entry.path) {
            return err(
                ErrorCode::RecordMismatch,
                format!(
                    "RECORD entry {} in {id} has no corresponding file",
                    entry.path
                ),
            );
        }
    }
    let recomputed = serialize_record(&compute_record_entries(pkg_files))?;
    if recomputed != record_body {
        return err(
            ErrorCode::RecordMalformed,
            format!("RECORD in {id} is not in canonical form"),
        );
    }
    Ok(())
}
