//! Request bodies built incrementally. Every request of a run re-sends the
//! whole conversation; building it again as a `Value` tree and serialising
//! that each turn made the work per turn grow with the run's length (most
//! of the loop's own time on a long run). Here each message is rendered to
//! JSON text once, by the protocol's own `request_body`, and later requests
//! splice the kept text into the envelope.
//!
//! The text sent is byte for byte `request_body(config, request).to_string()`
//! as long as the items a message contributes depend on that message alone
//! (true of every protocol today; the tests of each protocol compare).

use std::sync::Mutex;

use serde_json::Value;

use super::{Message, ModelConfig, ModelRequest};

/// Builds a protocol's whole request body.
pub(crate) type BuildBody = fn(&ModelConfig, &ModelRequest<'_>) -> Value;

/// The rendered conversation of the last request: the messages (to notice
/// a history that changed rather than grew, e.g. after compaction) and
/// their items as one comma-separated JSON text.
#[derive(Default)]
pub(crate) struct BodyCache {
    inner: Mutex<Rendered>,
}

#[derive(Default)]
struct Rendered {
    messages: Vec<Message>,
    /// Where the text of each message's items ends in `items`.
    ends: Vec<usize>,
    items: String,
}

impl BodyCache {
    /// The JSON text of `build(config, request)`, whose array under `key`
    /// holds the conversation (after whatever the envelope puts first, such
    /// as a system message).
    pub fn render(
        &self,
        config: &ModelConfig,
        request: &ModelRequest<'_>,
        key: &str,
        build: BuildBody,
    ) -> String {
        let envelope = build(
            config,
            &ModelRequest {
                messages: &[],
                ..*request
            },
        );
        let Some(Value::Array(lead)) = envelope.get(key) else {
            // Not the shape this cache knows: no shortcut.
            return build(config, request).to_string();
        };
        let skip = lead.len();
        let mut rendered = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        rendered.update(request.messages, |message| {
            let one = build(
                config,
                &ModelRequest {
                    messages: std::slice::from_ref(message),
                    tools: &[],
                    ..*request
                },
            );
            match one.get(key) {
                Some(Value::Array(items)) => items.iter().skip(skip).cloned().collect(),
                _ => Vec::new(),
            }
        });
        splice(&envelope, key, &rendered.items)
    }
}

impl Rendered {
    /// Keeps the text of the messages that are still there, in place, and
    /// renders the rest.
    fn update(&mut self, messages: &[Message], items_of: impl Fn(&Message) -> Vec<Value>) {
        let kept = self
            .messages
            .iter()
            .zip(messages)
            .take_while(|(old, new)| old == new)
            .count();
        self.messages.truncate(kept);
        self.ends.truncate(kept);
        self.items.truncate(self.ends.last().copied().unwrap_or(0));
        for message in &messages[kept..] {
            for item in items_of(message) {
                if !self.items.is_empty() {
                    self.items.push(',');
                }
                self.items.push_str(&item.to_string());
            }
            self.messages.push(message.clone());
            self.ends.push(self.items.len());
        }
    }
}

/// `envelope` as compact JSON with `items` appended to the array under `key`.
fn splice(envelope: &Value, key: &str, items: &str) -> String {
    let Value::Object(map) = envelope else {
        return envelope.to_string();
    };
    let mut out = String::with_capacity(items.len() + 16 * 1024);
    out.push('{');
    for (i, (name, value)) in map.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&Value::String(name.clone()).to_string());
        out.push(':');
        match value {
            Value::Array(lead) if name == key => {
                out.push('[');
                for (j, item) in lead.iter().enumerate() {
                    if j > 0 {
                        out.push(',');
                    }
                    out.push_str(&item.to_string());
                }
                if !lead.is_empty() && !items.is_empty() {
                    out.push(',');
                }
                out.push_str(items);
                out.push(']');
            }
            other => out.push_str(&other.to_string()),
        }
    }
    out.push('}');
    out
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::model::{
        ImageContent, ModelApi, ToolCall, ToolResultMessage, ToolSpec, anthropic, openai_chat,
        openai_responses, test_config,
    };

    /// Each protocol's body, as `complete` builds it.
    fn builder(api: ModelApi) -> (BuildBody, &'static str) {
        match api {
            ModelApi::AnthropicMessages => (
                |c, r| {
                    let mut b = anthropic::request_body(c, r);
                    c.apply_generation(&mut b);
                    b
                },
                "messages",
            ),
            ModelApi::OpenAiResponses => (
                |c, r| {
                    let mut b = openai_responses::request_body(c, r);
                    c.apply_generation(&mut b);
                    b
                },
                "input",
            ),
            ModelApi::OpenAiCompletions | ModelApi::MistralConversations => (
                |c, r| {
                    let mut b = openai_chat::request_body(c, r);
                    c.apply_generation(&mut b);
                    b
                },
                "messages",
            ),
        }
    }

    fn call(id: &str, args: &str) -> ToolCall {
        ToolCall {
            id: id.into(),
            name: "read".into(),
            raw_arguments: args.into(),
        }
    }

    fn result(
        id: &str,
        text: &str,
        is_error: bool,
        images: Vec<ImageContent>,
    ) -> ToolResultMessage {
        ToolResultMessage {
            call_id: id.into(),
            name: "read".into(),
            text: text.into(),
            is_error,
            images,
        }
    }

    /// Turns of every kind: text with calls, a call whose arguments never
    /// parsed, results with an image and an error, text alone.
    fn turns() -> Vec<Vec<Message>> {
        vec![
            vec![Message::User("Do it \"now\" é\n".into())],
            vec![
                Message::Assistant {
                    text: vec!["Looking".into(), "twice".into()],
                    tool_calls: vec![call("c1", r#"{"path":"a.png"}"#), call("c2", "{bad")],
                },
                Message::ToolResults(vec![
                    result(
                        "c1",
                        "",
                        false,
                        vec![ImageContent::new("image/png", b"PNG", 1, 1)],
                    ),
                    result("c2", "Invalid JSON", true, vec![]),
                ]),
            ],
            vec![
                Message::Assistant {
                    text: vec![],
                    tool_calls: vec![call("c3", "")],
                },
                Message::ToolResults(vec![result("c3", "x\ty", false, vec![])]),
            ],
            vec![Message::Assistant {
                text: vec!["Done.".into()],
                tool_calls: vec![],
            }],
        ]
    }

    fn tools() -> Vec<ToolSpec> {
        vec![ToolSpec {
            name: "read".into(),
            description: "Read a file".into(),
            parameters: serde_json::json!({"type": "object", "properties": {"path": {"type": "string"}}}),
        }]
    }

    #[test]
    fn growing_and_changed_conversations_are_sent_byte_for_byte() {
        let tools = tools();
        for api in [
            ModelApi::AnthropicMessages,
            ModelApi::OpenAiCompletions,
            ModelApi::MistralConversations,
            ModelApi::OpenAiResponses,
        ] {
            let (build, key) = builder(api);
            let config = ModelConfig {
                temperature: Some(0.5),
                ..test_config(api)
            };
            let cache = BodyCache::default();
            let mut messages = Vec::new();
            let check = |messages: &[Message], tools: &[ToolSpec]| {
                let request = ModelRequest {
                    system: "You are \"careful\".",
                    messages,
                    tools,
                };
                let sent = cache.render(&config, &request, key, build);
                assert_eq!(sent, build(&config, &request).to_string(), "{api:?}");
            };
            check(&messages, &tools);
            for turn in turns() {
                messages.extend(turn);
                check(&messages, &tools);
                // A retry sends the same again.
                check(&messages, &tools);
            }
            // A compacted history: the start replaced, the tail kept.
            let tail = messages.split_off(messages.len() - 2);
            let compacted: Vec<Message> = [vec![Message::User("Summary".into())], tail].concat();
            check(&compacted, &tools);
            // Another request on the side (no tools), then the run again.
            check(&compacted[..1], &[]);
            check(&compacted, &tools);
        }
    }

    static RENDERED: AtomicUsize = AtomicUsize::new(0);

    #[test]
    fn each_message_is_rendered_once_while_the_conversation_grows() {
        let build: BuildBody = |c, r| {
            RENDERED.fetch_add(r.messages.len(), Ordering::SeqCst);
            anthropic::request_body(c, r)
        };
        let config = test_config(ModelApi::AnthropicMessages);
        let cache = BodyCache::default();
        let mut messages = Vec::new();
        for turn in turns() {
            messages.extend(turn);
            let request = ModelRequest {
                system: "s",
                messages: &messages,
                tools: &[],
            };
            cache.render(&config, &request, "messages", build);
        }
        assert_eq!(RENDERED.load(Ordering::SeqCst), messages.len());
    }
}
