//! Thinking levels (docs/run.md "Thinking"): one level for the run, turned
//! into each provider's own request fields, and only for models that reason.

use super::ModelApi;

/// How much the model may think before it answers. `Medium` is the default
/// (as on the platform); `Off` sends no thinking field at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ThinkingLevel {
    Off,
    Minimal,
    Low,
    #[default]
    Medium,
    High,
    Xhigh,
    Max,
}

/// Every level `--thinking` and `generation.reasoningLevel` accept, weakest first.
pub const THINKING_LEVELS: &[&str] = &["off", "minimal", "low", "medium", "high", "xhigh", "max"];

impl ThinkingLevel {
    pub fn parse(value: &str) -> Option<Self> {
        Some(match value.trim().to_ascii_lowercase().as_str() {
            "off" => Self::Off,
            "minimal" => Self::Minimal,
            "low" => Self::Low,
            "medium" => Self::Medium,
            "high" => Self::High,
            "xhigh" => Self::Xhigh,
            "max" => Self::Max,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::Minimal => "minimal",
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
            Self::Xhigh => "xhigh",
            Self::Max => "max",
        }
    }

    /// Anthropic's classic `budget_tokens` (the platform's map).
    pub fn anthropic_budget(self) -> u32 {
        match self {
            Self::Off => 0,
            Self::Minimal => 1024,
            Self::Low => 2048,
            Self::Medium => 4096,
            Self::High => 8192,
            Self::Xhigh => 16384,
            Self::Max => 32768,
        }
    }

    /// Anthropic's adaptive `effort` (4.6-class models).
    pub fn anthropic_effort(self) -> &'static str {
        match self {
            Self::Off | Self::Minimal | Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
            Self::Xhigh | Self::Max => "max",
        }
    }

    /// OpenAI's `reasoning_effort` / `reasoning.effort` (never asked for
    /// `Off`, which sends nothing). The o-series knows no `minimal`; only
    /// the models that take it get `xhigh`.
    pub fn openai_effort(self, model_id: &str) -> &'static str {
        let id = bare_id(model_id);
        match self {
            Self::Off | Self::Minimal if is_o_series(&id) => "low",
            Self::Off | Self::Minimal => "minimal",
            Self::Low => "low",
            Self::Medium => "medium",
            Self::Xhigh | Self::Max if takes_openai_xhigh(&id) => "xhigh",
            Self::High | Self::Xhigh | Self::Max => "high",
        }
    }
}

/// Whether a model reasons (takes thinking options), judged by its id for
/// the models the providers document. Only for ids the model table
/// (`catalog`) does not know; a platform preset says it itself.
pub fn is_reasoning_model(api: ModelApi, model_id: &str) -> bool {
    let id = bare_id(model_id);
    match api {
        ModelApi::AnthropicMessages => {
            id.starts_with("claude-3-7")
                || id.starts_with("claude-sonnet-4")
                || id.starts_with("claude-opus-4")
                || id.starts_with("claude-haiku-4")
                || id.starts_with("claude-4")
        }
        ModelApi::OpenAiCompletions | ModelApi::OpenAiResponses => {
            is_o_series(&id)
                || (id.starts_with("gpt-5") && !id.contains("-chat"))
                || id.starts_with("codex-")
                || id.starts_with("gpt-oss")
        }
        // Mistral's API takes no thinking option.
        ModelApi::MistralConversations => false,
    }
}

/// Anthropic models that think adaptively (`thinking: {type: "adaptive"}`
/// with an effort) instead of with a token budget.
pub fn takes_adaptive_thinking(model_id: &str) -> bool {
    let id = bare_id(model_id);
    ["opus-4-6", "opus-4.6", "sonnet-4-6", "sonnet-4.6"]
        .iter()
        .any(|m| id.contains(m))
}

/// The id without a router's `vendor/` prefix, lower-cased.
fn bare_id(model_id: &str) -> String {
    model_id
        .rsplit('/')
        .next()
        .unwrap_or(model_id)
        .to_ascii_lowercase()
}

fn is_o_series(id: &str) -> bool {
    let mut chars = id.chars();
    chars.next() == Some('o') && chars.next().is_some_and(|c| c.is_ascii_digit())
}

fn takes_openai_xhigh(id: &str) -> bool {
    id.starts_with("gpt-5.1-codex-max") || id.starts_with("gpt-5.2")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_parse_and_print_back() {
        for name in THINKING_LEVELS {
            let level = ThinkingLevel::parse(name).expect("known level");
            assert_eq!(level.as_str(), *name);
        }
        assert_eq!(ThinkingLevel::parse(" High "), Some(ThinkingLevel::High));
        assert_eq!(ThinkingLevel::parse("extreme"), None);
        assert_eq!(ThinkingLevel::default(), ThinkingLevel::Medium);
    }

    #[test]
    fn budgets_and_efforts() {
        let budgets: Vec<u32> = THINKING_LEVELS[1..]
            .iter()
            .filter_map(|n| ThinkingLevel::parse(n))
            .map(ThinkingLevel::anthropic_budget)
            .collect();
        assert_eq!(budgets, [1024, 2048, 4096, 8192, 16384, 32768]);
        assert_eq!(ThinkingLevel::Minimal.openai_effort("gpt-5"), "minimal");
        assert_eq!(ThinkingLevel::Minimal.openai_effort("o4-mini"), "low");
        assert_eq!(ThinkingLevel::Max.openai_effort("gpt-5"), "high");
        assert_eq!(ThinkingLevel::Max.openai_effort("gpt-5.2"), "xhigh");
        assert_eq!(ThinkingLevel::Xhigh.anthropic_effort(), "max");
    }

    #[test]
    fn reasoning_models_by_id() {
        use ModelApi::*;
        assert!(is_reasoning_model(AnthropicMessages, "claude-sonnet-4-5"));
        assert!(is_reasoning_model(
            AnthropicMessages,
            "claude-3-7-sonnet-latest"
        ));
        assert!(!is_reasoning_model(
            AnthropicMessages,
            "claude-3-5-haiku-latest"
        ));
        assert!(is_reasoning_model(OpenAiResponses, "o3"));
        assert!(is_reasoning_model(OpenAiCompletions, "openai/gpt-5-mini"));
        assert!(!is_reasoning_model(OpenAiCompletions, "gpt-5-chat-latest"));
        assert!(!is_reasoning_model(OpenAiCompletions, "gpt-4o"));
        assert!(!is_reasoning_model(
            MistralConversations,
            "magistral-medium"
        ));
        assert!(takes_adaptive_thinking("claude-opus-4-6"));
        assert!(!takes_adaptive_thinking("claude-opus-4-5"));
    }
}
