//! `start`, `stop`, `restart`, `logs`, `status`, `uninstall`: thin wrappers
//! over `docker compose --project-name <recorded name> …` for Docker tiers
//! (install.md §2), and the same verbs for a Tier 0 dev server (pid and log
//! files under `<dir>/.appstrate/`), which the original cannot manage.

use std::path::{Path, PathBuf};
use std::time::Duration;

use appstrate_selfhost::{appurl, docker, envfile, health, paths, project, tier0};
use clap::Args;

use crate::context::Context;
use crate::error::{CliError, ExitStatus};

#[derive(Debug, Args)]
pub struct DirArgs {
    /// Install directory (default: ~/appstrate)
    #[arg(short = 'd', long, value_name = "PATH")]
    pub dir: Option<String>,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Only this service's logs (Docker tiers)
    pub service: Option<String>,
    /// Stream new lines as they arrive
    #[arg(short = 'f', long)]
    pub follow: bool,
    #[command(flatten)]
    pub dir: DirArgs,
}

#[derive(Debug, Args)]
pub struct UninstallArgs {
    /// Also remove named volumes (Postgres, Redis, MinIO data) and the install directory
    #[arg(long)]
    pub purge: bool,
    /// Skip the destructive-action confirmation (same as APPSTRATE_YES=1)
    #[arg(short = 'y', long)]
    pub yes: bool,
    #[command(flatten)]
    pub dir: DirArgs,
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
pub fn health_timeout(default_secs: u64) -> Duration {
    let secs = std::env::var("APPSTRATE_HEALTH_TIMEOUT")
        .ok()
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
    let default = paths::default_install_dir(&home(ctx));
    let hint = if dir == default {
        String::new()
    } else {
        format!(" --dir {}", dir.display())
    };
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

pub async fn start(ctx: &mut Context, args: DirArgs) -> Result<ExitStatus, CliError> {
    match resolve_install(ctx, args.dir.as_deref())? {
        Install::Docker { dir, project } => {
            compose(&dir, &project, &["up", "-d"]).await?;
            report_running(ctx, &dir, Some(&project), health_timeout(120)).await?;
        }
        Install::Tier0 { dir } => start_tier0(ctx, &dir).await?,
    }
    Ok(ExitStatus::SUCCESS)
}

pub async fn stop(ctx: &mut Context, args: DirArgs) -> Result<ExitStatus, CliError> {
    match resolve_install(ctx, args.dir.as_deref())? {
        Install::Docker { dir, project } => compose(&dir, &project, &["stop"]).await?,
        Install::Tier0 { dir } => stop_tier0(ctx, &dir).await?,
    }
    Ok(ExitStatus::SUCCESS)
}

pub async fn restart(ctx: &mut Context, args: DirArgs) -> Result<ExitStatus, CliError> {
    match resolve_install(ctx, args.dir.as_deref())? {
        Install::Docker { dir, project } => {
            compose(&dir, &project, &["restart"]).await?;
            report_running(ctx, &dir, Some(&project), health_timeout(120)).await?;
        }
        Install::Tier0 { dir } => {
            stop_tier0(ctx, &dir).await?;
            start_tier0(ctx, &dir).await?;
        }
    }
    Ok(ExitStatus::SUCCESS)
}

pub async fn logs(ctx: &mut Context, args: LogsArgs) -> Result<ExitStatus, CliError> {
    match resolve_install(ctx, args.dir.dir.as_deref())? {
        Install::Docker { dir, project } => {
            let mut argv = vec!["logs"];
            if args.follow {
                argv.push("-f");
            }
            if let Some(service) = args.service.as_deref() {
                argv.push(service);
            }
            compose(&dir, &project, &argv).await?;
        }
        Install::Tier0 { dir } => {
            if let Some(service) = args.service {
                return Err(CliError::usage(format!(
                    "Tier 0 runs a single process (the dev server); there is no service \"{service}\". Run `appstrate logs` without a service name."
                )));
            }
            tier0_logs(ctx, &dir, args.follow).await?;
        }
    }
    Ok(ExitStatus::SUCCESS)
}

pub async fn status(ctx: &mut Context, args: DirArgs) -> Result<ExitStatus, CliError> {
    match resolve_install(ctx, args.dir.as_deref())? {
        Install::Docker { dir, project } => compose(&dir, &project, &["ps"]).await?,
        Install::Tier0 { dir } => {
            let url = running_urls(&dir)
                .map(|(_, u)| u)
                .unwrap_or_else(|| appurl::app_url_for_port(3000));
            match tier0::running_pid(&dir) {
                Some(pid) => ctx
                    .ui
                    .line(&format!("Tier 0 dev server: running (pid {pid}) at {url}"))?,
                None => ctx.ui.line("Tier 0 dev server: stopped")?,
            }
            ctx.ui
                .line(&format!("Log: {}", tier0::log_file(&dir).display()))?;
        }
    }
    Ok(ExitStatus::SUCCESS)
}

pub async fn uninstall(ctx: &mut Context, args: UninstallArgs) -> Result<ExitStatus, CliError> {
    let install = resolve_install(ctx, args.dir.dir.as_deref())?;
    let auto = args.yes || std::env::var("APPSTRATE_YES").as_deref() == Ok("1");
    let (dir, what) = match &install {
        Install::Docker { dir, project } => (
            dir.clone(),
            format!(
                "  • dir: {} (compose file, .env, .appstrate/)\n  • named volumes: Postgres data, Redis data, MinIO data\n  • project: {project}",
                dir.display()
            ),
        ),
        Install::Tier0 { dir } => (
            dir.clone(),
            format!(
                "  • dir: {} (source checkout, .env, local database and files)",
                dir.display()
            ),
        ),
    };
    if args.purge && !auto {
        if !ctx.ui.interactive() {
            return Err(CliError::user(
                "`appstrate uninstall --purge` is destructive and requires confirmation.\nRe-run with --yes (or APPSTRATE_YES=1) to proceed non-interactively.",
            ));
        }
        let question =
            format!("Permanently destroy this Appstrate install?\n{what}\nThis cannot be undone.");
        // Ctrl-C or a closed terminal counts as "no".
        let confirmed = ctx.ui.confirm(&question, false).unwrap_or_default();
        if !confirmed {
            ctx.ui.out("└  Uninstall cancelled.\n\n")?;
            return Err(CliError::silent(130));
        }
    }
    match &install {
        Install::Docker { dir, project } => {
            let argv: &[&str] = if args.purge {
                &["down", "-v"]
            } else {
                &["down"]
            };
            compose(dir, project, argv).await?;
        }
        Install::Tier0 { dir } => {
            if let Some(pid) = tier0::stop_dev_server(dir, Duration::from_secs(10)).await {
                ctx.ui
                    .line(&format!("Stopped the Tier 0 dev server (pid {pid})."))?;
            }
            if !args.purge {
                ctx.ui.line(&format!(
                    "Kept {} (data included). Remove everything with `appstrate uninstall --purge`.",
                    dir.display()
                ))?;
            }
        }
    }
    if args.purge {
        std::fs::remove_dir_all(&dir)
            .or_else(|e| {
                if e.kind() == std::io::ErrorKind::NotFound {
                    Ok(())
                } else {
                    Err(e)
                }
            })
            .map_err(|e| CliError::user(format!("Cannot remove {}: {e}", dir.display())))?;
    }
    Ok(ExitStatus::SUCCESS)
}

/// Starts the Tier 0 dev server unless it already runs, then waits for it.
pub async fn start_tier0(ctx: &Context, dir: &Path) -> Result<(), CliError> {
    let (port, app_url) =
        running_urls(dir).unwrap_or_else(|| (3000, appurl::app_url_for_port(3000)));
    if let Some(pid) = tier0::running_pid(dir) {
        ctx.ui.outro(&format!(
            "Appstrate (Tier 0) is already running at {app_url} (pid {pid})."
        ))?;
        return Ok(());
    }
    let home = home(ctx);
    let path = std::env::var_os("PATH");
    let bun = tier0::find_bun(path.as_deref(), &home).ok_or_else(|| {
        CliError::user("Bun is not installed. Tier 0 needs Bun: re-run `appstrate install --tier 0`, or install it from https://bun.sh")
    })?;
    let pid = launch_dev_server(ctx, dir, &bun, port).await?;
    ctx.ui.outro(&tier0_banner(ctx, &app_url, pid, dir))?;
    Ok(())
}

/// Spawns `bun run dev` and polls it for up to 60 s; kills it on timeout.
pub async fn launch_dev_server(
    ctx: &Context,
    dir: &Path,
    bun: &Path,
    port: u16,
) -> Result<u32, CliError> {
    let home = home(ctx);
    let path = tier0::augmented_path(std::env::var_os("PATH").as_deref(), &home);
    let spinner = ctx.ui.spinner("Starting dev server");
    let pid = match tier0::spawn_dev_server(dir, bun, &path) {
        Ok(pid) => pid,
        Err(e) => {
            spinner.fail();
            return Err(e.into());
        }
    };
    let timeout = health_timeout(60);
    if !health::wait_for_http(port, timeout, Duration::from_secs(1)).await {
        spinner.fail();
        tier0::kill_group(pid);
        let _ = std::fs::remove_file(tier0::pid_file(dir));
        return Err(CliError::user(format!(
            "Dev server did not become healthy within {}s — check {} for its output, or run `bun run dev` in {} manually.",
            timeout.as_secs(),
            tier0::log_file(dir).display(),
            dir.display()
        )));
    }
    spinner.stop(&ctx.ui, &format!("Dev server running (pid {pid})"))?;
    Ok(pid)
}

pub fn tier0_banner(ctx: &Context, app_url: &str, pid: u32, dir: &Path) -> String {
    let default = paths::default_install_dir(&home(ctx));
    let hint = if dir == default {
        String::new()
    } else {
        format!(" --dir {}", dir.display())
    };
    format!(
        "Appstrate is running at {app_url} (pid {pid}).\nManage it:\n  appstrate logs -f{hint}\n  appstrate stop{hint}\n  appstrate uninstall{hint}"
    )
}

async fn stop_tier0(ctx: &Context, dir: &Path) -> Result<(), CliError> {
    match tier0::stop_dev_server(dir, Duration::from_secs(10)).await {
        Some(pid) => ctx
            .ui
            .line(&format!("Stopped the Tier 0 dev server (pid {pid}).")),
        None => ctx.ui.line("The Tier 0 dev server is not running."),
    }
}

/// Prints the dev server log; `-f` keeps printing what is appended until
/// interrupted.
async fn tier0_logs(ctx: &Context, dir: &Path, follow: bool) -> Result<(), CliError> {
    use tokio::io::{AsyncReadExt, AsyncSeekExt};
    let path = tier0::log_file(dir);
    let mut file = match tokio::fs::File::open(&path).await {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !follow => {
            ctx.ui.warn(&format!(
                "No log yet at {} (the dev server has not been started).",
                path.display()
            ));
            return Ok(());
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => loop {
            tokio::time::sleep(Duration::from_millis(250)).await;
            if let Ok(f) = tokio::fs::File::open(&path).await {
                break f;
            }
        },
        Err(e) => {
            return Err(CliError::user(format!(
                "Cannot read {}: {e}",
                path.display()
            )));
        }
    };
    let mut buf = vec![0u8; 64 * 1024];
    let mut pos = 0u64;
    loop {
        let n = file
            .read(&mut buf)
            .await
            .map_err(|e| CliError::user(format!("Cannot read {}: {e}", path.display())))?;
        if n > 0 {
            pos += n as u64;
            // Bytes as written: a chunk may end inside a UTF-8 character.
            ctx.ui.out_bytes(&buf[..n])?;
            continue;
        }
        if !follow {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        // A truncated/rotated log starts over.
        if let Ok(meta) = tokio::fs::metadata(&path).await
            && meta.len() < pos
        {
            pos = 0;
            let _ = file.seek(std::io::SeekFrom::Start(0)).await;
        }
    }
}
