//! The console sinks reproduce the original's golden rendering
//! (`fixtures/console-sink.golden.txt`) byte for byte, in normal, verbose,
//! quiet and JSONL modes.

use std::io::Write;
use std::sync::{Arc, Mutex};

use appstrate_agent::sink::{ConsoleSink, JsonlSink, Sink, Verbosity};
use serde_json::{Value, json};

#[derive(Clone, Default)]
struct Buf(Arc<Mutex<Vec<u8>>>);

impl Write for Buf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("buf").extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Buf {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().expect("buf").clone()).expect("utf8")
    }
}

fn golden() -> Vec<(String, String)> {
    let text = include_str!("fixtures/console-sink.golden.txt");
    let mut sections = Vec::new();
    for part in text.split("===== ").skip(1) {
        let (title, body) = part.split_once('\n').expect("section title");
        sections.push((title.to_string(), body.to_string()));
    }
    sections
}

fn section(name: &str) -> String {
    golden()
        .into_iter()
        .find(|(t, _)| t == name)
        .map(|(_, b)| b)
        .unwrap_or_else(|| panic!("no section {name}"))
}

const RUN: &str = "cli_1700000000000_abcd1234";

fn ev(ty: &str, payload: Value) -> Value {
    let mut v = json!({"type": ty, "timestamp": 1700000000000u64, "runId": RUN});
    for (k, val) in payload.as_object().expect("object") {
        v[k] = val.clone();
    }
    v
}

/// The synthetic event list behind the golden human sections.
fn human_events() -> Vec<Value> {
    let big = json!({"content": [{"type": "text", "text": "line\n".repeat(1000)}]}).to_string();
    assert_eq!(big.len(), 6039);
    let preview = format!("{}…(truncated, 6039 bytes)", &big[..512]);
    vec![
        ev(
            "appstrate.progress",
            json!({"message": "runtime ready in 812ms", "data": {"bundleLoaded": true, "extensions": 2, "totalToReadyMs": 812}, "level": "info"}),
        ),
        ev(
            "appstrate.progress",
            json!({"message": "Tool: bash", "data": {"tool": "bash", "args": {"command": "ls -la /tmp", "timeout": 5000}, "toolCallId": "toolu_01ABCDEFGH12345678"}}),
        ),
        ev(
            "appstrate.progress",
            json!({"message": "Tool result: bash", "data": {"tool": "bash", "result": {"content": [{"type": "text", "text": "total 8\ndrwxr-xr-x 3 root root 4096 .\n"}]}, "isError": false, "toolCallId": "toolu_01ABCDEFGH12345678", "durationMs": 12}}),
        ),
        ev(
            "appstrate.progress",
            json!({"message": "Tool: read", "data": {"tool": "read", "args": {"path": "x".repeat(250)}}}),
        ),
        ev(
            "appstrate.progress",
            json!({"message": "Tool error: read", "data": {"tool": "read", "result": "ENOENT: no such file", "isError": true}}),
        ),
        ev(
            "appstrate.progress",
            json!({"message": "Tool result: bash", "data": {"tool": "bash", "result": {"__truncated": true, "reason": "size", "bytes": 6039, "limit": 2048, "preview": preview}, "isError": false}}),
        ),
        ev(
            "appstrate.metric",
            json!({"usage": {"input_tokens": 1200, "output_tokens": 80, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}, "cost": 0.0012}),
        ),
        ev(
            "appstrate.progress",
            json!({"message": "Turn 1 — 1200 context tokens, 80 generated", "data": {"event": "turn", "index": 1, "inputTokens": 1200, "outputTokens": 80, "cacheReadTokens": 0, "cacheWriteTokens": 0, "contextTokens": 1200}}),
        ),
        ev(
            "appstrate.progress",
            json!({"message": "I listed the directory.\nNext I will write the output.", "data": {"event": "assistant_message"}}),
        ),
        ev("memory.added", json!({"content": "remember this"})),
        ev(
            "log.written",
            json!({"level": "info", "message": "not shown"}),
        ),
        ev(
            "pinned.set",
            json!({"key": "checkpoint", "content": {"n": 1}}),
        ),
        ev("output.emitted", json!({"data": {"summary": "done"}})),
        ev("api_call.called", json!({"anything": true})),
        ev("appstrate.error", json!({"message": "429 rate limited"})),
    ]
}

fn render(verbosity: Verbosity) -> (String, String) {
    let (out, err) = (Buf::default(), Buf::default());
    let mut sink = ConsoleSink::new(
        Box::new(out.clone()),
        Box::new(err.clone()),
        verbosity,
        false,
    );
    for e in human_events() {
        sink.event(&e);
    }
    sink.finalize(
        &json!({"memories": [], "output": {"summary": "done"}, "logs": [], "status": "success"}),
    );
    sink.finalize(&json!({"memories": [], "output": null, "logs": [], "status": "failed", "error": {"message": "boom"}}));
    (out.text(), err.text())
}

fn check(mode: &str, verbosity: Verbosity) {
    let (out, err) = render(verbosity);
    assert_eq!(
        out,
        section(&format!("human/{mode} STDOUT")),
        "stdout, {mode}"
    );
    assert_eq!(
        err,
        section(&format!("human/{mode} STDERR")),
        "stderr, {mode}"
    );
}

#[test]
fn normal_mode_matches_golden() {
    check("normal", Verbosity::Normal);
}

#[test]
fn verbose_mode_matches_golden() {
    check("verbose", Verbosity::Verbose);
}

#[test]
fn quiet_mode_matches_golden() {
    check("quiet", Verbosity::Quiet);
}

#[test]
fn json_mode_matches_golden() {
    let expected = section("json");
    let lines: Vec<&str> = expected.lines().collect();
    let out = Buf::default();
    let mut sink = JsonlSink::new(out.clone());
    for line in &lines[..lines.len() - 1] {
        let v: Value = serde_json::from_str(line).expect("event json");
        sink.event(&v);
    }
    let fin: Value = serde_json::from_str(lines[lines.len() - 1]).expect("finalize json");
    sink.finalize(&fin["result"]);
    assert_eq!(out.text(), expected);
}

#[test]
fn colour_only_when_asked() {
    let out = Buf::default();
    let mut sink = ConsoleSink::new(
        Box::new(out.clone()),
        Box::new(Buf::default()),
        Verbosity::Normal,
        true,
    );
    sink.event(&human_events()[1]);
    assert!(
        out.text()
            .starts_with("\x1b[36m→ tool: bash\x1b[0m\x1b[2m #12345678\x1b[0m\n"),
        "{:?}",
        out.text()
    );
}

#[test]
fn thinking_is_dimmed_ends_its_line_and_is_hidden_when_quiet() {
    let delta = |d: &str| ev("appstrate.thinking.delta", json!({"delta": d}));
    let metric = &human_events()[6];
    for (verbosity, colour, expected) in [
        (
            Verbosity::Normal,
            false,
            "Let me\n think\n∑ tokens in=1200 out=80  $0.0012\n",
        ),
        (
            Verbosity::Normal,
            true,
            "\x1b[2mLet me\n\x1b[0m\x1b[2m think\x1b[0m\n\x1b[2m∑ tokens in=1200 out=80  $0.0012\x1b[0m\n",
        ),
        (
            Verbosity::Quiet,
            false,
            "∑ tokens in=1200 out=80  $0.0012\n",
        ),
    ] {
        let out = Buf::default();
        let mut sink = ConsoleSink::new(
            Box::new(out.clone()),
            Box::new(Buf::default()),
            verbosity,
            colour,
        );
        sink.live(&delta("Let me\n"));
        sink.live(&delta(" think"));
        sink.event(metric);
        assert_eq!(out.text(), expected, "{verbosity:?}, colour {colour}");
    }
    // A thought that ends its own line gets no extra one.
    let out = Buf::default();
    let mut sink = ConsoleSink::new(
        Box::new(out.clone()),
        Box::new(Buf::default()),
        Verbosity::Normal,
        false,
    );
    sink.live(&delta("done.\n"));
    sink.finalize(&json!({"status": "success"}));
    assert_eq!(out.text(), "done.\n\n[run complete]\n");
    // JSONL writes the deltas as they come.
    let out = Buf::default();
    let mut sink = JsonlSink::new(out.clone());
    sink.live(&delta("done.\n"));
    assert_eq!(out.text(), format!("{}\n", delta("done.\n")));
}
