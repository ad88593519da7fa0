//! Logic-less Mustache as mustache.js 4.2 renders it with HTML escaping
//! off (the platform's `afps render` and conformance settings, docs/afps.md#mustache).
//!
//! The quirks are deliberate: objects print `[object Object]`, arrays join
//! with commas, `false` prints `false`, `0` and `""` are falsy in sections,
//! and lookups of dotted names fall back to parent contexts.

use serde_json::{Map, Value};

use crate::execution_context::ExecutionContext;
use crate::system_prompt::truthy;
use appstrate_jsjson::to_js_string;

/// A template that does not parse (unclosed tag or section).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TemplateError(pub String);

#[derive(Debug, Clone)]
enum Token {
    Text(String),
    Var(String),
    Section {
        name: String,
        inverted: bool,
        children: Vec<Token>,
    },
}

#[derive(Debug)]
enum Flat {
    Text(String),
    Var(String),
    Open(String, bool),
    Close,
    Skip,
}

/// Parse as mustache.js does, including standalone-line stripping.
fn parse(template: &str) -> Result<Vec<Token>, TemplateError> {
    let mut scanner = Scanner::new();
    let mut rest = template;
    loop {
        let text_end = rest.find(scanner.open.as_str()).unwrap_or(rest.len());
        scanner.text(&rest[..text_end]);
        rest = &rest[text_end..];
        if rest.is_empty() {
            break;
        }
        let (kind, value, after) = scanner.read_tag(&rest[scanner.open.len()..])?;
        rest = after;
        scanner.tag(kind, value)?;
    }
    scanner.strip_standalone();
    if let Some(o) = scanner.sections.pop() {
        return Err(TemplateError(format!("Unclosed section \"{o}\"")));
    }
    let mut flat = scanner.tokens.into_iter().flatten().peekable();
    Ok(nest(&mut flat))
}

/// The state of one left-to-right scan: the current delimiters, the flat
/// tokens (`None` once stripped), and what the current line holds.
struct Scanner {
    open: String,
    close: String,
    tokens: Vec<Option<Flat>>,
    /// Indexes of the whitespace tokens of the current line.
    spaces: Vec<usize>,
    has_tag: bool,
    non_space: bool,
    sections: Vec<String>,
}

fn unclosed() -> TemplateError {
    TemplateError("Unclosed tag".into())
}

impl Scanner {
    fn new() -> Self {
        Scanner {
            open: "{{".to_string(),
            close: "}}".to_string(),
            tokens: Vec::new(),
            spaces: Vec::new(),
            has_tag: false,
            non_space: false,
            sections: Vec::new(),
        }
    }

    /// A line that holds only tags and whitespace loses its whitespace.
    fn strip_standalone(&mut self) {
        if self.has_tag && !self.non_space {
            for i in self.spaces.drain(..) {
                self.tokens[i] = None;
            }
        } else {
            self.spaces.clear();
        }
        self.has_tag = false;
        self.non_space = false;
    }

    /// Plain text, one token a character (so whitespace can be stripped).
    fn text(&mut self, text: &str) {
        for ch in text.chars() {
            if ch.is_whitespace() {
                self.spaces.push(self.tokens.len());
            } else {
                self.non_space = true;
            }
            self.tokens.push(Some(Flat::Text(ch.to_string())));
            if ch == '\n' {
                self.strip_standalone();
            }
        }
    }

    /// The tag after an opening delimiter: its kind (`n` for a plain
    /// variable), its value, and the text after the closing delimiter.
    fn read_tag<'t>(
        &mut self,
        mut rest: &'t str,
    ) -> Result<(char, String, &'t str), TemplateError> {
        self.has_tag = true;
        let kind = match rest.chars().next() {
            Some(c @ ('#' | '^' | '/' | '>' | '{' | '&' | '=' | '!')) => {
                rest = &rest[1..];
                c
            }
            _ => 'n',
        };
        rest = rest.trim_start();
        let close = self.close.as_str();
        let value;
        match kind {
            '=' => {
                let end = rest.find('=').ok_or_else(unclosed)?;
                value = rest[..end].to_string();
                rest = &rest[end + 1..];
                let c = rest.find(close).ok_or_else(unclosed)?;
                rest = &rest[c..];
            }
            '{' => {
                let closer = format!("}}{close}");
                let end = rest.find(closer.as_str()).ok_or_else(unclosed)?;
                value = rest[..end].trim_end().to_string();
                rest = &rest[end + 1..];
            }
            _ => {
                let end = rest.find(close).ok_or_else(unclosed)?;
                value = rest[..end].trim_end().to_string();
                rest = &rest[end..];
            }
        }
        let after = rest.strip_prefix(close).ok_or_else(unclosed)?;
        Ok((kind, value, after))
    }

    /// The token of a tag; sections must close in order.
    fn tag(&mut self, kind: char, value: String) -> Result<(), TemplateError> {
        let token = match kind {
            '#' | '^' => {
                self.sections.push(value.clone());
                Flat::Open(value, kind == '^')
            }
            '/' => {
                match self.sections.pop() {
                    None => return Err(TemplateError(format!("Unopened section \"{value}\""))),
                    Some(o) if o != value => {
                        return Err(TemplateError(format!("Unclosed section \"{o}\"")));
                    }
                    Some(_) => {}
                }
                Flat::Close
            }
            'n' | '{' | '&' => {
                self.non_space = true;
                Flat::Var(value)
            }
            '=' => {
                let parts: Vec<&str> = value.split_whitespace().collect();
                let [o, c] = parts[..] else {
                    return Err(TemplateError(format!("Invalid tags: {value}")));
                };
                self.open = o.to_string();
                self.close = c.to_string();
                Flat::Skip
            }
            // Comments and partials (no partials are ever provided) render nothing.
            _ => Flat::Skip,
        };
        self.tokens.push(Some(token));
        Ok(())
    }
}

fn nest(flat: &mut std::iter::Peekable<impl Iterator<Item = Flat>>) -> Vec<Token> {
    let mut out = Vec::new();
    while let Some(t) = flat.next() {
        match t {
            Flat::Text(s) => match out.last_mut() {
                Some(Token::Text(prev)) => prev.push_str(&s),
                _ => out.push(Token::Text(s)),
            },
            Flat::Var(n) => out.push(Token::Var(n)),
            Flat::Open(name, inverted) => {
                let children = nest(flat);
                out.push(Token::Section {
                    name,
                    inverted,
                    children,
                });
            }
            Flat::Close => return out,
            Flat::Skip => {}
        }
    }
    out
}

fn prop(v: &Value, name: &str) -> Option<Value> {
    match v {
        Value::Object(m) => m.get(name).cloned(),
        Value::Array(a) if name == "length" => Some(Value::from(a.len())),
        Value::Array(a) => name.parse::<usize>().ok().and_then(|i| a.get(i).cloned()),
        Value::String(s) if name == "length" => Some(Value::from(s.encode_utf16().count())),
        _ => None,
    }
}

fn has_prop(v: &Value, name: &str, primitive_ok: bool) -> bool {
    match v {
        Value::Object(m) => m.contains_key(name),
        Value::Array(a) => name == "length" || name.parse::<usize>().is_ok_and(|i| i < a.len()),
        Value::String(_) => primitive_ok && name == "length",
        _ => false,
    }
}

fn lookup(stack: &[Value], name: &str) -> Option<Value> {
    if name == "." {
        return stack.last().cloned();
    }
    for view in stack.iter().rev() {
        if name.find('.').is_some_and(|i| i > 0) {
            let names: Vec<&str> = name.split('.').collect();
            let mut cur = Some(view.clone());
            let mut hit = false;
            for (i, n) in names.iter().enumerate() {
                let Some(c) = cur.as_ref().filter(|c| !c.is_null()) else {
                    break;
                };
                if i == names.len() - 1 {
                    hit = has_prop(c, n, true);
                }
                cur = prop(c, n);
            }
            if hit {
                return cur;
            }
        } else if has_prop(view, name, false) {
            return prop(view, name);
        }
    }
    None
}

fn render_tokens(tokens: &[Token], stack: &mut Vec<Value>, out: &mut String) {
    for t in tokens {
        match t {
            Token::Text(s) => out.push_str(s),
            Token::Var(name) => {
                if let Some(v) = lookup(stack, name).filter(|v| !v.is_null()) {
                    out.push_str(&to_js_string(&v));
                }
            }
            Token::Section {
                name,
                inverted: true,
                children,
            } => {
                let v = lookup(stack, name);
                let empty = match &v {
                    None => true,
                    Some(Value::Array(a)) => a.is_empty(),
                    Some(v) => !truthy(v),
                };
                if empty {
                    render_tokens(children, stack, out);
                }
            }
            Token::Section {
                name,
                inverted: false,
                children,
            } => {
                let Some(v) = lookup(stack, name).filter(truthy) else {
                    continue;
                };
                match v {
                    Value::Array(items) => {
                        for item in items {
                            stack.push(item);
                            render_tokens(children, stack, out);
                            stack.pop();
                        }
                    }
                    Value::Bool(_) => render_tokens(children, stack, out),
                    other => {
                        stack.push(other);
                        render_tokens(children, stack, out);
                        stack.pop();
                    }
                }
            }
        }
    }
}

/// Render a template against a JSON view.
pub fn render(template: &str, view: &Value) -> Result<String, TemplateError> {
    let tokens = parse(template)?;
    let mut out = String::new();
    let root = if view.is_null() {
        Value::Object(Map::new())
    } else {
        view.clone()
    };
    render_tokens(&tokens, &mut vec![root], &mut out);
    Ok(out)
}

/// The view the platform renders prompts with: `{runId, input, memories
/// (first 50), checkpoint (or null), history (first 10)}`. `config` is not
/// part of it, so `{{config.x}}` renders empty.
pub fn prompt_view(context: &ExecutionContext) -> Value {
    let mut m = Map::new();
    m.insert("runId".into(), Value::String(context.run_id.clone()));
    m.insert("input".into(), Value::Object(context.input.clone()));
    m.insert(
        "memories".into(),
        Value::Array(context.memories.iter().take(50).cloned().collect()),
    );
    m.insert(
        "checkpoint".into(),
        context.checkpoint.clone().unwrap_or(Value::Null),
    );
    let history = match &context.history {
        Some(Value::Array(h)) => h.iter().take(10).cloned().collect(),
        _ => Vec::new(),
    };
    m.insert("history".into(), Value::Array(history));
    Value::Object(m)
}

/// Render a package prompt against a context (`renderPrompt`).
pub fn render_prompt(template: &str, context: &ExecutionContext) -> Result<String, TemplateError> {
    render(template, &prompt_view(context))
}
