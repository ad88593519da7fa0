//! `appstrate run … --report`: a local run recorded on the fake instance as
//! if the platform had run it (registration with the real input, signed
//! CloudEvents in sequence, finalize with usage), retries on ingestion
//! failures, a signature the instance refuses, Ctrl-C mid-run (safety-net
//! finalize), and no secret in the output.

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use appstrate_testkit::fake_instance::agent_afps;
use appstrate_testkit::model_server::{ModelServer, Reply};
use serde_json::{Value, json};

use crate::run_common::{jsonl, output, stderr, stdout};
use crate::signed_in::SignedIn;

const PROVIDER_KEY: &str = "sk-test-secret-key";

/// A signed-in profile (Acme / Main) and a model server reached directly
/// (env model source).
struct Setup {
    s: SignedIn,
    server: ModelServer,
}

impl Setup {
    async fn new(replies: Vec<Reply>) -> Setup {
        let server = ModelServer::start(replies).await;
        let s = SignedIn::new();
        std::fs::create_dir_all(s.home.path().join("tmp")).expect("tmp dir");
        Setup { s, server }
    }

    fn command(&self) -> Command {
        let mut c = Command::new(assert_cmd::cargo::cargo_bin("appstrate"));
        c.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("TMPDIR", self.s.home.path().join("tmp"))
            .env("NO_COLOR", "1")
            .env("ANTHROPIC_API_KEY", PROVIDER_KEY)
            .env("APPSTRATE_LLM_BASE_URL", self.server.url());
        for (k, v) in self.s.envs() {
            c.env(k, v);
        }
        c
    }

    /// A one-package agent with a required `topic` and the output tool.
    fn package(&self) -> String {
        let manifest = json!({
            "name": "@acme/reporter", "version": "1.2.0", "type": "agent",
            "runtime_tools": ["output"],
            "input": {"schema": {"type": "object", "required": ["topic"], "properties": {
                "topic": {"type": "string"},
                "tone": {"type": "string", "default": "dry"}
            }}}
        });
        let files = vec![
            (
                "manifest.json".to_string(),
                serde_json::to_vec(&manifest).expect("json"),
            ),
            (
                "prompt.md".to_string(),
                b"Write about {{topic}}.\n".to_vec(),
            ),
        ];
        let path = self.s.home.path().join("reporter.afps");
        std::fs::write(&path, appstrate_afps::write_stored_zip(&files)).expect("package");
        path.to_str().expect("utf-8").to_string()
    }

    async fn run(&self, args: &[&str]) -> Output {
        let mut c = self.command();
        c.arg("run").args(args);
        output(c).await
    }

    fn only_run_id(&self) -> String {
        let runs = self.s.fake.runs();
        assert_eq!(runs.len(), 1, "one reported run");
        runs[0].id.clone()
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

    fn assert_no_secrets(&self, o: &Output, run_id: &str) {
        let all = format!("{}{}", stdout(o), stderr(o));
        let mut secrets = vec![self.access_token(), PROVIDER_KEY.to_string()];
        secrets.extend(self.s.fake.reported_sink_secret(run_id));
        for secret in secrets {
            assert!(secret.len() > 8);
            assert!(!all.contains(&secret), "a secret leaked: {all}");
        }
    }
}

fn output_then_done() -> Vec<Reply> {
    vec![
        Reply::call("c1", "output", json!({"data": {"summary": "rust is fast"}})),
        Reply::text("Done."),
    ]
}

fn sequences(events: &[Value]) -> Vec<u64> {
    events
        .iter()
        .map(|e| e["sequence"].as_u64().expect("sequence"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_path_run_is_recorded_with_its_input_events_output_and_usage() {
    let t = Setup::new(output_then_done()).await;
    let pkg = t.package();
    let o = t
        .run(&[
            &pkg,
            "--json",
            "--sink-ttl",
            "600",
            "--input",
            r#"{"topic":"rust"}"#,
        ])
        .await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let run_id = t.only_run_id();
    let run = t.s.fake.run(&run_id).expect("run");
    assert_eq!(run.status, "success");
    assert_eq!(run.run_origin, "remote");
    // The real input (B5), author defaults layered in.
    assert_eq!(run.input, json!({"topic": "rust", "tone": "dry"}));
    assert_eq!(
        run.output,
        Some(json!({"summary": "rust is fast"})),
        "{:?} {}",
        t.s.fake.reported_finalize(&run_id),
        stdout(&o)
    );
    assert_eq!(
        run.token_usage.as_ref().map(|u| u["input_tokens"].clone()),
        Some(json!(100))
    );
    let register = t.s.fake.requests_to("POST", "/api/runs/remote");
    let body: Value = serde_json::from_slice(&register[0].body).expect("json");
    assert_eq!(body["source"]["kind"], "inline");
    assert_eq!(body["source"]["prompt"], "Write about {{topic}}.\n");
    assert_eq!(body["contextSnapshot"]["bundle"]["name"], "@acme/reporter");
    assert_eq!(body["input"], json!({"topic": "rust"}));
    assert_eq!(body["sink"], json!({"ttl_seconds": 600}));

    // Every JSONL event went out, in order, numbered from 1.
    let printed: Vec<Value> = jsonl(&o)
        .into_iter()
        .filter(|e| e["type"] != "appstrate.finalize")
        .collect();
    let sent = t.s.fake.reported_events(&run_id);
    assert_eq!(
        sequences(&sent),
        (1..=printed.len() as u64).collect::<Vec<_>>()
    );
    let types = |v: &[Value]| v.iter().map(|e| e["type"].clone()).collect::<Vec<_>>();
    assert_eq!(types(&sent), types(&printed));
    let finalize = t.s.fake.reported_finalize(&run_id).expect("finalized");
    assert_eq!(finalize["status"], "success");
    assert_eq!(finalize["usage"]["output_tokens"], 10);
    // The signed posts carried the Standard Webhooks headers.
    let posts =
        t.s.fake
            .requests_to("POST", &format!("/api/runs/{run_id}/events"));
    assert_eq!(
        posts[0].header("content-type"),
        Some("application/cloudevents+json")
    );
    assert!(
        posts[0]
            .header("webhook-signature")
            .is_some_and(|s| s.starts_with("v1,"))
    );
    assert!(posts.iter().all(|p| p.header("authorization").is_none()));
    t.assert_no_secrets(&o, &run_id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_by_id_reports_by_default_and_says_where() {
    let server = ModelServer::start(vec![Reply::text("Done.")]).await;
    let s = SignedIn::new();
    s.fake.add_model_preset(
        &s.acme,
        "Claude (proxy)",
        "anthropic-messages",
        &server.url(),
        "claude-upstream",
        true,
    );
    s.fake.set_draft(
        &s.acme_main,
        agent_afps(
            "@acme/writer",
            "0.0.0",
            json!({"input": {"schema": {"type": "object", "properties": {
                "topic": {"type": "string", "default": "rust"}}}}}),
            "Write.\n",
        ),
    );
    std::fs::create_dir_all(s.home.path().join("tmp")).expect("tmp");
    let mut c = Command::new(assert_cmd::cargo::cargo_bin("appstrate"));
    c.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("TMPDIR", s.home.path().join("tmp"))
        .env("NO_COLOR", "1");
    for (k, v) in s.envs() {
        c.env(k, v);
    }
    c.args([
        "run",
        "@acme/writer",
        "--local",
        "--input",
        r#"{"topic":"go"}"#,
    ]);
    let o = output(c).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let runs = s.fake.runs();
    assert_eq!(runs.len(), 1);
    let run = &runs[0];
    assert!(
        stderr(&o).contains(&format!(
            "→ running @acme/writer (reporting to {} as {})\n",
            s.fake.url(),
            run.id
        )),
        "{}",
        stderr(&o)
    );
    assert_eq!(run.status, "success");
    assert_eq!(run.input, json!({"topic": "go"}));
    let body: Value =
        serde_json::from_slice(&s.fake.requests_to("POST", "/api/runs/remote")[0].body)
            .expect("json");
    assert_eq!(body["source"]["kind"], "registry");
    assert_eq!(body["source"]["packageId"], "@acme/writer");
    assert_eq!(body["source"]["stage"], "draft");
    let events = s.fake.reported_events(&run.id);
    assert_eq!(
        sequences(&events),
        (1..=events.len() as u64).collect::<Vec<_>>()
    );
    assert!(!events.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingestion_5xx_is_retried_until_it_goes_through() {
    let t = Setup::new(output_then_done()).await;
    t.s.fake.fail_event_ingestion(2, 503);
    t.s.fake.fail_finalize(1, 502);
    let pkg = t.package();
    let o = t.run(&[&pkg, "--input", r#"{"topic":"rust"}"#]).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let run_id = t.only_run_id();
    let events = t.s.fake.reported_events(&run_id);
    assert_eq!(
        sequences(&events),
        (1..=events.len() as u64).collect::<Vec<_>>()
    );
    assert_eq!(t.s.fake.run(&run_id).expect("run").status, "success");
    // The first event was posted three times with one webhook id.
    let posts =
        t.s.fake
            .requests_to("POST", &format!("/api/runs/{run_id}/events"));
    assert_eq!(posts[0].header("webhook-id"), posts[2].header("webhook-id"));
    assert_eq!(posts.len(), events.len() + 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_signature_is_a_clear_error_and_leaks_nothing() {
    let t = Setup::new(output_then_done()).await;
    t.s.fake.hand_out_wrong_sink_secrets();
    let pkg = t.package();
    let o = t.run(&[&pkg, "--input", r#"{"topic":"rust"}"#]).await;
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("reporting it to the platform failed: HttpSink: non-retryable 401 Unauthorized — code: invalid_signature"),
        "{err}"
    );
    let run_id = t.only_run_id();
    assert!(t.s.fake.reported_finalize(&run_id).is_none());
    // Not retried: one post per event kind of failure.
    assert_eq!(
        t.s.fake
            .requests_to("POST", &format!("/api/runs/{run_id}/events"))
            .len(),
        1
    );
    t.assert_no_secrets(&o, &run_id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_registration_aborts_or_falls_back_to_the_console() {
    // No `topic`: the instance validates the input and answers 400.
    let t = Setup::new(vec![Reply::text("Done.")]).await;
    let pkg = t.package();
    let o = t.run(&[&pkg]).await;
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("POST /api/runs/remote failed with HTTP 400"),
        "{}",
        stderr(&o)
    );
    assert!(t.server.requests().is_empty(), "nothing ran");

    let o = t.run(&[&pkg, "--report-fallback", "console"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("warn: POST /api/runs/remote failed with HTTP 400"),
        "{}",
        stderr(&o)
    );
    assert!(stderr(&o).contains("running with the console only"));
    assert_eq!(t.server.requests().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_false_registers_nothing() {
    let t = Setup::new(output_then_done()).await;
    let pkg = t.package();
    let o = t.run(&[&pkg, "--report", "false"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(t.s.fake.runs().is_empty());
    assert_eq!(t.s.fake.count("POST", "/api/runs/remote"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_mid_run_sends_the_safety_net_finalize() {
    let t = Setup::new(vec![
        Reply::call("c1", "bash", json!({"command": "sleep 30"})),
        Reply::text("Done."),
    ])
    .await;
    let pkg = t.package();
    let mut c = t.command();
    c.env("APPSTRATE_REPORT_HEARTBEAT_MS", "100")
        .args(["run", &pkg, "--input", r#"{"topic":"rust"}"#])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = c.spawn().expect("spawn");
    // Wait until the tool call was reported, and a heartbeat went out.
    let deadline = Instant::now() + Duration::from_secs(30);
    let run_id = loop {
        assert!(Instant::now() < deadline, "the run never got going");
        if let Some(run) = t.s.fake.runs().first()
            && t.s
                .fake
                .reported_events(&run.id)
                .iter()
                .any(|e| e["data"]["data"]["tool"] == "bash")
            && t.s.fake.reported_heartbeats(&run.id) > 0
        {
            break run.id.clone();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let o = tokio::task::spawn_blocking(move || child.wait_with_output().expect("wait"))
        .await
        .expect("join");
    assert_eq!(o.status.code(), Some(130), "{}", stderr(&o));
    let run = t.s.fake.run(&run_id).expect("run");
    assert_eq!(run.status, "cancelled", "{}", stderr(&o));
    assert_eq!(
        run.error.as_deref(),
        Some("Runner cancelled by user (CLI received signal).")
    );
    t.assert_no_secrets(&o, &run_id);
}

/// Measures what reporting costs: the same 40-turn run (≈ 170 events)
/// with `--report false` and `--report true`, three times each; prints the
/// wall-clock difference per event (run with `--nocapture` to read it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reporting_overhead_per_event() {
    const TURNS: usize = 40;
    let script = || {
        let mut replies: Vec<Reply> = (0..TURNS)
            .map(|i| Reply::call(&format!("c{i}"), "ls", json!({})))
            .collect();
        replies.push(Reply::text("Done."));
        replies
    };
    let mut best = [Duration::MAX; 2];
    let mut events = 0;
    for round in 0..3 {
        for (slot, report) in ["false", "true"].iter().enumerate() {
            let t = Setup::new(script()).await;
            let pkg = t.package();
            let started = Instant::now();
            let o = t
                .run(&[
                    &pkg,
                    "--json",
                    "--report",
                    report,
                    "--input",
                    r#"{"topic":"x"}"#,
                ])
                .await;
            let took = started.elapsed();
            assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
            best[slot] = best[slot].min(took);
            if *report == "true" {
                let run_id = t.only_run_id();
                let sent = t.s.fake.reported_events(&run_id);
                events = jsonl(&o).len() - 1;
                assert_eq!(sent.len(), events, "round {round}: every event reported");
            }
        }
    }
    let per_event = best[1].saturating_sub(best[0]).as_secs_f64() * 1e6 / events as f64;
    eprintln!(
        "reporting overhead: {events} events, best of 3: {:?} without, {:?} with → {per_event:.0} µs/event",
        best[0], best[1]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thinking_deltas_are_printed_but_never_reported() {
    let t = Setup::new(vec![Reply::thinking(
        "Weighing the topic.",
        Reply::text("Done."),
    )])
    .await;
    let pkg = t.package();
    let o = t
        .run(&[&pkg, "--json", "--input", r#"{"topic":"rust"}"#])
        .await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let is_delta = |e: &Value| e["type"] == "appstrate.thinking.delta";
    let printed: Vec<Value> = jsonl(&o)
        .into_iter()
        .filter(|e| e["type"] != "appstrate.finalize")
        .collect();
    assert!(printed.iter().any(is_delta), "{printed:?}");
    let run_id = t.only_run_id();
    let sent = t.s.fake.reported_events(&run_id);
    assert!(!sent.iter().any(is_delta), "{sent:?}");
    let types = |v: &[Value]| v.iter().map(|e| e["type"].clone()).collect::<Vec<_>>();
    let record: Vec<Value> = printed.into_iter().filter(|e| !is_delta(e)).collect();
    assert_eq!(types(&sent), types(&record));
    assert_eq!(
        sequences(&sent),
        (1..=record.len() as u64).collect::<Vec<_>>()
    );
}
