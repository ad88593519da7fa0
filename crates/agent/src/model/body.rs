//! Request bodies built incrementally. Every request of a run re-sends the
//! system prompt, the tools and the whole conversation; building them again
//! as a `Value` tree and serialising that each turn made the work per turn
//! grow with the run's length (most of the loop's own time on a long run).
//! Here the envelope (everything but the conversation) is rendered when it
//! changes, each message once, both by the protocol's own `request_body`,
//! and a request is the kept texts put together.
//!
//! The text sent is byte for byte `request_body(config, request).to_string()`
//! as long as the items a message contributes depend on that message alone
//! (true of every protocol today; a test compares for each).

use std::sync::Mutex;

use serde_json::Value;

use super::{Message, ModelConfig, ModelRequest, ToolSpec};

/// Builds a protocol's whole request body.
pub(crate) type BuildBody = fn(&ModelConfig, &ModelRequest<'_>) -> Value;

/// What the last request was made of, rendered. One per client: the
/// config is the client's and never changes.
#[derive(Default)]
pub(crate) struct BodyCache {
    inner: Mutex<Rendered>,
}

#[derive(Default)]
struct Rendered {
    envelope: Option<Envelope>,
    /// The messages rendered (to notice a history that changed rather than
    /// grew, e.g. after compaction) and their items as one comma-separated
    /// JSON text; where each message's items end in it.
    messages: Vec<Message>,
    ends: Vec<usize>,
    items: String,
}

/// The body's text around the conversation, and what it was built from.
struct Envelope {
    system: String,
    tools: Vec<ToolSpec>,
    /// Up to the conversation: `{…,"messages":[` and the items the
    /// envelope puts first (a system message).
    head: String,
    /// The head ends with an item: a comma goes before the conversation.
    head_has_item: bool,
    /// From the array's `]` to the end.
    tail: String,
    /// How many items of the array are the envelope's.
    lead: usize,
}

impl BodyCache {
    /// The JSON text of `build(config, request)`, whose array under `key`
    /// holds the conversation (after whatever the envelope puts first).
    pub fn render(
        &self,
        config: &ModelConfig,
        request: &ModelRequest<'_>,
        key: &str,
        build: BuildBody,
    ) -> String {
        let mut rendered = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let fresh = rendered
            .envelope
            .as_ref()
            .is_some_and(|e| e.system == request.system && e.tools.as_slice() == request.tools);
        if !fresh {
            let empty = ModelRequest {
                messages: &[],
                ..*request
            };
            match Envelope::split(&build(config, &empty), key, request) {
                Some(envelope) => rendered.envelope = Some(envelope),
                // Not the shape this cache knows: no shortcut.
                None => return build(config, request).to_string(),
            }
        }
        let Rendered {
            envelope: Some(envelope),
            messages,
            ends,
            items,
        } = &mut *rendered
        else {
            return build(config, request).to_string();
        };
        update(messages, ends, items, request.messages, |message| {
            let one = build(
                config,
                // Without the prompt and the tools, which the items do not
                // depend on and which would be rendered for nothing.
                &ModelRequest {
                    system: "",
                    messages: std::slice::from_ref(message),
                    tools: &[],
                },
            );
            match one.get(key) {
                Some(Value::Array(all)) => all.iter().skip(envelope.lead).cloned().collect(),
                _ => Vec::new(),
            }
        });
        let mut out =
            String::with_capacity(envelope.head.len() + items.len() + envelope.tail.len() + 1);
        out.push_str(&envelope.head);
        if envelope.head_has_item && !items.is_empty() {
            out.push(',');
        }
        out.push_str(items);
        out.push_str(&envelope.tail);
        out
    }
}

/// Keeps the text of the messages that are still there, in place, and
/// renders the rest.
fn update(
    rendered: &mut Vec<Message>,
    ends: &mut Vec<usize>,
    items: &mut String,
    messages: &[Message],
    items_of: impl Fn(&Message) -> Vec<Value>,
) {
    let kept = rendered
        .iter()
        .zip(messages)
        .take_while(|(old, new)| old == new)
        .count();
    rendered.truncate(kept);
    ends.truncate(kept);
    items.truncate(ends.last().copied().unwrap_or(0));
    for message in &messages[kept..] {
        for item in items_of(message) {
            if !items.is_empty() {
                items.push(',');
            }
            items.push_str(&item.to_string());
        }
        rendered.push(message.clone());
        ends.push(items.len());
    }
}

impl Envelope {
    /// The compact JSON text of `body` cut where the conversation goes: at
    /// the end of the array under `key`.
    fn split(body: &Value, key: &str, request: &ModelRequest<'_>) -> Option<Envelope> {
        let Value::Object(map) = body else {
            return None;
        };
        let Some(Value::Array(lead)) = map.get(key) else {
            return None;
        };
        let mut head = String::from("{");
        let mut tail = String::new();
        let mut past_key = false;
        for (i, (name, value)) in map.iter().enumerate() {
            let out = if past_key { &mut tail } else { &mut head };
            if i > 0 {
                out.push(',');
            }
            out.push_str(&Value::String(name.clone()).to_string());
            out.push(':');
            if name == key {
                out.push('[');
                let items: Vec<String> = lead.iter().map(Value::to_string).collect();
                out.push_str(&items.join(","));
                tail.push(']');
                past_key = true;
            } else {
                out.push_str(&value.to_string());
            }
        }
        tail.push('}');
        Some(Envelope {
            system: request.system.to_string(),
            tools: request.tools.to_vec(),
            head,
            head_has_item: !lead.is_empty(),
            tail,
            lead: lead.len(),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::model::{
        ImageContent, ModelApi, Reasoning, ToolCall, ToolResultMessage, ToolSpec, anthropic,
        openai_chat, openai_responses, test_config,
    };

    /// Each protocol's body, as `complete` builds it.
    fn builder(api: ModelApi) -> (BuildBody, &'static str) {
        match api {
            ModelApi::AnthropicMessages => (anthropic::request_body, "messages"),
            ModelApi::OpenAiResponses => (openai_responses::request_body, "input"),
            ModelApi::OpenAiCompletions | ModelApi::MistralConversations => {
                (openai_chat::request_body, "messages")
            }
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
                    // What thinking models hand back (Anthropic, Responses).
                    reasoning: vec![Reasoning {
                        text: "Hmm".into(),
                        replay: Some(
                            serde_json::json!({"type": "thinking", "thinking": "Hmm", "signature": "sig"}),
                        ),
                    }],
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
                    reasoning: vec![],
                    text: vec![],
                    tool_calls: vec![call("c3", "")],
                },
                Message::ToolResults(vec![result("c3", "x\ty", false, vec![])]),
            ],
            vec![Message::Assistant {
                reasoning: vec![],
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
            // A model that thinks gets the thinking fields and no temperature.
            for reasoning in [false, true] {
                let config = ModelConfig {
                    temperature: Some(0.5),
                    reasoning,
                    ..test_config(api)
                };
                let cache = BodyCache::default();
                let mut messages = Vec::new();
                let check = |system: &str, messages: &[Message], tools: &[ToolSpec]| {
                    let request = ModelRequest {
                        system,
                        messages,
                        tools,
                    };
                    let sent = cache.render(&config, &request, key, build);
                    assert_eq!(sent, build(&config, &request).to_string(), "{api:?}");
                };
                let system = "You are \"careful\".";
                check(system, &messages, &tools);
                for turn in turns() {
                    messages.extend(turn);
                    check(system, &messages, &tools);
                    // A retry sends the same again.
                    check(system, &messages, &tools);
                }
                // A compacted history: the start replaced, the tail kept.
                let tail = messages.split_off(messages.len() - 2);
                let compacted: Vec<Message> =
                    [vec![Message::User("Summary".into())], tail].concat();
                check(system, &compacted, &tools);
                // Requests on the side (no tools, another prompt), then the run again.
                check(system, &compacted[..1], &[]);
                check("Summarise.", &compacted, &tools);
                check(system, &compacted, &tools);
            }
        }
    }

    static RENDERED: AtomicUsize = AtomicUsize::new(0);
    static ENVELOPES: AtomicUsize = AtomicUsize::new(0);

    #[test]
    fn the_envelope_and_each_message_are_rendered_once_while_the_conversation_grows() {
        let build: BuildBody = |c, r| {
            if r.messages.is_empty() {
                ENVELOPES.fetch_add(1, Ordering::SeqCst);
            }
            RENDERED.fetch_add(r.messages.len(), Ordering::SeqCst);
            anthropic::request_body(c, r)
        };
        let tools = tools();
        let config = test_config(ModelApi::AnthropicMessages);
        let cache = BodyCache::default();
        let mut messages = Vec::new();
        for turn in turns() {
            messages.extend(turn);
            let request = ModelRequest {
                system: "s",
                messages: &messages,
                tools: &tools,
            };
            cache.render(&config, &request, "messages", build);
        }
        assert_eq!(RENDERED.load(Ordering::SeqCst), messages.len());
        assert_eq!(ENVELOPES.load(Ordering::SeqCst), 1);
    }
}
