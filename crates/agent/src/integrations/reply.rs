//! The tool result of an `api_call`: `{"status", "headers", "body"}` as
//! text, the body inline (text or base64) or written to a file; a status of
//! 400 or more is an error result.

use std::io::Write;

use base64::Engine;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::request::ResponseMode;
use crate::tools::ToolOutcome;

/// Largest reply written to a file.
const MAX_FILE_BYTES: u64 = 100 * 1024 * 1024;
/// Past this, an inline reply stops being read (its size is then a floor).
const MAX_COUNTED_BYTES: u64 = 100 * 1024 * 1024;

pub async fn render(
    mut resp: reqwest::Response,
    mode: &ResponseMode,
) -> Result<ToolOutcome, String> {
    let status = resp.status().as_u16();
    let mut headers = Map::new();
    for (name, value) in resp.headers() {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        match headers.get_mut(name.as_str()) {
            Some(Value::String(prev)) => {
                prev.push_str(", ");
                prev.push_str(&value);
            }
            _ => {
                headers.insert(name.as_str().to_string(), Value::String(value));
            }
        }
    }
    let mime = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .filter(|v| !v.is_empty());
    let body = match &mode.to_file {
        Some(path) => {
            let (size, sha) = write_to_file(&mut resp, path).await?;
            json!({
                "kind": "file",
                "path": path.display().to_string(),
                "size": size,
                "mimeType": mime.clone().unwrap_or_else(|| "application/octet-stream".into()),
                "sha256": sha,
            })
        }
        None => inline(&mut resp, mime, mode.max_inline).await?,
    };
    let text = json!({"status": status, "headers": headers, "body": body}).to_string();
    Ok(if status >= 400 {
        ToolOutcome::error(text)
    } else {
        ToolOutcome::ok(text)
    })
}

fn is_text(mime: Option<&str>, bytes: &[u8]) -> bool {
    match mime {
        Some(m) => {
            m.starts_with("text/")
                || ["json", "xml", "javascript", "x-www-form-urlencoded", "yaml"]
                    .iter()
                    .any(|t| m.contains(t))
        }
        None => std::str::from_utf8(bytes).is_ok(),
    }
}

async fn inline(
    resp: &mut reqwest::Response,
    mime: Option<String>,
    limit: usize,
) -> Result<Value, String> {
    let mut kept = Vec::new();
    let mut total: u64 = 0;
    while let Some(chunk) = resp.chunk().await.map_err(read_error)? {
        total += chunk.len() as u64;
        let room = limit.saturating_sub(kept.len());
        kept.extend_from_slice(&chunk[..room.min(chunk.len())]);
        if total > MAX_COUNTED_BYTES {
            break;
        }
    }
    let truncated = total > kept.len() as u64;
    let mut body = if is_text(mime.as_deref(), &kept) {
        let valid = match std::str::from_utf8(&kept) {
            Ok(s) => s.to_string(),
            // A cut inside a character, or a text type that is not UTF-8.
            Err(e) if truncated && e.error_len().is_none() => {
                String::from_utf8_lossy(&kept[..e.valid_up_to()]).into_owned()
            }
            Err(_) => String::from_utf8_lossy(&kept).into_owned(),
        };
        json!({"kind": "text", "text": valid})
    } else {
        json!({
            "kind": "inline",
            "data": base64::engine::general_purpose::STANDARD.encode(&kept),
            "encoding": "base64",
            "mimeType": mime.unwrap_or_else(|| "application/octet-stream".into()),
            "size": kept.len(),
        })
    };
    if truncated {
        body["truncated"] = json!(true);
        body["truncatedSize"] = json!(total);
    }
    Ok(body)
}

async fn write_to_file(
    resp: &mut reqwest::Response,
    path: &std::path::Path,
) -> Result<(u64, String), String> {
    let fail = |e: std::io::Error| format!("responseMode.toFile {}: {e}", path.display());
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(fail)?;
    }
    let mut file = std::fs::File::create(path).map_err(fail)?;
    let mut hasher = Sha256::new();
    let mut size: u64 = 0;
    while let Some(chunk) = resp.chunk().await.map_err(read_error)? {
        size += chunk.len() as u64;
        if size > MAX_FILE_BYTES {
            drop(file);
            let _ = std::fs::remove_file(path);
            return Err(format!(
                "the reply is larger than {MAX_FILE_BYTES} bytes; nothing was written"
            ));
        }
        hasher.update(&chunk);
        file.write_all(&chunk).map_err(fail)?;
    }
    Ok((size, hex::encode(hasher.finalize())))
}

fn read_error(e: reqwest::Error) -> String {
    format!("the reply was cut: {}", e.without_url())
}
