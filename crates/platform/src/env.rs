//! A snapshot of the environment, taken once at start-up so code below
//! never reads the process environment behind the caller's back (and tests
//! can build one by hand). The variables many places need are typed
//! fields; the others are looked up by name in the same snapshot
//! ([`Env::var`]) by the command that honours them, which passes the value
//! down to the libraries.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::PathBuf;

#[derive(Clone, Default)]
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
    /// `PATH`, as the OS gave it (programs are looked up on it).
    pub path: Option<OsString>,
    /// Every variable whose name and value are UTF-8, for [`Env::var`].
    pub vars: BTreeMap<String, String>,
}

/// Values stay out of `Debug`: the snapshot holds API keys and tokens.
impl std::fmt::Debug for Env {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Env")
            .field("home", &self.home)
            .field("xdg_config_home", &self.xdg_config_home)
            .field("xdg_cache_home", &self.xdg_cache_home)
            .field("profile", &self.profile)
            .field("insecure", &self.insecure)
            .field("allow_plaintext_tokens", &self.allow_plaintext_tokens)
            .field("no_open", &self.no_open)
            .field("vars", &self.vars.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
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
            path: std::env::var_os("PATH"),
            vars: std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .collect(),
        }
    }

    /// The variable `name` as it was at start-up, when set and not blank
    /// (an empty variable means "unset", as in the original's JavaScript).
    pub fn var(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.trim().is_empty())
    }

    /// Sets a variable in this snapshot (tests, and values derived from flags).
    pub fn set_var(&mut self, name: &str, value: &str) {
        self.vars.insert(name.to_string(), value.to_string());
    }

    /// `APPSTRATE_REMOTE_POLL_MS`: how often a remote run is polled, when
    /// set to a positive number of milliseconds (tests shorten it).
    pub fn remote_poll(&self) -> Option<std::time::Duration> {
        self.var("APPSTRATE_REMOTE_POLL_MS")
            .and_then(|v| v.trim().parse::<u64>().ok())
            .filter(|ms| *ms > 0)
            .map(std::time::Duration::from_millis)
    }

    /// `APPSTRATE_HTTP_TIMEOUT`: seconds before a request to the instance
    /// gives up (slow links, tests), else [`crate::http::DEFAULT_TIMEOUT`].
    pub fn http_timeout(&self) -> std::time::Duration {
        self.var("APPSTRATE_HTTP_TIMEOUT")
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|v| v.is_finite() && *v > 0.0)
            .map(std::time::Duration::from_secs_f64)
            .unwrap_or(crate::http::DEFAULT_TIMEOUT)
    }

    /// A graphical session to open a browser in: `DISPLAY` or
    /// `WAYLAND_DISPLAY` is set (only Linux is ever without one).
    pub fn has_display(&self) -> bool {
        !cfg!(target_os = "linux")
            || self.var("DISPLAY").is_some()
            || self.var("WAYLAND_DISPLAY").is_some()
    }

    /// The variable `name` trimmed, when that leaves something.
    pub fn var_trimmed(&self, name: &str) -> Option<String> {
        self.var(name)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    }

    /// The variable `name` when set and not empty.
    pub fn var_non_empty(&self, name: &str) -> Option<&str> {
        self.var(name).filter(|v| !v.is_empty())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_and_debug_without_values() {
        let mut env = Env::default();
        env.vars.insert("A".into(), "  x ".into());
        env.vars.insert("EMPTY".into(), String::new());
        env.vars.insert("SECRET_KEY".into(), "sk-live-123".into());
        assert_eq!(env.var("A"), Some("  x "));
        assert_eq!(env.var_trimmed("A").as_deref(), Some("x"));
        assert_eq!(env.var("EMPTY"), None);
        assert_eq!(env.var_non_empty("EMPTY"), None);
        assert_eq!(env.var_trimmed("MISSING"), None);
        let debug = format!("{env:?}");
        assert!(debug.contains("SECRET_KEY") && !debug.contains("sk-live-123"));
    }

    #[test]
    fn http_timeout_takes_positive_seconds_only() {
        let mut env = Env::default();
        assert_eq!(env.http_timeout(), crate::http::DEFAULT_TIMEOUT);
        env.set_var("APPSTRATE_HTTP_TIMEOUT", "2.5");
        assert_eq!(env.http_timeout(), std::time::Duration::from_millis(2500));
        for bad in ["0", "-1", "soon", "inf", "NaN"] {
            env.set_var("APPSTRATE_HTTP_TIMEOUT", bad);
            assert_eq!(env.http_timeout(), crate::http::DEFAULT_TIMEOUT, "{bad}");
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_display_needs_one_of_the_two_variables() {
        let mut env = Env::default();
        assert!(!env.has_display());
        env.set_var("DISPLAY", "");
        assert!(!env.has_display());
        env.set_var("WAYLAND_DISPLAY", "wayland-0");
        assert!(env.has_display());
    }

    /// Files that may still read the process environment themselves: this
    /// module (the snapshot), the test kit, and the two reads of the agent
    /// crate not yet moved onto an `Env` (its tools' `HOME` and the bash
    /// tool's environment scrub).
    const MAY_READ_THE_PROCESS_ENVIRONMENT: &[&str] =
        &["crates/platform/src/env.rs", "crates/testkit/"];

    /// Every other source file takes its variables from an [`Env`]: a read
    /// behind the snapshot's back is invisible to tests that build one.
    #[test]
    fn only_the_snapshot_reads_the_process_environment() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let mut offenders = Vec::new();
        let mut stack = vec![root.join("crates")];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).expect("read the crates folder") {
                let path = entry.expect("list the crates folder").path();
                let relative = path.strip_prefix(&root).unwrap_or(&path);
                let relative = relative.to_string_lossy().replace('\\', "/");
                if path.is_dir() {
                    stack.push(path);
                    continue;
                }
                let in_src = relative.split('/').nth(2) == Some("src");
                if !in_src
                    || !relative.ends_with(".rs")
                    || MAY_READ_THE_PROCESS_ENVIRONMENT
                        .iter()
                        .any(|allowed| relative.starts_with(allowed))
                {
                    continue;
                }
                let text = std::fs::read_to_string(&path).expect("read a source file");
                for (n, line) in text.lines().enumerate() {
                    let code = line.split("//").next().unwrap_or_default();
                    if ["env::var", "env::home_dir", "vars_os("]
                        .iter()
                        .any(|read| code.contains(read))
                    {
                        offenders.push(format!("{relative}:{}: {}", n + 1, line.trim()));
                    }
                }
            }
        }
        assert!(
            offenders.is_empty(),
            "read the variable through platform::Env instead:\n{}",
            offenders.join("\n")
        );
    }
}
