//! `appstrate afps …` driven through the built binary.

use std::path::{Path, PathBuf};

use appstrate_testkit::test_env;
use assert_cmd::Command;
use serde_json::Value;
use tempfile::TempDir;

fn fixture(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../afps/tests/fixtures")
        .join(rel)
}

struct Env {
    dir: TempDir,
}

impl Env {
    fn new() -> Self {
        Env {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn cmd(&self, args: &[&str]) -> assert_cmd::assert::Assert {
        let home = self.path("home");
        let _ = std::fs::create_dir_all(&home);
        Command::from_std(test_env::isolated_command(
            assert_cmd::cargo::cargo_bin("appstrate"),
            &home,
            &test_env::outer_path(),
        ))
        .args(args)
        .assert()
    }
}

fn out(a: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&a.get_output().stdout).into_owned()
}

fn err(a: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&a.get_output().stderr).into_owned()
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf8 path")
}

fn write_source(dir: &Path) {
    std::fs::create_dir_all(dir.join("scripts")).expect("mkdir");
    std::fs::write(
        dir.join("manifest.json"),
        r#"{"name":"@acme/hello","version":"0.2.0","type":"agent","schema_version":"0.1","display_name":"Hello","author":"Acme"}"#,
    )
    .expect("write");
    std::fs::write(dir.join("prompt.md"), "Say hello to {{input.name}}.").expect("write");
    std::fs::write(dir.join("scripts/run.sh"), "echo hi\n").expect("write");
}

#[test]
fn bundle_inspect_sign_verify_round_trip() {
    let env = Env::new();
    let src = env.path("src");
    write_source(&src);
    let out_file = env.path("hello.afps-bundle");
    let a = env
        .cmd(&["afps", "bundle", s(&src), "-o", s(&out_file)])
        .success();
    assert!(out(&a).contains("@acme/hello@0.2.0"));

    let a = env
        .cmd(&["afps", "inspect", s(&out_file), "--json"])
        .success();
    let report: Value = serde_json::from_str(&out(&a)).expect("json");
    assert_eq!(report["kind"], "afps-bundle");
    assert_eq!(report["root"], "@acme/hello@0.2.0");
    assert_eq!(report["type"], "agent");
    assert_eq!(report["signature"], Value::Null);
    let files: Vec<&str> = report["packages"][0]["files"]
        .as_array()
        .expect("files")
        .iter()
        .filter_map(|f| f["path"].as_str())
        .collect();
    assert_eq!(files, ["manifest.json", "prompt.md", "scripts/run.sh"]);

    let human = env.cmd(&["afps", "inspect", s(&out_file)]).success();
    assert!(out(&human).contains("signature:     <none>"));
    assert!(out(&human).contains(report["integrity"].as_str().expect("integrity")));

    let key = env.path("keys/me.json");
    let a = env.cmd(&["afps", "keygen", "-o", s(&key)]).success();
    let key_doc: Value = serde_json::from_slice(&std::fs::read(&key).expect("key")).expect("json");
    let private = key_doc["privateKey"].as_str().expect("private");
    assert!(!out(&a).contains(private), "private key printed");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    let signed = env.path("hello-signed.afps-bundle");
    let a = env
        .cmd(&[
            "afps",
            "sign",
            s(&out_file),
            "--key",
            s(&key),
            "-o",
            s(&signed),
        ])
        .success();
    assert!(!out(&a).contains(private) && !err(&a).contains(private));
    let a = env
        .cmd(&["afps", "verify", s(&signed), "--trust-root", s(&key)])
        .success();
    assert!(out(&a).contains(&format!(
        "✓ signature valid (keyId: {})",
        key_doc["keyId"].as_str().expect("id")
    )));
    let a = env
        .cmd(&["afps", "inspect", s(&signed), "--json"])
        .success();
    let report: Value = serde_json::from_str(&out(&a)).expect("json");
    assert_eq!(report["signature"]["keyId"], key_doc["keyId"]);

    // A key that is not trusted: exit 3 with the reason.
    let other = env.path("other.json");
    env.cmd(&["afps", "keygen", "-o", s(&other)]).success();
    let a = env
        .cmd(&["afps", "verify", s(&signed), "--trust-root", s(&other)])
        .code(3);
    assert!(err(&a).contains("chain_missing"), "{}", err(&a));
    // The unsigned original fails a required policy.
    let a = env
        .cmd(&["afps", "verify", s(&out_file), "--trust-root", s(&key)])
        .code(3);
    assert!(err(&a).contains("unsigned_required"));
    env.cmd(&[
        "afps",
        "verify",
        s(&out_file),
        "--trust-root",
        s(&key),
        "--policy",
        "warn",
    ])
    .success();
    env.cmd(&["afps", "verify", s(&out_file)]).success();
}

#[test]
fn keygen_sign_verify_a_plain_afps_keeps_its_format() {
    let env = Env::new();
    let input = env.path("ref.afps");
    std::fs::copy(fixture("reference/bundle-unsigned.afps"), &input).expect("copy");
    let key = env.path("k.json");
    env.cmd(&["afps", "keygen", "-o", s(&key)]).success();
    env.cmd(&["afps", "sign", s(&input), "--key", s(&key)])
        .success();
    let a = env.cmd(&["afps", "inspect", s(&input), "--json"]).success();
    let report: Value = serde_json::from_str(&out(&a)).expect("json");
    assert_eq!(report["kind"], "afps");
    env.cmd(&["afps", "verify", s(&input), "--trust-root", s(&key)])
        .success();
    // The reference trust root does not know the new key.
    env.cmd(&[
        "afps",
        "verify",
        s(&input),
        "--trust-root",
        s(&fixture("reference/trust-root.json")),
    ])
    .code(3);
}

#[test]
fn fixtures_verify_with_their_trust_roots() {
    let env = Env::new();
    for (file, trust) in [
        ("reference/bundle.afps", "reference/trust-root.json"),
        (
            "briefing-agent/agent.afps",
            "briefing-agent/trust-root.json",
        ),
    ] {
        let a = env
            .cmd(&[
                "afps",
                "verify",
                s(&fixture(file)),
                "--trust-root",
                s(&fixture(trust)),
            ])
            .success();
        assert!(out(&a).contains("✓ signature valid"), "{file}");
    }
    env.cmd(&[
        "afps",
        "verify",
        s(&fixture("vectors/reference-unsigned.afps-bundle")),
    ])
    .success();
    let a = env
        .cmd(&[
            "afps",
            "verify",
            s(&fixture("reference/bundle-unsigned.afps")),
            "--trust-root",
            s(&fixture("reference/trust-root.json")),
            "--policy",
            "required",
        ])
        .code(3);
    assert!(err(&a).contains("unsigned_required"));
    let a = env
        .cmd(&[
            "afps",
            "verify",
            s(&fixture("reference/bundle.afps")),
            "--policy",
            "required",
        ])
        .code(2);
    assert!(err(&a).contains("--trust-root"));
}

#[test]
fn verify_reports_the_error_code_for_broken_archives() {
    let env = Env::new();
    let bytes = std::fs::read(fixture("vectors/reference-unsigned.afps-bundle")).expect("read");
    // Flip one byte of prompt.md's stored data ("# Reference agent" starts it).
    let at = bytes
        .windows(17)
        .position(|w| w == b"# Reference agent")
        .expect("prompt data");
    let mut tampered = bytes.clone();
    tampered[at + 2] ^= 0x20;
    let f = env.path("tampered.afps-bundle");
    std::fs::write(&f, &tampered).expect("write");
    let a = env.cmd(&["afps", "verify", s(&f)]).code(1);
    // Stored data changed under an unchanged CRC: the archive layer notices first.
    assert!(
        err(&a).contains("ARCHIVE_INVALID") || err(&a).contains("RECORD_MISMATCH"),
        "{}",
        err(&a)
    );

    let junk = env.path("junk.afps");
    std::fs::write(&junk, b"hello").expect("write");
    let a = env.cmd(&["afps", "inspect", s(&junk)]).code(1);
    assert!(
        err(&a).contains("ARCHIVE_INVALID: not a ZIP archive"),
        "{}",
        err(&a)
    );
    assert_eq!(err(&a).lines().count(), 1, "one-line error");

    env.cmd(&["afps", "verify", s(&env.path("missing.afps"))])
        .code(2);
}

#[test]
fn render_reproduces_the_mustache_and_platform_vectors() {
    let env = Env::new();
    for (file, dir, name) in [
        ("reference/bundle.afps", "reference", "reference"),
        ("briefing-agent/agent.afps", "briefing-agent", "briefing"),
    ] {
        let ctx = fixture(&format!("{dir}/context.json"));
        let snap = fixture(&format!("{dir}/snapshot.json"));
        let a = env
            .cmd(&[
                "afps",
                "render",
                s(&fixture(file)),
                "--context",
                s(&ctx),
                "--snapshot",
                s(&snap),
            ])
            .success();
        let expected =
            std::fs::read_to_string(fixture(&format!("vectors/{name}.mustache-rendered.md")))
                .expect("read");
        let expected = if expected.ends_with('\n') {
            expected
        } else {
            format!("{expected}\n")
        };
        assert_eq!(out(&a), expected, "{name}");
        let a = env
            .cmd(&[
                "afps",
                "render",
                s(&fixture(file)),
                "--context",
                s(&ctx),
                "--snapshot",
                s(&snap),
                "--platform",
            ])
            .success();
        let expected =
            std::fs::read_to_string(fixture(&format!("vectors/{name}.platform-prompt.md")))
                .expect("read");
        let expected = if expected.ends_with('\n') {
            expected
        } else {
            format!("{expected}\n")
        };
        assert_eq!(out(&a), expected, "{name}");
    }
    let bad = env.path("bad.json");
    std::fs::write(&bad, "{").expect("write");
    env.cmd(&[
        "afps",
        "render",
        s(&fixture("reference/bundle.afps")),
        "--context",
        s(&bad),
    ])
    .code(2);
}

#[test]
fn bundle_refuses_bad_sources() {
    let env = Env::new();
    let src = env.path("src");
    write_source(&src);
    std::fs::write(src.join("prompt.md"), "  \n").expect("write");
    let a = env
        .cmd(&["afps", "bundle", s(&src), "-o", s(&env.path("x.afps"))])
        .code(1);
    assert!(
        err(&a).contains("ARCHIVE_INVALID") && err(&a).contains("prompt.md"),
        "{}",
        err(&a)
    );
    assert!(!env.path("x.afps").exists());
    std::fs::write(src.join("prompt.md"), "ok").expect("write");
    std::fs::write(src.join("a,b.txt"), "x").expect("write");
    let a = env
        .cmd(&["afps", "bundle", s(&src), "-o", s(&env.path("x.afps"))])
        .code(1);
    assert!(err(&a).contains("comma"), "{}", err(&a));
    std::fs::remove_file(src.join("a,b.txt")).expect("rm");
    let a = env
        .cmd(&["afps", "bundle", s(&src), "-o", s(&env.path("x.afps"))])
        .success();
    assert!(out(&a).contains("3 files"));
    let a = env
        .cmd(&["afps", "inspect", s(&env.path("x.afps")), "--json"])
        .success();
    assert_eq!(
        serde_json::from_str::<Value>(&out(&a)).expect("json")["kind"],
        "afps"
    );
}
