//! A snapshot of the environment variables the CLI honours, taken once at
//! start-up so code below never reads the process environment behind the
//! caller's back (and tests can build one by hand).

use std::path::PathBuf;
use std::time::Duration;

use crate::credential::ApiKey;

#[derive(Debug, Clone, Default)]
pub struct Env {
    pub home: Option<PathBuf>,
    pub xdg_config_home: Option<PathBuf>,
    pub xdg_cache_home: Option<PathBuf>,
    /// `APPSTRATE_PROFILE` (non-empty only).
    pub profile: Option<String>,
    /// `APPSTRATE_INSECURE` is `1` or `true`, or `--insecure` was given.
    pub insecure: bool,
    /// `APPSTRATE_ALLOW_PLAINTEXT_TOKENS=1`.
    pub allow_plaintext_tokens: bool,
    /// `APPSTRATE_CLI_NO_OPEN=1`.
    pub no_open: bool,
    /// `APPSTRATE_API_KEY`: a headless `ask_…` key (its `Debug` is redacted).
    pub api_key: Option<ApiKey>,
    /// `APPSTRATE_INSTANCE`, `APPSTRATE_APP_ID`, `APPSTRATE_ORG_ID`: where an
    /// API key acts (the profile fills what they leave unset).
    pub instance: Option<String>,
    pub application_id: Option<String>,
    pub org_id: Option<String>,
    /// `APPSTRATE_REMOTE_POLL_MS`: how often a remote run is polled
    /// (default 1.5 s; tests shorten it).
    pub remote_poll: Option<Duration>,
}

fn non_empty(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

impl Env {
    pub fn from_process() -> Self {
        Env {
            home: std::env::home_dir(),
            xdg_config_home: non_empty("XDG_CONFIG_HOME").map(PathBuf::from),
            xdg_cache_home: non_empty("XDG_CACHE_HOME").map(PathBuf::from),
            profile: non_empty("APPSTRATE_PROFILE"),
            insecure: matches!(
                std::env::var("APPSTRATE_INSECURE").as_deref(),
                Ok("1") | Ok("true")
            ),
            allow_plaintext_tokens: std::env::var("APPSTRATE_ALLOW_PLAINTEXT_TOKENS").as_deref()
                == Ok("1"),
            no_open: std::env::var("APPSTRATE_CLI_NO_OPEN").as_deref() == Ok("1"),
            api_key: non_empty("APPSTRATE_API_KEY").map(ApiKey::new),
            instance: non_empty("APPSTRATE_INSTANCE"),
            application_id: non_empty("APPSTRATE_APP_ID"),
            org_id: non_empty("APPSTRATE_ORG_ID"),
            remote_poll: non_empty("APPSTRATE_REMOTE_POLL_MS")
                .and_then(|v| v.trim().parse::<u64>().ok())
                .filter(|ms| *ms > 0)
                .map(Duration::from_millis),
        }
    }

    fn home(&self) -> PathBuf {
        self.home.clone().unwrap_or_else(|| PathBuf::from("."))
    }

    /// `$XDG_CONFIG_HOME/appstrate` or `~/.config/appstrate` (docs/files.md#directories).
    pub fn config_dir(&self) -> PathBuf {
        match &self.xdg_config_home {
            Some(dir) => dir.join("appstrate"),
            None => self.home().join(".config").join("appstrate"),
        }
    }

    /// `$XDG_CACHE_HOME/appstrate` or `~/.cache/appstrate`.
    pub fn cache_dir(&self) -> PathBuf {
        match &self.xdg_cache_home {
            Some(dir) => dir.join("appstrate"),
            None => self.home().join(".cache").join("appstrate"),
        }
    }
}
