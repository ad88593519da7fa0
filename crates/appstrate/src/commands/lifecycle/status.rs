//! `appstrate status`: `docker compose ps`, or whether the Tier 0 dev
//! server runs.

use appstrate_selfhost::{appurl, tier0};

use super::{DirArgs, Install, compose, resolve_install, running_urls};
use crate::context::Context;
use crate::error::{CliError, ExitStatus};

pub async fn run(ctx: &mut Context, args: DirArgs) -> Result<ExitStatus, CliError> {
    match resolve_install(ctx, args.dir.as_deref())? {
        Install::Docker { dir, project } => compose(&dir, &project, &["ps"]).await?,
        Install::Tier0 { dir } => {
            let url = running_urls(&dir)
                .map(|(_, u)| u)
                .unwrap_or_else(|| appurl::app_url_for_port(3000));
            match tier0::running_pid(&dir) {
                Some(pid) => ctx
                    .ui
                    .line(&format!("Tier 0 dev server: running (pid {pid}) at {url}"))?,
                None => ctx.ui.line("Tier 0 dev server: stopped")?,
            }
            ctx.ui
                .line(&format!("Log: {}", tier0::log_file(&dir).display()))?;
        }
    }
    Ok(ExitStatus::SUCCESS)
}
