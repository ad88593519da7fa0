//! `appstrate completions <shell>`: a completion script on stdout.

use clap::Args;
use clap_complete::Shell;

use crate::context::Context;
use crate::error::{CliError, ExitStatus};

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for
    #[arg(value_enum)]
    pub shell: Shell,
}

pub fn run(ctx: &mut Context, args: CompletionsArgs) -> Result<ExitStatus, CliError> {
    let mut command = crate::help::command(&ctx.env);
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, "appstrate", &mut script);
    ctx.ui.out(&String::from_utf8_lossy(&script))?;
    Ok(ExitStatus::SUCCESS)
}
