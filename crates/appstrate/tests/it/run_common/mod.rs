//! What the `appstrate run` binary tests share: an isolated home, the binary
//! with a clean environment, packages written on the fly, JSONL helpers.
//! Each test file adds the API keys and flags of the protocol it drives.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub use crate::support::{stderr, stdout};
use appstrate_testkit::model_server::ModelServer;
use serde_json::Value;

pub const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/run");

pub fn fixture(name: &str) -> PathBuf {
    Path::new(FIXTURES).join(name)
}

/// A fixture path as a command-line argument.
pub fn fixture_arg(name: &str) -> String {
    fixture(name).to_str().expect("utf-8 path").to_string()
}

pub struct RunEnv {
    pub home: tempfile::TempDir,
}

impl RunEnv {
    pub fn new() -> Self {
        RunEnv {
            home: tempfile::tempdir().expect("tempdir"),
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.home.path().join(rel)
    }

    /// The binary with nothing from the outer environment but `PATH` (the
    /// shared isolation of `appstrate_testkit::test_env`), and the model
    /// server's URL when given.
    pub fn base_command(&self, server: Option<&ModelServer>) -> Command {
        let mut c = appstrate_testkit::test_env::isolated_command(
            assert_cmd::cargo::cargo_bin("appstrate"),
            self.home.path(),
            &appstrate_testkit::test_env::outer_path(),
        );
        if let Some(s) = server {
            c.env("APPSTRATE_LLM_BASE_URL", s.url());
        }
        c
    }

    /// Writes a one-package `.afps` (manifest + prompt) into the home.
    pub fn write_package(&self, file_name: &str, manifest: &Value, prompt: &str) -> PathBuf {
        let files = vec![
            (
                "manifest.json".to_string(),
                serde_json::to_vec_pretty(manifest).expect("json"),
            ),
            ("prompt.md".to_string(), prompt.as_bytes().to_vec()),
        ];
        let path = self.path(file_name);
        std::fs::write(&path, appstrate_afps::write_stored_zip(&files)).expect("write package");
        path
    }
}

/// Runs the command off the async runtime so the model server keeps serving.
pub async fn output(mut c: Command) -> Output {
    tokio::task::spawn_blocking(move || c.output().expect("run appstrate"))
        .await
        .expect("join")
}

pub fn jsonl(o: &Output) -> Vec<Value> {
    stdout(o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect()
}

/// `type` + message (`runtime ready in Nms` masked) of each event.
pub fn sequence(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| {
            let ty = e["type"].as_str().unwrap_or("");
            let msg = e["message"].as_str().unwrap_or("");
            let msg = if msg.starts_with("runtime ready in ") {
                "runtime ready"
            } else {
                msg
            };
            if msg.is_empty() {
                ty.to_string()
            } else {
                format!("{ty} {msg}")
            }
        })
        .collect()
}
