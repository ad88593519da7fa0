//! The curl-compatible request engine behind `appstrate api`.
//!
//! Three steps, each in its own module:
//! 1. [`args::parse`]: argv → [`CurlArgs`] (curl's grammar: clusters,
//!    sticky values, data flags in order);
//! 2. [`RequestPlan::resolve`]: flags + what the binary injects →
//!    [`RequestPlan`]; every usage error is found here, before any I/O;
//! 3. [`execute`]: the request itself, with retries, hand-followed
//!    redirects, streaming output, write-out and curl's exit codes.
//!
//! The crate knows nothing about profiles or keyrings: the binary hands it
//! the instance, the identifying headers and the bearer.

pub mod args;
mod body;
mod encode;
mod exec;
mod failure;
mod fetch;
mod output;
pub mod plan;
mod writeout;

use std::time::Instant;

pub use args::{ArgsError, CurlArgs, DataArg, FailMode, ReplyFlags, parse};
pub use exec::{Bearer, Streams, execute};
pub use fetch::{FetchError, Fetched, Fetcher};
pub use plan::{Injection, PlanError, RequestPlan};

/// Ends a run that never reached the network (usage or auth error): prints
/// the message unless silenced, then `-w` with the target as typed.
pub fn report_early_exit(
    args: &CurlArgs,
    message: &str,
    code: u8,
    streams: Streams<'_>,
    started: Instant,
) -> u8 {
    if args.shows_errors() && !message.is_empty() {
        let _ = writeln!(streams.stderr, "{message}");
        let _ = streams.stderr.flush();
    }
    if let Some(format) = &args.write_out {
        let target = args.positionals.last().cloned().unwrap_or_default();
        let method = args.request.clone().unwrap_or_default();
        let metrics = writeout::Metrics::new(started, &target, &method);
        exec::write_out(streams.stdout, streams.stderr, format, &metrics, code);
    }
    code
}

/// `appstrate api --help`.
pub const HELP: &str = include_str!("help.txt");
