//! Interactive `login` in a pseudo-terminal: the organization picker and
//! the create-organization prompts (docs/platform-api.md#after-sign-in-org-and-app-pins).

use std::time::Duration;

use appstrate_testkit::fake_instance::{Approval, FakeInstance, Role};
use appstrate_testkit::test_env::TestEnv;
use expectrl::{Expect, Session};

const BIN: &str = env!("CARGO_BIN_EXE_appstrate");

fn spawn(env: &TestEnv, args: &[&str]) -> expectrl::session::OsSession {
    let mut cmd = env.command(BIN);
    cmd.args(args).env("TERM", "xterm-256color");
    let mut session = Session::spawn(cmd).expect("spawn in a pty");
    session.set_expect_timeout(Some(Duration::from_secs(20)));
    session
}

fn fake() -> (FakeInstance, String) {
    let fake = FakeInstance::builder().interval(0).start();
    let user = fake.add_user("alice@example.com");
    fake.set_approval(Approval::AutoApprove(user.clone()));
    (fake, user)
}

#[test]
fn picker_pins_the_chosen_org_and_preselects_the_current_one() {
    let (fake, user) = fake();
    let acme = fake.add_org(&user, "Acme", "acme", Role::Owner);
    let beta = fake.add_org(&user, "Beta", "beta", Role::Owner);
    let env = TestEnv::new();

    let mut p = spawn(&env, &["login", "--instance", fake.url(), "--no-app"]);
    p.expect("Select the organization to pin on this profile")
        .unwrap();
    p.expect("Beta — beta").unwrap();
    p.send("\x1b[B").unwrap(); // down: Beta
    p.send("\r").unwrap();
    // The banner wraps to the terminal's width: the id may be on the next line.
    p.expect("Logged in as alice@example.com to \"Beta\"")
        .unwrap();
    p.expect(format!("({beta})")).unwrap();
    p.expect(expectrl::Eof).unwrap();
    let cfg = std::fs::read_to_string(env.config_path()).unwrap();
    assert!(cfg.contains(&format!("orgId = \"{beta}\"")), "{cfg}");

    // Re-login: the picker starts on the pinned org (Beta); Enter keeps it,
    // one step up picks Acme.
    let mut p = spawn(&env, &["login", "--instance", fake.url(), "--no-app"]);
    p.expect("Select the organization to pin on this profile")
        .unwrap();
    p.expect("Beta — beta").unwrap();
    p.send("\x1b[A").unwrap(); // up: Acme
    p.send("\r").unwrap();
    p.expect("to \"Acme\"").unwrap();
    p.expect(format!("({acme})")).unwrap();
    p.expect(expectrl::Eof).unwrap();
}

#[test]
fn zero_orgs_prompts_for_name_and_slug() {
    let (fake, _user) = fake();
    let env = TestEnv::new();
    let mut p = spawn(&env, &["login", "--instance", fake.url()]);
    p.expect("Organization name").unwrap();
    p.send_line("Pty Org").unwrap();
    p.expect("Slug (optional").unwrap();
    p.send_line("pty-org").unwrap();
    p.expect("Logged in as alice@example.com to \"Pty Org\"")
        .unwrap();
    p.expect(expectrl::Eof).unwrap();
    let post = &fake.requests_to("POST", "/api/orgs")[0];
    assert_eq!(post.body_text(), r#"{"name":"Pty Org","slug":"pty-org"}"#);
}

#[test]
fn instance_prompt_offers_the_default() {
    let (fake, _user) = fake();
    let env = TestEnv::new();
    let mut p = spawn(&env, &["login", "--no-org"]);
    p.expect("Instance URL").unwrap();
    p.send_line(fake.url()).unwrap();
    p.expect("Logged in as alice@example.com").unwrap();
    p.expect(expectrl::Eof).unwrap();
}
