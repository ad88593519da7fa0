//! `appstrate api --paginate / --max-pages / --jq` and the path
//! placeholders (docs/api-command.md#pages-and-jq), against the fake
//! instance's `GET /api/end-users`, which pages as the platform does.

use std::process::Output;

use appstrate_testkit::fake_instance::Fault;
use serde_json::{Value, json};

use crate::reply_limit_rss::run_measured;
use crate::signed_in::{SignedIn, stderr, stdout};

const END_USERS: &str = "/api/end-users";

/// The stored tokens of the default profile: none may ever be printed.
fn secrets(env: &SignedIn) -> Vec<String> {
    let text = std::fs::read_to_string(env.config_dir().join("credentials.json"))
        .unwrap_or_else(|e| panic!("credentials.json: {e}"));
    let store: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
    ["accessToken", "refreshToken"]
        .iter()
        .filter_map(|k| store["default"][k].as_str().map(str::to_string))
        .collect()
}

fn api(env: &SignedIn, args: &[&str]) -> Output {
    let before = secrets(env);
    let out = env
        .cmd()
        .arg("api")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let printed = format!("{}{}", stdout(&out), stderr(&out));
    for secret in before.iter().chain(secrets(env).iter()) {
        assert!(
            !printed.contains(secret.as_str()),
            "a token was printed: {printed}"
        );
    }
    out
}

fn json_of(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}): {}", stdout(out)))
}

fn ids_of(envelope: &Value) -> Vec<String> {
    envelope["data"]
        .as_array()
        .unwrap_or_else(|| panic!("no data array: {envelope}"))
        .iter()
        .map(|item| item["id"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// Peak RSS (KiB) of `api` with `args`, its exit code and stderr.
fn measured(env: &SignedIn, args: &[&str]) -> (Option<i32>, i64, String) {
    let mut cmd = env.std_cmd();
    cmd.arg("api").args(args);
    run_measured(cmd)
}

#[test]
fn ten_thousand_items_paged_by_100_come_out_as_one_envelope_in_flat_memory() {
    let env = SignedIn::new();
    // ~1 KiB per item: the whole list is ~11 MB of JSON.
    let ids = env
        .fake
        .add_end_users(&env.acme, &env.acme_main, 10_000, 900);
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let all = dir.path().join("all.json");
    let one = dir.path().join("one.json");
    let all_path = all.to_string_lossy().into_owned();
    let one_path = one.to_string_lossy().into_owned();

    let (code, one_page_kb, err) = measured(
        &env,
        &[
            "--paginate",
            "--max-pages",
            "1",
            "/api/end-users?limit=100",
            "-o",
            &one_path,
        ],
    );
    assert_eq!(code, Some(0), "{err}");
    env.fake.clear_requests();
    let started = std::time::Instant::now();
    let (code, all_pages_kb, err) = measured(
        &env,
        &["--paginate", "/api/end-users?limit=100", "-o", &all_path],
    );
    eprintln!(
        "--paginate 10 000 items: {:?}, peak RSS {} KiB (one page: {} KiB)",
        started.elapsed(),
        all_pages_kb,
        one_page_kb
    );
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(err, "");

    let text = std::fs::read_to_string(&all).unwrap_or_else(|e| panic!("{e}"));
    let envelope: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        ids_of(&envelope),
        ids,
        "every item, in the platform's order"
    );
    assert_eq!(envelope["object"], "list");
    assert_eq!(envelope["hasMore"], false);
    assert_eq!(envelope["limit"], 100);
    assert_eq!(envelope["data"][0]["metadata"]["note"], "n".repeat(900));
    assert_eq!(env.fake.count("GET", END_USERS), 100);
    let cursors: Vec<Option<String>> = env
        .fake
        .requests_to("GET", END_USERS)
        .iter()
        .map(|r| {
            r.query
                .as_deref()
                .and_then(|q| q.split('&').find_map(|p| p.strip_prefix("startingAfter=")))
                .map(str::to_string)
        })
        .collect();
    assert_eq!(cursors[0], None);
    assert_eq!(cursors[1].as_deref(), Some(ids[99].as_str()));
    assert_eq!(cursors[99].as_deref(), Some(ids[9_899].as_str()));

    let first: Value = serde_json::from_str(&std::fs::read_to_string(&one).unwrap_or_default())
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(first["hasMore"], true, "--max-pages says the list has more");
    assert_eq!(ids_of(&first), ids[..100]);
    // Holding the list (11 MB of text, several times that as values) would
    // show; one page at a time costs the same for 1 page or 100.
    assert!(
        all_pages_kb < one_page_kb + 6 * 1024,
        "peak RSS grew with the list: {all_pages_kb} KiB vs {one_page_kb} KiB for one page"
    );
}

#[test]
fn jq_streams_one_line_per_result_over_all_pages() {
    let env = SignedIn::new();
    let ids = env.fake.add_end_users(&env.acme, &env.acme_main, 2_500, 0);
    let out = api(
        &env,
        &[
            "--paginate",
            "--jq",
            ".data[].id",
            "/api/end-users?limit=100",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let expected: String = ids.iter().map(|id| format!("{id}\n")).collect();
    assert_eq!(
        stdout(&out),
        expected,
        "raw strings, one per line, in order"
    );
    assert_eq!(env.fake.count("GET", END_USERS), 25);

    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let file = dir.path().join("ids.txt");
    let (code, peak_kb, err) = measured(
        &env,
        &[
            "--paginate",
            "--jq",
            ".data[] | {id, name}",
            "/api/end-users?limit=100",
            "-o",
            &file.to_string_lossy(),
        ],
    );
    assert_eq!(code, Some(0), "{err}");
    let lines: Vec<Value> = std::fs::read_to_string(&file)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect();
    assert_eq!(lines.len(), 2_500);
    let listed: Vec<&str> = lines
        .iter()
        .map(|l| l["id"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(listed, ids);
    assert!(
        lines
            .iter()
            .all(|l| l["name"].as_str().is_some_and(|n| n.starts_with("User ")))
    );
    eprintln!("--paginate --jq over 2 500 items: peak RSS {peak_kb} KiB");
}

#[test]
fn a_server_that_repeats_its_cursor_is_stopped() {
    let env = SignedIn::new();
    env.fake.inject(Fault::json(
        END_USERS,
        200,
        &json!({"object": "list", "data": [{"id": "eu_same"}], "hasMore": true}),
    ));
    let out = api(&env, &["--paginate", "/api/end-users?limit=1"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains(
            "page 2 of /api/end-users?limit=1&startingAfter=eu_same ends with \"eu_same\" again"
        ),
        "{err}"
    );
    assert_eq!(env.fake.count("GET", END_USERS), 2);
    // The envelope is left open: a consumer cannot take it for the whole list.
    assert!(serde_json::from_slice::<Value>(&out.stdout).is_err());
}

#[test]
fn max_pages_stops_with_has_more_true_and_a_note() {
    let env = SignedIn::new();
    let ids = env.fake.add_end_users(&env.acme, &env.acme_main, 250, 0);
    let out = api(
        &env,
        &["--paginate", "--max-pages", "2", "/api/end-users?limit=100"],
    );
    assert_eq!(out.status.code(), Some(0));
    let envelope = json_of(&out);
    assert_eq!(ids_of(&envelope), ids[..200]);
    assert_eq!(envelope["hasMore"], true);
    assert!(stderr(&out).contains("stopped after 2 pages (--max-pages)"));
    assert_eq!(env.fake.count("GET", END_USERS), 2);
}

#[test]
fn a_page_that_is_not_a_list_envelope_stops_with_a_clear_error() {
    let env = SignedIn::new();
    env.fake
        .inject(Fault::json(END_USERS, 200, &json!([{"id": "eu_1"}])));
    let out = api(&env, &["--paginate", "/api/end-users?limit=5"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        "error: page 1 of /api/end-users?limit=5 is not a list envelope ({\"object\":\"list\",\"data\":[…],\"hasMore\":…}): the reply is an array, not an object\n"
    );
    assert!(out.stdout.is_empty());

    env.fake.clear_faults();
    env.fake.inject(Fault::non_json(END_USERS, 200));
    let out = api(&env, &["--paginate", END_USERS]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("is not a list envelope"),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("the reply is not JSON"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_401_in_the_middle_of_the_walk_refreshes_once_and_goes_on() {
    let env = SignedIn::new();
    let ids = env.fake.add_end_users(&env.acme, &env.acme_main, 500, 0);
    let stale = secrets(&env)[0].clone();
    env.fake.expire_access_tokens_after_list_pages(2);
    // -v traces every request: neither token may show (api() checks both).
    let out = api(&env, &["-v", "--paginate", "/api/end-users?limit=100"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stderr(&out)
            .matches("> Authorization: Bearer [REDACTED]")
            .count(),
        6
    );
    assert_eq!(ids_of(&json_of(&out)), ids);
    assert_eq!(env.fake.refresh_calls(), 1);
    let pages = env.fake.requests_to("GET", END_USERS);
    assert_eq!(pages.len(), 6, "five pages and one replay of page 3");
    let bearer = |i: usize| {
        pages[i]
            .header("authorization")
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(bearer(2), format!("Bearer {stale}"));
    assert_ne!(bearer(3), bearer(2));
    assert_eq!(
        pages[2].query, pages[3].query,
        "the same page is asked again"
    );
    assert_eq!(bearer(5), bearer(3));
    let fresh = secrets(&env)[0].clone();
    assert_eq!(
        bearer(3),
        format!("Bearer {fresh}"),
        "the new token was stored"
    );
}

#[test]
fn a_401_that_survives_the_refresh_is_an_error_with_the_login_hint() {
    let env = SignedIn::new();
    env.fake.inject(Fault::problem(
        END_USERS,
        401,
        "unauthorized",
        "Invalid token",
    ));
    let out = api(&env, &["--paginate", END_USERS]);
    assert_eq!(out.status.code(), Some(22));
    assert_eq!(
        stderr(&out),
        "error: page 1 of /api/end-users: HTTP 401: Invalid token\nhint: Session may be expired — run: appstrate login --profile default\n"
    );
    assert_eq!(env.fake.refresh_calls(), 1);
    assert_eq!(env.fake.count("GET", END_USERS), 2);

    env.fake.clear_faults();
    env.fake
        .inject(Fault::problem(END_USERS, 503, "unavailable", "Try later"));
    let out = api(&env, &["--jq", ".", END_USERS]);
    assert_eq!(out.status.code(), Some(25));
    assert!(
        stderr(&out).contains("HTTP 503: Try later"),
        "{}",
        stderr(&out)
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn placeholders_are_replaced_from_the_pinned_profile() {
    let env = SignedIn::new();
    let out = api(
        &env,
        &[
            "-s",
            "/api/orgs/{orgId}/cli-sessions?app={appId}&p={profile}",
        ],
    );
    assert_eq!(out.status.code(), Some(0));
    let sent = env
        .fake
        .requests()
        .into_iter()
        .find(|r| r.path.ends_with("/cli-sessions"))
        .unwrap_or_else(|| panic!("no request"));
    assert_eq!(sent.path, format!("/api/orgs/{}/cli-sessions", env.acme));
    assert_eq!(sent.query, Some(format!("app={}&p=default", env.acme_main)));
}

#[test]
fn an_unpinned_placeholder_is_refused_before_any_request() {
    let env = SignedIn::new();
    env.write_profile("default", Some(&env.acme), None);
    env.fake.clear_requests();
    let out = api(&env, &["/api/applications/{appId}"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out),
        "error: {appId} in the path needs a pinned value, but profile \"default\" has none.\nhint: Run: appstrate app switch\n"
    );
    assert!(env.fake.requests().is_empty());
}

#[test]
fn a_bad_jq_expression_is_a_usage_error_before_any_request() {
    let env = SignedIn::new();
    env.fake.clear_requests();
    let out = api(&env, &["--jq", ".data[", END_USERS]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).starts_with("error: invalid --jq expression: expected"),
        "{}",
        stderr(&out)
    );
    assert!(env.fake.requests().is_empty());
}

#[test]
fn jq_prints_strings_raw_and_refuses_a_non_json_reply() {
    let env = SignedIn::new();
    let out = api(&env, &["--jq", ".email, .id, {email}", "/api/profile"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        format!(
            "alice@example.com\n{}\n{{\"email\":\"alice@example.com\"}}\n",
            env.user
        )
    );

    env.fake.inject(Fault::non_json("/api/profile", 200));
    let out = api(&env, &["--jq", ".", "/api/profile"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.starts_with("error: --jq needs a JSON reply, but /api/profile answered text/html"),
        "{err}"
    );
}

#[test]
fn flags_that_do_not_fit_the_reply_modes_are_refused() {
    let env = SignedIn::new();
    env.fake.clear_requests();
    for (args, needle) in [
        (&["--paginate", "-i", END_USERS][..], "drop -i/--include"),
        (&["--jq", ".", "-I", END_USERS][..], "drop -i/--include"),
        (
            &["--jq", ".", "-w", "%{http_code}", END_USERS][..],
            "-w/--write-out",
        ),
        (
            &["--paginate", "-X", "POST", END_USERS][..],
            "follows GET lists",
        ),
        (
            &["--paginate", "-d", "a=1", END_USERS][..],
            "follows GET lists",
        ),
        (
            &["--max-pages", "2", END_USERS][..],
            "--max-pages needs --paginate",
        ),
        (
            &["--paginate", "/api/end-users?endingBefore=eu_1"][..],
            "drop endingBefore",
        ),
    ] {
        let out = api(&env, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(needle), "{args:?}: {}", stderr(&out));
    }
    assert!(env.fake.requests_to("GET", END_USERS).is_empty());
}
