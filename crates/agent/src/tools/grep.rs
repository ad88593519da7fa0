//! `grep`: ripgrep's library crates, honouring `.gitignore`; matches as
//! `path:line: text`, context lines as `path-line- text`.

use std::path::{Path, PathBuf};

use grep_regex::{RegexMatcher, RegexMatcherBuilder};
use grep_searcher::sinks::UTF8;
use grep_searcher::{BinaryDetection, SearcherBuilder};
use serde_json::{Value, json};

use super::truncate::{GREP_MAX_LINE_CHARS, MAX_BYTES, listing_text, truncate_line};
use super::{ToolContext, ToolOutcome, arg_bool, arg_str, arg_usize};

const DEFAULT_LIMIT: usize = 100;

pub fn description() -> String {
    format!(
        "Search file contents for a pattern. Returns matching lines with file paths and line numbers. Respects .gitignore. Output is truncated to {DEFAULT_LIMIT} matches or {}KB (whichever is hit first). Long lines are truncated to {GREP_MAX_LINE_CHARS} chars.",
        MAX_BYTES / 1024
    )
}

pub fn schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "pattern": {"type": "string", "description": "Search pattern (regex or literal string)"},
            "path": {"type": "string", "description": "Directory or file to search (default: current directory)"},
            "glob": {"type": "string", "description": "Filter files by glob pattern, e.g. '*.ts' or '**/*.spec.ts'"},
            "ignoreCase": {"type": "boolean", "description": "Case-insensitive search (default: false)"},
            "literal": {"type": "boolean", "description": "Treat pattern as literal string instead of regex (default: false)"},
            "context": {"type": "number", "description": "Number of lines to show before and after each match (default: 0)"},
            "limit": {"type": "number", "description": "Maximum number of matches to return (default: 100)"}
        },
        "required": ["pattern"]
    })
}

/// A walker over `root` that honours ignore files (also outside a git
/// repository), includes dotfiles and skips `.git`.
pub(super) fn walker(root: &Path, glob: Option<&str>) -> Result<ignore::Walk, String> {
    let mut b = ignore::WalkBuilder::new(root);
    b.hidden(false).require_git(false).parents(true);
    b.filter_entry(|e| e.file_name() != ".git");
    if let Some(g) = glob {
        let mut o = ignore::overrides::OverrideBuilder::new(root);
        o.add(g).map_err(|e| format!("Invalid glob {g:?}: {e}"))?;
        b.overrides(o.build().map_err(|e| format!("Invalid glob {g:?}: {e}"))?);
    }
    let mut walk = b;
    walk.sort_by_file_path(|a, b| a.cmp(b));
    Ok(walk.build())
}

pub fn run(args: &Value, ctx: &ToolContext) -> ToolOutcome {
    let pattern = arg_str(args, "pattern").unwrap_or("");
    let root = ctx.resolve(arg_str(args, "path").unwrap_or("."));
    let limit = arg_usize(args, "limit").unwrap_or(DEFAULT_LIMIT).max(1);
    let context = arg_usize(args, "context").unwrap_or(0);
    let meta = match std::fs::metadata(&root) {
        Ok(m) => m,
        Err(_) => return ToolOutcome::error(format!("Path not found: {}", root.display())),
    };
    let matcher = match RegexMatcherBuilder::new()
        .case_insensitive(arg_bool(args, "ignoreCase"))
        .fixed_strings(arg_bool(args, "literal"))
        .build(pattern)
    {
        Ok(m) => m,
        Err(e) => return ToolOutcome::error(format!("Invalid pattern: {e}")),
    };
    let files = if meta.is_dir() {
        match files_under(&root, arg_str(args, "glob")) {
            Ok(files) => files,
            Err(e) => return ToolOutcome::error(e),
        }
    } else {
        vec![root.clone()]
    };
    let matches = first_matches(&matcher, files, limit);
    if matches.is_empty() {
        return ToolOutcome::ok("No matches found");
    }
    let limit_reached = matches.len() >= limit;
    let names = DisplayNames {
        root: &root,
        is_dir: meta.is_dir(),
    };
    let (out, lines_cut) = matches_with_context(&matches, &names, context);
    let limit_notice = limit_reached.then(|| {
        format!(
            "{limit} matches limit reached. Use limit={} for more, or refine pattern",
            limit * 2
        )
    });
    let lines_notice = lines_cut.then(|| {
        format!(
            "Some lines truncated to {GREP_MAX_LINE_CHARS} chars. Use read tool to see full lines"
        )
    });
    ToolOutcome::ok(listing_text(&out, limit_notice, lines_notice))
}

/// The files a directory search visits, in path order.
fn files_under(root: &Path, glob: Option<&str>) -> Result<Vec<PathBuf>, String> {
    Ok(walker(root, glob)?
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_some_and(|t| t.is_file()))
        .map(|e| e.into_path())
        .collect())
}

/// The first `limit` matching lines, as (file, line number); binary files
/// are skipped, and each search stops once the limit is in sight.
fn first_matches(matcher: &RegexMatcher, files: Vec<PathBuf>, limit: usize) -> Vec<(PathBuf, u64)> {
    let mut searcher = SearcherBuilder::new()
        .binary_detection(BinaryDetection::quit(0))
        .line_number(true)
        .build();
    let mut matches: Vec<(PathBuf, u64)> = Vec::new();
    for file in files {
        let mut found = Vec::new();
        let remaining = limit - matches.len();
        let _ = searcher.search_path(
            matcher,
            &file,
            UTF8(|line, _| {
                found.push(line);
                Ok(found.len() < remaining)
            }),
        );
        for line in found {
            matches.push((file.clone(), line));
            if matches.len() >= limit {
                return matches;
            }
        }
    }
    matches
}

/// How a file is named in the listing: relative to the searched directory,
/// or by its bare name when a single file was searched.
struct DisplayNames<'a> {
    root: &'a Path,
    is_dir: bool,
}

impl DisplayNames<'_> {
    fn of(&self, p: &Path) -> String {
        if self.is_dir
            && let Ok(rel) = p.strip_prefix(self.root)
            && !rel.as_os_str().is_empty()
        {
            return rel.to_string_lossy().into_owned();
        }
        p.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
}

/// Each match as `path:line: text`, with `context` lines either side as
/// `path-line- text`; also whether any line was cut to its maximum length.
fn matches_with_context(
    matches: &[(PathBuf, u64)],
    names: &DisplayNames,
    context: usize,
) -> (Vec<String>, bool) {
    let mut out: Vec<String> = Vec::new();
    let mut lines_cut = false;
    // Matches come grouped by file: read each file once.
    let mut cache: Option<(PathBuf, Vec<String>)> = None;
    for (file, line) in matches {
        if cache.as_ref().is_none_or(|(p, _)| p != file) {
            cache = Some((file.clone(), file_lines(file)));
        }
        let lines = cache.as_ref().map(|(_, l)| l.as_slice()).unwrap_or(&[]);
        let name = names.of(file);
        let line = *line as usize;
        let start = line.saturating_sub(context).max(1);
        let end = (line + context).min(lines.len().max(line));
        for n in start..=end {
            let (text, cut) = truncate_line(
                lines.get(n - 1).map(String::as_str).unwrap_or(""),
                GREP_MAX_LINE_CHARS,
            );
            lines_cut |= cut;
            if n == line {
                out.push(format!("{name}:{n}: {text}"));
            } else {
                out.push(format!("{name}-{n}- {text}"));
            }
        }
    }
    (out, lines_cut)
}

/// A file's lines, CRLF read as LF; an unreadable file has none.
fn file_lines(file: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    text.replace("\r\n", "\n")
        .split('\n')
        .map(str::to_string)
        .collect()
}
