//! The Tier 0 dev server for `start`, `stop`, `restart` and `install`:
//! `bun run dev` detached with pid and log files under `<dir>/.appstrate/`.

use std::path::Path;
use std::time::Duration;

use appstrate_selfhost::{appurl, health, paths, tier0};

use super::{health_timeout, home, running_urls};
use crate::context::Context;
use crate::error::CliError;

/// Starts the Tier 0 dev server unless it already runs, then waits for it.
pub async fn start(ctx: &Context, dir: &Path) -> Result<(), CliError> {
    let (port, app_url) =
        running_urls(dir).unwrap_or_else(|| (3000, appurl::app_url_for_port(3000)));
    if let Some(pid) = tier0::running_pid(dir) {
        ctx.ui.outro(&format!(
            "Appstrate (Tier 0) is already running at {app_url} (pid {pid})."
        ))?;
        return Ok(());
    }
    let home = home(ctx);
    let bun = tier0::find_bun(ctx.env.path.as_deref(), &home).ok_or_else(|| {
        CliError::user("Bun is not installed. Tier 0 needs Bun: re-run `appstrate install --tier 0`, or install it from https://bun.sh")
    })?;
    let pid = launch(ctx, dir, &bun, port).await?;
    ctx.ui.outro(&tier0_banner(ctx, &app_url, pid, dir))?;
    Ok(())
}

/// Spawns `bun run dev` and polls it for up to 60 s; kills it on timeout.
pub async fn launch(ctx: &Context, dir: &Path, bun: &Path, port: u16) -> Result<u32, CliError> {
    let home = home(ctx);
    let path = tier0::augmented_path(ctx.env.path.as_deref(), &home);
    let spinner = ctx.ui.spinner("Starting dev server");
    let pid = match tier0::spawn_dev_server(dir, bun, &path) {
        Ok(pid) => pid,
        Err(e) => {
            spinner.fail();
            return Err(e.into());
        }
    };
    let timeout = health_timeout(ctx, 60);
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
    let hint = paths::dir_flag(dir, &paths::default_install_dir(&home(ctx)));
    format!(
        "Appstrate is running at {app_url} (pid {pid}).\nManage it:\n  appstrate logs -f{hint}\n  appstrate stop{hint}\n  appstrate uninstall{hint}"
    )
}

pub async fn stop(ctx: &Context, dir: &Path) -> Result<(), CliError> {
    match tier0::stop_dev_server(dir, Duration::from_secs(10)).await {
        Some(pid) => ctx
            .ui
            .line(&format!("Stopped the Tier 0 dev server (pid {pid}).")),
        None => ctx.ui.line("The Tier 0 dev server is not running."),
    }
}
