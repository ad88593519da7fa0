//! Anthropic Messages API, streaming (`POST {base}/v1/messages`).

use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::{Value, json};

use super::body::BodyCache;
use super::stream::{Exchange, TurnAssembler, parse_json, stream_turn};
use super::{
    AssistantTurn, Message, ModelConfig, ModelError, ModelRequest, OnThinking, Reasoning,
    StopReason, ThinkingLevel, ToolCall, Usage, takes_adaptive_thinking,
};
use crate::sse::SseEvent;

const PROVIDER: &str = "anthropic";
/// Output room kept next to a thinking budget, and the smallest budget the API takes.
const MIN_OUTPUT_TOKENS: u32 = 1024;
const BETA: &str = "fine-grained-tool-streaming-2025-05-14";
/// Budgeted thinking between tool calls, not only before the first.
const BETA_WITH_THINKING: &str =
    "fine-grained-tool-streaming-2025-05-14,interleaved-thinking-2025-05-14";

/// The whole request body: conversation, tools, thinking, temperature.
pub fn request_body(config: &ModelConfig, request: &ModelRequest<'_>) -> Value {
    let mut tools: Vec<Value> = request
        .tools
        .iter()
        .map(
            |t| json!({"name": t.name, "description": t.description, "input_schema": t.parameters}),
        )
        .collect();
    // A cache breakpoint on the last tool caches the whole tool list (as Pi does).
    if let Some(Value::Object(last)) = tools.last_mut() {
        last.insert("cache_control".into(), json!({"type": "ephemeral"}));
    }
    let messages: Vec<Value> = request.messages.iter().map(message_json).collect();
    let mut body = json!({
        "model": config.model_id,
        "max_tokens": config.max_tokens.min(32000),
        "stream": true,
        "system": [{"type": "text", "text": request.system, "cache_control": {"type": "ephemeral"}}],
        "messages": messages,
    });
    if !tools.is_empty() {
        body["tools"] = Value::Array(tools);
    }
    let thinking = config
        .active_thinking()
        .is_some_and(|level| add_thinking(&mut body, config, level));
    config.apply_generation(&mut body, thinking);
    body
}

/// Adds the thinking fields; false when the model's output limit leaves no
/// room for the smallest budget. 4.6-class models think adaptively with an
/// effort; the others get a token budget, `max_tokens` growing to hold it
/// (up to the model's limit) and the budget shrinking when it cannot.
fn add_thinking(body: &mut Value, config: &ModelConfig, level: ThinkingLevel) -> bool {
    if takes_adaptive_thinking(&config.model_id) {
        body["thinking"] = json!({"type": "adaptive"});
        body["output_config"] = json!({"effort": level.anthropic_effort()});
        return true;
    }
    let limit = config.max_tokens;
    let wanted = level.anthropic_budget();
    let max_tokens = limit.min(32000).saturating_add(wanted).min(limit);
    let budget = if max_tokens <= wanted {
        max_tokens.saturating_sub(MIN_OUTPUT_TOKENS)
    } else {
        wanted
    };
    if budget < MIN_OUTPUT_TOKENS {
        return false;
    }
    body["max_tokens"] = json!(max_tokens);
    body["thinking"] = json!({"type": "enabled", "budget_tokens": budget});
    true
}

fn message_json(message: &Message) -> Value {
    match message {
        Message::User(text) => json!({"role": "user", "content": [{"type": "text", "text": text}]}),
        Message::Assistant {
            reasoning,
            text,
            tool_calls,
        } => {
            // Thinking blocks go back as received (signature included): the
            // API checks them when the turn continues after a tool call.
            let mut content: Vec<Value> =
                reasoning.iter().filter_map(|r| r.replay.clone()).collect();
            content.extend(text.iter().map(|t| json!({"type": "text", "text": t})));
            for call in tool_calls {
                // Arguments that never parsed are sent back as an empty object.
                let input = call.arguments().unwrap_or_else(|_| json!({}));
                content.push(
                    json!({"type": "tool_use", "id": call.id, "name": call.name, "input": input}),
                );
            }
            json!({"role": "assistant", "content": content})
        }
        Message::ToolResults(results) => {
            let content: Vec<Value> = results
                .iter()
                .map(|r| {
                    // Images ride inside the tool_result, after the text.
                    let mut blocks = vec![json!({"type": "text", "text": r.text_or_placeholder()})];
                    blocks.extend(r.images.iter().map(|i| {
                        json!({"type": "image", "source": {"type": "base64", "media_type": i.mime_type, "data": i.base64}})
                    }));
                    json!({
                        "type": "tool_result",
                        "tool_use_id": r.call_id,
                        "content": blocks,
                        "is_error": r.is_error,
                    })
                })
                .collect();
            json!({"role": "user", "content": content})
        }
    }
}

pub async fn complete(
    http: &reqwest::Client,
    config: &ModelConfig,
    request: &ModelRequest<'_>,
    bodies: &BodyCache,
    on_thinking: OnThinking<'_>,
) -> Result<AssistantTurn, ModelError> {
    let mut headers = HeaderMap::new();
    let mut key = HeaderValue::from_str(&config.api_key).map_err(|_| {
        ModelError::Unsupported("the Anthropic API key contains invalid characters".into())
    })?;
    key.set_sensitive(true);
    headers.insert("x-api-key", key);
    headers.insert("anthropic-version", HeaderValue::from_static("2023-06-01"));
    // The thinking fields depend on the config alone: a body without the
    // conversation, prompt or tools tells which beta the request needs.
    let bare = ModelRequest {
        system: "",
        messages: &[],
        tools: &[],
    };
    let budgeted = request_body(config, &bare).pointer("/thinking/type") == Some(&json!("enabled"));
    let beta = if budgeted { BETA_WITH_THINKING } else { BETA };
    headers.insert("anthropic-beta", HeaderValue::from_static(beta));
    config.apply_headers(&mut headers)?;
    let exchange = Exchange {
        provider: PROVIDER,
        url: format!("{}/v1/messages", config.base_url()),
        headers,
        body: bodies.render(config, request, "messages", request_body),
    };
    stream_turn(http, exchange, Assembler::default(), on_thinking).await
}

enum Block {
    Text(String),
    Thinking {
        text: String,
        signature: String,
    },
    /// Thinking the provider encrypted: nothing to show, handed back as is.
    RedactedThinking(String),
    Tool(ToolCall),
    Other,
}

/// Folds the stream's events into one message.
#[derive(Default)]
struct Assembler {
    blocks: Vec<(u64, Block)>,
    usage: Usage,
    stop: Option<StopReason>,
    /// Some thinking was streamed already.
    thought: bool,
}

impl TurnAssembler for Assembler {
    fn event(&mut self, ev: &SseEvent, on_thinking: OnThinking<'_>) -> Result<bool, ModelError> {
        self.fold(&parse_json(PROVIDER, &ev.data)?, on_thinking)
    }

    fn finish(self) -> Result<AssistantTurn, ModelError> {
        self.message()
    }

    fn closed(self) -> Result<AssistantTurn, ModelError> {
        Err(ModelError::StreamCut { provider: PROVIDER })
    }
}

impl Assembler {
    /// Returns true on `message_stop`.
    fn fold(&mut self, ev: &Value, on_thinking: OnThinking<'_>) -> Result<bool, ModelError> {
        match ev.get("type").and_then(Value::as_str).unwrap_or("") {
            "message_start" => {
                if let Some(u) = ev.pointer("/message/usage") {
                    self.read_usage(u);
                }
            }
            "content_block_start" => {
                let index = ev.get("index").and_then(Value::as_u64).unwrap_or(0);
                let block = ev.get("content_block").cloned().unwrap_or(Value::Null);
                let b = match block.get("type").and_then(Value::as_str) {
                    Some("text") => Block::Text(str_of(&block, "text")),
                    Some("thinking") => {
                        let text = str_of(&block, "thinking");
                        self.thinking_starts(&text, on_thinking);
                        Block::Thinking {
                            text,
                            signature: str_of(&block, "signature"),
                        }
                    }
                    Some("redacted_thinking") => Block::RedactedThinking(str_of(&block, "data")),
                    Some("tool_use") => {
                        // Non-streamed input arrives whole in the start event.
                        let raw = match block.get("input") {
                            Some(Value::Object(m)) if !m.is_empty() => {
                                Value::Object(m.clone()).to_string()
                            }
                            _ => String::new(),
                        };
                        Block::Tool(ToolCall {
                            id: str_of(&block, "id"),
                            name: str_of(&block, "name"),
                            raw_arguments: raw,
                        })
                    }
                    _ => Block::Other,
                };
                self.blocks.push((index, b));
            }
            "content_block_delta" => {
                let index = ev.get("index").and_then(Value::as_u64).unwrap_or(0);
                let delta = ev.get("delta").cloned().unwrap_or(Value::Null);
                if let Some((_, block)) = self.blocks.iter_mut().rev().find(|(i, _)| *i == index) {
                    match (block, delta.get("type").and_then(Value::as_str)) {
                        (Block::Text(t), Some("text_delta")) => t.push_str(&str_of(&delta, "text")),
                        (Block::Thinking { text, .. }, Some("thinking_delta")) => {
                            let piece = str_of(&delta, "thinking");
                            on_thinking(&piece);
                            text.push_str(&piece);
                        }
                        (Block::Thinking { signature, .. }, Some("signature_delta")) => {
                            signature.push_str(&str_of(&delta, "signature"))
                        }
                        (Block::Tool(c), Some("input_json_delta")) => {
                            c.raw_arguments.push_str(&str_of(&delta, "partial_json"))
                        }
                        _ => {}
                    }
                }
            }
            "message_delta" => {
                if let Some(u) = ev.get("usage") {
                    self.read_usage(u);
                }
                if let Some(reason) = ev.pointer("/delta/stop_reason").and_then(Value::as_str) {
                    self.stop = Some(match reason {
                        "tool_use" => StopReason::ToolUse,
                        "max_tokens" => StopReason::MaxTokens,
                        _ => StopReason::EndTurn,
                    });
                }
            }
            "message_stop" => return Ok(true),
            "error" => {
                let kind = ev
                    .pointer("/error/type")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                let message = ev
                    .pointer("/error/message")
                    .and_then(Value::as_str)
                    .unwrap_or("unknown error")
                    .to_string();
                return Err(ModelError::Stream {
                    provider: PROVIDER,
                    message,
                    retryable: matches!(
                        kind,
                        "overloaded_error" | "api_error" | "rate_limit_error"
                    ),
                });
            }
            _ => {}
        }
        Ok(false)
    }

    /// A new thinking block: a blank line parts it from earlier thinking
    /// of the same message.
    fn thinking_starts(&mut self, text: &str, on_thinking: OnThinking<'_>) {
        if self.thought {
            on_thinking("\n\n");
        }
        self.thought = true;
        if !text.is_empty() {
            on_thinking(text);
        }
    }

    fn read_usage(&mut self, u: &Value) {
        let get = |k: &str| u.get(k).and_then(Value::as_u64);
        if let Some(v) = get("input_tokens") {
            self.usage.input = v;
        }
        if let Some(v) = get("output_tokens") {
            self.usage.output = v;
        }
        if let Some(v) = get("cache_read_input_tokens") {
            self.usage.cache_read = v;
        }
        if let Some(v) = get("cache_creation_input_tokens") {
            self.usage.cache_write = v;
        }
    }

    fn message(self) -> Result<AssistantTurn, ModelError> {
        let Some(stop) = self.stop else {
            return Err(ModelError::StreamCut { provider: PROVIDER });
        };
        let mut reasoning = Vec::new();
        let mut text = Vec::new();
        let mut tool_calls = Vec::new();
        for (_, b) in self.blocks {
            match b {
                Block::Text(t) if !t.is_empty() => text.push(t),
                Block::Thinking { text, signature } => {
                    // Unsigned thinking (a compatible server) cannot be handed back.
                    let replay = (!signature.is_empty()).then(
                        || json!({"type": "thinking", "thinking": text, "signature": signature}),
                    );
                    reasoning.push(Reasoning { text, replay });
                }
                Block::RedactedThinking(data) => reasoning.push(Reasoning {
                    text: String::new(),
                    replay: Some(json!({"type": "redacted_thinking", "data": data})),
                }),
                Block::Tool(c) => tool_calls.push(c),
                _ => {}
            }
        }
        Ok(AssistantTurn {
            reasoning,
            text,
            tool_calls,
            usage: self.usage,
            stop,
        })
    }
}

fn str_of(v: &Value, key: &str) -> String {
    v.get(key).and_then(Value::as_str).unwrap_or("").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assembles_text_and_tool_fragments() {
        let mut a = Assembler::default();
        let events = [
            json!({"type":"message_start","message":{"usage":{"input_tokens":10,"output_tokens":1,"cache_read_input_tokens":3}}}),
            json!({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}),
            json!({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hel"}}),
            json!({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"lo"}}),
            json!({"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"t1","name":"bash","input":{}}}),
            json!({"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"comm"}}),
            json!({"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"and\":\"ls\"}"}}),
            json!({"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"output_tokens":7}}),
        ];
        for e in &events {
            assert!(!a.fold(e, &mut |_| {}).expect("event"));
        }
        assert!(
            a.fold(&json!({"type":"message_stop"}), &mut |_| {})
                .expect("stop")
        );
        let turn = a.message().expect("turn");
        assert_eq!(turn.text, vec!["Hello"]);
        assert_eq!(
            turn.tool_calls[0].arguments().expect("json"),
            json!({"command":"ls"})
        );
        assert_eq!(
            turn.usage,
            Usage {
                input: 10,
                output: 7,
                cache_read: 3,
                cache_write: 0
            }
        );
        assert_eq!(turn.stop, StopReason::ToolUse);
    }

    #[test]
    fn tool_result_images_are_base64_blocks_inside_the_tool_result() {
        let messages = crate::model::image_conversation();
        let config = crate::model::test_config(crate::model::ModelApi::AnthropicMessages);
        let body = request_body(
            &config,
            &ModelRequest {
                system: "s",
                messages: &messages,
                tools: &[],
            },
        );
        assert_eq!(
            body["messages"][2],
            json!({"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "call_img", "is_error": false, "content": [
                    {"type": "text", "text": "Read image file [image/png]"},
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "UE5HREFUQQ=="}},
                ]},
                {"type": "tool_result", "tool_use_id": "call_txt", "is_error": false, "content": [
                    {"type": "text", "text": "hello"},
                ]},
            ]})
        );
        assert_eq!(body["messages"].as_array().map(Vec::len), Some(3));
    }

    #[test]
    fn message_stop_without_stop_reason_is_a_cut_stream() {
        let a = Assembler::default();
        assert!(matches!(a.message(), Err(ModelError::StreamCut { .. })));
    }
}
