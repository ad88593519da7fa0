//! `appstrate restart`: `docker compose restart` then the health wait, or
//! the Tier 0 dev server stopped and started again.

use super::{
    DirArgs, Install, compose, dev_server, health_timeout, report_running, resolve_install,
};
use crate::context::Context;
use crate::error::{CliError, ExitStatus};

pub async fn run(ctx: &mut Context, args: DirArgs) -> Result<ExitStatus, CliError> {
    match resolve_install(ctx, args.dir.as_deref())? {
        Install::Docker { dir, project } => {
            compose(&dir, &project, &["restart"]).await?;
            report_running(ctx, &dir, Some(&project), health_timeout(ctx, 120)).await?;
        }
        Install::Tier0 { dir } => {
            dev_server::stop(ctx, &dir).await?;
            dev_server::start(ctx, &dir).await?;
        }
    }
    Ok(ExitStatus::SUCCESS)
}
