//! `appstrate uninstall [--purge]`: `docker compose down [-v]` or the Tier 0
//! dev server stopped; `--purge` (confirmed) also removes the directory.

use std::time::Duration;

use appstrate_selfhost::tier0;
use clap::Args;

use super::{DirArgs, Install, compose, resolve_install};
use crate::context::Context;
use crate::error::{CliError, ExitStatus};

#[derive(Debug, Args)]
pub struct UninstallArgs {
    /// Also remove named volumes (Postgres, Redis, MinIO data) and the install directory
    #[arg(long)]
    pub purge: bool,
    /// Skip the destructive-action confirmation (same as APPSTRATE_YES=1)
    #[arg(short = 'y', long)]
    pub yes: bool,
    #[command(flatten)]
    pub dir: DirArgs,
}

pub async fn run(ctx: &mut Context, args: UninstallArgs) -> Result<ExitStatus, CliError> {
    let install = resolve_install(ctx, args.dir.dir.as_deref())?;
    let auto = args.yes || ctx.env.var("APPSTRATE_YES") == Some("1");
    let (dir, what) = match &install {
        Install::Docker { dir, project } => (
            dir.clone(),
            format!(
                "  • dir: {} (compose file, .env, .appstrate/)\n  • named volumes: Postgres data, Redis data, MinIO data\n  • project: {project}",
                dir.display()
            ),
        ),
        Install::Tier0 { dir } => (
            dir.clone(),
            format!(
                "  • dir: {} (source checkout, .env, local database and files)",
                dir.display()
            ),
        ),
    };
    if args.purge && !auto {
        if !ctx.ui.interactive() {
            return Err(CliError::user(
                "`appstrate uninstall --purge` is destructive and requires confirmation.\nRe-run with --yes (or APPSTRATE_YES=1) to proceed non-interactively.",
            ));
        }
        let question =
            format!("Permanently destroy this Appstrate install?\n{what}\nThis cannot be undone.");
        // Ctrl-C or a closed terminal counts as "no".
        let confirmed = ctx.ui.confirm(&question, false).unwrap_or_default();
        if !confirmed {
            ctx.ui.frame("└  Uninstall cancelled.\n\n")?;
            return Err(CliError::silent(130));
        }
    }
    match &install {
        Install::Docker { dir, project } => {
            let argv: &[&str] = if args.purge {
                &["down", "-v"]
            } else {
                &["down"]
            };
            compose(dir, project, argv).await?;
        }
        Install::Tier0 { dir } => {
            if let Some(pid) = tier0::stop_dev_server(dir, Duration::from_secs(10)).await {
                ctx.ui
                    .line(&format!("Stopped the Tier 0 dev server (pid {pid})."))?;
            }
            if !args.purge {
                ctx.ui.line(&format!(
                    "Kept {} (data included). Remove everything with `appstrate uninstall --purge`.",
                    dir.display()
                ))?;
            }
        }
    }
    if args.purge {
        std::fs::remove_dir_all(&dir)
            .or_else(|e| {
                if e.kind() == std::io::ErrorKind::NotFound {
                    Ok(())
                } else {
                    Err(e)
                }
            })
            .map_err(|e| CliError::user(format!("Cannot remove {}: {e}", dir.display())))?;
    }
    Ok(ExitStatus::SUCCESS)
}
