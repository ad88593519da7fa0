//! What a run knows about its model (docs/run.md "Models"): a preset's own
//! figures, the model table for what the preset leaves out, and the cost
//! of every call priced with them.

use std::process::Command;

use appstrate_testkit::model_server::{ModelServer, Reply};
use serde_json::{Value, json};

use crate::run_common::{RunEnv, jsonl, output, stderr};
use crate::signed_in::SignedIn;

/// A preset with its own prices but no window or cap, whose `modelId` is a
/// model of the table: the prices are the preset's, the window and cap the
/// table's, and the reported cost is the usage at the preset's prices.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_preset_run_is_priced_and_sized_from_the_preset_then_the_table() {
    let server = ModelServer::start(vec![Reply::text("Done.")]).await;
    let s = SignedIn::new();
    let preset = s.fake.add_model_preset(
        &s.acme,
        "Opus (proxy)",
        "anthropic-messages",
        &server.url(),
        "claude-opus-4-5",
        true,
    );
    s.fake.patch_model(
        &s.acme,
        &preset,
        json!({"cost": {"input": 2, "output": 10, "cacheRead": 0.2, "cacheWrite": 2.5},
            "contextWindow": null, "maxTokens": null}),
    );
    s.sign_in("default", Some(&s.acme), Some(&s.acme_main));
    let pkg = RunEnv::new();
    let path = pkg.write_package(
        "w.afps",
        &json!({"name": "@t/w", "version": "1.0.0", "type": "agent"}),
        "Say done.\n",
    );
    let mut c = Command::new(assert_cmd::cargo::cargo_bin("appstrate"));
    c.env_clear().envs(s.envs()).args([
        "run",
        path.to_str().expect("utf-8"),
        "--model-source",
        "preset",
        "--report",
        "false",
        "--json",
    ]);
    let o = output(c).await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let events = jsonl(&o);
    let result = &events.last().expect("finalize")["result"];
    // 100 input and 10 output tokens at $2 / $10 per million.
    assert_eq!(
        result["usage"],
        json!({"input_tokens": 100, "output_tokens": 10})
    );
    assert_eq!(result["cost"], json!(0.0003));
    let turn = events
        .iter()
        .find(|e| e["data"]["event"] == "turn")
        .expect("turn");
    // claude-opus-4-5 in the table: 200 000 tokens, a 64 000-token cap
    // (Anthropic requests are capped at 32 000).
    assert_eq!(turn["data"]["contextWindow"], 200_000);
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].body["max_tokens"], 32_000);
    assert_eq!(requests[0].body["model"], Value::from("claude-opus-4-5"));
}
