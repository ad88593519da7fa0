//! Tokens in a real Secret Service (gnome-keyring on a private D-Bus
//! session), and the 0600 file fallback when no D-Bus session exists.

use std::process::Output;

use appstrate_testkit::fake_instance::{Approval, FakeInstance};
use appstrate_testkit::secret_service::SecretServiceSession;
use appstrate_testkit::test_env::TestEnv;

const BIN: &str = env!("CARGO_BIN_EXE_appstrate");

fn run(env: &TestEnv, args: &[&str]) -> Output {
    env.command(BIN).args(args).output().expect("run appstrate")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn fake() -> FakeInstance {
    let fake = FakeInstance::builder().interval(0).start();
    let user = fake.add_user("alice@example.com");
    fake.set_approval(Approval::AutoApprove(user));
    fake
}

#[test]
fn tokens_live_in_the_secret_service() {
    let keyring = SecretServiceSession::start()
        .expect("a Secret Service (install gnome-keyring and dbus; scripts/test does)");
    let fake = fake();
    let mut env = TestEnv::new();
    env.set_env("DBUS_SESSION_BUS_ADDRESS", keyring.address());

    let out = run(
        &env,
        &["login", "--instance", fake.url(), "--no-org", "-p", "work"],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        !env.credentials_path().exists(),
        "no plaintext file when the keyring works"
    );
    assert!(
        keyring.search_appstrate("work"),
        "entry service=appstrate username=work exists"
    );
    assert!(!keyring.search_appstrate("other"));

    // A second process reads the entry back.
    let out = run(&env, &["whoami", "-p", "work"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("User:     alice@example.com"));
    let out = run(&env, &["token", "-p", "work"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("Status:          fresh"));
    let all = text(&out);
    assert!(!all.contains("eyJ"), "no JWT in output: {all}");

    // Logout deletes the entry.
    let out = run(&env, &["logout", "-p", "work"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(!keyring.search_appstrate("work"));
    let out = run(&env, &["token", "-p", "work"]);
    assert_eq!(out.status.code(), Some(4));
}

#[test]
fn without_dbus_the_file_store_is_used() {
    let fake = fake();
    let mut env = TestEnv::new();
    // A bus address that does not exist: no keyring backend at all.
    env.set_env(
        "DBUS_SESSION_BUS_ADDRESS",
        "unix:path=/nonexistent/appstrate-test-bus",
    );
    let out = run(&env, &["login", "--instance", fake.url(), "--no-org"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(env.credentials_path().exists());
    assert!(
        !text(&out).contains("falling back"),
        "a missing backend falls back silently"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(env.credentials_path())
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
    }
    let out = run(&env, &["whoami"]);
    assert!(out.status.success(), "{}", text(&out));
}
