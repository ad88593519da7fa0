//! The fake instance, exercised over real HTTP with reqwest.

use std::time::Duration;

use appstrate_testkit::fake_instance::{
    Approval, FakeInstance, Fault, NewUser, Role, decode_claims, verify_es256,
};
use serde_json::{Value, json};

const CLIENT: &str = "appstrate-cli";
const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

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
}

async fn send(request: reqwest::RequestBuilder) -> Reply {
    let response = request.send().await.expect("request sent");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.bytes().await.expect("body read").to_vec();
    Reply {
        status,
        headers,
        body,
    }
}

async fn post_form(fake: &FakeInstance, path: &str, form: &[(&str, &str)]) -> Reply {
    let body: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    send(
        reqwest::Client::new()
            .post(format!("{}{path}", fake.url()))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-appstrate-device-name", "  test-laptop  ")
            .body(body),
    )
    .await
}

async fn device_code(fake: &FakeInstance) -> Value {
    let reply = post_form(
        fake,
        "/api/auth/device/code",
        &[
            ("client_id", CLIENT),
            ("scope", "openid profile email offline_access"),
        ],
    )
    .await;
    assert_eq!(reply.status, 200);
    reply.json()
}

async fn poll(fake: &FakeInstance, device_code: &str) -> Reply {
    post_form(
        fake,
        "/api/auth/cli/token",
        &[
            ("grant_type", DEVICE_GRANT),
            ("device_code", device_code),
            ("client_id", CLIENT),
        ],
    )
    .await
}

async fn refresh(fake: &FakeInstance, token: &str) -> Reply {
    post_form(
        fake,
        "/api/auth/cli/token",
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", token),
            ("client_id", CLIENT),
        ],
    )
    .await
}

async fn get(fake: &FakeInstance, path: &str, bearer: &str, org: Option<&str>) -> Reply {
    let mut request = reqwest::Client::new()
        .get(format!("{}{path}", fake.url()))
        .bearer_auth(bearer);
    if let Some(org) = org {
        request = request.header("x-org-id", org);
    }
    send(request).await
}

async fn post_json(
    fake: &FakeInstance,
    path: &str,
    bearer: &str,
    org: Option<&str>,
    body: Value,
) -> Reply {
    let mut request = reqwest::Client::new()
        .post(format!("{}{path}", fake.url()))
        .bearer_auth(bearer)
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(org) = org {
        request = request.header("x-org-id", org);
    }
    send(request).await
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or_default()
}

#[tokio::test]
async fn device_flow_happy_path_issues_a_token_pair_once() {
    let fake = FakeInstance::builder().interval(0).start();
    let alice = fake.add_user(NewUser::new("alice@example.com").name("Alice"));
    let code = device_code(&fake).await;

    let user_code = str_of(&code, "user_code");
    assert_eq!(user_code.len(), 8);
    assert!(
        user_code
            .chars()
            .all(|c| "BCDFGHJKLMNPQRSTVWXZ".contains(c))
    );
    assert_eq!(code["interval"], 0);
    assert_eq!(code["expires_in"], 600);
    assert_eq!(
        str_of(&code, "verification_uri"),
        format!("{}/activate", fake.url())
    );
    assert_eq!(
        str_of(&code, "verification_uri_complete"),
        format!("{}/activate?user_code={user_code}", fake.url())
    );
    assert_eq!(fake.pending_user_codes(), vec![user_code.to_owned()]);

    let dc = str_of(&code, "device_code").to_owned();
    let pending = poll(&fake, &dc).await;
    assert_eq!(pending.status, 400);
    assert_eq!(pending.json()["error"], "authorization_pending");

    let dashed = format!("{}-{}", &user_code[..4], user_code[4..].to_lowercase());
    assert!(fake.approve(&dashed, &alice));
    let ok = poll(&fake, &dc).await;
    assert_eq!(ok.status, 200);
    assert_eq!(ok.header("cache-control").as_deref(), Some("no-store"));
    assert_eq!(ok.header("pragma").as_deref(), Some("no-cache"));
    let body = ok.json();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    assert_eq!(body["refresh_expires_in"], 2_592_000);
    assert_eq!(body["scope"], "openid profile email offline_access");
    assert_eq!(str_of(&body, "refresh_token").len(), 43);
    assert_eq!(fake.last_device_name().as_deref(), Some("test-laptop"));

    // One-shot: the code is consumed.
    let again = poll(&fake, &dc).await;
    assert_eq!(again.status, 400);
    assert_eq!(again.json()["error"], "invalid_grant");
    assert_eq!(fake.device_polls(), 3);
}

#[tokio::test]
async fn polling_faster_than_the_guard_gets_slow_down() {
    let fake = FakeInstance::builder()
        .interval(1)
        .polling_guard(Duration::from_millis(300))
        .start();
    let code = device_code(&fake).await;
    assert_eq!(code["interval"], 1);
    let dc = str_of(&code, "device_code").to_owned();
    assert_eq!(
        poll(&fake, &dc).await.json()["error"],
        "authorization_pending"
    );
    let fast = poll(&fake, &dc).await;
    assert_eq!(fast.status, 400);
    assert_eq!(fast.json()["error"], "slow_down");
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert_eq!(
        poll(&fake, &dc).await.json()["error"],
        "authorization_pending"
    );
}

#[tokio::test]
async fn expired_and_denied_codes_are_deleted() {
    let fake = FakeInstance::builder().interval(0).expires_in(0).start();
    let dc = str_of(&device_code(&fake).await, "device_code").to_owned();
    let expired = poll(&fake, &dc).await;
    assert_eq!(expired.status, 400);
    assert_eq!(expired.json()["error"], "expired_token");
    assert_eq!(poll(&fake, &dc).await.json()["error"], "invalid_grant");

    fake.set_expires_in(600);
    let code = device_code(&fake).await;
    assert!(fake.deny(str_of(&code, "user_code")));
    let dc = str_of(&code, "device_code").to_owned();
    let denied = poll(&fake, &dc).await;
    assert_eq!(denied.json()["error"], "access_denied");
    assert_eq!(
        denied.json()["error_description"],
        "User denied the authorization request."
    );
    assert_eq!(poll(&fake, &dc).await.json()["error"], "invalid_grant");

    fake.deny_all();
    let dc = str_of(&device_code(&fake).await, "device_code").to_owned();
    assert_eq!(poll(&fake, &dc).await.json()["error"], "access_denied");
}

#[tokio::test]
async fn approve_after_polls_and_auto_approve() {
    let fake = FakeInstance::builder().interval(0).start();
    let bob = fake.add_user("bob@example.com");
    fake.set_approval(Approval::ApproveAfterPolls {
        user: bob.clone(),
        polls: 2,
    });
    let dc = str_of(&device_code(&fake).await, "device_code").to_owned();
    assert_eq!(
        poll(&fake, &dc).await.json()["error"],
        "authorization_pending"
    );
    assert_eq!(
        poll(&fake, &dc).await.json()["error"],
        "authorization_pending"
    );
    assert_eq!(poll(&fake, &dc).await.status, 200);

    fake.auto_approve(&bob);
    let dc = str_of(&device_code(&fake).await, "device_code").to_owned();
    let ok = poll(&fake, &dc).await;
    assert_eq!(ok.status, 200);
    let claims = decode_claims(str_of(&ok.json(), "access_token")).expect("claims");
    assert_eq!(claims["sub"], Value::String(bob));
}

#[tokio::test]
async fn access_token_has_exactly_the_contract_claims_and_verifies() {
    let fake = FakeInstance::builder().interval(0).access_ttl(60).start();
    let alice = fake.add_user("alice@example.com");
    fake.auto_approve(&alice);
    let dc = str_of(&device_code(&fake).await, "device_code").to_owned();
    let body = poll(&fake, &dc).await.json();
    assert_eq!(body["expires_in"], 60);
    let access = str_of(&body, "access_token");

    let claims = verify_es256(&fake.verifying_key(), access).expect("signature verifies");
    let keys: Vec<&str> = claims
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "iss",
            "aud",
            "sub",
            "iat",
            "exp",
            "jti",
            "azp",
            "actor_type",
            "email",
            "email_verified",
            "name",
            "cli_family_id",
            "scope"
        ]
    );
    assert_eq!(claims["iss"], Value::String(fake.issuer()));
    assert_eq!(claims["aud"], Value::String(fake.issuer()));
    assert_eq!(claims["sub"], Value::String(alice));
    assert_eq!(claims["azp"], "appstrate-cli");
    assert_eq!(claims["actor_type"], "user");
    assert_eq!(claims["email"], "alice@example.com");
    assert_eq!(claims["email_verified"], true);
    assert_eq!(
        claims["name"], "alice@example.com",
        "name falls back to email"
    );
    assert_eq!(claims["scope"], "openid profile email offline_access");
    let iat = claims["iat"].as_u64().expect("iat");
    assert_eq!(claims["exp"].as_u64(), Some(iat + 60));
    let jti = str_of(&claims, "jti");
    assert_eq!(jti.len(), 32);
    assert!(jti.chars().all(|c| c.is_ascii_hexdigit()));
    assert!(str_of(&claims, "cli_family_id").starts_with("crf_"));

    // A tampered token does not verify; another instance's key does not either.
    let mut tampered = access.to_owned();
    tampered.push('A');
    assert!(verify_es256(&fake.verifying_key(), &tampered).is_none());
    let other = FakeInstance::start();
    assert!(verify_es256(&other.verifying_key(), access).is_none());

    // The JWKS publishes the same key.
    let jwks = send(reqwest::Client::new().get(format!("{}/api/auth/jwks", fake.url()))).await;
    assert_eq!(jwks.json()["keys"][0]["crv"], "P-256");
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_family() {
    let fake = FakeInstance::start();
    let alice = fake.add_user("alice@example.com");
    let (access0, refresh0) = fake.issue_tokens(&alice);
    let family = fake.family_of(&refresh0).expect("family");
    assert_eq!(get(&fake, "/api/profile", &access0, None).await.status, 200);

    let first = refresh(&fake, &refresh0).await;
    assert_eq!(first.status, 200);
    let body = first.json();
    let refresh1 = str_of(&body, "refresh_token").to_owned();
    let access1 = str_of(&body, "access_token").to_owned();
    assert_ne!(refresh1, refresh0);
    assert_eq!(fake.family_of(&refresh1).as_deref(), Some(family.as_str()));
    assert!(!fake.is_refresh_token_live(&refresh0));
    assert!(fake.is_refresh_token_live(&refresh1));
    assert_eq!(get(&fake, "/api/profile", &access1, None).await.status, 200);

    // Presenting the used token again revokes the whole family.
    let reuse = refresh(&fake, &refresh0).await;
    assert_eq!(reuse.status, 400);
    assert_eq!(reuse.json()["error"], "invalid_grant");
    assert_eq!(
        reuse.json()["error_description"],
        "Refresh token has been revoked."
    );
    assert!(fake.is_family_revoked(&family));
    let child = refresh(&fake, &refresh1).await;
    assert_eq!(
        child.json()["error_description"],
        "Refresh token has been revoked."
    );
    // Live access tokens of the family are rejected at once.
    let denied = get(&fake, "/api/profile", &access1, None).await;
    assert_eq!(denied.status, 401);
    assert_eq!(denied.json()["code"], "unauthorized");
    assert_eq!(fake.refresh_calls(), 3);
    assert_eq!(fake.sessions()[0].revoked.as_deref(), Some("reuse"));

    let unknown = refresh(&fake, "nope").await;
    assert_eq!(
        unknown.json()["error_description"],
        "Unknown refresh token."
    );
}

#[tokio::test]
async fn revoke_always_answers_revoked_true_and_kills_the_family() {
    let fake = FakeInstance::start();
    let alice = fake.add_user("alice@example.com");
    let (access, refresh_token) = fake.issue_tokens(&alice);
    for token in [refresh_token.as_str(), "unknown-token"] {
        let reply = post_form(
            &fake,
            "/api/auth/cli/revoke",
            &[("token", token), ("client_id", CLIENT)],
        )
        .await;
        assert_eq!(reply.status, 200);
        assert_eq!(reply.json(), json!({ "revoked": true }));
    }
    assert_eq!(get(&fake, "/api/profile", &access, None).await.status, 401);
    assert_eq!(
        refresh(&fake, &refresh_token).await.json()["error"],
        "invalid_grant"
    );

    let bad_client = post_form(
        &fake,
        "/api/auth/cli/revoke",
        &[("token", "x"), ("client_id", "other")],
    )
    .await;
    assert_eq!(bad_client.status, 401);
    assert_eq!(bad_client.json()["error"], "invalid_client");
}

#[tokio::test]
async fn token_endpoint_accepts_json_bodies_and_rejects_unknown_clients() {
    let fake = FakeInstance::start();
    let alice = fake.add_user("alice@example.com");
    let (_, refresh_token) = fake.issue_tokens(&alice);
    let reply = send(
        reqwest::Client::new()
            .post(format!("{}/api/auth/cli/token", fake.url()))
            .header("content-type", "application/json")
            .body(
                json!({"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": CLIENT})
                    .to_string(),
            ),
    )
    .await;
    assert_eq!(reply.status, 200);
    let unknown = post_form(
        &fake,
        "/api/auth/cli/token",
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", "x"),
            ("client_id", "evil"),
        ],
    )
    .await;
    assert_eq!(unknown.status, 401);
    assert_eq!(
        unknown.json()["error_description"],
        "Unknown or disabled client."
    );
    let garbage = send(
        reqwest::Client::new()
            .post(format!("{}/api/auth/cli/token", fake.url()))
            .body(vec![0xff, 0xfe, 0x00]),
    )
    .await;
    assert_eq!(garbage.status, 400);
    assert_eq!(garbage.json()["error"], "invalid_request");
}

#[tokio::test]
async fn profile_orgs_and_applications() {
    let fake = FakeInstance::start();
    let alice = fake.add_user(
        NewUser::new("alice@example.com")
            .name("Alice")
            .display_name("Ali"),
    );
    let (access, _) = fake.issue_tokens(&alice);

    let profile = get(&fake, "/api/profile", &access, None).await.json();
    assert_eq!(
        profile,
        json!({"id": alice, "displayName": "Ali", "language": null, "email": "alice@example.com", "name": "Alice"})
    );

    let empty = get(&fake, "/api/orgs", &access, None).await.json();
    assert_eq!(
        empty,
        json!({"object": "list", "data": [], "hasMore": false})
    );

    let created = post_json(
        &fake,
        "/api/orgs",
        &access,
        None,
        json!({"name": " Acme Corp "}),
    )
    .await;
    assert_eq!(created.status, 201);
    let org = created.json();
    assert_eq!(org["name"], "Acme Corp");
    assert_eq!(org["slug"], "acme-corp");
    assert_eq!(org["role"], "owner");
    assert!(str_of(&org, "createdAt").ends_with('Z'));
    let org_id = str_of(&org, "id").to_owned();

    let taken = post_json(
        &fake,
        "/api/orgs",
        &access,
        None,
        json!({"name": "Other", "slug": "acme-corp"}),
    )
    .await;
    assert_eq!(taken.status, 400);
    assert_eq!(taken.json()["code"], "slug_taken");
    assert_eq!(taken.json()["detail"], "Slug 'acme-corp' is already in use");
    let bad_slug = post_json(
        &fake,
        "/api/orgs",
        &access,
        None,
        json!({"name": "X", "slug": "Not Kebab"}),
    )
    .await;
    assert_eq!(bad_slug.json()["code"], "validation_failed");

    // Creating an org provisioned a default application.
    let apps = get(&fake, "/api/applications", &access, Some(&org_id))
        .await
        .json();
    assert_eq!(apps["data"].as_array().map(Vec::len), Some(1));
    assert_eq!(apps["data"][0]["isDefault"], true);
    assert_eq!(apps["data"][0]["object"], "application");

    let new_app = post_json(
        &fake,
        "/api/applications",
        &access,
        Some(&org_id),
        json!({"name": "Second"}),
    )
    .await;
    assert_eq!(new_app.status, 201);
    assert_eq!(new_app.json()["isDefault"], false);
    assert!(str_of(&new_app.json(), "id").starts_with("app_"));
    assert_eq!(new_app.json()["created_by"], Value::String(alice.clone()));

    // Default first even when created later.
    let other = fake.add_org(&alice, "Beta", "beta", Role::Member);
    fake.add_app(&other, "Zeta", false);
    fake.add_app(&other, "Main", true);
    let listed = get(&fake, "/api/applications", &access, Some(&other))
        .await
        .json();
    let names: Vec<&str> = listed["data"]
        .as_array()
        .map(|a| a.iter().map(|x| str_of(x, "name")).collect())
        .unwrap_or_default();
    assert_eq!(names, ["Main", "Zeta"]);
    // Members cannot create applications.
    let refused = post_json(
        &fake,
        "/api/applications",
        &access,
        Some(&other),
        json!({"name": "N"}),
    )
    .await;
    assert_eq!(refused.status, 403);

    let orgs = get(&fake, "/api/orgs", &access, None).await.json();
    assert_eq!(orgs["data"][1]["role"], "member");
}

#[tokio::test]
async fn errors_are_problem_json() {
    let fake = FakeInstance::start();
    let alice = fake.add_user("alice@example.com");
    let stranger = fake.add_user("eve@example.com");
    let org = fake.add_org(&stranger, "Evil", "evil", Role::Owner);
    let (access, _) = fake.issue_tokens(&alice);

    let missing = get(&fake, "/api/applications", &access, None).await;
    assert_eq!(missing.status, 400);
    assert_eq!(
        missing.header("content-type").as_deref(),
        Some("application/problem+json")
    );
    let body = missing.json();
    let request_id = str_of(&body, "requestId").to_owned();
    assert!(request_id.starts_with("req_"));
    assert_eq!(missing.header("request-id"), Some(request_id.clone()));
    assert_eq!(
        body,
        json!({
            "type": "https://docs.appstrate.dev/errors/invalid-request",
            "title": "Invalid Request",
            "status": 400,
            "detail": "X-Org-Id header is required",
            "instance": format!("urn:appstrate:request:{request_id}"),
            "code": "invalid_request",
            "requestId": request_id,
            "param": "X-Org-Id",
        })
    );
    assert!(body.get("message").is_none());

    let not_member = get(&fake, "/api/models", &access, Some(&org)).await;
    assert_eq!(not_member.status, 403);
    assert_eq!(not_member.json()["code"], "forbidden");

    let no_auth = send(reqwest::Client::new().get(format!("{}/api/orgs", fake.url()))).await;
    assert_eq!(no_auth.status, 401);
    assert_eq!(no_auth.json()["title"], "Unauthorized");

    let unknown = get(&fake, "/api/nowhere", &access, None).await;
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.json()["code"], "not_found");

    // Cookie-only routes refuse a bearer with the auth error shape.
    let revoke_all = send(
        reqwest::Client::new()
            .post(format!("{}/api/auth/cli/sessions/revoke-all", fake.url()))
            .bearer_auth(&access),
    )
    .await;
    assert_eq!(revoke_all.status, 401);
    assert_eq!(revoke_all.json()["error"], "unauthorized");
}

#[tokio::test]
async fn models_are_a_list_envelope_passed_through() {
    let fake = FakeInstance::start();
    let alice = fake.add_user("alice@example.com");
    let org = fake.add_org(&alice, "Acme", "acme", Role::Viewer);
    let preset = json!({"id": "gpt-x", "label": "GPT X", "apiShape": "openai-completions", "enabled": true, "isDefault": true, "extra": [1]});
    fake.add_model(&org, preset.clone());
    let (access, _) = fake.issue_tokens(&alice);
    let models = get(&fake, "/api/models", &access, Some(&org)).await.json();
    assert_eq!(
        models,
        json!({"object": "list", "data": [preset], "hasMore": false})
    );
}

#[tokio::test]
async fn openapi_has_a_strong_etag_and_answers_304() {
    let fake = FakeInstance::start();
    let first = send(reqwest::Client::new().get(format!("{}/api/openapi.json", fake.url()))).await;
    assert_eq!(first.status, 200);
    assert_eq!(
        first.header("content-type").as_deref(),
        Some("application/json; charset=UTF-8")
    );
    assert_eq!(
        first.header("cache-control").as_deref(),
        Some("public, max-age=0, must-revalidate")
    );
    let etag = first.header("etag").expect("etag");
    assert_eq!(etag, fake.openapi_etag());
    assert_eq!(etag.len(), 34);
    assert_eq!(first.json()["openapi"], "3.1.0");

    let again = send(
        reqwest::Client::new()
            .get(format!("{}/api/openapi.json", fake.url()))
            .header("if-none-match", &etag),
    )
    .await;
    assert_eq!(again.status, 304);
    assert!(again.body.is_empty());

    fake.set_openapi(br#"{"openapi":"3.1.0","paths":{}}"#.to_vec());
    let changed = send(
        reqwest::Client::new()
            .get(format!("{}/api/openapi.json", fake.url()))
            .header("if-none-match", &etag),
    )
    .await;
    assert_eq!(changed.status, 200);
    assert_eq!(changed.json(), json!({"openapi": "3.1.0", "paths": {}}));
    assert_ne!(changed.header("etag"), Some(etag));
}

#[tokio::test]
async fn org_admins_list_and_revoke_member_sessions() {
    let fake = FakeInstance::start();
    let owner = fake.add_user(NewUser::new("owner@example.com").name("Owner"));
    let member = fake.add_user("member@example.com");
    let org = fake.add_org(&owner, "Acme", "acme", Role::Owner);
    fake.add_member(&org, &member, Role::Member);
    let owner_session = fake.issue_session(&owner, Some("owner-laptop"));
    let member_session = fake.issue_session(&member, Some("member-box"));

    let listed = get(
        &fake,
        &format!("/api/orgs/{org}/cli-sessions"),
        &owner_session.access_token,
        None,
    )
    .await
    .json();
    let data = listed["data"].as_array().cloned().unwrap_or_default();
    assert_eq!(data.len(), 2);
    let mine = data
        .iter()
        .find(|s| s["userId"] == Value::String(owner.clone()))
        .expect("own session listed");
    assert_eq!(
        mine["familyId"],
        Value::String(owner_session.family_id.clone())
    );
    assert_eq!(mine["deviceName"], "owner-laptop");
    assert_eq!(mine["userEmail"], "owner@example.com");
    assert_eq!(mine["current"], false);

    let forbidden = get(
        &fake,
        &format!("/api/orgs/{org}/cli-sessions"),
        &member_session.access_token,
        None,
    )
    .await;
    assert_eq!(forbidden.status, 403);

    let delete = |family: String| {
        let url = format!("{}/api/orgs/{org}/cli-sessions/{family}", fake.url());
        let token = owner_session.access_token.clone();
        async move { send(reqwest::Client::new().delete(url).bearer_auth(token)).await }
    };
    assert_eq!(delete(member_session.family_id.clone()).await.status, 204);
    assert!(fake.is_family_revoked(&member_session.family_id));
    assert_eq!(delete(member_session.family_id.clone()).await.status, 404);
    assert_eq!(delete("crf_unknown".into()).await.status, 404);

    // A member of another org too: the admin may not cut the shared credential.
    let other = fake.add_org(&owner, "Beta", "beta", Role::Owner);
    let _ = other;
    assert_eq!(delete(owner_session.family_id.clone()).await.status, 404);
    assert!(!fake.is_family_revoked(&owner_session.family_id));
}

#[tokio::test]
async fn request_log_records_method_path_query_headers_body() {
    let fake = FakeInstance::start();
    let alice = fake.add_user("alice@example.com");
    let (access, _) = fake.issue_tokens(&alice);
    get(&fake, "/api/orgs?limit=5", &access, Some("org-1")).await;
    let log = fake.requests();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].method, "GET");
    assert_eq!(log[0].path, "/api/orgs");
    assert_eq!(log[0].query.as_deref(), Some("limit=5"));
    assert_eq!(log[0].header("X-Org-Id"), Some("org-1"));
    assert_eq!(
        log[0].header("authorization"),
        Some(format!("Bearer {access}").as_str())
    );
    post_form(
        &fake,
        "/api/auth/cli/revoke",
        &[("token", "t"), ("client_id", CLIENT)],
    )
    .await;
    let revoke = &fake.requests_to("post", "/api/auth/cli/revoke")[0];
    assert_eq!(revoke.form_value("token").as_deref(), Some("t"));
    assert_eq!(fake.count("POST", "/api/auth/cli/revoke"), 1);
    fake.clear_requests();
    assert!(fake.requests().is_empty());
}

#[tokio::test]
async fn expire_access_tokens_forces_a_401_but_refresh_still_works() {
    let fake = FakeInstance::start();
    let alice = fake.add_user("alice@example.com");
    let (access, refresh_token) = fake.issue_tokens(&alice);
    fake.expire_access_tokens();
    assert_eq!(get(&fake, "/api/profile", &access, None).await.status, 401);
    let fresh = refresh(&fake, &refresh_token).await.json();
    assert_eq!(
        get(&fake, "/api/profile", str_of(&fresh, "access_token"), None)
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn injected_faults_fire_as_configured() {
    let fake = FakeInstance::start();
    let alice = fake.add_user("alice@example.com");
    let (access, refresh_token) = fake.issue_tokens(&alice);

    fake.inject(Fault::problem("/api/orgs", 500, "internal_error", "boom").times(1));
    let failed = get(&fake, "/api/orgs", &access, None).await;
    assert_eq!(failed.status, 500);
    assert_eq!(failed.json()["detail"], "boom");
    assert_eq!(
        get(&fake, "/api/orgs", &access, None).await.status,
        200,
        "fault exhausted"
    );

    fake.inject(Fault::non_json("/api/profile", 502).times(1));
    let html = get(&fake, "/api/profile", &access, None).await;
    assert_eq!(html.status, 502);
    assert!(serde_json::from_slice::<Value>(&html.body).is_err());

    fake.inject(
        Fault::rate_limited("/api/auth/cli/token", 12)
            .body_contains("grant_type=refresh_token")
            .times(1),
    );
    let limited = refresh(&fake, &refresh_token).await;
    assert_eq!(limited.status, 429);
    assert_eq!(limited.header("retry-after").as_deref(), Some("12"));
    assert_eq!(
        limited.json()["error_description"],
        "Too many requests to cli-token. Retry after 12s."
    );

    fake.inject(Fault::drop_connection("/api/models").times(1));
    let dropped = reqwest::Client::new()
        .get(format!("{}/api/models", fake.url()))
        .send()
        .await;
    assert!(dropped.is_err(), "connection dropped without an answer");

    fake.inject(Fault::truncated("/api/orgs", 200, r#"{"object":"list","data":[]}"#).times(1));
    let cut = reqwest::Client::new()
        .get(format!("{}/api/orgs", fake.url()))
        .bearer_auth(&access)
        .send()
        .await
        .expect("headers arrive");
    assert_eq!(cut.status(), 200);
    assert!(cut.bytes().await.is_err(), "body is cut short");

    fake.inject(Fault::stall("/api/profile").method("GET").times(1));
    let stalled = reqwest::Client::new()
        .get(format!("{}/api/profile", fake.url()))
        .timeout(Duration::from_millis(200))
        .send()
        .await;
    assert!(stalled.err().is_some_and(|e| e.is_timeout()));

    fake.inject(Fault::delay("/api/profile", Duration::from_millis(150)).times(1));
    let started = std::time::Instant::now();
    assert_eq!(get(&fake, "/api/profile", &access, None).await.status, 200);
    assert!(started.elapsed() >= Duration::from_millis(150));

    // Every request, even dropped and stalled ones, is on record.
    assert_eq!(fake.count("GET", "/api/models"), 1);
    assert_eq!(fake.count("GET", "/api/profile"), 3);
}

#[test]
fn dropping_the_instance_stops_the_server() {
    let fake = FakeInstance::start();
    let addr = fake.url().trim_start_matches("http://").to_owned();
    fake.inject(Fault::stall("*"));
    drop(fake);
    assert!(std::net::TcpStream::connect(addr).is_err());
}

#[tokio::test]
async fn concurrent_refreshes_with_one_token_trip_reuse_detection() {
    let fake = FakeInstance::start();
    let alice = fake.add_user("alice@example.com");
    let (_, refresh_token) = fake.issue_tokens(&alice);
    let family = fake.family_of(&refresh_token).expect("family");
    let replies =
        futures_util::future::join_all((0..4).map(|_| refresh(&fake, &refresh_token))).await;
    let ok = replies.iter().filter(|r| r.status == 200).count();
    assert_eq!(ok, 1, "a refresh token is single-use");
    assert!(
        replies
            .iter()
            .filter(|r| r.status != 200)
            .all(|r| r.json()["error"] == "invalid_grant")
    );
    assert!(fake.is_family_revoked(&family), "reuse revoked the family");
    assert_eq!(fake.refresh_calls(), 4);
}

#[tokio::test]
async fn expired_refresh_tokens_are_refused() {
    let fake = FakeInstance::builder().refresh_ttl(0).start();
    let alice = fake.add_user("alice@example.com");
    let (_, refresh_token) = fake.issue_tokens(&alice);
    tokio::time::sleep(Duration::from_millis(5)).await;
    let reply = refresh(&fake, &refresh_token).await;
    assert_eq!(reply.status, 400);
    assert_eq!(
        reply.json()["error_description"],
        "Refresh token has expired."
    );
}

#[tokio::test]
async fn manual_approval_while_a_client_polls() {
    let fake = FakeInstance::builder().interval(0).start();
    let alice = fake.add_user("alice@example.com");
    let code = device_code(&fake).await;
    let user_code = fake
        .wait_for_user_code(Duration::from_secs(1))
        .expect("a code is outstanding");
    assert_eq!(user_code, str_of(&code, "user_code"));
    assert!(!fake.approve("not-a-code", &alice));
    assert!(fake.approve(&user_code, &alice));
    assert_eq!(poll(&fake, str_of(&code, "device_code")).await.status, 200);
    assert!(fake.pending_user_codes().is_empty());
    assert!(fake.wait_for_user_code(Duration::from_millis(30)).is_none());
}

#[tokio::test]
async fn request_validation_problems() {
    let fake = FakeInstance::start();
    let alice = fake.add_user("alice@example.com");
    let org = fake.add_org(&alice, "Acme", "acme", Role::Admin);
    let (access, _) = fake.issue_tokens(&alice);
    let long = "x".repeat(101);
    let too_long = post_json(
        &fake,
        "/api/applications",
        &access,
        Some(&org),
        json!({"name": long}),
    )
    .await;
    assert_eq!(too_long.status, 400);
    assert_eq!(too_long.json()["code"], "validation_failed");
    let no_name = post_json(&fake, "/api/orgs", &access, None, json!({})).await;
    assert_eq!(no_name.json()["code"], "validation_failed");
    let not_json = send(
        reqwest::Client::new()
            .post(format!("{}/api/orgs", fake.url()))
            .bearer_auth(&access)
            .body("{not json"),
    )
    .await;
    assert_eq!(not_json.status, 400);
    assert_eq!(not_json.json()["code"], "invalid_request");
    let wrong_method = send(
        reqwest::Client::new()
            .delete(format!("{}/api/orgs", fake.url()))
            .bearer_auth(&access),
    )
    .await;
    assert_eq!(wrong_method.status, 405);
    fake.set_org_creation_disabled(true);
    let closed = post_json(&fake, "/api/orgs", &access, None, json!({"name": "New"})).await;
    assert_eq!(closed.status, 403);
    // Non-members of the org cannot see its CLI sessions.
    let outsider = fake.add_user("out@example.com");
    let (outsider_access, _) = fake.issue_tokens(&outsider);
    let refused = get(
        &fake,
        &format!("/api/orgs/{org}/cli-sessions"),
        &outsider_access,
        None,
    )
    .await;
    assert_eq!(refused.status, 403);
    assert_eq!(
        refused.json()["detail"],
        "You are not a member of this organization"
    );
}
