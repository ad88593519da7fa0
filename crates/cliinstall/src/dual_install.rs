//! The PATH scan shared by `doctor` and the dual-install warning, and the
//! warning's ack file (`docs/install.md`). The scan only
//! stats files: it runs before most commands and must stay cheap.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use appstrate_fsutil as fsutil;
use appstrate_selfhost::tier0::is_executable_file;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Hit {
    pub path_entry: String,
    pub binary: String,
    pub real_path: String,
}

/// PATH entries: trimmed, empty ones (the implicit cwd) dropped, first
/// occurrence kept. `;` separates on Windows.
pub fn split_path(path: &str, separator: char) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for entry in path
        .split(separator)
        .map(str::trim)
        .filter(|e| !e.is_empty())
    {
        if !out.iter().any(|e| e == entry) {
            out.push(entry.to_string());
        }
    }
    out
}

/// Every executable *file* named `appstrate` on PATH, deduplicated by its
/// resolved path (the first, winning, entry kept).
pub fn find_appstrate_on_path(path: &str) -> Vec<Hit> {
    let sep = if cfg!(windows) { ';' } else { ':' };
    let name = if cfg!(windows) {
        "appstrate.exe"
    } else {
        "appstrate"
    };
    let mut hits: Vec<Hit> = Vec::new();
    for entry in split_path(path, sep) {
        let binary = Path::new(&entry).join(name);
        if !is_executable_file(&binary) {
            continue;
        }
        let real = std::fs::canonicalize(&binary).unwrap_or_else(|_| binary.clone());
        let real_path = real.to_string_lossy().into_owned();
        if hits.iter().any(|h| h.real_path == real_path) {
            continue;
        }
        hits.push(Hit {
            path_entry: entry.clone(),
            binary: binary.to_string_lossy().into_owned(),
            real_path,
        });
    }
    hits
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Ack {
    paths: Vec<String>,
    warned_at: String,
}

pub fn ack_path(config_dir: &Path) -> PathBuf {
    config_dir.join("dual-install-ack.json")
}

fn read_ack(config_dir: &Path) -> Option<Vec<String>> {
    let body = std::fs::read(ack_path(config_dir)).ok()?;
    let ack: Ack = serde_json::from_slice(&body).ok()?;
    (!ack.warned_at.is_empty()).then_some(ack.paths)
}

/// Records that the user was warned about this set of installs. The
/// config directory is created 0700 (it also holds credentials).
pub fn write_ack(config_dir: &Path, sorted_paths: &[String]) -> std::io::Result<()> {
    fsutil::ensure_private_dir(config_dir)?;
    let ack = Ack {
        paths: sorted_paths.to_vec(),
        warned_at: appstrate_selfhost::project::now_iso(),
    };
    let body = serde_json::to_string_pretty(&ack).map_err(std::io::Error::other)?;
    fsutil::write_atomic(&ack_path(config_dir), body.as_bytes(), 0o600)
}

/// The warning to print, if several installs are on PATH and this set was
/// not acknowledged yet; the ack is written when a warning is returned.
pub fn check(path: &str, config_dir: &Path) -> Option<String> {
    let hits = find_appstrate_on_path(path);
    if hits.len() <= 1 {
        return None;
    }
    let mut sorted: Vec<String> = hits.iter().map(|h| h.real_path.clone()).collect();
    sorted.sort();
    if read_ack(config_dir).is_some_and(|mut acked| {
        acked.sort();
        acked == sorted
    }) {
        return None;
    }
    let mut msg = format!(
        "! Multiple `appstrate` installations detected on $PATH ({} entries):\n",
        hits.len()
    );
    for hit in &hits {
        msg.push_str(&format!("    {}\n", hit.binary));
    }
    msg.push_str("! Run `appstrate doctor` for the full report.\n");
    msg.push_str("! To upgrade the npm-channel binary: bun update -g appstrate\n");
    msg.push_str("! Silence this warning: APPSTRATE_NO_DUAL_INSTALL_CHECK=1");
    let _ = write_ack(config_dir, &sorted);
    Some(msg)
}

/// `APPSTRATE_NO_DUAL_INSTALL_CHECK=1` or `APPSTRATE_FORCE_DUAL=1`.
pub fn disabled_by_env(no_check: Option<&str>, force_dual: Option<&str>) -> bool {
    no_check == Some("1") || force_dual == Some("1")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exe(dir: &Path) -> PathBuf {
        std::fs::create_dir_all(dir).unwrap();
        let p = dir.join("appstrate");
        std::fs::write(&p, "#!/bin/sh\n").unwrap();
        fsutil::set_mode(&p, 0o755).unwrap();
        p
    }

    #[test]
    fn split_rules() {
        assert_eq!(split_path("/a:/b", ':'), vec!["/a", "/b"]);
        assert_eq!(split_path("/a::/b:/a: /c ", ':'), vec!["/a", "/b", "/c"]);
        assert!(split_path("", ':').is_empty());
        assert_eq!(split_path("C:\\a;C:\\b", ';'), vec!["C:\\a", "C:\\b"]);
    }

    #[test]
    fn scan_dedupes_and_skips_directories() {
        let t = tempfile::tempdir().unwrap();
        let a = exe(&t.path().join("a"));
        std::fs::create_dir_all(t.path().join("b")).unwrap();
        std::os::unix::fs::symlink(&a, t.path().join("b/appstrate")).unwrap();
        std::fs::create_dir_all(t.path().join("c/appstrate")).unwrap();
        let path = format!("{0}/a:{0}/b:{0}/c:{0}/none", t.path().display());
        let hits = find_appstrate_on_path(&path);
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].binary, a.to_string_lossy());
        assert!(find_appstrate_on_path("").is_empty());
    }

    #[test]
    fn warns_once_per_set() {
        let t = tempfile::tempdir().unwrap();
        exe(&t.path().join("a"));
        exe(&t.path().join("b"));
        let cfg = t.path().join("cfg/appstrate");
        let one = format!("{}/a", t.path().display());
        assert!(check(&one, &cfg).is_none());
        let two = format!("{0}/a:{0}/b", t.path().display());
        let warning = check(&two, &cfg).unwrap();
        assert!(warning.contains("(2 entries)") && warning.contains("appstrate doctor"));
        assert_eq!(fsutil::mode_of_path(&cfg), Some(0o700));
        let ack: serde_json::Value =
            serde_json::from_slice(&std::fs::read(ack_path(&cfg)).unwrap()).unwrap();
        let paths: Vec<&str> = ack["paths"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_str().unwrap())
            .collect();
        let mut sorted = paths.clone();
        sorted.sort();
        assert_eq!(paths, sorted);
        assert!(ack["warnedAt"].as_str().unwrap().ends_with('Z'));
        assert!(check(&two, &cfg).is_none(), "silent after ack");
        exe(&t.path().join("c"));
        let three = format!("{0}/a:{0}/b:{0}/c", t.path().display());
        assert!(
            check(&three, &cfg).is_some(),
            "re-warns when a path is added"
        );
        assert!(
            check(&two, &cfg).is_some(),
            "re-warns when a path is removed"
        );
        assert!(
            disabled_by_env(Some("1"), None)
                && disabled_by_env(None, Some("1"))
                && !disabled_by_env(Some("true"), None)
        );
    }
}
