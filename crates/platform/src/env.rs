//! A snapshot of the environment variables the CLI honours, taken once at
//! start-up so code below never reads the process environment behind the
//! caller's back (and tests can build one by hand).

use std::collections::BTreeMap;
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
    /// Every other variable, for commands with many of their own (`run`
    /// reads model keys, defaults for its flags, limits).
    pub vars: Vars,
}

/// Environment variables by name. Values may be secrets (API keys), so a
/// debug print shows the names only.
#[derive(Clone, Default)]
pub struct Vars(BTreeMap<String, String>);

impl Vars {
    /// The variables of this process (those that are valid UTF-8).
    pub fn from_process() -> Self {
        Vars(
            std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .collect(),
        )
    }

    /// A value that is set and not blank.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.trim().is_empty())
    }

    pub fn set(&mut self, name: &str, value: &str) {
        self.0.insert(name.to_string(), value.to_string());
    }
}

impl std::fmt::Debug for Vars {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
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
            vars: Vars::from_process(),
        }
    }

    /// A variable that is set and not blank.
    pub fn var(&self, name: &str) -> Option<&str> {
        self.vars.get(name)
    }

    /// `APPSTRATE_REMOTE_POLL_MS`: how often a remote run is polled, when
    /// set to a positive number of milliseconds (tests shorten it).
    pub fn remote_poll(&self) -> Option<std::time::Duration> {
        self.var("APPSTRATE_REMOTE_POLL_MS")
            .and_then(|v| v.trim().parse::<u64>().ok())
            .filter(|ms| *ms > 0)
            .map(std::time::Duration::from_millis)
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
