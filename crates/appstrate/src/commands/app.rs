//! `appstrate app list|current|switch|create` (docs/platform-api.md#endpoints): pin the
//! application of a profile within its pinned organization.

use appstrate_platform::PlatformError;
use appstrate_platform::api::{self, Application};
use appstrate_platform::session::Session;
use clap::{Args, Subcommand};

use crate::commands::pinned::{self, ListArgs, Pinnable};
use crate::context::Context;
use crate::error::{CliError, ExitStatus};
use crate::text::pad_end;

#[derive(Debug, Args)]
pub struct AppArgs {
    #[command(subcommand)]
    pub command: AppCommand,
}

#[derive(Debug, Subcommand)]
pub enum AppCommand {
    /// List the applications of the pinned organization
    List(ListArgs),
    /// Print the pinned application id
    Current(crate::commands::JsonArgs),
    /// Pin an application
    Switch(SwitchArgs),
    /// Create an application and pin it
    Create(CreateArgs),
}

#[derive(Debug, Args)]
pub struct SwitchArgs {
    /// Application id (omit for a picker)
    #[arg(value_name = "ID")]
    pub reference: Option<String>,
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Application name (omit to be prompted)
    pub name: Option<String>,
}

pub async fn run(ctx: &mut Context, args: AppArgs) -> Result<ExitStatus, CliError> {
    match args.command {
        AppCommand::List(args) => list(ctx, args).await,
        AppCommand::Current(json) => pinned::current(
            ctx,
            json.json.then_some("applicationId"),
            |p| p.application_id.clone(),
            "No application pinned. Run: appstrate app switch",
        ),
        AppCommand::Switch(args) => switch(ctx, args).await,
        AppCommand::Create(args) => create(ctx, args).await,
    }
}

async fn list(ctx: &mut Context, args: ListArgs) -> Result<ExitStatus, CliError> {
    let session = Session::open(&ctx.env, ctx.global.profile.as_deref()).await?;
    let raw = api::list_applications_raw(&session).await?;
    let pinned = session.profile().application_id.as_deref();
    pinned::print_list::<Application>(ctx, raw, args.json, pinned)
}

impl Pinnable for Application {
    const ENDPOINT: &'static str = "/api/applications";
    const NOUN: &'static str = "application";
    const COMMAND: &'static str = "app";
    const NO_PICKER: &'static str =
        "Cannot prompt in non-TTY — pass an id: `appstrate app switch <id>`.";

    fn id(&self) -> &str {
        &self.id
    }

    fn resolve<'a>(items: &'a [Self], reference: &str) -> Result<&'a Self, PlatformError> {
        api::resolve_app_ref(items, reference)
    }

    fn row(&self) -> String {
        let default = if self.is_default { " [default]" } else { "" };
        format!("{}  {}{default}", pad_end(&self.name, 24), self.id)
    }

    fn label(&self, is_current: bool) -> String {
        let tag = match (self.is_default, is_current) {
            (true, true) => " (default, current)",
            (true, false) => " (default)",
            (false, true) => " (current)",
            (false, false) => "",
        };
        format!("{}{tag}", self.name)
    }
}

async fn switch(ctx: &mut Context, args: SwitchArgs) -> Result<ExitStatus, CliError> {
    let mut session = Session::open(&ctx.env, ctx.global.profile.as_deref()).await?;
    let apps = api::list_applications(&session).await?;
    let current = session.profile().application_id.as_deref();
    let chosen = pinned::choose(ctx, &apps, args.reference.as_deref(), current)?;
    session.pin_application_of_listed_org(&chosen.id)?;
    ctx.ui.line(&format!(
        "Pinned \"{}\" ({}) on profile \"{}\".",
        chosen.name,
        chosen.id,
        session.profile_name()
    ))?;
    Ok(ExitStatus::SUCCESS)
}

async fn create(ctx: &mut Context, args: CreateArgs) -> Result<ExitStatus, CliError> {
    let mut session = Session::open(&ctx.env, ctx.global.profile.as_deref()).await?;
    let name = match args.name {
        Some(name) => name,
        None => {
            if !ctx.ui.interactive() {
                return Err(CliError::user(
                    "Cannot prompt in non-TTY — pass a name: `appstrate app create <name>`.",
                ));
            }
            ctx.ui.prompt_text("Application name", None)?
        }
    };
    let created = api::create_application(&session, &name).await?;
    session.pin_application_of_listed_org(&created.id)?;
    ctx.ui.line(&format!(
        "Created \"{}\" ({}) and pinned it on profile \"{}\".",
        created.name,
        created.id,
        session.profile_name()
    ))?;
    Ok(ExitStatus::SUCCESS)
}
