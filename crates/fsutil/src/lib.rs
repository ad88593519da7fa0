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
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
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
