//! Hidden `__man --out DIR`: writes `appstrate.1` and one page per
//! subcommand (`appstrate-login.1`, `appstrate-org-switch.1`, …), rendered
//! by `clap_mangen` from the same command tree as `--help`. `scripts/release`
//! puts them in the release tarball, from where the installer installs them.

use std::path::PathBuf;

use clap::{Args, CommandFactory};

use crate::cli::Cli;
use crate::context::Context;
use crate::error::{CliError, ExitStatus};

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Directory to write the pages into (created when missing)
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

/// clap's implicit `help` subcommands would each get a useless page.
fn without_help_subcommands(command: clap::Command) -> clap::Command {
    command
        .disable_help_subcommand(true)
        .mut_subcommands(without_help_subcommands)
}

pub fn run(ctx: &mut Context, args: ManArgs) -> Result<ExitStatus, CliError> {
    let cannot = |e: std::io::Error| {
        CliError::user(format!(
            "Cannot write the man pages into {}: {e}",
            args.out.display()
        ))
    };
    std::fs::create_dir_all(&args.out).map_err(cannot)?;
    clap_mangen::generate_to(without_help_subcommands(Cli::command()), &args.out)
        .map_err(cannot)?;
    ctx.ui
        .line(&format!("Man pages written to {}", args.out.display()))?;
    Ok(ExitStatus::SUCCESS)
}
