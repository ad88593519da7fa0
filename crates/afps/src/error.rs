//! The stable error codes of the AFPS bundle format (docs/afps.md#error-codes).

use std::fmt;

/// A stable, public error code. `as_str` gives the wire spelling
/// (`ARCHIVE_INVALID`, …) which tools and scripts may match on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// Not a ZIP, corrupt ZIP, unsafe entry name, or a missing companion file.
    ArchiveInvalid,
    /// A `.afps-bundle` without `bundle.json`.
    BundleJsonMissing,
    /// `bundle.json` or a `manifest.json` is not the expected JSON shape.
    BundleJsonInvalid,
    /// A bundle package without its `RECORD` file.
    RecordMissing,
    /// A `RECORD` that does not parse strictly or is not canonical.
    RecordMalformed,
    /// A file that disagrees with its `RECORD` line (hash, size, presence).
    RecordMismatch,
    /// A package or bundle SRI that does not match.
    IntegrityMismatch,
    /// `bundleFormatVersion` with an unsupported major.
    VersionUnsupported,
    /// A size, count or depth cap was crossed.
    LimitsExceeded,
    /// A manifest that breaks the schema rules.
    ManifestSchema,
    /// A dependency that could not be resolved.
    DependencyUnresolved,
    /// Building a bundle failed.
    ToolBundleFailed,
}

impl ErrorCode {
    /// The wire spelling of the code.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::ArchiveInvalid => "ARCHIVE_INVALID",
            ErrorCode::BundleJsonMissing => "BUNDLE_JSON_MISSING",
            ErrorCode::BundleJsonInvalid => "BUNDLE_JSON_INVALID",
            ErrorCode::RecordMissing => "RECORD_MISSING",
            ErrorCode::RecordMalformed => "RECORD_MALFORMED",
            ErrorCode::RecordMismatch => "RECORD_MISMATCH",
            ErrorCode::IntegrityMismatch => "INTEGRITY_MISMATCH",
            ErrorCode::VersionUnsupported => "VERSION_UNSUPPORTED",
            ErrorCode::LimitsExceeded => "LIMITS_EXCEEDED",
            ErrorCode::ManifestSchema => "MANIFEST_SCHEMA",
            ErrorCode::DependencyUnresolved => "DEPENDENCY_UNRESOLVED",
            ErrorCode::ToolBundleFailed => "TOOL_BUNDLE_FAILED",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error from reading, verifying or writing a bundle: a stable code plus a
/// one-line human message (never containing secrets).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct BundleError {
    /// The stable code.
    pub code: ErrorCode,
    /// What went wrong, in one line.
    pub message: String,
}

impl BundleError {
    /// Build an error from a code and a message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        BundleError {
            code,
            message: message.into(),
        }
    }
}

pub(crate) fn err<T>(code: ErrorCode, message: impl Into<String>) -> Result<T, BundleError> {
    Err(BundleError::new(code, message))
}
