//! Interactive `install` and `uninstall --purge` in a pseudo-terminal: the
//! tier picker, the port-conflict prompt, the optional prompts and the
//! confirmations.

use std::time::Duration;

use crate::selfhost_common::*;
use expectrl::{Expect, Session};

fn spawn(mut cmd: std::process::Command) -> expectrl::session::OsSession {
    cmd.env("TERM", "xterm-256color");
    let mut session = Session::spawn(cmd).expect("spawn in a pty");
    session.set_expect_timeout(Some(Duration::from_secs(30)));
    session
}

#[test]
fn picks_a_tier_resolves_a_port_conflict_and_asks_the_optional_questions() {
    let sb = Sandbox::new();
    let dir = sb.dir("tty");
    let held = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    let busy = held.local_addr().unwrap().port();
    let port = free_port();
    let mut cmd = sb.std_cmd();
    cmd.args(["install", "--dir"]).arg(&dir);
    cmd.env("APPSTRATE_PORT", busy.to_string())
        .env("FAKE_DOCKER_SERVE_PORT", port.to_string());
    let mut p = spawn(cmd);
    p.expect("Which tier do you want to install?").unwrap();
    p.expect("recommended").unwrap();
    p.send("\x1b[A").unwrap(); // from the Tier 2 default up to Tier 3
    p.send("\r").unwrap();
    p.expect(format!("Port {busy} is already in use by "))
        .unwrap();
    p.expect("New port for Appstrate").unwrap();
    p.send_line(port.to_string()).unwrap();
    p.expect("Invitation-only mode (optional)").unwrap();
    p.expect("Bootstrap admin email").unwrap();
    p.send_line("owner@example.com").unwrap();
    p.expect("Public URL").unwrap();
    p.send_line("").unwrap();
    p.expect(format!("Appstrate is running at http://localhost:{port}."))
        .unwrap();
    p.expect(expectrl::Eof).unwrap();
    drop(held);

    let env = env_map(&dir.join(".env"));
    assert_eq!(env["PORT"], port.to_string());
    assert_eq!(env["AUTH_BOOTSTRAP_OWNER_EMAIL"], "owner@example.com");
    assert!(env.contains_key("MINIO_ROOT_PASSWORD"), "Tier 3 was picked");
    assert!(!env.contains_key("AUTH_BOOTSTRAP_TOKEN"));

    // Re-running asks before upgrading; "no" changes nothing.
    let before = std::fs::read(dir.join(".env")).unwrap();
    let ls = format!(
        r#"[{{"Name":"{}","ConfigFiles":"{}/docker-compose.yml"}}]"#,
        appstrate_selfhost::project::derive_project_name(&dir),
        dir.display()
    );
    let mut cmd = sb.std_cmd();
    cmd.args(["install", "--dir"])
        .arg(&dir)
        .env("FAKE_DOCKER_COMPOSE_LS", ls);
    let mut p = spawn(cmd);
    p.expect("Existing Tier 3 install detected").unwrap();
    p.expect("An existing install was detected at").unwrap();
    p.send("n").unwrap();
    p.send("\r").unwrap();
    p.expect("Upgrade cancelled.").unwrap();
    p.expect(expectrl::Eof).unwrap();
    assert_eq!(std::fs::read(dir.join(".env")).unwrap(), before);
}

#[test]
fn purge_asks_and_no_keeps_everything() {
    let sb = Sandbox::new();
    let dir = sb.dir("keep");
    std::fs::create_dir_all(dir.join(".appstrate")).unwrap();
    std::fs::write(
        dir.join(".appstrate/project.json"),
        "{\"version\":1,\"projectName\":\"appstrate-keep-1\",\"createdAt\":\"x\"}",
    )
    .unwrap();
    let mut cmd = sb.std_cmd();
    cmd.args(["uninstall", "--purge", "--dir"]).arg(&dir);
    let mut p = spawn(cmd);
    p.expect("Permanently destroy this Appstrate install?")
        .unwrap();
    p.expect("This cannot be undone.").unwrap();
    p.send("\r").unwrap(); // the default is "no"
    p.expect("Uninstall cancelled.").unwrap();
    p.expect(expectrl::Eof).unwrap();
    assert!(dir.exists());
    assert!(sb.docker.calls().is_empty());
}
