//! What a local run reads from this machine before anything else (docs/run.md
//! "Local runs"): the package file's presence, the caller's input, the
//! snapshot and the integration credentials. Bad files fail here, before any
//! key is looked up or the network is touched.

use std::path::{Path, PathBuf};

use appstrate_agent::creds::CredsFile;
use serde_json::{Map, Value};

use super::RunArgs;
use crate::error::CliError;

pub struct LocalInputs {
    pub caller_input: Map<String, Value>,
    pub snapshot: Option<Map<String, Value>>,
    /// `--creds-file`, parsed.
    #[allow(dead_code)]
    pub creds: Option<CredsFile>,
}

impl LocalInputs {
    pub fn read(args: &RunArgs) -> Result<LocalInputs, CliError> {
        Ok(LocalInputs {
            caller_input: read_input(args)?,
            snapshot: args.snapshot.as_deref().map(read_snapshot).transpose()?,
            creds: args.creds_file.as_deref().map(read_creds).transpose()?,
        })
    }
}

/// The package file, absolute: it must exist and be a regular file.
pub fn package_path(path: &Path) -> Result<PathBuf, CliError> {
    let path = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    match std::fs::metadata(&path) {
        Err(_) => Err(CliError::user(format!(
            "Bundle not found: {}",
            path.display()
        ))),
        Ok(meta) if !meta.is_file() => Err(CliError::user(format!(
            "Not a file: {} — give the path of an .afps or .afps-bundle file",
            path.display()
        ))),
        Ok(_) => Ok(path),
    }
}

/// `--input-file` wins over `--input`; either must hold a JSON object.
pub(super) fn read_input(args: &RunArgs) -> Result<Map<String, Value>, CliError> {
    let (text, what) = if let Some(file) = &args.input_file {
        let t = std::fs::read_to_string(file).map_err(|e| {
            CliError::user(format!("Cannot read --input-file {}: {e}", file.display()))
        })?;
        (t, "--input-file")
    } else if let Some(inline) = &args.input {
        (inline.clone(), "--input")
    } else {
        return Ok(Map::new());
    };
    // `--input` is a flag value (usage, exit 2); `--input-file` is a file
    // (bad input, exit 1).
    let refuse = |message: String| {
        if args.input_file.is_some() {
            CliError::user(message)
        } else {
            CliError::usage(message)
        }
    };
    match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(refuse(format!(
            "{what} must be a JSON object, e.g. '{{\"topic\":\"x\"}}'"
        ))),
        Err(e) => Err(refuse(format!("{what} is not valid JSON: {e}"))),
    }
}

/// `{memories?, history?, checkpoint?}`; other keys are ignored.
fn read_snapshot(path: &Path) -> Result<Map<String, Value>, CliError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::user(format!("Cannot read --snapshot: {e}")))?;
    let value: Value = serde_json::from_str(&text)
        .map_err(|e| CliError::user(format!("--snapshot is not valid JSON: {e}")))?;
    let Value::Object(map) = value else {
        return Err(CliError::user("--snapshot must be a JSON object"));
    };
    for key in ["memories", "history"] {
        if map.get(key).is_some_and(|v| !v.is_array()) {
            return Err(CliError::user(format!(
                "--snapshot.{key} must be an array when present"
            )));
        }
    }
    Ok(map)
}

fn read_creds(path: &Path) -> Result<CredsFile, CliError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::user(format!("Cannot read --creds-file {}: {e}", path.display())))?;
    CredsFile::parse(&text).map_err(|what| {
        CliError::user(format!("--creds-file {}: {what}", path.display())).with_hint(
            "expected {\"version\": 1, \"integrations\": {\"@scope/name\": {\"fields\": {…}}}}",
        )
    })
}
