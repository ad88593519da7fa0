//! `ls`: one directory, alphabetical, `/` after directories, dotfiles included.

use serde_json::{Value, json};

use super::truncate::{MAX_BYTES, listing_text};
use super::{ToolContext, ToolOutcome, arg_str, arg_usize};

const DEFAULT_LIMIT: usize = 500;

pub fn description() -> String {
    format!(
        "List directory contents. Returns entries sorted alphabetically, with '/' suffix for directories. Includes dotfiles. Output is truncated to {DEFAULT_LIMIT} entries or {}KB (whichever is hit first).",
        MAX_BYTES / 1024
    )
}

pub fn schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "path": {"type": "string", "description": "Directory to list (default: current directory)"},
            "limit": {"type": "number", "description": "Maximum number of entries to return (default: 500)"}
        }
    })
}

pub fn run(args: &Value, ctx: &ToolContext) -> ToolOutcome {
    let dir = ctx.resolve(arg_str(args, "path").unwrap_or("."));
    let limit = arg_usize(args, "limit").unwrap_or(DEFAULT_LIMIT).max(1);
    let meta = match std::fs::metadata(&dir) {
        Ok(m) => m,
        Err(_) => return ToolOutcome::error(format!("Path not found: {}", dir.display())),
    };
    if !meta.is_dir() {
        return ToolOutcome::error(format!("Not a directory: {}", dir.display()));
    }
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) => return ToolOutcome::error(format!("Cannot read directory: {e}")),
    };
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .map(|e| {
            let mut name = e.file_name().to_string_lossy().into_owned();
            // Follows links, as stat does: a link to a directory lists as one.
            if std::fs::metadata(e.path())
                .map(|m| m.is_dir())
                .unwrap_or(false)
            {
                name.push('/');
            }
            name
        })
        .collect();
    if names.is_empty() {
        return ToolOutcome::ok("(empty directory)");
    }
    names.sort_by(|a, b| a.to_lowercase().cmp(&b.to_lowercase()).then(a.cmp(b)));
    let limited = names.len() > limit;
    names.truncate(limit);
    let limit_notice = limited.then(|| {
        format!(
            "{limit} entries limit reached. Use limit={} for more",
            limit * 2
        )
    });
    ToolOutcome::ok(listing_text(&names, limit_notice, None))
}
