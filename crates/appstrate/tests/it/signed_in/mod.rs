//! A signed-in profile against the fake instance, in an isolated home:
//! `config.toml` and `credentials.json` (0600 in a 0700 dir) written the
//! way `login` writes them, with tokens the fake issued. No D-Bus session
//! bus is visible, so the file credential store is used.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

pub use crate::support::{stderr, stdout};
use appstrate_testkit::fake_instance::{FakeInstance, Role};
use appstrate_testkit::test_env;
use serde_json::{Value, json};
use tempfile::TempDir;

pub struct SignedIn {
    pub fake: FakeInstance,
    pub home: TempDir,
    pub user: String,
    /// Org "Acme" (`acme`): apps "Main" (default) and "Side".
    pub acme: String,
    pub acme_main: String,
    pub acme_side: String,
    /// Org "Beta" (`beta`): one app "Solo", not marked default.
    pub beta: String,
    pub beta_solo: String,
    /// Org "Gamma" (`gamma`): two apps, none default.
    pub gamma: String,
}

impl SignedIn {
    /// Signed in as the default profile, pinned to Acme / Main.
    pub fn new() -> Self {
        let fake = FakeInstance::builder().interval(0).start();
        let user = fake.add_user("alice@example.com");
        let acme = fake.add_org(&user, "Acme", "acme", Role::Owner);
        let acme_main = fake.add_app(&acme, "Main", true);
        let acme_side = fake.add_app(&acme, "Side", false);
        let beta = fake.add_org(&user, "Beta", "beta", Role::Owner);
        let beta_solo = fake.add_app(&beta, "Solo", false);
        let gamma = fake.add_org(&user, "Gamma", "gamma", Role::Owner);
        fake.add_app(&gamma, "G1", false);
        fake.add_app(&gamma, "G2", false);
        let home = tempfile::tempdir().expect("temp home");
        let env = SignedIn {
            fake,
            home,
            user,
            acme,
            acme_main,
            acme_side,
            beta,
            beta_solo,
            gamma,
        };
        env.sign_in(
            "default",
            Some(&env.acme.clone()),
            Some(&env.acme_main.clone()),
        );
        env
    }

    pub fn config_dir(&self) -> PathBuf {
        test_env::config_home(self.home.path()).join("appstrate")
    }

    pub fn cache_dir(&self) -> PathBuf {
        test_env::cache_home(self.home.path()).join("appstrate")
    }

    /// Writes the profile row and fresh tokens for `profile`.
    pub fn sign_in(&self, profile: &str, org: Option<&str>, app: Option<&str>) {
        let dir = self.config_dir();
        fs::create_dir_all(&dir).expect("config dir");
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).expect("chmod 700");
        self.write_profile(profile, org, app);
        let (access, refresh) = self.fake.issue_tokens(&self.user);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        let path = dir.join("credentials.json");
        let mut store: serde_json::Map<String, Value> = fs::read_to_string(&path)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default();
        store.insert(
            profile.into(),
            json!({"accessToken": access, "expiresAt": now + 900_000,
                   "refreshToken": refresh, "refreshExpiresAt": now + 2_592_000_000i64}),
        );
        fs::write(&path, Value::Object(store).to_string()).expect("credentials.json");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).expect("chmod 600");
    }

    /// Rewrites `config.toml` with this one profile row (the default).
    pub fn write_profile(&self, profile: &str, org: Option<&str>, app: Option<&str>) {
        let mut text = format!(
            "defaultProfile = \"{profile}\"\n\n[profile.\"{profile}\"]\ninstance = \"{}\"\nuserId = \"{}\"\nemail = \"alice@example.com\"\n",
            self.fake.url(),
            self.user
        );
        if let Some(org) = org {
            text.push_str(&format!("orgId = \"{org}\"\n"));
        }
        if let Some(app) = app {
            text.push_str(&format!("applicationId = \"{app}\"\n"));
        }
        let path = self.config_dir().join("config.toml");
        fs::write(&path, text).expect("config.toml");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).expect("chmod 600");
    }

    pub fn config_text(&self) -> String {
        fs::read_to_string(self.config_dir().join("config.toml")).unwrap_or_default()
    }

    /// The value of `key` in the config file (`None` when absent).
    pub fn config_value(&self, key: &str) -> Option<String> {
        self.config_text().lines().find_map(|line| {
            let (k, v) = line.split_once(" = ")?;
            (k.trim() == key).then(|| v.trim().trim_matches('"').to_string())
        })
    }

    /// The binary with this isolated environment.
    pub fn cmd(&self) -> assert_cmd::Command {
        assert_cmd::Command::from_std(self.std_cmd())
    }

    /// The variables of this isolated environment, for tests that build
    /// their own command (async runs, `/usr/bin/time`).
    pub fn envs(&self) -> Vec<(String, String)> {
        self.std_cmd()
            .get_envs()
            .filter_map(|(k, v)| {
                Some((
                    k.to_string_lossy().into_owned(),
                    v?.to_string_lossy().into_owned(),
                ))
            })
            .collect()
    }

    /// The same environment for a `std::process::Command` (pty tests).
    pub fn std_cmd(&self) -> std::process::Command {
        test_env::isolated_command(
            assert_cmd::cargo::cargo_bin("appstrate"),
            self.home.path(),
            &test_env::outer_path(),
        )
    }
}
