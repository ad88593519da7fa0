//! Runtime tools (`runtime_tools` in the manifest): `output`, `log`, `note`,
//! `pin`. They return a text and the canonical events they emit. The
//! descriptions are the platform's, word for word (the model reads them).

use serde_json::{Map, Value, json};

#[derive(Clone)]
pub enum RuntimeTool {
    Output {
        schema: Option<Value>,
        validator: Option<std::sync::Arc<jsonschema::Validator>>,
    },
    Log,
    Note,
    Pin,
}

const SCOPE_NOTE: &str = "Persistence scope. \"actor\" (default) keeps the note private to the calling actor — well-suited for personal preferences. \"shared\" makes the note visible to every actor of the app; use for facts universal regardless of who triggered the run.";
const SCOPE_PIN: &str = "Persistence scope. \"actor\" (default) gives every actor their own private copy of the slot — scheduled runs, manual triggers, and different members do not share state. \"shared\" makes the slot app-wide; use when the slot tracks a resource shared across actors.";

impl RuntimeTool {
    pub fn build(name: &str, output_schema: Option<&Value>) -> Option<Self> {
        Some(match name {
            "output" => {
                let schema = output_schema.filter(|s| s.is_object()).cloned();
                let validator = schema
                    .as_ref()
                    .and_then(|s| jsonschema::validator_for(s).ok())
                    .map(std::sync::Arc::new);
                RuntimeTool::Output { schema, validator }
            }
            "log" => RuntimeTool::Log,
            "note" => RuntimeTool::Note,
            "pin" => RuntimeTool::Pin,
            _ => return None,
        })
    }

    pub fn has_output_schema(&self) -> bool {
        matches!(
            self,
            RuntimeTool::Output {
                schema: Some(_),
                ..
            }
        )
    }

    pub fn is_output(&self) -> bool {
        matches!(self, RuntimeTool::Output { .. })
    }

    pub fn description(&self) -> String {
        match self {
            RuntimeTool::Output { schema: Some(_), .. } => "Call exactly once, as your final action, with the complete output object that satisfies the declared schema (all required fields must be provided). A successful call ends the run immediately — do all other work first.".into(),
            RuntimeTool::Output { schema: None, .. } => "Optional — call at most once, as your final action, to return a JSON object as the run result. If your task produces no result to return, finish without calling it. A successful call ends the run immediately — do all other work first.".into(),
            RuntimeTool::Log => "Send a progress message to the user. Write naturally — the user reads these in real time.".into(),
            RuntimeTool::Note => concat!(
                "Append a long-term archive memory — a discovery, fact, or user preference worth keeping across future runs. ",
                "Archive memories are NOT injected into the system prompt; retrieve them on demand with `recall_memory`. ",
                "Scope defaults to \"actor\" — personal observations stay private to the calling actor (scheduled runs, ",
                "manual triggers, and different members each see only their own notes). ",
                "Pass scope=\"shared\" for facts universal to the app — API quirks, org conventions, shared-resource structure — ",
                "so every actor can recall them. ",
                "Use for insights worth remembering (e.g. 'Gmail API paginates at 100 results', 'User prefers CSV format')."
            ).into(),
            RuntimeTool::Pin => concat!(
                "Upsert a named slot pinned into the system prompt on every run. Last-write-wins per (scope, key). ",
                "Use key=\"checkpoint\" for the carry-over checkpoint; other keys (e.g. \"persona\", \"goals\") create additional pinned blocks. ",
                "Scope defaults to \"actor\" — scheduled runs, manual triggers, and different members each get their own copy. ",
                "Pass scope=\"shared\" when the slot tracks a resource shared across actors (synced repo, shared inbox, shared DB), ",
                "otherwise the agent will desynchronise across triggers."
            ).into(),
        }
    }

    pub fn schema(&self) -> Value {
        match self {
            RuntimeTool::Output { schema, .. } => {
                // The validation of `data` against the author's schema is done
                // by the tool itself (with the platform's message), so the
                // argument schema only checks the envelope.
                let data = match schema {
                    Some(s) => {
                        let mut d = s.clone();
                        if !d.get("description").is_some_and(Value::is_string) {
                            d["description"] = json!("JSON object to return as the run output");
                        }
                        d
                    }
                    None => {
                        json!({"type": "object", "description": "JSON object to return as the run output"})
                    }
                };
                json!({"type": "object", "additionalProperties": false, "required": ["data"], "properties": {"data": data}})
            }
            RuntimeTool::Log => json!({
                "type": "object", "additionalProperties": false, "required": ["level", "message"],
                "properties": {
                    "level": {"type": "string", "enum": ["info", "warn", "error"], "description": "info: progress and milestones, warn: non-blocking issues, error: failures"},
                    "message": {"type": "string", "description": "Message for the user"}
                }
            }),
            RuntimeTool::Note => json!({
                "type": "object", "additionalProperties": false, "required": ["content"],
                "properties": {
                    "content": {"type": "string", "description": "Memory text to save (max 2000 characters)"},
                    "scope": {"type": "string", "enum": ["actor", "shared"], "description": SCOPE_NOTE}
                }
            }),
            RuntimeTool::Pin => json!({
                "type": "object", "additionalProperties": false, "required": ["key", "content"],
                "properties": {
                    "key": {"type": "string", "minLength": 1, "maxLength": 64, "pattern": "^[a-z0-9_]+$", "description": "Pinned slot identifier. Lowercase, digits and underscores only. \"checkpoint\" is the carry-over slot."},
                    "content": {"description": "Arbitrary JSON value stored under the pinned slot."},
                    "scope": {"type": "string", "enum": ["actor", "shared"], "description": SCOPE_PIN}
                }
            }),
        }
    }

    /// The tool-level schema is checked before this runs.
    pub fn call(&self, args: &Value) -> super::ToolOutcome {
        let event = |ty: &str, fields: &[(&str, Option<&Value>)]| {
            let mut m = Map::new();
            m.insert("type".into(), json!(ty));
            for (k, v) in fields {
                if let Some(v) = v {
                    m.insert((*k).into(), (*v).clone());
                }
            }
            Value::Object(m)
        };
        let (text, ev) = match self {
            RuntimeTool::Output { validator, .. } => {
                let data = args.get("data").cloned().unwrap_or(Value::Null);
                if let Some(v) = validator {
                    let errors: Vec<String> = v
                        .iter_errors(&data)
                        .map(|e| {
                            let p = e.instance_path.to_string();
                            format!("  - {} {}", if p.is_empty() { "/" } else { &p }, e)
                        })
                        .collect();
                    if !errors.is_empty() {
                        return super::ToolOutcome::error(format!(
                            "Output validation failed:\n{}\n\nPlease call output() again with all required fields correctly typed.",
                            errors.join("\n")
                        ));
                    }
                }
                (
                    "Output recorded".to_string(),
                    event("output.emitted", &[("data", Some(&data))]),
                )
            }
            RuntimeTool::Log => {
                let level = args.get("level").and_then(Value::as_str).unwrap_or("info");
                let message = args.get("message").and_then(Value::as_str).unwrap_or("");
                (
                    format!("Logged [{level}]: {message}"),
                    event(
                        "log.written",
                        &[
                            ("level", args.get("level")),
                            ("message", args.get("message")),
                        ],
                    ),
                )
            }
            RuntimeTool::Note => (
                "Note saved".to_string(),
                event(
                    "memory.added",
                    &[
                        ("content", args.get("content")),
                        ("scope", args.get("scope")),
                    ],
                ),
            ),
            RuntimeTool::Pin => {
                let key = args.get("key").and_then(Value::as_str).unwrap_or("");
                (
                    format!("Pinned slot \"{key}\" updated"),
                    event(
                        "pinned.set",
                        &[
                            ("key", args.get("key")),
                            ("content", args.get("content")),
                            ("scope", args.get("scope")),
                        ],
                    ),
                )
            }
        };
        let mut out = super::ToolOutcome::ok(text);
        out.events.push(ev);
        out
    }
}
