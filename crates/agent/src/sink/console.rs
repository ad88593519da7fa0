//! The human console rendering of RunEvents (docs/run.md "Events and the
//! end of a run"), byte-exact with the original's `console-sink.golden.txt`,
//! and the model's thinking, dimmed, as it streams. Whether to colour is
//! the caller's decision (the binary's `NO_COLOR` / `FORCE_COLOR` /
//! `CLICOLOR_FORCE` rules); the styles are `anstyle`'s.

use std::io::Write;

use anstyle::{AnsiColor, Color, Style};
use serde_json::Value;

use super::Sink;
use crate::events::THINKING_DELTA;

const DIM: Style = Style::new().dimmed();
const RED: Style = fg(AnsiColor::Red);
const GREEN: Style = fg(AnsiColor::Green);
const YELLOW: Style = fg(AnsiColor::Yellow);
const CYAN: Style = fg(AnsiColor::Cyan);

const fn fg(colour: AnsiColor) -> Style {
    Style::new().fg_color(Some(Color::Ansi(colour)))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verbosity {
    Quiet,
    Normal,
    Verbose,
}

const ARGS_MAX: usize = 200;
const RESULT_MAX: usize = 100;
const RESULT_MAX_VERBOSE: usize = 2048;

pub struct ConsoleSink {
    out: Box<dyn Write + Send>,
    err: Box<dyn Write + Send>,
    verbosity: Verbosity,
    colour: bool,
    /// Thinking is being streamed on a line not yet ended.
    thinking_open: bool,
}

impl ConsoleSink {
    pub fn new(
        out: Box<dyn Write + Send>,
        err: Box<dyn Write + Send>,
        verbosity: Verbosity,
        colour: bool,
    ) -> Self {
        ConsoleSink {
            out,
            err,
            verbosity,
            colour,
            thinking_open: false,
        }
    }

    fn paint(&self, style: Style, s: &str) -> String {
        if self.colour {
            format!("{}{s}{}", style.render(), style.render_reset())
        } else {
            s.to_string()
        }
    }

    fn print(&mut self, text: &str) {
        let _ = self.out.write_all(text.as_bytes());
        let _ = self.out.flush();
    }

    /// A piece of thinking, dimmed, on the line it continues.
    fn thinking(&mut self, delta: &str) {
        if delta.is_empty() || self.verbosity == Verbosity::Quiet {
            return;
        }
        let text = self.paint(DIM, delta);
        self.print(&text);
        self.thinking_open = !delta.ends_with('\n');
    }

    /// Ends the thinking line before anything else is printed.
    fn end_thinking(&mut self) {
        if std::mem::take(&mut self.thinking_open) {
            self.print("\n");
        }
    }

    fn tool_event(&mut self, event: &Value, data: &Value, tool: &str) -> String {
        let call_id = data
            .get("toolCallId")
            .or_else(|| event.get("toolCallId"))
            .and_then(Value::as_str);
        let tag = call_id
            .map(|id| {
                let chars: Vec<char> = id.chars().collect();
                let tail: String = chars[chars.len().saturating_sub(8)..].iter().collect();
                self.paint(DIM, &format!(" #{tail}"))
            })
            .unwrap_or_default();
        let verbose = self.verbosity == Verbosity::Verbose;
        if data.get("result").is_none() && data.get("isError").is_none() {
            let mut s = format!("{}{tag}\n", self.paint(CYAN, &format!("→ tool: {tool}")));
            if let Some(args) = data.get("args").filter(|a| !a.is_null()) {
                if verbose {
                    let pretty = serde_json::to_string_pretty(args).unwrap_or_default();
                    s.push_str(&format!("  args  {}\n", pretty.replace('\n', "\n        ")));
                } else {
                    let line = compact_args(args);
                    if !line.is_empty() {
                        s.push_str(&format!("  args  {}\n", cut(&line, ARGS_MAX)));
                    }
                }
            }
            return s;
        }
        let is_error = data
            .get("isError")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let text = result_text(data.get("result").unwrap_or(&Value::Null), verbose);
        let text = if verbose {
            cut(&text, RESULT_MAX_VERBOSE).replace('\n', "\n         ")
        } else {
            cut(
                &text.replace("\r\n", " ↵ ").replace('\n', " ↵ "),
                RESULT_MAX,
            )
        };
        let (mark, label) = if is_error {
            (self.paint(RED, "✗"), "error ")
        } else {
            (self.paint(GREEN, "✓"), "result")
        };
        if text.is_empty() {
            return format!("{mark} {label}{tag} ({tool})\n");
        }
        format!("{mark} {label}{tag} {text}\n")
    }
}

impl Sink for ConsoleSink {
    fn live(&mut self, event: &Value) {
        if event.get("type").and_then(Value::as_str) == Some(THINKING_DELTA)
            && let Some(delta) = event.get("delta").and_then(Value::as_str)
        {
            self.thinking(delta);
        }
    }

    fn event(&mut self, event: &Value) {
        self.end_thinking();
        let ty = event.get("type").and_then(Value::as_str).unwrap_or("");
        let text = match ty {
            "appstrate.progress" => {
                let data = event.get("data").cloned().unwrap_or(Value::Null);
                if let Some(tool) = data.get("tool").and_then(Value::as_str) {
                    if self.verbosity == Verbosity::Quiet {
                        return;
                    }
                    self.tool_event(event, &data, tool)
                } else {
                    let msg = event.get("message").and_then(Value::as_str).unwrap_or("");
                    if msg.starts_with(['→', '✓', '✗', '⚠']) {
                        format!("{msg}\n")
                    } else {
                        format!("→ {msg}\n")
                    }
                }
            }
            "appstrate.error" => {
                let msg = event.get("message").and_then(Value::as_str).unwrap_or("");
                let line = format!("{}\n", self.paint(YELLOW, &format!("⚠ {msg}")));
                let _ = self.err.write_all(line.as_bytes());
                let _ = self.err.flush();
                return;
            }
            "appstrate.metric" => {
                let n = |k: &str| {
                    event
                        .pointer(&format!("/usage/{k}"))
                        .and_then(Value::as_u64)
                        .unwrap_or(0)
                };
                let cost = event.get("cost").and_then(Value::as_f64).unwrap_or(0.0);
                let line = format!(
                    "∑ tokens in={} out={}  ${cost:.4}",
                    n("input_tokens"),
                    n("output_tokens")
                );
                format!("{}\n", self.paint(DIM, &line))
            }
            "memory.added" => {
                let c = event.get("content").and_then(Value::as_str).unwrap_or("");
                format!("{}\n", self.paint(YELLOW, &format!("+ memory: {c}")))
            }
            "output.emitted" => {
                let data = event.get("data").cloned().unwrap_or(Value::Null);
                format!("{}\n", self.paint(GREEN, &format!("✓ output: {data}")))
            }
            _ => return,
        };
        self.print(&text);
    }

    fn finalize(&mut self, result: &Value) {
        self.end_thinking();
        let text = match result.pointer("/error/message").and_then(Value::as_str) {
            Some(m) => format!("\n[run failed] {m}\n"),
            None if result.get("error").is_some_and(|e| !e.is_null()) => {
                "\n[run failed] \n".to_string()
            }
            None => "\n[run complete]\n".to_string(),
        };
        self.print(&text);
    }
}

/// `key: value, key2: value2`: strings raw, the rest compact JSON, nulls skipped.
fn compact_args(args: &Value) -> String {
    match args {
        Value::Object(m) => m
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| match v {
                Value::String(s) => format!("{k}: {s}"),
                other => format!("{k}: {other}"),
            })
            .collect::<Vec<_>>()
            .join(", "),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Cuts at `max` characters and marks the cut with `...`.
fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max).collect();
    out.push_str("...");
    out
}

/// The text shown for a tool result.
fn result_text(result: &Value, verbose: bool) -> String {
    if result.get("__truncated").and_then(Value::as_bool) == Some(true) {
        let size = |k: &str| result.get(k).and_then(Value::as_u64).map(human_size);
        let head = match (size("bytes"), size("limit")) {
            (Some(a), Some(b)) => format!("(truncated {a} > {b})"),
            _ => "(truncated)".to_string(),
        };
        let preview = result.get("preview").and_then(Value::as_str).unwrap_or("");
        let body = unwrap_preview(preview);
        return if body.is_empty() {
            head
        } else {
            format!("{head} {body}")
        };
    }
    if let Some(text) = envelope_text(result) {
        return text;
    }
    match result {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other if verbose => serde_json::to_string_pretty(other).unwrap_or_default(),
        other => other.to_string(),
    }
}

/// The text blocks of an MCP envelope `{content:[{type:"text",text}]}`;
/// an image block as `[image/png 1234x567, 12 KB]`.
fn envelope_text(v: &Value) -> Option<String> {
    let blocks = v.get("content")?.as_array()?;
    let texts: Vec<String> = blocks
        .iter()
        .filter_map(|b| match b.get("type").and_then(Value::as_str) {
            Some("text") => b.get("text").and_then(Value::as_str).map(str::to_string),
            Some("image") => Some(image_summary(b)),
            _ => None,
        })
        .collect();
    if texts.is_empty() && !blocks.is_empty() {
        return None;
    }
    Some(texts.join("\n"))
}

/// What an image block is, never its data (an event from elsewhere may
/// still carry a base64 `data` field).
fn image_summary(block: &Value) -> String {
    let mime = block
        .get("mimeType")
        .and_then(Value::as_str)
        .unwrap_or("image");
    let n = |k: &str| block.get(k).and_then(Value::as_u64);
    let mut s = format!("[{mime}");
    if let (Some(w), Some(h)) = (n("width"), n("height")) {
        s.push_str(&format!(" {w}x{h}"));
    }
    if let Some(bytes) = n("bytes") {
        s.push_str(&format!(", {}", human_size(bytes)));
    }
    s.push(']');
    s
}

/// A truncation preview is the start of the result's JSON, usually cut in
/// the middle of a string: take the envelope's text when the JSON still
/// parses, else rescue the first `"text":"…` string up to the cut.
fn unwrap_preview(preview: &str) -> String {
    if let Ok(v) = serde_json::from_str::<Value>(preview)
        && let Some(t) = envelope_text(&v)
    {
        return t;
    }
    rescue_text(preview).unwrap_or_else(|| preview.to_string())
}

fn rescue_text(s: &str) -> Option<String> {
    // The first `"text"` key (not the `"type":"text"` value) with a string value.
    let body = s.match_indices("\"text\"").find_map(|(at, _)| {
        let rest = s[at + 6..].trim_start().strip_prefix(':')?.trim_start();
        rest.strip_prefix('"')
    })?;
    let mut out = String::new();
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => break,
            '\\' => match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('r') => out.push('\r'),
                Some('b') => out.push('\u{8}'),
                Some('f') => out.push('\u{c}'),
                Some('u') => {
                    let hex: String = chars.by_ref().take(4).collect();
                    if let Some(ch) = u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                        out.push(ch);
                    }
                }
                Some(other) => out.push(other),
                None => break,
            },
            c => out.push(c),
        }
    }
    Some(out)
}

/// `512 B`, `5.9 KB` (one decimal below 10), `12 KB`, then MB and GB.
fn human_size(bytes: u64) -> String {
    let units = ["KB", "MB", "GB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut v = bytes as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit < units.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if v < 10.0 {
        format!("{v:.1} {}", units[unit])
    } else {
        format!("{} {}", v.round() as u64, units[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(human_size(2048), "2.0 KB");
        assert_eq!(human_size(6039), "5.9 KB");
        assert_eq!(human_size(20 * 1024), "20 KB");
        assert_eq!(human_size(100), "100 B");
    }

    #[test]
    fn image_blocks_are_summarised_never_dumped() {
        let result = serde_json::json!({"content": [
            {"type": "text", "text": "Read image file [image/png]"},
            {"type": "image", "mimeType": "image/png", "width": 1234, "height": 567, "bytes": 12_288},
            {"type": "image", "mimeType": "image/jpeg", "data": "QUJDRA=="},
        ]});
        assert_eq!(
            result_text(&result, false),
            "Read image file [image/png]\n[image/png 1234x567, 12 KB]\n[image/jpeg]"
        );
    }

    #[test]
    fn rescue_from_a_cut_preview() {
        let p = "{\"content\":[{\"type\":\"text\",\"text\":\"a\\nb\\\"c…(truncated, 9 bytes)";
        assert_eq!(unwrap_preview(p), "a\nb\"c…(truncated, 9 bytes)");
    }
}
