//! Inlining internal `$ref`s (`#/…` JSON pointers), always finitely.
//!
//! The original handed the document to swagger-parser, which turns circular
//! references into object cycles that `JSON.stringify` then refuses, and
//! fell back to the raw operation. Here every reference that is not
//! circular is inlined, and a reference that points at a place the walk is
//! already inside becomes `{"$circular": "<the $ref as written>"}`.
//!
//! "Inside" is tracked by document location: the walk knows the JSON
//! pointer of the value it is visiting and, through each `$ref` it
//! followed, of where it came from. A reference whose target is one of
//! those locations, or contains one of them, would repeat forever.
//!
//! Semantics kept from swagger-parser: `$ref` must be a string; sibling keys
//! of a `$ref` ("extended refs") come first and win over the target's keys;
//! pointer tokens are percent-decoded, then `~1` → `/`, `~0` → `~`.
//! External references (not starting with `#`) and pointers that lead
//! nowhere are left as written.
//!
//! Inlining is bounded: a document whose schemas each reference the next
//! one twice expands to 2^n copies without any cycle. Past
//! [`NODE_BUDGET`] produced values, further references are kept as written
//! (`{"$ref": …}`) instead of being inlined, so the output stays finite in
//! size and time whatever the instance serves (COMPATIBILITY.md).

use std::collections::HashMap;

use serde_json::{Map, Value};

use crate::operation::Operation;

/// The key of a cycle marker.
pub const CIRCULAR_KEY: &str = "$circular";

/// How many JSON values one dereference may produce before it stops
/// inlining. The real platform document, whole, produces far fewer.
pub const NODE_BUDGET: usize = 2_000_000;

/// `value`, found at `location` in `doc`, with internal `$ref`s inlined.
pub fn dereference(doc: &Value, value: &Value, location: &[&str]) -> Value {
    dereference_within(doc, value, location, NODE_BUDGET)
}

fn dereference_within(doc: &Value, value: &Value, location: &[&str], budget: usize) -> Value {
    let mut walker = Walker::new(doc, budget);
    walker.path = location.iter().map(|s| s.to_string()).collect();
    walker.value(value)
}

/// The operation object with internal `$ref`s inlined.
pub fn dereference_operation(doc: &Value, op: &Operation<'_>) -> Value {
    dereference(doc, op.op, &op.location())
}

/// The whole document with internal `$ref`s inlined.
pub fn dereference_document(doc: &Value) -> Value {
    dereference(doc, doc, &[])
}

struct Walker<'a> {
    doc: &'a Value,
    /// Location of the value being visited (decoded pointer tokens).
    path: Vec<String>,
    /// Locations the walk left to follow a `$ref`, outermost first.
    frames: Vec<Vec<String>>,
    /// Expansions that met no cycle: they do not depend on where the walk
    /// came from, so later references to the same target reuse them (with
    /// the number of values each holds, charged again on every reuse).
    resolved: HashMap<Vec<String>, (Value, usize)>,
    /// Cycle markers produced so far (to tell whether an expansion met one).
    markers: usize,
    /// Values produced so far, against `budget` ([`NODE_BUDGET`]).
    produced: usize,
    budget: usize,
}

impl<'a> Walker<'a> {
    fn new(doc: &'a Value, budget: usize) -> Self {
        Walker {
            budget,
            doc,
            path: Vec::new(),
            frames: Vec::new(),
            resolved: HashMap::new(),
            markers: 0,
            produced: 0,
        }
    }

    fn value(&mut self, value: &Value) -> Value {
        self.produced += 1;
        match value {
            Value::Object(map) => {
                if let Some(Value::String(reference)) = map.get("$ref") {
                    return self.reference(map, reference);
                }
                let mut out = Map::with_capacity(map.len());
                for (key, item) in map {
                    out.insert(key.clone(), self.child(key, item));
                }
                Value::Object(out)
            }
            Value::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    out.push(self.child(&i.to_string(), item));
                }
                Value::Array(out)
            }
            scalar => scalar.clone(),
        }
    }

    fn child(&mut self, key: &str, item: &Value) -> Value {
        if !matches!(item, Value::Object(_) | Value::Array(_)) {
            self.produced += 1;
            return item.clone();
        }
        self.path.push(key.to_string());
        let out = self.value(item);
        self.path.pop();
        out
    }

    fn reference(&mut self, map: &Map<String, Value>, reference: &str) -> Value {
        let Some(target_path) = parse_pointer(reference) else {
            return self.siblings_only(map, None);
        };
        if self.is_inside(&target_path) {
            self.markers += 1;
            let mut marker = Map::new();
            marker.insert(CIRCULAR_KEY.into(), Value::String(reference.to_string()));
            return Value::Object(marker);
        }
        if self.produced >= self.budget {
            return self.siblings_only(map, None);
        }
        let resolved = match self.resolved.get(&target_path) {
            Some((done, size)) if self.produced + size <= self.budget => {
                self.produced += size;
                done.clone()
            }
            Some(_) => return self.siblings_only(map, None),
            None => {
                let Some(target) = resolve(self.doc, &target_path) else {
                    return self.siblings_only(map, None);
                };
                let markers_before = self.markers;
                let produced_before = self.produced;
                let here = std::mem::replace(&mut self.path, target_path.clone());
                self.frames.push(here);
                let expanded = self.value(target);
                self.path = self.frames.pop().unwrap_or_default();
                if self.markers == markers_before && self.produced < self.budget {
                    let size = self.produced - produced_before;
                    self.resolved.insert(target_path, (expanded.clone(), size));
                }
                expanded
            }
        };
        if map.len() == 1 || !resolved.is_object() {
            return resolved;
        }
        self.siblings_only(map, Some(resolved))
    }

    /// The `$ref` object's other keys (dereferenced), then the target's keys
    /// they do not already set. Without a target the `$ref` stays as is.
    fn siblings_only(&mut self, map: &Map<String, Value>, target: Option<Value>) -> Value {
        let mut out = Map::with_capacity(map.len());
        for (key, item) in map {
            if key == "$ref" {
                if target.is_none() {
                    out.insert(key.clone(), item.clone());
                }
                continue;
            }
            out.insert(key.clone(), self.child(key, item));
        }
        if let Some(Value::Object(target)) = target {
            for (key, item) in target {
                if !out.contains_key(&key) {
                    out.insert(key, item);
                }
            }
        }
        Value::Object(out)
    }

    /// Whether `target` is the current location, one the walk came from,
    /// or an ancestor of any of them.
    fn is_inside(&self, target: &[String]) -> bool {
        std::iter::once(&self.path)
            .chain(self.frames.iter())
            .any(|location| location.starts_with(target))
    }
}

/// The decoded tokens of an internal reference (`#`, `#/a/b~1c`), or `None`
/// for anything else (external files, URLs).
fn parse_pointer(reference: &str) -> Option<Vec<String>> {
    let pointer = reference.strip_prefix('#')?;
    if pointer.is_empty() {
        return Some(Vec::new());
    }
    let pointer = pointer.strip_prefix('/')?;
    Some(
        pointer
            .split('/')
            .map(|token| {
                let decoded = percent_encoding::percent_decode_str(token)
                    .decode_utf8()
                    .map(|d| d.into_owned())
                    .unwrap_or_else(|_| token.to_string());
                decoded.replace("~1", "/").replace("~0", "~")
            })
            .collect(),
    )
}

fn resolve<'v>(doc: &'v Value, tokens: &[String]) -> Option<&'v Value> {
    tokens.iter().try_fold(doc, |value, token| match value {
        Value::Object(map) => map.get(token),
        Value::Array(items) => token.parse::<usize>().ok().and_then(|i| items.get(i)),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pointers_decode_like_json_pointer() {
        assert_eq!(parse_pointer("#"), Some(vec![]));
        assert_eq!(
            parse_pointer("#/a~1b/c~0d/e%20f/~01"),
            Some(vec!["a/b".into(), "c~d".into(), "e f".into(), "~1".into()])
        );
        assert_eq!(parse_pointer("other.json#/a"), None);
        assert_eq!(parse_pointer("#a"), None);
    }

    #[test]
    fn inlines_and_marks_self_reference() {
        let doc = json!({"components": {"schemas": {
            "Node": {"type": "object", "properties": {
                "value": {"type": "string"},
                "children": {"type": "array", "items": {"$ref": "#/components/schemas/Node"}}
            }}
        }}, "x": {"$ref": "#/components/schemas/Node"}});
        let out = dereference(&doc, &doc["x"], &["x"]);
        assert_eq!(
            out,
            json!({"type": "object", "properties": {
                "value": {"type": "string"},
                "children": {"type": "array", "items": {"$circular": "#/components/schemas/Node"}}
            }})
        );
    }

    #[test]
    fn extended_refs_keep_their_siblings_first() {
        let doc = json!({"d": {"S": {"type": "string", "description": "from target"}},
            "x": {"description": "mine", "$ref": "#/d/S", "nullable": true}});
        let out = dereference(&doc, &doc["x"], &["x"]);
        assert_eq!(
            appstrate_jsjson::stringify(&out),
            r##"{"description":"mine","nullable":true,"type":"string"}"##
        );
    }

    #[test]
    fn unresolvable_and_external_refs_stay() {
        let doc = json!({"x": [{"$ref": "#/nope"}, {"$ref": "other.json#/a"}, {"$ref": 3}]});
        assert_eq!(dereference_document(&doc), doc);
    }

    /// Each schema references the next one twice: 2^40 copies if inlined
    /// blindly. The walk stops inlining at the budget, in bounded time.
    #[test]
    fn fan_out_without_cycles_stays_bounded() {
        let mut schemas = Map::new();
        for i in 0..40 {
            let next = format!("#/s/S{}", i + 1);
            schemas.insert(
                format!("S{i}"),
                json!({"properties": {"a": {"$ref": next}, "b": {"$ref": next}}}),
            );
        }
        schemas.insert("S40".into(), json!({"type": "string"}));
        let doc = json!({"s": schemas, "x": {"$ref": "#/s/S0"}});
        let started = std::time::Instant::now();
        let out = dereference_within(&doc, &doc["x"], &["x"], 10_000);
        let text = appstrate_jsjson::stringify(&out);
        assert!(
            text.contains("\"$ref\""),
            "references past the budget stay as written"
        );
        // Bounded by the budget (a few bytes a value), not by 2^40 copies.
        assert!(text.len() < 1024 * 1024, "{} bytes", text.len());
        assert!(started.elapsed() < std::time::Duration::from_secs(20));
    }

    #[test]
    fn ref_to_the_root_is_circular() {
        let doc = json!({"a": {"$ref": "#"}});
        assert_eq!(dereference_document(&doc), json!({"a": {"$circular": "#"}}));
    }
}
