//! What the platform knows about each model (docs/run.md "Models"): context
//! window, output cap, whether it reasons, and its prices. One table, taken
//! from the platform's model catalog for the providers a local run can
//! reach (Anthropic, OpenAI, Mistral).
//!
//! A platform preset carries the same fields in `GET /api/models`; the table
//! fills the ones a row leaves out, and gives an env-mode run of a known
//! model its real window and prices.

/// Prices in US dollars per million tokens.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ModelCost {
    pub input: f64,
    pub output: f64,
    pub cache_read: f64,
    pub cache_write: f64,
}

impl ModelCost {
    /// The price of one call's usage, in dollars.
    pub fn of(&self, usage: &super::Usage) -> f64 {
        (usage.input as f64 * self.input
            + usage.output as f64 * self.output
            + usage.cache_read as f64 * self.cache_read
            + usage.cache_write as f64 * self.cache_write)
            / 1_000_000.0
    }

    /// Reads `{input, output, cacheRead, cacheWrite}` (a preset's `cost`);
    /// a missing price counts as 0, a negative or non-numeric one refuses
    /// the whole object.
    pub fn from_json(value: &serde_json::Value) -> Option<ModelCost> {
        let obj = value.as_object()?;
        let price = |k: &str| match obj.get(k) {
            None | Some(serde_json::Value::Null) => Some(0.0),
            Some(v) => v.as_f64().filter(|p| p.is_finite() && *p >= 0.0),
        };
        Some(ModelCost {
            input: price("input")?,
            output: price("output")?,
            cache_read: price("cacheRead")?,
            cache_write: price("cacheWrite")?,
        })
    }
}

/// One model of the catalog.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ModelInfo {
    pub id: &'static str,
    pub context_window: u64,
    /// `None` where the catalog has no figure.
    pub max_tokens: Option<u32>,
    pub reasoning: bool,
    pub cost: ModelCost,
}

const fn row(
    id: &'static str,
    context_window: u64,
    max_tokens: Option<u32>,
    reasoning: bool,
    [input, output, cache_read, cache_write]: [f64; 4],
) -> ModelInfo {
    ModelInfo {
        id,
        context_window,
        max_tokens,
        reasoning,
        cost: ModelCost {
            input,
            output,
            cache_read,
            cache_write,
        },
    }
}

/// The model with this id (the provider's own id, e.g. `claude-sonnet-4-5`).
pub fn lookup(model_id: &str) -> Option<&'static ModelInfo> {
    CATALOG.iter().find(|m| m.id == model_id)
}

/// By provider, then id.
static CATALOG: &[ModelInfo] = &[
    row(
        "claude-3-7-sonnet-20250219",
        200_000,
        Some(64_000),
        true,
        [3.0, 15.0, 0.3, 3.75],
    ),
    row(
        "claude-3-haiku-20240307",
        200_000,
        Some(4_096),
        false,
        [0.25, 1.25, 0.03, 0.3],
    ),
    row(
        "claude-3-opus-20240229",
        200_000,
        Some(4_096),
        false,
        [15.0, 75.0, 1.5, 18.75],
    ),
    row(
        "claude-4-opus-20250514",
        200_000,
        Some(32_000),
        true,
        [15.0, 75.0, 1.5, 18.75],
    ),
    row(
        "claude-4-sonnet-20250514",
        1_000_000,
        Some(64_000),
        true,
        [3.0, 15.0, 0.3, 3.75],
    ),
    row(
        "claude-fable-5",
        1_000_000,
        Some(128_000),
        true,
        [10.0, 50.0, 1.0, 12.5],
    ),
    row(
        "claude-haiku-4-5",
        200_000,
        Some(64_000),
        true,
        [1.0, 5.0, 0.1, 1.25],
    ),
    row(
        "claude-haiku-4-5-20251001",
        200_000,
        Some(64_000),
        true,
        [1.0, 5.0, 0.1, 1.25],
    ),
    row(
        "claude-mythos-5",
        1_000_000,
        Some(128_000),
        true,
        [10.0, 50.0, 1.0, 12.5],
    ),
    row(
        "claude-mythos-preview",
        1_000_000,
        Some(128_000),
        false,
        [10.0, 50.0, 1.0, 12.5],
    ),
    row(
        "claude-opus-4-1",
        200_000,
        Some(32_000),
        true,
        [15.0, 75.0, 1.5, 18.75],
    ),
    row(
        "claude-opus-4-1-20250805",
        200_000,
        Some(32_000),
        true,
        [15.0, 75.0, 1.5, 18.75],
    ),
    row(
        "claude-opus-4-20250514",
        200_000,
        Some(32_000),
        true,
        [15.0, 75.0, 1.5, 18.75],
    ),
    row(
        "claude-opus-4-5",
        200_000,
        Some(64_000),
        true,
        [5.0, 25.0, 0.5, 6.25],
    ),
    row(
        "claude-opus-4-5-20251101",
        200_000,
        Some(64_000),
        true,
        [5.0, 25.0, 0.5, 6.25],
    ),
    row(
        "claude-opus-4-6",
        1_000_000,
        Some(128_000),
        true,
        [5.0, 25.0, 0.5, 6.25],
    ),
    row(
        "claude-opus-4-6-20260205",
        1_000_000,
        Some(128_000),
        true,
        [5.0, 25.0, 0.5, 6.25],
    ),
    row(
        "claude-opus-4-7",
        1_000_000,
        Some(128_000),
        true,
        [5.0, 25.0, 0.5, 6.25],
    ),
    row(
        "claude-opus-4-7-20260416",
        1_000_000,
        Some(128_000),
        true,
        [5.0, 25.0, 0.5, 6.25],
    ),
    row(
        "claude-opus-4-8",
        1_000_000,
        Some(128_000),
        true,
        [5.0, 25.0, 0.5, 6.25],
    ),
    row(
        "claude-opus-5",
        1_000_000,
        Some(128_000),
        true,
        [5.0, 25.0, 0.5, 6.25],
    ),
    row(
        "claude-sonnet-4-20250514",
        1_000_000,
        Some(64_000),
        true,
        [3.0, 15.0, 0.3, 3.75],
    ),
    row(
        "claude-sonnet-4-5",
        200_000,
        Some(64_000),
        true,
        [3.0, 15.0, 0.3, 3.75],
    ),
    row(
        "claude-sonnet-4-5-20250929",
        200_000,
        Some(64_000),
        true,
        [3.0, 15.0, 0.3, 3.75],
    ),
    row(
        "claude-sonnet-4-6",
        1_000_000,
        Some(64_000),
        true,
        [3.0, 15.0, 0.3, 3.75],
    ),
    row(
        "claude-sonnet-5",
        1_000_000,
        Some(128_000),
        true,
        [2.0, 10.0, 0.2, 2.5],
    ),
    row(
        "chatgpt-4o-latest",
        128_000,
        Some(4_096),
        false,
        [5.0, 15.0, 0.0, 0.0],
    ),
    row(
        "gpt-4-0125-preview",
        128_000,
        Some(4_096),
        false,
        [10.0, 30.0, 0.0, 0.0],
    ),
    row(
        "gpt-4-1106-preview",
        128_000,
        Some(4_096),
        false,
        [10.0, 30.0, 0.0, 0.0],
    ),
    row(
        "gpt-4-turbo",
        128_000,
        Some(4_096),
        false,
        [10.0, 30.0, 0.0, 0.0],
    ),
    row(
        "gpt-4-turbo-2024-04-09",
        128_000,
        Some(4_096),
        false,
        [10.0, 30.0, 0.0, 0.0],
    ),
    row(
        "gpt-4-turbo-preview",
        128_000,
        Some(4_096),
        false,
        [10.0, 30.0, 0.0, 0.0],
    ),
    row(
        "gpt-4.1",
        1_047_576,
        Some(32_768),
        false,
        [2.0, 8.0, 0.5, 0.0],
    ),
    row(
        "gpt-4.1-2025-04-14",
        1_047_576,
        Some(32_768),
        false,
        [2.0, 8.0, 0.5, 0.0],
    ),
    row(
        "gpt-4.1-mini",
        1_047_576,
        Some(32_768),
        false,
        [0.4, 1.6, 0.1, 0.0],
    ),
    row(
        "gpt-4.1-mini-2025-04-14",
        1_047_576,
        Some(32_768),
        false,
        [0.4, 1.6, 0.1, 0.0],
    ),
    row(
        "gpt-4.1-nano",
        1_047_576,
        Some(32_768),
        false,
        [0.1, 0.4, 0.025, 0.0],
    ),
    row(
        "gpt-4.1-nano-2025-04-14",
        1_047_576,
        Some(32_768),
        false,
        [0.1, 0.4, 0.025, 0.0],
    ),
    row(
        "gpt-4o",
        128_000,
        Some(16_384),
        false,
        [2.5, 10.0, 1.25, 0.0],
    ),
    row(
        "gpt-4o-2024-05-13",
        128_000,
        Some(4_096),
        false,
        [5.0, 15.0, 0.0, 0.0],
    ),
    row(
        "gpt-4o-2024-08-06",
        128_000,
        Some(16_384),
        false,
        [2.5, 10.0, 1.25, 0.0],
    ),
    row(
        "gpt-4o-2024-11-20",
        128_000,
        Some(16_384),
        false,
        [2.5, 10.0, 1.25, 0.0],
    ),
    row(
        "gpt-4o-mini",
        128_000,
        Some(16_384),
        false,
        [0.15, 0.6, 0.075, 0.0],
    ),
    row(
        "gpt-4o-mini-2024-07-18",
        128_000,
        Some(16_384),
        false,
        [0.15, 0.6, 0.075, 0.0],
    ),
    row(
        "gpt-5",
        272_000,
        Some(128_000),
        true,
        [1.25, 10.0, 0.125, 0.0],
    ),
    row(
        "gpt-5-2025-08-07",
        272_000,
        Some(128_000),
        true,
        [1.25, 10.0, 0.125, 0.0],
    ),
    row(
        "gpt-5-chat",
        128_000,
        Some(16_384),
        false,
        [1.25, 10.0, 0.125, 0.0],
    ),
    row(
        "gpt-5-chat-latest",
        128_000,
        Some(16_384),
        false,
        [1.25, 10.0, 0.125, 0.0],
    ),
    row(
        "gpt-5-mini",
        272_000,
        Some(128_000),
        true,
        [0.25, 2.0, 0.025, 0.0],
    ),
    row(
        "gpt-5-mini-2025-08-07",
        272_000,
        Some(128_000),
        true,
        [0.25, 2.0, 0.025, 0.0],
    ),
    row(
        "gpt-5-nano",
        272_000,
        Some(128_000),
        true,
        [0.05, 0.4, 0.005, 0.0],
    ),
    row(
        "gpt-5-nano-2025-08-07",
        272_000,
        Some(128_000),
        true,
        [0.05, 0.4, 0.005, 0.0],
    ),
    row(
        "gpt-5.1",
        272_000,
        Some(128_000),
        true,
        [1.25, 10.0, 0.125, 0.0],
    ),
    row(
        "gpt-5.1-2025-11-13",
        272_000,
        Some(128_000),
        true,
        [1.25, 10.0, 0.125, 0.0],
    ),
    row(
        "gpt-5.1-chat-latest",
        128_000,
        Some(16_384),
        true,
        [1.25, 10.0, 0.125, 0.0],
    ),
    row(
        "gpt-5.2",
        272_000,
        Some(128_000),
        true,
        [1.75, 14.0, 0.175, 0.0],
    ),
    row(
        "gpt-5.2-2025-12-11",
        272_000,
        Some(128_000),
        true,
        [1.75, 14.0, 0.175, 0.0],
    ),
    row(
        "gpt-5.2-chat-latest",
        128_000,
        Some(16_384),
        true,
        [1.75, 14.0, 0.175, 0.0],
    ),
    row(
        "gpt-5.3-chat-latest",
        128_000,
        Some(16_384),
        true,
        [1.75, 14.0, 0.175, 0.0],
    ),
    row(
        "gpt-5.4",
        1_050_000,
        Some(128_000),
        true,
        [2.5, 15.0, 0.25, 0.0],
    ),
    row(
        "gpt-5.4-2026-03-05",
        1_050_000,
        Some(128_000),
        true,
        [2.5, 15.0, 0.25, 0.0],
    ),
    row(
        "gpt-5.4-mini",
        272_000,
        Some(128_000),
        true,
        [0.75, 4.5, 0.075, 0.0],
    ),
    row(
        "gpt-5.4-mini-2026-03-17",
        272_000,
        Some(128_000),
        true,
        [0.75, 4.5, 0.075, 0.0],
    ),
    row(
        "gpt-5.4-nano",
        272_000,
        Some(128_000),
        true,
        [0.2, 1.25, 0.02, 0.0],
    ),
    row(
        "gpt-5.4-nano-2026-03-17",
        272_000,
        Some(128_000),
        true,
        [0.2, 1.25, 0.02, 0.0],
    ),
    row(
        "gpt-5.5",
        1_050_000,
        Some(128_000),
        true,
        [5.0, 30.0, 0.5, 0.0],
    ),
    row(
        "gpt-5.5-2026-04-23",
        1_050_000,
        Some(128_000),
        true,
        [5.0, 30.0, 0.5, 0.0],
    ),
    row(
        "gpt-5.6",
        1_050_000,
        Some(128_000),
        true,
        [5.0, 30.0, 0.5, 6.25],
    ),
    row(
        "gpt-5.6-luna",
        1_050_000,
        Some(128_000),
        true,
        [0.2, 1.2, 0.02, 0.25],
    ),
    row(
        "gpt-5.6-sol",
        1_050_000,
        Some(128_000),
        true,
        [5.0, 30.0, 0.5, 6.25],
    ),
    row(
        "gpt-5.6-terra",
        1_050_000,
        Some(128_000),
        true,
        [2.0, 12.0, 0.2, 2.5],
    ),
    row("o1", 200_000, Some(100_000), true, [15.0, 60.0, 7.5, 0.0]),
    row(
        "o1-2024-12-17",
        200_000,
        Some(100_000),
        true,
        [15.0, 60.0, 7.5, 0.0],
    ),
    row("o3", 200_000, Some(100_000), true, [2.0, 8.0, 0.5, 0.0]),
    row(
        "o3-2025-04-16",
        200_000,
        Some(100_000),
        true,
        [2.0, 8.0, 0.5, 0.0],
    ),
    row(
        "o3-mini",
        200_000,
        Some(100_000),
        true,
        [1.1, 4.4, 0.55, 0.0],
    ),
    row(
        "o3-mini-2025-01-31",
        200_000,
        Some(100_000),
        true,
        [1.1, 4.4, 0.55, 0.0],
    ),
    row(
        "o4-mini",
        200_000,
        Some(100_000),
        true,
        [1.1, 4.4, 0.275, 0.0],
    ),
    row(
        "o4-mini-2025-04-16",
        200_000,
        Some(100_000),
        true,
        [1.1, 4.4, 0.275, 0.0],
    ),
    row(
        "codestral-latest",
        32_000,
        Some(8_191),
        false,
        [1.0, 3.0, 0.0, 0.0],
    ),
    row(
        "codestral-mamba-latest",
        256_000,
        None,
        false,
        [0.25, 0.25, 0.0, 0.0],
    ),
    row(
        "devstral-latest",
        256_000,
        None,
        false,
        [0.4, 2.0, 0.0, 0.0],
    ),
    row(
        "devstral-medium-latest",
        256_000,
        None,
        false,
        [0.4, 2.0, 0.0, 0.0],
    ),
    row(
        "devstral-small-latest",
        256_000,
        None,
        false,
        [0.1, 0.3, 0.0, 0.0],
    ),
    row(
        "magistral-medium-latest",
        40_000,
        None,
        true,
        [2.0, 5.0, 0.0, 0.0],
    ),
    row(
        "magistral-small-latest",
        40_000,
        None,
        true,
        [0.5, 1.5, 0.0, 0.0],
    ),
    row(
        "ministral-8b-latest",
        262_144,
        None,
        false,
        [0.15, 0.15, 0.0, 0.0],
    ),
    row(
        "mistral-large-3",
        262_144,
        None,
        false,
        [0.5, 1.5, 0.0, 0.0],
    ),
    row(
        "mistral-large-latest",
        262_144,
        None,
        false,
        [0.5, 1.5, 0.0, 0.0],
    ),
    row(
        "mistral-medium-3-5",
        262_144,
        None,
        false,
        [1.5, 7.5, 0.0, 0.0],
    ),
    row(
        "mistral-medium-latest",
        262_144,
        None,
        false,
        [1.5, 7.5, 0.0, 0.0],
    ),
    row(
        "mistral-small-latest",
        131_072,
        None,
        false,
        [0.06, 0.18, 0.0, 0.0],
    ),
    row(
        "open-mistral-nemo",
        128_000,
        None,
        false,
        [0.3, 0.3, 0.0, 0.0],
    ),
    row(
        "pixtral-large-latest",
        128_000,
        None,
        false,
        [2.0, 6.0, 0.0, 0.0],
    ),
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Usage;

    #[test]
    fn known_models_carry_window_cap_and_prices() {
        let sonnet = lookup("claude-sonnet-4-5").expect("in the catalog");
        assert_eq!(
            (sonnet.context_window, sonnet.max_tokens, sonnet.reasoning),
            (200_000, Some(64_000), true)
        );
        let gpt = lookup("gpt-4o").expect("in the catalog");
        assert_eq!((gpt.context_window, gpt.reasoning), (128_000, false));
        assert!(lookup("no-such-model").is_none());
        let ids: std::collections::HashSet<_> = CATALOG.iter().map(|m| m.id).collect();
        assert_eq!(ids.len(), CATALOG.len(), "one row per id");
        assert!(
            CATALOG
                .iter()
                .all(|m| m.max_tokens.is_none_or(|t| u64::from(t) < m.context_window))
        );
    }

    #[test]
    fn cost_is_per_million_tokens() {
        let sonnet = lookup("claude-sonnet-4-5").expect("in the catalog").cost;
        let usage = Usage {
            input: 1_000_000,
            output: 100_000,
            cache_read: 10_000,
            cache_write: 2_000,
        };
        // 3 + 1.5 + 0.003 + 0.0075
        assert!((sonnet.of(&usage) - 4.5105).abs() < 1e-9);
        assert_eq!(ModelCost::default().of(&usage), 0.0);
    }

    #[test]
    fn preset_cost_objects() {
        let c =
            ModelCost::from_json(&serde_json::json!({"input": 2, "output": 8, "cacheRead": 0.5}))
                .expect("valid");
        assert_eq!(
            c,
            ModelCost {
                input: 2.0,
                output: 8.0,
                cache_read: 0.5,
                cache_write: 0.0
            }
        );
        assert!(ModelCost::from_json(&serde_json::json!({"input": -1})).is_none());
        assert!(ModelCost::from_json(&serde_json::json!("free")).is_none());
    }
}
