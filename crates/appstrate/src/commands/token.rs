//! `appstrate token`: metadata about the stored tokens, never the tokens
//! (docs/platform-api.md#access-token). No network.

use appstrate_platform::PlatformError;
use appstrate_platform::config::Config;
use appstrate_platform::credentials::CredentialStore;
use appstrate_platform::tokens::{decode_jwt_payload, now_ms};
use serde_json::{Map, Value};

use crate::commands::JsonArgs;
use crate::context::Context;
use crate::error::{CliError, ExitStatus};

pub async fn run(ctx: &mut Context, args: JsonArgs) -> Result<ExitStatus, CliError> {
    let config = Config::load(&ctx.config_dir())?;
    let name = ctx.profile_name(config.default_profile());
    let Some(profile) = config.profile(&name) else {
        return Err(appstrate_platform::session::not_configured(&name).into());
    };
    let store = CredentialStore::open(&ctx.env).await;
    let Some(tokens) = store.load(&name).await? else {
        return Err(PlatformError::Auth(format!(
            "No tokens stored for profile \"{name}\". Run: appstrate login --profile {}",
            appstrate_platform::session::shell_word(&name)
        ))
        .into());
    };
    let now = now_ms();
    if args.json {
        // Metadata only: the tokens themselves never reach the output.
        let report = serde_json::json!({
            "profile": name,
            "instance": profile.instance,
            "accessToken": {
                "status": status_word(access_status(tokens.expires_at - now)),
                "expiresAt": iso(tokens.expires_at),
            },
            "refreshToken": tokens.refresh.as_ref().map(|r| serde_json::json!({
                "status": status_word(refresh_status(r.expires_at - now)),
                "expiresAt": iso(r.expires_at),
            })),
        });
        ctx.ui.line(&report.to_string())?;
        return Ok(ExitStatus::SUCCESS);
    }
    let mut out = vec![
        row("Profile:", &name),
        row("Instance:", &profile.instance),
        String::new(),
        "Access token".into(),
        row("  Status:", access_status(tokens.expires_at - now)),
        row("  Expires:", &relative(tokens.expires_at - now)),
        row("  Expires at:", &iso(tokens.expires_at)),
        String::new(),
        "Refresh token".into(),
    ];
    match &tokens.refresh {
        Some(refresh) => {
            out.push(row("  Status:", refresh_status(refresh.expires_at - now)));
            out.push(row("  Expires:", &relative(refresh.expires_at - now)));
            out.push(row("  Expires at:", &iso(refresh.expires_at)));
        }
        None => out.push(row(
            "  Status:",
            "not stored (legacy credentials: re-run `appstrate login` before the access token expires)",
        )),
    }
    out.push(String::new());
    match decode_jwt_payload(&tokens.access_token) {
        Ok(claims) => out.extend(claim_rows(&claims, tokens.expires_at)),
        Err(_) => out.push(row("JWT claims:", "unavailable (token is not a JWT)")),
    }
    ctx.ui.out(&(out.join("\n") + "\n"))?;
    Ok(ExitStatus::SUCCESS)
}

/// The access token's claims worth knowing, and a warning when its `exp`
/// and the stored expiry (`expires_at`, ms) disagree.
fn claim_rows(claims: &Map<String, Value>, expires_at: i64) -> Vec<String> {
    let mut out = vec!["JWT claims".to_string()];
    for key in ["iss", "aud", "sub", "azp", "actor_type"] {
        out.push(row(&format!("  {key}:"), &string_claim(claims, key)));
    }
    let scope = claims
        .get("scope")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .unwrap_or("(none)");
    out.push(row("  scope:", scope));
    out.push(row("  iat:", &time_claim(claims, "iat")));
    out.push(row("  exp:", &time_claim(claims, "exp")));
    out.push(row("  jti:", &string_claim(claims, "jti")));
    if let Some(exp) = claims.get("exp").and_then(Value::as_f64) {
        let delta = (exp * 1000.0 - expires_at as f64).abs();
        if delta > 2000.0 {
            out.push(String::new());
            out.push(format!(
                "  ⚠  JWT `exp` and stored `expiresAt` differ by {}s.",
                (delta / 1000.0).round() as i64
            ));
            out.push(
                "     The CLI's proactive-rotation decisions key off the stored value;".into(),
            );
            out.push("     re-run `appstrate login` if calls start unexpectedly 401-ing.".into());
        }
    }
    out
}

/// A label padded so values start at column 20.
fn row(label: &str, value: &str) -> String {
    format!("{label:<19}{value}")
}

/// The stable first word of a status line ("fresh", "expired", …) for `--json`.
fn status_word(status: &str) -> &str {
    status.split(' ').next().unwrap_or(status)
}

fn access_status(remaining_ms: i64) -> &'static str {
    if remaining_ms <= 0 {
        "expired (next call will trigger rotation)"
    } else if remaining_ms < 30_000 {
        "rotating-soon (< 30s remaining)"
    } else {
        "fresh"
    }
}

fn refresh_status(remaining_ms: i64) -> &'static str {
    if remaining_ms <= 0 {
        "expired (re-run `appstrate login`)"
    } else if remaining_ms < 24 * 3600 * 1000 {
        "expiring-soon (< 24h remaining)"
    } else {
        "valid"
    }
}

/// `in 14m 32s` / `3d 2h ago`.
fn relative(delta_ms: i64) -> String {
    let secs = (delta_ms.abs() / 1000) as u64;
    let (d, h, m, s) = (
        secs / 86400,
        secs % 86400 / 3600,
        secs % 3600 / 60,
        secs % 60,
    );
    let text = if d > 0 {
        format!("{d}d {h}h")
    } else if h > 0 {
        format!("{h}h {m}m")
    } else if m > 0 {
        format!("{m}m {s}s")
    } else {
        format!("{s}s")
    };
    if delta_ms > 0 {
        format!("in {text}")
    } else {
        format!("{text} ago")
    }
}

/// JavaScript's `toISOString()`: `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub fn iso(epoch_ms: i64) -> String {
    let nanos = i128::from(epoch_ms) * 1_000_000;
    match time::OffsetDateTime::from_unix_timestamp_nanos(nanos) {
        Ok(t) => format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            t.millisecond()
        ),
        Err(_) => "(invalid date)".into(),
    }
}

fn string_claim(claims: &Map<String, Value>, key: &str) -> String {
    match claims.get(key) {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => "(missing)".into(),
    }
}

fn time_claim(claims: &Map<String, Value>, key: &str) -> String {
    match claims.get(key).and_then(Value::as_f64) {
        Some(n) if n.is_finite() => format!("{} ({})", claims[key], iso((n * 1000.0) as i64)),
        _ => "(missing)".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_durations() {
        assert_eq!(relative(872_000), "in 14m 32s");
        assert_eq!(relative(-5_000), "5s ago");
        assert_eq!(relative(0), "0s ago");
        assert_eq!(relative(30 * 86400 * 1000 - 3_600_000), "in 29d 23h");
        assert_eq!(relative(3 * 3600 * 1000 + 60_000), "in 3h 1m");
    }

    #[test]
    fn iso_matches_javascript() {
        assert_eq!(iso(1713543325000), "2024-04-19T16:15:25.000Z");
        assert_eq!(iso(1713543325123), "2024-04-19T16:15:25.123Z");
    }
}
