//! The runtime of `appstrate run`: streaming model clients (Anthropic
//! Messages, OpenAI Chat Completions, OpenAI Responses), the tool-calling
//! loop, Pi's built-in tools and the runtime tools, and the sinks that show
//! or ship RunEvents.
//!
//! Seams for later remote and platform-backed runs: [`sink::Sink`] (a
//! platform sink joins the console one), [`model::ModelConfig`] (filled by
//! env-mode resolution today, by a platform preset later).

pub mod events;
pub mod model;
pub mod remote;
pub mod runner;
pub mod sink;
pub mod sse;
pub mod tools;
pub mod workspace;
