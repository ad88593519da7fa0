//! Integration `api_call` tools of `appstrate run` end to end: the built
//! binary, the scripted model server calling the tool, and loopback
//! upstream APIs (the recorder). The local resolver (`--creds-file`) and
//! the remote one (the fake instance's credential proxy); the allowlist,
//! the private-address guard, redirects, and no secret in any output.

use std::path::PathBuf;
use std::process::{Command, Output};

use appstrate_testkit::fake_instance::IntegrationCredential;
use appstrate_testkit::model_server::{ModelServer, RecordedRequest, Reply};
use appstrate_testkit::recorder::Recorder;
use serde_json::{Value, json};

use crate::run_common::{RunEnv, jsonl, output, stderr, stdout};
use crate::signed_in::SignedIn;

const INTEGRATION: &str = "@acme/gh";
const TOOL: &str = "acme_gh__api_call";
const SECRET: &str = "ghp_integration_secret_7f3a";

/// An agent bundle depending on `@acme/gh`, whose `main` auth is `auth`.
fn bundle(env: &RunEnv, auth: Value) -> PathBuf {
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
        json!({"name": "@acme/agent", "version": "1.0.0", "type": "agent",
               "dependencies": {"integrations": {INTEGRATION: "^1.0.0"}}}),
        &[("prompt.md", "Call the API.\n")],
    ))
    .expect("agent package");
    let integration = package_from_files(files(
        json!({"name": INTEGRATION, "version": "1.0.0", "type": "integration",
               "schema_version": "0.1", "display_name": "GitHub", "source": {"kind": "none"},
               "auths": {"main": auth},
               "_meta": {"dev.appstrate/api": {"auths": {"main": {}}}}}),
        &[],
    ))
    .expect("integration package");
    let mut bundle = Bundle {
        format_version: "1.0".into(),
        root: agent.identity.clone(),
        packages: vec![agent, integration],
        integrity: String::new(),
        metadata: None,
        kind: ArchiveKind::AfpsBundle,
    };
    bundle.integrity = bundle.compute_integrity();
    let path = env.path("agent.afps-bundle");
    std::fs::write(
        &path,
        appstrate_afps::writer::write_bundle(&bundle).expect("write bundle"),
    )
    .expect("write");
    path
}

fn api_key_auth(allowed: &[String]) -> Value {
    json!({"type": "api_key", "authorized_uris": allowed,
           "credentials": {"schema": {"type": "object"}}})
}

fn creds_file(env: &RunEnv) -> PathBuf {
    let path = env.path("creds.json");
    std::fs::write(
        &path,
        json!({"version": 1, "integrations": {INTEGRATION: {"fields": {"api_key": SECRET, "org": "acme"}}}})
            .to_string(),
    )
    .expect("creds");
    path
}

fn command(env: &RunEnv, server: &ModelServer) -> Command {
    let mut c = env.base_command(Some(server));
    c.env("ANTHROPIC_API_KEY", "sk-test-secret-key");
    c
}

/// The model calls the tool once with `args`, then stops.
async fn one_call(args: Value) -> ModelServer {
    ModelServer::start(vec![Reply::call("t1", TOOL, args), Reply::text("done")]).await
}

/// The text of the first tool result the model was sent.
fn tool_result(requests: &[RecordedRequest]) -> String {
    fn find(v: &Value) -> Option<String> {
        match v {
            Value::Object(m) if m.get("type") == Some(&json!("tool_result")) => {
                Some(match m.get("content") {
                    Some(Value::String(s)) => s.clone(),
                    Some(Value::Array(parts)) => parts
                        .iter()
                        .filter_map(|p| p.get("text").and_then(Value::as_str))
                        .collect(),
                    _ => String::new(),
                })
            }
            Value::Object(m) => m.values().find_map(find),
            Value::Array(a) => a.iter().find_map(find),
            _ => None,
        }
    }
    requests
        .iter()
        .find_map(|r| find(&r.body))
        .unwrap_or_default()
}

fn assert_secret_free(o: &Output, secrets: &[&str]) {
    let all = format!("{}{}", stdout(o), stderr(o));
    for s in secrets {
        assert!(!all.contains(s), "a secret leaked: {all}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_credentials_are_injected_and_the_reply_reaches_the_model() {
    let env = RunEnv::new();
    let upstream = Recorder::start();
    let path = bundle(&env, api_key_auth(&[format!("{}/v1/**", upstream.url())]));
    let creds = creds_file(&env);
    for json_mode in [false, true] {
        upstream.clear();
        let server = one_call(
            json!({"method": "POST", "target": format!("{}/v1/{{{{org}}}}/items", upstream.url()),
            "headers": {"Content-Type": "text/plain", "Authorization": "Bearer stolen"},
            "body": "hello"}),
        )
        .await;
        let mut c = command(&env, &server);
        c.env("APPSTRATE_INTEGRATIONS_ALLOW_PRIVATE", "1").args([
            "run",
            path.to_str().expect("utf-8"),
            "--integrations",
            "local",
            "--creds-file",
            creds.to_str().expect("utf-8"),
        ]);
        if json_mode {
            c.arg("--json");
        }
        let o = output(c).await;
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        if json_mode {
            assert!(!jsonl(&o).is_empty());
        } else {
            assert!(
                stderr(&o).contains("→ wired 1 integration api_call tool(s)\n"),
                "{}",
                stderr(&o)
            );
        }
        let seen = upstream.requests();
        assert_eq!(seen.len(), 1, "{seen:?}");
        assert_eq!(seen[0].target, "/v1/acme/items");
        assert_eq!(seen[0].header("x-api-key"), Some(SECRET));
        // A caller-set Authorization is reserved: stripped.
        assert_eq!(seen[0].header("authorization"), None);
        assert_eq!(seen[0].body, b"hello");

        let requests = server.requests();
        let tools: Vec<&str> = requests[0].body["tools"]
            .as_array()
            .expect("tools")
            .iter()
            .filter_map(|t| t["name"].as_str())
            .collect();
        assert!(tools.contains(&TOOL), "{tools:?}");
        let result: Value = serde_json::from_str(&tool_result(&requests)).expect("result JSON");
        assert_eq!(result["status"], 200);
        assert_eq!(result["body"]["kind"], "text");
        assert_eq!(result["body"]["text"], "{\"ok\":true}\n");
        assert_secret_free(&o, &[SECRET, "sk-test-secret-key"]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn targets_outside_the_allowlist_and_private_addresses_are_refused() {
    let env = RunEnv::new();
    let upstream = Recorder::start();
    let path = bundle(&env, api_key_auth(&[format!("{}/v1/**", upstream.url())]));
    let creds = creds_file(&env);
    let cases = [
        (
            format!("{}/admin", upstream.url()),
            true,
            "is not in the authorized_uris",
        ),
        (
            format!("{}/v1/x", upstream.url()),
            false,
            "resolves to a loopback address",
        ),
    ];
    for (target, allow_private, expected) in cases {
        let server = one_call(json!({"method": "GET", "target": target})).await;
        let mut c = command(&env, &server);
        if allow_private {
            c.env("APPSTRATE_INTEGRATIONS_ALLOW_PRIVATE", "1");
        }
        c.args([
            "run",
            path.to_str().expect("utf-8"),
            "--integrations",
            "local",
            "--creds-file",
            creds.to_str().expect("utf-8"),
        ]);
        let o = output(c).await;
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let result = tool_result(&server.requests());
        assert!(result.contains(expected), "{result}");
        assert!(!result.contains(SECRET));
        assert!(upstream.requests().is_empty(), "{:?}", upstream.requests());
        assert_secret_free(&o, &[SECRET]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_credential_allowlist_is_required() {
    let env = RunEnv::new();
    let upstream = Recorder::start();
    let path = bundle(
        &env,
        json!({"type": "api_key", "allow_all_uris": true, "credentials": {"schema": {}}}),
    );
    let creds = creds_file(&env);
    let server =
        one_call(json!({"method": "GET", "target": format!("{}/v1/x", upstream.url())})).await;
    let mut c = command(&env, &server);
    c.env("APPSTRATE_INTEGRATIONS_ALLOW_PRIVATE", "1").args([
        "run",
        path.to_str().expect("utf-8"),
        "--integrations",
        "local",
        "--creds-file",
        creds.to_str().expect("utf-8"),
    ]);
    let o = output(c).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let result = tool_result(&server.requests());
    assert!(
        result.contains("RESOLVER_CREDENTIAL_EXFIL_BLOCKED"),
        "{result}"
    );
    assert!(upstream.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_to_another_origin_drops_the_credential_and_is_rechecked() {
    let env = RunEnv::new();
    let first = Recorder::start();
    let second = Recorder::start();
    let outside = Recorder::start();
    let path = bundle(
        &env,
        api_key_auth(&[
            format!("{}/**", first.url()),
            format!("{}/**", second.url()),
        ]),
    );
    let creds = creds_file(&env);
    let run = |server: &ModelServer| {
        let mut c = command(&env, server);
        c.env("APPSTRATE_INTEGRATIONS_ALLOW_PRIVATE", "1").args([
            "run",
            path.to_str().expect("utf-8"),
            "--integrations",
            "local",
            "--creds-file",
            creds.to_str().expect("utf-8"),
        ]);
        c
    };

    let hop = format!("{}/redirect/302?to={}/landing", first.url(), second.url());
    let server = one_call(json!({"method": "GET", "target": hop})).await;
    let o = output(run(&server)).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(first.requests().len(), 1);
    assert_eq!(first.requests()[0].header("x-api-key"), Some(SECRET));
    let landed = second.requests();
    assert_eq!(landed.len(), 1, "{landed:?}");
    assert_eq!(landed[0].target, "/landing");
    assert_eq!(landed[0].header("x-api-key"), None);
    assert!(tool_result(&server.requests()).contains("\"status\":200"));

    // A hop outside the allowlist is refused before it is followed.
    let away = format!("{}/redirect/307?to={}/x", first.url(), outside.url());
    let server = one_call(json!({"method": "GET", "target": away})).await;
    let o = output(run(&server)).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(outside.requests().is_empty());
    let result = tool_result(&server.requests());
    assert!(result.contains("redirect refused"), "{result}");
    assert_secret_free(&o, &[SECRET]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn none_wires_no_integration_tool() {
    let env = RunEnv::new();
    let path = bundle(&env, api_key_auth(&["https://api.example.com/**".into()]));
    let server = ModelServer::start(vec![Reply::text("done")]).await;
    let mut c = command(&env, &server);
    c.args([
        "run",
        path.to_str().expect("utf-8"),
        "--integrations",
        "none",
    ]);
    let o = output(c).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        !stderr(&o).contains("integration api_call"),
        "{}",
        stderr(&o)
    );
    let body = server.requests()[0].body.to_string();
    assert!(!body.contains(TOOL));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_credentials_go_through_the_platform_proxy() {
    let s = SignedIn::new();
    let upstream = Recorder::start();
    let key = s.fake.add_api_key(&s.user, &s.acme, &s.acme_main);
    s.fake.set_integration_credential(
        &s.acme_main,
        INTEGRATION,
        IntegrationCredential::header("X-Api-Key", SECRET)
            .authorized_uris(&[&format!("{}/**", upstream.url())]),
    );
    let env = RunEnv::new();
    let path = bundle(&env, api_key_auth(&[format!("{}/**", upstream.url())]));
    let server = ModelServer::start(vec![
        Reply::call(
            "t1",
            TOOL,
            json!({"method": "GET", "target": format!("{}/v1/a", upstream.url())}),
        ),
        Reply::call(
            "t2",
            TOOL,
            // While the run is reported its id is ours to set: this one is
            // replaced, not sent beside it.
            json!({"method": "GET", "target": format!("{}/v1/b", upstream.url()),
                   "headers": {"X-Run-Id": "run_chosen_by_the_model"}}),
        ),
        Reply::text("done"),
    ])
    .await;
    let mut c = command(&env, &server);
    c.env("APPSTRATE_API_KEY", &key)
        .env("APPSTRATE_INSTANCE", s.fake.url())
        .env("APPSTRATE_APP_ID", &s.acme_main)
        .env("APPSTRATE_ORG_ID", &s.acme)
        .args(["run", path.to_str().expect("utf-8"), "--json"]);
    let o = output(c).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));

    let seen = upstream.requests();
    assert_eq!(seen.len(), 2, "{}", tool_result(&server.requests()));
    for r in &seen {
        assert_eq!(r.header("x-api-key"), Some(SECRET));
    }
    let proxied = s.fake.requests_to("GET", "/api/credential-proxy/proxy");
    assert_eq!(proxied.len(), 2);
    let bearer = format!("Bearer {key}");
    for r in &proxied {
        assert_eq!(r.header("authorization"), Some(bearer.as_str()));
        assert_eq!(r.header("x-integration-id"), Some(INTEGRATION));
        assert_eq!(r.header("x-application-id"), Some(s.acme_main.as_str()));
    }
    // The run is reported (an API key makes `--report auto` report): every
    // call names the run the instance registered.
    let runs = s.fake.runs();
    assert_eq!(runs.len(), 1, "one reported run");
    for r in &proxied {
        let run_ids: Vec<&str> = r
            .headers
            .iter()
            .filter(|(name, _)| name.eq_ignore_ascii_case("x-run-id"))
            .map(|(_, value)| value.as_str())
            .collect();
        assert_eq!(run_ids, vec![runs[0].id.as_str()]);
    }
    // One session id per process.
    let session = proxied[0].header("x-session-id").expect("session id");
    assert_eq!(session.len(), 36);
    assert_eq!(proxied[1].header("x-session-id"), Some(session));
    assert_eq!(
        proxied[0].header("x-target").map(str::to_string),
        Some(format!("{}/v1/a", upstream.url()))
    );
    let result: Value = serde_json::from_str(&tool_result(&server.requests())).expect("result");
    assert_eq!(result["status"], 200);
    assert_secret_free(&o, &[SECRET, &key]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreported_run_names_no_run_to_the_proxy() {
    let s = SignedIn::new();
    let upstream = Recorder::start();
    let key = s.fake.add_api_key(&s.user, &s.acme, &s.acme_main);
    s.fake.set_integration_credential(
        &s.acme_main,
        INTEGRATION,
        IntegrationCredential::header("X-Api-Key", SECRET)
            .authorized_uris(&[&format!("{}/**", upstream.url())]),
    );
    let env = RunEnv::new();
    let path = bundle(&env, api_key_auth(&[format!("{}/**", upstream.url())]));
    let server = ModelServer::start(vec![
        Reply::call(
            "t1",
            TOOL,
            // A model-chosen X-Run-Id is passed on as any other header.
            json!({"method": "GET", "target": format!("{}/v1/a", upstream.url()),
                   "headers": {"X-Run-Id": "run_chosen_by_the_model"}}),
        ),
        Reply::text("done"),
    ])
    .await;
    let mut c = command(&env, &server);
    c.env("APPSTRATE_API_KEY", &key)
        .env("APPSTRATE_INSTANCE", s.fake.url())
        .env("APPSTRATE_APP_ID", &s.acme_main)
        .env("APPSTRATE_ORG_ID", &s.acme)
        .args(["run", path.to_str().expect("utf-8"), "--report", "false"]);
    let o = output(c).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(s.fake.runs().is_empty(), "nothing was reported");
    let proxied = s.fake.requests_to("GET", "/api/credential-proxy/proxy");
    assert_eq!(proxied.len(), 1, "{}", tool_result(&server.requests()));
    let run_ids: Vec<&str> = proxied[0]
        .headers
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("x-run-id"))
        .map(|(_, value)| value.as_str())
        .collect();
    assert_eq!(run_ids, vec!["run_chosen_by_the_model"]);
    assert_secret_free(&o, &[SECRET, &key]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_go_to_a_file_on_request_and_error_statuses_are_errors() {
    let env = RunEnv::new();
    let upstream = Recorder::start();
    let path = bundle(&env, api_key_auth(&[format!("{}/**", upstream.url())]));
    let creds = creds_file(&env);
    let out = env.path("reply.bin");
    let server = ModelServer::start(vec![
        Reply::call(
            "t1",
            TOOL,
            json!({"method": "GET", "target": format!("{}/bytes?n=1000", upstream.url()),
                   "responseMode": {"toFile": out.to_str().expect("utf-8")}}),
        ),
        Reply::call(
            "t2",
            TOOL,
            json!({"method": "GET", "target": format!("{}/status/404", upstream.url())}),
        ),
        Reply::text("done"),
    ])
    .await;
    let mut c = command(&env, &server);
    c.env("APPSTRATE_INTEGRATIONS_ALLOW_PRIVATE", "1").args([
        "run",
        path.to_str().expect("utf-8"),
        "--integrations",
        "local",
        "--creds-file",
        creds.to_str().expect("utf-8"),
    ]);
    let o = output(c).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let requests = server.requests();
    let file_result: Value =
        serde_json::from_str(&tool_result(&requests[1..2])).expect("file result");
    assert_eq!(file_result["body"]["kind"], "file");
    assert_eq!(file_result["body"]["size"], 1000);
    let written = std::fs::read(&out).expect("reply file");
    assert_eq!(written.len(), 1000);
    use sha2::Digest;
    assert_eq!(
        file_result["body"]["sha256"].as_str(),
        Some(hex::encode(sha2::Sha256::digest(&written)).as_str())
    );
    // The 404 is an error result for the model.
    let last = requests[2].body.to_string();
    assert!(last.contains("\"is_error\":true"), "{last}");
    assert!(last.contains("status\\\":404"), "{last}");
}
