//! `appstrate org list|current|switch|create` (docs/platform-api.md#endpoints): pin the
//! organization of a profile. Every org change re-pins that org's default
//! application in the same config write (the cascade).

use appstrate_platform::PlatformError;
use appstrate_platform::api::{self, Org};
use appstrate_platform::session::Session;
use clap::{Args, Subcommand};

use crate::commands::pinned::{self, ListArgs, Pinnable};
use crate::context::Context;
use crate::error::{CliError, ExitStatus};
use crate::text::pad_end;

#[derive(Debug, Args)]
pub struct OrgArgs {
    #[command(subcommand)]
    pub command: OrgCommand,
}

#[derive(Debug, Subcommand)]
pub enum OrgCommand {
    /// List your organizations (`*` marks the pinned one)
    List(ListArgs),
    /// Print the pinned organization id
    Current(crate::commands::JsonArgs),
    /// Pin an organization (and its default application)
    Switch(SwitchArgs),
    /// Create an organization and pin it
    Create(CreateArgs),
}

#[derive(Debug, Args)]
pub struct SwitchArgs {
    /// Organization id or slug (omit for a picker)
    #[arg(value_name = "ID_OR_SLUG")]
    pub reference: Option<String>,
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Organization name (omit to be prompted)
    pub name: Option<String>,
    /// URL slug (used only with NAME; generated when absent)
    #[arg(long)]
    pub slug: Option<String>,
}

pub async fn run(ctx: &mut Context, args: OrgArgs) -> Result<ExitStatus, CliError> {
    match args.command {
        OrgCommand::List(args) => list(ctx, args).await,
        OrgCommand::Current(json) => pinned::current(
            ctx,
            json.json.then_some("orgId"),
            |p| p.org_id.clone(),
            "No organization pinned. Run: appstrate org switch",
        ),
        OrgCommand::Switch(args) => switch(ctx, args).await,
        OrgCommand::Create(args) => create(ctx, args).await,
    }
}

async fn list(ctx: &mut Context, args: ListArgs) -> Result<ExitStatus, CliError> {
    let session = Session::open(&ctx.env, ctx.global.profile.as_deref()).await?;
    let raw = api::list_orgs_raw(&session).await?;
    pinned::print_list::<Org>(ctx, raw, args.json, session.profile().org_id.as_deref())
}

impl Pinnable for Org {
    const ENDPOINT: &'static str = "/api/orgs";
    const NOUN: &'static str = "organization";
    const COMMAND: &'static str = "org";
    const NO_PICKER: &'static str =
        "Cannot prompt in non-TTY — pass an id or slug: `appstrate org switch <id-or-slug>`.";

    fn id(&self) -> &str {
        &self.id
    }

    fn resolve<'a>(items: &'a [Self], reference: &str) -> Result<&'a Self, PlatformError> {
        api::resolve_org_ref(items, reference)
    }

    fn row(&self) -> String {
        format!("{}  {}  {}", pad_end(&self.slug, 24), self.id, self.name)
    }

    fn label(&self, is_current: bool) -> String {
        let current = if is_current { " (current)" } else { "" };
        format!("{} — {}{current}", self.name, self.slug)
    }
}

async fn switch(ctx: &mut Context, args: SwitchArgs) -> Result<ExitStatus, CliError> {
    let mut session = Session::open(&ctx.env, ctx.global.profile.as_deref()).await?;
    let orgs = api::list_orgs(&session).await?;
    let current = session.profile().org_id.as_deref();
    let chosen = pinned::choose(ctx, &orgs, args.reference.as_deref(), current)?;
    let app = pin_org_cascade(&mut session, &chosen.id).await?;
    ctx.ui.line(&format!(
        "Pinned \"{}\" ({}){} on profile \"{}\".",
        chosen.name,
        chosen.id,
        app_suffix(&app),
        session.profile_name()
    ))?;
    Ok(ExitStatus::SUCCESS)
}

async fn create(ctx: &mut Context, args: CreateArgs) -> Result<ExitStatus, CliError> {
    let mut session = Session::open(&ctx.env, ctx.global.profile.as_deref()).await?;
    let (name, slug) = match args.name {
        // The name is used verbatim; --slug only travels with it.
        Some(name) => (name, args.slug),
        None => {
            if !ctx.ui.interactive() {
                return Err(CliError::user(
                    "Cannot prompt in non-TTY — pass a name: `appstrate org create <name>`.",
                ));
            }
            let name = ctx.ui.prompt_text("Organization name", None)?;
            let slug = ctx
                .ui
                .prompt_optional("Slug (optional — leave blank to auto-generate)")?;
            (name, Some(slug))
        }
    };
    let created = api::create_org(&session, &name, slug.as_deref()).await?;
    let app = pin_org_cascade(&mut session, &created.id).await?;
    ctx.ui.line(&format!(
        "Created \"{}\" ({}){} and pinned it on profile \"{}\".",
        created.name,
        created.id,
        app_suffix(&app),
        session.profile_name()
    ))?;
    Ok(ExitStatus::SUCCESS)
}

/// The cascade: list the new org's applications (sent with its `X-Org-Id`
/// and no application), pick the default (or the only) one, then save org
/// and application in ONE config write. A failing list pins the org with
/// no application; nothing is reported, as in the original.
pub async fn pin_org_cascade(
    session: &mut Session,
    org_id: &str,
) -> Result<Option<api::Application>, CliError> {
    session.pin_in_memory(Some(org_id.to_string()), None);
    let app = match api::list_applications(session).await {
        Ok(apps) => api::default_application(&apps).cloned(),
        Err(_) => None,
    };
    let (org, app_id) = (org_id.to_string(), app.as_ref().map(|a| a.id.clone()));
    session.update_profile(|p| {
        p.org_id = Some(org);
        p.application_id = app_id;
    })?;
    Ok(app)
}

fn app_suffix(app: &Option<api::Application>) -> String {
    match app {
        Some(app) => format!(" / app \"{}\" ({})", app.name, app.id),
        None => String::new(),
    }
}
