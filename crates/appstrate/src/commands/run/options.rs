//! The mode of a run and the flags each mode accepts (docs/run.md "Modes"
//! and "Flags"): every refusal happens here, before any file is read, any
//! key is looked up or the network is touched. A refused flag is a usage
//! error (exit 2); a bad environment variable is not (exit 1).

use appstrate_agent::sink::Verbosity;
use appstrate_platform::Env;
use clap::ValueEnum;

use super::target::Target;
use super::{Integrations, Report, ReportFallback, RunArgs};
use crate::error::CliError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Local,
    Remote,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ModelSource {
    Env,
    Preset,
}

/// The flags and variables that were checked, resolved once.
#[derive(Debug, Clone)]
pub struct Settings {
    pub verbosity: Verbosity,
    /// Local runs: where the model comes from.
    pub model_source: ModelSource,
    pub integrations: Integrations,
    pub report: Report,
    pub report_fallback: ReportFallback,
    /// `--sink-ttl` in seconds.
    pub sink_ttl: Option<u32>,
    /// Remote runs: `--cancel-on-exit` (true), `--no-cancel-on-exit` (false), or neither.
    pub cancel_on_exit: Option<bool>,
}

/// An agent id runs remotely and a path locally, unless `--local` or
/// `--remote` says otherwise.
pub fn resolve_mode(args: &RunArgs, target: &Target) -> Result<Mode, CliError> {
    match (args.local, args.remote, target) {
        (true, true, _) => Err(CliError::usage(
            "--local and --remote are mutually exclusive",
        )),
        (_, true, Target::Path(_)) => Err(CliError::usage(
            "--remote does not support local bundle paths",
        )
        .with_hint("publish the agent and run it by id, or drop --remote")),
        (true, _, _) | (false, false, Target::Path(_)) => Ok(Mode::Local),
        (false, _, Target::Agent(_)) => Ok(Mode::Remote),
    }
}

/// Refuses flags the mode cannot honour and resolves the rest.
pub fn check_flags(
    args: &RunArgs,
    mode: Mode,
    target: &Target,
    env: &Env,
) -> Result<Settings, CliError> {
    if args.verbose && args.quiet {
        return Err(CliError::usage(
            "--verbose and --quiet are mutually exclusive",
        ));
    }
    let cancel_on_exit = match (args.cancel_on_exit, args.no_cancel_on_exit) {
        (true, _) => Some(true),
        (_, true) => Some(false),
        _ => None,
    };
    let integrations = args.integrations.unwrap_or(Integrations::Remote);
    match mode {
        Mode::Remote => refuse_local_only_flags(args, integrations)?,
        Mode::Local => {
            if cancel_on_exit.is_some() {
                return Err(CliError::usage(
                    "--cancel-on-exit and --no-cancel-on-exit only apply to remote runs",
                )
                .with_hint("a local run always stops when interrupted; drop the flag"));
            }
        }
    }
    match (integrations, &args.creds_file) {
        (Integrations::Local, None) => {
            return Err(CliError::usage(
                "--integrations local requires --creds-file <path>",
            ));
        }
        (Integrations::Remote | Integrations::None, Some(_)) => {
            return Err(CliError::usage(
                "--creds-file is only read with --integrations local",
            ));
        }
        _ => {}
    }
    let sink_ttl = args.sink_ttl.as_deref().map(parse_sink_ttl).transpose()?;
    Ok(Settings {
        verbosity: verbosity(args, env),
        model_source: model_source(args, target, integrations, env)?,
        integrations,
        report: args.report.unwrap_or(Report::Auto),
        report_fallback: args.report_fallback.unwrap_or(ReportFallback::Abort),
        sink_ttl,
        cancel_on_exit,
    })
}

/// Remote runs execute on the platform: flags that only shape a local run
/// are refused, each with its reason, in one line.
fn refuse_local_only_flags(args: &RunArgs, integrations: Integrations) -> Result<(), CliError> {
    let mut reasons: Vec<&str> = Vec::new();
    if args.snapshot.is_some() {
        reasons.push("--snapshot (the platform keeps the agent's memories and checkpoint)");
    }
    if args.creds_file.is_some() {
        reasons.push("--creds-file (the platform holds the integration credentials)");
    }
    if args.llm_api_key.is_some() {
        reasons.push("--llm-api-key (the platform holds the model keys)");
    }
    if args.model_api.is_some() {
        reasons.push("--model-api (the model preset decides the API)");
    }
    if args.model_source.is_some() {
        reasons.push("--model-source (remote runs always use the organization's presets)");
    }
    if integrations != Integrations::Remote {
        reasons
            .push("--integrations other than remote (remote runs use the platform's connections)");
    }
    if args.report.is_some() || args.report_fallback.is_some() || args.sink_ttl.is_some() {
        reasons.push(
            "--report, --report-fallback, --sink-ttl (the platform records remote runs itself)",
        );
    }
    if args.thinking.is_some() {
        reasons.push("--thinking (the platform applies the agent's configured reasoning level)");
    }
    if reasons.is_empty() {
        return Ok(());
    }
    Err(CliError::usage(format!(
        "These flags only apply to local runs: {}",
        reasons.join("; ")
    ))
    .with_hint("drop them, or add --local to run on this machine"))
}

fn parse_sink_ttl(text: &str) -> Result<u32, CliError> {
    text.trim()
        .parse::<u32>()
        .ok()
        .filter(|n| (1..=86_400).contains(n))
        .ok_or_else(|| {
            CliError::usage(format!(
                "--sink-ttl must be a whole number of seconds from 1 to 86400 (got \"{text}\")"
            ))
        })
}

/// `--model-source`, else `APPSTRATE_MODEL_SOURCE`, else `preset` for an
/// agent id whose integrations go through the platform, else `env`.
fn model_source(
    args: &RunArgs,
    target: &Target,
    integrations: Integrations,
    env: &Env,
) -> Result<ModelSource, CliError> {
    if let Some(source) = args.model_source {
        return Ok(source);
    }
    if let Some(value) = env.var("APPSTRATE_MODEL_SOURCE") {
        return ModelSource::from_str(value.trim(), true).map_err(|_| {
            CliError::user(format!(
                "APPSTRATE_MODEL_SOURCE must be env or preset (got \"{value}\")"
            ))
        });
    }
    Ok(match (target, integrations) {
        (Target::Agent(_), Integrations::Remote) => ModelSource::Preset,
        _ => ModelSource::Env,
    })
}

/// Flags win over `APPSTRATE_VERBOSE` (`1`/`true` verbose, `quiet` quiet).
fn verbosity(args: &RunArgs, env: &Env) -> Verbosity {
    if args.verbose {
        return Verbosity::Verbose;
    }
    if args.quiet {
        return Verbosity::Quiet;
    }
    match env.var("APPSTRATE_VERBOSE").map(str::trim) {
        Some("1") | Some("true") => Verbosity::Verbose,
        Some("quiet") => Verbosity::Quiet,
        _ => Verbosity::Normal,
    }
}
