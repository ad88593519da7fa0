//! `appstrate run @scope/name --local` end to end: the built binary against
//! the fake instance (agent registry, bundle download, run configuration,
//! model presets, LLM proxy) and the scripted model server. Also the flag
//! and mode checks, the API key instead of a profile, and the proxy for the
//! model traffic.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use appstrate_testkit::fake_instance::{
    BundleTamper, PublishedAgent, RecordedRequest, RunConfig, agent_afps,
};
use appstrate_testkit::model_server::{ModelServer, Reply};
use serde_json::{Value, json};

use crate::run_common::{RunEnv, jsonl, output, stderr, stdout};
use crate::signed_in::SignedIn;

const AGENT: &str = "@acme/writer";

/// A signed-in profile (Acme / Main) against the fake instance, a model
/// server behind the instance's LLM proxy, and a default Anthropic preset.
struct Platform {
    s: SignedIn,
    server: ModelServer,
    /// The org's default preset (Anthropic, forwards to `server`).
    preset: String,
}

impl Platform {
    async fn new(replies: Vec<Reply>) -> Platform {
        let server = ModelServer::start(replies).await;
        let s = SignedIn::new();
        let preset = s.fake.add_model_preset(
            &s.acme,
            "Claude (proxy)",
            "anthropic-messages",
            &server.url(),
            "claude-upstream",
            true,
        );
        std::fs::create_dir_all(s.home.path().join("tmp")).expect("tmp dir");
        Platform { s, server, preset }
    }

    fn tmp(&self) -> PathBuf {
        self.s.home.path().join("tmp")
    }

    /// The binary with nothing from the outer environment but `PATH`.
    fn command(&self) -> Command {
        let mut c = Command::new(assert_cmd::cargo::cargo_bin("appstrate"));
        c.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("TMPDIR", self.tmp())
            .env("NO_COLOR", "1");
        for (k, v) in self.s.envs() {
            c.env(k, v);
        }
        c
    }

    async fn run(&self, args: &[&str]) -> Output {
        let mut c = self.command();
        c.arg("run").args(args);
        output(c).await
    }

    fn publish(&self, version: &str, prompt: &str) -> PublishedAgent {
        self.s.fake.publish_agent(
            &self.s.acme_main,
            agent_afps(AGENT, version, manifest_extra(), prompt),
        )
    }

    fn set_draft(&self, prompt: &str) {
        self.s.fake.set_draft(
            &self.s.acme_main,
            agent_afps(AGENT, "0.0.0", manifest_extra(), prompt),
        );
    }

    fn bundle_requests(&self) -> Vec<RecordedRequest> {
        self.s
            .fake
            .requests_to("GET", &format!("/api/agents/{AGENT}/bundle"))
    }

    fn access_token(&self) -> String {
        let text = std::fs::read_to_string(self.s.config_dir().join("credentials.json"))
            .expect("credentials.json");
        let v: Value = serde_json::from_str(&text).expect("json");
        v["default"]["accessToken"]
            .as_str()
            .expect("token")
            .to_string()
    }

    /// The secrets of this set-up: the profile's access token and the
    /// preset's upstream provider key.
    fn secrets(&self) -> Vec<String> {
        let mut out = vec![self.access_token()];
        out.extend(self.s.fake.preset_api_key(&self.preset));
        out
    }
}

/// An input schema with two defaults and an output-free agent.
fn manifest_extra() -> Value {
    json!({
        "displayName": "Writer",
        "input": {"schema": {"type": "object", "properties": {
            "topic": {"type": "string", "description": "Subject", "default": "rust"},
            "tone": {"type": "string", "description": "Tone", "default": "casual"}
        }}}
    })
}

fn system_prompt(r: &appstrate_testkit::model_server::RecordedRequest) -> String {
    r.body["system"][0]["text"]
        .as_str()
        .or_else(|| r.body["messages"][0]["content"].as_str())
        .unwrap_or_default()
        .to_string()
}

fn assert_no_secrets(o: &Output, secrets: &[String]) {
    let all = format!("{}{}", stdout(o), stderr(o));
    for secret in secrets {
        assert!(secret.len() > 8, "a real secret");
        assert!(!all.contains(secret.as_str()), "a secret leaked: {all}");
    }
}

/// No file under `dir` holds `bytes`, and no run workspace is left in `tmp`.
fn assert_not_on_disk(dir: &Path, bytes: &[u8], tmp: &Path) {
    fn walk(dir: &Path, bytes: &[u8]) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.filter_map(Result::ok) {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, bytes);
            } else if let Ok(content) = std::fs::read(&path) {
                assert_ne!(
                    content,
                    bytes,
                    "the bundle was written to {}",
                    path.display()
                );
            }
        }
    }
    walk(dir, bytes);
    let left: Vec<_> = std::fs::read_dir(tmp)
        .expect("tmp")
        .filter_map(Result::ok)
        .map(|e| e.file_name())
        .collect();
    assert!(left.is_empty(), "left in TMPDIR: {left:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn draft_by_id_runs_with_the_default_preset_through_the_llm_proxy() {
    let p = Platform::new(vec![Reply::text("Done.")]).await;
    p.set_draft("Draft prompt: write about the topic.\n");

    let o = p.run(&[AGENT, "--local"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains(&format!("→ fetched bundle {AGENT}\n")),
        "{err}"
    );
    // A profile means `--report auto` records the run on the instance.
    let reported = p.s.fake.runs();
    assert_eq!(reported.len(), 1);
    assert!(
        err.contains(&format!(
            "→ running {AGENT} (reporting to {} as {})\n",
            p.s.fake.url(),
            reported[0].id
        )),
        "{err}"
    );

    // The draft, with the `@` of the id as it is.
    let bundles = p.bundle_requests();
    assert_eq!(bundles.len(), 1);
    assert_eq!(bundles[0].query.as_deref(), Some("source=draft"));
    assert_eq!(
        bundles[0].header("x-application-id"),
        Some(p.s.acme_main.as_str())
    );

    // The model call went through the instance with the Appstrate bearer;
    // the proxy swapped in the real model and key (the B4 default preset,
    // read from `is_default`).
    let proxied =
        p.s.fake
            .requests_to("POST", "/api/llm-proxy/anthropic-messages/v1/messages");
    assert_eq!(proxied.len(), 1);
    let bearer = format!("Bearer {}", p.access_token());
    assert_eq!(proxied[0].header("authorization"), Some(bearer.as_str()));
    assert_eq!(proxied[0].header("x-org-id"), Some(p.s.acme.as_str()));
    assert_eq!(
        proxied[0].header("x-api-key"),
        Some(appstrate_agent::model::ANTHROPIC_PLACEHOLDER_KEY)
    );
    let sent: Value = serde_json::from_slice(&proxied[0].body).expect("json body");
    assert_eq!(sent["model"], json!(p.preset));
    let upstream = p.server.requests();
    assert_eq!(upstream.len(), 1);
    assert_eq!(upstream[0].body["model"], json!("claude-upstream"));
    assert!(system_prompt(&upstream[0]).contains("Draft prompt: write about the topic."));
    assert_no_secrets(&o, &p.secrets());
    assert_not_on_disk(
        p.s.home.path(),
        &p.s.fake
            .agent_bundle_bytes(AGENT, "draft")
            .expect("draft bytes"),
        &p.tmp(),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spec_downloads_that_version_and_ranges_are_encoded() {
    let p = Platform::new(vec![Reply::text("one"), Reply::text("two")]).await;
    p.publish("1.0.0", "Prompt of one-zero.\n");
    p.publish("1.1.0", "Prompt of one-one.\n");

    let o = p
        .run(&[&format!("{AGENT}@1.0.0"), "--local", "--json"])
        .await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).is_empty(), "no status lines with --json");
    let o = p.run(&[&format!("{AGENT}@^1"), "--local", "-q"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stderr(&o).contains(&format!("→ fetched bundle {AGENT}@^1\n")));

    let queries: Vec<_> = p.bundle_requests().into_iter().map(|r| r.query).collect();
    assert_eq!(
        queries,
        vec![Some("version=1.0.0".into()), Some("version=%5E1".into())]
    );
    let prompts: Vec<String> = p.server.requests().iter().map(system_prompt).collect();
    assert!(prompts[0].contains("Prompt of one-zero."), "{}", prompts[0]);
    assert!(prompts[1].contains("Prompt of one-one."), "{}", prompts[1]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bundle_whose_integrity_does_not_match_is_refused_and_never_written() {
    let p = Platform::new(vec![]).await;
    p.set_draft("Never run.\n");
    let bytes = p.s.fake.agent_bundle_bytes(AGENT, "draft").expect("draft");
    let cases = [
        (
            BundleTamper::WrongIntegrity,
            "Integrity check failed for the bundle of @acme/writer",
        ),
        (
            BundleTamper::DropIntegrity,
            "The instance sent the bundle of @acme/writer without an X-Bundle-Integrity header",
        ),
        (
            BundleTamper::DropVersion,
            "Failed to fetch @acme/writer: the reply has no X-Bundle-Version header",
        ),
    ];
    for (tamper, expected) in cases {
        p.s.fake.tamper_bundle_headers(tamper);
        let o = p.run(&[AGENT, "--local"]).await;
        assert_eq!(o.status.code(), Some(1), "{tamper:?}");
        let err = stderr(&o);
        assert!(
            err.starts_with(&format!("error: {expected}")),
            "{tamper:?}: {err}"
        );
        // The error line, and the hint line when there is one.
        assert!(err.lines().count() <= 2, "{err}");
        assert!(!err.contains("→ running"), "{err}");
        assert_not_on_disk(p.s.home.path(), &bytes, &p.tmp());
    }
    assert!(p.server.requests().is_empty(), "no model call");
    assert_eq!(p.bundle_requests().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_agents_versions_and_installations_read_clearly() {
    let p = Platform::new(vec![]).await;
    p.publish("1.0.0", "x\n");
    let o = p.run(&["@acme/nope", "--local"]).await;
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).starts_with(&format!(
            "error: Agent @acme/nope not found on {} — check the id and the pinned application",
            p.s.fake.url()
        )),
        "{}",
        stderr(&o)
    );

    let o = p.run(&[&format!("{AGENT}@9.9.9"), "--local"]).await;
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).starts_with("error: Version \"9.9.9\" of @acme/writer not found"),
        "{}",
        stderr(&o)
    );

    p.s.fake.uninstall_agent(&p.s.acme_main, AGENT);
    let o = p.run(&[AGENT, "--local", "--no-inherit"]).await;
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).starts_with(&format!(
            "error: Agent @acme/writer is not installed in application {}",
            p.s.acme_main
        )),
        "{}",
        stderr(&o)
    );
    assert!(p.server.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_config_pins_the_version_picks_the_preset_and_layers_the_input() {
    let p = Platform::new(vec![Reply::text("a"), Reply::text("b"), Reply::text("c")]).await;
    p.publish("1.0.0", "Pinned one.\n");
    p.publish("2.0.0", "Latest two.\n");
    let other = p.s.fake.add_model_preset(
        &p.s.acme,
        "OpenAI-compatible",
        "openai-completions",
        &p.server.url(),
        "gpt-upstream",
        false,
    );
    p.s.fake.set_run_config(
        &p.s.acme_main,
        AGENT,
        RunConfig {
            model_id: Some(other.clone()),
            version_pin: Some("1.0.0".into()),
            values: json!({"tone": "formal"})
                .as_object()
                .cloned()
                .unwrap_or_default(),
            locked_fields: vec!["tone".into()],
            generation: Some(json!({"temperature": 0.2})),
            ..Default::default()
        },
    );

    // Inherited: the pinned version, the configured preset (OpenAI chat
    // completions through the proxy, never /responses), the stored value
    // over the author default, the caller over both.
    let o = p
        .run(&[AGENT, "--local", "--json", "--input", r#"{"topic":"go"}"#])
        .await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // Reported (a profile, `--report auto`) with the caller's input; the
    // instance layered the stored, locked value in as the local run did.
    let reported = p.s.fake.runs();
    assert_eq!(reported.len(), 1);
    assert_eq!(reported[0].input, json!({"topic": "go", "tone": "formal"}));
    assert_eq!(
        p.bundle_requests()[0].query.as_deref(),
        Some("version=1.0.0")
    );
    assert_eq!(
        p.s.fake.count(
            "POST",
            "/api/llm-proxy/openai-completions/v1/chat/completions"
        ),
        1
    );
    let first = &p.server.requests()[0];
    assert_eq!(first.path, "/chat/completions");
    assert_eq!(first.body["model"], json!("gpt-upstream"));
    assert_eq!(first.body["temperature"], json!(0.2));
    let prompt = system_prompt(first);
    assert!(prompt.contains("Pinned one."), "{prompt}");
    assert!(
        prompt.contains("**topic** (string, optional): Subject — `go`"),
        "{prompt}"
    );
    assert!(
        prompt.contains("**tone** (string, optional): Tone — `formal`"),
        "{prompt}"
    );

    // An explicit spec wins over the pin.
    let o = p
        .run(&[&format!("{AGENT}@2.0.0"), "--local", "--json"])
        .await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        p.bundle_requests()[1].query.as_deref(),
        Some("version=2.0.0")
    );

    // A locked field set by the caller: refused before any download.
    let downloads = p.bundle_requests().len();
    let o = p
        .run(&[AGENT, "--local", "--input", r#"{"tone":"rude"}"#])
        .await;
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stderr(&o),
        "error: Field 'tone' is locked on this agent and cannot be set at launch — remove it from the input.\n"
    );
    assert_eq!(p.bundle_requests().len(), downloads);

    // --no-inherit: no run-config read, the draft, the default preset, the
    // author's defaults, and the locked field is the caller's to set (not
    // reported: the instance itself would refuse the locked field).
    let run_config_path = format!(
        "/api/applications/{}/packages/{AGENT}/run-config",
        p.s.acme_main
    );
    let reads = p.s.fake.count("GET", &run_config_path);
    assert_eq!(reads, 3);
    let o = p
        .run(&[
            AGENT,
            "--local",
            "--json",
            "--no-inherit",
            "--report",
            "false",
            "--input",
            r#"{"tone":"rude"}"#,
        ])
        .await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(p.s.fake.count("GET", &run_config_path), reads);
    assert_eq!(
        p.bundle_requests()
            .last()
            .and_then(|r| r.query.clone())
            .as_deref(),
        Some("source=draft")
    );
    let last = p.server.requests().last().cloned().expect("request");
    assert_eq!(last.path, "/v1/messages");
    assert!(last.body.get("temperature").is_none(), "not inherited");
    let prompt = system_prompt(&last);
    assert!(
        prompt.contains("Latest two."),
        "the draft is the last publish: {prompt}"
    );
    assert!(prompt.contains("Subject — `rust`"), "{prompt}");
    assert!(prompt.contains("Tone — `rude`"), "{prompt}");
    let events = jsonl(&o);
    assert_eq!(
        events.last().map(|e| e["result"]["status"].clone()),
        Some(json!("success"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presets_are_checked_before_any_download() {
    let p = Platform::new(vec![]).await;
    p.set_draft("x\n");
    let o = p
        .run(&[AGENT, "--local", "--model", "no-such-preset"])
        .await;
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o)
            .starts_with("error: Model preset \"no-such-preset\" is not in this organization"),
        "{}",
        stderr(&o)
    );
    // An org without a default (Beta): the flag or the configuration must name one.
    p.s.sign_in(
        "default",
        Some(&p.s.beta.clone()),
        Some(&p.s.beta_solo.clone()),
    );
    let o = p
        .run(&["./x.afps-bundle", "--model-source", "preset"])
        .await;
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).starts_with("error: Bundle not found: "),
        "local files first: {}",
        stderr(&o)
    );
    let pkg = RunEnv::new();
    let path = pkg.write_package(
        "w.afps",
        &json!({"name": "@t/w", "version": "1.0.0", "type": "agent"}),
        "x\n",
    );
    let o = p
        .run(&[path.to_str().expect("utf-8"), "--model-source", "preset"])
        .await;
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).starts_with("error: No default model preset is set in this organization"),
        "{}",
        stderr(&o)
    );
    // No org pinned at all.
    p.s.write_profile("default", None, Some(&p.s.acme_main.clone()));
    let o = p
        .run(&[path.to_str().expect("utf-8"), "--model-source", "preset"])
        .await;
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).starts_with("error: --model-source preset requires a pinned org id"),
        "{}",
        stderr(&o)
    );
    assert!(p.bundle_requests().is_empty());
    assert!(p.server.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_key_replaces_the_profile() {
    let p = Platform::new(vec![Reply::text("one"), Reply::text("two")]).await;
    p.set_draft("Keyed run.\n");
    let key = p.s.fake.add_api_key(&p.s.user, &p.s.acme, &p.s.acme_main);
    let mut secrets = p.secrets();
    secrets.push(key.clone());
    // No profile at all.
    std::fs::remove_dir_all(p.s.config_dir()).expect("remove config");

    let with_env = |c: &mut Command| {
        c.env("APPSTRATE_INSTANCE", p.s.fake.url())
            .env("APPSTRATE_APP_ID", &p.s.acme_main)
            .env("APPSTRATE_ORG_ID", &p.s.acme);
    };
    let mut c = p.command();
    with_env(&mut c);
    c.env("APPSTRATE_API_KEY", &key)
        .args(["run", AGENT, "--local", "-v"]);
    let o = output(c).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));

    let mut c = p.command();
    with_env(&mut c);
    c.args(["run", AGENT, "--local", "--json", "--api-key", &key]);
    let o2 = output(c).await;
    assert_eq!(o2.status.code(), Some(0), "{}", stderr(&o2));

    let bearer = format!("Bearer {key}");
    let bundles = p.bundle_requests();
    assert_eq!(bundles.len(), 2);
    for r in &bundles {
        assert_eq!(r.header("authorization"), Some(bearer.as_str()));
        assert_eq!(r.header("x-application-id"), Some(p.s.acme_main.as_str()));
    }
    let proxied =
        p.s.fake
            .requests_to("POST", "/api/llm-proxy/anthropic-messages/v1/messages");
    assert_eq!(proxied.len(), 2);
    assert_eq!(proxied[0].header("authorization"), Some(bearer.as_str()));
    assert_no_secrets(&o, &secrets);
    assert_no_secrets(&o2, &secrets);

    // A rejected key says so, without the key.
    p.s.fake.revoke_api_key(&key);
    let mut c = p.command();
    with_env(&mut c);
    c.env("APPSTRATE_API_KEY", &key)
        .args(["run", AGENT, "--local"]);
    let o = output(c).await;
    assert_eq!(o.status.code(), Some(4));
    assert!(
        stderr(&o).starts_with("error: The instance rejected the API key (HTTP 401)"),
        "{}",
        stderr(&o)
    );
    assert_no_secrets(&o, &secrets);

    // Neither a key nor a profile.
    let o = p.run(&[AGENT, "--local"]).await;
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).starts_with(
            "error: Running an agent by id requires a logged-in profile or an API key\nhint: run `appstrate login`"
        ),
        "{}",
        stderr(&o)
    );
}

/// Arguments, extra environment, the start of the expected error line.
type ErrorCase = (Vec<String>, Vec<(&'static str, String)>, String);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flags_are_checked_against_the_mode_before_anything_else() {
    let p = Platform::new(vec![]).await;
    let pkg = RunEnv::new();
    let path = pkg.write_package(
        "w.afps",
        &json!({"name": "@t/w", "version": "1.0.0", "type": "agent"}),
        "x\n",
    );
    let path = path.to_str().expect("utf-8").to_string();
    let dir = pkg.home.path().to_str().expect("utf-8").to_string();
    let bad_json = pkg.path("creds.json");
    std::fs::write(&bad_json, "{").expect("write");
    let bad_json = bad_json.to_str().expect("utf-8").to_string();
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    // Conflicting flags, a flag the mode cannot honour, a bad flag value or
    // target: usage errors, exit 2 (README "Exit codes and errors").
    let usage: Vec<ErrorCase> = vec![
        (
            s(&[AGENT, "--snapshot", "s.json", "--llm-api-key", "sk-x", "--report", "false"]),
            vec![],
            "These flags only apply to local runs: --snapshot (the platform keeps the agent's memories and checkpoint); --llm-api-key (the platform holds the model keys); --report, --report-fallback, --sink-ttl (the platform records remote runs itself) — drop them, or add --local to run on this machine".into(),
        ),
        (
            s(&[AGENT, "--integrations", "none", "--model-api", "openai-completions"]),
            vec![],
            "These flags only apply to local runs: --model-api (the model preset decides the API); --integrations other than remote".into(),
        ),
        (
            s(&[AGENT, "--thinking", "high"]),
            vec![],
            "These flags only apply to local runs: --thinking (the platform applies the agent's configured reasoning level)".into(),
        ),
        (
            s(&[&path, "--remote"]),
            vec![],
            "--remote does not support local bundle paths".into(),
        ),
        (s(&[AGENT, "--local", "--remote"]), vec![], "--local and --remote are mutually exclusive".into()),
        (
            s(&[&path, "--no-cancel-on-exit"]),
            vec![],
            "--cancel-on-exit and --no-cancel-on-exit only apply to remote runs".into(),
        ),
        (
            s(&[&path, "--integrations", "local"]),
            vec![],
            "--integrations local requires --creds-file <path>".into(),
        ),
        (
            s(&[&path, "--creds-file", &path]),
            vec![],
            "--creds-file is only read with --integrations local".into(),
        ),
        (
            s(&[&path, "--sink-ttl", "0"]),
            vec![],
            "--sink-ttl must be a whole number of seconds from 1 to 86400 (got \"0\")".into(),
        ),
        (s(&[&format!("{AGENT}@"), "--local"]), vec![], "Empty version after '@' in \"@acme/writer@\"".into()),
        (
            s(&[&path, "--proxy", "px_123"]),
            vec![],
            "--proxy \"px_123\" names a platform proxy; a local run can only use a proxy URL (http://host:port)".into(),
        ),
        (
            s(&[AGENT, "--local", "--proxy", "px_123"]),
            vec![],
            "--proxy \"px_123\" names a platform proxy".into(),
        ),
        (s(&[&path, "-v", "-q"]), vec![], "--verbose and --quiet are mutually exclusive".into()),
        (
            s(&[&path, "--proxy", "socks5://user:hunter22@127.0.0.1:1"]),
            vec![],
            "--proxy must be an http:// or https:// proxy URL with a host (got a socks5:// URL)".into(),
        ),
        (
            s(&[&path, "--model-api", "bogus"]),
            vec![],
            "Unknown --model-api \"bogus\" — use one of: ".into(),
        ),
        (s(&[&path, "--input", "{nope"]), vec![], "--input is not valid JSON: ".into()),
        (
            s(&[&path, "--input", "[1]"]),
            vec![],
            "--input must be a JSON object, e.g. '{\"topic\":\"x\"}'".into(),
        ),
    ];
    // Bad files, variables and local state: exit 1.
    let failures: Vec<ErrorCase> = vec![
        (
            s(&[&path, "--integrations", "local", "--creds-file", &bad_json]),
            vec![],
            format!("--creds-file {bad_json}: not valid JSON"),
        ),
        (
            s(&[&path]),
            vec![("APPSTRATE_MODEL_SOURCE", "bogus".into())],
            "APPSTRATE_MODEL_SOURCE must be env or preset (got \"bogus\")".into(),
        ),
        (s(&[&dir]), vec![], format!("Not a file: {dir} — give the path of an .afps or .afps-bundle file")),
        (
            s(&["./missing.afps", "--report", "true"]),
            vec![],
            "Bundle not found: ".into(),
        ),
        (
            s(&[&path, "--report", "true"]),
            vec![("XDG_CONFIG_HOME", format!("{dir}/nothing"))],
            "--report=true requires an Appstrate profile or API key — use --report false, or --report-fallback console to run without reporting".into(),
        ),
        (
            s(&[&path]),
            vec![("APPSTRATE_PROXY", "socks5://user:hunter22@127.0.0.1:1".into())],
            "APPSTRATE_PROXY must be an http:// or https:// proxy URL with a host (got a socks5:// URL)".into(),
        ),
        (
            s(&[&path]),
            vec![("APPSTRATE_MODEL_API", "bogus".into())],
            "Unknown APPSTRATE_MODEL_API \"bogus\" — use one of: ".into(),
        ),
        (
            s(&[&path, "--input-file", &bad_json]),
            vec![],
            "--input-file is not valid JSON: ".into(),
        ),
    ];
    let cases = usage
        .into_iter()
        .map(|case| (2, case))
        .chain(failures.into_iter().map(|case| (1, case)));
    for (code, (args, envs, expected)) in cases {
        let mut c = p.command();
        c.env("ANTHROPIC_API_KEY", "sk-test-secret-key")
            .arg("run")
            .args(&args);
        for (k, v) in envs {
            c.env(k, v);
        }
        let o = output(c).await;
        assert_eq!(o.status.code(), Some(code), "{args:?}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(
            // `message — hint` in the table; the hint, if it is one, on its own line.
            err.starts_with(&format!("error: {expected}"))
                || err.starts_with(&format!(
                    "error: {}",
                    expected.replacen(" — ", "\nhint: ", 1)
                )),
            "{args:?}:\n{err}\nexpected: {expected}"
        );
        assert!(err.lines().count() <= 2, "{args:?}: {err}");
        assert!(!err.contains("hunter22"), "{err}");
        assert!(stdout(&o).is_empty());
    }
    assert!(
        p.s.fake.requests().is_empty(),
        "no flag error touches the network: {:?}",
        p.s.fake
            .requests()
            .iter()
            .map(|r| r.path.clone())
            .collect::<Vec<_>>()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proxy_url_carries_the_model_traffic() {
    let server = ModelServer::start(vec![Reply::text("via proxy")]).await;
    let env = RunEnv::new();
    let path = env.write_package(
        "w.afps",
        &json!({"name": "@t/w", "version": "1.0.0", "type": "agent"}),
        "x\n",
    );
    let closed = appstrate_testkit::recorder::closed_port();
    // The provider URL points at a closed port: only the proxy (the model
    // server, answering absolute-form requests) can make the run succeed.
    let proxy = format!(
        "http://carol:proxy-pass-0123@{}",
        server.url().trim_start_matches("http://")
    );
    let mut c = env.base_command(None);
    c.env("ANTHROPIC_API_KEY", "sk-test-secret-key")
        .env(
            "APPSTRATE_LLM_BASE_URL",
            format!("http://127.0.0.1:{closed}"),
        )
        .env("APPSTRATE_PROXY", &proxy)
        .args(["run", path.to_str().expect("utf-8")]);
    let o = output(c).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    let auth = requests[0]
        .headers
        .get("proxy-authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    use base64::Engine as _;
    assert_eq!(
        auth,
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("carol:proxy-pass-0123")
        )
    );
    assert!(!format!("{}{}", stdout(&o), stderr(&o)).contains("proxy-pass-0123"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_platform_proxy_id_is_skipped_locally_with_a_warning() {
    let p = Platform::new(vec![Reply::text("direct")]).await;
    p.publish("1.0.0", "x\n");
    p.s.fake.set_run_config(
        &p.s.acme_main,
        AGENT,
        RunConfig {
            proxy_id: Some("px_team".into()),
            ..Default::default()
        },
    );
    let o = p.run(&[AGENT, "--local"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("warn: the agent's run configuration selects platform proxy \"px_team\"; a local run can only use a proxy URL"),
        "{}",
        stderr(&o)
    );
    assert_eq!(p.server.requests().len(), 1);
}

/// Peak memory of a local run by id of a ~50 MB bundle (three 16.5 MB
/// incompressible files in the root package, so nothing is materialised):
/// `cargo nextest run -p appstrate --test it --run-ignored only run_platform::peak_memory`.
/// Prints the figure and checks the download is not copied over and over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "measurement; needs /usr/bin/time"]
async fn peak_memory_of_a_local_run_by_id_with_a_50_mb_bundle() {
    use appstrate_afps::{Bundle, package_from_files, writer::write_afps};
    let p = Platform::new(vec![Reply::text("Done.")]).await;
    let mut files = std::collections::BTreeMap::new();
    files.insert(
        "manifest.json".to_string(),
        json!({"name": "@acme/big", "version": "1.0.0", "type": "agent", "schemaVersion": "1.0"})
            .to_string()
            .into_bytes(),
    );
    files.insert("prompt.md".to_string(), b"Big agent.\n".to_vec());
    for i in 0..3 {
        let data: Vec<u8> = (0..16_500_000).map(|_| rand::random::<u8>()).collect();
        files.insert(format!("data/blob{i}.bin"), data);
    }
    let package = package_from_files(files).expect("package");
    let bytes = write_afps(&Bundle::of_one(package)).expect("afps");
    p.s.fake.set_draft(&p.s.acme_main, bytes);
    let wire =
        p.s.fake
            .agent_bundle_bytes("@acme/big", "draft")
            .expect("bytes")
            .len();

    let env = p.command();
    let mut timed = Command::new("/usr/bin/time");
    timed
        .env_clear()
        .envs(env.get_envs().filter_map(|(k, v)| Some((k, v?))))
        .arg("-v")
        .arg(assert_cmd::cargo::cargo_bin("appstrate"))
        .args(["run", "@acme/big", "--local", "-q"]);
    let o = output(timed).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let rss_kb: u64 = stderr(&o)
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("Maximum resident set size (kbytes): ")
        })
        .and_then(|v| v.trim().parse().ok())
        .expect("time -v output");
    println!(
        "bundle on the wire: {:.1} MB; peak RSS of `run @acme/big --local`: {:.1} MB",
        wire as f64 / 1e6,
        rss_kb as f64 / 1024.0
    );
    assert!(wire > 49_000_000, "a ~50 MB bundle: {wire}");
    assert!(rss_kb < 4 * wire as u64 / 1024, "peak RSS {rss_kb} kB");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_profile_token_is_refreshed_once_and_the_run_goes_on() {
    let p = Platform::new(vec![Reply::text("Done.")]).await;
    p.set_draft("After refresh.\n");
    let stale = p.access_token();
    p.s.fake.expire_access_tokens();
    let o = p.run(&[AGENT, "--local"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(p.s.fake.refresh_calls(), 1, "one refresh for the whole run");
    let fresh = p.access_token();
    assert_ne!(fresh, stale);
    // The model requests carry the rotated token.
    let proxied =
        p.s.fake
            .requests_to("POST", "/api/llm-proxy/anthropic-messages/v1/messages");
    let bearer = format!("Bearer {fresh}");
    assert_eq!(proxied[0].header("authorization"), Some(bearer.as_str()));
    let mut secrets = p.secrets();
    secrets.push(stale);
    assert_no_secrets(&o, &secrets);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_inherited_reasoning_level_sets_thinking_unless_the_flag_says_otherwise() {
    let p = Platform::new(vec![Reply::text("one"), Reply::text("two")]).await;
    p.publish("1.0.0", "Think.\n");
    p.s.fake.set_run_config(
        &p.s.acme_main,
        AGENT,
        RunConfig {
            generation: Some(json!({"temperature": 0.2, "reasoningLevel": "minimal"})),
            ..Default::default()
        },
    );
    // Env mode with a model that reasons, so the level applies.
    let run = |extra: &'static [&'static str]| {
        let mut c = p.command();
        c.env("ANTHROPIC_API_KEY", "sk-ant-test")
            .env("APPSTRATE_LLM_BASE_URL", p.server.url())
            .args([
                "run",
                AGENT,
                "--local",
                "--model-source",
                "env",
                "--report",
                "false",
            ])
            .args(extra);
        output(c)
    };
    for extra in [&[][..], &["--thinking", "off"][..]] {
        let o = run(extra).await;
        assert_eq!(o.status.code(), Some(0), "{extra:?}: {}", stderr(&o));
    }
    let requests = p.server.requests();
    assert_eq!(
        requests[0].body["thinking"],
        json!({"type": "enabled", "budget_tokens": 1024})
    );
    assert!(
        requests[0].body.get("temperature").is_none(),
        "no temperature with thinking"
    );
    assert!(requests[1].body.get("thinking").is_none(), "the flag wins");
    assert_eq!(requests[1].body["temperature"], json!(0.2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_preset_that_reasons_gets_the_thinking_level() {
    let p = Platform::new(vec![Reply::text("one"), Reply::text("two")]).await;
    p.publish("1.0.0", "Think.\n");
    // As listed, the preset does not reason: no thinking whatever the level.
    let o = p
        .run(&[AGENT, "--local", "--report", "false", "--thinking", "low"])
        .await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    p.s.fake.set_preset_reasoning(&p.preset, true);
    let o = p
        .run(&[AGENT, "--local", "--report", "false", "--thinking", "low"])
        .await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let requests = p.server.requests();
    assert!(requests[0].body.get("thinking").is_none());
    assert_eq!(
        requests[1].body["thinking"],
        json!({"type": "enabled", "budget_tokens": 2048})
    );
    // The preset allows 4096 output tokens: the budget fits inside them.
    assert_eq!(requests[1].body["max_tokens"], json!(4096));
}
