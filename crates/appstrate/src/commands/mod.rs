//! One module per command, all with the same shape:
//! `pub async fn run(ctx: &mut Context, args) -> Result<ExitStatus, CliError>`.

pub mod afps;
pub mod api;
pub mod app;
pub mod completions;
pub mod login;
pub mod logout;
pub mod models;
pub mod openapi;
pub mod org;
pub mod run;
pub mod token;
pub mod whoami;

use crate::cli::Command;
use crate::context::Context;
use crate::error::{CliError, ExitStatus};

pub async fn dispatch(ctx: &mut Context, command: Command) -> Result<ExitStatus, CliError> {
    match command {
        Command::Login(args) => login::run(ctx, args).await,
        Command::Logout(args) => logout::run(ctx, args).await,
        Command::Whoami => whoami::run(ctx).await,
        Command::Token => token::run(ctx).await,
        Command::Api(args) => api::run(ctx, args).await,
        Command::Completions(args) => completions::run(ctx, args),
        Command::Afps(args) => afps::run(ctx, args).await,
        Command::Run(args) => run::run(ctx, args).await,
        Command::Org(args) => org::run(ctx, args).await,
        Command::App(args) => app::run(ctx, args).await,
        Command::Models(args) => models::run(ctx, args).await,
        Command::Openapi(args) => openapi::run(ctx, args).await,
    }
}
