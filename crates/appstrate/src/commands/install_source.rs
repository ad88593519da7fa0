//! Hidden `__install-source`: `{"version","source","schema":1}` on one
//! line, a stable contract that older `doctor`s parse (`docs/install.md`).

use crate::commands::self_update::channel;
use crate::context::Context;
use crate::error::{CliError, ExitStatus};

pub fn run(ctx: &mut Context) -> Result<ExitStatus, CliError> {
    let body = serde_json::json!({
        "version": env!("CARGO_PKG_VERSION"),
        "source": channel(&ctx.env).as_str(),
        "schema": 1,
    });
    ctx.ui.line(&body.to_string())?;
    Ok(ExitStatus::SUCCESS)
}
