//! `appstrate whoami`: the server-checked identity of the active profile
//! and when its sign-in ends (docs/platform-api.md#endpoints).

use appstrate_platform::api;
use appstrate_platform::session::Session;
use serde_json::Value;

use crate::commands::JsonArgs;
use crate::commands::token::iso;
use crate::context::Context;
use crate::error::{CliError, ExitStatus};

pub async fn run(ctx: &mut Context, args: JsonArgs) -> Result<ExitStatus, CliError> {
    let session = Session::open(&ctx.env, ctx.global.profile.as_deref()).await?;
    let me = session.get_json("/api/profile").await?;
    let profile = session.profile();
    let text = |v: &Value, key: &str| {
        v.get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let email = text(&me, "email");
    let display_name = text(&me, "displayName").or_else(|| text(&me, "name"));
    // After the request, so a refresh it needed shows the new record's end.
    let expires_at = iso(session.signed_in_until().await?);
    let org = match &profile.org_id {
        Some(org_id) => match api::list_orgs(&session).await {
            Ok(orgs) => Some((org_id.clone(), orgs.into_iter().find(|o| &o.id == org_id))),
            Err(_) => Some((org_id.clone(), None)),
        },
        None => None,
    };
    if args.json {
        let report = serde_json::json!({
            "profile": session.profile_name(),
            "instance": profile.instance,
            "email": email,
            "name": display_name,
            "expiresAt": expires_at,
            "orgId": org.as_ref().map(|(id, _)| id),
            "orgName": org.as_ref().and_then(|(_, found)| found.as_ref().map(|o| o.name.clone())),
            "applicationId": profile.application_id,
        });
        ctx.ui.line(&report.to_string())?;
        return Ok(ExitStatus::SUCCESS);
    }
    let mut lines = vec![
        format!("Profile:  {}", session.profile_name()),
        format!("Instance: {}", profile.instance),
    ];
    if let Some(email) = email {
        lines.push(format!("User:     {email}"));
    }
    if let Some(name) = display_name {
        lines.push(format!("Name:     {name}"));
    }
    lines.push(format!("Expires:  {expires_at}"));
    if let Some((org_id, found)) = org {
        lines.push(match found {
            Some(org) => format!("Org:      {} ({})", org.name, org.id),
            None => format!("Org:      {org_id}"),
        });
    }
    ctx.ui.out(&(lines.join("\n") + "\n"))?;
    Ok(ExitStatus::SUCCESS)
}
