//! Each built-in and runtime tool: semantics, limits and the messages the
//! model reads, on real files and real processes in a temp directory.

use std::fs;

use appstrate_agent::tools::{ToolContext, ToolEnv, ToolOutcome, Toolset};
use serde_json::{Value, json};

struct Env {
    dir: tempfile::TempDir,
    tools: Toolset,
    ctx: ToolContext,
}

fn env() -> Env {
    let dir = tempfile::tempdir().expect("tempdir");
    let schema = json!({"type": "object", "required": ["summary"], "properties": {"summary": {"type": "string"}}});
    let tools = Toolset::new(
        &[
            "output".into(),
            "log".into(),
            "note".into(),
            "pin".into(),
            "bogus".into(),
        ],
        Some(&schema),
    );
    let ctx = ToolContext::new(dir.path().to_path_buf());
    Env { dir, tools, ctx }
}

impl Env {
    async fn call(&self, name: &str, args: Value) -> ToolOutcome {
        self.tools
            .get(name)
            .expect("tool exists")
            .call(args, &self.ctx)
            .await
    }
    fn write(&self, rel: &str, content: &str) {
        let p = self.dir.path().join(rel);
        fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        fs::write(p, content).expect("write");
    }
}

#[tokio::test]
async fn tool_list_and_unknown_runtime_tools() {
    let e = env();
    let names: Vec<String> = e.tools.specs().into_iter().map(|s| s.name).collect();
    assert_eq!(
        names,
        [
            "read", "bash", "edit", "write", "grep", "find", "ls", "output", "log", "note", "pin"
        ]
    );
    assert_eq!(e.tools.runtime_count(), 4);
}

#[tokio::test]
async fn read_offsets_limits_and_notices() {
    let e = env();
    let lines: Vec<String> = (1..=2500).map(|i| format!("line {i}")).collect();
    e.write("big.txt", &lines.join("\n"));
    let out = e.call("read", json!({"path": "big.txt"})).await;
    assert!(!out.is_error);
    assert!(
        out.text
            .ends_with("line 2000\n\n[Showing lines 1-2000 of 2500. Use offset=2001 to continue.]"),
        "{}",
        &out.text[out.text.len() - 80..]
    );
    let out = e
        .call("read", json!({"path": "big.txt", "offset": 10, "limit": 2}))
        .await;
    assert_eq!(
        out.text,
        "line 10\nline 11\n\n[2489 more lines in file. Use offset=12 to continue.]"
    );
    let out = e
        .call("read", json!({"path": "big.txt", "offset": 3000}))
        .await;
    assert!(out.is_error);
    assert_eq!(
        out.text,
        "Offset 3000 is beyond end of file (2500 lines total)"
    );
    // 50 KB byte limit before the line limit.
    e.write("wide.txt", &vec!["y".repeat(100); 1000].join("\n"));
    let out = e.call("read", json!({"path": "wide.txt"})).await;
    assert!(
        out.text
            .ends_with("[Showing lines 1-506 of 1000 (50.0KB limit). Use offset=507 to continue.]"),
        "{}",
        &out.text[out.text.len() - 90..]
    );
    let out = e.call("read", json!({"path": "missing.txt"})).await;
    assert!(out.is_error && out.text.contains("ENOENT"), "{}", out.text);
}

#[tokio::test]
async fn read_refuses_binary_content() {
    let e = env();
    fs::write(e.dir.path().join("blob.bin"), [0u8, 1, 2, 3, 0, 255]).expect("write");
    let out = e.call("read", json!({"path": "blob.bin"})).await;
    assert!(!out.is_error);
    assert!(
        out.text
            .starts_with("[Binary file blob.bin (6B) not shown."),
        "{}",
        out.text
    );
}

/// A real PNG of the given size, encoded in memory.
fn png(width: u32, height: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 7])
    });
    let mut out = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .expect("encode");
    out
}

#[tokio::test]
async fn read_returns_images_as_image_content() {
    use base64::Engine as _;
    let e = env();
    // Detected by content: the extension says nothing.
    let small = png(10, 10);
    fs::write(e.dir.path().join("shot.txt"), &small).expect("write");
    let out = e.call("read", json!({"path": "shot.txt"})).await;
    assert!(!out.is_error, "{}", out.text);
    assert_eq!(out.text, "Read image file [image/png]");
    assert_eq!(out.images.len(), 1);
    let img = &out.images[0];
    assert_eq!(
        (img.mime_type, img.width, img.height),
        ("image/png", 10, 10)
    );
    assert_eq!(
        img.base64,
        base64::engine::general_purpose::STANDARD.encode(&small)
    );
    // The event result describes the image, without the blob.
    let v = out.result_value();
    assert_eq!(
        v["content"][1],
        json!({"type": "image", "mimeType": "image/png", "width": 10, "height": 10, "bytes": small.len()})
    );
    assert!(!v.to_string().contains(&img.base64));

    fs::write(e.dir.path().join("wide.png"), png(3000, 1000)).expect("write");
    let out = e.call("read", json!({"path": "wide.png"})).await;
    assert!(!out.is_error, "{}", out.text);
    let img = &out.images[0];
    assert_eq!((img.width, img.height), (2000, 667));
    assert_eq!(
        out.text,
        format!(
            "Read image file [{}]\n[Image: original 3000x1000, displayed at 2000x667. Multiply coordinates by 1.50 to map to original image.]",
            img.mime_type
        )
    );

    // A text file named like an image is text.
    e.write("notes.png", "just text\n");
    let out = e.call("read", json!({"path": "notes.png"})).await;
    assert_eq!((out.text.as_str(), out.images.len()), ("just text\n", 0));
}

#[tokio::test]
async fn read_of_a_corrupt_image_is_a_clear_error() {
    let e = env();
    let full = png(10, 10);
    fs::write(e.dir.path().join("cut.png"), &full[..full.len() / 2]).expect("write");
    let out = e.call("read", json!({"path": "cut.png"})).await;
    assert!(out.is_error);
    assert!(out.images.is_empty());
    assert!(
        out.text.starts_with("Cannot read image ")
            && out.text.contains("cut.png")
            && out.text.ends_with(
                "(the file looks like image/png but does not decode; is it truncated or corrupt?)"
            ),
        "{}",
        out.text
    );
    fs::write(e.dir.path().join("p.png"), b"\x89PNG\r\n\x1a\nrest").expect("write");
    let out = e.call("read", json!({"path": "p.png"})).await;
    assert!(out.is_error, "{}", out.text);
}

#[tokio::test]
async fn write_creates_parents() {
    let e = env();
    let out = e
        .call("write", json!({"path": "a/b/c.txt", "content": "hé"}))
        .await;
    assert_eq!(out.text, "Successfully wrote 3 bytes to a/b/c.txt");
    assert_eq!(
        fs::read_to_string(e.dir.path().join("a/b/c.txt")).expect("read"),
        "hé"
    );
}

#[tokio::test]
async fn edit_needs_exactly_one_match_and_keeps_line_endings() {
    let e = env();
    e.write("f.txt", "\u{feff}one\r\ntwo\r\ntwo\r\n");
    let zero = e
        .call(
            "edit",
            json!({"path": "f.txt", "oldText": "three", "newText": "x"}),
        )
        .await;
    assert!(zero.is_error);
    assert_eq!(
        zero.text,
        "Could not find the exact text in f.txt. The old text must match exactly including all whitespace and newlines."
    );
    let two = e
        .call(
            "edit",
            json!({"path": "f.txt", "oldText": "two", "newText": "x"}),
        )
        .await;
    assert!(two.is_error);
    assert_eq!(
        two.text,
        "Found 2 occurrences of the text in f.txt. The text must be unique. Please provide more context to make it unique."
    );
    let ok = e
        .call(
            "edit",
            json!({"path": "f.txt", "oldText": "one\ntwo", "newText": "ONE\nTWO"}),
        )
        .await;
    assert_eq!(
        (ok.is_error, ok.text.as_str()),
        (false, "Successfully replaced text in f.txt.")
    );
    assert_eq!(
        fs::read_to_string(e.dir.path().join("f.txt")).expect("read"),
        "\u{feff}ONE\r\nTWO\r\ntwo\r\n"
    );
}

#[tokio::test]
async fn bash_output_exit_codes_and_env() {
    let e = env();
    let out = e
        .call("bash", json!({"command": "echo out; echo err >&2; pwd"}))
        .await;
    assert!(!out.is_error);
    let canon = fs::canonicalize(e.dir.path()).expect("canon");
    assert_eq!(out.text, format!("out\nerr\n{}\n", canon.display()));
    let out = e.call("bash", json!({"command": "true"})).await;
    assert_eq!(out.text, "(no output)");
    let out = e
        .call("bash", json!({"command": "echo nope; exit 3"}))
        .await;
    assert!(out.is_error);
    assert_eq!(out.text, "nope\n\n\nCommand exited with code 3");
}

#[tokio::test]
async fn home_and_hidden_variables_come_from_the_caller() {
    let mut e = env();
    let home = tempfile::tempdir().expect("home");
    fs::write(home.path().join("note.txt"), "from home\n").expect("write");
    e.ctx.tool_env = ToolEnv::new(
        Some(home.path().to_path_buf()),
        e.dir.path().to_path_buf(),
        ["PATH", "PI_CODING_AGENT_DIR", "HOME"],
    );
    assert_eq!(e.ctx.tool_env.hidden_variables, ["PI_CODING_AGENT_DIR"]);
    let out = e.call("read", json!({"path": "~/note.txt"})).await;
    assert_eq!(out.text, "from home\n");

    // No home given: `~` is the working directory, whatever HOME says.
    e.ctx.tool_env = ToolEnv::default();
    e.write("note.txt", "from cwd\n");
    assert_eq!(e.ctx.resolve("~"), e.dir.path());
    let out = e.call("read", json!({"path": "note.txt"})).await;
    assert_eq!(out.text, "from cwd\n");

    // A hidden variable is not inherited by commands (HOME stands in for
    // a `PI_*` one: tests do not set the test process's environment).
    e.ctx.tool_env.hidden_variables = vec!["HOME".into()];
    let out = e
        .call("bash", json!({"command": "echo ${HOME-unset}"}))
        .await;
    assert_eq!(out.text, "unset\n");
}

#[tokio::test]
async fn bash_timeout_kills_the_whole_group() {
    let e = env();
    let marker = e.dir.path().join("child.pid");
    let cmd = format!(
        "sleep 30 & echo $! > {}; echo started; wait",
        marker.display()
    );
    let t0 = std::time::Instant::now();
    let out = e.call("bash", json!({"command": cmd, "timeout": 1})).await;
    assert!(t0.elapsed() < std::time::Duration::from_secs(10));
    assert!(out.is_error);
    assert_eq!(out.text, "started\n\n\nCommand timed out after 1 seconds");
    let pid = fs::read_to_string(&marker).expect("pid").trim().to_string();
    // The background `sleep` was in the group and is gone too.
    assert!(gone(&pid), "background child {pid} survived the timeout");
}

#[tokio::test]
async fn bash_tail_truncation_saves_full_output() {
    let mut e = env();
    let logs = tempfile::tempdir().expect("temp dir");
    e.ctx.tool_env.temp_dir = logs.path().to_path_buf();
    let out = e.call("bash", json!({"command": "seq 1 3000"})).await;
    assert!(!out.is_error);
    let notice = out.text.rsplit("\n\n").next().expect("notice");
    assert!(
        notice.starts_with("[Showing lines 1002-3001 of 3001. Full output: "),
        "{notice}"
    );
    assert!(out.text.starts_with("1002\n1003\n"));
    let path = notice
        .trim_start_matches("[Showing lines 1002-3001 of 3001. Full output: ")
        .trim_end_matches(']');
    assert!(
        path.starts_with(logs.path().to_str().expect("utf-8")),
        "saved in the temporary directory given: {path}"
    );
    let full = fs::read_to_string(path).expect("full output file");
    assert_eq!(full.lines().count(), 3000);
}

#[tokio::test]
async fn ls_sorts_marks_dirs_and_limits() {
    let e = env();
    e.write("b.txt", "");
    e.write("A.txt", "");
    e.write(".hidden", "");
    e.write("dir/x", "");
    let out = e.call("ls", json!({})).await;
    assert_eq!(out.text, ".hidden\nA.txt\nb.txt\ndir/");
    let out = e.call("ls", json!({"limit": 2})).await;
    assert_eq!(
        out.text,
        ".hidden\nA.txt\n\n[2 entries limit reached. Use limit=4 for more]"
    );
    e.write("empty/.keep", "");
    fs::remove_file(e.dir.path().join("empty/.keep")).expect("rm");
    assert_eq!(
        e.call("ls", json!({"path": "empty"})).await.text,
        "(empty directory)"
    );
    let out = e.call("ls", json!({"path": "nope"})).await;
    assert!(out.is_error && out.text.starts_with("Path not found: "));
}

#[tokio::test]
async fn grep_formats_honours_gitignore_and_limits() {
    let e = env();
    e.write(".gitignore", "ignored/\n");
    e.write("src/a.rs", "fn main() {\n    let needle = 1;\n}\n");
    e.write("src/b.rs", "needle\nneedle\nNEEDLE\n");
    e.write("ignored/c.rs", "needle\n");
    let out = e.call("grep", json!({"pattern": "needle"})).await;
    assert_eq!(
        out.text,
        "src/a.rs:2:     let needle = 1;\nsrc/b.rs:1: needle\nsrc/b.rs:2: needle"
    );
    let out = e
        .call(
            "grep",
            json!({"pattern": "needle", "ignoreCase": true, "limit": 2, "glob": "b.rs"}),
        )
        .await;
    assert_eq!(
        out.text,
        "src/b.rs:1: needle\nsrc/b.rs:2: needle\n\n[2 matches limit reached. Use limit=4 for more, or refine pattern]"
    );
    let out = e
        .call(
            "grep",
            json!({"pattern": "let", "context": 1, "path": "src/a.rs"}),
        )
        .await;
    assert_eq!(
        out.text,
        "a.rs-1- fn main() {\na.rs:2:     let needle = 1;\na.rs-3- }"
    );
    assert_eq!(
        e.call("grep", json!({"pattern": "absent"})).await.text,
        "No matches found"
    );
    let out = e.call("grep", json!({"pattern": "("})).await;
    assert!(
        out.is_error && out.text.starts_with("Invalid pattern"),
        "{}",
        out.text
    );
    e.write("long.txt", &format!("needle{}", "z".repeat(600)));
    let out = e
        .call("grep", json!({"pattern": "needle", "path": "long.txt"}))
        .await;
    assert!(out.text.ends_with("... [truncated]\n\n[Some lines truncated to 500 chars. Use read tool to see full lines]"), "{}", out.text);
}

#[tokio::test]
async fn find_globs_respects_gitignore() {
    let e = env();
    e.write(".gitignore", "*.log\n");
    e.write("a.ts", "");
    e.write("src/b.ts", "");
    e.write("src/c.js", "");
    e.write("debug.log", "");
    assert_eq!(
        e.call("find", json!({"pattern": "*.ts"})).await.text,
        "a.ts\nsrc/b.ts"
    );
    assert_eq!(
        e.call("find", json!({"pattern": "src/*"})).await.text,
        "src/b.ts\nsrc/c.js"
    );
    assert_eq!(
        e.call("find", json!({"pattern": "*.log"})).await.text,
        "No files found matching pattern"
    );
    let out = e.call("find", json!({"pattern": "*.*s", "limit": 1})).await;
    assert_eq!(
        out.text,
        "a.ts\n\n[1 results limit reached. Use limit=2 for more, or refine pattern]"
    );
}

#[tokio::test]
async fn arguments_are_validated_before_running() {
    let e = env();
    let out = e.call("bash", json!({"cmd": "rm -rf /"})).await;
    assert!(out.is_error);
    assert!(
        out.text.starts_with(
            "Validation failed for tool \"bash\":\n  - root: \"command\" is a required property"
        ),
        "{}",
        out.text
    );
    let out = e.call("pin", json!({"key": "Bad Key", "content": 1})).await;
    assert!(out.is_error && out.text.contains("/key"), "{}", out.text);
}

#[tokio::test]
async fn runtime_tools_emit_canonical_events() {
    let e = env();
    let bad = e.call("output", json!({"data": {"summary": 3}})).await;
    assert!(bad.is_error);
    assert_eq!(
        bad.text,
        "Output validation failed:\n  - /summary 3 is not of type \"string\"\n\nPlease call output() again with all required fields correctly typed."
    );
    assert!(bad.events.is_empty());
    let ok = e.call("output", json!({"data": {"summary": "hi"}})).await;
    assert_eq!(
        (ok.text.as_str(), ok.events.clone()),
        (
            "Output recorded",
            vec![json!({"type": "output.emitted", "data": {"summary": "hi"}})]
        )
    );
    assert!(e.tools.get("output").expect("output").ends_run());
    let log = e
        .call("log", json!({"level": "warn", "message": "careful"}))
        .await;
    assert_eq!(log.text, "Logged [warn]: careful");
    assert_eq!(
        log.events,
        vec![json!({"type": "log.written", "level": "warn", "message": "careful"})]
    );
    let note = e
        .call("note", json!({"content": "remember", "scope": "shared"}))
        .await;
    assert_eq!(
        note.events,
        vec![json!({"type": "memory.added", "content": "remember", "scope": "shared"})]
    );
    let pin = e
        .call("pin", json!({"key": "checkpoint", "content": {"n": 1}}))
        .await;
    assert_eq!(pin.text, "Pinned slot \"checkpoint\" updated");
    assert_eq!(
        pin.events,
        vec![json!({"type": "pinned.set", "key": "checkpoint", "content": {"n": 1}})]
    );
}

/// True once the process no longer runs (absent, or a zombie awaiting its reaper).
fn gone(pid: &str) -> bool {
    for _ in 0..100 {
        match fs::read_to_string(format!("/proc/{pid}/stat")) {
            Err(_) => return true,
            Ok(stat) => {
                let state = stat
                    .rsplit(')')
                    .next()
                    .and_then(|r| r.split_whitespace().next());
                if state == Some("Z") {
                    return true;
                }
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    false
}
