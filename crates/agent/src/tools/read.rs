//! `read`: a text file, head-truncated, with continuation notices; an image
//! file (PNG, JPEG, GIF, WebP) as an image for the model.

use serde_json::{Value, json};

use super::image_file;
use super::truncate::{MAX_BYTES, MAX_LINES, TruncatedBy, format_size, truncate_head};
use super::{ToolContext, ToolOutcome, arg_str, arg_usize};

pub fn description() -> String {
    format!(
        "Read the contents of a file. Supports text files and images (jpg, png, gif, webp). Images are sent as attachments. For text files, output is truncated to {MAX_LINES} lines or {}KB (whichever is hit first). Use offset/limit for large files. When you need the full file, continue with offset until complete.",
        MAX_BYTES / 1024
    )
}

pub fn schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "path": {"type": "string", "description": "Path to the file to read (relative or absolute)"},
            "offset": {"type": "number", "description": "Line number to start reading from (1-indexed)"},
            "limit": {"type": "number", "description": "Maximum number of lines to read"}
        },
        "required": ["path"]
    })
}

pub fn run(args: &Value, ctx: &ToolContext) -> ToolOutcome {
    let path = arg_str(args, "path").unwrap_or("");
    let abs = ctx.resolve(path);
    let bytes = match std::fs::read(&abs) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return ToolOutcome::error(format!(
                "ENOENT: no such file or directory, access '{}'",
                abs.display()
            ));
        }
        Err(e) => return ToolOutcome::error(format!("Cannot read {}: {e}", abs.display())),
    };
    if let Some(mime) = image_file::detect_mime(&bytes) {
        return read_image(&abs, &bytes, mime);
    }
    // Other binary content is useless to the model and can be huge: say what it is.
    if is_binary(&bytes) {
        return ToolOutcome::ok(format!(
            "[Binary file {path} ({}) not shown. Use bash (e.g. `file` or `xxd | head`) to inspect it.]",
            format_size(bytes.len())
        ));
    }
    let text = String::from_utf8_lossy(&bytes);
    let lines: Vec<&str> = text.split('\n').collect();
    let total = lines.len();
    let offset = arg_usize(args, "offset");
    let start = offset.map(|o| o.saturating_sub(1)).unwrap_or(0);
    if start >= total {
        return ToolOutcome::error(format!(
            "Offset {} is beyond end of file ({total} lines total)",
            offset.unwrap_or(0)
        ));
    }
    let limit = arg_usize(args, "limit");
    let end = match limit {
        Some(l) => (start + l).min(total),
        None => total,
    };
    let selected = lines[start..end].join("\n");
    let t = truncate_head(&selected, MAX_LINES, MAX_BYTES);
    let first = start + 1;
    let text = if t.first_line_exceeds {
        format!(
            "[Line {first} is {}, exceeds {} limit. Use bash: sed -n '{first}p' {path} | head -c {MAX_BYTES}]",
            format_size(lines[start].len()),
            format_size(MAX_BYTES)
        )
    } else if let Some(by) = t.truncated_by {
        let last = first + t.output_lines - 1;
        let next = last + 1;
        match by {
            TruncatedBy::Lines => format!(
                "{}\n\n[Showing lines {first}-{last} of {total}. Use offset={next} to continue.]",
                t.content
            ),
            TruncatedBy::Bytes => format!(
                "{}\n\n[Showing lines {first}-{last} of {total} ({} limit). Use offset={next} to continue.]",
                t.content,
                format_size(MAX_BYTES)
            ),
        }
    } else if limit.is_some() && end < total {
        format!(
            "{}\n\n[{} more lines in file. Use offset={} to continue.]",
            t.content,
            total - end,
            end + 1
        )
    } else {
        t.content
    };
    ToolOutcome::ok(text)
}

/// A short line for the model plus the image; a resized image says how its
/// coordinates map back to the file (Pi's notes).
fn read_image(abs: &std::path::Path, bytes: &[u8], mime: &'static str) -> ToolOutcome {
    let prepared = match image_file::prepare(bytes, mime) {
        Ok(p) => p,
        Err(e) => {
            return ToolOutcome::error(format!(
                "Cannot read image {}: {e} (the file looks like {mime} but does not decode; is it truncated or corrupt?)",
                abs.display()
            ));
        }
    };
    let mut text = format!("Read image file [{}]", prepared.image.mime_type);
    if prepared.was_resized() {
        let scale = prepared.original_width as f64 / prepared.image.width as f64;
        text.push_str(&format!(
            "\n[Image: original {}x{}, displayed at {}x{}. Multiply coordinates by {scale:.2} to map to original image.]",
            prepared.original_width,
            prepared.original_height,
            prepared.image.width,
            prepared.image.height
        ));
    }
    ToolOutcome {
        images: vec![prepared.image],
        ..ToolOutcome::ok(text)
    }
}

/// A NUL byte near the start: not text.
fn is_binary(bytes: &[u8]) -> bool {
    bytes[..bytes.len().min(8192)].contains(&0)
}
