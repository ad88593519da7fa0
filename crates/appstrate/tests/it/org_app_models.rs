//! `org`, `app` and `models` against the fake instance (docs/platform-api.md#endpoints
//! "org / app commands"), driven through the built binary.

use crate::signed_in::{SignedIn, stderr, stdout};
use appstrate_testkit::fake_instance::{Fault, Role};
use serde_json::{Value, json};

#[test]
fn org_list_marks_the_pinned_org_and_pads_slugs() {
    let env = SignedIn::new();
    let out = env.cmd().args(["org", "list"]).output().expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        format!(
            "* {:<24}  {}  Acme\n  {:<24}  {}  Beta\n  {:<24}  {}  Gamma\n",
            "acme", env.acme, "beta", env.beta, "gamma", env.gamma
        )
    );
    assert_eq!(stderr(&out), "");
}

#[test]
fn org_and_app_list_json_print_the_server_objects() {
    let env = SignedIn::new();
    let out = env
        .cmd()
        .args(["org", "list", "--json"])
        .output()
        .expect("runs");
    assert!(out.status.success());
    let printed: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(printed, Value::Array(env.fake.orgs_of(&env.user)));
    assert!(
        stdout(&out).starts_with("[\n  {\n    \""),
        "2-space pretty JSON"
    );

    let out = env
        .cmd()
        .args(["app", "list", "--json"])
        .output()
        .expect("runs");
    assert!(out.status.success());
    let printed: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(printed, Value::Array(env.fake.apps_of(&env.acme)));
}

#[test]
fn empty_lists_say_so() {
    let env = SignedIn::new();
    let loner = env.fake.add_user("bob@example.com");
    let env = SignedIn { user: loner, ..env };
    env.sign_in("default", None, None);
    let out = env.cmd().args(["org", "list"]).output().expect("runs");
    assert_eq!(stdout(&out), "(no organizations)\n");
    let empty = env.fake.add_org(&env.user, "Empty", "empty", Role::Owner);
    env.write_profile("default", Some(&empty), None);
    let out = env.cmd().args(["app", "list"]).output().expect("runs");
    assert_eq!(stdout(&out), "(no applications)\n");
    let out = env.cmd().args(["models", "list"]).output().expect("runs");
    assert_eq!(stdout(&out), "(no models)\n");
}

#[test]
fn commands_need_a_configured_profile_and_make_no_call() {
    let env = SignedIn::new();
    for args in [
        vec!["org", "list"],
        vec!["org", "switch", "acme"],
        vec!["org", "create", "X"],
        vec!["app", "list"],
        vec!["app", "switch", "x"],
        vec!["app", "create", "X"],
        vec!["models", "list"],
    ] {
        let out = env
            .cmd()
            .args(["--profile", "ghost"])
            .args(&args)
            .output()
            .expect("runs");
        assert_eq!(out.status.code(), Some(4), "{args:?}");
        assert_eq!(
            stderr(&out),
            "error: Profile \"ghost\" not configured.\nhint: Run: appstrate login --instance <URL> --profile ghost (no instance yet? `appstrate install` starts one)\n",
            "{args:?}"
        );
    }
    assert!(env.fake.requests().is_empty());
}

#[test]
fn current_prints_the_pins_without_network() {
    let env = SignedIn::new();
    let out = env.cmd().args(["org", "current"]).output().expect("runs");
    assert_eq!(stdout(&out), format!("{}\n", env.acme));
    let out = env.cmd().args(["app", "current"]).output().expect("runs");
    assert_eq!(stdout(&out), format!("{}\n", env.acme_main));

    env.write_profile("default", None, None);
    let out = env.cmd().args(["org", "current"]).output().expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        "error: No organization pinned.\nhint: Run: appstrate org switch\n"
    );
    let out = env.cmd().args(["app", "current"]).output().expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        "error: No application pinned.\nhint: Run: appstrate app switch\n"
    );

    let out = env
        .cmd()
        .args(["-p", "nobody", "org", "current"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(4));
    assert_eq!(
        stderr(&out),
        "error: Profile \"nobody\" not configured.\nhint: Run: appstrate login --instance <URL> --profile nobody (no instance yet? `appstrate install` starts one)\n"
    );
    let out = env
        .cmd()
        .args(["-p", "nobody", "app", "current"])
        .output()
        .expect("runs");
    assert_eq!(
        stderr(&out),
        "error: Profile \"nobody\" not configured.\nhint: Run: appstrate login --instance <URL> --profile nobody (no instance yet? `appstrate install` starts one)\n"
    );
    assert!(env.fake.requests().is_empty());
}

#[test]
fn org_switch_by_slug_pins_the_org_and_its_only_app_in_one_write() {
    let env = SignedIn::new();
    let out = env
        .cmd()
        .args(["org", "switch", " beta "])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        format!(
            "Pinned \"Beta\" ({}) / app \"Solo\" ({}) on profile \"default\".\n",
            env.beta, env.beta_solo
        )
    );
    assert_eq!(env.config_value("orgId"), Some(env.beta.clone()));
    assert_eq!(
        env.config_value("applicationId"),
        Some(env.beta_solo.clone())
    );
    // The applications were listed for the NEW org, without the stale app.
    let listed = env.fake.requests_to("GET", "/api/applications");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].header("x-org-id"), Some(env.beta.as_str()));
    assert_eq!(listed[0].header("x-application-id"), None);
    // No temp file left behind by the write.
    let leftovers: Vec<_> = std::fs::read_dir(env.config_dir())
        .expect("dir")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty());
}

#[test]
fn org_switch_by_id_pins_the_default_app() {
    let env = SignedIn::new();
    env.write_profile("default", Some(&env.beta), Some(&env.beta_solo));
    let out = env
        .cmd()
        .args(["org", "switch", &env.acme])
        .output()
        .expect("runs");
    assert!(out.status.success());
    assert!(stdout(&out).contains(&format!("/ app \"Main\" ({})", env.acme_main)));
    assert_eq!(
        env.config_value("applicationId"),
        Some(env.acme_main.clone())
    );
}

#[test]
fn org_switch_clears_a_stale_app_when_no_default_exists() {
    let env = SignedIn::new();
    let out = env
        .cmd()
        .args(["org", "switch", "gamma"])
        .output()
        .expect("runs");
    assert!(out.status.success());
    assert_eq!(
        stdout(&out),
        format!("Pinned \"Gamma\" ({}) on profile \"default\".\n", env.gamma)
    );
    assert_eq!(env.config_value("orgId"), Some(env.gamma.clone()));
    assert_eq!(env.config_value("applicationId"), None);
    assert!(!env.config_text().contains("applicationId"));
}

#[test]
fn org_switch_keeps_the_org_pin_when_listing_apps_fails() {
    let env = SignedIn::new();
    env.fake.inject(Fault::status("/api/applications", 500));
    let out = env
        .cmd()
        .args(["org", "switch", "beta"])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        format!("Pinned \"Beta\" ({}) on profile \"default\".\n", env.beta)
    );
    assert_eq!(env.config_value("orgId"), Some(env.beta.clone()));
    assert_eq!(env.config_value("applicationId"), None);
}

#[test]
fn org_switch_errors_leave_the_pins_alone() {
    let env = SignedIn::new();
    let before = env.config_text();
    let out = env
        .cmd()
        .args(["org", "switch", "zz"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        format!(
            "error: No organization matches \"zz\". Available:\n  - acme ({})\n  - beta ({})\n  - gamma ({})\n",
            env.acme, env.beta, env.gamma
        )
    );
    let out = env
        .cmd()
        .args(["org", "switch", "  "])
        .output()
        .expect("runs");
    assert_eq!(stderr(&out), "error: Org reference is empty.\n");
    // Non-TTY without a reference.
    let out = env.cmd().args(["org", "switch"]).output().expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        "error: Cannot prompt in non-TTY — pass an id or slug: `appstrate org switch <id-or-slug>`.\n"
    );
    assert_eq!(env.config_text(), before);
    assert!(env.fake.requests_to("GET", "/api/applications").is_empty());
}

#[test]
fn org_switch_without_orgs() {
    let env = SignedIn::new();
    let loner = env.fake.add_user("bob@example.com");
    let env = SignedIn { user: loner, ..env };
    env.sign_in("default", None, None);
    let out = env
        .cmd()
        .args(["org", "switch", "acme"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        "error: No organizations — run `appstrate org create <name>` to create one.\n"
    );
}

#[test]
fn org_create_posts_the_name_and_slug_and_pins_org_and_its_default_app() {
    let env = SignedIn::new();
    let out = env
        .cmd()
        .args(["org", "create", "New Org", "--slug", "new-org"])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    let posts = env.fake.requests_to("POST", "/api/orgs");
    assert_eq!(posts.len(), 1);
    assert_eq!(
        posts[0].body_text(),
        r#"{"name":"New Org","slug":"new-org"}"#
    );
    let created = env
        .fake
        .orgs_of(&env.user)
        .into_iter()
        .find(|o| o["slug"] == "new-org")
        .expect("org created");
    let org_id = created["id"].as_str().unwrap_or_default().to_string();
    assert_eq!(env.config_value("orgId"), Some(org_id.clone()));
    let apps = env.fake.apps_of(&org_id);
    let text = stdout(&out);
    assert!(
        text.starts_with(&format!("Created \"New Org\" ({org_id})")),
        "{text}"
    );
    assert!(
        text.ends_with(" and pinned it on profile \"default\".\n"),
        "{text}"
    );
    match apps.iter().find(|a| a["isDefault"] == true) {
        Some(app) => {
            let app_id = app["id"].as_str().unwrap_or_default();
            assert_eq!(env.config_value("applicationId").as_deref(), Some(app_id));
            assert!(text.contains(&format!(
                " / app \"{}\" ({app_id})",
                app["name"].as_str().unwrap_or_default()
            )));
        }
        None => assert_eq!(env.config_value("applicationId"), None),
    }
}

#[test]
fn org_create_without_slug_and_empty_slug_send_only_the_name() {
    let env = SignedIn::new();
    for args in [
        vec!["org", "create", "  Spaced  "],
        vec!["org", "create", "Other", "--slug", ""],
    ] {
        let out = env.cmd().args(&args).output().expect("runs");
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let posts = env.fake.requests_to("POST", "/api/orgs");
    assert_eq!(
        posts[0].body_text(),
        r#"{"name":"  Spaced  "}"#,
        "name used verbatim"
    );
    assert_eq!(posts[1].body_text(), r#"{"name":"Other"}"#);
    let out = env.cmd().args(["org", "create"]).output().expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        "error: Cannot prompt in non-TTY — pass a name: `appstrate org create <name>`.\n"
    );
}

#[test]
fn app_list_marks_pinned_and_default() {
    let env = SignedIn::new();
    env.write_profile("default", Some(&env.acme), Some(&env.acme_side));
    let out = env.cmd().args(["app", "list"]).output().expect("runs");
    assert_eq!(
        stdout(&out),
        format!(
            "  {:<24}  {} [default]\n* {:<24}  {}\n",
            "Main", env.acme_main, "Side", env.acme_side
        )
    );
    let sent = env.fake.requests_to("GET", "/api/applications");
    assert_eq!(sent[0].header("x-org-id"), Some(env.acme.as_str()));
}

#[test]
fn app_switch_by_id_only() {
    let env = SignedIn::new();
    let out = env
        .cmd()
        .args(["app", "switch", &format!(" {} ", env.acme_side)])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        format!(
            "Pinned \"Side\" ({}) on profile \"default\".\n",
            env.acme_side
        )
    );
    assert_eq!(
        env.config_value("applicationId"),
        Some(env.acme_side.clone())
    );
    assert_eq!(env.config_value("orgId"), Some(env.acme.clone()));

    let before = env.config_text();
    let out = env
        .cmd()
        .args(["app", "switch", "Main"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        format!(
            "error: No application matches \"Main\". Available:\n  - Main ({}) [default]\n  - Side ({})\n",
            env.acme_main, env.acme_side
        )
    );
    let out = env.cmd().args(["app", "switch"]).output().expect("runs");
    assert_eq!(
        stderr(&out),
        "error: Cannot prompt in non-TTY — pass an id: `appstrate app switch <id>`.\n"
    );
    assert_eq!(env.config_text(), before);
}

#[test]
fn app_switch_without_apps_and_without_org() {
    let env = SignedIn::new();
    let empty = env.fake.add_org(&env.user, "Empty", "empty", Role::Owner);
    env.write_profile("default", Some(&empty), None);
    let out = env
        .cmd()
        .args(["app", "switch", "x"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        "error: No applications — run `appstrate app create <name>` to create one.\n"
    );
    // No org pinned: the server refuses (400) and the error is shown.
    env.write_profile("default", None, None);
    let out = env.cmd().args(["app", "list"]).output().expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).starts_with("error: API error (400): "),
        "{}",
        stderr(&out)
    );
}

#[test]
fn app_create_posts_the_name_and_pins_it() {
    let env = SignedIn::new();
    let out = env
        .cmd()
        .args(["app", "create", "Fresh"])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    let posts = env.fake.requests_to("POST", "/api/applications");
    assert_eq!(posts[0].body_text(), r#"{"name":"Fresh"}"#);
    assert_eq!(posts[0].header("x-org-id"), Some(env.acme.as_str()));
    let fresh = env
        .fake
        .apps_of(&env.acme)
        .into_iter()
        .find(|a| a["name"] == "Fresh")
        .expect("created");
    let id = fresh["id"].as_str().unwrap_or_default();
    assert_eq!(
        stdout(&out),
        format!("Created \"Fresh\" ({id}) and pinned it on profile \"default\".\n")
    );
    assert_eq!(env.config_value("applicationId").as_deref(), Some(id));
    let out = env.cmd().args(["app", "create"]).output().expect("runs");
    assert_eq!(
        stderr(&out),
        "error: Cannot prompt in non-TTY — pass a name: `appstrate app create <name>`.\n"
    );
}

fn add_models(env: &SignedIn) {
    // `is_default`: the name `GET /api/models` sends.
    env.fake.add_model(&env.acme, json!({"id": "claude", "label": "Claude", "apiShape": "anthropic-messages", "enabled": true, "is_default": true}));
    env.fake.add_model(&env.acme, json!({"id": "gemini", "label": "Gemini", "apiShape": "google-generative-ai", "enabled": false, "needs_reconnection": true}));
    env.fake.add_model(
        &env.acme,
        json!({"id": "gpt", "label": "GPT", "apiShape": "openai-completions", "enabled": true}),
    );
}

#[test]
fn models_list_text_json_and_proxy_only() {
    let env = SignedIn::new();
    add_models(&env);
    let out = env.cmd().args(["models", "list"]).output().expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        format!(
            "  {:<36}  {:<24}  Claude [default]\n  {:<36}  {:<24}  Gemini [disabled, needs-reconnection, proxy-unsupported]\n  {:<36}  {:<24}  GPT\n",
            "claude",
            "anthropic-messages",
            "gemini",
            "google-generative-ai",
            "gpt",
            "openai-completions"
        )
    );
    let out = env
        .cmd()
        .args(["models", "list", "--json", "--proxy-only"])
        .output()
        .expect("runs");
    let printed: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let ids: Vec<&str> = printed
        .as_array()
        .map(|a| a.iter().filter_map(|m| m["id"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(ids, ["claude", "gpt"]);
    assert_eq!(
        printed[0]["is_default"], true,
        "server objects passed through"
    );
}

#[test]
fn models_list_marks_the_default_the_instance_sets() {
    let env = SignedIn::new();
    let upstream = "http://127.0.0.1:9/v1";
    env.fake.add_model_preset(
        &env.acme,
        "Other",
        "openai-completions",
        upstream,
        "gpt",
        false,
    );
    let chosen = env.fake.add_model_preset(
        &env.acme,
        "Chosen",
        "anthropic-messages",
        upstream,
        "claude",
        true,
    );
    let out = env.cmd().args(["models", "list"]).output().expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let marked: Vec<&str> = text.lines().filter(|l| l.contains("[default")).collect();
    assert_eq!(marked.len(), 1, "{text}");
    assert!(
        marked[0].contains(&chosen) && marked[0].ends_with("Chosen [default]"),
        "{text}"
    );
}

#[test]
fn models_list_still_reads_the_camel_case_default_flag() {
    let env = SignedIn::new();
    env.fake.add_model(&env.acme, json!({"id": "old", "label": "Old", "apiShape": "anthropic-messages", "enabled": true, "isDefault": true}));
    let out = env.cmd().args(["models", "list"]).output().expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).ends_with("  Old [default]\n"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn models_list_errors_and_malformed_envelopes() {
    let env = SignedIn::new();
    env.fake
        .inject(Fault::json("/api/models", 200, &json!({"object": "list"})));
    let out = env.cmd().args(["models", "list"]).output().expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        "error: API error (500): Malformed list response from /api/models: expected { object: \"list\", data: [...] }.\n"
    );
}
