//! `appstrate afps keygen [-o <file>]`: a fresh Ed25519 key pair, 0600.

use std::path::PathBuf;

use appstrate_afps::signing::generate_key_pair;
use appstrate_jsjson::stringify_pretty;
use appstrate_platform::fsutil::write_private_atomic;
use clap::Args;
use serde_json::{Map, Value};

use crate::context::Context;
use crate::error::{CliError, ExitStatus};

#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// Write the key pair here (mode 0600); without it, print it to stdout
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Use this keyId instead of the one derived from the public key
    #[arg(long)]
    pub key_id: Option<String>,
}

pub fn run(ctx: &mut Context, a: KeygenArgs) -> Result<ExitStatus, CliError> {
    let mut kp = generate_key_pair().map_err(|e| CliError::user(e.message))?;
    if let Some(id) = a.key_id {
        kp.key_id = id;
    }
    let mut doc = Map::new();
    doc.insert("keyId".into(), Value::String(kp.key_id.clone()));
    doc.insert("publicKey".into(), Value::String(kp.public_key.clone()));
    doc.insert("privateKey".into(), Value::String(kp.private_key.clone()));
    let text = format!("{}\n", stringify_pretty(&Value::Object(doc)));
    match a.output {
        Some(path) => {
            if let Some(dir) = path
                .parent()
                .filter(|d| !d.as_os_str().is_empty() && !d.exists())
            {
                appstrate_platform::fsutil::create_private_dir(dir)
                    .map_err(|e| CliError::user(format!("cannot create {}: {e}", dir.display())))?;
            }
            write_private_atomic(&path, text.as_bytes())
                .map_err(|e| CliError::user(format!("cannot write {}: {e}", path.display())))?;
            ctx.ui.line(&format!(
                "wrote Ed25519 key pair to {} (keyId: {}, publicKey: {})",
                path.display(),
                kp.key_id,
                kp.public_key
            ))?;
        }
        None => ctx.ui.out(&text)?,
    }
    Ok(ExitStatus::SUCCESS)
}
