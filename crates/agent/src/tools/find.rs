//! `find`: files by glob, honouring `.gitignore`, paths relative to the
//! search directory.

use globset::{GlobBuilder, GlobMatcher};
use serde_json::{Value, json};

use super::truncate::{MAX_BYTES, listing_text};
use super::{ToolContext, ToolOutcome, arg_str, arg_usize};

const DEFAULT_LIMIT: usize = 1000;

pub fn description() -> String {
    format!(
        "Search for files by glob pattern. Returns matching file paths relative to the search directory. Respects .gitignore. Output is truncated to {DEFAULT_LIMIT} results or {}KB (whichever is hit first).",
        MAX_BYTES / 1024
    )
}

pub fn schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "pattern": {"type": "string", "description": "Glob pattern to match files, e.g. '*.ts', '**/*.json', or 'src/**/*.spec.ts'"},
            "path": {"type": "string", "description": "Directory to search in (default: current directory)"},
            "limit": {"type": "number", "description": "Maximum number of results (default: 1000)"}
        },
        "required": ["pattern"]
    })
}

fn compile(pattern: &str) -> Result<GlobMatcher, String> {
    GlobBuilder::new(pattern)
        .literal_separator(true)
        .build()
        .map(|g| g.compile_matcher())
        .map_err(|e| format!("Invalid glob pattern {pattern:?}: {e}"))
}

pub fn run(args: &Value, ctx: &ToolContext) -> ToolOutcome {
    let pattern = arg_str(args, "pattern").unwrap_or("");
    let root = ctx.resolve(arg_str(args, "path").unwrap_or("."));
    let limit = arg_usize(args, "limit").unwrap_or(DEFAULT_LIMIT).max(1);
    if !root.is_dir() {
        return ToolOutcome::error(format!("Path not found: {}", root.display()));
    }
    // Like fd: a pattern without `/` matches the file name, one with `/`
    // matches the path under the search directory.
    let on_path = pattern.contains('/');
    let glob = match compile(pattern) {
        Ok(g) => g,
        Err(e) => return ToolOutcome::error(e),
    };
    let walk = match super::grep::walker(&root, None) {
        Ok(w) => w,
        Err(e) => return ToolOutcome::error(e),
    };
    let mut results = Vec::new();
    let mut limited = false;
    for entry in walk.filter_map(Result::ok) {
        let Ok(rel) = entry.path().strip_prefix(&root) else {
            continue;
        };
        if rel.as_os_str().is_empty() {
            continue;
        }
        let hit = if on_path {
            glob.is_match(rel)
        } else {
            glob.is_match(entry.file_name())
        };
        if !hit {
            continue;
        }
        if results.len() >= limit {
            limited = true;
            break;
        }
        let mut s = rel.to_string_lossy().into_owned();
        if entry.file_type().is_some_and(|t| t.is_dir()) {
            s.push('/');
        }
        results.push(s);
    }
    if results.is_empty() {
        return ToolOutcome::ok("No files found matching pattern");
    }
    let limit_notice = limited.then(|| {
        format!(
            "{limit} results limit reached. Use limit={} for more, or refine pattern",
            limit * 2
        )
    });
    ToolOutcome::ok(listing_text(&results, limit_notice, None))
}
