//! The runtime of `appstrate run`: streaming model clients (Anthropic
//! Messages, OpenAI Chat Completions, OpenAI Responses), the tool-calling
//! loop, Pi's built-in tools and the runtime tools, and the sinks that show
//! or ship RunEvents.
//!
//! [`plan::RunPlan`] assembles one run from resolved values (model, bundle,
//! context); [`input`] layers the input; [`sink::Sink`] is the seam a
//! platform sink joins. See docs/run.md.

// Functions stay short enough to read in one screen (clippy: 100 lines).
#![warn(clippy::too_many_lines)]

pub mod compaction;
pub mod creds;
pub mod events;
pub mod input;
pub mod integrations;
pub mod model;
pub mod plan;
pub mod remote;
pub mod runner;
pub mod sink;
pub mod sse;
pub mod tools;
pub mod workspace;
