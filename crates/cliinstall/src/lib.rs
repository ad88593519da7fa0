//! This CLI's *own* installation, as opposed to the platform it installs
//! (`appstrate-selfhost`): the channel the binary came through, verified
//! self-update, the PATH scan behind the dual-install warning, and the
//! report `appstrate doctor` prints (see `docs/install.md`).

// Keep the shape: short functions, no flag soup in signatures.
#![warn(clippy::too_many_lines, clippy::fn_params_excessive_bools)]

pub mod dual_install;
pub mod install_report;
pub mod self_update;

/// Errors are the platform crate's: one message meant for the user as is.
pub use appstrate_selfhost::{Error, Result};
