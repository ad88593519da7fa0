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

/// Snapshot settings that show colour codes as `<32>`…`<0>`, so a
/// coloured rendering reads as text.
fn ansi_visible() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(r"\x1b\[([0-9;]*)m", "<$1>");
    settings
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
    let plain = format_list(&ops, false);
    // One line per operation, each ending in a newline (snapshots trim the last).
    assert_eq!(plain.matches('\n').count(), ops.len());
    insta::assert_snapshot!(plain, @r"
    GET    /api/agents — List agents [agents]
    GET    /api/agents/{id} — Get an agent [agents]
    PUT    /api/agents/{id} — Update an agent [agents]
    GET    /api/deprecated — Legacy endpoint [legacy] [deprecated]
    GET    /api/runs — List runs [runs]
    POST   /api/runs — Create a run [runs]
    GET    /api/runs/{id} — Get a run [runs]
    DELETE /api/runs/{id} — Cancel a run [runs]
    ");
    let legacy = [
        by_id(&ops, "legacyThing"),
        by_id(&ops, "createRun"),
        by_id(&ops, "cancelRun"),
    ];
    ansi_visible().bind(|| {
        insta::assert_snapshot!(format_list(&legacy, true), @r"
        <32>GET   <0> /api/deprecated — <2>Legacy endpoint<0> <36>[legacy]<0> <1><31>[deprecated]<0>
        <33>POST  <0> /api/runs — <2>Create a run<0> <36>[runs]<0>
        <31>DELETE<0> /api/runs/{id} — <2>Cancel a run<0> <36>[runs]<0>
        ");
    });
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
    insta::assert_snapshot!(format_list(&ops, false), @r"
    PATCH  /x [only]
    HEAD   /x [a,2,,true] [deprecated]
    OPTIONS /x
    TRACE  /x [deprecated]
    ");
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
    let list_runs = show(&doc, "listRuns", false);
    assert!(list_runs.ends_with("Unauthorized\n"), "{list_runs:?}");
    insta::assert_snapshot!(list_runs, @r"
    GET /api/runs
    operationId: listRuns
    tags: runs

    List runs

    Return the list of runs for the current org.

    Parameters:
      query.limit: integer — Max number of runs to return.

    Responses:
      200 — OK
        application/json
      401 — Unauthorized
    ");
    insta::assert_snapshot!(show(&doc, "createRun", false), @r"
    POST /api/runs
    operationId: createRun
    tags: runs

    Create a run

    Request body (required):
      application/json

    Responses:
      201 — Created
        application/json
    ");
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
    ansi_visible().bind(|| {
        insta::assert_snapshot!(show(&doc, "cancelRun", true), @r"
        <31><1>DELETE<0> /api/runs/{id}
        <2>operationId: cancelRun<0>
        <36>tags: runs<0>

        <1>Cancel a run<0>

        <1>Parameters:<0>
          <36>path<0>.<1>id<0>: string<31> (required)<0>

        <1>Responses:<0>
          <32><1>204<0> — <2>No content<0>
        ");
    });
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
    insta::assert_snapshot!(format_show(op.method, op.path, op.op, false), @r"
    POST /x
    operationId: 7
    tags: b, c

    Padded.

    Parameters:
      ?.?: any
      header.n: any

    Request body:
      (no content)

    Responses:
      30
      200
        text/plain
        application/json
      1000
      5XX
      default — Other
    ");
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
