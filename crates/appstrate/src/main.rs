//! `appstrate`: the command-line tool of the Appstrate platform.
//!
//! `main` parses the command line, builds the async runtime, runs one command
//! and turns its outcome into an exit code. Everything else lives in modules
//! named after what they do; see `ARCHITECTURE.md` for the map.

// Every byte goes through `ui` (streams, colour, framing in one place).
#![deny(clippy::print_stdout, clippy::print_stderr)]
// No flag soup in signatures: several bools become a struct or an enum.
#![warn(clippy::fn_params_excessive_bools)]

mod cli;
mod commands;
mod context;
mod error;
mod help;
mod style;
mod text;
mod ui;

use std::process::ExitCode;

use clap::FromArgMatches;

use crate::cli::Cli;
use crate::context::Context;
use crate::error::{CliError, ErrorKind, ExitStatus};

fn main() -> ExitCode {
    let argv = help_api_is_api_help(std::env::args_os().collect());
    // The one snapshot of the environment: help's colour and every command.
    let env = appstrate_platform::Env::from_process();
    let cli = match help::command(&env)
        .try_get_matches_from(argv)
        .and_then(|matches| Cli::from_arg_matches(&matches))
    {
        Ok(cli) => cli,
        Err(err) => return error::exit_for_clap(err),
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            let err = CliError::caused_by(
                ErrorKind::Internal,
                format!("cannot start the async runtime: {err}"),
                err,
            );
            return ui::report_before_ui(&err, &env).into();
        }
    };
    let status = runtime.block_on(async move {
        let mut ctx = Context::new(&cli.global, env);
        // Biased: a command that handles signals itself (run) sees them
        // first and cleans up before this fallback drops it.
        let result = tokio::select! {
            biased;
            result = commands::dispatch(&mut ctx, cli.command) => result,
            signal = error::interrupted() => Err(CliError::interrupted(signal)),
        };
        match result {
            Ok(status) => {
                ctx.ui.finish();
                status
            }
            Err(err) => ctx.ui.report(&err),
        }
    });
    // Dropping the runtime would wait for blocked stdin readers and the like.
    runtime.shutdown_background();
    status.into()
}

/// `appstrate help api` shows what `appstrate api --help` shows (the
/// curl-style help `api` prints itself, not clap's view of its raw args).
fn help_api_is_api_help(argv: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    if argv.len() == 3 && argv[1] == "help" && argv[2] == "api" {
        return vec![argv[0].clone(), "api".into(), "--help".into()];
    }
    argv
}

impl From<ExitStatus> for ExitCode {
    fn from(status: ExitStatus) -> Self {
        ExitCode::from(status.code())
    }
}
