//! `appstrate logout [--all]`.

use clap::Args;

use crate::context::Context;
use crate::error::{CliError, ExitStatus};

#[derive(Debug, Args)]
pub struct LogoutArgs {
    /// Revoke every CLI session of this user, on every device
    #[arg(long)]
    pub all: bool,
}

pub async fn run(_ctx: &mut Context, _args: LogoutArgs) -> Result<ExitStatus, CliError> {
    Err(CliError::user("logout is being built"))
}
