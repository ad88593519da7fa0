//! Model clients: the conversation types the loop speaks, one streaming
//! client per wire protocol, and the retry policy around them.
//!
//! The loop never sees a protocol: it hands a [`ModelRequest`] to a
//! [`ModelClient`] and gets back one finished [`AssistantTurn`].

mod anthropic;
mod body;
pub mod catalog;
mod openai_chat;
mod openai_responses;
mod overflow;
mod preset;
mod resolve;
mod retry;
mod stream;
mod thinking;

use std::time::Duration;

use serde_json::Value;

pub use catalog::ModelCost;
pub use preset::{
    ANTHROPIC_PLACEHOLDER_KEY, Preset, PresetError, choose_preset, preset_model_config,
};
pub use resolve::{DEFAULT_MODEL, ModelRequestFlags, ResolveError, resolve_env_model};
pub use retry::RetryPolicy;
pub use thinking::{THINKING_LEVELS, ThinkingLevel, is_reasoning_model, takes_adaptive_thinking};

/// The wire protocols `--model-api` accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelApi {
    AnthropicMessages,
    OpenAiCompletions,
    OpenAiResponses,
    MistralConversations,
}

/// Every value `--model-api` names, for the "unknown value" error.
pub const ACCEPTED_APIS: &[&str] = &[
    "anthropic-messages",
    "openai-completions",
    "openai-responses",
    "mistral-conversations",
];

impl ModelApi {
    pub fn parse(value: &str) -> Option<Self> {
        Some(match value {
            "anthropic-messages" => Self::AnthropicMessages,
            "openai-completions" => Self::OpenAiCompletions,
            "openai-responses" => Self::OpenAiResponses,
            "mistral-conversations" => Self::MistralConversations,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::AnthropicMessages => "anthropic-messages",
            Self::OpenAiCompletions => "openai-completions",
            Self::OpenAiResponses => "openai-responses",
            Self::MistralConversations => "mistral-conversations",
        }
    }

    /// The provider's key variable, looked at before the generic ones (docs/run.md "Models").
    pub fn key_variable(self) -> &'static str {
        match self {
            Self::AnthropicMessages => "ANTHROPIC_API_KEY",
            Self::OpenAiCompletions | Self::OpenAiResponses => "OPENAI_API_KEY",
            Self::MistralConversations => "MISTRAL_API_KEY",
        }
    }

    pub fn provider(self) -> &'static str {
        match self {
            Self::AnthropicMessages => "anthropic",
            Self::OpenAiCompletions | Self::OpenAiResponses => "openai",
            Self::MistralConversations => "mistral",
        }
    }

    fn default_base_url(self) -> &'static str {
        match self {
            Self::AnthropicMessages => "https://api.anthropic.com",
            Self::OpenAiCompletions | Self::OpenAiResponses => "https://api.openai.com/v1",
            Self::MistralConversations => "https://api.mistral.ai/v1",
        }
    }
}

/// Everything needed to talk to one model: the result of model resolution
/// (env mode, or a platform preset reached through the instance's LLM proxy;
/// see docs/run.md "Models").
#[derive(Clone)]
pub struct ModelConfig {
    pub api: ModelApi,
    pub model_id: String,
    /// Without a trailing slash. `None` uses the provider's public endpoint.
    pub base_url: Option<String>,
    pub api_key: String,
    pub max_tokens: u32,
    pub context_window: u64,
    /// Prices of the model's tokens (0 when unknown: the run reports $0).
    pub cost: ModelCost,
    /// Sent with every request, over the protocol's own (a preset's
    /// `Authorization` and `X-Org-Id`). Values are treated as secrets.
    pub headers: Vec<(String, String)>,
    /// An `http://` or `https://` proxy for the model traffic; `None` keeps
    /// the system's proxy settings.
    pub proxy: Option<String>,
    /// Sampling temperature (the application's `generation` setting), sent
    /// as a top-level `temperature`; `None` leaves the provider's default.
    /// Not sent with thinking, which the providers refuse it with.
    pub temperature: Option<f64>,
    /// The model reasons (takes thinking options): a preset says so, an
    /// env-mode model is judged by its id.
    pub reasoning: bool,
    /// The run's thinking level, applied only when `reasoning` is set.
    pub thinking: ThinkingLevel,
}

impl std::fmt::Debug for ModelConfig {
    // The key never reaches a debug print.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelConfig")
            .field("api", &self.api)
            .field("model_id", &self.model_id)
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl ModelConfig {
    /// A config with the sizes every env-mode model gets and no extra
    /// headers or proxy.
    pub fn new(api: ModelApi, model_id: impl Into<String>, api_key: impl Into<String>) -> Self {
        let model_id = model_id.into();
        ModelConfig {
            api,
            // The model table first; an id it does not know (a router's
            // `vendor/model`, a new release) is judged by the providers' rule.
            reasoning: catalog::lookup(&model_id)
                .map_or_else(|| is_reasoning_model(api, &model_id), |m| m.reasoning),
            model_id,
            base_url: None,
            api_key: api_key.into(),
            max_tokens: 8192,
            context_window: 200_000,
            cost: ModelCost::default(),
            headers: Vec::new(),
            proxy: None,
            temperature: None,
            thinking: ThinkingLevel::default(),
        }
    }

    /// The thinking level requests carry: none for a model that does not
    /// reason, or when the level is `off`.
    pub fn active_thinking(&self) -> Option<ThinkingLevel> {
        Some(self.thinking).filter(|l| self.reasoning && *l != ThinkingLevel::Off)
    }

    /// Adds the generation settings to a request body. A request that asks
    /// for thinking gets no temperature: Anthropic refuses any value but 1
    /// with thinking, OpenAI's reasoning models refuse the field.
    pub(crate) fn apply_generation(&self, body: &mut Value, thinking_sent: bool) {
        if thinking_sent {
            return;
        }
        if let (Some(t), Value::Object(map)) = (self.temperature, body) {
            map.insert("temperature".into(), Value::from(t));
        }
    }

    /// Adds the extra headers to a request's own.
    pub(crate) fn apply_headers(
        &self,
        headers: &mut reqwest::header::HeaderMap,
    ) -> Result<(), ModelError> {
        for (name, value) in &self.headers {
            let name = reqwest::header::HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| ModelError::Unsupported(format!("invalid header name {name}")))?;
            let mut value = reqwest::header::HeaderValue::from_str(value).map_err(|_| {
                ModelError::Unsupported(format!("the value of header {name} is not valid"))
            })?;
            value.set_sensitive(true);
            headers.insert(name, value);
        }
        Ok(())
    }

    /// What must never reach an error message: the key, the extra header
    /// values, the proxy's password.
    fn secrets(&self) -> Vec<String> {
        let mut out = vec![self.api_key.clone()];
        out.extend(self.headers.iter().map(|(_, v)| v.clone()));
        if let Some(password) = self
            .proxy
            .as_deref()
            .and_then(|p| url::Url::parse(p).ok())
            .and_then(|u| u.password().map(str::to_string))
        {
            out.push(password);
        }
        out
    }

    pub fn base_url(&self) -> String {
        self.base_url
            .clone()
            .unwrap_or_else(|| self.api.default_base_url().to_string())
            .trim_end_matches('/')
            .to_string()
    }
}

/// A tool as the model sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolSpec {
    pub name: String,
    pub description: String,
    pub parameters: Value,
}

/// A tool call the model asked for, assembled from streamed fragments.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    /// The raw JSON text of the arguments as the model produced it.
    pub raw_arguments: String,
}

impl ToolCall {
    /// The arguments parsed; an empty string counts as `{}`.
    pub fn arguments(&self) -> Result<Value, serde_json::Error> {
        if self.raw_arguments.trim().is_empty() {
            return Ok(Value::Object(Default::default()));
        }
        serde_json::from_str(&self.raw_arguments)
    }
}

/// The answer to one tool call, sent back on the next request.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolResultMessage {
    pub call_id: String,
    pub name: String,
    pub text: String,
    pub is_error: bool,
    /// Images attached to the result (`read` of an image file); each
    /// client sends them the way its protocol allows.
    pub images: Vec<ImageContent>,
}

impl ToolResultMessage {
    /// The text sent with the result: never empty next to an image, which
    /// some providers reject.
    pub fn text_or_placeholder(&self) -> &str {
        if self.text.is_empty() && !self.images.is_empty() {
            "(see attached image)"
        } else {
            &self.text
        }
    }
}

/// An encoded image (PNG, JPEG, GIF or WebP) attached to a tool result.
#[derive(Clone, PartialEq, Eq)]
pub struct ImageContent {
    pub mime_type: &'static str,
    /// The encoded bytes in base64, computed once: every later request of
    /// the run replays the conversation, image included.
    pub base64: String,
    pub width: u32,
    pub height: u32,
    /// Size of the encoded image (before base64).
    pub bytes: usize,
}

impl ImageContent {
    pub fn new(mime_type: &'static str, encoded: &[u8], width: u32, height: u32) -> Self {
        use base64::Engine as _;
        ImageContent {
            mime_type,
            base64: base64::engine::general_purpose::STANDARD.encode(encoded),
            width,
            height,
            bytes: encoded.len(),
        }
    }

    /// `data:<mime>;base64,<data>`, the form OpenAI-style APIs take.
    pub fn data_url(&self) -> String {
        format!("data:{};base64,{}", self.mime_type, self.base64)
    }
}

impl std::fmt::Debug for ImageContent {
    // A debug print shows what the image is, never the blob.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ImageContent({} {}x{}, {} bytes)",
            self.mime_type, self.width, self.height, self.bytes
        )
    }
}

/// What the model thought before it answered: the text shown to the user,
/// and what its protocol needs to be handed back on the next request (an
/// Anthropic block with its signature, a Responses reasoning item with its
/// encrypted content), kept as the provider sent it.
#[derive(Debug, Clone, PartialEq)]
pub struct Reasoning {
    pub text: String,
    /// `None` when the protocol takes nothing back (Chat Completions).
    pub replay: Option<Value>,
}

/// Compared to tell a conversation that grew from one that changed (the
/// request body of the next turn reuses what was sent).
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    User(String),
    Assistant {
        /// Replayed first: the providers want thinking before what follows it.
        reasoning: Vec<Reasoning>,
        text: Vec<String>,
        tool_calls: Vec<ToolCall>,
    },
    ToolResults(Vec<ToolResultMessage>),
}

pub struct ModelRequest<'a> {
    pub system: &'a str,
    pub messages: &'a [Message],
    pub tools: &'a [ToolSpec],
}

/// Token counts of one response.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub input: u64,
    pub output: u64,
    pub cache_read: u64,
    pub cache_write: u64,
}

impl Usage {
    /// OpenAI-style counts: the input figure includes the cached part, which
    /// the loop counts apart.
    pub fn with_cached_input(input_with_cached: u64, cached: u64, output: u64) -> Usage {
        Usage {
            input: input_with_cached.saturating_sub(cached),
            output,
            cache_read: cached,
            cache_write: 0,
        }
    }

    pub fn add(&mut self, other: &Usage) {
        self.input += other.input;
        self.output += other.output;
        self.cache_read += other.cache_read;
        self.cache_write += other.cache_write;
    }

    pub fn is_zero(&self) -> bool {
        *self == Usage::default()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    EndTurn,
    ToolUse,
    MaxTokens,
}

/// One complete assistant message.
#[derive(Debug, Clone)]
pub struct AssistantTurn {
    pub reasoning: Vec<Reasoning>,
    pub text: Vec<String>,
    pub tool_calls: Vec<ToolCall>,
    pub usage: Usage,
    pub stop: StopReason,
}

/// Why a model call failed after the retries it deserved.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ModelError {
    /// The provider answered with an HTTP error.
    #[error("{provider} returned HTTP {status}: {message}")]
    Status {
        provider: &'static str,
        status: u16,
        message: String,
        retry_after: Option<Duration>,
    },
    /// No answer, or the connection broke.
    #[error("cannot reach {provider} at {url}: {message}")]
    Network {
        provider: &'static str,
        url: String,
        message: String,
    },
    /// The stream ended before the message was complete.
    #[error("the {provider} stream ended before the message was complete")]
    StreamCut { provider: &'static str },
    /// The provider sent an error event inside the stream, or something unreadable.
    #[error("{provider} stream error: {message}")]
    Stream {
        provider: &'static str,
        message: String,
        retryable: bool,
    },
    #[error("{0}")]
    Unsupported(String),
}

impl ModelError {
    /// The provider's content filter stopped the answer: retrying the same
    /// request would be stopped again.
    pub fn content_filtered(provider: &'static str) -> ModelError {
        ModelError::Stream {
            provider,
            message: "the response was blocked by the provider's content filter".into(),
            retryable: false,
        }
    }

    pub fn is_retryable(&self) -> bool {
        match self {
            ModelError::Status { status, .. } => *status == 429 || *status >= 500,
            ModelError::Network { .. } | ModelError::StreamCut { .. } => true,
            // The same request would overflow again: compaction, not a retry.
            ModelError::Stream { retryable, .. } => *retryable && !self.is_context_overflow(),
            ModelError::Unsupported(_) => false,
        }
    }

    /// The provider refused the request because the conversation no longer
    /// fits the model's context window (docs/run.md "Compaction").
    pub fn is_context_overflow(&self) -> bool {
        match self {
            ModelError::Status {
                status, message, ..
            } => (400..500).contains(status) && overflow::says_context_overflow(message),
            ModelError::Stream { message, .. } => overflow::says_context_overflow(message),
            _ => false,
        }
    }

    /// Providers sometimes quote the credential they rejected; it never
    /// reaches the user through an error message.
    fn redact(self, secret: &str) -> ModelError {
        // Too short to be a real key: replacing it would mangle the message.
        if secret.len() < 6 {
            return self;
        }
        let clean = |s: String| s.replace(secret, "[REDACTED]");
        match self {
            ModelError::Status {
                provider,
                status,
                message,
                retry_after,
            } => ModelError::Status {
                provider,
                status,
                message: clean(message),
                retry_after,
            },
            ModelError::Network {
                provider,
                url,
                message,
            } => ModelError::Network {
                provider,
                url: clean(url),
                message: clean(message),
            },
            ModelError::Stream {
                provider,
                message,
                retryable,
            } => ModelError::Stream {
                provider,
                message: clean(message),
                retryable,
            },
            other => other,
        }
    }

    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ModelError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// Receives the model's thinking text piece by piece, as it streams.
pub type OnThinking<'a> = &'a mut (dyn FnMut(&str) + Send);

/// A streaming client for one protocol, with retries.
pub struct ModelClient {
    config: ModelConfig,
    http: reqwest::Client,
    retry: RetryPolicy,
    /// The conversation as sent last, so the next request renders only what is new.
    bodies: body::BodyCache,
}

impl ModelClient {
    pub fn new(config: ModelConfig, retry: RetryPolicy) -> Result<Self, ModelError> {
        let mut builder = appstrate_tls::client_builder()
            // Requests carry the API key (`x-api-key`, `Authorization`):
            // never re-sent to wherever a redirect points.
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(30))
            .user_agent(concat!("appstrate-cli/", env!("CARGO_PKG_VERSION")));
        if let Some(proxy) = &config.proxy {
            // The URL may carry a password: it stays out of the message.
            let proxy = reqwest::Proxy::all(proxy.as_str())
                .map_err(|_| ModelError::Unsupported("the proxy URL is not valid".into()))?;
            builder = builder.proxy(proxy);
        }
        let http = builder.build().map_err(|e| ModelError::Network {
            provider: config.api.provider(),
            url: config.base_url(),
            message: e.to_string(),
        })?;
        Ok(ModelClient {
            config,
            http,
            retry,
            bodies: Default::default(),
        })
    }

    fn redact(&self, mut err: ModelError) -> ModelError {
        for secret in self.config.secrets() {
            err = err.redact(&secret);
        }
        err
    }

    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    /// The same model, connection pool and retries, answering with at most
    /// `max_tokens` (the compaction summary's budget).
    pub fn with_max_tokens(&self, max_tokens: u32) -> ModelClient {
        let mut config = self.config.clone();
        config.max_tokens = max_tokens;
        ModelClient {
            config,
            http: self.http.clone(),
            retry: self.retry,
            bodies: Default::default(),
        }
    }

    /// One assistant turn, retried on 429/5xx/network errors as the policy allows.
    pub async fn complete(&self, request: &ModelRequest<'_>) -> Result<AssistantTurn, ModelError> {
        self.complete_streaming(request, &mut |_| {}).await
    }

    /// [`complete`](Self::complete), handing each piece of the model's
    /// thinking to `on_thinking` as it arrives. A retried attempt streams
    /// its thinking again.
    pub async fn complete_streaming(
        &self,
        request: &ModelRequest<'_>,
        on_thinking: OnThinking<'_>,
    ) -> Result<AssistantTurn, ModelError> {
        let mut attempt = 0u32;
        loop {
            let (http, config, bodies) = (&self.http, &self.config, &self.bodies);
            let result = match self.config.api {
                ModelApi::AnthropicMessages => {
                    anthropic::complete(http, config, request, bodies, on_thinking).await
                }
                ModelApi::OpenAiResponses => {
                    openai_responses::complete(http, config, request, bodies, on_thinking).await
                }
                ModelApi::OpenAiCompletions | ModelApi::MistralConversations => {
                    openai_chat::complete(http, config, request, bodies, on_thinking).await
                }
            }
            .map_err(|e| self.redact(e));
            match result {
                Err(err) if err.is_retryable() && attempt < self.retry.max_retries => {
                    attempt += 1;
                    tokio::time::sleep(self.retry.delay(attempt, err.retry_after())).await;
                }
                other => return other,
            }
        }
    }
}

/// A conversation whose last message answers two calls, the first with an
/// image: what each protocol's request-body test sends.
#[cfg(test)]
pub(crate) fn image_conversation() -> Vec<Message> {
    vec![
        Message::User("Look".into()),
        Message::Assistant {
            reasoning: vec![],
            text: vec![],
            tool_calls: vec![
                ToolCall {
                    id: "call_img".into(),
                    name: "read".into(),
                    raw_arguments: r#"{"path":"a.png"}"#.into(),
                },
                ToolCall {
                    id: "call_txt".into(),
                    name: "read".into(),
                    raw_arguments: r#"{"path":"b.txt"}"#.into(),
                },
            ],
        },
        Message::ToolResults(vec![
            ToolResultMessage {
                call_id: "call_img".into(),
                name: "read".into(),
                text: "Read image file [image/png]".into(),
                is_error: false,
                images: vec![ImageContent::new("image/png", b"PNGDATA", 3, 2)],
            },
            ToolResultMessage {
                call_id: "call_txt".into(),
                name: "read".into(),
                text: "hello".into(),
                is_error: false,
                images: vec![],
            },
        ]),
    ]
}

#[cfg(test)]
pub(crate) fn test_config(api: ModelApi) -> ModelConfig {
    ModelConfig {
        max_tokens: 1000,
        context_window: 100_000,
        ..ModelConfig::new(api, "m", "k")
    }
}

#[cfg(test)]
mod generation_tests {
    use super::*;

    #[test]
    fn temperature_is_added_only_when_set() {
        let mut config = ModelConfig::new(ModelApi::AnthropicMessages, "m", "k");
        let mut body = serde_json::json!({"model": "m"});
        config.apply_generation(&mut body, false);
        assert_eq!(body, serde_json::json!({"model": "m"}));
        config.temperature = Some(0.2);
        config.apply_generation(&mut body, true);
        assert_eq!(body, serde_json::json!({"model": "m"}), "not with thinking");
        config.apply_generation(&mut body, false);
        assert_eq!(body, serde_json::json!({"model": "m", "temperature": 0.2}));
    }

    #[test]
    fn the_model_table_decides_reasoning_before_the_id_rule() {
        let reasons = |api, id| ModelConfig::new(api, id, "k").reasoning;
        // In the table as reasoning, though no id rule knows the name.
        assert!(!is_reasoning_model(
            ModelApi::AnthropicMessages,
            "claude-mythos-5"
        ));
        assert!(reasons(ModelApi::AnthropicMessages, "claude-mythos-5"));
        // In the table as not reasoning.
        assert!(!reasons(
            ModelApi::AnthropicMessages,
            "claude-mythos-preview"
        ));
        // Not in the table (a router's id): the rule.
        assert!(catalog::lookup("openai/gpt-5-mini").is_none());
        assert!(reasons(ModelApi::OpenAiCompletions, "openai/gpt-5-mini"));
        assert!(!reasons(ModelApi::OpenAiCompletions, "openai/gpt-4o"));
    }

    #[test]
    fn thinking_is_active_only_for_reasoning_models() {
        let mut config = ModelConfig::new(ModelApi::AnthropicMessages, "claude-sonnet-4-5", "k");
        assert_eq!(config.active_thinking(), Some(ThinkingLevel::Medium));
        config.thinking = ThinkingLevel::Off;
        assert_eq!(config.active_thinking(), None);
        let config = ModelConfig {
            thinking: ThinkingLevel::High,
            ..ModelConfig::new(ModelApi::AnthropicMessages, "claude-3-5-haiku-latest", "k")
        };
        assert_eq!(config.active_thinking(), None);
    }
}
