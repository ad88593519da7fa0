//! Platform prompt, reducer, CloudEvent, HMAC and truncation vectors.

mod common;

use appstrate_afps::integrity::sri_sha256;
use appstrate_afps::{
    ExecutionContext, Limits, RunEvent, build_cloud_event, platform_prompt, read_bundle,
    reduce_events, sign_webhook, truncate_tool_result, verify_webhook,
};
use appstrate_jsjson::stringify;
use common::{json, read, s, vectors};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

fn context(dir: &str, with_checkpoint: bool) -> ExecutionContext {
    let mut ctx: ExecutionContext =
        serde_json::from_value(json(&format!("{dir}/context.json"))).expect("context");
    let snap = json(&format!("{dir}/snapshot.json"));
    ctx.memories = snap["memories"].as_array().cloned().unwrap_or_default();
    if with_checkpoint {
        ctx.checkpoint = Some(snap["checkpoint"].clone());
    }
    ctx
}

fn check_prompt(archive: &str, dir: &str, with_checkpoint: bool, key: &str) {
    let v = vectors();
    let b = read_bundle(&read(archive), &Limits::default()).expect("reads");
    let ctx = context(dir, with_checkpoint);
    let out = platform_prompt(&b, &ctx, s(&v, &["platform_prompt", key, "platformName"]));
    let expected = read(&format!(
        "vectors/{}",
        s(&v, &["platform_prompt", key, "file"])
    ));
    assert_eq!(out, String::from_utf8(expected).expect("utf8"));
    assert_eq!(
        hex::encode(Sha256::digest(out.as_bytes())),
        s(&v, &["platform_prompt", key, "sha256_hex"])
    );
}

#[test]
fn reference_platform_prompt_is_byte_exact() {
    check_prompt("reference/bundle.afps", "reference", false, "reference");
}

#[test]
fn briefing_platform_prompt_is_byte_exact() {
    check_prompt(
        "briefing-agent/agent.afps",
        "briefing-agent",
        true,
        "briefing",
    );
}

fn events(rel: &str) -> Vec<RunEvent> {
    serde_json::from_value(json(rel)).expect("events")
}

#[test]
fn reducer_matches_vectors_including_key_order() {
    let v = vectors();
    for (file, key) in [
        ("reference/events.json", "reference/events.json"),
        ("briefing-agent/events.json", "briefing-agent/events.json"),
    ] {
        let result = reduce_events(&events(file));
        let expected = &v["reduce_events"][key];
        assert_eq!(&result.to_value(), expected, "{key}");
        // Same bytes as JSON.stringify of the platform's object (memories, output, logs, pinned).
        assert_eq!(stringify(&result.to_value()), stringify(expected), "{key}");
    }
}

#[test]
fn output_is_replaced_not_merged_and_empty_script_gives_baseline() {
    let r = reduce_events(&events("briefing-agent/events.json"));
    assert_eq!(
        r.output,
        json!({"recommendation": "Schedule a joint session with Compliance before the August 2 deadline."})
    );
    let empty = reduce_events(&[]);
    assert_eq!(
        stringify(&empty.to_value()),
        r#"{"memories":[],"output":null,"logs":[]}"#
    );
}

#[test]
fn malformed_canonical_events_are_ignored_by_the_reducer() {
    let bad = [
        RunEvent::new("memory.added", "r", 0).with("content", json!(1)),
        RunEvent::new("memory.added", "r", 0)
            .with("content", json!("x"))
            .with("scope", json!("team")),
        RunEvent::new("pinned.set", "r", 0)
            .with("key", json!(""))
            .with("content", json!(1)),
        RunEvent::new("pinned.set", "r", 0).with("key", json!("k")),
        RunEvent::new("log.written", "r", 0)
            .with("level", json!("debug"))
            .with("message", json!("m")),
        RunEvent::new("output.emitted", "r", 0),
        RunEvent::new("custom.thing", "r", 0).with("data", json!({"a": 1})),
    ];
    assert_eq!(reduce_events(&bad), reduce_events(&[]));
    let metric_bad = RunEvent::new("appstrate.metric", "r", 0).with("cost", json!(-1));
    assert!(!metric_bad.is_canonical());
    let metric_ok =
        RunEvent::new("appstrate.metric", "r", 0).with("usage", json!({"input_tokens": 1}));
    assert!(metric_ok.is_canonical());
}

#[test]
fn cloud_event_envelope_matches_vector() {
    let v = vectors();
    let c = &v["cloudevent_envelope"];
    let event: RunEvent = serde_json::from_value(c["input_event"].clone()).expect("event");
    let seq = c["sequence"].as_u64().expect("seq");
    let now = c["nowMs"].as_f64().expect("now");
    let env = build_cloud_event(&event, seq, c["id"].as_str().expect("id"), Some(now));
    assert_eq!(stringify(&env), c["output"].as_str().expect("output"));
    // Unknown types carry no dataschema.
    let custom = RunEvent::new("@x/tool.called", "run_1", 0).with("data", json!(1));
    let env = build_cloud_event(&custom, 2, "e2", None);
    assert!(env.get("dataschema").is_none());
    assert_eq!(env["time"], "1970-01-01T00:00:00.000Z");
}

#[test]
fn webhook_hmac_pairs_match_vectors() {
    let v = vectors();
    let pairs = v["standard_webhooks_hmac"].as_array().expect("pairs");
    assert_eq!(pairs.len(), 2);
    for p in pairs {
        let secret = p["secret_utf8"].as_str().expect("secret");
        let id = p["msg_id"].as_str().expect("id");
        let ts = p["timestamp_sec"].as_i64().expect("ts");
        let body = p["body"].as_str().expect("body");
        let h = sign_webhook(secret, id, ts, body);
        assert_eq!(h.signature, p["webhook-signature"].as_str().expect("sig"));
        assert_eq!(h.timestamp, ts.to_string());
        assert!(verify_webhook(secret, id, ts, body, &h.signature, ts, 300));
        assert!(!verify_webhook(
            secret,
            id,
            ts,
            "{ }",
            &h.signature,
            ts,
            300
        ));
        assert!(!verify_webhook(
            secret,
            id,
            ts,
            body,
            &h.signature,
            ts + 301,
            300
        ));
    }
}

#[test]
fn tool_result_truncation_matches_vectors() {
    let v = vectors();
    let t = &v["truncate_tool_result"];
    let big = json!({"content": [{"type": "text", "text": "x".repeat(3000)}]});
    let limit = t["object_over_limit"]["limit"].as_u64().expect("limit") as usize;
    let out = truncate_tool_result(&big, limit);
    let shape = &t["object_over_limit"]["output_shape"];
    assert_eq!(out["__truncated"], shape["__truncated"]);
    assert_eq!(out["reason"], shape["reason"]);
    assert_eq!(out["bytes"], shape["bytes"]);
    assert_eq!(out["limit"], shape["limit"]);
    let json_text = stringify(&big);
    let expected_preview = format!("{}…(truncated, 3039 bytes)", &json_text[..512]);
    assert_eq!(out["preview"], Value::String(expected_preview));
    assert_eq!(
        shape["preview"].as_str().expect("preview"),
        "<first 512 bytes of the JSON text>…(truncated, 3039 bytes)"
    );

    let st = &t["string_utf8_boundary"];
    let input = "é".repeat(20);
    assert_eq!(input.len(), 40);
    let lim = st["limit"].as_u64().expect("limit") as usize;
    assert_eq!(truncate_tool_result(&json!(input), lim), st["output"]);

    // Small values pass unchanged; scalars are never truncated.
    assert_eq!(
        truncate_tool_result(&json!({"a": 1}), 2048),
        json!({"a": 1})
    );
    assert_eq!(truncate_tool_result(&json!(12345), 1), json!(12345));
    let _ = sri_sha256(b"");
}
