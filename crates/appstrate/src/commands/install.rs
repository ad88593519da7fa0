//! `appstrate install`: Tier 0 (Bun + PGlite, no Docker) or a Docker
//! Compose stack (Tiers 1–3), fresh or as an upgrade of an existing
//! directory (install.md §1). Prompts and output live here; the facts
//! (templates, secrets, names, backups) in `appstrate-selfhost`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use appstrate_selfhost::envfile::{self, EnvMap};
use appstrate_selfhost::secrets::{self, Bootstrap, EnvInputs};
use appstrate_selfhost::tier::Tier;
use appstrate_selfhost::upgrade::{self, Existing, Mode, Rollback};
use appstrate_selfhost::{
    appurl, compose_defaults, compose_ls, docker, fsutil, health, paths, port, project, templates,
    tier0,
};
use clap::Args;

use crate::commands::lifecycle::{self, home, running_banner};
use crate::context::Context;
use crate::error::{CliError, ExitStatus};
use crate::ui::Choice;

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

fn env_trimmed(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

struct Plan {
    dir: PathBuf,
    existing: Existing,
    tier: Tier,
    auto: bool,
    non_interactive: bool,
    port: u16,
    app_url: String,
    bootstrap: Bootstrap,
}

pub async fn run(ctx: &mut Context, args: InstallArgs) -> Result<ExitStatus, CliError> {
    if args.upgrade_compose {
        return upgrade_compose(ctx, &args);
    }
    let auto = args.yes || std::env::var("APPSTRATE_YES").as_deref() == Ok("1");
    let non_interactive = args.tier.is_some() || auto;
    refuse_firecracker(&args)?;
    ctx.ui.intro("Appstrate install")?;

    let dir = resolve_dir(ctx, &args, auto)?;
    let existing = upgrade::detect_install_mode(&dir)?;
    let mut inherited = None;
    if existing.mode == Mode::Upgrade
        && args.tier.is_none()
        && let Some(t) = appstrate_selfhost::tier::infer_installed_tier(&dir)
    {
        let n = t.number();
        ctx.ui.info(&format!(
            "Existing Tier {n} install detected — keeping Tier {n}. Switching tiers rewrites docker-compose.yml with a different service set (and can change the storage backend, hiding existing files), so it requires an explicit `--tier N`."
        ))?;
        inherited = Some(t);
    }
    let tier = resolve_tier(ctx, args.tier.as_deref(), inherited, auto).await?;

    let project_name = tier
        .uses_docker()
        .then(|| project::resolve_project_name(&dir));
    let port = resolve_port(
        ctx,
        &args,
        &dir,
        &existing,
        project_name.as_ref().map(|p| p.0.as_str()),
        tier,
        auto,
        non_interactive,
    )
    .await?;
    let bootstrap = resolve_bootstrap(ctx, tier, &existing, non_interactive)?;
    let app_url = resolve_app_url(ctx, &args, &existing, tier, port, non_interactive)?;
    let plan = Plan {
        dir,
        existing,
        tier,
        auto,
        non_interactive,
        port,
        app_url,
        bootstrap,
    };
    match project_name {
        None => install_tier0(ctx, &args, plan).await,
        Some((name, origin)) => install_docker(ctx, &args, plan, name, origin).await,
    }
}

/// Firecracker run backends are not supported by this CLI yet.
fn refuse_firecracker(args: &InstallArgs) -> Result<(), CliError> {
    let adapter = args
        .run_adapter
        .as_deref()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| env_trimmed("APPSTRATE_RUN_ADAPTER"));
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
        return Err(CliError::usage(
            "Cannot prompt for install directory: stdin is not a TTY. Re-run with `--dir <path>` or `--yes` to accept ~/appstrate, e.g. `curl -fsSL https://get.appstrate.dev | bash -s -- --yes` or `curl -fsSL https://get.appstrate.dev | bash -s -- --tier 2 --dir ~/appstrate`.",
        ));
    }
    let answer = ctx
        .ui
        .prompt_text("Install directory", Some(&default.to_string_lossy()))?;
    Ok(paths::resolve_dir(&cwd, &home, &answer)?)
}

async fn resolve_tier(
    ctx: &Context,
    flag: Option<&str>,
    inherited: Option<Tier>,
    auto: bool,
) -> Result<Tier, CliError> {
    if let Some(raw) = flag {
        return Ok(Tier::parse(raw)?);
    }
    if let Some(t) = inherited {
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
            "Cannot prompt for tier: stdin is not a TTY. Re-run with `--tier N` (0, 1, 2, or 3), or pass `--yes` to accept the Docker-aware default, e.g. `curl -fsSL https://get.appstrate.dev | bash -s -- --yes` or `curl -fsSL https://get.appstrate.dev | bash -s -- --tier 2`.",
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

#[allow(clippy::too_many_arguments)]
async fn resolve_port(
    ctx: &Context,
    args: &InstallArgs,
    dir: &Path,
    existing: &Existing,
    project_name: Option<&str>,
    tier: Tier,
    auto: bool,
    non_interactive: bool,
) -> Result<u16, CliError> {
    let env_port = std::env::var("APPSTRATE_PORT").ok();
    let requested = port::parse_port(args.port.as_deref(), env_port.as_deref())?;
    let expressed = args.port.as_deref().filter(|s| !s.is_empty()).is_some()
        || env_port.as_deref().is_some_and(|s| !s.is_empty());

    if existing.mode == Mode::Upgrade && existing.has_env {
        // The merged .env keeps its PORT, so the upgrade must use it for the
        // preflight and the health poll too (the original used the requested
        // port while writing the old one back).
        let inherited = match existing.env.get("PORT") {
            None => 3000,
            Some(raw) => match port::parse_port_value(raw.trim()) {
                Some(p) => p,
                None => {
                    ctx.ui.log_warn(&format!(
                        "Ignoring invalid PORT=\"{raw}\" in existing .env — using default 3000. Fix the .env manually to silence this warning."
                    ));
                    3000
                }
            },
        };
        if expressed && requested != inherited {
            ctx.ui.log_warn(&format!(
                "port {requested} ignored on upgrade — existing .env pins PORT={inherited}, and secrets/config are preserved across upgrades (see mergeEnv). Edit {}/.env manually to change the port.",
                dir.display()
            ));
        }
        let ours = match project_name {
            Some(name) => compose_ls::listed_project(name)
                .await
                .is_some_and(|p| p.is_from(dir)),
            // Tier 0: our own dev server, stopped before the source update.
            None => tier0::running_pid(dir).is_some(),
        };
        if ours || port::is_port_available(inherited as i64) {
            return Ok(inherited);
        }
        let holder = port::describe_process_on_port(inherited);
        return Err(CliError::user(format!(
            "Port {inherited} is already in use (Appstrate).{} The existing .env in {} pins PORT={inherited}: free the port, or edit PORT in that .env.",
            port::held_by_suffix(&holder),
            dir.display()
        )));
    }
    let _ = tier;
    ensure_port_free(ctx, requested, auto, non_interactive)
}

fn ensure_port_free(
    ctx: &Context,
    requested: u16,
    auto: bool,
    non_interactive: bool,
) -> Result<u16, CliError> {
    let mut current = requested;
    loop {
        if port::is_port_available(current as i64) {
            return Ok(current);
        }
        let holder = port::describe_process_on_port(current);
        let held = port::held_by_suffix(&holder);
        if auto && let Some(picked) = port::auto_pick(current) {
            ctx.ui.info(&format!(
                "Port {current} (Appstrate) in use.{held} Auto-picked {picked} instead — pass --port <n> or pipe via `curl … | APPSTRATE_PORT=<n> bash` to override."
            ))?;
            return Ok(picked);
        }
        if non_interactive {
            return Err(CliError::user(format!(
                "Port {current} is already in use (Appstrate).{held} Re-run with --port <n>, or pipe via `curl -fsSL https://get.appstrate.dev | APPSTRATE_PORT=<n> bash` (note: `APPSTRATE_PORT=<n> curl … | bash` sets the var for curl, not bash — use the syntax above instead)."
            )));
        }
        ctx.ui.log_warn(&format!(
            "Port {current} (Appstrate) is already in use.{held} Free it or pick a different port."
        ));
        let answer = ctx
            .ui
            .prompt_text("New port for Appstrate", Some(&current.to_string()))?;
        current = port::parse_port_value(answer.trim()).ok_or_else(|| {
            CliError::user(format!(
                "Invalid port \"{answer}\". Expected an integer in the range 1..65535."
            ))
        })?;
    }
}

fn resolve_bootstrap(
    ctx: &Context,
    tier: Tier,
    existing: &Existing,
    non_interactive: bool,
) -> Result<Bootstrap, CliError> {
    if let Some(email) = env_trimmed("APPSTRATE_BOOTSTRAP_OWNER_EMAIL") {
        if !appurl::is_valid_email(&email) {
            return Err(CliError::user(format!(
                "APPSTRATE_BOOTSTRAP_OWNER_EMAIL=\"{email}\" is not a valid email — aborting install."
            )));
        }
        return Ok(Bootstrap {
            owner_email: Some(email),
            org_name: env_trimmed("APPSTRATE_BOOTSTRAP_ORG_NAME"),
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
        None => env_trimmed("APPSTRATE_APP_URL")
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

/// The env to write: fresh secrets, merged under the existing values on an
/// upgrade; rendered, or merged into the existing text (comments kept).
fn env_body(plan: &Plan, fresh: &EnvMap) -> (EnvMap, String) {
    match (&plan.existing.mode, &plan.existing.env_text) {
        (Mode::Upgrade, Some(text)) => {
            let merged = envfile::merge_env(&plan.existing.env, fresh);
            let body = envfile::merge_into_text(text, &merged);
            (merged, body)
        }
        _ => {
            let merged = envfile::merge_env(&plan.existing.env, fresh);
            let body = envfile::render_env_file(&merged);
            (merged, body)
        }
    }
}

fn write_env(dir: &Path, body: &str) -> Result<(), CliError> {
    let path = dir.join(".env");
    fsutil::write_atomic(&path, body.as_bytes(), 0o600)
        .map_err(|e| CliError::user(format!("Cannot write {}: {e}", path.display())))
}

/// Runs `work` under a spinner; the spinner always stops.
async fn step<T, F>(ctx: &Context, label: &str, done: &str, work: F) -> Result<T, CliError>
where
    F: std::future::Future<Output = Result<T, CliError>>,
{
    let spinner = ctx.ui.spinner(label);
    match work.await {
        Ok(v) => {
            spinner.stop(&ctx.ui, done)?;
            Ok(v)
        }
        Err(e) => {
            spinner.fail();
            Err(e)
        }
    }
}

async fn install_docker(
    ctx: &mut Context,
    args: &InstallArgs,
    plan: Plan,
    project_name: String,
    origin: project::NameOrigin,
) -> Result<ExitStatus, CliError> {
    let dir = &plan.dir;
    let spinner = ctx.ui.spinner("Checking Docker");
    if !docker::docker_available(None).await {
        spinner.stop(&ctx.ui, "Docker not found")?;
        return Err(CliError::user(
            "Docker is required for this tier but was not found. Install Docker Desktop (https://www.docker.com/products/docker-desktop) or pick Tier 0 if you want to run Appstrate without containers.",
        ));
    }
    spinner.stop(&ctx.ui, "Docker OK")?;

    if let Some(n) = docker::custom_network_count().await
        && n >= docker::NETWORK_THRESHOLD
    {
        ctx.ui.note(
            "Docker network pool near capacity",
            &format!("Detected {n} Docker networks on this host (default ceiling ≈ 31).\nQuick fix: docker network prune\nSee README#docker-network-pool-tuning to enlarge the pool (default-address-pools)."),
        )?;
    }

    let upgrading = plan.existing.mode == Mode::Upgrade;
    if upgrading {
        if plan.auto {
            ctx.ui.info(&format!(
                "--yes: upgrading existing install at {} (secrets preserved, backups written to <file>.backup).",
                dir.display()
            ))?;
        } else {
            let q = format!(
                "An existing install was detected at {}. Existing secrets (BETTER_AUTH_SECRET, CONNECTION_ENCRYPTION_KEY, POSTGRES_PASSWORD, …) will be preserved; the compose file will be replaced with the Tier {} template. Continue?",
                dir.display(),
                plan.tier.number()
            );
            if !ctx.ui.confirm(&q, true)? {
                return Err(CliError::user("Upgrade cancelled."));
            }
        }
    }

    if !args.force
        && let Some(running) = compose_ls::listed_project(&project_name).await
        && !running.is_from(dir)
    {
        let paths = if running.config_files.is_empty() {
            "(compose config path unavailable)".to_string()
        } else {
            running.config_files.join(", ")
        };
        let stop_hint = match running
            .config_files
            .first()
            .and_then(|f| Path::new(f).parent())
        {
            Some(parent) => format!("cd \"{}\" && docker compose down", parent.display()),
            None => format!("docker compose --project-name {project_name} down"),
        };
        return Err(CliError::user(format!(
            "A Docker Compose project named \"{project_name}\" is already running from another directory.\n  Running stack: {paths}\nRefusing to continue: bringing this install up under the same project name would recreate that stack's containers with this directory's config (see https://github.com/appstrate/appstrate/issues/167).\nTo fix, stop the other stack:\n  {stop_hint}\n  (or: docker compose --project-name {project_name} down)\nAlternatively, install into another directory with --dir <path>,\nor pass --force to proceed anyway."
        )));
    }

    // Everything is computed before anything is written, so a failure here
    // (e.g. no random source) leaves the directory untouched.
    let image_tag = secrets::docker_image_tag(std::env::var("APPSTRATE_VERSION").ok().as_deref());
    let fresh = secrets::generate_env(&EnvInputs {
        tier: plan.tier,
        app_url: &plan.app_url,
        port: plan.port,
        bootstrap: &plan.bootstrap,
        image_tag: &image_tag,
        docker_gid: secrets::detect_docker_gid(Path::new("/var/run/docker.sock")),
    })?;
    let (merged, env_text) = env_body(&plan, &fresh);
    let compose_text = templates::compose_template(plan.tier).unwrap_or_default();

    let backups = if upgrading {
        upgrade::backup_files(dir)?
    } else {
        Vec::new()
    };
    let mut rollback = Rollback::new(dir, backups);
    let dir_existed = dir.exists();
    let write = async {
        if !dir_existed {
            std::fs::create_dir_all(dir)
                .map_err(|e| CliError::user(format!("Cannot create {}: {e}", dir.display())))?;
        }
        Ok::<(), CliError>(())
    };
    write.await?;
    if !dir_existed {
        rollback.created_dir(dir);
    }
    let compose_path = dir.join("docker-compose.yml");
    let (label, done) = if upgrading {
        (
            "Rewriting compose + merging .env",
            format!("Rewrote {} (secrets preserved)", compose_path.display()),
        )
    } else {
        (
            "Writing compose + .env",
            format!("Wrote {} + .env", compose_path.display()),
        )
    };
    if !plan.existing.has_compose {
        rollback.created_file(&compose_path);
    }
    if !plan.existing.has_env {
        rollback.created_file(&dir.join(".env"));
    }
    let written = step(ctx, label, &done, async {
        fsutil::write_atomic(&compose_path, compose_text.as_bytes(), 0o644)
            .map_err(|e| CliError::user(format!("Cannot write {}: {e}", compose_path.display())))?;
        write_env(dir, &env_text)
    })
    .await;
    if let Err(e) = written {
        return Err(rollback
            .fail(&appstrate_selfhost::Error::new(e.message))
            .into());
    }
    // The name is recorded before the stack exists, so a failed or
    // interrupted bring-up can still be inspected and removed by name.
    if origin == project::NameOrigin::Derived {
        let meta = dir.join(".appstrate");
        let meta_existed = meta.exists();
        if let Err(e) = project::write_project_file(dir, &project_name) {
            return Err(rollback
                .fail(&appstrate_selfhost::Error::new(format!(
                    "Cannot write {}: {e}",
                    project::project_file_path(dir).display()
                )))
                .into());
        }
        rollback.created_file(&project::project_file_path(dir));
        if !meta_existed {
            rollback.created_dir(&meta);
        }
    }
    if !upgrading {
        // From here containers may hold data created with these secrets:
        // a fresh install keeps its files so a re-run resumes on them.
        rollback.keep_created();
    }

    let up_label =
        format!("Starting Appstrate (docker compose --project-name {project_name} up -d)");
    let brought_up = step(ctx, &up_label, "Containers up", async {
        match docker::compose(dir, &project_name, &["up", "-d"]).await {
            0 => Ok(()),
            code => Err(CliError::user(format!(
                "docker compose up failed with exit code {code}"
            ))),
        }
    })
    .await;
    let timeout = lifecycle::health_timeout(120);
    let healthy = match brought_up {
        Ok(()) => {
            step(
                ctx,
                "Waiting for Appstrate to become healthy",
                "Appstrate is healthy",
                async {
                    if health::wait_for_http(plan.port, timeout, Duration::from_secs(1)).await {
                        Ok(())
                    } else {
                        Err(CliError::user(health::docker_timeout_message(timeout)))
                    }
                },
            )
            .await
        }
        Err(e) => Err(e),
    };
    if let Err(e) = healthy {
        let err = rollback.fail(&appstrate_selfhost::Error::new(e.message));
        let mut message = err.message;
        if !upgrading {
            message.push_str(&format!(
                "\nThe generated files are kept in {} (containers may already use their secrets): fix the cause and re-run the same install command to resume, or remove everything with `appstrate uninstall --purge{}`.",
                dir.display(),
                dir_flag(ctx, dir)
            ));
        }
        return Err(CliError::user(message));
    }
    rollback.commit();

    let local_url = appurl::app_url_for_port(plan.port);
    open_browser(ctx, &browser_url(&local_url, &plan.bootstrap));
    if appurl::is_remote_app_url(&plan.app_url) {
        ctx.ui.note(
            "Reverse proxy required",
            &format!(
                "The platform listens on {local_url} (host port {}).\nPoint your reverse proxy (Caddy, nginx, Traefik) at it so that\n{} → {local_url}. TLS termination happens at the proxy;\nTRUST_PROXY=true is already set in .env. Until the proxy is up,\nthe platform is reachable at {local_url} only.",
                plan.port, plan.app_url
            ),
        )?;
    }
    bootstrap_followup(ctx, &merged, &plan)?;
    ctx.ui.outro(&running_banner(
        ctx,
        &plan.app_url,
        Some(&project_name),
        dir,
    ))?;
    Ok(ExitStatus::SUCCESS)
}

fn dir_flag(ctx: &Context, dir: &Path) -> String {
    if dir == paths::default_install_dir(&home(ctx)) {
        String::new()
    } else {
        format!(" --dir {}", dir.display())
    }
}

fn browser_url(local_url: &str, bootstrap: &Bootstrap) -> String {
    if bootstrap.token.is_some() {
        local_url.to_string()
    } else {
        format!("{local_url}/register")
    }
}

/// Best effort, and only for a person at a terminal.
fn open_browser(ctx: &Context, url: &str) {
    if ctx.env.no_open || !ctx.ui.stdout_tty {
        return;
    }
    let _ = webbrowser::open(url);
}

/// What to do next in closed mode. The bootstrap token is shown only on a
/// terminal; otherwise the user is pointed at `.env`, so it never lands in
/// a log.
fn bootstrap_followup(ctx: &Context, env: &EnvMap, plan: &Plan) -> Result<(), CliError> {
    let app_url = &plan.app_url;
    if let Some(email) = &plan.bootstrap.owner_email {
        let org = plan.bootstrap.org_name.as_deref().unwrap_or("Default");
        return ctx.ui.note(
            "Next: create your owner account",
            &format!("Opened  {app_url}/register  in your browser.\nSign up as  {email}  (the form is pre-filled and locked)\nPick any password — the org \"{org}\" is created automatically."),
        );
    }
    let _ = env;
    let Some(token) = &plan.bootstrap.token else {
        return Ok(());
    };
    let env_path = plan.dir.join(".env");
    let body = if ctx.ui.stdout_tty {
        format!(
            "Open  {app_url}/claim\nPaste this one-time bootstrap token to become the owner:\n\n    {token}\n\nIt is also stored as AUTH_BOOTSTRAP_TOKEN in {}.",
            env_path.display()
        )
    } else {
        format!(
            "Open  {app_url}/claim\nPaste the one-time bootstrap token to become the owner.\nThe token is AUTH_BOOTSTRAP_TOKEN in {} (not printed here, so it stays out of logs).",
            env_path.display()
        )
    };
    ctx.ui
        .note("Closed-by-default install — claim ownership", &body)
}

async fn install_tier0(
    ctx: &mut Context,
    args: &InstallArgs,
    plan: Plan,
) -> Result<ExitStatus, CliError> {
    let dir = &plan.dir;
    let home = home(ctx);
    let path = std::env::var_os("PATH");
    let bun = match tier0::find_bun(path.as_deref(), &home) {
        Some(bun) => bun,
        None => {
            if !plan.auto
                && !ctx.ui.confirm("Bun is not installed. Install it now via `curl https://bun.sh/install | bash`?", true)?
            {
                return Err(CliError::user("Tier 0 needs Bun. Install it manually from https://bun.sh and re-run."));
            }
            step(ctx, "Installing Bun", "Bun installed", async {
                Ok(tier0::install_bun(&home).await?)
            })
            .await?
        }
    };

    // A re-run updates the checkout; the running dev server goes first.
    if let Some(pid) = tier0::stop_dev_server(dir, Duration::from_secs(10)).await {
        ctx.ui.info(&format!(
            "Stopped the running dev server (pid {pid}) to update it."
        ))?;
    }
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    let source_raw = args
        .source
        .clone()
        .or_else(|| env_trimmed("APPSTRATE_SOURCE"));
    let source = tier0::Source::resolve(source_raw.as_deref(), &cwd);
    let updating = tier0::is_checkout(dir);
    let git_ref = tier0::release_ref();
    let (label, done) = if updating {
        ("Updating Appstrate source", "Source updated")
    } else {
        ("Cloning Appstrate source", "Source cloned")
    };
    step(ctx, label, done, async {
        if tier0::find_on_path("git", path.as_deref()).is_some() {
            return Ok(tier0::fetch_source(dir, &source, &git_ref, "git").await?);
        }
        tarball_fallback(dir, &source, &git_ref, path.as_deref(), updating).await
    })
    .await?;

    let bun_path = tier0::augmented_path(path.as_deref(), &home);
    step(
        ctx,
        "Installing dependencies",
        "Dependencies installed",
        async {
            let bun_s = bun.to_string_lossy();
            let path_s = bun_path.to_string_lossy();
            match docker::run(&bun_s, &["install"], Some(dir), false, &[("PATH", &path_s)]).await {
                0 => Ok(()),
                code => Err(CliError::user(format!(
                    "bun install failed with exit code {code}"
                ))),
            }
        },
    )
    .await?;

    let fresh = secrets::generate_env(&EnvInputs {
        tier: Tier::T0,
        app_url: &plan.app_url,
        port: plan.port,
        bootstrap: &plan.bootstrap,
        image_tag: "",
        docker_gid: None,
    })?;
    let (merged, env_text) = env_body(&plan, &fresh);
    write_env(dir, &env_text)?;
    project::write_tier0_file(dir).map_err(|e| {
        CliError::user(format!(
            "Cannot write {}/{}: {e}",
            dir.display(),
            project::TIER0_FILE_RELPATH
        ))
    })?;

    let start = plan.auto || ctx.ui.confirm("Start the dev server now?", true)?;
    if !start {
        bootstrap_followup(ctx, &merged, &plan)?;
        ctx.ui.outro(&format!(
            "Ready. Start it later with:\n\n  appstrate start{}\n\nOpen {} once it boots.",
            dir_flag(ctx, dir),
            plan.app_url
        ))?;
        return Ok(ExitStatus::SUCCESS);
    }
    let _ = plan.non_interactive;
    let pid = lifecycle::launch_dev_server(ctx, dir, &bun, plan.port).await?;
    let local_url = appurl::app_url_for_port(plan.port);
    open_browser(ctx, &browser_url(&local_url, &plan.bootstrap));
    bootstrap_followup(ctx, &merged, &plan)?;
    ctx.ui
        .outro(&lifecycle::tier0_banner(ctx, &plan.app_url, pid, dir))?;
    Ok(ExitStatus::SUCCESS)
}

/// Without git: the release tarball from GitHub via curl + tar.
async fn tarball_fallback(
    dir: &Path,
    source: &tier0::Source,
    git_ref: &str,
    path: Option<&std::ffi::OsStr>,
    updating: bool,
) -> Result<(), CliError> {
    let missing = || {
        CliError::user(
            "Neither `git` nor a working tarball fallback is available. Install git or re-run in an environment that has curl + tar on PATH.",
        )
    };
    if updating
        || tier0::find_on_path("curl", path).is_none()
        || tier0::find_on_path("tar", path).is_none()
    {
        return Err(missing());
    }
    let tier0::Source::Remote(url) = source else {
        return Err(CliError::user(
            "Installing from a local checkout (--source <path>) needs `git` on PATH.",
        ));
    };
    let base = url.trim_end_matches(".git");
    let tarball_url = format!("{base}/archive/refs/tags/{git_ref}.tar.gz");
    std::fs::create_dir_all(dir)
        .map_err(|e| CliError::user(format!("Cannot create {}: {e}", dir.display())))?;
    let tmp = dir.join(".appstrate-source.tar.gz");
    let tmp_s = tmp.to_string_lossy().into_owned();
    let code = docker::run(
        "curl",
        &["-fsSL", "-o", &tmp_s, &tarball_url],
        None,
        false,
        &[],
    )
    .await;
    if code != 0 {
        let _ = std::fs::remove_file(&tmp);
        return Err(CliError::user(format!(
            "Tarball download failed: exit {code}"
        )));
    }
    let dir_s = dir.to_string_lossy();
    let code = docker::run(
        "tar",
        &["-xzf", &tmp_s, "--strip-components=1", "-C", &dir_s],
        None,
        false,
        &[],
    )
    .await;
    let _ = std::fs::remove_file(&tmp);
    if code != 0 {
        return Err(CliError::user(format!(
            "Tarball extraction failed: exit {code}"
        )));
    }
    Ok(())
}

/// `install --upgrade-compose`: strips stale duplicated defaults from
/// `<dir>/docker-compose.yml`. Never touches `.env`, never runs Docker.
fn upgrade_compose(ctx: &Context, args: &InstallArgs) -> Result<ExitStatus, CliError> {
    ctx.ui.intro("Appstrate compose upgrade")?;
    let dir = lifecycle::install_dir(ctx, args.dir.as_deref())?;
    let (status, repair) = compose_defaults::upgrade_compose(&dir)?;
    let mut body: Vec<String> = Vec::new();
    use compose_defaults::{Finding, UpgradeStatus};
    for f in &repair.rewritten {
        if let Finding::Duplicate {
            line,
            var_name,
            yaml_default,
            ..
        } = f
        {
            body.push(format!("✓ line {line}: {var_name} — dropped duplicated default \"{yaml_default}\" (now a bare passthrough)"));
        }
    }
    for f in &repair.refused {
        if let Finding::Duplicate { line, var_name, .. } = f {
            body.push(format!(
                "✗ line {line}: {var_name} — {}",
                compose_defaults::REFUSED_REASON
            ));
        }
    }
    for f in &repair.drift {
        if let Finding::AllowlistDrift {
            line,
            var_name,
            yaml_default,
            expected_yaml_default,
            ..
        } = f
        {
            body.push(format!("! line {line}: {var_name}=\"{yaml_default}\" differs from the shipped template (\"{expected_yaml_default}\") — review by hand"));
        }
    }
    if let UpgradeStatus::Upgraded { backup } = &status {
        body.push(format!("Backup: {}", backup.display()));
    }
    if body.is_empty() {
        body.push("No stale defaults found.".into());
    }
    ctx.ui.note("docker-compose.yml", &body.join("\n"))?;
    ctx.ui.outro(match status {
        UpgradeStatus::Clean => "Already up to date — nothing to upgrade.",
        UpgradeStatus::RefusedOnly => "No automatic changes made — see the manual edits above.",
        UpgradeStatus::Upgraded { .. } => "Compose file upgraded. Restart the stack to apply.",
    })?;
    Ok(ExitStatus::SUCCESS)
}
