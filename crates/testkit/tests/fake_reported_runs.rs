//! Reported runs on the fake instance: register, signed CloudEvents,
//! heartbeat, finalize, sink extension, over real HTTP.

use appstrate_afps::cloudevents::sign_webhook;
use appstrate_testkit::fake_instance::{FakeInstance, Role, RunConfig, agent_afps};
use serde_json::{Map, Value, json};

struct Reply {
    status: u16,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
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
    let user = fake.add_user("alice@example.com");
    let org = fake.add_org(&user, "Acme", "acme", Role::Member);
    let app = fake.add_app(&org, "Default", true);
    let token = fake.issue_tokens(&user).0;
    fake.publish_agent(
        &app,
        agent_afps(
            "@acme/agent",
            "1.0.0",
            json!({"input": {"schema": {
                "type": "object",
                "properties": {
                    "topic": {"type": "string"},
                    "tone": {"type": "string", "default": "dry"},
                    "lang": {"type": "string", "default": "en"},
                },
                "required": ["topic"],
            }}}),
            "Write",
        ),
    );
    World {
        fake,
        org,
        app,
        token,
    }
}

async fn send(request: reqwest::RequestBuilder) -> Reply {
    let response = request.send().await.expect("sent");
    Reply {
        status: response.status().as_u16(),
        body: response.bytes().await.expect("body").to_vec(),
    }
}

impl World {
    fn req(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        reqwest::Client::new()
            .request(method, format!("{}{path}", self.fake.url()))
            .bearer_auth(&self.token)
            .header("x-org-id", &self.org)
            .header("x-application-id", &self.app)
            .header("content-type", "application/json")
    }

    async fn register(&self, body: Value) -> Reply {
        send(
            self.req(reqwest::Method::POST, "/api/runs/remote")
                .body(body.to_string()),
        )
        .await
    }

    fn registry_body(&self, input: Value) -> Value {
        json!({
            "applicationId": self.app,
            "input": input,
            "contextSnapshot": {"os": "linux x64", "cliVersion": "dev", "bundle": {"name": "@acme/agent", "version": "1.0.0"}},
            "source": {"kind": "registry", "packageId": "@acme/agent", "stage": "published"},
        })
    }
}

/// A registered run's sink credentials.
struct Sink {
    id: String,
    url: String,
    finalize_url: String,
    secret: String,
}

async fn registered(w: &World) -> Sink {
    let reply = w.register(w.registry_body(json!({"topic": "rust"}))).await;
    assert_eq!(reply.status, 201, "{}", reply.text());
    let body = reply.json();
    Sink {
        id: body["id"].as_str().expect("id").to_owned(),
        url: body["url"].as_str().expect("url").to_owned(),
        finalize_url: body["finalize_url"]
            .as_str()
            .expect("finalize_url")
            .to_owned(),
        secret: body["secret"].as_str().expect("secret").to_owned(),
    }
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn envelope(sink: &Sink, sequence: u64, kind: &str, data: Value) -> String {
    json!({
        "specversion": "1.0",
        "type": kind,
        "source": "/afps/runs/cli_1",
        "id": format!("evt-{sequence}"),
        "time": "2026-01-01T00:00:00.000Z",
        "datacontenttype": "application/json",
        "data": data,
        "sequence": sequence,
    })
    .to_string()
    .replace("cli_1", &sink.id)
}

/// POST `body` to `url` signed with `secret` as message `msg_id` at `ts`.
async fn signed(url: &str, secret: &str, msg_id: &str, ts: i64, body: &str) -> Reply {
    let headers = sign_webhook(secret, msg_id, ts, body);
    send(
        reqwest::Client::new()
            .post(url)
            .header("content-type", "application/cloudevents+json")
            .header("webhook-id", headers.id)
            .header("webhook-timestamp", headers.timestamp)
            .header("webhook-signature", headers.signature)
            .body(body.to_owned()),
    )
    .await
}

async fn post_event(sink: &Sink, sequence: u64, kind: &str, data: Value) -> Reply {
    let body = envelope(sink, sequence, kind, data);
    signed(
        &sink.url,
        &sink.secret,
        &format!("msg-{sequence}"),
        now_secs(),
        &body,
    )
    .await
}

async fn finalize(sink: &Sink, result: Value) -> Reply {
    signed(
        &sink.finalize_url,
        &sink.secret,
        "msg-final",
        now_secs(),
        &result.to_string(),
    )
    .await
}

#[tokio::test]
async fn register_resolves_and_validates_input_and_returns_sink_credentials() {
    let w = world();
    w.fake.set_run_config(
        &w.app,
        "@acme/agent",
        RunConfig {
            values: Map::from_iter([("tone".to_owned(), json!("warm"))]),
            ..RunConfig::default()
        },
    );
    let reply = w
        .register(w.registry_body(json!({"topic": "rust", "lang": "fr"})))
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text());
    let body = reply.json();
    let id = body["id"].as_str().expect("id");
    assert!(id.starts_with("run_"));
    assert_eq!(
        body["url"],
        format!("{}/api/runs/{id}/events", w.fake.url())
    );
    assert_eq!(
        body["finalize_url"],
        format!("{}/api/runs/{id}/events/finalize", w.fake.url())
    );
    assert_eq!(body["secret"].as_str().map(str::len), Some(43));
    assert!(body["expiresAt"].is_string());
    assert_eq!(body.as_object().map(Map::len), Some(5));

    let run = send(w.req(reqwest::Method::GET, &format!("/api/runs/{id}")))
        .await
        .json();
    assert_eq!(run["runOrigin"], "remote");
    assert_eq!(run["status"], "pending");
    assert_eq!(run["version_label"], "1.0.0");
    assert_eq!(run["model_label"], Value::Null);
    // Author defaults < per-app values < body.
    assert_eq!(
        run["input"],
        json!({"topic": "rust", "tone": "warm", "lang": "fr"})
    );
    assert_eq!(run["contextSnapshot"]["cliVersion"], "dev");

    let missing = w.register(w.registry_body(json!({}))).await;
    assert_eq!(missing.status, 400);
    assert_eq!(missing.json()["code"], "invalid_input");
    assert_eq!(
        missing.json()["detail"],
        "topic: must have required property 'topic'"
    );

    let mut with_model = w.registry_body(json!({"topic": "x"}));
    with_model["source"]["modelId"] = json!("m");
    assert_eq!(w.register(with_model).await.status, 400);
    let mut extra = w.registry_body(json!({"topic": "x"}));
    extra["bogus"] = json!(true);
    assert_eq!(w.register(extra).await.status, 400);
    let mut other_app = w.registry_body(json!({"topic": "x"}));
    other_app["applicationId"] = json!("app_other");
    assert_eq!(w.register(other_app).await.status, 403);

    let mut draft = w.registry_body(json!({"topic": "x"}));
    draft["source"]["stage"] = json!("draft");
    let draft = w.register(draft).await.json();
    let draft_run = w.fake.run(draft["id"].as_str().expect("id")).expect("run");
    assert_eq!(draft_run.version_label.as_deref(), Some("draft"));
}

#[tokio::test]
async fn events_become_log_rows_in_sequence_order_then_finalize_closes_the_sink() {
    let w = world();
    let sink = registered(&w).await;

    let first = post_event(
        &sink,
        1,
        "appstrate.progress",
        json!({"message": "runtime ready in 5ms", "data": {"bundleLoaded": true}, "level": "info"}),
    )
    .await;
    assert_eq!(first.status, 200, "{}", first.text());
    assert_eq!(
        first.json(),
        json!({"ok": true, "outcome": "persisted", "sequence": 1})
    );
    assert_eq!(w.fake.run(&sink.id).expect("run").status, "running");

    // 3 before 2: buffered until the gap fills.
    let third = post_event(&sink, 3, "output.emitted", json!({"data": {"answer": 42}})).await;
    assert_eq!(
        third.json(),
        json!({"ok": true, "outcome": "buffered", "sequence": 3})
    );
    let second = post_event(
        &sink,
        2,
        "log.written",
        json!({"level": "warn", "message": "hmm"}),
    )
    .await;
    assert_eq!(
        second.json(),
        json!({"ok": true, "outcome": "persisted", "sequence": 2})
    );
    // Same webhook-id again: acknowledged, not re-ingested.
    let replay = post_event(
        &sink,
        2,
        "log.written",
        json!({"level": "warn", "message": "hmm"}),
    )
    .await;
    assert_eq!(replay.json(), json!({"ok": true, "outcome": "replay"}));
    let metric = post_event(
        &sink,
        4,
        "appstrate.metric",
        json!({"usage": {"input_tokens": 7, "output_tokens": 3}, "cost": 0.5}),
    )
    .await;
    assert_eq!(metric.status, 200);
    assert_eq!(
        w.fake.run(&sink.id).expect("run").token_usage,
        Some(json!({"input_tokens": 7, "output_tokens": 3}))
    );

    let heartbeat = signed(
        &format!("{}/heartbeat", sink.url),
        &sink.secret,
        "hb-1",
        now_secs(),
        "{}",
    )
    .await;
    assert_eq!(heartbeat.json(), json!({"ok": true}));
    assert_eq!(w.fake.reported_heartbeats(&sink.id), 1);

    let extended = send(
        w.req(
            reqwest::Method::PATCH,
            &format!("/api/runs/{}/sink/extend", sink.id),
        )
        .body(r#"{"ttl_seconds":7200}"#),
    )
    .await;
    assert_eq!(extended.status, 200);
    assert_eq!(extended.json()["id"], sink.id.as_str());

    let done = finalize(&sink, json!({"memories": [], "output": {"answer": 42}, "logs": [], "status": "success", "durationMs": 1234, "usage": {"input_tokens": 7, "output_tokens": 3}})).await;
    assert_eq!(done.status, 200, "{}", done.text());
    assert_eq!(done.json(), json!({"ok": true}));

    let run = send(w.req(reqwest::Method::GET, &format!("/api/runs/{}", sink.id)))
        .await
        .json();
    assert_eq!(run["status"], "success");
    assert_eq!(run["result"], json!({"output": {"answer": 42}}));
    assert_eq!(run["duration"], 1234);
    assert_eq!(run["cost"], 0.5);
    let logs = send(w.req(reqwest::Method::GET, &format!("/api/runs/{}/logs", sink.id)))
        .await
        .json();
    let rows: Vec<String> = logs["data"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| {
            format!(
                "{}/{}/{}",
                r["type"].as_str().unwrap_or(""),
                r["event"].as_str().unwrap_or(""),
                r["level"].as_str().unwrap_or("")
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            "progress/progress/info",
            "progress/log/warn",
            "result/output/info",
            "result/result/info",
            "system/run_completed/info"
        ]
    );
    assert_eq!(logs["data"][2]["data"], json!({"answer": 42}));
    assert_eq!(w.fake.reported_events(&sink.id).len(), 4);
    assert_eq!(
        w.fake.reported_finalize(&sink.id).expect("finalize")["status"],
        "success"
    );

    let late = post_event(
        &sink,
        5,
        "log.written",
        json!({"level": "info", "message": "late"}),
    )
    .await;
    assert_eq!(late.status, 410);
    assert_eq!(late.json()["code"], "run_sink_closed");
    let extend_closed = send(
        w.req(
            reqwest::Method::PATCH,
            &format!("/api/runs/{}/sink/extend", sink.id),
        )
        .body(r#"{"ttl_seconds":60}"#),
    )
    .await;
    assert_eq!(extend_closed.status, 404);
}

#[tokio::test]
async fn zero_token_finalize_is_recorded_failed() {
    let w = world();
    let sink = registered(&w).await;
    assert_eq!(
        post_event(
            &sink,
            1,
            "appstrate.metric",
            json!({"usage": {"input_tokens": 9, "output_tokens": 9}})
        )
        .await
        .status,
        200
    );
    // Metric events are not a finalize fallback: the terminal usage is.
    assert_eq!(
        finalize(&sink, json!({"output": null, "status": "success"}))
            .await
            .status,
        200
    );
    let run = w.fake.run(&sink.id).expect("run");
    assert_eq!(run.status, "failed");
    assert!(
        run.error
            .unwrap_or_default()
            .contains("could not reach the LLM API")
    );
    let completed = w.fake.run_logs(&sink.id);
    assert_eq!(completed.last().expect("row")["level"], "error");
}

#[tokio::test]
async fn signatures_timestamps_and_envelopes_are_checked() {
    let w = world();
    let sink = registered(&w).await;
    let body = envelope(
        &sink,
        1,
        "log.written",
        json!({"level": "info", "message": "x"}),
    );

    let bad = signed(&sink.url, "not-the-secret", "m1", now_secs(), &body).await;
    assert_eq!(bad.status, 401);
    assert_eq!(bad.json()["code"], "invalid_signature");
    let stale = signed(&sink.url, &sink.secret, "m1", now_secs() - 600, &body).await;
    assert_eq!(stale.status, 401);
    assert_eq!(stale.json()["code"], "timestamp_out_of_tolerance");
    let unsigned = send(reqwest::Client::new().post(&sink.url).body(body.clone())).await;
    assert_eq!(unsigned.status, 401);
    assert_eq!(unsigned.json()["code"], "missing_signature_headers");

    let mut extra: Value = serde_json::from_str(&body).expect("json");
    extra["traceparent"] = json!("00-abc");
    let extra = extra.to_string();
    assert_eq!(
        signed(&sink.url, &sink.secret, "m2", now_secs(), &extra)
            .await
            .status,
        400
    );

    let unknown_run = sink.url.replace(&sink.id, "run_nope");
    let missing = signed(&unknown_run, &sink.secret, "m3", now_secs(), &body).await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.json()["code"], "run_not_found");

    assert_eq!(
        signed(&sink.url, &sink.secret, "m4", now_secs(), &body)
            .await
            .status,
        200
    );
    assert!(w.fake.reported_events(&sink.id).len() == 1);
}

#[tokio::test]
async fn injected_ingestion_failures_leave_the_event_retryable() {
    let w = world();
    let sink = registered(&w).await;
    w.fake.fail_event_ingestion(1, 503);
    let first = post_event(
        &sink,
        1,
        "log.written",
        json!({"level": "info", "message": "x"}),
    )
    .await;
    assert_eq!(first.status, 503);
    assert!(w.fake.run_logs(&sink.id).is_empty());
    // The same message (same webhook-id) is accepted on retry.
    let retry = post_event(
        &sink,
        1,
        "log.written",
        json!({"level": "info", "message": "x"}),
    )
    .await;
    assert_eq!(retry.json()["outcome"], "persisted");
    assert_eq!(w.fake.run_logs(&sink.id).len(), 1);

    w.fake.fail_finalize(1, 500);
    let result = json!({"status": "success", "usage": {"input_tokens": 1, "output_tokens": 1}});
    assert_eq!(finalize(&sink, result.clone()).await.status, 500);
    assert_eq!(w.fake.run(&sink.id).expect("run").status, "running");
    assert_eq!(finalize(&sink, result).await.status, 200);
    assert_eq!(w.fake.run(&sink.id).expect("run").status, "success");

    let expiring = registered(&w).await;
    w.fake.expire_sink(&expiring.id);
    let expired = post_event(
        &expiring,
        1,
        "log.written",
        json!({"level": "info", "message": "x"}),
    )
    .await;
    assert_eq!(expired.status, 410);
    assert_eq!(expired.json()["code"], "run_sink_expired");
}
