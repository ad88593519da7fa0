//! `appstrate models list [--json] [--proxy-only]` (docs/platform-api.md#endpoints): the model
//! presets of the pinned organization.

use appstrate_platform::session::Session;
use clap::{Args, Subcommand};
use serde_json::Value;

use crate::context::Context;
use crate::error::{CliError, ExitStatus};
use crate::text::pad_end;

#[derive(Debug, Args)]
pub struct ModelsArgs {
    #[command(subcommand)]
    pub command: ModelsCommand,
}

#[derive(Debug, Subcommand)]
pub enum ModelsCommand {
    /// List the model presets of the pinned organization
    List(ListArgs),
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Print the server's objects as JSON
    #[arg(long)]
    pub json: bool,
    /// Only presets the LLM proxy can serve
    #[arg(long)]
    pub proxy_only: bool,
}

/// API shapes the platform's LLM proxy forwards.
const PROXY_SHAPES: [&str; 3] = [
    "openai-completions",
    "anthropic-messages",
    "mistral-conversations",
];

fn proxy_supported(preset: &Value) -> bool {
    preset
        .get("apiShape")
        .and_then(Value::as_str)
        .is_some_and(|s| PROXY_SHAPES.contains(&s))
}

pub async fn run(ctx: &mut Context, args: ModelsArgs) -> Result<ExitStatus, CliError> {
    let ModelsCommand::List(args) = args.command;
    let session = Session::open(&ctx.env, ctx.global.profile.as_deref()).await?;
    let mut presets = session.list("/api/models").await?;
    if args.proxy_only {
        presets.retain(proxy_supported);
    }
    if args.json {
        ctx.ui
            .line(&appstrate_jsjson::stringify_pretty(&Value::Array(presets)))?;
        return Ok(ExitStatus::SUCCESS);
    }
    if presets.is_empty() {
        ctx.ui.line("(no models)")?;
        return Ok(ExitStatus::SUCCESS);
    }
    let mut out = String::new();
    for preset in &presets {
        out.push_str(&preset_line(preset));
        out.push('\n');
    }
    ctx.ui.out(&out)?;
    Ok(ExitStatus::SUCCESS)
}

/// `  <id:36>  <apiShape:24>  <label>[ [suffixes]]`; fields print as JS
/// template literals would.
fn preset_line(preset: &Value) -> String {
    let field = |key: &str| {
        preset
            .get(key)
            .map(appstrate_jsjson::to_js_string)
            .unwrap_or_else(|| "undefined".into())
    };
    let mut suffixes = Vec::new();
    // The platform sends `is_default`; `isDefault` is what the original read.
    let default_flag = preset.get("is_default").or_else(|| preset.get("isDefault"));
    if appstrate_openapi::js::truthy(default_flag) {
        suffixes.push("default");
    }
    if !appstrate_openapi::js::truthy(preset.get("enabled")) {
        suffixes.push("disabled");
    }
    if preset.get("needs_reconnection") == Some(&Value::Bool(true)) {
        suffixes.push("needs-reconnection");
    }
    if !proxy_supported(preset) {
        suffixes.push("proxy-unsupported");
    }
    let tail = if suffixes.is_empty() {
        String::new()
    } else {
        format!(" [{}]", suffixes.join(", "))
    };
    format!(
        "  {}  {}  {}{tail}",
        pad_end(&field("id"), 36),
        pad_end(&field("apiShape"), 24),
        field("label")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn line_layout_and_suffix_order() {
        let preset = json!({"id": "m1", "apiShape": "google-generative-ai", "label": "Gemini",
            "is_default": true, "enabled": false, "needs_reconnection": true});
        assert_eq!(
            preset_line(&preset),
            format!(
                "  m1{}  google-generative-ai{}  Gemini [default, disabled, needs-reconnection, proxy-unsupported]",
                " ".repeat(34),
                " ".repeat(4)
            )
        );
        let plain = json!({"id": "m2", "apiShape": "anthropic-messages", "label": "Claude", "enabled": true});
        assert!(preset_line(&plain).ends_with("  Claude"));
        let camel = json!({"id": "m3", "apiShape": "anthropic-messages", "label": "Old", "enabled": true, "isDefault": true});
        assert!(preset_line(&camel).ends_with("  Old [default]"));
        let snake_wins = json!({"id": "m4", "apiShape": "anthropic-messages", "label": "New", "enabled": true, "is_default": false, "isDefault": true});
        assert!(preset_line(&snake_wins).ends_with("  New"));
    }
}
