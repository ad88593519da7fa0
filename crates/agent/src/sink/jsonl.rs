//! `--json`: one RunEvent per line exactly as emitted (live thinking
//! deltas included), then the `appstrate.finalize` envelope.

use std::io::Write;

use serde_json::{Value, json};

use super::Sink;

pub struct JsonlSink<W: Write + Send> {
    out: W,
    /// The line being written, kept for the next one.
    line: Vec<u8>,
}

impl<W: Write + Send> JsonlSink<W> {
    pub fn new(out: W) -> Self {
        JsonlSink {
            out,
            line: Vec::new(),
        }
    }

    /// One write per event: the JSON serialised straight into a buffer
    /// (`writeln!` went through `Display` in many small pieces).
    fn line(&mut self, v: &Value) {
        self.line.clear();
        if serde_json::to_writer(&mut self.line, v).is_err() {
            return;
        }
        self.line.push(b'\n');
        // A closed stdout must not end the run; the result file still gets written.
        let _ = self.out.write_all(&self.line);
        let _ = self.out.flush();
    }
}

impl<W: Write + Send> Sink for JsonlSink<W> {
    fn event(&mut self, event: &Value) {
        self.line(event);
    }

    fn live(&mut self, event: &Value) {
        self.line(event);
    }

    fn finalize(&mut self, result: &Value) {
        self.line(&json!({"type": "appstrate.finalize", "result": result}));
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    /// Records every write and flush it is handed.
    #[derive(Clone, Default)]
    struct Calls(Arc<Mutex<Vec<String>>>);

    impl Write for Calls {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let mut calls = self.0.lock().expect("calls");
            calls.push(format!("write {}", String::from_utf8_lossy(buf)));
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            self.0.lock().expect("calls").push("flush".into());
            Ok(())
        }
    }

    #[test]
    fn each_event_is_one_write_of_its_line_then_a_flush() {
        let calls = Calls::default();
        let mut sink = JsonlSink::new(calls.clone());
        sink.event(&json!({"type": "appstrate.progress", "message": "a \"b\"\n", "n": 1.5}));
        sink.finalize(&json!({"status": "success"}));
        assert_eq!(
            *calls.0.lock().expect("calls"),
            vec![
                "write {\"type\":\"appstrate.progress\",\"message\":\"a \\\"b\\\"\\n\",\"n\":1.5}\n",
                "flush",
                "write {\"type\":\"appstrate.finalize\",\"result\":{\"status\":\"success\"}}\n",
                "flush",
            ]
        );
    }
}
