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

use crate::events::Stamp;
use crate::model::{
    AssistantTurn, Message, ModelClient, ModelRequest, StopReason, ToolResultMessage, Usage,
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
        let mut messages = vec![Message::User(spec.first_message.clone())];
        let specs = self.tools.specs();
        let mut total = Usage::default();
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
            let request = ModelRequest {
                system: &spec.system_prompt,
                messages: &messages,
                tools: &specs,
            };
            // Thinking is shown as it streams, never kept in the record.
            let (stamp, sink) = (&self.stamp, &mut *self.sink);
            let mut on_thinking = |delta: &str| sink.live(&stamp.thinking_delta(delta));
            let turn = match self
                .client
                .complete_streaming(&request, &mut on_thinking)
                .await
            {
                Ok(t) => t,
                Err(err) => {
                    let message = err.to_string();
                    let ev = self.stamp.error(message.clone());
                    self.emit(&mut events, ev);
                    break Verdict::Failed {
                        code: "adapter_error",
                        message,
                    };
                }
            };
            self.turn_events(&mut events, &turn, &mut total, turn_no, started);
            messages.push(Message::Assistant {
                reasoning: turn.reasoning.clone(),
                text: turn.text.clone(),
                tool_calls: turn.tool_calls.clone(),
            });
            if turn.tool_calls.is_empty() {
                break Verdict::Success;
            }
            let (results, ended) = self.run_tools(&mut events, &turn, spec).await;
            messages.push(Message::ToolResults(results));
            if ended {
                break Verdict::Success;
            }
        };
        let ev = self.stamp.metric(&total, 0.0);
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
        result.usage = Some(TokenUsage {
            input_tokens: total.input,
            output_tokens: total.output,
            cache_creation_input_tokens: (total.cache_write > 0).then_some(total.cache_write),
            cache_read_input_tokens: (total.cache_read > 0).then_some(total.cache_read),
        });
        result.cost = Some(0.0);
        self.sink.finalize(&result.to_value());
        RunOutcome { result, events }
    }

    /// `message_end` of the bridge: metric + turn breadcrumb, the advisory
    /// error, the assistant text.
    fn turn_events(
        &mut self,
        events: &mut Vec<RunEvent>,
        turn: &AssistantTurn,
        total: &mut Usage,
        index: u32,
        started: Instant,
    ) {
        let u = turn.usage;
        if !u.is_zero() {
            total.add(&u);
            let ev = self.stamp.metric(total, 0.0);
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
