//! One voice: errors as `error:` + `hint:` lines with clap's colour rules,
//! messages that say what to do, frames on stderr, and every subcommand's
//! `--help` (README "Exit codes and errors").

use std::process::Output;

use crate::support::{stderr, stdout};
use appstrate_testkit::fake_instance::{Approval, FakeInstance};
use appstrate_testkit::test_env::TestEnv;

const BIN: &str = env!("CARGO_BIN_EXE_appstrate");

fn run(env: &TestEnv, args: &[&str]) -> Output {
    env.command(BIN).args(args).output().expect("run appstrate")
}

const NOT_CONFIGURED: &str = "error: Profile \"default\" not configured.\nhint: Run: appstrate login --instance <URL> --profile default (no instance yet? `appstrate install` starts one)\n";

#[test]
fn a_never_configured_profile_reads_the_same_everywhere() {
    let env = TestEnv::new();
    for args in [
        &["whoami"][..],
        &["token"],
        &["org", "current"],
        &["app", "current"],
        &["openapi", "list"],
    ] {
        let out = run(&env, args);
        assert_eq!(stderr(&out), NOT_CONFIGURED, "{args:?}");
        assert_eq!(out.status.code(), Some(4), "{args:?}");
    }
}

#[test]
fn forced_colour_paints_the_labels_and_no_color_wins() {
    let mut env = TestEnv::new();
    env.set_env("FORCE_COLOR", "1");
    // TestEnv sets NO_COLOR=1: it wins over FORCE_COLOR.
    let out = run(&env, &["whoami"]);
    assert_eq!(stderr(&out), NOT_CONFIGURED);
    let out = env
        .command(BIN)
        .env_remove("NO_COLOR")
        .arg("whoami")
        .output()
        .expect("run");
    let err = stderr(&out);
    assert!(
        err.starts_with("\x1b[1m\x1b[31merror:\x1b[0m Profile"),
        "{err:?}"
    );
    assert!(
        err.contains("\n\x1b[1m\x1b[36mhint:\x1b[0m Run:"),
        "{err:?}"
    );
}

#[test]
fn a_blank_profile_is_quoted_in_the_hint() {
    let mut env = TestEnv::new();
    env.set_env("APPSTRATE_PROFILE", " ");
    let out = run(&env, &["whoami"]);
    assert!(
        stderr(&out).contains("--profile ' ' (no instance yet?"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_url_without_scheme_gets_the_url_meant() {
    let env = TestEnv::new();
    let out = run(&env, &["login", "--instance", "127.0.0.1:9"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("hint: Run: appstrate login --instance http://127.0.0.1:9\n"),
        "{}",
        stderr(&out)
    );
    let out = run(&env, &["login", "--instance", "appstrate.example.com"]);
    assert!(
        stderr(&out).contains("--instance https://appstrate.example.com\n"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn logout_with_nothing_configured_writes_nothing() {
    let env = TestEnv::new();
    let out = run(&env, &["logout"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        !env.config_dir().join("config.toml.lock").exists(),
        "a lock file was left behind"
    );
    assert!(!env.config_path().exists());
}

#[test]
fn logout_prints_no_frame_on_stdout() {
    let env = TestEnv::new();
    let out = run(&env, &["logout"]);
    assert_eq!(stdout(&out), "", "stdout is for data");
    assert!(
        stderr(&out).contains("┌  Appstrate logout"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("└  Already signed out."));
}

#[test]
fn login_frames_go_to_stderr_and_close_on_error() {
    let fake = FakeInstance::builder().interval(0).start();
    fake.set_approval(Approval::Deny);
    let env = TestEnv::new();
    let out = run(&env, &["login", "--instance", fake.url()]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let out_text = stdout(&out);
    assert!(
        !out_text.contains('┌') && !out_text.contains('└'),
        "{out_text}"
    );
    let err = stderr(&out);
    assert!(
        err.starts_with("┌  Appstrate login — profile \"default\"\n"),
        "{err}"
    );
    // The frame is closed before the error line.
    let close = err.rfind("└\n").expect("frame closed");
    let error = err.find("error: ").expect("error line");
    assert!(close < error, "{err}");
}

/// Every subcommand, walked from clap's own tree as `--help` lists it.
fn subcommands(env: &TestEnv, path: &[&str]) -> Vec<String> {
    let mut args: Vec<&str> = path.to_vec();
    args.push("--help");
    let out = run(env, &args);
    let help = stdout(&out);
    // clap's `Commands:` list, or the top level's groups (`Auth commands:`).
    let mut names = Vec::new();
    let mut in_list = false;
    for line in help.lines() {
        if !line.starts_with(' ') {
            in_list = line.ends_with("ommands:");
            continue;
        }
        if in_list
            && let Some(name) = line.split_whitespace().next()
            && name != "help"
        {
            names.push(name.to_string());
        }
    }
    names
}

#[test]
fn every_subcommand_has_help_on_stdout() {
    let env = TestEnv::new();
    let mut queue: Vec<Vec<String>> = vec![vec![]];
    let mut seen = 0;
    while let Some(path) = queue.pop() {
        let refs: Vec<&str> = path.iter().map(String::as_str).collect();
        let mut args = refs.clone();
        args.push("--help");
        let out = run(&env, &args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        assert!(!out.stdout.is_empty(), "{args:?}");
        assert!(out.stderr.is_empty(), "{args:?}: {}", stderr(&out));
        if refs != ["api"] {
            // `api --help` is curl-style and has its own examples.
            assert!(
                stdout(&out).contains("\nExamples:\n  $ appstrate "),
                "{args:?} has no examples"
            );
            // Examples live in that section only, never also in the text.
            assert_eq!(
                stdout(&out).matches("Examples:").count(),
                1,
                "{args:?}: {}",
                stdout(&out)
            );
        }
        seen += 1;
        for sub in subcommands(&env, &refs) {
            let mut next = path.clone();
            next.push(sub);
            queue.push(next);
        }
    }
    assert!(seen > 30, "walked only {seen} commands");
}

#[test]
fn the_command_list_is_grouped_and_global_flags_stay_where_they_mean_something() {
    let env = TestEnv::new();
    let help = stdout(&run(&env, &["--help"]));
    let headings: Vec<&str> = help.lines().filter(|l| l.ends_with("commands:")).collect();
    assert_eq!(
        headings,
        [
            "Instance commands:",
            "Auth commands:",
            "Context commands:",
            "API commands:",
            "Agent commands:",
            "Tool commands:"
        ]
    );
    for args in [
        &["doctor", "--help"][..],
        &["completions", "--help"],
        &["afps", "inspect", "--help"],
        &["install", "--help"],
    ] {
        let help = stdout(&run(&env, args));
        assert!(
            !help.contains("--profile") && !help.contains("--allow-http"),
            "{args:?}: {help}"
        );
    }
    let help = stdout(&run(&env, &["whoami", "--help"]));
    assert!(
        help.contains("Global options:\n  -p, --profile <NAME>"),
        "{help}"
    );
    // Hidden, not refused: a script passing -p everywhere keeps working.
    let out = run(&env, &["doctor", "-p", "x", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

fn json_of(out: &Output) -> serde_json::Value {
    assert!(out.status.success(), "{}", stderr(out));
    serde_json::from_slice(&out.stdout).expect("stdout is one JSON object")
}

#[test]
fn json_reports_have_their_documented_fields_and_no_token() {
    use appstrate_testkit::fake_instance::{NewUser, Role};
    let fake = FakeInstance::start();
    let user = fake.add_user(NewUser::new("alice@example.com").display_name("Alice A"));
    let org = fake.add_org(&user, "Acme", "acme", Role::Owner);
    let env = TestEnv::new();
    let (access, refresh) = fake.issue_tokens(&user);
    env.seed_login(
        "default",
        fake.url(),
        &user,
        "cached@example.com",
        Some(&org),
        None,
        &access,
        &refresh,
    );

    let me = json_of(&run(&env, &["whoami", "--json"]));
    assert_eq!(me["profile"], "default");
    assert_eq!(me["instance"], fake.url());
    assert_eq!(me["email"], "alice@example.com");
    assert_eq!(me["name"], "Alice A");
    assert_eq!(me["orgId"], org.as_str());
    assert_eq!(me["orgName"], "Acme");
    assert!(me["applicationId"].is_null());

    let out = run(&env, &["token", "--json"]);
    let text = stdout(&out);
    let token = json_of(&out);
    assert_eq!(token["profile"], "default");
    assert_eq!(token["accessToken"]["status"], "fresh", "{text}");
    assert_eq!(token["refreshToken"]["status"], "valid", "{text}");
    assert!(token["accessToken"]["expiresAt"].is_string());
    assert!(token["refreshToken"]["expiresAt"].is_string());
    for secret in [&access, &refresh] {
        assert!(!text.contains(secret.as_str()), "a token leaked: {text}");
    }
    assert!(!text.contains("eyJ"), "{text}");

    let current = json_of(&run(&env, &["org", "current", "--json"]));
    assert_eq!(
        current,
        serde_json::json!({"profile": "default", "orgId": org})
    );
    let current = json_of(&run(&env, &["app", "current", "--json"]));
    assert_eq!(
        current,
        serde_json::json!({"profile": "default", "applicationId": null})
    );
}

#[test]
fn help_api_is_api_dash_dash_help() {
    let env = TestEnv::new();
    let via_help = run(&env, &["help", "api"]);
    let via_flag = run(&env, &["api", "--help"]);
    assert_eq!(via_help.status.code(), Some(0));
    assert_eq!(stdout(&via_help), stdout(&via_flag));
    assert!(
        stdout(&via_flag).contains("not -k"),
        "{}",
        stdout(&via_flag)
    );
}

#[test]
fn allow_http_is_the_flag_and_insecure_a_hidden_alias() {
    let env = TestEnv::new();
    let help = stdout(&run(&env, &["--help"]));
    assert!(help.contains("--allow-http"), "{help}");
    assert!(!help.contains("--insecure"), "{help}");
    for flag in ["--allow-http", "--insecure"] {
        let out = run(&env, &["login", flag, "--instance", "ftp://x"]);
        assert_eq!(out.status.code(), Some(1), "{flag}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("protocol \"ftp\" (expected"),
            "{}",
            stderr(&out)
        );
    }
    let out = run(&env, &["login", "--instance", "http://example.com"]);
    assert!(
        stderr(&out).contains("Pass --allow-http"),
        "{}",
        stderr(&out)
    );
}

/// The characters of a clack frame; none may reach stdout.
const FRAME_CHARS: [char; 9] = ['┌', '│', '└', '◇', '◆', '●', '▲', '╮', '╯'];

fn assert_no_frame_on_stdout(args: &[&str], out: &Output) {
    let text = stdout(out);
    assert!(
        !text.contains(FRAME_CHARS),
        "{args:?} printed a frame on stdout: {text}"
    );
}

#[test]
fn stdout_carries_data_only_for_every_kind_of_command() {
    use appstrate_testkit::fake_instance::{NewUser, Role};
    let fake = FakeInstance::start();
    let user = fake.add_user(NewUser::new("alice@example.com"));
    let org = fake.add_org(&user, "Acme", "acme", Role::Owner);
    fake.add_app(&org, "Main", true);
    let env = TestEnv::new();
    let (access, refresh) = fake.issue_tokens(&user);
    env.seed_login(
        "default",
        fake.url(),
        &user,
        "alice@example.com",
        Some(&org),
        None,
        &access,
        &refresh,
    );
    let compose = env.home().join("stack");
    std::fs::create_dir_all(&compose).unwrap();
    std::fs::write(
        compose.join("docker-compose.yml"),
        "services:\n  a:\n    environment:\n      - LOG_LEVEL=${LOG_LEVEL:-info}\n",
    )
    .unwrap();
    let cases: [&[&str]; 9] = [
        &["whoami"],
        &["token"],
        &["org", "list"],
        &["org", "switch", "acme"],
        &["app", "current"],
        &["doctor"],
        &["install", "--upgrade-compose", "--dir", "stack"],
        &["login", "--instance", "not-a-url"],
        &["logout"],
    ];
    // Data stays on stdout.
    let out = run(&env, &["org", "current"]);
    assert_eq!(stdout(&out), format!("{org}\n"));
    for args in cases {
        let out = run(&env, args);
        assert_no_frame_on_stdout(args, &out);
    }
}
