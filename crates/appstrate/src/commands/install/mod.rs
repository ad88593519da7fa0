//! `appstrate install`: Tier 0 (Bun + PGlite, no Docker) or a Docker
//! Compose stack (Tiers 1–3), fresh or as an upgrade of an existing
//! directory (`docs/install.md`). Here: the flags, the questions and the
//! output; the steps themselves are `appstrate_selfhost::install`.

mod finish;
mod terminal;
mod upgrade_compose;

use std::path::{Path, PathBuf};
use std::time::Duration;

use appstrate_selfhost::install::{self, InstallPlan, PortRequest, SourceInstall, StackInstall};
use appstrate_selfhost::secrets::{self, Bootstrap};
use appstrate_selfhost::tier::Tier;
use appstrate_selfhost::upgrade::{self, Existing, Mode};
use appstrate_selfhost::{appurl, docker, paths, project, tier0};
use clap::Args;

use crate::commands::lifecycle::{self, home};
use crate::context::Context;
use crate::error::{CliError, ExitStatus};
use crate::ui::Choice;
use terminal::InstallTerminal;

#[derive(Debug, Args)]
pub struct InstallArgs {
    /// Skip the tier prompt: 0 (Bun, no Docker), 1, 2 or 3 (Docker stacks)
    #[arg(short = 't', long, value_name = "0|1|2|3")]
    pub tier: Option<String>,
    /// Install directory (default: ~/appstrate)
    #[arg(short = 'd', long, value_name = "PATH")]
    pub dir: Option<String>,
    /// Host port of the platform (default: $APPSTRATE_PORT, then 3000)
    #[arg(long, value_name = "PORT")]
    pub port: Option<String>,
    /// Public origin, e.g. https://appstrate.example.com (default: http://localhost:<port>)
    #[arg(long, value_name = "URL")]
    pub app_url: Option<String>,
    /// Skip the check for a compose project of the same name running from another directory
    #[arg(long)]
    pub force: bool,
    /// No prompts: Docker-aware tier, ~/appstrate, auto-picked port (same as APPSTRATE_YES=1)
    #[arg(short = 'y', long)]
    pub yes: bool,
    /// Only remove stale duplicated defaults from an existing docker-compose.yml
    #[arg(long)]
    pub upgrade_compose: bool,
    /// Tier 0: install the platform from this git URL or local checkout (default: $APPSTRATE_SOURCE, then GitHub)
    #[arg(long, value_name = "GIT_URL|PATH")]
    pub source: Option<String>,
    /// Agent backend: docker (firecracker is not supported yet)
    #[arg(long, value_name = "docker|firecracker")]
    pub run_adapter: Option<String>,
    /// Firecracker remote runner URL (not supported yet)
    #[arg(long, value_name = "URL", hide = true)]
    pub runner_url: Option<String>,
    /// Firecracker runner token (not supported yet)
    #[arg(long, value_name = "TOKEN", hide = true)]
    pub runner_token: Option<String>,
    /// Firecracker same-host IPv4 (not supported yet)
    #[arg(long, value_name = "IPV4", hide = true)]
    pub host_ip: Option<String>,
}

pub async fn run(ctx: &mut Context, args: InstallArgs) -> Result<ExitStatus, CliError> {
    if args.upgrade_compose {
        return upgrade_compose::run(ctx, &args);
    }
    let auto = args.yes || ctx.env.var("APPSTRATE_YES") == Some("1");
    let non_interactive = args.tier.is_some() || auto;
    refuse_firecracker(ctx, &args)?;
    // A bad --tier is named before any question (the directory's first).
    let tier_flag = args
        .tier
        .as_deref()
        .map(Tier::parse)
        .transpose()
        .map_err(|e| CliError::from(e).into_usage())?;
    ctx.ui.intro("Appstrate install")?;

    let dir = resolve_dir(ctx, &args, auto)?;
    let existing = upgrade::detect_install_mode(&dir)?;
    let tier = resolve_tier(ctx, tier_flag, &dir, &existing, auto).await?;
    let project_name = tier
        .uses_docker()
        .then(|| project::resolve_project_name(&dir));
    let port_request = PortRequest {
        dir: &dir,
        existing: &existing,
        flag: args.port.as_deref(),
        env: ctx.env.var("APPSTRATE_PORT"),
        project_name: project_name.as_ref().map(|p| p.0.as_str()),
        auto,
        non_interactive,
    };
    let port = install::resolve_port(&mut InstallTerminal::new(&ctx.ui), &port_request).await?;
    let bootstrap = resolve_bootstrap(ctx, tier, &existing, non_interactive)?;
    let app_url = resolve_app_url(ctx, &args, &existing, tier, port, non_interactive)?;
    let plan = InstallPlan {
        dir,
        existing,
        tier,
        auto,
        port,
        app_url,
        bootstrap,
        default_dir: paths::default_install_dir(&home(ctx)),
    };
    match project_name {
        None => install_from_source(ctx, &args, &plan).await,
        Some((project_name, origin)) => {
            let stack = StackInstall {
                project_name,
                origin,
                force: args.force,
                image_tag: secrets::docker_image_tag(ctx.env.var("APPSTRATE_VERSION")),
                health_timeout: lifecycle::health_timeout(ctx, 120),
            };
            install::install_stack(&mut InstallTerminal::new(&ctx.ui), &plan, &stack).await?;
            finish::stack_ready(ctx, &plan, &stack.project_name)
        }
    }
}

async fn install_from_source(
    ctx: &Context,
    args: &InstallArgs,
    plan: &InstallPlan,
) -> Result<ExitStatus, CliError> {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    let source_raw = args
        .source
        .clone()
        .or_else(|| ctx.env.var_trimmed("APPSTRATE_SOURCE"));
    let input = SourceInstall {
        home: home(ctx),
        path: ctx.env.path.clone(),
        source: tier0::Source::resolve(source_raw.as_deref(), &cwd),
    };
    let bun =
        install::install_from_source(&mut InstallTerminal::new(&ctx.ui), plan, &input).await?;
    finish::source_ready(ctx, plan, &bun).await
}

/// Firecracker run backends are not supported by this CLI yet.
fn refuse_firecracker(ctx: &Context, args: &InstallArgs) -> Result<(), CliError> {
    let adapter = args
        .run_adapter
        .as_deref()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| ctx.env.var_trimmed("APPSTRATE_RUN_ADAPTER"));
    match adapter.as_deref() {
        None | Some("docker") => {}
        Some("firecracker") => {
            return Err(CliError::usage(
                "Firecracker run backends are not supported by this version of appstrate (--run-adapter firecracker). Install with the default Docker backend: omit --run-adapter (and unset APPSTRATE_RUN_ADAPTER).",
            ));
        }
        Some(other) => {
            return Err(CliError::usage(format!(
                "Invalid --run-adapter value \"{other}\". Expected \"docker\" or \"firecracker\"."
            )));
        }
    }
    if args.runner_url.is_some() || args.runner_token.is_some() || args.host_ip.is_some() {
        return Err(CliError::usage(
            "--runner-url, --runner-token and --host-ip configure the Firecracker backend, which is not supported by this version of appstrate. Omit them to install with the Docker backend.",
        ));
    }
    Ok(())
}

fn resolve_dir(ctx: &Context, args: &InstallArgs, auto: bool) -> Result<PathBuf, CliError> {
    let home = home(ctx);
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    if let Some(raw) = &args.dir {
        return Ok(paths::resolve_dir(&cwd, &home, raw)?);
    }
    let default = paths::default_install_dir(&home);
    if auto {
        return Ok(default);
    }
    if !ctx.ui.interactive() {
        return Err(
            CliError::usage("Cannot prompt for install directory: stdin is not a TTY.").with_hint(
                "Re-run with `--dir <path>`, or `--yes` (APPSTRATE_YES=1) to accept ~/appstrate",
            ),
        );
    }
    let answer = ctx
        .ui
        .prompt_text("Install directory", Some(&default.to_string_lossy()))?;
    Ok(paths::resolve_dir(&cwd, &home, &answer)?)
}

/// `--tier`, else the installed tier on an upgrade, else Docker-aware
/// (`--yes`) or asked.
async fn resolve_tier(
    ctx: &Context,
    tier_flag: Option<Tier>,
    dir: &Path,
    existing: &Existing,
    auto: bool,
) -> Result<Tier, CliError> {
    if let Some(tier) = tier_flag {
        return Ok(tier);
    }
    if existing.mode == Mode::Upgrade
        && let Some(t) = appstrate_selfhost::tier::infer_installed_tier(dir)
    {
        let n = t.number();
        ctx.ui.info(&format!(
            "Existing Tier {n} install detected — keeping Tier {n}. Switching tiers rewrites docker-compose.yml with a different service set (and can change the storage backend, hiding existing files), so it requires an explicit `--tier N`."
        ))?;
        return Ok(t);
    }
    let probe = Some(Duration::from_secs(3));
    if auto {
        return if docker::docker_available(probe).await {
            ctx.ui.note("--yes", "--yes: Tier 2 selected automatically (Docker detected). Re-run with `--tier N` to override.")?;
            Ok(Tier::T2)
        } else {
            ctx.ui.note("--yes", "--yes: Tier 0 selected automatically (Docker not detected). Install Docker and re-run with `--tier 2` for the production stack.")?;
            Ok(Tier::T0)
        };
    }
    if !ctx.ui.interactive() {
        return Err(CliError::usage(
            "Cannot prompt for tier: stdin is not a TTY.",
        )
        .with_hint(
            "Re-run with `--tier N` (0, 1, 2 or 3), or `--yes` (APPSTRATE_YES=1) to accept the Docker-aware default",
        ));
    }
    let has_docker = docker::docker_available(probe).await;
    if !has_docker {
        ctx.ui.note("Docker", "Docker not detected — Tier 0 selected by default. Install Docker Desktop and re-run for the production stack (Tier 2).")?;
    }
    let order = [Tier::T3, Tier::T2, Tier::T1, Tier::T0];
    let choices = order
        .iter()
        .map(|t| Choice {
            value: t.number(),
            label: t.label().to_string(),
            hint: String::new(),
        })
        .collect();
    let initial = if has_docker { 1 } else { 3 };
    let n = ctx
        .ui
        .select("Which tier do you want to install?", choices, Some(initial))?;
    Tier::from_number(n).ok_or_else(|| CliError::user("Invalid tier selected."))
}

fn resolve_bootstrap(
    ctx: &Context,
    tier: Tier,
    existing: &Existing,
    non_interactive: bool,
) -> Result<Bootstrap, CliError> {
    if let Some(email) = ctx.env.var_trimmed("APPSTRATE_BOOTSTRAP_OWNER_EMAIL") {
        if !appurl::is_valid_email(&email) {
            return Err(CliError::user(format!(
                "APPSTRATE_BOOTSTRAP_OWNER_EMAIL=\"{email}\" is not a valid email — aborting install."
            )));
        }
        return Ok(Bootstrap {
            owner_email: Some(email),
            org_name: ctx.env.var_trimmed("APPSTRATE_BOOTSTRAP_ORG_NAME"),
            token: None,
        });
    }
    if existing.mode == Mode::Upgrade || tier == Tier::T0 {
        return Ok(Bootstrap::default());
    }
    if non_interactive {
        return Ok(Bootstrap {
            token: Some(secrets::bootstrap_token()?),
            ..Default::default()
        });
    }
    ctx.ui.note(
        "Invitation-only mode (optional)",
        "Closed mode locks down public signup so only invited users can join.\nLeave empty to keep the default open mode (anyone with the URL can sign up).",
    )?;
    let answer = ctx
        .ui
        .prompt_optional("Bootstrap admin email (or empty to skip):")?;
    let answer = answer.trim();
    if answer.is_empty() {
        return Ok(Bootstrap::default());
    }
    if !appurl::is_valid_email(answer) {
        ctx.ui.log_warn(&format!(
            "\"{answer}\" doesn't look like an email — keeping open mode. Edit .env manually to enable closed mode later."
        ));
        return Ok(Bootstrap::default());
    }
    Ok(Bootstrap {
        owner_email: Some(answer.to_string()),
        ..Default::default()
    })
}

fn resolve_app_url(
    ctx: &Context,
    args: &InstallArgs,
    existing: &Existing,
    tier: Tier,
    port: u16,
    non_interactive: bool,
) -> Result<String, CliError> {
    let expressed = match &args.app_url {
        Some(raw) => Some(appurl::parse_app_url(raw)?),
        None => ctx
            .env
            .var_trimmed("APPSTRATE_APP_URL")
            .map(|v| appurl::parse_app_url(&v))
            .transpose()?,
    };
    if existing.mode == Mode::Upgrade
        && let Some(inherited) = existing
            .env
            .get("APP_URL")
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
    {
        if let Some(req) = &expressed
            && req != inherited
        {
            ctx.ui.log_warn(&format!(
                "app URL {req} ignored on upgrade — existing .env pins APP_URL={inherited}, and config is preserved across upgrades (see mergeEnv). Edit {}/.env manually (APP_URL + TRUSTED_ORIGINS + TRUST_PROXY) to change the public URL.",
                args.dir.as_deref().unwrap_or("~/appstrate")
            ));
        }
        return Ok(inherited.to_string());
    }
    if let Some(url) = expressed {
        appurl::assert_loopback_port_matches(&url, port)?;
        return Ok(url);
    }
    let fallback = appurl::app_url_for_port(port);
    if tier == Tier::T0 || non_interactive {
        return Ok(fallback);
    }
    ctx.ui.note(
        "Public URL (optional)",
        &format!("Remote deployment (behind a reverse proxy)? Enter the public URL users will\nhit, e.g. https://appstrate.example.com — it drives OAuth redirects, CORS\n(TRUSTED_ORIGINS), and email links. The reverse proxy itself (TLS, forwarding\nto localhost:{port}) is not provisioned by the installer.\nPress Enter to keep the local default."),
    )?;
    let answer = ctx.ui.prompt_text("Public URL", Some(&fallback))?;
    let answer = answer.trim();
    if answer.is_empty() || answer == fallback {
        return Ok(fallback);
    }
    let url = appurl::parse_app_url(answer)?;
    appurl::assert_loopback_port_matches(&url, port)?;
    Ok(url)
}
