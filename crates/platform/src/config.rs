//! Profiles in `config.toml` (contract §3.2–3.3).

use crate::env::Env;

/// The profile cascade: `--profile`, `APPSTRATE_PROFILE`, `defaultProfile`,
/// then `"default"`; empty values are skipped.
pub fn resolve_profile_name(flag: Option<&str>, env: &Env, config_default: Option<&str>) -> String {
    [flag, env.profile.as_deref(), config_default]
        .into_iter()
        .flatten()
        .find(|name| !name.is_empty())
        .unwrap_or("default")
        .to_string()
}
