//! JSON string literals as `JSON.stringify` writes them (curl's
//! `%{header_json}` quotes the same way).

use std::fmt::Write as _;

/// Appends `s` as a JSON string literal: the two-letter escapes (`\"`, `\\`,
/// `\n`, `\r`, `\t`, `\b`, `\f`), other control characters as lower-case
/// `\u00xx`, and nothing else escaped (not `/`, not DEL, not U+2028/U+2029,
/// not non-ASCII).
pub fn write_string_literal(out: &mut String, s: &str) {
    out.push('"');
    let mut start = 0;
    // Every byte that needs escaping is ASCII, so byte offsets are char
    // boundaries and untouched runs are copied whole.
    for (i, byte) in s.bytes().enumerate() {
        let escape = match byte {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0x00..=0x1f => "",
            _ => continue,
        };
        out.push_str(&s[start..i]);
        if escape.is_empty() {
            let _ = write!(out, "\\u{byte:04x}");
        } else {
            out.push_str(escape);
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// `JSON.stringify(s)` for a string.
pub fn string_literal(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    write_string_literal(&mut out, s);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_control_character_is_escaped_and_nothing_else() {
        let all: String = (0u8..0x20).map(char::from).collect();
        assert_eq!(
            string_literal(&all),
            "\"\\u0000\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007\\b\\t\\n\\u000b\\f\\r\\u000e\\u000f\
             \\u0010\\u0011\\u0012\\u0013\\u0014\\u0015\\u0016\\u0017\\u0018\\u0019\\u001a\\u001b\\u001c\\u001d\\u001e\\u001f\""
        );
        assert_eq!(
            string_literal("q\"b\\/\u{7f}\u{2028}\u{2029}é\u{10000}"),
            "\"q\\\"b\\\\/\u{7f}\u{2028}\u{2029}é\u{10000}\""
        );
        assert_eq!(string_literal(""), "\"\"");
    }
}
