//! After a successful install: the browser, what to do next (reverse
//! proxy, claiming ownership) and the closing banner.

use std::path::Path;

use appstrate_selfhost::appurl;
use appstrate_selfhost::install::InstallPlan;

use crate::commands::lifecycle;
use crate::context::Context;
use crate::error::{CliError, ExitStatus};

/// Tiers 1–3: the stack is up and healthy.
pub fn stack_ready(
    ctx: &Context,
    plan: &InstallPlan,
    project_name: &str,
) -> Result<ExitStatus, CliError> {
    let local_url = appurl::app_url_for_port(plan.port);
    open_browser(ctx, &browser_url(&local_url, plan));
    if appurl::is_remote_app_url(&plan.app_url) {
        ctx.ui.note(
            "Reverse proxy required",
            &format!(
                "The platform listens on {local_url} (host port {}).\nPoint your reverse proxy (Caddy, nginx, Traefik) at it so that\n{} → {local_url}. TLS termination happens at the proxy;\nTRUST_PROXY=true is already set in .env. Until the proxy is up,\nthe platform is reachable at {local_url} only.",
                plan.port, plan.app_url
            ),
        )?;
    }
    bootstrap_followup(ctx, plan)?;
    ctx.ui.outro(&lifecycle::running_banner(
        ctx,
        &plan.app_url,
        Some(project_name),
        &plan.dir,
    ))?;
    Ok(ExitStatus::SUCCESS)
}

/// Tier 0: the checkout is ready; start the dev server unless declined.
pub async fn source_ready(
    ctx: &Context,
    plan: &InstallPlan,
    bun: &Path,
) -> Result<ExitStatus, CliError> {
    let start = plan.auto || ctx.ui.confirm("Start the dev server now?", true)?;
    if !start {
        bootstrap_followup(ctx, plan)?;
        ctx.ui.outro(&format!(
            "Ready. Start it later with:\n\n  appstrate start{}\n\nOpen {} once it boots.",
            plan.dir_flag(),
            plan.app_url
        ))?;
        return Ok(ExitStatus::SUCCESS);
    }
    let pid = lifecycle::launch_dev_server(ctx, &plan.dir, bun, plan.port).await?;
    let local_url = appurl::app_url_for_port(plan.port);
    open_browser(ctx, &browser_url(&local_url, plan));
    bootstrap_followup(ctx, plan)?;
    ctx.ui
        .outro(&lifecycle::tier0_banner(ctx, &plan.app_url, pid, &plan.dir))?;
    Ok(ExitStatus::SUCCESS)
}

/// The claim page needs the token; otherwise registration.
fn browser_url(local_url: &str, plan: &InstallPlan) -> String {
    if plan.bootstrap.token.is_some() {
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
fn bootstrap_followup(ctx: &Context, plan: &InstallPlan) -> Result<(), CliError> {
    let app_url = &plan.app_url;
    if let Some(email) = &plan.bootstrap.owner_email {
        let org = plan.bootstrap.org_name.as_deref().unwrap_or("Default");
        return ctx.ui.note(
            "Next: create your owner account",
            &format!("Opened  {app_url}/register  in your browser.\nSign up as  {email}  (the form is pre-filled and locked)\nPick any password — the org \"{org}\" is created automatically."),
        );
    }
    let Some(token) = &plan.bootstrap.token else {
        return Ok(());
    };
    let env_path = plan.dir.join(".env");
    // The note goes to stderr: the token is shown only when that is a terminal.
    let body = if ctx.ui.stderr_tty {
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
