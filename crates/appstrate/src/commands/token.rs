//! `appstrate token`.

use crate::context::Context;
use crate::error::{CliError, ExitStatus};

pub async fn run(_ctx: &mut Context) -> Result<ExitStatus, CliError> {
    Err(CliError::user("token is being built"))
}
