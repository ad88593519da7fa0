//! Running helper programs (`docker`, `git`, `bun`, `curl`, `tar`, the
//! `appstrate` binaries doctor probes): spawned directly, never through a
//! shell. Nothing here fails: a program that cannot start, or that is
//! stopped by a timeout, reports exit code -1.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;

/// Where a program run by [`run`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// The terminal's stdout/stderr (what the user watches).
    Inherit,
    /// Nowhere.
    Discard,
}

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

/// Runs `program args…` with its output on the terminal or discarded. Returns the exit code (-1 when it cannot start). The
/// child is killed if the caller is dropped (Ctrl-C).
pub async fn run(
    program: &str,
    args: &[&str],
    cwd: Option<&Path>,
    output: Output,
    env: &[(&str, &str)],
) -> i32 {
    let mut cmd = Command::new(program);
    cmd.args(args).kill_on_drop(true);
    if output == Output::Discard {
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
}
