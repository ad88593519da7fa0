//! `login`, `logout`, `whoami`, `token` through the built binary against the
//! fake instance (docs/platform-api.md#device-flow, #refresh, #revoke).

use std::process::Output;

use crate::support::{stderr, stdout};
use appstrate_testkit::fake_instance::{Approval, FakeInstance, Fault, Role};
use appstrate_testkit::test_env::{TestEnv, now_ms};

const BIN: &str = env!("CARGO_BIN_EXE_appstrate");

fn run(env: &TestEnv, args: &[&str]) -> Output {
    env.command(BIN).args(args).output().expect("run appstrate")
}

/// A fake with a polling interval of 0 s and one user auto-approving.
fn fake_with_user() -> (FakeInstance, String) {
    let fake = FakeInstance::builder().interval(0).start();
    let user = fake.add_user("alice@example.com");
    fake.set_approval(Approval::AutoApprove(user.clone()));
    (fake, user)
}

fn login(env: &TestEnv, fake: &FakeInstance, extra: &[&str]) -> Output {
    let mut args = vec!["login", "--instance", fake.url()];
    args.extend_from_slice(extra);
    run(env, &args)
}

fn config(env: &TestEnv) -> String {
    std::fs::read_to_string(env.config_path()).unwrap_or_default()
}

/// Every token the fake ever issued must be absent from `text`.
fn assert_no_tokens(fake: &FakeInstance, text: &str) {
    for req in fake.requests() {
        for (_, value) in req.form() {
            if value.len() >= 40 {
                assert!(!text.contains(&value), "a token leaked: {text}");
            }
        }
    }
    assert!(!text.contains("eyJ"), "a JWT leaked: {text}");
}

fn tokens_on_disk(env: &TestEnv) -> Vec<String> {
    let text = std::fs::read_to_string(env.credentials_path()).unwrap_or_default();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    let mut out = Vec::new();
    if let Some(map) = json.as_object() {
        for rec in map.values() {
            for key in ["accessToken", "refreshToken"] {
                if let Some(t) = rec.get(key).and_then(|v| v.as_str()) {
                    out.push(t.to_string());
                }
            }
        }
    }
    out
}

fn assert_output_has_no_stored_tokens(env: &TestEnv, out: &Output) {
    let all = format!("{}{}", stdout(out), stderr(out));
    for token in tokens_on_disk(env) {
        assert!(!all.contains(&token), "stored token printed: {all}");
    }
    assert!(!all.contains("eyJ"), "JWT printed: {all}");
}

#[test]
fn login_single_org_single_app_pins_both() {
    let (fake, user) = fake_with_user();
    let org = fake.add_org(&user, "Acme", "acme", Role::Owner);
    let app = fake.add_app(&org, "Default", true);
    let env = TestEnv::new();
    let out = login(&env, &fake, &["--device-name", "ci-box"]);
    assert!(out.status.success(), "{}", stderr(&out));
    // The frame (intro, device code, banner) is on stderr: stdout is for data.
    let text = stderr(&out);
    assert!(!stdout(&out).contains('┌'));
    assert!(
        text.contains("Appstrate login — profile \"default\""),
        "{text}"
    );
    assert!(text.contains("  Visit: "), "{text}");
    assert!(text.contains("  Code:  "), "{text}");
    assert!(
        text.contains(&format!(
            "Logged in as alice@example.com to \"Acme\" ({org}) / app \"Default\" ({app})"
        )),
        "{text}"
    );
    let cfg = config(&env);
    assert!(cfg.contains(&format!("orgId = \"{org}\"")), "{cfg}");
    assert!(cfg.contains(&format!("applicationId = \"{app}\"")), "{cfg}");
    assert!(cfg.contains(&format!("userId = \"{user}\"")), "{cfg}");
    assert!(cfg.contains("email = \"alice@example.com\""), "{cfg}");
    assert!(cfg.contains("defaultProfile = \"default\""), "{cfg}");
    assert_eq!(fake.last_device_name().as_deref(), Some("ci-box"));
    // The device-code request is form-encoded with client id and scope.
    let dc = &fake.requests_to("POST", "/api/auth/device/code")[0];
    assert_eq!(
        dc.body_text(),
        "client_id=appstrate-cli&scope=openid+profile+email+offline_access"
    );
    let poll = &fake.requests_to("POST", "/api/auth/cli/token")[0];
    assert!(
        poll.header("user-agent")
            .unwrap_or("")
            .starts_with("appstrate-cli/")
    );
    assert_no_tokens(&fake, &format!("{}{}", stdout(&out), stderr(&out)));
    assert_output_has_no_stored_tokens(&env, &out);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&env.config_path()), 0o600);
        assert_eq!(mode(&env.credentials_path()), 0o600);
        assert_eq!(mode(&env.config_dir()), 0o700);
    }
}

#[test]
fn login_many_orgs_non_tty_asks_for_flag() {
    let (fake, user) = fake_with_user();
    fake.add_org(&user, "Acme", "acme", Role::Owner);
    fake.add_org(&user, "Beta", "beta", Role::Member);
    let env = TestEnv::new();
    let out = login(&env, &fake, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stderr(&out);
    assert!(
        text.contains("Multiple organizations — pass --org <id-or-slug> to pin non-interactively."),
        "{text}"
    );
    assert!(text.contains("No org pinned"), "{text}");
    assert!(!config(&env).contains("orgId"));
    assert_eq!(
        fake.count("GET", "/api/applications"),
        0,
        "no app call without an org"
    );
}

#[test]
fn login_org_by_slug_and_by_id_and_unknown() {
    let (fake, user) = fake_with_user();
    let acme = fake.add_org(&user, "Acme", "acme", Role::Owner);
    let beta = fake.add_org(&user, "Beta", "beta", Role::Owner);
    let env = TestEnv::new();
    let out = login(&env, &fake, &["--org", "beta", "--no-app"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(config(&env).contains(&format!("orgId = \"{beta}\"")));
    assert!(
        !stderr(&out).contains("No app pinned"),
        "--no-app prints no hint"
    );
    assert_eq!(fake.count("GET", "/api/applications"), 0);

    let out = login(&env, &fake, &["--org", &acme, "--no-app"]);
    assert!(out.status.success());
    assert!(config(&env).contains(&format!("orgId = \"{acme}\"")));

    let env2 = TestEnv::new();
    let out = login(&env2, &fake, &["--org", "nope"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("No organization matches \"nope\". Available:"),
        "{err}"
    );
    assert!(err.contains("  - acme ("), "{err}");
    assert!(!config(&env2).contains("orgId"), "nothing pinned");
    assert!(
        env2.credentials_path().exists(),
        "tokens were saved before the org step"
    );
}

#[test]
fn login_create_org_posts_name_without_listing() {
    let (fake, _user) = fake_with_user();
    let env = TestEnv::new();
    let out = login(&env, &fake, &["--create-org", "New Co"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(fake.count("GET", "/api/orgs"), 0);
    let post = &fake.requests_to("POST", "/api/orgs")[0];
    assert_eq!(post.body_text(), r#"{"name":"New Co"}"#);
    assert_eq!(post.header("content-type"), Some("application/json"));
    // The server provisions a default app; the cascade pins it.
    let text = stderr(&out);
    assert!(text.contains("to \"New Co\""), "{text}");
    assert!(text.contains("/ app \""), "{text}");
}

#[test]
fn login_no_org_makes_no_org_call() {
    let (fake, user) = fake_with_user();
    fake.add_org(&user, "Acme", "acme", Role::Owner);
    let env = TestEnv::new();
    let out = login(&env, &fake, &["--no-org", "--org", "acme"]);
    assert!(out.status.success());
    assert_eq!(fake.count("GET", "/api/orgs"), 0);
    assert!(stderr(&out).contains("No org pinned — pass -H \"X-Org-Id: …\""));
}

#[test]
fn login_zero_orgs_non_tty_hint() {
    let (fake, _user) = fake_with_user();
    let env = TestEnv::new();
    let out = login(&env, &fake, &[]);
    assert!(out.status.success());
    assert!(stderr(&out).contains(
        "No organization yet on this account — run `appstrate org create <name>` to create one."
    ));
}

#[test]
fn login_org_list_failure_still_signs_in() {
    let (fake, user) = fake_with_user();
    fake.add_org(&user, "Acme", "acme", Role::Owner);
    fake.inject(Fault::status("/api/orgs", 500).method("GET"));
    let env = TestEnv::new();
    let out = login(&env, &fake, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("Failed to list organizations: HTTP 500"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("No org pinned"));
    assert!(env.credentials_path().exists());
}

#[test]
fn login_create_org_failure_exits_1_with_tokens_saved() {
    let (fake, _user) = fake_with_user();
    fake.inject(
        Fault::problem("/api/orgs", 400, "slug_taken", "Slug 'x' is already in use").method("POST"),
    );
    let env = TestEnv::new();
    let out = login(&env, &fake, &["--create-org", "X"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("API error (400)"), "{}", stderr(&out));
    assert!(env.credentials_path().exists());
}

#[test]
fn login_app_cascade_matrix() {
    // ≥2 apps, one default → the default.
    let (fake, user) = fake_with_user();
    let org = fake.add_org(&user, "Acme", "acme", Role::Owner);
    fake.add_app(&org, "Other", false);
    let default = fake.add_app(&org, "Main", true);
    let env = TestEnv::new();
    let out = login(&env, &fake, &[]);
    assert!(out.status.success());
    assert!(config(&env).contains(&format!("applicationId = \"{default}\"")));
    let apps_req = &fake.requests_to("GET", "/api/applications")[0];
    assert_eq!(apps_req.header("x-org-id"), Some(org.as_str()));

    // --app pins by id; unknown --app exits 1.
    let other = fake.apps_of(&org)[1]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let out = login(&env, &fake, &["--app", &other]);
    assert!(out.status.success());
    assert!(config(&env).contains(&format!("applicationId = \"{other}\"")));
    let out = login(&env, &fake, &["--app", "app_nope"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("No application matches \"app_nope\""));

    // --create-app posts {name} without listing.
    fake.clear_requests();
    let out = login(&env, &fake, &["--create-app", "Staging"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(fake.count("GET", "/api/applications"), 0);
    assert_eq!(
        fake.requests_to("POST", "/api/applications")[0].body_text(),
        r#"{"name":"Staging"}"#
    );
    assert!(stderr(&out).contains("/ app \"Staging\""));
}

#[test]
fn login_apps_without_default_or_none_or_failing() {
    let (fake, user) = fake_with_user();
    let org = fake.add_org(&user, "Acme", "acme", Role::Owner);
    let env = TestEnv::new();
    // Zero apps.
    let out = login(&env, &fake, &[]);
    assert!(
        stderr(&out).contains("No applications found on the pinned organization"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("No app pinned"));
    // Two apps, none default.
    fake.add_app(&org, "A", false);
    fake.add_app(&org, "B", false);
    let out = login(&env, &fake, &[]);
    assert!(stderr(&out).contains("none marked default"));
    assert!(stderr(&out).contains("No app pinned"));
    // Failing list: org pinned, app not.
    fake.inject(Fault::status("/api/applications", 500));
    let out = login(&env, &fake, &[]);
    assert!(out.status.success());
    assert!(stderr(&out).contains("Failed to list applications"));
    assert!(config(&env).contains(&format!("orgId = \"{org}\"")));
    assert!(!config(&env).contains("applicationId"));
}

#[test]
fn same_user_relogin_keeps_pins_when_lists_fail_other_user_drops_them() {
    let (fake, user) = fake_with_user();
    let org = fake.add_org(&user, "Acme", "acme", Role::Owner);
    let app = fake.add_app(&org, "Main", true);
    let env = TestEnv::new();
    assert!(login(&env, &fake, &[]).status.success());
    fake.inject(Fault::status("/api/orgs", 500));
    assert!(login(&env, &fake, &[]).status.success());
    let cfg = config(&env);
    assert!(cfg.contains(&org) && cfg.contains(&app), "{cfg}");
    let bob = fake.add_user("bob@example.com");
    fake.set_approval(Approval::AutoApprove(bob));
    assert!(login(&env, &fake, &[]).status.success());
    let cfg = config(&env);
    assert!(
        !cfg.contains("orgId") && !cfg.contains("applicationId"),
        "{cfg}"
    );
    assert!(cfg.contains("bob@example.com"));
}

#[test]
fn login_denied_and_expired() {
    let fake = FakeInstance::builder()
        .interval(0)
        .approval(Approval::Deny)
        .start();
    let env = TestEnv::new();
    let out = login(&env, &fake, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("The request was refused. If this was unexpected, check that the CLI is allowed for this account. (access_denied)"), "{}", stderr(&out));
    assert!(!env.credentials_path().exists());

    let fake = FakeInstance::builder().interval(0).expires_in(0).start();
    let out = login(&env, &fake, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("(expired_token)"), "{}", stderr(&out));
}

#[test]
fn login_slow_down_backs_off() {
    let fake = FakeInstance::builder()
        .interval(0)
        .polling_guard(std::time::Duration::from_millis(1500))
        .start();
    let user = fake.add_user("a@b.c");
    fake.set_approval(Approval::ApproveAfterPolls { user, polls: 2 });
    let env = TestEnv::new();
    let started = std::time::Instant::now();
    let out = login(&env, &fake, &["--no-org"]);
    assert!(out.status.success(), "{}", stderr(&out));
    // The second poll came too fast (slow_down); the CLI then waited ≥ 5 s.
    assert!(started.elapsed() >= std::time::Duration::from_secs(5));
}

#[test]
fn login_refuses_insecure_instance_and_bad_urls() {
    let env = TestEnv::new();
    let out = run(&env, &["login", "--instance", "http://example.com"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains(
        "Refusing to send credentials to a non-HTTPS, non-loopback instance: http://example.com"
    ));
    let out = run(&env, &["login", "--instance", "ftp://localhost"]);
    assert!(stderr(&out).contains("Unsupported instance URL protocol \"ftp\" (expected"));
    let out = run(&env, &["login"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("hint: Pass it: appstrate login --instance <URL>"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn login_against_broken_servers_gives_clear_errors() {
    let env = TestEnv::new();
    // Refused connection.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let out = run(
        &env,
        &["login", "--instance", &format!("http://127.0.0.1:{port}")],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("Could not connect to"),
        "{}",
        stderr(&out)
    );

    // Non-JSON and 500 from the device endpoint.
    let fake = FakeInstance::builder().interval(0).start();
    fake.inject(Fault::non_json("/api/auth/device/code", 200));
    let out = login(&env, &fake, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("unexpected reply"),
        "{}",
        stderr(&out)
    );
    fake.clear_faults();
    fake.inject(Fault::status("/api/auth/device/code", 500));
    let out = login(&env, &fake, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("answered HTTP 500"),
        "{}",
        stderr(&out)
    );

    // Truncated body and a stalled server (bounded by APPSTRATE_HTTP_TIMEOUT).
    fake.clear_faults();
    fake.inject(Fault::truncated(
        "/api/auth/device/code",
        200,
        r#"{"device_code":"abcdefgh","user_code":"ABCDEFGH"}"#,
    ));
    let out = login(&env, &fake, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(!stderr(&out).is_empty());
    fake.clear_faults();
    fake.inject(Fault::stall("/api/auth/device/code"));
    let mut env2 = TestEnv::new();
    env2.set_env("APPSTRATE_HTTP_TIMEOUT", "1");
    let out = login(&env2, &fake, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("timed out"), "{}", stderr(&out));
}

fn seeded(fake: &FakeInstance, env: &TestEnv, user: &str, org: Option<&str>) -> (String, String) {
    let (access, refresh) = fake.issue_tokens(user);
    env.seed_login(
        "default",
        fake.url(),
        user,
        "cached@example.com",
        org,
        None,
        &access,
        &refresh,
    );
    (access, refresh)
}

#[test]
fn whoami_prints_server_identity_and_org() {
    let fake = FakeInstance::start();
    let user = fake.add_user(
        appstrate_testkit::fake_instance::NewUser::new("alice@example.com").display_name("Alice A"),
    );
    let org = fake.add_org(&user, "Acme", "acme", Role::Owner);
    let env = TestEnv::new();
    let (access, refresh) = seeded(&fake, &env, &user, Some(&org));
    // The sign-in ends when the refresh token does (2100-01-01T00:00:00.285Z).
    env.seed_tokens(
        "default",
        &access,
        now_ms() + 900_000,
        Some((&refresh, 4_102_444_800_285)),
    );
    let out = run(&env, &["whoami"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        format!(
            "Profile:  default\nInstance: {}\nUser:     alice@example.com\nName:     Alice A\nExpires:  2100-01-01T00:00:00.285Z\nOrg:      Acme ({org})\n",
            fake.url()
        )
    );
    let profile_req = &fake.requests_to("GET", "/api/profile")[0];
    assert_eq!(
        profile_req.header("authorization"),
        Some(format!("Bearer {access}").as_str())
    );
    assert_eq!(stderr(&out), "");
    assert_output_has_no_stored_tokens(&env, &out);
}

#[test]
fn whoami_json_carries_the_expiry_and_no_token() {
    let fake = FakeInstance::start();
    let user = fake.add_user("alice@example.com");
    let env = TestEnv::new();
    let (access, refresh) = seeded(&fake, &env, &user, None);
    env.seed_tokens(
        "default",
        &access,
        now_ms() + 900_000,
        Some((&refresh, 4_102_444_800_285)),
    );
    let out = run(&env, &["whoami", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(report["expiresAt"], "2100-01-01T00:00:00.285Z");
    assert_eq!(report["email"], "alice@example.com");
    assert_output_has_no_stored_tokens(&env, &out);
}

#[test]
fn whoami_of_a_legacy_record_shows_the_access_token_expiry() {
    let fake = FakeInstance::start();
    let user = fake.add_user("alice@example.com");
    let env = TestEnv::new();
    let (access, _) = seeded(&fake, &env, &user, None);
    // A 1.x record: no refresh token, so the sign-in ends with the access token.
    env.seed_tokens("default", &access, 4_102_444_800_000, None);
    let out = run(&env, &["whoami"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("\nExpires:  2100-01-01T00:00:00.000Z\n"),
        "{}",
        stdout(&out)
    );
    assert_output_has_no_stored_tokens(&env, &out);
}

#[test]
fn whoami_unknown_profile_and_revoked_session() {
    let fake = FakeInstance::start();
    let user = fake.add_user("a@b.c");
    let env = TestEnv::new();
    let out = run(&env, &["whoami", "--profile", "ghost"]);
    assert_eq!(out.status.code(), Some(4));
    assert!(
        stderr(&out).contains("Profile \"ghost\" not configured.\nhint: Run: appstrate login --instance <URL> --profile ghost (no instance yet? `appstrate install` starts one)"),
        "{}",
        stderr(&out)
    );
    assert!(fake.requests().is_empty());

    let (_, refresh) = seeded(&fake, &env, &user, None);
    let family = fake.family_of(&refresh).unwrap();
    fake.revoke_family(&family);
    let out = run(&env, &["whoami"]);
    assert_eq!(out.status.code(), Some(4));
    assert!(stderr(&out).contains("appstrate login"), "{}", stderr(&out));
    assert_eq!(stdout(&out), "");
}

#[test]
fn whoami_refreshes_expired_access_token_first() {
    let fake = FakeInstance::start();
    let user = fake.add_user("a@b.c");
    let env = TestEnv::new();
    let (access, refresh) = fake.issue_tokens(&user);
    env.seed_login(
        "default",
        fake.url(),
        &user,
        "a@b.c",
        None,
        None,
        &access,
        &refresh,
    );
    // Stored expiry in 10 s: within the 30 s window.
    env.seed_tokens(
        "default",
        &access,
        now_ms() + 10_000,
        Some((&refresh, now_ms() + 86_400_000 * 5)),
    );
    let out = run(&env, &["whoami"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let reqs = fake.requests();
    assert_eq!(reqs[0].path, "/api/auth/cli/token");
    assert_eq!(
        reqs[0].form_value("grant_type").as_deref(),
        Some("refresh_token")
    );
    assert_ne!(
        reqs[1].header("authorization"),
        Some(format!("Bearer {access}").as_str())
    );
    assert!(
        !tokens_on_disk(&env).contains(&refresh),
        "rotated refresh token saved"
    );
    // The expiry shown is the rotated record's, not the one seeded.
    let text = std::fs::read_to_string(env.credentials_path()).unwrap_or_default();
    let stored: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    let rotated = stored["default"]["refreshExpiresAt"]
        .as_i64()
        .expect("refreshExpiresAt stored");
    let shown = stdout(&out);
    let expires = shown
        .lines()
        .find_map(|l| l.strip_prefix("Expires:  "))
        .unwrap_or_default();
    let parsed =
        time::OffsetDateTime::parse(expires, &time::format_description::well_known::Rfc3339)
            .expect("an RFC 3339 time");
    assert_eq!(
        parsed.unix_timestamp_nanos() / 1_000_000,
        i128::from(rotated),
        "{shown}"
    );
}

#[test]
fn reactive_refresh_on_401() {
    let fake = FakeInstance::start();
    let user = fake.add_user("a@b.c");
    let env = TestEnv::new();
    seeded(&fake, &env, &user, None);
    fake.expire_access_tokens();
    let out = run(&env, &["whoami"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let paths: Vec<_> = fake.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(
        paths,
        ["/api/profile", "/api/auth/cli/token", "/api/profile"]
    );
}

#[test]
fn refresh_failures_invalid_grant_wipes_5xx_keeps() {
    let fake = FakeInstance::start();
    let user = fake.add_user("a@b.c");
    let env = TestEnv::new();
    let (access, refresh) = fake.issue_tokens(&user);
    env.seed_login(
        "default",
        fake.url(),
        &user,
        "a@b.c",
        None,
        None,
        &access,
        &refresh,
    );
    env.seed_tokens(
        "default",
        &access,
        now_ms() - 1,
        Some((&refresh, now_ms() + 86_400_000)),
    );
    fake.inject(Fault::status("/api/auth/cli/token", 503).times(1));
    let out = run(&env, &["whoami"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        tokens_on_disk(&env).contains(&refresh),
        "tokens kept on a transient failure"
    );
    fake.revoke_family(&fake.family_of(&refresh).unwrap());
    let out = run(&env, &["whoami"]);
    assert_eq!(out.status.code(), Some(4));
    assert!(
        stderr(&out).contains("is no longer valid (invalid_grant)"),
        "{}",
        stderr(&out)
    );
    assert!(
        tokens_on_disk(&env).is_empty(),
        "tokens wiped on invalid_grant"
    );
}

#[test]
fn concurrent_processes_refresh_exactly_once() {
    let fake = FakeInstance::start();
    let user = fake.add_user("a@b.c");
    let env = TestEnv::new();
    let (access, refresh) = fake.issue_tokens(&user);
    env.seed_login(
        "default",
        fake.url(),
        &user,
        "a@b.c",
        None,
        None,
        &access,
        &refresh,
    );
    env.seed_tokens(
        "default",
        &access,
        now_ms() - 1000,
        Some((&refresh, now_ms() + 86_400_000)),
    );
    let children: Vec<_> = (0..16)
        .map(|_| {
            env.command(BIN)
                .arg("whoami")
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
    }
    assert_eq!(fake.refresh_calls(), 1);
    assert!(!fake.is_family_revoked(&fake.family_of(&refresh).unwrap()));
}

#[test]
fn token_prints_metadata_never_tokens() {
    let fake = FakeInstance::start();
    let user = fake.add_user("a@b.c");
    let env = TestEnv::new();
    seeded(&fake, &env, &user, None);
    let out = run(&env, &["token"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.starts_with("Profile:           default\nInstance:          http://127.0.0.1:"),
        "{text}"
    );
    assert!(
        text.contains("\nAccess token\n  Status:          fresh\n  Expires:         in 14m "),
        "{text}"
    );
    assert!(
        text.contains("\nRefresh token\n  Status:          valid\n  Expires:         in 29d 23h"),
        "{text}"
    );
    assert!(
        text.contains(&format!("  sub:             {user}\n")),
        "{text}"
    );
    assert!(
        text.contains("  azp:             appstrate-cli\n"),
        "{text}"
    );
    assert!(text.contains("  actor_type:      user\n"), "{text}");
    assert!(
        text.contains(&format!("  iss:             {}/api/auth\n", fake.url())),
        "{text}"
    );
    assert_eq!(stderr(&out), "");
    assert_output_has_no_stored_tokens(&env, &out);
    assert!(fake.requests().is_empty(), "no network");
}

#[test]
fn token_statuses_skew_legacy_and_non_jwt() {
    let env = TestEnv::new();
    env.seed_login(
        "default",
        "https://a.example",
        "u",
        "e",
        None,
        None,
        "not-a-jwt",
        "r",
    );
    env.seed_tokens(
        "default",
        "not-a-jwt",
        now_ms() + 10_000,
        Some(("r", now_ms() + 3_600_000)),
    );
    let out = run(&env, &["token"]);
    let text = stdout(&out);
    assert!(text.contains("rotating-soon (< 30s remaining)"), "{text}");
    assert!(text.contains("expiring-soon (< 24h remaining)"), "{text}");
    assert!(
        text.contains("JWT claims:        unavailable (token is not a JWT)"),
        "{text}"
    );

    env.seed_tokens("default", "not-a-jwt", now_ms() - 125_000, None);
    let out = run(&env, &["token"]);
    let text = stdout(&out);
    assert!(
        text.contains("expired (next call will trigger rotation)"),
        "{text}"
    );
    assert!(
        text.contains("  Expires:         2m 5s ago")
            || text.contains("  Expires:         2m 6s ago"),
        "{text}"
    );
    assert!(text.contains("  Status:          not stored"), "{text}");

    let fake = FakeInstance::start();
    let user = fake.add_user("a@b.c");
    let (access, refresh) = fake.issue_tokens(&user);
    env.seed_tokens(
        "default",
        &access,
        now_ms() + 600_000,
        Some((&refresh, now_ms() + 86_400_000 * 2)),
    );
    let out = run(&env, &["token"]);
    let text = stdout(&out);
    assert!(
        text.contains("  ⚠  JWT `exp` and stored `expiresAt` differ by "),
        "{text}"
    );
}

#[test]
fn token_missing_profile_or_tokens() {
    let env = TestEnv::new();
    let out = run(&env, &["token", "-p", "missing-profile"]);
    assert_eq!(out.status.code(), Some(4));
    assert!(stderr(&out).contains("Profile \"missing-profile\" not configured"));
    assert_eq!(stdout(&out), "");
    env.seed_login(
        "default",
        "https://a.example",
        "u",
        "e",
        None,
        None,
        "a",
        "r",
    );
    std::fs::remove_file(env.credentials_path()).unwrap();
    let out = run(&env, &["token"]);
    assert_eq!(out.status.code(), Some(4));
    assert!(stderr(&out).contains("No tokens stored for profile \"default\""));
}

#[test]
fn logout_revokes_and_wipes() {
    let fake = FakeInstance::start();
    let user = fake.add_user("a@b.c");
    let env = TestEnv::new();
    let (_, refresh) = seeded(&fake, &env, &user, None);
    let out = run(&env, &["logout"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("Signed out of \"default\"."));
    let revoke = &fake.requests_to("POST", "/api/auth/cli/revoke")[0];
    assert_eq!(
        revoke.form_value("token").as_deref(),
        Some(refresh.as_str())
    );
    assert_eq!(
        revoke.form_value("client_id").as_deref(),
        Some("appstrate-cli")
    );
    assert!(revoke.header("authorization").is_none());
    assert!(!env.credentials_path().exists());
    assert!(!config(&env).contains("[profile.default]"));
    assert!(!config(&env).contains("[profile.\"default\"]"));
    assert_output_has_no_stored_tokens(&env, &out);
    // Idempotent, no network.
    fake.clear_requests();
    let out = run(&env, &["logout"]);
    assert!(out.status.success());
    assert!(stderr(&out).contains("Already signed out."));
    assert!(fake.requests().is_empty());
}

#[test]
fn logout_wipes_locally_when_server_fails() {
    for fault in [
        Fault::status("/api/auth/cli/revoke", 500),
        Fault::drop_connection("/api/auth/cli/revoke"),
    ] {
        let fake = FakeInstance::start();
        let user = fake.add_user("a@b.c");
        let env = TestEnv::new();
        seeded(&fake, &env, &user, None);
        fake.inject(fault);
        let out = run(&env, &["logout"]);
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(
            stderr(&out).contains("warning: could not revoke refresh token server-side"),
            "{}",
            stderr(&out)
        );
        assert!(!env.credentials_path().exists());
    }
}

#[test]
fn logout_all_revokes_own_sessions_on_other_devices() {
    let fake = FakeInstance::start();
    let user = fake.add_user("a@b.c");
    let other_user = fake.add_user("b@b.c");
    let org = fake.add_org(&user, "Acme", "acme", Role::Owner);
    fake.add_member(&org, &other_user, Role::Member);
    let laptop = fake.issue_session(&user, Some("laptop"));
    let theirs = fake.issue_session(&other_user, Some("theirs"));
    let env = TestEnv::new();
    let (_, refresh) = seeded(&fake, &env, &user, Some(&org));
    let out = run(&env, &["logout", "--all"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(
        stdout(&out).contains("Revoked 2 CLI sessions (1 on other devices, plus this one)."),
        "{}",
        stdout(&out)
    );
    assert!(fake.is_family_revoked(&laptop.family_id));
    assert!(fake.is_family_revoked(&fake.family_of(&refresh).unwrap()));
    assert!(
        !fake.is_family_revoked(&theirs.family_id),
        "another user's session is untouched"
    );
    assert!(!env.credentials_path().exists());
    assert_eq!(fake.count("POST", "/api/auth/cli/sessions/revoke-all"), 1);
}

#[test]
fn logout_all_without_admin_rights_exits_1_but_cleans_up() {
    let fake = FakeInstance::start();
    let owner = fake.add_user("o@b.c");
    let user = fake.add_user("a@b.c");
    let org = fake.add_org(&owner, "Acme", "acme", Role::Owner);
    fake.add_member(&org, &user, Role::Member);
    let env = TestEnv::new();
    seeded(&fake, &env, &user, Some(&org));
    let out = run(&env, &["logout", "--all"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("only owners and admins"),
        "{}",
        stderr(&out)
    );
    assert!(!env.credentials_path().exists());
}

#[test]
fn bad_local_files_give_clear_errors_and_are_untouched() {
    let env = TestEnv::new();
    std::fs::create_dir_all(env.config_dir()).unwrap();
    let bad = "defaultProfile = \"a\"\n[profile.a\ninstance = 1\n";
    appstrate_testkit::test_env::write_private(&env.config_path(), bad.as_bytes());
    for args in [
        &["whoami"][..],
        &["token"],
        &["logout"],
        &["login", "--instance", "https://x.example"],
    ] {
        let out = run(&env, args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = stderr(&out);
        assert!(
            err.contains("config.toml") && err.contains("line 2"),
            "{args:?}: {err}"
        );
        assert_eq!(std::fs::read_to_string(env.config_path()).unwrap(), bad);
    }

    let env = TestEnv::new();
    env.seed_login(
        "default",
        "https://a.example",
        "u",
        "e",
        None,
        None,
        "a",
        "r",
    );
    appstrate_testkit::test_env::write_private(&env.credentials_path(), b"{\"default\": {");
    let out = run(&env, &["token"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("credentials.json is not valid JSON"),
        "{}",
        stderr(&out)
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        env.seed_tokens(
            "default",
            "a",
            now_ms() + 100_000,
            Some(("r", now_ms() + 100_000_000)),
        );
        std::fs::set_permissions(
            env.credentials_path(),
            std::fs::Permissions::from_mode(0o644),
        )
        .unwrap();
        let out = run(&env, &["token"]);
        assert_eq!(out.status.code(), Some(1));
        assert!(
            stderr(&out).contains("insecure permissions 644"),
            "{}",
            stderr(&out)
        );
    }
}

#[test]
fn completions_are_printed() {
    let env = TestEnv::new();
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = run(&env, &["completions", shell]);
        assert!(out.status.success(), "{shell}");
        assert!(stdout(&out).contains("appstrate"), "{shell}");
        assert!(stdout(&out).contains("login"), "{shell}");
    }
}

#[test]
fn version_and_usage_errors() {
    let env = TestEnv::new();
    let out = run(&env, &["--version"]);
    assert!(out.status.success());
    assert!(stdout(&out).starts_with("appstrate "));
    let out = run(&env, &["login", "--bogus"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--bogus"));
}
