//! Shared set-up for the self-hosting tests: an isolated HOME, a PATH with
//! the fakes first, and helpers to read what the install wrote.

use std::path::{Path, PathBuf};

pub use crate::support::{stderr, stdout};
use appstrate_testkit::fake_docker::FakeDocker;
use appstrate_testkit::test_env;

pub struct Sandbox {
    pub home: tempfile::TempDir,
    pub docker: FakeDocker,
    pub extra_env: Vec<(String, String)>,
    pub path: String,
    /// The port the installer defaults to (`APPSTRATE_PORT`), free when the
    /// sandbox was made: the machine's own port 3000 never matters.
    pub default_port: u16,
    system: SystemTools,
}

/// Real programs the stand-ins themselves run: a shell, python3 (their HTTP
/// servers) and a few coreutils. Nothing else of the machine is reachable.
const SYSTEM_TOOLS: [&str; 12] = [
    "sh", "python3", "sed", "mkdir", "date", "sleep", "cat", "rm", "env", "kill", "ls", "printf",
];

/// A directory of links to [`SYSTEM_TOOLS`], standing in for the system
/// directories on a sandbox's PATH, so the machine's own `docker`, `bun`,
/// `git`, `curl` or `appstrate` never leak into a test.
pub struct SystemTools {
    dir: tempfile::TempDir,
}

impl SystemTools {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        for name in SYSTEM_TOOLS {
            if let Some(real) = real_program(name) {
                std::os::unix::fs::symlink(real, dir.path().join(name)).unwrap();
            }
        }
        SystemTools { dir }
    }

    pub fn path(&self) -> String {
        self.dir.path().display().to_string()
    }
}

/// The executable `name` resolves to on the test's own PATH; for python3
/// the interpreter itself, not a version manager's shim script.
fn real_program(name: &str) -> Option<PathBuf> {
    if name == "python3" {
        let out = std::process::Command::new("python3")
            .args(["-c", "import sys; print(sys.executable)"])
            .output()
            .ok()?;
        let exe = String::from_utf8_lossy(&out.stdout).trim().to_string();
        return (!exe.is_empty()).then(|| PathBuf::from(exe));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

#[allow(clippy::new_without_default)]
impl Sandbox {
    pub fn new() -> Self {
        let docker = FakeDocker::new().unwrap();
        let system = SystemTools::new();
        let path = docker.path_with(&system.path());
        Sandbox {
            home: tempfile::tempdir().unwrap(),
            docker,
            extra_env: Vec::new(),
            path,
            default_port: free_port(),
            system,
        }
    }

    /// A PATH with only the basic system tools: no docker, bun, git, curl.
    pub fn system_path(&self) -> String {
        self.system.path()
    }

    pub fn home(&self) -> &Path {
        self.home.path()
    }

    pub fn dir(&self, name: &str) -> PathBuf {
        self.home.path().join(name)
    }

    pub fn cmd(&self) -> assert_cmd::Command {
        assert_cmd::Command::from_std(self.std_cmd())
    }

    pub fn std_cmd(&self) -> std::process::Command {
        let mut cmd = test_env::isolated_command(
            assert_cmd::cargo::cargo_bin("appstrate"),
            self.home(),
            self.path.as_ref(),
        );
        cmd.env("APPSTRATE_PORT", self.default_port.to_string());
        cmd.envs(self.docker.env().into_iter().chain(self.extra_env.clone()));
        cmd
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("0.0.0.0:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

pub fn env_map(path: &Path) -> std::collections::BTreeMap<String, String> {
    appstrate_selfhost::envfile::parse_env_file(&std::fs::read_to_string(path).unwrap())
}
