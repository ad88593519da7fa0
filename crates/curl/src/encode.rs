//! The percent-encodings curl uses.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// curl's `curl_easy_escape`: everything except `A-Z a-z 0-9 - . _ ~`.
const CURL_ESCAPE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Bytes that may not appear raw in a query string: controls, space, `"`,
/// `#`, `<`, `>`, and non-ASCII. Everything else (including `%`, so
/// pre-encoded input stays as typed) is kept.
const QUERY_UNSAFE: &AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'<')
    .add(b'>');

/// Encodes like `curl --data-urlencode`: `curl_easy_escape`, then space
/// as `+` (what curl 7.88 sends).
pub fn curl_escape(bytes: &[u8]) -> String {
    percent_encoding::percent_encode(bytes, CURL_ESCAPE)
        .to_string()
        .replace("%20", "+")
}

/// `application/x-www-form-urlencoded` serialisation of one name or value
/// (space → `+`), used for `-q` pairs.
pub fn form_component(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Makes `-G` data safe for a URL without touching what is already encoded:
/// spaces become `+` (form style), other unsafe bytes are percent-encoded.
pub fn query_safe(s: &str) -> String {
    utf8_percent_encode(&s.replace(' ', "+"), QUERY_UNSAFE).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curl_escape_matches_curl() {
        assert_eq!(curl_escape(b"hello world"), "hello+world");
        assert_eq!(curl_escape(b"a+b&c=d"), "a%2Bb%26c%3Dd");
        assert_eq!(curl_escape(b"!*'()~"), "%21%2A%27%28%29~");
        assert_eq!(curl_escape("éléphant".as_bytes()), "%C3%A9l%C3%A9phant");
    }

    #[test]
    fn query_safe_keeps_encoded_input() {
        assert_eq!(query_safe("q=foo bar"), "q=foo+bar");
        assert_eq!(query_safe("q=a%20b"), "q=a%20b");
        assert_eq!(query_safe("x=#"), "x=%23");
    }

    #[test]
    fn form_component_is_whatwg() {
        assert_eq!(form_component("a b*"), "a+b*");
        assert_eq!(form_component("é/"), "%C3%A9%2F");
    }
}
