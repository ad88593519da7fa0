//! `appstrate stop`: `docker compose stop`, or stopping the Tier 0 dev server.

use super::{DirArgs, Install, compose, dev_server, resolve_install};
use crate::context::Context;
use crate::error::{CliError, ExitStatus};

pub async fn run(ctx: &mut Context, args: DirArgs) -> Result<ExitStatus, CliError> {
    match resolve_install(ctx, args.dir.as_deref())? {
        Install::Docker { dir, project } => compose(&dir, &project, &["stop"]).await?,
        Install::Tier0 { dir } => dev_server::stop(ctx, &dir).await?,
    }
    Ok(ExitStatus::SUCCESS)
}
