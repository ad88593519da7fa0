//! Thinking levels against the scripted model server: the exact request
//! body each protocol sends for each level, nothing for a model that does
//! not reason, thinking streamed piece by piece, and what each protocol
//! hands back on the next request.

use std::time::Duration;

use appstrate_agent::model::{
    AssistantTurn, Message, ModelApi, ModelClient, ModelConfig, ModelRequest, RetryPolicy,
    THINKING_LEVELS, ThinkingLevel, ToolResultMessage,
};
use appstrate_testkit::model_server::{ModelServer, RecordedRequest, Reply};
use serde_json::{Value, json};

fn config(server: &ModelServer, api: ModelApi, model: &str, level: ThinkingLevel) -> ModelConfig {
    ModelConfig {
        base_url: Some(server.url()),
        max_tokens: 64_000,
        temperature: Some(0.5),
        thinking: level,
        ..ModelConfig::new(api, model, "sk-test-key-0123")
    }
}

fn client(config: ModelConfig) -> ModelClient {
    let retry = RetryPolicy {
        max_retries: 0,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(1),
    };
    ModelClient::new(config, retry).expect("client")
}

/// One request ("hi", system "s", no tools); returns the turn and the
/// thinking pieces streamed on the way.
async fn ask(client: &ModelClient, messages: &[Message]) -> (AssistantTurn, Vec<String>) {
    let mut pieces = Vec::new();
    let turn = client
        .complete_streaming(
            &ModelRequest {
                system: "s",
                messages,
                tools: &[],
            },
            &mut |p: &str| pieces.push(p.to_string()),
        )
        .await
        .expect("turn");
    (turn, pieces)
}

/// The body the server received for one request at `level`.
async fn sent(api: ModelApi, model: &str, level: ThinkingLevel) -> RecordedRequest {
    let server = ModelServer::start(vec![Reply::text("ok")]).await;
    let c = client(config(&server, api, model, level));
    ask(&c, &[Message::User("hi".into())]).await;
    server.requests().remove(0)
}

fn levels() -> Vec<ThinkingLevel> {
    THINKING_LEVELS
        .iter()
        .filter_map(|n| ThinkingLevel::parse(n))
        .collect()
}

const ANTHROPIC_HEAD: &str = r#"{"model":"claude-sonnet-4-5","max_tokens":"#;
const ANTHROPIC_MIDDLE: &str = r#","stream":true,"system":[{"type":"text","text":"s","cache_control":{"type":"ephemeral"}}],"messages":[{"role":"user","content":[{"type":"text","text":"hi"}]}]"#;

#[tokio::test]
async fn anthropic_budgets_per_level_byte_exact() {
    // (max_tokens, thinking) per level, the model allowing 64 000 output tokens.
    let expected = [
        ("32000", r#","temperature":0.5"#),
        (
            "33024",
            r#","thinking":{"type":"enabled","budget_tokens":1024}"#,
        ),
        (
            "34048",
            r#","thinking":{"type":"enabled","budget_tokens":2048}"#,
        ),
        (
            "36096",
            r#","thinking":{"type":"enabled","budget_tokens":4096}"#,
        ),
        (
            "40192",
            r#","thinking":{"type":"enabled","budget_tokens":8192}"#,
        ),
        (
            "48384",
            r#","thinking":{"type":"enabled","budget_tokens":16384}"#,
        ),
        (
            "64000",
            r#","thinking":{"type":"enabled","budget_tokens":32768}"#,
        ),
    ];
    for (level, (max_tokens, tail)) in levels().into_iter().zip(expected) {
        let r = sent(ModelApi::AnthropicMessages, "claude-sonnet-4-5", level).await;
        assert_eq!(
            r.raw_body,
            format!("{ANTHROPIC_HEAD}{max_tokens}{ANTHROPIC_MIDDLE}{tail}}}"),
            "{level:?}"
        );
        let beta = r.headers["anthropic-beta"].to_str().expect("ascii");
        let interleaved = beta.contains("interleaved-thinking-2025-05-14");
        assert_eq!(
            interleaved,
            level != ThinkingLevel::Off,
            "{level:?}: {beta}"
        );
    }
}

#[tokio::test]
async fn anthropic_budget_fits_a_small_output_limit_or_is_dropped() {
    let server = ModelServer::start(vec![Reply::text("ok"), Reply::text("ok")]).await;
    let mut c = config(
        &server,
        ModelApi::AnthropicMessages,
        "claude-sonnet-4-5",
        ThinkingLevel::Max,
    );
    // The env-mode default: the budget shrinks to leave 1024 tokens of answer.
    c.max_tokens = 8192;
    ask(&client(c.clone()), &[Message::User("hi".into())]).await;
    // Too small for the smallest budget: no thinking, the temperature is sent.
    c.max_tokens = 1500;
    ask(&client(c), &[Message::User("hi".into())]).await;
    let r = server.requests();
    assert_eq!(r[0].body["max_tokens"], json!(8192));
    assert_eq!(
        r[0].body["thinking"],
        json!({"type": "enabled", "budget_tokens": 7168})
    );
    assert_eq!(r[1].body["max_tokens"], json!(1500));
    assert!(r[1].body.get("thinking").is_none());
    assert_eq!(r[1].body["temperature"], json!(0.5));
}

#[tokio::test]
async fn anthropic_adaptive_effort_on_4_6_models() {
    let efforts = ["low", "low", "medium", "high", "max", "max"];
    for (level, effort) in levels().into_iter().skip(1).zip(efforts) {
        let r = sent(ModelApi::AnthropicMessages, "claude-opus-4-6", level).await;
        assert_eq!(
            r.raw_body,
            format!(
                r#"{{"model":"claude-opus-4-6","max_tokens":32000{ANTHROPIC_MIDDLE},"thinking":{{"type":"adaptive"}},"output_config":{{"effort":"{effort}"}}}}"#
            ),
            "{level:?}"
        );
        let beta = r.headers["anthropic-beta"].to_str().expect("ascii");
        assert!(
            !beta.contains("interleaved"),
            "adaptive interleaves by itself"
        );
    }
}

#[tokio::test]
async fn openai_chat_reasoning_effort_per_level_byte_exact() {
    let efforts = ["minimal", "low", "medium", "high", "high", "high"];
    let head = r#"{"model":"gpt-5","messages":[{"role":"system","content":"s"},{"role":"user","content":"hi"}],"stream":true,"stream_options":{"include_usage":true},"store":false,"max_completion_tokens":64000"#;
    let r = sent(ModelApi::OpenAiCompletions, "gpt-5", ThinkingLevel::Off).await;
    assert_eq!(r.raw_body, format!(r#"{head},"temperature":0.5}}"#));
    for (level, effort) in levels().into_iter().skip(1).zip(efforts) {
        let r = sent(ModelApi::OpenAiCompletions, "gpt-5", level).await;
        assert_eq!(
            r.raw_body,
            format!(r#"{head},"reasoning_effort":"{effort}"}}"#),
            "{level:?}"
        );
    }
}

#[tokio::test]
async fn openai_responses_reasoning_per_level_byte_exact() {
    let efforts = ["minimal", "low", "medium", "high", "high", "high"];
    let head = r#"{"model":"gpt-5","instructions":"s","input":[{"role":"user","content":[{"type":"input_text","text":"hi"}]}],"stream":true,"store":false,"max_output_tokens":64000"#;
    let r = sent(ModelApi::OpenAiResponses, "gpt-5", ThinkingLevel::Off).await;
    assert_eq!(r.raw_body, format!(r#"{head},"temperature":0.5}}"#));
    for (level, effort) in levels().into_iter().skip(1).zip(efforts) {
        let r = sent(ModelApi::OpenAiResponses, "gpt-5", level).await;
        assert_eq!(
            r.raw_body,
            format!(
                r#"{head},"reasoning":{{"effort":"{effort}","summary":"auto"}},"include":["reasoning.encrypted_content"]}}"#
            ),
            "{level:?}"
        );
    }
}

#[tokio::test]
async fn models_that_do_not_reason_get_no_thinking_field() {
    let cases = [
        (ModelApi::AnthropicMessages, "claude-3-5-haiku-latest"),
        (ModelApi::OpenAiCompletions, "gpt-4o"),
        (ModelApi::OpenAiResponses, "gpt-4.1"),
        (ModelApi::MistralConversations, "magistral-medium-latest"),
    ];
    for (api, model) in cases {
        let r = sent(api, model, ThinkingLevel::High).await;
        for field in [
            "thinking",
            "output_config",
            "reasoning_effort",
            "reasoning",
            "include",
        ] {
            assert!(r.body.get(field).is_none(), "{model}: {field}");
        }
        assert_eq!(r.body["temperature"], json!(0.5), "{model}");
        if api == ModelApi::AnthropicMessages {
            let beta = r.headers["anthropic-beta"].to_str().expect("ascii");
            assert_eq!(beta, "fine-grained-tool-streaming-2025-05-14");
        }
    }
}

#[tokio::test]
async fn thinking_streams_in_pieces_for_every_protocol() {
    let thought = "First I list the files, then I read them.";
    for (api, model) in [
        (ModelApi::AnthropicMessages, "claude-sonnet-4-5"),
        (ModelApi::OpenAiCompletions, "gpt-5"),
        (ModelApi::OpenAiResponses, "gpt-5"),
    ] {
        let server = ModelServer::start(vec![Reply::thinking(thought, Reply::text("Done."))]).await;
        let c = client(config(&server, api, model, ThinkingLevel::Medium));
        let (turn, pieces) = ask(&c, &[Message::User("hi".into())]).await;
        assert!(pieces.len() > 1, "{api:?}: streamed in pieces: {pieces:?}");
        assert_eq!(pieces.concat(), thought, "{api:?}");
        assert_eq!(turn.text, vec!["Done."], "{api:?}");
        assert_eq!(turn.reasoning.len(), 1, "{api:?}");
        assert_eq!(turn.reasoning[0].text, thought, "{api:?}");
    }
}

/// A thinking turn that calls a tool, then the request that answers it.
async fn two_turns(api: ModelApi) -> (AssistantTurn, Vec<RecordedRequest>) {
    let call = Reply::call("call_1", "ls", json!({"path": "."}));
    let server = ModelServer::start(vec![
        Reply::thinking("I should look first.", call),
        Reply::text("Done."),
    ])
    .await;
    let model = match api {
        ModelApi::AnthropicMessages => "claude-sonnet-4-5",
        _ => "gpt-5",
    };
    let c = client(config(&server, api, model, ThinkingLevel::High));
    let mut messages = vec![Message::User("hi".into())];
    let (turn, _) = ask(&c, &messages).await;
    messages.push(Message::Assistant {
        reasoning: turn.reasoning.clone(),
        text: turn.text.clone(),
        tool_calls: turn.tool_calls.clone(),
    });
    messages.push(Message::ToolResults(vec![ToolResultMessage {
        call_id: "call_1".into(),
        name: "ls".into(),
        text: "a.txt".into(),
        is_error: false,
        images: vec![],
    }]));
    ask(&c, &messages).await;
    (turn, server.requests())
}

#[tokio::test]
async fn responses_reasoning_items_go_back_whole_before_the_call() {
    let (turn, requests) = two_turns(ModelApi::OpenAiResponses).await;
    let item = json!({"id": "rs_1_0", "type": "reasoning", "summary": [{"type": "summary_text", "text": "I should look first."}], "encrypted_content": "enc_1"});
    assert_eq!(turn.reasoning[0].replay, Some(item.clone()));
    let input = requests[1].body["input"].as_array().expect("input").clone();
    assert_eq!(
        input[1..],
        [
            item,
            json!({"type": "function_call", "call_id": "call_1", "name": "ls", "arguments": "{\"path\":\".\"}"}),
            json!({"type": "function_call_output", "call_id": "call_1", "output": "a.txt"}),
        ]
    );
    assert_eq!(
        requests[1].body["include"],
        json!(["reasoning.encrypted_content"])
    );
}

#[tokio::test]
async fn anthropic_thinking_blocks_go_back_signed_before_the_tool_use() {
    let (_, requests) = two_turns(ModelApi::AnthropicMessages).await;
    let assistant = &requests[1].body["messages"][1];
    assert_eq!(
        assistant,
        &json!({"role": "assistant", "content": [
            {"type": "thinking", "thinking": "I should look first.", "signature": "sig_1"},
            {"type": "tool_use", "id": "call_1", "name": "ls", "input": {"path": "."}},
        ]})
    );
}

#[tokio::test]
async fn chat_reasoning_is_shown_but_not_sent_back() {
    let (turn, requests) = two_turns(ModelApi::OpenAiCompletions).await;
    assert_eq!(turn.reasoning[0].text, "I should look first.");
    assert_eq!(turn.reasoning[0].replay, None);
    let assistant: &Value = &requests[1].body["messages"][2];
    assert_eq!(
        assistant,
        &json!({"role": "assistant", "content": null, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "ls", "arguments": "{\"path\":\".\"}"}},
        ]})
    );
}
