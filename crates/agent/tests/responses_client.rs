//! The OpenAI Responses client end to end against the scripted model
//! server: real HTTP, real SSE, the retry policy of `ModelClient`.

use std::time::Duration;

use appstrate_agent::model::{
    Message, ModelApi, ModelClient, ModelConfig, ModelError, ModelRequest, RetryPolicy, StopReason,
    ToolCall, ToolResultMessage, ToolSpec, Usage,
};
use appstrate_testkit::model_server::{ModelServer, Reply, ScriptedCall};
use serde_json::json;

const KEY: &str = "sk-responses-secret-0123";

fn client(server: &ModelServer, retries: u32) -> ModelClient {
    let config = ModelConfig {
        base_url: Some(server.url()),
        ..ModelConfig::new(ModelApi::OpenAiResponses, "gpt-test", KEY)
    };
    let retry = RetryPolicy {
        max_retries: retries,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(5),
    };
    ModelClient::new(config, retry).expect("client")
}

fn tools() -> Vec<ToolSpec> {
    vec![ToolSpec {
        name: "bash".into(),
        description: "Run a command".into(),
        parameters: json!({"type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]}),
    }]
}

async fn ask(
    client: &ModelClient,
    messages: &[Message],
) -> Result<appstrate_agent::model::AssistantTurn, ModelError> {
    let tools = tools();
    client
        .complete(&ModelRequest {
            system: "## System\nbe brief\n",
            messages,
            tools: &tools,
        })
        .await
}

#[tokio::test]
async fn text_and_parallel_calls_with_cached_usage() {
    let server = ModelServer::start(vec![
        Reply::Turn {
            text: Some("Checking both".into()),
            calls: vec![
                ScriptedCall {
                    id: "call_a".into(),
                    name: "bash".into(),
                    arguments: r#"{"command":"ls"}"#.into(),
                },
                ScriptedCall {
                    id: "call_b".into(),
                    name: "bash".into(),
                    arguments: r#"{"command":"pwd"}"#.into(),
                },
            ],
            max_tokens: false,
            input_tokens: 70,
            output_tokens: 12,
            cached_tokens: 30,
        },
        Reply::text("All done"),
    ])
    .await;
    let client = client(&server, 0);
    let mut messages = vec![Message::User("look around".into())];
    let turn = ask(&client, &messages).await.expect("turn 1");
    assert_eq!(turn.text, vec!["Checking both"]);
    assert_eq!(
        turn.tool_calls,
        vec![
            ToolCall {
                id: "call_a".into(),
                name: "bash".into(),
                raw_arguments: r#"{"command":"ls"}"#.into()
            },
            ToolCall {
                id: "call_b".into(),
                name: "bash".into(),
                raw_arguments: r#"{"command":"pwd"}"#.into()
            },
        ]
    );
    assert_eq!(turn.stop, StopReason::ToolUse);
    assert_eq!(
        turn.usage,
        Usage {
            input: 70,
            output: 12,
            cache_read: 30,
            cache_write: 0
        }
    );

    messages.push(Message::Assistant {
        reasoning: turn.reasoning.clone(),
        text: turn.text.clone(),
        tool_calls: turn.tool_calls.clone(),
    });
    messages.push(Message::ToolResults(vec![
        ToolResultMessage {
            call_id: "call_a".into(),
            name: "bash".into(),
            text: "a.txt\n".into(),
            is_error: false,
            images: vec![],
        },
        ToolResultMessage {
            call_id: "call_b".into(),
            name: "bash".into(),
            text: "/tmp\n".into(),
            is_error: false,
            images: vec![],
        },
    ]));
    let turn = ask(&client, &messages).await.expect("turn 2");
    assert_eq!(
        (turn.text, turn.stop),
        (vec!["All done".to_string()], StopReason::EndTurn)
    );

    let reqs = server.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[0].path, "/responses");
    assert_eq!(
        reqs[0].headers["authorization"],
        format!("Bearer {KEY}").as_str()
    );
    assert_eq!(reqs[0].body["instructions"], "## System\nbe brief\n");
    assert_eq!(reqs[0].body["stream"], true);
    assert_eq!(reqs[0].body["store"], false);
    assert_eq!(reqs[0].body["max_output_tokens"], 8192);
    assert_eq!(reqs[0].body["tools"][0]["name"], "bash");
    assert_eq!(reqs[0].body["tools"][0]["strict"], false);
    assert_eq!(
        reqs[1].body["input"],
        json!([
            {"role": "user", "content": [{"type": "input_text", "text": "look around"}]},
            {"type": "message", "role": "assistant", "content": "Checking both"},
            {"type": "function_call", "call_id": "call_a", "name": "bash", "arguments": "{\"command\":\"ls\"}"},
            {"type": "function_call", "call_id": "call_b", "name": "bash", "arguments": "{\"command\":\"pwd\"}"},
            {"type": "function_call_output", "call_id": "call_a", "output": "a.txt\n"},
            {"type": "function_call_output", "call_id": "call_b", "output": "/tmp\n"},
        ])
    );
}

#[tokio::test]
async fn retries_rate_limits_server_failures_and_cut_streams() {
    let server = ModelServer::start(vec![
        Reply::status(429, Some("0")),
        Reply::Failed {
            code: "server_error".into(),
            message: "The server had an error".into(),
        },
        Reply::StreamError {
            code: "rate_limit_exceeded".into(),
            message: "Slow down".into(),
        },
        Reply::Cut {
            text: "half".into(),
        },
        Reply::text("fine"),
    ])
    .await;
    let turn = ask(&client(&server, 4), &[Message::User("hi".into())])
        .await
        .expect("retried to success");
    assert_eq!(turn.text, vec!["fine"]);
    assert_eq!(server.requests().len(), 5);
}

#[tokio::test]
async fn terminal_errors_are_clear_and_not_retried() {
    let server = ModelServer::start(vec![Reply::Failed {
        code: "invalid_prompt".into(),
        message: "Your prompt was flagged".into(),
    }])
    .await;
    let err = ask(&client(&server, 4), &[Message::User("hi".into())])
        .await
        .expect_err("fails");
    assert_eq!(
        err.to_string(),
        "openai stream error: the response failed: Your prompt was flagged (invalid_prompt)"
    );
    assert_eq!(server.requests().len(), 1);

    // A 401 that quotes the key back: the key never reaches the message.
    let body = json!({"error": {"message": format!("Incorrect API key provided: {KEY}."), "type": "invalid_request_error", "code": "invalid_api_key"}});
    let server = ModelServer::start(vec![Reply::Error {
        status: 401,
        retry_after: None,
        body: body.to_string(),
    }])
    .await;
    let err = ask(&client(&server, 4), &[Message::User("hi".into())])
        .await
        .expect_err("fails");
    assert_eq!(
        err.to_string(),
        "openai returned HTTP 401: Incorrect API key provided: [REDACTED]."
    );
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn max_output_tokens_is_a_max_tokens_stop() {
    let server = ModelServer::start(vec![Reply::Turn {
        text: Some("trunc".into()),
        calls: vec![],
        max_tokens: true,
        input_tokens: 5,
        output_tokens: 8192,
        cached_tokens: 0,
    }])
    .await;
    let turn = ask(&client(&server, 0), &[Message::User("hi".into())])
        .await
        .expect("turn");
    assert_eq!(turn.stop, StopReason::MaxTokens);
    assert_eq!(turn.text, vec!["trunc"]);
    assert_eq!((turn.usage.input, turn.usage.output), (5, 8192));
}
