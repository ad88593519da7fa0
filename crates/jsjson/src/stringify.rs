//! `JSON.stringify` (compact and 2-space pretty) and canonical JSON.

use serde_json::Value;

use crate::number::number_to_string;
use crate::order::{cmp_utf16, object_entries};
use crate::string::write_string_literal;

/// `JSON.stringify(value)`: compact, keys in JS property order.
pub fn stringify(value: &Value) -> String {
    let mut out = String::with_capacity(estimate(value));
    write_value(&mut out, value, Layout::COMPACT, 0);
    out
}

/// `JSON.stringify(value, null, 2)`.
pub fn stringify_pretty(value: &Value) -> String {
    let mut out = String::with_capacity(estimate(value) * 2);
    write_value(&mut out, value, Layout::PRETTY, 0);
    out
}

/// The platform's `canonicalJsonStringify`: keys sorted by UTF-16 code unit
/// (integer-like keys included), no white space, numbers and strings as
/// `JSON.stringify`.
pub fn canonical(value: &Value) -> String {
    let mut out = String::with_capacity(estimate(value));
    write_value(&mut out, value, Layout::CANONICAL, 0);
    out
}

#[derive(Clone, Copy)]
struct Layout {
    /// Spaces per level; `None` writes no white space at all.
    indent: Option<usize>,
    /// Keys by UTF-16 code unit instead of JS property order.
    sorted_keys: bool,
}

impl Layout {
    const COMPACT: Layout = Layout {
        indent: None,
        sorted_keys: false,
    };
    const PRETTY: Layout = Layout {
        indent: Some(2),
        sorted_keys: false,
    };
    const CANONICAL: Layout = Layout {
        indent: None,
        sorted_keys: true,
    };
}

/// A first guess at the output size, to spare most reallocations on large
/// documents (the OpenAPI schema is megabytes).
fn estimate(value: &Value) -> usize {
    match value {
        Value::Object(map) => 64 * map.len().max(1),
        Value::Array(items) => 32 * items.len().max(1),
        _ => 16,
    }
}

fn write_value(out: &mut String, value: &Value, layout: Layout, depth: usize) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => out.push_str(&number_to_string(n)),
        Value::String(s) => write_string_literal(out, s),
        Value::Array(items) => {
            if items.is_empty() {
                out.push_str("[]");
                return;
            }
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, layout, depth + 1);
                write_value(out, item, layout, depth + 1);
            }
            newline(out, layout, depth);
            out.push(']');
        }
        Value::Object(map) if map.is_empty() => out.push_str("{}"),
        Value::Object(map) if layout.sorted_keys => {
            let mut sorted: Vec<_> = map.iter().collect();
            sorted.sort_by(|a, b| cmp_utf16(a.0, b.0));
            write_members(out, sorted.into_iter(), layout, depth);
        }
        Value::Object(map) => write_members(out, object_entries(map), layout, depth),
    }
}

fn write_members<'a>(
    out: &mut String,
    members: impl Iterator<Item = (&'a String, &'a Value)>,
    layout: Layout,
    depth: usize,
) {
    out.push('{');
    for (i, (key, item)) in members.enumerate() {
        if i > 0 {
            out.push(',');
        }
        newline(out, layout, depth + 1);
        write_string_literal(out, key);
        out.push(':');
        if layout.indent.is_some() {
            out.push(' ');
        }
        write_value(out, item, layout, depth + 1);
    }
    newline(out, layout, depth);
    out.push('}');
}

fn newline(out: &mut String, layout: Layout, depth: usize) {
    if let Some(width) = layout.indent {
        out.push('\n');
        out.extend(std::iter::repeat_n(' ', width * depth));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn empty_containers_and_nesting() {
        let v = json!({"a": [], "b": {}, "c": [1, {"d": null}], "e": "x"});
        assert_eq!(
            stringify_pretty(&v),
            "{\n  \"a\": [],\n  \"b\": {},\n  \"c\": [\n    1,\n    {\n      \"d\": null\n    }\n  ],\n  \"e\": \"x\"\n}"
        );
        assert_eq!(
            stringify(&v),
            r#"{"a":[],"b":{},"c":[1,{"d":null}],"e":"x"}"#
        );
        assert_eq!(canonical(&json!([{}, []])), "[{},[]]");
        assert_eq!(stringify(&json!("s")), "\"s\"");
    }
}
