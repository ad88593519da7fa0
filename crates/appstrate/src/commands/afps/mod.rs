//! `appstrate afps …`: build, inspect, verify, sign and render AFPS
//! packages with the same library `appstrate run` reads them with.
//!
//! Exit codes: 0 success; 1 invalid package or bundle (the stable error code
//! is printed: `ARCHIVE_INVALID: …`); 2 bad arguments or unreadable key,
//! trust-root or context files; 3 signature check failed.

mod bundle;
mod inspect;
mod keygen;
mod render;
mod sign;
mod verify;

use std::path::Path;

use appstrate_afps::{Bundle, BundleError};
use appstrate_platform::fsutil::write_atomic;
use clap::{Args, Subcommand};
use serde_json::Value;

use crate::context::Context;
use crate::error::{CliError, ExitStatus};

/// AFPS package tooling.
#[derive(Debug, Args)]
pub struct AfpsArgs {
    #[command(subcommand)]
    pub command: AfpsCommand,
}

#[derive(Debug, Subcommand)]
pub enum AfpsCommand {
    /// Build a package from a source directory (manifest.json at its root)
    Bundle(bundle::BundleArgs),
    /// Print identity, type, packages, files, integrity and signature status
    Inspect(inspect::InspectArgs),
    /// Verify integrity and the signature policy; non-zero exit on any failure
    Verify(verify::VerifyArgs),
    /// Sign a .afps or .afps-bundle with an Ed25519 key file
    Sign(sign::SignArgs),
    /// Generate an Ed25519 key pair ({keyId, publicKey, privateKey}, mode 0600)
    Keygen(keygen::KeygenArgs),
    /// Render the package prompt (Mustache, as `afps render`) or the platform prompt
    Render(render::RenderArgs),
}

pub async fn run(ctx: &mut Context, args: AfpsArgs) -> Result<ExitStatus, CliError> {
    match args.command {
        AfpsCommand::Bundle(a) => bundle::run(ctx, a),
        AfpsCommand::Inspect(a) => inspect::run(ctx, a),
        AfpsCommand::Verify(a) => verify::run(ctx, a),
        AfpsCommand::Sign(a) => sign::run(ctx, a),
        AfpsCommand::Keygen(a) => keygen::run(ctx, a),
        AfpsCommand::Render(a) => render::run(ctx, a),
    }
}

fn usage(message: impl Into<String>) -> CliError {
    CliError::usage(message).with_exit_code(2)
}

fn bundle_error(file: &Path, e: BundleError) -> CliError {
    CliError::user(format!("{}: {e}", file.display()))
}

fn load(ctx: &Context, file: &Path) -> Result<Bundle, CliError> {
    check_regular_file(file)?;
    appstrate_afps::read_bundle_file(file, &ctx.bundle_limits()).map_err(|e| bundle_error(file, e))
}

/// Refuses, before reading a byte, what is not a regular file: a directory,
/// a device such as `/dev/zero` (endless), a FIFO (may block forever).
fn check_regular_file(file: &Path) -> Result<(), CliError> {
    let shown = file.display();
    match std::fs::metadata(file) {
        Ok(meta) if meta.is_file() => Ok(()),
        Ok(meta) if meta.is_dir() => Err(usage(format!(
            "{shown}: is a directory; pass a .afps or .afps-bundle file"
        ))),
        Ok(_) => Err(usage(format!(
            "{shown}: is not a regular file (device, FIFO or socket); pass a .afps or .afps-bundle file"
        ))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(usage(format!("{shown}: no such file")))
        }
        Err(e) => Err(usage(format!("cannot read {shown}: {e}"))),
    }
}

fn read_json(path: &Path, what: &str) -> Result<Value, CliError> {
    check_regular_file(path)?;
    let text = std::fs::read_to_string(path)
        .map_err(|e| usage(format!("cannot read {what} {}: {e}", path.display())))?;
    serde_json::from_str(&text)
        .map_err(|e| usage(format!("{what} {} is not valid JSON: {e}", path.display())))
}

fn write_output(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    write_atomic(path, bytes, 0o644)
        .map_err(|e| CliError::user(format!("cannot write {}: {e}", path.display())))
}
