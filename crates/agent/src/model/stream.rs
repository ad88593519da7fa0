//! What every protocol shares: POST a JSON body, turn an error status into
//! a [`ModelError`], and the one loop that reads the SSE body and hands each
//! event to the protocol's [`TurnAssembler`] until the message is complete.

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::Value;

use super::retry::parse_retry_after;
use super::{AssistantTurn, ModelError, OnThinking};
use crate::sse::{SseDecoder, SseEvent};

/// How long a stream may stay silent before we call the connection dead.
const IDLE_TIMEOUT: Duration = Duration::from_secs(300);
/// The most one event (or one unfinished line) may hold in memory: real
/// events are kilobytes; a server that never ends a line is cut off.
const EVENT_LIMIT: usize = 16 * 1024 * 1024;
/// The most of an error reply that is read (only its start is shown).
const ERROR_BODY_LIMIT: usize = 64 * 1024;

/// A protocol's side of the read loop: it folds the events of one
/// response into one assistant message.
pub trait TurnAssembler {
    /// Folds one event; `Ok(true)` once the message is complete. Thinking
    /// text goes to `on_thinking` as it arrives.
    fn event(&mut self, event: &SseEvent, on_thinking: OnThinking<'_>) -> Result<bool, ModelError>;

    /// The message, after the event that completed it.
    fn finish(self) -> Result<AssistantTurn, ModelError>;

    /// The message when the server closed the stream without completing
    /// it: for most protocols a cut stream.
    fn closed(self) -> Result<AssistantTurn, ModelError>;
}

/// One request of a protocol: where it goes and what it carries.
pub struct Exchange {
    pub provider: &'static str,
    pub url: String,
    pub headers: reqwest::header::HeaderMap,
    /// The JSON text (built by `body::BodyCache`).
    pub body: String,
}

/// Sends the request and reads its event stream to one assistant message:
/// the read loop every protocol shares.
pub async fn stream_turn<A: TurnAssembler>(
    http: &reqwest::Client,
    exchange: Exchange,
    mut assembler: A,
    on_thinking: OnThinking<'_>,
) -> Result<AssistantTurn, ModelError> {
    let Exchange {
        provider,
        url,
        headers,
        body,
    } = exchange;
    let mut stream = post_sse(http, provider, url, headers, body).await?;
    while let Some(event) = stream.next().await? {
        if assembler.event(&event, &mut *on_thinking)? {
            return assembler.finish();
        }
    }
    assembler.closed()
}

/// The `Authorization: Bearer <key>` header of the OpenAI-style protocols.
pub fn bearer_headers(api_key: &str) -> Result<reqwest::header::HeaderMap, ModelError> {
    let mut headers = reqwest::header::HeaderMap::new();
    let mut auth = reqwest::header::HeaderValue::from_str(&format!("Bearer {api_key}"))
        .map_err(|_| ModelError::Unsupported("the API key contains invalid characters".into()))?;
    auth.set_sensitive(true);
    headers.insert(reqwest::header::AUTHORIZATION, auth);
    Ok(headers)
}

struct EventStream {
    provider: &'static str,
    url: String,
    body: futures_util::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>>,
    decoder: SseDecoder,
    queued: std::collections::VecDeque<SseEvent>,
}

impl EventStream {
    /// The next event; `Ok(None)` when the server closed the stream.
    async fn next(&mut self) -> Result<Option<SseEvent>, ModelError> {
        loop {
            if let Some(ev) = self.queued.pop_front() {
                return Ok(Some(ev));
            }
            let chunk = tokio::time::timeout(IDLE_TIMEOUT, self.body.next())
                .await
                .map_err(|_| ModelError::Network {
                    provider: self.provider,
                    url: self.url.clone(),
                    message: format!("no data for {} s", IDLE_TIMEOUT.as_secs()),
                })?;
            match chunk {
                // An event not finished by its blank line is dropped (as the
                // SSE standard says); the caller sees a message without its end.
                None => return Ok(None),
                // A connection dropped mid-body is the same as a cut stream.
                Some(Err(_)) => {
                    return Err(ModelError::StreamCut {
                        provider: self.provider,
                    });
                }
                Some(Ok(bytes)) => {
                    self.queued.extend(self.decoder.feed(&bytes));
                    if self.decoder.buffered_len() > EVENT_LIMIT {
                        return Err(ModelError::Stream {
                            provider: self.provider,
                            message: format!(
                                "one event from {} is larger than {} MiB; refusing to hold it",
                                self.url,
                                EVENT_LIMIT / (1024 * 1024)
                            ),
                            retryable: false,
                        });
                    }
                }
            }
        }
    }
}

async fn post_sse(
    http: &reqwest::Client,
    provider: &'static str,
    url: String,
    headers: reqwest::header::HeaderMap,
    body: String,
) -> Result<EventStream, ModelError> {
    let response = http
        .post(&url)
        .headers(headers)
        .header(reqwest::header::ACCEPT, "text/event-stream")
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body)
        .send()
        .await
        .map_err(|e| ModelError::Network {
            provider,
            url: url.clone(),
            message: error_chain(&e),
        })?;
    let status = response.status();
    if status.is_redirection() {
        // Not followed (the client has no redirect policy): the request
        // carries the API key, and a hop elsewhere would hand it over.
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("nowhere");
        return Err(ModelError::Status {
            provider,
            status: status.as_u16(),
            message: format!(
                "redirect to {location} not followed (the API key is only sent to the configured base URL); check the model base URL"
            ),
            retry_after: None,
        });
    }
    if !status.is_success() {
        let retry_after = parse_retry_after(response.headers());
        let text = read_error_body(response).await;
        return Err(ModelError::Status {
            provider,
            status: status.as_u16(),
            message: error_message(&text, status),
            retry_after,
        });
    }
    Ok(EventStream {
        provider,
        url,
        body: response.bytes_stream().boxed(),
        decoder: SseDecoder::new(),
        queued: Default::default(),
    })
}

/// The start of an error reply, lossily decoded; never more than
/// [`ERROR_BODY_LIMIT`] bytes are read.
async fn read_error_body(mut response: reqwest::Response) -> String {
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        let room = ERROR_BODY_LIMIT - body.len();
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() >= ERROR_BODY_LIMIT {
            break;
        }
    }
    String::from_utf8_lossy(&body).into_owned()
}

/// The provider's own error message (`{"error":{"message":…}}` for both
/// Anthropic and OpenAI), else the start of the body, else the status text.
fn error_message(body: &str, status: reqwest::StatusCode) -> String {
    if let Ok(v) = serde_json::from_str::<Value>(body) {
        let msg = v
            .pointer("/error/message")
            .or_else(|| v.get("message"))
            .or_else(|| v.get("error"))
            .and_then(Value::as_str);
        if let Some(m) = msg {
            // The one code the run acts on (compaction) stays visible even
            // when a server words its message its own way.
            let code = v.pointer("/error/code").and_then(Value::as_str);
            return match code {
                Some(c @ "context_length_exceeded") if !m.contains(c) => format!("{m} ({c})"),
                _ => m.to_string(),
            };
        }
    }
    let trimmed = body.trim();
    if trimmed.is_empty() {
        return status.canonical_reason().unwrap_or("error").to_string();
    }
    let mut cut: String = trimmed.chars().take(300).collect();
    if cut.len() < trimmed.len() {
        cut.push('…');
    }
    cut
}

fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut msg = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    msg
}

pub fn parse_json(provider: &'static str, data: &str) -> Result<Value, ModelError> {
    serde_json::from_str(data).map_err(|e| ModelError::Stream {
        provider,
        message: format!("unreadable event ({e})"),
        retryable: false,
    })
}
