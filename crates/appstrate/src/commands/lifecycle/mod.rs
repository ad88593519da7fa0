//! `start`, `stop`, `restart`, `logs`, `status`, `uninstall` (one file
//! each): thin wrappers over `docker compose --project-name <recorded name>
//! …` for Docker tiers (`docs/install.md`), and the same verbs for a Tier 0
//! dev server (`dev_server`: pid and log files under `<dir>/.appstrate/`),
//! which the original cannot manage. Here: what they share.

mod dev_server;
pub mod logs;
pub mod restart;
pub mod start;
pub mod status;
pub mod stop;
pub mod uninstall;

use std::path::{Path, PathBuf};
use std::time::Duration;

use appstrate_selfhost::{appurl, docker, envfile, health, paths, project};
use clap::Args;

use crate::context::Context;
use crate::error::CliError;

pub use dev_server::{launch as launch_dev_server, tier0_banner};
pub use logs::LogsArgs;
pub use uninstall::UninstallArgs;

#[derive(Debug, Args)]
pub struct DirArgs {
    /// Install directory (default: ~/appstrate)
    #[arg(short = 'd', long, value_name = "PATH")]
    pub dir: Option<String>,
}

/// What the directory holds.
pub enum Install {
    Docker { dir: PathBuf, project: String },
    Tier0 { dir: PathBuf },
}

pub fn home(ctx: &Context) -> PathBuf {
    ctx.env.home.clone().unwrap_or_else(|| PathBuf::from("/"))
}

fn cwd() -> PathBuf {
    std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"))
}

/// `--dir` made absolute (lexically), or `~/appstrate`.
pub fn install_dir(ctx: &Context, dir: Option<&str>) -> Result<PathBuf, CliError> {
    let home = home(ctx);
    match dir {
        Some(raw) => Ok(paths::resolve_dir(&cwd(), &home, raw)?),
        None => Ok(paths::default_install_dir(&home)),
    }
}

pub fn resolve_install(ctx: &Context, dir: Option<&str>) -> Result<Install, CliError> {
    let dir = install_dir(ctx, dir)?;
    if let Some(file) = project::read_project_file(&dir) {
        return Ok(Install::Docker {
            dir,
            project: file.project_name,
        });
    }
    if project::read_tier0_file(&dir).is_some() {
        return Ok(Install::Tier0 { dir });
    }
    Err(CliError::user(format!(
        "No Appstrate install found at {0}.\nEither pass --dir <path>, or run 'appstrate install' first.\n(Looked for {0}/{1})",
        dir.display(),
        project::PROJECT_FILE_RELPATH
    )))
}

/// The health timeout: 120 s for Docker tiers (60 s for Tier 0), or
/// `APPSTRATE_HEALTH_TIMEOUT` seconds (slow image pulls, tests).
pub fn health_timeout(ctx: &Context, default_secs: u64) -> Duration {
    let secs = ctx
        .env
        .var("APPSTRATE_HEALTH_TIMEOUT")
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|s| *s > 0)
        .unwrap_or(default_secs);
    Duration::from_secs(secs)
}

/// `docker compose --project-name <name> <args…>`; 130/143 from the child
/// become this process's exit code, other failures an error.
async fn compose(dir: &Path, project: &str, args: &[&str]) -> Result<(), CliError> {
    let code = docker::compose(dir, project, args).await;
    match code {
        0 => Ok(()),
        130 | 143 => Err(CliError::silent(code as u8)),
        _ => Err(CliError::user(format!(
            "docker compose {} failed with exit code {code}",
            args.join(" ")
        ))),
    }
}

/// The closing banner of install/start/restart.
pub fn running_banner(ctx: &Context, app_url: &str, project: Option<&str>, dir: &Path) -> String {
    let hint = paths::dir_flag(dir, &paths::default_install_dir(&home(ctx)));
    let mut out = format!(
        "Appstrate is running at {app_url}.\nManage the stack:\n  appstrate logs -f{hint}\n  appstrate stop{hint}\n  appstrate uninstall{hint}"
    );
    if let Some(project) = project {
        out.push_str(&format!(
            "\nRaw form (for advanced cases): docker compose --project-name {project} <verb> from {}.",
            dir.display()
        ));
    }
    out
}

/// (health port, display URL) from `<dir>/.env`.
fn running_urls(dir: &Path) -> Option<(u16, String)> {
    let env = envfile::parse_env_file(&std::fs::read_to_string(dir.join(".env")).ok()?);
    let port = env
        .get("PORT")
        .and_then(|p| appstrate_selfhost::port::parse_port_value(p.trim()))
        .unwrap_or(3000);
    let local = appurl::app_url_for_port(port);
    let app_url = env
        .get("APP_URL")
        .map(|u| u.trim().to_string())
        .filter(|u| !u.is_empty())
        .unwrap_or(local);
    Some((port, app_url))
}

async fn report_running(
    ctx: &Context,
    dir: &Path,
    project: Option<&str>,
    timeout: Duration,
) -> Result<(), CliError> {
    let Some((port, app_url)) = running_urls(dir) else {
        ctx.ui.log_warn(&format!(
            "Stack is up, but {}/.env is missing or unreadable — skipping the status banner.\nManage the stack with `appstrate logs -f` / `appstrate stop`.",
            dir.display()
        ));
        return Ok(());
    };
    let spinner = ctx.ui.spinner("Waiting for Appstrate to become healthy");
    if !health::wait_for_http(port, timeout, Duration::from_secs(1)).await {
        spinner.fail();
        return Err(CliError::user(health::docker_timeout_message(timeout)));
    }
    spinner.stop(&ctx.ui, "Appstrate is healthy")?;
    ctx.ui.outro(&running_banner(ctx, &app_url, project, dir))?;
    Ok(())
}
