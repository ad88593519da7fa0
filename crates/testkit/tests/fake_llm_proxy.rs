//! The fake instance's model presets and LLM proxy, against the scripted
//! model server, over real HTTP.

use appstrate_testkit::fake_instance::{FakeInstance, Role};
use appstrate_testkit::model_server::{ModelServer, Reply};
use appstrate_testkit::recorder::Recorder;
use serde_json::{Value, json};

struct World {
    fake: FakeInstance,
    user: String,
    org: String,
    app: String,
    token: String,
}

fn world() -> World {
    let fake = FakeInstance::start();
    let user = fake.add_user("alice@example.com");
    let org = fake.add_org(&user, "Acme", "acme", Role::Member);
    let app = fake.add_app(&org, "Default", true);
    let (token, _) = fake.issue_tokens(&user);
    World {
        fake,
        user,
        org,
        app,
        token,
    }
}

async fn post(
    w: &World,
    path: &str,
    headers: &[(&str, &str)],
    body: &Value,
) -> (u16, reqwest::header::HeaderMap, String) {
    let mut request = reqwest::Client::new()
        .post(format!("{}{path}", w.fake.url()))
        .header("content-type", "application/json")
        .body(body.to_string());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.expect("sent");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, headers, response.text().await.expect("body"))
}

#[tokio::test]
async fn models_list_presets_with_a_single_default() {
    let w = world();
    let first = w.fake.add_model_preset(
        &w.org,
        "One",
        "openai-completions",
        "http://127.0.0.1:9/v1",
        "m1",
        true,
    );
    let second = w.fake.add_model_preset(
        &w.org,
        "Two",
        "anthropic-messages",
        "http://127.0.0.1:9",
        "m2",
        true,
    );
    let models = reqwest::Client::new()
        .get(format!("{}/api/models", w.fake.url()))
        .bearer_auth(&w.token)
        .header("x-org-id", &w.org)
        .send()
        .await
        .expect("sent")
        .bytes()
        .await
        .expect("body");
    let models: Value = serde_json::from_slice(&models).expect("json");
    assert_eq!(models["object"], "list");
    let data = models["data"].as_array().expect("data");
    assert_eq!(data[0]["id"], first.as_str());
    assert_eq!(data[0]["is_default"], false);
    assert_eq!(data[1]["id"], second.as_str());
    assert_eq!(data[1]["is_default"], true);
    assert_eq!(data[1]["apiShape"], "anthropic-messages");
    assert_eq!(data[1]["modelId"], "m2");
    assert!(data[1].get("isDefault").is_none());
}

#[tokio::test]
async fn openai_completions_swap_the_model_inject_the_key_and_stream_back() {
    let server = ModelServer::start(vec![Reply::text("hello from upstream")]).await;
    let w = world();
    let preset = w.fake.add_model_preset(
        &w.org,
        "Local",
        "openai-completions",
        &format!("{}/v1", server.url()),
        "real-model",
        true,
    );
    let body =
        json!({"model": preset, "stream": true, "messages": [{"role": "user", "content": "hi"}]});
    let bearer = format!("Bearer {}", w.token);
    let (status, headers, text) = post(
        &w,
        "/api/llm-proxy/openai-completions/v1/chat/completions",
        &[("authorization", &bearer), ("x-org-id", &w.org)],
        &body,
    )
    .await;
    assert_eq!(status, 200, "{text}");
    assert!(
        headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with("text/event-stream"))
    );
    assert!(text.contains(r#""content":"hello "}"#), "{text}");
    assert!(text.contains("[DONE]"));

    let seen = server.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].body["model"], "real-model");
    assert_eq!(seen[0].body["messages"], body["messages"]);
    let key = w.fake.preset_api_key(&preset).expect("key");
    assert_eq!(
        seen[0]
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok()),
        Some(format!("Bearer {key}").as_str())
    );
    assert!(seen[0].headers.get("x-org-id").is_none());
}

#[tokio::test]
async fn anthropic_takes_the_bearer_and_strips_the_placeholder_key() {
    let server = ModelServer::start(vec![Reply::text("claude says hi")]).await;
    let w = world();
    let preset = w.fake.add_model_preset(
        &w.org,
        "Claude",
        "anthropic-messages",
        &server.url(),
        "claude-x",
        false,
    );
    w.fake.set_preset_api_key(&preset, "sk-ant-real");
    let key = w.fake.add_api_key(&w.user, &w.org, &w.app);
    let bearer = format!("Bearer {key}");
    let (status, _, text) = post(
        &w,
        "/api/llm-proxy/anthropic-messages/v1/messages",
        &[
            ("authorization", &bearer),
            ("x-api-key", "x-platform-bearer-injected-via-headers"),
            ("anthropic-version", "2023-06-01"),
        ],
        &json!({"model": preset, "max_tokens": 100, "stream": true, "messages": [{"role": "user", "content": "hi"}]}),
    )
    .await;
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("event: content_block_delta"), "{text}");
    assert!(text.contains("event: message_stop"), "{text}");
    let seen = &server.requests()[0];
    assert_eq!(seen.path, "/v1/messages");
    assert_eq!(seen.body["model"], "claude-x");
    assert_eq!(
        seen.headers.get("x-api-key").and_then(|v| v.to_str().ok()),
        Some("sk-ant-real")
    );
    assert!(seen.headers.get("authorization").is_none());
    assert_eq!(
        seen.headers
            .get("anthropic-version")
            .and_then(|v| v.to_str().ok()),
        Some("2023-06-01")
    );
}

#[tokio::test]
async fn each_route_forwards_to_its_upstream_path() {
    // The recorder keeps the exact target of each forwarded request.
    let upstream = Recorder::start();
    let w = world();
    let bearer = format!("Bearer {}", w.token);
    let headers = [
        ("authorization", bearer.as_str()),
        ("x-org-id", w.org.as_str()),
    ];
    for (shape, route, base, expected) in [
        (
            "openai-completions",
            "openai-completions/v1/chat/completions",
            format!("{}/v1", upstream.url()),
            "/v1/chat/completions",
        ),
        (
            "openai-completions",
            "openai-completions/v1/chat/completions",
            upstream.url(),
            "/chat/completions",
        ),
        (
            "anthropic-messages",
            "anthropic-messages/v1/messages",
            upstream.url(),
            "/v1/messages",
        ),
        (
            "mistral-conversations",
            "mistral-conversations/v1/chat/completions",
            upstream.url(),
            "/v1/chat/completions",
        ),
    ] {
        upstream.clear();
        let preset = w
            .fake
            .add_model_preset(&w.org, shape, shape, &base, "real", false);
        let (status, _, text) = post(
            &w,
            &format!("/api/llm-proxy/{route}"),
            &headers,
            &json!({"model": preset}),
        )
        .await;
        assert_eq!(status, 200, "{text}");
        assert_eq!(text, "{\"ok\":true}\n");
        let seen = upstream.requests();
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].method, "POST");
        assert_eq!(seen[0].target, expected, "{shape} via {base}");
        assert_eq!(
            String::from_utf8_lossy(&seen[0].body),
            r#"{"model":"real"}"#
        );
    }
}

#[tokio::test]
async fn proxy_refusals() {
    let server = ModelServer::start(vec![]).await;
    let w = world();
    let preset = w.fake.add_model_preset(
        &w.org,
        "Local",
        "openai-completions",
        &server.url(),
        "m",
        true,
    );
    let bearer = format!("Bearer {}", w.token);
    let body = json!({"model": preset, "messages": []});
    let with_org = [
        ("authorization", bearer.as_str()),
        ("x-org-id", w.org.as_str()),
    ];

    // No Responses route on the platform.
    let (status, _, _) = post(
        &w,
        "/api/llm-proxy/openai-completions/v1/responses",
        &with_org,
        &body,
    )
    .await;
    assert_eq!(status, 404);
    // A JWT needs the organization.
    let (status, _, text) = post(
        &w,
        "/api/llm-proxy/openai-completions/v1/chat/completions",
        &[("authorization", bearer.as_str())],
        &body,
    )
    .await;
    assert_eq!(status, 400, "{text}");
    // No bearer at all.
    let (status, _, _) = post(
        &w,
        "/api/llm-proxy/openai-completions/v1/chat/completions",
        &[],
        &body,
    )
    .await;
    assert_eq!(status, 401);
    // Unknown preset, and a preset of another API shape.
    let (status, _, _) = post(
        &w,
        "/api/llm-proxy/openai-completions/v1/chat/completions",
        &with_org,
        &json!({"model": "00000000-0000-4000-8000-000000000000"}),
    )
    .await;
    assert_eq!(status, 404);
    let (status, _, _) = post(
        &w,
        "/api/llm-proxy/anthropic-messages/v1/messages",
        &with_org,
        &body,
    )
    .await;
    assert_eq!(status, 400);
    assert!(server.requests().is_empty());
}
