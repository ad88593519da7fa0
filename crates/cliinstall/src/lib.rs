//! This CLI's *own* installation, as opposed to the platform it installs
//! (`appstrate-selfhost`): the channel the binary came through, verified
//! self-update, the PATH scan behind the dual-install warning, and the
//! report `appstrate doctor` prints (see `docs/install.md`).

pub mod dual_install;
pub mod install_report;
pub mod self_update;

/// Errors are the platform crate's: one message meant for the user as is.
pub use appstrate_selfhost::{Error, Result};
