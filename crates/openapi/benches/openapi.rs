//! In-process costs on the real platform schema: parsing, listing and
//! filtering, one `show --json`, and dereferencing the whole document.
//! Run: `cargo bench -p appstrate-openapi`.

use std::hint::black_box;
use std::path::PathBuf;

use appstrate_openapi::{
    Filters, collect_operations, dereference_document, find_operation, format_list, list_json,
    parse_document, show_json,
};
use criterion::{Criterion, criterion_group, criterion_main};

/// The platform's OpenAPI document, kept once in the repository (the fake
/// instance of `crates/testkit` serves the same file).
fn schema_bytes() -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../testkit/fixtures/appstrate-openapi.json");
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

fn benches(c: &mut Criterion) {
    let bytes = schema_bytes();
    let doc = parse_document(&bytes).expect("schema parses");

    c.bench_function("parse 594 KB schema", |b| {
        b.iter(|| parse_document(black_box(&bytes)))
    });
    c.bench_function("parse listing view only (openapi list)", |b| {
        b.iter(|| appstrate_openapi::parse_operations_index(black_box(&bytes)))
    });
    c.bench_function("list: collect + format text", |b| {
        b.iter(|| format_list(&collect_operations(black_box(&doc)), false))
    });
    c.bench_function("list: collect + JSON", |b| {
        b.iter(|| {
            appstrate_jsjson::stringify_pretty(&list_json(&collect_operations(black_box(&doc))))
        })
    });
    let filters = Filters {
        tag: Some("runs".into()),
        method: Some("get".into()),
        path: Some("/api/**".into()),
        search: Some("run".into()),
    };
    c.bench_function("list: collect + all four filters", |b| {
        b.iter(|| filters.apply(&collect_operations(black_box(&doc))))
    });
    c.bench_function("show --json: one operation", |b| {
        b.iter(|| {
            let ops = collect_operations(&doc);
            let op = find_operation(&ops, "POST /api/agents/{scope}/{name}/run", None)
                .expect("operation exists");
            appstrate_jsjson::stringify_pretty(&show_json(&doc, &op))
        })
    });
    c.bench_function("dereference whole document", |b| {
        b.iter(|| dereference_document(black_box(&doc)))
    });
    c.bench_function("export: JSON.stringify(doc, null, 2)", |b| {
        b.iter(|| appstrate_jsjson::stringify_pretty(black_box(&doc)))
    });
}

criterion_group!(openapi, benches);
criterion_main!(openapi);
