//! Where RunEvents go. A run hands every event to one [`Sink`]; the console
//! sinks print them, the platform sink posts them.

mod console;
mod jsonl;
mod platform;

use serde_json::Value;

pub use console::{ConsoleSink, Verbosity};
pub use jsonl::JsonlSink;
pub use platform::{HEARTBEAT_INTERVAL, HttpSink, ReportError, Reporter};

pub trait Sink: Send {
    fn event(&mut self, event: &Value);
    /// An event of the live stream (a piece of thinking): for the people
    /// and programs watching the run, not part of its record, so sinks
    /// that keep or ship the record ignore it.
    fn live(&mut self, _event: &Value) {}
    /// The RunResult, once, at the end of a run that was not aborted.
    fn finalize(&mut self, result: &Value);
}

/// Several sinks in a row (console + platform reporting).
pub struct Composite(pub Vec<Box<dyn Sink>>);

impl Sink for Composite {
    fn event(&mut self, event: &Value) {
        for s in &mut self.0 {
            s.event(event);
        }
    }
    fn live(&mut self, event: &Value) {
        for s in &mut self.0 {
            s.live(event);
        }
    }
    fn finalize(&mut self, result: &Value) {
        for s in &mut self.0 {
            s.finalize(result);
        }
    }
}
