//! A fake `docker` executable (no engine needed): a shell script written
//! into a temp dir that a test puts first on `PATH`. It appends every
//! invocation (cwd, then argv) to a log and answers the sub-commands the
//! installer and lifecycle verbs use, driven by environment variables
//! (see `docs/install.md`):
//!
//! | variable | effect |
//! | --- | --- |
//! | `FAKE_DOCKER_INFO_EXIT` | exit code of `docker info` (default 0) |
//! | `FAKE_DOCKER_NETWORKS` | lines printed by `docker network ls` |
//! | `FAKE_DOCKER_COMPOSE_LS` / `_EXIT` | output / exit of `docker compose ls` |
//! | `FAKE_DOCKER_UP_EXIT` | exit code of `compose … up -d` (default 0) |
//! | `FAKE_DOCKER_UP_SLEEP` | seconds `up` sleeps before answering |
//! | `FAKE_DOCKER_SERVE_PORT` | `up` starts an HTTP server answering 200 there |
//! | `FAKE_DOCKER_PS` | output of `compose … ps` (e.g. `--format json` lines) |
//! | `FAKE_DOCKER_EXIT` | exit code of every other compose verb (default 0) |

use std::path::{Path, PathBuf};

const SCRIPT: &str = r#"#!/bin/sh
log="${FAKE_DOCKER_LOG:?}"
printf '%s\t%s\n' "$PWD" "$*" >> "$log"
case "$1" in
  info)
    exit "${FAKE_DOCKER_INFO_EXIT:-0}" ;;
  network)
    [ -n "$FAKE_DOCKER_NETWORKS" ] && printf '%s\n' "$FAKE_DOCKER_NETWORKS"
    exit 0 ;;
  compose)
    shift
    if [ "$1" = "ls" ]; then
      printf '%s' "${FAKE_DOCKER_COMPOSE_LS:-[]}"
      exit "${FAKE_DOCKER_COMPOSE_LS_EXIT:-0}"
    fi
    if [ "$1" = "--project-name" ]; then shift 2; fi
    if [ "$1" = "ps" ] && [ -n "$FAKE_DOCKER_PS" ]; then
      printf '%s\n' "$FAKE_DOCKER_PS"
      exit "${FAKE_DOCKER_EXIT:-0}"
    fi
    if [ "$1" = "up" ]; then
      code="${FAKE_DOCKER_UP_EXIT:-0}"
      if [ "$code" = 0 ] && [ -n "$FAKE_DOCKER_SERVE_PORT" ]; then
        # Like a real `up -d`, answer once the "container" listens.
        mkdir -p "$FAKE_DOCKER_STATE/www"
        ready="$FAKE_DOCKER_STATE/ready.$$"
        (cd "$FAKE_DOCKER_STATE/www" && exec python3 -c 'import http.server, sys
s = http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), http.server.SimpleHTTPRequestHandler)
open(sys.argv[2], "w").close()
s.serve_forever()' "$FAKE_DOCKER_SERVE_PORT" "$ready" >/dev/null 2>&1) &
        echo $! >> "$FAKE_DOCKER_STATE/pids"
        i=0
        while [ ! -f "$ready" ] && [ $i -lt 250 ]; do sleep 0.02; i=$((i+1)); done
      fi
      if [ -n "$FAKE_DOCKER_UP_SLEEP" ]; then exec sleep "$FAKE_DOCKER_UP_SLEEP"; fi
      exit "$code"
    fi
    exit "${FAKE_DOCKER_EXIT:-0}" ;;
  *)
    exit "${FAKE_DOCKER_EXIT:-0}" ;;
esac
"#;

/// One fake `docker` in its own temp dir; servers it started are killed on
/// drop.
pub struct FakeDocker {
    dir: tempfile::TempDir,
}

/// One recorded invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub cwd: String,
    pub argv: String,
}

impl FakeDocker {
    pub fn new() -> std::io::Result<Self> {
        Self::in_dir(tempfile::tempdir()?)
    }

    /// A fake that lives in `dir` (kept by the caller, e.g. a benchmark).
    pub fn in_dir(dir: tempfile::TempDir) -> std::io::Result<Self> {
        write_docker_script(&dir.path().join("bin"))?;
        std::fs::write(dir.path().join("calls.log"), "")?;
        Ok(FakeDocker { dir })
    }

    /// The directory to put first on `PATH`.
    pub fn bin_dir(&self) -> PathBuf {
        self.dir.path().join("bin")
    }

    /// `PATH` with the fake first, then `rest`.
    pub fn path_with(&self, rest: &str) -> String {
        format!("{}:{rest}", self.bin_dir().display())
    }

    /// The variables the script needs (log and state locations).
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            (
                "FAKE_DOCKER_LOG".into(),
                self.dir.path().join("calls.log").display().to_string(),
            ),
            (
                "FAKE_DOCKER_STATE".into(),
                self.dir.path().display().to_string(),
            ),
        ]
    }

    pub fn calls(&self) -> Vec<Call> {
        std::fs::read_to_string(self.dir.path().join("calls.log"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split_once('\t'))
            .map(|(cwd, argv)| Call {
                cwd: cwd.into(),
                argv: argv.into(),
            })
            .collect()
    }

    /// Just the argv of every call, in order.
    pub fn argvs(&self) -> Vec<String> {
        self.calls().into_iter().map(|c| c.argv).collect()
    }
}

impl Drop for FakeDocker {
    fn drop(&mut self) {
        kill_recorded(&self.dir.path().join("pids"));
    }
}

/// Writes the fake as `<bin_dir>/docker` (for benchmarks that keep it).
pub fn write_docker_script(bin_dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(bin_dir)?;
    write_executable(&bin_dir.join("docker"), SCRIPT)
}

/// Kills every pid listed in `file` (servers started by fakes).
pub fn kill_recorded(file: &Path) {
    if let Ok(text) = std::fs::read_to_string(file) {
        for pid in text.split_whitespace() {
            let _ = std::process::Command::new("kill").arg(pid).status();
        }
    }
}

pub fn write_executable(path: &Path, body: &str) -> std::io::Result<()> {
    std::fs::write(path, body)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))?;
    }
    Ok(())
}
