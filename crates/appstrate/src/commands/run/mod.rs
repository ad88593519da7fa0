//! `appstrate run <target>` (docs/run.md): parse the target, pick the mode
//! (an agent id runs on the platform, a path on this machine, unless
//! `--local`/`--remote` say otherwise), check every flag against that mode,
//! then hand over to the local pipeline or to the remote client.

mod bundle_source;
mod inputs;
mod launch;
mod local;
mod model;
mod options;
mod remote;
mod report;
mod target;

use std::path::PathBuf;

use appstrate_agent::model::{THINKING_LEVELS, ThinkingLevel};
use clap::{Args, ValueEnum};

use crate::context::Context;
use crate::error::{CliError, ExitStatus};

pub use options::{Mode, ModelSource, Settings};
pub use target::{AgentRef, Target};

#[derive(Debug, Args)]
pub struct RunArgs {
    /// `@scope/name[@version|@dist-tag|@range]` (an agent on the instance) or a path to an `.afps` / `.afps-bundle`
    #[arg(value_name = "TARGET")]
    pub target: String,
    /// Run on this machine (the default for a path)
    #[arg(long)]
    pub local: bool,
    /// Run on the platform and follow it (the default for an agent id)
    #[arg(long)]
    pub remote: bool,
    /// Input values as a JSON object
    #[arg(long, value_name = "JSON")]
    pub input: Option<String>,
    /// Read the input JSON object from a file (wins over --input)
    #[arg(long, value_name = "PATH")]
    pub input_file: Option<PathBuf>,
    /// Memories, history and checkpoint to start from: `{memories?, history?, checkpoint?}` (local)
    #[arg(long, value_name = "PATH")]
    pub snapshot: Option<PathBuf>,
    /// Where the model comes from: your own key (`env`) or an organization preset through the platform (`preset`); default: $APPSTRATE_MODEL_SOURCE, then `preset` for an agent id with --integrations remote, else `env` (local)
    #[arg(long, value_name = "SOURCE")]
    pub model_source: Option<ModelSource>,
    /// Model id (env mode) or preset id (preset mode); default: $APPSTRATE_MODEL_ID, then the agent's configured preset, then claude-sonnet-4-5 / the organization's default preset
    #[arg(long, value_name = "ID")]
    pub model: Option<String>,
    /// anthropic-messages | openai-completions | openai-responses | mistral-conversations (default: $APPSTRATE_MODEL_API, then anthropic-messages) (local, env mode)
    #[arg(long, value_name = "API")]
    pub model_api: Option<String>,
    /// Provider API key (default: the provider's variable, then APPSTRATE_LLM_API_KEY, then LLM_API_KEY) (local, env mode)
    #[arg(long, value_name = "KEY")]
    pub llm_api_key: Option<String>,
    /// Appstrate API key instead of the signed-in profile (default: $APPSTRATE_API_KEY; instance, app and org from APPSTRATE_INSTANCE, APPSTRATE_APP_ID, APPSTRATE_ORG_ID, then the profile)
    #[arg(long, value_name = "KEY")]
    pub api_key: Option<String>,
    /// Do not apply the agent's run configuration stored in the application (preset, proxy, version pin, input values)
    #[arg(long)]
    pub no_inherit: bool,
    /// Proxy for the model traffic: a URL (http://host:port) for local runs, a platform proxy id for remote runs (default: $APPSTRATE_PROXY, then the agent's configured proxy)
    #[arg(long, value_name = "URL|ID")]
    pub proxy: Option<String>,
    /// Integration credentials: through the platform (`remote`), from --creds-file (`local`), or none (default: remote)
    #[arg(long, value_name = "MODE")]
    pub integrations: Option<Integrations>,
    /// Integration credentials for --integrations local (JSON, version 1)
    #[arg(long, value_name = "PATH")]
    pub creds_file: Option<PathBuf>,
    /// Report the local run to the platform: auto | true | false (default: auto)
    #[arg(long, value_name = "WHEN")]
    pub report: Option<Report>,
    /// When reporting cannot start: abort, or go on with the console only (default: abort)
    #[arg(long, value_name = "WHAT")]
    pub report_fallback: Option<ReportFallback>,
    /// Lifetime of the report sink, seconds (1–86400)
    #[arg(long, value_name = "SECONDS")]
    pub sink_ttl: Option<String>,
    /// Cancel the platform run when this command is interrupted (remote)
    #[arg(long, overrides_with = "no_cancel_on_exit")]
    pub cancel_on_exit: bool,
    /// Leave the platform run going when this command is interrupted (remote)
    #[arg(long, overrides_with = "cancel_on_exit")]
    pub no_cancel_on_exit: bool,
    /// Run id (default: cli_<ms>_<8 base36 chars>); remote: the trigger's Idempotency-Key
    #[arg(long, value_name = "ID")]
    pub run_id: Option<String>,
    /// Write the final RunResult to this file as JSON
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Print RunEvents as JSON lines on stdout
    #[arg(long)]
    pub json: bool,
    /// Show tool arguments and results in full
    #[arg(short, long)]
    pub verbose: bool,
    /// Hide tool calls
    #[arg(short, long)]
    pub quiet: bool,
    /// How much a reasoning model thinks: off | minimal | low | medium | high | xhigh | max (default: the agent's configured reasoning level, then medium; models that do not reason get no thinking option) (local)
    #[arg(long, value_name = "LEVEL", value_parser = parse_thinking)]
    pub thinking: Option<ThinkingLevel>,
    /// Stop (failed) after this many model turns (local)
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub max_turns: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Integrations {
    Remote,
    Local,
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Report {
    Auto,
    True,
    False,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFallback {
    Abort,
    Console,
}

pub async fn run(ctx: &mut Context, args: RunArgs) -> Result<ExitStatus, CliError> {
    let target = target::parse_target(&args.target).map_err(CliError::usage)?;
    let mode = options::resolve_mode(&args, &target)?;
    let settings = options::check_flags(&args, mode, &target, &ctx.env)?;
    match (mode, target) {
        (Mode::Local, target) => local::run(ctx, args, settings, target).await,
        (Mode::Remote, Target::Agent(agent)) => remote::run(ctx, args, settings, agent).await,
        // resolve_mode refuses --remote with a path.
        (Mode::Remote, Target::Path(_)) => Err(CliError::usage(
            "--remote does not support local bundle paths",
        )),
    }
}

fn parse_thinking(value: &str) -> Result<ThinkingLevel, String> {
    ThinkingLevel::parse(value).ok_or_else(|| format!("use one of: {}", THINKING_LEVELS.join(", ")))
}

/// How RunEvents reach the terminal: JSON lines with `--json`, else the
/// human renderer (events on stdout, diagnostics on stderr). Local and
/// remote runs print alike.
fn console_sink(
    json: bool,
    verbosity: appstrate_agent::sink::Verbosity,
    colour: bool,
) -> Box<dyn appstrate_agent::sink::Sink> {
    use appstrate_agent::sink::{ConsoleSink, JsonlSink};
    if json {
        Box::new(JsonlSink::new(std::io::stdout()))
    } else {
        Box::new(ConsoleSink::new(
            Box::new(std::io::stdout()),
            Box::new(std::io::stderr()),
            verbosity,
            colour,
        ))
    }
}

/// `--output`: the RunResult, 2-space indented, with a trailing newline
/// (local and remote runs alike).
fn write_result(path: &std::path::Path, result: &serde_json::Value) -> Result<(), CliError> {
    let mut text =
        serde_json::to_string_pretty(result).map_err(|e| CliError::user(e.to_string()))?;
    text.push('\n');
    appstrate_platform::fsutil::write_atomic(path, text.as_bytes(), 0o644)
        .map_err(|e| CliError::user(format!("Cannot write --output {}: {e}", path.display())))
}
