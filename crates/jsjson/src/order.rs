//! Key order: JS property order for `JSON.stringify`, UTF-16 code-unit order
//! for canonical JSON and for anything JavaScript `sort()`s.

use std::cmp::Ordering;

use serde_json::{Map, Value};

/// Compare two strings as JavaScript's `<` and default `sort()` do (UTF-16
/// code units, so U+10000 sorts before U+E000).
pub fn cmp_utf16(a: &str, b: &str) -> Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

/// The entries of a JS object in JS property order: keys that are array
/// indices (canonical integers up to 2^32 - 2) first, ascending, then the
/// others in insertion order. `JSON.parse` + `JSON.stringify` reorders
/// `{"404":…,"200":…}` this way, so every rewrite of parsed JSON must too.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn array_indices_first_then_insertion_order() {
        let v: Map<String, Value> = serde_json::from_str(
            r#"{"default":1,"404":2,"200":3,"01":4,"4294967295":5,"4294967294":6,"0":7,"-1":8}"#,
        )
        .unwrap_or_default();
        let keys: Vec<&str> = object_entries(&v).map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "0",
                "200",
                "404",
                "4294967294",
                "default",
                "01",
                "4294967295",
                "-1"
            ]
        );
    }

    #[test]
    fn utf16_order_differs_from_code_point_order() {
        assert_eq!(cmp_utf16("\u{10000}", "\u{e000}"), Ordering::Less);
        assert_eq!("\u{10000}".cmp("\u{e000}"), Ordering::Greater);
        assert_eq!(cmp_utf16("a", "ab"), Ordering::Less);
    }
}
