//! A fast parse for `openapi list`: only what listing and filtering read
//! (`paths` → method → `operationId`, `summary`, `description`, `tags`,
//! `deprecated`) is kept; everything else (components, schemas, responses)
//! is skipped without building values. On the real schema this is several
//! times cheaper than a full parse, which matters for a command meant to
//! answer in a few milliseconds.
//!
//! The result is an ordinary document `Value` with the same `paths` order
//! and the same listing, filtering and `list --json` output as the full
//! document (duplicate keys: the last wins, as with `JSON.parse`).

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::document::{DocumentError, parse_document};
use crate::operation::Method;

/// The fields of an operation that `list` reads.
const LISTED_FIELDS: [&str; 5] = [
    "operationId",
    "summary",
    "description",
    "tags",
    "deprecated",
];

/// Parses only the listing view of a document; errors as [`parse_document`].
pub fn parse_operations_index(bytes: &[u8]) -> Result<Value, DocumentError> {
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first != Some(&b'{') {
        // Not an object (or not JSON): let the full parser word the error.
        return parse_document(bytes);
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let paths = RootSeed
        .deserialize(&mut de)
        .and_then(|paths| de.end().map(|()| paths))
        .map_err(|e| DocumentError::NotJson(e.to_string()))?;
    let mut doc = Map::new();
    if let Some(paths) = paths {
        doc.insert("paths".into(), paths);
    }
    Ok(Value::Object(doc))
}

/// The root object: keeps `paths`, skips the rest.
struct RootSeed;

impl<'de> DeserializeSeed<'de> for RootSeed {
    type Value = Option<Value>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(RootSeed)
    }
}

impl<'de> Visitor<'de> for RootSeed {
    type Value = Option<Value>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an OpenAPI document object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut paths = None;
        while let Some(key) = map.next_key::<String>()? {
            if key == "paths" {
                paths = Some(map.next_value_seed(Shallow(Level::Paths))?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(paths)
    }
}

/// Which level of `paths` is being read.
#[derive(Clone, Copy)]
enum Level {
    /// `paths`: path → path item.
    Paths,
    /// A path item: method → operation, other keys skipped.
    PathItem,
    /// An operation: the listed fields kept whole, others skipped.
    Operation,
}

/// A value at `Level`: objects are filtered by level, arrays become empty
/// arrays (still "objects" to JS, with no named fields), scalars are kept.
struct Shallow(Level);

impl<'de> DeserializeSeed<'de> for Shallow {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Shallow {
    type Value = Value;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let keep = match self.0 {
                Level::Paths => Some(Level::PathItem),
                Level::PathItem => Method::ALL
                    .iter()
                    .any(|m| m.key() == key)
                    .then_some(Level::Operation),
                Level::Operation => None,
            };
            if let Some(level) = keep {
                let value = map.next_value_seed(Shallow(level))?;
                out.insert(key, value);
            } else if matches!(self.0, Level::Operation) && LISTED_FIELDS.contains(&key.as_str()) {
                let value = map.next_value::<Value>()?;
                out.insert(key, value);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(Value::Object(out))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Value::Array(Vec::new()))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{collect_operations, format_list, list_json};

    #[test]
    fn keeps_only_what_listing_reads() {
        let text = r#"{"openapi":"3.1.0","components":{"schemas":{"A":{}}},
            "paths":{"/b":{"parameters":[1],"get":{"operationId":"g","summary":"S","responses":{"200":{}},"tags":["t",1],"deprecated":1,"x":[{}]}},
                     "/a":{"post":[1,2],"put":3}}}"#;
        let index = parse_operations_index(text.as_bytes()).expect("parses");
        assert_eq!(
            appstrate_jsjson::stringify(&index),
            r#"{"paths":{"/b":{"get":{"operationId":"g","summary":"S","tags":["t",1],"deprecated":1}},"/a":{"post":[],"put":3}}}"#
        );
        let full = parse_document(text.as_bytes()).expect("parses");
        assert_eq!(
            format_list(&collect_operations(&index), false),
            format_list(&collect_operations(&full), false)
        );
        assert_eq!(
            list_json(&collect_operations(&index)),
            list_json(&collect_operations(&full))
        );
    }

    #[test]
    fn errors_match_the_full_parser() {
        for bad in [&b"[]"[..], b"null", b" 3", b"\"s\""] {
            assert_eq!(parse_operations_index(bad), Err(DocumentError::NotObject));
        }
        for bad in [&b"{"[..], b"{\"paths\": }", b"{} x", b"nope"] {
            assert!(
                matches!(parse_operations_index(bad), Err(DocumentError::NotJson(_))),
                "{bad:?}"
            );
        }
    }
}
