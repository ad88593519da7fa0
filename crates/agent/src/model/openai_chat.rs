//! OpenAI Chat Completions, streaming (`POST {base}/chat/completions`). Also
//! serves Mistral and any OpenAI-compatible server.

use serde_json::{Value, json};

use super::body::BodyCache;
use super::stream::{Exchange, TurnAssembler, bearer_headers, parse_json, stream_turn};
use super::{
    AssistantTurn, Message, ModelApi, ModelConfig, ModelError, ModelRequest, OnThinking, Reasoning,
    StopReason, ToolCall, Usage,
};
use crate::sse::SseEvent;

/// The whole request body: conversation, tools, reasoning effort, temperature.
pub fn request_body(config: &ModelConfig, request: &ModelRequest<'_>) -> Value {
    let mut messages = vec![json!({"role": "system", "content": request.system})];
    for m in request.messages {
        match m {
            Message::User(text) => messages.push(json!({"role": "user", "content": text})),
            // Chat Completions takes no reasoning back.
            Message::Assistant {
                text, tool_calls, ..
            } => {
                let content = if text.is_empty() {
                    Value::Null
                } else {
                    Value::String(text.join(""))
                };
                let mut msg = json!({"role": "assistant", "content": content});
                if !tool_calls.is_empty() {
                    msg["tool_calls"] = tool_calls
                        .iter()
                        .map(|c| {
                            let args = if c.arguments().is_ok() && !c.raw_arguments.trim().is_empty() {
                                c.raw_arguments.clone()
                            } else {
                                "{}".to_string()
                            };
                            json!({"id": c.id, "type": "function", "function": {"name": c.name, "arguments": args}})
                        })
                        .collect();
                }
                messages.push(msg);
            }
            Message::ToolResults(results) => {
                // Tool messages are text-only: the images of all the results
                // follow in one user message (as Pi does).
                let mut images = Vec::new();
                for r in results {
                    messages.push(json!({"role": "tool", "tool_call_id": r.call_id, "content": r.text_or_placeholder()}));
                    images.extend(
                        r.images.iter().map(
                            |i| json!({"type": "image_url", "image_url": {"url": i.data_url()}}),
                        ),
                    );
                }
                if !images.is_empty() {
                    let mut content = vec![
                        json!({"type": "text", "text": "Attached image(s) from tool result:"}),
                    ];
                    content.extend(images);
                    messages.push(json!({"role": "user", "content": content}));
                }
            }
        }
    }
    let tools: Vec<Value> = request
        .tools
        .iter()
        .map(|t| json!({"type": "function", "function": {"name": t.name, "description": t.description, "parameters": t.parameters}}))
        .collect();
    let mut body = json!({
        "model": config.model_id,
        "messages": messages,
        "stream": true,
    });
    if config.api == ModelApi::MistralConversations {
        body["max_tokens"] = json!(config.max_tokens);
    } else {
        body["stream_options"] = json!({"include_usage": true});
        body["store"] = json!(false);
        body["max_completion_tokens"] = json!(config.max_tokens);
    }
    if !tools.is_empty() {
        body["tools"] = Value::Array(tools);
    }
    // Mistral's API takes no effort (its reasoning models always think).
    let effort = config
        .active_thinking()
        .filter(|_| config.api == ModelApi::OpenAiCompletions);
    if let Some(level) = effort {
        body["reasoning_effort"] = json!(level.openai_effort(&config.model_id));
    }
    config.apply_generation(&mut body, effort.is_some());
    body
}

pub async fn complete(
    http: &reqwest::Client,
    config: &ModelConfig,
    request: &ModelRequest<'_>,
    bodies: &BodyCache,
    on_thinking: OnThinking<'_>,
) -> Result<AssistantTurn, ModelError> {
    let provider = config.api.provider();
    let mut headers = bearer_headers(&config.api_key)?;
    config.apply_headers(&mut headers)?;
    let exchange = Exchange {
        provider,
        url: format!("{}/chat/completions", config.base_url()),
        headers,
        body: bodies.render(config, request, "messages", request_body),
    };
    let assembler = Assembler {
        provider,
        ..Assembler::default()
    };
    stream_turn(http, exchange, assembler, on_thinking).await
}

impl TurnAssembler for Assembler {
    fn event(&mut self, ev: &SseEvent, on_thinking: OnThinking<'_>) -> Result<bool, ModelError> {
        if ev.data.trim() == "[DONE]" {
            return Ok(true);
        }
        self.chunk(&parse_json(self.provider, &ev.data)?, on_thinking)?;
        Ok(false)
    }

    fn finish(self) -> Result<AssistantTurn, ModelError> {
        self.message()
    }

    /// Some servers close without `[DONE]`; a finish reason is enough.
    fn closed(self) -> Result<AssistantTurn, ModelError> {
        self.message()
    }
}

#[derive(Default)]
struct Assembler {
    provider: &'static str,
    /// What OpenAI-compatible reasoning servers stream as
    /// `reasoning_content` (or `reasoning`).
    thinking: String,
    text: String,
    /// Keyed by the streamed `index`, in first-seen order.
    calls: Vec<(u64, ToolCall)>,
    usage: Usage,
    stop: Option<StopReason>,
}

impl Assembler {
    fn chunk(&mut self, chunk: &Value, on_thinking: OnThinking<'_>) -> Result<(), ModelError> {
        let provider = self.provider;
        if let Some(err) = chunk.get("error") {
            let message = err
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("unknown error")
                .to_string();
            return Err(ModelError::Stream {
                provider,
                message,
                retryable: true,
            });
        }
        if let Some(u) = chunk.get("usage").filter(|u| u.is_object()) {
            self.read_usage(u);
        }
        let Some(choice) = chunk.pointer("/choices/0") else {
            return Ok(());
        };
        if let Some(u) = choice.get("usage").filter(|u| u.is_object()) {
            self.read_usage(u);
        }
        if let Some(delta) = choice.get("delta") {
            let thought = ["reasoning_content", "reasoning"]
                .iter()
                .find_map(|k| delta.get(*k).and_then(Value::as_str));
            if let Some(t) = thought.filter(|t| !t.is_empty()) {
                on_thinking(t);
                self.thinking.push_str(t);
            }
            if let Some(t) = delta.get("content").and_then(Value::as_str) {
                self.text.push_str(t);
            }
            if let Some(calls) = delta.get("tool_calls").and_then(Value::as_array) {
                for (pos, c) in calls.iter().enumerate() {
                    let index = c.get("index").and_then(Value::as_u64).unwrap_or(pos as u64);
                    let slot = match self.calls.iter().position(|(i, _)| *i == index) {
                        Some(p) => &mut self.calls[p].1,
                        None => {
                            self.calls.push((
                                index,
                                ToolCall {
                                    id: String::new(),
                                    name: String::new(),
                                    raw_arguments: String::new(),
                                },
                            ));
                            &mut self.calls.last_mut().expect("just pushed").1
                        }
                    };
                    if let Some(id) = c
                        .get("id")
                        .and_then(Value::as_str)
                        .filter(|s| !s.is_empty())
                    {
                        slot.id = id.to_string();
                    }
                    if let Some(name) = c.pointer("/function/name").and_then(Value::as_str) {
                        slot.name.push_str(name);
                    }
                    if let Some(args) = c.pointer("/function/arguments").and_then(Value::as_str) {
                        slot.raw_arguments.push_str(args);
                    }
                }
            }
        }
        if let Some(reason) = choice.get("finish_reason").and_then(Value::as_str) {
            self.stop = Some(match reason {
                "tool_calls" | "function_call" => StopReason::ToolUse,
                "length" => StopReason::MaxTokens,
                "content_filter" => {
                    return Err(ModelError::content_filtered(provider));
                }
                _ => StopReason::EndTurn,
            });
        }
        Ok(())
    }

    fn read_usage(&mut self, u: &Value) {
        let count = |pointer: &str| u.pointer(pointer).and_then(Value::as_u64).unwrap_or(0);
        self.usage = Usage::with_cached_input(
            count("/prompt_tokens"),
            count("/prompt_tokens_details/cached_tokens"),
            count("/completion_tokens"),
        );
    }

    fn message(self) -> Result<AssistantTurn, ModelError> {
        let Some(mut stop) = self.stop else {
            return Err(ModelError::StreamCut {
                provider: self.provider,
            });
        };
        let mut tool_calls: Vec<ToolCall> = self.calls.into_iter().map(|(_, c)| c).collect();
        for (i, c) in tool_calls.iter_mut().enumerate() {
            // Some compatible servers omit ids; the loop needs one to answer.
            if c.id.is_empty() {
                c.id = format!("call_{i}");
            }
        }
        if !tool_calls.is_empty() && stop == StopReason::EndTurn {
            stop = StopReason::ToolUse;
        }
        let reasoning = if self.thinking.is_empty() {
            vec![]
        } else {
            vec![Reasoning {
                text: self.thinking,
                replay: None,
            }]
        };
        Ok(AssistantTurn {
            reasoning,
            text: if self.text.is_empty() {
                vec![]
            } else {
                vec![self.text]
            },
            tool_calls,
            usage: self.usage,
            stop,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assembles_parallel_tool_calls_and_usage() {
        let mut a = Assembler {
            provider: "openai",
            ..Assembler::default()
        };
        let chunks = [
            json!({"choices":[{"index":0,"delta":{"role":"assistant","content":"Hi"}}]}),
            json!({"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"c1","type":"function","function":{"name":"ls","arguments":""}}]}}]}),
            json!({"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"c2","function":{"name":"read","arguments":"{\"pa"}}]}}]}),
            json!({"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"function":{"arguments":"th\":\"a\"}"}}]}}]}),
            json!({"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}),
            json!({"choices":[],"usage":{"prompt_tokens":50,"completion_tokens":9,"prompt_tokens_details":{"cached_tokens":20}}}),
        ];
        for c in &chunks {
            a.chunk(c, &mut |_| {}).expect("chunk");
        }
        let t = a.message().expect("turn");
        assert_eq!(t.text, vec!["Hi"]);
        assert_eq!(t.tool_calls.len(), 2);
        assert_eq!(
            t.tool_calls[1].arguments().expect("json"),
            json!({"path":"a"})
        );
        assert_eq!(t.tool_calls[0].arguments().expect("json"), json!({}));
        assert_eq!(
            t.usage,
            Usage {
                input: 30,
                output: 9,
                cache_read: 20,
                cache_write: 0
            }
        );
        assert_eq!(t.stop, StopReason::ToolUse);
    }

    #[test]
    fn tool_result_images_follow_the_tool_messages_as_one_user_message() {
        let messages = crate::model::image_conversation();
        for api in [ModelApi::OpenAiCompletions, ModelApi::MistralConversations] {
            let config = crate::model::test_config(api);
            let body = request_body(
                &config,
                &ModelRequest {
                    system: "s",
                    messages: &messages,
                    tools: &[],
                },
            );
            let sent = body["messages"].as_array().expect("messages");
            // system, user, assistant, two tool messages, the image message.
            assert_eq!(sent.len(), 6, "{api:?}");
            assert_eq!(
                sent[3],
                json!({"role": "tool", "tool_call_id": "call_img", "content": "Read image file [image/png]"})
            );
            assert_eq!(
                sent[4],
                json!({"role": "tool", "tool_call_id": "call_txt", "content": "hello"})
            );
            assert_eq!(
                sent[5],
                json!({"role": "user", "content": [
                    {"type": "text", "text": "Attached image(s) from tool result:"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,UE5HREFUQQ=="}},
                ]})
            );
        }
    }

    #[test]
    fn no_finish_reason_is_a_cut_stream() {
        let mut a = Assembler {
            provider: "openai",
            ..Assembler::default()
        };
        a.chunk(
            &json!({"choices":[{"delta":{"content":"par"}}]}),
            &mut |_| {},
        )
        .expect("chunk");
        assert!(matches!(a.message(), Err(ModelError::StreamCut { .. })));
    }
}
