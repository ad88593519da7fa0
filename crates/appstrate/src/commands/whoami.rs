//! `appstrate whoami`: the server-checked identity of the active profile
//! (docs/platform-api.md#endpoints).

use appstrate_platform::api;
use appstrate_platform::session::Session;
use serde_json::Value;

use crate::context::Context;
use crate::error::{CliError, ExitStatus};

pub async fn run(ctx: &mut Context) -> Result<ExitStatus, CliError> {
    let session = Session::open(&ctx.env, ctx.global.profile.as_deref()).await?;
    let me = session.get_json("/api/profile").await?;
    let profile = session.profile();
    let text = |v: &Value, key: &str| {
        v.get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let mut lines = vec![
        format!("Profile:  {}", session.profile_name()),
        format!("Instance: {}", profile.instance),
    ];
    if let Some(email) = text(&me, "email") {
        lines.push(format!("User:     {email}"));
    }
    if let Some(name) = text(&me, "displayName").or_else(|| text(&me, "name")) {
        lines.push(format!("Name:     {name}"));
    }
    if let Some(org_id) = &profile.org_id {
        let found = match api::list_orgs(&session).await {
            Ok(orgs) => orgs.into_iter().find(|o| &o.id == org_id),
            Err(_) => None,
        };
        lines.push(match found {
            Some(org) => format!("Org:      {} ({})", org.name, org.id),
            None => format!("Org:      {org_id}"),
        });
    }
    ctx.ui.out(&(lines.join("\n") + "\n"))?;
    Ok(ExitStatus::SUCCESS)
}
