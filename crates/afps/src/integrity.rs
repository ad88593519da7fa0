//! RECORD files, SRI digests and the bundle Merkle digest (docs/afps.md#integrity).

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::{BundleError, ErrorCode, err};
use appstrate_jsjson::{canonical, cmp_utf16};

/// One RECORD line: `<path>,sha256=<b64 no pad>,<size>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordEntry {
    /// File path relative to the package directory.
    pub path: String,
    /// `sha256=<base64 without padding>`.
    pub hash: String,
    /// Size in bytes.
    pub size: u64,
}

/// `sha256=<base64 without padding>` of some bytes (the RECORD hash form).
pub fn record_file_hash(data: &[u8]) -> String {
    format!("sha256={}", STANDARD_NO_PAD.encode(Sha256::digest(data)))
}

/// `sha256-<base64 padded>` (W3C SRI) of some bytes.
pub fn sri_sha256(data: &[u8]) -> String {
    format!("sha256-{}", STANDARD.encode(Sha256::digest(data)))
}

/// RECORD entries for a package's files (the file named `RECORD` is skipped).
pub fn compute_record_entries<'a>(
    files: impl IntoIterator<Item = (&'a String, &'a Vec<u8>)>,
) -> Vec<RecordEntry> {
    files
        .into_iter()
        .filter(|(path, _)| path.as_str() != "RECORD")
        .map(|(path, data)| RecordEntry {
            path: path.clone(),
            hash: record_file_hash(data),
            size: data.len() as u64,
        })
        .collect()
}

/// The canonical RECORD body: lines sorted by path (UTF-16 order), LF, one
/// trailing LF; the empty string for no files. Duplicates are an error.
pub fn serialize_record(entries: &[RecordEntry]) -> Result<String, BundleError> {
    let mut sorted: Vec<&RecordEntry> = entries.iter().collect();
    sorted.sort_by(|a, b| cmp_utf16(&a.path, &b.path));
    let mut out = String::new();
    for (i, e) in sorted.iter().enumerate() {
        if i > 0 && sorted[i - 1].path == e.path {
            return err(
                ErrorCode::RecordMalformed,
                format!("duplicate RECORD entry for path: {}", e.path),
            );
        }
        out.push_str(&format!("{},{},{}\n", e.path, e.hash, e.size));
    }
    Ok(out)
}

/// Parse a RECORD body strictly: no CR, exactly three comma fields, a
/// `sha256=` hash, a non-negative decimal size, no duplicate paths.
pub fn parse_record(body: &str) -> Result<Vec<RecordEntry>, BundleError> {
    if body.contains('\r') {
        return err(
            ErrorCode::RecordMalformed,
            "RECORD contains CR characters (must be LF-only)",
        );
    }
    let trimmed = body.strip_suffix('\n').unwrap_or(body);
    if trimmed.is_empty() {
        return Ok(Vec::new());
    }
    let mut entries = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for line in trimmed.split('\n') {
        let malformed = || {
            err(
                ErrorCode::RecordMalformed,
                format!(
                    "malformed RECORD line: {}",
                    appstrate_jsjson::stringify(&Value::String(line.into()))
                ),
            )
        };
        let parts: Vec<&str> = line.split(',').collect();
        let [path, hash, size] = parts[..] else {
            return malformed();
        };
        if path.is_empty() || !hash.starts_with("sha256=") || hash.len() <= "sha256=".len() {
            return malformed();
        }
        let size = match size.parse::<u64>() {
            Ok(n) if !size.is_empty() && size.bytes().all(|b| b.is_ascii_digit()) => n,
            _ => {
                return err(
                    ErrorCode::RecordMalformed,
                    format!("malformed RECORD size: {size:?}"),
                );
            }
        };
        if !seen.insert(path) {
            return err(
                ErrorCode::RecordMalformed,
                format!("duplicate RECORD entry for path: {path}"),
            );
        }
        entries.push(RecordEntry {
            path: path.into(),
            hash: hash.into(),
            size,
        });
    }
    Ok(entries)
}

/// Package integrity: SRI of the RECORD body's UTF-8 bytes.
pub fn record_integrity(record_body: &str) -> String {
    sri_sha256(record_body.as_bytes())
}

/// Bundle integrity: SRI of the canonical JSON of
/// `{identity: {integrity, path}, …}` over every package.
pub fn bundle_integrity<'a>(
    packages: impl IntoIterator<Item = (&'a str, &'a str, &'a str)>,
) -> String {
    sri_sha256(bundle_integrity_input(packages).as_bytes())
}

/// The exact canonical JSON text hashed by [`bundle_integrity`]; arguments
/// are `(identity, path, integrity)`.
pub fn bundle_integrity_input<'a>(
    packages: impl IntoIterator<Item = (&'a str, &'a str, &'a str)>,
) -> String {
    let mut map = Map::new();
    for (identity, path, integrity) in packages {
        let mut entry = Map::new();
        entry.insert("integrity".into(), Value::String(integrity.into()));
        entry.insert("path".into(), Value::String(path.into()));
        map.insert(identity.into(), Value::Object(entry));
    }
    canonical(&Value::Object(map))
}

/// Compare two integrity strings, in constant time when lengths are equal.
pub fn integrity_eq(computed: &str, expected: &str) -> bool {
    computed.len() == expected.len() && bool::from(computed.as_bytes().ct_eq(expected.as_bytes()))
}
