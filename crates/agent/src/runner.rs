//! The agent loop (docs/run.md "Events and the end of a run"): ask the model, run the tool calls of the
//! turn in parallel, answer in call order, repeat; map everything to
//! RunEvents; decide the verdict; fold the events into the RunResult.
//!
//! Aborting is dropping the future: every `bash` process group still alive
//! is killed when the last [`ToolContext`] handle goes.

use std::time::Instant;

use appstrate_afps::{
    RunError, RunEvent, RunResult, TokenUsage, reduce_events, truncate_tool_result,
};
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use serde_json::{Value, json};

use crate::compaction::{Compaction, CompactionError, CompactionSettings, Compactor, Reason};
use crate::events::Stamp;
use crate::model::{
    AssistantTurn, Message, ModelClient, ModelError, ModelRequest, StopReason, ToolResultMessage,
    ToolSpec, Usage,
};
use crate::sink::Sink;
use crate::tools::{ToolContext, ToolOutcome, Toolset};

/// What one run is asked to do.
pub struct RunSpec {
    pub system_prompt: String,
    /// The first user message (the platform sends the prompt again).
    pub first_message: String,
    pub max_turns: u32,
    /// Byte cap of tool results in events (`TOOL_RESULT_BYTE_LIMIT`).
    pub result_byte_limit: usize,
    /// `None` when compaction is off (`MODEL_COMPACTION_ENABLED=false`).
    pub compaction: Option<CompactionSettings>,
}

pub struct Runner<'a> {
    pub client: &'a ModelClient,
    pub tools: &'a Toolset,
    pub ctx: ToolContext,
    pub stamp: Stamp,
    pub sink: &'a mut dyn Sink,
}

/// How the loop ended.
enum Verdict {
    Success,
    Failed { code: &'static str, message: String },
}

/// What the run has spent so far: every paid call, summaries included.
#[derive(Default)]
struct Totals {
    usage: Usage,
    /// US dollars.
    cost: f64,
}

/// The conversation of a run and what keeps it inside the context window.
struct Conversation<'s> {
    system: &'s str,
    tools: &'s [ToolSpec],
    messages: Vec<Message>,
    compactor: Option<Compactor>,
}

pub struct RunOutcome {
    pub result: RunResult,
    pub events: Vec<RunEvent>,
}

impl Runner<'_> {
    fn emit(&mut self, events: &mut Vec<RunEvent>, event: Value) {
        self.sink.event(&event);
        if let Value::Object(m) = event {
            events.push(RunEvent(m));
        }
    }

    /// Runs to the end and finalizes the sink with the RunResult.
    pub async fn run(mut self, spec: &RunSpec) -> RunOutcome {
        let mut events = Vec::new();
        let specs = self.tools.specs();
        let mut conversation = Conversation {
            system: &spec.system_prompt,
            tools: &specs,
            messages: vec![Message::User(spec.first_message.clone())],
            compactor: spec.compaction.map(Compactor::new),
        };
        let mut total = Totals::default();
        let mut turn_no = 0u32;
        let verdict = loop {
            if turn_no >= spec.max_turns {
                let message = format!(
                    "Turn limit reached: the agent used {} turns without finishing",
                    spec.max_turns
                );
                let ev = self.stamp.error(message.clone());
                self.emit(&mut events, ev);
                break Verdict::Failed {
                    code: "turn_limit",
                    message,
                };
            }
            turn_no += 1;
            let started = Instant::now();
            self.compact_if_due(&mut events, &mut conversation, &mut total)
                .await;
            let turn = match self
                .complete(&mut events, &mut conversation, &mut total)
                .await
            {
                Ok(t) => t,
                Err(message) => {
                    let ev = self.stamp.error(message.clone());
                    self.emit(&mut events, ev);
                    break Verdict::Failed {
                        code: "adapter_error",
                        message,
                    };
                }
            };
            self.turn_events(&mut events, &turn, &mut total, turn_no, started);
            let messages = &mut conversation.messages;
            if let Some(c) = conversation.compactor.as_mut() {
                c.record(&turn.usage, messages.len() + 1);
            }
            messages.push(Message::Assistant {
                reasoning: turn.reasoning.clone(),
                text: turn.text.clone(),
                tool_calls: turn.tool_calls.clone(),
            });
            if turn.tool_calls.is_empty() {
                break Verdict::Success;
            }
            let (results, ended) = self.run_tools(&mut events, &turn, spec).await;
            conversation.messages.push(Message::ToolResults(results));
            if ended {
                break Verdict::Success;
            }
        };
        let ev = self.stamp.metric(&total.usage, total.cost);
        self.emit(&mut events, ev);

        let mut result = reduce_events(&events);
        match verdict {
            Verdict::Success => result.status = Some("success".into()),
            Verdict::Failed { code, message } => {
                result.status = Some("failed".into());
                result.error = Some(RunError {
                    code: Some(code.into()),
                    message,
                    ..Default::default()
                });
            }
        }
        let usage = total.usage;
        result.usage = Some(TokenUsage {
            input_tokens: usage.input,
            output_tokens: usage.output,
            cache_creation_input_tokens: (usage.cache_write > 0).then_some(usage.cache_write),
            cache_read_input_tokens: (usage.cache_read > 0).then_some(usage.cache_read),
        });
        result.cost = Some(total.cost);
        self.sink.finalize(&result.to_value());
        RunOutcome { result, events }
    }

    /// `message_end` of the bridge: metric + turn breadcrumb, the advisory
    /// error, the assistant text.
    fn turn_events(
        &mut self,
        events: &mut Vec<RunEvent>,
        turn: &AssistantTurn,
        total: &mut Totals,
        index: u32,
        started: Instant,
    ) {
        let u = turn.usage;
        if !u.is_zero() {
            self.spend(total, &u);
            let ev = self.stamp.metric(&total.usage, total.cost);
            self.emit(events, ev);
            let context = u.input + u.cache_read + u.cache_write;
            let ev = self.stamp.progress(
                format!(
                    "Turn {index} — {context} context tokens, {} generated",
                    u.output
                ),
                json!({
                    "event": "turn",
                    "index": index,
                    "latencyMs": started.elapsed().as_millis() as u64,
                    "inputTokens": u.input,
                    "outputTokens": u.output,
                    "cacheReadTokens": u.cache_read,
                    "cacheWriteTokens": u.cache_write,
                    "contextTokens": context,
                    "contextWindow": self.client.config().context_window,
                }),
            );
            self.emit(events, ev);
        }
        if turn.stop == StopReason::MaxTokens {
            let ev = self.stamp.error(format!(
                "The model stopped at its output limit (max_tokens = {}); its last message may be incomplete",
                self.client.config().max_tokens
            ));
            self.emit(events, ev);
        }
        if !turn.text.is_empty() {
            let ev = self
                .stamp
                .progress(turn.text.join("\n"), json!({"event": "assistant_message"}));
            self.emit(events, ev);
        }
    }

    fn spend(&self, total: &mut Totals, usage: &Usage) {
        total.usage.add(usage);
        total.cost += self.client.config().cost.of(usage);
    }

    /// Compacts before the next request when the context crossed the
    /// threshold. A failed compaction is reported and the run goes on: the
    /// request may still fit, and an overflow gets its own attempt.
    async fn compact_if_due(
        &mut self,
        events: &mut Vec<RunEvent>,
        conversation: &mut Conversation<'_>,
        total: &mut Totals,
    ) {
        let Some(compactor) = conversation.compactor.as_ref() else {
            return;
        };
        let tokens = compactor.context_tokens(
            conversation.system,
            conversation.tools,
            &conversation.messages,
        );
        if !compactor.is_due(tokens) {
            return;
        }
        match compact(conversation, self.client, tokens, Reason::Threshold).await {
            Ok(done) => self.compacted(events, total, &done),
            Err(CompactionError::NothingToCompact) => {}
            Err(e) => {
                let ev = self.stamp.error(format!("Auto-compaction failed: {e}"));
                self.emit(events, ev);
            }
        }
    }

    /// Reports a compaction: its breadcrumb, then a metric whose totals
    /// include the summary call.
    fn compacted(&mut self, events: &mut Vec<RunEvent>, total: &mut Totals, done: &Compaction) {
        self.spend(total, &done.usage);
        let ev = self.stamp.compaction(done);
        self.emit(events, ev);
        let ev = self.stamp.metric(&total.usage, total.cost);
        self.emit(events, ev);
    }

    /// One model turn. A context-overflow refusal compacts the conversation
    /// and tries once more; any failure is one message for the verdict.
    async fn complete(
        &mut self,
        events: &mut Vec<RunEvent>,
        conversation: &mut Conversation<'_>,
        total: &mut Totals,
    ) -> Result<AssistantTurn, String> {
        let err = match self.request(conversation).await {
            Ok(turn) => return Ok(turn),
            Err(err) if err.is_context_overflow() => err,
            Err(err) => return Err(err.to_string()),
        };
        let window = self.client.config().context_window;
        let Some(compactor) = conversation.compactor.as_ref() else {
            return Err(format!(
                "{err} — the conversation no longer fits the model's context window ({window} tokens) and compaction is off (MODEL_COMPACTION_ENABLED=false); turn it back on or use a model with a larger window"
            ));
        };
        let tokens = compactor
            .context_tokens(
                conversation.system,
                conversation.tools,
                &conversation.messages,
            )
            .max(window);
        let done = match compact(conversation, self.client, tokens, Reason::Overflow).await {
            Ok(done) => done,
            // The conversation is the recent part already: the refusal stands.
            Err(CompactionError::NothingToCompact) => return Err(err.to_string()),
            Err(e) => {
                return Err(format!(
                    "Context overflow recovery failed: {e} (after: {err}); use a model with a larger context window"
                ));
            }
        };
        // The refusal was recovered from: reported, but advisory.
        let ev = self.stamp.error(err.to_string());
        self.emit(events, ev);
        self.compacted(events, total, &done);
        self.request(conversation).await.map_err(|again| {
            if again.is_context_overflow() {
                format!(
                    "Context overflow recovery failed after one compact-and-retry attempt: {again}; use a model with a larger context window"
                )
            } else {
                again.to_string()
            }
        })
    }

    async fn request(
        &mut self,
        conversation: &Conversation<'_>,
    ) -> Result<AssistantTurn, ModelError> {
        let request = ModelRequest {
            system: conversation.system,
            messages: &conversation.messages,
            tools: conversation.tools,
        };
        // Thinking is shown as it streams, never kept in the record.
        let (stamp, sink) = (&self.stamp, &mut *self.sink);
        let mut on_thinking = |delta: &str| sink.live(&stamp.thinking_delta(delta));
        self.client
            .complete_streaming(&request, &mut on_thinking)
            .await
    }

    /// Runs every call of the turn at once; results come back in call order.
    /// Returns whether a successful `output` ended the run.
    async fn run_tools(
        &mut self,
        events: &mut Vec<RunEvent>,
        turn: &AssistantTurn,
        spec: &RunSpec,
    ) -> (Vec<ToolResultMessage>, bool) {
        let mut parsed = Vec::new();
        for call in &turn.tool_calls {
            let args = call.arguments();
            let shown = args
                .as_ref()
                .ok()
                .cloned()
                .unwrap_or(Value::String(call.raw_arguments.clone()));
            let ev = self.stamp.progress(
                format!("Tool: {}", call.name),
                json!({"tool": call.name, "args": shown, "toolCallId": call.id}),
            );
            self.emit(events, ev);
            parsed.push(args);
        }
        let tools = self.tools;
        let ctx = self.ctx.clone();
        let ctx = &ctx;
        let mut running: FuturesUnordered<_> = turn
            .tool_calls
            .iter()
            .zip(parsed)
            .enumerate()
            .map(|(i, (call, args))| async move {
                let started = Instant::now();
                let outcome = match (tools.get(&call.name), args) {
                    (None, _) => ToolOutcome::error(format!("Tool {} not found", call.name)),
                    (Some(_), Err(e)) => ToolOutcome::error(format!(
                        "Invalid JSON in the arguments of tool \"{}\": {e}\n\nReceived:\n{}",
                        call.name, call.raw_arguments
                    )),
                    (Some(tool), Ok(args)) => tool.call(args, ctx).await,
                };
                (i, outcome, started.elapsed().as_millis() as u64)
            })
            .collect();
        let mut outcomes: Vec<Option<ToolOutcome>> = vec![None; turn.tool_calls.len()];
        let mut ended = false;
        // End events go out as each call finishes, like Pi's bridge.
        while let Some((i, outcome, duration)) = running.next().await {
            let call = &turn.tool_calls[i];
            for e in &outcome.events {
                let ev = self.stamp.tool_event(e);
                self.emit(events, ev);
            }
            let result = truncate_tool_result(&outcome.result_value(), spec.result_byte_limit);
            let verb = if outcome.is_error {
                "Tool error"
            } else {
                "Tool result"
            };
            let ev = self.stamp.progress(
                format!("{verb}: {}", call.name),
                json!({
                    "tool": call.name,
                    "result": result,
                    "isError": outcome.is_error,
                    "toolCallId": call.id,
                    "durationMs": duration,
                }),
            );
            self.emit(events, ev);
            if !outcome.is_error && self.tools.get(&call.name).is_some_and(|t| t.ends_run()) {
                ended = true;
            }
            outcomes[i] = Some(outcome);
        }
        let results = turn
            .tool_calls
            .iter()
            .zip(outcomes)
            .map(|(call, o)| {
                let o = o.unwrap_or_else(|| ToolOutcome::error("tool did not finish"));
                ToolResultMessage {
                    call_id: call.id.clone(),
                    name: call.name.clone(),
                    text: o.text,
                    is_error: o.is_error,
                    images: o.images,
                }
            })
            .collect();
        (results, ended)
    }
}

/// Summarises the older part of the conversation (one model call).
async fn compact(
    conversation: &mut Conversation<'_>,
    client: &ModelClient,
    tokens_before: u64,
    reason: Reason,
) -> Result<Compaction, CompactionError> {
    let Some(compactor) = conversation.compactor.as_mut() else {
        return Err(CompactionError::NothingToCompact);
    };
    compactor
        .compact(
            client,
            (conversation.system, conversation.tools),
            &mut conversation.messages,
            tokens_before,
            reason,
        )
        .await
}
