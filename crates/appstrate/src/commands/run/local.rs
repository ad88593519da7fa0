//! A run on this machine (docs/run.md "Local runs"), resolved in order:
//! the local files, the platform access when something needs it, the run
//! configuration, the model, the bundle, the integrations and the input.
//! The plan then goes to [`super::launch`], which runs it and finishes.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use appstrate_afps::{Bundle, ExecutionContext};
use appstrate_agent::compaction;
use appstrate_agent::events::new_cli_run_id;
use appstrate_agent::input::{
    InheritedInput, LockedField, author_defaults, layer_input, locked_field_set,
};
use appstrate_agent::integrations::{Resolver, has_api_calls};
use appstrate_agent::model::{ModelConfig, RetryPolicy, THINKING_LEVELS, ThinkingLevel};
use appstrate_agent::plan::RunPlan;
use appstrate_agent::tools::ToolEnv;
use appstrate_platform::PlatformError;
use appstrate_platform::access::PlatformAccess;
use appstrate_platform::agents::{RunConfig, run_config};

use super::bundle_source::{self, LoadedBundle};
use super::inputs::{LocalInputs, package_path};
use super::launch::{self, Launch};
use super::model::{LocalProxy, context_window_override, env_model, local_proxy, preset_model};
use super::options::{ModelSource, Settings};
use super::report::{self, RunSource};
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
    let LocalStart {
        source,
        mut inputs,
        env_model,
    } = read_local(ctx, &args, &settings, target)?;
    let access = platform_access(ctx, &args, &settings, &source).await?;
    let origin = origin(&source, access.as_ref())?;
    let inherited = inherited_config(&origin, &args, &inputs).await?;
    let model = resolve_model(ctx, &args, env_model, access.as_ref(), inherited.as_ref()).await?;
    let (loaded, fetched_spec) = load_bundle(ctx, &args, origin, inherited.as_ref()).await?;
    let LoadedBundle {
        bundle,
        label,
        integrity,
    } = loaded;
    let integrations = integrations(ctx, &args, &settings, &bundle, &mut inputs).await?;
    let context = execution_context(&args, &bundle, inherited.as_ref(), &inputs)?;

    let run_source = match &source {
        Source::File(_) => RunSource::Inline,
        Source::Agent(agent) => RunSource::Registry {
            agent,
            spec: fetched_spec.as_deref(),
            integrity: integrity.as_deref(),
        },
    };
    let report = match &access {
        Some(access) if report::wanted(&settings) => Some((
            access,
            // The caller's input: the instance layers the author defaults
            // and the application's stored values itself, and refuses a
            // body that sets a locked field (which the stored values may
            // hold).
            report::register_body(
                &settings,
                &run_source,
                bundle.root_package(),
                &inputs.caller_input,
            ),
        )),
        _ => None,
    };
    let plan = RunPlan {
        model,
        retry: RetryPolicy::from_env_value(ctx.env.var("MODEL_RETRY_ENABLED")),
        compaction: compaction::enabled_by_env(ctx.env.var("MODEL_COMPACTION_ENABLED")),
        bundle,
        context,
        max_turns: args.max_turns,
        result_byte_limit: ctx.tool_result_byte_limit(),
        integrations,
        tool_env: ToolEnv::new(
            ctx.env.home.clone(),
            ctx.env
                .var("TMPDIR")
                .map_or_else(|| PathBuf::from("/tmp"), PathBuf::from),
            ctx.env.vars.keys().map(String::as_str),
        ),
    };
    let launch = Launch {
        args: &args,
        settings: &settings,
        label: &label,
        started,
    };
    launch::execute(ctx, &launch, plan, report).await
}

/// What is read from this machine before keys or the network.
struct LocalStart {
    source: Source,
    inputs: LocalInputs,
    /// The model in env mode (its key is checked here too).
    env_model: Option<ModelConfig>,
}

/// Local files first: a typo fails before keys or the network; so does a
/// proxy flag or variable that cannot be honoured, and (env mode, which
/// needs no platform) a missing model key.
fn read_local(
    ctx: &Context,
    args: &RunArgs,
    settings: &Settings,
    target: Target,
) -> Result<LocalStart, CliError> {
    let source = match target {
        Target::Path(path) => Source::File(package_path(&path)?),
        Target::Agent(agent) => Source::Agent(agent),
    };
    let inputs = LocalInputs::read(args)?;
    local_proxy(args.proxy.as_deref(), &ctx.env, None)?;
    let env_model = match settings.model_source {
        ModelSource::Env => Some(env_model(args, &ctx.env)?),
        ModelSource::Preset => None,
    };
    Ok(LocalStart {
        source,
        inputs,
        env_model,
    })
}

/// The API key or profile, when the run needs the platform (an agent by
/// id, a preset model, `--report true`) or may report (`auto`).
async fn platform_access(
    ctx: &mut Context,
    args: &RunArgs,
    settings: &Settings,
    source: &Source,
) -> Result<Option<PlatformAccess>, CliError> {
    let needs_platform = matches!(source, Source::Agent(_))
        || settings.model_source == ModelSource::Preset
        || settings.report == Report::True;
    let resolved = PlatformAccess::resolve(
        &ctx.env,
        ctx.global.profile.as_deref(),
        args.api_key.as_deref(),
    );
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
    if let Some(warning) = report::check_credentials(settings, access.is_some())? {
        ctx.ui.warn(&warning);
    }
    Ok(access)
}

/// A run by id needs the instance and a pinned application.
fn origin<'a>(
    source: &'a Source,
    access: Option<&'a PlatformAccess>,
) -> Result<Origin<'a>, CliError> {
    match (source, access) {
        (Source::File(path), _) => Ok(Origin::File(path)),
        (Source::Agent(_), None) => Err(CliError::user(
            "Running an agent by id requires a logged-in profile or an API key",
        )
        .with_hint(sign_in_hint())),
        (Source::Agent(agent), Some(access)) => Ok(Origin::Agent {
            agent,
            access,
            app: access.require_application()?.to_string(),
        }),
    }
}

/// The agent's run configuration stored in the application (unless
/// `--no-inherit`); a locked field the caller sets fails here, before
/// anything is downloaded.
async fn inherited_config(
    origin: &Origin<'_>,
    args: &RunArgs,
    inputs: &LocalInputs,
) -> Result<Option<RunConfig>, CliError> {
    let inherited = match origin {
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
    if let Some(config) = &inherited
        && let Some(field) = locked_field_set(&inputs.caller_input, &config.locked_fields)
    {
        return Err(CliError::user(LockedField(field).to_string()));
    }
    Ok(inherited)
}

/// The env-mode model, or the preset (`--model`, `APPSTRATE_MODEL_ID`,
/// the stored configuration's), with the stored temperature and the proxy.
async fn resolve_model(
    ctx: &Context,
    args: &RunArgs,
    env_model: Option<ModelConfig>,
    access: Option<&PlatformAccess>,
    inherited: Option<&RunConfig>,
) -> Result<ModelConfig, CliError> {
    let mut model = match env_model {
        Some(model) => model,
        None => {
            let access = access.ok_or_else(|| {
                CliError::user("--model-source preset requires a logged-in profile or an API key")
                    .with_hint(sign_in_hint())
            })?;
            let wanted = args
                .model
                .as_deref()
                .or_else(|| ctx.env.var("APPSTRATE_MODEL_ID"))
                .or_else(|| inherited.and_then(|c| c.model_id.as_deref()));
            preset_model(access, wanted).await?
        }
    };
    model.temperature = inherited.and_then(|c| c.temperature);
    if let Some(window) = context_window_override(&ctx.env)? {
        model.context_window = window;
    }
    model.thinking = thinking_level(ctx, args, inherited);
    let stored_proxy = inherited.and_then(|c| c.proxy_id.as_deref());
    match local_proxy(args.proxy.as_deref(), &ctx.env, stored_proxy)? {
        LocalProxy::None => {}
        LocalProxy::Url(url) => model.proxy = Some(url),
        LocalProxy::Ignored(notice) => launch::status(ctx, args, &notice),
    }
    Ok(model)
}

/// The bundle from the file, or downloaded (an explicit @spec wins over
/// the application's version pin); with the spec that was fetched.
async fn load_bundle(
    ctx: &Context,
    args: &RunArgs,
    origin: Origin<'_>,
    inherited: Option<&RunConfig>,
) -> Result<(LoadedBundle, Option<String>), CliError> {
    let limits = ctx.bundle_limits();
    match origin {
        Origin::File(path) => Ok((bundle_source::read_file(path, &limits)?, None)),
        Origin::Agent { agent, access, .. } => {
            let spec = agent
                .spec
                .clone()
                .or_else(|| inherited.and_then(|c| c.version_pin.clone()));
            let loaded = bundle_source::fetch(access, agent, spec.as_deref(), &limits).await?;
            launch::status(ctx, args, &format!("→ fetched bundle {}", loaded.label));
            Ok((loaded, spec))
        }
    }
}

/// Who resolves the bundle's integration calls: the `--creds-file`, the
/// platform's credential proxy (only when the bundle makes such calls), or
/// nobody.
async fn integrations(
    ctx: &Context,
    args: &RunArgs,
    settings: &Settings,
    bundle: &Bundle,
    inputs: &mut LocalInputs,
) -> Result<Option<Arc<Resolver>>, CliError> {
    match settings.integrations {
        Integrations::None => Ok(None),
        Integrations::Local => Ok(Some(Arc::new(Resolver::Local {
            creds: inputs.creds.take().unwrap_or_default(),
            allow_private: allow_private_targets(&ctx.env),
        }))),
        Integrations::Remote if !has_api_calls(bundle) => Ok(None),
        Integrations::Remote => {
            // The resolver owns its own access (calls may run while the
            // run is being reported through the other one).
            let access = PlatformAccess::resolve(
                &ctx.env,
                ctx.global.profile.as_deref(),
                args.api_key.as_deref(),
            )
            .await?
            .ok_or_else(|| {
                CliError::user("--integrations=remote requires a logged-in profile or an API key")
                    .with_hint(
                        "sign in, or use --integrations local --creds-file <path> (or --integrations none)",
                    )
            })?;
            access.require_application()?;
            Ok(Some(Arc::new(Resolver::remote(access))))
        }
    }
}

/// The run's context: the input layered (author defaults, stored values,
/// the caller's), the run id, the `--snapshot`.
fn execution_context(
    args: &RunArgs,
    bundle: &Bundle,
    inherited: Option<&RunConfig>,
    inputs: &LocalInputs,
) -> Result<ExecutionContext, CliError> {
    let input = layer_input(
        author_defaults(&bundle.root_package().manifest),
        inherited.map(inherited_input).as_ref(),
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
    Ok(context)
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
        launch::status(
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
