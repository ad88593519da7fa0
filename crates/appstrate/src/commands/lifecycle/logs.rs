//! `appstrate logs [service] [-f]`: `docker compose logs`, or the Tier 0
//! dev server's log file (followed by polling).

use std::path::Path;
use std::time::Duration;

use appstrate_selfhost::tier0;
use clap::Args;

use super::{DirArgs, Install, compose, resolve_install};
use crate::context::Context;
use crate::error::{CliError, ExitStatus};

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Only this service's logs (Docker tiers)
    pub service: Option<String>,
    /// Stream new lines as they arrive
    #[arg(short = 'f', long)]
    pub follow: bool,
    #[command(flatten)]
    pub dir: DirArgs,
}

pub async fn run(ctx: &mut Context, args: LogsArgs) -> Result<ExitStatus, CliError> {
    match resolve_install(ctx, args.dir.dir.as_deref())? {
        Install::Docker { dir, project } => {
            let mut argv = vec!["logs"];
            if args.follow {
                argv.push("-f");
            }
            if let Some(service) = args.service.as_deref() {
                argv.push(service);
            }
            compose(&dir, &project, &argv).await?;
        }
        Install::Tier0 { dir } => {
            if let Some(service) = args.service {
                return Err(CliError::usage(format!(
                    "Tier 0 runs a single process (the dev server); there is no service \"{service}\". Run `appstrate logs` without a service name."
                )));
            }
            tier0_logs(ctx, &dir, args.follow).await?;
        }
    }
    Ok(ExitStatus::SUCCESS)
}

/// Prints the dev server log; `-f` keeps printing what is appended until
/// interrupted.
async fn tier0_logs(ctx: &Context, dir: &Path, follow: bool) -> Result<(), CliError> {
    use tokio::io::{AsyncReadExt, AsyncSeekExt};
    let path = tier0::log_file(dir);
    let mut file = match tokio::fs::File::open(&path).await {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !follow => {
            ctx.ui.warn(&format!(
                "No log yet at {} (the dev server has not been started).",
                path.display()
            ));
            return Ok(());
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => loop {
            tokio::time::sleep(Duration::from_millis(250)).await;
            if let Ok(f) = tokio::fs::File::open(&path).await {
                break f;
            }
        },
        Err(e) => {
            return Err(CliError::user(format!(
                "Cannot read {}: {e}",
                path.display()
            )));
        }
    };
    let mut buf = vec![0u8; 64 * 1024];
    let mut pos = 0u64;
    loop {
        let n = file
            .read(&mut buf)
            .await
            .map_err(|e| CliError::user(format!("Cannot read {}: {e}", path.display())))?;
        if n > 0 {
            pos += n as u64;
            // Bytes as written: a chunk may end inside a UTF-8 character.
            ctx.ui.out_bytes(&buf[..n])?;
            continue;
        }
        if !follow {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        // A truncated/rotated log starts over.
        if let Ok(meta) = tokio::fs::metadata(&path).await
            && meta.len() < pos
        {
            pos = 0;
            let _ = file.seek(std::io::SeekFrom::Start(0)).await;
        }
    }
}
