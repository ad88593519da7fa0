//! Talking to an Appstrate instance: where files live, profiles in
//! `config.toml`, credentials in the OS keyring or `credentials.json`, the
//! device flow, token refresh and typed API calls.
//!
//! Nothing here prints: functions return values or `PlatformError`s and the
//! binary decides what the user sees.

// Functions stay short enough to read at once (ARCHITECTURE.md, "Lints").
#![warn(clippy::too_many_lines)]

pub mod access;
pub mod agents;
pub mod api;
pub mod auth;
pub mod config;
pub mod credentials;
pub mod env;
pub mod error;
pub mod http;
pub mod instance;
pub mod openapi_cache;
pub mod reported;
pub mod request_headers;
pub mod runs;
pub mod session;
pub mod tokens;

/// Private directories and atomic writes live in their own leaf crate
/// (`crates/fsutil`) so `appstrate-selfhost` can use them without this one.
pub use appstrate_fsutil as fsutil;
pub use env::Env;
pub use error::PlatformError;

/// `User-Agent` of every request the CLI authors.
pub fn user_agent() -> String {
    format!("appstrate-cli/{}", env!("CARGO_PKG_VERSION"))
}

/// The OAuth client id of the CLI on every instance.
pub const CLIENT_ID: &str = "appstrate-cli";
