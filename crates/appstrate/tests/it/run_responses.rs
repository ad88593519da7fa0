//! `appstrate run <path> --model-api openai-responses` end to end: the built
//! binary against the scripted model server speaking the OpenAI Responses
//! streaming protocol (`APPSTRATE_LLM_BASE_URL`), real packages, real processes.

use std::path::Path;
use std::process::Output;

use appstrate_testkit::model_server::{ModelServer, RecordedRequest, Reply, ScriptedCall};
use serde_json::{Value, json};

const KEY: &str = "sk-openai-responses-secret-42";

use crate::run_common::{RunEnv, fixture_arg as fixture, jsonl, output, sequence, stderr, stdout};

/// The shared `RunEnv` with the commands this file drives (a local type:
/// every test module is in one crate, so inherent methods would collide).
struct TestEnv(RunEnv);

impl std::ops::Deref for TestEnv {
    type Target = RunEnv;
    fn deref(&self) -> &RunEnv {
        &self.0
    }
}

impl TestEnv {
    fn new() -> Self {
        Self(RunEnv::new())
    }
    /// `appstrate run <args> --model-api openai-responses --model gpt-test`
    /// with only `OPENAI_API_KEY` set.
    async fn run(&self, server: &ModelServer, args: &[&str]) -> Output {
        let mut c = self.base_command(Some(server));
        c.env("OPENAI_API_KEY", KEY).arg("run").args(args).args([
            "--model-api",
            "openai-responses",
            "--model",
            "gpt-test",
        ]);
        output(c).await
    }

    /// A package with runtime tools and an output schema.
    fn tools_package(&self) -> String {
        let manifest = json!({
            "name": "@test/writer", "version": "1.0.0", "type": "agent",
            "description": "Writes a file then reports",
            "runtime_tools": ["output", "log", "note", "pin"],
            "output": {"schema": {"type": "object", "required": ["summary"], "properties": {"summary": {"type": "string"}}}}
        });
        let path = self.write_package(
            "writer.afps",
            &manifest,
            "Write a file, then call output.\n",
        );
        path.to_str().expect("utf-8 path").to_string()
    }
}

/// The input items of a request with the given `type`.
fn items(r: &RecordedRequest, ty: &str) -> Vec<Value> {
    r.body["input"]
        .as_array()
        .expect("input")
        .iter()
        .filter(|i| i["type"] == ty)
        .cloned()
        .collect()
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("read")).expect("json")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_answer_with_the_exact_prompt_and_cached_usage() {
    let env = TestEnv::new();
    let server = ModelServer::start(vec![Reply::Turn {
        text: Some("Nothing to do — all good.".into()),
        calls: vec![],
        max_tokens: false,
        input_tokens: 70,
        output_tokens: 12,
        cached_tokens: 30,
    }])
    .await;
    let out_file = env.path("result.json");
    let o = env
        .run(
            &server,
            &[
                &fixture("bundle-unsigned.afps"),
                "--json",
                "--input",
                r#"{"topic":"AFPS conformance"}"#,
                "--snapshot",
                &fixture("reference-snapshot.json"),
                "--output",
                out_file.to_str().expect("path"),
            ],
        )
        .await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stderr(&o), "");

    let reqs = server.requests();
    assert_eq!(reqs.len(), 1);
    let r = &reqs[0];
    assert_eq!(r.path, "/responses");
    assert_eq!(r.headers["authorization"], format!("Bearer {KEY}").as_str());
    assert_eq!(r.body["model"], "gpt-test");
    assert_eq!(r.body["stream"], true);
    assert_eq!(r.body["store"], false);
    assert_eq!(r.body["max_output_tokens"], 8192);
    // The platform prompt, byte for byte, as instructions and first message.
    let vector = std::fs::read_to_string(fixture("reference.platform-prompt.md")).expect("vector");
    assert_eq!(r.body["instructions"].as_str(), Some(vector.as_str()));
    assert_eq!(
        r.body["input"],
        json!([{"role": "user", "content": [{"type": "input_text", "text": vector}]}])
    );
    let tools = r.body["tools"].as_array().expect("tools");
    let names: Vec<&str> = tools
        .iter()
        .map(|t| t["name"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        names,
        ["read", "bash", "edit", "write", "grep", "find", "ls"]
    );
    assert!(
        tools
            .iter()
            .all(|t| t["type"] == "function" && t["strict"] == false)
    );
    assert_eq!(tools[1]["parameters"]["required"], json!(["command"]));

    let events = jsonl(&o);
    assert_eq!(
        sequence(&events),
        [
            "appstrate.progress runtime ready",
            "appstrate.metric",
            "appstrate.progress Turn 1 — 100 context tokens, 12 generated",
            "appstrate.progress Nothing to do — all good.",
            "appstrate.metric",
            "appstrate.finalize",
        ]
    );
    assert_eq!(events[2]["data"]["cacheReadTokens"], 30);
    let expected = json!({"memories": [], "output": null, "logs": [], "status": "success", "usage": {"input_tokens": 70, "output_tokens": 12, "cache_read_input_tokens": 30}, "cost": 0.0});
    assert_eq!(read_json(&out_file), expected);
    assert_eq!(events[5]["result"], expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tool_round_trip_echoes_call_ids_and_output_ends_the_run() {
    let env = TestEnv::new();
    let pkg = env.tools_package();
    let server = ModelServer::start(vec![
        Reply::call(
            "call_1",
            "bash",
            json!({"command": "printf 'about %s' \"$AGENT_RUN_ID\" > note.txt && cat note.txt"}),
        ),
        Reply::call(
            "call_2",
            "output",
            json!({"data": {"summary": "wrote note.txt"}}),
        ),
        // Never reached: a valid output ends the run.
        Reply::text("unreachable"),
    ])
    .await;
    let out_file = env.path("result.json");
    let o = env
        .run(
            &server,
            &[
                &pkg,
                "--json",
                "--run-id",
                "run_42",
                "--output",
                out_file.to_str().expect("path"),
            ],
        )
        .await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));

    let reqs = server.requests();
    assert_eq!(reqs.len(), 2, "the run stops after a valid output");
    let names: Vec<&str> = reqs[0].body["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .map(|t| t["name"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        names,
        [
            "read", "bash", "edit", "write", "grep", "find", "ls", "output", "log", "note", "pin"
        ]
    );
    assert_eq!(
        reqs[0].body["tools"][7]["parameters"]["properties"]["data"]["required"],
        json!(["summary"])
    );
    // Turn 2 replays the call and answers it under the same call_id.
    let input = reqs[1].body["input"].as_array().expect("input");
    assert_eq!(input.len(), 3);
    assert_eq!(
        input[1],
        json!({"type": "function_call", "call_id": "call_1", "name": "bash", "arguments": json!({"command": "printf 'about %s' \"$AGENT_RUN_ID\" > note.txt && cat note.txt"}).to_string()})
    );
    assert_eq!(
        input[2],
        json!({"type": "function_call_output", "call_id": "call_1", "output": "about run_42"})
    );

    let events = jsonl(&o);
    assert_eq!(
        sequence(&events),
        [
            "appstrate.progress runtime ready",
            "appstrate.metric",
            "appstrate.progress Turn 1 — 100 context tokens, 10 generated",
            "appstrate.progress Tool: bash",
            "appstrate.progress Tool result: bash",
            "appstrate.metric",
            "appstrate.progress Turn 2 — 100 context tokens, 10 generated",
            "appstrate.progress Tool: output",
            "output.emitted",
            "appstrate.progress Tool result: output",
            "appstrate.metric",
            "appstrate.finalize",
        ]
    );
    assert_eq!(events[3]["data"]["toolCallId"], "call_1");
    assert_eq!(events[8]["data"], json!({"summary": "wrote note.txt"}));
    assert_eq!(
        read_json(&out_file),
        json!({"memories": [], "output": {"summary": "wrote note.txt"}, "logs": [], "status": "success", "usage": {"input_tokens": 200, "output_tokens": 20}, "cost": 0.0})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_calls_run_together_and_answer_in_call_order() {
    let env = TestEnv::new();
    // `a` can only succeed if `b` runs while `a` waits.
    let wait =
        "for i in $(seq 100); do [ -f b.flag ] && echo saw-b && exit 0; sleep 0.05; done; exit 1";
    let server = ModelServer::start(vec![
        Reply::Turn {
            text: Some("Two at once".into()),
            calls: vec![
                ScriptedCall {
                    id: "call_a".into(),
                    name: "bash".into(),
                    arguments: json!({"command": wait}).to_string(),
                },
                ScriptedCall {
                    id: "call_b".into(),
                    name: "bash".into(),
                    arguments: r#"{"command":"touch b.flag && echo made-b"}"#.into(),
                },
            ],
            max_tokens: false,
            input_tokens: 100,
            output_tokens: 10,
            cached_tokens: 0,
        },
        Reply::text("done"),
    ])
    .await;
    let o = env
        .run(&server, &[&fixture("bundle-unsigned.afps"), "--json"])
        .await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let reqs = server.requests();
    assert_eq!(reqs.len(), 2);
    let input = reqs[1].body["input"].as_array().expect("input");
    assert_eq!(
        input[1],
        json!({"type": "message", "role": "assistant", "content": "Two at once"})
    );
    let calls: Vec<Value> = items(&reqs[1], "function_call")
        .iter()
        .map(|c| c["call_id"].clone())
        .collect();
    assert_eq!(calls, [json!("call_a"), json!("call_b")]);
    let outputs = items(&reqs[1], "function_call_output");
    assert_eq!(
        outputs,
        [
            json!({"type": "function_call_output", "call_id": "call_a", "output": "saw-b\n"}),
            json!({"type": "function_call_output", "call_id": "call_b", "output": "made-b\n"}),
        ]
    );
    let texts: Vec<String> = jsonl(&o)
        .iter()
        .filter(|e| e["data"]["event"] == "assistant_message")
        .map(|e| e["message"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(texts, ["Two at once", "done"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_and_server_failures_are_retried() {
    let env = TestEnv::new();
    let server = ModelServer::start(vec![
        Reply::status(429, Some("0")),
        Reply::Failed {
            code: "server_error".into(),
            message: "The server had an error while processing your request.".into(),
        },
        Reply::Cut {
            text: "half a thou".into(),
        },
        Reply::text("fine"),
    ])
    .await;
    let o = env.run(&server, &[&fixture("bundle-unsigned.afps")]).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(server.requests().len(), 4);
    let out = stdout(&o);
    assert!(
        out.contains("→ fine\n") && !out.contains("half") && out.ends_with("\n[run complete]\n"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_output_tokens_is_flagged() {
    let env = TestEnv::new();
    let server = ModelServer::start(vec![Reply::Turn {
        text: Some("trunc".into()),
        calls: vec![],
        max_tokens: true,
        input_tokens: 5,
        output_tokens: 8192,
        cached_tokens: 0,
    }])
    .await;
    let o = env.run(&server, &[&fixture("bundle-unsigned.afps")]).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("⚠ The model stopped at its output limit (max_tokens = 8192)"),
        "{}",
        stderr(&o)
    );
    let out = stdout(&o);
    assert!(out.contains("→ trunc\n"), "{out}");
    assert!(out.contains("∑ tokens in=5 out=8192  $0.0000\n"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_response_fails_the_run_without_retrying() {
    let env = TestEnv::new();
    let cases = [
        (
            Reply::Failed {
                code: "invalid_prompt".into(),
                message: "Invalid prompt: flagged".into(),
            },
            "openai stream error: the response failed: Invalid prompt: flagged (invalid_prompt)",
        ),
        (
            Reply::StreamError {
                code: "context_length_exceeded".into(),
                message: "Your input exceeds the context window of this model.".into(),
            },
            "openai stream error: Your input exceeds the context window of this model. (context_length_exceeded)",
        ),
    ];
    for (reply, msg) in cases {
        let server = ModelServer::start(vec![reply, Reply::text("never")]).await;
        let out_file = env.path("r.json");
        let o = env
            .run(
                &server,
                &[
                    &fixture("bundle-unsigned.afps"),
                    "--output",
                    out_file.to_str().expect("path"),
                ],
            )
            .await;
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
        assert_eq!(server.requests().len(), 1, "{msg}: not retried");
        assert!(
            stdout(&o).ends_with(&format!("\n[run failed] {msg}\n")),
            "{}",
            stdout(&o)
        );
        assert!(stderr(&o).contains(&format!("⚠ {msg}\n")), "{}", stderr(&o));
        let result = read_json(&out_file);
        assert_eq!(result["status"], "failed");
        assert_eq!(
            result["error"],
            json!({"code": "adapter_error", "message": msg})
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_key_is_never_printed() {
    let env = TestEnv::new();
    // A provider that quotes the rejected key back in its error.
    let body = json!({"error": {"message": format!("Incorrect API key provided: {KEY}. You can find your API key at https://platform.openai.com/account/api-keys."), "type": "invalid_request_error", "param": null, "code": "invalid_api_key"}});
    for mode in ["--json", "-v"] {
        let server = ModelServer::start(vec![Reply::Error {
            status: 401,
            retry_after: None,
            body: body.to_string(),
        }])
        .await;
        let o = env
            .run(&server, &[&fixture("bundle-unsigned.afps"), mode])
            .await;
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
        assert_eq!(server.requests().len(), 1, "4xx is not retried");
        let all = format!("{}{}", stdout(&o), stderr(&o));
        assert!(!all.contains(KEY), "{mode}: key printed: {all}");
        assert!(
            all.contains(
                "openai returned HTTP 401: Incorrect API key provided: [REDACTED]. You can find"
            ),
            "{mode}: {all}"
        );
        assert_eq!(
            server.requests()[0].headers["authorization"],
            format!("Bearer {KEY}").as_str()
        );
    }
}
