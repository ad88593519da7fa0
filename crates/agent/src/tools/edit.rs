//! `edit`: replace one exact occurrence of a text in a file.

use serde_json::{Value, json};

use super::{ToolContext, ToolOutcome, arg_str};

pub fn description() -> String {
    "Edit a file by replacing exact text. The oldText must match exactly (including whitespace). Use this for precise, surgical edits.".to_string()
}

pub fn schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "path": {"type": "string", "description": "Path to the file to edit (relative or absolute)"},
            "oldText": {"type": "string", "description": "Exact text to find and replace (must match exactly)"},
            "newText": {"type": "string", "description": "New text to replace the old text with"}
        },
        "required": ["path", "oldText", "newText"]
    })
}

pub fn run(args: &Value, ctx: &ToolContext) -> ToolOutcome {
    let path = arg_str(args, "path").unwrap_or("");
    let old = arg_str(args, "oldText").unwrap_or("").replace("\r\n", "\n");
    let new = arg_str(args, "newText").unwrap_or("").replace("\r\n", "\n");
    let abs = ctx.resolve(path);
    let raw = match std::fs::read_to_string(&abs) {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return ToolOutcome::error(format!("File not found: {path}"));
        }
        Err(e) => return ToolOutcome::error(format!("Cannot read {path}: {e}")),
    };
    // Match on LF text without a BOM; write back the file's own conventions.
    let (bom, body) = match raw.strip_prefix('\u{feff}') {
        Some(rest) => ("\u{feff}", rest),
        None => ("", raw.as_str()),
    };
    let crlf = body.contains("\r\n");
    let normalized = body.replace("\r\n", "\n");
    if old.is_empty() {
        return ToolOutcome::error(format!("oldText must not be empty in {path}."));
    }
    let count = normalized.matches(old.as_str()).count();
    if count == 0 {
        return ToolOutcome::error(format!(
            "Could not find the exact text in {path}. The old text must match exactly including all whitespace and newlines."
        ));
    }
    if count > 1 {
        return ToolOutcome::error(format!(
            "Found {count} occurrences of the text in {path}. The text must be unique. Please provide more context to make it unique."
        ));
    }
    let replaced = normalized.replacen(old.as_str(), &new, 1);
    if replaced == normalized {
        return ToolOutcome::error(format!(
            "No changes made to {path}. The replacement produced identical content."
        ));
    }
    let line = normalized[..normalized.find(old.as_str()).unwrap_or(0)]
        .matches('\n')
        .count()
        + 1;
    let out = if crlf {
        replaced.replace('\n', "\r\n")
    } else {
        replaced
    };
    if let Err(e) = std::fs::write(&abs, format!("{bom}{out}")) {
        return ToolOutcome::error(format!("Cannot write {path}: {e}"));
    }
    let mut outcome = ToolOutcome::ok(format!("Successfully replaced text in {path}."));
    outcome.details = Some(json!({"firstChangedLine": line}));
    outcome
}
