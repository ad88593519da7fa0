//! `appstrate self-update [--release TAG] [-f]`: replaces the running binary
//! with a release whose `checksums.txt` is signed by the Appstrate minisign
//! key and whose SHA-256 matches (`docs/install.md`). Any failure keeps the old
//! binary and exits 1; a binary not installed from a release exits 2.
//!
//! Tests serve releases locally: `APPSTRATE_RELEASES_API_URL` and
//! `APPSTRATE_RELEASES_DOWNLOAD_URL` move the endpoints (safe in release
//! builds too: the embedded key still decides). Debug builds only also
//! honour `APPSTRATE_TEST_RELEASE_PUBKEY` and `APPSTRATE_TEST_INSTALL_SOURCE`,
//! so a test can sign with its own key; release builds compile them out.

use std::cmp::Ordering;

use appstrate_cliinstall::self_update::{self, Channel, UpdatePlan};
use clap::Args;

use appstrate_platform::Env;

use crate::context::Context;
use crate::error::{CliError, ExitStatus};

#[derive(Debug, Args)]
pub struct SelfUpdateArgs {
    /// Pin the upgrade to a specific release (e.g. v1.2.3); may downgrade
    #[arg(long, value_name = "TAG")]
    pub release: Option<String>,
    /// Re-install even if already on the target version
    #[arg(short = 'f', long)]
    pub force: bool,
}

const CLI_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The install channel stamped at build time (see `build.rs`).
pub fn channel(env: &Env) -> Channel {
    #[cfg(debug_assertions)]
    if let Some(stamp) = env.var("APPSTRATE_TEST_INSTALL_SOURCE") {
        return Channel::from_stamp(Some(stamp));
    }
    #[cfg(not(debug_assertions))]
    let _ = env;
    Channel::from_stamp(Some(env!("APPSTRATE_INSTALL_SOURCE_STAMP")))
}

fn public_key(env: &Env) -> String {
    #[cfg(debug_assertions)]
    if let Some(key) = env.var("APPSTRATE_TEST_RELEASE_PUBKEY") {
        return key.to_string();
    }
    #[cfg(not(debug_assertions))]
    let _ = env;
    self_update::RELEASE_PUBLIC_KEY.to_string()
}

fn url_override(env: &Env, name: &str, default: &str) -> String {
    env.var_trimmed(name).unwrap_or_else(|| default.to_string())
}

pub async fn run(ctx: &mut Context, args: SelfUpdateArgs) -> Result<ExitStatus, CliError> {
    ctx.ui.intro("Appstrate self-update")?;
    let exec = std::env::current_exe()
        .map_err(|e| CliError::user(format!("Cannot locate the running binary: {e}")))?;
    match channel(&ctx.env) {
        Channel::Curl => {}
        Channel::Bun => {
            return Err(CliError::user(
                "This appstrate CLI was installed via the npm channel.\n`self-update` only manages the curl-channel binary — running it\nhere would desync the npm package metadata from the binary on disk.\n\nUpgrade with:\n  bun update -g appstrate",
            )
            .with_exit_code(2));
        }
        Channel::Cargo => {
            return Err(CliError::user(format!(
                "This appstrate CLI was installed with `cargo install`.\n`self-update` only manages release binaries — cargo tracks this one.\n\nUpgrade with:\n  {}",
                Channel::Cargo.upgrade_hint()
            ))
            .with_exit_code(2));
        }
        Channel::Unknown => {
            return Err(CliError::user(format!(
                "Cannot self-update: this binary has no install-source stamp.\nIt was built from source (not a release artefact), so there is no channel to upgrade through.\n  Running binary: {}\n  CLI version:    {CLI_VERSION}\nReinstall via the curl channel to enable self-update:\n  {}",
                exec.display(),
                Channel::Unknown.upgrade_hint()
            ))
            .with_exit_code(2));
        }
    }

    let pinned = args.release.is_some();
    let target = match &args.release {
        Some(raw) => self_update::normalize_version(raw),
        None => {
            let api = url_override(
                &ctx.env,
                "APPSTRATE_RELEASES_API_URL",
                self_update::DEFAULT_API_URL,
            );
            self_update::latest_version(&api, CLI_VERSION).await
        }
    }
    .map_err(|e| CliError::user(format!("Could not resolve target version: {}", e.message)))?;
    let asset = self_update::asset_name(std::env::consts::OS, std::env::consts::ARCH)?;

    match self_update::compare_semver(CLI_VERSION, &target) {
        Ordering::Equal if !args.force => {
            ctx.ui.outro(&format!(
                "Already on appstrate {CLI_VERSION}. Pass --force to reinstall."
            ))?;
            return Ok(ExitStatus::SUCCESS);
        }
        Ordering::Greater if !pinned && !args.force => {
            ctx.ui.outro(&format!(
                "Already on appstrate {CLI_VERSION}, newer than the latest release ({target}). Pass --release {target} to downgrade."
            ))?;
            return Ok(ExitStatus::SUCCESS);
        }
        _ => {}
    }

    let download = url_override(
        &ctx.env,
        "APPSTRATE_RELEASES_DOWNLOAD_URL",
        self_update::DEFAULT_DOWNLOAD_URL,
    );
    let key = public_key(&ctx.env);
    let plan = UpdatePlan {
        cli_version: CLI_VERSION,
        target: &target,
        asset: &asset,
        download_url: &download,
        public_key: &key,
        dest: &exec,
    };
    let ui = &ctx.ui;
    let mut log = |line: &str| ui.warn(line);
    let mut progress = |_received: u64, _total: Option<u64>| {};
    let spinner = ctx.ui.spinner("Downloading appstrate binary");
    match self_update::perform_update(&plan, &mut log, &mut progress).await {
        Ok(()) => {
            spinner.stop(&ctx.ui, "Download complete")?;
            ctx.ui.outro(&format!(
                "Updated appstrate to {target} ({})",
                exec.display()
            ))?;
            Ok(ExitStatus::SUCCESS)
        }
        Err(e) => {
            spinner.fail();
            Err(CliError::user(format!("Update failed: {}", e.message)))
        }
    }
}
