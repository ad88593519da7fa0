//! A snapshot of the environment variables the CLI honours, taken once at
//! start-up so code below never reads the process environment behind the
//! caller's back (and tests can build one by hand).

use std::path::PathBuf;

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
