//! Tier 0 end to end with stand-in `git` and `bun` on PATH: the dev server
//! really detaches, answers HTTP, and the lifecycle verbs manage it through
//! its pid and log files.

use std::time::{Duration, Instant};

use crate::selfhost_common::*;
use appstrate_testkit::fake_bun_git::FakeTools;

struct Tier0 {
    sb: Sandbox,
    tools: FakeTools,
}

impl Tier0 {
    fn new() -> Self {
        let mut sb = Sandbox::new();
        let tools = FakeTools::new().unwrap();
        sb.path = format!("{}:{}", tools.bin_dir().display(), sb.path);
        sb.extra_env = tools.env();
        Tier0 { sb, tools }
    }
}

impl Drop for Tier0 {
    fn drop(&mut self) {
        // Never leave a dev server behind, whatever the test did.
        for entry in std::fs::read_dir(self.sb.home())
            .into_iter()
            .flatten()
            .flatten()
        {
            let pid_file = entry.path().join(".appstrate/tier0.pid");
            if let Ok(pid) = std::fs::read_to_string(pid_file) {
                let _ = std::process::Command::new("kill")
                    .args(["--", &format!("-{}", pid.trim())])
                    .status();
            }
        }
    }
}

fn http_ok(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.write_all(b"GET / HTTP/1.0\r\n\r\n");
    let mut buf = [0u8; 12];
    s.read_exact(&mut buf).is_ok() && buf.starts_with(b"HTTP/1.0 200")
}

fn wait_down(port: u16) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if !http_ok(port) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

#[test]
fn tier0_install_runs_detached_and_lifecycle_verbs_manage_it() {
    let t = Tier0::new();
    let dir = t.sb.dir("hobby");
    let port = free_port();
    let out =
        t.sb.cmd()
            .args(["install", "--tier", "0", "--yes", "--dir"])
            .arg(&dir)
            .args(["--port", &port.to_string()])
            .output()
            .unwrap();
    assert!(
        out.status.success(),
        "stdout:\n{}\nstderr:\n{}",
        stdout(&out),
        stderr(&out)
    );
    let text = stderr(&out);
    assert!(
        text.contains("Source cloned") && text.contains("Dependencies installed"),
        "{text}"
    );
    assert!(
        !text.contains("Cloning into"),
        "git's output is captured: {text}"
    );
    assert!(
        !stdout(&out).contains('│') && !stdout(&out).contains('◇'),
        "no frame on stdout: {}",
        stdout(&out)
    );
    assert!(
        text.contains(&format!(
            "Appstrate is running at http://localhost:{port} (pid "
        )),
        "{text}"
    );
    let log = t.tools.log();
    assert!(
        log[0].starts_with(&format!(
            "clone --depth=1 --branch=v{} https://github.com/appstrate/appstrate.git ",
            appstrate_selfhost::PLATFORM_VERSION
        )),
        "{log:?}"
    );
    assert!(log.contains(&"bun install".to_string()) && log.contains(&"bun run dev".to_string()));
    assert!(t.sb.docker.calls().is_empty(), "Tier 0 never runs docker");

    // .env: the 7 Tier 0 keys, 0600; pid and log files recorded.
    let env = env_map(&dir.join(".env"));
    let keys: Vec<&str> = env.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        vec![
            "APP_URL",
            "BETTER_AUTH_SECRET",
            "CONNECTION_ENCRYPTION_KEY",
            "CONNECT_SESSION_SECRET",
            "PORT",
            "RUN_TOKEN_SECRET",
            "TRUSTED_ORIGINS",
            "UPLOAD_SIGNING_SECRET"
        ]
    );
    assert_eq!(mode(&dir.join(".env")), 0o600);
    assert_eq!(mode(&dir.join(".appstrate")), 0o700);
    assert_eq!(mode(&dir.join(".appstrate/tier0.log")), 0o600);
    let pid: u32 = std::fs::read_to_string(dir.join(".appstrate/tier0.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(http_ok(port), "the dev server outlives the installer");

    let out =
        t.sb.cmd()
            .args(["status", "--dir"])
            .arg(&dir)
            .output()
            .unwrap();
    assert!(
        stdout(&out).contains(&format!(
            "Tier 0 dev server: running (pid {pid}) at http://localhost:{port}"
        )),
        "{}",
        stdout(&out)
    );
    let out =
        t.sb.cmd()
            .args(["status", "--json", "--dir"])
            .arg(&dir)
            .output()
            .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (&report["running"], &report["pid"]),
        (&serde_json::json!(true), &serde_json::json!(pid))
    );
    let out =
        t.sb.cmd()
            .args(["logs", "--dir"])
            .arg(&dir)
            .output()
            .unwrap();
    assert!(
        stdout(&out).contains(&format!("dev server listening on {port}")),
        "{}",
        stdout(&out)
    );
    let out =
        t.sb.cmd()
            .args(["logs", "db", "--dir"])
            .arg(&dir)
            .output()
            .unwrap();
    assert!(stderr(&out).contains("Tier 0 runs a single process"));

    // logs -f: what is already there, then what is appended, byte for byte
    // (a multi-byte character arriving in two writes is not mangled).
    follow_log_sees_appended_bytes(&t.sb, &dir);

    let out =
        t.sb.cmd()
            .args(["stop", "--dir"])
            .arg(&dir)
            .output()
            .unwrap();
    assert!(stdout(&out).contains(&format!("Stopped the Tier 0 dev server (pid {pid}).")));
    assert!(wait_down(port));
    let out =
        t.sb.cmd()
            .args(["status", "--dir"])
            .arg(&dir)
            .output()
            .unwrap();
    assert!(stdout(&out).contains("Tier 0 dev server: stopped"));
    let out =
        t.sb.cmd()
            .args(["status", "--json", "--dir"])
            .arg(&dir)
            .output()
            .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        report,
        serde_json::json!({
            "dir": dir.display().to_string(),
            "tier": 0,
            "kind": "tier0",
            "project": null,
            "url": format!("http://localhost:{port}"),
            "running": false,
            "pid": null,
            "log": dir.join(".appstrate/tier0.log").display().to_string(),
            "services": [],
        })
    );

    let out =
        t.sb.cmd()
            .args(["start", "--dir"])
            .arg(&dir)
            .output()
            .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(http_ok(port));
    let out =
        t.sb.cmd()
            .args(["restart", "--dir"])
            .arg(&dir)
            .output()
            .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(http_ok(port));

    // Re-running install on the existing directory updates it in place
    // and keeps the secrets.
    let out =
        t.sb.cmd()
            .args(["install", "--yes", "--dir"])
            .arg(&dir)
            .output()
            .unwrap();
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    assert!(
        stderr(&out).contains("Existing Tier 0 install detected")
            && stderr(&out).contains("Source updated")
    );
    assert!(dir.join("UPDATED").exists(), "git fetch + checkout ran");
    assert_eq!(
        env_map(&dir.join(".env")),
        env,
        "secrets and port preserved"
    );
    assert!(http_ok(port));

    let out =
        t.sb.cmd()
            .args(["uninstall", "--purge", "--yes", "--dir"])
            .arg(&dir)
            .output()
            .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(wait_down(port));
    assert!(!dir.exists());
}

fn follow_log_sees_appended_bytes(sb: &Sandbox, dir: &std::path::Path) {
    use std::io::{Read, Write};
    use std::process::Stdio;
    let mut child = sb
        .std_cmd()
        .args(["logs", "-f", "--dir"])
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<Vec<u8>>();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    let mut wait_for = |needle: &[u8]| {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if seen.windows(needle.len()).any(|w| w == needle) {
                return true;
            }
            if let Ok(chunk) = rx.recv_timeout(Duration::from_millis(100)) {
                seen.extend_from_slice(&chunk);
            }
        }
        false
    };
    assert!(wait_for(b"dev server listening"), "existing log printed");
    let mut log = std::fs::OpenOptions::new()
        .append(true)
        .open(dir.join(".appstrate/tier0.log"))
        .unwrap();
    let line = "appended: caf\u{e9} \u{2713}\n".as_bytes();
    let split = line.len() - 3; // after the first byte of the check mark
    log.write_all(&line[..split]).unwrap();
    log.flush().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    log.write_all(&line[split..]).unwrap();
    log.flush().unwrap();
    let found = wait_for(line);
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        found,
        "appended bytes printed as written: {:?}",
        String::from_utf8_lossy(&seen)
    );
}

#[test]
fn tier0_from_a_local_checkout_and_a_failing_clone() {
    let t = Tier0::new();
    let checkout = t.sb.dir("mirror");
    std::fs::create_dir_all(&checkout).unwrap();
    let dir = t.sb.dir("airgap");
    let port = free_port();
    let out =
        t.sb.cmd()
            .args(["install", "--tier", "0", "--yes", "--dir"])
            .arg(&dir)
            .args(["--port", &port.to_string(), "--source", "mirror"])
            .output()
            .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        t.tools.log()[0].starts_with(&format!("clone --quiet {} ", checkout.display())),
        "{:?}",
        t.tools.log()
    );
    let out =
        t.sb.cmd()
            .args(["stop", "--dir"])
            .arg(&dir)
            .output()
            .unwrap();
    assert!(out.status.success());

    let bad = t.sb.dir("bad");
    let out =
        t.sb.cmd()
            .args(["install", "--tier", "0", "--yes", "--dir"])
            .arg(&bad)
            .env("FAKE_GIT_FAIL", "1")
            .output()
            .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains(
            "error: git clone failed: exit 128 (fatal: unable to access 'https://github.com/appstrate/appstrate.git/': Could not resolve host: github.com)\n"
        ),
        "{err}"
    );
    assert!(
        err.contains("\nhint: Check the network and that https://github.com/appstrate/appstrate.git is reachable, or install from a mirror or a local checkout: --source <git URL|path> (or APPSTRATE_SOURCE)\n"),
        "{err}"
    );
    // git's own output was captured, not run into the spinner's line.
    assert!(!err.contains("Cloning into"), "{err}");
    assert_eq!(stdout(&out), "", "stdout is for data");
    // The directory the install created is gone: nothing for `uninstall`
    // to stumble on, and a re-run starts afresh.
    assert!(!bad.exists(), "a failed install left {}", bad.display());

    let busy = t.sb.dir("busy");
    std::fs::create_dir_all(&busy).unwrap();
    std::fs::write(busy.join("mine.txt"), "x").unwrap();
    let out =
        t.sb.cmd()
            .args(["install", "--tier", "0", "--yes", "--dir"])
            .arg(&busy)
            .output()
            .unwrap();
    assert!(stderr(&out).contains("is not empty and holds no Appstrate checkout"));
    assert_eq!(std::fs::read_dir(&busy).unwrap().count(), 1);
}

#[test]
fn tier0_finds_bun_in_home_and_refuses_firecracker() {
    let t = Tier0::new();
    // Move bun from PATH to ~/.bun/bin.
    let bun_dir = t.sb.home().join(".bun/bin");
    std::fs::create_dir_all(&bun_dir).unwrap();
    std::fs::rename(t.tools.bin_dir().join("bun"), bun_dir.join("bun")).unwrap();
    let dir = t.sb.dir("homebun");
    let port = free_port();
    let out =
        t.sb.cmd()
            .args(["install", "--tier", "0", "--yes", "--dir"])
            .arg(&dir)
            .args(["--port", &port.to_string()])
            .output()
            .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stderr(&out).contains("Installing Bun"));
    let out =
        t.sb.cmd()
            .args(["stop", "--dir"])
            .arg(&dir)
            .output()
            .unwrap();
    assert!(out.status.success());

    let out =
        t.sb.cmd()
            .args([
                "install",
                "--tier",
                "0",
                "--yes",
                "--dir",
                "x",
                "--run-adapter",
                "firecracker",
            ])
            .output()
            .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "a flag the tier cannot honour is a usage error"
    );
    assert!(stderr(&out).contains("Firecracker"));
}

#[test]
fn tier0_dev_server_that_never_answers_is_killed() {
    let t = Tier0::new();
    // A bun whose dev server never listens.
    appstrate_testkit::fake_docker::write_executable(
        &t.tools.bin_dir().join("bun"),
        "#!/bin/sh\nif [ \"$1\" = run ]; then exec sleep 300; fi\nmkdir -p node_modules\n",
    )
    .unwrap();
    let dir = t.sb.dir("slow");
    let out =
        t.sb.cmd()
            .args(["install", "--tier", "0", "--yes", "--dir"])
            .arg(&dir)
            .args(["--port", &free_port().to_string()])
            .env("APPSTRATE_HEALTH_TIMEOUT", "2")
            .output()
            .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("Dev server did not become healthy within 2s"),
        "{}",
        stderr(&out)
    );
    assert!(!dir.join(".appstrate/tier0.pid").exists());
}
