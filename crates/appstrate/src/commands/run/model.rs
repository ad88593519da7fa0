//! The model of a local run (docs/run.md "Models" and "Proxy"): your own
//! key (env mode) or an organization preset reached through the instance's
//! LLM proxy (preset mode); and the proxy the model traffic goes through.

use appstrate_agent::model::{
    ModelConfig, ModelRequestFlags, Preset, ResolveError, choose_preset, preset_model_config,
    resolve_env_model,
};
use appstrate_platform::Env;
use appstrate_platform::access::PlatformAccess;

use super::RunArgs;
use crate::error::CliError;

/// Env mode: `--model-api`, `--model`, the key chain, `APPSTRATE_LLM_BASE_URL`.
pub fn env_model(args: &RunArgs, env: &Env) -> Result<ModelConfig, CliError> {
    let flags = ModelRequestFlags {
        api: args.model_api.as_deref(),
        model: args.model.as_deref(),
        api_key: args.llm_api_key.as_deref(),
    };
    resolve_env_model(&flags, |name| env.var(name).map(str::to_string)).map_err(|e| match e {
        // A bad flag value is a usage error; a bad variable or a missing
        // key is the environment's (README "Exit codes and errors").
        ResolveError::UnknownApi {
            origin: "--model-api",
            ..
        } => CliError::usage(e.to_string()),
        _ => CliError::user(e.to_string()),
    })
}

/// `APPSTRATE_MODEL_CONTEXT_WINDOW`: the model's context window in tokens,
/// for a model the catalog does not know (a local OpenAI-compatible server)
/// or a preset whose window is wrong. It sizes compaction.
pub fn context_window_override(env: &Env) -> Result<Option<u64>, CliError> {
    const NAME: &str = "APPSTRATE_MODEL_CONTEXT_WINDOW";
    let Some(value) = env.var(NAME).map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    match value.parse::<u64>() {
        Ok(n) if n >= 1000 => Ok(Some(n)),
        _ => Err(CliError::user(format!(
            "{NAME} must be a whole number of tokens, at least 1000 (got \"{value}\")"
        ))
        .with_hint(format!("unset {NAME} to use the model's own window"))),
    }
}

/// Preset mode: `wanted` (a preset id) or the organization's default,
/// routed through `{instance}/api/llm-proxy/…` with the Appstrate bearer.
pub async fn preset_model(
    access: &PlatformAccess,
    wanted: Option<&str>,
) -> Result<ModelConfig, CliError> {
    let org = access.require_org("--model-source preset")?.to_string();
    let rows = access.list("/api/models").await?;
    let presets: Vec<Preset> = rows.iter().filter_map(Preset::from_json).collect();
    let preset = choose_preset(&presets, wanted).map_err(|e| CliError::user(e.to_string()))?;
    let bearer = access.bearer().await?;
    preset_model_config(preset, access.instance(), &bearer, &org)
        .map_err(|e| CliError::user(e.to_string()))
}

/// Where a proxy setting came from, strongest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxySource {
    Flag,
    Env,
    Inherited,
}

/// What a local run does with a proxy setting.
#[derive(Debug, PartialEq, Eq)]
pub enum LocalProxy {
    None,
    /// Model requests go through this `http(s)://` URL.
    Url(String),
    /// A platform proxy id: its address is not disclosed to clients, so a
    /// local run cannot use it. Carries the notice to show.
    Ignored(String),
}

/// `--proxy`, then `APPSTRATE_PROXY`, then the agent's configured proxy.
/// A URL is used for the model traffic; a platform proxy id given on the
/// command line is refused (it cannot be honoured), one from the
/// environment or the run configuration is noted and skipped.
pub fn local_proxy(
    flag: Option<&str>,
    env: &Env,
    inherited: Option<&str>,
) -> Result<LocalProxy, CliError> {
    let chosen = flag
        .filter(|v| !v.trim().is_empty())
        .map(|v| (v.trim(), ProxySource::Flag))
        .or_else(|| {
            env.var("APPSTRATE_PROXY")
                .map(|v| (v.trim(), ProxySource::Env))
        })
        .or_else(|| inherited.map(|v| (v, ProxySource::Inherited)));
    let Some((value, source)) = chosen else {
        return Ok(LocalProxy::None);
    };
    if value.contains("://") {
        return proxy_url(value, source).map(LocalProxy::Url);
    }
    let unusable = "a local run can only use a proxy URL (http://host:port), since the platform does not disclose its proxies' addresses";
    match source {
        ProxySource::Flag => Err(CliError::usage(format!(
            "--proxy \"{value}\" names a platform proxy; {unusable}"
        ))
        .with_hint("pass a proxy URL, or run on the platform with --remote")),
        ProxySource::Env => Ok(LocalProxy::Ignored(format!(
            "warn: APPSTRATE_PROXY names platform proxy \"{value}\"; {unusable} — model requests go direct"
        ))),
        ProxySource::Inherited => Ok(LocalProxy::Ignored(format!(
            "warn: the agent's run configuration selects platform proxy \"{value}\"; {unusable} — model requests go direct"
        ))),
    }
}

/// An `http://` or `https://` URL with a host. The URL itself never appears
/// in a message: it may carry a password.
fn proxy_url(value: &str, source: ProxySource) -> Result<String, CliError> {
    let what = match source {
        ProxySource::Flag => "--proxy",
        ProxySource::Env => "APPSTRATE_PROXY",
        ProxySource::Inherited => "the configured proxy",
    };
    // On the command line a bad value is a usage error (exit 2); from a
    // variable or the run configuration, the environment's (exit 1).
    let refuse = |message: String| match source {
        ProxySource::Flag => CliError::usage(message),
        ProxySource::Env | ProxySource::Inherited => CliError::user(message),
    };
    let parsed =
        url::Url::parse(value).map_err(|_| refuse(format!("{what} is not a valid URL")))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(refuse(format!(
            "{what} must be an http:// or https:// proxy URL with a host (got a {}:// URL)",
            parsed.scheme()
        )));
    }
    Ok(value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_with(name: &str, value: &str) -> Env {
        let mut env = Env::default();
        env.set_var(name, value);
        env
    }

    #[test]
    fn proxy_precedence_and_kinds() {
        let none = Env::default();
        assert_eq!(
            local_proxy(None, &none, None).expect("ok"),
            LocalProxy::None
        );
        assert_eq!(
            local_proxy(
                Some("http://p:3128"),
                &env_with("APPSTRATE_PROXY", "http://q:1"),
                Some("px")
            )
            .expect("ok"),
            LocalProxy::Url("http://p:3128".into())
        );
        assert_eq!(
            local_proxy(None, &env_with("APPSTRATE_PROXY", "http://q:1"), Some("px")).expect("ok"),
            LocalProxy::Url("http://q:1".into())
        );
        assert!(matches!(
            local_proxy(None, &none, Some("px_1")).expect("ok"),
            LocalProxy::Ignored(m) if m.contains("\"px_1\"")
        ));
        assert!(matches!(
            local_proxy(None, &env_with("APPSTRATE_PROXY", "px_2"), None).expect("ok"),
            LocalProxy::Ignored(m) if m.starts_with("warn: APPSTRATE_PROXY")
        ));
        let err = local_proxy(Some("px_3"), &none, None).expect_err("id on the command line");
        assert!(
            err.message
                .starts_with("--proxy \"px_3\" names a platform proxy")
        );
        let err = local_proxy(Some("socks5://u:pw@h:1"), &none, None).expect_err("scheme");
        assert!(!err.to_string().contains("pw"), "{err}");
    }
}
