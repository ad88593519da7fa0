//! One module per command, all with the same shape:
//! `pub async fn run(ctx: &mut Context, args) -> Result<ExitStatus, CliError>`
//! (and `pinned`, the part `org` and `app` share).

pub mod afps;
pub mod api;
pub mod app;
pub mod completions;
pub mod doctor;
pub mod install;
pub mod install_source;
pub mod lifecycle;
pub mod login;
pub mod logout;
pub mod man;
pub mod models;
pub mod openapi;
pub mod org;
mod pinned;
pub mod run;
pub mod self_update;
pub mod token;
pub mod whoami;

use clap::Args;

use crate::cli::Command;
use crate::context::Context;
use crate::error::{CliError, ExitStatus};

/// `--json` for the commands whose report a script may read; the field
/// names are a stable contract (README "JSON output").
#[derive(Debug, Args, Default)]
pub struct JsonArgs {
    /// Print the report as one JSON object (stable field names, never a token)
    #[arg(long)]
    pub json: bool,
}

pub async fn dispatch(ctx: &mut Context, command: Command) -> Result<ExitStatus, CliError> {
    if !command.skips_dual_install_check() {
        dual_install_warning(ctx);
    }
    match command {
        Command::Login(args) => login::run(ctx, args).await,
        Command::Logout(args) => logout::run(ctx, args).await,
        Command::Whoami(args) => whoami::run(ctx, args).await,
        Command::Token(args) => token::run(ctx, args).await,
        Command::Api(args) => api::run(ctx, args).await,
        Command::Completions(args) => completions::run(ctx, args),
        Command::Afps(args) => afps::run(ctx, args).await,
        Command::Run(args) => run::run(ctx, args).await,
        Command::Org(args) => org::run(ctx, args).await,
        Command::App(args) => app::run(ctx, args).await,
        Command::Models(args) => models::run(ctx, args).await,
        Command::Openapi(args) => openapi::run(ctx, args).await,
        Command::Install(args) => install::run(ctx, args).await,
        Command::Start(args) => lifecycle::start::run(ctx, args).await,
        Command::Stop(args) => lifecycle::stop::run(ctx, args).await,
        Command::Restart(args) => lifecycle::restart::run(ctx, args).await,
        Command::Logs(args) => lifecycle::logs::run(ctx, args).await,
        Command::Status(args) => lifecycle::status::run(ctx, args).await,
        Command::Uninstall(args) => lifecycle::uninstall::run(ctx, args).await,
        Command::SelfUpdate(args) => self_update::run(ctx, args).await,
        Command::Doctor(args) => doctor::run(ctx, args).await,
        Command::InstallSource => install_source::run(ctx),
        Command::Man(args) => man::run(ctx, args),
    }
}

/// Warns once per set of `appstrate` binaries on PATH (docs/files.md#dual-install-ack). Only
/// stats files; any failure is swallowed so the command always runs.
fn dual_install_warning(ctx: &Context) {
    let env = &ctx.env;
    if appstrate_cliinstall::dual_install::disabled_by_env(
        env.var("APPSTRATE_NO_DUAL_INSTALL_CHECK"),
        env.var("APPSTRATE_FORCE_DUAL"),
    ) {
        return;
    }
    let Some(path) = env.var("PATH") else { return };
    if let Some(warning) = appstrate_cliinstall::dual_install::check(path, &ctx.config_dir()) {
        ctx.ui.warn(&warning);
    }
}
