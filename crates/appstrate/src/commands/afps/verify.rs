//! `appstrate afps verify <file> [--trust-root] [--policy]`: integrity and
//! the signature policy; exit 3 when the signature check fails.

use std::path::{Path, PathBuf};

use appstrate_afps::signing::{
    Policy, PolicyOutcome, TrustRoot, TrustedKey, read_bundle_signature, verify_with_policy,
};
use clap::Args;
use serde_json::Value;

use super::{load, read_json, usage};
use crate::context::Context;
use crate::error::{CliError, ExitStatus};

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// A .afps or .afps-bundle file (format detected by content)
    pub file: PathBuf,
    /// Trust root {"keys":[{keyId, publicKey}]} (a key file is accepted too)
    #[arg(long, value_name = "FILE")]
    pub trust_root: Option<PathBuf>,
    /// Signature policy (default: required with --trust-root, else warn)
    #[arg(long, value_parser = ["off", "warn", "required"])]
    pub policy: Option<String>,
}

/// A trust-root file, or a key file (its public half becomes the only trusted key).
fn load_trust_root(path: &Path) -> Result<TrustRoot, CliError> {
    let v = read_json(path, "trust root")?;
    if v.get("keys").is_some() {
        return serde_json::from_value(v).map_err(|e| {
            usage(format!(
                "trust root {} must be {{\"keys\":[{{\"keyId\",\"publicKey\"}}]}}: {e}",
                path.display()
            ))
        });
    }
    match (
        v.get("keyId").and_then(Value::as_str),
        v.get("publicKey").and_then(Value::as_str),
    ) {
        (Some(id), Some(pk)) => Ok(TrustRoot {
            keys: vec![TrustedKey {
                key_id: id.into(),
                public_key: pk.into(),
                comment: None,
            }],
        }),
        _ => Err(usage(format!(
            "trust root {} must be {{\"keys\":[{{\"keyId\",\"publicKey\"}}]}} or a key file",
            path.display()
        ))),
    }
}

pub fn run(ctx: &mut Context, a: VerifyArgs) -> Result<ExitStatus, CliError> {
    let trust = a.trust_root.as_deref().map(load_trust_root).transpose()?;
    let policy = match a.policy.as_deref() {
        Some(p) => Policy::parse(p).ok_or_else(|| usage(format!("unknown --policy {p}")))?,
        None if trust.is_some() => Policy::Required,
        None => Policy::Warn,
    };
    if policy == Policy::Required && trust.is_none() {
        return Err(usage("--policy required needs --trust-root <file>"));
    }
    let b = load(ctx, &a.file)?;
    let files: usize = b.packages.iter().map(|p| p.files.len()).sum();
    ctx.ui.line(&format!(
        "✓ bundle valid ({} package{}, {files} files, integrity {})",
        b.packages.len(),
        if b.packages.len() == 1 { "" } else { "s" },
        b.integrity
    ))?;
    if policy == Policy::Off {
        ctx.ui.line("• signature not checked (--policy off)")?;
        return Ok(ExitStatus::SUCCESS);
    }
    if trust.is_none() {
        // warn without a trust root: report what is there, check nothing.
        match read_bundle_signature(&b) {
            None => ctx.ui.line("• unsigned (no signature.sig)")?,
            Some(Ok(doc)) if doc.get("keyId").is_some() => ctx.ui.line(&format!(
                "• signature present (keyId: {}) — not checked (no --trust-root)",
                appstrate_jsjson::to_js_string(&doc["keyId"])
            ))?,
            Some(_) => ctx.ui.warn("warn: signature.sig is malformed"),
        }
        return Ok(ExitStatus::SUCCESS);
    }
    match verify_with_policy(&b, policy, trust.as_ref()) {
        Ok(PolicyOutcome::Verified(key_id)) => ctx
            .ui
            .line(&format!("✓ signature valid (keyId: {key_id})"))?,
        Ok(PolicyOutcome::UnsignedWarned) => {
            ctx.ui.warn("warn: unsigned — bundle has no signature.sig")
        }
        Ok(PolicyOutcome::Warned(f)) => ctx
            .ui
            .warn(&format!("warn: signature verification failed: {f}")),
        Ok(PolicyOutcome::Off) => {}
        Err(e) => {
            let detail = e.detail.map(|d| format!(" — {d}")).unwrap_or_default();
            ctx.ui.warn(&format!("✗ {}: {}{detail}", e.code, e.message));
            return Ok(ExitStatus::from_code(3));
        }
    }
    Ok(ExitStatus::SUCCESS)
}
