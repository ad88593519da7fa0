//! Files that must never be half-written or readable by others: private
//! directories (0700) and atomic writes (temp file in the same directory,
//! fsync, rename) of 0600 files.

// Keep the shape: short functions, no flag soup in signatures.
#![warn(clippy::too_many_lines, clippy::fn_params_excessive_bools)]

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

/// Creates `dir` (and parents) with mode 0700 when it does not exist.
/// An existing directory keeps its mode: callers that need 0700 check it.
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
    }
    #[cfg(not(unix))]
    {
        fs::create_dir_all(dir)
    }
}

/// Creates `dir` (and parents) with mode 0700 and tightens an existing one
/// to 0700: for directories that hold secrets next to files other code
/// writes (the keyring fallback refuses a group- or world-readable one).
pub fn ensure_private_dir(dir: &Path) -> io::Result<()> {
    create_private_dir(dir)?;
    set_mode(dir, 0o700)
}

/// Sets the permission bits of `path` (no-op off Unix).
pub fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(path, fs::Permissions::from_mode(mode))
    }
    #[cfg(not(unix))]
    {
        let _ = (path, mode);
        Ok(())
    }
}

/// The permission bits of the file at `path`, `None` when it cannot be read
/// (or off Unix).
pub fn mode_of_path(path: &Path) -> Option<u32> {
    #[cfg(unix)]
    {
        Some(mode_of(&fs::metadata(path).ok()?))
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

/// Writes `bytes` to `path` atomically with mode 0600: a reader sees the old
/// file or the new one, never a mix, and a crash leaves no partial file.
pub fn write_private_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_atomic(path, bytes, 0o600)
}

/// Atomic write with an explicit mode (applied before any byte is written).
/// The temp file is named `<name>.<pid>.<millis>.<random>.tmp`, so a writer
/// killed before its rename leaves a file the next write to the same
/// directory recognises and removes ([`sweep_stale_temps`]).
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    sweep_stale_temps(dir);
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into());
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    let nonce: u32 = rand::random();
    let tmp = dir.join(format!(
        "{file_name}.{}.{millis}.{nonce:08x}.tmp",
        std::process::id()
    ));
    let result = (|| {
        let mut file = open_new_with_mode(&tmp, mode)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// No write takes this long: a temp file older than this is abandoned even
/// if its writer's pid now belongs to another process.
const ABANDONED_AFTER: std::time::Duration = std::time::Duration::from_secs(3600);

/// Removes the temp files of [`write_atomic`] in `dir` whose writer is gone
/// (its pid no longer exists, or the file was abandoned an hour ago). A
/// live writer's temp, and any of this process, is left alone. Best effort:
/// failures are ignored (the next write tries again).
pub fn sweep_stale_temps(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let me = std::process::id();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(temp_writer_pid) else {
            continue;
        };
        if pid == me {
            continue;
        }
        let abandoned = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > ABANDONED_AFTER);
        if abandoned || !process_exists(pid) {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// The writer pid in a temp name `<name>.<pid>.<millis>.<8 hex>.tmp`.
fn temp_writer_pid(name: &str) -> Option<u32> {
    let stem = name.strip_suffix(".tmp")?;
    let mut parts = stem.rsplitn(4, '.');
    let nonce = parts.next()?;
    let millis = parts.next()?;
    let pid = parts.next()?;
    let base = parts.next()?;
    let well_formed = !base.is_empty()
        && nonce.len() == 8
        && nonce.bytes().all(|b| b.is_ascii_hexdigit())
        && !millis.is_empty()
        && millis.bytes().all(|b| b.is_ascii_digit());
    well_formed.then(|| pid.parse().ok()).flatten()
}

/// Whether a process with this pid exists (Unix: `kill(pid, 0)`; a pid we
/// may not signal still exists). Elsewhere, assume it does.
#[allow(unsafe_code)]
fn process_exists(pid: u32) -> bool {
    #[cfg(unix)]
    {
        let Ok(pid) = libc::pid_t::try_from(pid) else {
            return false;
        };
        if pid <= 0 {
            return false;
        }
        // SAFETY: signal 0 only checks that the process exists.
        let rc = unsafe { libc::kill(pid, 0) };
        rc == 0 || io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
    }
    #[cfg(not(unix))]
    {
        let _ = pid;
        true
    }
}

fn open_new_with_mode(path: &Path, mode: u32) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        options.mode(mode);
        let file = options.open(path)?;
        // The umask may have removed bits we want; never adds any we don't.
        file.set_permissions(fs::Permissions::from_mode(mode))?;
        Ok(file)
    }
    #[cfg(not(unix))]
    {
        let _ = mode;
        options.open(path)
    }
}

/// The permission bits of `path` (Unix), for the 0600/0700 checks.
#[cfg(unix)]
pub fn mode_of(meta: &fs::Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o777
}

/// The current user's uid.
#[cfg(unix)]
#[allow(unsafe_code)]
pub fn current_uid() -> u32 {
    // SAFETY: getuid has no preconditions and cannot fail.
    unsafe { libc::getuid() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_creates_0600_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.txt");
        write_private_atomic(&path, b"one").unwrap();
        write_private_atomic(&path, b"two").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        #[cfg(unix)]
        assert_eq!(mode_of(&fs::metadata(&path).unwrap()), 0o600);
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }

    #[cfg(unix)]
    #[test]
    fn stale_temps_of_dead_writers_are_swept_live_ones_kept() {
        let dir = tempfile::tempdir().unwrap();
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        let stale = dir
            .path()
            .join(format!("credentials.json.{dead}.1.0badc0de.tmp"));
        let mine = dir
            .path()
            .join(format!("config.toml.{}.1.00000001.tmp", std::process::id()));
        let live = dir.path().join("config.toml.1.1.00000001.tmp"); // init
        let unrelated = dir.path().join("notes.tmp");
        for p in [&stale, &mine, &live, &unrelated] {
            fs::write(p, b"x").unwrap();
        }
        write_private_atomic(&dir.path().join("config.toml"), b"new").unwrap();
        assert!(!stale.exists());
        assert!(mine.exists() && live.exists() && unrelated.exists());
    }

    #[test]
    fn temp_names_parse() {
        assert_eq!(temp_writer_pid("a.json.42.17.0badc0de.tmp"), Some(42));
        assert_eq!(temp_writer_pid("a.json.42.17.0badc0.tmp"), None);
        assert_eq!(temp_writer_pid("42.17.0badc0de.tmp"), None);
        assert_eq!(temp_writer_pid("a.json.x.17.0badc0de.tmp"), None);
        assert_eq!(temp_writer_pid("a.json"), None);
    }

    #[cfg(unix)]
    #[test]
    fn private_dir_is_0700() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("a/b");
        create_private_dir(&sub).unwrap();
        assert_eq!(mode_of(&fs::metadata(&sub).unwrap()), 0o700);
    }

    #[cfg(unix)]
    #[test]
    fn ensure_private_dir_tightens_an_existing_dir() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("cfg");
        fs::create_dir(&sub).unwrap();
        set_mode(&sub, 0o755).unwrap();
        ensure_private_dir(&sub).unwrap();
        assert_eq!(mode_of_path(&sub), Some(0o700));
    }
}
