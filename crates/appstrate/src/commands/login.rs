//! `appstrate login`: the device flow (RFC 8628), then the organization and
//! application pin cascades (docs/platform-api.md#device-flow).

use appstrate_platform::api::{self, Application, Org};
use appstrate_platform::auth;
use appstrate_platform::config::{self, Config, Profile};
use appstrate_platform::credentials::CredentialStore;
use appstrate_platform::instance::normalize_instance;
use appstrate_platform::session::Session;
use appstrate_platform::tokens::{self, RefreshToken, TokenRecord, now_ms};
use clap::Args;

use crate::context::Context;
use crate::error::{CliError, ExitStatus};
use crate::ui::Choice;

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// Instance base URL (skips the prompt)
    #[arg(long, value_name = "URL")]
    pub instance: Option<String>,
    /// Pin this organization (id or slug) after signing in
    #[arg(long, value_name = "ID_OR_SLUG")]
    pub org: Option<String>,
    /// Create an organization with this name and pin it
    #[arg(long, value_name = "NAME")]
    pub create_org: Option<String>,
    /// Skip the organization pin
    #[arg(long)]
    pub no_org: bool,
    /// Pin this application (id) after the organization pin
    #[arg(long, value_name = "ID")]
    pub app: Option<String>,
    /// Create an application with this name and pin it
    #[arg(long, value_name = "NAME")]
    pub create_app: Option<String>,
    /// Skip the application pin
    #[arg(long)]
    pub no_app: bool,
    /// Name shown for this device in the instance's session list (default: hostname; "" sends none)
    #[arg(long, value_name = "NAME")]
    pub device_name: Option<String>,
}

pub async fn run(ctx: &mut Context, args: LoginArgs) -> Result<ExitStatus, CliError> {
    let config_dir = ctx.config_dir();
    let config = Config::load(&config_dir)?;
    let name = ctx.profile_name(config.default_profile());
    let existing = config.profile(&name);
    ctx.ui
        .intro(&format!("Appstrate login — profile \"{name}\""))?;

    let instance = ask_instance(ctx, &args, existing.as_ref())?;
    let http = appstrate_platform::http::client(&ctx.env)?;
    // Before the user approves anything: an approval whose tokens cannot be
    // stored leaves a live session on the server and none here.
    let store = CredentialStore::open(&ctx.env).await;
    store.check_usable()?;

    let started = now_ms();
    let token = device_flow(ctx, &http, &instance, &args).await?;
    // Persist: identity from the JWT, then tokens, then the profile row.
    let (user_id, email) = tokens::identity(&token.access_token)?;
    let record = token_record(token, started)?;
    let replaced = store.load(&name).await.ok().flatten();
    store.save(&name, &record).await?;
    if let (Some(old), Some(previous)) = (replaced, existing.as_ref()) {
        revoke_replaced(ctx, &http, &name, &previous.instance, &old).await;
    }
    let same_user = existing.as_ref().filter(|p| p.user_id == user_id);
    let profile = Profile {
        instance: instance.clone(),
        user_id,
        email: email.clone(),
        org_id: same_user.and_then(|p| p.org_id.clone()),
        application_id: same_user.and_then(|p| p.application_id.clone()),
    };
    config::update(&config_dir, |cfg| {
        cfg.set_profile(&name, &profile);
        Ok(())
    })?;

    let mut session = Session::with_profile(&ctx.env, name.clone(), profile).await?;
    let org = pin_org(ctx, &mut session, &args).await?;
    let app = match &org {
        Some(_) if !args.no_app => pin_app(ctx, &mut session, &args).await?,
        _ => None,
    };
    finish(ctx, &args, &email, org.as_ref(), app.as_ref())?;
    Ok(ExitStatus::SUCCESS)
}

/// `--instance`, else asked (the profile's instance as the default),
/// validated.
fn ask_instance(
    ctx: &mut Context,
    args: &LoginArgs,
    existing: Option<&Profile>,
) -> Result<String, CliError> {
    let raw_instance = match &args.instance {
        Some(url) => url.clone(),
        None if !ctx.ui.interactive() => {
            return Err(CliError::usage(
                "No instance given, and stdin is not a terminal to ask for one.",
            )
            .with_hint("Pass it: appstrate login --instance <URL>"));
        }
        None => {
            let default = existing
                .map(|p| p.instance.clone())
                .unwrap_or_else(|| "http://localhost:3000".into());
            ctx.ui.prompt_text("Instance URL", Some(&default))?
        }
    };
    Ok(normalize_instance(&raw_instance, ctx.env.insecure)?)
}

/// The device flow: a code, shown (and opened in a browser when there is
/// one), then the poll until the user approves it.
async fn device_flow(
    ctx: &Context,
    http: &reqwest::Client,
    instance: &str,
    args: &LoginArgs,
) -> Result<auth::TokenResponse, CliError> {
    let spinner = ctx.ui.spinner("Requesting device code");
    let code = match auth::request_device_code(http, instance, ctx.env.insecure).await {
        Ok(code) => code,
        Err(err) => {
            spinner.fail();
            return Err(err.into());
        }
    };
    let minutes = (code.expires_in as f64 / 60.0).round() as u64;
    spinner.stop(&ctx.ui, &format!("Code received — expires in {minutes}m"))?;
    ctx.ui.frame(&format!(
        "\n  Visit: {}\n  Code:  {}\n\n",
        code.verification_uri,
        auth::format_user_code(&code.user_code)
    ))?;
    if !ctx.env.no_open && ctx.env.has_display() {
        // Best effort: the URL is on screen either way.
        let _ = webbrowser::open(&code.verification_uri_complete);
    }

    let device_name = match &args.device_name {
        Some(name) => name.clone(),
        None => gethostname::gethostname()
            .to_string_lossy()
            .trim()
            .to_string(),
    };
    let spinner = ctx.ui.spinner("Waiting for approval in your browser");
    match auth::poll_for_token(http, instance, &code, Some(&device_name)).await {
        Ok(token) => {
            spinner.stop(&ctx.ui, "Approved")?;
            Ok(token)
        }
        Err(err) => {
            spinner.fail();
            Err(err.into())
        }
    }
}

/// The record to store: a 2.x instance always rotates refresh tokens and
/// says how long they live; `started` is when the poll began.
fn token_record(token: auth::TokenResponse, started: i64) -> Result<TokenRecord, CliError> {
    let Some(refresh_token) = token.refresh_token else {
        return Err(CliError::user(
            "Server did not issue a refresh token — the instance may be running a pre-2.x Appstrate. Upgrade the server, or use `--instance` to target a 2.x instance.",
        ));
    };
    let Some(refresh_expires_in) = token.refresh_expires_in else {
        return Err(CliError::user(
            "Server returned a refresh token without refresh_expires_in — the response is non-conforming. Check the server version and any middleware transforming the /api/auth/cli/token response, then retry.",
        ));
    };
    Ok(TokenRecord {
        access_token: token.access_token,
        expires_at: started + token.expires_in * 1000,
        refresh: Some(RefreshToken {
            token: refresh_token,
            expires_at: started + refresh_expires_in * 1000,
        }),
    })
}

/// The closing banner, and what to do about a pin that was not made.
fn finish(
    ctx: &Context,
    args: &LoginArgs,
    email: &str,
    org: Option<&Org>,
    app: Option<&Application>,
) -> Result<(), CliError> {
    let mut banner = format!("Logged in as {email}");
    if let Some(org) = org {
        banner.push_str(&format!(" to \"{}\" ({})", org.name, org.id));
    }
    if let Some(app) = app {
        banner.push_str(&format!(" / app \"{}\" ({})", app.name, app.id));
    }
    ctx.ui.outro(&banner)?;
    if org.is_none() {
        ctx.ui.warn("No org pinned — pass -H \"X-Org-Id: …\" on each call, or run `appstrate org switch` later.");
    } else if app.is_none() && !args.no_app {
        ctx.ui.warn("No app pinned — pass -H \"X-Application-Id: …\" on each call, or run `appstrate app switch` later.");
    }
    Ok(())
}

/// Signs out the session this login replaced (its refresh token would
/// otherwise stay live on the server until it expires). Best effort: a
/// failure is a warning, the new session is already stored.
async fn revoke_replaced(
    ctx: &Context,
    http: &reqwest::Client,
    name: &str,
    instance: &str,
    replaced: &TokenRecord,
) {
    let Some(refresh) = &replaced.refresh else {
        return;
    };
    let result = async {
        let instance = normalize_instance(instance, ctx.env.insecure)?;
        auth::revoke(http, &instance, &refresh.token).await
    }
    .await;
    if let Err(err) = result {
        ctx.ui.warn(&format!(
            "warning: could not revoke the previous session of profile \"{name}\" ({err}); it stays valid on the server until it expires or you revoke it from the dashboard."
        ));
    }
}

/// Pins `org`; a different org than before clears the app pin in the same write.
fn pin(session: &mut Session, org: &Org) -> Result<(), CliError> {
    let id = org.id.clone();
    session.update_profile(|p| {
        if p.org_id.as_deref() != Some(id.as_str()) {
            p.application_id = None;
        }
        p.org_id = Some(id);
    })?;
    Ok(())
}

async fn pin_org(
    ctx: &mut Context,
    session: &mut Session,
    args: &LoginArgs,
) -> Result<Option<Org>, CliError> {
    if args.no_org {
        return Ok(None);
    }
    if let Some(name) = &args.create_org {
        let org = api::create_org(session, name, None).await?;
        pin(session, &org)?;
        return Ok(Some(org));
    }
    let orgs = match api::list_orgs(session).await {
        Ok(orgs) => orgs,
        Err(err) => {
            ctx.ui.warn(&format!(
                "Failed to list organizations: {}",
                err.bare_message()
            ));
            return Ok(None);
        }
    };
    let chosen = if let Some(reference) = &args.org {
        api::resolve_org_ref(&orgs, reference)?.clone()
    } else if orgs.len() == 1 {
        orgs[0].clone()
    } else if orgs.is_empty() {
        if !ctx.ui.interactive() {
            ctx.ui.warn("No organization yet on this account — run `appstrate org create <name>` to create one.");
            return Ok(None);
        }
        let name = ctx.ui.prompt_text("Organization name", None)?;
        let slug = ctx
            .ui
            .prompt_optional("Slug (optional — leave blank to auto-generate)")?;
        api::create_org(session, name.trim(), Some(slug.trim())).await?
    } else {
        if !ctx.ui.interactive() {
            ctx.ui
                .warn("Multiple organizations — pass --org <id-or-slug> to pin non-interactively.");
            return Ok(None);
        }
        let choices = orgs
            .iter()
            .map(|o| Choice {
                value: o.id.clone(),
                label: format!("{} — {}", o.name, o.slug),
                hint: o.id.clone(),
            })
            .collect();
        let current = session
            .profile()
            .org_id
            .as_ref()
            .and_then(|id| orgs.iter().position(|o| &o.id == id));
        let id = ctx.ui.select(
            "Select the organization to pin on this profile",
            choices,
            current,
        )?;
        orgs.iter()
            .find(|o| o.id == id)
            .cloned()
            .ok_or_else(|| CliError::user("No organization selected."))?
    };
    pin(session, &chosen)?;
    Ok(Some(chosen))
}

async fn pin_app(
    ctx: &mut Context,
    session: &mut Session,
    args: &LoginArgs,
) -> Result<Option<Application>, CliError> {
    let chosen = if let Some(name) = &args.create_app {
        api::create_application(session, name).await?
    } else {
        let apps = match api::list_applications(session).await {
            Ok(apps) => apps,
            Err(err) => {
                ctx.ui.warn(&format!(
                    "Failed to list applications: {}",
                    err.bare_message()
                ));
                return Ok(None);
            }
        };
        if let Some(reference) = &args.app {
            api::resolve_app_ref(&apps, reference)?.clone()
        } else if apps.is_empty() {
            ctx.ui.warn("No applications found on the pinned organization — run `appstrate app create <name>` to create one.");
            return Ok(None);
        } else if apps.len() == 1 {
            apps[0].clone()
        } else if let Some(default) = apps.iter().find(|a| a.is_default) {
            default.clone()
        } else {
            ctx.ui.warn("Multiple applications but none marked default — run `appstrate app switch` to pin one.");
            return Ok(None);
        }
    };
    session.pin_application_of_listed_org(&chosen.id)?;
    Ok(Some(chosen))
}
