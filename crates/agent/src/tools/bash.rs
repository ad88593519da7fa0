//! `bash`: a shell command in the workspace, in its own process group,
//! stdout and stderr merged, tail-truncated; killed whole on timeout or abort.

use std::collections::HashSet;
use std::io::Read;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use super::truncate::{MAX_BYTES, MAX_LINES, TruncatedBy, format_size, truncate_tail};
use super::{ToolContext, ToolOutcome, arg_str};

const DEFAULT_TIMEOUT_S: f64 = 180.0;

pub fn description() -> String {
    format!(
        "Execute a bash command in the current working directory. Returns stdout and stderr. Output is truncated to last {MAX_LINES} lines or {}KB (whichever is hit first). If truncated, full output is saved to a temp file. Timeout defaults to 180 seconds; pass a timeout in seconds for a longer limit, or 0 to disable the timer.",
        MAX_BYTES / 1024
    )
}

pub fn schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "command": {"type": "string", "description": "Shell command to execute"},
            "timeout": {"type": "number", "description": "Timeout in seconds. Defaults to 180 (3 minutes) when omitted; pass 0 to disable the timer, or a finite number of seconds for a longer limit."}
        },
        "required": ["command"]
    })
}

/// The process groups started by `bash` during a run. When the last handle
/// goes (the run ended, or was dropped on Ctrl-C), every group still alive
/// is killed, so no command outlives the run.
#[derive(Clone, Default)]
pub struct ProcessGroups(Arc<GroupSet>);

#[derive(Default)]
struct GroupSet(Mutex<HashSet<i32>>);

impl ProcessGroups {
    fn add(&self, pgid: i32) {
        if let Ok(mut s) = self.0.0.lock() {
            s.insert(pgid);
        }
    }

    /// Kills every group now.
    pub fn kill_all(&self) {
        self.0.kill_all();
    }
}

impl GroupSet {
    fn kill_all(&self) {
        if let Ok(mut s) = self.0.lock() {
            for pgid in s.drain() {
                kill_group(pgid);
            }
        }
    }
}

impl Drop for GroupSet {
    fn drop(&mut self) {
        self.kill_all();
    }
}

fn kill_group(pgid: i32) {
    if pgid > 1 {
        // SAFETY: kill(2) takes plain integers and touches no memory; a
        // negative pid names the whole process group.
        #[allow(unsafe_code)]
        unsafe {
            libc::kill(-pgid, libc::SIGKILL);
        }
    }
}

fn shell() -> &'static str {
    if std::path::Path::new("/bin/bash").exists() {
        "/bin/bash"
    } else {
        "/bin/sh"
    }
}

pub async fn run(args: Value, ctx: &ToolContext) -> ToolOutcome {
    let command = arg_str(&args, "command").unwrap_or("").to_string();
    let timeout = match timeout_seconds(&args) {
        Ok(t) => t,
        Err(e) => return ToolOutcome::error(e),
    };
    if !ctx.cwd.is_dir() {
        return ToolOutcome::error(format!(
            "Working directory does not exist: {}\nCannot execute bash commands.",
            ctx.cwd.display()
        ));
    }
    let (mut child, reader) = match spawn_shell(&command, ctx) {
        Ok(started) => started,
        Err(e) => return ToolOutcome::error(e),
    };
    let pgid = child.id().map(|p| p as i32).unwrap_or(0);
    ctx.groups.add(pgid);
    let (output, eof) = collect_output(reader);

    let status = match wait_for_exit(&mut child, pgid, timeout).await {
        Ok(status) => status,
        Err(e) => return ToolOutcome::error(e),
    };
    // Descendants left in the background may hold the pipe: wait briefly.
    let _ = tokio::time::timeout(Duration::from_millis(200), eof).await;
    let bytes = output.lock().map(|o| o.clone()).unwrap_or_default();
    let (text, details) = format_output(&bytes, &ctx.tool_env.temp_dir);

    let Some(status) = status else {
        let secs = timeout.unwrap_or(0.0);
        return ToolOutcome::error(append_status(
            &text,
            &format!("Command timed out after {} seconds", trim_float(secs)),
        ));
    };
    let mut outcome = exit_outcome(status, text);
    outcome.details = details;
    outcome
}

/// The timer in seconds: 180 when absent, none for 0, capped at what a
/// timer can hold; a negative or non-finite value is the model's mistake.
fn timeout_seconds(args: &Value) -> Result<Option<f64>, &'static str> {
    match args.get("timeout").and_then(Value::as_f64) {
        None => Ok(Some(DEFAULT_TIMEOUT_S)),
        Some(0.0) => Ok(None),
        Some(t) if !t.is_finite() || t < 0.0 => {
            Err("Invalid timeout: must be a finite number of seconds, or 0 to disable the timer")
        }
        Some(t) => Ok(Some(t.min(2_147_483.0))),
    }
}

/// Starts `command` in the workspace, in a process group of its own (so a
/// timeout can kill it whole), stdout and stderr sharing one pipe so their
/// lines interleave as they were written. Returns the pipe's read end.
fn spawn_shell(
    command: &str,
    ctx: &ToolContext,
) -> Result<(tokio::process::Child, std::io::PipeReader), String> {
    let pipe_error = |e: std::io::Error| format!("Cannot create a pipe: {e}");
    let (reader, writer) = std::io::pipe().map_err(pipe_error)?;
    let writer2 = writer.try_clone().map_err(pipe_error)?;
    let mut cmd = tokio::process::Command::new(shell());
    cmd.arg("-c")
        .arg(command)
        .current_dir(&ctx.cwd)
        .stdin(std::process::Stdio::null())
        .stdout(writer)
        .stderr(writer2)
        .process_group(0)
        .kill_on_drop(true);
    // The secrets the run hides from tools, then the variables it adds.
    for name in &ctx.tool_env.hidden_variables {
        cmd.env_remove(name);
    }
    for (k, v) in &ctx.env {
        cmd.env(k, v);
    }
    let child = cmd
        .spawn()
        .map_err(|e| format!("Cannot start {}: {e}", shell()))?;
    // Our copies of the pipe's write end must go, or EOF never comes.
    drop(cmd);
    Ok((child, reader))
}

/// Drains the pipe on a thread of its own (a blocking read), so output
/// keeps flowing while the child runs; the receiver fires at EOF.
fn collect_output(
    reader: std::io::PipeReader,
) -> (Arc<Mutex<Vec<u8>>>, tokio::sync::oneshot::Receiver<()>) {
    let output = Arc::new(Mutex::new(Vec::<u8>::new()));
    let sink = output.clone();
    let (eof_tx, eof_rx) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        let mut reader = reader;
        let mut buf = [0u8; 16 * 1024];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            if let Ok(mut o) = sink.lock() {
                o.extend_from_slice(&buf[..n]);
            }
        }
        let _ = eof_tx.send(());
    });
    (output, eof_rx)
}

/// Waits for the shell to exit within `timeout`: `Ok(None)` when the timer
/// fired (the group is then killed and reaped), an error when the wait
/// itself failed.
async fn wait_for_exit(
    child: &mut tokio::process::Child,
    pgid: i32,
    timeout: Option<f64>,
) -> Result<Option<std::process::ExitStatus>, String> {
    let waited = match timeout {
        Some(secs) => tokio::time::timeout(Duration::from_secs_f64(secs), child.wait())
            .await
            .ok(),
        None => Some(child.wait().await),
    };
    match waited {
        Some(Ok(s)) => Ok(Some(s)),
        Some(Err(e)) => {
            kill_group(pgid);
            Err(format!("Command failed: {e}"))
        }
        None => {
            kill_group(pgid);
            let _ = child.wait().await;
            Ok(None)
        }
    }
}

/// Exit code 0 is a result; any other code, or a signal, is an error the
/// model sees with its output.
fn exit_outcome(status: std::process::ExitStatus, text: String) -> ToolOutcome {
    let or_no_output = |text: String| {
        if text.is_empty() {
            "(no output)".to_string()
        } else {
            text
        }
    };
    match status.code() {
        Some(0) => ToolOutcome::ok(or_no_output(text)),
        Some(code) => ToolOutcome::error(append_status(
            &or_no_output(text),
            &format!("Command exited with code {code}"),
        )),
        None => ToolOutcome::error(append_status(&text, "Command aborted")),
    }
}

fn trim_float(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{}", v as u64)
    } else {
        format!("{v}")
    }
}

fn append_status(text: &str, status: &str) -> String {
    if text.is_empty() {
        status.to_string()
    } else {
        format!("{text}\n\n{status}")
    }
}

/// The tail the model sees, with Pi's notice and the full output saved to
/// a file in `temp_dir` when it was cut.
fn format_output(bytes: &[u8], temp_dir: &Path) -> (String, Option<Value>) {
    let full = String::from_utf8_lossy(bytes);
    let t = truncate_tail(&full, MAX_LINES, MAX_BYTES);
    let Some(by) = t.truncated_by else {
        return (t.content, None);
    };
    let path = temp_dir.join(format!("appstrate-bash-{:016x}.log", rand::random::<u64>()));
    let path_text = match std::fs::write(&path, bytes) {
        Ok(()) => path.display().to_string(),
        Err(_) => "(could not be saved)".to_string(),
    };
    let start = t.total_lines - t.output_lines + 1;
    let end = t.total_lines;
    let notice = if t.last_line_partial {
        let last = full.rsplit('\n').next().map(str::len).unwrap_or(0);
        format!(
            "[Showing last {} of line {end} (line is {}). Full output: {path_text}]",
            format_size(t.output_bytes),
            format_size(last)
        )
    } else if by == TruncatedBy::Lines {
        format!(
            "[Showing lines {start}-{end} of {}. Full output: {path_text}]",
            t.total_lines
        )
    } else {
        format!(
            "[Showing lines {start}-{end} of {} ({} limit). Full output: {path_text}]",
            t.total_lines,
            format_size(MAX_BYTES)
        )
    };
    (
        format!("{}\n\n{notice}", t.content),
        Some(json!({"fullOutputPath": path_text, "totalLines": t.total_lines})),
    )
}
