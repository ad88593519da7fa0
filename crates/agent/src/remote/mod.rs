//! Following a run the platform executes (docs/run.md, "Remote runs"):
//! poll its log rows and record until it ends, hand the rebuilt RunEvents
//! to the same [`Sink`] a local run uses, and close with the RunResult.
//!
//! Signals reach the loop through a channel (the binary owns the signal
//! handlers). Under [`SignalPolicy::Cancel`] the first one cancels the run
//! on the server and the loop keeps following it to its terminal status;
//! a second one stops at once. Under [`SignalPolicy::Detach`] the first one
//! stops following and leaves the run alone.

pub mod mapping;

use std::collections::{HashSet, VecDeque};
use std::future::Future;
use std::time::Duration;

use appstrate_afps::RunResult;
use appstrate_platform::PlatformError;
use appstrate_platform::runs::{RunsApi, is_terminal};
use serde_json::Value;
use tokio::sync::mpsc::UnboundedReceiver;

use crate::events::now_ms;
use crate::sink::Sink;

/// Default time between two polls.
pub const DEFAULT_POLL: Duration = Duration::from_millis(1500);
/// The record is fetched on tick 0 and every this many ticks (logs every tick).
pub const RECORD_EVERY_TICKS: u64 = 4;
/// Consecutive failed record fetches before giving up.
pub const MAX_RECORD_FAILURES: u32 = 20;
/// Log ids remembered to drop rows the server repeats.
pub const DEDUP_WINDOW: usize = 1024;

/// What a signal means for the run on the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignalPolicy {
    Cancel,
    Detach,
}

impl SignalPolicy {
    /// An explicit `--[no-]cancel-on-exit` wins; else nobody at a terminal
    /// (`--json`, or stdin not a TTY: only a terminal delivers Ctrl-C)
    /// means the signal came from a supervisor, and the run is left alone.
    pub fn resolve(cancel_on_exit: Option<bool>, json: bool, stdin_is_tty: bool) -> Self {
        match cancel_on_exit {
            Some(true) => SignalPolicy::Cancel,
            Some(false) => SignalPolicy::Detach,
            None if json || !stdin_is_tty => SignalPolicy::Detach,
            None => SignalPolicy::Cancel,
        }
    }
}

#[derive(Debug, Clone)]
pub struct FollowOptions {
    pub poll: Duration,
    pub policy: SignalPolicy,
}

/// Things worth a stderr line in human mode; the caller decides.
#[derive(Debug)]
pub enum Notice {
    /// A signal arrived and the cancel is being sent.
    Cancelling,
    CancelFailed(String),
    /// A record fetch failed; the loop retries.
    RecordRetry(String),
}

/// How following ended.
#[derive(Debug)]
pub enum Outcome {
    /// The run reached a terminal status; the sink was finalized.
    Finished {
        result: Box<RunResult>,
        /// The signal that asked for the cancel, if one did.
        cancelled_by: Option<i32>,
    },
    /// A signal under [`SignalPolicy::Detach`]: the run is still going.
    Detached { signal: i32 },
    /// A second signal while a cancel was under way.
    Interrupted { signal: i32 },
}

#[derive(Debug, thiserror::Error)]
pub enum FollowError {
    #[error(
        "Gave up tailing run {run_id}: the run record could not be fetched after {attempts} consecutive attempts (last error: {last})"
    )]
    GaveUp {
        run_id: String,
        attempts: u32,
        last: PlatformError,
    },
}

/// Why the loop stops early.
enum Stop {
    Detached(i32),
    Interrupted(i32),
}

/// Sliding window of seen log ids.
struct Dedup {
    seen: HashSet<i64>,
    order: VecDeque<i64>,
}

impl Dedup {
    fn new() -> Self {
        Dedup {
            seen: HashSet::new(),
            order: VecDeque::new(),
        }
    }

    /// True the first time an id is seen (within the window).
    fn first_time(&mut self, id: i64) -> bool {
        if !self.seen.insert(id) {
            return false;
        }
        self.order.push_back(id);
        if self.order.len() > DEDUP_WINDOW
            && let Some(old) = self.order.pop_front()
        {
            self.seen.remove(&old);
        }
        true
    }
}

struct Follower<'a, 'c> {
    api: &'a RunsApi<'c>,
    run_id: &'a str,
    sink: &'a mut dyn Sink,
    signals: &'a mut UnboundedReceiver<i32>,
    notify: &'a mut dyn FnMut(Notice),
    opts: FollowOptions,
    dedup: Dedup,
    last_id: Option<i64>,
    folded: RunResult,
    cancelled_by: Option<i32>,
    /// Fetch the record on the next tick (after a cancel).
    record_due: bool,
}

/// Follows `run_id` until it ends, printing through `sink`.
pub async fn follow(
    api: &RunsApi<'_>,
    run_id: &str,
    sink: &mut dyn Sink,
    signals: &mut UnboundedReceiver<i32>,
    notify: &mut dyn FnMut(Notice),
    opts: FollowOptions,
) -> Result<Outcome, FollowError> {
    let mut follower = Follower {
        api,
        run_id,
        sink,
        signals,
        notify,
        opts,
        dedup: Dedup::new(),
        last_id: None,
        folded: RunResult::empty(),
        cancelled_by: None,
        record_due: false,
    };
    match follower.run().await {
        Ok(result) => result.map(|result| Outcome::Finished {
            result: Box::new(result),
            cancelled_by: follower.cancelled_by,
        }),
        Err(Stop::Detached(signal)) => Ok(Outcome::Detached { signal }),
        Err(Stop::Interrupted(signal)) => Ok(Outcome::Interrupted { signal }),
    }
}

impl Follower<'_, '_> {
    async fn run(&mut self) -> Result<Result<RunResult, FollowError>, Stop> {
        let api = self.api;
        let mut tick: u64 = 0;
        let mut failures: u32 = 0;
        let terminal = loop {
            let batch = self.guarded(api.logs(self.run_id, self.last_id)).await?;
            self.render(&batch.rows);
            if tick.is_multiple_of(RECORD_EVERY_TICKS) || self.record_due {
                self.record_due = false;
                match self.guarded(api.record(self.run_id, None)).await? {
                    Ok(record) => {
                        failures = 0;
                        if record_status(&record).is_some_and(is_terminal) {
                            break record;
                        }
                    }
                    Err(err) => {
                        failures += 1;
                        if failures >= MAX_RECORD_FAILURES {
                            return Ok(Err(FollowError::GaveUp {
                                run_id: self.run_id.to_string(),
                                attempts: failures,
                                last: err,
                            }));
                        }
                        (self.notify)(Notice::RecordRetry(err.to_string()));
                    }
                }
            }
            tick += 1;
            self.guarded(tokio::time::sleep(self.opts.poll)).await?;
        };
        // Rows committed with the status flip may have landed after the
        // last log poll; the record is re-read for its final totals.
        let record = match self.guarded(api.record(self.run_id, None)).await? {
            Ok(record) if record_status(&record).is_some_and(is_terminal) => record,
            _ => terminal,
        };
        let batch = self.guarded(api.logs(self.run_id, self.last_id)).await?;
        self.render(&batch.rows);
        if let Some(metric) = mapping::metric_event(&record, self.run_id, now_ms() as i64) {
            self.sink.event(&metric);
        }
        let status = record_status(&record).unwrap_or("failed");
        let result = mapping::run_result(&record, status, &self.folded);
        self.sink.finalize(&result.to_value());
        Ok(Ok(result))
    }

    fn render(&mut self, rows: &[appstrate_platform::runs::LogRow]) {
        for row in rows {
            if let Some(id) = row.id {
                if !self.dedup.first_time(id) {
                    continue;
                }
                self.last_id = Some(self.last_id.map_or(id, |last| last.max(id)));
            }
            if let Some(event) = mapping::log_row_event(&row.raw, self.run_id, now_ms() as i64) {
                mapping::fold(&mut self.folded, &event);
                self.sink.event(&event);
            }
        }
    }

    /// Awaits `fut` while answering signals as the policy says.
    async fn guarded<T>(&mut self, fut: impl Future<Output = T>) -> Result<T, Stop> {
        tokio::pin!(fut);
        loop {
            tokio::select! {
                biased;
                out = &mut fut => return Ok(out),
                Some(signal) = self.signals.recv() => self.on_signal(signal).await?,
            }
        }
    }

    async fn on_signal(&mut self, signal: i32) -> Result<(), Stop> {
        if self.opts.policy == SignalPolicy::Detach {
            return Err(Stop::Detached(signal));
        }
        if self.cancelled_by.is_some() {
            return Err(Stop::Interrupted(signal));
        }
        self.cancelled_by = Some(signal);
        self.record_due = true;
        (self.notify)(Notice::Cancelling);
        let api = self.api;
        tokio::select! {
            biased;
            Some(second) = self.signals.recv() => return Err(Stop::Interrupted(second)),
            sent = api.cancel(self.run_id) => {
                if let Err(err) = sent {
                    (self.notify)(Notice::CancelFailed(err.to_string()));
                }
            }
        }
        Ok(())
    }
}

fn record_status(record: &Value) -> Option<&str> {
    record.get("status").and_then(Value::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_flag_wins_else_terminal_decides() {
        use SignalPolicy::*;
        assert_eq!(SignalPolicy::resolve(Some(true), true, false), Cancel);
        assert_eq!(SignalPolicy::resolve(Some(false), false, true), Detach);
        assert_eq!(SignalPolicy::resolve(None, true, true), Detach);
        assert_eq!(SignalPolicy::resolve(None, false, false), Detach);
        assert_eq!(SignalPolicy::resolve(None, false, true), Cancel);
    }

    #[test]
    fn dedup_forgets_beyond_its_window() {
        let mut d = Dedup::new();
        assert!(d.first_time(1));
        assert!(!d.first_time(1));
        for id in 2..=(DEDUP_WINDOW as i64 + 1) {
            assert!(d.first_time(id));
        }
        // 1 fell out of the window; 2 is still remembered.
        assert!(d.first_time(1));
        assert!(!d.first_time(DEDUP_WINDOW as i64));
    }
}
