//! A run on this machine (docs/run.md "Local runs"), in order: read the
//! local files, resolve the platform access when something needs it, the
//! run configuration, the model, the bundle, the input; then hand the plan
//! to `appstrate_agent`, show the events, write `--output`, and exit 1
//! unless the run succeeded.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use appstrate_afps::ExecutionContext;
use appstrate_agent::compaction;
use appstrate_agent::events::new_cli_run_id;
use appstrate_agent::input::{
    InheritedInput, LockedField, author_defaults, layer_input, locked_field_set,
};
use appstrate_agent::integrations::{Resolver, has_api_calls};
use appstrate_agent::model::{RetryPolicy, THINKING_LEVELS, ThinkingLevel};
use appstrate_agent::plan::RunPlan;
use appstrate_agent::sink::{Composite, Reporter, Sink};
use appstrate_agent::tools::ToolEnv;
use appstrate_platform::PlatformError;
use appstrate_platform::access::PlatformAccess;
use appstrate_platform::agents::{RunConfig, run_config};
use serde_json::Value;

use super::bundle_source::{self, LoadedBundle};
use super::inputs::{LocalInputs, package_path};
use super::model::{LocalProxy, context_window_override, env_model, local_proxy, preset_model};
use super::options::{ModelSource, Settings};
use super::report::{self, Reporting, RunSource};
use super::target::{AgentRef, Target};
use super::{Integrations, Report, RunArgs};
use crate::context::Context;
use crate::error::{CliError, ExitStatus};

pub async fn run(
    ctx: &mut Context,
    args: RunArgs,
    settings: Settings,
    target: Target,
) -> Result<ExitStatus, CliError> {
    let started = Instant::now();
    let env = ctx.env.clone();
    // Local files first: a typo fails before keys or the network.
    let source = match target {
        Target::Path(path) => Source::File(package_path(&path)?),
        Target::Agent(agent) => Source::Agent(agent),
    };
    let mut inputs = LocalInputs::read(&args)?;
    // A proxy flag or variable that cannot be honoured fails here too.
    local_proxy(args.proxy.as_deref(), &env, None)?;
    // Env mode needs no platform: a missing key fails before any request.
    let env_model = match settings.model_source {
        ModelSource::Env => Some(env_model(&args, &env)?),
        ModelSource::Preset => None,
    };

    let needs_platform = matches!(source, Source::Agent(_))
        || settings.model_source == ModelSource::Preset
        || settings.report == Report::True;
    let resolved =
        PlatformAccess::resolve(&env, ctx.global.profile.as_deref(), args.api_key.as_deref());
    let access = if needs_platform {
        resolved.await?
    } else if settings.report == Report::Auto {
        // `auto` only reports when the credentials are usable; a run that
        // needs nothing from the platform is not stopped by them.
        resolved.await.ok().flatten()
    } else {
        None
    };
    // Reporting warnings reach stderr even with `--json` (stdout stays JSONL).
    if let Some(warning) = report::check_credentials(&settings, access.is_some())? {
        ctx.ui.warn(&warning);
    }
    // A run by id needs the instance and a pinned application.
    let origin = match (&source, &access) {
        (Source::File(path), _) => Origin::File(path),
        (Source::Agent(_), None) => {
            return Err(CliError::user(
                "Running an agent by id requires a logged-in profile or an API key",
            )
            .with_hint(sign_in_hint()));
        }
        (Source::Agent(agent), Some(access)) => Origin::Agent {
            agent,
            access,
            app: access.require_application()?.to_string(),
        },
    };

    let inherited = match &origin {
        Origin::Agent { agent, access, app } if !args.no_inherit => {
            run_config(access, app, &agent.id).await.map_err(|e| {
                let signing_in = matches!(e, PlatformError::Auth(_));
                let err = CliError::from(e);
                if signing_in {
                    err
                } else {
                    err.with_hint(
                        "pass --no-inherit to run without the agent's stored configuration",
                    )
                }
            })?
        }
        _ => None,
    };
    // A locked field fails before anything is downloaded.
    if let Some(config) = &inherited
        && let Some(field) = locked_field_set(&inputs.caller_input, &config.locked_fields)
    {
        return Err(CliError::user(LockedField(field).to_string()));
    }

    let mut model = match env_model {
        Some(model) => model,
        None => {
            let access = access.as_ref().ok_or_else(|| {
                CliError::user("--model-source preset requires a logged-in profile or an API key")
                    .with_hint(sign_in_hint())
            })?;
            let wanted = args
                .model
                .as_deref()
                .or_else(|| env.var("APPSTRATE_MODEL_ID"))
                .or_else(|| inherited.as_ref().and_then(|c| c.model_id.as_deref()));
            preset_model(access, wanted).await?
        }
    };
    model.temperature = inherited.as_ref().and_then(|c| c.temperature);
    if let Some(window) = context_window_override(&env)? {
        model.context_window = window;
    }
    model.thinking = thinking_level(ctx, &args, inherited.as_ref());
    match local_proxy(
        args.proxy.as_deref(),
        &env,
        inherited.as_ref().and_then(|c| c.proxy_id.as_deref()),
    )? {
        LocalProxy::None => {}
        LocalProxy::Url(url) => model.proxy = Some(url),
        LocalProxy::Ignored(notice) => status(ctx, &args, &notice),
    }

    let limits = ctx.bundle_limits();
    let mut fetched_spec = None;
    let loaded = match origin {
        Origin::File(path) => bundle_source::read_file(path, &limits)?,
        Origin::Agent { agent, access, .. } => {
            // An explicit @spec wins over the application's version pin.
            let spec = agent
                .spec
                .clone()
                .or_else(|| inherited.as_ref().and_then(|c| c.version_pin.clone()));
            let loaded = bundle_source::fetch(access, agent, spec.as_deref(), &limits).await?;
            status(ctx, &args, &format!("→ fetched bundle {}", loaded.label));
            fetched_spec = spec;
            loaded
        }
    };
    let LoadedBundle {
        bundle,
        label,
        integrity,
    } = loaded;
    let integrations = match settings.integrations {
        Integrations::None => None,
        Integrations::Local => Some(Arc::new(Resolver::Local {
            creds: inputs.creds.take().unwrap_or_default(),
            allow_private: allow_private_targets(&env),
        })),
        Integrations::Remote if !has_api_calls(&bundle) => None,
        Integrations::Remote => {
            // The resolver owns its own access (calls may run while the
            // run is being reported through `access`).
            let access = PlatformAccess::resolve(
                &env,
                ctx.global.profile.as_deref(),
                args.api_key.as_deref(),
            )
            .await?
            .ok_or_else(|| {
                    CliError::user(
                        "--integrations=remote requires a logged-in profile or an API key",
                    )
                    .with_hint(
                        "sign in, or use --integrations local --creds-file <path> (or --integrations none)",
                    )
            })?;
            access.require_application()?;
            Some(Arc::new(Resolver::remote(access)))
        }
    };

    let input = layer_input(
        author_defaults(&bundle.root_package().manifest),
        inherited.as_ref().map(inherited_input).as_ref(),
        inputs.caller_input.clone(),
    )
    .map_err(|e| CliError::user(e.to_string()))?;
    let mut context = ExecutionContext {
        run_id: args.run_id.clone().unwrap_or_else(new_cli_run_id),
        input,
        ..Default::default()
    };
    if let Some(snapshot) = &inputs.snapshot {
        context.apply_snapshot(snapshot);
    }

    let run_source = match &source {
        Source::File(_) => RunSource::Inline,
        Source::Agent(agent) => RunSource::Registry {
            agent,
            spec: fetched_spec.as_deref(),
            integrity: integrity.as_deref(),
        },
    };
    let register_body = report::register_body(
        &settings,
        &run_source,
        bundle.root_package(),
        // The caller's input: the instance layers the author defaults and
        // the application's stored values itself, and refuses a body that
        // sets a locked field (which the stored values may hold).
        &inputs.caller_input,
    );

    let plan = RunPlan {
        model,
        retry: RetryPolicy::from_env_value(env.var("MODEL_RETRY_ENABLED")),
        compaction: compaction::enabled_by_env(env.var("MODEL_COMPACTION_ENABLED")),
        bundle,
        context,
        max_turns: args.max_turns,
        result_byte_limit: ctx.tool_result_byte_limit(),
        integrations,
        tool_env: ToolEnv::new(
            env.home.clone(),
            env.var("TMPDIR")
                .map_or_else(|| PathBuf::from("/tmp"), PathBuf::from),
            env.vars.keys().map(String::as_str),
        ),
    };
    let report = match &access {
        Some(access) if report::wanted(&settings) => Some((access, register_body)),
        _ => None,
    };
    let launch = Launch {
        args: &args,
        settings: &settings,
        label: &label,
        started,
    };
    execute(ctx, &launch, plan, report).await
}

/// What `execute` needs of the command line, resolved.
struct Launch<'a> {
    args: &'a RunArgs,
    settings: &'a Settings,
    label: &'a str,
    started: Instant,
}

/// Prepares the plan, registers the run with the instance when reporting
/// (last, once nothing but the run itself can fail), runs it against the
/// console sink (and the platform sink) while watching for signals, then
/// ends it: `--output`, the report's finish, the exit status.
async fn execute(
    ctx: &Context,
    launch: &Launch<'_>,
    plan: RunPlan,
    report: Option<(&PlatformAccess, Value)>,
) -> Result<ExitStatus, CliError> {
    let Launch {
        args,
        settings,
        label,
        started,
    } = *launch;
    let prepared = plan.prepare().map_err(|e| CliError::user(e.to_string()))?;

    if prepared.api_call_tool_count() > 0 {
        status(
            ctx,
            args,
            &format!(
                "→ wired {} integration api_call tool(s)",
                prepared.api_call_tool_count()
            ),
        );
    }
    if prepared.runtime_tool_count() > 0 {
        status(
            ctx,
            args,
            &format!("→ wired {} runtime tool(s)", prepared.runtime_tool_count()),
        );
    }

    let reporting = match report {
        Some((access, body)) => match report::register(access, &ctx.env, settings, body).await? {
            Ok(reporting) => Some(reporting),
            Err(warning) => {
                ctx.ui.warn(&warning);
                None
            }
        },
        None => None,
    };
    match &reporting {
        Some(r) => status(
            ctx,
            args,
            &format!(
                "→ running {label} (reporting to {} as {})",
                r.instance,
                r.reporter.run_id()
            ),
        ),
        None => status(ctx, args, &format!("→ running {label}")),
    }

    let console = super::console_sink(args.json, settings.verbosity, ctx.ui.color);
    let ready_ms = started.elapsed().as_millis() as u64;
    let (mut reporter, mut sink): (Option<Reporter>, Box<dyn Sink>) = match reporting {
        Some(Reporting { reporter, sink, .. }) => (
            Some(reporter),
            Box::new(Composite(vec![console, Box::new(sink)])),
        ),
        None => (None, console),
    };
    // A reported run handles the signals itself: `main`'s fallback would
    // drop this command before the safety-net finalize is sent.
    let mut claimed = reporter.as_ref().map(|_| crate::error::claim_signals());
    let next_signal = async {
        match claimed.as_mut() {
            Some(signals) => match signals.recv().await {
                Some(signal) => signal,
                None => std::future::pending().await,
            },
            None => crate::error::interrupted().await,
        }
    };
    let outcome = tokio::select! {
        biased;
        signal = next_signal => {
            status(ctx, args, "\nshutdown received, cancelling run...");
            // Dropping the prepared run kills its process groups, then
            // removes the workspace.
            drop(prepared);
            drop(sink);
            if let Some(reporter) = reporter.as_mut()
                && let Err(e) = reporter
                    .safety_net("cancelled", "Runner cancelled by user (CLI received signal).")
                    .await
            {
                ctx.ui.warn(&format!("warn: {e}"));
            }
            return Err(CliError::interrupted(signal));
        }
        outcome = prepared.run(sink.as_mut(), ready_ms) => outcome,
    };
    drop(prepared);
    drop(sink);
    let reported = match reporter {
        Some(reporter) => reporter.finish().await,
        None => Ok(()),
    };

    if let Some(out) = &args.output {
        let mut text = serde_json::to_string_pretty(&outcome.result.to_value())
            .map_err(|e| CliError::user(e.to_string()))?;
        text.push('\n');
        appstrate_platform::fsutil::write_atomic(out, text.as_bytes(), 0o644)
            .map_err(|e| CliError::user(format!("Cannot write --output {}: {e}", out.display())))?;
    }
    if let Err(e) = reported {
        return Err(CliError::user(format!(
            "The run ended but reporting it to the platform failed: {e}"
        ))
        .with_hint("use --report false to run without reporting"));
    }
    if outcome.result.status.as_deref() == Some("success") {
        Ok(ExitStatus::SUCCESS)
    } else {
        // The failure was already shown as `[run failed] …` (or in the JSONL).
        Ok(ExitStatus::FAILURE)
    }
}

/// The package to run: a checked file, or an agent on the instance.
enum Source {
    File(PathBuf),
    Agent(AgentRef),
}

/// Where the bundle comes from, with what a download needs.
enum Origin<'a> {
    File(&'a Path),
    Agent {
        agent: &'a AgentRef,
        access: &'a PlatformAccess,
        app: String,
    },
}

/// Status lines go to stderr, and only without `--json`.
fn status(ctx: &Context, args: &RunArgs, line: &str) {
    if !args.json {
        ctx.ui.warn(line);
    }
}

/// `--thinking`, else the run configuration's `generation.reasoningLevel`,
/// else medium. A stored level this tool does not know is noted and skipped.
fn thinking_level(ctx: &Context, args: &RunArgs, inherited: Option<&RunConfig>) -> ThinkingLevel {
    if let Some(level) = args.thinking {
        return level;
    }
    let Some(stored) = inherited.and_then(|c| c.reasoning_level.as_deref()) else {
        return ThinkingLevel::default();
    };
    ThinkingLevel::parse(stored).unwrap_or_else(|| {
        status(
            ctx,
            args,
            &format!(
                "warn: the agent's run configuration asks for reasoning level \"{stored}\", which is not one of {}; using medium",
                THINKING_LEVELS.join(", ")
            ),
        );
        ThinkingLevel::default()
    })
}

/// `APPSTRATE_INTEGRATIONS_ALLOW_PRIVATE=1` lets the local resolver reach
/// loopback and private addresses (a self-hosted API, a test server).
fn allow_private_targets(env: &appstrate_platform::Env) -> bool {
    matches!(
        env.var("APPSTRATE_INTEGRATIONS_ALLOW_PRIVATE"),
        Some("1" | "true")
    )
}

fn sign_in_hint() -> &'static str {
    "run `appstrate login`, or set APPSTRATE_API_KEY with APPSTRATE_INSTANCE and APPSTRATE_APP_ID"
}

fn inherited_input(config: &RunConfig) -> InheritedInput {
    InheritedInput {
        values: config.input_values.clone(),
        locked_fields: config.locked_fields.clone(),
    }
}
