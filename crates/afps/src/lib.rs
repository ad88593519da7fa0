//! AFPS packages, read and written exactly as the Appstrate platform does.
//!
//! Pure library: no network, no async, no environment variables (callers
//! pass what they read, e.g. [`Limits::from_lookup`]). Main entry points:
//!
//! - [`read_bundle`] / [`read_bundle_file`]: a `.afps` or `.afps-bundle`
//!   (detected by content) into a [`Bundle`] of [`Package`]s, with hostile
//!   archives refused under [`Limits`] and integrity verified (docs/afps.md).
//! - [`platform_prompt`]: the byte-exact system prompt (docs/afps.md#platform-prompt).
//! - [`RunEvent`], [`reduce_events`], [`RunResult`], [`truncate_tool_result`],
//!   [`build_cloud_event`], [`sign_webhook`]: the run event contract (docs/afps.md#run-events).
//!
//! - [`signing`]: Ed25519 signatures, chains, trust roots, policy (docs/afps.md#signing).
//! - [`writer`]: the `.afps-bundle` writer (docs/afps.md#writer); [`mustache`]: `render`.
//!
//! Every failure is a [`BundleError`] carrying a stable [`ErrorCode`].

// Functions stay short enough to read at once (ARCHITECTURE.md, "Lints").
#![warn(clippy::too_many_lines)]

pub mod archive;
pub mod bundle;
pub mod cloudevents;
pub mod date;
pub mod error;
pub mod execution_context;
pub mod integrity;
pub mod limits;
pub mod manifest;
pub mod mustache;
pub mod run_events;
pub mod signing;
pub mod system_prompt;
pub mod tool_result;
pub mod writer;
mod zip;

pub use bundle::{
    ArchiveKind, BUNDLE_FORMAT_VERSION, Bundle, Package, package_from_files, read_afps,
    read_afps_bundle, read_bundle, read_bundle_file,
};
pub use cloudevents::{
    WebhookHeaders, build_cloud_event, canonical_event_schema_uri, sign_webhook, verify_webhook,
};
pub use error::{BundleError, ErrorCode};
pub use execution_context::ExecutionContext;
pub use limits::Limits;
pub use run_events::{
    LogEntry, MemoryEntry, RunError, RunEvent, RunResult, TokenUsage, reduce_events,
};
pub use system_prompt::{PlatformPromptOptions, platform_prompt, render_platform_prompt};
pub use tool_result::{tool_result_byte_limit, truncate_string, truncate_tool_result};
pub use zip::write_stored as write_stored_zip;
