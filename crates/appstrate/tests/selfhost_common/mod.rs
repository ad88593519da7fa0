//! Shared set-up for the self-hosting tests: an isolated HOME, a PATH with
//! the fakes first, and helpers to read what the install wrote.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use appstrate_testkit::fake_docker::FakeDocker;

pub struct Sandbox {
    pub home: tempfile::TempDir,
    pub docker: FakeDocker,
    pub extra_env: Vec<(String, String)>,
    pub path: String,
}

pub const SYSTEM_PATH: &str = "/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin";

pub fn python_dir() -> String {
    // python3 may live outside the system dirs (pyenv); keep it reachable.
    let out = std::process::Command::new("sh")
        .args(["-c", "command -v python3"])
        .output()
        .unwrap();
    let p = String::from_utf8_lossy(&out.stdout).trim().to_string();
    Path::new(&p)
        .parent()
        .map(|d| d.display().to_string())
        .unwrap_or_default()
}

#[allow(clippy::new_without_default)]
impl Sandbox {
    pub fn new() -> Self {
        let docker = FakeDocker::new().unwrap();
        let path = docker.path_with(&format!("{}:{SYSTEM_PATH}", python_dir()));
        Sandbox {
            home: tempfile::tempdir().unwrap(),
            docker,
            extra_env: Vec::new(),
            path,
        }
    }

    pub fn home(&self) -> &Path {
        self.home.path()
    }

    pub fn dir(&self, name: &str) -> PathBuf {
        self.home.path().join(name)
    }

    pub fn cmd(&self) -> assert_cmd::Command {
        let mut cmd = assert_cmd::Command::cargo_bin("appstrate").unwrap();
        cmd.env_clear()
            .env("HOME", self.home())
            .env("XDG_CONFIG_HOME", self.home().join(".config"))
            .env("XDG_CACHE_HOME", self.home().join(".cache"))
            .env("PATH", &self.path)
            .env("NO_COLOR", "1")
            .env("APPSTRATE_CLI_NO_OPEN", "1")
            .env("APPSTRATE_NO_DUAL_INSTALL_CHECK", "1")
            .current_dir(self.home());
        for (k, v) in self.docker.env().into_iter().chain(self.extra_env.clone()) {
            cmd.env(k, v);
        }
        cmd
    }

    pub fn std_cmd(&self) -> std::process::Command {
        let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("appstrate"));
        cmd.env_clear()
            .env("HOME", self.home())
            .env("XDG_CONFIG_HOME", self.home().join(".config"))
            .env("PATH", &self.path)
            .env("NO_COLOR", "1")
            .env("APPSTRATE_CLI_NO_OPEN", "1")
            .env("APPSTRATE_NO_DUAL_INSTALL_CHECK", "1")
            .current_dir(self.home());
        for (k, v) in self.docker.env().into_iter().chain(self.extra_env.clone()) {
            cmd.env(k, v);
        }
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

pub fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}
