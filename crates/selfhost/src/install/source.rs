//! Tier 0: Bun (installed on request), the platform's source (git clone
//! or update, else the release tarball via curl + tar), `bun install`,
//! then `.env` and the Tier 0 marker. Starting the dev server is the
//! caller's: it asks first.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{InstallPlan, InstallUi, step};
use crate::process;
use crate::secrets::{self, EnvInputs};
use crate::tier::Tier;
use crate::{Error, project, tier0};

/// What a Tier 0 install needs besides the plan.
pub struct SourceInstall {
    pub home: PathBuf,
    /// `PATH` of this process (Bun and git are looked up on it).
    pub path: Option<OsString>,
    /// Where the platform's source comes from (`--source`, `APPSTRATE_SOURCE`, GitHub).
    pub source: tier0::Source,
}

/// Prepares the checkout and returns the Bun to run it with.
pub async fn install_from_source<U: InstallUi>(
    ui: &mut U,
    plan: &InstallPlan,
    input: &SourceInstall,
) -> Result<PathBuf, U::Error> {
    let dir = &plan.dir;
    // A failed (or interrupted) first install leaves no directory behind:
    // `uninstall` would not recognise it, and a re-run must find it absent.
    let created = CreatedDir::if_absent(dir);
    let bun = ensure_bun(ui, plan.auto, input).await?;
    // A re-run updates the checkout; the running dev server goes first.
    if let Some(pid) = tier0::stop_dev_server(dir, Duration::from_secs(10)).await {
        ui.info(&format!(
            "Stopped the running dev server (pid {pid}) to update it."
        ))?;
    }
    fetch_source(ui, dir, input).await?;
    let bun_path = tier0::augmented_path(input.path.as_deref(), &input.home);
    step(
        ui,
        "Installing dependencies",
        "Dependencies installed",
        async {
            let bun_s = bun.to_string_lossy();
            let path_s = bun_path.to_string_lossy();
            let env = [("PATH", path_s.as_ref())];
            match process::run_quiet(&bun_s, &["install"], Some(dir), &env).await {
                (0, _) => Ok(()),
                (code, last) => Err(Error::new(process::with_last_line(
                    format!("bun install failed with exit code {code}"),
                    last.as_deref(),
                ))
                .into()),
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
    let (_, env_text) = plan.env_body(&fresh);
    super::write_env(dir, &env_text)?;
    project::write_tier0_file(dir).map_err(|e| {
        Error::new(format!(
            "Cannot write {}/{}: {e}",
            dir.display(),
            project::TIER0_FILE_RELPATH
        ))
    })?;
    created.keep();
    Ok(bun)
}

/// The install directory when this install creates it: removed with
/// everything in it when dropped before [`CreatedDir::keep`].
struct CreatedDir {
    path: Option<PathBuf>,
}

impl CreatedDir {
    fn if_absent(dir: &Path) -> Self {
        CreatedDir {
            path: (!dir.exists()).then(|| dir.to_path_buf()),
        }
    }

    fn keep(mut self) {
        self.path = None;
    }
}

impl Drop for CreatedDir {
    fn drop(&mut self) {
        if let Some(path) = &self.path {
            let _ = std::fs::remove_dir_all(path);
        }
    }
}

/// Bun on PATH or in `~/.bun/bin`, else installed after asking (`--yes`
/// does not ask).
async fn ensure_bun<U: InstallUi>(
    ui: &mut U,
    auto: bool,
    input: &SourceInstall,
) -> Result<PathBuf, U::Error> {
    let home = &input.home;
    if let Some(bun) = tier0::find_bun(input.path.as_deref(), home) {
        return Ok(bun);
    }
    if !auto
        && !ui.confirm(
            "Bun is not installed. Install it now via `curl https://bun.sh/install | bash`?",
            true,
        )?
    {
        return Err(Error::new(
            "Tier 0 needs Bun. Install it manually from https://bun.sh and re-run.",
        )
        .into());
    }
    step(ui, "Installing Bun", "Bun installed", async {
        Ok(tier0::install_bun(home).await?)
    })
    .await
}

async fn fetch_source<U: InstallUi>(
    ui: &mut U,
    dir: &Path,
    input: &SourceInstall,
) -> Result<(), U::Error> {
    let updating = tier0::is_checkout(dir);
    let git_ref = tier0::release_ref();
    let (label, done) = if updating {
        ("Updating Appstrate source", "Source updated")
    } else {
        ("Cloning Appstrate source", "Source cloned")
    };
    let path = input.path.as_deref();
    step(ui, label, done, async {
        if tier0::find_on_path("git", path).is_some() {
            return Ok(tier0::fetch_source(dir, &input.source, &git_ref, "git").await?);
        }
        Ok(tarball_fallback(dir, &input.source, &git_ref, path, updating).await?)
    })
    .await
}

/// Without git: the release tarball from GitHub via curl + tar.
async fn tarball_fallback(
    dir: &Path,
    source: &tier0::Source,
    git_ref: &str,
    path: Option<&std::ffi::OsStr>,
    updating: bool,
) -> crate::Result<()> {
    if updating
        || tier0::find_on_path("curl", path).is_none()
        || tier0::find_on_path("tar", path).is_none()
    {
        return Err(Error::new(
            "Neither `git` nor a working tarball fallback is available. Install git or re-run in an environment that has curl + tar on PATH.",
        ));
    }
    let tier0::Source::Remote(url) = source else {
        return Err(Error::new(
            "Installing from a local checkout (--source <path>) needs `git` on PATH.",
        ));
    };
    let base = url.trim_end_matches(".git");
    let tarball_url = format!("{base}/archive/refs/tags/{git_ref}.tar.gz");
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::new(format!("Cannot create {}: {e}", dir.display())))?;
    let tmp = dir.join(".appstrate-source.tar.gz");
    let tmp_s = tmp.to_string_lossy().into_owned();
    let download = ["-fsSL", "-o", &tmp_s, &tarball_url];
    let (code, last) = process::run_quiet("curl", &download, None, &[]).await;
    if code != 0 {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::new(process::with_last_line(
            format!("Tarball download failed: exit {code}"),
            last.as_deref(),
        ))
        .with_hint("Check the network, or install from a mirror or a local checkout: --source <git URL|path> (or APPSTRATE_SOURCE)"));
    }
    let dir_s = dir.to_string_lossy();
    let extract = ["-xzf", &tmp_s, "--strip-components=1", "-C", &dir_s];
    let (code, last) = process::run_quiet("tar", &extract, None, &[]).await;
    let _ = std::fs::remove_file(&tmp);
    if code != 0 {
        return Err(Error::new(process::with_last_line(
            format!("Tarball extraction failed: exit {code}"),
            last.as_deref(),
        )));
    }
    Ok(())
}
