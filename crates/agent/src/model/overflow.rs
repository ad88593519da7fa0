//! Recognising "the conversation no longer fits the model's context window"
//! in a provider's error reply (docs/run.md "Compaction"). Providers word it
//! differently and only some send a code, so the message is matched against
//! the phrasings they are known to use.

/// Lower-case fragments, each specific to a context-size refusal.
const OVERFLOW_PHRASES: &[&str] = &[
    "prompt is too long",              // Anthropic
    "input is too long for requested", // Amazon Bedrock
    "exceeds the context window",      // OpenAI Chat Completions and Responses
    "context_length_exceeded",         // OpenAI's error code
    "context length exceeded",
    "maximum context length is", // OpenAI-compatible servers, OpenRouter
    "reduce the length of the messages", // Groq
    "too large for model with",  // Mistral
    "maximum prompt length is",  // xAI
    "exceeds the available context size", // llama.cpp
    "greater than the context length", // LM Studio
    "context window exceeds limit",
    "exceeded model token limit",
    "input token count",
    "too many tokens",
    "token limit exceeded",
];

/// Whether an error message says the request is larger than the context window.
pub fn says_context_overflow(message: &str) -> bool {
    let lower = message.to_lowercase();
    OVERFLOW_PHRASES.iter().any(|p| lower.contains(p))
        && !lower.contains("rate limit")
        && !lower.contains("per minute")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_wordings_are_recognised() {
        for m in [
            "prompt is too long: 213462 tokens > 200000 maximum",
            "This model's maximum context length is 128000 tokens. However, your messages resulted in 130000 tokens. Please reduce the length of the messages.",
            "Your input exceeds the context window of this model. Please adjust your input and try again. (context_length_exceeded)",
            "Prompt contains 140000 tokens and 0 draft tokens, too large for model with 131072 maximum context length",
            "the request exceeds the available context size, try increasing it",
        ] {
            assert!(says_context_overflow(m), "{m}");
        }
    }

    #[test]
    fn other_errors_are_not_overflow() {
        for m in [
            "invalid x-api-key",
            "Overloaded",
            "Rate limit reached: too many tokens per minute",
            "max_tokens: 64000 > 32000, which is the maximum allowed",
        ] {
            assert!(!says_context_overflow(m), "{m}");
        }
    }
}
