//! `appstrate status`: `docker compose ps`, or whether the Tier 0 dev
//! server runs; `--json` gives both as one object whose field names are
//! stable (README "JSON output").

use std::path::Path;
use std::time::Duration;

use appstrate_selfhost::{appurl, process, tier, tier0};
use clap::Args;
use serde_json::{Value, json};

use super::{DirArgs, Install, compose, resolve_install, running_urls};
use crate::context::Context;
use crate::error::{CliError, ExitStatus};

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub dir: DirArgs,
    /// Print one JSON object: dir, tier, kind, project, url, running, pid, log, services
    #[arg(long)]
    pub json: bool,
}

pub async fn run(ctx: &mut Context, args: StatusArgs) -> Result<ExitStatus, CliError> {
    let install = resolve_install(ctx, args.dir.dir.as_deref())?;
    if args.json {
        let report = match &install {
            Install::Docker { dir, project } => docker_report(dir, project).await?,
            Install::Tier0 { dir } => tier0_report(dir),
        };
        ctx.ui.line(&report.to_string())?;
        return Ok(ExitStatus::SUCCESS);
    }
    match install {
        Install::Docker { dir, project } => compose(&dir, &project, &["ps"]).await?,
        Install::Tier0 { dir } => {
            let url = app_url(&dir);
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

fn app_url(dir: &Path) -> String {
    running_urls(dir)
        .map(|(_, u)| u)
        .unwrap_or_else(|| appurl::app_url_for_port(3000))
}

fn tier0_report(dir: &Path) -> Value {
    let pid = tier0::running_pid(dir);
    json!({
        "dir": dir.display().to_string(),
        "tier": 0,
        "kind": "tier0",
        "project": null,
        "url": app_url(dir),
        "running": pid.is_some(),
        "pid": pid,
        "log": tier0::log_file(dir).display().to_string(),
        "services": [],
    })
}

async fn docker_report(dir: &Path, project: &str) -> Result<Value, CliError> {
    let args = [
        "compose",
        "--project-name",
        project,
        "ps",
        "--all",
        "--format",
        "json",
    ];
    let out = process::capture("docker", &args, Some(dir), Some(Duration::from_secs(30))).await;
    if !out.ok {
        let last = out.stderr.lines().rev().find(|l| !l.trim().is_empty());
        return Err(CliError::user(process::with_last_line(
            format!("docker compose ps failed with exit code {}", out.code),
            last.map(str::trim),
        )));
    }
    let services = parse_compose_ps(&out.stdout)?;
    let running = !services.is_empty() && services.iter().all(|s| s["state"] == "running");
    Ok(json!({
        "dir": dir.display().to_string(),
        "tier": tier::infer_installed_tier(dir).map(|t| t.number()),
        "kind": "docker",
        "project": project,
        "url": app_url(dir),
        "running": running,
        "pid": null,
        "log": null,
        "services": services,
    }))
}

/// `docker compose ps --format json`: one object per line (Compose ≥ 2.21)
/// or one array (older), reduced to the fields we document.
fn parse_compose_ps(stdout: &str) -> Result<Vec<Value>, CliError> {
    let bad = |e: serde_json::Error| {
        CliError::user(format!(
            "Unexpected output from `docker compose ps --format json`: {e}"
        ))
    };
    let trimmed = stdout.trim();
    let items: Vec<Value> = if trimmed.starts_with('[') {
        serde_json::from_str(trimmed).map_err(bad)?
    } else {
        trimmed
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(serde_json::from_str)
            .collect::<Result<_, _>>()
            .map_err(bad)?
    };
    let text = |item: &Value, key: &str| {
        item.get(key)
            .and_then(Value::as_str)
            .map_or(Value::Null, |s| Value::String(s.to_string()))
    };
    Ok(items
        .iter()
        .map(|item| {
            json!({
                "name": text(item, "Name"),
                "service": text(item, "Service"),
                "state": text(item, "State"),
                "health": text(item, "Health"),
                "status": text(item, "Status"),
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_compose_ps_json_shapes_parse() {
        let line = r#"{"Name":"p-db-1","Service":"db","State":"running","Health":"healthy","Status":"Up 2 minutes (healthy)","Ports":""}"#;
        let ndjson = format!("{line}\n{}\n", line.replace("db", "web"));
        let parsed = parse_compose_ps(&ndjson).unwrap();
        assert_eq!(parsed.len(), 2);
        assert_eq!(parsed[0]["service"], "db");
        assert_eq!(parsed[0]["health"], "healthy");
        assert_eq!(parsed[1]["name"], "p-web-1");
        let array = parse_compose_ps(&format!("[{line}]")).unwrap();
        assert_eq!(array, parsed[..1]);
        assert!(parse_compose_ps("").unwrap().is_empty());
        assert!(parse_compose_ps("not json").is_err());
    }
}
