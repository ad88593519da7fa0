//! Install directories. The compose project name hashes the directory
//! string, so the normalisation must match the original byte for byte
//! (Node's `path.resolve`: lexical, no symlink resolution).

use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// `~/appstrate`, the default install directory of every command.
pub fn default_install_dir(home: &Path) -> PathBuf {
    normalize(home, Path::new("appstrate"))
}

/// Makes `input` absolute against `cwd` and collapses `.`, `..`, duplicate
/// and trailing slashes without touching the file system. `~` is expanded
/// to `home` when it is the first component (the original does not; see
/// COMPATIBILITY.md), so a typed `~/x` means what the user meant.
pub fn resolve_dir(cwd: &Path, home: &Path, input: &str) -> Result<PathBuf> {
    if input.contains(['\r', '\n', '\0']) {
        return Err(Error::new(
            "Install directory must not contain newlines or NUL bytes.",
        ));
    }
    let expanded: PathBuf = if input == "~" {
        home.to_path_buf()
    } else if let Some(rest) = input.strip_prefix("~/") {
        home.join(rest)
    } else {
        PathBuf::from(input)
    };
    Ok(normalize(cwd, &expanded))
}

/// Lexical `path.resolve(cwd, p)`.
pub fn normalize(cwd: &Path, p: &Path) -> PathBuf {
    let joined = if p.is_absolute() {
        p.to_path_buf()
    } else {
        cwd.join(p)
    };
    let mut parts: Vec<&std::ffi::OsStr> = Vec::new();
    for component in joined.components() {
        use std::path::Component;
        match component {
            Component::RootDir | Component::Prefix(_) | Component::CurDir => {}
            Component::ParentDir => {
                parts.pop();
            }
            Component::Normal(name) => parts.push(name),
        }
    }
    let mut out = PathBuf::from("/");
    for part in parts {
        out.push(part);
    }
    out
}

/// ` --dir <dir>` for a command shown in a hint, empty when `dir` is the
/// default install directory.
pub fn dir_flag(dir: &Path, default_dir: &Path) -> String {
    if dir == default_dir {
        String::new()
    } else {
        format!(" --dir {}", dir.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_like_path_resolve() {
        let cwd = Path::new("/home/bob/work");
        let home = Path::new("/home/bob");
        let r = |s: &str| resolve_dir(cwd, home, s).unwrap();
        assert_eq!(r("x"), PathBuf::from("/home/bob/work/x"));
        assert_eq!(r("/a//b/./c/../d/"), PathBuf::from("/a/b/d"));
        assert_eq!(r("../../../../.."), PathBuf::from("/"));
        assert_eq!(r("~/demo"), PathBuf::from("/home/bob/demo"));
        assert_eq!(r("~"), PathBuf::from("/home/bob"));
        assert_eq!(r("a~/b"), PathBuf::from("/home/bob/work/a~/b"));
        assert!(resolve_dir(cwd, home, "a\nb").is_err());
        assert!(resolve_dir(cwd, home, "a\0b").is_err());
        assert!(resolve_dir(cwd, home, "a\rb").is_err());
        assert_eq!(
            default_install_dir(home),
            PathBuf::from("/home/bob/appstrate")
        );
    }
}
