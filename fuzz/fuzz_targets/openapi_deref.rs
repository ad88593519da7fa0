//! `openapi list` / `openapi show` on a hostile schema document.
//!
//! Input: the document bytes. Invariants: every listed operation is found
//! again by its `METHOD path` (and by its operationId when it has one);
//! dereferencing is deterministic, and leaves a document without `$ref`
//! unchanged.
#![no_main]

use appstrate_openapi::{
    Filters, collect_operations, dereference_document, dereference_operation, find_operation,
    format_list, format_show, list_json, parse_document, show_json,
};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fn has_ref(value: &Value) -> bool {
    match value {
        Value::Object(map) => map.contains_key("$ref") || map.values().any(has_ref),
        Value::Array(items) => items.iter().any(has_ref),
        _ => false,
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(doc) = parse_document(data) else {
        return;
    };
    let operations = collect_operations(&doc);
    assert_eq!(
        Filters::default().apply(&operations).len(),
        operations.len()
    );
    let _ = format_list(&operations, false);
    let _ = format_list(&operations, true);
    let _ = list_json(&operations);
    for op in operations.iter().take(8) {
        let by_path = find_operation(&operations, op.method.upper(), Some(op.path));
        assert!(by_path.is_some_and(|found| found.path == op.path && found.method == op.method));
        if let Some(id) = op.operation_id() {
            let by_id = find_operation(&operations, id, None);
            assert!(by_id.is_some_and(|found| found.operation_id() == Some(id)));
        }
        let _ = show_json(&doc, op);
        let inlined = dereference_operation(&doc, op);
        assert_eq!(inlined, dereference_operation(&doc, op));
        let _ = format_show(op.method, op.path, &inlined, false);
        let _ = format_show(op.method, op.path, &inlined, true);
    }
    let whole = dereference_document(&doc);
    if !has_ref(&doc) {
        assert_eq!(
            whole, doc,
            "a document without $ref must come out unchanged"
        );
    }
});
