//! `appstrate run <path>`: run an agent package locally (run.md §2.2):
//! resolve the model, read the package, build the platform prompt, run the
//! agent loop in a fresh temporary workspace, print RunEvents, write the
//! RunResult.

// run helpers move output to Ui
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Instant;

use appstrate_afps::manifest::string_items;
use appstrate_afps::{ExecutionContext, platform_prompt, read_bundle_file};
use appstrate_agent::events::{Stamp, now_ms};
use appstrate_agent::model::{ModelClient, ModelRequestFlags, RetryPolicy, resolve_env_model};
use appstrate_agent::runner::{RunSpec, Runner};
use appstrate_agent::sink::{ConsoleSink, JsonlSink, Sink, Verbosity};
use appstrate_agent::tools::{ToolContext, Toolset};
use appstrate_agent::workspace::Workspace;
use clap::Args;
use serde_json::{Map, Value};

use crate::context::Context;
use crate::error::{CliError, ExitStatus};

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Path to an agent package (`.afps`) or bundle (`.afps-bundle`)
    #[arg(value_name = "PATH")]
    pub target: PathBuf,
    /// Input values as a JSON object
    #[arg(long, value_name = "JSON")]
    pub input: Option<String>,
    /// Read the input JSON object from a file (wins over --input)
    #[arg(long, value_name = "PATH")]
    pub input_file: Option<PathBuf>,
    /// Memories, history and checkpoint to start from: `{memories?, history?, checkpoint?}`
    #[arg(long, value_name = "PATH")]
    pub snapshot: Option<PathBuf>,
    /// Model id (default: $APPSTRATE_MODEL_ID, then claude-sonnet-4-5)
    #[arg(long, value_name = "ID")]
    pub model: Option<String>,
    /// anthropic-messages | openai-completions | openai-responses | mistral-conversations (default: $APPSTRATE_MODEL_API, then anthropic-messages)
    #[arg(long, value_name = "API")]
    pub model_api: Option<String>,
    /// Provider API key (default: the provider's variable, then APPSTRATE_LLM_API_KEY, then LLM_API_KEY)
    #[arg(long, value_name = "KEY")]
    pub llm_api_key: Option<String>,
    /// Run id (default: cli_<ms>_<8 base36 chars>)
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
    /// Stop (failed) after this many model turns
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub max_turns: u32,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

pub async fn run(ctx: &mut Context, args: RunArgs) -> Result<ExitStatus, CliError> {
    let started = Instant::now();
    if args.verbose && args.quiet {
        return Err(CliError::user(
            "--verbose and --quiet are mutually exclusive",
        ));
    }
    let verbosity = verbosity(&args);

    // The model first: a missing key fails before any file is read (§2.2 step 4).
    let flags = ModelRequestFlags {
        api: args.model_api.as_deref(),
        model: args.model.as_deref(),
        api_key: args.llm_api_key.as_deref(),
    };
    let model = resolve_env_model(&flags, env).map_err(|e| CliError::user(e.to_string()))?;
    let client = ModelClient::new(
        model,
        RetryPolicy::from_env_value(env("MODEL_RETRY_ENABLED").as_deref()),
    )
    .map_err(|e| CliError::user(e.to_string()))?;

    let path = std::path::absolute(&args.target).unwrap_or_else(|_| args.target.clone());
    if !path.is_file() {
        return Err(CliError::user(format!(
            "Bundle not found: {}",
            path.display()
        )));
    }
    let bundle = read_bundle_file(&path, &ctx.bundle_limits()).map_err(|e| {
        CliError::user(format!(
            "Invalid package {}: {} ({})",
            path.display(),
            e.message,
            e.code.as_str()
        ))
    })?;
    let root = bundle.root_package();
    let manifest = &root.manifest;

    let caller_input = read_input(&args)?;
    let mut input = author_defaults(manifest);
    for (k, v) in caller_input {
        input.insert(k, v);
    }
    let run_id = args.run_id.clone().unwrap_or_else(new_run_id);
    let mut context = ExecutionContext {
        run_id: run_id.clone(),
        input,
        ..Default::default()
    };
    if let Some(snap) = &args.snapshot {
        context.apply_snapshot(&read_snapshot(snap)?);
    }
    let prompt = platform_prompt(&bundle, &context, "Appstrate CLI");

    let workspace = Workspace::create()
        .map_err(|e| CliError::user(format!("Cannot create the run workspace: {e}")))?;
    workspace.materialise_skills(&bundle).map_err(|e| {
        CliError::user(format!(
            "Cannot write the bundle's skills to the workspace: {e}"
        ))
    })?;

    let runtime_tools = string_items(manifest.get("runtime_tools"));
    let output_schema = manifest
        .get("output")
        .and_then(|o| o.get("schema"))
        .filter(|s| s.as_object().is_some_and(|m| !m.is_empty()));
    let tools = Toolset::new(&runtime_tools, output_schema);

    let label = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if !args.json {
        if tools.runtime_count() > 0 {
            eprintln!("→ wired {} runtime tool(s)", tools.runtime_count());
        }
        eprintln!("→ running {label}");
    }

    let mut sink: Box<dyn Sink> = if args.json {
        Box::new(JsonlSink::new(std::io::stdout()))
    } else {
        let colour = crate::ui::color_enabled(&ctx.env, std::io::stdout().is_terminal());
        Box::new(ConsoleSink::new(
            Box::new(std::io::stdout()),
            Box::new(std::io::stderr()),
            verbosity,
            colour,
        ))
    };
    let stamp = Stamp::new(run_id.clone());
    let ready_ms = started.elapsed().as_millis() as u64;
    sink.event(&stamp.runtime_ready(ready_ms, tools.runtime_count()));

    let mut tool_ctx = ToolContext::new(workspace.path().to_path_buf());
    tool_ctx.env.push(("AGENT_RUN_ID".into(), run_id.clone()));
    let groups = tool_ctx.groups.clone();
    let spec = RunSpec {
        system_prompt: prompt.clone(),
        first_message: prompt,
        max_turns: args.max_turns,
        result_byte_limit: ctx.tool_result_byte_limit(),
    };
    let runner = Runner {
        client: &client,
        tools: &tools,
        ctx: tool_ctx,
        stamp,
        sink: sink.as_mut(),
    };
    let outcome = tokio::select! {
        biased;
        signal = crate::error::interrupted() => {
            if !args.json {
                eprintln!("\nshutdown received, cancelling run...");
            }
            groups.kill_all();
            drop(workspace);
            return Err(CliError::interrupted(signal));
        }
        outcome = runner.run(&spec) => outcome,
    };
    groups.kill_all();
    drop(workspace);

    if let Some(out) = &args.output {
        let mut text = serde_json::to_string_pretty(&outcome.result.to_value())
            .map_err(|e| CliError::user(e.to_string()))?;
        text.push('\n');
        appstrate_platform::fsutil::write_atomic(out, text.as_bytes(), 0o644)
            .map_err(|e| CliError::user(format!("Cannot write --output {}: {e}", out.display())))?;
    }
    if outcome.result.status.as_deref() == Some("success") {
        Ok(ExitStatus::SUCCESS)
    } else {
        // The failure was already shown as `[run failed] …` (or in the JSONL).
        Ok(ExitStatus::FAILURE)
    }
}

/// Flags win over `APPSTRATE_VERBOSE` (`1`/`true` verbose, `quiet` quiet).
fn verbosity(args: &RunArgs) -> Verbosity {
    if args.verbose {
        return Verbosity::Verbose;
    }
    if args.quiet {
        return Verbosity::Quiet;
    }
    match env("APPSTRATE_VERBOSE").as_deref().map(str::trim) {
        Some("1") | Some("true") => Verbosity::Verbose,
        Some("quiet") => Verbosity::Quiet,
        _ => Verbosity::Normal,
    }
}

/// `--input-file` wins over `--input`; either must hold a JSON object.
fn read_input(args: &RunArgs) -> Result<Map<String, Value>, CliError> {
    let (text, what) = if let Some(file) = &args.input_file {
        let t = std::fs::read_to_string(file).map_err(|e| {
            CliError::user(format!("Cannot read --input-file {}: {e}", file.display()))
        })?;
        (t, "--input-file")
    } else if let Some(inline) = &args.input {
        (inline.clone(), "--input")
    } else {
        return Ok(Map::new());
    };
    match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(CliError::user(format!(
            "{what} must be a JSON object, e.g. '{{\"topic\":\"x\"}}'"
        ))),
        Err(e) => Err(CliError::user(format!("{what} is not valid JSON: {e}"))),
    }
}

/// The `default` of each top-level property of the manifest's input schema.
fn author_defaults(manifest: &Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    if let Some(props) = manifest
        .get("input")
        .and_then(|i| i.get("schema"))
        .and_then(|s| s.get("properties"))
        .and_then(Value::as_object)
    {
        for (k, p) in props {
            if let Some(d) = p.get("default") {
                out.insert(k.clone(), d.clone());
            }
        }
    }
    out
}

fn read_snapshot(path: &Path) -> Result<Map<String, Value>, CliError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::user(format!("Cannot read --snapshot: {e}")))?;
    let value: Value = serde_json::from_str(&text)
        .map_err(|e| CliError::user(format!("--snapshot is not valid JSON: {e}")))?;
    let Value::Object(map) = value else {
        return Err(CliError::user("--snapshot must be a JSON object"));
    };
    for key in ["memories", "history"] {
        if map.get(key).is_some_and(|v| !v.is_array()) {
            return Err(CliError::user(format!(
                "--snapshot.{key} must be an array when present"
            )));
        }
    }
    Ok(map)
}

/// `cli_<ms>_<8 base36 chars>`.
fn new_run_id() -> String {
    const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let tail: String = (0..8)
        .map(|_| ALPHABET[rand::random_range(0..ALPHABET.len())] as char)
        .collect();
    format!("cli_{}_{tail}", now_ms())
}
