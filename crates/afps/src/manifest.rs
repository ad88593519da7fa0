//! Package identities, lenient manifest access and companion-file rules
//! (docs/afps.md#manifest).

use serde_json::{Map, Value};

use crate::archive::FileMap;
use crate::error::{BundleError, ErrorCode, err};

/// A parsed `@scope/name@version` identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Scope without the `@`.
    pub scope: String,
    /// Package name.
    pub name: String,
    /// Version (any non-empty text).
    pub version: String,
}

impl Identity {
    /// `@scope/name`.
    pub fn package_id(&self) -> String {
        format!("@{}/{}", self.scope, self.name)
    }

    /// The package directory inside a `.afps-bundle`: `packages/@scope/name/version/`.
    pub fn bundle_path(&self) -> String {
        format!("packages/@{}/{}/{}/", self.scope, self.name, self.version)
    }
}

/// Parse `@scope/name@version`: the last `@` splits off the version, the
/// rest must be `@scope/name` with both parts non-empty.
pub fn parse_identity(s: &str) -> Option<Identity> {
    if s.is_empty() || s.len() > 4096 || !s.starts_with('@') {
        return None;
    }
    let at = s.rfind('@')?;
    if at == 0 {
        return None;
    }
    let (pkg, version) = (&s[..at], &s[at + 1..]);
    if version.is_empty() {
        return None;
    }
    let slash = pkg.find('/')?;
    if slash <= 1 {
        return None;
    }
    let (scope, name) = (&pkg[1..slash], &pkg[slash + 1..]);
    if scope.is_empty() || name.is_empty() {
        return None;
    }
    Some(Identity {
        scope: scope.into(),
        name: name.into(),
        version: version.into(),
    })
}

/// Decode text as the platform does (`TextDecoder`): a leading BOM is
/// dropped and invalid UTF-8 becomes U+FFFD.
pub fn decode_text(bytes: &[u8]) -> String {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    String::from_utf8_lossy(bytes).into_owned()
}

/// The strings of a manifest list field such as `required` or
/// `runtime_tools`: non-strings are skipped, anything but an array is empty.
pub fn string_items(field: Option<&Value>) -> Vec<String> {
    field
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// Parse `manifest.json` bytes as a JSON object (`BUNDLE_JSON_INVALID` otherwise).
pub fn parse_manifest(
    bytes: &[u8],
    identity: Option<&str>,
) -> Result<Map<String, Value>, BundleError> {
    let prefix = match identity {
        Some(id) => format!("manifest.json for {id}"),
        None => "manifest.json".to_string(),
    };
    match serde_json::from_str::<Value>(&decode_text(bytes)) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => err(
            ErrorCode::BundleJsonInvalid,
            format!("{prefix} must be a JSON object"),
        ),
        Err(e) => err(
            ErrorCode::BundleJsonInvalid,
            format!("{prefix} is not valid JSON: {e}"),
        ),
    }
}

/// Enforce the companion files of a package type: an agent needs a
/// non-blank `prompt.md`, a skill a `SKILL.md` with a front-matter `name`,
/// an mcp-server its `server.entry_point` file. Violations are `ARCHIVE_INVALID`.
pub fn check_companion_files(
    manifest: &Map<String, Value>,
    files: &FileMap,
) -> Result<(), BundleError> {
    match manifest.get("type").and_then(Value::as_str) {
        Some("agent") => match files.get("prompt.md") {
            None => err(
                ErrorCode::ArchiveInvalid,
                "agent package must contain prompt.md at the archive root",
            ),
            Some(b) if b.iter().all(|c| matches!(c, 0x09 | 0x0a | 0x0d | 0x20)) => err(
                ErrorCode::ArchiveInvalid,
                "agent prompt.md must not be empty or whitespace-only",
            ),
            Some(_) => Ok(()),
        },
        Some("skill") => match files.get("SKILL.md") {
            None => err(
                ErrorCode::ArchiveInvalid,
                "skill package must contain SKILL.md at the archive root",
            ),
            Some(b) if !has_frontmatter_name(&decode_text(b)) => err(
                ErrorCode::ArchiveInvalid,
                "skill SKILL.md must declare a 'name' in YAML frontmatter",
            ),
            Some(_) => Ok(()),
        },
        Some("mcp-server") => {
            let entry = manifest
                .get("server")
                .and_then(|s| s.get("entry_point"))
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty());
            match entry {
                None => err(
                    ErrorCode::ArchiveInvalid,
                    "mcp-server manifest must declare server.entry_point",
                ),
                Some(e) if !files.contains_key(e) => err(
                    ErrorCode::ArchiveInvalid,
                    format!("mcp-server archive missing server.entry_point payload: {e}"),
                ),
                Some(_) => Ok(()),
            }
        }
        _ => Ok(()),
    }
}

/// `^---[^\S\n]*\n([\s\S]*?)\n---` then `name:[ \t]*(.+)` with optional quotes.
fn has_frontmatter_name(content: &str) -> bool {
    let Some(rest) = content.strip_prefix("---") else {
        return false;
    };
    let rest = rest.trim_start_matches(|c: char| c.is_whitespace() && c != '\n');
    let Some(rest) = rest.strip_prefix('\n') else {
        return false;
    };
    let Some(end) = rest.find("\n---") else {
        return false;
    };
    let fm = &rest[..end];
    // The regex takes the first `name:` followed by at least one character on its line.
    let line = fm
        .match_indices("name:")
        .map(|(pos, _)| {
            fm[pos + 5..]
                .split(['\n', '\r', '\u{2028}', '\u{2029}'])
                .next()
                .unwrap_or("")
        })
        .find(|line| !line.is_empty());
    let Some(line) = line else {
        return false;
    };
    let raw = line.trim();
    let value = match raw.as_bytes() {
        [q @ (b'\'' | b'"'), .., last] if raw.len() >= 2 && last == q => &raw[1..raw.len() - 1],
        _ => raw,
    };
    !value.trim().is_empty()
}

/// True for an AFPS file field: `format: "uri"` with a `contentMediaType`,
/// or an array whose `items` is such a node.
pub fn is_file_field(schema: &Value) -> bool {
    let Some(node) = schema.as_object() else {
        return false;
    };
    let single = |n: &Map<String, Value>| {
        n.get("format").and_then(Value::as_str) == Some("uri")
            && !matches!(
                n.get("contentMediaType"),
                None | Some(Value::Null) | Some(Value::Bool(false))
            )
    };
    if single(node) {
        return true;
    }
    let ty = match node.get("type") {
        Some(Value::String(s)) => Some(s.as_str()),
        Some(Value::Array(a)) => a.first().and_then(Value::as_str),
        _ => None,
    };
    if ty == Some("array") {
        let items = match node.get("items") {
            Some(Value::Object(o)) => Some(o),
            Some(Value::Array(a)) => a.first().and_then(Value::as_object),
            _ => None,
        };
        return items.is_some_and(single);
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities() {
        let id = parse_identity("@afps/conformance-ref@1.0.0").expect("valid");
        assert_eq!(id.package_id(), "@afps/conformance-ref");
        assert_eq!(id.bundle_path(), "packages/@afps/conformance-ref/1.0.0/");
        for bad in ["", "afps/x@1", "@/x@1", "@a/@1", "@a/x@", "@a@1", "@ax"] {
            assert!(parse_identity(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn string_items_skip_non_strings() {
        let v = serde_json::json!(["a", 1, null, "b"]);
        assert_eq!(string_items(Some(&v)), ["a", "b"]);
        assert!(string_items(Some(&serde_json::json!("a"))).is_empty());
        assert!(string_items(None).is_empty());
    }

    #[test]
    fn frontmatter_name() {
        assert!(has_frontmatter_name("---\nname: x\n---\nbody"));
        assert!(has_frontmatter_name(
            "--- \ndescription: d\nname: \"x\"\n---"
        ));
        assert!(!has_frontmatter_name("---\nname: \"\"\n---"));
        assert!(!has_frontmatter_name("---\nname:\n---"));
        assert!(!has_frontmatter_name("name: x"));
        assert!(!has_frontmatter_name("---\nname: x"));
        assert!(has_frontmatter_name("---\nname:\nother_name: y\n---"));
    }
}
