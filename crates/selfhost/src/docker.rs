//! Running `docker` (and other helper programs): spawned directly, no
//! shell; never throws, a spawn failure is exit code -1 (install.md §1.13.1).

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;

#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub ok: bool,
    /// The exit code; -1 when the program could not start or timed out.
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

fn exit_code(status: std::process::ExitStatus) -> i32 {
    if let Some(code) = status.code() {
        return code;
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(sig) = status.signal() {
            return 128 + sig;
        }
    }
    -1
}

/// Runs `program args…` capturing its output, killed after `timeout`.
pub async fn capture(
    program: &str,
    args: &[&str],
    cwd: Option<&Path>,
    timeout: Option<Duration>,
) -> Outcome {
    let mut cmd = Command::new(program);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if let Some(cwd) = cwd {
        cmd.current_dir(cwd);
    }
    let Ok(child) = cmd.spawn() else {
        return Outcome {
            code: -1,
            ..Default::default()
        };
    };
    let wait = child.wait_with_output();
    let output = match timeout {
        Some(limit) => match tokio::time::timeout(limit, wait).await {
            Ok(out) => out,
            // Dropping the future kills the child (kill_on_drop).
            Err(_) => {
                return Outcome {
                    code: -1,
                    stderr: "timeout".into(),
                    ..Default::default()
                };
            }
        },
        None => wait.await,
    };
    match output {
        Ok(out) => {
            let code = exit_code(out.status);
            Outcome {
                ok: code == 0,
                code,
                stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            }
        }
        Err(_) => Outcome {
            code: -1,
            ..Default::default()
        },
    }
}

/// Runs `program args…` with the terminal's stdio, optionally with its
/// output discarded. Returns the exit code (-1 when it cannot start). The
/// child is killed if the caller is dropped (Ctrl-C).
pub async fn run(
    program: &str,
    args: &[&str],
    cwd: Option<&Path>,
    quiet: bool,
    env: &[(&str, &str)],
) -> i32 {
    let mut cmd = Command::new(program);
    cmd.args(args).kill_on_drop(true);
    if quiet {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
    } else {
        cmd.stdin(Stdio::null());
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    if let Some(cwd) = cwd {
        cmd.current_dir(cwd);
    }
    match cmd.status().await {
        Ok(status) => exit_code(status),
        Err(_) => -1,
    }
}

/// `docker info` succeeds (quietly), within `timeout` if given.
pub async fn docker_available(timeout: Option<Duration>) -> bool {
    capture("docker", &["info"], None, timeout).await.ok
}

/// `docker compose --project-name <name> <args…>` in `dir`, output inherited.
pub async fn compose(dir: &Path, project: &str, args: &[&str]) -> i32 {
    let mut full = vec!["compose", "--project-name", project];
    full.extend_from_slice(args);
    run("docker", &full, Some(dir), false, &[]).await
}

/// Custom networks counted against Docker's address pool (≈31 by default).
pub async fn custom_network_count() -> Option<usize> {
    let out = capture(
        "docker",
        &["network", "ls", "--format", "{{.Name}}"],
        None,
        Some(Duration::from_secs(3)),
    )
    .await;
    if !out.ok {
        return None;
    }
    Some(count_custom_networks(&out.stdout))
}

pub fn count_custom_networks(stdout: &str) -> usize {
    stdout
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !matches!(*l, "bridge" | "host" | "none"))
        .count()
}

pub const NETWORK_THRESHOLD: usize = 25;

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn capture_semantics() {
        let ok = capture("sh", &["-c", "echo hi"], None, None).await;
        assert!(ok.ok && ok.code == 0 && ok.stdout == "hi\n");
        let fail = capture("sh", &["-c", "exit 3"], None, None).await;
        assert!(!fail.ok && fail.code == 3);
        let missing = capture("definitely-not-a-program-xyz", &[], None, None).await;
        assert_eq!(missing.code, -1);
        let start = std::time::Instant::now();
        let slow = capture("sleep", &["10"], None, Some(Duration::from_millis(200))).await;
        assert_eq!((slow.code, slow.stderr.as_str()), (-1, "timeout"));
        assert!(start.elapsed() < Duration::from_secs(3));
    }

    #[test]
    fn network_budget() {
        assert_eq!(count_custom_networks("bridge\nhost\nnone\n\na\nb\n"), 2);
        let many: String = (0..30).map(|i| format!("n{i}\n")).collect();
        assert_eq!(count_custom_networks(&format!("bridge\n{many}")), 30);
    }
}
