//! `appstrate openapi list|show|export` against the fake instance serving the
//! real platform schema (docs/openapi.md, docs/files.md#openapi-cache).

use std::fs;
use std::os::unix::fs::PermissionsExt;

use crate::signed_in::{SignedIn, stderr, stdout};
use appstrate_testkit::fake_instance::{DEFAULT_OPENAPI, Fault};
use serde_json::Value;

const METHODS: [&str; 8] = [
    "get", "post", "put", "patch", "delete", "head", "options", "trace",
];

fn document() -> Value {
    serde_json::from_slice(DEFAULT_OPENAPI).expect("the served schema is JSON")
}

/// Operations counted from the document itself.
fn operation_count(doc: &Value) -> usize {
    doc["paths"]
        .as_object()
        .map(|paths| {
            paths
                .values()
                .map(|item| {
                    METHODS
                        .iter()
                        .filter(|m| item.get(**m).is_some_and(Value::is_object))
                        .count()
                })
                .sum()
        })
        .unwrap_or(0)
}

fn openapi_requests(env: &SignedIn) -> Vec<appstrate_testkit::fake_instance::RecordedRequest> {
    env.fake.requests_to("GET", "/api/openapi.json")
}

#[test]
fn list_json_lists_every_operation_and_fills_the_cache() {
    let env = SignedIn::new();
    let out = env
        .cmd()
        .args(["openapi", "list", "--json"])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    let items: Vec<Value> = serde_json::from_slice(&out.stdout).expect("JSON array");
    assert_eq!(items.len(), operation_count(&document()));
    assert!(items.len() > 200);

    let sent = openapi_requests(&env);
    assert_eq!(sent.len(), 1);
    assert!(
        sent[0]
            .header("authorization")
            .is_some_and(|a| a.starts_with("Bearer "))
    );
    assert_eq!(sent[0].header("accept"), Some("application/json"));
    assert_eq!(sent[0].header("if-none-match"), None);
    assert!(
        sent[0]
            .header("user-agent")
            .is_some_and(|ua| ua.starts_with("appstrate-cli/"))
    );

    let cache = env.cache_dir().join("openapi-default.json");
    let etag = env.cache_dir().join("openapi-default.etag");
    assert_eq!(
        fs::read_to_string(&etag).expect("etag file"),
        env.fake.openapi_etag()
    );
    let cached: Value =
        serde_json::from_slice(&fs::read(&cache).expect("cache file")).expect("JSON");
    assert_eq!(cached, document());
    for file in [&cache, &etag] {
        assert_eq!(
            fs::metadata(file).expect("meta").permissions().mode() & 0o777,
            0o600
        );
    }
    assert_eq!(
        fs::metadata(env.cache_dir())
            .expect("meta")
            .permissions()
            .mode()
            & 0o777,
        0o700
    );
}

#[test]
fn a_warm_cache_is_revalidated_with_if_none_match_and_read_on_304() {
    let env = SignedIn::new();
    let first = env.cmd().args(["openapi", "list"]).output().expect("runs");
    assert!(first.status.success());
    // The cached copy is what gets printed on 304: prove it by editing it.
    let cache = env.cache_dir().join("openapi-default.json");
    let mut doc = document();
    doc["paths"]["/only/in/cache"] = serde_json::json!({"get": {"summary": "From the cache"}});
    fs::write(&cache, doc.to_string()).expect("edit cache");
    let second = env
        .cmd()
        .args(["openapi", "list", "--path", "/only/**"])
        .output()
        .expect("runs");
    assert!(second.status.success(), "{}", stderr(&second));
    assert_eq!(stdout(&second), "GET    /only/in/cache — From the cache\n");
    let sent = openapi_requests(&env);
    assert_eq!(sent.len(), 2);
    assert_eq!(
        sent[1].header("if-none-match"),
        Some(env.fake.openapi_etag().as_str())
    );
    // list → show share the cache.
    let show = env
        .cmd()
        .args(["openapi", "show", "GET", "/only/in/cache"])
        .output()
        .expect("runs");
    assert!(show.status.success(), "{}", stderr(&show));
    assert!(stdout(&show).starts_with("GET /only/in/cache\n\nFrom the cache\n"));
}

#[test]
fn a_changed_document_replaces_cache_and_etag() {
    let env = SignedIn::new();
    env.cmd().args(["openapi", "list"]).output().expect("runs");
    env.fake
        .set_openapi(r#"{"openapi":"3.1.0","paths":{"/v2":{"get":{"summary":"New"}}}}"#);
    let out = env.cmd().args(["openapi", "list"]).output().expect("runs");
    assert_eq!(stdout(&out), "GET    /v2 — New\n");
    let etag = fs::read_to_string(env.cache_dir().join("openapi-default.etag")).expect("etag");
    assert_eq!(etag, env.fake.openapi_etag());
    let cached = fs::read_to_string(env.cache_dir().join("openapi-default.json")).expect("cache");
    assert_eq!(
        cached,
        r#"{"openapi":"3.1.0","paths":{"/v2":{"get":{"summary":"New"}}}}"#
    );
}

#[test]
fn a_corrupt_cache_is_a_miss_not_an_error() {
    let env = SignedIn::new();
    fs::create_dir_all(env.cache_dir()).expect("dir");
    fs::write(env.cache_dir().join("openapi-default.json"), "{ not json").expect("write");
    fs::write(env.cache_dir().join("openapi-default.etag"), "\"stale\"").expect("write");
    let out = env
        .cmd()
        .args(["openapi", "list", "--json"])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stderr(&out), "");
    assert_eq!(openapi_requests(&env)[0].header("if-none-match"), None);
    let cached = fs::read(env.cache_dir().join("openapi-default.json")).expect("rewritten");
    assert!(serde_json::from_slice::<Value>(&cached).is_ok());
    // A cache that is JSON but not an object is a miss too.
    fs::write(env.cache_dir().join("openapi-default.json"), "[1,2]").expect("write");
    let out = env.cmd().args(["openapi", "list"]).output().expect("runs");
    assert!(out.status.success());
    assert_eq!(openapi_requests(&env)[1].header("if-none-match"), None);
}

#[test]
fn a_cache_without_etag_is_not_revalidated_and_a_reply_without_etag_deletes_it() {
    let env = SignedIn::new();
    env.cmd().args(["openapi", "list"]).output().expect("runs");
    let body = String::from_utf8_lossy(DEFAULT_OPENAPI).into_owned();
    env.fake
        .inject(Fault::respond("/api/openapi.json", 200, "application/json", body).times(1));
    env.cmd().args(["openapi", "list"]).output().expect("runs");
    assert!(
        !env.cache_dir().join("openapi-default.etag").exists(),
        "stale etag removed"
    );
    env.cmd().args(["openapi", "list"]).output().expect("runs");
    let sent = openapi_requests(&env);
    assert_eq!(sent.len(), 3);
    assert!(sent[1].header("if-none-match").is_some());
    assert_eq!(sent[2].header("if-none-match"), None);
}

#[test]
fn no_cache_neither_reads_nor_writes_and_refresh_only_writes() {
    let env = SignedIn::new();
    let out = env
        .cmd()
        .args(["openapi", "list", "--no-cache"])
        .output()
        .expect("runs");
    assert!(out.status.success());
    assert!(!env.cache_dir().join("openapi-default.json").exists());
    env.cmd().args(["openapi", "list"]).output().expect("runs");
    env.cmd()
        .args(["openapi", "show", "listOrgs", "--no-cache"])
        .output()
        .expect("runs");
    fs::remove_file(env.cache_dir().join("openapi-default.json")).expect("rm");
    env.cmd()
        .args(["openapi", "export", "--refresh"])
        .output()
        .expect("runs");
    let sent = openapi_requests(&env);
    assert_eq!(sent.len(), 4);
    assert_eq!(
        sent[2].header("if-none-match"),
        None,
        "--no-cache sends no If-None-Match"
    );
    assert_eq!(
        sent[3].header("if-none-match"),
        None,
        "--refresh skips the read"
    );
    assert!(
        env.cache_dir().join("openapi-default.json").exists(),
        "--refresh writes"
    );
}

#[test]
fn cache_files_are_per_profile_and_encoded() {
    let env = SignedIn::new();
    env.sign_in("weird/name", Some(&env.acme), None);
    let out = env
        .cmd()
        .args(["-p", "weird/name", "openapi", "list"])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(env.cache_dir().join("openapi-weird%2Fname.json").exists());
    assert!(env.cache_dir().join("openapi-weird%2Fname.etag").exists());
    assert!(!env.cache_dir().join("openapi-default.json").exists());
}

#[test]
fn a_304_without_a_cache_is_a_clear_error() {
    let env = SignedIn::new();
    env.fake.inject(Fault::status("/api/openapi.json", 304));
    let out = env.cmd().args(["openapi", "list"]).output().expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        "error: Server responded 304 Not Modified but no cached schema is available. Re-run with --refresh.\n"
    );
    assert_eq!(stdout(&out), "");
}

#[test]
fn bad_documents_and_http_errors() {
    let env = SignedIn::new();
    env.fake.set_openapi("<html>not json</html>");
    let out = env.cmd().args(["openapi", "list"]).output().expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).starts_with("error: OpenAPI schema response was not valid JSON: "),
        "{}",
        stderr(&out)
    );
    assert_eq!(stderr(&out).lines().count(), 1);

    for not_object in ["null", "[]", "42"] {
        env.fake.set_openapi(not_object);
        let out = env.cmd().args(["openapi", "list"]).output().expect("runs");
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(
            stderr(&out),
            "error: OpenAPI schema response was empty or not an object.\n"
        );
    }
    assert!(
        !env.cache_dir().join("openapi-default.json").exists(),
        "nothing cached"
    );

    env.fake
        .inject(Fault::respond("/api/openapi.json", 502, "text/plain", "upstream down").times(1));
    let out = env.cmd().args(["openapi", "list"]).output().expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        "error: Failed to fetch OpenAPI schema: HTTP 502 Bad Gateway — upstream down\n"
    );

    env.fake.inject(Fault::status("/api/openapi.json", 401));
    let out = env.cmd().args(["openapi", "list"]).output().expect("runs");
    assert_eq!(out.status.code(), Some(4));
    assert_eq!(
        stderr(&out),
        "error: Unauthorized — your session may have been revoked.\nhint: Run: appstrate login --profile default\n"
    );
}

#[test]
fn an_unknown_profile_is_not_logged_in() {
    let env = SignedIn::new();
    let out = env
        .cmd()
        .args(["-p", "ghost", "openapi", "list"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(4));
    assert_eq!(
        stderr(&out),
        "error: Profile \"ghost\" not configured.\nhint: Run: appstrate login --instance <URL> --profile ghost (no instance yet? `appstrate install` starts one)\n"
    );
    assert!(env.fake.requests().is_empty());
}

#[test]
fn list_filters_text_and_colour() {
    let env = SignedIn::new();
    let out = env
        .cmd()
        .args(["openapi", "list", "--path", "/api/orgs"])
        .output()
        .expect("runs");
    let text = stdout(&out);
    assert!(
        text.lines()
            .all(|l| l.split_whitespace().nth(1) == Some("/api/orgs")),
        "{text}"
    );
    assert!(text.starts_with("GET    /api/orgs"), "{text}");
    assert!(!text.contains('\x1b'), "no colour when piped");

    let out = env
        .cmd()
        .args(["openapi", "list", "--tag", "nope-no-such-tag"])
        .output()
        .expect("runs");
    assert!(out.status.success());
    assert_eq!(stdout(&out), "No operations match the given filters.\n");

    let out = env
        .cmd()
        .args([
            "openapi", "list", "--method", "delete", "--path", "/api/**", "--json",
        ])
        .output()
        .expect("runs");
    let items: Vec<Value> = serde_json::from_slice(&out.stdout).expect("JSON");
    assert!(!items.is_empty());
    assert!(items.iter().all(|i| i["method"] == "DELETE"));

    let out = env
        .cmd()
        .env_remove("NO_COLOR")
        .env("FORCE_COLOR", "1")
        .args(["openapi", "list", "--path", "/api/orgs"])
        .output()
        .expect("runs");
    assert!(
        stdout(&out).starts_with("\x1b[32mGET   \x1b[0m /api/orgs"),
        "{}",
        stdout(&out)
    );
    let out = env
        .cmd()
        .env("FORCE_COLOR", "1")
        .env("NO_COLOR", "1")
        .args(["openapi", "list", "--path", "/api/orgs"])
        .output()
        .expect("runs");
    assert!(!stdout(&out).contains('\x1b'));
    let out = env
        .cmd()
        .env_remove("NO_COLOR")
        .env("FORCE_COLOR", "0")
        .args(["openapi", "list", "--path", "/api/orgs"])
        .output()
        .expect("runs");
    assert!(!stdout(&out).contains('\x1b'));
}

#[test]
fn show_by_id_by_method_path_and_as_json() {
    let env = SignedIn::new();
    let doc = document();
    let (path, op) = doc["paths"]
        .as_object()
        .and_then(|p| {
            p.iter()
                .find(|(_, item)| item["post"]["operationId"].is_string())
        })
        .map(|(p, item)| (p.clone(), item["post"].clone()))
        .expect("a POST with an operationId");
    let id = op["operationId"].as_str().unwrap_or_default();

    let by_id = env
        .cmd()
        .args(["openapi", "show", id])
        .output()
        .expect("runs");
    assert!(by_id.status.success(), "{}", stderr(&by_id));
    assert!(stdout(&by_id).starts_with(&format!("POST {path}\noperationId: {id}\n")));
    let by_pair = env
        .cmd()
        .args(["openapi", "show", "post", &path])
        .output()
        .expect("runs");
    assert_eq!(stdout(&by_pair), stdout(&by_id));
    let quoted = env
        .cmd()
        .args(["openapi", "show", &format!("POST {path}")])
        .output()
        .expect("runs");
    assert_eq!(stdout(&quoted), stdout(&by_id));

    let json = env
        .cmd()
        .args(["openapi", "show", id, "--json"])
        .output()
        .expect("runs");
    let payload: Value = serde_json::from_slice(&json.stdout).expect("JSON");
    assert_eq!(payload["method"], "POST");
    assert_eq!(payload["path"], Value::String(path.clone()));
    let text = stdout(&json);
    assert!(!text.contains("\"$ref\": \"#"), "internal refs inlined");
    assert!(text.starts_with("{\n  \"method\": \"POST\",\n  \"path\": "));
}

#[test]
fn show_every_operation_as_json_leaves_no_internal_ref() {
    let env = SignedIn::new();
    let out = env
        .cmd()
        .args(["openapi", "list", "--json"])
        .output()
        .expect("runs");
    let items: Vec<Value> = serde_json::from_slice(&out.stdout).expect("JSON");
    // One process per operation would be slow; sample every 25th, plus the
    // crate's own test covers all of them in-process.
    for item in items.iter().step_by(25) {
        let (method, path) = (
            item["method"].as_str().unwrap_or(""),
            item["path"].as_str().unwrap_or(""),
        );
        let out = env
            .cmd()
            .args(["openapi", "show", method, path, "--json"])
            .output()
            .expect("runs");
        assert!(out.status.success(), "{method} {path}: {}", stderr(&out));
        let text = stdout(&out);
        assert!(serde_json::from_str::<Value>(&text).is_ok());
        assert!(!text.contains("\"$ref\": \"#"), "{method} {path}");
    }
}

#[test]
fn show_unknown_operation() {
    let env = SignedIn::new();
    let out = env
        .cmd()
        .args(["openapi", "show", "doesNotExist"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        "error: No operation matches \"doesNotExist\" (tried operationId, then \"METHOD /path\").\nhint: run `appstrate openapi list` to see available operations\n"
    );
    let out = env
        .cmd()
        .args(["openapi", "show", "GET", "/nope"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).starts_with("error: No operation matches \"GET /nope\".\nhint: "));
    assert_eq!(stdout(&out), "");
}

#[test]
fn export_to_stdout_and_to_a_0600_file() {
    let env = SignedIn::new();
    let out = env
        .cmd()
        .args(["openapi", "export"])
        .output()
        .expect("runs");
    assert!(out.status.success());
    let text = stdout(&out);
    assert!(text.ends_with("}\n"));
    assert_eq!(serde_json::from_str::<Value>(&text).ok(), Some(document()));
    assert!(text.starts_with("{\n  \"openapi\": "));

    let file = env.home.path().join("schema.json");
    let out = env
        .cmd()
        .args(["openapi", "export", "-o"])
        .arg(&file)
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "");
    let written = fs::read_to_string(&file).expect("written");
    assert_eq!(written, text);
    let units = written.trim_end_matches('\n').encode_utf16().count();
    assert_eq!(
        stderr(&out),
        format!("Wrote {units} bytes to {}\n", file.display())
    );
    assert_eq!(
        fs::metadata(&file).expect("meta").permissions().mode() & 0o777,
        0o600
    );

    let out = env
        .cmd()
        .args(["openapi", "export", "-o", "/nonexistent-dir/x.json"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).starts_with("error: Cannot write /nonexistent-dir/x.json: "));
}
