//! A signed-in profile in an isolated HOME for `appstrate api` tests: a
//! `config.toml` row pointing at a test server and a `credentials.json`
//! record whose access token is valid for an hour (so no refresh happens).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use appstrate_testkit::test_env;
use assert_cmd::Command;

/// The access token every test stores; it must never be printed.
pub const TOKEN: &str = "eyJhbGciOiJFUzI1NiJ9.TOPSECRET-ACCESS-TOKEN-d41d8cd9.c2ln";
pub const MARKER: &str = "TOPSECRET";

pub struct ApiEnv {
    pub home: tempfile::TempDir,
}

fn write_private(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .unwrap_or_else(|e| panic!("chmod: {e}"));
}

impl ApiEnv {
    /// A profile `default` on `instance`, with org and app pinned.
    pub fn new(instance: &str) -> ApiEnv {
        Self::with_profile("default", instance, Some("org_42"), Some("app_7"))
    }

    pub fn with_profile(
        name: &str,
        instance: &str,
        org: Option<&str>,
        app: Option<&str>,
    ) -> ApiEnv {
        let env = ApiEnv {
            home: tempfile::tempdir().unwrap_or_else(|e| panic!("{e}")),
        };
        env.add_profile(name, instance, org, app, true);
        env
    }

    pub fn config_dir(&self) -> PathBuf {
        test_env::config_home(self.home.path()).join("appstrate")
    }

    /// Adds a profile row (and tokens when `tokens`).
    pub fn add_profile(
        &self,
        name: &str,
        instance: &str,
        org: Option<&str>,
        app: Option<&str>,
        tokens: bool,
    ) {
        let dir = self.config_dir();
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
            .unwrap_or_else(|e| panic!("{e}"));
        let cfg = dir.join("config.toml");
        let mut text = std::fs::read_to_string(&cfg).unwrap_or_default();
        if text.is_empty() {
            text.push_str(&format!("defaultProfile = \"{name}\"\n\n[profile]\n"));
        }
        text.push_str(&format!(
            "[profile.{name}]\ninstance = \"{instance}\"\nuserId = \"u1\"\nemail = \"a@b.c\"\n"
        ));
        if let Some(org) = org {
            text.push_str(&format!("orgId = \"{org}\"\n"));
        }
        if let Some(app) = app {
            text.push_str(&format!("applicationId = \"{app}\"\n"));
        }
        text.push('\n');
        write_private(&cfg, &text);
        if tokens {
            self.store_tokens(name, TOKEN, 3_600_000, "refresh-TOPSECRET-never-used");
        }
    }

    /// Writes a token record; `expires_in_ms` may be negative (expired).
    pub fn store_tokens(&self, name: &str, access: &str, expires_in_ms: i64, refresh: &str) {
        let dir = self.config_dir();
        {
            let creds = dir.join("credentials.json");
            let mut store: serde_json::Map<String, serde_json::Value> =
                std::fs::read_to_string(&creds)
                    .ok()
                    .and_then(|t| serde_json::from_str(&t).ok())
                    .unwrap_or_default();
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() as i64)
                .unwrap_or(0);
            store.insert(
                name.to_string(),
                serde_json::json!({
                    "accessToken": access,
                    "expiresAt": now + expires_in_ms,
                    "refreshToken": refresh,
                    "refreshExpiresAt": now + 86_400_000,
                }),
            );
            write_private(
                &creds,
                &serde_json::to_string_pretty(&store).unwrap_or_default(),
            );
        }
    }

    /// `appstrate api <args…>` in this environment.
    pub fn api(&self, args: &[&str]) -> Command {
        let mut cmd = self.cmd();
        cmd.arg("api").args(args);
        cmd
    }

    pub fn cmd(&self) -> Command {
        Command::from_std(self.std_cmd())
    }

    /// The same environment for a `std::process::Command`.
    pub fn std_cmd(&self) -> std::process::Command {
        test_env::isolated_command(
            assert_cmd::cargo::cargo_bin("appstrate"),
            self.home.path(),
            &test_env::outer_path(),
        )
    }
}

/// Panics if the token (or its refresh token) shows in `text`.
pub fn assert_no_secret(what: &str, text: &[u8]) {
    let text = String::from_utf8_lossy(text);
    assert!(!text.contains(MARKER), "secret leaked in {what}: {text}");
}

/// A child's stdout, decoded leniently (a test then says what it expected).
pub fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A child's stderr, decoded leniently.
pub fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}
