//! Root certificates are read when a TLS handshake first needs them, once
//! per process (crates/tls): a command against an `http://` instance or
//! model server never opens the certificate store, and an `https://` one
//! trusts the store `SSL_CERT_FILE` names.
//!
//! The store is made a FIFO with no writer: opening it blocks for ever, so
//! a command that reads it does not finish and the test says why.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::mpsc;
use std::time::Duration;

use appstrate_testkit::model_server::{ModelServer, Reply};
use appstrate_testkit::recorder::{DEFAULT_BODY, Recorder};
use serde_json::json;

use crate::run_common::RunEnv;
use crate::support::{ApiEnv, assert_no_secret, stderr, stdout};

/// `SSL_CERT_FILE` as a FIFO nobody writes, and an empty `SSL_CERT_DIR`.
fn blocking_store(home: &Path, cmd: &mut Command) {
    let fifo = home.join("store.pem");
    let made = Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap_or_else(|e| panic!("mkfifo: {e}"));
    assert!(made.success(), "mkfifo failed");
    let dir = home.join("no-certs");
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    cmd.env("SSL_CERT_FILE", &fifo).env("SSL_CERT_DIR", &dir);
}

/// Runs `cmd` to the end, or kills it after `limit` and fails with `why`.
fn output_within(mut cmd: Command, limit: Duration, why: &str) -> Output {
    cmd.stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = cmd.spawn().unwrap_or_else(|e| panic!("spawn: {e}"));
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(output) => output.unwrap_or_else(|e| panic!("wait: {e}")),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            panic!("still running after {limit:?}: {why}");
        }
    }
}

const LIMIT: Duration = Duration::from_secs(30);

#[test]
fn an_http_instance_never_opens_the_certificate_store() {
    let rec = Recorder::start();
    let env = ApiEnv::new(&rec.url());
    for args in [&["api", "/json"][..], &["api", "-f", "-i", "/json"][..]] {
        let mut cmd = env.std_cmd();
        cmd.args(args);
        blocking_store(env.home.path(), &mut cmd);
        let o = output_within(cmd, LIMIT, "it opened SSL_CERT_FILE for an http:// URL");
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", stderr(&o));
        assert!(stdout(&o).contains(DEFAULT_BODY.trim()), "{}", stdout(&o));
        assert_no_secret("stdout", &o.stdout);
        assert_no_secret("stderr", &o.stderr);
        std::fs::remove_file(env.home.path().join("store.pem")).unwrap_or_else(|e| panic!("{e}"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_run_against_an_http_model_server_never_opens_the_store() {
    let env = RunEnv::new();
    let server = ModelServer::start(vec![Reply::text("Done.")]).await;
    let package = env.write_package(
        "plain.afps",
        &json!({"name": "@test/plain", "version": "1.0.0", "type": "agent"}),
        "Say done.\n",
    );
    let mut cmd = env.base_command(Some(&server));
    cmd.env("ANTHROPIC_API_KEY", "sk-test-secret-key")
        .arg("run")
        .arg(&package);
    blocking_store(env.home.path(), &mut cmd);
    let o = tokio::task::spawn_blocking(move || {
        output_within(
            cmd,
            LIMIT,
            "it opened SSL_CERT_FILE for an http:// model server",
        )
    })
    .await
    .unwrap_or_else(|e| panic!("join: {e}"));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(server.requests().len(), 1);
}

/// Writes the server's self-signed certificate as the only trusted root.
fn trust_only(home: &Path, pem: &str, cmd: &mut Command) -> PathBuf {
    let store = home.join("trusted.pem");
    std::fs::write(&store, pem).unwrap_or_else(|e| panic!("{e}"));
    let dir = home.join("no-certs");
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    cmd.env("SSL_CERT_FILE", &store).env("SSL_CERT_DIR", &dir);
    store
}

#[test]
fn an_https_instance_is_verified_against_the_store_loaded_on_demand() {
    let tls = Recorder::start_tls();
    let pem = tls.cert_pem.clone().unwrap_or_default();
    let env = ApiEnv::new(&tls.url());
    let mut cmd = env.std_cmd();
    cmd.args(["api", "-w", " %{http_version}", "/json"]);
    trust_only(env.home.path(), &pem, &mut cmd);
    let o = output_within(cmd, LIMIT, "an https request did not finish");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // HTTP/2 was negotiated: the configuration offers h2 by ALPN.
    assert_eq!(stdout(&o), format!("{DEFAULT_BODY} 2"));

    // The same server with the store left empty is refused (exit 35, as
    // curl's SSL connect error), so the trust above came from the file.
    let mut cmd = env.std_cmd();
    cmd.args(["api", "/json"]);
    trust_only(env.home.path(), "", &mut cmd);
    let o = output_within(cmd, LIMIT, "an https request did not finish");
    assert_eq!(o.status.code(), Some(35), "{}", stderr(&o));
    assert_no_secret("stderr", &o.stderr);
}
