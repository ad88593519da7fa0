//! `appstrate run @scope/agent` (remote, the default for ids): trigger the
//! run on the platform, announce it, follow it with the same output as a
//! local run, write the RunResult (docs/run.md, "Remote runs"). The loop
//! and the row → event mapping live in `appstrate_agent::remote`.

use std::io::IsTerminal;

use appstrate_agent::events::new_cli_run_id;
use appstrate_agent::remote::{self, FollowOptions, Notice, Outcome, SignalPolicy};
use appstrate_platform::access::PlatformAccess;
use appstrate_platform::runs::{self, Reply, RunsApi, TriggerBody};
use serde_json::{Value, json};

use tokio::sync::mpsc::UnboundedReceiver;

use super::inputs::read_input;
use super::{AgentRef, RunArgs, Settings, write_result};
use crate::context::Context;
use crate::error::{CliError, ErrorKind, ExitStatus};

/// The dashboard page of a run: `<instance>/agents/@scope/name/runs/<id>`.
pub fn dashboard_url(instance: &str, agent_id: &str, run_id: &str) -> String {
    format!("{instance}/agents/{agent_id}/runs/{run_id}")
}

/// Runs `agent` on the platform; the flags were checked for remote mode.
pub async fn run(
    ctx: &mut Context,
    args: RunArgs,
    settings: Settings,
    agent: AgentRef,
) -> Result<ExitStatus, CliError> {
    let input = read_input(&args)?;
    let access = signed_in(ctx, &args).await?;
    let api = RunsApi::new(&access);
    let body = TriggerBody {
        input,
        model_id: args
            .model
            .clone()
            .or_else(|| ctx.env.var("APPSTRATE_MODEL_ID").map(str::to_string)),
        proxy_id: args
            .proxy
            .clone()
            .or_else(|| ctx.env.var("APPSTRATE_PROXY").map(str::to_string)),
    };
    // Claimed before the trigger: a signal that lands once the run exists
    // waits in the channel for the follow loop (cancel or detach), none
    // falls between the two.
    let mut signals = crate::error::claim_signals();
    let run = trigger(&api, &access, &agent, &args, &body, &mut signals).await?;
    announce(&run, &args, &agent);
    let outcome = follow(ctx, &args, &settings, &api, &run, &mut signals).await?;
    finish(&args, &run, outcome)
}

/// The API key or signed-in profile, with a pinned application.
async fn signed_in(ctx: &Context, args: &RunArgs) -> Result<PlatformAccess, CliError> {
    let access =
        PlatformAccess::resolve(&ctx.env, ctx.global.profile.as_deref(), args.api_key.as_deref())
            .await?
            .ok_or_else(|| {
                CliError::new(
                    ErrorKind::Auth,
                    "Running an agent by id requires a logged-in profile or an API key",
                )
                .with_hint("run `appstrate login`, or pass --api-key (or set APPSTRATE_API_KEY with APPSTRATE_INSTANCE)")
            })?;
    access.require_application()?;
    Ok(access)
}

/// The run the platform created: where it lives and how to name it.
struct Triggered {
    run_id: String,
    instance: String,
    dashboard_url: String,
}

/// Triggers the run (`--run-id` is the Idempotency-Key); a signal before
/// the platform answered stops here.
async fn trigger(
    api: &RunsApi<'_>,
    access: &PlatformAccess,
    agent: &AgentRef,
    args: &RunArgs,
    body: &TriggerBody,
    signals: &mut UnboundedReceiver<i32>,
) -> Result<Triggered, CliError> {
    let instance = access.instance().to_string();
    let key = args.run_id.clone().unwrap_or_else(new_cli_run_id);
    let spec = agent.spec.as_deref();
    let triggered = tokio::select! {
        biased;
        Some(signal) = signals.recv() => return Err(CliError::interrupted(signal)),
        triggered = api.trigger(&agent.id, spec, body, &key) => triggered?,
    };
    let run = triggered.map_err(|reply| trigger_error(&reply, &agent.id, &key, &instance))?;
    let run_id = run
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    Ok(Triggered {
        dashboard_url: dashboard_url(&instance, &agent.id, &run_id),
        run_id,
        instance,
    })
}

/// The triggered run as one JSON line (`--json`), else two status lines.
fn announce(run: &Triggered, args: &RunArgs, agent: &AgentRef) {
    let Triggered {
        run_id,
        instance,
        dashboard_url,
    } = run;
    if args.json {
        print_json_line(&json!({
            "type": "appstrate.remote.triggered",
            "runId": run_id,
            "instance": instance,
            "dashboardUrl": dashboard_url,
        }));
    } else {
        crate::ui::warn_line(&format!(
            "→ running {} (reporting to {instance} as {run_id})",
            agent.label(agent.spec.as_deref())
        ));
        crate::ui::warn_line(&format!("→ dashboard: {dashboard_url}"));
    }
}

/// Follows the run to its end (or a signal's cancel or detach), printing
/// its events as a local run would.
async fn follow(
    ctx: &Context,
    args: &RunArgs,
    settings: &Settings,
    api: &RunsApi<'_>,
    run: &Triggered,
    signals: &mut UnboundedReceiver<i32>,
) -> Result<Outcome, CliError> {
    let mut sink = super::console_sink(args.json, settings.verbosity, ctx.ui.color);
    let policy = SignalPolicy::resolve(
        settings.cancel_on_exit,
        args.json,
        std::io::stdin().is_terminal(),
    );
    let json_mode = args.json;
    let mut notify = |notice: Notice| {
        if !json_mode {
            crate::ui::warn_line(&notice_line(notice));
        }
    };
    let opts = FollowOptions {
        poll: ctx.env.remote_poll().unwrap_or(remote::DEFAULT_POLL),
        policy,
    };
    let Triggered {
        run_id,
        instance,
        dashboard_url,
    } = run;
    remote::follow(api, run_id, sink.as_mut(), signals, &mut notify, opts)
        .await
        .map_err(|e| {
            CliError::new(ErrorKind::Server, e.to_string()).with_hint(format!(
                "the run may still be going on {instance}: see {dashboard_url} or `appstrate api GET /api/runs/{run_id}`"
            ))
        })
}

/// What the follow loop has to say, as a status line.
fn notice_line(notice: Notice) -> String {
    match notice {
        Notice::Cancelling => "\nshutdown received, cancelling remote run...".to_string(),
        Notice::CancelFailed(e) => format!("warn: cancel request failed: {e}"),
        Notice::RecordRetry(e) => format!("warn: run record refresh failed (will retry): {e}"),
    }
}

/// `--output` and the exit status of a finished run; a detached run says
/// how to follow it.
fn finish(args: &RunArgs, run: &Triggered, outcome: Outcome) -> Result<ExitStatus, CliError> {
    match outcome {
        Outcome::Finished {
            result,
            cancelled_by,
        } => {
            if let Some(out) = &args.output {
                write_result(out, &result.to_value())?;
            }
            if let Some(signal) = cancelled_by {
                return Err(CliError::interrupted(signal));
            }
            Ok(if result.status.as_deref() == Some("success") {
                ExitStatus::SUCCESS
            } else {
                ExitStatus::FAILURE
            })
        }
        Outcome::Detached { signal } => {
            let Triggered {
                run_id, instance, ..
            } = run;
            if args.json {
                print_json_line(&json!({
                    "type": "appstrate.remote.detached",
                    "runId": run_id,
                    "instance": instance,
                }));
            } else {
                crate::ui::warn_line(&format!(
                    "\ndetached — run {run_id} is still running on {instance}"
                ));
                crate::ui::warn_line(&format!(
                    "  follow it with: appstrate api GET /api/runs/{run_id}"
                ));
            }
            Err(CliError::interrupted(signal))
        }
        Outcome::Interrupted { signal } => Err(CliError::interrupted(signal)),
    }
}

fn print_json_line(value: &Value) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    // A closed stdout must not stop the run being followed.
    let _ = writeln!(out, "{value}");
    let _ = out.flush();
}

/// A refused trigger as one line with what to do about it.
fn trigger_error(resp: &Reply, agent: &str, key: &str, instance: &str) -> CliError {
    let detail = runs::error_message(&resp.body);
    let code = runs::error_code(&resp.body);
    let mut message = format!("Trigger failed: {} {}", resp.status, resp.reason);
    if let Some(detail) = &detail {
        message.push_str(": ");
        message.push_str(detail);
    }
    let hint = match (resp.status, code.as_deref()) {
        (401 | 403, _) => Some(
            "check that `appstrate login` is current or the API key is valid, and that it may run agents (agents:run)".to_string(),
        ),
        (404, Some("no_published_version")) => Some(format!(
            "{agent} has no published version: publish one, or run the draft with `appstrate run {agent}@draft`"
        )),
        (404, _) => Some(format!(
            "is {agent} installed in this application on {instance}? List agents with `appstrate api GET /api/agents`"
        )),
        (_, Some("idempotency_conflict")) => Some(format!(
            "the run id {key} was already used with a different input: pass a new --run-id"
        )),
        (409, _) | (_, Some("idempotency_in_progress")) => Some(format!(
            "a run with the id {key} is still being created: wait and retry, or pass a new --run-id"
        )),
        (400 | 422, _) => Some("check --input against the agent's input schema".to_string()),
        (429, _) => Some("the instance is rate limiting runs: retry in a minute".to_string()),
        (502..=504, _) => Some("the instance kept failing after 3 attempts: retry later".to_string()),
        _ => None,
    };
    let err = CliError::new(ErrorKind::Server, message);
    match hint {
        Some(hint) => err.with_hint(hint),
        None => err,
    }
}
