//! The fake instance's agent registry, bundle download, API keys and
//! run-config, exercised over real HTTP with reqwest.

use appstrate_testkit::fake_instance::{BundleTamper, FakeInstance, Role, RunConfig, agent_afps};
use base64::Engine as _;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

struct Reply {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }
    fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }
    fn code(&self) -> String {
        self.json()["code"].as_str().unwrap_or_default().to_owned()
    }
}

/// A signed-in member of one org with two applications.
struct World {
    fake: FakeInstance,
    user: String,
    org: String,
    app: String,
    other_app: String,
    token: String,
}

impl World {
    fn new() -> Self {
        let fake = FakeInstance::start();
        let user = fake.add_user("alice@example.com");
        let org = fake.add_org(&user, "Acme", "acme", Role::Owner);
        let app = fake.add_app(&org, "Default", true);
        let other_app = fake.add_app(&org, "Other", false);
        let (token, _) = fake.issue_tokens(&user);
        World {
            fake,
            user,
            org,
            app,
            other_app,
            token,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.fake.url())
    }

    /// A request with the JWT and both context headers.
    fn req(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        reqwest::Client::new()
            .request(method, self.url(path))
            .bearer_auth(&self.token)
            .header("x-org-id", &self.org)
            .header("x-application-id", &self.app)
    }

    async fn get(&self, path: &str) -> Reply {
        send(self.req(reqwest::Method::GET, path)).await
    }

    async fn put(&self, path: &str, body: Value) -> Reply {
        send(
            self.req(reqwest::Method::PUT, path)
                .header("content-type", "application/json")
                .body(body.to_string()),
        )
        .await
    }
}

async fn send(request: reqwest::RequestBuilder) -> Reply {
    let response = request.send().await.expect("request sent");
    Reply {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        body: response.bytes().await.expect("body").to_vec(),
    }
}

fn topic_agent(version: &str, prompt: &str) -> Vec<u8> {
    agent_afps(
        "@acme/agent",
        version,
        json!({
            "displayName": "Acme Agent",
            "description": "Writes briefs",
            "input": {"schema": {
                "type": "object",
                "properties": {"topic": {"type": "string"}, "tone": {"type": "string", "default": "dry"}},
                "required": ["topic"],
            }},
        }),
        prompt,
    )
}

fn sri(bytes: &[u8]) -> String {
    format!(
        "sha256-{}",
        base64::engine::general_purpose::STANDARD.encode(Sha256::digest(bytes))
    )
}

#[tokio::test]
async fn api_keys_authenticate_pinned_to_their_org_and_app() {
    let w = World::new();
    w.fake.publish_agent(&w.app, topic_agent("1.0.0", "Hi"));
    let key = w.fake.add_api_key(&w.user, &w.org, &w.app);
    assert!(key.starts_with("ask_"));

    // No context headers needed: the key pins them.
    let listed = send(
        reqwest::Client::new()
            .get(w.url("/api/agents"))
            .bearer_auth(&key),
    )
    .await;
    assert_eq!(listed.status, 200);
    assert_eq!(listed.json()["data"][0]["id"], "@acme/agent");

    let other_app = send(
        reqwest::Client::new()
            .get(w.url("/api/agents"))
            .bearer_auth(&key)
            .header("x-application-id", &w.other_app),
    )
    .await;
    assert_eq!(other_app.status, 403);

    // A JWT must name its application.
    let no_app = send(
        reqwest::Client::new()
            .get(w.url("/api/agents"))
            .bearer_auth(&w.token)
            .header("x-org-id", &w.org),
    )
    .await;
    assert_eq!(no_app.status, 400);
    assert_eq!(no_app.json()["param"], "X-Application-Id");

    assert!(w.fake.revoke_api_key(&key));
    let revoked = send(
        reqwest::Client::new()
            .get(w.url("/api/agents"))
            .bearer_auth(&key),
    )
    .await;
    assert_eq!(revoked.status, 401);
    assert_eq!(
        revoked.header("content-type").as_deref(),
        Some("application/problem+json")
    );
}

#[tokio::test]
async fn agents_list_detail_and_versions() {
    let w = World::new();
    let first = w.fake.publish_agent(&w.app, topic_agent("1.0.0", "One"));
    let second = w.fake.publish_agent(&w.app, topic_agent("1.1.0", "Two"));
    assert_eq!(first.id, "@acme/agent");
    assert!(second.version_id > first.version_id);

    let list = w.get("/api/agents").await.json();
    assert_eq!(list["object"], "list");
    assert_eq!(list["hasMore"], false);
    let agent = &list["data"][0];
    assert_eq!(agent["id"], "@acme/agent");
    assert_eq!(agent["display_name"], "Acme Agent");
    assert_eq!(agent["scope"], "@acme");
    assert_eq!(agent["version"], "1.1.0");
    assert_eq!(agent["type"], "agent");
    assert_eq!(agent["source"], "local");
    assert_eq!(agent["running_runs"], 0);
    assert_eq!(
        agent["dependencies"],
        json!({"skills": {}, "mcp_servers": {}, "integrations": {}})
    );

    // Not installed in the other application: not listed there.
    let other = send(
        reqwest::Client::new()
            .get(w.url("/api/agents"))
            .bearer_auth(&w.token)
            .header("x-org-id", &w.org)
            .header("x-application-id", &w.other_app),
    )
    .await;
    assert_eq!(other.json()["data"], json!([]));

    let detail = w.get("/api/packages/agents/@acme/agent").await;
    assert_eq!(detail.status, 200);
    let detail = detail.json();
    assert_eq!(detail["version_count"], 2);
    assert_eq!(detail["prompt"], "Two");
    assert_eq!(detail["input"]["schema"]["required"], json!(["topic"]));
    assert_eq!(detail["has_unarchived_changes"], false);
    // The detail is not under /api/agents.
    assert_eq!(w.get("/api/agents/@acme/agent").await.status, 404);

    let versions = w
        .get("/api/packages/agents/@acme/agent/versions")
        .await
        .json();
    let versions = versions["versions"].as_array().expect("versions");
    assert_eq!(versions.len(), 2);
    assert_eq!(versions[0]["version"], "1.1.0");
    assert_eq!(versions[0]["integrity"], second.integrity);
    assert_eq!(versions[1]["yanked"], false);
}

#[tokio::test]
async fn bundle_download_serves_draft_published_and_specs_with_sri_headers() {
    let w = World::new();
    for v in ["1.0.0", "1.2.0", "2.0.0"] {
        w.fake
            .publish_agent(&w.app, topic_agent(v, &format!("v{v}")));
    }
    w.fake
        .set_draft(&w.app, topic_agent("2.1.0", "work in progress"));

    let check = |reply: &Reply, version: &str| {
        assert_eq!(
            reply.status,
            200,
            "{}",
            String::from_utf8_lossy(&reply.body)
        );
        assert_eq!(
            reply.header("content-type").as_deref(),
            Some("application/zip")
        );
        assert_eq!(
            reply.header("content-disposition").as_deref(),
            Some("attachment; filename=\"@acme-agent.afps-bundle.zip\"")
        );
        assert_eq!(reply.header("x-bundle-integrity"), Some(sri(&reply.body)));
        assert_eq!(reply.header("x-bundle-version").as_deref(), Some(version));
    };

    let latest = w.get("/api/agents/@acme/agent/bundle").await;
    check(&latest, "2.0.0");
    assert_eq!(
        w.fake.agent_bundle_bytes("@acme/agent", "2.0.0"),
        Some(latest.body.clone())
    );
    let bundle = appstrate_afps::read_bundle(&latest.body, &Default::default()).expect("bundle");
    assert_eq!(bundle.root, "@acme/agent@2.0.0");

    let draft = w.get("/api/agents/@acme/agent/bundle?source=draft").await;
    check(&draft, "draft");
    let bundle = appstrate_afps::read_bundle(&draft.body, &Default::default()).expect("bundle");
    assert_eq!(
        bundle.root_package().text("prompt.md").as_deref(),
        Some("work in progress")
    );

    check(
        &w.get("/api/agents/@acme/agent/bundle?version=1.2.0").await,
        "1.2.0",
    );
    check(
        &w.get("/api/agents/@acme/agent/bundle?version=%5E1").await,
        "1.2.0",
    );
    check(
        &w.get("/api/agents/@acme/agent/bundle?version=~1.0").await,
        "1.0.0",
    );
    check(
        &w.get("/api/agents/@acme/agent/bundle?version=%3E%3D1.1.0")
            .await,
        "2.0.0",
    );
    check(
        &w.get("/api/agents/@acme/agent/bundle?version=1.x").await,
        "1.2.0",
    );
    check(
        &w.get("/api/agents/@acme/agent/bundle?version=latest").await,
        "2.0.0",
    );
    w.fake.set_dist_tag("@acme/agent", "stable", "1.0.0");
    check(
        &w.get("/api/agents/@acme/agent/bundle?version=stable").await,
        "1.0.0",
    );
    w.fake.yank_version("@acme/agent", "1.2.0");
    check(
        &w.get("/api/agents/@acme/agent/bundle?version=%5E1").await,
        "1.0.0",
    );

    let conflicting = w
        .get("/api/agents/@acme/agent/bundle?source=draft&version=1.0.0")
        .await;
    assert_eq!(conflicting.status, 400);
    assert_eq!(conflicting.code(), "draft_with_version");
    assert_eq!(
        w.get("/api/agents/@acme/agent/bundle?source=nope")
            .await
            .code(),
        "invalid_source"
    );

    let missing_version = w.get("/api/agents/@acme/agent/bundle?version=9.9.9").await;
    assert_eq!(missing_version.status, 404);
    assert!(
        missing_version.json()["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("Version '9.9.9'")
    );
    assert_eq!(
        w.get("/api/agents/@acme/nope/bundle").await.code(),
        "agent_not_found"
    );
    // A percent-encoded `@` names no package.
    assert_eq!(
        w.get("/api/agents/%40acme/agent/bundle").await.code(),
        "agent_not_found"
    );

    w.fake.uninstall_agent(&w.app, "@acme/agent");
    let uninstalled = w.get("/api/agents/@acme/agent/bundle").await;
    assert_eq!(uninstalled.status, 404);
    assert_eq!(uninstalled.code(), "agent_not_installed_in_app");
}

#[tokio::test]
async fn never_published_agents_only_have_a_draft() {
    let w = World::new();
    w.fake.set_draft(&w.app, topic_agent("0.1.0", "draft only"));
    let published = w.get("/api/agents/@acme/agent/bundle").await;
    assert_eq!(published.status, 404);
    assert!(
        published.json()["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("No exportable version")
    );
    assert_eq!(
        w.get("/api/agents/@acme/agent/bundle?source=draft")
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn bundle_header_tampering_for_bad_sri_tests() {
    let w = World::new();
    w.fake.publish_agent(&w.app, topic_agent("1.0.0", "Hi"));
    w.fake.tamper_bundle_headers(BundleTamper::WrongIntegrity);
    let wrong = w.get("/api/agents/@acme/agent/bundle").await;
    let header = wrong
        .header("x-bundle-integrity")
        .expect("integrity header");
    assert!(header.starts_with("sha256-"));
    assert_ne!(header, sri(&wrong.body));
    w.fake.tamper_bundle_headers(BundleTamper::DropVersion);
    let dropped = w.get("/api/agents/@acme/agent/bundle").await;
    assert_eq!(dropped.status, 200);
    assert!(dropped.header("x-bundle-version").is_none());
    w.fake.tamper_bundle_headers(BundleTamper::DropIntegrity);
    assert!(
        w.get("/api/agents/@acme/agent/bundle")
            .await
            .header("x-bundle-integrity")
            .is_none()
    );
    w.fake.tamper_bundle_headers(BundleTamper::None);
    let honest = w.get("/api/agents/@acme/agent/bundle").await;
    assert_eq!(honest.header("x-bundle-integrity"), Some(sri(&honest.body)));
}

/// `multipart/form-data` with one file part.
fn multipart(field: &str, filename: &str, bytes: &[u8]) -> (String, Vec<u8>) {
    let boundary = "----fake-boundary-7d3a";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{filename}\"\r\nContent-Type: application/zip\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn import(w: &World, field: &str, filename: &str, bytes: Vec<u8>) -> Reply {
    let (content_type, body) = multipart(field, filename, &bytes);
    send(
        w.req(reqwest::Method::POST, "/api/packages/import-bundle")
            .header("content-type", content_type)
            .body(body),
    )
    .await
}

#[tokio::test]
async fn import_bundle_inserts_reuses_and_refuses_divergent_content() {
    let w = World::new();
    let first = import(&w, "file", "agent.afps", topic_agent("1.0.0", "Hi")).await;
    assert_eq!(
        first.status,
        201,
        "{}",
        String::from_utf8_lossy(&first.body)
    );
    let body = first.json();
    assert_eq!(body["root_package_id"], "@acme/agent");
    assert_eq!(body["root_version"], "1.0.0");
    assert_eq!(body["root_installed"], true);
    assert_eq!(body["warnings"], json!([]));
    assert_eq!(body["imported"][0]["identity"], "@acme/agent@1.0.0");
    assert_eq!(body["imported"][0]["status"], "inserted");
    assert_eq!(body["imported"][0]["type"], "agent");

    let again = import(
        &w,
        "bundle",
        "agent.afps-bundle",
        topic_agent("1.0.0", "Hi"),
    )
    .await;
    assert_eq!(again.status, 201);
    assert_eq!(again.json()["imported"][0]["status"], "reused");
    assert_eq!(again.json()["root_installed"], false);

    let divergent = import(&w, "file", "agent.zip", topic_agent("1.0.0", "Changed")).await;
    assert_eq!(divergent.status, 409);
    assert_eq!(divergent.code(), "bundle_conflict");

    let wrong_name = import(&w, "file", "agent.tar", topic_agent("1.0.1", "Hi")).await;
    assert_eq!(wrong_name.status, 400);

    assert_eq!(
        w.get("/api/agents/@acme/agent/bundle")
            .await
            .header("x-bundle-version")
            .as_deref(),
        Some("1.0.0")
    );
}

#[tokio::test]
async fn run_config_has_the_platform_shape_and_follows_its_setters() {
    let w = World::new();
    w.fake.publish_agent(&w.app, topic_agent("1.0.0", "Hi"));
    let path = format!(
        "/api/applications/{}/packages/@acme/agent/run-config",
        w.app
    );
    let fresh = w.get(&path).await;
    assert_eq!(fresh.status, 200);
    assert_eq!(
        fresh.body,
        br#"{"generation":null,"modelId":null,"proxyId":null,"version_pin":null,"input":{"values":{},"locked_fields":[]}}"#
    );

    let other = w
        .get(&format!(
            "/api/applications/{}/packages/@acme/agent/run-config",
            w.other_app
        ))
        .await;
    assert_eq!(other.status, 404);
    assert_eq!(other.code(), "package_not_installed");

    let preset = w.fake.add_model_preset(
        &w.org,
        "Fast",
        "openai-completions",
        "http://127.0.0.1:9",
        "gpt-x",
        true,
    );
    let model = w
        .put(
            "/api/agents/@acme/agent/model",
            json!({"modelId": preset, "generation": {"temperature": 0.2}}),
        )
        .await;
    assert_eq!(model.status, 200);
    assert_eq!(
        model.json(),
        json!({"modelId": preset, "generation": {"temperature": 0.2}})
    );
    let unknown_model = w
        .put("/api/agents/@acme/agent/model", json!({"modelId": "nope"}))
        .await;
    assert_eq!(unknown_model.status, 404);

    let settings = w
        .put(
            "/api/agents/@acme/agent/input-settings",
            json!({"values": {"topic": "rust", "bogus": 1}, "locked_fields": ["topic", "bogus"]}),
        )
        .await;
    assert_eq!(settings.status, 200);
    assert_eq!(
        settings.json(),
        json!({"values": {"topic": "rust"}, "locked_fields": ["topic"]})
    );
    let locked_without_value = w
        .put(
            "/api/agents/@acme/agent/input-settings",
            json!({"values": {}, "locked_fields": ["topic"]}),
        )
        .await;
    assert_eq!(locked_without_value.status, 400);

    let install = w
        .put(
            &format!("/api/applications/{}/packages/@acme/agent", w.app),
            json!({"proxyId": "px_1", "version_id": null}),
        )
        .await;
    assert_eq!(install.status, 200);
    assert_eq!(
        w.get(&path).await.json(),
        json!({
            "generation": {"temperature": 0.2},
            "modelId": preset,
            "proxyId": "px_1",
            "version_pin": null,
            "input": {"values": {"topic": "rust"}, "locked_fields": ["topic"]},
        })
    );
    let unknown_key = w
        .put(
            &format!("/api/applications/{}/packages/@acme/agent", w.app),
            json!({"bogus": true}),
        )
        .await;
    assert_eq!(unknown_key.status, 400);

    w.fake.set_run_config(
        &w.app,
        "@acme/agent",
        RunConfig {
            version_pin: Some("1.0.0".into()),
            ..RunConfig::default()
        },
    );
    assert_eq!(w.get(&path).await.json()["version_pin"], "1.0.0");
    assert_eq!(
        w.fake
            .run_config(&w.app, "@acme/agent")
            .map(|c| c.version_pin),
        Some(Some("1.0.0".to_owned()))
    );
}
