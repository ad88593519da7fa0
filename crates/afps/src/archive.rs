//! Bounded archive extraction with entry-name hygiene (docs/afps.md#archive-hygiene).

use std::collections::BTreeMap;

use crate::error::{BundleError, ErrorCode, err};
use crate::limits::Limits;
use crate::zip::{self, InflateError};

/// Files of an archive after hygiene: path → bytes.
pub type FileMap = BTreeMap<String, Vec<u8>>;

/// Check one entry name. `Ok(false)` means "skip silently" (directories,
/// `__MACOSX/`, empty names); `Ok(true)` means "keep".
pub fn check_entry_name(name: &str, limits: &Limits, ctx: &str) -> Result<bool, BundleError> {
    if name.is_empty() || name.ends_with('/') || name.starts_with("__MACOSX/") {
        return Ok(false);
    }
    let invalid = |what: &str| {
        err(
            ErrorCode::ArchiveInvalid,
            format!("{ctx}: {what}: {name:?}"),
        )
    };
    if name.starts_with('/') {
        return invalid("absolute path not allowed");
    }
    if name.contains('\\') {
        return invalid("backslash in path not allowed");
    }
    if name.contains('\0') {
        return invalid("null byte in path");
    }
    if name.contains([',', '\r', '\n']) {
        return invalid("comma or newline in path not allowed");
    }
    let segments: Vec<&str> = name.split('/').collect();
    if segments
        .iter()
        .any(|s| s.is_empty() || *s == "." || *s == "..")
    {
        return invalid("path traversal not allowed");
    }
    if segments.len() > limits.max_path_depth {
        return err(
            ErrorCode::LimitsExceeded,
            format!(
                "{ctx}: path depth {} exceeds limit {}: {name:?}",
                segments.len(),
                limits.max_path_depth
            ),
        );
    }
    Ok(true)
}

/// Read a ZIP held in memory into a [`FileMap`], refusing hostile content
/// before inflating anything: the archive size, the entry count, every entry
/// name and symlinks are checked first, then each entry is inflated under
/// the per-file cap and the running total cap.
pub fn extract(bytes: &[u8], limits: &Limits, ctx: &str) -> Result<FileMap, BundleError> {
    if bytes.len() as u64 > limits.max_compressed_bytes {
        return err(
            ErrorCode::LimitsExceeded,
            format!(
                "{ctx} archive ({} bytes) exceeds compressed limit {}",
                bytes.len(),
                limits.max_compressed_bytes
            ),
        );
    }
    let index = zip::read_index(bytes, limits.max_files)?;
    let mut keep = Vec::with_capacity(index.len());
    for entry in &index {
        if entry.is_symlink {
            return err(
                ErrorCode::ArchiveInvalid,
                format!("{ctx}: symlink entry not allowed: {:?}", entry.name),
            );
        }
        if check_entry_name(&entry.name, limits, ctx)? {
            keep.push(entry);
        }
    }
    let mut files = FileMap::new();
    let mut total: u64 = 0;
    for entry in keep {
        let remaining = limits.max_decompressed_bytes.saturating_sub(total);
        let cap = limits.max_file_bytes.min(remaining);
        let data = match zip::inflate(bytes, entry, cap) {
            Ok(data) => data,
            Err(InflateError::OverCap) if cap < limits.max_file_bytes => {
                return err(
                    ErrorCode::LimitsExceeded,
                    format!(
                        "{ctx}: decompressed size exceeds limit {} (while inflating {:?})",
                        limits.max_decompressed_bytes, entry.name
                    ),
                );
            }
            Err(InflateError::OverCap) => {
                return err(
                    ErrorCode::LimitsExceeded,
                    format!(
                        "{ctx}: file {:?} exceeds per-file limit {}",
                        entry.name, limits.max_file_bytes
                    ),
                );
            }
            Err(InflateError::Invalid(e)) => return Err(e),
        };
        total += data.len() as u64;
        if files.insert(entry.name.clone(), data).is_some() {
            return err(
                ErrorCode::ArchiveInvalid,
                format!("{ctx}: duplicate entry: {:?}", entry.name),
            );
        }
    }
    Ok(files)
}

/// Strip one wrapper folder when every file shares the same top-level
/// directory (`.afps` only).
pub fn strip_wrapper(files: FileMap) -> FileMap {
    let mut prefix: Option<&str> = None;
    for key in files.keys() {
        let Some((first, _)) = key.split_once('/') else {
            return files;
        };
        match prefix {
            None => prefix = Some(first),
            Some(p) if p == first => {}
            Some(_) => return files,
        }
    }
    let Some(prefix) = prefix.map(|p| format!("{p}/")) else {
        return files;
    };
    files
        .into_iter()
        .map(|(k, v)| (k[prefix.len()..].to_string(), v))
        .collect()
}
