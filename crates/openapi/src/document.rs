//! Parsing a schema document: it must be JSON and a JSON object.

use std::fmt;

use serde_json::Value;

/// Why a schema document was refused. `Display` is the user-facing text
/// (docs/openapi.md#document).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DocumentError {
    /// The bytes are not JSON; carries the parser's message.
    NotJson(String),
    /// Valid JSON, but `null`, a scalar or an array.
    NotObject,
}

impl fmt::Display for DocumentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DocumentError::NotJson(msg) => {
                write!(f, "OpenAPI schema response was not valid JSON: {msg}")
            }
            DocumentError::NotObject => {
                f.write_str("OpenAPI schema response was empty or not an object.")
            }
        }
    }
}

impl std::error::Error for DocumentError {}

/// Parses a schema document. Object key order is kept as written.
pub fn parse_document(bytes: &[u8]) -> Result<Value, DocumentError> {
    let value: Value =
        serde_json::from_slice(bytes).map_err(|e| DocumentError::NotJson(e.to_string()))?;
    if value.is_object() {
        Ok(value)
    } else {
        Err(DocumentError::NotObject)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_non_json_and_non_objects() {
        let err = parse_document(b"<html>").err();
        assert!(matches!(err, Some(DocumentError::NotJson(_))));
        let text = err.map(|e| e.to_string()).unwrap_or_default();
        assert!(
            text.starts_with("OpenAPI schema response was not valid JSON: "),
            "{text}"
        );
        for bad in [&b"null"[..], b"[]", b"42", b"\"x\"", b"true"] {
            assert_eq!(parse_document(bad), Err(DocumentError::NotObject));
        }
        assert_eq!(
            DocumentError::NotObject.to_string(),
            "OpenAPI schema response was empty or not an object."
        );
        assert!(parse_document(b"{\"openapi\":\"3.1.0\"}").is_ok());
    }
}
