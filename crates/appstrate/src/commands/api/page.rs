//! The platform's list envelope, `{"object":"list","data":[…],"hasMore":bool}`
//! (docs/api-command.md#pages-and-jq): reading one page, the cursor of the
//! next one, and writing the merged envelope item by item so that memory
//! holds one page at a time.

use std::io::{self, Write};

use serde_json::{Map, Value};
use url::Url;

/// The query parameter the platform pages with.
pub const CURSOR_PARAM: &str = "startingAfter";
/// The backwards cursor, which the platform refuses together with `startingAfter`.
pub const BACKWARD_PARAM: &str = "endingBefore";

/// One page of a list.
#[derive(Debug)]
pub struct Page {
    pub items: Vec<Value>,
    pub has_more: bool,
    /// Fields other than `object`, `data` and `hasMore` (`limit`, `total`), in order.
    pub extra: Map<String, Value>,
}

impl Page {
    /// Reads a page; the error says what is not an envelope about it.
    pub fn parse(body: &[u8]) -> Result<Page, String> {
        let value: Value =
            serde_json::from_slice(body).map_err(|e| format!("the reply is not JSON ({e})"))?;
        let Value::Object(mut fields) = value else {
            return Err(format!("the reply is {}, not an object", kind_of(&value)));
        };
        match fields.get("object") {
            Some(Value::String(object)) if object == "list" => {}
            _ => return Err("its \"object\" is not \"list\"".to_string()),
        }
        let Some(Value::Array(items)) = fields.shift_remove("data") else {
            return Err("its \"data\" is not an array".to_string());
        };
        let Some(Value::Bool(has_more)) = fields.shift_remove("hasMore") else {
            return Err("its \"hasMore\" is not true or false".to_string());
        };
        fields.shift_remove("object");
        Ok(Page {
            items,
            has_more,
            extra: fields,
        })
    }

    /// The cursor of the next page: the last item's `id`.
    pub fn cursor(&self) -> Result<String, String> {
        match self.items.last() {
            None => Err("it says \"hasMore\": true but holds no item to continue after".into()),
            Some(item) => match item.get("id") {
                Some(Value::String(id)) if !id.is_empty() => Ok(id.clone()),
                _ => Err("its last item has no string \"id\" to continue after".into()),
            },
        }
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The `startingAfter` the URL already carries (the user's own start).
pub fn cursor_in(url: &Url) -> Option<String> {
    url.query_pairs()
        .find(|(name, _)| name == CURSOR_PARAM)
        .map(|(_, value)| value.into_owned())
}

/// Whether the URL asks for the previous pages.
pub fn walks_backward(url: &Url) -> bool {
    url.query_pairs().any(|(name, _)| name == BACKWARD_PARAM)
}

/// The first URL with `startingAfter=<cursor>` in place of any earlier
/// one; every other pair is kept byte for byte.
pub fn next_url(first: &Url, cursor: &str) -> Url {
    let kept: Vec<&str> = first
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|pair| {
            let name = pair.split('=').next().unwrap_or("");
            !pair.is_empty()
                && form_urlencoded::parse(name.as_bytes())
                    .next()
                    .is_none_or(|(decoded, _)| decoded != CURSOR_PARAM)
        })
        .collect();
    let mut query = kept.join("&");
    if !query.is_empty() {
        query.push('&');
    }
    query.push_str(
        &form_urlencoded::Serializer::new(String::new())
            .append_pair(CURSOR_PARAM, cursor)
            .finish(),
    );
    let mut url = first.clone();
    url.set_query(Some(&query));
    url
}

/// Writes one envelope holding every item of every page, as pages arrive.
pub struct EnvelopeWriter {
    items_written: u64,
    extra: Option<Map<String, Value>>,
}

impl EnvelopeWriter {
    pub fn new() -> Self {
        EnvelopeWriter {
            items_written: 0,
            extra: None,
        }
    }

    /// Appends a page's items (the opening of the envelope comes with the first page).
    pub fn page(&mut self, out: &mut dyn Write, page: &Page) -> io::Result<()> {
        if self.extra.is_none() {
            out.write_all(br#"{"object":"list","data":["#)?;
            self.extra = Some(page.extra.clone());
        }
        for item in &page.items {
            if self.items_written > 0 {
                out.write_all(b",")?;
            }
            out.write_all(appstrate_jsjson::stringify(item).as_bytes())?;
            self.items_written += 1;
        }
        out.flush()
    }

    /// Closes the envelope: `hasMore` is true only when pages were left unread.
    pub fn finish(self, out: &mut dyn Write, has_more: bool) -> io::Result<()> {
        let mut tail = format!("],\"hasMore\":{has_more}");
        for (name, value) in self.extra.unwrap_or_default() {
            tail.push(',');
            tail.push_str(&appstrate_jsjson::stringify(&Value::String(name)));
            tail.push(':');
            tail.push_str(&appstrate_jsjson::stringify(&value));
        }
        tail.push_str("}\n");
        out.write_all(tail.as_bytes())?;
        out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> Url {
        Url::parse(text).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn a_page_is_read_with_its_extra_fields() {
        let page = Page::parse(
            br#"{"object":"list","data":[{"id":"a"},{"id":"b"}],"hasMore":true,"limit":2}"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(page.has_more);
        assert_eq!(page.items.len(), 2);
        assert_eq!(page.cursor(), Ok("b".to_string()));
        assert_eq!(page.extra.get("limit"), Some(&Value::from(2)));
    }

    #[test]
    fn what_is_not_an_envelope_is_named() {
        let why = |body: &str| Page::parse(body.as_bytes()).err().unwrap_or_default();
        assert!(why("<html>").starts_with("the reply is not JSON"));
        assert_eq!(why("[1]"), "the reply is an array, not an object");
        assert_eq!(why(r#"{"data":[]}"#), "its \"object\" is not \"list\"");
        assert_eq!(
            why(r#"{"object":"list","data":{},"hasMore":false}"#),
            "its \"data\" is not an array"
        );
        assert_eq!(
            why(r#"{"object":"list","data":[]}"#),
            "its \"hasMore\" is not true or false"
        );
    }

    #[test]
    fn a_page_that_cannot_be_continued_is_named() {
        let cursor = |body: &str| {
            Page::parse(body.as_bytes())
                .and_then(|p| p.cursor())
                .err()
                .unwrap_or_default()
        };
        assert!(cursor(r#"{"object":"list","data":[],"hasMore":true}"#).contains("no item"));
        assert!(
            cursor(r#"{"object":"list","data":[{"id":7}],"hasMore":true}"#)
                .contains("no string \"id\"")
        );
    }

    #[test]
    fn the_next_url_replaces_the_cursor_and_keeps_the_rest() {
        let first = url("https://i.test/api/end-users?limit=100&startingAfter=x&q=a%20b");
        assert_eq!(
            next_url(&first, "eu_1&2").as_str(),
            "https://i.test/api/end-users?limit=100&q=a%20b&startingAfter=eu_1%262"
        );
        assert_eq!(cursor_in(&first).as_deref(), Some("x"));
        let bare = url("https://i.test/api/end-users");
        assert_eq!(
            next_url(&bare, "z").as_str(),
            "https://i.test/api/end-users?startingAfter=z"
        );
        assert!(walks_backward(&url("https://i.test/x?endingBefore=a")));
    }

    #[test]
    fn the_envelope_is_written_item_by_item() {
        let mut out = Vec::new();
        let mut writer = EnvelopeWriter::new();
        for body in [
            r#"{"object":"list","data":[{"id":"a","n":1.0}],"hasMore":true,"limit":1}"#,
            r#"{"object":"list","data":[{"id":"b"}],"hasMore":false,"limit":1}"#,
        ] {
            let page = Page::parse(body.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
            writer
                .page(&mut out, &page)
                .unwrap_or_else(|e| panic!("{e}"));
        }
        writer
            .finish(&mut out, false)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            String::from_utf8_lossy(&out),
            "{\"object\":\"list\",\"data\":[{\"id\":\"a\",\"n\":1},{\"id\":\"b\"}],\"hasMore\":false,\"limit\":1}\n"
        );
    }
}
