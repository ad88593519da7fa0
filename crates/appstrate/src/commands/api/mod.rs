//! `appstrate api`: curl with the profile's bearer injected (docs/api-command.md).
//!
//! The arguments reach us raw (clap does not parse them) and go through the
//! `appstrate-curl` engine: argv → `CurlArgs` → `RequestPlan` → execution.
//! Order of checks: flags, our reply flags (`--paginate`, `--jq`: usage
//! errors, exit 2), profile row, path placeholders and plan (usage errors,
//! exit 2), then the access token (which may refresh over the network), then
//! the request. The token never leaves this function except as the header
//! sent to the instance's own origin.

mod jq;
mod jq_worker;
mod page;
mod placeholders;
mod reply;

use std::io;
use std::time::Instant;

use appstrate_curl::{Bearer, CurlArgs, Injection, RequestPlan, Streams};
use appstrate_platform::PlatformError;
use appstrate_platform::session::Session;
use clap::Args;

use crate::context::Context;
use crate::error::{CliError, ErrorKind, ExitStatus};

#[derive(Debug, Args)]
pub struct ApiArgs {
    /// [METHOD] <path-or-url> and curl flags (see `appstrate api --help`)
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        num_args = 0..,
        value_name = "ARGS"
    )]
    pub args: Vec<String>,
}

pub async fn run(ctx: &mut Context, args: ApiArgs) -> Result<ExitStatus, CliError> {
    let started = Instant::now();
    let mut curl = appstrate_curl::parse(args.args).map_err(|e| {
        let text = e.to_string();
        let message = text.strip_prefix("error: ").unwrap_or(&text);
        CliError::new(ErrorKind::Usage, message)
    })?;
    if curl.help {
        ctx.ui.out(appstrate_curl::HELP)?;
        return Ok(ExitStatus::SUCCESS);
    }
    let jq = reply::check(&curl).map_err(|e| quiet_unless_shown(curl.shows_errors(), e))?;
    if curl.global_insecure {
        ctx.env.insecure = true;
    }
    let (session, instance) = match open_session(ctx, &curl).await {
        Ok(opened) => opened,
        Err(e) => return Ok(platform_exit(ctx, &curl, &e, started)),
    };
    expand_placeholders(&mut curl, &session)?;
    let plan = match RequestPlan::resolve(&curl, injection(&session, instance)) {
        Ok(plan) => plan,
        Err(e) => return Ok(early_exit(&curl, &e.message, e.code, started)),
    };
    let token = match session.access_token().await {
        Ok(t) => t,
        Err(e) => return Ok(platform_exit(ctx, &curl, &e, started)),
    };
    if curl.reply.any() {
        let mode = reply::ReplyMode {
            paginate: curl.reply.paginate,
            max_pages: curl.reply.max_pages,
            jq,
        };
        return reply::run(mode, &plan, &session, token).await;
    }
    let bearer = Bearer::new(token);
    let code = appstrate_curl::execute(
        &plan,
        &bearer,
        Streams {
            stdout: &mut io::stdout(),
            stderr: &mut io::stderr(),
        },
        started,
    )
    .await;
    Ok(ExitStatus::from_code(code))
}

/// The profile's session and its instance URL (`-p`/`--profile` in the curl
/// arguments wins over the global flag).
async fn open_session(
    ctx: &Context,
    curl: &CurlArgs,
) -> Result<(Session, url::Url), PlatformError> {
    let profile_flag = curl.profile.clone().or_else(|| ctx.global.profile.clone());
    let session = Session::open(&ctx.env, profile_flag.as_deref()).await?;
    let instance = session.instance()?;
    let url = url::Url::parse(&instance).map_err(|e| {
        PlatformError::Instance(format!("Invalid instance URL: \"{instance}\" ({e})"))
    })?;
    Ok((session, url))
}

/// `{orgId}`, `{appId}` and `{profile}` in the target, from the profile's pins.
fn expand_placeholders(curl: &mut CurlArgs, session: &Session) -> Result<(), CliError> {
    let profile = session.profile();
    let pins = placeholders::Pins {
        profile: session.profile_name(),
        org_id: profile.org_id.as_deref(),
        app_id: profile.application_id.as_deref(),
    };
    let shows_errors = curl.shows_errors();
    if let Some(target) = curl.positionals.last_mut() {
        *target = placeholders::expand(target, &pins)
            .map_err(|message| quiet_unless_shown(shows_errors, CliError::usage(message)))?;
    }
    Ok(())
}

/// What the engine adds to every request: the instance, the profile's
/// context headers and our User-Agent.
fn injection(session: &Session, instance: url::Url) -> Injection {
    let profile = session.profile();
    Injection {
        instance,
        profile: session.profile_name().to_string(),
        org_id: profile.org_id.clone(),
        app_id: profile.application_id.clone(),
        user_agent: appstrate_platform::user_agent(),
    }
}

/// A platform error before the request, in the common `error:`/`hint:`
/// voice and with curl's "failure" code 1, not the kind's (the exit codes
/// are curl's, docs/api-command.md): auth errors obey `-s`
/// (docs/api-command.md#order-of-checks); anything else is always shown.
fn platform_exit(
    ctx: &Context,
    curl: &CurlArgs,
    err: &PlatformError,
    started: Instant,
) -> ExitStatus {
    let text = crate::ui::error_lines(
        &CliError::new(ErrorKind::User, err.to_string()),
        ctx.ui.stderr_color,
    );
    if !matches!(err, PlatformError::Auth(_)) && !curl.shows_errors() {
        ctx.ui.warn(&text);
    }
    early_exit(curl, &text, 1, started)
}

/// Ends before any request, the way curl reports it (`-w`, `-s`, exit code).
fn early_exit(curl: &CurlArgs, message: &str, code: u8, started: Instant) -> ExitStatus {
    let code = appstrate_curl::report_early_exit(
        curl,
        message,
        code,
        Streams {
            stdout: &mut io::stdout(),
            stderr: &mut io::stderr(),
        },
        started,
    );
    ExitStatus::from_code(code)
}

/// Under `-s` (without `-S`) the error is not shown; its exit code stays.
fn quiet_unless_shown(shows_errors: bool, error: CliError) -> CliError {
    if shows_errors {
        error
    } else {
        CliError::silent(error.exit_status().code())
    }
}
