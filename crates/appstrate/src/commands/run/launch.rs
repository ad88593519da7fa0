//! The end of a local run, once the plan is resolved: prepare it (tools,
//! workspace), register it with the instance when reporting (last, once
//! nothing but the run itself can fail), run it against the console sink
//! (and the platform's) while watching for signals, then finish: the
//! report's end, `--output`, the exit status (1 unless the run succeeded).

use std::time::Instant;

use appstrate_agent::plan::{PreparedRun, RunPlan};
use appstrate_agent::runner::RunOutcome;
use appstrate_agent::sink::{Composite, Reporter, Sink};
use appstrate_platform::access::PlatformAccess;
use serde_json::Value;

use super::options::Settings;
use super::report::{self, Reporting};
use super::{RunArgs, write_result};
use crate::context::Context;
use crate::error::{CliError, ExitStatus};

/// What the launch needs of the command line, resolved.
pub struct Launch<'a> {
    pub args: &'a RunArgs,
    pub settings: &'a Settings,
    /// The file name or `@scope/name[@spec]`, for the status lines.
    pub label: &'a str,
    pub started: Instant,
}

/// Prepares, registers, runs and finishes `plan`; `report` is the access
/// and register body when the run is reported.
pub async fn execute(
    ctx: &Context,
    launch: &Launch<'_>,
    plan: RunPlan,
    report: Option<(&PlatformAccess, Value)>,
) -> Result<ExitStatus, CliError> {
    let resolver = plan.integrations.clone();
    let prepared = plan.prepare().map_err(|e| CliError::user(e.to_string()))?;
    announce_tools(ctx, launch.args, &prepared);
    let reporting = start_reporting(ctx, launch, report).await?;
    if let (Some(resolver), Some(reporting)) = (&resolver, &reporting) {
        resolver.attribute_to_run(reporting.reporter.run_id());
    }
    let console = super::console_sink(launch.args.json, launch.settings.verbosity, ctx.ui.color);
    let ready_ms = launch.started.elapsed().as_millis() as u64;
    let (reporter, sink): (Option<Reporter>, Box<dyn Sink>) = match reporting {
        Some(Reporting { reporter, sink, .. }) => (
            Some(reporter),
            Box::new(Composite(vec![console, Box::new(sink)])),
        ),
        None => (None, console),
    };
    let outcome =
        run_watching_signals(ctx, launch.args, prepared, sink, reporter, ready_ms).await?;
    finish(launch.args, outcome)
}

/// Status lines go to stderr, and only without `--json`.
pub fn status(ctx: &Context, args: &RunArgs, line: &str) {
    if !args.json {
        ctx.ui.warn(line);
    }
}

/// `→ wired N … tool(s)` for the integration and runtime tools.
fn announce_tools(ctx: &Context, args: &RunArgs, prepared: &PreparedRun) {
    let api_calls = prepared.api_call_tool_count();
    if api_calls > 0 {
        status(
            ctx,
            args,
            &format!("→ wired {api_calls} integration api_call tool(s)"),
        );
    }
    let runtime = prepared.runtime_tool_count();
    if runtime > 0 {
        status(ctx, args, &format!("→ wired {runtime} runtime tool(s)"));
    }
}

/// Registers the run when it is reported (a failure the console fallback
/// swallows is a warning), and says what is about to run.
async fn start_reporting(
    ctx: &Context,
    launch: &Launch<'_>,
    report: Option<(&PlatformAccess, Value)>,
) -> Result<Option<Reporting>, CliError> {
    let reporting = match report {
        Some((access, body)) => {
            match report::register(access, &ctx.env, launch.settings, body).await? {
                Ok(reporting) => Some(reporting),
                Err(warning) => {
                    ctx.ui.warn(&warning);
                    None
                }
            }
        }
        None => None,
    };
    let label = launch.label;
    let line = match &reporting {
        Some(r) => format!(
            "→ running {label} (reporting to {} as {})",
            r.instance,
            r.reporter.run_id()
        ),
        None => format!("→ running {label}"),
    };
    status(ctx, launch.args, &line);
    Ok(reporting)
}

/// Runs the prepared plan until it ends or a signal arrives. A reported
/// run handles the signals itself: `main`'s fallback would drop this
/// command before the safety-net finalize is sent. The report is finished
/// either way; its failure comes back with the outcome.
async fn run_watching_signals(
    ctx: &Context,
    args: &RunArgs,
    prepared: PreparedRun,
    mut sink: Box<dyn Sink>,
    mut reporter: Option<Reporter>,
    ready_ms: u64,
) -> Result<Finished, CliError> {
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
        Some(reporter) => reporter.finish().await.map_err(|e| e.to_string()),
        None => Ok(()),
    };
    Ok(Finished { outcome, reported })
}

/// A run that ended, and whether its report reached the platform.
struct Finished {
    outcome: RunOutcome,
    reported: Result<(), String>,
}

/// `--output` (written even when the report failed), then the exit status.
fn finish(args: &RunArgs, finished: Finished) -> Result<ExitStatus, CliError> {
    let Finished { outcome, reported } = finished;
    if let Some(out) = &args.output {
        write_result(out, &outcome.result.to_value())?;
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
