//! The original test suite's fixture (`tests/data/upstream-test-fixture.json`):
//! ordering, filters, lookup and the exact text / JSON renderings.

mod common;

use appstrate_openapi::{
    Filters, Operation, collect_operations, find_operation, format_list, format_show, list_json,
    parse_document, show_json,
};
use serde_json::{Value, json};

fn doc() -> Value {
    parse_document(&common::data_bytes("upstream-test-fixture.json")).expect("fixture parses")
}

fn by_id<'a>(ops: &[Operation<'a>], id: &str) -> Operation<'a> {
    find_operation(ops, id, None).unwrap_or_else(|| panic!("fixture drift: {id}"))
}

fn ids(ops: &[Operation<'_>]) -> Vec<String> {
    ops.iter()
        .map(|o| o.operation_id().unwrap_or("?").to_string())
        .collect()
}

#[test]
fn operations_in_order() {
    let doc = doc();
    let got: Vec<String> = collect_operations(&doc)
        .iter()
        .map(|o| format!("{} {}", o.method.upper(), o.path))
        .collect();
    assert_eq!(
        got,
        [
            "GET /api/agents",
            "GET /api/agents/{id}",
            "PUT /api/agents/{id}",
            "GET /api/deprecated",
            "GET /api/runs",
            "POST /api/runs",
            "GET /api/runs/{id}",
            "DELETE /api/runs/{id}",
        ]
    );
    assert!(collect_operations(&json!({})).is_empty());
    assert!(collect_operations(&json!({"paths": {}})).is_empty());
}

#[test]
fn filters_and_their_composition() {
    let doc = doc();
    let ops = collect_operations(&doc);
    let apply = |f: Filters| ids(&f.apply(&ops));
    let f = |tag: &str, method: &str, path: &str, search: &str| Filters {
        tag: Some(tag.into()),
        method: Some(method.into()),
        path: Some(path.into()),
        search: Some(search.into()),
    };
    assert_eq!(
        apply(f("RUNS", "", "", "")),
        ["listRuns", "createRun", "getRun", "cancelRun"]
    );
    assert_eq!(apply(f("Runs", "post", "", "")), ["createRun"]);
    assert_eq!(apply(f("nonexistent", "", "", "")), Vec::<String>::new());
    assert_eq!(
        apply(f("runs", "", "/api/runs/*", "")),
        ["getRun", "cancelRun"]
    );
    assert_eq!(apply(f("", "", "/api/runs", "")), ["listRuns", "createRun"]);
    assert_eq!(
        apply(f("", "", "/api/*", "")),
        ["listAgents", "legacyThing", "listRuns", "createRun"]
    );
    assert_eq!(apply(f("", "", "/api/**", "")).len(), ops.len());
    assert_eq!(apply(f("", "", "/api/runs.*", "")), Vec::<String>::new());
    assert_eq!(apply(f("", "", "/api/run[s]", "")), Vec::<String>::new());
    assert_eq!(
        apply(f("", "", &format!("/api/{}", "*".repeat(250)), "")),
        Vec::<String>::new()
    );
    // search: operationId, summary, description, path, method.
    assert_eq!(apply(f("", "", "", "LISTRUNS")), ["listRuns"]);
    assert_eq!(apply(f("", "", "", "current org")), ["listRuns"]);
    assert_eq!(apply(f("", "", "", "agentx")), Vec::<String>::new());
    assert_eq!(apply(f("", "", "", "delete")), ["cancelRun"]);
    assert_eq!(apply(f("", "", "", "/api/deprecated")), ["legacyThing"]);
    let agent_hits = Filters {
        search: Some("AGENT".into()),
        ..Default::default()
    }
    .apply(&ops);
    assert!(!agent_hits.is_empty());
    assert!(
        agent_hits
            .iter()
            .all(|o| o.string_tags().any(|t| t == "agents"))
    );
    assert_eq!(Filters::default().apply(&ops).len(), ops.len());
    // An operation without a tag array never matches a tag filter.
    let untagged = json!({"paths": {"/x": {"get": {"tags": "runs"}}}});
    let untagged_ops = collect_operations(&untagged);
    assert!(f("runs", "", "", "").apply(&untagged_ops).is_empty());
}

#[test]
fn lookup() {
    let doc = doc();
    let ops = collect_operations(&doc);
    let create = by_id(&ops, "createRun");
    assert_eq!((create.method.upper(), create.path), ("POST", "/api/runs"));
    assert_eq!(
        find_operation(&ops, "GET", Some("/api/runs")).and_then(|o| o.operation_id()),
        Some("listRuns")
    );
    assert_eq!(
        find_operation(&ops, "DELETE /api/runs/{id}", None).and_then(|o| o.operation_id()),
        Some("cancelRun")
    );
    assert_eq!(
        find_operation(&ops, "\"DELETE /api/runs/{id}\"", None).and_then(|o| o.operation_id()),
        None,
        "quotes are the shell's business"
    );
    assert!(find_operation(&ops, "doesNotExist", None).is_none());
    assert!(find_operation(&ops, "POST", Some("/api/runs/{id}")).is_none());
}

#[test]
fn list_text_plain_and_coloured() {
    let doc = doc();
    let ops = collect_operations(&doc);
    assert_eq!(
        format_list(&ops, false),
        "GET    /api/agents — List agents [agents]\n\
         GET    /api/agents/{id} — Get an agent [agents]\n\
         PUT    /api/agents/{id} — Update an agent [agents]\n\
         GET    /api/deprecated — Legacy endpoint [legacy] [deprecated]\n\
         GET    /api/runs — List runs [runs]\n\
         POST   /api/runs — Create a run [runs]\n\
         GET    /api/runs/{id} — Get a run [runs]\n\
         DELETE /api/runs/{id} — Cancel a run [runs]\n"
    );
    let legacy = [
        by_id(&ops, "legacyThing"),
        by_id(&ops, "createRun"),
        by_id(&ops, "cancelRun"),
    ];
    assert_eq!(
        format_list(&legacy, true),
        "\x1b[32mGET   \x1b[0m /api/deprecated — \x1b[2mLegacy endpoint\x1b[0m \x1b[36m[legacy]\x1b[0m \x1b[1m\x1b[31m[deprecated]\x1b[0m\n\
         \x1b[33mPOST  \x1b[0m /api/runs — \x1b[2mCreate a run\x1b[0m \x1b[36m[runs]\x1b[0m\n\
         \x1b[31mDELETE\x1b[0m /api/runs/{id} — \x1b[2mCancel a run\x1b[0m \x1b[36m[runs]\x1b[0m\n"
    );
    assert!(!format_list(&ops, false).contains('\x1b'));
    assert_eq!(
        format_list(&[], true),
        "No operations match the given filters.\n"
    );
}

#[test]
fn list_line_edge_cases() {
    // No summary, no tags; non-string tags joined like JS; truthy deprecated.
    let doc = json!({"paths": {"/x": {
        "options": {},
        "trace": {"summary": "", "tags": [], "deprecated": 1},
        "head": {"tags": ["a", 2, null, true], "deprecated": "yes"},
        "patch": {"summary": 5, "tags": ["only"], "deprecated": false}
    }}});
    let ops = collect_operations(&doc);
    assert_eq!(
        format_list(&ops, false),
        "PATCH  /x [only]\n\
         HEAD   /x [a,2,,true] [deprecated]\n\
         OPTIONS /x\n\
         TRACE  /x [deprecated]\n"
    );
    assert_eq!(
        appstrate_jsjson::stringify(&list_json(&ops)),
        r#"[{"method":"PATCH","path":"/x","tags":["only"]},{"method":"HEAD","path":"/x","tags":["a"]},{"method":"OPTIONS","path":"/x"},{"method":"TRACE","path":"/x","summary":""}]"#
    );
}

#[test]
fn list_json_shape() {
    let doc = doc();
    let ops = collect_operations(&doc);
    let pick = [by_id(&ops, "createRun"), by_id(&ops, "legacyThing")];
    assert_eq!(
        appstrate_jsjson::stringify_pretty(&list_json(&pick)),
        r#"[
  {
    "method": "POST",
    "path": "/api/runs",
    "operationId": "createRun",
    "summary": "Create a run",
    "tags": [
      "runs"
    ]
  },
  {
    "method": "GET",
    "path": "/api/deprecated",
    "operationId": "legacyThing",
    "summary": "Legacy endpoint",
    "tags": [
      "legacy"
    ],
    "deprecated": true
  }
]"#
    );
}

fn show(doc: &Value, id: &str, color: bool) -> String {
    let ops = collect_operations(doc);
    let op = by_id(&ops, id);
    let payload = show_json(doc, &op);
    format_show(op.method, op.path, &payload["operation"], color)
}

#[test]
fn show_text_sections() {
    let doc = doc();
    assert_eq!(
        show(&doc, "listRuns", false),
        "GET /api/runs\n\
         operationId: listRuns\n\
         tags: runs\n\
         \n\
         List runs\n\
         \n\
         Return the list of runs for the current org.\n\
         \n\
         Parameters:\n\
         \x20 query.limit: integer — Max number of runs to return.\n\
         \n\
         Responses:\n\
         \x20 200 — OK\n\
         \x20   application/json\n\
         \x20 401 — Unauthorized\n"
    );
    assert_eq!(
        show(&doc, "createRun", false),
        "POST /api/runs\n\
         operationId: createRun\n\
         tags: runs\n\
         \n\
         Create a run\n\
         \n\
         Request body (required):\n\
         \x20 application/json\n\
         \n\
         Responses:\n\
         \x20 201 — Created\n\
         \x20   application/json\n"
    );
    let get_run = show(&doc, "getRun", false);
    assert!(
        get_run.contains("\n  path.id: string (required)\n"),
        "{get_run}"
    );
    let legacy = show(&doc, "legacyThing", false);
    assert!(
        legacy.starts_with(
            "GET /api/deprecated\noperationId: legacyThing\ntags: legacy\nDEPRECATED\n"
        )
    );
    let agents = show(&doc, "listAgents", false);
    assert!(agents.starts_with("GET /api/agents\n"));
    assert!(!agents.contains("Parameters:"));
    assert!(!agents.contains("Request body"));
    let update = show(&doc, "updateAgent", false);
    assert!(
        update.contains("\nRequest body:\n  application/json\n"),
        "{update}"
    );
}

#[test]
fn show_text_coloured() {
    let doc = doc();
    assert_eq!(
        show(&doc, "cancelRun", true),
        "\x1b[31m\x1b[1mDELETE\x1b[0m /api/runs/{id}\n\
         \x1b[2moperationId: cancelRun\x1b[0m\n\
         \x1b[36mtags: runs\x1b[0m\n\
         \n\
         \x1b[1mCancel a run\x1b[0m\n\
         \n\
         \x1b[1mParameters:\x1b[0m\n\
         \x20 \x1b[36mpath\x1b[0m.\x1b[1mid\x1b[0m: string\x1b[31m (required)\x1b[0m\n\
         \n\
         \x1b[1mResponses:\x1b[0m\n\
         \x20 \x1b[32m\x1b[1m204\x1b[0m — \x1b[2mNo content\x1b[0m\n"
    );
}

#[test]
fn show_text_edge_cases() {
    let doc = json!({"paths": {"/x": {"post": {
        "operationId": 7,
        "tags": [1, "b", "c"],
        "deprecated": "yes",
        "summary": "",
        "description": "\n  Padded.  \n",
        "parameters": [null, 3, {"schema": {"type": ["string", "null"]}}, {"name": "n", "in": "header", "required": "true", "description": ""}],
        "requestBody": {"content": {}},
        "responses": {"default": {"description": "Other"}, "5XX": {}, "404": "bad", "200": {"content": {"text/plain": {}, "application/json": {}}}, "1000": {}, "30": {"description": ""}}
    }}}});
    let ops = collect_operations(&doc);
    let op = ops[0];
    assert_eq!(
        format_show(op.method, op.path, op.op, false),
        "POST /x\n\
         operationId: 7\n\
         tags: b, c\n\
         \n\
         Padded.\n\
         \n\
         Parameters:\n\
         \x20 ?.?: any\n\
         \x20 header.n: any\n\
         \n\
         Request body:\n\
         \x20 (no content)\n\
         \n\
         Responses:\n\
         \x20 30\n\
         \x20 200\n\
         \x20   text/plain\n\
         \x20   application/json\n\
         \x20 1000\n\
         \x20 5XX\n\
         \x20 default — Other\n"
    );
}

#[test]
fn show_json_inlines_refs() {
    let doc = doc();
    let ops = collect_operations(&doc);
    let payload = show_json(&doc, &by_id(&ops, "listRuns"));
    assert_eq!(
        appstrate_jsjson::stringify(&payload["operation"]["responses"]["200"]),
        r#"{"description":"OK","content":{"application/json":{"schema":{"type":"object","properties":{"items":{"type":"array","items":{"type":"object","properties":{"id":{"type":"string"},"status":{"type":"string"}}}}}}}}}"#
    );
    let keys: Vec<&String> = payload
        .as_object()
        .map(|m| m.keys().collect())
        .unwrap_or_default();
    assert_eq!(keys, ["method", "path", "operation"]);
    assert_eq!(payload["method"], "GET");
    assert!(!appstrate_jsjson::stringify(&payload).contains("$ref"));
}
