//! The platform system prompt (docs/afps.md#platform-prompt): the exact bytes the platform
//! sends to the model for a package and a run context.
//!
//! Sections are joined with `\n`, then `\n---\n\n` and the raw `prompt.md`
//! (never Mustache-rendered) follow.

use serde_json::{Map, Value};

use crate::bundle::Bundle;
use crate::date::iso_from_millis;
use crate::execution_context::ExecutionContext;
use crate::manifest::{is_file_field, parse_identity, string_items};
use appstrate_jsjson::{f64_to_string, stringify_pretty, to_js_string};

/// A skill listed in `### Skills`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PromptSkill {
    /// Package id (`@scope/name`).
    pub id: String,
    /// `manifest.name`, when a string.
    pub name: Option<String>,
    /// `manifest.description`, when a string.
    pub description: Option<String>,
}

/// An integration section (platform runs only; the CLI passes none).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PromptIntegration {
    /// Package id.
    pub id: String,
    /// Manifest description.
    pub description: Option<String>,
    /// Raw `INTEGRATION.md`.
    pub doc: Option<String>,
}

/// An input document listed in `## Documents` (platform runs only).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PromptUpload {
    /// File name.
    pub name: String,
    /// MIME type (empty renders `unknown`).
    pub mime_type: String,
    /// Size in bytes.
    pub size: u64,
    /// Path relative to the workspace.
    pub path: String,
}

/// The `{properties?, required?}` part of an input schema.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PromptSchema {
    /// `schema.properties` when it is an object.
    pub properties: Option<Map<String, Value>>,
    /// String entries of `schema.required`.
    pub required: Vec<String>,
}

/// Everything the prompt is built from besides the context. Build it with
/// [`PlatformPromptOptions::from_bundle`] and adjust fields if needed.
#[derive(Debug, Clone, PartialEq)]
pub struct PlatformPromptOptions {
    /// Raw root `prompt.md` (appended verbatim).
    pub template: String,
    /// Shown in `## System` (the CLI uses `Appstrate CLI`).
    pub platform_name: String,
    /// `manifest.timeout` when a positive finite number.
    pub timeout_seconds: Option<f64>,
    /// Skill packages of the bundle, in bundle order.
    pub skills: Vec<PromptSkill>,
    /// Integration sections (empty for the CLI).
    pub integrations: Vec<PromptIntegration>,
    /// `manifest.input.schema`, narrowed.
    pub input_schema: Option<PromptSchema>,
    /// `manifest.output.schema`, verbatim.
    pub output_schema: Option<Map<String, Value>>,
    /// Input documents (empty for the CLI).
    pub uploads: Vec<PromptUpload>,
    /// Adds `## Deliverables` (platform runs only).
    pub deliverables: bool,
}

fn schema_section<'a>(
    manifest: &'a Map<String, Value>,
    key: &str,
) -> Option<&'a Map<String, Value>> {
    manifest.get(key)?.as_object()?.get("schema")?.as_object()
}

impl PlatformPromptOptions {
    /// Derive the options from a bundle alone, as the platform's
    /// `buildPlatformPromptInputs` does.
    pub fn from_bundle(bundle: &Bundle, platform_name: &str) -> Self {
        let root = bundle.root_package();
        let manifest = &root.manifest;
        let timeout_seconds = manifest
            .get("timeout")
            .and_then(Value::as_f64)
            .filter(|t| t.is_finite() && *t > 0.0);
        let skills = bundle
            .packages
            .iter()
            .filter(|p| p.identity != bundle.root && p.package_type() == Some("skill"))
            .map(|p| PromptSkill {
                id: parse_identity(&p.identity)
                    .map_or_else(|| p.identity.clone(), |i| i.package_id()),
                name: p.manifest_str("name").map(str::to_string),
                description: p.manifest_str("description").map(str::to_string),
            })
            .collect();
        let input_schema = schema_section(manifest, "input").map(|s| PromptSchema {
            properties: s.get("properties").and_then(Value::as_object).cloned(),
            required: string_items(s.get("required")),
        });
        PlatformPromptOptions {
            template: root.text("prompt.md").unwrap_or_default(),
            platform_name: platform_name.to_string(),
            timeout_seconds,
            skills,
            integrations: Vec::new(),
            input_schema,
            output_schema: schema_section(manifest, "output").cloned(),
            uploads: Vec::new(),
            deliverables: false,
        }
    }
}

/// The platform prompt for a bundle and a context (the CLI passes
/// `platform_name = "Appstrate CLI"`).
pub fn platform_prompt(bundle: &Bundle, context: &ExecutionContext, platform_name: &str) -> String {
    render_platform_prompt(
        &PlatformPromptOptions::from_bundle(bundle, platform_name),
        context,
    )
}

fn format_file_size(bytes: u64) -> String {
    let b = bytes as f64;
    if bytes < 1024 {
        format!("{bytes} B")
    } else if bytes < 1024 * 1024 {
        format!("{:.1} KB", b / 1024.0)
    } else {
        format!("{:.2} MB", b / (1024.0 * 1024.0))
    }
}

fn type_label(prop: &Value) -> String {
    match prop.get("type") {
        None | Some(Value::Null) => "unknown".into(),
        Some(t) => to_js_string(t),
    }
}

fn memory_date(created: Option<&Value>) -> Option<String> {
    // `createdAt` is read as milliseconds, as the platform does.
    match created? {
        Value::Number(n) => {
            let ms = n.as_f64()?;
            if ms == 0.0 { None } else { iso_from_millis(ms) }
        }
        Value::String(s) if !s.is_empty() => {
            let dt = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
                .ok()?;
            iso_from_millis((dt.unix_timestamp_nanos() / 1_000_000) as f64)
        }
        Value::Bool(true) => iso_from_millis(1.0),
        _ => None,
    }
}

/// Render the prompt from explicit options and a context: the sections
/// in the platform's order, then `---` and the agent's own prompt.
pub fn render_platform_prompt(opts: &PlatformPromptOptions, context: &ExecutionContext) -> String {
    let mut out = Lines::default();
    environment(&mut out, opts);
    communication(&mut out);
    skills(&mut out, opts);
    integrations(&mut out, opts);
    user_input(&mut out, opts, context);
    documents(&mut out, opts);
    checkpoint(&mut out, context);
    pinned_slots(&mut out, context);
    memory(&mut out, context);
    deliverables(&mut out, opts);
    output_format(&mut out, opts);
    format!("{}\n---\n\n{}", out.0.join("\n"), opts.template)
}

/// The prompt's lines, joined with `\n` at the end.
#[derive(Default)]
struct Lines(Vec<String>);

impl Lines {
    fn push(&mut self, line: &str) {
        self.0.push(line.to_string());
    }
}

/// Who the agent is and where it runs: the container, network, Python, timeout, workspace.
fn environment(out: &mut Lines, opts: &PlatformPromptOptions) {
    out.push("## System\n");
    out.push(&format!(
        "You are an AI agent running on the {} platform.",
        opts.platform_name
    ));
    out.push("You execute a specific task inside an isolated, ephemeral container.\n");
    out.push("### Environment");
    out.push(
        "- **Ephemeral container**: This container is destroyed when your run ends. Any files you create, modifications you make, or data you store on the filesystem will be permanently lost. Do NOT rely on the filesystem for persistence.",
    );
    out.push(
        "- **Network access**: Outbound HTTP/HTTPS is available. Use `curl`, `fetch`, or any HTTP client to call public APIs and websites directly.",
    );
    out.push(
        "- **Python**: `python3` is available with common data libraries pre-installed (`openpyxl`, `pandas`, `requests`, `PyPDF2`). Import them directly — no `pip install` needed. Other packages can be added with `pip install` (the environment is discarded when the run ends).",
    );
    if let Some(t) = opts.timeout_seconds.filter(|t| *t != 0.0 && !t.is_nan()) {
        out.push(&format!(
            "- **Timeout**: You have {} seconds to complete this task. Work efficiently and output your result promptly.",
            f64_to_string(t)
        ));
    }
    out.push(&format!(
        "- **Workspace**: Your current working directory is the agent workspace. {}You may use the filesystem for temporary processing during this run only.",
        if !opts.uploads.is_empty() {
            "Input documents are available under `./documents/` (relative to cwd) and listed in the `## Documents` section below. "
        } else {
            ""
        }
    ));
    out.push("");
}

/// Tool calls are the only channel to the user; batch independent calls.
fn communication(out: &mut Lines) {
    out.push("### Communication");
    out.push(
        "Anything you write as plain text — outside a tool call — is **never delivered to the user**. The platform may retain it as a debug execution trace for run operators, but it is not a result or user-facing message. The user does not see your prose, your reasoning, or any chat-style reply.\n",
    );
    out.push(
        "**The only way to communicate with the user is by calling a tool.** Every result, status update, intermediate finding, question, or error you want the user to receive MUST go through a tool that conveys it. If you would normally end a turn by writing a summary or \"here are your results\", call the appropriate tool instead. If no available tool can carry a given piece of information, that information cannot reach the user — do not assume a final text message will be read.\n",
    );
    out.push(
        "**Batch independent tool calls.** Every turn is a full round trip to the model, so a turn carrying one call costs the same as a turn carrying five: when several calls do not depend on each other's results, issue them together in the same turn — one turn per question, not one turn per file. Only a call whose input comes from a previous call's result has to wait for its own turn.\n",
    );
}

/// The skills copied into `.pi/skills/`.
fn skills(out: &mut Lines, opts: &PlatformPromptOptions) {
    if !opts.skills.is_empty() {
        out.push("### Skills");
        out.push(
            "The following skill references are available in your workspace at `.pi/skills/`:\n",
        );
        for skill in &opts.skills {
            let label = skill
                .name
                .as_deref()
                .filter(|n| !n.is_empty())
                .unwrap_or(&skill.id);
            let desc = skill
                .description
                .as_deref()
                .filter(|d| !d.is_empty())
                .map(|d| format!(": {d}"))
                .unwrap_or_default();
            out.push(&format!("- **{label}**{desc}"));
        }
        out.push("");
    }
}

/// One section an integration, with its API documentation.
fn integrations(out: &mut Lines, opts: &PlatformPromptOptions) {
    for integ in &opts.integrations {
        out.push(&format!("## Integration: {}\n", integ.id));
        if let Some(d) = integ.description.as_deref().filter(|d| !d.is_empty()) {
            out.push(&format!("{d}\n"));
        }
        if let Some(doc) = integ.doc.as_deref().filter(|d| !d.trim().is_empty()) {
            out.push("### API Documentation\n");
            out.push(doc);
            out.push("");
        }
    }
}

/// The input values (file fields go to Documents), typed by the schema when there is one.
fn user_input(out: &mut Lines, opts: &PlatformPromptOptions, context: &ExecutionContext) {
    let props = opts
        .input_schema
        .as_ref()
        .and_then(|s| s.properties.as_ref());
    let required: &[String] = opts.input_schema.as_ref().map_or(&[], |s| &s.required);
    let non_file_inputs: Vec<(&String, &Value)> = context
        .input
        .iter()
        .filter(|(k, _)| match props.and_then(|p| p.get(k.as_str())) {
            Some(prop) if truthy(prop) => !is_file_field(prop),
            _ => true,
        })
        .collect();
    if !non_file_inputs.is_empty() || props.is_some_and(|p| !p.is_empty()) {
        out.push("## User Input\n");
        if let Some(props) = props {
            for (key, prop) in props {
                if is_file_field(prop) {
                    continue;
                }
                let req = if required.iter().any(|r| r == key) {
                    "required"
                } else {
                    "optional"
                };
                let value = context
                    .input
                    .get(key)
                    .map(|v| format!(" — `{}`", to_js_string(v)))
                    .unwrap_or_default();
                let description = prop
                    .get("description")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                out.push(&format!(
                    "- **{key}** ({}, {req}): {description}{value}",
                    type_label(prop)
                ));
            }
        } else {
            for (key, value) in &non_file_inputs {
                out.push(&format!("- **{key}**: {}", to_js_string(value)));
            }
        }
        out.push("");
    }
}

/// The uploaded documents and where they are.
fn documents(out: &mut Lines, opts: &PlatformPromptOptions) {
    if !opts.uploads.is_empty() {
        out.push("## Documents\n");
        out.push("The following documents are available on the local filesystem:\n");
        for f in &opts.uploads {
            let ty = if f.mime_type.is_empty() {
                "unknown"
            } else {
                &f.mime_type
            };
            out.push(&format!(
                "- **{}** ({ty}, {}) → `{}`",
                f.name,
                format_file_size(f.size),
                f.path
            ));
        }
        out.push(
            "\nRead the documents directly from the filesystem (paths are relative to cwd).\n",
        );
    }
}

/// The checkpoint the previous run left.
fn checkpoint(out: &mut Lines, context: &ExecutionContext) {
    if let Some(checkpoint) = context.checkpoint.as_ref().filter(|c| !c.is_null()) {
        out.push("## Checkpoint\n");
        out.push(
            "This agent supports stateful operation across runs. Your most recent run left the following checkpoint:\n",
        );
        out.push("```json");
        out.push(&stringify_pretty(checkpoint));
        out.push("```\n");
        out.push(
            "Use this checkpoint to resume work, avoid reprocessing data, or build on previous results.\n",
        );
    }
}

/// Named pinned slots, in UTF-16 key order.
fn pinned_slots(out: &mut Lines, context: &ExecutionContext) {
    if let Some(slots) = context.pinned_slots.as_ref().filter(|s| !s.is_empty()) {
        out.push("## Pinned Slots\n");
        out.push("Named pinned slots (always visible across runs):\n");
        let mut keys: Vec<&String> = slots.keys().collect();
        keys.sort_by(|a, b| appstrate_jsjson::cmp_utf16(a, b));
        for key in keys {
            out.push(&format!("### {key}"));
            match &slots[key] {
                Value::String(v) => out.push(v),
                v => {
                    out.push("```json");
                    out.push(&stringify_pretty(v));
                    out.push("```");
                }
            }
            out.push("");
        }
    }
}

/// Pinned memories, with their dates.
fn memory(out: &mut Lines, context: &ExecutionContext) {
    if !context.memories.is_empty() {
        out.push("## Memory\n");
        out.push("Pinned memories (always visible across runs):\n");
        for mem in &context.memories {
            let content = match mem.get("content") {
                None => "undefined".to_string(),
                Some(c) => to_js_string(c),
            };
            let date = memory_date(mem.get("createdAt"))
                .map(|d| format!(" ({d})"))
                .unwrap_or_default();
            out.push(&format!("- {content}{date}"));
        }
        out.push("");
    }
}

/// Where files for the user go, and how to name them.
fn deliverables(out: &mut Lines, opts: &PlatformPromptOptions) {
    if opts.deliverables {
        out.push("## Deliverables\n");
        out.push(
            "Write any file you produce for the user (generated documents, exports, data files) under `./outputs/` — everything there is published automatically as a downloadable document when the run ends. Hidden files (dotfiles, and anything under a hidden directory) are ignored by this automatic publish. Give every deliverable a concise, descriptive, task-specific kebab-case filename in the user's language, including enough subject or scope to remain understandable outside this run (for example, `./outputs/analyse-concurrents-restaurants-lyon.md`). Never use context-free names such as `report.md`, `summary.md`, `output.md`, `result.md`, or `document.md`. If the user expects a written report or summary without specifying a format, use markdown with such a descriptive filename.\n",
        );
    }
}

/// The `output` tool contract and the schema it must satisfy.
fn output_format(out: &mut Lines, opts: &PlatformPromptOptions) {
    if let Some(schema) = opts.output_schema.as_ref().filter(|s| !s.is_empty()) {
        out.push("## Output Format\n");
        out.push(
            "You MUST call the `output` tool **exactly once**, as your FINAL action, with a `data` parameter that satisfies the JSON Schema below. Provide ALL required fields in that single call — do not probe with `output({})` first, and do not split the payload across multiple calls. A successful `output` call ends the run immediately: finish all other work before calling it, and do not plan any message or step after it.\n",
        );
        let required: Vec<&str> = schema
            .get("required")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        if let Some(Value::Object(props)) = schema.get("properties") {
            out.push("### Required shape\n");
            for (key, prop) in props {
                let req = if required.contains(&key.as_str()) {
                    "required"
                } else {
                    "optional"
                };
                let description = prop
                    .get("description")
                    .and_then(Value::as_str)
                    .map(|d| format!(": {d}"))
                    .unwrap_or_default();
                out.push(&format!(
                    "- **{key}** ({}, {req}){description}",
                    type_label(prop)
                ));
            }
            out.push("");
        }
        out.push("### Full JSON Schema\n");
        out.push("```json");
        out.push(&stringify_pretty(&Value::Object(schema.clone())));
        out.push("```\n");
    }
}

/// JavaScript truthiness of a JSON value.
pub(crate) fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0 && !f.is_nan()),
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}
