//! `appstrate logout [--all]` (docs/platform-api.md#revoke).
//!
//! `--all` revokes every CLI session of the user on every device. The
//! platform's `POST /api/auth/cli/sessions/revoke-all` is cookie-only (a
//! bearer gets 401), so after trying it we fall back to the org-admin
//! routes, which accept the bearer for owners and admins:
//! `GET /api/orgs/{orgId}/cli-sessions` lists every member's sessions, and
//! we `DELETE` the families that are the user's own. The current session is
//! revoked last (its access token must stay valid until then). Local state
//! is wiped in every case.

use std::collections::BTreeSet;

use appstrate_platform::PlatformError;
use appstrate_platform::api;
use appstrate_platform::auth;
use appstrate_platform::config::{self, Config};
use appstrate_platform::credentials::CredentialStore;
use appstrate_platform::fsutil;
use appstrate_platform::instance::normalize_instance;
use appstrate_platform::session::Session;
use appstrate_platform::tokens::{TokenRecord, decode_jwt_payload};
use clap::Args;
use reqwest::Method;
use serde_json::Value;

use crate::context::Context;
use crate::error::{CliError, ExitStatus};

#[derive(Debug, Args)]
pub struct LogoutArgs {
    /// Revoke every CLI session of this user, on every device
    #[arg(long)]
    pub all: bool,
}

pub async fn run(ctx: &mut Context, args: LogoutArgs) -> Result<ExitStatus, CliError> {
    let config_dir = ctx.config_dir();
    let config = Config::load(&config_dir)?;
    let name = ctx.profile_name(config.default_profile());
    let profile = config.profile(&name);
    ctx.ui
        .intro(&format!("Appstrate logout — profile \"{name}\""))?;
    let store = CredentialStore::open(&ctx.env).await;
    let Some(tokens) = store.load(&name).await? else {
        // Nothing configured: nothing to write, not even a lock file.
        if profile.is_some() {
            config::update(&config_dir, |cfg| Ok(cfg.delete_profile(&name)))?;
        }
        fsutil::sweep_stale_temps(&config_dir);
        ctx.ui.outro("Already signed out.")?;
        if args.all {
            ctx.ui.warn(&format!(
                "No session is stored for profile \"{name}\", so other sessions cannot be revoked from here. Sign in and re-run `appstrate logout --all`."
            ));
            return Ok(ExitStatus::FAILURE);
        }
        return Ok(ExitStatus::SUCCESS);
    };

    let mut status = ExitStatus::SUCCESS;
    if let Some(profile) = profile {
        if args.all {
            let session = Session::with_profile(&ctx.env, name.clone(), profile).await?;
            match revoke_everywhere(&session, &tokens).await {
                Ok(report) => {
                    let others = report.other_sessions;
                    let total = others + usize::from(report.current_revoked);
                    ctx.ui.line(&format!(
                        "Revoked {total} CLI session{} ({others} on other devices{}).",
                        if total == 1 { "" } else { "s" },
                        if report.current_revoked {
                            ", plus this one"
                        } else {
                            ""
                        }
                    ))?;
                    for note in &report.notes {
                        ctx.ui.warn(note);
                    }
                    if !report.complete {
                        ctx.ui.warn("Other sessions could not all be revoked: the platform only lets org owners and admins revoke sessions with a CLI token. Revoke the rest from the dashboard's Devices page.");
                        status = ExitStatus::FAILURE;
                    }
                }
                Err(err) => {
                    ctx.ui.warn(&format!(
                        "warning: could not revoke sessions server-side ({err}); continuing with local cleanup."
                    ));
                    status = ExitStatus::FAILURE;
                }
            }
        } else if let Some(refresh) = &tokens.refresh {
            let result = async {
                let instance = normalize_instance(&profile.instance, ctx.env.insecure)?;
                let http = appstrate_platform::http::client(&ctx.env)?;
                auth::revoke(&http, &instance, &refresh.token).await
            }
            .await;
            if let Err(err) = result {
                ctx.ui.warn(&format!(
                    "warning: could not revoke refresh token server-side ({err}); continuing with local cleanup."
                ));
            }
        }
    }
    store.delete(&name).await?;
    config::update(&config_dir, |cfg| Ok(cfg.delete_profile(&name)))?;
    // A writer killed mid-write may have left a temp copy of the tokens.
    fsutil::sweep_stale_temps(&config_dir);
    ctx.ui.outro(&format!("Signed out of \"{name}\"."))?;
    Ok(status)
}

struct RevokeReport {
    other_sessions: usize,
    current_revoked: bool,
    /// Every org could be inspected (or revoke-all worked).
    complete: bool,
    notes: Vec<String>,
}

async fn revoke_everywhere(
    session: &Session,
    tokens: &TokenRecord,
) -> Result<RevokeReport, PlatformError> {
    let mut report = RevokeReport {
        other_sessions: 0,
        current_revoked: false,
        complete: true,
        notes: Vec::new(),
    };
    let bearer = session.access_token().await?;
    let current_family = decode_jwt_payload(&bearer).ok().and_then(|c| {
        c.get("cli_family_id")
            .and_then(Value::as_str)
            .map(str::to_string)
    });

    // 1. The user-level route (cookie-only on today's platform; a future
    //    platform that accepts bearers makes everything below a no-op).
    let all = session
        .request_without_retry(Method::POST, "/api/auth/cli/sessions/revoke-all", &[], None)
        .await?;
    if (200..300).contains(&all.status) {
        let count = serde_json::from_slice::<Value>(&all.body)
            .ok()
            .and_then(|v| v.get("revoked").and_then(Value::as_u64))
            .unwrap_or(0) as usize;
        report.other_sessions = count.saturating_sub(1);
        report.current_revoked = true;
        return Ok(report);
    }

    // 2. Org-admin routes, org by org, for the user's own families.
    let user_id = session.profile().user_id.clone();
    let orgs = api::list_orgs(session).await?;
    let mut revoked = BTreeSet::new();
    for org in &orgs {
        let org_header = [("X-Org-Id".to_string(), org.id.clone())];
        let path = format!("/api/orgs/{}/cli-sessions", org.id);
        let listed = session
            .request(Method::GET, &path, &org_header, None)
            .await?;
        if !(200..300).contains(&listed.status) {
            report.complete = false;
            report.notes.push(format!(
                "Cannot list CLI sessions in \"{}\" (HTTP {}): only owners and admins may.",
                org.name, listed.status
            ));
            continue;
        }
        let families: Vec<String> = serde_json::from_slice::<Value>(&listed.body)
            .ok()
            .and_then(|v| v.get("data").and_then(Value::as_array).cloned())
            .unwrap_or_default()
            .iter()
            .filter(|s| s.get("userId").and_then(Value::as_str) == Some(user_id.as_str()))
            .filter_map(|s| {
                s.get("familyId")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .filter(|f| Some(f) != current_family.as_ref() && !revoked.contains(f))
            .collect();
        for family in families {
            let path = format!("/api/orgs/{}/cli-sessions/{}", org.id, family);
            let deleted = session
                .request(Method::DELETE, &path, &org_header, None)
                .await?;
            if (200..300).contains(&deleted.status) {
                revoked.insert(family);
            } else {
                // 404 also hides "this user belongs to another org too".
                report.complete = false;
            }
        }
    }
    if orgs.is_empty() {
        report.complete = false;
    }
    report.other_sessions = revoked.len();

    // 3. This session, last, with the pair as it is now (a proactive
    //    refresh above may have rotated it).
    let current = session.store().load(session.profile_name()).await?;
    let latest = current.as_ref().unwrap_or(tokens);
    if let Some(refresh) = &latest.refresh {
        auth::revoke(session.http(), &session.instance()?, &refresh.token).await?;
        report.current_revoked = true;
    }
    Ok(report)
}
