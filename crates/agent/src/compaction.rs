//! Compaction (docs/run.md "Compaction"): when the conversation would no
//! longer leave the model room to answer, the older part is replaced by a
//! summary the model writes, and the recent part is kept word for word.
//!
//! Sizes follow the platform's runtime: the reserve left for the answer is
//! the model's output cap (at most 80 % of the window; a derived floor when
//! the cap is unusable), the recent part kept is `max(20000, 10 % of the
//! window)`. Token counts are the provider's (the last answered request)
//! plus an estimate (characters / 4) of what was added since.

use crate::model::{
    Message, ModelClient, ModelError, ModelRequest, ToolResultMessage, ToolSpec, Usage,
};

/// The reserve when the model's output cap is missing or impossible.
const RESERVE_FLOOR_TOKENS: u64 = 16_384;
/// Never keep less than this much of the recent conversation.
const MIN_KEEP_RECENT_TOKENS: u64 = 20_000;
/// How much of a tool result goes into the text the summary is written from.
const RESULT_CHARS_IN_SUMMARY: usize = 2_000;
/// An image counts as this many tokens (it has no text to measure).
const IMAGE_TOKENS: u64 = 1_200;

/// `MODEL_COMPACTION_ENABLED=false` (or `0`) turns compaction off, as
/// `MODEL_RETRY_ENABLED` does retries.
pub fn enabled_by_env(value: Option<&str>) -> bool {
    !matches!(value.map(str::trim), Some(v) if v.eq_ignore_ascii_case("false") || v == "0")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompactionSettings {
    pub context_window: u64,
    /// Tokens kept free for the model's answer.
    pub reserve_tokens: u64,
    /// Tokens of recent conversation kept verbatim.
    pub keep_recent_tokens: u64,
}

impl CompactionSettings {
    pub fn derive(context_window: u64, max_tokens: u32) -> Self {
        let context_window = context_window.max(1);
        let ceiling = (context_window * 8 / 10).max(1);
        let max_tokens = u64::from(max_tokens);
        let reserve_tokens = if max_tokens > 0 && max_tokens < context_window {
            max_tokens.min(ceiling)
        } else {
            RESERVE_FLOOR_TOKENS.max(context_window / 5).min(ceiling)
        };
        CompactionSettings {
            context_window,
            reserve_tokens,
            keep_recent_tokens: MIN_KEEP_RECENT_TOKENS.max(context_window / 10),
        }
    }

    /// Compaction is due above this many context tokens.
    pub fn threshold(&self) -> u64 {
        self.context_window.saturating_sub(self.reserve_tokens)
    }

    /// What is kept verbatim: the recent budget, but never more than half
    /// the threshold (on small windows the kept part must leave room to grow).
    fn keep_tokens(&self) -> u64 {
        self.keep_recent_tokens.min(self.threshold() / 2).max(1)
    }

    /// The summary's answer budget (80 % of the reserve).
    fn summary_max_tokens(&self) -> u32 {
        u32::try_from(self.reserve_tokens * 8 / 10)
            .unwrap_or(u32::MAX)
            .max(1)
    }
}

/// Why a compaction ran (the `reason` of its event).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// The context crossed `window - reserve`.
    Threshold,
    /// The provider refused the request as too long.
    Overflow,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Threshold => "threshold",
            Reason::Overflow => "overflow",
        }
    }
}

/// One finished compaction.
#[derive(Debug, Clone)]
pub struct Compaction {
    pub reason: Reason,
    pub tokens_before: u64,
    pub estimated_tokens_after: u64,
    /// The summary call's usage (added to the run's totals).
    pub usage: Usage,
}

#[derive(Debug, thiserror::Error)]
pub enum CompactionError {
    #[error("nothing older than the recent part of the conversation to summarise")]
    NothingToCompact,
    #[error("the summary request failed: {0}")]
    Summary(ModelError),
    #[error("the model returned an empty summary")]
    EmptySummary,
}

/// The compaction state of one run.
pub struct Compactor {
    settings: CompactionSettings,
    /// The provider's context count of the last answered request, and how
    /// many messages (its answer included) that count covers.
    measured: Option<(u64, usize)>,
    /// The last summary; while set, the conversation's first message is it.
    summary: Option<String>,
    /// A summary call failed: no more threshold attempts (each would be a
    /// failing paid call every turn) until an overflow compaction succeeds.
    threshold_paused: bool,
}

impl Compactor {
    pub fn new(settings: CompactionSettings) -> Self {
        Compactor {
            settings,
            measured: None,
            summary: None,
            threshold_paused: false,
        }
    }

    pub fn settings(&self) -> &CompactionSettings {
        &self.settings
    }

    /// After an answer: its usage covers the request and the answer, which
    /// bring the conversation to `covered` messages. A provider that reports
    /// no usage leaves the count to the estimate.
    pub fn record(&mut self, usage: &Usage, covered: usize) {
        let tokens = usage.input + usage.cache_read + usage.cache_write + usage.output;
        self.measured = (tokens > 0).then_some((tokens, covered));
    }

    /// The context the next request would carry, in tokens.
    pub fn context_tokens(&self, system: &str, tools: &[ToolSpec], messages: &[Message]) -> u64 {
        match self.measured {
            Some((tokens, covered)) if covered <= messages.len() => {
                tokens
                    + messages[covered..]
                        .iter()
                        .map(estimate_message)
                        .sum::<u64>()
            }
            _ => estimate_request(system, tools, messages),
        }
    }

    pub fn is_due(&self, context_tokens: u64) -> bool {
        !self.threshold_paused && context_tokens > self.settings.threshold()
    }

    /// Summarises the older part of `messages` with one model call and
    /// replaces it by the summary; the recent part stays as it was. A tool
    /// call is never separated from its results.
    pub async fn compact(
        &mut self,
        client: &ModelClient,
        request: (&str, &[ToolSpec]),
        messages: &mut Vec<Message>,
        tokens_before: u64,
        reason: Reason,
    ) -> Result<Compaction, CompactionError> {
        let (system, tools) = request;
        let start = usize::from(self.summary.is_some());
        let cut = cut_point(messages, start, self.settings.keep_tokens())
            .ok_or(CompactionError::NothingToCompact)?;
        let prompt = summary_prompt(
            &messages[start..cut],
            self.summary.as_deref(),
            self.conversation_budget_chars(),
        );
        let summarizer = client.with_max_tokens(self.settings.summary_max_tokens());
        let answer = summarizer
            .complete(&ModelRequest {
                system: SUMMARY_SYSTEM_PROMPT,
                messages: &[Message::User(prompt)],
                tools: &[],
            })
            .await
            .map_err(CompactionError::Summary)
            .and_then(|turn| {
                let summary = turn.text.join("\n").trim().to_string();
                if summary.is_empty() {
                    Err(CompactionError::EmptySummary)
                } else {
                    Ok((summary, turn.usage))
                }
            });
        let (summary, usage) = match answer {
            Ok(answer) => answer,
            Err(e) => {
                self.threshold_paused = true;
                return Err(e);
            }
        };
        self.threshold_paused = false;
        let kept = messages.split_off(cut);
        messages.clear();
        messages.push(Message::User(summary_message(&summary)));
        messages.extend(kept);
        self.summary = Some(summary);
        self.measured = None;
        Ok(Compaction {
            reason,
            tokens_before,
            estimated_tokens_after: estimate_request(system, tools, messages),
            usage,
        })
    }

    /// How much conversation text the summary request may carry: what fits
    /// below the threshold once the instructions are counted.
    fn conversation_budget_chars(&self) -> usize {
        let fixed = estimate_text(SUMMARY_SYSTEM_PROMPT)
            + estimate_text(UPDATE_INSTRUCTIONS)
            + self.summary.as_deref().map_or(0, estimate_text)
            + 256;
        let tokens = self.settings.threshold().saturating_sub(fixed).max(256);
        usize::try_from(tokens.saturating_mul(4)).unwrap_or(usize::MAX)
    }
}

/// Characters / 4, rounded up: a deliberate over-estimate for most text.
pub fn estimate_text(text: &str) -> u64 {
    (text.chars().count() as u64).div_ceil(4)
}

pub fn estimate_message(message: &Message) -> u64 {
    match message {
        Message::User(text) => estimate_text(text),
        Message::Assistant {
            reasoning,
            text,
            tool_calls,
        } => {
            // Only what goes back to the provider counts (Chat Completions
            // takes no thinking back).
            let thought: u64 = reasoning
                .iter()
                .filter_map(|r| r.replay.as_ref())
                .map(|v| estimate_text(&v.to_string()))
                .sum();
            let text: u64 = thought + text.iter().map(|t| estimate_text(t)).sum::<u64>();
            let calls: u64 = tool_calls
                .iter()
                .map(|c| estimate_text(&c.name) + estimate_text(&c.raw_arguments))
                .sum();
            text + calls
        }
        Message::ToolResults(results) => results.iter().map(estimate_result).sum(),
    }
}

fn estimate_result(result: &ToolResultMessage) -> u64 {
    estimate_text(&result.text) + IMAGE_TOKENS * result.images.len() as u64
}

/// The whole request: system prompt, tool definitions, conversation.
pub fn estimate_request(system: &str, tools: &[ToolSpec], messages: &[Message]) -> u64 {
    let tools: u64 = tools
        .iter()
        .map(|t| {
            estimate_text(&t.name)
                + estimate_text(&t.description)
                + estimate_text(&t.parameters.to_string())
        })
        .sum();
    estimate_text(system) + tools + messages.iter().map(estimate_message).sum::<u64>()
}

/// Where the kept part starts: walking back from the newest message until
/// `keep` tokens are gathered, then forward to the nearest user or
/// assistant message (tool results stay with the call they answer). `None`
/// when everything after `start` fits in `keep`, or no cut leaves
/// something to summarise.
fn cut_point(messages: &[Message], start: usize, keep: u64) -> Option<usize> {
    let can_cut = |i: usize| i > start && !matches!(messages[i], Message::ToolResults(_));
    let mut gathered = 0;
    let reached = (start..messages.len()).rev().find(|&i| {
        gathered += estimate_message(&messages[i]);
        gathered >= keep
    })?;
    (reached..messages.len())
        .find(|&i| can_cut(i))
        // Only the newest results are past the budget: keep the call they
        // answer, the smallest kept part that stays whole.
        .or_else(|| (start + 1..reached).rev().find(|&i| can_cut(i)))
}

const SUMMARY_SYSTEM_PROMPT: &str = "You write the working notes of an AI agent whose conversation has grown too long for its context window. The agent will continue the task from your notes alone, so record what it needs to carry on. Do not continue the conversation, do not call tools, and answer with the notes only.";

const INSTRUCTIONS: &str =
    "Write the agent's working notes from the conversation above, under these headings:

## Task
What the agent was asked to do, with any constraints it was given.

## Progress
What is done (files written, commands run, results found) and what was under way.

## Decisions
Choices made so far and why.

## Next steps
What remains to do, in order.

## Key facts
Exact file paths, identifiers, values and error messages the agent still needs.

Be brief, but keep paths, names and error messages exactly as they appear.";

const UPDATE_INSTRUCTIONS: &str = "The notes written before this part of the conversation are in <previous-notes>. Write the notes again so that they cover everything: keep what still matters from the previous notes, add the progress, decisions and facts of the newer messages, move finished work from under way to done, and update the next steps. Use these headings: ## Task, ## Progress, ## Decisions, ## Next steps, ## Key facts.

Be brief, but keep paths, names and error messages exactly as they appear.";

/// The one user message of the summary request: the conversation as text
/// (so the model reads it rather than continues it), the previous summary,
/// the instructions. The oldest lines go first when the text is too long.
fn summary_prompt(messages: &[Message], previous: Option<&str>, budget_chars: usize) -> String {
    let mut conversation = String::new();
    for message in messages {
        write_message(&mut conversation, message);
    }
    let conversation = keep_tail(&conversation, budget_chars);
    let mut prompt = format!("<conversation>\n{conversation}</conversation>\n\n");
    match previous {
        Some(notes) => {
            prompt.push_str(&format!(
                "<previous-notes>\n{notes}\n</previous-notes>\n\n{UPDATE_INSTRUCTIONS}"
            ));
        }
        None => prompt.push_str(INSTRUCTIONS),
    }
    prompt
}

fn write_message(out: &mut String, message: &Message) {
    match message {
        Message::User(text) => out.push_str(&format!("[User]\n{text}\n\n")),
        Message::Assistant {
            text, tool_calls, ..
        } => {
            for t in text.iter().filter(|t| !t.is_empty()) {
                out.push_str(&format!("[Assistant]\n{t}\n\n"));
            }
            for call in tool_calls {
                out.push_str(&format!(
                    "[Assistant calls {}]\n{}\n\n",
                    call.name, call.raw_arguments
                ));
            }
        }
        Message::ToolResults(results) => {
            for r in results {
                let label = if r.is_error { "error" } else { "result" };
                let text = cut_chars(&r.text, RESULT_CHARS_IN_SUMMARY);
                out.push_str(&format!("[Tool {label} of {}]\n{text}\n", r.name));
                for image in &r.images {
                    out.push_str(&format!("(an image, {})\n", image.mime_type));
                }
                out.push('\n');
            }
        }
    }
}

/// At most `limit` characters, with a note of what was left out.
fn cut_chars(text: &str, limit: usize) -> String {
    match text.char_indices().nth(limit) {
        None => text.to_string(),
        Some((end, _)) => format!(
            "{}\n[… {} more characters]",
            &text[..end],
            text[end..].chars().count()
        ),
    }
}

/// The last `budget` characters (from a line start where possible).
fn keep_tail(text: &str, budget: usize) -> String {
    let total = text.chars().count();
    if total <= budget {
        return text.to_string();
    }
    let skip = total - budget;
    let start = text.char_indices().nth(skip).map_or(text.len(), |(i, _)| i);
    let start = if text[..start].ends_with('\n') {
        start
    } else {
        text[start..].find('\n').map_or(start, |n| start + n + 1)
    };
    format!(
        "[… the oldest part of the conversation is left out …]\n{}",
        &text[start..]
    )
}

/// The message that stands for the summarised part of the conversation.
fn summary_message(summary: &str) -> String {
    format!(
        "The earlier part of this run was compacted to fit the model's context window. These are the working notes written from it:\n\n<notes>\n{summary}\n</notes>\n\nContinue the task from where the notes and the messages below leave off."
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ToolCall;

    fn call(id: &str, chars: usize) -> Message {
        Message::Assistant {
            reasoning: vec![],
            text: vec![],
            tool_calls: vec![ToolCall {
                id: id.into(),
                name: "bash".into(),
                raw_arguments: format!("{{\"command\":\"{}\"}}", "x".repeat(chars)),
            }],
        }
    }

    fn result(id: &str, chars: usize) -> Message {
        Message::ToolResults(vec![ToolResultMessage {
            call_id: id.into(),
            name: "bash".into(),
            text: "y".repeat(chars),
            is_error: false,
            images: vec![],
        }])
    }

    #[test]
    fn only_false_turns_it_off() {
        assert!(enabled_by_env(None));
        assert!(enabled_by_env(Some("true")));
        assert!(enabled_by_env(Some("")));
        assert!(!enabled_by_env(Some("false")));
        assert!(!enabled_by_env(Some("FALSE")));
        assert!(!enabled_by_env(Some("0")));
    }

    #[test]
    fn settings_follow_the_platform_sizes() {
        // Claude: 200k window, 64k cap.
        let s = CompactionSettings::derive(200_000, 64_000);
        assert_eq!((s.reserve_tokens, s.keep_recent_tokens), (64_000, 20_000));
        assert_eq!(s.threshold(), 136_000);
        // A 1M window keeps 10 %.
        assert_eq!(
            CompactionSettings::derive(1_000_000, 8192).keep_recent_tokens,
            100_000
        );
        // A cap as large as the window is unusable: the derived floor.
        assert_eq!(
            CompactionSettings::derive(100_000, 100_000).reserve_tokens,
            20_000
        );
        assert_eq!(CompactionSettings::derive(50_000, 0).reserve_tokens, 16_384);
        // A large cap on a small window leaves 20 % for the prompt.
        assert_eq!(
            CompactionSettings::derive(10_000, 9_000).reserve_tokens,
            8_000
        );
        assert_eq!(
            CompactionSettings::derive(50_000, 0).summary_max_tokens(),
            13_107
        );
    }

    #[test]
    fn the_context_is_the_providers_count_plus_what_came_after() {
        let mut c = Compactor::new(CompactionSettings::derive(100_000, 8192));
        let messages = vec![
            Message::User("a".repeat(400)),
            call("c1", 0),
            result("c1", 800),
        ];
        // Nothing measured yet: the estimate of the whole request.
        assert_eq!(
            c.context_tokens("s".repeat(40).as_str(), &[], &messages),
            10 + 100 + 1 + 4 + 200
        );
        c.record(
            &Usage {
                input: 1000,
                output: 50,
                cache_read: 30,
                cache_write: 20,
            },
            2,
        );
        assert_eq!(c.context_tokens("", &[], &messages), 1100 + 200);
        // No usage from the provider: back to the estimate.
        c.record(&Usage::default(), 3);
        assert_eq!(c.context_tokens("", &[], &messages), 100 + 5 + 200);
    }

    #[test]
    fn the_cut_never_separates_a_call_from_its_results() {
        let mut messages = vec![Message::User("task".into())];
        for i in 0..10 {
            messages.push(call(&format!("c{i}"), 10));
            messages.push(result(&format!("c{i}"), 400));
        }
        // Each pair is ≈ 110 tokens: 300 tokens reach into the third-last pair.
        let cut = cut_point(&messages, 0, 300).expect("cut");
        assert!(matches!(messages[cut], Message::Assistant { .. }));
        assert_eq!(cut, messages.len() - 4);
        // Everything fits: nothing to compact.
        assert_eq!(cut_point(&messages, 0, 1_000_000), None);
        // One huge last result: the call it answers is kept with it.
        messages.push(call("big", 10));
        messages.push(result("big", 40_000));
        assert_eq!(cut_point(&messages, 0, 300), Some(messages.len() - 2));
        // After a summary (message 0), the cut must leave something after it.
        let short = vec![
            Message::User("notes".into()),
            call("c", 10),
            result("c", 4000),
        ];
        assert_eq!(cut_point(&short, 1, 300), None);
    }

    #[test]
    fn the_summary_prompt_reads_the_conversation_and_updates_notes() {
        let messages = vec![
            Message::User("Count files".into()),
            call("c1", 3),
            result("c1", 3000),
        ];
        let first = summary_prompt(&messages, None, 100_000);
        assert!(first.starts_with("<conversation>\n[User]\nCount files\n\n[Assistant calls bash]\n{\"command\":\"xxx\"}\n\n[Tool result of bash]\n"));
        assert!(first.contains("[… 1000 more characters]"), "{first}");
        assert!(first.ends_with(INSTRUCTIONS));
        let update = summary_prompt(&messages, Some("old notes"), 100_000);
        assert!(update.contains("<previous-notes>\nold notes\n</previous-notes>"));
        assert!(update.ends_with(UPDATE_INSTRUCTIONS));
        // Too long: the oldest part goes, the newest stays.
        let tight = summary_prompt(&messages, None, 500);
        assert!(tight.starts_with(
            "<conversation>\n[… the oldest part of the conversation is left out …]\n"
        ));
        assert!(!tight.contains("Count files"));
    }

    #[test]
    fn tails_and_cuts_respect_character_boundaries() {
        assert_eq!(cut_chars("héllo", 2), "hé\n[… 3 more characters]");
        assert_eq!(cut_chars("hé", 2), "hé");
        let tail = keep_tail("ééé\nline two\n", 9);
        assert_eq!(
            tail,
            "[… the oldest part of the conversation is left out …]\nline two\n"
        );
    }
}
