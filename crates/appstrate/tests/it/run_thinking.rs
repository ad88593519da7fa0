//! Thinking levels through the binary: `--thinking` reaching the model
//! request, nothing for a model that does not reason, the thinking streamed
//! as `appstrate.thinking.delta` events and as dimmed console text (hidden
//! by `-q`), and Responses reasoning items handed back across turns.

use std::path::PathBuf;
use std::process::Output;

use appstrate_testkit::model_server::{ModelServer, Reply};
use serde_json::{Value, json};

use crate::run_common::{RunEnv, jsonl, output, stderr, stdout};

const THOUGHT: &str = "Plan: read the notes, then answer.";

struct Env {
    run: RunEnv,
    package: PathBuf,
}

impl Env {
    fn new() -> Env {
        let run = RunEnv::new();
        let package = run.write_package(
            "thinker.afps",
            &json!({"name": "@test/thinker", "version": "1.0.0", "type": "agent"}),
            "Think, then answer.\n",
        );
        Env { run, package }
    }

    /// `appstrate run <package> <args>` against `server`, with `extra`
    /// variables set and `removed` ones unset.
    async fn run(
        &self,
        server: &ModelServer,
        args: &[&str],
        extra: &[(&str, &str)],
        removed: &[&str],
    ) -> Output {
        let mut c = self.run.base_command(Some(server));
        c.env("ANTHROPIC_API_KEY", "sk-ant-test")
            .env("OPENAI_API_KEY", "sk-openai-test");
        for (k, v) in extra {
            c.env(k, v);
        }
        for k in removed {
            c.env_remove(k);
        }
        c.arg("run")
            .arg(&self.package)
            .args(args)
            .arg("--report")
            .arg("false");
        output(c).await
    }
}

fn thinking_turns(n: usize) -> Vec<Reply> {
    (0..n)
        .map(|_| Reply::thinking(THOUGHT, Reply::text("The answer.")))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_level_reaches_reasoning_models_only() {
    let env = Env::new();
    let server = ModelServer::start_with(vec![], Some(Reply::text("ok"))).await;
    let runs: [&[&str]; 4] = [
        &[],
        &["--thinking", "minimal"],
        &["--thinking", "off"],
        &["--model", "claude-3-5-haiku-latest", "--thinking", "high"],
    ];
    for args in runs {
        let o = env.run(&server, args, &[], &[]).await;
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", stderr(&o));
    }
    let bodies: Vec<Value> = server.requests().into_iter().map(|r| r.body).collect();
    // The default level is medium; claude-sonnet-4-5 (the default model) reasons.
    assert_eq!(
        bodies[0]["thinking"],
        json!({"type": "enabled", "budget_tokens": 4096})
    );
    assert_eq!(
        bodies[1]["thinking"],
        json!({"type": "enabled", "budget_tokens": 1024})
    );
    assert!(bodies[2].get("thinking").is_none(), "off sends nothing");
    assert!(
        bodies[3].get("thinking").is_none(),
        "a model that does not reason gets no thinking field"
    );
    assert_eq!(bodies[3]["model"], json!("claude-3-5-haiku-latest"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thinking_streams_as_events_and_dimmed_console_text() {
    let env = Env::new();
    let server = ModelServer::start(thinking_turns(4)).await;

    // --json: the deltas, in pieces, before the turn's own events.
    let o = env.run(&server, &["--json"], &[], &[]).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let events = jsonl(&o);
    let deltas: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "appstrate.thinking.delta")
        .collect();
    assert!(deltas.len() > 1, "streamed in pieces: {deltas:?}");
    let text: String = deltas.iter().filter_map(|e| e["delta"].as_str()).collect();
    assert_eq!(text, THOUGHT);
    assert!(deltas.iter().all(|e| e["runId"].is_string()));
    let first_metric = events
        .iter()
        .position(|e| e["type"] == "appstrate.metric")
        .expect("metric");
    let last_delta = events
        .iter()
        .rposition(|e| e["type"] == "appstrate.thinking.delta")
        .expect("delta");
    assert!(
        last_delta < first_metric,
        "thinking comes before the turn ends"
    );

    // The console, no colour (NO_COLOR is set): the thought on its own line.
    let o = env.run(&server, &[], &[], &[]).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains(&format!("\n{THOUGHT}\n∑ tokens in=100 out=10")),
        "{out}"
    );

    // Forced colour: every piece of the thought is dimmed.
    let o = env
        .run(&server, &[], &[("FORCE_COLOR", "1")], &["NO_COLOR"])
        .await;
    let out = stdout(&o);
    let joined = out.replace("\x1b[0m\x1b[2m", "");
    assert!(
        joined.contains(&format!("\x1b[2m{THOUGHT}\x1b[0m\n")),
        "{out:?}"
    );

    // -q hides it.
    let o = env.run(&server, &["-q"], &[], &[]).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(!out.contains("Plan:"), "{out}");
    assert!(out.contains("→ The answer."), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn responses_reasoning_items_go_back_on_the_next_turn() {
    let env = Env::new();
    let call = Reply::call("call_1", "ls", json!({"path": "."}));
    let server =
        ModelServer::start(vec![Reply::thinking(THOUGHT, call), Reply::text("Done.")]).await;
    let args = [
        "--model-api",
        "openai-responses",
        "--model",
        "gpt-5",
        "--thinking",
        "high",
    ];
    let o = env.run(&server, &args, &[], &[]).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    for r in &requests {
        assert_eq!(
            r.body["reasoning"],
            json!({"effort": "high", "summary": "auto"})
        );
        assert_eq!(r.body["include"], json!(["reasoning.encrypted_content"]));
    }
    let input = requests[1].body["input"].as_array().expect("input");
    let kinds: Vec<&str> = input
        .iter()
        .map(|i| i["type"].as_str().unwrap_or("user"))
        .collect();
    assert_eq!(
        kinds,
        ["user", "reasoning", "function_call", "function_call_output"]
    );
    assert_eq!(
        input[1],
        json!({"id": "rs_1_0", "type": "reasoning", "summary": [{"type": "summary_text", "text": THOUGHT}], "encrypted_content": "enc_1"})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_level_is_a_usage_error() {
    let env = Env::new();
    let server = ModelServer::start(vec![]).await;
    let o = env.run(&server, &["--thinking", "extreme"], &[], &[]).await;
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("use one of: off, minimal, low, medium, high, xhigh, max"),
        "{}",
        stderr(&o)
    );
    assert!(server.requests().is_empty());
}
