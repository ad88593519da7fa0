//! `String(value)`: how a JSON value reads in a template literal.

use serde_json::Value;

use crate::number::number_to_string;

/// `String(value)`: objects give `[object Object]`, arrays join their
/// elements with commas.
pub fn to_js_string(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => number_to_string(n),
        Value::String(s) => s.clone(),
        Value::Array(items) => join(items, ","),
        Value::Object(_) => "[object Object]".into(),
    }
}

/// `Array.prototype.join(separator)`: `null` elements become empty.
pub fn join(items: &[Value], separator: &str) -> String {
    let mut out = String::new();
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(separator);
        }
        if !item.is_null() {
            out.push_str(&to_js_string(item));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn scalars_and_separator() {
        assert_eq!(to_js_string(&Value::Null), "null");
        assert_eq!(to_js_string(&json!(false)), "false");
        assert_eq!(to_js_string(&json!({})), "[object Object]");
        assert_eq!(to_js_string(&json!([])), "");
        assert_eq!(
            join(&[json!("a"), json!(null), json!(2)], " | "),
            "a |  | 2"
        );
    }
}
