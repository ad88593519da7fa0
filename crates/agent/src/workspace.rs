//! The run's workspace: a fresh temporary directory, removed when the
//! [`Workspace`] is dropped (also when the run is aborted), with the
//! bundle's skills materialised where the agent looks for them (docs/run.md "Local runs").

use std::path::{Path, PathBuf};

use appstrate_afps::Bundle;

pub struct Workspace {
    dir: tempfile::TempDir,
}

impl Workspace {
    /// A fresh `appstrate-run-…` directory under `temp_dir`.
    pub fn create(temp_dir: &Path) -> std::io::Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("appstrate-run-")
            .tempdir_in(temp_dir)?;
        Ok(Workspace { dir })
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes every skill package of the bundle (all files but `RECORD`) to
    /// `.pi/skills/<@scope/name>/`. Returns the directories written.
    pub fn materialise_skills(&self, bundle: &Bundle) -> std::io::Result<Vec<PathBuf>> {
        let mut written = Vec::new();
        for pkg in &bundle.packages {
            if pkg.identity == bundle.root
                || pkg.manifest.get("type").and_then(|t| t.as_str()) != Some("skill")
            {
                continue;
            }
            let name = pkg
                .manifest
                .get("name")
                .and_then(|n| n.as_str())
                .map(str::to_string)
                .unwrap_or_else(|| identity_name(&pkg.identity));
            // Names come from the archive: keep only plain path segments.
            let Some(rel) = safe_relative(&name) else {
                continue;
            };
            let dir = self.path().join(".pi").join("skills").join(rel);
            for (path, bytes) in &pkg.files {
                if path == "RECORD" {
                    continue;
                }
                let Some(rel_file) = safe_relative(path) else {
                    continue;
                };
                let target = dir.join(rel_file);
                if let Some(parent) = target.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                std::fs::write(&target, bytes)?;
            }
            written.push(dir);
        }
        Ok(written)
    }
}

/// `@scope/name@1.0.0` → `@scope/name`.
fn identity_name(identity: &str) -> String {
    match identity.rfind('@') {
        Some(0) | None => identity.to_string(),
        Some(i) => identity[..i].to_string(),
    }
}

fn safe_relative(path: &str) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for seg in path.split('/') {
        if seg.is_empty() || seg == "." || seg == ".." || seg.contains('\\') || seg.contains('\0') {
            return None;
        }
        out.push(seg);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_paths() {
        assert_eq!(identity_name("@s/n@1.0.0"), "@s/n");
        assert_eq!(identity_name("@s/n"), "@s/n");
        assert!(safe_relative("../x").is_none());
        assert_eq!(
            safe_relative("@s/n").expect("ok"),
            PathBuf::from("@s").join("n")
        );
    }
}
