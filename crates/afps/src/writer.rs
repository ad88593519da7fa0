//! The `.afps-bundle` writer (docs/afps.md#writer): identities sorted, each
//! package's `RECORD` first then its files sorted, canonical `bundle.json`
//! last; STORE entries stamped 1980-01-02 12:00.

use serde_json::{Map, Value};

use crate::bundle::{BUNDLE_FORMAT_VERSION, Bundle};
use crate::error::{BundleError, ErrorCode, err};
use crate::integrity::{
    bundle_integrity, compute_record_entries, record_integrity, serialize_record,
};
use crate::manifest::parse_identity;
use appstrate_jsjson::{canonical, cmp_utf16};

/// The canonical `bundle.json` text and the ordered archive entries.
pub fn bundle_entries(bundle: &Bundle) -> Result<Vec<(String, Vec<u8>)>, BundleError> {
    if bundle.format_version != BUNDLE_FORMAT_VERSION {
        return err(
            ErrorCode::VersionUnsupported,
            format!(
                "writer only emits {BUNDLE_FORMAT_VERSION}, got {}",
                bundle.format_version
            ),
        );
    }
    if bundle.get(&bundle.root).is_none() {
        return err(
            ErrorCode::BundleJsonInvalid,
            format!("root {} not present in packages map", bundle.root),
        );
    }
    let mut ids: Vec<&str> = bundle
        .packages
        .iter()
        .map(|p| p.identity.as_str())
        .collect();
    ids.sort_by(|a, b| cmp_utf16(a, b));
    ids.dedup();
    let mut entries = Vec::new();
    let mut index = Vec::new();
    for id in ids {
        let pkg = bundle
            .get(id)
            .ok_or_else(|| BundleError::new(ErrorCode::BundleJsonInvalid, id))?;
        let parsed = parse_identity(id).ok_or_else(|| {
            BundleError::new(
                ErrorCode::BundleJsonInvalid,
                format!("invalid package identity in bundle: {id}"),
            )
        })?;
        let path = parsed.bundle_path();
        let record = serialize_record(&compute_record_entries(&pkg.files))?;
        let integrity = record_integrity(&record);
        entries.push((format!("{path}RECORD"), record.into_bytes()));
        let mut files: Vec<(&String, &Vec<u8>)> = pkg
            .files
            .iter()
            .filter(|(p, _)| p.as_str() != "RECORD")
            .collect();
        files.sort_by(|a, b| cmp_utf16(a.0, b.0));
        for (p, data) in files {
            entries.push((format!("{path}{p}"), data.clone()));
        }
        index.push((id.to_string(), path, integrity));
    }
    let integrity = bundle_integrity(
        index
            .iter()
            .map(|(i, p, g)| (i.as_str(), p.as_str(), g.as_str())),
    );
    let mut packages = Map::new();
    for (id, path, integ) in &index {
        let mut e = Map::new();
        e.insert("path".into(), Value::String(path.clone()));
        e.insert("integrity".into(), Value::String(integ.clone()));
        packages.insert(id.clone(), Value::Object(e));
    }
    let mut doc = Map::new();
    doc.insert(
        "bundleFormatVersion".into(),
        Value::String(bundle.format_version.clone()),
    );
    doc.insert("root".into(), Value::String(bundle.root.clone()));
    doc.insert("packages".into(), Value::Object(packages));
    doc.insert("integrity".into(), Value::String(integrity));
    if let Some(meta) = bundle.metadata.as_ref().filter(|m| !m.is_empty()) {
        doc.insert("metadata".into(), Value::Object(meta.clone()));
    }
    entries.push((
        "bundle.json".into(),
        canonical(&Value::Object(doc)).into_bytes(),
    ));
    Ok(entries)
}

/// Write a bundle as `.afps-bundle` bytes.
pub fn write_bundle(bundle: &Bundle) -> Result<Vec<u8>, BundleError> {
    Ok(crate::zip::write_stored(&bundle_entries(bundle)?))
}

/// Write a single package as a plain `.afps` (files at the root, no
/// RECORD, STORE entries in sorted order).
pub fn write_afps(bundle: &Bundle) -> Result<Vec<u8>, BundleError> {
    let root = bundle.root_package();
    let mut files: Vec<(String, Vec<u8>)> = root
        .files
        .iter()
        .map(|(p, d)| (p.clone(), d.clone()))
        .collect();
    files.sort_by(|a, b| cmp_utf16(&a.0, &b.0));
    Ok(crate::zip::write_stored(&files))
}
