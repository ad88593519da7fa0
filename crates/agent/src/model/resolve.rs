//! Model resolution, env mode (docs/run.md "Models"): which protocol, which model,
//! which key, which endpoint. A platform-preset mode will fill the same
//! [`ModelConfig`] from the instance later.

use super::{ACCEPTED_APIS, ModelApi, ModelConfig};

pub const DEFAULT_MODEL: &str = "claude-sonnet-4-5";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ResolveError {
    /// `origin` names where the value came from: the flag or the variable.
    #[error("Unknown {origin} \"{value}\" — use one of: {list}", list = ACCEPTED_APIS.join(", "))]
    UnknownApi { value: String, origin: &'static str },
    #[error(
        "No LLM API key resolved for provider {provider} — pass --llm-api-key or set one of: {vars}"
    )]
    NoKey {
        provider: &'static str,
        vars: String,
    },
}

/// What the user asked for; `lookup` reads the environment.
pub struct ModelRequestFlags<'a> {
    pub api: Option<&'a str>,
    pub model: Option<&'a str>,
    pub api_key: Option<&'a str>,
}

pub fn resolve_env_model(
    flags: &ModelRequestFlags<'_>,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<ModelConfig, ResolveError> {
    let non_empty = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
    let (api_name, origin) = match flags.api {
        Some(flag) => (flag.to_string(), "--model-api"),
        None => match non_empty("APPSTRATE_MODEL_API") {
            Some(variable) => (variable, "APPSTRATE_MODEL_API"),
            None => ("anthropic-messages".to_string(), "--model-api"),
        },
    };
    let api = ModelApi::parse(&api_name).ok_or(ResolveError::UnknownApi {
        value: api_name,
        origin,
    })?;
    let model_id = flags
        .model
        .map(str::to_string)
        .or_else(|| non_empty("APPSTRATE_MODEL_ID"))
        .unwrap_or_else(|| DEFAULT_MODEL.to_string());
    let vars = [api.key_variable(), "APPSTRATE_LLM_API_KEY", "LLM_API_KEY"];
    let api_key = flags
        .api_key
        .filter(|k| !k.trim().is_empty())
        .map(str::to_string)
        .or_else(|| vars.iter().find_map(|v| non_empty(v)))
        .ok_or_else(|| ResolveError::NoKey {
            provider: api.provider(),
            vars: vars.join(", "),
        })?;
    let mut config = ModelConfig {
        base_url: non_empty("APPSTRATE_LLM_BASE_URL")
            .map(|u| u.trim().trim_end_matches('/').to_string()),
        ..ModelConfig::new(api, model_id, api_key)
    };
    // A model the catalog knows gets its real window (compaction sizing)
    // and prices (the reported cost); the output cap stays that of the
    // env-mode record, so requests keep their shape.
    if let Some(info) = super::catalog::lookup(&config.model_id) {
        config.context_window = info.context_window;
        config.cost = info.cost;
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_chain_and_errors() {
        let env = |k: &str| match k {
            "OPENAI_API_KEY" => Some("sk-openai".to_string()),
            "LLM_API_KEY" => Some("generic".to_string()),
            _ => None,
        };
        let flags = ModelRequestFlags {
            api: Some("openai-completions"),
            model: None,
            api_key: None,
        };
        let c = resolve_env_model(&flags, env).expect("resolves");
        assert_eq!(
            (c.api_key.as_str(), c.model_id.as_str()),
            ("sk-openai", DEFAULT_MODEL)
        );
        // The default model is in the catalog: its window, reasoning flag
        // and prices, the record's cap.
        assert_eq!(
            (c.context_window, c.max_tokens, c.reasoning),
            (200_000, 8192, true)
        );
        assert_eq!(c.cost.input, 3.0);
        let flags = ModelRequestFlags {
            api: None,
            model: Some("m"),
            api_key: None,
        };
        let unknown = resolve_env_model(&flags, env).expect("resolves");
        assert_eq!(unknown.api_key, "generic");
        // An unknown model keeps the env-mode record: 200 000 tokens, free.
        assert_eq!(
            (unknown.context_window, unknown.cost),
            (200_000, crate::model::ModelCost::default())
        );
        let flags = ModelRequestFlags {
            api: Some("nope"),
            model: None,
            api_key: None,
        };
        assert_eq!(
            resolve_env_model(&flags, env).err().map(|e| e.to_string()),
            Some(format!(
                "Unknown --model-api \"nope\" — use one of: {}",
                ACCEPTED_APIS.join(", ")
            ))
        );
        let from_variable =
            |name: &str| (name == "APPSTRATE_MODEL_API").then(|| "nope".to_string());
        let flags = ModelRequestFlags {
            api: None,
            model: None,
            api_key: None,
        };
        assert!(matches!(
            resolve_env_model(&flags, from_variable),
            Err(ResolveError::UnknownApi {
                origin: "APPSTRATE_MODEL_API",
                ..
            })
        ));
        let flags = ModelRequestFlags {
            api: Some("mistral-conversations"),
            model: None,
            api_key: None,
        };
        let err = resolve_env_model(&flags, |_| None)
            .expect_err("no key")
            .to_string();
        assert!(
            err.contains("MISTRAL_API_KEY, APPSTRATE_LLM_API_KEY, LLM_API_KEY"),
            "{err}"
        );
    }
}
