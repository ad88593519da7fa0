//! Text and JSON renderings of operations (docs/openapi.md#list, #show).
//! Colour is a parameter: the caller decides (`NO_COLOR`, `FORCE_COLOR`,
//! TTY); each painted span ends with a reset.

use std::cmp::Ordering;

use anstyle::{AnsiColor, Style};
use serde_json::{Map, Value};

use crate::collation::locale_compare;
use crate::deref::dereference_operation;
use crate::js;
use crate::operation::{Method, Operation};

const BOLD: Style = Style::new().bold();
const DIM: Style = Style::new().dimmed();
const RED: Style = fg(AnsiColor::Red);
const GREEN: Style = fg(AnsiColor::Green);
const YELLOW: Style = fg(AnsiColor::Yellow);
const BLUE: Style = fg(AnsiColor::Blue);
const MAGENTA: Style = fg(AnsiColor::Magenta);
const CYAN: Style = fg(AnsiColor::Cyan);
const GRAY: Style = fg(AnsiColor::BrightBlack);

const fn fg(color: AnsiColor) -> Style {
    Style::new().fg_color(Some(anstyle::Color::Ansi(color)))
}

fn method_color(method: Method) -> Style {
    match method {
        Method::Get => GREEN,
        Method::Post => YELLOW,
        Method::Put | Method::Patch => BLUE,
        Method::Delete => RED,
        Method::Head | Method::Options | Method::Trace => MAGENTA,
    }
}

/// Appends `text` when colour is off; otherwise `styles` opened in order
/// (the original's nesting, outer first), `text`, and one reset.
fn paint(out: &mut String, text: &str, styles: &[Style], use_color: bool) {
    if use_color {
        for style in styles {
            out.push_str(&style.render().to_string());
        }
        out.push_str(text);
        out.push_str(&anstyle::Reset.render().to_string());
    } else {
        out.push_str(text);
    }
}

fn painted(text: &str, styles: &[Style], use_color: bool) -> String {
    let mut out = String::new();
    paint(&mut out, text, styles, use_color);
    out
}

/// The `list` text: one line per operation,
/// `<METHOD padded to 6> <path>[ — <summary>][ [tags]][ [deprecated]]`,
/// or the no-match sentence.
pub fn format_list(operations: &[Operation<'_>], use_color: bool) -> String {
    if operations.is_empty() {
        return "No operations match the given filters.\n".to_string();
    }
    let mut out = String::with_capacity(operations.len() * 80);
    for op in operations {
        paint(
            &mut out,
            &format!("{:<6}", op.method.upper()),
            &[method_color(op.method)],
            use_color,
        );
        out.push(' ');
        out.push_str(op.path);
        if let Some(summary) = op.summary().filter(|s| !s.is_empty()) {
            out.push_str(" — ");
            paint(&mut out, summary, &[DIM], use_color);
        }
        let tags = op.tags();
        if !tags.is_empty() {
            out.push(' ');
            paint(
                &mut out,
                &format!("[{}]", appstrate_jsjson::join(tags, ",")),
                &[CYAN],
                use_color,
            );
        }
        if js::truthy(op.field("deprecated")) {
            out.push(' ');
            paint(&mut out, "[deprecated]", &[BOLD, RED], use_color);
        }
        out.push('\n');
    }
    out
}

/// The `list --json` items: `method`, `path`, then `operationId`, `summary`
/// (when strings), `tags` (string tags, when the array is non-empty) and
/// `deprecated: true` (only when exactly `true`).
pub fn list_json(operations: &[Operation<'_>]) -> Value {
    let items = operations
        .iter()
        .map(|op| {
            let mut item = Map::new();
            item.insert("method".into(), op.method.upper().into());
            item.insert("path".into(), op.path.into());
            if let Some(id) = op.operation_id() {
                item.insert("operationId".into(), id.into());
            }
            if let Some(summary) = op.summary() {
                item.insert("summary".into(), summary.into());
            }
            if !op.tags().is_empty() {
                let tags = op.string_tags().map(Value::from).collect();
                item.insert("tags".into(), Value::Array(tags));
            }
            if op.field("deprecated") == Some(&Value::Bool(true)) {
                item.insert("deprecated".into(), true.into());
            }
            Value::Object(item)
        })
        .collect();
    Value::Array(items)
}

/// The `show --json` payload: `{method, path, operation}` with every
/// internal `$ref` of the operation inlined and cycles marked
/// `{"$circular": "<ref>"}`.
pub fn show_json(doc: &Value, op: &Operation<'_>) -> Value {
    let mut out = Map::new();
    out.insert("method".into(), op.method.upper().into());
    out.insert("path".into(), op.path.into());
    out.insert("operation".into(), dereference_operation(doc, op));
    Value::Object(out)
}

/// The `show` text of an operation. Pass the dereferenced operation object
/// (see [`show_json`]) so parameter types behind `$ref`s are visible.
pub fn format_show(method: Method, path: &str, op: &Value, use_color: bool) -> String {
    let field = |name: &str| js::get(op, name);
    let mut lines: Vec<String> = Vec::new();
    lines.push(format!(
        "{} {path}",
        painted(method.upper(), &[method_color(method), BOLD], use_color)
    ));
    if js::truthy(field("operationId")) {
        let id = field("operationId")
            .map(appstrate_jsjson::to_js_string)
            .unwrap_or_default();
        lines.push(painted(&format!("operationId: {id}"), &[DIM], use_color));
    }
    let tags: Vec<&str> = match field("tags") {
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if !tags.is_empty() {
        lines.push(painted(
            &format!("tags: {}", tags.join(", ")),
            &[CYAN],
            use_color,
        ));
    }
    if field("deprecated") == Some(&Value::Bool(true)) {
        lines.push(painted("DEPRECATED", &[BOLD, RED], use_color));
    }
    if let Some(summary) = field("summary")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
    {
        lines.push(String::new());
        lines.push(painted(summary, &[BOLD], use_color));
    }
    if let Some(description) = field("description")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
    {
        lines.push(String::new());
        lines.push(js::trim(description).to_string());
    }
    if let Some(Value::Array(params)) = field("parameters")
        && !params.is_empty()
    {
        lines.push(String::new());
        lines.push(painted("Parameters:", &[BOLD], use_color));
        for param in params {
            if !js::is_object(Some(param)) {
                continue;
            }
            lines.push(parameter_line(param, use_color));
        }
    }
    if let Some(body) = field("requestBody").filter(|b| js::is_object(Some(b))) {
        lines.push(String::new());
        let required = js::get(body, "required") == Some(&Value::Bool(true));
        let title = format!("Request body{}:", if required { " (required)" } else { "" });
        lines.push(painted(&title, &[BOLD], use_color));
        let types = js::get(body, "content")
            .filter(|c| js::is_object(Some(c)))
            .map(js::object_keys)
            .unwrap_or_default();
        if types.is_empty() {
            lines.push("  (no content)".into());
        }
        for media_type in types {
            lines.push(format!("  {}", painted(&media_type, &[CYAN], use_color)));
        }
    }
    if let Some(responses) = field("responses").filter(|r| js::is_object(Some(r))) {
        let statuses = js::object_keys(responses);
        if !statuses.is_empty() {
            lines.push(String::new());
            lines.push(painted("Responses:", &[BOLD], use_color));
            response_lines(responses, statuses, use_color, &mut lines);
        }
    }
    let mut out = lines.join("\n");
    out.push('\n');
    out
}

fn parameter_line(param: &Value, use_color: bool) -> String {
    let text = |name: &str| js::get(param, name).and_then(Value::as_str);
    let name = text("name").unwrap_or("?");
    let location = text("in").unwrap_or("?");
    let ty = js::get(param, "schema")
        .filter(|s| js::is_object(Some(s)))
        .and_then(|s| js::get(s, "type"))
        .and_then(Value::as_str)
        .unwrap_or("any");
    let mut line = format!(
        "  {}.{}: {ty}",
        painted(location, &[CYAN], use_color),
        painted(name, &[BOLD], use_color)
    );
    if js::get(param, "required") == Some(&Value::Bool(true)) {
        paint(&mut line, " (required)", &[RED], use_color);
    }
    if let Some(description) = text("description").filter(|d| !d.is_empty()) {
        line.push_str(" — ");
        paint(&mut line, description, &[DIM], use_color);
    }
    line
}

fn response_lines(
    responses: &Value,
    mut statuses: Vec<String>,
    use_color: bool,
    lines: &mut Vec<String>,
) {
    // Numeric codes ascending first, then the rest (`default`, `2XX`) by
    // localeCompare.
    let numeric = |s: &str| -> f64 {
        if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
            s.parse().unwrap_or(f64::INFINITY)
        } else {
            f64::INFINITY
        }
    };
    statuses.sort_by(|a, b| {
        let (an, bn) = (numeric(a), numeric(b));
        if an != bn {
            return an.partial_cmp(&bn).unwrap_or(Ordering::Equal);
        }
        locale_compare(a, b)
    });
    for status in statuses {
        let response = match responses {
            Value::Object(map) => map.get(&status),
            Value::Array(items) => status.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => None,
        };
        let Some(response) = response.filter(|r| js::is_object(Some(r))) else {
            continue;
        };
        let color = match status.as_bytes().first() {
            Some(b'2') => GREEN,
            Some(b'3') => BLUE,
            Some(b'4') => YELLOW,
            Some(b'5') => RED,
            _ => GRAY,
        };
        let mut line = format!("  {}", painted(&status, &[color, BOLD], use_color));
        if let Some(description) = js::get(response, "description")
            .and_then(Value::as_str)
            .filter(|d| !d.is_empty())
        {
            line.push_str(" — ");
            paint(&mut line, description, &[DIM], use_color);
        }
        lines.push(line);
        if let Some(content) = js::get(response, "content").filter(|c| js::is_object(Some(c))) {
            for media_type in js::object_keys(content) {
                lines.push(format!("    {}", painted(&media_type, &[CYAN], use_color)));
            }
        }
    }
}
