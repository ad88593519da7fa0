//! `--json`: one RunEvent per line exactly as emitted (live thinking
//! deltas included), then the `appstrate.finalize` envelope.

use std::io::Write;

use serde_json::{Value, json};

use super::Sink;

pub struct JsonlSink<W: Write + Send> {
    out: W,
}

impl<W: Write + Send> JsonlSink<W> {
    pub fn new(out: W) -> Self {
        JsonlSink { out }
    }

    fn line(&mut self, v: &Value) {
        // A closed stdout must not end the run; the result file still gets written.
        let _ = writeln!(self.out, "{v}");
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
