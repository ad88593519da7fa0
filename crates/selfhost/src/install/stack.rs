//! Tiers 1–3: write `docker-compose.yml` and `.env`, record the project
//! name, bring the stack up and wait for it to answer. An upgrade backs
//! its files up first and restores them if anything fails (or on Ctrl-C).

use std::path::Path;
use std::time::Duration;

use super::{InstallPlan, InstallUi, checked_step};
use crate::secrets::{self, EnvInputs};
use crate::upgrade::{self, Rollback};
use crate::{Error, compose_ls, docker, health, project, templates};

/// What a Docker install needs besides the plan.
pub struct StackInstall {
    pub project_name: String,
    pub origin: project::NameOrigin,
    /// `--force`: skip the check for a same-named project elsewhere.
    pub force: bool,
    /// The image tag written to `.env` (`APPSTRATE_VERSION` or the pinned release).
    pub image_tag: String,
    /// How long to wait for the platform to answer.
    pub health_timeout: Duration,
}

pub async fn install_stack<U: InstallUi>(
    ui: &mut U,
    plan: &InstallPlan,
    stack: &StackInstall,
) -> Result<(), U::Error> {
    check_docker(ui).await?;
    if plan.upgrading() {
        confirm_upgrade(ui, plan)?;
    }
    if !stack.force {
        refuse_foreign_project(&plan.dir, &stack.project_name).await?;
    }
    let mut rollback = write_files(ui, plan, stack).await?;
    if !plan.upgrading() {
        // From here containers may hold data created with these secrets:
        // a fresh install keeps its files so a re-run resumes on them.
        rollback.keep_created();
    }
    if let Err(e) = bring_up(ui, plan, stack).await? {
        let mut message = rollback.fail(&e).message;
        if !plan.upgrading() {
            message.push_str(&format!(
                "\nThe generated files are kept in {} (containers may already use their secrets): fix the cause and re-run the same install command to resume, or remove everything with `appstrate uninstall --purge{}`.",
                plan.dir.display(),
                plan.dir_flag()
            ));
        }
        return Err(Error::new(message).into());
    }
    rollback.commit();
    Ok(())
}

async fn check_docker<U: InstallUi>(ui: &mut U) -> Result<(), U::Error> {
    ui.spinner_start("Checking Docker");
    if !docker::docker_available(None).await {
        ui.spinner_stop("Docker not found")?;
        return Err(Error::new(
            "Docker is required for this tier but was not found. Install Docker Desktop (https://www.docker.com/products/docker-desktop) or pick Tier 0 if you want to run Appstrate without containers.",
        )
        .into());
    }
    ui.spinner_stop("Docker OK")?;
    if let Some(n) = docker::custom_network_count().await
        && n >= docker::NETWORK_THRESHOLD
    {
        ui.note(
            "Docker network pool near capacity",
            &format!("Detected {n} Docker networks on this host (default ceiling ≈ 31).\nQuick fix: docker network prune\nSee README#docker-network-pool-tuning to enlarge the pool (default-address-pools)."),
        )?;
    }
    Ok(())
}

fn confirm_upgrade<U: InstallUi>(ui: &mut U, plan: &InstallPlan) -> Result<(), U::Error> {
    let dir = plan.dir.display();
    if plan.auto {
        return ui.info(&format!(
            "--yes: upgrading existing install at {dir} (secrets preserved, backups written to <file>.backup)."
        ));
    }
    let question = format!(
        "An existing install was detected at {dir}. Existing secrets (BETTER_AUTH_SECRET, CONNECTION_ENCRYPTION_KEY, POSTGRES_PASSWORD, …) will be preserved; the compose file will be replaced with the Tier {} template. Continue?",
        plan.tier.number()
    );
    if !ui.confirm(&question, true)? {
        return Err(Error::new("Upgrade cancelled.").into());
    }
    Ok(())
}

/// Bringing this install up under the name of a stack running from
/// another directory would recreate that stack's containers.
async fn refuse_foreign_project(dir: &Path, project_name: &str) -> crate::Result<()> {
    let Some(running) = compose_ls::listed_project(project_name).await else {
        return Ok(());
    };
    if running.is_from(dir) {
        return Ok(());
    }
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
    Err(Error::new(format!(
        "A Docker Compose project named \"{project_name}\" is already running from another directory.\n  Running stack: {paths}\nRefusing to continue: bringing this install up under the same project name would recreate that stack's containers with this directory's config (see https://github.com/appstrate/appstrate/issues/167).\nTo fix, stop the other stack:\n  {stop_hint}\n  (or: docker compose --project-name {project_name} down)\nAlternatively, install into another directory with --dir <path>,\nor pass --force to proceed anyway."
    )))
}

/// Writes compose + `.env` (+ the project file) with a rollback armed for
/// every file it creates or replaces.
async fn write_files<U: InstallUi>(
    ui: &mut U,
    plan: &InstallPlan,
    stack: &StackInstall,
) -> Result<Rollback, U::Error> {
    let dir = &plan.dir;
    // Everything is computed before anything is written, so a failure here
    // (e.g. no random source) leaves the directory untouched.
    let fresh = secrets::generate_env(&EnvInputs {
        tier: plan.tier,
        app_url: &plan.app_url,
        port: plan.port,
        bootstrap: &plan.bootstrap,
        image_tag: &stack.image_tag,
        docker_gid: secrets::detect_docker_gid(Path::new("/var/run/docker.sock")),
    })?;
    let (_, env_text) = plan.env_body(&fresh);
    let compose_text = templates::compose_template(plan.tier).unwrap_or_default();

    let backups = if plan.upgrading() {
        upgrade::backup_files(dir)?
    } else {
        Vec::new()
    };
    let mut rollback = Rollback::new(dir, backups);
    if !dir.exists() {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::new(format!("Cannot create {}: {e}", dir.display())))?;
        rollback.created_dir(dir);
    }
    let compose_path = dir.join("docker-compose.yml");
    let (label, done) = if plan.upgrading() {
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
    let written = checked_step(ui, label, &done, async {
        appstrate_fsutil::write_atomic(&compose_path, compose_text.as_bytes(), 0o644)
            .map_err(|e| Error::new(format!("Cannot write {}: {e}", compose_path.display())))?;
        super::write_env(dir, &env_text)
    })
    .await?;
    if let Err(e) = written {
        return Err(rollback.fail(&e).into());
    }
    // The name is recorded before the stack exists, so a failed or
    // interrupted bring-up can still be inspected and removed by name.
    if stack.origin == project::NameOrigin::Derived {
        let meta = dir.join(".appstrate");
        let meta_existed = meta.exists();
        if let Err(e) = project::write_project_file(dir, &stack.project_name) {
            return Err(rollback
                .fail(&Error::new(format!(
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
    Ok(rollback)
}

/// `docker compose up -d`, then the health poll. The outer error is the
/// terminal's, the inner one the stack's (the caller rolls back).
async fn bring_up<U: InstallUi>(
    ui: &mut U,
    plan: &InstallPlan,
    stack: &StackInstall,
) -> Result<crate::Result<()>, U::Error> {
    let name = &stack.project_name;
    let up_label = format!("Starting Appstrate (docker compose --project-name {name} up -d)");
    let up = checked_step(ui, &up_label, "Containers up", async {
        match docker::compose_quiet(&plan.dir, name, &["up", "-d"]).await {
            (0, _) => Ok(()),
            (code, last) => Err(Error::new(crate::process::with_last_line(
                format!("docker compose up failed with exit code {code}"),
                last.as_deref(),
            ))),
        }
    })
    .await?;
    if up.is_err() {
        return Ok(up);
    }
    let timeout = stack.health_timeout;
    checked_step(
        ui,
        "Waiting for Appstrate to become healthy",
        "Appstrate is healthy",
        async {
            if health::wait_for_http(plan.port, timeout, Duration::from_secs(1)).await {
                Ok(())
            } else {
                Err(Error::new(health::docker_timeout_message(timeout)))
            }
        },
    )
    .await
}
