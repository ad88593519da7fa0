//! `appstrate run`: the `read` tool on image files, end to end. The built
//! binary against the scripted model server: the request after the tool
//! call carries the image in each protocol's shape, resized when larger
//! than 2000 px, and no sink prints the base64.

use std::path::PathBuf;
use std::process::Output;

use appstrate_testkit::model_server::{ModelServer, RecordedRequest, Reply};
use base64::Engine as _;
use serde_json::{Value, json};

use crate::run_common::{RunEnv, output, stderr};

/// The shared `RunEnv` with the commands this file drives (a local type:
/// every test module is in one crate, so inherent methods would collide).
struct TestEnv(RunEnv);

impl std::ops::Deref for TestEnv {
    type Target = RunEnv;
    fn deref(&self) -> &RunEnv {
        &self.0
    }
}

impl TestEnv {
    fn new() -> Self {
        Self(RunEnv::new())
    }
    /// `appstrate run <package> <args> --model-api <api> --model m`.
    async fn run(&self, server: &ModelServer, api: &str, args: &[&str]) -> Output {
        let mut c = self.base_command(Some(server));
        c.env("ANTHROPIC_API_KEY", "sk-ant-test")
            .env("OPENAI_API_KEY", "sk-openai-test")
            .arg("run")
            .arg(self.package())
            .args(args)
            .args(["--model-api", api, "--model", "m"]);
        output(c).await
    }

    fn package(&self) -> PathBuf {
        let manifest = json!({
            "name": "@test/looker", "version": "1.0.0", "type": "agent",
            "description": "Looks at pictures"
        });
        self.write_package("looker.afps", &manifest, "Describe the pictures.\n")
    }

    /// Writes a real PNG of that size; returns its absolute path and bytes.
    fn png(&self, name: &str, width: u32, height: u32) -> (String, Vec<u8>) {
        let img = image::RgbImage::from_fn(width, height, |x, y| {
            image::Rgb([(x % 256) as u8, (y % 256) as u8, ((x * y) % 256) as u8])
        });
        let mut bytes = Vec::new();
        img.write_to(
            &mut std::io::Cursor::new(&mut bytes),
            image::ImageFormat::Png,
        )
        .expect("encode");
        let path = self.path(name);
        std::fs::write(&path, &bytes).expect("write image");
        (path.to_str().expect("utf-8 path").to_string(), bytes)
    }
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Width and height of a base64 image as the model server received it.
fn dimensions(data: &str) -> (u32, u32) {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data)
        .expect("base64");
    let img = image::load_from_memory(&bytes).expect("a decodable image");
    (img.width(), img.height())
}

fn read_call(id: &str, path: &str) -> (String, String, String) {
    (
        id.to_string(),
        "read".to_string(),
        json!({ "path": path }).to_string(),
    )
}

fn calls(list: &[(String, String, String)]) -> Reply {
    let refs: Vec<(&str, &str, &str)> = list
        .iter()
        .map(|(a, b, c)| (a.as_str(), b.as_str(), c.as_str()))
        .collect();
    Reply::calls(&refs)
}

/// Anthropic: the tool_result blocks of a request's last message.
fn anthropic_results(r: &RecordedRequest) -> Vec<Value> {
    let msgs = r.body["messages"].as_array().expect("messages");
    msgs.last().expect("last")["content"]
        .as_array()
        .expect("content")
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anthropic_gets_image_blocks_in_the_tool_results_and_events_stay_small() {
    let env = TestEnv::new();
    let (small, small_bytes) = env.png("small.png", 10, 10);
    let (wide, _) = env.png("wide.png", 3000, 1000);
    let broken = env.path("broken.png");
    std::fs::write(&broken, &small_bytes[..small_bytes.len() / 2]).expect("write");
    let broken = broken.to_str().expect("path").to_string();
    let server = ModelServer::start(vec![
        calls(&[
            read_call("toolu_small", &small),
            read_call("toolu_wide", &wide),
            read_call("toolu_broken", &broken),
        ]),
        Reply::text("Seen."),
    ])
    .await;
    let o = env.run(&server, "anthropic-messages", &["--json"]).await;
    assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(&o));

    let reqs = server.requests();
    assert_eq!(reqs.len(), 2);
    let results = anthropic_results(&reqs[1]);
    assert_eq!(results.len(), 3);
    // Within 2000 px: the file's bytes as read.
    assert_eq!(
        results[0],
        json!({"type": "tool_result", "tool_use_id": "toolu_small", "is_error": false, "content": [
            {"type": "text", "text": "Read image file [image/png]"},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": b64(&small_bytes)}},
        ]})
    );
    // Larger: scaled to fit 2000 px, aspect kept, re-encoded.
    let wide_result = &results[1];
    let mime = wide_result["content"][1]["source"]["media_type"]
        .as_str()
        .expect("media type");
    assert!(matches!(mime, "image/png" | "image/jpeg"), "{mime}");
    assert_eq!(
        wide_result["content"][0]["text"],
        format!(
            "Read image file [{mime}]\n[Image: original 3000x1000, displayed at 2000x667. Multiply coordinates by 1.50 to map to original image.]"
        )
    );
    let data = wide_result["content"][1]["source"]["data"]
        .as_str()
        .expect("data");
    assert_eq!(dimensions(data), (2000, 667));
    // A corrupt image is an error result, and the run goes on.
    assert_eq!(results[2]["is_error"], true);
    let text = results[2]["content"][0]["text"].as_str().expect("text");
    assert!(
        text.starts_with(&format!("Cannot read image {broken}: ")),
        "{text}"
    );
    assert_eq!(results[2]["content"].as_array().map(Vec::len), Some(1));

    // The JSONL events describe the images; no base64 reaches stdout.
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(!out.contains(&b64(&small_bytes)), "{out}");
    assert!(!out.contains(data), "the resized image leaked to stdout");
    let small_event = out
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("json line"))
        .find(|e| {
            e.pointer("/data/toolCallId") == Some(&json!("toolu_small"))
                && e.pointer("/data/result").is_some()
        })
        .expect("the small read's result event");
    assert_eq!(
        small_event["data"]["result"]["content"],
        json!([
            {"type": "text", "text": "Read image file [image/png]"},
            {"type": "image", "mimeType": "image/png", "width": 10, "height": 10, "bytes": small_bytes.len()},
        ])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_chat_sends_the_image_as_a_user_message_after_the_tool_message() {
    let env = TestEnv::new();
    let (small, small_bytes) = env.png("small.png", 10, 10);
    // The extension does not matter: the content is a PNG.
    let renamed = env.path("capture.dat");
    std::fs::copy(&small, &renamed).expect("copy");
    let server = ModelServer::start(vec![
        calls(&[read_call("call_1", renamed.to_str().expect("path"))]),
        Reply::text("Seen."),
    ])
    .await;
    let o = env.run(&server, "openai-completions", &[]).await;
    assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(&o));

    let reqs = server.requests();
    assert_eq!(reqs.len(), 2);
    let msgs = reqs[1].body["messages"].as_array().expect("messages");
    let n = msgs.len();
    assert_eq!(
        msgs[n - 2],
        json!({"role": "tool", "tool_call_id": "call_1", "content": "Read image file [image/png]"})
    );
    assert_eq!(
        msgs[n - 1],
        json!({"role": "user", "content": [
            {"type": "text", "text": "Attached image(s) from tool result:"},
            {"type": "image_url", "image_url": {"url": format!("data:image/png;base64,{}", b64(&small_bytes))}},
        ]})
    );

    // The console shows what the image is, not its data.
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    let line = format!(
        "✓ result #call_1 Read image file [image/png] ↵ [image/png 10x10, {} B]",
        small_bytes.len()
    );
    assert!(out.contains(&line), "{out}");
    assert!(!out.contains(&b64(&small_bytes)), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_responses_puts_the_image_in_the_function_call_output() {
    let env = TestEnv::new();
    let (small, small_bytes) = env.png("small.png", 10, 10);
    let server = ModelServer::start(vec![
        calls(&[read_call("call_1", &small)]),
        Reply::text("Seen."),
    ])
    .await;
    let o = env.run(&server, "openai-responses", &["--json"]).await;
    assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(&o));

    let reqs = server.requests();
    assert_eq!(reqs.len(), 2);
    let outputs: Vec<&Value> = reqs[1].body["input"]
        .as_array()
        .expect("input")
        .iter()
        .filter(|i| i["type"] == "function_call_output")
        .collect();
    assert_eq!(
        outputs,
        [
            &json!({"type": "function_call_output", "call_id": "call_1", "output": [
                {"type": "input_text", "text": "Read image file [image/png]"},
                {"type": "input_image", "detail": "auto", "image_url": format!("data:image/png;base64,{}", b64(&small_bytes))},
            ]})
        ]
    );
}
