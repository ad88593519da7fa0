//! JavaScript value semantics the original CLI's output depends on:
//! `JSON.stringify` (compact and 2-space pretty), `String(value)`,
//! truthiness, `trim()` and the key order of JS objects.
//!
//! Byte compatibility matters here: the cache file, `export` and every
//! `--json` output are `JSON.stringify` text, and agents diff them.

use std::fmt::Write as _;

use serde_json::{Map, Number, Value};

/// `JSON.stringify(value)`: compact.
pub fn to_string(value: &Value) -> String {
    let mut out = String::with_capacity(estimate(value));
    write_value(&mut out, value, None, 0);
    out
}

/// `JSON.stringify(value, null, 2)`.
pub fn to_string_pretty(value: &Value) -> String {
    let mut out = String::with_capacity(estimate(value) * 2);
    write_value(&mut out, value, Some(2), 0);
    out
}

fn estimate(value: &Value) -> usize {
    match value {
        Value::Object(map) => 64 * map.len().max(1),
        Value::Array(items) => 32 * items.len().max(1),
        _ => 16,
    }
}

fn write_value(out: &mut String, value: &Value, indent: Option<usize>, depth: usize) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => out.push_str(&number_to_string(n)),
        Value::String(s) => write_string(out, s),
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
                write_value(out, item, indent, depth + 1);
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
            for (i, (key, item)) in object_entries(map).enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, indent, depth + 1);
                write_string(out, key);
                out.push(':');
                if indent.is_some() {
                    out.push(' ');
                }
                write_value(out, item, indent, depth + 1);
            }
            newline(out, indent, depth);
            out.push('}');
        }
    }
}

fn newline(out: &mut String, indent: Option<usize>, depth: usize) {
    if let Some(width) = indent {
        out.push('\n');
        for _ in 0..width * depth {
            out.push(' ');
        }
    }
}

/// JSON string quoting exactly as `JSON.stringify` does it: the two-letter
/// escapes, other control characters as lower-case `\u00xx`, and nothing
/// else escaped (not `/`, not U+2028/U+2029, not non-ASCII).
fn write_string(out: &mut String, s: &str) {
    out.push('"');
    let mut start = 0;
    for (i, byte) in s.bytes().enumerate() {
        let escape: Option<&str> = match byte {
            b'"' => Some("\\\""),
            b'\\' => Some("\\\\"),
            b'\n' => Some("\\n"),
            b'\r' => Some("\\r"),
            b'\t' => Some("\\t"),
            0x08 => Some("\\b"),
            0x0c => Some("\\f"),
            0x00..=0x1f => None,
            _ => continue,
        };
        out.push_str(&s[start..i]);
        match escape {
            Some(text) => out.push_str(text),
            None => {
                let _ = write!(out, "\\u{byte:04x}");
            }
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// The entries of a JS object in JS property order: keys that are array
/// indices (canonical integers up to 2^32 - 2) first, ascending, then the
/// others in insertion order. `JSON.parse` + `JSON.stringify` reorders
/// `{"404":…,"200":…}` this way, so the cache and `--json` must too.
pub fn object_entries(map: &Map<String, Value>) -> impl Iterator<Item = (&String, &Value)> {
    let has_index = map.keys().any(|k| array_index(k).is_some());
    let indexed: Vec<(&String, &Value)> = if has_index {
        let mut v: Vec<(u32, &String, &Value)> = map
            .iter()
            .filter_map(|(k, val)| array_index(k).map(|i| (i, k, val)))
            .collect();
        v.sort_by_key(|(i, _, _)| *i);
        v.into_iter().map(|(_, k, val)| (k, val)).collect()
    } else {
        Vec::new()
    };
    let rest = map
        .iter()
        .filter(move |(k, _)| !has_index || array_index(k).is_none());
    indexed.into_iter().chain(rest)
}

/// `Object.keys(value)`: JS order for objects, indices for arrays, nothing
/// for anything else.
pub fn object_keys(value: &Value) -> Vec<String> {
    match value {
        Value::Object(map) => object_entries(map).map(|(k, _)| k.clone()).collect(),
        Value::Array(items) => (0..items.len()).map(|i| i.to_string()).collect(),
        _ => Vec::new(),
    }
}

fn array_index(key: &str) -> Option<u32> {
    let bytes = key.as_bytes();
    if bytes.is_empty() || bytes.len() > 10 || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    if bytes.len() > 1 && bytes[0] == b'0' {
        return None;
    }
    let n: u64 = key.parse().ok()?;
    // 2^32 - 1 is not an array index.
    if n < u64::from(u32::MAX) {
        u32::try_from(n).ok()
    } else {
        None
    }
}

/// A JSON number as JavaScript prints it: every number is a double,
/// integers beyond 2^53 lose precision, `1.0` prints `1`, exponents follow
/// `Number.prototype.toString`.
pub fn number_to_string(n: &Number) -> String {
    const SAFE: u64 = 1 << 53;
    if let Some(u) = n.as_u64()
        && u <= SAFE
    {
        return u.to_string();
    }
    if let Some(i) = n.as_i64()
        && i.unsigned_abs() <= SAFE
    {
        return i.to_string();
    }
    match n.as_f64() {
        Some(f) => f64_to_js(f),
        None => n.to_string(),
    }
}

/// `Number.prototype.toString()` for a finite double (ECMA-262
/// Number::toString with radix 10). Rust's `{:e}` gives the shortest
/// round-trip digits, which is what the algorithm starts from.
pub fn f64_to_js(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    if f == 0.0 {
        return "0".into();
    }
    let sci = format!("{:e}", f.abs());
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let k = digits.len() as i32;
    let n = exponent + 1;
    let mut out = String::new();
    if f < 0.0 {
        out.push('-');
    }
    if k <= n && n <= 21 {
        out.push_str(&digits);
        out.extend(std::iter::repeat_n('0', (n - k) as usize));
    } else if 0 < n && n <= 21 {
        out.push_str(&digits[..n as usize]);
        out.push('.');
        out.push_str(&digits[n as usize..]);
    } else if -6 < n && n <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-n) as usize));
        out.push_str(&digits);
    } else {
        out.push_str(&digits[..1]);
        if k > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let e = n - 1;
        let _ = write!(out, "e{}{}", if e >= 0 { '+' } else { '-' }, e.abs());
    }
    out
}

/// `String(value)` as a template literal would print it.
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

/// `Array.prototype.join(separator)`: `null` becomes the empty string.
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
    fn pretty_matches_json_stringify() {
        let v = json!({"a": [], "b": {}, "c": [1, {"d": null}], "e": "x"});
        assert_eq!(
            to_string_pretty(&v),
            "{\n  \"a\": [],\n  \"b\": {},\n  \"c\": [\n    1,\n    {\n      \"d\": null\n    }\n  ],\n  \"e\": \"x\"\n}"
        );
        assert_eq!(
            to_string(&v),
            r#"{"a":[],"b":{},"c":[1,{"d":null}],"e":"x"}"#
        );
    }

    #[test]
    fn strings_escape_like_js() {
        let v = Value::String("q\"b\\n\n\t\u{1}\u{1f}\u{7f}/\u{2028}é\u{8}\u{c}\r".into());
        assert_eq!(
            to_string(&v),
            "\"q\\\"b\\\\n\\n\\t\\u0001\\u001f\u{7f}/\u{2028}é\\b\\f\\r\""
        );
    }

    #[test]
    fn integer_keys_come_first_like_js_objects() {
        let v: Value = serde_json::from_str(
            r#"{"default":1,"404":2,"200":3,"01":4,"4294967295":5,"4294967294":6}"#,
        )
        .unwrap_or_default();
        assert_eq!(
            to_string(&v),
            r#"{"200":3,"404":2,"4294967294":6,"default":1,"01":4,"4294967295":5}"#
        );
        assert_eq!(object_keys(&v)[0], "200");
    }

    #[test]
    fn numbers_print_like_js() {
        let cases = [
            ("1.0", "1"),
            ("-0", "0"),
            ("-0.0", "0"),
            ("0.5", "0.5"),
            ("1e21", "1e+21"),
            ("1e20", "100000000000000000000"),
            ("123456789012345678901", "123456789012345680000"),
            ("0.000001", "0.000001"),
            ("0.0000001", "1e-7"),
            ("1.5e-7", "1.5e-7"),
            ("12345678901234567890", "12345678901234567000"),
            ("9007199254740993", "9007199254740992"),
            ("-9007199254740993", "-9007199254740992"),
            ("9007199254740992", "9007199254740992"),
            ("3.14159", "3.14159"),
            ("1.7976931348623157e308", "1.7976931348623157e+308"),
            ("5e-324", "5e-324"),
            ("-2.5e+25", "-2.5e+25"),
            ("100", "100"),
            ("-42", "-42"),
        ];
        for (input, expected) in cases {
            let v: Value = serde_json::from_str(input).unwrap_or(Value::Null);
            assert_eq!(to_string(&v), expected, "input {input}");
        }
    }

    #[test]
    fn js_string_and_join() {
        let v = json!([1, null, "a", true, {"x": 1}, [2, 3], 1.5]);
        let Value::Array(items) = &v else {
            unreachable!()
        };
        assert_eq!(join(items, ","), "1,,a,true,[object Object],2,3,1.5");
        assert_eq!(to_js_string(&Value::Null), "null");
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
