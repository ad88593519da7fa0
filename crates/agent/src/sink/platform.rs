//! Reporting a run to the platform (docs/run.md "Reporting"): every RunEvent
//! becomes a CloudEvent with a sequence number from 1, signed with the
//! run's webhook secret (Standard Webhooks HMAC) and posted in order by a
//! background task; the RunResult is posted to the finalize URL; a
//! heartbeat keeps the run alive; a run that ends without its result gets a
//! safety-net finalize.
//!
//! [`HttpSink`] is the synchronous [`Sink`] half (it only queues); the
//! [`Reporter`] owns the task that talks to the instance.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use appstrate_afps::RunEvent;
use appstrate_afps::cloudevents::{build_cloud_event, sign_webhook};
use appstrate_platform::reported::ReportedRun;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::Sink;
use crate::events::now_ms;

const MAX_ATTEMPTS: u32 = 4;
const BACKOFF_BASE: Duration = Duration::from_millis(500);
const BACKOFF_CAP: Duration = Duration::from_secs(30);
/// How long the safety-net finalize may take before the CLI gives up.
pub const SAFETY_NET_BUDGET: Duration = Duration::from_secs(5);
/// The heartbeat period (± 15 % jitter).
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(15);
const MAX_ERROR_BODY: usize = 512;

enum Job {
    Event(String),
    Finalize(String),
}

struct Shared {
    run: ReportedRun,
    http: reqwest::Client,
    finalized: AtomicBool,
}

/// Queues events for the [`Reporter`]; the sequence is assigned here, when
/// the event is handed over.
pub struct HttpSink {
    tx: mpsc::UnboundedSender<Job>,
    sequence: u64,
}

impl Sink for HttpSink {
    fn event(&mut self, event: &Value) {
        let Value::Object(map) = event else { return };
        self.sequence += 1;
        let envelope = build_cloud_event(
            &RunEvent(map.clone()),
            self.sequence,
            &crate::events::uuid_v4(),
            Some(now_ms() as f64),
        );
        let _ = self.tx.send(Job::Event(envelope.to_string()));
    }

    fn finalize(&mut self, result: &Value) {
        let _ = self.tx.send(Job::Finalize(result.to_string()));
    }
}

/// Why reporting stopped (the run itself went on).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct ReportError(pub String);

/// The background side of a reported run.
pub struct Reporter {
    shared: Arc<Shared>,
    worker: JoinHandle<Result<(), ReportError>>,
    heartbeat: Option<JoinHandle<()>>,
}

impl Reporter {
    /// Starts the posting task; events handed to the returned sink go out
    /// in order.
    pub fn start(run: ReportedRun, http: reqwest::Client) -> (Reporter, HttpSink) {
        let (tx, rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            run,
            http,
            finalized: AtomicBool::new(false),
        });
        let worker = tokio::spawn(post_in_order(shared.clone(), rx));
        (
            Reporter {
                shared,
                worker,
                heartbeat: None,
            },
            HttpSink { tx, sequence: 0 },
        )
    }

    pub fn run_id(&self) -> &str {
        &self.shared.run.id
    }

    /// `POST {events}/heartbeat` every `interval` (± 15 %), first after one
    /// interval. A 410 (sink closed) and errors are ignored: the run goes on.
    pub fn start_heartbeat(&mut self, interval: Duration) {
        let shared = self.shared.clone();
        self.heartbeat = Some(tokio::spawn(async move {
            let url = format!("{}/heartbeat", shared.run.events_url);
            loop {
                tokio::time::sleep(jittered(interval)).await;
                let _ = post_signed(&shared, &url, "{}".into(), "application/json").await;
            }
        }));
    }

    fn stop_heartbeat(&mut self) {
        if let Some(h) = self.heartbeat.take() {
            h.abort();
        }
    }

    /// After the sink was dropped: waits for every queued post, then
    /// reports whether all went through.
    pub async fn finish(mut self) -> Result<(), ReportError> {
        self.stop_heartbeat();
        let worker = std::mem::replace(&mut self.worker, tokio::spawn(async { Ok(()) }));
        let outcome = worker
            .await
            .unwrap_or_else(|e| Err(ReportError(format!("the reporting task stopped: {e}"))));
        if outcome.is_ok() && !self.shared.finalized.load(Ordering::SeqCst) {
            return self
                .safety_net(
                    "failed",
                    "Runner exited before completion (CLI bootstrap or teardown error).",
                )
                .await;
        }
        outcome
    }

    /// Closes a run that will not send its own result (interrupted, or an
    /// error after registration), within [`SAFETY_NET_BUDGET`].
    pub async fn safety_net(&mut self, status: &str, message: &str) -> Result<(), ReportError> {
        self.stop_heartbeat();
        self.worker.abort();
        if self.shared.finalized.load(Ordering::SeqCst) {
            return Ok(());
        }
        let result = json!({
            "memories": [],
            "output": null,
            "logs": [],
            "status": status,
            "error": {"message": message},
        });
        let shared = self.shared.clone();
        let post = async move { finalize(&shared, result.to_string()).await };
        match tokio::time::timeout(SAFETY_NET_BUDGET, post).await {
            Ok(r) => r,
            Err(_) => Err(ReportError(format!(
                "HttpSink: the final status of run {} could not be sent within {} s",
                self.shared.run.id,
                SAFETY_NET_BUDGET.as_secs()
            ))),
        }
    }
}

impl Drop for Reporter {
    fn drop(&mut self) {
        self.stop_heartbeat();
    }
}

/// The worker: posts each job in turn; after the first failure the rest is
/// dropped (a gap in the sequence would be refused anyway).
async fn post_in_order(
    shared: Arc<Shared>,
    mut rx: mpsc::UnboundedReceiver<Job>,
) -> Result<(), ReportError> {
    let mut failure = None;
    while let Some(job) = rx.recv().await {
        if failure.is_some() {
            continue;
        }
        let sent = match job {
            Job::Event(body) => post_signed(
                &shared,
                &shared.run.events_url,
                body,
                "application/cloudevents+json",
            )
            .await
            .map(|_| ()),
            Job::Finalize(body) => finalize(&shared, body).await,
        };
        if let Err(e) = sent {
            failure = Some(e);
        }
    }
    failure.map_or(Ok(()), Err)
}

async fn finalize(shared: &Shared, body: String) -> Result<(), ReportError> {
    post_signed(shared, &shared.run.finalize_url, body, "application/json").await?;
    shared.finalized.store(true, Ordering::SeqCst);
    Ok(())
}

/// One signed post, retried on network errors, 5xx and 429 (4 attempts,
/// 500 ms × 2^(n−1) capped at 30 s, plus up to 25 % jitter). The message id
/// stays the same across attempts so the instance can spot a replay.
async fn post_signed(
    shared: &Shared,
    url: &str,
    body: String,
    content_type: &str,
) -> Result<reqwest::StatusCode, ReportError> {
    let msg_id = crate::events::uuid_v4();
    let mut attempt = 1;
    loop {
        let ts = (now_ms() / 1000) as i64;
        let headers = sign_webhook(shared.run.secret(), &msg_id, ts, &body);
        let sent = shared
            .http
            .post(url)
            .header("webhook-id", &headers.id)
            .header("webhook-timestamp", &headers.timestamp)
            .header("webhook-signature", &headers.signature)
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .header(
                reqwest::header::USER_AGENT,
                appstrate_platform::user_agent(),
            )
            .body(body.clone())
            .send()
            .await;
        let retry_reason = match sent {
            Ok(resp) => {
                let status = resp.status();
                if status.is_success() {
                    return Ok(status);
                }
                if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
                    format!("HTTP {}", status.as_u16())
                } else {
                    return Err(non_retryable(url, resp).await);
                }
            }
            Err(e) => appstrate_platform::http::network_error(url, &e).to_string(),
        };
        if attempt >= MAX_ATTEMPTS {
            return Err(ReportError(format!(
                "HttpSink: {url} still failing after {MAX_ATTEMPTS} attempts ({retry_reason})"
            )));
        }
        tokio::time::sleep(jittered_backoff(attempt)).await;
        attempt += 1;
    }
}

/// "HttpSink: non-retryable <status> <text> — code: …, detail: …".
async fn non_retryable(url: &str, resp: reqwest::Response) -> ReportError {
    let status = resp.status();
    let bytes = appstrate_platform::http::read_capped(url, resp, 64 * 1024)
        .await
        .unwrap_or_default();
    let problem: Option<Value> = serde_json::from_slice(&bytes).ok();
    let field = |k: &str| {
        problem
            .as_ref()
            .and_then(|p| p.get(k))
            .and_then(Value::as_str)
            .map(|s| s.chars().take(MAX_ERROR_BODY).collect::<String>())
            .unwrap_or_else(|| "none".into())
    };
    ReportError(format!(
        "HttpSink: non-retryable {} {} — code: {}, detail: {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or(""),
        field("code"),
        field("detail")
    ))
}

fn jittered_backoff(attempt: u32) -> Duration {
    let base = BACKOFF_BASE
        .saturating_mul(2u32.saturating_pow(attempt - 1))
        .min(BACKOFF_CAP);
    base.mul_f64(1.0 + rand::random_range(0.0..0.25))
}

fn jittered(interval: Duration) -> Duration {
    interval.mul_f64(rand::random_range(0.85..1.15))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_half_a_second_with_a_quarter_of_jitter() {
        for (attempt, base_ms) in [(1, 500u64), (2, 1000), (3, 2000), (10, 30_000)] {
            let d = jittered_backoff(attempt).as_millis() as u64;
            assert!(d >= base_ms && d <= base_ms * 125 / 100, "{attempt}: {d}");
        }
    }

    #[test]
    fn uuids_are_version_4() {
        let id = crate::events::uuid_v4();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
        assert_ne!(id, crate::events::uuid_v4());
    }
}
