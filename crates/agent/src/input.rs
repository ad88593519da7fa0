//! The input a local run starts with (docs/run.md "Input"): the author's
//! defaults, under the values the application stored for the agent, under
//! what the caller passed. Fields the application locked cannot be set by
//! the caller.

use serde_json::{Map, Value};

/// The caller tried to set a field the application locked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "Field '{0}' is locked on this agent and cannot be set at launch — remove it from the input."
)]
pub struct LockedField(pub String);

/// What the platform stored for the agent in this application.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InheritedInput {
    pub values: Map<String, Value>,
    pub locked_fields: Vec<String>,
}

/// The `default` of each top-level property of the manifest's input schema.
pub fn author_defaults(manifest: &Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    if let Some(props) = manifest
        .get("input")
        .and_then(|i| i.get("schema"))
        .and_then(|s| s.get("properties"))
        .and_then(Value::as_object)
    {
        for (key, prop) in props {
            if let Some(default) = prop.get("default") {
                out.insert(key.clone(), default.clone());
            }
        }
    }
    out
}

/// The first caller key that names a locked field.
pub fn locked_field_set(caller: &Map<String, Value>, locked: &[String]) -> Option<String> {
    caller
        .keys()
        .find(|k| locked.iter().any(|l| l == *k))
        .cloned()
}

/// Shallow merge, lowest layer first; every key the caller gives wins
/// (`null` and `""` included) unless it names a locked field.
pub fn layer_input(
    defaults: Map<String, Value>,
    inherited: Option<&InheritedInput>,
    caller: Map<String, Value>,
) -> Result<Map<String, Value>, LockedField> {
    let mut input = defaults;
    if let Some(inherited) = inherited {
        if let Some(key) = locked_field_set(&caller, &inherited.locked_fields) {
            return Err(LockedField(key));
        }
        for (key, value) in &inherited.values {
            input.insert(key.clone(), value.clone());
        }
    }
    for (key, value) in caller {
        input.insert(key, value);
    }
    Ok(input)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => unreachable!("test objects only"),
        }
    }

    #[test]
    fn layers_in_order_and_caller_nulls_win() {
        let manifest = obj(json!({"input": {"schema": {"properties": {
            "a": {"type": "string", "default": "author"},
            "b": {"type": "string", "default": "author"},
            "c": {"type": "string", "default": "author"},
            "d": {"type": "string"}
        }}}}));
        let inherited = InheritedInput {
            values: obj(json!({"b": "app", "c": "app"})),
            locked_fields: vec![],
        };
        let input = layer_input(
            author_defaults(&manifest),
            Some(&inherited),
            obj(json!({"c": null, "e": ""})),
        )
        .expect("no locked field");
        assert_eq!(
            Value::Object(input),
            json!({"a": "author", "b": "app", "c": null, "e": ""})
        );
    }

    #[test]
    fn a_locked_field_set_by_the_caller_is_refused() {
        let inherited = InheritedInput {
            values: obj(json!({"mode": "safe"})),
            locked_fields: vec!["mode".into()],
        };
        let err = layer_input(Map::new(), Some(&inherited), obj(json!({"mode": "fast"})))
            .expect_err("locked");
        assert_eq!(
            err.to_string(),
            "Field 'mode' is locked on this agent and cannot be set at launch — remove it from the input."
        );
        // Not set by the caller: the stored value applies.
        let input = layer_input(Map::new(), Some(&inherited), Map::new()).expect("ok");
        assert_eq!(Value::Object(input), json!({"mode": "safe"}));
    }
}
