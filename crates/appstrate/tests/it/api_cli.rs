//! `appstrate api` end to end: the built binary, an isolated HOME with a
//! signed-in profile, and the testkit recording server as the instance.

use std::io::{BufRead, BufReader, Read};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use crate::support::{ApiEnv, TOKEN, assert_no_secret};
use appstrate_testkit::recorder::{DEFAULT_BODY, Recorder};

fn output(cmd: &mut assert_cmd::Command) -> (i32, Vec<u8>, String) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{e}"));
    assert_no_secret("stdout", &out.stdout);
    assert_no_secret("stderr", &out.stderr);
    (
        out.status.code().unwrap_or(-1),
        out.stdout,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn injects_the_bearer_and_pinned_ids() {
    let rec = Recorder::start();
    let env = ApiEnv::new(&rec.url());
    let (code, out, err) = output(&mut env.api(&["GET", "/json"]));
    assert_eq!(
        (code, out.as_slice(), err.as_str()),
        (0, DEFAULT_BODY.as_bytes(), "")
    );
    let req = &rec.requests()[0];
    assert_eq!(
        req.header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    assert_eq!(req.header("x-org-id"), Some("org_42"));
    assert_eq!(req.header("x-application-id"), Some("app_7"));
    assert!(
        req.header("user-agent")
            .is_some_and(|ua| ua.starts_with("appstrate-cli/"))
    );
}

#[test]
fn ids_are_absent_when_not_pinned_and_profile_flag_works_among_curl_flags() {
    let rec = Recorder::start();
    let env = ApiEnv::with_profile("default", "http://127.0.0.1:9", None, None);
    env.add_profile("dev", &rec.url(), None, None, true);
    let (code, _, _) = output(&mut env.api(&["-sS", "/x", "-p", "dev"]));
    assert_eq!(code, 0);
    let (code, _, _) = output(&mut env.api(&["--profile", "dev", "-sSf", "/y"]));
    assert_eq!(code, 0);
    let (code, _, _) = output(env.cmd().args(["-p", "dev", "api", "/z"]));
    assert_eq!(code, 0);
    let reqs = rec.requests();
    assert_eq!(reqs.len(), 3);
    assert!(
        reqs.iter()
            .all(|r| r.header("x-org-id").is_none() && r.header("x-application-id").is_none())
    );
}

#[test]
fn unconfigured_profile_and_missing_tokens_exit_1_without_a_request() {
    let rec = Recorder::start();
    let env = ApiEnv::new(&rec.url());
    let (code, out, err) = output(&mut env.api(&["-p", "ghost", "-w", "[%{exitcode}]", "/x"]));
    assert_eq!(code, 1);
    // Our own errors in the common voice; the exit code stays 1 (curl's
    // "failure"), and `-w` still follows.
    assert_eq!(
        err,
        "error: Profile \"ghost\" not configured.\nhint: Run: appstrate login --instance <URL> --profile ghost (no instance yet? `appstrate install` starts one)\n"
    );
    assert_eq!(out, b"[1]");
    let (code, _, err) = output(&mut env.api(&["-s", "-p", "ghost", "/x"]));
    assert_eq!((code, err.as_str()), (1, ""));
    env.add_profile("notokens", &rec.url(), None, None, false);
    let (code, _, err) = output(&mut env.api(&["-p", "notokens", "/x"]));
    assert_eq!(code, 1);
    assert!(
        err.starts_with("error: No credentials for profile \"notokens\".\nhint: "),
        "{err}"
    );
    assert!(err.contains("appstrate login --profile notokens"), "{err}");
    assert!(rec.requests().is_empty());
}

#[test]
fn a_broken_instance_url_is_shown_even_with_s() {
    let rec = Recorder::start();
    let env = ApiEnv::new(&rec.url());
    env.add_profile("ftp", "ftp://example.com", None, None, true);
    let expected =
        "error: Unsupported instance URL protocol \"ftp\" (expected http:// or https://).\n";
    let (code, _, err) = output(&mut env.api(&["-s", "-p", "ftp", "/x"]));
    assert_eq!((code, err.as_str()), (1, expected));
    let (code, _, err) = output(&mut env.api(&["-p", "ftp", "/x"]));
    assert_eq!((code, err.as_str()), (1, expected), "shown once");
    assert!(rec.requests().is_empty());
}

#[test]
fn usage_errors() {
    let rec = Recorder::start();
    let env = ApiEnv::new(&rec.url());
    let (code, _, err) = output(&mut env.api(&["https://evil.example.com/x"]));
    assert_eq!(code, 2);
    assert_eq!(
        err,
        format!(
            "refusing to send bearer to foreign host.\n  Expected origin: {}\n  Got:             https://evil.example.com\n  Hint: use `curl` directly for non-Appstrate hosts.\n",
            rec.url()
        )
    );
    assert_eq!(output(&mut env.api(&["-G", "-F", "a=b", "/x"])).0, 2);
    assert_eq!(output(&mut env.api(&["-b", "./jar.txt", "/x"])).0, 2);
    let (code, _, err) = output(&mut env.api(&["-u", "me:pw", "/x"]));
    assert_eq!((code, err.as_str()), (2, "error: unknown option '-u'\n"));
    let (code, _, err) = output(&mut env.api(&["FETCH", "/x"]));
    assert_eq!(code, 1);
    assert!(err.contains("expected HTTP method as first argument, got \"FETCH\""));
    let (code, _, err) = output(&mut env.api(&["--retry", "x", "/x"]));
    assert_eq!(code, 2);
    assert!(err.contains("expected a non-negative integer, got \"x\""));
    assert!(rec.requests().is_empty());
    let (code, out, _) = output(&mut env.api(&["--help"]));
    assert_eq!(code, 0);
    assert!(String::from_utf8_lossy(&out).contains("Usage: appstrate api"));
}

#[test]
fn stdin_bodies_stream_and_disable_retry() {
    let rec = Recorder::start();
    let env = ApiEnv::new(&rec.url());
    let body: Vec<u8> = (0..100 * 1024).map(|i| b'a' + (i % 26) as u8).collect();
    let (code, _, err) = output(
        env.api(&["--retry", "2", "-d", "@-", "/post"])
            .write_stdin(body.clone()),
    );
    assert_eq!(code, 0);
    assert_eq!(
        err,
        "--retry disabled: body is consumed from stdin and cannot be replayed.\n"
    );
    let (code, _, _) = output(
        env.api(&["-T", "-", "/up"])
            .write_stdin(b"upload\n".to_vec()),
    );
    assert_eq!(code, 0);
    let reqs = rec.requests();
    assert_eq!(
        (reqs[0].method.as_str(), reqs[0].body.as_slice()),
        ("POST", body.as_slice())
    );
    assert_eq!(
        (reqs[1].method.as_str(), reqs[1].body.as_slice()),
        ("PUT", &b"upload\n"[..])
    );
}

#[test]
fn multipart_file_round_trip() {
    let rec = Recorder::start();
    let env = ApiEnv::new(&rec.url());
    let zip = env.home.path().join("pkg.zip");
    let data: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(&zip, &data).unwrap_or_else(|e| panic!("{e}"));
    let spec = format!("file=@{};type=application/zip", zip.display());
    let (code, _, _) = output(&mut env.api(&["-F", &spec, "-F", "note=hello", "/upload"]));
    assert_eq!(code, 0);
    let req = &rec.requests()[0];
    let ct = req.header("content-type").unwrap_or_default();
    assert!(ct.starts_with("multipart/form-data; boundary="));
    let body = &req.body;
    let needle = b"Content-Disposition: form-data; name=\"file\"; filename=\"pkg.zip\"\r\nContent-Type: application/zip\r\n\r\n";
    let start = body
        .windows(needle.len())
        .position(|w| w == needle)
        .unwrap_or_else(|| panic!("no file part"))
        + needle.len();
    assert_eq!(&body[start..start + data.len()], data.as_slice());
    assert!(body.windows(9).any(|w| w == b"\r\n\r\nhello"));
}

#[test]
fn binary_bodies_are_byte_exact() {
    let rec = Recorder::start();
    let env = ApiEnv::new(&rec.url());
    let out_file = env.home.path().join("out.bin");
    let (code, _, _) = output(&mut env.api(&[
        "-o",
        out_file.to_str().unwrap_or_default(),
        "/bytes?n=1048576",
    ]));
    assert_eq!(code, 0);
    let (code, stdout, _) = output(&mut env.api(&["/bytes?n=1048576"]));
    assert_eq!(code, 0);
    let file = std::fs::read(&out_file).unwrap_or_default();
    assert_eq!(file.len(), 1_048_576);
    assert_eq!(file, stdout);
}

/// The first server-sent event reaches stdout while the server still
/// holds the second one back.
#[test]
fn sse_events_are_streamed_as_they_arrive() {
    let rec = Recorder::start();
    let env = ApiEnv::new(&rec.url());
    let mut child = env
        .std_cmd()
        .args(["api", "-N", "/sse"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        loop {
            let mut line = String::new();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            }
        }
    });
    let first = rx
        .recv_timeout(Duration::from_secs(20))
        .unwrap_or_else(|_| {
            let _ = child.kill();
            panic!("first event never reached stdout while the second was held back")
        });
    assert_eq!(first, "data: first\n");
    rec.open_gate();
    let mut rest = String::new();
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(20)) {
        rest.push_str(&line);
    }
    assert_eq!(rest, "\ndata: second\n\n");
    let status = child.wait().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(status.code(), Some(0));
}

#[test]
fn sigint_mid_stream_exits_130() {
    let rec = Recorder::start();
    let env = ApiEnv::new(&rec.url());
    let mut child = env
        .std_cmd()
        .args(["api", "/stall-body"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let mut stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
    let mut first = [0u8; 6];
    stdout
        .read_exact(&mut first)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(&first, b"first\n");
    let pid = child.id();
    let rc = std::process::Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(rc.success());
    let status = child.wait().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(status.code(), Some(130));
    let mut err = String::new();
    let _ = child.stderr.take().map(|mut e| e.read_to_string(&mut err));
    assert_eq!(err, "");
}

#[test]
fn broken_pipe_exits_quietly() {
    let rec = Recorder::start();
    let env = ApiEnv::new(&rec.url());
    let mut child = env
        .std_cmd()
        .args(["api", "/bytes?n=20000000"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let mut stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
    let mut buf = [0u8; 10];
    stdout
        .read_exact(&mut buf)
        .unwrap_or_else(|e| panic!("{e}"));
    drop(stdout);
    let status = child.wait().unwrap_or_else(|e| panic!("{e}"));
    let mut err = String::new();
    let _ = child.stderr.take().map(|mut e| e.read_to_string(&mut err));
    assert_eq!((status.code(), err.as_str()), (Some(0), ""));
}

#[test]
fn network_error_classes() {
    let env = ApiEnv::new(&format!(
        "http://127.0.0.1:{}",
        appstrate_testkit::recorder::closed_port()
    ));
    let (code, out, err) = output(&mut env.api(&["-w", "%{http_code}|%{exitcode}", "/x"]));
    assert_eq!((code, out.as_slice()), (7, &b"0|7"[..]));
    assert!(err.starts_with("Could not connect: "));
    let env = ApiEnv::new("https://no-such-host.invalid");
    let (code, _, err) = output(&mut env.api(&["/x"]));
    assert_eq!(code, 6, "{err}");
    assert!(err.contains("resolve"));
    let tls = Recorder::start_tls();
    let env = ApiEnv::new(&tls.url());
    let (code, _, err) = output(&mut env.api(&["/x"]));
    assert_eq!(code, 35, "{err}");
    let (code, out, _) = output(&mut env.api(&["-k", "-w", " %{http_version}", "/x"]));
    assert_eq!(
        (code, String::from_utf8_lossy(&out).into_owned()),
        (0, format!("{DEFAULT_BODY} 2"))
    );
    let rec = Recorder::start();
    let env = ApiEnv::new(&rec.url());
    let (code, _, err) = output(&mut env.api(&["--max-time", "0.3", "/stall-body"]));
    assert_eq!((code, err.as_str()), (28, "Operation timed out\n"));
}

/// The token never reaches stdout or stderr, whatever the flags, and never
/// reaches another origin.
#[test]
fn token_never_leaks() {
    let rec = Recorder::start();
    let other = Recorder::start();
    let env = ApiEnv::new(&rec.url());
    let to = format!("{}/elsewhere", other.url());
    let redirect = format!("/redirect/302?to={to}");
    let cases: Vec<Vec<&str>> = vec![
        vec!["-v", "/json"],
        vec!["-i", "-v", "/json"],
        vec!["-w", "%{header_json}%{url_effective}", "-i", "/json"],
        vec!["-v", "-L", "-i", &redirect],
        vec!["-v", "-H", "Authorization: Bearer TOPSECRET-user", "/json"],
        vec!["-v", "--fail-with-body", "/status/401"],
        vec!["-v", "-f", "/status/500"],
        vec!["-v", "https://evil.example.com/x"],
        vec!["-v", "--max-time", "0.2", "/stall-body"],
    ];
    for args in &cases {
        output(&mut env.api(args));
    }
    let sent_elsewhere = other.requests();
    assert_eq!(sent_elsewhere.len(), 1);
    assert!(sent_elsewhere[0].header("authorization").is_none());
    let mut stdin_env = env.api(&["-v", "-d", "@-", "/x"]);
    output(stdin_env.write_stdin(b"x".to_vec()));
}

/// An access token about to expire is rotated before the request, which
/// then carries the new bearer (docs/api-command.md#order-of-checks).
#[test]
fn expired_access_token_is_refreshed_first() {
    let fake = appstrate_testkit::fake_instance::FakeInstance::start();
    let user = fake.add_user("dev@example.com");
    let session = fake.issue_session(&user, None);
    let env = ApiEnv::with_profile("default", fake.url(), None, None);
    env.store_tokens(
        "default",
        &session.access_token,
        10_000,
        &session.refresh_token,
    );
    let (code, out, err) = output(&mut env.api(&["-sS", "/api/profile"]));
    assert_eq!(code, 0, "{err}");
    assert!(String::from_utf8_lossy(&out).contains("dev@example.com"));
    assert_no_secret_value("stdout", &out, &session.access_token);
    let reqs = fake.requests();
    let order: Vec<&str> = reqs.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(order, vec!["/api/auth/cli/token", "/api/profile"]);
    let bearer = reqs[1]
        .headers
        .iter()
        .find(|(n, _)| n == "authorization")
        .map(|(_, v)| v.clone());
    assert!(bearer.is_some_and(
        |b| b.starts_with("Bearer ") && b != format!("Bearer {}", session.access_token)
    ));
    assert!(
        !fake.is_refresh_token_live(&session.refresh_token),
        "the old refresh token was rotated"
    );
}

fn assert_no_secret_value(what: &str, text: &[u8], secret: &str) {
    assert!(
        !String::from_utf8_lossy(text).contains(secret),
        "secret leaked in {what}"
    );
}
