//! A hand-made schema with a self-referencing component (`Node`), two
//! mutually-referencing ones (`Person` ↔ `Company`), a reference chain and
//! shared (non-circular) references: output is finite, everything that is
//! not circular is inlined, each cycle is one `{"$circular": …}` marker.

use appstrate_openapi::{
    collect_operations, dereference_document, find_operation, format_show, parse_document,
    show_json,
};
use serde_json::{Value, json};

const SCHEMA: &str = r##"{
  "openapi": "3.1.0",
  "info": {"title": "cycles", "version": "1"},
  "paths": {
    "/tree": {
      "get": {
        "operationId": "getTree",
        "parameters": [{"$ref": "#/components/parameters/Depth"}],
        "responses": {
          "200": {"$ref": "#/components/responses/TreeResponse"}
        }
      }
    },
    "/people/{id}": {
      "get": {
        "operationId": "getPerson",
        "responses": {
          "200": {
            "description": "A person",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Person"}}}
          }
        }
      }
    },
    "/pair": {
      "post": {
        "operationId": "makePair",
        "requestBody": {"content": {"application/json": {"schema": {
          "type": "object",
          "properties": {
            "left": {"$ref": "#/components/schemas/Leaf"},
            "right": {"$ref": "#/components/schemas/Leaf"}
          }
        }}}},
        "responses": {"204": {"description": "done"}}
      }
    }
  },
  "components": {
    "parameters": {
      "Depth": {"name": "depth", "in": "query", "schema": {"$ref": "#/components/schemas/Count"}}
    },
    "responses": {
      "TreeResponse": {
        "description": "The tree",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Node"}}}
      }
    },
    "schemas": {
      "Count": {"$ref": "#/components/schemas/Integer"},
      "Integer": {"type": "integer", "minimum": 0},
      "Leaf": {"type": "string"},
      "Node": {
        "type": "object",
        "properties": {
          "value": {"type": "string"},
          "children": {"type": "array", "items": {"$ref": "#/components/schemas/Node"}}
        }
      },
      "Person": {
        "type": "object",
        "properties": {
          "name": {"type": "string"},
          "employer": {"$ref": "#/components/schemas/Company"}
        }
      },
      "Company": {
        "type": "object",
        "properties": {
          "name": {"type": "string"},
          "ceo": {"$ref": "#/components/schemas/Person"},
          "staff": {"type": "array", "items": {"$ref": "#/components/schemas/Person"}}
        }
      }
    }
  }
}"##;

fn operation(id: &str) -> Value {
    let doc = parse_document(SCHEMA.as_bytes()).expect("schema parses");
    let ops = collect_operations(&doc);
    let op = find_operation(&ops, id, None).expect("operation exists");
    show_json(&doc, &op)["operation"].clone()
}

#[test]
fn self_reference_becomes_one_marker() {
    assert_eq!(
        operation("getTree"),
        json!({
            "operationId": "getTree",
            "parameters": [{"name": "depth", "in": "query", "schema": {"type": "integer", "minimum": 0}}],
            "responses": {"200": {
                "description": "The tree",
                "content": {"application/json": {"schema": {
                    "type": "object",
                    "properties": {
                        "value": {"type": "string"},
                        "children": {"type": "array", "items": {"$circular": "#/components/schemas/Node"}}
                    }
                }}}
            }}
        })
    );
}

#[test]
fn mutual_reference_is_inlined_until_it_closes() {
    assert_eq!(
        operation("getPerson")["responses"]["200"]["content"]["application/json"]["schema"],
        json!({
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "employer": {
                    "type": "object",
                    "properties": {
                        "name": {"type": "string"},
                        "ceo": {"$circular": "#/components/schemas/Person"},
                        "staff": {"type": "array", "items": {"$circular": "#/components/schemas/Person"}}
                    }
                }
            }
        })
    );
}

#[test]
fn shared_references_are_not_cycles() {
    assert_eq!(
        operation("makePair")["requestBody"]["content"]["application/json"]["schema"]["properties"],
        json!({"left": {"type": "string"}, "right": {"type": "string"}})
    );
}

#[test]
fn whole_document_is_finite_and_marks_cycles_at_their_definition() {
    let doc = parse_document(SCHEMA.as_bytes()).expect("schema parses");
    let out = dereference_document(&doc);
    let schemas = &out["components"]["schemas"];
    assert_eq!(schemas["Count"], json!({"type": "integer", "minimum": 0}));
    assert_eq!(
        schemas["Node"]["properties"]["children"]["items"],
        json!({"$circular": "#/components/schemas/Node"})
    );
    assert_eq!(
        schemas["Company"]["properties"]["ceo"]["properties"]["employer"],
        json!({"$circular": "#/components/schemas/Company"})
    );
    let text = appstrate_jsjson::stringify_pretty(&out);
    assert!(!text.contains("\"$ref\""));
    assert!(serde_json::from_str::<Value>(&text).is_ok());
}

#[test]
fn text_show_of_a_circular_operation_works() {
    let doc = parse_document(SCHEMA.as_bytes()).expect("schema parses");
    let ops = collect_operations(&doc);
    let op = find_operation(&ops, "getTree", None).expect("exists");
    let payload = show_json(&doc, &op);
    insta::assert_snapshot!(format_show(op.method, op.path, &payload["operation"], false), @r"
    GET /tree
    operationId: getTree

    Parameters:
      query.depth: integer

    Responses:
      200 — The tree
        application/json
    ");
}

#[test]
fn deep_reference_chains_and_fan_out_stay_bounded() {
    // 13 schemas, each referencing the next twice: no cycle, so the 2^12
    // leaves are all inlined (expansions are reused, not recomputed).
    let mut schemas = serde_json::Map::new();
    for i in 0..12 {
        let next = format!("#/components/schemas/S{}", i + 1);
        schemas.insert(
            format!("S{i}"),
            json!({"type": "object", "properties": {"a": {"$ref": next}, "b": {"$ref": next}}}),
        );
    }
    schemas.insert("S12".into(), json!({"type": "string"}));
    let doc = json!({"paths": {"/x": {"get": {"responses": {"200": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/S0"}}}}}}}}, "components": {"schemas": schemas}});
    let ops = collect_operations(&doc);
    let out = show_json(&doc, &ops[0]);
    let text = appstrate_jsjson::stringify(&out);
    assert_eq!(text.matches("\"type\":\"string\"").count(), 1 << 12);
    assert!(!text.contains("$ref") && !text.contains("$circular"));
}
