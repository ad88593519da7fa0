//! The fake instance's credential proxy, forwarding to a loopback
//! recording server, over real HTTP.

use appstrate_testkit::fake_instance::{FakeInstance, IntegrationCredential, Role};
use appstrate_testkit::recorder::Recorder;

const SESSION: &str = "0f8fad5b-d9cb-469f-a165-70867728950e";

struct World {
    fake: FakeInstance,
    user: String,
    org: String,
    app: String,
    token: String,
    target: Recorder,
}

fn world() -> World {
    let fake = FakeInstance::start();
    let user = fake.add_user("alice@example.com");
    let org = fake.add_org(&user, "Acme", "acme", Role::Member);
    let app = fake.add_app(&org, "Default", true);
    let token = fake.issue_tokens(&user).0;
    World {
        fake,
        user,
        org,
        app,
        token,
        target: Recorder::start(),
    }
}

struct Reply {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: String,
}

impl World {
    fn proxy(&self, integration: Option<&str>, target: Option<&str>) -> reqwest::RequestBuilder {
        let mut request = reqwest::Client::new()
            .post(format!("{}/api/credential-proxy/proxy", self.fake.url()))
            .bearer_auth(&self.token)
            .header("x-org-id", &self.org)
            .header("x-application-id", &self.app)
            .header("x-session-id", SESSION);
        if let Some(integration) = integration {
            request = request.header("x-integration-id", integration);
        }
        if let Some(target) = target {
            request = request.header("x-target", target);
        }
        request
    }
}

async fn send(request: reqwest::RequestBuilder) -> Reply {
    let response = request.send().await.expect("sent");
    Reply {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        body: response.text().await.expect("body"),
    }
}

#[tokio::test]
async fn the_credential_is_injected_and_the_target_reply_returned() {
    let w = world();
    w.fake.set_integration_credential(
        &w.app,
        "@acme/github",
        IntegrationCredential::bearer("gh-token-1"),
    );
    let target = format!("{}/status/201", w.target.url());
    let reply = send(
        w.proxy(Some("@acme/github"), Some(&target))
            .header("x-run-id", "run_1")
            .header("x-custom", "kept")
            .body("payload"),
    )
    .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(reply.body, "status 201\n");

    let seen = w.target.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].method, "POST");
    assert_eq!(seen[0].target, "/status/201");
    assert_eq!(seen[0].header("authorization"), Some("Bearer gh-token-1"));
    assert_eq!(seen[0].header("x-custom"), Some("kept"));
    assert_eq!(seen[0].body, b"payload");
    // Platform context and the caller's own bearer never reach the target.
    for header in [
        "x-integration-id",
        "x-target",
        "x-session-id",
        "x-application-id",
        "x-org-id",
        "x-run-id",
    ] {
        assert!(seen[0].header(header).is_none(), "{header} forwarded");
    }
    assert!(!format!("{:?}", seen[0].headers).contains(&w.token));
}

#[tokio::test]
async fn placeholders_are_filled_from_credential_fields() {
    let w = world();
    w.fake.set_integration_credential(
        &w.app,
        "@acme/api",
        IntegrationCredential::header("X-Api-Key", "{{key}}")
            .field("key", "k-123")
            .field("org", "acme"),
    );
    let target = format!("{}/echo/{{{{org}}}}", w.target.url());
    let reply = send(
        w.proxy(Some("@acme/api"), Some(&target))
            .header("x-substitute-body", "true")
            .header("x-tenant", "{{org}}")
            .body(r#"{"org":"{{org}}"}"#),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let seen = &w.target.requests()[0];
    assert_eq!(seen.target, "/echo/acme");
    assert_eq!(seen.header("x-api-key"), Some("k-123"));
    assert_eq!(seen.header("x-tenant"), Some("acme"));
    assert_eq!(seen.body, br#"{"org":"acme"}"#);

    let unknown = send(w.proxy(
        Some("@acme/api"),
        Some(&format!("{}/{{{{nope}}}}", w.target.url())),
    ))
    .await;
    assert_eq!(unknown.status, 400);
}

#[tokio::test]
async fn refusals_follow_the_platform() {
    let w = world();
    let target = format!("{}/echo", w.target.url());
    assert_eq!(send(w.proxy(None, Some(&target))).await.status, 400);
    assert_eq!(send(w.proxy(Some("@acme/github"), None)).await.status, 400);
    let bad_session = send(
        reqwest::Client::new()
            .post(format!("{}/api/credential-proxy/proxy", w.fake.url()))
            .bearer_auth(&w.token)
            .header("x-org-id", &w.org)
            .header("x-application-id", &w.app)
            .header("x-session-id", "not-a-uuid")
            .header("x-integration-id", "@acme/github")
            .header("x-target", &target),
    )
    .await;
    assert_eq!(bad_session.status, 400);
    // No connection for the integration.
    assert_eq!(
        send(w.proxy(Some("@acme/github"), Some(&target)))
            .await
            .status,
        404
    );

    w.fake.set_integration_credential(
        &w.app,
        "@acme/github",
        IntegrationCredential::bearer("t").authorized_uris(&["https://api.github.com/**"]),
    );
    let outside = send(w.proxy(Some("@acme/github"), Some(&target))).await;
    assert_eq!(outside.status, 403);
    assert!(outside.body.contains("authorized"));

    // The session id belongs to the first principal that used it.
    let key = w.fake.add_api_key(&w.user, &w.org, &w.app);
    let other_principal = send(
        reqwest::Client::new()
            .post(format!("{}/api/credential-proxy/proxy", w.fake.url()))
            .bearer_auth(&key)
            .header("x-session-id", SESSION)
            .header("x-integration-id", "@acme/github")
            .header("x-target", &target),
    )
    .await;
    assert_eq!(other_principal.status, 403);

    let anonymous = send(
        reqwest::Client::new()
            .post(format!("{}/api/credential-proxy/proxy", w.fake.url()))
            .header("x-session-id", SESSION),
    )
    .await;
    assert_eq!(anonymous.status, 401);
    assert!(w.target.requests().is_empty());
}

#[tokio::test]
async fn a_401_refreshes_the_credential_and_retries_buffered_bodies_once() {
    let w = world();
    w.fake.set_integration_credential(
        &w.app,
        "@acme/github",
        IntegrationCredential::bearer("old").refreshes_to_bearer("new"),
    );
    let target = format!("{}/flaky?key=a&fail=1&status=401", w.target.url());
    let reply = send(w.proxy(Some("@acme/github"), Some(&target)).body("{}")).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(reply.headers.get("x-auth-refreshed").is_none());
    let seen = w.target.requests();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].header("authorization"), Some("Bearer old"));
    assert_eq!(seen[1].header("authorization"), Some("Bearer new"));
    assert_eq!(seen[1].body, b"{}");
}

#[tokio::test]
async fn a_401_on_a_streamed_body_is_returned_with_x_auth_refreshed() {
    let w = world();
    w.fake.set_integration_credential(
        &w.app,
        "@acme/github",
        IntegrationCredential::bearer("old").refreshes_to_bearer("new"),
    );
    let target = format!("{}/flaky?key=b&fail=1&status=401", w.target.url());
    let reply = send(
        w.proxy(Some("@acme/github"), Some(&target))
            .header("x-stream-request", "1")
            .body("stream"),
    )
    .await;
    assert_eq!(reply.status, 401);
    assert_eq!(
        reply
            .headers
            .get("x-auth-refreshed")
            .and_then(|v| v.to_str().ok()),
        Some("true")
    );
    assert_eq!(w.target.requests().len(), 1);
    let stored = w
        .fake
        .integration_credential(&w.app, "@acme/github")
        .expect("credential");
    assert_eq!(
        stored.headers,
        vec![("Authorization".to_owned(), "Bearer new".to_owned())]
    );
    // The client's retry goes out with the refreshed token.
    let retry = send(
        w.proxy(Some("@acme/github"), Some(&target))
            .header("x-stream-request", "1")
            .body("stream"),
    )
    .await;
    assert_eq!(retry.status, 200);
    assert_eq!(
        w.target.requests()[1].header("authorization"),
        Some("Bearer new")
    );
}
