//! Hostile and broken servers, killed writers and racing commands: the
//! binary never sends a credential to another origin, never holds an
//! unbounded reply, never leaves a token on disk after logout, and says
//! what went wrong in one line.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::support::{stderr, stdout};
use appstrate_testkit::fake_instance::{Approval, FakeInstance, Fault, Role};
use appstrate_testkit::recorder::Recorder;
use appstrate_testkit::test_env::{TestEnv, now_ms};

const BIN: &str = env!("CARGO_BIN_EXE_appstrate");

fn run(env: &TestEnv, args: &[&str]) -> Output {
    env.command(BIN).args(args).output().expect("run appstrate")
}

/// A fake with one auto-approving user in org Acme (apps Main, default).
fn fake_with_user() -> (FakeInstance, String, String) {
    let fake = FakeInstance::builder().interval(0).start();
    let user = fake.add_user("alice@example.com");
    let org = fake.add_org(&user, "Acme", "acme", Role::Owner);
    fake.add_app(&org, "Main", true);
    fake.set_approval(Approval::AutoApprove(user.clone()));
    (fake, user, org)
}

/// A signed-in default profile pinned to `org` (no app).
fn signed_in(fake: &FakeInstance, user: &str, org: &str) -> (TestEnv, String, String) {
    let env = TestEnv::new();
    let (access, refresh) = fake.issue_tokens(user);
    env.seed_login(
        "default",
        fake.url(),
        user,
        "alice@example.com",
        Some(org),
        None,
        &access,
        &refresh,
    );
    (env, access, refresh)
}

/// Nothing reached the other origin: no request at all, so no header and
/// no body could carry a credential there.
fn assert_untouched(other: &Recorder, what: &str) {
    let seen = other.requests();
    assert!(
        seen.is_empty(),
        "{what}: the other origin received {} request(s): {:?}",
        seen.len(),
        seen.iter()
            .map(|r| (r.method.clone(), r.target.clone(), r.headers.clone()))
            .collect::<Vec<_>>()
    );
}

fn assert_redirect_refused(out: &Output, status: u16, location: &str, what: &str) {
    let err = stderr(out);
    assert_ne!(out.status.code(), Some(0), "{what}: {err}");
    assert!(
        err.contains(&format!("answered {status}")) && err.contains(location),
        "{what}: the error names the status and where it pointed: {err}"
    );
    assert!(err.contains("does not follow redirects"), "{what}: {err}");
}

#[test]
fn redirects_from_the_instance_never_carry_the_bearer_elsewhere() {
    let (fake, user, org) = fake_with_user();
    let (env, access, _) = signed_in(&fake, &user, &org);
    let other = Recorder::start();
    let hop = format!("{}/redirect/302?to=/final", other.url());
    for (path, args) in [
        ("/api/profile", vec!["whoami"]),
        ("/api/orgs", vec!["org", "list"]),
        ("/api/applications", vec!["app", "list"]),
        ("/api/models", vec!["models", "list"]),
        ("/api/openapi.json", vec!["openapi", "list", "--no-cache"]),
    ] {
        fake.clear_faults();
        fake.inject(Fault::redirect(path, 302, &hop));
        let out = run(&env, &args);
        assert_redirect_refused(&out, 302, &hop, path);
        assert!(!stderr(&out).contains(&access) && !stdout(&out).contains(&access));
        assert_untouched(&other, path);
    }
    // A redirect to a path of the same origin is refused as well: the
    // instance URL is wrong, and following would hide that.
    fake.clear_faults();
    fake.inject(Fault::redirect("/api/profile", 301, "/elsewhere"));
    let out = run(&env, &["whoami"]);
    assert_redirect_refused(
        &out,
        301,
        &format!("{}/elsewhere", fake.url()),
        "same origin",
    );
    assert_eq!(fake.count("GET", "/elsewhere"), 0);
}

#[test]
fn a_redirected_refresh_never_forwards_the_refresh_token() {
    let (fake, user, org) = fake_with_user();
    let (env, access, refresh) = signed_in(&fake, &user, &org);
    env.seed_tokens(
        "default",
        &access,
        now_ms() - 1,
        Some((&refresh, now_ms() + 86_400_000)),
    );
    let other = Recorder::start();
    let steal = format!("{}/steal", other.url());
    fake.inject(
        Fault::redirect("/api/auth/cli/token", 307, &steal)
            .body_contains("grant_type=refresh_token"),
    );
    let out = run(&env, &["whoami"]);
    assert_redirect_refused(&out, 307, &steal, "refresh");
    assert_untouched(&other, "refresh");
    assert!(!stderr(&out).contains(&refresh));
    // Not the server's verdict on the token: it is kept for a retry.
    let creds = std::fs::read_to_string(env.credentials_path()).unwrap_or_default();
    assert!(creds.contains(&refresh), "refresh token kept");
}

#[test]
fn redirected_device_flow_and_revoke_are_refused() {
    let (fake, _user, _org) = fake_with_user();
    let other = Recorder::start();
    let steal = format!("{}/steal", other.url());
    let env = TestEnv::new();

    fake.inject(Fault::redirect("/api/auth/device/code", 307, &steal));
    let out = run(&env, &["login", "--instance", fake.url()]);
    assert_redirect_refused(&out, 307, &steal, "device code");
    assert_untouched(&other, "device code");

    fake.clear_faults();
    fake.inject(Fault::redirect("/api/auth/cli/token", 307, &steal).body_contains("device_code="));
    let out = run(&env, &["login", "--instance", fake.url()]);
    assert_redirect_refused(&out, 307, &steal, "device poll");
    assert_untouched(&other, "device poll");

    fake.clear_faults();
    let out = run(&env, &["login", "--instance", fake.url()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    fake.inject(Fault::redirect("/api/auth/cli/revoke", 307, &steal));
    let out = run(&env, &["logout"]);
    assert!(
        stderr(&out).contains("does not follow redirects"),
        "{}",
        stderr(&out)
    );
    assert_untouched(&other, "revoke");
    assert!(
        !env.credentials_path().exists()
            || !std::fs::read_to_string(env.credentials_path())
                .unwrap_or_default()
                .contains("refreshToken"),
        "local state wiped anyway"
    );

    // logout --all: the session routes are refused the same way.
    let out = run(&env, &["login", "--instance", fake.url()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    fake.clear_faults();
    fake.inject(Fault::redirect(
        "/api/auth/cli/sessions/revoke-all",
        307,
        &steal,
    ));
    fake.inject(Fault::redirect("/api/orgs/*", 307, &steal));
    fake.inject(Fault::redirect("/api/auth/cli/revoke", 307, &steal));
    let _ = run(&env, &["logout", "--all"]);
    assert_untouched(&other, "logout --all");
}

#[test]
fn oversized_replies_are_one_line_errors() {
    let (fake, user, org) = fake_with_user();
    let (env, access, refresh) = signed_in(&fake, &user, &org);
    const GIB: u64 = 1 << 30;
    for declare_length in [true, false] {
        fake.clear_faults();
        fake.inject(Fault::huge("/api/profile", GIB, declare_length));
        let started = Instant::now();
        let out = run(&env, &["whoami"]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(
            err.contains("larger than 16 MiB") && err.contains("/api/profile"),
            "{err}"
        );
        assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "stopped reading early"
        );
    }
    // The OpenAPI document has a larger cap, still a cap.
    fake.clear_faults();
    fake.inject(Fault::huge("/api/openapi.json", GIB, false));
    let out = run(&env, &["openapi", "list", "--no-cache"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("larger than 64 MiB"),
        "{}",
        stderr(&out)
    );
    // And so are the token endpoint's replies.
    fake.clear_faults();
    env.seed_tokens(
        "default",
        &access,
        now_ms() - 1,
        Some((&refresh, now_ms() + 86_400_000)),
    );
    fake.inject(Fault::huge("/api/auth/cli/token", GIB, false));
    let out = run(&env, &["whoami"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("larger than 16 MiB"),
        "{}",
        stderr(&out)
    );
}

/// A pid that no process has: a child we started and reaped.
fn dead_pid() -> u32 {
    let mut child = Command::new("true").spawn().expect("spawn true");
    let pid = child.id();
    child.wait().expect("reap");
    pid
}

fn temp_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".tmp"))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn temp_files_of_killed_writers_are_swept() {
    let (fake, user, org) = fake_with_user();
    let (env, _, refresh) = signed_in(&fake, &user, &org);
    let dir = env.config_dir();
    let dead = dead_pid();
    let stale_creds = dir.join(format!(
        "credentials.json.{dead}.1700000000000.0badc0de.tmp"
    ));
    let stale_config = dir.join(format!("config.toml.{dead}.1700000000000.0badc0de.tmp"));
    // A writer that is still running (this test) keeps its temp file.
    let live = dir.join(format!(
        "config.toml.{}.1700000000000.00000001.tmp",
        std::process::id()
    ));
    for path in [&stale_creds, &stale_config, &live] {
        std::fs::write(
            path,
            format!("{{\"default\":{{\"refreshToken\":\"{refresh}\"}}}}"),
        )
        .expect("plant temp");
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }
    let out = run(&env, &["org", "switch", "acme"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        !stale_config.exists(),
        "the next write sweeps dead writers' temps"
    );
    assert!(live.exists(), "a live writer's temp is left alone");
    std::fs::remove_file(&live).expect("remove live temp");

    let out = run(&env, &["logout"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(temp_files(&dir).is_empty(), "{:?}", temp_files(&dir));
}

/// Every file under `dir`, recursively, with its text.
fn all_files(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.filter_map(|e| e.ok()) {
        let path = entry.path();
        if path.is_dir() {
            out.extend(all_files(&path));
        } else {
            let text =
                String::from_utf8_lossy(&std::fs::read(&path).unwrap_or_default()).into_owned();
            out.push((path.display().to_string(), text));
        }
    }
    out
}

#[test]
fn no_file_holds_a_token_after_logout() {
    let (fake, _user, _org) = fake_with_user();
    let env = TestEnv::new();
    let out = run(&env, &["login", "--instance", fake.url()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // A refresh (lock file), an OpenAPI fetch (cache), a pin (config write).
    fake.expire_access_tokens();
    for args in [vec!["whoami"], vec!["openapi", "list"], vec!["app", "list"]] {
        let out = run(&env, &args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
    }
    let out = run(&env, &["logout"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // Every refresh token the CLI sent, every bearer it used.
    let mut issued: Vec<String> = Vec::new();
    for request in fake.requests() {
        issued.extend(request.form().into_iter().map(|(_, v)| v));
        if let Some(bearer) = request
            .header("authorization")
            .and_then(|v| v.strip_prefix("Bearer "))
        {
            issued.push(bearer.to_string());
        }
    }
    issued.retain(|v| v.len() >= 32);
    assert!(issued.len() >= 3, "the scenario used tokens: {issued:?}");
    for (path, text) in all_files(env.home()) {
        for token in &issued {
            assert!(!text.contains(token.as_str()), "{path} holds a token");
        }
    }
}

#[test]
fn app_switch_racing_org_switch_never_pins_an_app_of_the_other_org() {
    let fake = FakeInstance::builder().interval(0).start();
    let user = fake.add_user("alice@example.com");
    let acme = fake.add_org(&user, "Acme", "acme", Role::Owner);
    fake.add_app(&acme, "Main", true);
    let acme_side = fake.add_app(&acme, "Side", false);
    let beta = fake.add_org(&user, "Beta", "beta", Role::Owner);
    let beta_solo = fake.add_app(&beta, "Solo", true);
    let (env, _, _) = signed_in(&fake, &user, &acme);
    fake.inject(Fault::delay("/api/applications", Duration::from_millis(700)).times(1));
    let app_switch = env
        .command(BIN)
        .args(["app", "switch", &acme_side])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn app switch");
    let deadline = Instant::now() + Duration::from_secs(10);
    while fake.count("GET", "/api/applications") == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = run(&env, &["org", "switch", "beta"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let app_out = app_switch.wait_with_output().expect("app switch");
    let config = std::fs::read_to_string(env.config_path()).unwrap_or_default();
    assert!(config.contains(&format!("orgId = \"{beta}\"")), "{config}");
    assert!(
        !config.contains(&acme_side),
        "an app of Acme pinned under Beta: {config}"
    );
    assert!(config.contains(&beta_solo), "{config}");
    assert_eq!(app_out.status.code(), Some(1), "{}", stderr(&app_out));
    assert!(
        stderr(&app_out).contains("organization changed"),
        "{}",
        stderr(&app_out)
    );
}

#[test]
fn token_endpoint_replies_that_are_not_oauth_say_what_happened() {
    let (fake, user, org) = fake_with_user();
    let (env, access, refresh) = signed_in(&fake, &user, &org);
    env.seed_tokens(
        "default",
        &access,
        now_ms() - 1,
        Some((&refresh, now_ms() + 86_400_000)),
    );
    fake.inject(Fault::non_json("/api/auth/cli/token", 502).times(1));
    let out = run(&env, &["whoami"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(!err.contains("malformed"), "{err}");
    assert!(err.contains("502") && err.contains("text/html"), "{err}");

    fake.inject(Fault::status("/api/auth/device/code", 503).times(1));
    let out = run(&TestEnv::new(), &["login", "--instance", fake.url()]);
    let err = stderr(&out);
    assert!(!err.contains("malformed"), "{err}");
    assert!(err.contains("503"), "{err}");
}

#[test]
fn login_checks_the_credential_store_before_the_device_flow() {
    let (fake, user, org) = fake_with_user();
    for (what, prepare) in [("mode 644", 0u8), ("truncated file", 1u8)] {
        let (env, _, _) = signed_in(&fake, &user, &org);
        let creds = env.credentials_path();
        if prepare == 0 {
            std::fs::set_permissions(&creds, std::fs::Permissions::from_mode(0o644))
                .expect("chmod");
        } else {
            std::fs::write(&creds, "{\"default\":{\"accessTok").expect("truncate");
        }
        fake.clear_requests();
        let out = run(&env, &["login", "--instance", fake.url()]);
        assert_eq!(out.status.code(), Some(1), "{what}: {}", stderr(&out));
        assert_eq!(
            fake.count("POST", "/api/auth/device/code"),
            0,
            "{what}: no device flow started: {}",
            stderr(&out)
        );
        assert!(
            stderr(&out).contains("credentials.json"),
            "{what}: {}",
            stderr(&out)
        );
    }
}

#[test]
fn login_over_a_signed_in_profile_revokes_the_replaced_session() {
    let (fake, user, org) = fake_with_user();
    let (env, _, old_refresh) = signed_in(&fake, &user, &org);
    let family = fake.family_of(&old_refresh).expect("seeded family");
    let out = run(&env, &["login", "--instance", fake.url()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        fake.is_family_revoked(&family),
        "the replaced session is revoked"
    );
    let out = run(&env, &["whoami"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "the new session works: {}",
        stderr(&out)
    );

    // A failing revoke is reported on stderr and does not fail the login.
    let text = std::fs::read_to_string(env.credentials_path()).unwrap_or_default();
    let stored: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    let new_refresh = stored["default"]["refreshToken"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    fake.inject(Fault::status("/api/auth/cli/revoke", 500));
    let out = run(&env, &["login", "--instance", fake.url()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("could not revoke the previous session"),
        "{}",
        stderr(&out)
    );
    assert!(!stderr(&out).contains(&new_refresh));
}

#[test]
fn a_read_only_config_dir_is_called_not_writable() {
    let (fake, user, org) = fake_with_user();
    let (env, _, _) = signed_in(&fake, &user, &org);
    let dir = env.config_dir();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o500)).expect("chmod 500");
    let out = run(&env, &["whoami"]);
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).expect("chmod 700");
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("not writable"), "{err}");
    assert!(!err.contains("insecure"), "{err}");
}

#[test]
fn afps_verify_refuses_what_is_not_a_regular_file() {
    let env = TestEnv::new();
    let fifo = env.home().join("pipe.afps");
    let status = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(status.success());
    let dir = env.home().display().to_string();
    for (path, expected) in [
        (dir.as_str(), "is a directory"),
        ("/dev/zero", "is not a regular file"),
        (fifo.to_str().unwrap_or_default(), "is not a regular file"),
    ] {
        let started = Instant::now();
        let out = run(&env, &["afps", "verify", path]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{path}: {err}");
        assert!(err.contains(expected), "{path}: {err}");
        assert!(!err.contains("no such file"), "{path}: {err}");
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{path}: refused before reading"
        );
    }
    let out = run(&env, &["afps", "verify", "/nonexistent/x.afps"]);
    assert!(stderr(&out).contains("no such file"), "{}", stderr(&out));
}

#[test]
fn model_requests_are_not_redirected_with_the_api_key() {
    let first = Recorder::start();
    let other = Recorder::start();
    let env = crate::run_common::RunEnv::new();
    let manifest = serde_json::json!({
        "name": "@test/hello", "version": "1.0.0", "type": "agent",
        "description": "Says hello"
    });
    let package = env.write_package("hello.afps", &manifest, "Say hello.\n");
    // `<base>/v1/messages` lands in the `to` query: the first server
    // answers 307 to the other origin.
    let base = format!("{}/redirect/307?to={}/steal", first.url(), other.url());
    let mut cmd = env.base_command(None);
    cmd.env("APPSTRATE_LLM_BASE_URL", &base)
        .env("ANTHROPIC_API_KEY", "sk-test-secret-key-redirect")
        .arg("run")
        .arg(&package);
    let out = cmd.output().expect("run appstrate");
    let err = stderr(&out);
    assert_ne!(out.status.code(), Some(0), "{err}");
    assert_eq!(
        first.requests().len(),
        1,
        "one attempt, no retry of a redirect"
    );
    assert_untouched(&other, "model redirect");
    assert!(err.contains("redirect"), "{err}");
    assert!(!err.contains("sk-test-secret-key-redirect"), "{err}");
}
