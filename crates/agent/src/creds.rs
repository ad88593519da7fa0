//! The `--creds-file` of `--integrations local` (docs/run.md "Integrations"):
//! credentials per integration, and how they are injected into requests.
//!
//! `{"version": 1, "integrations": {"@scope/int": {"authKey"?, "fields":
//! {…}, "injection"?: {"headerName"?, "headerPrefix"?, "template"?}}}}`

use std::collections::BTreeMap;

use serde_json::{Map, Value};

#[derive(Clone, PartialEq, Default)]
pub struct CredsFile {
    pub integrations: BTreeMap<String, IntegrationCreds>,
}

#[derive(Clone, PartialEq, Default)]
pub struct IntegrationCreds {
    pub auth_key: Option<String>,
    /// Credential values: secrets.
    pub fields: Map<String, Value>,
    pub header_name: Option<String>,
    pub header_prefix: Option<String>,
    pub template: Option<String>,
}

impl std::fmt::Debug for CredsFile {
    // The names only: the values are credentials.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.integrations.keys()).finish()
    }
}

impl CredsFile {
    /// Parses and checks the shape; the error names the offending key,
    /// never a value.
    pub fn parse(text: &str) -> Result<CredsFile, String> {
        let value: Value =
            serde_json::from_str(text).map_err(|e| format!("not valid JSON ({e})"))?;
        let Value::Object(root) = value else {
            return Err("must be a JSON object".into());
        };
        if root.get("version").and_then(Value::as_u64) != Some(1) {
            return Err("\"version\" must be 1".into());
        }
        let Some(Value::Object(integrations)) = root.get("integrations") else {
            return Err("\"integrations\" must be an object keyed by integration id".into());
        };
        let mut out = CredsFile::default();
        for (id, entry) in integrations {
            out.integrations.insert(id.clone(), parse_entry(id, entry)?);
        }
        Ok(out)
    }
}

fn parse_entry(id: &str, entry: &Value) -> Result<IntegrationCreds, String> {
    let Value::Object(entry) = entry else {
        return Err(format!("integrations.\"{id}\" must be an object"));
    };
    let optional_text = |obj: &Map<String, Value>, key: &str, at: &str| match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(format!("{at}.{key} must be a string")),
    };
    let at = format!("integrations.\"{id}\"");
    let Some(Value::Object(fields)) = entry.get("fields") else {
        return Err(format!("{at}.fields must be an object"));
    };
    let injection = match entry.get("injection") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(_) => return Err(format!("{at}.injection must be an object")),
    };
    let inj_at = format!("{at}.injection");
    Ok(IntegrationCreds {
        auth_key: optional_text(entry, "authKey", &at)?,
        fields: fields.clone(),
        header_name: optional_text(&injection, "headerName", &inj_at)?,
        header_prefix: optional_text(&injection, "headerPrefix", &inj_at)?,
        template: optional_text(&injection, "template", &inj_at)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_documented_shape() {
        let c = CredsFile::parse(
            r#"{"version":1,"integrations":{"@acme/gh":{"authKey":"token","fields":{"token":"s3cret"},"injection":{"headerName":"Authorization","headerPrefix":"Bearer "}}}}"#,
        )
        .expect("valid");
        let gh = &c.integrations["@acme/gh"];
        assert_eq!(gh.auth_key.as_deref(), Some("token"));
        assert_eq!(gh.header_prefix.as_deref(), Some("Bearer "));
        assert!(!format!("{c:?}").contains("s3cret"));
    }

    #[test]
    fn names_what_is_wrong_without_values() {
        for (text, expected) in [
            ("[]", "must be a JSON object"),
            (
                r#"{"version":2,"integrations":{}}"#,
                "\"version\" must be 1",
            ),
            (r#"{"version":1}"#, "\"integrations\" must be an object"),
            (
                r#"{"version":1,"integrations":{"@a/b":{"fields":"s3cret"}}}"#,
                "integrations.\"@a/b\".fields must be an object",
            ),
            (
                r#"{"version":1,"integrations":{"@a/b":{"fields":{},"injection":{"template":7}}}}"#,
                "integrations.\"@a/b\".injection.template must be a string",
            ),
        ] {
            let err = CredsFile::parse(text).expect_err(text);
            assert!(err.starts_with(expected), "{text}: {err}");
            assert!(!err.contains("s3cret"));
        }
    }
}
