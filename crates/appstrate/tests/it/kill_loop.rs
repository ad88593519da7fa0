//! SIGKILL at random moments in a loop of logins, switches, refreshes and
//! logouts against the fake instance. After every kill: `config.toml` and
//! `credentials.json` parse, the directory is 0700 and every file in it
//! 0600, the next write leaves no temp file behind, and the next command
//! works (or, when the kill lost a rotated refresh token, says to sign in
//! again and `login` works).
//!
//! The normal suite runs 60 kills; `APPSTRATE_KILL_LOOP=500 cargo nextest
//! run -p appstrate --test it kill_loop::` (or `bench/kill-loop.sh`) runs more.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

use crate::support::stderr;
use appstrate_platform::config::Config;
use appstrate_testkit::fake_instance::{Approval, FakeInstance, Role};
use appstrate_testkit::test_env::TestEnv;
use rand::Rng;

const BIN: &str = env!("CARGO_BIN_EXE_appstrate");

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .map(|m| m.permissions().mode() & 0o777)
        .unwrap_or(0)
}

/// What must hold at any instant, even right after a kill.
fn check_invariants(env: &TestEnv, context: &str) {
    let dir = env.config_dir();
    if !dir.exists() {
        return;
    }
    assert_eq!(mode(&dir), 0o700, "{context}: config dir mode");
    for entry in std::fs::read_dir(&dir).expect("read config dir").flatten() {
        let path = entry.path();
        assert_eq!(mode(&path), 0o600, "{context}: mode of {}", path.display());
    }
    if let Err(err) = Config::load(&dir) {
        panic!("{context}: config.toml does not parse: {err}");
    }
    if let Ok(text) = std::fs::read_to_string(env.credentials_path()) {
        let parsed: Result<serde_json::Map<String, serde_json::Value>, _> =
            serde_json::from_str(&text);
        assert!(
            parsed.is_ok(),
            "{context}: credentials.json does not parse: {text:?}"
        );
    }
}

fn temp_files(env: &TestEnv) -> Vec<String> {
    std::fs::read_dir(env.config_dir())
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".tmp"))
                .collect()
        })
        .unwrap_or_default()
}

#[derive(Default, Debug)]
struct Counts {
    started: usize,
    killed_while_running: usize,
    finished_before_kill: usize,
    sessions_invalidated: usize,
    relogins: usize,
    temps_left_by_kills: usize,
}

fn spawn(env: &TestEnv, args: &[String]) -> Child {
    env.command(BIN)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn appstrate")
}

fn run(env: &TestEnv, args: &[&str]) -> Output {
    env.command(BIN).args(args).output().expect("run appstrate")
}

#[test]
fn kill_9_at_random_moments_never_corrupts_state() {
    let target: usize = std::env::var("APPSTRATE_KILL_LOOP")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60);
    // Access tokens live 1 s: every command refreshes (rotates and writes).
    let fake = FakeInstance::builder().interval(0).access_ttl(1).start();
    let user = fake.add_user("alice@example.com");
    let acme = fake.add_org(&user, "Acme", "acme", Role::Owner);
    fake.add_app(&acme, "Main", true);
    let acme_side = fake.add_app(&acme, "Side", false);
    let beta = fake.add_org(&user, "Beta", "beta", Role::Owner);
    fake.add_app(&beta, "Solo", true);
    fake.set_approval(Approval::AutoApprove(user.clone()));
    let env = TestEnv::new();
    let url = fake.url().to_string();
    let commands: Vec<Vec<String>> = [
        vec!["login", "--instance", url.as_str(), "--org", "acme"],
        vec!["org", "switch", "beta"],
        vec!["org", "switch", "acme"],
        vec!["app", "switch", acme_side.as_str()],
        vec!["whoami"],
        vec!["logout"],
    ]
    .iter()
    .map(|c| c.iter().map(|s| s.to_string()).collect())
    .collect();

    let out = run(&env, &["login", "--instance", &url, "--org", "acme"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let mut rng = rand::rng();
    let mut counts = Counts::default();
    let started = Instant::now();
    while counts.killed_while_running < target {
        assert!(
            counts.started < target * 20,
            "too few kills landed: {counts:?}"
        );
        let args = &commands[rng.random_range(0..commands.len())];
        counts.started += 1;
        let mut child = spawn(&env, args);
        std::thread::sleep(Duration::from_micros(rng.random_range(0..60_000)));
        match child.try_wait().expect("try_wait") {
            Some(_) => counts.finished_before_kill += 1,
            None => {
                let _ = child.kill(); // SIGKILL
                counts.killed_while_running += 1;
            }
        }
        let _ = child.wait();
        let context = format!("after {:?} (#{})", args, counts.started);
        check_invariants(&env, &context);
        if !temp_files(&env).is_empty() {
            counts.temps_left_by_kills += 1;
        }

        // The next command works, or says to sign in again.
        let out = run(&env, &["whoami"]);
        if out.status.code() != Some(0) {
            let err = stderr(&out);
            assert!(
                err.contains("appstrate login"),
                "{context}: whoami failed without a way out: {err}"
            );
            if err.contains("no longer valid") {
                counts.sessions_invalidated += 1;
            }
            let out = run(&env, &["login", "--instance", &url, "--org", "acme"]);
            assert_eq!(out.status.code(), Some(0), "{context}: {}", stderr(&out));
            counts.relogins += 1;
        }
        // A config write sweeps what the killed writer left (two switches:
        // at least one of them changes the file).
        for org in ["beta", "acme"] {
            let out = run(&env, &["org", "switch", org]);
            assert_eq!(out.status.code(), Some(0), "{context}: {}", stderr(&out));
        }
        check_invariants(&env, &context);
        assert_eq!(temp_files(&env), Vec::<String>::new(), "{context}");
    }
    eprintln!("kill loop: {counts:?} in {:?}", started.elapsed());
}
