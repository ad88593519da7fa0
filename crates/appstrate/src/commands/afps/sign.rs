//! `appstrate afps sign <file> --key <file>`: an Ed25519 signature (and
//! chain) added to a package, written atomically.

use std::path::{Path, PathBuf};

use appstrate_afps::ArchiveKind;
use appstrate_afps::signing::{ChainEntry, KeyPair, sign_bundle};
use appstrate_afps::writer::{write_afps, write_bundle};
use clap::Args;
use serde_json::Value;

use super::{bundle_error, load, read_json, usage, write_output};
use crate::context::Context;
use crate::error::{CliError, ExitStatus};

#[derive(Debug, Args)]
pub struct SignArgs {
    /// A .afps or .afps-bundle file
    pub file: PathBuf,
    /// Key file {keyId, publicKey, privateKey} as written by `keygen`
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// JSON array of chain entries {keyId, publicKey, signature, parentKeyId}
    #[arg(long, value_name = "FILE")]
    pub chain: Option<PathBuf>,
    /// Output file (default: rewrite the input in place)
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

fn read_key_file(path: &Path) -> Result<KeyPair, CliError> {
    super::check_regular_file(path)?;
    // Never echo the file: it holds a private key.
    let text = std::fs::read_to_string(path)
        .map_err(|e| usage(format!("cannot read key file {}: {e}", path.display())))?;
    let v: Value = serde_json::from_str(&text)
        .map_err(|_| usage(format!("key file {} is not valid JSON", path.display())))?;
    let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    match (s("keyId"), s("privateKey")) {
        (Some(key_id), Some(private_key)) => Ok(KeyPair {
            key_id,
            public_key: s("publicKey").unwrap_or_default(),
            private_key,
        }),
        _ => Err(usage(format!(
            "key file {} must contain {{keyId, privateKey}}",
            path.display()
        ))),
    }
}

pub fn run(ctx: &mut Context, a: SignArgs) -> Result<ExitStatus, CliError> {
    let key = read_key_file(&a.key)?;
    let chain: Option<Vec<ChainEntry>> = match &a.chain {
        None => None,
        Some(p) => Some(
            serde_json::from_value(read_json(p, "chain file")?).map_err(|e| {
                usage(format!(
                    "chain file {} must be an array of chain entries: {e}",
                    p.display()
                ))
            })?,
        ),
    };
    let b = load(ctx, &a.file)?;
    let signed = sign_bundle(&b, &key, chain).map_err(|e| bundle_error(&a.file, e))?;
    let bytes = match b.kind {
        ArchiveKind::Afps => write_afps(&signed),
        ArchiveKind::AfpsBundle => write_bundle(&signed),
    }
    .map_err(|e| bundle_error(&a.file, e))?;
    let out = a.output.unwrap_or_else(|| a.file.clone());
    write_output(&out, &bytes)?;
    ctx.ui.line(&format!(
        "signed {} → {} (keyId: {})",
        a.file.display(),
        out.display(),
        key.key_id
    ))?;
    Ok(ExitStatus::SUCCESS)
}
