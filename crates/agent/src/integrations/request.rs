//! The arguments of an `api_call` tool: the schema the model sees, and the
//! request they describe.

use std::path::PathBuf;

use base64::Engine;
use serde_json::{Value, json};

use crate::tools::ToolContext;

/// Largest request body (`fromFile`, `fromBytes`).
pub const MAX_REQUEST_BODY_BYTES: u64 = 10 * 1024 * 1024;
/// Inline replies larger than this are truncated unless asked otherwise.
pub const DEFAULT_INLINE_BYTES: usize = 256 * 1024;
pub const MAX_INLINE_BYTES: usize = 1_000_000;

pub fn schema() -> Value {
    let no_ctl = "^[^\\r\\n\\x00]*$";
    json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["method", "target"],
        "properties": {
            "method": {"type": "string", "enum": ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"]},
            "target": {"type": "string", "description": "Absolute http(s) URL of the API endpoint; {{field}} placeholders are replaced by credential fields."},
            "headers": {
                "type": "object",
                "description": "Request headers (no CR, LF or NUL). Authorization is set for you.",
                "propertyNames": {"pattern": "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$"},
                "additionalProperties": {"type": "string", "pattern": no_ctl}
            },
            "body": {
                "description": "A string, {fromFile: path}, {fromBytes: base64, encoding: \"base64\"} or null.",
                "anyOf": [
                    {"type": "string"},
                    {"type": "null"},
                    {"type": "object", "additionalProperties": false, "required": ["fromFile"],
                     "properties": {"fromFile": {"type": "string"}}},
                    {"type": "object", "additionalProperties": false, "required": ["fromBytes", "encoding"],
                     "properties": {"fromBytes": {"type": "string"}, "encoding": {"const": "base64"}}},
                    {"type": "object", "required": ["multipart"],
                     "properties": {"multipart": {"type": "array"}}}
                ]
            },
            "substituteBody": {"type": "boolean", "description": "Replace {{field}} placeholders in a string body too."},
            "responseMode": {
                "type": "object",
                "additionalProperties": false,
                "properties": {
                    "toFile": {"type": "string", "description": "Write the reply body to this path instead of returning it."},
                    "maxInlineBytes": {"type": "integer", "minimum": 1, "maximum": MAX_INLINE_BYTES}
                }
            }
        }
    })
}

/// Where the reply body goes.
pub struct ResponseMode {
    pub to_file: Option<PathBuf>,
    pub max_inline: usize,
}

pub struct ApiRequest {
    pub method: reqwest::Method,
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Body>,
    pub substitute_body: bool,
    pub response: ResponseMode,
}

/// A body: text (may carry placeholders) or bytes.
pub enum Body {
    Text(String),
    Bytes(Vec<u8>),
}

impl ApiRequest {
    pub fn from_args(args: &Value, ctx: &ToolContext) -> Result<ApiRequest, String> {
        let text = |k: &str| args.get(k).and_then(Value::as_str).unwrap_or_default();
        let method = reqwest::Method::from_bytes(text("method").as_bytes())
            .map_err(|_| "method must be GET, POST, PUT, PATCH, DELETE or HEAD".to_string())?;
        let headers = args
            .get("headers")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                    .collect()
            })
            .unwrap_or_default();
        let body = match args.get("body") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(Body::Text(s.clone())),
            Some(Value::Object(o)) if o.contains_key("multipart") => {
                return Err("multipart bodies are not supported by `appstrate run` yet; send a fromFile or fromBytes body with your own Content-Type".into());
            }
            Some(Value::Object(o)) => {
                if let Some(path) = o.get("fromFile").and_then(Value::as_str) {
                    Some(Body::Bytes(read_body_file(&ctx.resolve(path))?))
                } else {
                    let data = o.get("fromBytes").and_then(Value::as_str).unwrap_or("");
                    let bytes = base64::engine::general_purpose::STANDARD
                        .decode(data)
                        .map_err(|e| format!("body.fromBytes is not valid base64: {e}"))?;
                    if bytes.len() as u64 > MAX_REQUEST_BODY_BYTES {
                        return Err(too_large());
                    }
                    Some(Body::Bytes(bytes))
                }
            }
            Some(_) => return Err("body must be a string, an object or null".into()),
        };
        let mode = args.get("responseMode");
        let response = ResponseMode {
            to_file: mode
                .and_then(|m| m.get("toFile"))
                .and_then(Value::as_str)
                .map(|p| ctx.resolve(p)),
            max_inline: mode
                .and_then(|m| m.get("maxInlineBytes"))
                .and_then(Value::as_u64)
                .map(|n| (n as usize).clamp(1, MAX_INLINE_BYTES))
                .unwrap_or(DEFAULT_INLINE_BYTES),
        };
        Ok(ApiRequest {
            method,
            target: text("target").to_string(),
            headers,
            body,
            substitute_body: args
                .get("substituteBody")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            response,
        })
    }
}

fn too_large() -> String {
    format!("the request body is larger than {MAX_REQUEST_BODY_BYTES} bytes")
}

fn read_body_file(path: &std::path::Path) -> Result<Vec<u8>, String> {
    let meta =
        std::fs::metadata(path).map_err(|e| format!("body.fromFile {}: {e}", path.display()))?;
    if meta.len() > MAX_REQUEST_BODY_BYTES {
        return Err(too_large());
    }
    std::fs::read(path).map_err(|e| format!("body.fromFile {}: {e}", path.display()))
}
