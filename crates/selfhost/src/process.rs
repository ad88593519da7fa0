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

/// `program args…` with no stdin, in `cwd`, with `env` added, killed when
/// the future that waits for it is dropped (a timeout, Ctrl-C).
fn command(program: &str, args: &[&str], cwd: Option<&Path>, env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(program);
    cmd.args(args).stdin(Stdio::null()).kill_on_drop(true);
    for (k, v) in env {
        cmd.env(k, v);
    }
    if let Some(cwd) = cwd {
        cmd.current_dir(cwd);
    }
    cmd
}

/// Runs `program args…` capturing its output, killed after `timeout`.
pub async fn capture(
    program: &str,
    args: &[&str],
    cwd: Option<&Path>,
    timeout: Option<Duration>,
) -> Outcome {
    let mut cmd = command(program, args, cwd, &[]);
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
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

/// How much of each output stream [`run_quiet`] keeps: the end, where a
/// failing program says why.
const TAIL_BYTES: usize = 16 * 1024;

/// Runs `program args…` with its output captured instead of shown, so a
/// spinner can run meanwhile (a child writing to the terminal would run
/// into the spinner's line). Returns the exit code (-1 when it cannot
/// start) and the last line the program wrote (stderr first), to name
/// in an error. Only the last 16 KiB of each stream are kept. The child
/// is killed if the caller is dropped (Ctrl-C).
pub async fn run_quiet(
    program: &str,
    args: &[&str],
    cwd: Option<&Path>,
    env: &[(&str, &str)],
) -> (i32, Option<String>) {
    let mut cmd = command(program, args, cwd, env);
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let Ok(mut child) = cmd.spawn() else {
        return (-1, None);
    };
    let (stdout, stderr) = (child.stdout.take(), child.stderr.take());
    let (status, out, err) = tokio::join!(child.wait(), read_tail(stdout), read_tail(stderr));
    let code = match status {
        Ok(status) => exit_code(status),
        Err(_) => -1,
    };
    (code, last_line(&err).or_else(|| last_line(&out)))
}

/// `failure`, with the program's own last words when it left some:
/// `git clone failed: exit 128 (fatal: unable to access …)`.
pub fn with_last_line(failure: String, last: Option<&str>) -> String {
    match last {
        Some(line) => format!("{failure} ({line})"),
        None => failure,
    }
}

/// Everything `reader` yields, keeping only the last [`TAIL_BYTES`].
async fn read_tail(reader: Option<impl tokio::io::AsyncRead + Unpin>) -> Vec<u8> {
    use tokio::io::AsyncReadExt;
    let Some(mut reader) = reader else {
        return Vec::new();
    };
    let mut kept = Vec::new();
    let mut chunk = [0u8; 8192];
    while let Ok(n) = reader.read(&mut chunk).await {
        if n == 0 {
            break;
        }
        kept.extend_from_slice(&chunk[..n]);
        if kept.len() > TAIL_BYTES {
            kept.drain(..kept.len() - TAIL_BYTES);
        }
    }
    kept
}

/// The last non-blank line (progress lines end in `\r`: the last frame).
fn last_line(bytes: &[u8]) -> Option<String> {
    String::from_utf8_lossy(bytes)
        .split(['\n', '\r'])
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .map(str::to_string)
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
    let mut cmd = command(program, args, cwd, env);
    if output == Output::Discard {
        cmd.stdout(Stdio::null()).stderr(Stdio::null());
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

    #[tokio::test]
    async fn run_quiet_keeps_the_last_line_stderr_first() {
        let script = "echo out; echo 'progress 50%\rfatal: no network' >&2; exit 128";
        let (code, last) = run_quiet("sh", &["-c", script], None, &[]).await;
        assert_eq!((code, last.as_deref()), (128, Some("fatal: no network")));
        let (code, last) = run_quiet("sh", &["-c", "echo only-out"], None, &[]).await;
        assert_eq!((code, last.as_deref()), (0, Some("only-out")));
        let big = "yes line | head -c 100000; echo the-end";
        let (_, last) = run_quiet("sh", &["-c", big], None, &[]).await;
        assert_eq!(last.as_deref(), Some("the-end"));
        let (code, last) = run_quiet("definitely-not-a-program-xyz", &[], None, &[]).await;
        assert_eq!((code, last), (-1, None));
    }
}
