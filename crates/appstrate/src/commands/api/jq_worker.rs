//! Runs the `--jq` program on a thread of its own, so that the async
//! runtime stays free to act on Ctrl-C and SIGTERM (and `--max-time`)
//! while a long or endless program runs: jaq gives control back only
//! between results, and some programs (`last(range(1e12))`) have none for
//! hours.
//!
//! jaq's values are not `Send`, so the thread owns everything jaq touches:
//! it compiles the program once and parses each reply's bytes itself.
//! Results come back as chunks of output through a bounded channel (order
//! and backpressure kept); the async side writes them. When the command is
//! dropped (a signal) the channel closes and the thread stops at its next
//! result; one that computes without results ends with the process, as
//! nothing waits for it.

use std::io::{self, Write};
use std::sync::mpsc as std_mpsc;

use tokio::sync::mpsc;

use super::jq::{JqFailure, JqProgram, parse_json};

/// Output is handed over in chunks of about this size: few channel
/// operations for many small results, as the 64 KiB stdout buffer did.
const CHUNK: usize = 64 * 1024;
/// Chunks in flight: the thread runs ahead of a slow reader by this much only.
const CHUNKS_IN_FLIGHT: usize = 4;
/// jaq recurses on the native stack: the program keeps the room it had on
/// the main thread (8 MiB on Linux and macOS), not a spawned thread's 2 MiB.
const STACK_SIZE: usize = 8 << 20;

/// Why the program gave no (or no more) results for one reply.
#[derive(Debug, PartialEq, Eq)]
pub enum RunFailure {
    /// The reply is not JSON (the parser's words).
    NotJson(String),
    /// The program failed or halted.
    Program(JqFailure),
    /// The thread is gone (a panic in jaq, already printed).
    Stopped,
}

/// Why the worker could not start.
#[derive(Debug)]
pub enum StartError {
    /// The program does not compile: the usage error's text.
    Program(String),
    /// No thread could be started.
    Thread(io::Error),
}

/// A compiled program waiting for replies on its own thread.
pub struct JqWorker {
    replies: std_mpsc::Sender<Vec<u8>>,
    events: mpsc::Receiver<Event>,
}

/// What the thread sends back for one reply: chunks, then how it ended.
enum Event {
    Output(Vec<u8>),
    Done(Result<(), RunFailure>),
}

impl JqWorker {
    /// Starts the thread and compiles `code` on it; a bad program is
    /// refused here, before any request.
    pub fn start(code: &str) -> Result<JqWorker, StartError> {
        let code = code.to_string();
        let (compiled_tx, compiled_rx) = std_mpsc::sync_channel(1);
        let (replies, replies_rx) = std_mpsc::channel();
        let (events_tx, events) = mpsc::channel(CHUNKS_IN_FLIGHT);
        std::thread::Builder::new()
            .name("jq".into())
            .stack_size(STACK_SIZE)
            .spawn(move || {
                let program = match JqProgram::compile(&code) {
                    Ok(program) => program,
                    Err(message) => {
                        let _ = compiled_tx.send(Err(message));
                        return;
                    }
                };
                let _ = compiled_tx.send(Ok(()));
                serve(&program, &replies_rx, &events_tx);
            })
            .map_err(StartError::Thread)?;
        match compiled_rx.recv() {
            Ok(Ok(())) => Ok(JqWorker { replies, events }),
            Ok(Err(message)) => Err(StartError::Program(message)),
            Err(_) => Err(StartError::Thread(io::Error::other(
                "the --jq thread stopped while compiling",
            ))),
        }
    }

    /// Runs the program on one reply's bytes and writes its results to
    /// `out` in order. The outer error is `out`'s.
    pub async fn run(
        &mut self,
        reply: Vec<u8>,
        out: &mut dyn Write,
    ) -> io::Result<Result<(), RunFailure>> {
        if self.replies.send(reply).is_err() {
            return Ok(Err(RunFailure::Stopped));
        }
        loop {
            match self.events.recv().await {
                Some(Event::Output(chunk)) => out.write_all(&chunk)?,
                Some(Event::Done(outcome)) => return Ok(outcome),
                None => return Ok(Err(RunFailure::Stopped)),
            }
            // With a reader slower than the program the channel is never
            // empty, and every chunk spends the task budget the signal
            // listener in `main` shares: without a yield it would starve.
            tokio::task::yield_now().await;
        }
    }
}

/// The thread's loop: one reply after another until the command drops
/// its end of either channel.
fn serve(program: &JqProgram, replies: &std_mpsc::Receiver<Vec<u8>>, events: &mpsc::Sender<Event>) {
    while let Ok(reply) = replies.recv() {
        let parsed = parse_json(&reply);
        // The reply's bytes are not needed once parsed: free them first.
        drop(reply);
        let mut chunks = Chunks {
            buffer: Vec::with_capacity(CHUNK),
            events,
        };
        let outcome = match parsed {
            Err(why) => Err(RunFailure::NotJson(why)),
            Ok(value) => match program.run(value, &mut chunks) {
                Ok(outcome) => outcome.map_err(RunFailure::Program),
                // The command is gone: nobody reads any more.
                Err(_) => return,
            },
        };
        if chunks.hand_over().is_err() || events.blocking_send(Event::Done(outcome)).is_err() {
            return;
        }
    }
}

/// Collects results into chunks and hands each full one to the command.
struct Chunks<'a> {
    buffer: Vec<u8>,
    events: &'a mpsc::Sender<Event>,
}

impl Chunks<'_> {
    fn hand_over(&mut self) -> io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.buffer, Vec::with_capacity(CHUNK));
        self.events
            .blocking_send(Event::Output(chunk))
            .map_err(|_| io::Error::from(io::ErrorKind::BrokenPipe))
    }
}

impl Write for Chunks<'_> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.buffer.extend_from_slice(bytes);
        if self.buffer.len() >= CHUNK {
            self.hand_over()?;
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap_or_else(|e| panic!("{e}"))
    }

    fn start(code: &str) -> JqWorker {
        JqWorker::start(code).unwrap_or_else(|e| panic!("{e:?}"))
    }

    fn run(worker: &mut JqWorker, reply: &str) -> (String, Result<(), RunFailure>) {
        let mut out = Vec::new();
        let outcome = runtime()
            .block_on(worker.run(reply.as_bytes().to_vec(), &mut out))
            .unwrap_or_else(|e| panic!("{e}"));
        (String::from_utf8_lossy(&out).into_owned(), outcome)
    }

    #[test]
    fn one_worker_runs_the_program_on_reply_after_reply_in_order() {
        let mut worker = start(".data[] | .id");
        let (out, outcome) = run(&mut worker, r#"{"data":[{"id":"a"},{"id":"b"}]}"#);
        assert_eq!((out.as_str(), outcome), ("a\nb\n", Ok(())));
        let (out, outcome) = run(&mut worker, r#"{"data":[{"id":"c"}]}"#);
        assert_eq!((out.as_str(), outcome), ("c\n", Ok(())));
    }

    #[test]
    fn output_larger_than_the_channel_arrives_whole_and_in_order() {
        let mut worker = start("range(200000)");
        let (out, outcome) = run(&mut worker, "null");
        assert_eq!(outcome, Ok(()));
        let expected: String = (0..200_000).map(|n| format!("{n}\n")).collect();
        assert!(
            out == expected,
            "{} bytes instead of {}",
            out.len(),
            expected.len()
        );
    }

    #[test]
    fn a_bad_program_is_refused_at_start() {
        let refused = JqWorker::start(".data[");
        assert!(
            matches!(&refused, Err(StartError::Program(m)) if m.starts_with("invalid --jq expression: expected")),
            "{:?}",
            refused.err()
        );
    }

    #[test]
    fn failures_come_back_after_the_results_before_them() {
        let mut worker = start(".[] | if . == 2 then error(\"two\") else . end");
        let (out, outcome) = run(&mut worker, "[1,2,3]");
        assert_eq!(
            (out.as_str(), outcome),
            (
                "1\n",
                Err(RunFailure::Program(JqFailure::Error("\"two\"".into())))
            )
        );
        let (_, outcome) = run(&mut worker, "not json");
        assert!(
            matches!(outcome, Err(RunFailure::NotJson(_))),
            "{outcome:?}"
        );
        let mut worker = start("1, halt_error(3)");
        let (out, outcome) = run(&mut worker, "\"bye\"");
        assert_eq!(
            (out.as_str(), outcome),
            ("1\n", Err(RunFailure::Program(JqFailure::Halt(3))))
        );
    }
}
