//! Operations: every `paths[path][method]` object, flattened and ordered.
//!
//! Order (the one `list` prints and `show` searches): by path with
//! `localeCompare` semantics (see `collation`), then by method in the order
//! GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS, TRACE. The sort is stable,
//! so paths that compare equal keep document order, as in the original.

use serde_json::Value;

use crate::collation::sort_key;
use crate::js;

/// The HTTP methods OpenAPI path items may hold, in listing order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
    Head,
    Options,
    Trace,
}

impl Method {
    pub const ALL: [Method; 8] = [
        Method::Get,
        Method::Post,
        Method::Put,
        Method::Patch,
        Method::Delete,
        Method::Head,
        Method::Options,
        Method::Trace,
    ];

    /// The key in a path item (`get`).
    pub fn key(self) -> &'static str {
        match self {
            Method::Get => "get",
            Method::Post => "post",
            Method::Put => "put",
            Method::Patch => "patch",
            Method::Delete => "delete",
            Method::Head => "head",
            Method::Options => "options",
            Method::Trace => "trace",
        }
    }

    /// The upper-case name (`GET`).
    pub fn upper(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
            Method::Head => "HEAD",
            Method::Options => "OPTIONS",
            Method::Trace => "TRACE",
        }
    }
}

/// One operation of the document, borrowed from it.
#[derive(Debug, Clone, Copy)]
pub struct Operation<'a> {
    pub path: &'a str,
    pub method: Method,
    /// The operation object (an object or, in a malformed document, an array).
    pub op: &'a Value,
}

impl<'a> Operation<'a> {
    /// A named field of the operation object.
    pub fn field(&self, name: &str) -> Option<&'a Value> {
        js::get(self.op, name)
    }

    /// `operationId` when it is a string.
    pub fn operation_id(&self) -> Option<&'a str> {
        self.field("operationId").and_then(Value::as_str)
    }

    /// `summary` when it is a string.
    pub fn summary(&self) -> Option<&'a str> {
        self.field("summary").and_then(Value::as_str)
    }

    /// `tags` when it is an array (entries of any type).
    pub fn tags(&self) -> &'a [Value] {
        match self.field("tags") {
            Some(Value::Array(items)) => items,
            _ => &[],
        }
    }

    /// The string entries of `tags`.
    pub fn string_tags(&self) -> impl Iterator<Item = &'a str> {
        self.tags().iter().filter_map(Value::as_str)
    }

    /// The JSON pointer tokens of this operation in the document.
    pub fn location(&self) -> [&'a str; 3] {
        ["paths", self.path, self.method.key()]
    }
}

/// Every operation of `doc`, in listing order. Keys of a path item that are
/// not methods (`parameters`, `summary`, `$ref`, …) are not operations.
pub fn collect_operations(doc: &Value) -> Vec<Operation<'_>> {
    let mut out = Vec::new();
    if let Some(Value::Object(paths)) = js::get(doc, "paths") {
        for (path, item) in appstrate_jsjson::object_entries(paths) {
            let Value::Object(item) = item else { continue };
            for method in Method::ALL {
                if let Some(op) = item.get(method.key())
                    && js::is_object(Some(op))
                {
                    out.push(Operation { path, method, op });
                }
            }
        }
    }
    // Paths that differ but collate equal compare Equal (the stable sort
    // keeps document order); only identical paths fall back to the method.
    let mut keyed: Vec<(Vec<u32>, Operation<'_>)> =
        out.into_iter().map(|op| (sort_key(op.path), op)).collect();
    keyed.sort_by(|(ka, a), (kb, b)| {
        if a.path != b.path {
            return ka.cmp(kb);
        }
        a.method.cmp(&b.method)
    });
    keyed.into_iter().map(|(_, op)| op).collect()
}

/// Finds one operation (docs/openapi.md#show). With `path`, `identifier` is the
/// method (any case) and `path` must match exactly. Without, `identifier`
/// is first an `operationId`, then a `METHOD /path` pair split on white
/// space (`show "GET /api/runs"`).
pub fn find_operation<'a>(
    operations: &[Operation<'a>],
    identifier: &str,
    path: Option<&str>,
) -> Option<Operation<'a>> {
    let by_method_path = |method: &str, path: &str| {
        let method = method.to_lowercase();
        operations
            .iter()
            .find(|o| o.method.key() == method && o.path == path)
            .copied()
    };
    if let Some(path) = path {
        return by_method_path(identifier, path);
    }
    if let Some(found) = operations
        .iter()
        .find(|o| o.operation_id() == Some(identifier))
    {
        return Some(*found);
    }
    // `identifier.trim().split(/\s+/)`: JS `\s` is the set `trim()` strips.
    let tokens: Vec<&str> = js::trim(identifier)
        .split(js::is_space)
        .filter(|t| !t.is_empty())
        .collect();
    match tokens.as_slice() {
        [method, path] => by_method_path(method, path),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn collects_methods_only_in_order() {
        let doc = json!({"paths": {
            "/b": {"delete": {}, "get": {}, "parameters": [], "summary": "x", "x-foo": {}},
            "/a/{id}": {"trace": {}, "options": {}, "head": {}, "patch": {}, "put": {}, "post": {}},
            "/a/cancel": {"get": {"operationId": "c"}},
            "/a": {"get": null, "post": "nope", "put": 3}
        }});
        let ops = collect_operations(&doc);
        let got: Vec<String> = ops
            .iter()
            .map(|o| format!("{} {}", o.method.upper(), o.path))
            .collect();
        assert_eq!(
            got,
            [
                "POST /a/{id}",
                "PUT /a/{id}",
                "PATCH /a/{id}",
                "HEAD /a/{id}",
                "OPTIONS /a/{id}",
                "TRACE /a/{id}",
                "GET /a/cancel",
                "GET /b",
                "DELETE /b",
            ]
        );
    }

    #[test]
    fn finds_by_id_method_path_and_quoted_form() {
        let doc = json!({"paths": {
            "/api/runs": {"get": {"operationId": "listRuns"}, "post": {"operationId": "GET /api/runs"}},
        }});
        let ops = collect_operations(&doc);
        let find = |id: &str, path: Option<&str>| {
            find_operation(&ops, id, path).map(|o| format!("{} {}", o.method.upper(), o.path))
        };
        assert_eq!(find("listRuns", None).as_deref(), Some("GET /api/runs"));
        // operationId wins over the METHOD /path reading.
        assert_eq!(
            find("GET /api/runs", None).as_deref(),
            Some("POST /api/runs")
        );
        assert_eq!(
            find("  post \t /api/runs ", None).as_deref(),
            Some("POST /api/runs")
        );
        assert_eq!(
            find("get", Some("/api/runs")).as_deref(),
            Some("GET /api/runs")
        );
        assert_eq!(
            find("PoSt", Some("/api/runs")).as_deref(),
            Some("POST /api/runs")
        );
        assert_eq!(find("get", Some("/api/runs/")), None);
        assert_eq!(find("nope", None), None);
        assert_eq!(find("GET /api/runs extra", None), None);
        assert_eq!(find("", None), None);
        assert_eq!(find("DELETE /api/runs", None), None);
    }
}
