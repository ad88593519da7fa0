//! `doctor`, the hidden `__install-source` contract and the dual-install
//! warning, with fake `appstrate` binaries on a temporary PATH.

use std::path::Path;

use crate::selfhost_common::*;
use appstrate_testkit::fake_docker::write_executable;

fn fake_appstrate(dir: &Path, version: &str, source: &str) {
    std::fs::create_dir_all(dir).unwrap();
    write_executable(
        &dir.join("appstrate"),
        &format!("#!/bin/sh\n[ \"$1\" = __install-source ] && echo '{{\"version\":\"{version}\",\"source\":\"{source}\",\"schema\":1}}' && exit 0\nexit 1\n"),
    )
    .unwrap();
}

#[test]
fn install_source_contract() {
    let sb = Sandbox::new();
    let out = sb.cmd().arg("__install-source").output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        stdout(&out),
        format!(
            "{{\"version\":\"{}\",\"source\":\"unknown\",\"schema\":1}}\n",
            env!("CARGO_PKG_VERSION")
        )
    );
    let help = sb.cmd().arg("--help").output().unwrap();
    assert!(!stdout(&help).contains("__install-source"));
}

#[test]
fn doctor_reports_installs_channels_and_local_install() {
    let sb = Sandbox::new();
    let a = sb.dir("a");
    let b = sb.dir("b");
    fake_appstrate(&a, "1.2.3", "curl");
    fake_appstrate(&b, "1.2.0", "bun");
    std::fs::create_dir_all(sb.dir("c/appstrate")).unwrap(); // a directory, not a binary
    let path = format!(
        "{}:{}:{}:{}",
        a.display(),
        b.display(),
        sb.dir("c").display(),
        sb.system_path()
    );
    // A local Docker-tier install with compose drift.
    let local = sb.dir("appstrate");
    std::fs::create_dir_all(local.join(".appstrate")).unwrap();
    std::fs::write(
        local.join(".appstrate/project.json"),
        "{\"version\":1,\"projectName\":\"appstrate-appstrate-1\",\"createdAt\":\"x\"}",
    )
    .unwrap();
    std::fs::write(
        local.join("docker-compose.yml"),
        "  - LOG_LEVEL=${LOG_LEVEL:-info}\n",
    )
    .unwrap();

    let out = sb
        .cmd()
        .args(["doctor", "--json"])
        .env("PATH", &path)
        .output()
        .unwrap();
    assert!(out.status.success());
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let keys: Vec<&str> = json
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        vec![
            "installations",
            "runningIndex",
            "dualInstall",
            "multiSource",
            "localInstall",
            "composeDrift"
        ]
    );
    let inst = json["installations"].as_array().unwrap();
    assert_eq!(
        inst.len(),
        2,
        "the directory named appstrate is not an install"
    );
    assert_eq!(inst[0]["version"], "1.2.3");
    assert_eq!(inst[0]["source"], "curl");
    assert_eq!(inst[1]["source"], "bun");
    assert_eq!(json["runningIndex"], -1);
    assert_eq!(json["dualInstall"], true);
    assert_eq!(json["multiSource"], true);
    assert_eq!(json["localInstall"]["projectName"], "appstrate-appstrate-1");
    assert_eq!(json["composeDrift"][0]["kind"], "duplicate");
    assert_eq!(json["composeDrift"][0]["varName"], "LOG_LEVEL");

    let out = sb.cmd().arg("doctor").env("PATH", &path).output().unwrap();
    // The human report is a frame: stderr.
    let text = stderr(&out);
    assert!(
        text.contains("Found 2 installations of `appstrate` on $PATH:"),
        "{text}"
    );
    assert!(text.contains("[curl]") && text.contains("bun channel → bun remove -g appstrate"));
    assert!(text.contains("appstrate install --upgrade-compose"));
    assert!(text.contains("Detected more than one installation. See above for cleanup hints."));
    assert!(
        !text.contains("Silence this warning"),
        "doctor never prints the dual-install warning"
    );
    assert_eq!(stdout(&out), "", "stdout is for data (--json)");

    let out = sb
        .cmd()
        .arg("doctor")
        .env("PATH", sb.system_path())
        .output()
        .unwrap();
    let text = stderr(&out);
    assert!(
        text.contains("No `appstrate` binary found on $PATH.") && text.contains("Running binary: ")
    );
    assert!(!text.contains("Healthy — single installation"));
}

#[test]
fn dual_install_warning_once_per_set_and_kill_switches() {
    let sb = Sandbox::new();
    let (a, b) = (sb.dir("a"), sb.dir("b"));
    fake_appstrate(&a, "1", "curl");
    fake_appstrate(&b, "2", "bun");
    let path = format!("{}:{}:{}", a.display(), b.display(), sb.path);
    let cmd = |extra: &[(&str, &str)]| {
        let mut c = sb.cmd();
        c.env_remove("APPSTRATE_NO_DUAL_INSTALL_CHECK")
            .env("PATH", &path)
            .args(["status", "--dir", "nowhere"]);
        for (k, v) in extra {
            c.env(k, v);
        }
        c.output().unwrap()
    };
    let out = cmd(&[]);
    let err = stderr(&out);
    assert!(
        err.starts_with("! Multiple `appstrate` installations detected on $PATH (2 entries):\n"),
        "{err}"
    );
    assert!(
        err.contains(&format!("    {}/appstrate\n", a.display()))
            && err.contains("! Run `appstrate doctor` for the full report.")
    );
    let cfg = appstrate_testkit::test_env::config_home(sb.home()).join("appstrate");
    assert_eq!(mode(&cfg), 0o700);
    let ack: serde_json::Value =
        serde_json::from_slice(&std::fs::read(cfg.join("dual-install-ack.json")).unwrap()).unwrap();
    assert_eq!(ack["paths"].as_array().unwrap().len(), 2);
    assert!(
        !stderr(&cmd(&[])).contains("Multiple"),
        "silent after the ack"
    );
    std::fs::remove_file(cfg.join("dual-install-ack.json")).unwrap();
    assert!(!stderr(&cmd(&[("APPSTRATE_NO_DUAL_INSTALL_CHECK", "1")])).contains("Multiple"));
    assert!(!stderr(&cmd(&[("APPSTRATE_FORCE_DUAL", "1")])).contains("Multiple"));
    assert!(!cfg.join("dual-install-ack.json").exists());
    // Skipped for --version / completions too.
    let out = sb
        .cmd()
        .env_remove("APPSTRATE_NO_DUAL_INSTALL_CHECK")
        .env("PATH", &path)
        .arg("--version")
        .output()
        .unwrap();
    assert!(stderr(&out).is_empty());
    let out = sb
        .cmd()
        .env_remove("APPSTRATE_NO_DUAL_INSTALL_CHECK")
        .env("PATH", &path)
        .args(["completions", "bash"])
        .output()
        .unwrap();
    assert!(stderr(&out).is_empty());
}
