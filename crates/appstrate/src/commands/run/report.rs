//! `--report` for local runs (docs/run.md "Reporting"): decide whether to
//! report, register the run with its real input, and hand back the sink and
//! the reporter that posts the events.

use std::time::Duration;

use appstrate_afps::Package;
use appstrate_agent::sink::{HEARTBEAT_INTERVAL, HttpSink, Reporter};
use appstrate_platform::Env;
use appstrate_platform::access::PlatformAccess;
use appstrate_platform::reported;
use serde_json::{Map, Value, json};

use super::options::Settings;
use super::target::AgentRef;
use super::{Integrations, Report, ReportFallback};
use crate::error::CliError;

/// Overrides the heartbeat period (milliseconds), for tests.
const HEARTBEAT_ENV: &str = "APPSTRATE_REPORT_HEARTBEAT_MS";

/// What the registration says the run is.
pub enum RunSource<'a> {
    /// A file: its root manifest and prompt go inline.
    Inline,
    /// An agent on the instance (`spec`: the version asked for, if any).
    Registry {
        agent: &'a AgentRef,
        spec: Option<&'a str>,
        integrity: Option<&'a str>,
    },
}

/// A registered run, ready to receive events.
pub struct Reporting {
    pub reporter: Reporter,
    pub sink: HttpSink,
    pub instance: String,
}

/// Whether a run with credentials reports: `auto` when the integrations go
/// through the platform, `true` always.
pub fn wanted(settings: &Settings) -> bool {
    match settings.report {
        Report::False => false,
        Report::True => true,
        Report::Auto => settings.integrations == Integrations::Remote,
    }
}

/// A failure to start reporting: an error, or with `--report-fallback
/// console` a warning (returned as `Ok(Some(line))`).
fn fall_back(settings: &Settings, problem: String) -> Result<String, CliError> {
    match settings.report_fallback {
        ReportFallback::Abort => Err(CliError::user(problem).with_hint(
            "use --report false, or --report-fallback console to run without reporting",
        )),
        ReportFallback::Console => Ok(format!("warn: {problem}; running with the console only")),
    }
}

/// `--report true` without a profile or key; `Ok(Some(warning))` with the
/// console fallback.
pub fn check_credentials(
    settings: &Settings,
    has_credentials: bool,
) -> Result<Option<String>, CliError> {
    if settings.report == Report::True && !has_credentials {
        return fall_back(
            settings,
            "--report=true requires an Appstrate profile or API key".into(),
        )
        .map(Some);
    }
    Ok(None)
}

/// Registers the run. `Err(warning)` inside `Ok` when the console fallback
/// swallowed a failure.
pub async fn register(
    access: &PlatformAccess,
    env: &Env,
    settings: &Settings,
    mut body: Value,
) -> Result<Result<Reporting, String>, CliError> {
    let attempt = async {
        body["applicationId"] = json!(access.require_application()?);
        reported::register(access, &body).await
    };
    let run = match attempt.await {
        Ok(run) => run,
        Err(e) => return fall_back(settings, e.to_string()).map(Err),
    };
    let http = appstrate_platform::http::client(env)?;
    let (mut reporter, sink) = Reporter::start(run, http);
    reporter.start_heartbeat(heartbeat_interval(env));
    Ok(Ok(Reporting {
        reporter,
        sink,
        instance: access.instance().to_string(),
    }))
}

fn heartbeat_interval(env: &Env) -> Duration {
    env.var(HEARTBEAT_ENV)
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|ms| *ms > 0)
        .map(Duration::from_millis)
        .unwrap_or(HEARTBEAT_INTERVAL)
}

/// The strict register body (`applicationId` is filled in by [`register`]): the resolved input (not `{}`), where the
/// package comes from, and a small snapshot of this machine.
pub fn register_body(
    settings: &Settings,
    source: &RunSource<'_>,
    root: &Package,
    input: &Map<String, Value>,
) -> Value {
    let name = root.manifest_str("name").unwrap_or_default();
    let version = root.manifest_str("version").unwrap_or_default();
    let source = match source {
        RunSource::Inline => json!({
            "kind": "inline",
            "manifest": root.manifest,
            "prompt": root.text("prompt.md").unwrap_or_default(),
        }),
        RunSource::Registry {
            agent,
            spec,
            integrity,
        } => {
            let mut s = Map::new();
            s.insert("kind".into(), json!("registry"));
            s.insert("packageId".into(), json!(agent.id));
            s.insert(
                "stage".into(),
                json!(if spec.is_some() { "published" } else { "draft" }),
            );
            if let Some(spec) = spec {
                s.insert("spec".into(), json!(spec));
            }
            if let Some(integrity) = integrity {
                s.insert("integrity".into(), json!(integrity));
            }
            Value::Object(s)
        }
    };
    let mut body = json!({
        "applicationId": null,
        "input": input,
        "contextSnapshot": {
            "os": format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
            "cliVersion": env!("CARGO_PKG_VERSION"),
            "bundle": {"name": name, "version": version},
        },
        "source": source,
    });
    if let Some(ttl) = settings.sink_ttl {
        body["sink"] = json!({"ttl_seconds": ttl});
    }
    body
}
