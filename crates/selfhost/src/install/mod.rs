//! `appstrate install` as a sequence of steps: the port to use, the Docker
//! Compose stack (Tiers 1–3, `stack`) and the Tier 0 checkout run by Bun
//! (`source`). The steps ask and report through [`InstallUi`], which the
//! binary implements with its terminal; nothing here prints.

mod port_choice;
mod source;
mod stack;

use std::future::Future;
use std::path::{Path, PathBuf};

pub use port_choice::{PortRequest, resolve_port};
pub use source::{SourceInstall, install_from_source};
pub use stack::{StackInstall, install_stack};

use crate::envfile::{self, EnvMap};
use crate::secrets::Bootstrap;
use crate::tier::Tier;
use crate::upgrade::{Existing, Mode};

/// How the install talks to the person running it: spinners around long
/// steps, notes, warnings and the few questions an install may ask.
pub trait InstallUi {
    /// The caller's error type; library errors convert into it.
    type Error: From<crate::Error>;

    /// Starts a spinner labelled `label`.
    fn spinner_start(&mut self, label: &str);
    /// Stops the spinner, leaving `label` behind.
    fn spinner_stop(&mut self, label: &str) -> Result<(), Self::Error>;
    /// Stops the spinner without a line (an error follows).
    fn spinner_fail(&mut self);
    fn info(&mut self, message: &str) -> Result<(), Self::Error>;
    /// A warning that is not an error.
    fn warn(&mut self, message: &str);
    fn note(&mut self, title: &str, body: &str) -> Result<(), Self::Error>;
    fn confirm(&mut self, question: &str, default: bool) -> Result<bool, Self::Error>;
    /// A line of text; `default` is offered and used on empty input.
    fn ask(&mut self, question: &str, default: &str) -> Result<String, Self::Error>;
}

/// Runs `work` under a spinner; the spinner always stops.
pub async fn step<U, T, F>(ui: &mut U, label: &str, done: &str, work: F) -> Result<T, U::Error>
where
    U: InstallUi,
    F: Future<Output = Result<T, U::Error>>,
{
    ui.spinner_start(label);
    match work.await {
        Ok(value) => {
            ui.spinner_stop(done)?;
            Ok(value)
        }
        Err(e) => {
            ui.spinner_fail();
            Err(e)
        }
    }
}

/// Like [`step`] for work whose failure the caller handles itself (a
/// rollback): the outer error is the terminal's, the inner one the work's.
pub async fn checked_step<U, T, F>(
    ui: &mut U,
    label: &str,
    done: &str,
    work: F,
) -> Result<crate::Result<T>, U::Error>
where
    U: InstallUi,
    F: Future<Output = crate::Result<T>>,
{
    ui.spinner_start(label);
    match work.await {
        Ok(value) => {
            ui.spinner_stop(done)?;
            Ok(Ok(value))
        }
        Err(e) => {
            ui.spinner_fail();
            Ok(Err(e))
        }
    }
}

/// What every tier's install needs once the questions are answered.
#[derive(Clone)]
pub struct InstallPlan {
    pub dir: PathBuf,
    pub existing: Existing,
    pub tier: Tier,
    /// `--yes`: no confirmation questions.
    pub auto: bool,
    pub port: u16,
    pub app_url: String,
    pub bootstrap: Bootstrap,
    /// `~/appstrate`, to leave `--dir` out of hints when it is the default.
    pub default_dir: PathBuf,
}

impl InstallPlan {
    pub fn upgrading(&self) -> bool {
        self.existing.mode == Mode::Upgrade
    }

    /// ` --dir <dir>` for a hinted command, empty for the default directory.
    pub fn dir_flag(&self) -> String {
        crate::paths::dir_flag(&self.dir, &self.default_dir)
    }

    /// The env to write: fresh values merged under the existing ones;
    /// rendered, or merged into the existing text (comments kept) on an
    /// upgrade.
    fn env_body(&self, fresh: &EnvMap) -> (EnvMap, String) {
        let merged = envfile::merge_env(&self.existing.env, fresh);
        let body = match (&self.existing.mode, &self.existing.env_text) {
            (Mode::Upgrade, Some(text)) => envfile::merge_into_text(text, &merged),
            _ => envfile::render_env_file(&merged),
        };
        (merged, body)
    }
}

/// `<dir>/.env`, 0600, written atomically.
fn write_env(dir: &Path, body: &str) -> crate::Result<()> {
    let path = dir.join(".env");
    appstrate_fsutil::write_atomic(&path, body.as_bytes(), 0o600)
        .map_err(|e| crate::Error::new(format!("Cannot write {}: {e}", path.display())))
}
