//! OpenAI Chat Completions, streaming (`POST {base}/chat/completions`). Also
//! serves Mistral and any OpenAI-compatible server.

use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::{Value, json};

use super::body::BodyCache;
use super::stream::{parse_json, post_sse};
use super::{
    AssistantTurn, Message, ModelApi, ModelConfig, ModelError, ModelRequest, StopReason, ToolCall,
    Usage,
};

pub fn request_body(config: &ModelConfig, request: &ModelRequest<'_>) -> Value {
    let mut messages = vec![json!({"role": "system", "content": request.system})];
    for m in request.messages {
        match m {
            Message::User(text) => messages.push(json!({"role": "user", "content": text})),
            Message::Assistant { text, tool_calls } => {
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
    body
}

pub async fn complete(
    http: &reqwest::Client,
    config: &ModelConfig,
    request: &ModelRequest<'_>,
    bodies: &BodyCache,
) -> Result<AssistantTurn, ModelError> {
    let provider = config.api.provider();
    let url = format!("{}/chat/completions", config.base_url());
    let mut headers = HeaderMap::new();
    let auth = HeaderValue::from_str(&format!("Bearer {}", config.api_key))
        .map_err(|_| ModelError::Unsupported("the API key contains invalid characters".into()))?;
    headers.insert(reqwest::header::AUTHORIZATION, auth);
    config.apply_headers(&mut headers)?;
    let body = bodies.render(config, request, "messages", |config, request| {
        let mut body = request_body(config, request);
        config.apply_generation(&mut body);
        body
    });
    let mut stream = post_sse(http, provider, url, headers, body).await?;
    let mut asm = Assembler::default();
    while let Some(ev) = stream.next().await? {
        if ev.data.trim() == "[DONE]" {
            return asm.finish(provider);
        }
        asm.chunk(provider, &parse_json(provider, &ev.data)?)?;
    }
    // Some servers close without `[DONE]`; a finish reason is enough.
    asm.finish(provider)
}

#[derive(Default)]
struct Assembler {
    text: String,
    /// Keyed by the streamed `index`, in first-seen order.
    calls: Vec<(u64, ToolCall)>,
    usage: Usage,
    stop: Option<StopReason>,
}

impl Assembler {
    fn chunk(&mut self, provider: &'static str, chunk: &Value) -> Result<(), ModelError> {
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

    fn finish(self, provider: &'static str) -> Result<AssistantTurn, ModelError> {
        let Some(mut stop) = self.stop else {
            return Err(ModelError::StreamCut { provider });
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
        Ok(AssistantTurn {
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
        let mut a = Assembler::default();
        let chunks = [
            json!({"choices":[{"index":0,"delta":{"role":"assistant","content":"Hi"}}]}),
            json!({"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"c1","type":"function","function":{"name":"ls","arguments":""}}]}}]}),
            json!({"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"c2","function":{"name":"read","arguments":"{\"pa"}}]}}]}),
            json!({"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"function":{"arguments":"th\":\"a\"}"}}]}}]}),
            json!({"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}),
            json!({"choices":[],"usage":{"prompt_tokens":50,"completion_tokens":9,"prompt_tokens_details":{"cached_tokens":20}}}),
        ];
        for c in &chunks {
            a.chunk("openai", c).expect("chunk");
        }
        let t = a.finish("openai").expect("turn");
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
        let mut a = Assembler::default();
        a.chunk("openai", &json!({"choices":[{"delta":{"content":"par"}}]}))
            .expect("chunk");
        assert!(matches!(
            a.finish("openai"),
            Err(ModelError::StreamCut { .. })
        ));
    }
}
