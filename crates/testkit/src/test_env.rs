//! An isolated world for one test of the built binary (jj's `TestEnvironment`):
//! its own HOME, config and cache directories, no D-Bus session (so the
//! credential store is the 0600 file unless a test brings a Secret Service),
//! no browser, no colour.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::json;

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
        self.home().join("config").join("appstrate")
    }

    pub fn cache_dir(&self) -> PathBuf {
        self.home().join("cache").join("appstrate")
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
    /// `env!("CARGO_BIN_EXE_appstrate")`).
    pub fn command(&self, bin: impl AsRef<Path>) -> Command {
        let mut cmd = Command::new(bin.as_ref());
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.home())
            .env("XDG_CONFIG_HOME", self.home().join("config"))
            .env("XDG_CACHE_HOME", self.home().join("cache"))
            .env("APPSTRATE_CLI_NO_OPEN", "1")
            .env("APPSTRATE_NO_DUAL_INSTALL_CHECK", "1")
            .env("NO_COLOR", "1")
            .current_dir(self.home());
        for (k, v) in &self.extra_env {
            cmd.env(k, v);
        }
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
