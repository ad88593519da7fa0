//! `self-update` against releases served from 127.0.0.1 and signed in the
//! test with a fresh minisign key pair. The debug-only overrides
//! `APPSTRATE_TEST_RELEASE_PUBKEY` / `APPSTRATE_TEST_INSTALL_SOURCE` let the
//! test's key and the curl channel stand in for the real ones.

use std::path::{Path, PathBuf};

use crate::selfhost_common::*;
use appstrate_testkit::fake_releases::FakeReleases;
use sha2::Digest;

const NEW_VERSION: &str = "9.9.9";
const NEW_BINARY: &[u8] = b"#!/bin/sh\necho \"appstrate 9.9.9 (updated)\"\n";

struct Release {
    server: FakeReleases,
    pubkey: String,
    sb: Sandbox,
    bin: PathBuf,
    _bin_dir: tempfile::TempDir,
}

fn asset() -> String {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "x64",
        _ => "arm64",
    };
    let os = if cfg!(target_os = "macos") {
        "darwin"
    } else {
        "linux"
    };
    format!("appstrate-{os}-{arch}")
}

fn sign(kp: &minisign::KeyPair, data: &[u8], comment: &str) -> String {
    minisign::sign(
        Some(&kp.pk),
        &kp.sk,
        std::io::Cursor::new(data),
        Some(comment),
        None,
    )
    .unwrap()
    .into_string()
}

/// A release `v9.9.9`; `tamper` adjusts the files before they are served.
fn release(
    tamper: impl FnOnce(&mut Vec<u8>, &mut String, &mut Vec<u8>, &minisign::KeyPair),
) -> Release {
    let kp = minisign::KeyPair::generate_unencrypted_keypair().unwrap();
    let server = FakeReleases::start(&format!("v{NEW_VERSION}")).unwrap();
    let mut binary = NEW_BINARY.to_vec();
    let mut manifest = format!(
        "{}  {}\n{}  appstrate-other\n",
        hex::encode(sha2::Sha256::digest(&binary)),
        asset(),
        "0".repeat(64)
    )
    .into_bytes();
    let mut sig = sign(&kp, &manifest, &format!("appstrate CLI v{NEW_VERSION}"));
    tamper(&mut manifest, &mut sig, &mut binary, &kp);
    let tag = format!("v{NEW_VERSION}");
    server.add(&tag, "checksums.txt", &manifest);
    server.add(&tag, "checksums.txt.minisig", sig.as_bytes());
    if !binary.is_empty() {
        server.add(&tag, &asset(), &binary);
    }
    let bin_dir = tempfile::tempdir().unwrap();
    let bin = bin_dir.path().join("appstrate");
    std::fs::copy(assert_cmd::cargo::cargo_bin("appstrate"), &bin).unwrap();
    let mut sb = Sandbox::new();
    sb.extra_env = vec![
        ("APPSTRATE_RELEASES_API_URL".into(), server.api_url()),
        (
            "APPSTRATE_RELEASES_DOWNLOAD_URL".into(),
            server.download_url(),
        ),
        ("APPSTRATE_TEST_RELEASE_PUBKEY".into(), kp.pk.to_base64()),
        ("APPSTRATE_TEST_INSTALL_SOURCE".into(), "curl".into()),
    ];
    Release {
        server,
        pubkey: kp.pk.to_base64(),
        sb,
        bin,
        _bin_dir: bin_dir,
    }
}

fn update(r: &Release, args: &[&str]) -> std::process::Output {
    let cmd = r.sb.std_cmd();
    std::process::Command::new(&r.bin)
        .env_clear()
        .envs(
            cmd.get_envs()
                .filter_map(|(k, v)| Some((k.to_owned(), v?.to_owned()))),
        )
        .current_dir(r.sb.home())
        .arg("self-update")
        .args(args)
        .output()
        .unwrap()
}

fn unchanged(bin: &Path) -> bool {
    std::fs::read(bin).unwrap() == std::fs::read(assert_cmd::cargo::cargo_bin("appstrate")).unwrap()
}

#[test]
fn good_release_replaces_the_binary_and_the_new_one_runs() {
    let r = release(|_, _, _, _| {});
    let out = update(&r, &[]);
    assert!(
        out.status.success(),
        "stdout:\n{}\nstderr:\n{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(stderr(&out).contains(&format!(
        "Updated appstrate to {NEW_VERSION} ({})",
        r.bin.display()
    )));
    let err = stderr(&out);
    assert!(
        err.contains("→ Verifying signature against Appstrate release key")
            && err.contains("→ Verifying binary integrity (SHA-256)"),
        "{err}"
    );
    assert_eq!(std::fs::read(&r.bin).unwrap(), NEW_BINARY);
    assert_eq!(mode(&r.bin), 0o755);
    let ran = std::process::Command::new(&r.bin).output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&ran.stdout),
        "appstrate 9.9.9 (updated)\n"
    );
    assert!(!r.bin.with_file_name(".appstrate.download").exists());
    // Manifest and signature are fetched before the binary.
    let reqs = r.server.requests();
    let bin_at = reqs.iter().position(|p| p.ends_with(&asset())).unwrap();
    assert!(
        reqs[..bin_at].iter().any(|p| p.ends_with("checksums.txt"))
            && reqs[..bin_at].iter().any(|p| p.ends_with(".minisig"))
    );
    assert_eq!(reqs[0], "/latest");
    let _ = &r.pubkey;
}

fn assert_refused(r: &Release, args: &[&str], want: &str) {
    let out = update(r, args);
    assert_eq!(
        out.status.code(),
        Some(1),
        "stdout:\n{}\nstderr:\n{}",
        stdout(&out),
        stderr(&out)
    );
    let err = stderr(&out);
    assert!(
        err.contains("Update failed: ") && err.contains(want),
        "{err}"
    );
    assert!(unchanged(&r.bin), "the old binary stays");
    assert!(!r.bin.with_file_name(".appstrate.download").exists());
}

#[test]
fn bad_signature_is_refused() {
    let r = release(|_, sig, _, _| {
        let other = minisign::KeyPair::generate_unencrypted_keypair().unwrap();
        *sig = sign(&other, b"something else", "appstrate CLI v9.9.9");
    });
    assert_refused(&r, &[], "Signature verification FAILED");
    assert!(
        !r.server.requests().iter().any(|p| p.ends_with(&asset())),
        "binary never fetched"
    );
}

#[test]
fn tampered_manifest_is_refused() {
    let r = release(|manifest, _, _, _| manifest.extend_from_slice(b"evil  extra\n"));
    assert_refused(&r, &[], "Signature verification FAILED");
}

#[test]
fn replayed_older_manifest_is_refused() {
    let r = release(|manifest, sig, _, kp| *sig = sign(kp, manifest, "appstrate CLI v1.0.0"));
    assert_refused(&r, &[], "not v9.9.9");
}

#[test]
fn bad_sha256_is_refused() {
    let r = release(|_, _, binary, _| binary.extend_from_slice(b"# tampered\n"));
    assert_refused(&r, &[], "SHA-256 mismatch for");
}

#[test]
fn truncated_download_is_refused() {
    let r = release(|_, _, _, _| {});
    r.server
        .add_truncated(&format!("v{NEW_VERSION}"), &asset(), NEW_BINARY);
    let out = update(&r, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("Update failed: "));
    assert!(unchanged(&r.bin));
}

#[test]
fn missing_asset_is_refused() {
    let r = release(|_, _, binary, _| binary.clear());
    assert_refused(&r, &[], "404");
    let r = release(|manifest, sig, _, kp| {
        *manifest = format!("{}  appstrate-other\n", "0".repeat(64)).into_bytes();
        *sig = sign(kp, manifest, "appstrate CLI v9.9.9");
    });
    assert_refused(&r, &[], "is not listed in the signed checksums manifest");
}

#[test]
fn versions_channels_and_pins() {
    let r = release(|_, _, _, _| {});
    // Same version: nothing to do.
    let current = env!("CARGO_PKG_VERSION");
    let out = update(&r, &["--release", &format!("v{current}")]);
    assert!(out.status.success());
    assert!(stderr(&out).contains(&format!(
        "Already on appstrate {current}. Pass --force to reinstall."
    )));
    let out = update(&r, &["--release", "nope"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("Could not resolve target version: Invalid version: \"nope\""));
    // Channels other than curl refuse with exit 2.
    for (stamp, want) in [
        ("bun", "bun update -g appstrate"),
        ("cargo", "cargo install"),
        ("unknown", "install-source stamp"),
    ] {
        let mut sb_env = r.sb.extra_env.clone();
        sb_env.retain(|(k, _)| k != "APPSTRATE_TEST_INSTALL_SOURCE");
        let out = std::process::Command::new(&r.bin)
            .env_clear()
            .env("HOME", r.sb.home())
            .env("PATH", r.sb.system_path())
            .env("APPSTRATE_NO_DUAL_INSTALL_CHECK", "1")
            .envs(sb_env)
            .env("APPSTRATE_TEST_INSTALL_SOURCE", stamp)
            .arg("self-update")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{stamp}");
        assert!(stderr(&out).contains(want), "{stamp}: {}", stderr(&out));
    }
    assert!(unchanged(&r.bin));
}
