//! The scripted model server as a process, for benchmarks:
//! `scripted-model-server <script.json>` where the file is a JSON array of
//! replies (see `model_server::Reply`), or `{"repeat": <reply>, "times": N,
//! "then": [<reply>…]}`. Prints `http://127.0.0.1:<port>` on stdout, serves
//! until stdin closes, then prints the per-turn gaps (ms, one per line) to
//! the file named by `GAPS_FILE` when set, and the arrival of the first
//! request (Unix ns) to `FIRST_REQUEST_FILE` when set.

use appstrate_testkit::model_server::{ModelServer, Reply};
use serde_json::Value;
use tokio::io::AsyncReadExt;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: scripted-model-server <script.json>");
        std::process::exit(2);
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("cannot read {path}: {e}");
            std::process::exit(2);
        }
    };
    let parsed: Value = match serde_json::from_str(&text) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("{path} is not JSON: {e}");
            std::process::exit(2);
        }
    };
    let replies: Vec<Reply> = if let Some(rep) = parsed.get("repeat") {
        let one: Reply = serde_json::from_value(rep.clone()).unwrap_or_else(|e| {
            eprintln!("bad reply: {e}");
            std::process::exit(2)
        });
        let times = parsed.get("times").and_then(Value::as_u64).unwrap_or(1) as usize;
        let mut v = vec![one; times];
        let then: Vec<Reply> =
            serde_json::from_value(parsed.get("then").cloned().unwrap_or(Value::Array(vec![])))
                .unwrap_or_else(|e| {
                    eprintln!("bad replies: {e}");
                    std::process::exit(2)
                });
        v.extend(then);
        v
    } else {
        serde_json::from_value(parsed).unwrap_or_else(|e| {
            eprintln!("bad replies: {e}");
            std::process::exit(2)
        })
    };
    let server = ModelServer::start(replies).await;
    println!("{}", server.url());
    let mut sink = Vec::new();
    let _ = tokio::io::stdin().read_to_end(&mut sink).await;
    if let Ok(file) = std::env::var("FIRST_REQUEST_FILE")
        && let Some(first) = server.requests().first()
    {
        let ns = first
            .received_wall
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let _ = std::fs::write(file, format!("{ns}\n"));
    }
    if let Ok(file) = std::env::var("GAPS_FILE") {
        let lines: Vec<String> = server
            .turn_gaps()
            .iter()
            .map(|d| format!("{:.3}", d.as_secs_f64() * 1000.0))
            .collect();
        let _ = std::fs::write(file, lines.join("\n") + "\n");
    }
}
