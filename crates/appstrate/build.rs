//! Build facts for `--version` and `self-update` (see `docs/install.md`):
//!
//! - `APPSTRATE_INSTALL_SOURCE_STAMP`, the install channel: the
//!   `APPSTRATE_INSTALL_SOURCE` build variable when set (`scripts/release`
//!   sets `curl`); otherwise `cargo` for a release-profile build, which is
//!   what `cargo install` makes whether from crates.io, git or `--path`
//!   (it always builds the `release` profile unless told `--debug`); and
//!   `unknown` for debug builds, which no installer produces.
//! - `APPSTRATE_BUILD_COMMIT`: `APPSTRATE_BUILD_COMMIT` when set, else the
//!   commit `cargo package` recorded in `.cargo_vcs_info.json` (crates.io
//!   installs), else `git rev-parse HEAD` of this workspace; `unknown` without.
//! - `APPSTRATE_BUILD_DATE`: `SOURCE_DATE_EPOCH` (reproducible builds), else
//!   the day this script ran, as `YYYY-MM-DD` (UTC).
//! - `APPSTRATE_BUILD_TARGET`: the target triple.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    for var in [
        "APPSTRATE_INSTALL_SOURCE",
        "APPSTRATE_BUILD_COMMIT",
        "SOURCE_DATE_EPOCH",
    ] {
        println!("cargo:rerun-if-env-changed={var}");
    }
    println!("cargo:rerun-if-changed=build.rs");
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default());
    let profile = std::env::var("PROFILE").unwrap_or_default();
    let stamp = install_source(std::env::var("APPSTRATE_INSTALL_SOURCE").ok(), &profile);
    println!("cargo:rustc-env=APPSTRATE_INSTALL_SOURCE_STAMP={stamp}");
    println!(
        "cargo:rustc-env=APPSTRATE_BUILD_COMMIT={}",
        commit(&manifest_dir)
    );
    println!("cargo:rustc-env=APPSTRATE_BUILD_DATE={}", build_date());
    let target = std::env::var("TARGET").unwrap_or_else(|_| "unknown".into());
    println!("cargo:rustc-env=APPSTRATE_BUILD_TARGET={target}");
}

fn install_source(explicit: Option<String>, profile: &str) -> &'static str {
    match explicit.as_deref() {
        Some("curl") => "curl",
        Some("bun") => "bun",
        Some("cargo") => "cargo",
        Some(_) => "unknown",
        // `PROFILE` is `release` for every profile inheriting from it.
        None if profile == "release" => "cargo",
        None => "unknown",
    }
}

fn commit(manifest_dir: &Path) -> String {
    let explicit = std::env::var("APPSTRATE_BUILD_COMMIT").ok();
    explicit
        .filter(|c| is_commit(c))
        .or_else(|| packaged_commit(manifest_dir))
        .or_else(|| git_commit(manifest_dir))
        .map(|c| c[..12].to_string())
        .unwrap_or_else(|| "unknown".into())
}

fn is_commit(s: &str) -> bool {
    s.len() >= 12 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `{"git": {"sha1": "…"}, …}`, written by `cargo package`.
fn packaged_commit(manifest_dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(manifest_dir.join(".cargo_vcs_info.json")).ok()?;
    let rest = &text[text.find("\"sha1\"")? + 6..];
    let start = rest.find('"')? + 1;
    let sha = &rest[start..start + rest[start..].find('"')?];
    is_commit(sha).then(|| sha.to_string())
}

/// HEAD of this workspace's own repository (never of an enclosing one, such
/// as a home directory kept in git), re-read whenever HEAD moves.
fn git_commit(manifest_dir: &Path) -> Option<String> {
    let workspace = manifest_dir.join("../..").canonicalize().ok()?;
    let toplevel = git(&workspace, &["rev-parse", "--show-toplevel"])?;
    if Path::new(&toplevel).canonicalize().ok()? != workspace {
        return None;
    }
    let mut watched = vec![git(&workspace, &["rev-parse", "--git-path", "HEAD"])?];
    if let Some(branch) = git(&workspace, &["symbolic-ref", "-q", "HEAD"]) {
        watched.push(git(&workspace, &["rev-parse", "--git-path", &branch])?);
    }
    watched.push(git(
        &workspace,
        &["rev-parse", "--git-path", "packed-refs"],
    )?);
    for path in watched {
        let path = workspace.join(path);
        // A path that does not exist would make cargo rerun this every build.
        if path.exists() {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
    git(&workspace, &["rev-parse", "HEAD"]).filter(|c| is_commit(c))
}

fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
}

fn build_date() -> String {
    let seconds = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0)
        });
    let (y, m, d) = civil_from_days(seconds.div_euclid(86_400));
    format!("{y:04}-{m:02}-{d:02}")
}

/// Days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant's
/// `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}
