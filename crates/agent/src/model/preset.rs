//! Model presets of the platform (docs/run.md "Models"): pick one from the
//! organization's list and reach it through the instance's LLM proxy, which
//! swaps in the real model and the real key.

use serde_json::Value;

use super::{ModelApi, ModelConfig, ModelCost, catalog};

/// The `x-api-key` of an Anthropic preset: the bearer travels in
/// `Authorization` and the proxy drops this placeholder.
pub const ANTHROPIC_PLACEHOLDER_KEY: &str = "x-platform-bearer-injected-via-headers";

/// One row of `GET /api/models`, the fields a run needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Preset {
    pub id: String,
    pub label: String,
    pub api_shape: Option<String>,
    pub enabled: bool,
    pub is_default: bool,
    pub needs_reconnection: bool,
    pub context_window: Option<u64>,
    pub max_tokens: Option<u32>,
    /// The provider's model behind the preset (`modelId`): the catalog row
    /// that fills the fields the preset leaves out.
    pub model_id: Option<String>,
    pub reasoning: Option<bool>,
    pub cost: Option<ModelCost>,
}

impl Preset {
    /// Reads one row; `None` without an `id`. The default flag is
    /// `is_default`, the name the platform sends.
    pub fn from_json(row: &Value) -> Option<Preset> {
        let text = |k: &str| row.get(k).and_then(Value::as_str).map(str::to_string);
        let flag = |k: &str| row.get(k).and_then(Value::as_bool);
        let id = text("id")?;
        Some(Preset {
            label: text("label").unwrap_or_else(|| id.clone()),
            id,
            api_shape: text("apiShape"),
            enabled: flag("enabled").unwrap_or(true),
            is_default: flag("is_default").unwrap_or(false),
            needs_reconnection: flag("needs_reconnection").unwrap_or(false),
            context_window: row.get("contextWindow").and_then(Value::as_u64),
            max_tokens: row
                .get("maxTokens")
                .and_then(Value::as_u64)
                .and_then(|n| u32::try_from(n).ok()),
            model_id: text("modelId"),
            reasoning: flag("reasoning"),
            cost: row.get("cost").and_then(ModelCost::from_json),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PresetError {
    #[error(
        "Model preset \"{0}\" is not in this organization — pick one from `appstrate models list --proxy-only`"
    )]
    NotFound(String),
    #[error(
        "Model preset \"{0}\" is disabled — enable it in the dashboard or pick another with --model"
    )]
    Disabled(String),
    #[error(
        "Model preset \"{0}\" needs its provider reconnected — reconnect it in the dashboard or pick another with --model"
    )]
    NeedsReconnection(String),
    #[error(
        "No default model preset is set in this organization — pass --model <preset id> (see `appstrate models list --proxy-only`) or set a default in the dashboard"
    )]
    NoDefault,
    #[error(
        "Model preset \"{label}\" uses the {shape} API, which the platform's LLM proxy does not forward — pick one from `appstrate models list --proxy-only`"
    )]
    NotRoutable { label: String, shape: String },
}

/// `wanted` (a preset id) when given: it must exist, be enabled and not
/// need reconnection. Otherwise the enabled default.
pub fn choose_preset<'a>(
    presets: &'a [Preset],
    wanted: Option<&str>,
) -> Result<&'a Preset, PresetError> {
    let Some(wanted) = wanted else {
        return presets
            .iter()
            .find(|p| p.is_default && p.enabled && !p.needs_reconnection)
            .ok_or(PresetError::NoDefault);
    };
    let preset = presets
        .iter()
        .find(|p| p.id == wanted)
        .ok_or_else(|| PresetError::NotFound(wanted.to_string()))?;
    if !preset.enabled {
        return Err(PresetError::Disabled(preset.label.clone()));
    }
    if preset.needs_reconnection {
        return Err(PresetError::NeedsReconnection(preset.label.clone()));
    }
    Ok(preset)
}

/// The model config that reaches `preset` through `{instance}/api/llm-proxy`.
/// OpenAI-compatible presets go through Chat Completions (the proxy has no
/// Responses route). The bearer is the key; Anthropic carries it in
/// `Authorization` with the org, and a placeholder `x-api-key`.
pub fn preset_model_config(
    preset: &Preset,
    instance: &str,
    bearer: &str,
    org_id: &str,
) -> Result<ModelConfig, PresetError> {
    let shape = preset.api_shape.as_deref().unwrap_or("");
    let not_routable = || PresetError::NotRoutable {
        label: preset.label.clone(),
        shape: if shape.is_empty() {
            "(undisclosed)".into()
        } else {
            shape.into()
        },
    };
    let proxy = format!("{}/api/llm-proxy/{shape}", instance.trim_end_matches('/'));
    let (api, base_url, key, headers) = match shape {
        "openai-completions" => (
            ModelApi::OpenAiCompletions,
            format!("{proxy}/v1"),
            bearer.to_string(),
            vec![("X-Org-Id".to_string(), org_id.to_string())],
        ),
        "mistral-conversations" => (
            ModelApi::MistralConversations,
            format!("{proxy}/v1"),
            bearer.to_string(),
            vec![("X-Org-Id".to_string(), org_id.to_string())],
        ),
        "anthropic-messages" => (
            ModelApi::AnthropicMessages,
            proxy,
            ANTHROPIC_PLACEHOLDER_KEY.to_string(),
            vec![
                ("Authorization".to_string(), format!("Bearer {bearer}")),
                ("X-Org-Id".to_string(), org_id.to_string()),
            ],
        ),
        _ => return Err(not_routable()),
    };
    let mut config = ModelConfig::new(api, preset.id.clone(), key);
    config.base_url = Some(base_url);
    config.headers = headers;
    // The preset's own figures first, then the catalog's for its model,
    // then the env-mode record's.
    let known = preset.model_id.as_deref().and_then(catalog::lookup);
    if let Some(n) = preset
        .max_tokens
        .filter(|n| *n > 0)
        .or_else(|| known.and_then(|k| k.max_tokens))
    {
        config.max_tokens = n;
    }
    if let Some(n) = preset
        .context_window
        .filter(|n| *n > 0)
        .or_else(|| known.map(|k| k.context_window))
    {
        config.context_window = n;
    }
    config.reasoning = preset
        .reasoning
        .or_else(|| known.map(|k| k.reasoning))
        .unwrap_or(false);
    if let Some(cost) = preset.cost.or_else(|| known.map(|k| k.cost)) {
        config.cost = cost;
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn presets() -> Vec<Preset> {
        [
            json!({"id": "p-off", "label": "Off", "apiShape": "openai-completions", "enabled": false, "is_default": false}),
            json!({"id": "p-def", "label": "Default", "apiShape": "anthropic-messages", "enabled": true, "is_default": true, "maxTokens": 4096, "reasoning": true}),
            json!({"id": "p-old", "label": "Old", "apiShape": "openai-completions", "enabled": true, "is_default": false, "isDefault": true, "needs_reconnection": true}),
            json!({"id": "p-gem", "label": "Gemini", "apiShape": "google-generative-ai", "enabled": true, "is_default": false}),
        ]
        .iter()
        .filter_map(Preset::from_json)
        .collect()
    }

    #[test]
    fn the_default_is_read_from_is_default() {
        let list = presets();
        assert_eq!(choose_preset(&list, None).expect("default").id, "p-def");
        let only_camel: Vec<Preset> = [json!({"id": "x", "enabled": true, "isDefault": true})]
            .iter()
            .filter_map(Preset::from_json)
            .collect();
        assert_eq!(
            choose_preset(&only_camel, None),
            Err(PresetError::NoDefault)
        );
    }

    #[test]
    fn a_named_preset_must_exist_be_enabled_and_connected() {
        let list = presets();
        assert_eq!(
            choose_preset(&list, Some("nope")),
            Err(PresetError::NotFound("nope".into()))
        );
        assert_eq!(
            choose_preset(&list, Some("p-off")),
            Err(PresetError::Disabled("Off".into()))
        );
        assert_eq!(
            choose_preset(&list, Some("p-old")),
            Err(PresetError::NeedsReconnection("Old".into()))
        );
        assert_eq!(choose_preset(&list, Some("p-def")).expect("ok").id, "p-def");
    }

    #[test]
    fn missing_preset_fields_come_from_the_catalog_of_its_model() {
        let row = json!({"id": "p1", "apiShape": "openai-completions", "modelId": "gpt-4o",
            "contextWindow": 64000, "cost": {"input": 1, "output": 2}});
        let preset = Preset::from_json(&row).expect("row");
        let config = preset_model_config(&preset, "https://i.example", "jwt", "org").expect("ok");
        // The preset's own window and prices win; the cap comes from gpt-4o.
        assert_eq!((config.context_window, config.max_tokens), (64000, 16384));
        assert_eq!(
            (
                config.cost.input,
                config.cost.output,
                config.cost.cache_read
            ),
            (1.0, 2.0, 0.0)
        );
        assert!(!config.reasoning);

        let row =
            json!({"id": "p2", "apiShape": "anthropic-messages", "modelId": "claude-opus-4-5"});
        let preset = Preset::from_json(&row).expect("row");
        let config = preset_model_config(&preset, "https://i.example", "jwt", "org").expect("ok");
        assert_eq!(
            (config.context_window, config.max_tokens, config.reasoning),
            (200_000, 64000, true)
        );
        assert_eq!(config.cost.output, 25.0);
    }

    #[test]
    fn routes_through_the_llm_proxy() {
        let list = presets();
        let anthropic = preset_model_config(&list[1], "https://i.example/", "jwt-1", "org-1")
            .expect("anthropic");
        assert_eq!(anthropic.api, ModelApi::AnthropicMessages);
        assert_eq!(
            anthropic.base_url(),
            "https://i.example/api/llm-proxy/anthropic-messages"
        );
        assert_eq!(anthropic.api_key, ANTHROPIC_PLACEHOLDER_KEY);
        assert_eq!(
            anthropic.headers,
            vec![
                ("Authorization".to_string(), "Bearer jwt-1".to_string()),
                ("X-Org-Id".to_string(), "org-1".to_string())
            ]
        );
        assert_eq!(
            (anthropic.model_id.as_str(), anthropic.max_tokens),
            ("p-def", 4096)
        );
        // The row's own reasoning flag; no window or prices and no
        // modelId: the record's.
        assert_eq!(
            (
                anthropic.context_window,
                anthropic.reasoning,
                anthropic.cost
            ),
            (200_000, true, ModelCost::default())
        );

        let openai =
            preset_model_config(&list[0], "https://i.example", "jwt-1", "org-1").expect("openai");
        assert_eq!(openai.api, ModelApi::OpenAiCompletions);
        assert_eq!(
            openai.base_url(),
            "https://i.example/api/llm-proxy/openai-completions/v1"
        );
        assert_eq!(openai.api_key, "jwt-1");
        assert!(!openai.reasoning);

        assert_eq!(
            preset_model_config(&list[3], "https://i.example", "jwt-1", "org-1").map(|_| ()),
            Err(PresetError::NotRoutable {
                label: "Gemini".into(),
                shape: "google-generative-ai".into()
            })
        );
    }
}
