//! The release pipeline end to end on this machine: `scripts/release`
//! packages this test build and signs it with a fresh minisign key, a server
//! on 127.0.0.1 publishes it like GitHub Releases, `scripts/get.sh` installs
//! it (plain, verified, and as `verify.sh`), the installed binary runs and
//! `self-update`s from it; a tampered release installs nothing.
//!
//! The installer runs under `sh` with a PATH of links to the few system
//! programs it needs (minisign only where a case says so) and stand-ins for
//! `id` / `uname` where a case pretends to be another user or system.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use appstrate_testkit::fake_releases::FakeReleases;
use appstrate_testkit::test_env;

use crate::selfhost_common::{mode, stderr, stdout};

const TAG: &str = concat!("v", env!("CARGO_PKG_VERSION"));

/// What `get.sh` runs, besides the shell's builtins.
const INSTALLER_TOOLS: [&str; 20] = [
    "sh",
    "uname",
    "id",
    "mktemp",
    "tar",
    "gzip",
    "awk",
    "sed",
    "cut",
    "cp",
    "mv",
    "chmod",
    "mkdir",
    "rm",
    "curl",
    "sha256sum",
    "head",
    "grep",
    "ldd",
    "cat",
];

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn asset_suffix() -> &'static str {
    match (std::env::consts::OS, std::env::consts::ARCH) {
        ("linux", "x86_64") => "linux-x64",
        ("linux", "aarch64") => "linux-arm64",
        ("macos", "x86_64") => "darwin-x64",
        ("macos", "aarch64") => "darwin-arm64",
        other => panic!("no release asset for {other:?}"),
    }
}

fn tarball() -> String {
    format!("appstrate-{}.tar.gz", asset_suffix())
}

fn binary_asset() -> String {
    format!("appstrate-{}", asset_suffix())
}

fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}\nstdout:\n{}\nstderr:\n{}",
        stdout(&out),
        stderr(&out)
    );
    out
}

/// A minisign key pair made by the `minisign` program, password-less.
struct Keys {
    dir: tempfile::TempDir,
    public: String,
}

impl Keys {
    fn generate() -> Keys {
        let dir = tempfile::tempdir().unwrap();
        run_ok(
            Command::new("minisign")
                .args(["-G", "-W", "-p", "key.pub", "-s", "key.sec"])
                .current_dir(dir.path())
                .stdin(Stdio::null()),
        );
        let text = std::fs::read_to_string(dir.path().join("key.pub")).unwrap();
        let public = text.lines().nth(1).unwrap().to_string();
        Keys { dir, public }
    }

    fn secret(&self) -> PathBuf {
        self.dir.path().join("key.sec")
    }

    fn sign(&self, data: &[u8], trusted_comment: &str) -> Vec<u8> {
        let file = self.dir.path().join("data");
        std::fs::write(&file, data).unwrap();
        run_ok(
            Command::new("minisign")
                .arg("-S")
                .arg("-s")
                .arg(self.secret())
                .arg("-m")
                .arg(&file)
                .args(["-t", trusted_comment])
                .stdin(Stdio::null()),
        );
        std::fs::read(self.dir.path().join("data.minisig")).unwrap()
    }
}

/// `scripts/release --binary <this test build>` signed with fresh keys and
/// published on a local server.
struct Release {
    keys: Keys,
    dir: tempfile::TempDir,
    server: FakeReleases,
}

impl Release {
    fn publish() -> Release {
        let keys = Keys::generate();
        let dir = tempfile::tempdir().unwrap();
        let started = std::time::Instant::now();
        let out = run_ok(
            Command::new(repo_root().join("scripts/release"))
                .arg("--out")
                .arg(dir.path())
                .arg("--minisign-key")
                .arg(keys.secret())
                .arg("--binary")
                .arg(assert_cmd::cargo::cargo_bin("appstrate")),
        );
        eprintln!(
            "scripts/release took {:.1?}\n{}",
            started.elapsed(),
            stderr(&out)
        );
        let server = FakeReleases::start(TAG).unwrap();
        let release = Release { keys, dir, server };
        for name in [
            binary_asset(),
            tarball(),
            "get.sh".into(),
            "verify.sh".into(),
            "checksums.txt".into(),
            "checksums.txt.minisig".into(),
        ] {
            release.serve(&name, &release.file(&name));
        }
        release
    }

    fn file(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.dir.path().join(name)).unwrap()
    }

    fn serve(&self, name: &str, body: &[u8]) {
        self.server.add(TAG, name, body);
    }

    fn serve_original(&self, name: &str) {
        self.serve(name, &self.file(name));
    }

    fn sha256(data: &[u8]) -> String {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(data))
    }
}

/// A directory of links to [`INSTALLER_TOOLS`] (plus `extra`), and
/// executable stand-ins written as `(name, script)`.
fn tools(extra: &[&str], stand_ins: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let path = std::env::var_os("PATH").unwrap();
    for name in INSTALLER_TOOLS.iter().chain(extra) {
        if stand_ins.iter().any(|(n, _)| n == name) {
            continue;
        }
        if let Some(real) = std::env::split_paths(&path)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
        {
            std::os::unix::fs::symlink(real, dir.path().join(name)).unwrap();
        }
    }
    for (name, script) in stand_ins {
        let file = dir.path().join(name);
        std::fs::write(&file, format!("#!/bin/sh\n{script}\n")).unwrap();
        make_executable(&file);
    }
    dir
}

fn make_executable(file: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// How `get.sh` is started: piped into `sh` as `curl … | sh -s -- ARGS`
/// does, or as a file with arguments.
enum Script<'a> {
    Piped(&'a [u8]),
    File(PathBuf),
}

struct Installer<'a> {
    release: &'a Release,
    home: tempfile::TempDir,
    tools: tempfile::TempDir,
    env: Vec<(String, String)>,
}

impl<'a> Installer<'a> {
    fn new(release: &'a Release, tools: tempfile::TempDir) -> Self {
        Installer {
            release,
            home: tempfile::tempdir().unwrap(),
            tools,
            env: vec![("APPSTRATE_NO_INSTALL".into(), "1".into())],
        }
    }

    fn env(mut self, key: &str, value: &str) -> Self {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.into(), value.into()));
        self
    }

    fn without_env(mut self, key: &str) -> Self {
        self.env.retain(|(k, _)| k != key);
        self
    }

    fn prefix(&self) -> PathBuf {
        self.home.path().join("prefix")
    }

    /// Installs into `<prefix>/bin` (APPSTRATE_INSTALL_DIR).
    fn into_prefix(self) -> Self {
        let bin = self.prefix().join("bin").display().to_string();
        self.env("APPSTRATE_INSTALL_DIR", &bin)
    }

    fn run(&self, script: Script<'_>, args: &[&str]) -> Output {
        let mut cmd = Command::new(self.tools.path().join("sh"));
        test_env::isolate(&mut cmd, self.home.path(), self.tools.path().as_os_str());
        cmd.env(
            "APPSTRATE_RELEASES_DOWNLOAD_URL",
            self.release.server.download_url(),
        )
        .env("APPSTRATE_RELEASES_API_URL", self.release.server.api_url())
        .env("APPSTRATE_RELEASE_PUBKEY", &self.release.keys.public)
        .envs(self.env.iter().cloned());
        let piped = match script {
            Script::Piped(text) => {
                cmd.arg("-s").arg("--").args(args).stdin(Stdio::piped());
                Some(text)
            }
            Script::File(path) => {
                cmd.arg(path).args(args).stdin(Stdio::null());
                None
            }
        };
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        if let Some(text) = piped {
            use std::io::Write;
            let mut stdin = child.stdin.take().unwrap();
            stdin.write_all(text).unwrap();
        }
        child.wait_with_output().unwrap()
    }

    /// The installer's temporary directory is gone (TMPDIR is HOME).
    fn assert_no_leftovers(&self) {
        let left: Vec<String> = std::fs::read_dir(self.home.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("tmp."))
            .collect();
        assert!(left.is_empty(), "left behind: {left:?}");
    }

    /// A refused install: exit 1 with `message`, and nothing installed.
    fn assert_refused(&self, script: Script<'_>, message: &str) {
        let out = self.run(script, &[]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert!(err.contains(message), "wanted {message:?} in:\n{err}");
        assert!(
            !self.prefix().join("bin/appstrate").exists(),
            "nothing installed"
        );
        assert!(!self.prefix().join("share").exists(), "no man pages");
        self.assert_no_leftovers();
    }
}

fn get_sh() -> Vec<u8> {
    std::fs::read(repo_root().join("scripts/get.sh")).unwrap()
}

fn first_line(out: &Output) -> String {
    stdout(out).lines().next().unwrap_or("").to_string()
}

#[test]
fn installer_and_self_update_trust_the_project_key() {
    let key = std::fs::read_to_string(repo_root().join("keys/minisign.pub")).unwrap();
    let key = key.lines().nth(1).unwrap();
    let script = String::from_utf8(get_sh()).unwrap();
    assert!(script.contains(&format!("project_public_key=\"{key}\"")));
    assert_eq!(
        key,
        appstrate_cliinstall::self_update::RELEASE_PUBLIC_KEY,
        "self-update embeds the same key"
    );
    assert!(script.contains(&format!(
        "repository=\"{}\"",
        appstrate_cliinstall::self_update::REPOSITORY
    )));
}

#[test]
fn a_release_installs_plain_and_verified_and_self_updates() {
    let release = Release::publish();
    let asset_bytes = release.file(&binary_asset());
    assert_eq!(
        asset_bytes,
        std::fs::read(assert_cmd::cargo::cargo_bin("appstrate")).unwrap()
    );
    let manifest = String::from_utf8(release.file("checksums.txt")).unwrap();
    for name in [
        binary_asset(),
        tarball(),
        "get.sh".into(),
        "verify.sh".into(),
    ] {
        let line = format!("{}  {name}", Release::sha256(&release.file(&name)));
        assert!(manifest.lines().any(|l| l == line), "{line} in\n{manifest}");
    }

    // 1. Piped, no minisign, a non-root user: ~/.local/bin and ~/.local/share.
    let plain = Installer::new(&release, tools(&[], &[("id", "echo 1000")]));
    let out = plain.run(Script::Piped(&get_sh()), &[]);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("minisign not found: checking the SHA-256 only"),
        "{err}"
    );
    assert!(
        err.contains(&format!("SHA-256 of {} verified", tarball())),
        "{err}"
    );
    assert!(err.contains("is not on your PATH"), "{err}");
    let local = plain.home.path().join(".local");
    let installed = local.join("bin/appstrate");
    assert_eq!(std::fs::read(&installed).unwrap(), asset_bytes);
    assert_eq!(mode(&installed), 0o755);
    for page in [
        "appstrate.1",
        "appstrate-login.1",
        "appstrate-self-update.1",
    ] {
        let text = std::fs::read_to_string(local.join("share/man/man1").join(page)).unwrap();
        assert!(
            text.starts_with(".ie \\n(.g .ds Aq"),
            "{page} is a man page"
        );
    }
    for completion in [
        "bash-completion/completions/appstrate",
        "zsh/site-functions/_appstrate",
        "fish/vendor_completions.d/appstrate.fish",
    ] {
        let text = std::fs::read_to_string(local.join("share").join(completion)).unwrap();
        assert!(text.contains("self-update"), "{completion}");
    }
    plain.assert_no_leftovers();
    let out = run_ok(Command::new(&installed).arg("--version"));
    assert_eq!(first_line(&out), format!("appstrate {}", &TAG[1..]));
    assert!(stdout(&out).contains("\nchannel: "), "{}", stdout(&out));

    // 2. Verified (APPSTRATE_VERIFY=1, minisign present), run as a file with
    //    arguments, pinned to the tag: the latest release is not looked up.
    let verified = Installer::new(&release, tools(&["minisign"], &[]))
        .into_prefix()
        .without_env("APPSTRATE_NO_INSTALL")
        .env("APPSTRATE_VERIFY", "1")
        .env("APPSTRATE_VERSION", TAG);
    let latest_lookups = || {
        release
            .server
            .requests()
            .iter()
            .filter(|r| *r == "/latest")
            .count()
    };
    let before = latest_lookups();
    let out = verified.run(
        Script::File(repo_root().join("scripts/get.sh")),
        &["--no-install"],
    );
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains(&format!(
            "signature of checksums.txt verified (appstrate CLI {TAG})"
        )),
        "{err}"
    );
    assert_eq!(latest_lookups(), before);
    let installed = verified.prefix().join("bin/appstrate");
    assert_eq!(std::fs::read(&installed).unwrap(), asset_bytes);
    assert!(
        verified
            .prefix()
            .join("share/man/man1/appstrate.1")
            .exists()
    );

    // 3. verify.sh piped, then `appstrate install` is exec'd with the
    //    remaining arguments (an unknown flag: clap's usage error, exit 2).
    let via_verify_sh = Installer::new(&release, tools(&["minisign"], &[]))
        .into_prefix()
        .without_env("APPSTRATE_NO_INSTALL");
    let out = via_verify_sh.run(
        Script::Piped(&release.file("verify.sh")),
        &["--no-such-flag"],
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("signature of checksums.txt verified"), "{err}");
    assert!(
        err.contains("running: appstrate install --no-such-flag"),
        "{err}"
    );
    assert!(
        err.contains("unexpected argument '--no-such-flag'"),
        "{err}"
    );
    assert!(via_verify_sh.prefix().join("bin/appstrate").exists());

    // 4. self-update from an older build (the installed binary with bytes
    //    appended, still runnable) back to the published release.
    let mut older = asset_bytes.clone();
    older.extend_from_slice(b"\nan older build\n");
    std::fs::write(&installed, &older).unwrap();
    run_ok(Command::new(&installed).arg("-V"));
    let mut update = Command::new(&installed);
    test_env::isolate(
        &mut update,
        verified.home.path(),
        std::ffi::OsStr::new("/nonexistent"),
    );
    let out = run_ok(
        update
            .env("APPSTRATE_RELEASES_API_URL", release.server.api_url())
            .env(
                "APPSTRATE_RELEASES_DOWNLOAD_URL",
                release.server.download_url(),
            )
            .env("APPSTRATE_TEST_RELEASE_PUBKEY", &release.keys.public)
            .env("APPSTRATE_TEST_INSTALL_SOURCE", "curl")
            .args(["self-update", "--force"]),
    );
    // The outro is part of the frame: stderr (stdout is for data).
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains(&format!(
            "Updated appstrate to {} ({})",
            &TAG[1..],
            installed.display()
        )),
        "{said}"
    );
    assert_eq!(std::fs::read(&installed).unwrap(), asset_bytes);
    assert_eq!(mode(&installed), 0o755);
    let out = run_ok(Command::new(&installed).arg("-V"));
    assert_eq!(first_line(&out), format!("appstrate {}", &TAG[1..]));
}

#[test]
fn a_tampered_release_installs_nothing() {
    let release = Release::publish();
    let with_minisign = || tools(&["minisign"], &[]);
    let tarball_bytes = release.file(&tarball());
    let mut evil_tarball = tarball_bytes.clone();
    evil_tarball.extend_from_slice(b"tampered");
    let manifest = String::from_utf8(release.file("checksums.txt")).unwrap();
    let evil_manifest = manifest.replace(
        &Release::sha256(&tarball_bytes),
        &Release::sha256(&evil_tarball),
    );

    // A tampered tarball fails the SHA-256, even without minisign; an
    // installed binary stays as it was.
    release.serve(&tarball(), &evil_tarball);
    let installer = Installer::new(&release, tools(&[], &[])).into_prefix();
    let bin = installer.prefix().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::write(bin.join("appstrate"), b"the old one").unwrap();
    let out = installer.run(Script::Piped(&get_sh()), &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("SHA-256 mismatch for"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        std::fs::read(bin.join("appstrate")).unwrap(),
        b"the old one"
    );
    assert_eq!(
        std::fs::read_dir(&bin).unwrap().count(),
        1,
        "no staged file"
    );
    assert!(!installer.prefix().join("share").exists());
    installer.assert_no_leftovers();

    // A checksums file rewritten to match: the signature no longer holds
    // (checked because minisign is on PATH, without being asked to).
    release.serve("checksums.txt", evil_manifest.as_bytes());
    Installer::new(&release, with_minisign())
        .into_prefix()
        .assert_refused(Script::Piped(&get_sh()), "signature verification FAILED");
    release.serve_original(&tarball());
    release.serve_original("checksums.txt");

    // A signature by another key.
    let other = Keys::generate();
    release.serve(
        "checksums.txt.minisig",
        &other.sign(manifest.as_bytes(), &format!("appstrate CLI {TAG}")),
    );
    Installer::new(&release, with_minisign())
        .into_prefix()
        .env("APPSTRATE_VERIFY", "1")
        .assert_refused(Script::Piped(&get_sh()), "signature verification FAILED");

    // The right key, but another release's manifest replayed.
    release.serve(
        "checksums.txt.minisig",
        &release
            .keys
            .sign(manifest.as_bytes(), "appstrate CLI v0.0.1"),
    );
    Installer::new(&release, with_minisign())
        .into_prefix()
        .assert_refused(
            Script::Piped(&release.file("verify.sh")),
            &format!("is for \"appstrate CLI v0.0.1\", not {TAG}"),
        );
    release.serve_original("checksums.txt.minisig");

    // Verification asked for, but no minisign to do it.
    Installer::new(&release, tools(&[], &[]))
        .into_prefix()
        .env("APPSTRATE_VERIFY", "1")
        .assert_refused(Script::Piped(&get_sh()), "minisign is required");

    // Another system: pointed at cargo install, nothing downloaded.
    let served = release.server.requests().len();
    Installer::new(
        &release,
        tools(
            &[],
            &[(
                "uname",
                "case \"$1\" in -s) echo FreeBSD ;; *) echo amd64 ;; esac",
            )],
        ),
    )
    .into_prefix()
    .assert_refused(Script::Piped(&get_sh()), "cargo install --locked appstrate");
    assert_eq!(release.server.requests().len(), served);
}

/// `--version`: the version line scripts read, then the build facts; a
/// debug build (this test's) is of no install channel. `-V` stays one line.
#[test]
fn version_names_commit_date_channel_and_target() {
    let env = test_env::TestEnv::new();
    let bin = assert_cmd::cargo::cargo_bin("appstrate");
    let mut cmd =
        test_env::isolated_command(&bin, env.home(), std::ffi::OsStr::new("/nonexistent"));
    let out = run_ok(cmd.arg("--version"));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 5, "{text}");
    assert_eq!(lines[0], concat!("appstrate ", env!("CARGO_PKG_VERSION")));
    let commit = lines[1].strip_prefix("commit:  ").unwrap();
    assert!(
        commit == "unknown"
            || (commit.len() == 12 && commit.bytes().all(|b| b.is_ascii_hexdigit())),
        "{commit}"
    );
    let date = lines[2].strip_prefix("built:   ").unwrap();
    assert!(
        date.len() == 10
            && date.as_bytes()[4] == b'-'
            && date.as_bytes()[7] == b'-'
            && date[..4].parse::<u32>().unwrap() >= 2025,
        "{date}"
    );
    assert_eq!(lines[3], "channel: unknown");
    let target = lines[4].strip_prefix("target:  ").unwrap();
    assert!(target.starts_with(std::env::consts::ARCH), "{target}");
    let mut cmd =
        test_env::isolated_command(&bin, env.home(), std::ffi::OsStr::new("/nonexistent"));
    let out = run_ok(cmd.arg("-V"));
    assert_eq!(
        stdout(&out),
        concat!("appstrate ", env!("CARGO_PKG_VERSION"), "\n")
    );
}
