//! OpenAI Responses API, streaming (`POST {base}/responses`). The system
//! prompt goes in `instructions`, the conversation in `input` items; the
//! answer arrives as semantic events (`response.output_item.added`,
//! `response.output_text.delta`, `response.function_call_arguments.delta`, …)
//! and ends with `response.completed`, `response.incomplete` or
//! `response.failed` (no `[DONE]` sentinel). A reasoning model's reasoning
//! items (summary and encrypted content) are handed back on the next
//! request, since nothing is stored on the server.

use serde_json::{Value, json};

use super::body::BodyCache;
use super::stream::{Exchange, TurnAssembler, bearer_headers, parse_json, stream_turn};
use super::{
    AssistantTurn, Message, ModelConfig, ModelError, ModelRequest, OnThinking, Reasoning,
    StopReason, ToolCall, Usage,
};
use crate::sse::SseEvent;

const PROVIDER: &str = "openai";

/// The whole request body: instructions, input items, tools, reasoning, temperature.
pub fn request_body(config: &ModelConfig, request: &ModelRequest<'_>) -> Value {
    let mut input = Vec::new();
    for m in request.messages {
        match m {
            Message::User(text) => input
                .push(json!({"role": "user", "content": [{"type": "input_text", "text": text}]})),
            Message::Assistant {
                reasoning,
                text,
                tool_calls,
            } => {
                // Reasoning items go back whole (id, summary, encrypted
                // content), before the output that followed them.
                input.extend(reasoning.iter().filter_map(|r| r.replay.clone()));
                // Other output is replayed without item ids: with `store: false`
                // the server has nothing to match them against.
                for t in text.iter().filter(|t| !t.is_empty()) {
                    input.push(json!({"type": "message", "role": "assistant", "content": t}));
                }
                for c in tool_calls {
                    // Arguments that never parsed are sent back as an empty object.
                    let args = if c.arguments().is_ok() && !c.raw_arguments.trim().is_empty() {
                        c.raw_arguments.clone()
                    } else {
                        "{}".to_string()
                    };
                    input.push(json!({"type": "function_call", "call_id": c.id, "name": c.name, "arguments": args}));
                }
            }
            Message::ToolResults(results) => {
                for r in results {
                    // With images, `output` is a list of input parts (text first).
                    let output = if r.images.is_empty() {
                        Value::String(r.text.clone())
                    } else {
                        let mut parts =
                            vec![json!({"type": "input_text", "text": r.text_or_placeholder()})];
                        parts.extend(r.images.iter().map(|i| {
                            json!({"type": "input_image", "detail": "auto", "image_url": i.data_url()})
                        }));
                        Value::Array(parts)
                    };
                    input.push(json!({"type": "function_call_output", "call_id": r.call_id, "output": output}));
                }
            }
        }
    }
    // `strict` defaults to true on this API, which would reject every schema
    // with optional properties; Pi sends false too.
    let tools: Vec<Value> = request
        .tools
        .iter()
        .map(|t| json!({"type": "function", "name": t.name, "description": t.description, "parameters": t.parameters, "strict": false}))
        .collect();
    let mut body = json!({
        "model": config.model_id,
        "instructions": request.system,
        "input": input,
        "stream": true,
        "store": false,
        "max_output_tokens": config.max_tokens,
    });
    if !tools.is_empty() {
        body["tools"] = Value::Array(tools);
    }
    let thinking = config.active_thinking();
    if let Some(level) = thinking {
        body["reasoning"] =
            json!({"effort": level.openai_effort(&config.model_id), "summary": "auto"});
        body["include"] = json!(["reasoning.encrypted_content"]);
    }
    config.apply_generation(&mut body, thinking.is_some());
    body
}

pub async fn complete(
    http: &reqwest::Client,
    config: &ModelConfig,
    request: &ModelRequest<'_>,
    bodies: &BodyCache,
    on_thinking: OnThinking<'_>,
) -> Result<AssistantTurn, ModelError> {
    let mut headers = bearer_headers(&config.api_key)?;
    config.apply_headers(&mut headers)?;
    let exchange = Exchange {
        provider: PROVIDER,
        url: format!("{}/responses", config.base_url()),
        headers,
        body: bodies.render(config, request, "input", request_body),
    };
    stream_turn(http, exchange, Assembler::default(), on_thinking).await
}

impl TurnAssembler for Assembler {
    fn event(&mut self, ev: &SseEvent, on_thinking: OnThinking<'_>) -> Result<bool, ModelError> {
        // Not part of this protocol, but some compatible servers end with
        // it: the message ends without its terminal event, a cut stream.
        if ev.data.trim() == "[DONE]" {
            return Err(ModelError::StreamCut { provider: PROVIDER });
        }
        let mut data = parse_json(PROVIDER, &ev.data)?;
        if data.get("type").is_none() && !ev.event.is_empty() {
            data["type"] = Value::String(ev.event.clone());
        }
        self.fold(&data, on_thinking)
    }

    fn finish(self) -> Result<AssistantTurn, ModelError> {
        self.message()
    }

    fn closed(self) -> Result<AssistantTurn, ModelError> {
        Err(ModelError::StreamCut { provider: PROVIDER })
    }
}

enum Content {
    Text(String),
    Call(ToolCall),
    /// The summary (or raw reasoning text) as streamed, and the finished
    /// item to hand back.
    Reasoning {
        text: String,
        item: Option<Value>,
    },
    /// Built-in tool items: nothing the loop uses.
    Other,
}

/// One output item, found again by its id or, failing that, its index.
struct Item {
    index: u64,
    id: String,
    content: Content,
}

/// Folds the stream's events into one message.
#[derive(Default)]
struct Assembler {
    items: Vec<Item>,
    usage: Usage,
    stop: Option<StopReason>,
    /// The reasoning part (item position, part index) thinking last came from.
    last_thought: Option<(usize, u64)>,
}

impl Assembler {
    /// Returns true on the terminal event (`response.completed` / `.incomplete`).
    fn fold(&mut self, ev: &Value, on_thinking: OnThinking<'_>) -> Result<bool, ModelError> {
        match ev.get("type").and_then(Value::as_str).unwrap_or("") {
            "response.output_item.added" => {
                if let Some(item) = ev.get("item") {
                    self.item(index_of(ev), item, false);
                }
            }
            "response.output_item.done" => {
                if let Some(item) = ev.get("item") {
                    self.item(index_of(ev), item, true);
                }
            }
            "response.output_text.delta" | "response.refusal.delta" => {
                let delta = str_of(ev, "delta");
                if let Content::Text(t) =
                    &mut self.slot(ev, || Content::Text(String::new())).content
                {
                    t.push_str(&delta);
                }
            }
            "response.reasoning_summary_text.delta" | "response.reasoning_text.delta" => {
                self.thinking_delta(ev, on_thinking);
            }
            "response.function_call_arguments.delta" => {
                let delta = str_of(ev, "delta");
                if let Content::Call(c) = &mut self.slot(ev, new_call).content {
                    c.raw_arguments.push_str(&delta);
                }
            }
            "response.function_call_arguments.done" => {
                let arguments = ev.get("arguments").and_then(Value::as_str);
                let name = str_of(ev, "name");
                if let Content::Call(c) = &mut self.slot(ev, new_call).content {
                    if let Some(a) = arguments {
                        c.raw_arguments = a.to_string();
                    }
                    if !name.is_empty() {
                        c.name = name;
                    }
                }
            }
            "response.completed" | "response.incomplete" | "response.failed" => {
                let response = ev.get("response").cloned().unwrap_or(Value::Null);
                let status = match response.get("status").and_then(Value::as_str) {
                    Some(s) => s.to_string(),
                    None => ev["type"]
                        .as_str()
                        .unwrap_or("")
                        .trim_start_matches("response.")
                        .to_string(),
                };
                return self.terminal(&status, &response).map(|()| true);
            }
            "error" => {
                // The documented shape is flat; some servers nest it under `error`.
                let err = ev.get("error").filter(|e| e.is_object()).unwrap_or(ev);
                return Err(stream_error(
                    str_of(err, "code"),
                    str_of(err, "message"),
                    "",
                ));
            }
            _ => {}
        }
        Ok(false)
    }

    /// A piece of reasoning text; a blank line parts it from thinking of
    /// another summary part or item.
    fn thinking_delta(&mut self, ev: &Value, on_thinking: OnThinking<'_>) {
        let delta = str_of(ev, "delta");
        let part = ["summary_index", "content_index"]
            .iter()
            .find_map(|k| ev.get(*k).and_then(Value::as_u64))
            .unwrap_or(0);
        let last = self.last_thought;
        let pos = self.slot_position(ev, || Content::Reasoning {
            text: String::new(),
            item: None,
        });
        let here = (pos, part);
        let Content::Reasoning { text, .. } = &mut self.items[here.0].content else {
            return;
        };
        if last.is_some_and(|l| l != here) {
            on_thinking("\n\n");
            if !text.is_empty() {
                text.push_str("\n\n");
            }
        }
        on_thinking(&delta);
        text.push_str(&delta);
        self.last_thought = Some(here);
    }

    /// An output item as announced (`added`) or finished (`done`): what the
    /// finished item says wins over the fragments streamed before it.
    fn item(&mut self, index: Option<u64>, item: &Value, done: bool) {
        let id = str_of(item, "id");
        let kind = item.get("type").and_then(Value::as_str).unwrap_or("");
        let pos = self.find(&id, index).unwrap_or_else(|| {
            let content = match kind {
                "message" => Content::Text(String::new()),
                "function_call" => new_call(),
                "reasoning" => Content::Reasoning {
                    text: String::new(),
                    item: None,
                },
                _ => Content::Other,
            };
            let index = index.unwrap_or(self.items.len() as u64);
            self.items.push(Item {
                index,
                id: id.clone(),
                content,
            });
            self.items.len() - 1
        });
        let slot = &mut self.items[pos];
        if slot.id.is_empty() {
            slot.id = id;
        }
        match &mut slot.content {
            Content::Text(t) if kind == "message" => {
                let parts = item.get("content").and_then(Value::as_array);
                if let Some(parts) = parts.filter(|p| done && !p.is_empty()) {
                    *t = parts
                        .iter()
                        .map(|p| match p.get("type").and_then(Value::as_str) {
                            Some("refusal") => str_of(p, "refusal"),
                            _ => str_of(p, "text"),
                        })
                        .collect();
                }
            }
            Content::Reasoning { text, item: kept } if kind == "reasoning" && done => {
                if text.is_empty() {
                    *text = summary_text(item);
                }
                *kept = Some(item.clone());
            }
            Content::Call(c) if kind == "function_call" => {
                let call_id = str_of(item, "call_id");
                if !call_id.is_empty() {
                    c.id = call_id;
                }
                let name = str_of(item, "name");
                if !name.is_empty() {
                    c.name = name;
                }
                // `added` usually carries "" and the deltas follow; a server that
                // sends the arguments whole puts them here.
                let args = str_of(item, "arguments");
                if !args.is_empty() && (done || c.raw_arguments.is_empty()) {
                    c.raw_arguments = args;
                }
            }
            _ => {}
        }
    }

    /// The item an event refers to (`item_id`, else `output_index`); created
    /// with `make` when the server skipped `response.output_item.added`.
    fn slot(&mut self, ev: &Value, make: impl FnOnce() -> Content) -> &mut Item {
        let pos = self.slot_position(ev, make);
        &mut self.items[pos]
    }

    /// Where [`slot`](Self::slot)'s item is in `items`.
    fn slot_position(&mut self, ev: &Value, make: impl FnOnce() -> Content) -> usize {
        let id = str_of(ev, "item_id");
        let index = index_of(ev);
        match self.find(&id, index) {
            Some(p) => p,
            None => {
                let index = index.unwrap_or(self.items.len() as u64);
                self.items.push(Item {
                    index,
                    id,
                    content: make(),
                });
                self.items.len() - 1
            }
        }
    }

    fn find(&self, id: &str, index: Option<u64>) -> Option<usize> {
        if !id.is_empty()
            && let Some(p) = self.items.iter().position(|i| i.id == id)
        {
            return Some(p);
        }
        let index = index?;
        self.items
            .iter()
            .position(|i| i.index == index && (id.is_empty() || i.id.is_empty()))
    }

    fn terminal(&mut self, status: &str, response: &Value) -> Result<(), ModelError> {
        if let Some(u) = response.get("usage").filter(|u| u.is_object()) {
            self.read_usage(u);
        }
        // A server that streamed no items still lists them in the final response.
        if self.items.is_empty()
            && let Some(output) = response.get("output").and_then(Value::as_array)
        {
            for (i, item) in output.iter().enumerate() {
                self.item(Some(i as u64), item, true);
            }
        }
        match status {
            "failed" | "cancelled" => {
                let err = response.get("error").filter(|e| e.is_object());
                let code = err.map(|e| str_of(e, "code")).unwrap_or_default();
                let message = err.map(|e| str_of(e, "message")).unwrap_or_default();
                let what = if status == "failed" {
                    "the response failed"
                } else {
                    "the response was cancelled"
                };
                Err(stream_error(code, message, what))
            }
            "incomplete" => {
                let reason = response
                    .pointer("/incomplete_details/reason")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                if reason == "content_filter" {
                    return Err(ModelError::content_filtered(PROVIDER));
                }
                // `max_output_tokens`, or a reason this client does not know:
                // either way the message stopped short, like `max_tokens`.
                self.stop = Some(StopReason::MaxTokens);
                Ok(())
            }
            _ => {
                self.stop = Some(StopReason::EndTurn);
                Ok(())
            }
        }
    }

    fn read_usage(&mut self, u: &Value) {
        let count = |pointer: &str| u.pointer(pointer).and_then(Value::as_u64).unwrap_or(0);
        self.usage = Usage::with_cached_input(
            count("/input_tokens"),
            count("/input_tokens_details/cached_tokens"),
            count("/output_tokens"),
        );
    }

    fn message(mut self) -> Result<AssistantTurn, ModelError> {
        let Some(mut stop) = self.stop else {
            return Err(ModelError::StreamCut { provider: PROVIDER });
        };
        // Output order is the call order, whatever order the events came in.
        self.items.sort_by_key(|i| i.index);
        let mut reasoning = Vec::new();
        let mut text = Vec::new();
        let mut tool_calls = Vec::new();
        for item in self.items {
            match item.content {
                Content::Text(t) if !t.is_empty() => text.push(t),
                Content::Reasoning { text, item } => {
                    reasoning.push(Reasoning { text, replay: item })
                }
                Content::Call(mut c) => {
                    // The loop answers by call id; fall back to the item id.
                    if c.id.is_empty() {
                        c.id = if item.id.is_empty() {
                            format!("call_{}", tool_calls.len())
                        } else {
                            item.id
                        };
                    }
                    tool_calls.push(c);
                }
                _ => {}
            }
        }
        if !tool_calls.is_empty() && stop == StopReason::EndTurn {
            stop = StopReason::ToolUse;
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

/// The summary parts of a finished reasoning item, a blank line apart.
fn summary_text(item: &Value) -> String {
    let parts = item.get("summary").and_then(Value::as_array);
    parts
        .into_iter()
        .flatten()
        .map(|p| str_of(p, "text"))
        .filter(|t| !t.is_empty())
        .collect::<Vec<_>>()
        .join("\n\n")
}

fn new_call() -> Content {
    Content::Call(ToolCall {
        id: String::new(),
        name: String::new(),
        raw_arguments: String::new(),
    })
}

/// An error reported inside the stream: `message (code)`, retried only for
/// the codes that mean "try again later".
fn stream_error(code: String, message: String, what: &str) -> ModelError {
    let retryable = matches!(code.as_str(), "server_error" | "rate_limit_exceeded");
    let mut text = match (what.is_empty(), message.is_empty()) {
        (true, true) => "unknown error".to_string(),
        (true, false) => message,
        (false, true) => what.to_string(),
        (false, false) => format!("{what}: {message}"),
    };
    if !code.is_empty() {
        text.push_str(&format!(" ({code})"));
    }
    ModelError::Stream {
        provider: PROVIDER,
        message: text,
        retryable,
    }
}

fn index_of(ev: &Value) -> Option<u64> {
    ev.get("output_index").and_then(Value::as_u64)
}

fn str_of(v: &Value, key: &str) -> String {
    v.get(key).and_then(Value::as_str).unwrap_or("").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ModelApi, ToolResultMessage, ToolSpec};

    fn run(events: &[Value]) -> Result<AssistantTurn, ModelError> {
        let mut a = Assembler::default();
        for (i, e) in events.iter().enumerate() {
            if a.fold(e, &mut |_| {})? {
                assert_eq!(i + 1, events.len(), "terminal event before the end");
                return a.message();
            }
        }
        Err(ModelError::StreamCut { provider: PROVIDER })
    }

    fn usage(input: u64, cached: u64, output: u64) -> Value {
        json!({"input_tokens": input, "input_tokens_details": {"cached_tokens": cached}, "output_tokens": output, "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": input + output})
    }

    #[test]
    fn text_then_parallel_calls_from_fragments() {
        let events = [
            json!({"type":"response.created","sequence_number":0,"response":{"id":"resp_1","status":"in_progress","output":[]}}),
            json!({"type":"response.output_item.added","output_index":0,"item":{"id":"msg_1","type":"message","status":"in_progress","role":"assistant","content":[]}}),
            json!({"type":"response.content_part.added","item_id":"msg_1","output_index":0,"content_index":0,"part":{"type":"output_text","text":"","annotations":[]}}),
            json!({"type":"response.output_text.delta","item_id":"msg_1","output_index":0,"content_index":0,"delta":"Let me "}),
            json!({"type":"response.output_text.delta","item_id":"msg_1","output_index":0,"content_index":0,"delta":"look"}),
            json!({"type":"response.output_item.added","output_index":1,"item":{"id":"fc_a","type":"function_call","status":"in_progress","arguments":"","call_id":"call_a","name":"ls"}}),
            json!({"type":"response.output_item.added","output_index":2,"item":{"id":"fc_b","type":"function_call","status":"in_progress","arguments":"","call_id":"call_b","name":"read"}}),
            // Interleaved fragments of two calls, keyed by item id.
            json!({"type":"response.function_call_arguments.delta","item_id":"fc_b","output_index":2,"delta":"{\"pa"}),
            json!({"type":"response.function_call_arguments.delta","item_id":"fc_a","output_index":1,"delta":"{}"}),
            json!({"type":"response.function_call_arguments.delta","item_id":"fc_b","output_index":2,"delta":"th\":\"a\"}"}),
            json!({"type":"response.function_call_arguments.done","item_id":"fc_b","output_index":2,"arguments":"{\"path\":\"a\"}"}),
            json!({"type":"response.output_item.done","output_index":2,"item":{"id":"fc_b","type":"function_call","status":"completed","arguments":"{\"path\":\"a\"}","call_id":"call_b","name":"read"}}),
            json!({"type":"response.output_item.done","output_index":1,"item":{"id":"fc_a","type":"function_call","status":"completed","arguments":"{}","call_id":"call_a","name":"ls"}}),
            json!({"type":"response.completed","response":{"id":"resp_1","status":"completed","usage":usage(50, 20, 9)}}),
        ];
        let t = run(&events).expect("turn");
        assert_eq!(t.text, vec!["Let me look"]);
        let calls: Vec<(&str, &str)> = t
            .tool_calls
            .iter()
            .map(|c| (c.id.as_str(), c.name.as_str()))
            .collect();
        assert_eq!(calls, [("call_a", "ls"), ("call_b", "read")]);
        assert_eq!(
            t.tool_calls[1].arguments().expect("json"),
            json!({"path":"a"})
        );
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
    fn done_events_win_over_fragments_and_unknown_events_are_ignored() {
        let events = [
            json!({"type":"response.output_item.added","output_index":0,"item":{"id":"rs_1","type":"reasoning","summary":[]}}),
            json!({"type":"response.reasoning_summary_text.delta","item_id":"rs_1","output_index":0,"delta":"hmm"}),
            json!({"type":"response.output_item.done","output_index":0,"item":{"id":"rs_1","type":"reasoning","summary":[]}}),
            // A delta for an item never announced still lands somewhere.
            json!({"type":"response.function_call_arguments.delta","item_id":"fc_1","output_index":1,"delta":"{\"comm"}),
            json!({"type":"response.function_call_arguments.done","item_id":"fc_1","output_index":1,"arguments":"{\"command\":\"ls\"}"}),
            json!({"type":"response.output_item.done","output_index":1,"item":{"id":"fc_1","type":"function_call","arguments":"{\"command\":\"ls\"}","call_id":"call_1","name":"bash"}}),
            json!({"type":"response.completed","response":{"status":"completed","usage":usage(10, 0, 2)}}),
        ];
        let t = run(&events).expect("turn");
        assert!(t.text.is_empty());
        assert_eq!(
            t.tool_calls,
            vec![ToolCall {
                id: "call_1".into(),
                name: "bash".into(),
                raw_arguments: "{\"command\":\"ls\"}".into()
            }]
        );
    }

    #[test]
    fn items_only_in_the_final_response_are_read() {
        let events = [
            json!({"type":"response.completed","response":{"status":"completed","output":[
            {"id":"msg_1","type":"message","role":"assistant","content":[{"type":"output_text","text":"Hello","annotations":[]}]}
        ],"usage":usage(3, 0, 1)}}),
        ];
        let t = run(&events).expect("turn");
        assert_eq!(t.text, vec!["Hello"]);
        assert_eq!(t.stop, StopReason::EndTurn);
    }

    #[test]
    fn incomplete_failed_error_and_cut() {
        let inc = |reason: &str| json!({"type":"response.incomplete","response":{"status":"incomplete","incomplete_details":{"reason":reason},"usage":usage(5, 0, 8192)}});
        let t = run(&[
            json!({"type":"response.output_text.delta","item_id":"m","output_index":0,"delta":"trunc"}),
            inc("max_output_tokens"),
        ])
        .expect("turn");
        assert_eq!(
            (t.stop, t.text.clone()),
            (StopReason::MaxTokens, vec!["trunc".to_string()])
        );
        assert_eq!(t.usage.output, 8192);

        let err = run(&[inc("content_filter")]).expect_err("filtered");
        assert!(!err.is_retryable());
        assert!(err.to_string().contains("content filter"), "{err}");

        let failed = |code: &str| json!({"type":"response.failed","response":{"status":"failed","error":{"code":code,"message":"The model broke"}}});
        let err = run(&[failed("server_error")]).expect_err("failed");
        assert_eq!(
            err.to_string(),
            "openai stream error: the response failed: The model broke (server_error)"
        );
        assert!(err.is_retryable());
        assert!(
            !run(&[failed("invalid_prompt")])
                .expect_err("failed")
                .is_retryable()
        );

        let err = run(&[json!({"type":"error","code":"rate_limit_exceeded","message":"Slow down","param":null,"sequence_number":3})]).expect_err("error");
        assert_eq!(
            err.to_string(),
            "openai stream error: Slow down (rate_limit_exceeded)"
        );
        assert!(err.is_retryable());
        let err = run(&[json!({"type":"error","error":{"type":"invalid_request_error","code":"context_length_exceeded","message":"Too long"}})]).expect_err("error");
        assert_eq!(
            err.to_string(),
            "openai stream error: Too long (context_length_exceeded)"
        );
        assert!(!err.is_retryable());

        let cut = run(&[
            json!({"type":"response.output_text.delta","item_id":"m","output_index":0,"delta":"half"}),
        ]);
        assert!(matches!(cut, Err(ModelError::StreamCut { .. })));
    }

    #[test]
    fn tool_result_images_are_input_image_parts_of_the_output() {
        let messages = crate::model::image_conversation();
        let config = crate::model::test_config(ModelApi::OpenAiResponses);
        let body = request_body(
            &config,
            &ModelRequest {
                system: "s",
                messages: &messages,
                tools: &[],
            },
        );
        let outputs: Vec<&Value> = body["input"]
            .as_array()
            .expect("input")
            .iter()
            .filter(|i| i["type"] == "function_call_output")
            .collect();
        assert_eq!(
            outputs,
            [
                &json!({"type": "function_call_output", "call_id": "call_img", "output": [
                    {"type": "input_text", "text": "Read image file [image/png]"},
                    {"type": "input_image", "detail": "auto", "image_url": "data:image/png;base64,UE5HREFUQQ=="},
                ]}),
                &json!({"type": "function_call_output", "call_id": "call_txt", "output": "hello"}),
            ]
        );
    }

    #[test]
    fn request_replays_the_conversation_as_items() {
        let config = ModelConfig::new(ModelApi::OpenAiResponses, "gpt-test", "k");
        let messages = [
            Message::User("Do it".into()),
            Message::Assistant {
                reasoning: vec![],
                text: vec!["On it".into()],
                tool_calls: vec![
                    ToolCall {
                        id: "call_1".into(),
                        name: "bash".into(),
                        raw_arguments: "{\"command\":\"ls\"}".into(),
                    },
                    ToolCall {
                        id: "call_2".into(),
                        name: "bash".into(),
                        raw_arguments: "{not json".into(),
                    },
                ],
            },
            Message::ToolResults(vec![
                ToolResultMessage {
                    call_id: "call_1".into(),
                    name: "bash".into(),
                    text: "a.txt\n".into(),
                    is_error: false,
                    images: vec![],
                },
                ToolResultMessage {
                    call_id: "call_2".into(),
                    name: "bash".into(),
                    text: "Invalid JSON".into(),
                    is_error: true,
                    images: vec![],
                },
            ]),
        ];
        let tools = [ToolSpec {
            name: "bash".into(),
            description: "Run".into(),
            parameters: json!({"type":"object"}),
        }];
        let system = "## System\n\nbytes \u{2014} exact\n";
        let body = request_body(
            &config,
            &ModelRequest {
                system,
                messages: &messages,
                tools: &tools,
            },
        );
        assert_eq!(
            body,
            json!({
                "model": "gpt-test",
                "instructions": system,
                "input": [
                    {"role": "user", "content": [{"type": "input_text", "text": "Do it"}]},
                    {"type": "message", "role": "assistant", "content": "On it"},
                    {"type": "function_call", "call_id": "call_1", "name": "bash", "arguments": "{\"command\":\"ls\"}"},
                    {"type": "function_call", "call_id": "call_2", "name": "bash", "arguments": "{}"},
                    {"type": "function_call_output", "call_id": "call_1", "output": "a.txt\n"},
                    {"type": "function_call_output", "call_id": "call_2", "output": "Invalid JSON"},
                ],
                "stream": true,
                "store": false,
                "max_output_tokens": 8192,
                "tools": [{"type": "function", "name": "bash", "description": "Run", "parameters": {"type": "object"}, "strict": false}],
            })
        );
    }
}
