//! JSON text exactly as JavaScript produces it: `JSON.stringify` (compact
//! and 2-space pretty), canonical JSON (keys sorted by UTF-16 code unit),
//! `String(value)` and `Number.prototype.toString`.

use std::cmp::Ordering;
use std::fmt::Write as _;

use serde_json::{Map, Number, Value};

/// Compare two strings as JavaScript's `<` does (UTF-16 code units).
pub fn cmp_utf16(a: &str, b: &str) -> Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

/// `Number.prototype.toString()` for a JSON number.
pub fn js_number(n: &Number) -> String {
    if let Some(i) = n.as_i64() {
        return i.to_string();
    }
    if let Some(u) = n.as_u64() {
        return js_f64(u as f64);
    }
    js_f64(n.as_f64().unwrap_or(0.0))
}

/// `Number.prototype.toString()` for a finite `f64` (ECMA-262 Number::toString).
pub fn js_f64(x: f64) -> String {
    if x == 0.0 {
        return "0".into();
    }
    if !x.is_finite() {
        return if x.is_nan() {
            "NaN".into()
        } else if x > 0.0 {
            "Infinity".into()
        } else {
            "-Infinity".into()
        };
    }
    let sign = if x < 0.0 { "-" } else { "" };
    // `{:e}` gives the shortest round-trip digits, e.g. "1.2345e-7".
    let sci = format!("{:e}", x.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let exp: i32 = exp.parse().unwrap_or(0);
    let k = digits.len() as i32;
    let n = exp + 1;
    let body = if k <= n && n <= 21 {
        format!("{digits}{}", "0".repeat((n - k) as usize))
    } else if 0 < n && n <= 21 {
        format!("{}.{}", &digits[..n as usize], &digits[n as usize..])
    } else if -6 < n && n <= 0 {
        format!("0.{}{digits}", "0".repeat((-n) as usize))
    } else {
        let e = n - 1;
        let es = if e >= 0 {
            format!("e+{e}")
        } else {
            format!("e{e}")
        };
        if k == 1 {
            format!("{digits}{es}")
        } else {
            format!("{}.{}{es}", &digits[..1], &digits[1..])
        }
    };
    format!("{sign}{body}")
}

/// A JSON string literal as `JSON.stringify` writes it.
pub fn js_string_literal(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0C}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// `JSON.stringify(value)`: compact, keys in their stored order.
pub fn to_js_json(value: &Value) -> String {
    let mut out = String::new();
    write_value(value, &mut out, None, 0, false);
    out
}

/// `JSON.stringify(value, null, 2)`.
pub fn to_js_json_pretty(value: &Value) -> String {
    let mut out = String::new();
    write_value(value, &mut out, Some(2), 0, false);
    out
}

/// Canonical JSON (`canonicalJsonStringify`): keys sorted by UTF-16 code
/// unit, no whitespace, numbers and strings as `JSON.stringify`.
pub fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write_value(value, &mut out, None, 0, true);
    out
}

fn write_value(v: &Value, out: &mut String, indent: Option<usize>, depth: usize, sorted: bool) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&js_number(n)),
        Value::String(s) => js_string_literal(s, out),
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
                newline(out, indent, depth + 1);
                write_value(item, out, indent, depth + 1, sorted);
            }
            newline(out, indent, depth);
            out.push(']');
        }
        Value::Object(map) => {
            if map.is_empty() {
                out.push_str("{}");
                return;
            }
            out.push('{');
            for (i, (k, item)) in entries(map, sorted).into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, indent, depth + 1);
                js_string_literal(k, out);
                out.push(':');
                if indent.is_some() {
                    out.push(' ');
                }
                write_value(item, out, indent, depth + 1, sorted);
            }
            newline(out, indent, depth);
            out.push('}');
        }
    }
}

fn entries(map: &Map<String, Value>, sorted: bool) -> Vec<(&String, &Value)> {
    let mut e: Vec<_> = map.iter().collect();
    if sorted {
        e.sort_by(|a, b| cmp_utf16(a.0, b.0));
    }
    e
}

fn newline(out: &mut String, indent: Option<usize>, depth: usize) {
    if let Some(width) = indent {
        out.push('\n');
        out.extend(std::iter::repeat_n(' ', width * depth));
    }
}

/// JavaScript `String(value)`: objects give `[object Object]`, arrays join
/// their elements with commas (null elements become empty).
pub fn js_string(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => js_number(n),
        Value::String(s) => s.clone(),
        Value::Array(items) => items
            .iter()
            .map(|i| {
                if i.is_null() {
                    String::new()
                } else {
                    js_string(i)
                }
            })
            .collect::<Vec<_>>()
            .join(","),
        Value::Object(_) => "[object Object]".into(),
    }
}

/// `new Date(ms).toISOString()` for a millisecond timestamp
/// (`YYYY-MM-DDTHH:MM:SS.mmmZ`). `None` when out of the supported range.
pub fn iso_from_millis(ms: f64) -> Option<String> {
    if !ms.is_finite() {
        return None;
    }
    let ms = ms.trunc() as i128;
    let dt = time::OffsetDateTime::from_unix_timestamp_nanos(ms * 1_000_000).ok()?;
    let year = dt.year();
    let y = if (0..=9999).contains(&year) {
        format!("{year:04}")
    } else if year < 0 {
        format!("-{:06}", -year)
    } else {
        format!("+{year:06}")
    };
    Some(format!(
        "{y}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        u8::from(dt.month()),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second(),
        dt.millisecond()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_print_like_javascript() {
        for (x, want) in [
            (1.0, "1"),
            (1.5, "1.5"),
            (-0.25, "-0.25"),
            (1e21, "1e+21"),
            (1.5e21, "1.5e+21"),
            (1e-7, "1e-7"),
            (1.25e-7, "1.25e-7"),
            (0.000001, "0.000001"),
            (123456789012345680000.0, "123456789012345680000"),
            (0.1 + 0.2, "0.30000000000000004"),
        ] {
            assert_eq!(js_f64(x), want, "{x}");
        }
        let v: Value = serde_json::from_str("[1.0, 2.50, 1e3]").expect("json");
        assert_eq!(to_js_json(&v), "[1,2.5,1000]");
    }

    #[test]
    fn canonical_sorts_by_utf16_and_pretty_matches_js() {
        let v = json!({"b": 1, "a": [true, null, {"z": "\u{1}\"", "y": {}}], "\u{e000}": 1, "\u{10000}": 2});
        assert_eq!(
            canonical_json(&v),
            "{\"a\":[true,null,{\"y\":{},\"z\":\"\\u0001\\\"\"}],\"b\":1,\"\u{10000}\":2,\"\u{e000}\":1}"
        );
        assert_eq!(
            to_js_json_pretty(&json!({"a": [1], "b": []})),
            "{\n  \"a\": [\n    1\n  ],\n  \"b\": []\n}"
        );
        assert_eq!(
            js_string(&json!([1, null, [2, 3], {"a": 1}])),
            "1,,2,3,[object Object]"
        );
        assert_eq!(
            iso_from_millis(1_700_000_000.0).as_deref(),
            Some("1970-01-20T16:13:20.000Z")
        );
    }
}
