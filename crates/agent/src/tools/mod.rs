//! The tools the agent gets: Pi's built-ins (docs/run.md "Tools"), the
//! runtime tools selected by the manifest and the integration `api_call`
//! tools (`crate::integrations`).
//!
//! Every call is validated against the tool's JSON schema first; an invalid
//! call, like any tool failure, becomes an error result for the model.

mod bash;
mod edit;
mod find;
mod grep;
mod image_file;
mod ls;
mod read;
mod runtime;
pub mod truncate;
mod write;

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::model::{ImageContent, ToolSpec};

pub use bash::ProcessGroups;

/// What a tool call produced.
#[derive(Debug, Clone, Default)]
pub struct ToolOutcome {
    pub text: String,
    pub is_error: bool,
    /// Extra structured detail (Pi's `details`), reported in the tool-end event.
    pub details: Option<Value>,
    /// Canonical RunEvents the call emits (runtime tools).
    pub events: Vec<Value>,
    /// Images for the model (`read` of an image file), after the text.
    pub images: Vec<ImageContent>,
}

impl ToolOutcome {
    pub fn ok(text: impl Into<String>) -> Self {
        ToolOutcome {
            text: text.into(),
            ..Default::default()
        }
    }

    pub fn error(text: impl Into<String>) -> Self {
        ToolOutcome {
            text: text.into(),
            is_error: true,
            ..Default::default()
        }
    }

    /// The result object as Pi hands it to the event bridge. An image is
    /// described (type, size), never embedded: events are printed and
    /// reported, and a base64 blob helps no reader.
    pub fn result_value(&self) -> Value {
        let mut content = vec![json!({"type": "text", "text": self.text})];
        content.extend(self.images.iter().map(|i| {
            json!({"type": "image", "mimeType": i.mime_type, "width": i.width, "height": i.height, "bytes": i.bytes})
        }));
        let mut v = json!({"content": content});
        if let Some(d) = &self.details {
            v["details"] = d.clone();
        }
        v
    }
}

/// What the tools need of the environment, read by the caller (the agent
/// never reads the process environment itself).
#[derive(Debug, Clone)]
pub struct ToolEnv {
    /// The home directory, for `~` in paths; without one `~` is the cwd.
    pub home: Option<PathBuf>,
    /// Where the run's workspace and `bash`'s full-output logs go (`TMPDIR`).
    pub temp_dir: PathBuf,
    /// Variables `bash` commands do not inherit (Pi's own `PI_*`).
    pub hidden_variables: Vec<String>,
}

impl Default for ToolEnv {
    /// No home, `/tmp`, nothing hidden.
    fn default() -> Self {
        ToolEnv {
            home: None,
            temp_dir: PathBuf::from("/tmp"),
            hidden_variables: Vec::new(),
        }
    }
}

impl ToolEnv {
    /// From the environment's home, temporary directory and variable
    /// names: every `PI_*` name is hidden from `bash`.
    pub fn new<'a>(
        home: Option<PathBuf>,
        temp_dir: PathBuf,
        names: impl IntoIterator<Item = &'a str>,
    ) -> Self {
        ToolEnv {
            home,
            temp_dir,
            hidden_variables: names
                .into_iter()
                .filter(|n| n.starts_with("PI_"))
                .map(str::to_string)
                .collect(),
        }
    }
}

/// Where tools run.
#[derive(Clone)]
pub struct ToolContext {
    pub cwd: PathBuf,
    /// Process groups of running `bash` commands, killed on abort.
    pub groups: ProcessGroups,
    /// Variables set for `bash` commands (e.g. `AGENT_RUN_ID`).
    pub env: Vec<(String, String)>,
    pub tool_env: ToolEnv,
}

impl ToolContext {
    pub fn new(cwd: PathBuf) -> Self {
        ToolContext {
            cwd,
            groups: ProcessGroups::default(),
            env: Vec::new(),
            tool_env: ToolEnv::default(),
        }
    }

    /// Pi's path rule: `~` is home, absolute stays, the rest is under cwd.
    pub fn resolve(&self, path: &str) -> PathBuf {
        let home = self.tool_env.home.as_ref();
        if path == "~" {
            return home.cloned().unwrap_or_else(|| self.cwd.clone());
        }
        if let Some(rest) = path.strip_prefix("~/")
            && let Some(h) = home
        {
            return h.join(rest);
        }
        let p = Path::new(path);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.cwd.join(p)
        }
    }
}

#[derive(Clone)]
enum Kind {
    Read,
    Write,
    Edit,
    Bash,
    Ls,
    Grep,
    Find,
    Runtime(runtime::RuntimeTool),
    ApiCall(std::sync::Arc<crate::integrations::ApiCallTool>),
}

/// One tool: what the model sees, its compiled argument schema, its code.
pub struct Tool {
    pub spec: ToolSpec,
    kind: Kind,
    validator: Option<jsonschema::Validator>,
}

impl Tool {
    fn new(name: &str, description: String, parameters: Value, kind: Kind) -> Self {
        // A schema the validator cannot compile (an author's output schema)
        // leaves the call unvalidated, as AJV's compile failure does in Pi.
        let validator = match &kind {
            // `output` checks `data` against the author's schema itself, with
            // the platform's retry message; here only the envelope.
            Kind::Runtime(rt) if rt.has_output_schema() => jsonschema::validator_for(&json!({
                "type": "object", "additionalProperties": false,
                "required": ["data"], "properties": {"data": {}}
            }))
            .ok(),
            _ => jsonschema::validator_for(&parameters).ok(),
        };
        Tool {
            spec: ToolSpec {
                name: name.to_string(),
                description,
                parameters,
            },
            kind,
            validator,
        }
    }

    /// Validates, then runs the call.
    pub async fn call(&self, args: Value, ctx: &ToolContext) -> ToolOutcome {
        if let Some(v) = &self.validator {
            let errors: Vec<String> = v
                .iter_errors(&args)
                .map(|e| {
                    let path = e.instance_path.to_string();
                    let path = if path.is_empty() {
                        "root".to_string()
                    } else {
                        path
                    };
                    format!("  - {path}: {e}")
                })
                .collect();
            if !errors.is_empty() {
                let pretty = serde_json::to_string_pretty(&args).unwrap_or_default();
                return ToolOutcome::error(format!(
                    "Validation failed for tool \"{}\":\n{}\n\nReceived arguments:\n{}",
                    self.spec.name,
                    errors.join("\n"),
                    pretty
                ));
            }
        }
        match &self.kind {
            Kind::Bash => bash::run(args, ctx).await,
            Kind::Runtime(rt) => rt.call(&args),
            Kind::ApiCall(api) => api.call(&args, ctx).await,
            kind => {
                let kind = kind.clone();
                let ctx2 = ctx.clone();
                let run = move || match kind {
                    Kind::Read => read::run(&args, &ctx2),
                    Kind::Write => write::run(&args, &ctx2),
                    Kind::Edit => edit::run(&args, &ctx2),
                    Kind::Ls => ls::run(&args, &ctx2),
                    Kind::Grep => grep::run(&args, &ctx2),
                    Kind::Find => find::run(&args, &ctx2),
                    Kind::Bash | Kind::Runtime(_) | Kind::ApiCall(_) => {
                        unreachable!("handled above")
                    }
                };
                // File-system work runs off the async thread.
                match tokio::task::spawn_blocking(run).await {
                    Ok(out) => out,
                    Err(e) => ToolOutcome::error(format!("tool {} failed: {e}", self.spec.name)),
                }
            }
        }
    }

    /// True for the `output` runtime tool: a valid call ends the run.
    pub fn ends_run(&self) -> bool {
        matches!(&self.kind, Kind::Runtime(rt) if rt.is_output())
    }
}

/// The tools of one run, in the order the model sees them.
pub struct Toolset {
    tools: Vec<Tool>,
}

impl Toolset {
    /// Pi's built-ins (read, bash, edit, write, then grep, find, ls), plus
    /// the runtime tools named by `runtime_tools` (unknown names are
    /// ignored, duplicates dropped), in the manifest's order.
    pub fn new(runtime_tools: &[String], output_schema: Option<&Value>) -> Self {
        let mut tools = vec![
            Tool::new("read", read::description(), read::schema(), Kind::Read),
            Tool::new("bash", bash::description(), bash::schema(), Kind::Bash),
            Tool::new("edit", edit::description(), edit::schema(), Kind::Edit),
            Tool::new("write", write::description(), write::schema(), Kind::Write),
            Tool::new("grep", grep::description(), grep::schema(), Kind::Grep),
            Tool::new("find", find::description(), find::schema(), Kind::Find),
            Tool::new("ls", ls::description(), ls::schema(), Kind::Ls),
        ];
        let mut seen = Vec::new();
        for name in runtime_tools {
            if seen.contains(name) {
                continue;
            }
            if let Some(rt) = runtime::RuntimeTool::build(name, output_schema) {
                seen.push(name.clone());
                let (desc, schema) = (rt.description(), rt.schema());
                tools.push(Tool::new(name, desc, schema, Kind::Runtime(rt)));
            }
        }
        Toolset { tools }
    }

    /// Adds the integration `api_call` tools (after the built-ins and the
    /// runtime tools).
    pub fn add_api_calls(&mut self, api_calls: Vec<crate::integrations::ApiCallTool>) {
        for api in api_calls {
            let (name, desc, schema) = (api.name.clone(), api.description(), api.schema());
            self.tools.push(Tool::new(
                &name,
                desc,
                schema,
                Kind::ApiCall(std::sync::Arc::new(api)),
            ));
        }
    }

    /// How many integration `api_call` tools were wired.
    pub fn api_call_count(&self) -> usize {
        self.tools
            .iter()
            .filter(|t| matches!(t.kind, Kind::ApiCall(_)))
            .count()
    }

    pub fn specs(&self) -> Vec<ToolSpec> {
        self.tools.iter().map(|t| t.spec.clone()).collect()
    }

    pub fn get(&self, name: &str) -> Option<&Tool> {
        self.tools.iter().find(|t| t.spec.name == name)
    }

    /// How many runtime tools were wired.
    pub fn runtime_count(&self) -> usize {
        self.tools
            .iter()
            .filter(|t| matches!(t.kind, Kind::Runtime(_)))
            .count()
    }
}

/// Reads an optional non-negative integer argument (schemas say `number`).
fn arg_usize(args: &Value, key: &str) -> Option<usize> {
    args.get(key)
        .and_then(Value::as_f64)
        .filter(|v| v.is_finite())
        .map(|v| v.max(0.0) as usize)
}

fn arg_str<'a>(args: &'a Value, key: &str) -> Option<&'a str> {
    args.get(key).and_then(Value::as_str)
}

fn arg_bool(args: &Value, key: &str) -> bool {
    args.get(key).and_then(Value::as_bool).unwrap_or(false)
}
