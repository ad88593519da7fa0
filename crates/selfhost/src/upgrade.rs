//! Fresh install or upgrade, and the backups that make an upgrade safe to
//! abort (`docs/install.md`).

use std::io;
use std::path::{Path, PathBuf};

use crate::envfile::{EnvMap, parse_env_file};
use crate::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Fresh,
    Upgrade,
}

#[derive(Debug, Clone)]
pub struct Existing {
    pub mode: Mode,
    pub has_env: bool,
    pub has_compose: bool,
    pub env: EnvMap,
    /// The `.env` text as found, to merge into without losing comments.
    pub env_text: Option<String>,
}

fn exists(path: &Path) -> Result<bool> {
    match std::fs::metadata(path) {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(Error::new(format!(
            "Cannot inspect {}: {e}. Fix the permissions and re-run (refusing to continue, which could rotate existing secrets).",
            path.display()
        ))),
    }
}

/// An upgrade if either `.env` or `docker-compose.yml` exists. Any stat
/// error other than "not found" aborts rather than rotating secrets.
pub fn detect_install_mode(dir: &Path) -> Result<Existing> {
    let env_path = dir.join(".env");
    let has_env = exists(&env_path)?;
    let has_compose = exists(&dir.join("docker-compose.yml"))?;
    let env_text = if has_env {
        std::fs::read_to_string(&env_path).ok()
    } else {
        None
    };
    let env = env_text.as_deref().map(parse_env_file).unwrap_or_default();
    Ok(Existing {
        mode: if has_env || has_compose {
            Mode::Upgrade
        } else {
            Mode::Fresh
        },
        has_env,
        has_compose,
        env,
        env_text,
    })
}

pub const BACKED_UP: [&str; 2] = [".env", "docker-compose.yml"];

fn backup_path(file: &Path) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(".backup");
    PathBuf::from(name)
}

/// Copies each existing file to `<file>.backup` (one generation; a copy
/// keeps the content, and the mode is forced to 0600 since `.env` holds
/// secrets). Returns the files that were backed up.
pub fn backup_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut done = Vec::new();
    for name in BACKED_UP {
        let file = dir.join(name);
        if !file.is_file() {
            continue;
        }
        let backup = backup_path(&file);
        std::fs::copy(&file, &backup).map_err(|e| {
            Error::new(format!(
                "Cannot back up {} to {}: {e}",
                file.display(),
                backup.display()
            ))
        })?;
        appstrate_fsutil::set_mode(&backup, 0o600)
            .map_err(|e| Error::new(format!("Cannot protect {}: {e}", backup.display())))?;
        done.push(file);
    }
    Ok(done)
}

/// Copies each `<file>.backup` back over `<file>`; the backups stay.
pub fn restore_backups(files: &[PathBuf]) -> io::Result<()> {
    for file in files {
        let backup = backup_path(file);
        let body = std::fs::read(&backup)?;
        let mode = appstrate_fsutil::mode_of_path(&backup).unwrap_or(0o600);
        appstrate_fsutil::write_atomic(file, &body, mode)?;
    }
    Ok(())
}

/// Removes the backups after a successful upgrade; errors are ignored.
pub fn cleanup_backups(files: &[PathBuf]) {
    for file in files {
        let _ = std::fs::remove_file(backup_path(file));
    }
}

/// The error of a failed upgrade after its files were restored (or not).
pub fn rollback_error(dir: &Path, original: &str, restore: io::Result<()>) -> Error {
    match restore {
        Ok(()) => Error::new(format!(
            "Upgrade failed ({original}). Original files restored from backup; run `docker compose up -d` in {} to resume on the previous config.",
            dir.display()
        )),
        Err(e) => Error::new(format!(
            "Upgrade failed ({original}). Rollback also failed ({e}); .backup files are preserved in {} for manual recovery.",
            dir.display()
        )),
    }
}

/// Undoes what an install changed unless it is committed: restores the
/// backups of an upgrade, removes the files a fresh install created. It
/// runs on drop, so an interrupted install (Ctrl-C drops the running
/// command) rolls back as well as a failed one.
pub struct Rollback {
    dir: PathBuf,
    backups: Vec<PathBuf>,
    created: Vec<PathBuf>,
    created_dirs: Vec<PathBuf>,
    armed: bool,
    /// Printed to stderr when the rollback runs on drop.
    pub announce: bool,
}

impl Rollback {
    pub fn new(dir: &Path, backups: Vec<PathBuf>) -> Self {
        Rollback {
            dir: dir.to_path_buf(),
            backups,
            created: Vec::new(),
            created_dirs: Vec::new(),
            armed: true,
            announce: true,
        }
    }

    /// Records a file this install created (removed on rollback).
    pub fn created_file(&mut self, path: &Path) {
        self.created.push(path.to_path_buf());
    }

    /// Records a directory this install created (removed if left empty).
    pub fn created_dir(&mut self, path: &Path) {
        self.created_dirs.push(path.to_path_buf());
    }

    pub fn backups(&self) -> &[PathBuf] {
        &self.backups
    }

    /// Keeps what the install wrote (a fresh install whose containers may
    /// already hold data encrypted with the new secrets).
    pub fn keep_created(&mut self) {
        self.created.clear();
        self.created_dirs.clear();
    }

    /// Success: the backups go, nothing is undone.
    pub fn commit(mut self) {
        self.armed = false;
        cleanup_backups(&self.backups);
    }

    /// Undo now and build the error to report for `original`.
    pub fn fail(mut self, original: &Error) -> Error {
        self.armed = false;
        let restore = self.undo();
        if self.backups.is_empty() {
            return original.clone();
        }
        rollback_error(&self.dir, &original.message, restore)
    }

    fn undo(&mut self) -> io::Result<()> {
        for file in self.created.drain(..) {
            let _ = std::fs::remove_file(file);
        }
        for dir in self.created_dirs.drain(..).rev() {
            let _ = std::fs::remove_dir(dir);
        }
        restore_backups(&self.backups)
    }
}

impl Drop for Rollback {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let restored = self.undo();
        if self.announce {
            let msg = match (&restored, self.backups.is_empty()) {
                (Ok(()), false) => format!(
                    "Install interrupted. Original files restored from backup in {}.",
                    self.dir.display()
                ),
                (Ok(()), true) => format!(
                    "Install interrupted. Removed the files it had written in {}.",
                    self.dir.display()
                ),
                (Err(e), _) => format!(
                    "Install interrupted. Rollback failed ({e}); .backup files are preserved in {} for manual recovery.",
                    self.dir.display()
                ),
            };
            eprintln!("{msg}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(detect_install_mode(dir.path()).unwrap().mode, Mode::Fresh);
        assert_eq!(
            detect_install_mode(&dir.path().join("missing"))
                .unwrap()
                .mode,
            Mode::Fresh
        );
        std::fs::write(dir.path().join(".env"), "A=1\n").unwrap();
        let e = detect_install_mode(dir.path()).unwrap();
        assert_eq!(
            (e.mode, e.has_env, e.has_compose),
            (Mode::Upgrade, true, false)
        );
        assert_eq!(e.env["A"], "1");
        std::fs::remove_file(dir.path().join(".env")).unwrap();
        std::fs::write(dir.path().join("docker-compose.yml"), "x").unwrap();
        assert_eq!(detect_install_mode(dir.path()).unwrap().mode, Mode::Upgrade);
        std::fs::remove_file(dir.path().join("docker-compose.yml")).unwrap();
        std::fs::create_dir(dir.path().join(".env")).unwrap();
        let e = detect_install_mode(dir.path()).unwrap();
        assert_eq!(e.mode, Mode::Upgrade);
        assert!(e.env.is_empty());
    }

    #[test]
    fn backup_restore_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(".env"), b"SECRET=1\n\x00bin").unwrap();
        let files = backup_files(dir.path()).unwrap();
        assert_eq!(files.len(), 1, "missing compose file is skipped");
        std::fs::write(dir.path().join(".env"), "changed").unwrap();
        restore_backups(&files).unwrap();
        assert_eq!(
            std::fs::read(dir.path().join(".env")).unwrap(),
            b"SECRET=1\n\x00bin"
        );
        assert!(dir.path().join(".env.backup").exists());
        backup_files(dir.path()).unwrap();
        let n = std::fs::read_dir(dir.path())
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .ends_with(".backup")
            })
            .count();
        assert_eq!(n, 1);
        cleanup_backups(&files);
        cleanup_backups(&files);
        assert!(!dir.path().join(".env.backup").exists());
        restore_backups(&[]).unwrap();
    }

    #[test]
    fn rollback_fail_wraps_and_restores() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(".env"), "OLD=1\n").unwrap();
        let files = backup_files(dir.path()).unwrap();
        std::fs::write(dir.path().join(".env"), "NEW=1\n").unwrap();
        let rb = Rollback::new(dir.path(), files);
        let err = rb.fail(&Error::new("boom"));
        assert!(
            err.message
                .starts_with("Upgrade failed (boom). Original files restored from backup"),
            "{}",
            err.message
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join(".env")).unwrap(),
            "OLD=1\n"
        );
        assert!(dir.path().join(".env.backup").exists());

        // Without backups the original error comes back unchanged.
        let rb = Rollback::new(dir.path(), Vec::new());
        assert_eq!(rb.fail(&Error::new("boom")).message, "boom");

        // A restore that fails says so.
        let gone = vec![dir.path().join("nothing-here")];
        let rb = Rollback::new(dir.path(), gone);
        let err = rb.fail(&Error::new("boom"));
        assert!(
            err.message.contains("Rollback also failed") && err.message.contains("manual recovery"),
            "{}",
            err.message
        );
    }

    #[test]
    fn rollback_on_drop_and_commit() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("docker-compose.yml");
        std::fs::write(&file, "x").unwrap();
        let mut rb = Rollback::new(dir.path(), Vec::new());
        rb.announce = false;
        rb.created_file(&file);
        drop(rb);
        assert!(!file.exists());
        std::fs::write(dir.path().join(".env"), "A=1").unwrap();
        let files = backup_files(dir.path()).unwrap();
        Rollback::new(dir.path(), files).commit();
        assert!(!dir.path().join(".env.backup").exists());
        assert!(dir.path().join(".env").exists());
    }
}
