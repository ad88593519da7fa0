//! The self-hosted Appstrate *platform* instance: everything behind
//! `appstrate install` and the lifecycle verbs that does not talk to the
//! terminal (see `docs/install.md`). The binary owns prompts and output;
//! this crate owns the facts and the steps: tiers, the compose templates
//! embedded in the binary, `.env` generation, the compose project name,
//! backups and rollback, the Tier 0 dev server, health polling.
//!
//! The CLI's *own* installation (self-update, doctor, the dual-install
//! warning) is `appstrate-cliinstall`.

// Keep the shape: short functions, no flag soup in signatures.
#![warn(clippy::too_many_lines, clippy::fn_params_excessive_bools)]

pub mod appurl;
pub mod compose_defaults;
pub mod compose_ls;
pub mod docker;
pub mod envfile;
pub mod health;
pub mod install;
pub mod paths;
pub mod port;
pub mod process;
pub mod project;
pub mod secrets;
pub mod templates;
pub mod tier;
pub mod tier0;
pub mod upgrade;

use std::fmt;

/// The platform release this CLI installs: the Docker image tag written to
/// `.env` (unless `APPSTRATE_VERSION` overrides it) and the git tag Tier 0
/// checks out. The Rust CLI is versioned on its own, so the platform
/// version is pinned here instead of reusing the CLI's.
pub const PLATFORM_VERSION: &str = "1.0.0-beta.41";

/// The public git repository Tier 0 installs from by default.
pub const DEFAULT_SOURCE: &str = "https://github.com/appstrate/appstrate.git";

/// An error whose message is meant for the user as is (what, where, how to
/// fix). The binary turns it into its own error type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub message: String,
    /// What to do about it, shown on its own `hint:` line.
    pub hint: Option<String>,
}

impl Error {
    pub fn new(message: impl Into<String>) -> Self {
        Error {
            message: message.into(),
            hint: None,
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;
