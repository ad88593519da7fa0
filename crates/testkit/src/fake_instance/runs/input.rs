//! The input of a run as the platform resolves it: the author's
//! defaults, the application's stored values (locked ones win), the
//! caller's; and JSON-schema checks of input and output.

use serde_json::{Map, Value, json};

use super::super::state::Problem;

/// The output schema of a manifest (`manifest.output.schema`).
pub(crate) fn output_schema(manifest: &Map<String, Value>) -> Option<Map<String, Value>> {
    manifest.get("output")?.get("schema")?.as_object().cloned()
}

/// The input schema of a manifest (`manifest.input.schema`).
pub(crate) fn input_schema(manifest: &Map<String, Value>) -> Option<&Map<String, Value>> {
    manifest.get("input")?.get("schema")?.as_object()
}

/// `resolveEffectiveInput`: author defaults < per-app values < caller
/// input; a caller may not set a locked field.
pub(crate) fn effective_input(
    schema: Option<&Map<String, Value>>,
    values: &Map<String, Value>,
    locked: &[String],
    caller: Option<&Map<String, Value>>,
) -> Result<Map<String, Value>, Problem> {
    let mut input = Map::new();
    if let Some(properties) = schema
        .and_then(|s| s.get("properties"))
        .and_then(Value::as_object)
    {
        for (key, property) in properties {
            if let Some(default) = property.get("default") {
                input.insert(key.clone(), default.clone());
            }
        }
    }
    for (key, value) in values {
        input.insert(key.clone(), value.clone());
    }
    if let Some(caller) = caller {
        for (key, value) in caller {
            if locked.contains(key) {
                let problem = Problem::new(
                    400,
                    "locked_input_field",
                    "Locked Input Field",
                    format!(
                        "Field '{key}' is locked by the application settings and cannot be overridden"
                    ),
                );
                return Err(problem);
            }
            input.insert(key.clone(), value.clone());
        }
    }
    Ok(input)
}

/// AJV-style errors of `input` against `schema`: missing `required`
/// properties and primitive `type` mismatches, as `(field, message)`.
pub(crate) fn input_errors(
    schema: &Map<String, Value>,
    input: &Map<String, Value>,
) -> Vec<(String, String)> {
    let mut errors = Vec::new();
    let properties = schema.get("properties").and_then(Value::as_object);
    for required in schema
        .get("required")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        if !input.contains_key(required) {
            errors.push((
                required.to_owned(),
                format!("must have required property '{required}'"),
            ));
        }
    }
    for (key, value) in input {
        let Some(expected) = properties
            .and_then(|p| p.get(key))
            .and_then(|p| p.get("type"))
            .and_then(Value::as_str)
        else {
            continue;
        };
        let ok = match expected {
            "string" => value.is_string(),
            "number" => value.is_number(),
            "integer" => value.as_f64().is_some_and(|n| n.fract() == 0.0),
            "boolean" => value.is_boolean(),
            "object" => value.is_object(),
            "array" => value.is_array(),
            "null" => value.is_null(),
            _ => true,
        };
        if !ok {
            errors.push((key.clone(), format!("must be {expected}")));
        }
    }
    errors
}

pub(super) fn validation_failed(errors: &[(String, String)]) -> Problem {
    let fields: Vec<Value> = errors
        .iter()
        .map(|(field, message)| {
            json!({ "field": format!("input.{field}"), "code": "invalid_input", "title": "Invalid Input", "message": message })
        })
        .collect();
    let (field, message) = &errors[0];
    let mut detail = format!("input.{field}: {message}");
    if errors.len() > 1 {
        detail.push_str(&format!(" (+{} more)", errors.len() - 1));
    }
    let mut problem = Problem::new(400, "validation_failed", "Validation Failed", detail);
    problem.errors = Some(Box::new(Value::Array(fields)));
    problem
}
