//! Platform-executed runs on the fake instance: trigger, poll, logs,
//! cancel, lists, idempotency and faults, over real HTTP.

use std::time::{Duration, Instant};

use appstrate_testkit::fake_instance::{FakeInstance, Fault, Role, RunScript, agent_afps};
use serde_json::{Value, json};

struct Reply {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }
}

struct World {
    fake: FakeInstance,
    org: String,
    app: String,
    token: String,
}

fn world() -> World {
    let fake = FakeInstance::start();
    let user = fake.add_user(
        appstrate_testkit::fake_instance::NewUser::new("alice@example.com").name("Alice"),
    );
    let org = fake.add_org(&user, "Acme", "acme", Role::Member);
    let app = fake.add_app(&org, "Default", true);
    let token = fake.issue_session(&user, Some("laptop")).access_token;
    fake.publish_agent(
        &app,
        agent_afps(
            "@acme/agent",
            "1.0.0",
            json!({"input": {"schema": {
                "type": "object",
                "properties": {"topic": {"type": "string"}, "tone": {"type": "string", "default": "dry"}},
                "required": ["topic"],
            }}}),
            "Write about {{topic}}",
        ),
    );
    World {
        fake,
        org,
        app,
        token,
    }
}

impl World {
    fn req(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        reqwest::Client::new()
            .request(method, format!("{}{path}", self.fake.url()))
            .bearer_auth(&self.token)
            .header("x-org-id", &self.org)
            .header("x-application-id", &self.app)
    }
    async fn get(&self, path: &str) -> Reply {
        send(self.req(reqwest::Method::GET, path)).await
    }
    async fn post(&self, path: &str, body: &str, key: Option<&str>) -> Reply {
        let mut request = self
            .req(reqwest::Method::POST, path)
            .header("content-type", "application/json")
            .body(body.to_owned());
        if let Some(key) = key {
            request = request.header("idempotency-key", key);
        }
        send(request).await
    }
}

async fn send(request: reqwest::RequestBuilder) -> Reply {
    let response = request.send().await.expect("sent");
    Reply {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        body: response.bytes().await.expect("body").to_vec(),
    }
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[tokio::test]
async fn a_run_is_triggered_then_logs_arrive_over_time_then_it_ends() {
    let w = world();
    w.fake.script_runs(
        "@acme/agent",
        RunScript::success(Some(json!({"summary": "done"})))
            .progress(
                ms(0),
                "runtime ready in 12ms",
                Some(json!({"bundleLoaded": true})),
            )
            .progress(ms(150), "Turn 1 — 120 context tokens, 30 generated", None)
            .log(ms(50), "warn", "careful")
            .output_row(ms(50), json!({"summary": "done"}))
            .usage(Some(json!({"input_tokens": 120, "output_tokens": 30})))
            .cost(0.0125)
            .end_after(ms(100)),
    );
    let started = w
        .post(
            "/api/agents/@acme/agent/run",
            r#"{"input":{"topic":"rust"}}"#,
            None,
        )
        .await;
    assert_eq!(
        started.status,
        201,
        "{}",
        String::from_utf8_lossy(&started.body)
    );
    let run = started.json();
    let id = run["id"].as_str().expect("id").to_owned();
    assert!(id.starts_with("run_"));
    assert_eq!(run["status"], "running");
    assert_eq!(run["packageId"], "@acme/agent");
    assert_eq!(run["input"], json!({"topic": "rust", "tone": "dry"}));
    assert_eq!(run["version_label"], "1.0.0");
    assert_eq!(run["runOrigin"], "platform");
    assert_eq!(run["runner_kind"], "cli");
    assert_eq!(run["runner_name"], "laptop");
    assert_eq!(run["user_name"], "Alice");
    assert_eq!(run["agent_scope"], "@acme");
    assert_eq!(run["agent_name"], "agent");
    assert_eq!(run["runNumber"], 1);
    assert_eq!(run["result"], Value::Null);

    // Tail with `since`, as the CLI does: rows come in order, ids grow.
    let mut seen: Vec<Value> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut polls = 0;
    while Instant::now() < deadline {
        let since = seen
            .last()
            .map(|r| format!("?since={}", r["id"]))
            .unwrap_or_default();
        let page = w.get(&format!("/api/runs/{id}/logs{since}")).await.json();
        assert_eq!(page["object"], "list");
        seen.extend(page["data"].as_array().expect("rows").iter().cloned());
        polls += 1;
        if seen.iter().any(|r| r["event"] == "run_completed") {
            break;
        }
        tokio::time::sleep(ms(40)).await;
    }
    assert!(
        polls > 2,
        "rows should arrive over time, got all in {polls} polls"
    );
    let events: Vec<String> = seen
        .iter()
        .map(|r| {
            format!(
                "{}/{}",
                r["type"].as_str().unwrap_or(""),
                r["event"].as_str().unwrap_or("")
            )
        })
        .collect();
    assert_eq!(
        events,
        [
            "progress/progress",
            "progress/progress",
            "progress/log",
            "result/output",
            "result/result",
            "system/run_completed"
        ]
    );
    let ids: Vec<u64> = seen.iter().map(|r| r["id"].as_u64().expect("id")).collect();
    assert!(ids.windows(2).all(|p| p[0] < p[1]));
    assert_eq!(seen[0]["runId"], id.as_str());
    assert_eq!(seen[0]["orgId"], w.org.as_str());
    assert_eq!(seen[0]["message"], "runtime ready in 12ms");
    assert_eq!(seen[0]["data"], json!({"bundleLoaded": true}));
    assert_eq!(seen[2]["level"], "warn");
    assert_eq!(seen[3]["data"], json!({"summary": "done"}));
    assert_eq!(seen[4]["data"], json!({"output": {"summary": "done"}}));
    assert_eq!(seen[5]["data"], json!({"runId": id, "status": "success"}));

    let done = w.get(&format!("/api/runs/{id}")).await.json();
    assert_eq!(done["status"], "success");
    assert_eq!(done["result"], json!({"output": {"summary": "done"}}));
    assert_eq!(
        done["token_usage"],
        json!({"input_tokens": 120, "output_tokens": 30})
    );
    assert_eq!(done["cost"], 0.0125);
    assert!(done["completed_at"].is_string());
    assert!(done["duration"].as_u64().is_some_and(|d| d >= 300));
}

#[tokio::test]
async fn wait_long_polls_until_terminal() {
    let w = world();
    w.fake
        .script_runs("@acme/agent", RunScript::success(None).end_after(ms(300)));
    let id = w
        .post(
            "/api/agents/@acme/agent/run",
            r#"{"input":{"topic":"x"}}"#,
            None,
        )
        .await
        .json()["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let started = Instant::now();
    let run = w.get(&format!("/api/runs/{id}?wait=5")).await.json();
    assert_eq!(run["status"], "success");
    assert!(started.elapsed() >= ms(200));
    let bad = w.get(&format!("/api/runs/{id}?wait=soon")).await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.json()["param"], "wait");
    assert_eq!(w.get("/api/runs/run_nope").await.status, 404);
}

#[tokio::test]
async fn zero_token_success_is_recorded_as_failed_like_the_platform() {
    let w = world();
    w.fake.script_runs(
        "@acme/agent",
        RunScript::success(Some(json!({"a": 1}))).usage(None),
    );
    let id = w
        .post(
            "/api/agents/@acme/agent/run",
            r#"{"input":{"topic":"x"}}"#,
            None,
        )
        .await
        .json()["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let run = w
        .fake
        .wait_for_run(&id, Duration::from_secs(5))
        .expect("run");
    assert_eq!(run.status, "failed");
    assert!(
        run.error
            .unwrap_or_default()
            .contains("could not reach the LLM API")
    );
}

#[tokio::test]
async fn input_is_validated_and_versions_are_resolved() {
    let w = world();
    let missing = w.post("/api/agents/@acme/agent/run", "", None).await;
    assert_eq!(missing.status, 400);
    let problem = missing.json();
    assert_eq!(problem["code"], "validation_failed");
    assert_eq!(
        problem["detail"],
        "input.topic: must have required property 'topic'"
    );
    assert_eq!(problem["errors"][0]["field"], "input.topic");
    let wrong_type = w
        .post(
            "/api/agents/@acme/agent/run",
            r#"{"input":{"topic":3}}"#,
            None,
        )
        .await;
    assert_eq!(wrong_type.json()["detail"], "input.topic: must be string");
    let unknown_key = w
        .post(
            "/api/agents/@acme/agent/run",
            r#"{"input":{"topic":"x"},"bogus":1}"#,
            None,
        )
        .await;
    assert_eq!(unknown_key.status, 400);

    let unknown_version = w
        .post(
            "/api/agents/@acme/agent/run?version=9.0.0",
            r#"{"input":{"topic":"x"}}"#,
            None,
        )
        .await;
    assert_eq!(unknown_version.status, 404);
    assert_eq!(
        w.post("/api/agents/@acme/nope/run", "{}", None)
            .await
            .status,
        404
    );

    // A draft-only agent needs ?version=draft; the draft has no required input.
    w.fake
        .set_draft(&w.app, agent_afps("@acme/drafty", "0.1.0", json!({}), "Hi"));
    let unpublished = w.post("/api/agents/@acme/drafty/run", "", None).await;
    assert_eq!(unpublished.status, 404);
    assert_eq!(unpublished.json()["code"], "no_published_version");
    let draft = w
        .post("/api/agents/@acme/drafty/run?version=draft", "", None)
        .await;
    assert_eq!(draft.status, 201);
    assert_eq!(draft.json()["version_ref"], "draft");
    assert_eq!(draft.json()["version_label"], Value::Null);

    let model = w
        .post(
            "/api/agents/@acme/drafty/run?version=draft",
            r#"{"modelId":"nope"}"#,
            None,
        )
        .await;
    assert_eq!(model.status, 404);
}

#[tokio::test]
async fn idempotency_key_replays_the_same_run_and_refuses_another_body() {
    let w = world();
    let body = r#"{"input":{"topic":"x"}}"#;
    let first = w
        .post("/api/agents/@acme/agent/run", body, Some("cli_1"))
        .await;
    assert_eq!(first.status, 201);
    let again = w
        .post("/api/agents/@acme/agent/run", body, Some("cli_1"))
        .await;
    assert_eq!(again.status, 201);
    assert_eq!(again.json()["id"], first.json()["id"]);
    assert_eq!(
        again
            .headers
            .get("idempotent-replayed")
            .and_then(|v| v.to_str().ok()),
        Some("true")
    );
    let other = w
        .post(
            "/api/agents/@acme/agent/run",
            r#"{"input":{"topic":"y"}}"#,
            Some("cli_1"),
        )
        .await;
    assert_eq!(other.status, 422);
    assert_eq!(other.json()["code"], "idempotency_conflict");
    assert_eq!(w.fake.runs().len(), 1);
    let fresh = w
        .post("/api/agents/@acme/agent/run", body, Some("cli_2"))
        .await;
    assert_ne!(fresh.json()["id"], first.json()["id"]);
}

#[tokio::test]
async fn cancel_ends_a_running_run_once() {
    let w = world();
    w.fake.script_runs(
        "@acme/agent",
        RunScript::success(None)
            .progress(ms(0), "boot", None)
            .hold(),
    );
    let id = w
        .post(
            "/api/agents/@acme/agent/run",
            r#"{"input":{"topic":"x"}}"#,
            None,
        )
        .await
        .json()["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let cancelled = w.post(&format!("/api/runs/{id}/cancel"), "{}", None).await;
    assert_eq!(cancelled.status, 200);
    assert_eq!(cancelled.json()["status"], "cancelled");
    assert_eq!(cancelled.json()["error"], "Cancelled by user");
    let again = w.post(&format!("/api/runs/{id}/cancel"), "{}", None).await;
    assert_eq!(again.status, 409);
    assert_eq!(again.json()["code"], "not_cancellable");
    let rows = w.fake.run_logs(&id);
    assert_eq!(rows.last().expect("row")["data"]["status"], "cancelled");
}

#[tokio::test]
async fn logs_filter_by_level_and_page_with_has_more() {
    let w = world();
    let mut script = RunScript::success(None);
    for i in 0..5 {
        script = script.log(
            ms(0),
            if i % 2 == 0 { "info" } else { "error" },
            &format!("line {i}"),
        );
    }
    w.fake.script_runs("@acme/agent", script);
    let id = w
        .post(
            "/api/agents/@acme/agent/run",
            r#"{"input":{"topic":"x"}}"#,
            None,
        )
        .await
        .json()["id"]
        .as_str()
        .expect("id")
        .to_owned();
    w.fake.wait_for_run(&id, Duration::from_secs(5));
    let errors = w
        .get(&format!("/api/runs/{id}/logs?level=error"))
        .await
        .json();
    let messages: Vec<&str> = errors["data"]
        .as_array()
        .expect("rows")
        .iter()
        .filter_map(|r| r["message"].as_str())
        .collect();
    assert_eq!(messages, ["line 1", "line 3"]);
    let first = w.get(&format!("/api/runs/{id}/logs?limit=2")).await;
    assert_eq!(first.json()["hasMore"], true);
    assert_eq!(first.json()["data"].as_array().map(Vec::len), Some(2));
    let last_id = first.json()["data"][1]["id"].as_u64().expect("id");
    assert!(
        first
            .headers
            .get("link")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|l| l.contains(&format!("since={last_id}")))
    );
    let rest = w
        .get(&format!("/api/runs/{id}/logs?since={last_id}&limit=1000"))
        .await
        .json();
    assert_eq!(rest["hasMore"], false);
    assert_eq!(rest["data"][0]["message"], "line 2");
}

#[tokio::test]
async fn run_lists_are_newest_first_with_a_total() {
    let w = world();
    for topic in ["a", "b", "c"] {
        let body = format!(r#"{{"input":{{"topic":"{topic}"}}}}"#);
        assert_eq!(
            w.post("/api/agents/@acme/agent/run", &body, None)
                .await
                .status,
            201
        );
    }
    let all = w.get("/api/runs?limit=2").await.json();
    assert_eq!(all["object"], "list");
    assert_eq!(all["total"], 3);
    assert_eq!(all["hasMore"], true);
    assert_eq!(all["data"][0]["input"]["topic"], "c");
    assert_eq!(all["data"][0]["runNumber"], 3);
    let agent = w.get("/api/agents/@acme/agent/runs?offset=2").await.json();
    assert_eq!(agent["data"][0]["input"]["topic"], "a");
    assert_eq!(agent["hasMore"], false);
    assert_eq!(w.get("/api/runs?status=bogus").await.status, 400);
    assert_eq!(w.get("/api/runs?status=running").await.json()["total"], 0);
}

#[tokio::test]
async fn injected_faults_fire_on_run_routes_first_n_times() {
    let w = world();
    w.fake
        .inject(Fault::status("/api/agents/@acme/agent/run", 503).times(1));
    let body = r#"{"input":{"topic":"x"}}"#;
    assert_eq!(
        w.post("/api/agents/@acme/agent/run", body, Some("k"))
            .await
            .status,
        503
    );
    let second = w.post("/api/agents/@acme/agent/run", body, Some("k")).await;
    assert_eq!(second.status, 201);
    assert_eq!(w.fake.runs().len(), 1);
}
