//! An isolated world for one test of the built binary (jj's `TestEnvironment`):
//! its own HOME, config, cache, runtime and temp directories, no D-Bus
//! session (so the credential store is the 0600 file unless a test brings a
//! Secret Service), no browser, no dual-install check, no colour.
//!
//! [`isolate`] is the one place that clears a command's environment; every
//! test helper (this [`TestEnv`], and the signed-in, `api`, `run` and
//! self-hosting sandboxes of the binary's tests) goes through it, so they
//! differ only in the `PATH` and the extra variables they choose.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::json;

/// `$XDG_CONFIG_HOME` inside an isolated `home` (laid out like a real one).
pub fn config_home(home: &Path) -> PathBuf {
    home.join(".config")
}

/// `$XDG_CACHE_HOME` inside an isolated `home`.
pub fn cache_home(home: &Path) -> PathBuf {
    home.join(".cache")
}

/// The test process's own `PATH`, for tests that run no outside program.
pub fn outer_path() -> OsString {
    std::env::var_os("PATH").unwrap_or_default()
}

/// Clears `cmd`'s environment and gives it `home` and `path` only: HOME and
/// the XDG directories inside `home` (`XDG_RUNTIME_DIR` too, so no D-Bus
/// session bus is found at its default address), `TMPDIR` = `home`, no
/// browser, no dual-install check, `NO_COLOR=1`; the working directory is
/// `home`. Callers add what their test means on top.
pub fn isolate<'c>(cmd: &'c mut Command, home: &Path, path: &OsStr) -> &'c mut Command {
    let runtime = home.join(".run");
    let _ = std::fs::create_dir_all(&runtime);
    cmd.env_clear()
        .env("PATH", path)
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", config_home(home))
        .env("XDG_CACHE_HOME", cache_home(home))
        .env("XDG_RUNTIME_DIR", runtime)
        .env("TMPDIR", home)
        .env("APPSTRATE_CLI_NO_OPEN", "1")
        .env("APPSTRATE_NO_DUAL_INSTALL_CHECK", "1")
        .env("NO_COLOR", "1")
        .current_dir(home)
}

/// A command for the binary at `bin`, isolated in `home` with `path`.
pub fn isolated_command(bin: impl AsRef<Path>, home: &Path, path: &OsStr) -> Command {
    let mut cmd = Command::new(bin.as_ref());
    isolate(&mut cmd, home, path);
    cmd
}

pub struct TestEnv {
    home: tempfile::TempDir,
    extra_env: Vec<(String, String)>,
}

impl Default for TestEnv {
    fn default() -> Self {
        Self::new()
    }
}

impl TestEnv {
    pub fn new() -> Self {
        TestEnv {
            home: tempfile::tempdir().expect("create a temporary HOME"),
            extra_env: Vec::new(),
        }
    }

    pub fn home(&self) -> &Path {
        self.home.path()
    }

    /// `$XDG_CONFIG_HOME/appstrate`.
    pub fn config_dir(&self) -> PathBuf {
        config_home(self.home()).join("appstrate")
    }

    pub fn cache_dir(&self) -> PathBuf {
        cache_home(self.home()).join("appstrate")
    }

    pub fn config_path(&self) -> PathBuf {
        self.config_dir().join("config.toml")
    }

    pub fn credentials_path(&self) -> PathBuf {
        self.config_dir().join("credentials.json")
    }

    /// Adds a variable to every command this environment builds.
    pub fn set_env(&mut self, key: &str, value: &str) {
        self.extra_env.push((key.into(), value.into()));
    }

    /// The binary at `bin` with this environment (pass
    /// `env!("CARGO_BIN_EXE_appstrate")`) and the test process's `PATH`.
    pub fn command(&self, bin: impl AsRef<Path>) -> Command {
        let mut cmd = isolated_command(bin, self.home(), &outer_path());
        cmd.envs(self.extra_env.iter().map(|(k, v)| (k, v)));
        cmd
    }

    /// Writes a signed-in state for `profile` the way `login` leaves it:
    /// a config row and a `credentials.json` record (0600 in a 0700 dir).
    #[allow(clippy::too_many_arguments)]
    pub fn seed_login(
        &self,
        profile: &str,
        instance: &str,
        user_id: &str,
        email: &str,
        org_id: Option<&str>,
        app_id: Option<&str>,
        access: &str,
        refresh: &str,
    ) {
        let now = now_ms();
        self.seed_tokens(
            profile,
            access,
            now + 900_000,
            Some((refresh, now + 30 * 86_400_000)),
        );
        let mut row = format!(
            "[profile.\"{profile}\"]\ninstance = \"{instance}\"\nuserId = \"{user_id}\"\nemail = \"{email}\"\n"
        );
        if let Some(org) = org_id {
            row.push_str(&format!("orgId = \"{org}\"\n"));
        }
        if let Some(app) = app_id {
            row.push_str(&format!("applicationId = \"{app}\"\n"));
        }
        let text = format!("defaultProfile = \"{profile}\"\n\n{row}");
        write_private(&self.config_path(), text.as_bytes());
    }

    /// Writes (or replaces) the token record of `profile` in credentials.json.
    pub fn seed_tokens(
        &self,
        profile: &str,
        access: &str,
        expires_at: i64,
        refresh: Option<(&str, i64)>,
    ) {
        let path = self.credentials_path();
        let mut store: serde_json::Map<String, serde_json::Value> = std::fs::read_to_string(&path)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default();
        let mut record = json!({ "accessToken": access, "expiresAt": expires_at });
        if let Some((token, exp)) = refresh {
            record["refreshToken"] = json!(token);
            record["refreshExpiresAt"] = json!(exp);
        }
        store.insert(profile.into(), record);
        let text = serde_json::to_string_pretty(&store).expect("serialise credentials");
        write_private(&path, text.as_bytes());
    }
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Writes a file 0600 in a 0700 directory (creating it).
pub fn write_private(path: &Path, bytes: &[u8]) {
    let dir = path.parent().expect("a file path");
    std::fs::create_dir_all(dir).expect("create dir");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).expect("chmod dir");
        std::fs::write(path, bytes).expect("write file");
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).expect("chmod file");
    }
    #[cfg(not(unix))]
    std::fs::write(path, bytes).expect("write file");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn isolate_keeps_nothing_of_the_outer_environment_but_what_it_sets() {
        // Cargo sets CARGO_MANIFEST_DIR for the test process; the isolated
        // child must not see it.
        assert!(std::env::var_os("CARGO_MANIFEST_DIR").is_some());
        let home = tempfile::tempdir().expect("temp home");
        let out = isolated_command("/bin/sh", home.path(), OsStr::new("/nonexistent"))
            .args([
                "-c",
                "printf '%s|%s|%s|%s|%s|%s|%s' \"$PATH\" \"$HOME\" \"$XDG_CONFIG_HOME\" \"$XDG_CACHE_HOME\" \"$NO_COLOR\" \"${CARGO_MANIFEST_DIR-unset}\" \"$(pwd -P)\"",
            ])
            .output()
            .expect("run /bin/sh");
        let home = home.path().canonicalize().expect("canonical home");
        let expected = format!(
            "/nonexistent|{h}|{h}/.config|{h}/.cache|1|unset|{h}",
            h = home.display()
        );
        assert_eq!(String::from_utf8_lossy(&out.stdout), expected);
    }
}
