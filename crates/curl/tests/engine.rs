//! The engine on its own: argv → plan → request against real loopback
//! servers (testkit `Recorder`), with a fixed injected bearer.

use std::time::{Duration, Instant};

use appstrate_curl::{Bearer, Injection, RequestPlan, Streams, execute, parse, report_early_exit};
use appstrate_testkit::recorder::{
    COMPRESSIBLE_TEXT, DEFAULT_BODY, Recorder, StalledListener, closed_port,
};
use url::Url;
use zeroize::Zeroizing;

const TOKEN: &str = "eyJhbGciOiJFUzI1NiJ9.SECRET-ACCESS-TOKEN.sig";

struct Run {
    code: u8,
    stdout: Vec<u8>,
    stderr: String,
}

impl Run {
    fn out(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }
    fn assert_no_token(&self) {
        assert!(
            !self.out().contains("SECRET-ACCESS-TOKEN"),
            "token in stdout"
        );
        assert!(
            !self.stderr.contains("SECRET-ACCESS-TOKEN"),
            "token in stderr"
        );
    }
}

fn run_against(instance: &str, argv: &[&str]) -> Run {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let started = Instant::now();
    let mut stdout = Vec::new();
    let mut stderr = Vec::new();
    let args = parse(argv.iter().copied()).unwrap_or_else(|e| panic!("{e}"));
    let injection = Injection {
        instance: Url::parse(instance).unwrap_or_else(|e| panic!("{e}")),
        profile: "default".into(),
        org_id: Some("org_42".into()),
        app_id: Some("app_7".into()),
        user_agent: "appstrate-cli/0.1.0".into(),
    };
    let code = match RequestPlan::resolve(&args, injection) {
        Ok(plan) => rt.block_on(execute(
            &plan,
            &Bearer::new(Zeroizing::new(TOKEN.to_string())),
            Streams {
                stdout: &mut stdout,
                stderr: &mut stderr,
            },
            started,
        )),
        Err(e) => report_early_exit(
            &args,
            &e.message,
            e.code,
            Streams {
                stdout: &mut stdout,
                stderr: &mut stderr,
            },
            started,
        ),
    };
    let run = Run {
        code,
        stdout,
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    };
    run.assert_no_token();
    run
}

fn run(rec: &Recorder, argv: &[&str]) -> Run {
    run_against(&rec.url(), argv)
}

#[test]
fn injects_bearer_and_identity_headers() {
    let rec = Recorder::start();
    let r = run(&rec, &["/api/x"]);
    assert_eq!((r.code, r.out().as_str()), (0, DEFAULT_BODY));
    let req = &rec.requests()[0];
    assert_eq!(req.method, "GET");
    assert_eq!(req.target, "/api/x");
    assert_eq!(
        req.header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    assert_eq!(req.header("x-org-id"), Some("org_42"));
    assert_eq!(req.header("x-application-id"), Some("app_7"));
    assert_eq!(req.header("user-agent"), Some("appstrate-cli/0.1.0"));
}

#[test]
fn user_headers_override_injected_ones() {
    let rec = Recorder::start();
    run(
        &rec,
        &[
            "-H",
            "x-org-id: mine",
            "-H",
            "X-Application-Id:",
            "-A",
            "ua/1",
            "-H",
            "User-Agent: ua/2",
            "/x",
        ],
    );
    let req = &rec.requests()[0];
    assert_eq!(req.header("x-org-id"), Some("mine"));
    assert_eq!(req.header("x-application-id"), None);
    assert_eq!(req.header("user-agent"), Some("ua/2"));
}

#[test]
fn compressed_responses_are_decoded_only_with_compressed() {
    let rec = Recorder::start();
    for enc in ["gzip", "deflate", "br"] {
        let r = run(
            &rec,
            &["--compressed", "-w", "%{size_download}", &format!("/{enc}")],
        );
        assert_eq!(r.code, 0);
        // Like curl, %{size_download} counts the bytes received (compressed).
        let wire = appstrate_testkit::recorder::compress(enc, COMPRESSIBLE_TEXT.as_bytes()).len();
        assert_eq!(r.out(), format!("{COMPRESSIBLE_TEXT}{wire}"), "{enc}");
        let r = run(&rec, &["-i", "--compressed", &format!("/{enc}")]);
        assert!(
            r.out().contains(&format!("content-encoding: {enc}\r\n")),
            "-i shows the real headers"
        );
    }
    assert_eq!(
        rec.requests()[0].header("accept-encoding"),
        Some("gzip, deflate, br")
    );
    let raw = run(&rec, &["/gzip"]);
    assert_eq!(
        raw.stdout,
        appstrate_testkit::recorder::compress("gzip", COMPRESSIBLE_TEXT.as_bytes())
    );
}

#[test]
fn cross_origin_redirect_drops_authorization_and_cookie() {
    let instance = Recorder::start();
    let other = Recorder::start();
    let to = format!("{}/landing", other.url());
    let r = run(
        &instance,
        &[
            "-L",
            "-b",
            "k=v",
            "-H",
            "X-Custom: 1",
            "-v",
            &format!("/redirect/302?to={to}"),
        ],
    );
    assert_eq!((r.code, r.out().as_str()), (0, DEFAULT_BODY));
    let got = &other.requests()[0];
    assert_eq!(got.header("authorization"), None);
    assert_eq!(got.header("cookie"), None);
    assert_eq!(got.header("x-custom"), Some("1"));
    assert_eq!(got.header("x-org-id"), Some("org_42"));
    assert!(r.stderr.contains("> GET /landing HTTP/1.1"), "{}", r.stderr);
    assert!(r.stderr.contains("< HTTP/1.1 302 Found"));
    // Same origin keeps the bearer.
    let r = run(&instance, &["-L", "/redirect/307?to=/after"]);
    assert_eq!(r.code, 0);
    let reqs = instance.requests();
    let after = reqs
        .iter()
        .find(|q| q.target == "/after")
        .unwrap_or_else(|| panic!("no hop"));
    assert!(after.header("authorization").is_some());
}

#[test]
fn redirect_method_rules_and_hint() {
    let rec = Recorder::start();
    let r = run(
        &rec,
        &[
            "-L",
            "-d",
            "x=1",
            "-w",
            "%{num_redirects} %{url_effective}",
            "/redirect/302?to=/a",
        ],
    );
    assert!(
        r.out().ends_with(&format!("1 {}/a", rec.url())),
        "{}",
        r.out()
    );
    let r2 = run(&rec, &["-L", "-d", "x=1", "/redirect/307?to=/b"]);
    assert_eq!(r2.code, 0);
    let reqs = rec.requests();
    assert_eq!((reqs[1].method.as_str(), reqs[1].body.len()), ("GET", 0));
    assert_eq!(
        (reqs[3].method.as_str(), reqs[3].body.as_slice()),
        ("POST", &b"x=1"[..])
    );
    let r = run(&rec, &["-i", "/redirect/302?to=/json"]);
    assert!(r.out().starts_with("HTTP/1.1 302 Found\r\n"));
    assert!(r.stderr.contains(
        "HTTP 302 redirect not followed — the response body is likely empty (Location: /json)."
    ));
    assert!(r.stderr.contains("Re-run with -L"));
    let r = run(&rec, &["-s", "/redirect/302?to=/json"]);
    assert_eq!(r.stderr, "");
}

#[test]
fn fail_modes() {
    let rec = Recorder::start();
    let r = run(&rec, &["-f", "/status/404"]);
    assert_eq!((r.code, r.out().as_str(), r.stderr.as_str()), (22, "", ""));
    assert_eq!(run(&rec, &["-f", "/status/500"]).code, 25);
    let r = run(&rec, &["--fail-with-body", "/status/404"]);
    assert_eq!((r.code, r.out().as_str()), (22, "status 404\n"));
    let r = run(&rec, &["/status/404"]);
    assert_eq!(
        (r.code, r.out().as_str(), r.stderr.as_str()),
        (0, "status 404\n", "")
    );
    let r = run(&rec, &["-I", "-f", "/status/404"]);
    assert_eq!(r.code, 22, "-I honours -f");
    assert!(r.out().starts_with("HTTP/1.1 404 Not Found\r\n"));
    let r = run(&rec, &["-f", "-w", "[%{exitcode}]", "/status/404"]);
    assert_eq!(r.out(), "[22]");
    let r = run(&rec, &["/status/401"]);
    assert_eq!(r.code, 0);
    assert!(r.stderr.contains("appstrate login --profile default"));
    assert_eq!(run(&rec, &["-sS", "/status/401"]).stderr, "");
}

#[test]
fn retries_honour_retry_after_and_give_up() {
    let rec = Recorder::start();
    let r = run(
        &rec,
        &["--retry", "3", "/flaky?key=a&fail=2&retry_after=0.05"],
    );
    assert_eq!((r.code, r.out().as_str()), (0, "attempt 3 ok\n"));
    let r = run(
        &rec,
        &[
            "--retry",
            "1",
            "--retry-delay",
            "0.01",
            "/flaky?key=b&fail=5",
        ],
    );
    assert_eq!((r.code, r.out().as_str()), (0, "attempt 2 failed\n"));
    // Over an hour: ignored, exponential backoff used instead.
    let t = Instant::now();
    let r = run(
        &rec,
        &[
            "--retry",
            "1",
            "--retry-delay",
            "0.01",
            "/flaky?key=c&fail=1&retry_after=7200",
        ],
    );
    assert_eq!(r.out(), "attempt 2 ok\n");
    assert!(t.elapsed() < Duration::from_secs(5));
    // The budget stops retrying and returns the last response.
    let r = run(
        &rec,
        &[
            "--retry",
            "5",
            "--retry-max-time",
            "0.5",
            "/flaky?key=d&fail=9&retry_after=2",
        ],
    );
    assert_eq!(r.out(), "attempt 1 failed\n");
}

#[test]
fn network_error_exit_codes() {
    let port = closed_port();
    let instance = format!("http://127.0.0.1:{port}");
    let r = run_against(&instance, &["-w", "%{http_code}|%{exitcode}", "/x"]);
    assert_eq!(r.code, 7);
    assert!(r.stderr.starts_with("Could not connect: "), "{}", r.stderr);
    assert_eq!(r.out(), "0|7");
    assert_eq!(run_against(&instance, &["-s", "/x"]).stderr, "");
    assert!(
        run_against(&instance, &["-sS", "/x"])
            .stderr
            .starts_with("Could not connect")
    );

    let r = run_against("https://no-such-host.invalid", &["/x"]);
    assert_eq!(r.code, 6, "{}", r.stderr);
    assert!(r.stderr.contains("resolve"));

    let tls = Recorder::start_tls();
    let r = run(&tls, &["/x"]);
    assert_eq!(r.code, 35, "{}", r.stderr);
    assert!(r.stderr.starts_with("SSL/TLS handshake failed: "));
    let r = run(&tls, &["-k", "-w", "%{http_version}", "/x"]);
    assert_eq!((r.code, r.out()), (0, format!("{DEFAULT_BODY}2")));
    assert_eq!(tls.requests()[0].version, "HTTP/2.0");
}

#[test]
fn timeouts_exit_28() {
    let rec = Recorder::start();
    let r = run(&rec, &["--max-time", "0.3", "/stall-body"]);
    assert_eq!((r.code, r.out().as_str()), (28, "first\n"));
    assert_eq!(r.stderr, "Operation timed out\n");
    // curl semantics: the connect timeout does not cover a slow response.
    let r = run(&rec, &["--connect-timeout", "0.2", "/stall-headers?ms=400"]);
    assert_eq!((r.code, r.out().as_str()), (0, "late\n"));
    // A TLS handshake that never completes is part of connecting.
    let stalled = StalledListener::start();
    let t = Instant::now();
    let r = run_against(
        &format!("https://{}", stalled.addr()),
        &["--connect-timeout", "0.3", "/x"],
    );
    assert_eq!(r.code, 28, "{}", r.stderr);
    assert!(t.elapsed() < Duration::from_secs(5));
}

#[test]
fn output_file_and_include() {
    let rec = Recorder::start();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let out = dir.path().join("out.bin");
    let out_s = out.to_string_lossy().into_owned();
    let r = run(
        &rec,
        &["-o", &out_s, "-w", "%{size_download}", "/bytes?n=1048576"],
    );
    assert_eq!((r.code, r.out().as_str()), (0, "1048576"));
    let data = std::fs::read(&out).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(data.len(), 1_048_576);
    assert!(data.starts_with(b"0123456789"));
    let r = run(&rec, &["-o", &out_s, "/redirect/307?to=/json"]);
    assert_eq!((r.code, r.out().as_str()), (0, ""));
    assert_eq!(std::fs::metadata(&out).map(|m| m.len()).unwrap_or(99), 0);
    assert!(r.stderr.contains("HTTP 307 redirect not followed"));
}

#[test]
fn verbose_redacts_every_authorization() {
    let rec = Recorder::start();
    let r = run(
        &rec,
        &[
            "-sv",
            "-H",
            "Authorization: Bearer user-supplied-secret",
            "POST",
            "/api/foo",
            "-d",
            "x",
        ],
    );
    assert!(!r.stderr.contains("user-supplied-secret"));
    assert!(
        r.stderr.contains("> POST /api/foo HTTP/1.1\r\n"),
        "CRLF lines"
    );
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(r"127\.0\.0\.1:\d+", "[ADDR]");
    settings.add_filter(r"(?m)^< date: .*$", "< date: [DATE]");
    settings.bind(|| {
        insta::assert_snapshot!(r.stderr, @r#"
        * Profile: "default" → http://[ADDR]
        * Bearer injected from keyring, never exposed to caller
        > POST /api/foo HTTP/1.1
        > Host: [ADDR]
        > User-Agent: appstrate-cli/0.1.0
        > Accept: */*
        > Authorization: Bearer [REDACTED]
        > X-Org-Id: org_42
        > X-Application-Id: app_7
        >
        < HTTP/1.1 200 OK
        < content-type: application/json
        < content-length: 12
        < date: [DATE]
        <
        "#);
    });
    assert_eq!(r.out(), DEFAULT_BODY);
}

#[test]
fn usage_errors_print_write_out_with_raw_target() {
    let rec = Recorder::start();
    let r = run(
        &rec,
        &[
            "-w",
            "%{url_effective}|%{exitcode}",
            "https://evil.example.com/x",
        ],
    );
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .starts_with("refusing to send bearer to foreign host.")
    );
    assert_eq!(r.out(), "https://evil.example.com/x|2");
    assert!(rec.requests().is_empty());
}

#[test]
fn get_projection_and_query() {
    let rec = Recorder::start();
    run(
        &rec,
        &[
            "-G",
            "-q",
            "a=1",
            "-d",
            "q=foo bar",
            "--data-raw",
            "x=a%20b",
            "/p",
        ],
    );
    run(&rec, &["-G", "--data-urlencode", "q=a+b&c=d", "/p"]);
    let reqs = rec.requests();
    assert_eq!(reqs[0].target, "/p?a=1&q=foo+bar&x=a%20b");
    assert_eq!(reqs[0].method, "GET");
    assert!(reqs[0].body.is_empty());
    assert_eq!(reqs[1].target, "/p?q=a%2Bb%26c%3Dd");
}

#[test]
fn refused_connections_are_retried_only_with_retry_connrefused() {
    let instance = format!("http://127.0.0.1:{}", closed_port());
    let plain = run_against(
        &instance,
        &["-v", "--retry", "2", "--retry-delay", "0.01", "/x"],
    );
    assert_eq!(plain.code, 7);
    assert!(!plain.stderr.contains("* retry after"), "{}", plain.stderr);
    let retried = run_against(
        &instance,
        &[
            "-v",
            "--retry",
            "2",
            "--retry-delay",
            "0.01",
            "--retry-connrefused",
            "/x",
        ],
    );
    assert_eq!(retried.code, 7);
    assert_eq!(
        retried.stderr.matches("* retry after").count(),
        2,
        "{}",
        retried.stderr
    );
    assert!(
        retried
            .stderr
            .contains("* retry after 10ms (network error)")
    );
    assert!(
        retried
            .stderr
            .contains("* retry after 20ms (network error)")
    );
}

#[test]
fn corrupt_compressed_body_exits_61() {
    let rec = Recorder::start();
    let r = run(&rec, &["--compressed", "/bad-gzip"]);
    assert_eq!(r.code, 61);
    assert!(
        r.stderr
            .starts_with("Error while processing content unencoding"),
        "{}",
        r.stderr
    );
    assert_eq!(run(&rec, &["/bad-gzip"]).out(), "this is not gzip");
}
