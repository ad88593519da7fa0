//! A scripted model provider: speaks the Anthropic Messages, OpenAI Chat
//! Completions and OpenAI Responses streaming protocols on `127.0.0.1:0`,
//! answers each request with the next scripted reply, and records every
//! request it received.
//!
//! Routes: `POST /v1/messages` (Anthropic SSE), `POST /chat/completions` and
//! `POST /v1/chat/completions` (OpenAI chat SSE), `POST /responses` and
//! `POST /v1/responses` (OpenAI Responses semantic events). The script is
//! plain data (serde), so the `scripted-model-server` binary can load it
//! from a file for benchmarks.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::post;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// One tool call in a scripted turn.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScriptedCall {
    pub id: String,
    pub name: String,
    /// The arguments as raw JSON text (may be deliberately invalid).
    pub arguments: String,
}

/// What the server answers to one request.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Reply {
    /// A complete assistant message.
    Turn {
        #[serde(default)]
        text: Option<String>,
        #[serde(default)]
        calls: Vec<ScriptedCall>,
        /// `max_tokens` / `length` instead of the natural stop reason.
        #[serde(default)]
        max_tokens: bool,
        #[serde(default = "default_input")]
        input_tokens: u64,
        #[serde(default = "default_output")]
        output_tokens: u64,
        /// Input tokens read from the provider's cache, on top of
        /// `input_tokens` (reported the way each protocol counts them).
        #[serde(default)]
        cached_tokens: u64,
    },
    /// An HTTP error with an optional `Retry-After`.
    Error {
        status: u16,
        #[serde(default)]
        retry_after: Option<String>,
        #[serde(default)]
        body: String,
    },
    /// Starts a message, sends part of its text, then closes the stream.
    Cut { text: String },
    /// HTTP 200, then the provider gives up inside the stream: Responses
    /// `response.failed` (`response.error` = code + message); Anthropic an
    /// `error` event (`error.type` = code); chat an `{"error":…}` chunk.
    Failed { code: String, message: String },
    /// HTTP 200, then a bare `error` event: Responses `{type:"error", code,
    /// message}`; Anthropic and chat as for `Failed`.
    StreamError { code: String, message: String },
    /// `turn` (a `Turn`), thinking first: Anthropic a `thinking` block
    /// signed `sig_<n>`, chat `reasoning_content` deltas, Responses a
    /// reasoning item `rs_<n>_0` with a summary and encrypted content
    /// `enc_<n>` (`n` counts the requests from 1).
    Thinking { thinking: String, turn: Box<Reply> },
}

fn default_input() -> u64 {
    100
}
fn default_output() -> u64 {
    10
}

impl Reply {
    pub fn text(text: &str) -> Reply {
        Reply::Turn {
            text: Some(text.into()),
            calls: vec![],
            max_tokens: false,
            input_tokens: default_input(),
            output_tokens: default_output(),
            cached_tokens: 0,
        }
    }

    /// A turn of tool calls: `(id, name, arguments JSON text)`.
    pub fn calls(calls: &[(&str, &str, &str)]) -> Reply {
        Reply::Turn {
            text: None,
            calls: calls
                .iter()
                .map(|(id, name, args)| ScriptedCall {
                    id: (*id).into(),
                    name: (*name).into(),
                    arguments: (*args).into(),
                })
                .collect(),
            max_tokens: false,
            input_tokens: default_input(),
            output_tokens: default_output(),
            cached_tokens: 0,
        }
    }

    pub fn call(id: &str, name: &str, args: Value) -> Reply {
        Reply::calls(&[(id, name, &args.to_string())])
    }

    /// `turn`, preceded by `thinking`.
    pub fn thinking(thinking: &str, turn: Reply) -> Reply {
        Reply::Thinking {
            thinking: thinking.into(),
            turn: Box::new(turn),
        }
    }

    /// The thinking of a `Thinking` reply, and the reply it precedes.
    fn split_thinking(self) -> (Option<String>, Reply) {
        match self {
            Reply::Thinking { thinking, turn } => (Some(thinking), *turn),
            other => (None, other),
        }
    }

    pub fn status(status: u16, retry_after: Option<&str>) -> Reply {
        Reply::Error {
            status,
            retry_after: retry_after.map(str::to_string),
            body: json!({"type": "error", "error": {"type": "scripted", "message": format!("scripted HTTP {status}")}}).to_string(),
        }
    }
}

/// A request as received.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    pub path: String,
    pub headers: HeaderMap,
    pub body: Value,
    /// The body's bytes as sent (lossily decoded), for byte-exact checks.
    pub raw_body: String,
    pub received: Instant,
    /// Wall-clock arrival, to compare with another process's clock.
    pub received_wall: std::time::SystemTime,
}

#[derive(Default)]
struct Inner {
    queue: VecDeque<Reply>,
    /// Answer once the queue is empty (e.g. "500 every time").
    fallback: Option<Reply>,
    requests: Vec<RecordedRequest>,
    /// When the last byte of each response was handed to the connection.
    finished: Vec<Instant>,
    counter: u64,
    /// Set by [`ModelServer::limit_context`].
    context_limit: Option<u64>,
    /// Set by [`ModelServer::answer_toolless_with`].
    toolless: Option<Reply>,
}

#[derive(Clone)]
pub struct ModelServer {
    addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
}

impl ModelServer {
    /// Starts on `127.0.0.1:0` with the given replies, in order.
    pub async fn start(replies: Vec<Reply>) -> ModelServer {
        Self::start_with(replies, None).await
    }

    pub async fn start_with(replies: Vec<Reply>, fallback: Option<Reply>) -> ModelServer {
        let inner = Arc::new(Mutex::new(Inner {
            queue: replies.into(),
            fallback,
            ..Default::default()
        }));
        let app = Router::new()
            .route("/v1/messages", post(anthropic))
            .route("/chat/completions", post(openai))
            .route("/v1/chat/completions", post(openai))
            .route("/responses", post(responses))
            .route("/v1/responses", post(responses))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        ModelServer { addr, inner }
    }

    /// The base URL to put in `APPSTRATE_LLM_BASE_URL`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.inner
            .lock()
            .map(|i| i.requests.clone())
            .unwrap_or_default()
    }

    /// Behaves like a model with a `limit`-token context window: every
    /// request is measured (its JSON text, 4 characters a token), a turn
    /// reports that count as its input tokens (less the cached ones), and a
    /// request over the limit gets the provider's own context-overflow
    /// error (HTTP 400) without using up a scripted reply.
    pub fn limit_context(&self, limit: u64) {
        if let Ok(mut i) = self.inner.lock() {
            i.context_limit = Some(limit);
        }
    }

    /// Answers every request that offers no tools (a compaction summary)
    /// with `reply`, leaving the script for the agent's own turns.
    pub fn answer_toolless_with(&self, reply: Reply) {
        if let Ok(mut i) = self.inner.lock() {
            i.toolless = Some(reply);
        }
    }

    /// For each request after the first: the time between the end of the
    /// previous response and its arrival (the client's per-turn overhead).
    pub fn turn_gaps(&self) -> Vec<Duration> {
        let Ok(i) = self.inner.lock() else {
            return vec![];
        };
        i.requests
            .iter()
            .skip(1)
            .zip(i.finished.iter())
            .map(|(r, f)| r.received.saturating_duration_since(*f))
            .collect()
    }
}

type Shared = Arc<Mutex<Inner>>;

fn next_reply(state: &Shared, path: &str, headers: &HeaderMap, body: &Bytes) -> (Reply, u64) {
    // The request is complete here: what follows is this server's own work,
    // not the client's (parsing a long conversation takes a while).
    let (received, received_wall) = (Instant::now(), std::time::SystemTime::now());
    let mut i = state.lock().expect("model server state");
    let measured = (body.len() as u64).div_ceil(4);
    let raw_body = String::from_utf8_lossy(body).into_owned();
    let body: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let offers_tools = body.get("tools").is_some();
    i.requests.push(RecordedRequest {
        path: path.to_string(),
        headers: headers.clone(),
        body,
        raw_body,
        received,
        received_wall,
    });
    i.counter += 1;
    let n = i.counter;
    if let Some(limit) = i.context_limit.filter(|limit| measured > *limit) {
        return (overflow_error(path, measured, limit), n);
    }
    let scripted = match i.toolless.clone() {
        Some(reply) if !offers_tools => Some(reply),
        _ => i.queue.pop_front(),
    };
    let mut reply = scripted
        .or_else(|| i.fallback.clone())
        .unwrap_or(Reply::Error {
            status: 500,
            retry_after: None,
            body: "{\"error\":{\"message\":\"script exhausted\"}}".into(),
        });
    if i.context_limit.is_some()
        && let Reply::Turn {
            input_tokens,
            cached_tokens,
            ..
        } = &mut reply
    {
        *input_tokens = measured.saturating_sub(*cached_tokens);
    }
    (reply, n)
}

/// The refusal each provider sends for a request larger than the window.
fn overflow_error(path: &str, tokens: u64, limit: u64) -> Reply {
    let body = match path {
        "/v1/messages" => json!({"type": "error", "error": {"type": "invalid_request_error",
            "message": format!("prompt is too long: {tokens} tokens > {limit} maximum")}}),
        "/responses" => {
            json!({"error": {"message": "Your input exceeds the context window of this model. Please adjust your input and try again.",
            "type": "invalid_request_error", "param": "input", "code": "context_length_exceeded"}})
        }
        _ => {
            json!({"error": {"message": format!("This model's maximum context length is {limit} tokens. However, your messages resulted in {tokens} tokens. Please reduce the length of the messages."),
            "type": "invalid_request_error", "param": "messages", "code": "context_length_exceeded"}})
        }
    };
    Reply::Error {
        status: 400,
        retry_after: None,
        body: body.to_string(),
    }
}

/// What a `Thinking` reply wraps, when it is not a `Turn`.
fn not_a_turn(state: &Shared) -> Response {
    error_response(
        500,
        None,
        "{\"error\":{\"message\":\"a Thinking reply must wrap a Turn\"}}".into(),
        state,
    )
}

async fn anthropic(State(state): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let (reply, n) = next_reply(&state, "/v1/messages", &headers, &body);
    let (thought, reply) = reply.split_thinking();
    let events = match reply {
        Reply::Error {
            status,
            retry_after,
            body,
        } => return error_response(status, retry_after, body, &state),
        Reply::Cut { text } => {
            let mut e = vec![anthropic_start(n, 100, 0)];
            e.push(sse("content_block_start", json!({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}})));
            e.push(sse("content_block_delta", json!({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":text}})));
            // Half an event, then the connection closes.
            e.push("event: content_block_delta\ndata: {\"type\":\"content_bl".to_string());
            e
        }
        Reply::Failed { code, message } | Reply::StreamError { code, message } => vec![
            anthropic_start(n, 100, 0),
            sse(
                "error",
                json!({"type":"error","error":{"type":code,"message":message}}),
            ),
        ],
        Reply::Turn {
            text,
            calls,
            max_tokens,
            input_tokens,
            output_tokens,
            cached_tokens,
        } => {
            let mut e = vec![anthropic_start(n, input_tokens, cached_tokens)];
            let mut index = 0;
            if let Some(t) = thought {
                e.push(sse("content_block_start", json!({"type":"content_block_start","index":index,"content_block":{"type":"thinking","thinking":"","signature":""}})));
                for piece in split(&t) {
                    e.push(sse("content_block_delta", json!({"type":"content_block_delta","index":index,"delta":{"type":"thinking_delta","thinking":piece}})));
                }
                e.push(sse("content_block_delta", json!({"type":"content_block_delta","index":index,"delta":{"type":"signature_delta","signature":format!("sig_{n}")}})));
                e.push(sse(
                    "content_block_stop",
                    json!({"type":"content_block_stop","index":index}),
                ));
                index += 1;
            }
            if let Some(t) = text {
                e.push(sse("content_block_start", json!({"type":"content_block_start","index":index,"content_block":{"type":"text","text":""}})));
                for piece in split(&t) {
                    e.push(sse("content_block_delta", json!({"type":"content_block_delta","index":index,"delta":{"type":"text_delta","text":piece}})));
                }
                e.push(sse(
                    "content_block_stop",
                    json!({"type":"content_block_stop","index":index}),
                ));
                index += 1;
            }
            for c in &calls {
                e.push(sse("content_block_start", json!({"type":"content_block_start","index":index,"content_block":{"type":"tool_use","id":c.id,"name":c.name,"input":{}}})));
                for piece in split(&c.arguments) {
                    e.push(sse("content_block_delta", json!({"type":"content_block_delta","index":index,"delta":{"type":"input_json_delta","partial_json":piece}})));
                }
                e.push(sse(
                    "content_block_stop",
                    json!({"type":"content_block_stop","index":index}),
                ));
                index += 1;
            }
            let stop = if max_tokens {
                "max_tokens"
            } else if calls.is_empty() {
                "end_turn"
            } else {
                "tool_use"
            };
            e.push(sse("message_delta", json!({"type":"message_delta","delta":{"stop_reason":stop,"stop_sequence":null},"usage":{"output_tokens":output_tokens}})));
            e.push(sse("message_stop", json!({"type":"message_stop"})));
            e
        }
        Reply::Thinking { .. } => return not_a_turn(&state),
    };
    stream_response(events, &state)
}

fn anthropic_start(n: u64, input: u64, cached: u64) -> String {
    sse(
        "message_start",
        json!({"type":"message_start","message":{"id":format!("msg_{n}"),"type":"message","role":"assistant","model":"scripted","content":[],"stop_reason":null,"usage":{"input_tokens":input,"output_tokens":1,"cache_creation_input_tokens":0,"cache_read_input_tokens":cached}}}),
    )
}

async fn openai(State(state): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let (reply, n) = next_reply(&state, "/chat/completions", &headers, &body);
    let (thought, reply) = reply.split_thinking();
    let chunk = |delta: Value, finish: Value| {
        format!(
            "data: {}\n\n",
            json!({"id":format!("chatcmpl-{n}"),"object":"chat.completion.chunk","model":"scripted","choices":[{"index":0,"delta":delta,"finish_reason":finish}]})
        )
    };
    let events = match reply {
        Reply::Error {
            status,
            retry_after,
            body,
        } => return error_response(status, retry_after, body, &state),
        Reply::Cut { text } => vec![
            chunk(json!({"role":"assistant","content":""}), Value::Null),
            chunk(json!({"content":text}), Value::Null),
            "data: {\"id\":\"chatcmpl-x\",\"choi".to_string(),
        ],
        Reply::Failed { code, message } | Reply::StreamError { code, message } => vec![
            chunk(json!({"role":"assistant","content":""}), Value::Null),
            format!(
                "data: {}\n\n",
                json!({"error":{"message":message,"type":"server_error","code":code}})
            ),
        ],
        Reply::Turn {
            text,
            calls,
            max_tokens,
            input_tokens,
            output_tokens,
            cached_tokens,
        } => {
            let mut e = vec![chunk(json!({"role":"assistant","content":""}), Value::Null)];
            for piece in thought.iter().flat_map(|t| split(t)) {
                e.push(chunk(json!({"reasoning_content":piece}), Value::Null));
            }
            if let Some(t) = text {
                for piece in split(&t) {
                    e.push(chunk(json!({"content":piece}), Value::Null));
                }
            }
            for (i, c) in calls.iter().enumerate() {
                e.push(chunk(json!({"tool_calls":[{"index":i,"id":c.id,"type":"function","function":{"name":c.name,"arguments":""}}]}), Value::Null));
                for piece in split(&c.arguments) {
                    e.push(chunk(
                        json!({"tool_calls":[{"index":i,"function":{"arguments":piece}}]}),
                        Value::Null,
                    ));
                }
            }
            let stop = if max_tokens {
                "length"
            } else if calls.is_empty() {
                "stop"
            } else {
                "tool_calls"
            };
            e.push(chunk(json!({}), json!(stop)));
            e.push(format!(
                "data: {}\n\n",
                json!({"id":format!("chatcmpl-{n}"),"object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":input_tokens+cached_tokens,"completion_tokens":output_tokens,"total_tokens":input_tokens+cached_tokens+output_tokens,"prompt_tokens_details":{"cached_tokens":cached_tokens}}})
            ));
            e.push("data: [DONE]\n\n".to_string());
            e
        }
        Reply::Thinking { .. } => return not_a_turn(&state),
    };
    stream_response(events, &state)
}

/// The Responses API's event stream: every event named by its `type`,
/// numbered by `sequence_number`, ending with a terminal `response.*` event.
struct ResponsesEvents {
    n: u64,
    seq: u64,
    events: Vec<String>,
}

impl ResponsesEvents {
    fn push(&mut self, ty: &str, mut data: Value) {
        data["type"] = json!(ty);
        data["sequence_number"] = json!(self.seq);
        self.seq += 1;
        self.events.push(sse(ty, data));
    }

    /// The `response` object of the lifecycle events.
    fn response(&self, status: &str, output: &[Value], usage: Value) -> Value {
        json!({
            "id": format!("resp_{}", self.n), "object": "response",
            "created_at": 1_700_000_000 + self.n, "status": status,
            "error": null, "incomplete_details": null, "model": "scripted",
            "output": output, "parallel_tool_calls": true, "store": false,
            "usage": usage,
        })
    }

    /// A reasoning item at output index 0 whose one summary part streams
    /// `text`; returns the finished item.
    fn reasoning_item(&mut self, text: &str) -> Value {
        let id = format!("rs_{}_0", self.n);
        let at = json!({"item_id": id, "output_index": 0, "summary_index": 0});
        let with = |extra: Value| {
            let mut v = at.clone();
            if let (Value::Object(m), Value::Object(e)) = (&mut v, extra) {
                m.extend(e);
            }
            v
        };
        self.push(
            "response.output_item.added",
            json!({"output_index":0,"item":{"id":id,"type":"reasoning","summary":[]}}),
        );
        self.push(
            "response.reasoning_summary_part.added",
            with(json!({"part":{"type":"summary_text","text":""}})),
        );
        for piece in split(text) {
            self.push(
                "response.reasoning_summary_text.delta",
                with(json!({"delta": piece})),
            );
        }
        self.push(
            "response.reasoning_summary_text.done",
            with(json!({"text": text})),
        );
        let part = json!({"type": "summary_text", "text": text});
        self.push(
            "response.reasoning_summary_part.done",
            with(json!({"part": part})),
        );
        let item = json!({"id": id, "type": "reasoning", "summary": [part], "encrypted_content": format!("enc_{}", self.n)});
        self.push(
            "response.output_item.done",
            json!({"output_index": 0, "item": item}),
        );
        item
    }

    fn start(&mut self) {
        let created = self.response("in_progress", &[], Value::Null);
        self.push("response.created", json!({"response": created.clone()}));
        self.push("response.in_progress", json!({"response": created}));
    }

    /// Opens a message item at `index` with one empty text part.
    fn open_message(&mut self, id: &str, index: usize) {
        self.push("response.output_item.added", json!({"output_index":index,"item":{"id":id,"type":"message","status":"in_progress","role":"assistant","content":[]}}));
        self.push("response.content_part.added", json!({"item_id":id,"output_index":index,"content_index":0,"part":{"type":"output_text","text":"","annotations":[]}}));
    }

    /// A message item at `index` whose one text part streams `text` in
    /// pieces; returns the finished item.
    fn message_item(&mut self, index: usize, text: &str) -> Value {
        let id = format!("msg_{}_{index}", self.n);
        self.open_message(&id, index);
        for piece in split(text) {
            self.push("response.output_text.delta", json!({"item_id":id,"output_index":index,"content_index":0,"delta":piece,"logprobs":[]}));
        }
        self.push(
            "response.output_text.done",
            json!({"item_id":id,"output_index":index,"content_index":0,"text":text,"logprobs":[]}),
        );
        let part = json!({"type":"output_text","text":text,"annotations":[]});
        self.push(
            "response.content_part.done",
            json!({"item_id":id,"output_index":index,"content_index":0,"part":part}),
        );
        let item = json!({"id":id,"type":"message","status":"completed","role":"assistant","content":[part]});
        self.push(
            "response.output_item.done",
            json!({"output_index":index,"item":item}),
        );
        item
    }

    /// A function call item at `index` whose arguments stream in pieces;
    /// returns the finished item.
    fn function_call_item(&mut self, index: usize, call: &ScriptedCall) -> Value {
        let id = format!("fc_{}_{index}", self.n);
        self.push("response.output_item.added", json!({"output_index":index,"item":{"id":id,"type":"function_call","status":"in_progress","arguments":"","call_id":call.id,"name":call.name}}));
        for piece in split(&call.arguments) {
            self.push(
                "response.function_call_arguments.delta",
                json!({"item_id":id,"output_index":index,"delta":piece}),
            );
        }
        self.push(
            "response.function_call_arguments.done",
            json!({"item_id":id,"output_index":index,"arguments":call.arguments}),
        );
        let item = json!({"id":id,"type":"function_call","status":"completed","arguments":call.arguments,"call_id":call.id,"name":call.name});
        self.push(
            "response.output_item.done",
            json!({"output_index":index,"item":item}),
        );
        item
    }

    /// A message that starts streaming `text`, then breaks off mid-event
    /// (the connection closes after it).
    fn cut_message(&mut self, text: &str) {
        let id = format!("msg_{}_0", self.n);
        self.open_message(&id, 0);
        self.push(
            "response.output_text.delta",
            json!({"item_id":id,"output_index":0,"content_index":0,"delta":text,"logprobs":[]}),
        );
        // Half an event, then the connection closes.
        self.events
            .push("event: response.output_text.delta\ndata: {\"type\":\"response.outp".to_string());
    }

    /// The terminal event of a turn: `response.incomplete` when it stopped
    /// at the token limit, else `response.completed`.
    fn finish(&mut self, max_tokens: bool, output: &[Value], usage: Value) {
        if max_tokens {
            let mut r = self.response("incomplete", output, usage);
            r["incomplete_details"] = json!({"reason": "max_output_tokens"});
            self.push("response.incomplete", json!({"response": r}));
        } else {
            let r = self.response("completed", output, usage);
            self.push("response.completed", json!({"response": r}));
        }
    }
}

async fn responses(State(state): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let (reply, n) = next_reply(&state, "/responses", &headers, &body);
    let (thought, reply) = reply.split_thinking();
    let mut s = ResponsesEvents {
        n,
        seq: 0,
        events: vec![],
    };
    match reply {
        Reply::Error {
            status,
            retry_after,
            body,
        } => return error_response(status, retry_after, body, &state),
        Reply::Cut { text } => {
            s.start();
            s.cut_message(&text);
        }
        Reply::Failed { code, message } => {
            s.start();
            let mut failed = s.response("failed", &[], Value::Null);
            failed["error"] = json!({"code": code, "message": message});
            s.push("response.failed", json!({"response": failed}));
        }
        Reply::StreamError { code, message } => {
            s.start();
            s.push(
                "error",
                json!({"code": code, "message": message, "param": null}),
            );
        }
        Reply::Turn {
            text,
            calls,
            max_tokens,
            input_tokens,
            output_tokens,
            cached_tokens,
        } => {
            s.start();
            let mut output = Vec::new();
            if let Some(t) = thought {
                output.push(s.reasoning_item(&t));
            }
            if let Some(t) = text {
                output.push(s.message_item(output.len(), &t));
            }
            for c in &calls {
                output.push(s.function_call_item(output.len(), c));
            }
            let usage = responses_usage(input_tokens, output_tokens, cached_tokens);
            s.finish(max_tokens, &output, usage);
        }
        Reply::Thinking { .. } => return not_a_turn(&state),
    }
    stream_response(s.events, &state)
}

/// The Responses API counts cached tokens inside `input_tokens`.
fn responses_usage(input_tokens: u64, output_tokens: u64, cached_tokens: u64) -> Value {
    json!({
        "input_tokens": input_tokens + cached_tokens,
        "input_tokens_details": {"cached_tokens": cached_tokens},
        "output_tokens": output_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": input_tokens + cached_tokens + output_tokens,
    })
}

fn sse(event: &str, data: Value) -> String {
    format!("event: {event}\ndata: {data}\n\n")
}

/// Splits a text in up to three pieces (on char boundaries) so clients
/// must reassemble fragments.
fn split(s: &str) -> Vec<String> {
    let chars: Vec<char> = s.chars().collect();
    if chars.len() < 3 {
        return vec![s.to_string()];
    }
    let a = chars.len() / 3;
    let b = 2 * chars.len() / 3;
    vec![
        chars[..a].iter().collect(),
        chars[a..b].iter().collect(),
        chars[b..].iter().collect(),
    ]
}

fn error_response(
    status: u16,
    retry_after: Option<String>,
    body: String,
    state: &Shared,
) -> Response {
    if let Ok(mut i) = state.lock() {
        i.finished.push(Instant::now());
    }
    let mut builder = Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header("content-type", "application/json");
    if let Some(ra) = retry_after {
        builder = builder.header("retry-after", ra);
    }
    builder.body(Body::from(body)).expect("response")
}

fn stream_response(events: Vec<String>, state: &Shared) -> Response {
    let state = state.clone();
    let total = events.len();
    let stream = futures_util::stream::iter(events.into_iter().enumerate().map(move |(i, e)| {
        if i + 1 == total
            && let Ok(mut s) = state.lock()
        {
            s.finished.push(Instant::now());
        }
        Ok::<_, std::io::Error>(Bytes::from(e))
    }));
    Response::builder()
        .status(200)
        .header("content-type", "text/event-stream")
        .header("cache-control", "no-cache")
        .body(Body::from_stream(stream))
        .expect("response")
}
