//! Stand-ins for `git` and `bun` so Tier 0 runs end to end without the
//! network: `git clone` makes a tiny "checkout", `git fetch`/`checkout`
//! record an update, `bun install` makes `node_modules`, and `bun run dev`
//! serves HTTP on the `.env` port (python3's http.server) until killed.

use std::path::PathBuf;

use crate::fake_docker::write_executable;

const GIT: &str = r#"#!/bin/sh
printf '%s\n' "$*" >> "${FAKE_TOOLS_LOG:?}"
if [ "$1" = "clone" ]; then
  for last in "$@"; do :; done
  # What the real git writes, so a test sees whether it reaches the terminal.
  printf "Cloning into '%s'...\n" "$last" >&2
  if [ -n "$FAKE_GIT_FAIL" ]; then
    printf "fatal: unable to access 'https://github.com/appstrate/appstrate.git/': Could not resolve host: github.com\n" >&2
    exit 128
  fi
  mkdir -p "$last/.git" && printf '{"name":"appstrate"}\n' > "$last/package.json"
  exit 0
fi
if [ "$1" = "-C" ]; then
  dir="$2"; shift 2
  [ "$1" = "checkout" ] && date > "$dir/UPDATED"
  exit 0
fi
exit 0
"#;

const BUN: &str = r#"#!/bin/sh
printf 'bun %s\n' "$*" >> "${FAKE_TOOLS_LOG:?}"
if [ "$1" = "install" ]; then mkdir -p node_modules; exit 0; fi
if [ "$1" = "run" ] && [ "$2" = "dev" ]; then
  port=$(sed -n 's/^PORT=//p' .env)
  [ -z "$port" ] && port=3000
  echo "dev server listening on $port"
  mkdir -p .www
  exec python3 -u -m http.server "$port" --bind 127.0.0.1 --directory .www
fi
exit 0
"#;

pub struct FakeTools {
    dir: tempfile::TempDir,
}

impl FakeTools {
    pub fn new() -> std::io::Result<Self> {
        let dir = tempfile::tempdir()?;
        std::fs::create_dir_all(dir.path().join("bin"))?;
        write_executable(&dir.path().join("bin/git"), GIT)?;
        write_executable(&dir.path().join("bin/bun"), BUN)?;
        std::fs::write(dir.path().join("tools.log"), "")?;
        Ok(FakeTools { dir })
    }

    pub fn bin_dir(&self) -> PathBuf {
        self.dir.path().join("bin")
    }

    pub fn env(&self) -> Vec<(String, String)> {
        vec![(
            "FAKE_TOOLS_LOG".into(),
            self.dir.path().join("tools.log").display().to_string(),
        )]
    }

    pub fn log(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.path().join("tools.log"))
            .unwrap_or_default()
            .lines()
            .map(String::from)
            .collect()
    }
}
