//! `appstrate run @scope/agent` executed by the platform (docs/run.md,
//! "Remote runs"): the built binary against the fake instance, which plays a
//! scripted run (log rows over time, then its end).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::signed_in::{SignedIn, stderr, stdout};
use appstrate_testkit::fake_instance::{Fault, RunScript, agent_afps};
use serde_json::{Value, json};

const AGENT: &str = "@acme/hello";
const TRIGGER: &str = "/api/agents/@acme/hello/run";
/// A short poll so the tests do not wait 1.5 s per tick.
const FAST_POLL: &str = "20";

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Signed in to Acme/Main with `@acme/hello@1.0.0` published there.
fn with_agent(manifest_extra: Value) -> SignedIn {
    let env = SignedIn::new();
    env.fake.publish_agent(
        &env.acme_main,
        agent_afps(AGENT, "1.0.0", manifest_extra, "Say hello."),
    );
    env
}

fn remote(env: &SignedIn) -> assert_cmd::Command {
    let mut cmd = env.cmd();
    cmd.env("APPSTRATE_REMOTE_POLL_MS", FAST_POLL)
        .env("NO_COLOR", "1")
        .env_remove("APPSTRATE_API_KEY")
        .env_remove("APPSTRATE_INSTANCE")
        .env_remove("APPSTRATE_APP_ID")
        .env_remove("APPSTRATE_ORG_ID");
    cmd
}

/// The script most tests use: a turn, a tool call and its result, a log
/// line, the output; usage and cost for the closing metric.
fn busy_script() -> RunScript {
    RunScript::success(Some(json!({"greeting": "hello"})))
        .progress(ms(10), "Turn 1 — 120 context tokens, 30 generated", None)
        .progress(
            ms(10),
            "Tool: output",
            Some(json!({"tool": "output", "args": {"greeting": "hello"}, "toolCallId": "call_0123456789"})),
        )
        .log(ms(10), "info", "wrote the greeting")
        .output_row(ms(10), json!({"greeting": "hello"}))
        .usage(Some(json!({"input_tokens": 120, "output_tokens": 30})))
        .cost(0.0123)
}

fn json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

fn bearer_of(env: &SignedIn) -> String {
    let text = std::fs::read_to_string(env.config_dir().join("credentials.json")).expect("creds");
    let v: Value = serde_json::from_str(&text).expect("json");
    v["default"]["accessToken"]
        .as_str()
        .expect("token")
        .to_string()
}

#[test]
fn success_prints_like_a_local_run() {
    let env = with_agent(json!({}));
    env.fake.script_runs(AGENT, busy_script());
    let out = remote(&env).args(["run", AGENT]).output().expect("runs");
    let (so, se) = (stdout(&out), stderr(&out));
    assert_eq!(out.status.code(), Some(0), "stdout:\n{so}\nstderr:\n{se}");
    let run = env.fake.runs().pop().expect("one run");
    let url = env.fake.url();
    assert!(
        se.contains(&format!(
            "→ running {AGENT} (reporting to {url} as {})",
            run.id
        )),
        "{se}"
    );
    assert!(
        se.contains(&format!(
            "→ dashboard: {url}/agents/{AGENT}/runs/{}",
            run.id
        )),
        "{se}"
    );
    let expected = [
        "→ Turn 1 — 120 context tokens, 30 generated\n",
        "→ tool: output #23456789\n  args  greeting: hello\n",
        "✓ output: {\"greeting\":\"hello\"}\n",
        "∑ tokens in=120 out=30  $0.0123\n",
        "\n[run complete]\n",
    ];
    let mut at = 0;
    for piece in expected {
        let found = so[at..]
            .find(piece)
            .unwrap_or_else(|| panic!("missing or out of order: {piece:?}\n{so}"));
        at += found + piece.len();
    }
    // Lines of the `log` tool are silent in the human renderer, as locally.
    assert!(!so.contains("wrote the greeting"), "{so}");
    assert!(!so.contains(&bearer_of(&env)) && !se.contains(&bearer_of(&env)));
}

#[test]
fn json_lines_start_triggered_and_end_with_finalize() {
    let env = with_agent(json!({}));
    env.fake.script_runs(AGENT, busy_script());
    let out = remote(&env)
        .args(["run", AGENT, "--json"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stderr(&out), "", "--json keeps stderr quiet");
    let lines = json_lines(&stdout(&out));
    let run = env.fake.runs().pop().expect("one run");
    assert_eq!(
        lines[0],
        json!({"type": "appstrate.remote.triggered", "runId": run.id, "instance": env.fake.url(),
               "dashboardUrl": format!("{}/agents/{AGENT}/runs/{}", env.fake.url(), run.id)})
    );
    let types: Vec<&str> = lines
        .iter()
        .map(|l| l["type"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        types,
        [
            "appstrate.remote.triggered",
            "appstrate.progress",
            "appstrate.progress",
            "log.written",
            "output.emitted",
            "appstrate.metric",
            "appstrate.finalize"
        ],
        "{lines:#?}"
    );
    for event in &lines[1..lines.len() - 1] {
        assert_eq!(event["runId"], run.id.as_str());
        assert!(
            event["timestamp"]
                .as_i64()
                .is_some_and(|t| t > 1_700_000_000_000)
        );
    }
    assert_eq!(lines[2]["data"]["tool"], "output");
    assert_eq!(lines[3]["message"], "wrote the greeting");
    assert_eq!(lines[4]["data"], json!({"greeting": "hello"}));
    assert_eq!(lines[5]["usage"]["input_tokens"], 120);
    assert_eq!(lines[5]["cost"], 0.0123);
    let result = &lines[6]["result"];
    assert_eq!(result["status"], "success");
    assert_eq!(result["output"], json!({"greeting": "hello"}));
    assert_eq!(
        result["usage"],
        json!({"input_tokens": 120, "output_tokens": 30})
    );
    assert_eq!(result["logs"][0]["message"], "wrote the greeting");
    assert!(result.get("error").is_none());
}

#[test]
fn failed_run_exits_1_and_writes_the_result() {
    let env = with_agent(json!({}));
    env.fake.script_runs(
        AGENT,
        RunScript::failure("the model said no").progress(ms(5), "Turn 1", None),
    );
    let file = env.home.path().join("result.json");
    let out = remote(&env)
        .args(["run", AGENT, "--output"])
        .arg(&file)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stdout(&out).ends_with("\n[run failed] the model said no\n"),
        "{}",
        stdout(&out)
    );
    let text = std::fs::read_to_string(&file).expect("--output written");
    assert!(
        text.ends_with("}\n") && text.contains("\n  \"memories\": []"),
        "{text}"
    );
    let result: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(result["status"], "failed");
    assert_eq!(
        result["error"],
        json!({"code": "remote_run_error", "message": "the model said no"})
    );
    assert_eq!(result["pinned"], json!({}));
}

#[test]
fn run_id_is_the_idempotency_key() {
    let env = with_agent(json!({}));
    env.fake.script_runs(AGENT, RunScript::default());
    let out = remote(&env)
        .args([
            "run",
            AGENT,
            "--run-id",
            "nightly-2026-01-15",
            "--input",
            "{\"n\":1}",
        ])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let posts = env.fake.requests_to("POST", TRIGGER);
    assert_eq!(posts.len(), 1);
    assert_eq!(
        posts[0].header("idempotency-key"),
        Some("nightly-2026-01-15")
    );
    assert_eq!(posts[0].json(), Some(json!({"input": {"n": 1}})));
    assert_eq!(
        posts[0].header("x-application-id"),
        Some(env.acme_main.as_str())
    );

    // Without --run-id: a fresh `cli_<ms>_<8 base36>` key.
    remote(&env).args(["run", AGENT]).assert().success();
    let posts = env.fake.requests_to("POST", TRIGGER);
    let key = posts[1].header("idempotency-key").expect("key").to_string();
    let parts: Vec<&str> = key.split('_').collect();
    assert_eq!(parts.len(), 3, "{key}");
    assert_eq!(parts[0], "cli");
    assert!(parts[1].parse::<u64>().is_ok(), "{key}");
    assert!(
        parts[2].len() == 8
            && parts[2]
                .chars()
                .all(|c| c.is_ascii_digit() || c.is_ascii_lowercase()),
        "{key}"
    );

    // The same run id with the same body replays the first run.
    remote(&env)
        .args([
            "run",
            AGENT,
            "--run-id",
            "nightly-2026-01-15",
            "--input",
            "{\"n\":1}",
        ])
        .assert()
        .success();
    assert_eq!(env.fake.runs().len(), 2, "replayed, not started again");
}

#[test]
fn trigger_retries_a_503_with_the_same_key() {
    let env = with_agent(json!({}));
    env.fake.script_runs(AGENT, RunScript::default());
    env.fake.inject(Fault::status(TRIGGER, 503).times(1));
    let started = Instant::now();
    let out = remote(&env)
        .args(["run", AGENT, "--run-id", "k-503"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(started.elapsed() >= ms(500), "waited before retrying");
    let posts = env.fake.requests_to("POST", TRIGGER);
    assert_eq!(posts.len(), 2);
    assert!(
        posts
            .iter()
            .all(|p| p.header("idempotency-key") == Some("k-503"))
    );
    assert_eq!(env.fake.runs().len(), 1);
}

#[test]
fn trigger_gives_up_after_three_gateway_errors() {
    let env = with_agent(json!({}));
    env.fake.inject(Fault::status(TRIGGER, 502));
    let out = remote(&env).args(["run", AGENT]).output().expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(env.fake.requests_to("POST", TRIGGER).len(), 3);
    assert!(
        stderr(&out).contains(
            "Trigger failed: 502 Bad Gateway\nhint: the instance kept failing after 3 attempts"
        ),
        "{}",
        stderr(&out)
    );
}

#[test]
fn idempotency_refusals_are_explained() {
    let env = with_agent(json!({}));
    env.fake.script_runs(AGENT, RunScript::default());
    // The platform answers 409 while the first request with a key is in flight.
    env.fake.inject(
        Fault::problem(
            TRIGGER,
            409,
            "idempotency_in_progress",
            "A request with this idempotency key is currently being processed. Retry later.",
        )
        .times(1),
    );
    let out = remote(&env)
        .args(["run", AGENT, "--run-id", "dup-1"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out).trim_end(),
        "error: Trigger failed: 409 Conflict: A request with this idempotency key is currently being processed. Retry later.\nhint: a run with the id dup-1 is still being created: wait and retry, or pass a new --run-id"
    );
    assert_eq!(env.fake.requests_to("POST", TRIGGER).len(), 1, "no retry");

    // A run id reused with another input.
    remote(&env)
        .args(["run", AGENT, "--run-id", "dup-2", "--input", "{\"n\":1}"])
        .assert()
        .success();
    let out = remote(&env)
        .args(["run", AGENT, "--run-id", "dup-2", "--input", "{\"n\":2}"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("idempotency key was already used with a different request body.\nhint: the run id dup-2 was already used with a different input: pass a new --run-id"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn unknown_agent_says_where_to_look() {
    let env = with_agent(json!({}));
    let out = remote(&env)
        .args(["run", "@acme/nope"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let se = stderr(&out);
    assert!(
        se.starts_with("error: Trigger failed: 404 Not Found"),
        "{se}"
    );
    assert!(
        se.contains(&format!(
            "\nhint: is @acme/nope installed in this application on {}? List agents with `appstrate api GET /api/agents`",
            env.fake.url()
        )),
        "{se}"
    );
}

#[test]
fn invalid_input_shows_the_server_message() {
    let env = with_agent(json!({"input": {"schema": {
        "type": "object", "properties": {"topic": {"type": "string"}}, "required": ["topic"]}}}));
    env.fake.script_runs(AGENT, RunScript::default());
    let out = remote(&env).args(["run", AGENT]).output().expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let se = stderr(&out);
    assert!(
        se.starts_with("error: Trigger failed: 400 Bad Request: "),
        "{se}"
    );
    assert!(se.contains("must have required property 'topic'"), "{se}");
    assert!(
        se.contains("\nhint: check --input against the agent's input schema"),
        "{se}"
    );
    assert!(env.fake.runs().is_empty());
}

#[test]
fn api_key_instead_of_a_profile() {
    let env = with_agent(json!({}));
    env.fake.script_runs(AGENT, RunScript::default());
    let key = env.fake.add_api_key(&env.user, &env.acme, &env.acme_main);
    let empty_home = tempfile::tempdir().expect("home");
    let run = |with_flag: bool| {
        let mut cmd = remote(&env);
        cmd.env("HOME", empty_home.path())
            .env("XDG_CONFIG_HOME", empty_home.path().join("config"))
            .env("APPSTRATE_INSTANCE", env.fake.url())
            .env("APPSTRATE_APP_ID", &env.acme_main)
            .args(["run", AGENT, "--json"]);
        if with_flag {
            cmd.args(["--api-key", &key]);
        } else {
            cmd.env("APPSTRATE_API_KEY", &key);
        }
        cmd.output().expect("runs")
    };
    for with_flag in [true, false] {
        let out = run(with_flag);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        let (so, se) = (stdout(&out), stderr(&out));
        assert!(
            !so.contains(&key) && !se.contains(&key),
            "the key is never printed"
        );
        assert_eq!(
            json_lines(&so).last().expect("finalize")["result"]["status"],
            "success"
        );
    }
    let posts = env.fake.requests_to("POST", TRIGGER);
    assert_eq!(posts.len(), 2);
    for post in posts {
        assert_eq!(
            post.header("authorization"),
            Some(format!("Bearer {key}").as_str())
        );
    }

    // A revoked key: the 401 is explained, the key still never shown.
    env.fake.revoke_api_key(&key);
    let out = run(true);
    assert_eq!(out.status.code(), Some(1));
    let se = stderr(&out);
    assert!(se.starts_with("error: Trigger failed: 401"), "{se}");
    assert!(!se.contains(&key));
}

#[test]
fn no_credentials_at_all_is_one_clear_line() {
    let env = with_agent(json!({}));
    let empty_home = tempfile::tempdir().expect("home");
    let out = remote(&env)
        .env("HOME", empty_home.path())
        .env("XDG_CONFIG_HOME", empty_home.path().join("config"))
        .args(["run", AGENT])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(4));
    assert!(
        stderr(&out).contains("run `appstrate login`, or pass --api-key"),
        "{}",
        stderr(&out)
    );
}

// ── signals ─────────────────────────────────────────────────────────────

/// Starts a held run (it never ends by itself) with stdin not a terminal
/// and waits until the run exists and the first row was printed.
fn start_held(
    env: &SignedIn,
    extra: &[&str],
) -> (Child, String, BufReader<std::process::ChildStdout>) {
    env.fake.script_runs(
        AGENT,
        RunScript::success(None)
            .progress(ms(0), "Turn 1", None)
            .hold(),
    );
    let mut cmd = env.std_cmd();
    cmd.env("APPSTRATE_REMOTE_POLL_MS", FAST_POLL)
        .env("NO_COLOR", "1")
        .args(["run", AGENT])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn");
    let mut reader = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    reader.read_line(&mut line).expect("first line");
    let run_id = env.fake.runs().pop().expect("run started").id;
    (child, run_id, reader)
}

fn signal(child: &Child, name: &str) {
    let status = Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
}

fn finish(
    mut child: Child,
    mut reader: BufReader<std::process::ChildStdout>,
) -> (i32, String, String) {
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut reader, &mut rest).expect("stdout");
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        std::io::Read::read_to_string(&mut e, &mut err).expect("stderr");
    }
    let status = child.wait().expect("exit");
    (status.code().unwrap_or(-1), rest, err)
}

#[test]
fn sigint_cancels_when_asked_to() {
    let env = with_agent(json!({}));
    let (child, run_id, reader) = start_held(&env, &["--cancel-on-exit"]);
    signal(&child, "INT");
    let (code, so, se) = finish(child, reader);
    assert_eq!(code, 130, "stdout:\n{so}\nstderr:\n{se}");
    assert!(
        se.contains("shutdown received, cancelling remote run..."),
        "{se}"
    );
    assert_eq!(
        env.fake
            .count("POST", &format!("/api/runs/{run_id}/cancel")),
        1
    );
    assert_eq!(env.fake.run(&run_id).expect("run").status, "cancelled");
    // Followed to the end: the finalize of the cancelled run is printed.
    assert!(so.contains("\n[run failed] "), "{so}");
}

#[test]
fn sigint_detaches_without_a_terminal() {
    let env = with_agent(json!({}));
    let (child, run_id, reader) = start_held(&env, &[]);
    signal(&child, "INT");
    let (code, so, se) = finish(child, reader);
    assert_eq!(code, 130);
    assert!(
        se.contains(&format!(
            "detached — run {run_id} is still running on {}\n  follow it with: appstrate api GET /api/runs/{run_id}\n",
            env.fake.url()
        )),
        "{se}"
    );
    assert!(!so.contains("[run"), "no finalize: {so}");
    assert_eq!(
        env.fake
            .count("POST", &format!("/api/runs/{run_id}/cancel")),
        0
    );
    assert_eq!(env.fake.run(&run_id).expect("run").status, "running");
}

#[test]
fn sigterm_with_json_detaches_with_a_json_line() {
    let env = with_agent(json!({}));
    let file = env.home.path().join("never.json");
    let out_arg = file.to_str().expect("utf-8").to_string();
    let (child, run_id, reader) = start_held(&env, &["--json", "--output", &out_arg]);
    signal(&child, "TERM");
    let (code, so, _) = finish(child, reader);
    assert_eq!(code, 143);
    let last = json_lines(&so).pop().expect("a line");
    assert_eq!(
        last,
        json!({"type": "appstrate.remote.detached", "runId": run_id, "instance": env.fake.url()})
    );
    assert!(!file.exists(), "no --output on detach");
    assert_eq!(env.fake.run(&run_id).expect("run").status, "running");
}

#[test]
fn no_cancel_on_exit_wins_and_a_second_signal_exits_at_once() {
    let env = with_agent(json!({}));
    let (child, run_id, reader) = start_held(&env, &["--no-cancel-on-exit"]);
    signal(&child, "INT");
    let (code, _, se) = finish(child, reader);
    assert_eq!(code, 130);
    assert!(se.contains("detached — run"), "{se}");
    assert_eq!(
        env.fake
            .count("POST", &format!("/api/runs/{run_id}/cancel")),
        0
    );

    // Cancel that hangs on the server: a second Ctrl-C does not wait for it.
    let (child, run_id, reader) = start_held(&env, &["--cancel-on-exit"]);
    env.fake
        .inject(Fault::stall(&format!("/api/runs/{run_id}/cancel")));
    signal(&child, "INT");
    let deadline = Instant::now() + Duration::from_secs(10);
    while env
        .fake
        .count("POST", &format!("/api/runs/{run_id}/cancel"))
        == 0
    {
        assert!(Instant::now() < deadline, "cancel sent");
        std::thread::sleep(ms(10));
    }
    let second = Instant::now();
    signal(&child, "INT");
    let (code, _, _) = finish(child, reader);
    assert_eq!(code, 130);
    assert!(
        second.elapsed() < Duration::from_secs(2),
        "{:?}",
        second.elapsed()
    );
}

#[test]
fn persistent_record_failures_give_up() {
    let env = with_agent(json!({}));
    let (child, run_id, reader) = start_held(&env, &["--no-cancel-on-exit"]);
    env.fake
        .inject(Fault::status(&format!("/api/runs/{run_id}"), 500));
    let (code, _, se) = finish(child, reader);
    assert_eq!(code, 1);
    assert!(
        se.contains("warn: run record refresh failed (will retry)"),
        "{se}"
    );
    assert!(
        se.contains(&format!(
            "Gave up tailing run {run_id}: the run record could not be fetched after 20 consecutive attempts"
        )),
        "{se}"
    );
}

#[test]
fn ctrl_c_in_a_terminal_cancels_the_run() {
    use expectrl::{Expect, Session};
    let env = with_agent(json!({}));
    env.fake.script_runs(
        AGENT,
        RunScript::success(None)
            .progress(ms(0), "Turn 1", None)
            .hold(),
    );
    let mut cmd = env.std_cmd();
    cmd.args(["run", AGENT])
        .env("TERM", "xterm-256color")
        .env("NO_COLOR", "1")
        .env("APPSTRATE_REMOTE_POLL_MS", FAST_POLL);
    let mut p = Session::spawn(cmd).expect("spawn in a pty");
    p.set_expect_timeout(Some(Duration::from_secs(20)));
    p.expect("→ Turn 1").expect("first row shown");
    p.send("\x03").expect("ctrl-c");
    p.expect("shutdown received, cancelling remote run...")
        .expect("cancelling");
    p.expect("[run failed]").expect("followed to the end");
    p.expect(expectrl::Eof).expect("exits");
    let run = env.fake.runs().pop().expect("run");
    assert_eq!(run.status, "cancelled");
}

// ── figures ─────────────────────────────────────────────────────────────

/// Prints the time to the trigger request and the row → stdout latency at
/// the default poll interval and at a short one (ignored; `cargo nextest run
/// -p appstrate --test it --run-ignored only run_remote::measure_latencies
/// --no-capture` prints the figures).
#[test]
#[ignore]
fn measure_latencies() {
    let env = with_agent(json!({}));
    let mut script = RunScript::success(None);
    for i in 0..8 {
        script = script.progress(ms(400), &format!("step {i}"), None);
    }
    env.fake.script_runs(AGENT, script);
    for poll in [None, Some("20")] {
        let mut cmd = env.std_cmd();
        if let Some(poll) = poll {
            cmd.env("APPSTRATE_REMOTE_POLL_MS", poll);
        }
        let before = env.fake.requests_to("POST", TRIGGER).len();
        let started = Instant::now();
        let mut child = cmd
            .args(["run", AGENT, "--json"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        while env.fake.requests_to("POST", TRIGGER).len() == before {
            std::thread::sleep(Duration::from_micros(200));
        }
        let to_trigger = started.elapsed();
        let reader = BufReader::new(child.stdout.take().expect("stdout"));
        let mut latencies = Vec::new();
        for line in reader.lines() {
            let line = line.expect("line");
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .expect("clock")
                .as_millis() as i64;
            let event: Value = serde_json::from_str(&line).expect("json");
            if event["type"] == "appstrate.progress" {
                latencies.push(now - event["timestamp"].as_i64().expect("ts"));
            }
        }
        child.wait().expect("exit");
        latencies.sort_unstable();
        let mean = latencies.iter().sum::<i64>() as f64 / latencies.len() as f64;
        println!(
            "poll={}: start→trigger {:?}; row→stdout ms: min {} median {} max {} mean {mean:.0} (n={})",
            poll.unwrap_or("default 1500"),
            to_trigger,
            latencies[0],
            latencies[latencies.len() / 2],
            latencies[latencies.len() - 1],
            latencies.len()
        );
    }
}

#[test]
fn a_signal_during_the_trigger_ends_the_command() {
    let env = with_agent(json!({}));
    env.fake.script_runs(AGENT, RunScript::default());
    env.fake
        .inject(Fault::delay(TRIGGER, Duration::from_secs(5)));
    let mut cmd = env.std_cmd();
    let child = cmd
        .args(["run", AGENT])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(10);
    while env.fake.requests_to("POST", TRIGGER).is_empty() {
        assert!(Instant::now() < deadline, "trigger sent");
        std::thread::sleep(ms(5));
    }
    let sent = Instant::now();
    signal(&child, "INT");
    let output = child.wait_with_output().expect("exit");
    assert_eq!(output.status.code(), Some(130));
    assert!(
        sent.elapsed() < Duration::from_secs(3),
        "did not wait for the trigger"
    );
    assert!(!stdout(&output).contains("[run"));
}

#[test]
fn a_burst_larger_than_a_page_is_read_whole_and_once() {
    let env = with_agent(json!({}));
    let mut script = RunScript::success(None);
    for i in 0..2100 {
        script = script.log(Duration::ZERO, "info", &format!("line {i}"));
    }
    env.fake.script_runs(AGENT, script);
    // The burst and the end usually land before tick 0: its log read and
    // the final one must then follow `hasMore` (pages of 1000) to see all.
    let out = env
        .cmd()
        .env("NO_COLOR", "1")
        .env("APPSTRATE_REMOTE_POLL_MS", "1000")
        .args(["run", AGENT, "--json"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let messages: Vec<String> = json_lines(&stdout(&out))
        .into_iter()
        .filter(|e| e["type"] == "log.written")
        .map(|e| e["message"].as_str().unwrap_or("").to_string())
        .collect();
    let expected: Vec<String> = (0..2100).map(|i| format!("line {i}")).collect();
    assert_eq!(messages.len(), 2100);
    assert_eq!(messages, expected);
}
