//! `start`/`stop`/`restart`/`logs`/`status`/`uninstall` on a Docker-tier
//! install: the exact `docker compose` invocations (docs/install.md).

use crate::selfhost_common::*;

fn installed(sb: &Sandbox, name: &str) -> std::path::PathBuf {
    let dir = sb.dir(name);
    std::fs::create_dir_all(dir.join(".appstrate")).unwrap();
    std::fs::write(
        dir.join(".appstrate/project.json"),
        "{\n  \"version\": 1,\n  \"projectName\": \"appstrate-test-12345678\",\n  \"createdAt\": \"2026-04-24T10:00:00.000Z\"\n}\n",
    )
    .unwrap();
    dir
}

fn run(sb: &Sandbox, args: &[&str], dir: &std::path::Path) -> std::process::Output {
    sb.cmd().args(args).arg("--dir").arg(dir).output().unwrap()
}

#[test]
fn each_verb_runs_its_compose_command_in_the_install_dir() {
    let sb = Sandbox::new();
    let dir = installed(&sb, "stack");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["stop"], "stop"),
        (vec!["logs"], "logs"),
        (vec!["logs", "-f"], "logs -f"),
        (vec!["logs", "-f", "postgres"], "logs -f postgres"),
        (vec!["logs", "postgres"], "logs postgres"),
        (vec!["status"], "ps"),
        (vec!["uninstall"], "down"),
    ];
    for (args, want) in cases {
        let before = sb.docker.calls().len();
        let out = run(&sb, &args, &dir);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        let calls = sb.docker.calls();
        assert_eq!(calls.len(), before + 1, "{args:?}");
        assert_eq!(
            calls[before].argv,
            format!("compose --project-name appstrate-test-12345678 {want}")
        );
        assert_eq!(calls[before].cwd, dir.display().to_string());
    }
    assert!(dir.exists(), "plain uninstall keeps the directory");
}

#[test]
fn start_and_restart_wait_for_health_then_print_the_banner() {
    let sb = Sandbox::new();
    let dir = installed(&sb, "s");
    let port = free_port();
    std::fs::write(
        dir.join(".env"),
        format!("PORT={port}\nAPP_URL=https://apps.example.com\n"),
    )
    .unwrap();
    for (verb, want) in [("start", "up -d"), ("restart", "restart")] {
        let out = sb
            .cmd()
            .args([verb, "--dir"])
            .arg(&dir)
            .env("FAKE_DOCKER_SERVE_PORT", port.to_string())
            .output()
            .unwrap();
        assert!(out.status.success(), "{verb}: {}", stderr(&out));
        assert!(sb.docker.argvs().last().unwrap().ends_with(want));
        let text = stderr(&out);
        assert!(
            text.contains("Appstrate is running at https://apps.example.com."),
            "{text}"
        );
        assert!(text.contains(&format!("appstrate stop --dir {}", dir.display())));
    }
    // No .env: a warning instead of the banner, still success.
    std::fs::remove_file(dir.join(".env")).unwrap();
    let out = run(&sb, &["start"], &dir);
    assert!(out.status.success());
    assert!(stderr(&out).contains("is missing or unreadable — skipping the status banner"));
}

#[test]
fn start_times_out_when_nothing_answers() {
    let sb = Sandbox::new();
    let dir = installed(&sb, "t");
    std::fs::write(dir.join(".env"), format!("PORT={}\n", free_port())).unwrap();
    let out = sb
        .cmd()
        .args(["start", "--dir"])
        .arg(&dir)
        .env("APPSTRATE_HEALTH_TIMEOUT", "2")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains(
        "Appstrate did not become healthy within 2s — check `docker compose logs` for details."
    ));
}

#[test]
fn purge_needs_confirmation_then_removes_volumes_and_dir() {
    let sb = Sandbox::new();
    let dir = installed(&sb, "p");
    let out = run(&sb, &["uninstall", "--purge"], &dir);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out)
            .contains("`appstrate uninstall --purge` is destructive and requires confirmation.")
    );
    assert!(
        dir.exists() && sb.docker.calls().is_empty(),
        "refused before any side effect"
    );

    let out = run(&sb, &["uninstall", "--purge", "--yes"], &dir);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        sb.docker.argvs(),
        vec!["compose --project-name appstrate-test-12345678 down -v"]
    );
    assert!(!dir.exists());

    let dir = installed(&sb, "p2");
    let out = sb
        .cmd()
        .args(["uninstall", "--purge", "--dir"])
        .arg(&dir)
        .env("APPSTRATE_YES", "1")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(!dir.exists());
}

#[test]
fn failing_down_keeps_the_dir_and_signal_codes_pass_through() {
    let sb = Sandbox::new();
    let dir = installed(&sb, "f");
    let out = sb
        .cmd()
        .args(["uninstall", "--purge", "-y", "--dir"])
        .arg(&dir)
        .env("FAKE_DOCKER_EXIT", "2")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("docker compose down -v failed with exit code 2"));
    assert!(dir.exists());
    for code in ["130", "143"] {
        let out = sb
            .cmd()
            .args(["logs", "-f", "--dir"])
            .arg(&dir)
            .env("FAKE_DOCKER_EXIT", code)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(code.parse().unwrap()));
        assert!(stderr(&out).is_empty(), "{}", stderr(&out));
    }
}

#[test]
fn every_verb_explains_a_missing_install() {
    let sb = Sandbox::new();
    let dir = sb.dir("nothing");
    for verb in ["start", "stop", "restart", "logs", "status", "uninstall"] {
        let out = run(&sb, &[verb], &dir);
        assert_eq!(out.status.code(), Some(1), "{verb}");
        let err = stderr(&out);
        assert!(
            err.contains(&format!("No Appstrate install found at {}.", dir.display())),
            "{verb}: {err}"
        );
        assert!(
            err.contains("--dir <path>")
                && err.contains("appstrate install")
                && err.contains(".appstrate/project.json")
        );
    }
    // The default dir is ~/appstrate.
    let out = sb.cmd().arg("status").output().unwrap();
    assert!(stderr(&out).contains(&format!(
        "No Appstrate install found at {}/appstrate.",
        sb.home().display()
    )));
    // A relative --dir is made absolute.
    let out = sb
        .cmd()
        .args(["status", "--dir", "rel/x"])
        .output()
        .unwrap();
    assert!(stderr(&out).contains(&format!("{}/rel/x", sb.home().display())));
    assert!(sb.docker.calls().is_empty());
}

#[test]
fn status_json_reports_the_stack_with_documented_fields() {
    let sb = Sandbox::new();
    let dir = installed(&sb, "js");
    std::fs::write(dir.join(".env"), "PORT=4123\n").unwrap();
    std::fs::write(
        dir.join("docker-compose.yml"),
        "services:\n  appstrate:\n    image: x\n  postgres:\n    image: y\n",
    )
    .unwrap();
    let ps = concat!(
        r#"{"Name":"p-appstrate-1","Service":"appstrate","State":"running","Health":"healthy","Status":"Up 2 minutes (healthy)"}"#,
        "\n",
        r#"{"Name":"p-postgres-1","Service":"postgres","State":"exited","Health":"","Status":"Exited (1) 3 seconds ago"}"#
    );
    let out = sb
        .cmd()
        .args(["status", "--json", "--dir"])
        .arg(&dir)
        .env("FAKE_DOCKER_PS", ps)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        report,
        serde_json::json!({
            "dir": dir.display().to_string(),
            "tier": 1,
            "kind": "docker",
            "project": "appstrate-test-12345678",
            "url": "http://localhost:4123",
            "running": false,
            "pid": null,
            "log": null,
            "services": [
                {"name": "p-appstrate-1", "service": "appstrate", "state": "running", "health": "healthy", "status": "Up 2 minutes (healthy)"},
                {"name": "p-postgres-1", "service": "postgres", "state": "exited", "health": "", "status": "Exited (1) 3 seconds ago"}
            ]
        })
    );
    assert_eq!(
        sb.docker.calls().last().unwrap().argv,
        "compose --project-name appstrate-test-12345678 ps --all --format json"
    );
    // A failing docker is an error, not an empty report.
    let out = sb
        .cmd()
        .args(["status", "--json", "--dir"])
        .arg(&dir)
        .env("FAKE_DOCKER_EXIT", "1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout(&out), "");
    assert!(
        stderr(&out).contains("error: docker compose ps failed with exit code 1"),
        "{}",
        stderr(&out)
    );
}
