//! The real platform schema (`crates/testkit/fixtures/appstrate-openapi.json`):
//! every operation is listed, in the original's order; filters narrow as
//! specified; `show --json` of every operation is finite JSON with no `$ref`
//! left except cycle markers; re-serialisation is byte-identical to
//! `JSON.stringify`.

mod common;

use std::collections::BTreeSet;

use appstrate_openapi::{
    Filters, collect_operations, dereference_document, find_operation, format_list, format_show,
    js, list_json, parse_document, show_json,
};
use serde_json::Value;

const METHODS: [&str; 8] = [
    "get", "post", "put", "patch", "delete", "head", "options", "trace",
];

/// The document's only reference that is not a JSON pointer into itself.
const EXTERNAL_REF: &str = "\"https://schemas.afps.dev/v0/agent.schema.json\"";

fn doc() -> Value {
    parse_document(&common::platform_openapi()).expect("the real schema parses")
}

/// `(METHOD, path, operation)` straight from the document, without the crate.
fn raw_operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths is an object") {
        for method in METHODS {
            if let Some(op) = item.get(method).filter(|o| o.is_object()) {
                out.push((method.to_uppercase(), path.clone(), op.clone()));
            }
        }
    }
    out
}

#[test]
fn list_json_lists_every_operation_of_the_document() {
    let doc = doc();
    let raw = raw_operations(&doc);
    assert!(raw.len() > 200, "the fixture is the real schema");
    let listed = list_json(&collect_operations(&doc));
    let items = listed.as_array().expect("an array");
    assert_eq!(items.len(), raw.len());
    let listed_keys: BTreeSet<(String, String)> = items
        .iter()
        .map(|i| {
            (
                i["method"].as_str().unwrap_or_default().to_string(),
                i["path"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let raw_keys: BTreeSet<(String, String)> =
        raw.iter().map(|(m, p, _)| (m.clone(), p.clone())).collect();
    assert_eq!(listed_keys, raw_keys);
    for item in items {
        let keys: Vec<&str> = item
            .as_object()
            .map(|m| m.keys().map(String::as_str).collect())
            .unwrap_or_default();
        let order = [
            "method",
            "path",
            "operationId",
            "summary",
            "tags",
            "deprecated",
        ];
        let positions: Vec<usize> = keys
            .iter()
            .map(|k| order.iter().position(|o| o == k).expect("only known keys"))
            .collect();
        assert!(
            positions.windows(2).all(|w| w[0] < w[1]),
            "key order of {item}"
        );
    }
}

#[test]
fn the_listing_parse_lists_exactly_what_the_full_parse_lists() {
    let bytes = common::platform_openapi();
    let full = doc();
    let index = appstrate_openapi::parse_operations_index(&bytes).expect("parses");
    let (a, b) = (collect_operations(&full), collect_operations(&index));
    assert_eq!(format_list(&a, true), format_list(&b, true));
    assert_eq!(list_json(&a), list_json(&b));
    let filters = Filters {
        search: Some("run".into()),
        path: Some("/api/**".into()),
        ..Default::default()
    };
    assert_eq!(list_json(&filters.apply(&a)), list_json(&filters.apply(&b)));
    assert!(appstrate_jsjson::stringify(&index).len() < bytes.len() / 3);
}

#[test]
fn order_matches_the_original_locale_compare_order() {
    let doc = doc();
    let ours: Vec<String> = collect_operations(&doc)
        .iter()
        .map(|o| format!("{} {}", o.method.upper(), o.path))
        .collect();
    let expected: Vec<String> = common::data("appstrate-openapi.order.txt")
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(ours, expected);
}

#[test]
fn filters_narrow_as_specified() {
    let doc = doc();
    let ops = collect_operations(&doc);
    let raw = raw_operations(&doc);
    let count = |f: &dyn Fn(&(String, String, Value)) -> bool| raw.iter().filter(|r| f(r)).count();

    // --tag, case-insensitive exact.
    let tag = ops
        .iter()
        .flat_map(|o| o.string_tags())
        .next()
        .expect("some tag")
        .to_string();
    let by_tag = Filters {
        tag: Some(tag.to_uppercase()),
        ..Default::default()
    }
    .apply(&ops);
    let expected = count(&|(_, _, op)| {
        op["tags"].as_array().is_some_and(|t| {
            t.iter()
                .any(|x| x.as_str().is_some_and(|s| s.eq_ignore_ascii_case(&tag)))
        })
    });
    assert!(expected > 0 && expected < raw.len());
    assert_eq!(by_tag.len(), expected);

    // --method.
    let posts = Filters {
        method: Some("pOsT".into()),
        ..Default::default()
    }
    .apply(&ops);
    assert_eq!(posts.len(), count(&|(m, _, _)| m == "POST"));
    assert!(posts.iter().all(|o| o.method.upper() == "POST"));

    // --path exact, `*` one segment, `**` any depth.
    let exact = Filters {
        path: Some("/api/orgs".into()),
        ..Default::default()
    }
    .apply(&ops);
    assert_eq!(exact.len(), count(&|(_, p, _)| p == "/api/orgs"));
    assert!(!exact.is_empty());
    let one = Filters {
        path: Some("/api/*".into()),
        ..Default::default()
    }
    .apply(&ops);
    assert_eq!(
        one.len(),
        count(&|(_, p, _)| p.starts_with("/api/") && !p["/api/".len()..].contains('/'))
    );
    let deep = Filters {
        path: Some("/api/**".into()),
        ..Default::default()
    }
    .apply(&ops);
    assert_eq!(deep.len(), count(&|(_, p, _)| p.starts_with("/api/")));
    assert!(deep.len() > one.len());

    // --search across operationId, summary, description, path, method.
    let needle = "schedule";
    let hits = Filters {
        search: Some("SCHEDULE".into()),
        ..Default::default()
    }
    .apply(&ops);
    let expected = count(&|(m, p, op)| {
        ["operationId", "summary", "description"]
            .iter()
            .filter_map(|k| op[*k].as_str())
            .chain([p.as_str(), m.to_lowercase().as_str()])
            .any(|h| h.to_lowercase().contains(needle))
    });
    assert!(expected > 0);
    assert_eq!(hits.len(), expected);

    // AND: all four together equal the intersection of each alone.
    let all = Filters {
        tag: Some(tag.clone()),
        method: Some("get".into()),
        path: Some("/api/**".into()),
        search: Some("e".into()),
    };
    let together: BTreeSet<String> = all
        .apply(&ops)
        .iter()
        .map(|o| format!("{} {}", o.method.upper(), o.path))
        .collect();
    let separately = [
        Filters {
            tag: Some(tag),
            ..Default::default()
        },
        Filters {
            method: Some("get".into()),
            ..Default::default()
        },
        Filters {
            path: Some("/api/**".into()),
            ..Default::default()
        },
        Filters {
            search: Some("e".into()),
            ..Default::default()
        },
    ]
    .iter()
    .map(|f| {
        f.apply(&ops)
            .iter()
            .map(|o| format!("{} {}", o.method.upper(), o.path))
            .collect::<BTreeSet<_>>()
    })
    .reduce(|a, b| a.intersection(&b).cloned().collect())
    .unwrap_or_default();
    assert!(!together.is_empty());
    assert_eq!(together, separately);

    // Empty strings are no filter.
    let none = Filters {
        tag: Some(String::new()),
        method: Some(String::new()),
        path: Some(String::new()),
        search: Some(String::new()),
    };
    assert_eq!(none.apply(&ops).len(), raw.len());
}

fn collect_refs(value: &Value, refs: &mut Vec<String>, markers: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(r) = map.get("$ref") {
                refs.push(r.to_string());
            }
            if let Some(Value::String(m)) = map.get("$circular") {
                assert_eq!(map.len(), 1, "a cycle marker has one key");
                markers.push(m.clone());
            }
            map.values().for_each(|v| collect_refs(v, refs, markers));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, refs, markers)),
        _ => {}
    }
}

#[test]
fn show_json_of_every_operation_is_finite_with_no_ref_left() {
    let doc = doc();
    let ops = collect_operations(&doc);
    let mut inlined = 0;
    for op in &ops {
        let payload = show_json(&doc, op);
        let text = appstrate_jsjson::stringify_pretty(&payload);
        let reparsed: Value = serde_json::from_str(&text).expect("valid JSON");
        assert_eq!(reparsed["method"], op.method.upper());
        assert_eq!(reparsed["path"], op.path);
        let (mut refs, mut markers) = (Vec::new(), Vec::new());
        collect_refs(&reparsed["operation"], &mut refs, &mut markers);
        // External references are never fetched, so they stay; every
        // internal one is inlined or became a cycle marker.
        assert!(
            refs.iter().all(|r| r == EXTERNAL_REF),
            "{} {}: $ref left: {refs:?}",
            op.method.upper(),
            op.path
        );
        for marker in &markers {
            assert!(marker.starts_with("#/"), "{marker}");
        }
        let raw_refs = appstrate_jsjson::stringify(op.op)
            .matches("\"$ref\":\"#")
            .count();
        inlined += raw_refs;
        // The text rendering of the dereferenced operation never fails either.
        let shown = format_show(op.method, op.path, &payload["operation"], false);
        assert!(shown.starts_with(&format!("{} {}\n", op.method.upper(), op.path)));
    }
    // The operations do use internal references, and none survived.
    assert!(inlined > 100, "{inlined} internal references in operations");
}

#[test]
fn whole_document_dereferences_finitely() {
    let doc = doc();
    let out = dereference_document(&doc);
    let (mut refs, mut markers) = (Vec::new(), Vec::new());
    collect_refs(&out, &mut refs, &mut markers);
    assert!(refs.iter().all(|r| r == EXTERNAL_REF), "{refs:?}");
    assert!(
        !refs.is_empty(),
        "the external reference is kept as written"
    );
    assert_eq!(out["openapi"], doc["openapi"]);
}

#[test]
fn export_is_byte_identical_to_json_stringify() {
    let bytes = common::platform_openapi();
    let doc = doc();
    let pretty = appstrate_jsjson::stringify_pretty(&doc);
    // `JSON.stringify(JSON.parse(file), null, 2)` under node 20: length in
    // UTF-16 units and SHA-256 of its UTF-8 bytes.
    assert_eq!(js::utf16_len(&pretty), 1_091_190);
    assert_eq!(
        sha256_hex(pretty.as_bytes()),
        "5a7d1f196be5eb8ac42e927e70d9386ca395ffd3818def27725ccea5df564256"
    );
    // Compact form round-trips to the same document.
    let compact = appstrate_jsjson::stringify(&doc);
    assert!(compact.len() <= bytes.len());
    assert_eq!(parse_document(compact.as_bytes()).ok(), Some(doc));
}

#[test]
fn find_by_id_and_by_method_path() {
    let doc = doc();
    let ops = collect_operations(&doc);
    for op in &ops {
        let method = op.method.upper();
        let found =
            find_operation(&ops, &method.to_lowercase(), Some(op.path)).expect("by method+path");
        assert_eq!((found.method, found.path), (op.method, op.path));
        let quoted = find_operation(&ops, &format!("{method} {}", op.path), None).expect("quoted");
        assert_eq!((quoted.method, quoted.path), (op.method, op.path));
        if let Some(id) = op.operation_id() {
            let by_id = find_operation(&ops, id, None).expect("by id");
            assert_eq!(by_id.operation_id(), Some(id));
        }
    }
    let text = format_list(&ops, false);
    assert_eq!(text.lines().count(), ops.len());
}

fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(data))
}
