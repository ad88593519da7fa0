//! JavaScript value semantics the original CLI's output depends on:
//! truthiness, `trim()`, `Object.keys` and `value[key]`.
//!
//! JSON text itself (`JSON.stringify`, `String(value)`, JS key order) is
//! written by `appstrate_jsjson`, shared with the other crates.

use appstrate_jsjson::object_entries;
use serde_json::Value;

/// `Object.keys(value)`: JS order for objects, indices for arrays, nothing
/// for anything else.
pub fn object_keys(value: &Value) -> Vec<String> {
    match value {
        Value::Object(map) => object_entries(map).map(|(k, _)| k.clone()).collect(),
        Value::Array(items) => (0..items.len()).map(|i| i.to_string()).collect(),
        _ => Vec::new(),
    }
}

/// JS truthiness of a JSON value.
pub fn truthy(value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0 && !f.is_nan()),
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(_)) | Some(Value::Object(_)) => true,
    }
}

/// `typeof value === "object" && value !== null` (arrays included).
pub fn is_object(value: Option<&Value>) -> bool {
    matches!(value, Some(Value::Object(_)) | Some(Value::Array(_)))
}

/// `value[key]` for a JS object; arrays and scalars have no named fields.
pub fn get<'a>(value: &'a Value, key: &str) -> Option<&'a Value> {
    match value {
        Value::Object(map) => map.get(key),
        _ => None,
    }
}

/// `String.prototype.trim()`: JS white space and line terminators, which
/// differ from Rust's `char::is_whitespace` (U+FEFF yes, U+0085 no).
pub fn trim(s: &str) -> &str {
    s.trim_matches(is_space)
}

/// JS white space and line terminators (`\\s` in a regular expression).
pub fn is_space(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n' | '\u{0b}' | '\u{0c}' | '\r' | ' ' | '\u{a0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200a}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202f}'
                | '\u{205f}'
                | '\u{3000}'
                | '\u{feff}'
    )
}

/// `String.prototype.length`: UTF-16 code units.
pub fn utf16_len(s: &str) -> usize {
    s.encode_utf16().count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn object_keys_in_js_order() {
        let v: Value = serde_json::from_str(r#"{"default":1,"404":2,"200":3}"#).unwrap_or_default();
        assert_eq!(object_keys(&v), ["200", "404", "default"]);
        assert_eq!(object_keys(&json!([7, 8])), ["0", "1"]);
        assert!(object_keys(&json!("s")).is_empty());
    }

    #[test]
    fn truthiness() {
        assert!(!truthy(None));
        assert!(!truthy(Some(&json!(0))));
        assert!(!truthy(Some(&json!(""))));
        assert!(!truthy(Some(&json!(false))));
        assert!(truthy(Some(&json!([]))));
        assert!(truthy(Some(&json!({}))));
        assert!(truthy(Some(&json!("0"))));
        assert!(truthy(Some(&json!(-1))));
    }

    #[test]
    fn trim_uses_js_whitespace() {
        assert_eq!(trim("\u{feff} a b\u{2028}\n"), "a b");
        assert_eq!(trim("\u{85}a"), "\u{85}a");
    }
}
