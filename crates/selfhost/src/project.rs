//! The compose project name and `<dir>/.appstrate/project.json` (`docs/install.md`), plus the Tier 0 marker that lets the lifecycle verbs find a Tier 0
//! install.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use appstrate_fsutil as fsutil;

pub const PROJECT_FILE_RELPATH: &str = ".appstrate/project.json";
pub const TIER0_FILE_RELPATH: &str = ".appstrate/tier0.json";

/// `appstrate-<slug>-<sha256(absDir)[..8]>`, at most 51 characters.
pub fn derive_project_name(abs_dir: &Path) -> String {
    let dir = abs_dir.to_string_lossy();
    let base = abs_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let lowered = base.to_lowercase();
    let mut slug = String::new();
    for ch in lowered.chars() {
        let keep = ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_' || ch == '-';
        let ch = if keep { ch } else { '-' };
        // Squeezes runs of `-` (replaced runs and literal ones alike).
        if ch == '-' && slug.ends_with('-') {
            continue;
        }
        slug.push(ch);
    }
    let trimmed = slug.trim_matches(|c| c == '-' || c == '_');
    // Truncation happens after trimming, so a trailing `-` can survive.
    let mut slug: String = trimmed.chars().take(32).collect();
    if slug.is_empty() {
        slug = "install".into();
    }
    let hash = hex::encode(Sha256::digest(dir.as_bytes()));
    format!("appstrate-{slug}-{}", &hash[..8])
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProjectFile {
    pub version: u32,
    pub project_name: String,
    pub created_at: String,
}

pub fn project_file_path(dir: &Path) -> PathBuf {
    dir.join(PROJECT_FILE_RELPATH)
}

/// Reads the sidecar; anything missing or malformed counts as absent.
pub fn read_project_file(dir: &Path) -> Option<ProjectFile> {
    let body = std::fs::read(project_file_path(dir)).ok()?;
    let value: serde_json::Value = serde_json::from_slice(&body).ok()?;
    if value.get("version")?.as_u64()? != 1 {
        return None;
    }
    let project_name = value.get("projectName")?.as_str()?.to_string();
    let created_at = value.get("createdAt")?.as_str()?.to_string();
    if project_name.is_empty() {
        return None;
    }
    Some(ProjectFile {
        version: 1,
        project_name,
        created_at,
    })
}

/// Writes `project.json` atomically, 2-space JSON plus a newline.
pub fn write_project_file(dir: &Path, project_name: &str) -> std::io::Result<ProjectFile> {
    let file = ProjectFile {
        version: 1,
        project_name: project_name.to_string(),
        created_at: now_iso(),
    };
    let path = project_file_path(dir);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut body = serde_json::to_string_pretty(&file).map_err(std::io::Error::other)?;
    body.push('\n');
    fsutil::write_atomic(&path, body.as_bytes(), 0o644)?;
    Ok(file)
}

/// Where the project name comes from: the sidecar, or derived now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameOrigin {
    Sidecar,
    Derived,
}

pub fn resolve_project_name(dir: &Path) -> (String, NameOrigin) {
    match read_project_file(dir) {
        Some(file) => (file.project_name, NameOrigin::Sidecar),
        None => (derive_project_name(dir), NameOrigin::Derived),
    }
}

/// The Tier 0 marker: the original records nothing for Tier 0, so its
/// lifecycle verbs cannot find it. Kept apart from `project.json`, whose
/// readers assume a compose project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tier0File {
    pub version: u32,
    pub tier: u8,
    pub created_at: String,
}

pub fn read_tier0_file(dir: &Path) -> Option<Tier0File> {
    let body = std::fs::read(dir.join(TIER0_FILE_RELPATH)).ok()?;
    let file: Tier0File = serde_json::from_slice(&body).ok()?;
    (file.version == 1 && file.tier == 0).then_some(file)
}

pub fn write_tier0_file(dir: &Path) -> std::io::Result<()> {
    if read_tier0_file(dir).is_some() {
        return Ok(());
    }
    let file = Tier0File {
        version: 1,
        tier: 0,
        created_at: now_iso(),
    };
    let path = dir.join(TIER0_FILE_RELPATH);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut body = serde_json::to_string_pretty(&file).map_err(std::io::Error::other)?;
    body.push('\n');
    fsutil::write_atomic(&path, body.as_bytes(), 0o644)
}

/// ISO-8601 UTC with milliseconds, as JavaScript's `toISOString`.
pub fn now_iso() -> String {
    let now = time::OffsetDateTime::now_utc();
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second(),
        now.millisecond()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_name_vectors() {
        let cases = [
            ("/root/appstrate", "appstrate-appstrate-94e91d0a"),
            ("/home/bob/dev/appstrate", "appstrate-appstrate-b30a9f87"),
            ("/home/bob/prod/appstrate", "appstrate-appstrate-12f6eb92"),
            (
                "/Users/alice/Projects/Appstrate — Dev",
                "appstrate-appstrate-dev-31eface7",
            ),
            ("/home/bob/____", "appstrate-install-667128d1"),
            ("/srv/My_App.v2", "appstrate-my_app-v2-c6ec418e"),
            ("/", "appstrate-install-8a5edab2"),
        ];
        for (dir, want) in cases {
            assert_eq!(derive_project_name(Path::new(dir)), want, "{dir}");
        }
        let long = format!("/home/bob/{}", "x".repeat(200));
        let name = derive_project_name(Path::new(&long));
        assert_eq!(name, format!("appstrate-{}-0d056cc8", "x".repeat(32)));
        assert!(name.len() <= 51);
    }

    #[test]
    fn project_name_properties() {
        let a = derive_project_name(Path::new("/home/a/appstrate"));
        let b = derive_project_name(Path::new("/home/b/appstrate"));
        assert_ne!(a, b);
        assert_eq!(a, derive_project_name(Path::new("/home/a/appstrate")));
        let re_ok = a.starts_with("appstrate-appstrate-")
            && a[20..].len() == 8
            && a[20..]
                .chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase());
        assert!(re_ok, "{a}");
        assert_eq!(
            derive_project_name(Path::new("/x/!!!")),
            format!(
                "appstrate-install-{}",
                &hex::encode(Sha256::digest(b"/x/!!!"))[..8]
            )
        );
        // A trailing `-` from truncation survives (same as the original).
        let dir = format!("/t/{}-{}", "a".repeat(31), "b".repeat(5));
        assert!(
            derive_project_name(Path::new(&dir))
                .starts_with(&format!("appstrate-{}--", "a".repeat(31)))
        );
    }

    #[test]
    fn project_file_round_trip_and_rejects() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read_project_file(dir.path()).is_none());
        let written = write_project_file(dir.path(), "appstrate-x-12345678").unwrap();
        let read = read_project_file(dir.path()).unwrap();
        assert_eq!(read, written);
        assert_eq!(read.version, 1);
        assert!(
            time::OffsetDateTime::parse(
                &read.created_at,
                &time::format_description::well_known::Rfc3339
            )
            .is_ok()
        );
        let body = std::fs::read_to_string(dir.path().join(".appstrate/project.json")).unwrap();
        assert!(body.starts_with("{\n  \"version\": 1,\n  \"projectName\": \"appstrate-x-12345678\",\n  \"createdAt\": \""));
        assert!(body.ends_with("\"\n}\n"));
        for bad in [
            "not json",
            "{\"version\":2,\"projectName\":\"a\",\"createdAt\":\"x\"}",
            "{\"version\":1,\"projectName\":3,\"createdAt\":\"x\"}",
        ] {
            std::fs::write(dir.path().join(".appstrate/project.json"), bad).unwrap();
            assert!(read_project_file(dir.path()).is_none(), "{bad}");
        }
    }
}
