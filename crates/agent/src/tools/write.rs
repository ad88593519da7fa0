//! `write`: create or overwrite a file, creating parent directories.

use serde_json::{Value, json};

use super::{ToolContext, ToolOutcome, arg_str};

pub fn description() -> String {
    "Write content to a file. Creates the file if it doesn't exist, overwrites if it does. Automatically creates parent directories.".to_string()
}

pub fn schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "path": {"type": "string", "description": "Path to the file to write (relative or absolute)"},
            "content": {"type": "string", "description": "Content to write to the file"}
        },
        "required": ["path", "content"]
    })
}

pub fn run(args: &Value, ctx: &ToolContext) -> ToolOutcome {
    let path = arg_str(args, "path").unwrap_or("");
    let content = arg_str(args, "content").unwrap_or("");
    let abs = ctx.resolve(path);
    if let Some(parent) = abs.parent()
        && let Err(e) = std::fs::create_dir_all(parent)
    {
        return ToolOutcome::error(format!("Cannot create {}: {e}", parent.display()));
    }
    // The agent's own files: a plain write with ordinary permissions, as Pi does.
    match std::fs::write(&abs, content) {
        Ok(()) => ToolOutcome::ok(format!(
            "Successfully wrote {} bytes to {path}",
            content.len()
        )),
        Err(e) => ToolOutcome::error(format!("Cannot write {}: {e}", abs.display())),
    }
}
