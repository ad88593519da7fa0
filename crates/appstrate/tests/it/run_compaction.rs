//! Long runs and the context window (docs/run.md "Compaction"): the built
//! binary against the scripted model server playing a model with a small
//! window (`ModelServer::limit_context`: it measures every request, reports
//! that as the input tokens and refuses what does not fit, as a provider
//! does).

use std::path::PathBuf;
use std::process::{Command, Output};

use appstrate_testkit::model_server::{ModelServer, RecordedRequest, Reply};
use serde_json::{Value, json};

use crate::run_common::{RunEnv, jsonl, output, stderr};

const SUMMARY: &str = "## Task\nPrint blocks of text.\n## Progress\nBlocks printed so far: many.";

/// One bash call printing `chars` characters (one line).
fn print_call(id: &str, chars: usize) -> Reply {
    Reply::call(
        id,
        "bash",
        json!({"command": format!("head -c {chars} /dev/zero | tr '\\0' a")}),
    )
}

fn package(env: &RunEnv) -> PathBuf {
    env.write_package(
        "long.afps",
        &json!({"name": "@test/long", "version": "1.0.0", "type": "agent"}),
        "Print blocks of text until told to stop.\n",
    )
}

/// The events of one `data.event` kind.
fn progress_of<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|e| e["type"] == "appstrate.progress" && e["data"]["event"] == kind)
        .collect()
}

fn finalize(events: &[Value]) -> &Value {
    let last = events.last().expect("events");
    assert_eq!(last["type"], "appstrate.finalize");
    &last["result"]
}

/// What the server measured for a request (as `limit_context` counts it).
fn measured(r: &RecordedRequest) -> u64 {
    (r.body.to_string().len() as u64).div_ceil(4)
}

/// Anthropic: every `tool_result` answers a `tool_use` of the message just
/// before it, and every `tool_use` is answered by the next message.
fn assert_calls_stay_with_results(r: &RecordedRequest) {
    let msgs = r.body["messages"].as_array().expect("messages");
    let blocks = |m: &Value, ty: &str, key: &str| -> Vec<String> {
        m["content"]
            .as_array()
            .map(|c| {
                c.iter()
                    .filter(|b| b["type"] == ty)
                    .filter_map(|b| b[key].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    for (i, m) in msgs.iter().enumerate() {
        let answered = blocks(m, "tool_result", "tool_use_id");
        if !answered.is_empty() {
            assert!(i > 0, "a tool result opens the conversation");
            assert_eq!(blocks(&msgs[i - 1], "tool_use", "id"), answered);
        }
        let calls = blocks(m, "tool_use", "id");
        if !calls.is_empty() {
            let next = msgs.get(i + 1).expect("a call is answered");
            assert_eq!(blocks(next, "tool_result", "tool_use_id"), calls);
        }
    }
}

/// Runs the command, returning its output and its peak RSS (KiB) as
/// `wait4` reports it for this one child.
#[allow(unsafe_code)]
#[allow(clippy::zombie_processes)] // reaped by wait4 below, not Child::wait
fn output_with_peak_rss(mut cmd: Command) -> (Output, i64) {
    use std::io::Read;
    use std::process::Stdio;
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn appstrate");
    let pid = child.id() as libc::pid_t;
    let read = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            bytes
        })
    };
    let out = read(Box::new(child.stdout.take().expect("stdout")));
    let err = read(Box::new(child.stderr.take().expect("stderr")));
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value for wait4 to overwrite.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `pid` is our own unreaped child; the pointers are valid.
    let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(reaped, pid, "wait4 failed");
    let code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
    let output = Output {
        status: std::os::unix::process::ExitStatusExt::from_raw(status),
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    };
    assert_eq!(output.status.code(), code);
    (output, usage.ru_maxrss)
}

/// 300 turns on a 60 000-token window: the context crosses the threshold
/// again and again, each time the older turns become a summary, and the run
/// ends with every paid call in its totals.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_300_turn_run_compacts_and_keeps_its_totals() {
    const WINDOW: u64 = 60_000;
    const TURNS: usize = 300;
    let env = RunEnv::new();
    let pkg = package(&env);
    let mut script: Vec<Reply> = (0..TURNS)
        .map(|i| print_call(&format!("toolu_{i:03}"), 1600))
        .collect();
    script.push(Reply::text("Done."));
    let server = ModelServer::start(script).await;
    server.limit_context(WINDOW);
    server.answer_toolless_with(Reply::text(SUMMARY));

    let mut c = env.base_command(Some(&server));
    c.env("ANTHROPIC_API_KEY", "sk-test-secret-key")
        .env("APPSTRATE_MODEL_CONTEXT_WINDOW", WINDOW.to_string())
        .args(["run", pkg.to_str().expect("utf-8"), "--json"])
        .args(["--max-turns", "400"]);
    let (o, peak_kb) = tokio::task::spawn_blocking(move || output_with_peak_rss(c))
        .await
        .expect("join");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let events = jsonl(&o);
    let result = finalize(&events);
    assert_eq!(result["status"], "success", "{result}");

    // Threshold = window - reserve (the 8192-token output cap).
    let compactions = progress_of(&events, "compaction");
    println!(
        "300-turn run: {} compactions, peak RSS {:.1} MiB",
        compactions.len(),
        peak_kb as f64 / 1024.0
    );
    assert!(compactions.len() >= 2, "{} compactions", compactions.len());
    for c in &compactions {
        let (before, after) = (
            c["data"]["tokensBefore"].as_u64().expect("before"),
            c["data"]["estimatedTokensAfter"].as_u64().expect("after"),
        );
        assert_eq!(c["data"]["reason"], "threshold");
        assert!(before > WINDOW - 8192 && after < before * 2 / 3, "{c}");
        assert_eq!(
            c["message"],
            format!("Context compacted — {before} → {after} tokens")
        );
        assert!(c["data"]["inputTokens"].as_u64().expect("in") > 0);
    }
    assert!(events.iter().all(|e| e["type"] != "appstrate.error"));

    // What the server saw: 301 turns plus one summary per compaction, each
    // under the window, no call ever cut from its result.
    let requests = server.requests();
    let summaries: Vec<_> = requests
        .iter()
        .filter(|r| r.body.get("tools").is_none())
        .collect();
    assert_eq!(summaries.len(), compactions.len());
    assert_eq!(requests.len(), TURNS + 1 + summaries.len());
    for s in &summaries {
        // 80 % of the reserve.
        assert_eq!(s.body["max_tokens"], 6553);
        let prompt = s.body["messages"][0]["content"][0]["text"]
            .as_str()
            .expect("prompt");
        assert!(prompt.starts_with("<conversation>\n"), "{prompt}");
    }
    // The second summary updates the first one's notes.
    let second = summaries[1].body["messages"][0]["content"][0]["text"]
        .as_str()
        .expect("prompt");
    assert!(second.contains(&format!("<previous-notes>\n{SUMMARY}\n</previous-notes>")));
    for r in &requests {
        assert!(measured(r) <= WINDOW);
        assert_calls_stay_with_results(r);
    }
    // After a compaction the conversation opens with the notes.
    let after_first = requests
        .iter()
        .skip_while(|r| r.body.get("tools").is_some())
        .nth(1)
        .expect("a turn after the first summary");
    let opening = after_first.body["messages"][0]["content"][0]["text"]
        .as_str()
        .expect("text");
    assert!(opening.contains(&format!("<notes>\n{SUMMARY}\n</notes>")));

    // Totals: every paid call, the summaries included, priced at the
    // default model's rates ($3 / $15 per million tokens).
    let input: u64 = requests.iter().map(measured).sum();
    let output = 10 * requests.len() as u64;
    assert_eq!(
        result["usage"],
        json!({"input_tokens": input, "output_tokens": output})
    );
    let cost = result["cost"].as_f64().expect("cost");
    let expected = (input as f64 * 3.0 + output as f64 * 15.0) / 1e6;
    assert!((cost - expected).abs() < 1e-9, "{cost} vs {expected}");
    let last_metric = events
        .iter()
        .rev()
        .find(|e| e["type"] == "appstrate.metric")
        .expect("metric");
    assert_eq!(last_metric["usage"]["input_tokens"], input);
    assert_eq!(last_metric["cost"], result["cost"]);
    // The turn breadcrumbs and the compaction events account for it all.
    let counted: u64 = progress_of(&events, "turn")
        .iter()
        .chain(compactions.iter())
        .map(|e| e["data"]["inputTokens"].as_u64().expect("inputTokens"))
        .sum();
    assert_eq!(counted, input);
}

/// Script of an overflow: three 40 000-character results (≈ 10 000 tokens
/// each) on a 30 000-token window, then the closing text.
fn overflow_script() -> Vec<Reply> {
    vec![
        print_call("call_1", 40_000),
        print_call("call_2", 40_000),
        print_call("call_3", 40_000),
        Reply::text("Done."),
    ]
}

/// The provider refuses the fourth request as too long (OpenAI Chat
/// Completions wording): the conversation is compacted and the request
/// tried once more, which fits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overflow_is_compacted_and_retried_once() {
    let env = RunEnv::new();
    let pkg = package(&env);
    let server = ModelServer::start(overflow_script()).await;
    server.limit_context(30_000);
    server.answer_toolless_with(Reply::text(SUMMARY));
    let mut c = env.base_command(Some(&server));
    c.env("OPENAI_API_KEY", "sk-test-secret-key").args([
        "run",
        pkg.to_str().expect("utf-8"),
        "--json",
        "--model-api",
        "openai-completions",
    ]);
    let o = output(c).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let events = jsonl(&o);
    assert_eq!(finalize(&events)["status"], "success");

    // The refusal is reported (advisory), then the compaction.
    let errors: Vec<_> = events
        .iter()
        .filter(|e| e["type"] == "appstrate.error")
        .collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    let refusal = errors[0]["message"].as_str().expect("message");
    assert!(
        refusal.contains("maximum context length is 30000 tokens")
            && refusal.contains("context_length_exceeded"),
        "{refusal}"
    );
    let compactions = progress_of(&events, "compaction");
    assert_eq!(compactions.len(), 1);
    assert_eq!(compactions[0]["data"]["reason"], "overflow");

    // Four turns, the refused one, one summary, one retry.
    let requests = server.requests();
    assert_eq!(requests.len(), 6);
    assert!(measured(&requests[3]) > 30_000);
    assert!(requests[4].body.get("tools").is_none());
    let retry = &requests[5].body["messages"];
    // system, the notes, then the last call and its result, whole.
    assert_eq!(retry[0]["role"], "system");
    assert!(
        retry[1]["content"]
            .as_str()
            .is_some_and(|t| t.contains(SUMMARY))
    );
    assert_eq!(retry[2]["tool_calls"][0]["id"], "call_3");
    assert_eq!(retry[3]["tool_call_id"], "call_3");
    assert_eq!(retry.as_array().map(Vec::len), Some(4));
    // The summary's usage is in the totals.
    let usage = &finalize(&events)["usage"];
    let paid: u64 = [0, 1, 2, 4, 5]
        .iter()
        .map(|&i| measured(&requests[i]))
        .sum();
    assert_eq!(usage["input_tokens"], paid);
    assert_eq!(usage["output_tokens"], 50);
}

/// With compaction off, the same overflow is one clear error: no summary,
/// no retry, a failed run and exit code 1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overflow_without_compaction_is_one_clear_error() {
    let env = RunEnv::new();
    let pkg = package(&env);
    let server = ModelServer::start(overflow_script()).await;
    server.limit_context(30_000);
    server.answer_toolless_with(Reply::text(SUMMARY));
    let mut c = env.base_command(Some(&server));
    c.env("OPENAI_API_KEY", "sk-test-secret-key")
        .env("MODEL_COMPACTION_ENABLED", "false")
        .args([
            "run",
            pkg.to_str().expect("utf-8"),
            "--json",
            "--model-api",
            "openai-responses",
        ]);
    let o = output(c).await;
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(server.requests().len(), 4);
    let events = jsonl(&o);
    assert!(progress_of(&events, "compaction").is_empty());
    let errors: Vec<_> = events
        .iter()
        .filter(|e| e["type"] == "appstrate.error")
        .collect();
    assert_eq!(errors.len(), 1);
    let message = errors[0]["message"].as_str().expect("message");
    assert!(
        message.contains("exceeds the context window")
            && message.contains("compaction is off (MODEL_COMPACTION_ENABLED=false)"),
        "{message}"
    );
    let result = finalize(&events);
    assert_eq!(result["status"], "failed");
    assert_eq!(
        result["error"],
        json!({"code": "adapter_error", "message": message})
    );
}

/// An overflow compaction cannot fix (the one result there is already too
/// big for the window) ends the run with one error instead of a loop.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overflow_compaction_cannot_fix_ends_the_run() {
    let env = RunEnv::new();
    let pkg = package(&env);
    let server = ModelServer::start(overflow_script()).await;
    server.limit_context(10_000);
    server.answer_toolless_with(Reply::text(SUMMARY));
    let mut c = env.base_command(Some(&server));
    c.env("ANTHROPIC_API_KEY", "sk-test-secret-key").args([
        "run",
        pkg.to_str().expect("utf-8"),
        "--json",
    ]);
    let o = output(c).await;
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(server.requests().len(), 2);
    let events = jsonl(&o);
    let result = finalize(&events);
    assert_eq!(result["status"], "failed");
    let message = result["error"]["message"].as_str().expect("message");
    // Nothing older to summarise: the provider's refusal stands, once.
    assert!(
        message.starts_with("anthropic returned HTTP 400: prompt is too long: "),
        "{message}"
    );
    let errors = events
        .iter()
        .filter(|e| e["type"] == "appstrate.error")
        .count();
    assert_eq!(errors, 1);
    assert!(progress_of(&events, "compaction").is_empty());
}

/// The window override must be a number of tokens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_context_window_override_is_refused() {
    let env = RunEnv::new();
    let pkg = package(&env);
    let mut c = env.base_command(None);
    c.env("ANTHROPIC_API_KEY", "sk-test-secret-key")
        .env("APPSTRATE_MODEL_CONTEXT_WINDOW", "lots")
        .args(["run", pkg.to_str().expect("utf-8")]);
    let o = output(c).await;
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains(
            "APPSTRATE_MODEL_CONTEXT_WINDOW must be a whole number of tokens, at least 1000 (got \"lots\")"
        ),
        "{}",
        stderr(&o)
    );
}

/// Human mode: the refusal is a warning, the compaction one line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_shows_the_compaction() {
    let env = RunEnv::new();
    let pkg = package(&env);
    let server = ModelServer::start(overflow_script()).await;
    server.limit_context(30_000);
    server.answer_toolless_with(Reply::text(SUMMARY));
    let mut c = env.base_command(Some(&server));
    c.env("ANTHROPIC_API_KEY", "sk-test-secret-key")
        .args(["run", pkg.to_str().expect("utf-8")]);
    let o = output(c).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = crate::run_common::stdout(&o);
    let line = out
        .lines()
        .find(|l| l.starts_with("→ Context compacted — "))
        .unwrap_or_else(|| panic!("no compaction line: {out}"));
    let numbers: Vec<u64> = line
        .trim_start_matches("→ Context compacted — ")
        .trim_end_matches(" tokens")
        .split(" → ")
        .map(|n| n.parse().expect("a token count"))
        .collect();
    assert!(numbers.len() == 2 && numbers[1] < numbers[0], "{line}");
    assert!(
        stderr(&o).contains("⚠ anthropic returned HTTP 400: prompt is too long: "),
        "{}",
        stderr(&o)
    );
    assert!(out.ends_with("\n[run complete]\n"), "{out}");
}

/// A summary call that fails is reported once and the run goes on with its
/// whole conversation; it is not attempted again at every turn.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_summary_is_reported_once_and_the_run_goes_on() {
    const WINDOW: u64 = 60_000;
    let env = RunEnv::new();
    let pkg = package(&env);
    // ≈ 460 tokens a turn: over the threshold (51 808) after ≈ 106 turns;
    // the server refuses only past 80 000 tokens (≈ 165 turns).
    let mut script: Vec<Reply> = (0..130)
        .map(|i| print_call(&format!("toolu_{i:03}"), 1600))
        .collect();
    script.push(Reply::text("Done."));
    let server = ModelServer::start(script).await;
    server.limit_context(WINDOW + 20_000);
    server.answer_toolless_with(Reply::status(500, None));
    let mut c = env.base_command(Some(&server));
    c.env("ANTHROPIC_API_KEY", "sk-test-secret-key")
        .env("APPSTRATE_MODEL_CONTEXT_WINDOW", WINDOW.to_string())
        .env("MODEL_RETRY_ENABLED", "false")
        .args(["run", pkg.to_str().expect("utf-8"), "--json"])
        .args(["--max-turns", "200"]);
    let o = output(c).await;
    let events = jsonl(&o);
    assert_eq!(
        finalize(&events)["status"],
        "success",
        "{}",
        finalize(&events)
    );
    assert_eq!(o.status.code(), Some(0));
    assert!(progress_of(&events, "compaction").is_empty());
    let errors: Vec<_> = events
        .iter()
        .filter(|e| e["type"] == "appstrate.error")
        .collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0]["message"].as_str().is_some_and(|m| m.starts_with(
            "Auto-compaction failed: the summary request failed: anthropic returned HTTP 500"
        )),
        "{}",
        errors[0]
    );
    let requests = server.requests();
    let summaries = requests
        .iter()
        .filter(|r| r.body.get("tools").is_none())
        .count();
    assert_eq!(summaries, 1);
    assert_eq!(requests.len(), 131 + 1);
    // Later turns stayed over the threshold without another attempt.
    let over = requests
        .iter()
        .filter(|r| r.body.get("tools").is_some() && measured(r) > WINDOW - 8192)
        .count();
    assert!(over >= 10, "{over} requests over the threshold");
}

/// A provider that reports no usage: the context is estimated from the
/// conversation (characters / 4) and compaction still happens in time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_usage_from_the_provider_the_context_is_estimated() {
    const WINDOW: u64 = 60_000;
    let env = RunEnv::new();
    let pkg = package(&env);
    let silent = |reply: Reply| match reply {
        Reply::Turn {
            text,
            calls,
            max_tokens,
            cached_tokens,
            ..
        } => Reply::Turn {
            text,
            calls,
            max_tokens,
            input_tokens: 0,
            output_tokens: 0,
            cached_tokens,
        },
        other => other,
    };
    let mut script: Vec<Reply> = (0..150)
        .map(|i| silent(print_call(&format!("toolu_{i:03}"), 1600)))
        .collect();
    script.push(silent(Reply::text("Done.")));
    let server = ModelServer::start(script).await;
    server.answer_toolless_with(silent(Reply::text(SUMMARY)));
    let mut c = env.base_command(Some(&server));
    c.env("ANTHROPIC_API_KEY", "sk-test-secret-key")
        .env("APPSTRATE_MODEL_CONTEXT_WINDOW", WINDOW.to_string())
        .args(["run", pkg.to_str().expect("utf-8"), "--json"])
        .args(["--max-turns", "200"]);
    let o = output(c).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let events = jsonl(&o);
    let compactions = progress_of(&events, "compaction");
    assert_eq!(compactions.len(), 1, "one crossing in 150 turns");
    let before = compactions[0]["data"]["tokensBefore"]
        .as_u64()
        .expect("before");
    assert!(before > WINDOW - 8192 && before < WINDOW, "{before}");
    // Every request stayed near the window by the server's own measure,
    // which also counts the JSON around the text (up to 10 % more).
    assert!(
        server
            .requests()
            .iter()
            .all(|r| measured(r) <= WINDOW + WINDOW / 10)
    );
    assert_eq!(
        finalize(&events)["usage"],
        json!({"input_tokens": 0, "output_tokens": 0})
    );
}

/// The compacted conversation is still refused (its last result alone
/// nearly fills the window): one retry only, then one clear error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_refused_again_ends_the_run_with_one_error() {
    let env = RunEnv::new();
    let pkg = package(&env);
    let server = ModelServer::start(vec![
        print_call("call_1", 32_000),
        print_call("call_2", 50_000),
        Reply::text("never"),
    ])
    .await;
    // ≈ 8 000 + 12 500 tokens of results: the first is summarised, the
    // second (with the system prompt) is still over the limit.
    server.limit_context(12_500);
    server.answer_toolless_with(Reply::text(SUMMARY));
    let mut c = env.base_command(Some(&server));
    c.env("ANTHROPIC_API_KEY", "sk-test-secret-key").args([
        "run",
        pkg.to_str().expect("utf-8"),
        "--json",
    ]);
    let o = output(c).await;
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    // Two turns, the refusal, the summary, the refused retry: no more.
    let requests = server.requests();
    assert_eq!(requests.len(), 5);
    assert!(requests[3].body.get("tools").is_none());
    assert!(measured(&requests[4]) > 12_500);
    let events = jsonl(&o);
    assert_eq!(progress_of(&events, "compaction").len(), 1);
    let result = finalize(&events);
    assert_eq!(result["status"], "failed");
    let message = result["error"]["message"].as_str().expect("message");
    assert!(
        message.starts_with("Context overflow recovery failed after one compact-and-retry attempt: anthropic returned HTTP 400: prompt is too long: ")
            && message.ends_with("; use a model with a larger context window"),
        "{message}"
    );
}
