//! `self-update`: the release channel stamp, version arithmetic, and a
//! verified, atomic replacement of the running binary (`docs/install.md`).
//! Verification is native (minisign signature over `checksums.txt`, then
//! the SHA-256 of the asset); no `minisign` program is needed.

use std::cmp::Ordering;
use std::path::{Path, PathBuf};
use std::time::Duration;

use futures_util::StreamExt;
use sha2::{Digest, Sha256};

use crate::{Error, Result};

/// This project's GitHub repository (`owner/name`); the `repository` of
/// `Cargo.toml` must name it (a unit test checks), so `self-update` never
/// installs another project's build — the original TypeScript CLI's releases
/// live elsewhere and would replace this binary with the one it rewrites.
pub const REPOSITORY: &str = "appstrate/appstrate-rs";
/// This project's release key (`keys/minisign.pub`, key id
/// `2BD26154A6C612A8`); its secret half signs `checksums.txt`.
pub const RELEASE_PUBLIC_KEY: &str = "RWSoEsamVGHSK4Wsb5/3Wf2ZEB0asthohUwdSwECbu4Gdxd5IzZI7cdG";
pub const DEFAULT_API_URL: &str = "https://api.github.com/repos/appstrate/appstrate-rs/releases";
pub const DEFAULT_DOWNLOAD_URL: &str =
    "https://github.com/appstrate/appstrate-rs/releases/download";
/// The installer (`scripts/get.sh`), attached to every release.
pub const INSTALLER_URL: &str =
    "https://github.com/appstrate/appstrate-rs/releases/latest/download/get.sh";
const ISSUES_URL: &str = "https://github.com/appstrate/appstrate-rs/issues";

/// How this binary was installed, stamped at build time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    Curl,
    Bun,
    Cargo,
    Unknown,
}

impl Channel {
    pub fn from_stamp(stamp: Option<&str>) -> Channel {
        match stamp {
            Some("curl") => Channel::Curl,
            Some("bun") => Channel::Bun,
            Some("cargo") => Channel::Cargo,
            _ => Channel::Unknown,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Curl => "curl",
            Channel::Bun => "bun",
            Channel::Cargo => "cargo",
            Channel::Unknown => "unknown",
        }
    }

    pub fn upgrade_hint(self) -> &'static str {
        match self {
            Channel::Curl => concat!(
                "curl -fsSL ",
                "https://github.com/appstrate/appstrate-rs/releases/latest/download/get.sh",
                " | sh"
            ),
            Channel::Bun => "bun update -g appstrate",
            Channel::Cargo => "cargo install --locked appstrate",
            Channel::Unknown => concat!(
                "reinstall via curl -fsSL ",
                "https://github.com/appstrate/appstrate-rs/releases/latest/download/get.sh",
                " | sh, or `cargo install --locked appstrate`"
            ),
        }
    }
}

/// A version as users and release tags write it: surrounding space and one
/// leading `v`/`V` are tolerated.
fn parse_version(raw: &str) -> Option<semver::Version> {
    let t = raw.trim();
    semver::Version::parse(t.strip_prefix(['v', 'V']).unwrap_or(t)).ok()
}

/// Trim, strip one leading `v`/`V`, require semver, drop `+build`.
pub fn normalize_version(raw: &str) -> Result<String> {
    let mut version = parse_version(raw).ok_or_else(|| {
        Error::new(format!(
            "Invalid version: \"{raw}\". Expected semver like 1.2.3 or v1.2.3."
        ))
    })?;
    version.build = semver::BuildMetadata::EMPTY;
    Ok(version.to_string())
}

/// SemVer 2.0 precedence; build metadata ignored. A version that does not
/// parse sorts below every valid one.
pub fn compare_semver(a: &str, b: &str) -> Ordering {
    match (parse_version(a), parse_version(b)) {
        (Some(a), Some(b)) => a.cmp_precedence(&b),
        (a, b) => a.is_some().cmp(&b.is_some()),
    }
}

/// `appstrate-<darwin|linux>-<x64|arm64>` for this machine.
pub fn asset_name(os: &str, arch: &str) -> Result<String> {
    let os = match os {
        "macos" => "darwin",
        "linux" => "linux",
        other => {
            return Err(Error::new(format!(
                "self-update is only supported on macOS and Linux (detected: {other})."
            )));
        }
    };
    let arch = match arch {
        "x86_64" => "x64",
        "aarch64" => "arm64",
        other => {
            return Err(Error::new(format!(
                "self-update is only supported on x64 and arm64 (detected: {other})."
            )));
        }
    };
    Ok(format!("appstrate-{os}-{arch}"))
}

/// The one `<sha256>  <asset>` line of the manifest for `asset`.
pub fn parse_checksum_line(manifest: &str, asset: &str) -> Result<String> {
    let matches: Vec<&str> = manifest
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .filter_map(|l| {
            let parts: Vec<&str> = l.split_whitespace().collect();
            (parts.len() == 2 && parts[1].trim_start_matches('*') == asset).then_some(parts[0])
        })
        .collect();
    match matches.as_slice() {
        [] => Err(Error::new(format!(
            "Asset {asset} is not listed in the signed checksums manifest. This is either a broken release or tampering — refusing to install. Report at {ISSUES_URL}"
        ))),
        [hash] => {
            if hash.len() == 64
                && hash
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            {
                Ok(hash.to_string())
            } else {
                Err(Error::new(format!(
                    "Invalid SHA-256 in checksums.txt for {asset}: \"{hash}\" is not 64 hex characters."
                )))
            }
        }
        many => Err(Error::new(format!(
            "Expected exactly one line for {asset} in checksums.txt, got {}. Duplicate or malformed entries — refusing to install.",
            many.len()
        ))),
    }
}

fn signature_refused() -> Error {
    Error::new(format!(
        "Signature verification FAILED. The checksums manifest was NOT signed by the Appstrate key. Refusing to install. Report at {ISSUES_URL}"
    ))
}

/// Verifies the minisign signature of the manifest with `public_key`, and
/// that its trusted comment names `version` (so an older, validly signed
/// manifest cannot be replayed as a newer release).
pub fn verify_manifest(
    manifest: &[u8],
    signature: &str,
    public_key: &str,
    version: &str,
) -> Result<()> {
    let refuse = signature_refused;
    let key = minisign_verify::PublicKey::from_base64(public_key)
        .map_err(|e| Error::new(format!("The release public key is invalid: {e}")))?;
    let sig = minisign_verify::Signature::decode(signature).map_err(|_| refuse())?;
    key.verify(manifest, &sig, false).map_err(|_| refuse())?;
    let comment = sig.trusted_comment();
    let wanted = format!("v{version}");
    if !comment
        .split_whitespace()
        .any(|w| w == wanted || w == version)
    {
        return Err(Error::new(format!(
            "The signed checksums manifest is for \"{comment}\", not {wanted}. Refusing to install (possible replay of another release)."
        )));
    }
    Ok(())
}

pub fn user_agent(cli_version: &str) -> String {
    format!("appstrate-cli/{cli_version}")
}

fn client(cli_version: &str) -> Result<reqwest::Client> {
    appstrate_tls::client_builder()
        .user_agent(user_agent(cli_version))
        .connect_timeout(Duration::from_secs(15))
        .build()
        .map_err(|e| Error::new(format!("Cannot build the HTTP client: {e}")))
}

/// The newest release's version (`<api>/latest`, `tag_name`).
pub async fn latest_version(api_url: &str, cli_version: &str) -> Result<String> {
    let url = format!("{}/latest", api_url.trim_end_matches('/'));
    let resp = client(cli_version)?
        .get(&url)
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .map_err(|e| Error::new(format!("GET {url} failed: {e}")))?;
    let status = resp.status();
    if status.as_u16() == 403 {
        return Err(Error::new(
            "GitHub Releases API returned 403 (likely rate-limited). Pin a specific version with --release X.Y.Z, or wait for the 60 req/h-per-IP limit to reset.",
        ));
    }
    if !status.is_success() {
        return Err(Error::new(format!("GET {url} → {status}")));
    }
    let body = read_small(resp, &url).await?;
    let json: serde_json::Value = serde_json::from_slice(&body).map_err(|_| {
        Error::new("GitHub Releases API returned non-JSON; cannot determine latest version.")
    })?;
    let tag = json
        .get("tag_name")
        .and_then(|t| t.as_str())
        .ok_or_else(|| Error::new("GitHub Releases API response missing tag_name."))?;
    normalize_version(tag)
}

async fn fetch_small(client: &reqwest::Client, url: &str) -> Result<Vec<u8>> {
    let resp = client
        .get(url)
        .timeout(Duration::from_secs(60))
        .send()
        .await
        .map_err(|e| Error::new(format!("GET {url} failed: {e}")))?;
    let status = resp.status();
    if !status.is_success() {
        return Err(Error::new(format!("GET {url} → {status}")));
    }
    read_small(resp, url).await
}

/// Release metadata, checksum manifests and signatures are kilobytes.
const SMALL_REPLY_LIMIT: usize = 1024 * 1024;

/// The body of a small reply; over [`SMALL_REPLY_LIMIT`] is an error, found
/// from `Content-Length` or while reading (never held whole).
async fn read_small(mut resp: reqwest::Response, url: &str) -> Result<Vec<u8>> {
    let too_large = || {
        Error::new(format!(
            "GET {url}: the reply is larger than {} KiB, which no release file should be; refusing it.",
            SMALL_REPLY_LIMIT / 1024
        ))
    };
    if resp
        .content_length()
        .is_some_and(|n| n > SMALL_REPLY_LIMIT as u64)
    {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| Error::new(format!("GET {url} failed: {e}")))?
    {
        if body.len() + chunk.len() > SMALL_REPLY_LIMIT {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Progress of a download: bytes received and the total when known.
pub type Progress<'a> = &'a mut dyn FnMut(u64, Option<u64>);

/// Streams `url` into `dest`, hashing on the fly; a stall of 30 s or a
/// total of 20 min aborts. Any failure removes the partial file.
pub async fn stream_download(
    client: &reqwest::Client,
    url: &str,
    dest: &Path,
    progress: Progress<'_>,
) -> Result<(u64, String)> {
    let result = async {
        let resp = client
            .get(url)
            .send()
            .await
            .map_err(|e| Error::new(format!("GET {url} failed: {e}")))?;
        let status = resp.status();
        if !status.is_success() {
            return Err(Error::new(format!("GET {url} → HTTP {status}")));
        }
        let total = resp.content_length();
        let mut file = tokio::fs::File::create(dest)
            .await
            .map_err(|e| Error::new(format!("Cannot write {}: {e}", dest.display())))?;
        let mut hasher = Sha256::new();
        let mut received = 0u64;
        let mut stream = resp.bytes_stream();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20 * 60);
        loop {
            let next = tokio::time::timeout(Duration::from_secs(30), stream.next());
            let item = tokio::select! {
                item = next => item.map_err(|_| Error::new(format!(
                    "Download stalled: no data from {url} for 30s. The connection wedged (often a slow/broken GitHub→CDN redirect). Check the host's network and retry."
                )))?,
                _ = tokio::time::sleep_until(deadline) => return Err(Error::new(format!(
                    "Download timed out after 20 min ({url}). The link is too slow to complete; retry on a better connection."
                ))),
            };
            let Some(chunk) = item else { break };
            let chunk = chunk.map_err(|e| Error::new(format!("Download of {url} failed: {e}")))?;
            hasher.update(&chunk);
            received += chunk.len() as u64;
            tokio::io::AsyncWriteExt::write_all(&mut file, &chunk)
                .await
                .map_err(|e| Error::new(format!("Cannot write {}: {e}", dest.display())))?;
            progress(received, total);
        }
        if let Some(total) = total
            && received != total
        {
            return Err(Error::new(format!(
                "Download of {url} was truncated: got {received} of {total} bytes."
            )));
        }
        tokio::io::AsyncWriteExt::flush(&mut file)
            .await
            .map_err(|e| Error::new(format!("Cannot write {}: {e}", dest.display())))?;
        file.sync_all().await.map_err(|e| Error::new(format!("Cannot write {}: {e}", dest.display())))?;
        Ok((received, hex::encode(hasher.finalize())))
    }
    .await;
    if result.is_err() {
        let _ = std::fs::remove_file(dest);
    }
    result
}

pub struct UpdatePlan<'a> {
    pub cli_version: &'a str,
    pub target: &'a str,
    pub asset: &'a str,
    pub download_url: &'a str,
    pub public_key: &'a str,
    /// The running binary, replaced in place.
    pub dest: &'a Path,
}

/// Removes the staged download however the update ends (Ctrl-C included).
struct StagedFile(PathBuf);

impl Drop for StagedFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Downloads, verifies and installs the release; `log` receives the
/// `→ …` step lines. The old binary stays unless every check passes.
pub async fn perform_update(
    plan: &UpdatePlan<'_>,
    log: &mut dyn FnMut(&str),
    progress: Progress<'_>,
) -> Result<()> {
    let client = client(plan.cli_version)?;
    let base = format!(
        "{}/v{}",
        plan.download_url.trim_end_matches('/'),
        plan.target
    );
    let manifest_url = format!("{base}/checksums.txt");
    let sig_url = format!("{base}/checksums.txt.minisig");
    let (manifest, sig) = tokio::join!(
        fetch_small(&client, &manifest_url),
        fetch_small(&client, &sig_url)
    );
    let (manifest, sig) = (manifest?, sig?);
    log("→ Verifying signature against Appstrate release key");
    let sig_text = String::from_utf8(sig).map_err(|_| signature_refused())?;
    verify_manifest(&manifest, &sig_text, plan.public_key, plan.target)?;
    let manifest_text = String::from_utf8_lossy(&manifest);
    let expected = parse_checksum_line(&manifest_text, plan.asset)?;
    log(&format!(
        "→ Downloading Appstrate CLI {} ({})",
        plan.target, plan.asset
    ));
    let dir = plan.dest.parent().unwrap_or_else(|| Path::new("."));
    let staged = StagedFile(dir.join(".appstrate.download"));
    let (_, got) = stream_download(
        &client,
        &format!("{base}/{}", plan.asset),
        &staged.0,
        progress,
    )
    .await?;
    log("→ Verifying binary integrity (SHA-256)");
    if got != expected {
        return Err(Error::new(format!(
            "SHA-256 mismatch for {}: expected {expected}, got {got}. The downloaded binary does NOT match the signed manifest. This strongly suggests tampering — refusing to install.",
            plan.asset
        )));
    }
    log(&format!(
        "→ Installing {} → {}",
        plan.asset,
        plan.dest.display()
    ));
    appstrate_fsutil::set_mode(&staged.0, 0o755)
        .map_err(|e| Error::new(format!("Cannot chmod {}: {e}", staged.0.display())))?;
    std::fs::rename(&staged.0, plan.dest)
        .map_err(|e| Error::new(format!("Cannot replace {}: {e}", plan.dest.display())))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert_eq!(normalize_version(" v1.2.3 ").unwrap(), "1.2.3");
        assert_eq!(
            normalize_version("V1.2.3-beta.1+b5").unwrap(),
            "1.2.3-beta.1"
        );
        for bad in ["1.2", "x", "1.2.3.4", "1.2.3-", ""] {
            assert!(
                normalize_version(bad)
                    .unwrap_err()
                    .message
                    .starts_with("Invalid version"),
                "{bad}"
            );
        }
        use Ordering::*;
        assert_eq!(compare_semver("1.10.0", "1.9.0"), Greater);
        assert_eq!(compare_semver("v1.2.3", "1.2.3"), Equal);
        assert_eq!(compare_semver("1.0.0-beta", "1.0.0"), Less);
        assert_eq!(compare_semver("1.0.0-alpha.10", "1.0.0-alpha.2"), Greater);
        assert_eq!(compare_semver("1.0.0-1", "1.0.0-alpha"), Less);
        assert_eq!(compare_semver("1.0.0-alpha.1", "1.0.0-alpha"), Greater);
        assert_eq!(compare_semver("1.0.0+a", "1.0.0+b"), Equal);
    }

    #[test]
    fn assets_and_checksums() {
        assert_eq!(
            asset_name("linux", "x86_64").unwrap(),
            "appstrate-linux-x64"
        );
        assert_eq!(
            asset_name("macos", "aarch64").unwrap(),
            "appstrate-darwin-arm64"
        );
        assert!(asset_name("windows", "x86_64").is_err());
        assert!(asset_name("linux", "x86").is_err());
        let h = "a".repeat(64);
        assert_eq!(
            parse_checksum_line(
                &format!("{h}  appstrate-linux-x64\n"),
                "appstrate-linux-x64"
            )
            .unwrap(),
            h
        );
        assert_eq!(
            parse_checksum_line(
                &format!("{h} *appstrate-linux-x64\n"),
                "appstrate-linux-x64"
            )
            .unwrap(),
            h
        );
        assert!(
            parse_checksum_line(&format!("{h}  other\n"), "appstrate-linux-x64")
                .unwrap_err()
                .message
                .contains("not listed")
        );
        assert!(
            parse_checksum_line(&format!("{h}  a\n{h}  a\n"), "a")
                .unwrap_err()
                .message
                .contains("exactly one")
        );
        assert!(
            parse_checksum_line(&format!("{}  a\n", "A".repeat(64)), "a")
                .unwrap_err()
                .message
                .contains("Invalid SHA-256")
        );
    }

    #[test]
    fn channels() {
        assert_eq!(Channel::from_stamp(Some("curl")), Channel::Curl);
        assert_eq!(Channel::from_stamp(Some("bun")), Channel::Bun);
        assert_eq!(Channel::from_stamp(Some("cargo")), Channel::Cargo);
        assert_eq!(Channel::from_stamp(Some("brew")), Channel::Unknown);
        assert_eq!(Channel::from_stamp(None), Channel::Unknown);
        assert!(minisign_verify::PublicKey::from_base64(RELEASE_PUBLIC_KEY).is_ok());
        assert!(Channel::Curl.upgrade_hint().contains(INSTALLER_URL));
        assert!(Channel::Unknown.upgrade_hint().contains(INSTALLER_URL));
    }

    /// The endpoints and the key are this project's own: the repository
    /// `Cargo.toml` names, and the public key committed in `keys/`.
    #[test]
    fn releases_are_this_projects() {
        let repository = env!("CARGO_PKG_REPOSITORY");
        assert_eq!(repository, format!("https://github.com/{REPOSITORY}"));
        assert_eq!(
            DEFAULT_API_URL,
            format!("https://api.github.com/repos/{REPOSITORY}/releases")
        );
        assert_eq!(
            DEFAULT_DOWNLOAD_URL,
            format!("{repository}/releases/download")
        );
        assert!(INSTALLER_URL.starts_with(&format!("{repository}/releases/")));
        assert!(ISSUES_URL.starts_with(repository));
        let workspace = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        // A packaged crate (crates.io) ships without the workspace and its keys.
        if workspace.join("Cargo.lock").exists() {
            let text = std::fs::read_to_string(workspace.join("keys/minisign.pub")).unwrap();
            assert_eq!(text.lines().nth(1), Some(RELEASE_PUBLIC_KEY));
        }
    }
}
