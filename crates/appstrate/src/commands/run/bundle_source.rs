//! Where a local run's bundle comes from (docs/run.md "Runs by id"): a file,
//! or the instance. A download is verified against `X-Bundle-Integrity`
//! (the SHA-256 of the bytes on the wire) and read from memory; it is never
//! written to disk.

use std::path::Path;

use appstrate_afps::integrity::{integrity_eq, sri_sha256};
use appstrate_afps::{Bundle, BundleError, Limits, read_bundle, read_bundle_file};
use appstrate_platform::access::PlatformAccess;
use appstrate_platform::agents::download_bundle;

use super::target::AgentRef;
use crate::error::CliError;

pub struct LoadedBundle {
    pub bundle: Bundle,
    /// The file name, or `@scope/name[@spec]`.
    pub label: String,
    /// The verified SRI digest of a download.
    pub integrity: Option<String>,
}

fn invalid(what: &str, e: BundleError) -> CliError {
    CliError::user(format!(
        "Invalid package {what}: {} ({})",
        e.message,
        e.code.as_str()
    ))
}

pub fn read_file(path: &Path, limits: &Limits) -> Result<LoadedBundle, CliError> {
    let bundle =
        read_bundle_file(path, limits).map_err(|e| invalid(&path.display().to_string(), e))?;
    Ok(LoadedBundle {
        bundle,
        label: path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        integrity: None,
    })
}

/// Downloads the draft (no spec) or the version `spec` names, checks the
/// SRI, reads the archive.
pub async fn fetch(
    access: &PlatformAccess,
    agent: &AgentRef,
    spec: Option<&str>,
    limits: &Limits,
) -> Result<LoadedBundle, CliError> {
    let label = agent.label(spec);
    let downloaded = download_bundle(access, &agent.id, spec, limits.max_compressed_bytes).await?;
    verify_sri(&downloaded.bytes, downloaded.integrity.as_deref(), &label)?;
    let bundle = read_bundle(&downloaded.bytes, limits).map_err(|e| invalid(&label, e))?;
    Ok(LoadedBundle {
        bundle,
        label,
        integrity: downloaded.integrity,
    })
}

/// The header must be there and match the bytes received.
fn verify_sri(bytes: &[u8], header: Option<&str>, label: &str) -> Result<(), CliError> {
    let Some(expected) = header.filter(|h| !h.is_empty()) else {
        return Err(CliError::user(format!(
            "The instance sent the bundle of {label} without an X-Bundle-Integrity header; refusing to run an unverified bundle"
        ))
        .with_hint("check that the instance is Appstrate and up to date"));
    };
    if !expected.starts_with("sha256-") {
        return Err(CliError::user(format!(
            "The X-Bundle-Integrity header of {label} is not a sha256 SRI digest; refusing to run an unverified bundle"
        )));
    }
    let actual = sri_sha256(bytes);
    if !integrity_eq(&actual, expected) {
        return Err(CliError::user(format!(
            "Integrity check failed for the bundle of {label}: the instance announced {expected}, the bytes received hash to {actual}; nothing was run"
        ))
        .with_hint("the download was altered or cut; try again"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sri_is_checked_on_the_wire_bytes() {
        let bytes = b"bundle bytes";
        let good = sri_sha256(bytes);
        assert!(verify_sri(bytes, Some(&good), "@s/n").is_ok());
        let missing = verify_sri(bytes, None, "@s/n").expect_err("missing");
        assert!(
            missing
                .message
                .contains("without an X-Bundle-Integrity header")
        );
        let other = sri_sha256(b"other bytes");
        let bad = verify_sri(bytes, Some(&other), "@s/n").expect_err("mismatch");
        assert!(
            bad.message
                .starts_with("Integrity check failed for the bundle of @s/n")
        );
        assert!(verify_sri(bytes, Some("sha512-abc"), "@s/n").is_err());
    }
}
