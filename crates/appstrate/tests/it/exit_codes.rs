//! The exit code table (README "Exit codes"), one error kind at a time,
//! through the built binary: 0 success, 1 failure, 2 usage, 4 not signed
//! in, 130/143 interrupted (128 + signal).

use std::net::TcpListener;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use crate::support::stderr;
use appstrate_testkit::fake_instance::{Approval, FakeInstance};
use appstrate_testkit::test_env::TestEnv;

const BIN: &str = env!("CARGO_BIN_EXE_appstrate");

fn run(env: &TestEnv, args: &[&str]) -> Output {
    env.command(BIN).args(args).output().expect("run appstrate")
}

#[test]
fn success_is_0() {
    let env = TestEnv::new();
    let out = run(&env, &["completions", "bash"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn unknown_flags_and_missing_arguments_are_usage_errors_2() {
    let env = TestEnv::new();
    for args in [
        &["--no-such-flag"][..],
        &["login", "--no-such-flag"],
        &["no-such-command"],
        &["completions"],
        &["org", "switch", "a", "b"],
    ] {
        let out = run(&env, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("error:"),
            "{args:?}: {}",
            stderr(&out)
        );
        assert!(out.stdout.is_empty(), "{args:?}: usage errors go to stderr");
    }
}

#[test]
fn bare_appstrate_prints_help_on_stderr_and_exits_2() {
    let env = TestEnv::new();
    let out = run(&env, &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    assert!(
        stderr(&out).contains("Usage: appstrate"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn api_flag_errors_are_usage_errors_2() {
    let env = TestEnv::new();
    let out = run(&env, &["api", "--no-such-curl-flag", "/api/x"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

#[test]
fn not_signed_in_is_4() {
    let env = TestEnv::new();
    for args in [&["whoami"][..], &["token"], &["org", "current"]] {
        let out = run(&env, args);
        assert_eq!(out.status.code(), Some(4), "{args:?}: {}", stderr(&out));
    }
}

#[test]
fn an_unreachable_instance_is_a_failure_1() {
    let env = TestEnv::new();
    // A port that was free a moment ago: nothing listens on it.
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port");
    let instance = format!("http://127.0.0.1:{port}");
    env.seed_login(
        "default",
        &instance,
        "u1",
        "a@example.com",
        None,
        None,
        "access",
        "refresh",
    );
    let out = run(&env, &["whoami"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
}

/// `login` waiting for an approval that never comes, then a signal.
fn interrupted_login_exit_code(signal: &str) -> Option<i32> {
    let fake = FakeInstance::builder().interval(1).start();
    fake.set_approval(Approval::Manual);
    let env = TestEnv::new();
    let mut child = env
        .command(BIN)
        .args(["login", "--instance", fake.url()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn login");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !fake.requests().iter().any(|r| r.path.contains("token")) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let sent = std::process::Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(sent.success());
    child.wait().expect("wait login").code()
}

#[test]
fn sigint_is_130() {
    assert_eq!(interrupted_login_exit_code("INT"), Some(130));
}

#[test]
fn sigterm_is_143() {
    assert_eq!(interrupted_login_exit_code("TERM"), Some(143));
}

#[test]
fn help_lists_the_exit_codes() {
    let env = TestEnv::new();
    let out = run(&env, &["--help"]);
    assert_eq!(out.status.code(), Some(0));
    let help = String::from_utf8_lossy(&out.stdout);
    for line in [
        "Exit codes:",
        "2    usage",
        "4    not signed in",
        "130  interrupted",
    ] {
        assert!(help.contains(line), "{line:?} missing from:\n{help}");
    }
}
