//! `appstrate run <path>` end to end: the built binary against the scripted
//! model server (`APPSTRATE_LLM_BASE_URL`), real packages, real processes.

use std::path::{Path, PathBuf};
use std::process::Output;

use appstrate_testkit::model_server::{ModelServer, RecordedRequest, Reply};
use serde_json::{Value, json};

use crate::run_common::{RunEnv, fixture, jsonl, output, sequence, stderr, stdout};

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
    fn command(&self, server: Option<&ModelServer>) -> std::process::Command {
        let mut c = self.base_command(server);
        c.env("ANTHROPIC_API_KEY", "sk-test-secret-key");
        c
    }

    async fn run(&self, server: Option<&ModelServer>, args: &[&str]) -> Output {
        let mut c = self.command(server);
        c.arg("run").args(args);
        output(c).await
    }

    /// A package with runtime tools, an input default and an output schema.
    fn tools_package(&self) -> PathBuf {
        let manifest = json!({
            "name": "@test/writer", "version": "1.0.0", "type": "agent",
            "description": "Writes a file then reports",
            "runtime_tools": ["output", "log", "note", "pin"],
            "input": {"schema": {"type": "object", "properties": {
                "topic": {"type": "string", "description": "What to write about", "default": "rust"}
            }}},
            "output": {"schema": {"type": "object", "required": ["summary"], "properties": {"summary": {"type": "string"}}}}
        });
        self.write_package(
            "writer.afps",
            &manifest,
            "Write a file about {{input.topic}}, then call output.\n",
        )
    }
}

/// An `.afps-bundle` whose agent depends on a skill package.
fn skill_bundle(env: &TestEnv) -> PathBuf {
    use appstrate_afps::{ArchiveKind, Bundle, package_from_files};
    let files = |manifest: Value, extra: &[(&str, &str)]| {
        let mut f = std::collections::BTreeMap::new();
        f.insert(
            "manifest.json".to_string(),
            serde_json::to_vec(&manifest).expect("json"),
        );
        for (k, v) in extra {
            f.insert((*k).to_string(), v.as_bytes().to_vec());
        }
        f
    };
    let agent = package_from_files(files(
        json!({"name": "@test/with-skill", "version": "1.0.0", "type": "agent", "dependencies": {"skills": {"@test/helper": "^1.0.0"}}}),
        &[("prompt.md", "Use the helper skill.\n")],
    ))
    .expect("agent package");
    let skill = package_from_files(files(
        json!({"name": "@test/helper", "version": "1.0.0", "type": "skill", "description": "Says hi"}),
        &[("SKILL.md", "---\nname: helper\ndescription: Says hi\n---\nSay hi.\n"), ("scripts/run.sh", "echo helper\n")],
    ))
    .expect("skill package");
    let mut bundle = Bundle {
        format_version: "1.0".into(),
        root: agent.identity.clone(),
        packages: vec![agent, skill],
        integrity: String::new(),
        metadata: None,
        kind: ArchiveKind::AfpsBundle,
    };
    bundle.integrity = bundle.compute_integrity();
    let path = env.path("with-skill.afps-bundle");
    std::fs::write(
        &path,
        appstrate_afps::writer::write_bundle(&bundle).expect("write bundle"),
    )
    .expect("write");
    path
}

/// Anthropic: the tool_result blocks of a request's last message.
fn anthropic_results(r: &RecordedRequest) -> Vec<Value> {
    let msgs = r.body["messages"].as_array().expect("messages");
    msgs.last().expect("last")["content"]
        .as_array()
        .expect("content")
        .iter()
        .filter(|b| b["type"] == "tool_result")
        .cloned()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reference_package_runs_bash_then_stops() {
    let env = TestEnv::new();
    let marker = env.path("ran-in.txt");
    let cmd = format!("echo hi > a.txt && cat a.txt && pwd > {}", marker.display());
    let server = ModelServer::start(vec![
        Reply::call("toolu_01", "bash", json!({"command": cmd})),
        Reply::text("Done."),
    ])
    .await;
    let out_file = env.path("result.json");
    let o = env
        .run(
            Some(&server),
            &[
                fixture("bundle-unsigned.afps").to_str().expect("path"),
                "--json",
                "--run-id",
                "ref_run_001",
                "--input",
                r#"{"topic":"AFPS conformance"}"#,
                "--snapshot",
                fixture("reference-snapshot.json").to_str().expect("path"),
                "--output",
                out_file.to_str().expect("path"),
            ],
        )
        .await;
    assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(&o));
    assert_eq!(stderr(&o), "", "--json keeps stderr quiet");

    // What the model received.
    let reqs = server.requests();
    assert_eq!(reqs.len(), 2);
    let vector = std::fs::read_to_string(fixture("reference.platform-prompt.md")).expect("vector");
    let first = &reqs[0];
    assert_eq!(first.path, "/v1/messages");
    assert_eq!(first.headers["x-api-key"], "sk-test-secret-key");
    assert_eq!(first.headers["anthropic-version"], "2023-06-01");
    assert_eq!(
        first.body["system"][0]["text"].as_str(),
        Some(vector.as_str())
    );
    assert_eq!(
        first.body["messages"][0]["content"][0]["text"].as_str(),
        Some(vector.as_str())
    );
    assert_eq!(first.body["stream"], true);
    let tools: Vec<&str> = first.body["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .map(|t| t["name"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        tools,
        ["read", "bash", "edit", "write", "grep", "find", "ls"]
    );
    let bash = &first.body["tools"][1];
    assert_eq!(bash["input_schema"]["required"], json!(["command"]));
    assert_eq!(
        bash["input_schema"]["properties"]["timeout"]["type"],
        "number"
    );
    let results = anthropic_results(&reqs[1]);
    assert_eq!(results.len(), 1);
    assert_eq!(results[0]["tool_use_id"], "toolu_01");
    assert_eq!(results[0]["is_error"], false);
    assert_eq!(results[0]["content"][0]["text"], "hi\n");
    let assistant = &reqs[1].body["messages"][1];
    assert_eq!(assistant["role"], "assistant");
    assert_eq!(assistant["content"][0]["id"], "toolu_01");
    assert_eq!(assistant["content"][0]["input"]["command"], cmd.as_str());

    // The events.
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
            "appstrate.progress Done.",
            "appstrate.metric",
            "appstrate.finalize",
        ]
    );
    for e in &events[..events.len() - 1] {
        assert_eq!(e["runId"], "ref_run_001");
        assert!(
            e["timestamp"]
                .as_u64()
                .is_some_and(|t| t > 1_700_000_000_000)
        );
    }
    assert_eq!(
        events[3]["data"],
        json!({"tool": "bash", "args": {"command": cmd}, "toolCallId": "toolu_01"})
    );
    assert_eq!(
        events[4]["data"]["result"],
        json!({"content": [{"type": "text", "text": "hi\n"}]})
    );
    assert_eq!(events[4]["data"]["isError"], false);
    assert_eq!(
        events[8]["usage"],
        json!({"input_tokens": 200, "output_tokens": 20, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0})
    );

    // The result, in the file and on the finalize line.
    // The default model's prices: $3 / $15 per million tokens.
    let expected = json!({"memories": [], "output": null, "logs": [], "status": "success", "usage": {"input_tokens": 200, "output_tokens": 20}, "cost": 0.0009});
    assert_eq!(events[9]["result"], expected);
    let written = std::fs::read_to_string(&out_file).expect("--output file");
    assert!(written.ends_with("}\n") && written.contains("\n  \"memories\""));
    assert_eq!(
        serde_json::from_str::<Value>(&written).expect("json"),
        expected
    );

    // The command ran in a temp workspace, which is gone now.
    let ws = std::fs::read_to_string(&marker)
        .expect("marker")
        .trim()
        .to_string();
    assert!(
        Path::new(&ws)
            .file_name()
            .expect("name")
            .to_string_lossy()
            .starts_with("appstrate-run-"),
        "{ws}"
    );
    assert!(!Path::new(&ws).exists(), "workspace {ws} was not removed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bundle_and_signed_package_get_the_platform_prompt() {
    let env = TestEnv::new();
    // The multi-package bundle of the same reference agent.
    let server = ModelServer::start(vec![Reply::text("ok")]).await;
    let o = env
        .run(
            Some(&server),
            &[
                fixture("reference-unsigned.afps-bundle")
                    .to_str()
                    .expect("path"),
                "--json",
                "--run-id",
                "x",
                "--input",
                r#"{"topic":"AFPS conformance"}"#,
                "--snapshot",
                fixture("reference-snapshot.json").to_str().expect("path"),
            ],
        )
        .await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let vector = std::fs::read_to_string(fixture("reference.platform-prompt.md")).expect("vector");
    assert_eq!(
        server.requests()[0].body["system"][0]["text"].as_str(),
        Some(vector.as_str())
    );

    // The signed briefing agent, with input and a snapshot checkpoint.
    let server = ModelServer::start(vec![Reply::text("ok")]).await;
    let o = env
        .run(
            Some(&server),
            &[
                fixture("agent.afps").to_str().expect("path"),
                "--json",
                "--input",
                r#"{"topic":"AI agents in finance","priority":"high","audience":"exec"}"#,
                "--snapshot",
                fixture("briefing-snapshot.json").to_str().expect("path"),
            ],
        )
        .await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let vector = std::fs::read_to_string(fixture("briefing.platform-prompt.md")).expect("vector");
    assert_eq!(
        server.requests()[0].body["system"][0]["text"].as_str(),
        Some(vector.as_str())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bundle_skills_are_materialised_in_the_workspace() {
    let env = TestEnv::new();
    let bundle = skill_bundle(&env);
    let server = ModelServer::start(vec![
        Reply::call("t", "bash", json!({"command": "cat .pi/skills/@test/helper/SKILL.md; sh .pi/skills/@test/helper/scripts/run.sh; ls .pi/skills/@test/helper"})),
        Reply::text("ok"),
    ])
    .await;
    let o = env
        .run(Some(&server), &[bundle.to_str().expect("path"), "--json"])
        .await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let reqs = server.requests();
    let system = reqs[0].body["system"][0]["text"].as_str().expect("system");
    assert!(system.contains("### Skills"), "{system}");
    let results = anthropic_results(&reqs[1]);
    assert_eq!(
        results[0]["content"][0]["text"],
        "---\nname: helper\ndescription: Says hi\n---\nSay hi.\nhelper\nSKILL.md\nmanifest.json\nscripts\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_runtime_tools_output_ends_the_run() {
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
    let mut c = env.command(Some(&server));
    c.env_remove("ANTHROPIC_API_KEY")
        .env("OPENAI_API_KEY", "sk-openai-test");
    c.args([
        "run",
        pkg.to_str().expect("path"),
        "--model-api",
        "openai-completions",
        "--model",
        "gpt-test",
        "--json",
        "--run-id",
        "run_42",
        "--output",
        out_file.to_str().expect("path"),
    ]);
    let o = tokio::task::spawn_blocking(move || c.output().expect("run"))
        .await
        .expect("join");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));

    let reqs = server.requests();
    assert_eq!(reqs.len(), 2, "the run stops after a valid output");
    let first = &reqs[0];
    assert_eq!(first.path, "/chat/completions");
    assert_eq!(first.headers["authorization"], "Bearer sk-openai-test");
    assert_eq!(first.body["model"], "gpt-test");
    assert_eq!(first.body["stream_options"], json!({"include_usage": true}));
    let prompt = first.body["messages"][0]["content"]
        .as_str()
        .expect("system");
    assert!(
        prompt.contains("- **topic** (string, optional): What to write about — `rust`"),
        "input default rendered: {prompt}"
    );
    assert!(prompt.ends_with("---\n\nWrite a file about {{input.topic}}, then call output.\n"));
    assert_eq!(
        first.body["messages"][1],
        json!({"role": "user", "content": prompt})
    );
    let tools: Vec<&str> = first.body["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .map(|t| t["function"]["name"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        tools,
        [
            "read", "bash", "edit", "write", "grep", "find", "ls", "output", "log", "note", "pin"
        ]
    );
    assert_eq!(
        first.body["tools"][7]["function"]["parameters"]["properties"]["data"]["required"],
        json!(["summary"])
    );
    let msgs = reqs[1].body["messages"].as_array().expect("messages");
    assert_eq!(msgs[2]["tool_calls"][0]["id"], "call_1");
    assert_eq!(
        msgs[3],
        json!({"role": "tool", "tool_call_id": "call_1", "content": "about run_42"})
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
    let emitted = &events[8];
    let keys: Vec<&String> = emitted.as_object().expect("object").keys().collect();
    assert_eq!(keys, ["timestamp", "runId", "type", "data"]);
    assert_eq!(emitted["data"], json!({"summary": "wrote note.txt"}));
    assert_eq!(emitted["runId"], "run_42");
    let result: Value =
        serde_json::from_str(&std::fs::read_to_string(&out_file).expect("result")).expect("json");
    assert_eq!(
        result,
        json!({"memories": [], "output": {"summary": "wrote note.txt"}, "logs": [], "status": "success", "usage": {"input_tokens": 200, "output_tokens": 20}, "cost": 0.0})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_validation_failure_then_valid_retry_and_other_runtime_tools() {
    let env = TestEnv::new();
    let pkg = env.tools_package();
    let server = ModelServer::start(vec![
        Reply::calls(&[
            ("t1", "note", r#"{"content":"keep this"}"#),
            ("t2", "log", r#"{"level":"info","message":"working"}"#),
            ("t3", "pin", r#"{"key":"checkpoint","content":{"n":1}}"#),
            ("t4", "output", r#"{"data":{"summary":42}}"#),
        ]),
        Reply::call("t5", "output", json!({"data": {"summary": "fixed"}})),
    ])
    .await;
    let out_file = env.path("r.json");
    let o = env
        .run(
            Some(&server),
            &[
                pkg.to_str().expect("path"),
                "--json",
                "--output",
                out_file.to_str().expect("path"),
            ],
        )
        .await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let reqs = server.requests();
    assert_eq!(reqs.len(), 2);
    let results = anthropic_results(&reqs[1]);
    let ids: Vec<&str> = results
        .iter()
        .map(|r| r["tool_use_id"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(ids, ["t1", "t2", "t3", "t4"], "results in call order");
    assert_eq!(results[3]["is_error"], true);
    assert_eq!(
        results[3]["content"][0]["text"],
        "Output validation failed:\n  - /summary 42 is not of type \"string\"\n\nPlease call output() again with all required fields correctly typed."
    );
    let result: Value =
        serde_json::from_str(&std::fs::read_to_string(&out_file).expect("result")).expect("json");
    assert_eq!(result["output"], json!({"summary": "fixed"}));
    assert_eq!(result["memories"], json!([{"content": "keep this"}]));
    assert_eq!(
        result["pinned"],
        json!({"checkpoint": {"content": {"n": 1}}})
    );
    assert_eq!(result["logs"][0]["message"], "working");
    assert_eq!(result["status"], "success");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_arguments_become_error_results() {
    let env = TestEnv::new();
    let server = ModelServer::start(vec![
        Reply::calls(&[
            ("a", "bash", "{not json"),
            ("b", "bash", r#"{"cmd":"ls"}"#),
            ("c", "nope", "{}"),
        ]),
        Reply::text("giving up"),
    ])
    .await;
    let o = env
        .run(
            Some(&server),
            &[
                fixture("bundle-unsigned.afps").to_str().expect("path"),
                "--json",
            ],
        )
        .await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let results = anthropic_results(&server.requests()[1]);
    assert_eq!(results.len(), 3);
    assert!(results.iter().all(|r| r["is_error"] == true));
    let text = |i: usize| {
        results[i]["content"][0]["text"]
            .as_str()
            .unwrap_or("")
            .to_string()
    };
    assert!(
        text(0).starts_with("Invalid JSON in the arguments of tool \"bash\""),
        "{}",
        text(0)
    );
    assert!(
        text(1).starts_with(
            "Validation failed for tool \"bash\":\n  - root: \"command\" is a required property"
        ),
        "{}",
        text(1)
    );
    assert_eq!(text(2), "Tool nope not found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_calls_run_together_and_answer_in_order() {
    let env = TestEnv::new();
    // `a` can only succeed if `b` runs while `a` waits.
    let wait =
        "for i in $(seq 100); do [ -f b.flag ] && echo saw-b && exit 0; sleep 0.05; done; exit 1";
    let server = ModelServer::start(vec![
        Reply::calls(&[
            ("a", "bash", &json!({"command": wait}).to_string()),
            ("b", "bash", r#"{"command":"touch b.flag && echo made-b"}"#),
        ]),
        Reply::text("done"),
    ])
    .await;
    let o = env
        .run(
            Some(&server),
            &[
                fixture("bundle-unsigned.afps").to_str().expect("path"),
                "--json",
            ],
        )
        .await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let results = anthropic_results(&server.requests()[1]);
    assert_eq!(results[0]["tool_use_id"], "a");
    assert_eq!(results[0]["content"][0]["text"], "saw-b\n");
    assert_eq!(results[1]["tool_use_id"], "b");
    assert_eq!(results[1]["content"][0]["text"], "made-b\n");
    // One end event per call, emitted as each finishes (order not fixed).
    let mut ends: Vec<String> = jsonl(&o)
        .iter()
        .filter(|e| e["message"] == "Tool result: bash")
        .map(|e| e["data"]["toolCallId"].as_str().unwrap_or("").to_string())
        .collect();
    ends.sort();
    assert_eq!(ends, ["a", "b"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bash_timeout_is_reported_to_the_model() {
    let env = TestEnv::new();
    let server = ModelServer::start(vec![
        Reply::call(
            "t",
            "bash",
            json!({"command": "echo begin; sleep 30", "timeout": 1}),
        ),
        Reply::text("ok"),
    ])
    .await;
    let o = env
        .run(
            Some(&server),
            &[
                fixture("bundle-unsigned.afps").to_str().expect("path"),
                "--json",
            ],
        )
        .await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let results = anthropic_results(&server.requests()[1]);
    assert_eq!(results[0]["is_error"], true);
    assert_eq!(
        results[0]["content"][0]["text"],
        "begin\n\n\nCommand timed out after 1 seconds"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_429_with_retry_after_then_succeeds() {
    let env = TestEnv::new();
    let server = ModelServer::start(vec![
        Reply::status(429, Some("0")),
        Reply::status(503, Some("0")),
        Reply::text("fine"),
    ])
    .await;
    let o = env
        .run(
            Some(&server),
            &[fixture("bundle-unsigned.afps").to_str().expect("path")],
        )
        .await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(server.requests().len(), 3);
    let out = stdout(&o);
    assert!(
        out.contains("→ fine\n") && out.ends_with("\n[run complete]\n"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_error_every_time_fails_the_run() {
    let env = TestEnv::new();
    let server = ModelServer::start_with(vec![], Some(Reply::status(500, Some("0")))).await;
    let out_file = env.path("r.json");
    let o = env
        .run(
            Some(&server),
            &[
                fixture("bundle-unsigned.afps").to_str().expect("path"),
                "--output",
                out_file.to_str().expect("path"),
            ],
        )
        .await;
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(server.requests().len(), 5, "one try and four retries");
    let msg = "anthropic returned HTTP 500: scripted HTTP 500";
    assert!(
        stdout(&o).ends_with(&format!("\n[run failed] {msg}\n")),
        "{}",
        stdout(&o)
    );
    assert!(stderr(&o).contains(&format!("⚠ {msg}\n")), "{}", stderr(&o));
    assert!(
        !stderr(&o).contains("sk-test-secret-key") && !stdout(&o).contains("sk-test-secret-key")
    );
    let result: Value =
        serde_json::from_str(&std::fs::read_to_string(&out_file).expect("result")).expect("json");
    assert_eq!(result["status"], "failed");
    assert_eq!(
        result["error"],
        json!({"code": "adapter_error", "message": msg})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_errors_are_not_retried() {
    let env = TestEnv::new();
    let server = ModelServer::start(vec![Reply::Error { status: 401, retry_after: None, body: r#"{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}"#.into() }]).await;
    let o = env
        .run(
            Some(&server),
            &[
                fixture("bundle-unsigned.afps").to_str().expect("path"),
                "-q",
            ],
        )
        .await;
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(server.requests().len(), 1);
    assert!(
        stdout(&o).ends_with("[run failed] anthropic returned HTTP 401: invalid x-api-key\n"),
        "{}",
        stdout(&o)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_stream_is_retried() {
    let env = TestEnv::new();
    let server = ModelServer::start(vec![
        Reply::Cut {
            text: "half a thou".into(),
        },
        Reply::text("whole"),
    ])
    .await;
    let o = env
        .run(
            Some(&server),
            &[
                fixture("bundle-unsigned.afps").to_str().expect("path"),
                "--json",
            ],
        )
        .await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(server.requests().len(), 2);
    let texts: Vec<String> = jsonl(&o)
        .iter()
        .filter(|e| e["data"]["event"] == "assistant_message")
        .map(|e| e["message"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(texts, ["whole"], "the cut message is never shown");

    // With retries off, the cut fails the run.
    let server = ModelServer::start(vec![Reply::Cut {
        text: "half".into(),
    }])
    .await;
    let mut c = env.command(Some(&server));
    c.env("MODEL_RETRY_ENABLED", "false").args([
        "run",
        fixture("bundle-unsigned.afps").to_str().expect("path"),
    ]);
    let o = tokio::task::spawn_blocking(move || c.output().expect("run"))
        .await
        .expect("join");
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o)
            .ends_with("[run failed] the anthropic stream ended before the message was complete\n"),
        "{}",
        stdout(&o)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_tokens_stop_is_flagged() {
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
    let mut c = env.command(Some(&server));
    c.env_remove("ANTHROPIC_API_KEY")
        .env("LLM_API_KEY", "k")
        .args([
            "run",
            fixture("bundle-unsigned.afps").to_str().expect("path"),
            "--model-api",
            "openai-completions",
        ]);
    let o = tokio::task::spawn_blocking(move || c.output().expect("run"))
        .await
        .expect("join");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("⚠ The model stopped at its output limit (max_tokens = 8192)"),
        "{}",
        stderr(&o)
    );
    assert!(
        stdout(&o).contains("∑ tokens in=5 out=8192  $0.1229\n"),
        "{}",
        stdout(&o)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn human_modes_render_tool_calls() {
    let env = TestEnv::new();
    let script = || {
        vec![
            Reply::call(
                "toolu_0123456789",
                "bash",
                json!({"command": "echo one; echo two"}),
            ),
            Reply::text("bye"),
        ]
    };
    let server = ModelServer::start(script()).await;
    let o = env
        .run(
            Some(&server),
            &[fixture("bundle-unsigned.afps").to_str().expect("path")],
        )
        .await;
    let out = stdout(&o);
    assert!(out.starts_with("→ runtime ready in "), "{out}");
    let body = out.split_once('\n').expect("line").1;
    assert_eq!(
        body,
        "∑ tokens in=100 out=10  $0.0004\n→ Turn 1 — 100 context tokens, 10 generated\n→ tool: bash #23456789\n  args  command: echo one; echo two\n✓ result #23456789 one ↵ two ↵ \n∑ tokens in=200 out=20  $0.0009\n→ Turn 2 — 100 context tokens, 10 generated\n→ bye\n∑ tokens in=200 out=20  $0.0009\n\n[run complete]\n"
    );
    assert_eq!(stderr(&o), "→ running bundle-unsigned.afps\n");
    let server = ModelServer::start(script()).await;
    let o = env
        .run(
            Some(&server),
            &[
                fixture("bundle-unsigned.afps").to_str().expect("path"),
                "-q",
            ],
        )
        .await;
    assert!(!stdout(&o).contains("→ tool"), "{}", stdout(&o));
    let server = ModelServer::start(script()).await;
    let o = env
        .run(
            Some(&server),
            &[
                fixture("bundle-unsigned.afps").to_str().expect("path"),
                "-v",
            ],
        )
        .await;
    assert!(stdout(&o).contains("  args  {\n          \"command\": \"echo one; echo two\"\n        }\n✓ result #23456789 one\n         two\n         \n"), "{}", stdout(&o));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_kills_tools_removes_workspace_and_exits_130() {
    let env = TestEnv::new();
    let pgid_file = env.path("pgid");
    let ws_file = env.path("ws");
    let cmd = format!(
        "pwd > {ws}; sleep 60 & echo $$ > {pg}.tmp; mv {pg}.tmp {pg}; wait",
        ws = ws_file.display(),
        pg = pgid_file.display()
    );
    let server = ModelServer::start(vec![
        Reply::call("t", "bash", json!({"command": cmd})),
        Reply::text("never"),
    ])
    .await;
    let mut c = env.command(Some(&server));
    c.args([
        "run",
        fixture("bundle-unsigned.afps").to_str().expect("path"),
    ])
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped());
    let child = c.spawn().expect("spawn");
    let pid = child.id();
    let pgid_path = pgid_file.clone();
    let o = tokio::task::spawn_blocking(move || {
        for _ in 0..200 {
            if pgid_path.exists() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let _ = std::process::Command::new("kill")
            .args(["-INT", &pid.to_string()])
            .status();
        child.wait_with_output().expect("wait")
    })
    .await
    .expect("join");
    assert_eq!(o.status.code(), Some(130), "stderr: {}", stderr(&o));
    assert!(
        stderr(&o).contains("shutdown received, cancelling run..."),
        "{}",
        stderr(&o)
    );
    assert!(!stdout(&o).contains("[run"), "no finalize after an abort");
    let pgid = std::fs::read_to_string(&pgid_file)
        .expect("pgid")
        .trim()
        .to_string();
    let mut alive = true;
    for _ in 0..100 {
        alive = group_alive(&pgid);
        if !alive {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(!alive, "processes of group {pgid} survived");
    let ws = std::fs::read_to_string(&ws_file)
        .expect("ws")
        .trim()
        .to_string();
    assert!(!Path::new(&ws).exists(), "workspace {ws} was not removed");
    assert_eq!(server.requests().len(), 1);
}

/// Arguments, extra environment, the start of the expected error line.
type ErrorCase = (Vec<String>, Vec<(&'static str, &'static str)>, &'static str);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_errors_are_one_line_with_their_exit_code() {
    let env = TestEnv::new();
    let garbage = env.path("garbage.afps");
    std::fs::write(&garbage, b"not a zip").expect("write");
    let pkg = fixture("bundle-unsigned.afps");
    let pkg = pkg.to_str().expect("path");
    // Bad files and a missing key exit 1; a bad flag value is a usage
    // error, exit 2 (README "Exit codes and errors").
    let cases: Vec<(i32, ErrorCase)> = vec![
        (
            1,
            (
                vec!["/nonexistent/x.afps".into()],
                vec![],
                "Bundle not found: /nonexistent/x.afps",
            ),
        ),
        (
            1,
            (
                vec![garbage.to_string_lossy().into_owned()],
                vec![],
                "Invalid package ",
            ),
        ),
        (
            2,
            (
                vec![pkg.into(), "--input".into(), "[1]".into()],
                vec![],
                "--input must be a JSON object",
            ),
        ),
        (
            2,
            (
                vec![pkg.into(), "--input".into(), "{".into()],
                vec![],
                "--input is not valid JSON",
            ),
        ),
        (
            2,
            (
                vec![pkg.into(), "--model-api".into(), "bogus".into()],
                vec![],
                "Unknown --model-api \"bogus\" — use one of: anthropic-messages, openai-completions, openai-responses, mistral-conversations",
            ),
        ),
        (
            1,
            (
                vec![pkg.into()],
                vec![("ANTHROPIC_API_KEY", "")],
                "No LLM API key resolved for provider anthropic — pass --llm-api-key or set one of: ANTHROPIC_API_KEY, APPSTRATE_LLM_API_KEY, LLM_API_KEY",
            ),
        ),
    ];
    for (code, (args, envs, expected)) in cases {
        let mut c = env.command(None);
        c.arg("run").args(&args);
        for (k, v) in envs {
            c.env(k, v);
        }
        let o = c.output().expect("run");
        assert_eq!(o.status.code(), Some(code), "{args:?}");
        let err = stderr(&o);
        assert!(
            err.starts_with(&format!("error: {expected}")),
            "{args:?}: {err}"
        );
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(stdout(&o).is_empty());
    }
    // Conflicting flags (`-v -q`) are usage errors, exit 2:
    // run_platform::flags_are_checked_against_the_mode_before_anything_else.
}

/// Whether any live (non-zombie) process belongs to process group `pgid`.
fn group_alive(pgid: &str) -> bool {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return false;
    };
    entries.filter_map(Result::ok).any(|e| {
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
            return false;
        };
        // Fields after the command name: state ppid pgrp …
        let rest: Vec<&str> = stat
            .rsplit_once(')')
            .map(|(_, r)| r.split_whitespace().collect())
            .unwrap_or_default();
        rest.len() > 2 && rest[0] != "Z" && rest[2] == pgid
    })
}
