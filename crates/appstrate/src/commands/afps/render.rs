//! `appstrate afps render <file>`: the package prompt (Mustache) or the
//! platform system prompt for a context and snapshot.

use std::path::PathBuf;

use appstrate_afps::mustache::render_prompt;
use appstrate_afps::{ExecutionContext, platform_prompt};
use clap::Args;

use super::{load, read_json, usage};
use crate::context::Context;
use crate::error::{CliError, ExitStatus};

#[derive(Debug, Args)]
pub struct RenderArgs {
    /// A .afps or .afps-bundle file
    pub file: PathBuf,
    /// JSON context {runId?, input?, …}
    #[arg(long, value_name = "FILE")]
    pub context: Option<PathBuf>,
    /// JSON snapshot {memories?, history?, checkpoint?} merged onto the context
    #[arg(long, value_name = "FILE")]
    pub snapshot: Option<PathBuf>,
    /// Print the platform system prompt instead of the Mustache render
    #[arg(long)]
    pub platform: bool,
}

pub fn run(ctx: &mut Context, a: RenderArgs) -> Result<ExitStatus, CliError> {
    let b = load(ctx, &a.file)?;
    let mut context = ExecutionContext {
        run_id: "cli-dry-run".into(),
        ..Default::default()
    };
    if let Some(p) = &a.context {
        let v = read_json(p, "context file")?;
        if !v.is_object() {
            return Err(usage(format!(
                "context file {} must be a JSON object",
                p.display()
            )));
        }
        context = serde_json::from_value(v).map_err(|e| {
            usage(format!(
                "context file {} has the wrong shape: {e}",
                p.display()
            ))
        })?;
        if context.run_id.is_empty() {
            context.run_id = "cli-dry-run".into();
        }
    }
    if let Some(p) = &a.snapshot {
        let v = read_json(p, "snapshot file")?;
        let Some(obj) = v.as_object() else {
            return Err(usage(format!(
                "snapshot file {} must be a JSON object",
                p.display()
            )));
        };
        for key in ["memories", "history"] {
            if obj.get(key).is_some_and(|m| !m.is_array()) {
                return Err(usage(format!(
                    "snapshot file {}: {key} must be an array when present",
                    p.display()
                )));
            }
        }
        context.apply_snapshot(obj);
    }
    let text = if a.platform {
        platform_prompt(&b, &context, "Appstrate CLI")
    } else {
        let template = b.root_package().text("prompt.md").unwrap_or_default();
        render_prompt(&template, &context).map_err(|e| {
            CliError::user(format!(
                "{}: prompt.md is not a valid Mustache template: {e}",
                a.file.display()
            ))
        })?
    };
    ctx.ui.out(&text)?;
    if !text.ends_with('\n') {
        ctx.ui.out("\n")?;
    }
    Ok(ExitStatus::SUCCESS)
}
