//! Tier 0: the platform's source run by Bun with in-process PGlite, no
//! Docker (`docs/install.md`). Unlike the original, the dev server gets a pid
//! file and a log file under `<dir>/.appstrate/`, so the lifecycle verbs
//! work on Tier 0, and re-running install updates an existing checkout.

use std::ffi::OsString;
use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::process;
use crate::{Error, Result};

pub const PID_FILE: &str = ".appstrate/tier0.pid";
pub const LOG_FILE: &str = ".appstrate/tier0.log";

/// The first executable `name` on `path`.
pub fn find_on_path(name: &str, path: Option<&std::ffi::OsStr>) -> Option<PathBuf> {
    std::env::split_paths(path?)
        .filter(|d| !d.as_os_str().is_empty())
        .map(|d| d.join(name))
        .find(|p| is_executable_file(p))
}

pub fn is_executable_file(p: &Path) -> bool {
    let Ok(meta) = std::fs::metadata(p) else {
        return false;
    };
    if !meta.is_file() {
        return false;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        meta.permissions().mode() & 0o111 != 0
    }
    #[cfg(not(unix))]
    {
        true
    }
}

pub fn bun_bin_dir(home: &Path) -> PathBuf {
    home.join(".bun").join("bin")
}

/// Bun on PATH, else in `~/.bun/bin` (where its installer puts it).
pub fn find_bun(path: Option<&std::ffi::OsStr>, home: &Path) -> Option<PathBuf> {
    find_on_path("bun", path).or_else(|| {
        let local = bun_bin_dir(home).join("bun");
        is_executable_file(&local).then_some(local)
    })
}

/// `PATH` with `~/.bun/bin` first, for `bun` and the scripts it runs.
pub fn augmented_path(path: Option<&std::ffi::OsStr>, home: &Path) -> OsString {
    let mut dirs = vec![bun_bin_dir(home)];
    if let Some(path) = path {
        dirs.extend(std::env::split_paths(path));
    }
    std::env::join_paths(dirs).unwrap_or_else(|_| path.map(OsString::from).unwrap_or_default())
}

/// Runs the official Bun installer, then checks that it produced a binary.
pub async fn install_bun(home: &Path) -> Result<PathBuf> {
    run_checked(
        "bash",
        &["-c", "curl -fsSL https://bun.sh/install | bash"],
        |code| format!("Bun install failed with exit code {code}."),
    )
    .await?;
    let bin = bun_bin_dir(home).join("bun");
    if !is_executable_file(&bin) {
        return Err(Error::new(format!(
            "Bun installer reported success but {}/bun is missing. Re-run or install manually from https://bun.sh",
            bun_bin_dir(home).display()
        )));
    }
    Ok(bin)
}

/// Where the platform source comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A git URL (the public repository or a mirror), checked out at the tag.
    Remote(String),
    /// A local checkout, cloned at its current HEAD (air-gapped machines).
    Local(PathBuf),
}

impl Source {
    pub fn resolve(raw: Option<&str>, cwd: &Path) -> Source {
        match raw.map(str::trim).filter(|s| !s.is_empty()) {
            None => Source::Remote(crate::DEFAULT_SOURCE.to_string()),
            Some(s) if s.contains("://") || s.starts_with("git@") => Source::Remote(s.to_string()),
            Some(s) => Source::Local(crate::paths::normalize(cwd, Path::new(s))),
        }
    }

    fn location(&self) -> String {
        match self {
            Source::Remote(url) => url.clone(),
            Source::Local(path) => path.display().to_string(),
        }
    }
}

/// The git tag of the platform release this CLI installs.
pub fn release_ref() -> String {
    format!("v{}", crate::PLATFORM_VERSION)
}

fn dir_is_empty(dir: &Path) -> bool {
    std::fs::read_dir(dir)
        .map(|mut d| d.next().is_none())
        .unwrap_or(true)
}

/// Whether `dir` already holds a checkout (re-run: update instead of clone).
pub fn is_checkout(dir: &Path) -> bool {
    dir.join(".git").exists()
}

/// Clones the source into `dir`, or updates an existing checkout in place.
pub async fn fetch_source(dir: &Path, source: &Source, git_ref: &str, git: &str) -> Result<()> {
    if let Source::Local(path) = source
        && !path.is_dir()
    {
        return Err(Error::new(format!(
            "Source {} is not a directory. Pass --source <git URL or path to a local checkout>.",
            path.display()
        )));
    }
    if is_checkout(dir) {
        let what: &str = match source {
            Source::Remote(_) => git_ref,
            Source::Local(_) => "HEAD",
        };
        let dir_s = dir.to_string_lossy();
        let loc = source.location();
        run_checked(
            git,
            &["-C", &dir_s, "fetch", "--depth=1", &loc, what],
            |code| format!("git fetch failed: exit {code}"),
        )
        .await
        .map_err(|e| source_hint(e, source))?;
        let checkout = [
            "-C",
            &dir_s,
            "checkout",
            "--quiet",
            "--detach",
            "FETCH_HEAD",
        ];
        return run_checked(git, &checkout, |code| {
            format!(
                "git checkout failed: exit {code} — commit or discard your changes in {dir_s} and re-run."
            )
        })
        .await;
    }
    if !dir_is_empty(dir) {
        return Err(Error::new(format!(
            "{} is not empty and holds no Appstrate checkout. Pick an empty or new directory with --dir.",
            dir.display()
        )));
    }
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::new(format!("Cannot create {}: {e}", dir.display())))?;
    let dir_s = dir.to_string_lossy();
    let loc = source.location();
    let branch = format!("--branch={git_ref}");
    let args: Vec<&str> = match source {
        Source::Remote(_) => vec!["clone", "--depth=1", &branch, &loc, &dir_s],
        Source::Local(_) => vec!["clone", "--quiet", &loc, &dir_s],
    };
    run_checked(git, &args, |code| format!("git clone failed: exit {code}"))
        .await
        .map_err(|e| source_hint(e, source))
}

/// A failed clone or fetch: where else the source can come from.
fn source_hint(err: Error, source: &Source) -> Error {
    let hint = match source {
        Source::Remote(url) => format!(
            "Check the network and that {url} is reachable, or install from a mirror or a local checkout: --source <git URL|path> (or APPSTRATE_SOURCE)"
        ),
        Source::Local(path) => format!(
            "Check that {} is a git checkout, or pass another one with --source <git URL|path> (or APPSTRATE_SOURCE)",
            path.display()
        ),
    };
    err.with_hint(hint)
}

/// Runs `program args…` with its output captured (a spinner runs
/// meanwhile); a non-zero exit code (or -1: it could not start) becomes
/// the error `failure` words, with the program's last line.
async fn run_checked(
    program: &str,
    args: &[&str],
    failure: impl FnOnce(i32) -> String,
) -> Result<()> {
    match process::run_quiet(program, args, None, &[]).await {
        (0, _) => Ok(()),
        (code, last) => Err(Error::new(process::with_last_line(
            failure(code),
            last.as_deref(),
        ))),
    }
}

pub fn pid_file(dir: &Path) -> PathBuf {
    dir.join(PID_FILE)
}

pub fn log_file(dir: &Path) -> PathBuf {
    dir.join(LOG_FILE)
}

/// Starts `bun run dev` in `dir`, in its own process group so a Ctrl-C in
/// the terminal does not reach it, with output appended to the log file and
/// its pid recorded.
pub fn spawn_dev_server(dir: &Path, bun: &Path, path_env: &OsString) -> Result<u32> {
    let meta_dir = dir.join(".appstrate");
    appstrate_fsutil::ensure_private_dir(&meta_dir)
        .map_err(|e| Error::new(format!("Cannot create {}: {e}", meta_dir.display())))?;
    let log_path = log_file(dir);
    let mut options = OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let log = options
        .open(&log_path)
        .map_err(|e| Error::new(format!("Cannot open {}: {e}", log_path.display())))?;
    let log_err = log
        .try_clone()
        .map_err(|e| Error::new(format!("Cannot open {}: {e}", log_path.display())))?;
    let mut cmd = Command::new(bun);
    cmd.args(["run", "dev"])
        .current_dir(dir)
        .env("PATH", path_env)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err);
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
    }
    let child = cmd.spawn().map_err(|e| {
        Error::new(format!(
            "Cannot start `bun run dev` in {}: {e}",
            dir.display()
        ))
    })?;
    let pid = child.id();
    // Not waited for: it outlives this process (reparented on exit).
    drop(child);
    appstrate_fsutil::write_atomic(&pid_file(dir), format!("{pid}\n").as_bytes(), 0o600)
        .map_err(|e| Error::new(format!("Cannot write {}: {e}", pid_file(dir).display())))?;
    Ok(pid)
}

/// The recorded pid when its process group is still alive.
pub fn running_pid(dir: &Path) -> Option<u32> {
    let text = std::fs::read_to_string(pid_file(dir)).ok()?;
    let pid: u32 = text.trim().parse().ok()?;
    group_alive(pid).then_some(pid)
}

#[cfg(unix)]
#[allow(unsafe_code)]
fn signal_group(pgid: u32, signal: i32) -> bool {
    let Ok(pgid) = i32::try_from(pgid) else {
        return false;
    };
    if pgid <= 1 {
        return false;
    }
    // SAFETY: kill(2) has no memory-safety preconditions; a negative pid
    // addresses the process group we created for the dev server.
    unsafe { libc::kill(-pgid, signal) == 0 }
}

#[cfg(unix)]
fn group_alive(pgid: u32) -> bool {
    signal_group(pgid, 0)
}

#[cfg(not(unix))]
fn group_alive(_pgid: u32) -> bool {
    false
}

/// Stops the dev server: SIGTERM to its group, SIGKILL after `grace`.
/// Returns the pid that was stopped, if one was running.
pub async fn stop_dev_server(dir: &Path, grace: Duration) -> Option<u32> {
    let pid = running_pid(dir);
    if let Some(pid) = pid {
        #[cfg(unix)]
        {
            signal_group(pid, libc::SIGTERM);
            let deadline = Instant::now() + grace;
            while group_alive(pid) && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            if group_alive(pid) {
                signal_group(pid, libc::SIGKILL);
            }
        }
    }
    let _ = std::fs::remove_file(pid_file(dir));
    pid
}

/// Kills a dev server that never became healthy.
pub fn kill_group(pid: u32) {
    #[cfg(unix)]
    signal_group(pid, libc::SIGTERM);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_bun_in_home_when_not_on_path() {
        let home = tempfile::tempdir().unwrap();
        assert!(find_bun(Some(std::ffi::OsStr::new("/nonexistent")), home.path()).is_none());
        let bin = bun_bin_dir(home.path());
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::write(bin.join("bun"), "#!/bin/sh\n").unwrap();
        appstrate_fsutil::set_mode(&bin.join("bun"), 0o755).unwrap();
        assert_eq!(
            find_bun(Some(std::ffi::OsStr::new("/nonexistent")), home.path()),
            Some(bin.join("bun"))
        );
        let path = augmented_path(Some(std::ffi::OsStr::new("/usr/bin")), home.path());
        assert_eq!(path, OsString::from(format!("{}:/usr/bin", bin.display())));
    }

    #[test]
    fn sources() {
        let cwd = Path::new("/w");
        assert_eq!(
            Source::resolve(None, cwd),
            Source::Remote(crate::DEFAULT_SOURCE.into())
        );
        assert_eq!(
            Source::resolve(Some("https://m/x.git"), cwd),
            Source::Remote("https://m/x.git".into())
        );
        assert_eq!(
            Source::resolve(Some("git@h:x.git"), cwd),
            Source::Remote("git@h:x.git".into())
        );
        assert_eq!(
            Source::resolve(Some("co"), cwd),
            Source::Local(PathBuf::from("/w/co"))
        );
        assert_eq!(release_ref(), format!("v{}", crate::PLATFORM_VERSION));
    }

    #[tokio::test]
    async fn refuses_non_empty_non_checkout() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("keep.txt"), "mine").unwrap();
        let err = fetch_source(
            dir.path(),
            &Source::Remote("file:///nonexistent".into()),
            "v1",
            "git",
        )
        .await
        .unwrap_err();
        assert!(err.message.contains("is not empty"), "{}", err.message);
        assert_eq!(
            std::fs::read_to_string(dir.path().join("keep.txt")).unwrap(),
            "mine"
        );
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
