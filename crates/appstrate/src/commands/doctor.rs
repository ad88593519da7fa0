//! `appstrate doctor [--json]`: every `appstrate` on $PATH (deduplicated by
//! real path) with its version and channel, plus the local Docker-tier
//! install and its compose drift (`docs/install.md`). Always exits 0.

use appstrate_cliinstall::install_report;
use appstrate_selfhost::paths;
use clap::Args;

use crate::commands::lifecycle::home;
use crate::context::Context;
use crate::error::{CliError, ExitStatus};

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Machine-readable report (for scripts / CI)
    #[arg(long)]
    pub json: bool,
}

pub async fn run(ctx: &mut Context, args: DoctorArgs) -> Result<ExitStatus, CliError> {
    let path = ctx.env.var("PATH").unwrap_or_default().to_string();
    let exec = std::env::current_exe().unwrap_or_default();
    let default_dir = paths::default_install_dir(&home(ctx));
    let report = install_report::build_report(&path, &exec, &default_dir).await;
    if args.json {
        let body =
            serde_json::to_string_pretty(&report).map_err(|e| CliError::user(e.to_string()))?;
        ctx.ui.line(&body)?;
        return Ok(ExitStatus::SUCCESS);
    }
    ctx.ui.intro("Appstrate doctor")?;
    ctx.ui.note(
        "Installations",
        &install_report::format_report(&report, &exec),
    )?;
    ctx.ui.outro(install_report::outro(&report))?;
    Ok(ExitStatus::SUCCESS)
}
