//! The LLM client against the real scripted mock server: lenient parsing,
//! text-form tool calls, errors, and the one retry layer. Every test ends
//! with `assert_finished`, which also checks every request against the
//! chat protocol's invariants.

// Helpers outside `#[test]` functions are test code too.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::time::{Duration, Instant};

use agent::llm::{
    ChatRequest, Completion, FinishReason, LlmClient, LlmConfig, LlmError, StreamEvent, ToolCall,
    ToolCallSource, ToolSpec, Usage, WireMessage,
};
use serde_json::{Value, json};
use testkit::{MockLlm, MockToolCall, Reply, SseReply, ToolCallDelta};
use tokio_util::sync::CancellationToken;

const MODEL: &str = "test-model";

fn config(mock: &MockLlm) -> LlmConfig {
    let mut config = LlmConfig::new(mock.base_url(), MODEL).with_api_key("test-key");
    config.backoff_base = Duration::from_millis(10);
    config.backoff_max = Duration::from_millis(40);
    config.idle_timeout = Duration::from_secs(5);
    config.overall_timeout = Duration::from_secs(30);
    config.max_retries = 2;
    config
}

fn request() -> ChatRequest {
    ChatRequest {
        messages: vec![
            WireMessage::system("You are an incident-triage assistant."),
            WireMessage::user("The API returns 503 since 03:12."),
        ],
        ..ChatRequest::default()
    }
}

fn request_with_tools() -> ChatRequest {
    let schema = json!({"type": "object", "properties": {"id": {"type": "string"}}});
    ChatRequest {
        tools: vec![
            ToolSpec {
                name: "get_issue".into(),
                description: "Read an issue".into(),
                parameters: schema.clone(),
            },
            ToolSpec {
                name: "list_issues".into(),
                description: "List issues".into(),
                parameters: json!({"type": "object", "properties": {}}),
            },
        ],
        ..request()
    }
}

async fn run_with(
    config: LlmConfig,
    request: &ChatRequest,
    cancel: &CancellationToken,
) -> (Result<Completion, LlmError>, Vec<StreamEvent>) {
    let client = LlmClient::new(config).unwrap();
    let mut events = Vec::new();
    let mut sink = |event: StreamEvent| events.push(event);
    let result = client.chat(request, &mut sink, cancel).await;
    (result, events)
}

async fn run(
    mock: &MockLlm,
    request: &ChatRequest,
) -> (Result<Completion, LlmError>, Vec<StreamEvent>) {
    run_with(config(mock), request, &CancellationToken::new()).await
}

fn call(id: &str, name: &str, arguments: &str) -> ToolCall {
    ToolCall {
        id: id.into(),
        name: name.into(),
        arguments: arguments.into(),
    }
}

fn texts(events: &[StreamEvent]) -> Vec<String> {
    events
        .iter()
        .filter_map(|event| match event {
            StreamEvent::TextDelta(text) => Some(text.clone()),
            _ => None,
        })
        .collect()
}

fn sha_of_request(mock: &MockLlm, n: usize) -> String {
    mock.requests()[n].body_sha256()
}

// ---------------------------------------------------------------- streams

#[tokio::test]
async fn streamed_text() {
    let mock = MockLlm::start(vec![Reply::stream(
        SseReply::new()
            .role()
            .texts(&["The pri", "mary ", "failed over."])
            .finish("stop")
            .usage(120, 7),
    )]);
    let (result, events) = run(&mock, &request()).await;
    assert_eq!(
        result.unwrap(),
        Completion {
            text: "The primary failed over.".into(),
            tool_calls: vec![],
            finish_reason: FinishReason::Stop,
            usage: Some(Usage {
                prompt_tokens: 120,
                completion_tokens: 7
            }),
            request_sha256: sha_of_request(&mock, 0),
            attempts: 1,
            tool_call_source: ToolCallSource::None,
        }
    );
    assert_eq!(texts(&events), ["The pri", "mary ", "failed over."]);
    let sent = &mock.requests()[0];
    assert_eq!(sent.header("authorization"), Some("Bearer test-key"));
    let body = sent.json.clone().unwrap();
    assert_eq!(body["model"], MODEL);
    assert_eq!(body["stream"], true);
    assert_eq!(body["stream_options"], json!({"include_usage": true}));
    assert_eq!(body.get("tools"), None);
    mock.assert_finished();
}

#[tokio::test]
async fn streamed_tool_call_fragments() {
    let mock = MockLlm::start(vec![Reply::stream(
        SseReply::new()
            .role()
            .tool_call(0, "call_1", "get_issue", "{\"id\": \"INC-42\"}", 5)
            .finish("tool_calls"),
    )]);
    let (result, events) = run(&mock, &request_with_tools()).await;
    let completion = result.unwrap();
    assert_eq!(
        completion.tool_calls,
        vec![call("call_1", "get_issue", "{\"id\": \"INC-42\"}")]
    );
    assert_eq!(completion.finish_reason, FinishReason::ToolCalls);
    assert_eq!(completion.tool_call_source, ToolCallSource::Native);
    assert_eq!(
        events,
        vec![StreamEvent::ToolCallStarted {
            index: 0,
            name: "get_issue".into()
        }]
    );
    let body = &mock.request_bodies()[0];
    assert_eq!(body["tools"][0]["function"]["name"], "get_issue");
    assert_eq!(body["tools"][1]["type"], "function");
    mock.assert_finished();
}

#[tokio::test]
async fn two_parallel_tool_calls_interleaved() {
    let delta = |index: u32, id: Option<&str>, name: Option<&str>, args: &str| ToolCallDelta {
        index: Some(index),
        id: id.map(str::to_owned),
        name: name.map(str::to_owned),
        arguments: Some(Value::String(args.to_owned())),
    };
    let mock = MockLlm::start(vec![Reply::stream(
        SseReply::new()
            .text("Checking both.")
            .tool_delta(delta(0, Some("call_a"), Some("get_issue"), ""))
            .tool_delta(delta(1, Some("call_b"), Some("list_issues"), ""))
            .tool_delta(delta(0, None, None, "{\"id\":"))
            .tool_delta(delta(1, None, None, "{}"))
            .tool_delta(delta(0, None, None, "\"7\"}"))
            .finish("tool_calls"),
    )]);
    let (result, events) = run(&mock, &request_with_tools()).await;
    let completion = result.unwrap();
    assert_eq!(completion.text, "Checking both.");
    assert_eq!(
        completion.tool_calls,
        vec![
            call("call_a", "get_issue", "{\"id\":\"7\"}"),
            call("call_b", "list_issues", "{}")
        ]
    );
    assert_eq!(
        events,
        vec![
            StreamEvent::TextDelta("Checking both.".into()),
            StreamEvent::ToolCallStarted {
                index: 0,
                name: "get_issue".into()
            },
            StreamEvent::ToolCallStarted {
                index: 1,
                name: "list_issues".into()
            },
        ]
    );
    mock.assert_finished();
}

#[tokio::test]
async fn parallel_calls_reusing_one_index() {
    let mock = MockLlm::start(vec![Reply::stream(
        SseReply::new()
            .tool_call(0, "call_a", "get_issue", "{\"id\":\"1\"}", 2)
            .tool_call(0, "call_b", "get_issue", "{\"id\":\"2\"}", 2)
            .finish("tool_calls"),
    )]);
    let (result, _) = run(&mock, &request_with_tools()).await;
    assert_eq!(
        result.unwrap().tool_calls,
        vec![
            call("call_a", "get_issue", "{\"id\":\"1\"}"),
            call("call_b", "get_issue", "{\"id\":\"2\"}")
        ]
    );
    mock.assert_finished();
}

#[tokio::test]
async fn missing_index_and_id_get_stable_unique_ids() {
    let fragment = |name: Option<&str>, args: &str| ToolCallDelta {
        index: None,
        id: None,
        name: name.map(str::to_owned),
        arguments: Some(Value::String(args.to_owned())),
    };
    let mock = MockLlm::start(vec![Reply::stream(
        SseReply::new()
            .tool_delta(fragment(Some("get_issue"), "{\"id\":"))
            .tool_delta(fragment(None, "\"9\"}"))
            .tool_delta(fragment(Some("list_issues"), ""))
            .finish("tool_calls"),
    )]);
    let (result, events) = run(&mock, &request_with_tools()).await;
    let calls = result.unwrap().tool_calls;
    assert_eq!(calls.len(), 2);
    assert_eq!(
        (calls[0].name.as_str(), calls[0].arguments.as_str()),
        ("get_issue", "{\"id\":\"9\"}")
    );
    assert_eq!(
        (calls[1].name.as_str(), calls[1].arguments.as_str()),
        ("list_issues", "{}")
    );
    assert!(
        calls
            .iter()
            .all(|c| c.id.starts_with("call_") && c.id.len() > 10)
    );
    assert_ne!(calls[0].id, calls[1].id);
    assert_eq!(events.len(), 2);
    mock.assert_finished();
}

#[tokio::test]
async fn arguments_as_json_object() {
    let mock = MockLlm::start(vec![
        Reply::stream(
            SseReply::new()
                .tool_delta(ToolCallDelta {
                    index: Some(0),
                    id: Some("call_s".into()),
                    name: Some("get_issue".into()),
                    arguments: Some(json!({"id": "INC-1"})),
                })
                .finish("tool_calls"),
        ),
        Reply::tool_calls(vec![
            MockToolCall::new("get_issue", json!({"id": "INC-2"})).arguments_as_object(),
        ]),
    ]);
    let (first, _) = run(&mock, &request_with_tools()).await;
    assert_eq!(
        first.unwrap().tool_calls,
        vec![call("call_s", "get_issue", "{\"id\":\"INC-1\"}")]
    );
    let (second, _) = run(&mock, &request_with_tools()).await;
    let calls = second.unwrap().tool_calls;
    assert_eq!(calls[0].arguments, "{\"id\":\"INC-2\"}");
    mock.assert_finished();
}

#[tokio::test]
async fn unknown_finish_reason_is_kept() {
    let mock = MockLlm::start(vec![Reply::stream(
        SseReply::new().text("ok").finish("eos_token_reached"),
    )]);
    let (result, _) = run(&mock, &request()).await;
    assert_eq!(
        result.unwrap().finish_reason,
        FinishReason::Other("eos_token_reached".into())
    );
    mock.assert_finished();
}

#[tokio::test]
async fn json_answer_to_a_streaming_request() {
    let mock = MockLlm::start(vec![Reply::Json(testkit::JsonReply {
        text: Some("Restart the pod.".into()),
        usage: Some((50, 4)),
        ..Default::default()
    })]);
    let (result, events) = run(&mock, &request()).await;
    assert_eq!(
        result.unwrap(),
        Completion {
            text: "Restart the pod.".into(),
            tool_calls: vec![],
            finish_reason: FinishReason::Stop,
            usage: Some(Usage {
                prompt_tokens: 50,
                completion_tokens: 4
            }),
            request_sha256: sha_of_request(&mock, 0),
            attempts: 1,
            tool_call_source: ToolCallSource::None,
        }
    );
    assert_eq!(
        events,
        vec![StreamEvent::TextDelta("Restart the pod.".into())]
    );
    mock.assert_finished();
}

#[tokio::test]
async fn json_tool_calls_without_ids() {
    let mock = MockLlm::start(vec![Reply::tool_calls(vec![
        MockToolCall::new("get_issue", json!({"id": "1"})).without_id(),
        MockToolCall::new("get_issue", json!({"id": "2"})).without_id(),
    ])]);
    let (result, _) = run(&mock, &request_with_tools()).await;
    let calls = result.unwrap().tool_calls;
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[1].arguments, "{\"id\":\"2\"}");
    assert!(calls.iter().all(|c| c.id.starts_with("call_")));
    assert_ne!(calls[0].id, calls[1].id);
    mock.assert_finished();
}

#[tokio::test]
async fn keepalives_crlf_usage_only_chunks_and_no_done() {
    let mock = MockLlm::start(vec![Reply::stream(
        SseReply::new()
            .crlf()
            .comment("keep-alive")
            .role()
            .comment("keep-alive")
            .texts(&["a", "b"])
            .finish("stop")
            .usage(3, 2)
            .no_done(),
    )]);
    let (result, _) = run(&mock, &request()).await;
    let completion = result.unwrap();
    assert_eq!(completion.text, "ab");
    assert_eq!(
        completion.usage,
        Some(Usage {
            prompt_tokens: 3,
            completion_tokens: 2
        })
    );
    mock.assert_finished();
}

#[tokio::test]
async fn malformed_events_are_skipped() {
    let body = concat!(
        "data: {not json\n\n",
        "data: \"a string\"\n\n",
        "event: ping\n\n",
        "data: {\"choices\":[{\"delta\":{\"content\":\"still \"}}]}\n",
        "data: {\"choices\":[{\"delta\":{\"content\":\"here\"}}]}\n\n",
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":\"nope\"}}]}\n\n",
    );
    let mock = MockLlm::start(vec![Reply::raw_sse(body)]);
    let (result, _) = run(&mock, &request()).await;
    let completion = result.unwrap();
    assert_eq!(completion.text, "still here");
    assert_eq!(completion.finish_reason, FinishReason::Unspecified);
    mock.assert_finished();
}

#[tokio::test]
async fn request_hash_is_the_hash_of_the_bytes_received() {
    let mock = MockLlm::start(vec![Reply::text("one"), Reply::text("two")]);
    let mut request = request_with_tools();
    request.messages.push(WireMessage::assistant_with_tools(
        "",
        vec![call("call_x", "get_issue", "{\"id\":\"1\"}")],
    ));
    request
        .messages
        .push(WireMessage::tool("call_x", "{\"title\":\"DB down\"} ✓"));
    let (first, _) = run(&mock, &request).await;
    request.messages.push(WireMessage::user("and now?"));
    let (second, _) = run(&mock, &request).await;
    let sent = mock.requests();
    let first = first.unwrap();
    let second = second.unwrap();
    assert_eq!(first.request_sha256, sent[0].body_sha256());
    assert_eq!(second.request_sha256, sent[1].body_sha256());
    assert_ne!(first.request_sha256, second.request_sha256);
    assert_eq!(first.request_sha256.len(), 64);
    mock.assert_finished();
}

#[tokio::test]
async fn non_streaming_configuration() {
    let mock = MockLlm::start(vec![Reply::text("plain"), Reply::stream_text(&["sse"])]);
    let mut config = config(&mock);
    config.stream = false;
    let cancel = CancellationToken::new();
    let (first, _) = run_with(config.clone(), &request(), &cancel).await;
    assert_eq!(first.unwrap().text, "plain");
    // A server that streams anyway is still understood.
    let (second, _) = run_with(config, &request(), &cancel).await;
    assert_eq!(second.unwrap().text, "sse");
    let body = &mock.request_bodies()[0];
    assert_eq!(body["stream"], false);
    assert_eq!(body.get("stream_options"), None);
    mock.assert_finished();
}

#[tokio::test]
async fn list_models_and_accessors() {
    let mock = MockLlm::start(vec![]);
    let client = LlmClient::new(config(&mock)).unwrap();
    assert_eq!(client.model(), MODEL);
    assert_eq!(client.base_url(), mock.base_url());
    assert_eq!(
        client.endpoint(),
        format!("{}/chat/completions", mock.base_url())
    );
    let models = client.list_models(&CancellationToken::new()).await.unwrap();
    assert_eq!(models, vec![testkit::MOCK_MODEL.to_owned()]);
    mock.assert_finished();
}

// ------------------------------------------------------ text-form tool calls

#[tokio::test]
async fn text_form_tool_calls_of_each_format() {
    let cases: Vec<(&str, Reply, &str)> = vec![
        (
            "hermes/qwen",
            Reply::text(
                "Let me check.\n<tool_call>\n{\"name\": \"get_issue\", \"arguments\": {\"id\": \"7\"}}\n</tool_call>",
            ),
            "Let me check.",
        ),
        (
            "mistral",
            Reply::text("[TOOL_CALLS][{\"name\": \"get_issue\", \"arguments\": {\"id\": \"7\"}}]"),
            "",
        ),
        (
            "llama python_tag",
            Reply::text(
                "<|python_tag|>{\"name\": \"get_issue\", \"parameters\": {\"id\": \"7\"}}<|eom_id|>",
            ),
            "",
        ),
        (
            "llama function tag",
            Reply::text("Looking.<function=get_issue>{\"id\": \"7\"}</function>"),
            "Looking.",
        ),
        (
            "bare json",
            Reply::text("{\"name\": \"get_issue\", \"arguments\": {\"id\": \"7\"}}"),
            "",
        ),
        (
            "fenced json",
            Reply::stream_text(&[
                "Fetching:\n```",
                "json\n{\"name\": \"get_issue\", ",
                "\"arguments\": {\"id\": \"7\"}}\n```",
            ]),
            "Fetching:",
        ),
    ];
    for (format, reply, visible) in cases {
        let mock = MockLlm::start(vec![reply]);
        let (result, events) = run(&mock, &request_with_tools()).await;
        let completion = result.unwrap();
        assert_eq!(completion.text, visible, "{format}");
        assert_eq!(
            completion.tool_call_source,
            ToolCallSource::Text,
            "{format}"
        );
        assert_eq!(completion.tool_calls.len(), 1, "{format}");
        let found = &completion.tool_calls[0];
        assert_eq!(
            (found.name.as_str(), found.arguments.as_str()),
            ("get_issue", "{\"id\":\"7\"}"),
            "{format}"
        );
        assert!(found.id.starts_with("call_"), "{format}");
        assert_eq!(texts(&events).concat(), visible, "{format}: shown text");
        assert!(
            events.contains(&StreamEvent::ToolCallStarted {
                index: 0,
                name: "get_issue".into()
            }),
            "{format}"
        );
        mock.assert_finished();
    }
}

#[tokio::test]
async fn streamed_markup_never_reaches_the_sink() {
    let mock = MockLlm::start(vec![Reply::stream_text(&[
        "I will read ",
        "the issue.\n<tool",
        "_call>{\"name\": \"get_issue\",",
        " \"arguments\": {\"id\": \"7\"}}</tool_call>",
    ])]);
    let (result, events) = run(&mock, &request_with_tools()).await;
    let completion = result.unwrap();
    assert_eq!(completion.text, "I will read the issue.");
    assert_eq!(texts(&events), ["I will read", " the issue."]);
    mock.assert_finished();
}

#[tokio::test]
async fn text_calls_to_unknown_tools_stay_text() {
    let text = "<tool_call>{\"name\": \"drop_database\", \"arguments\": {}}</tool_call>";
    let mock = MockLlm::start(vec![Reply::text(text)]);
    let (result, events) = run(&mock, &request_with_tools()).await;
    let completion = result.unwrap();
    assert_eq!(completion.text, text);
    assert!(completion.tool_calls.is_empty());
    assert_eq!(texts(&events).concat(), text);
    mock.assert_finished();
}

// ------------------------------------------------------- failures, retries

#[tokio::test]
async fn rate_limited_with_retry_after_then_success() {
    let mock = MockLlm::start(vec![Reply::rate_limited(1), Reply::stream_text(&["ok"])]);
    let (result, events) = run(&mock, &request()).await;
    let completion = result.unwrap();
    assert_eq!(completion.text, "ok");
    assert_eq!(completion.attempts, 2);
    assert_eq!(completion.request_sha256, sha_of_request(&mock, 1));
    let sent = mock.requests();
    assert_eq!(sent.len(), 2);
    let waited = sent[1].received_at - sent[0].received_at;
    assert!(waited >= Duration::from_secs(1), "waited only {waited:?}");
    assert_eq!(sent[0].body, sent[1].body, "a retry sends the same bytes");
    match &events[0] {
        StreamEvent::Retrying {
            attempt: 1,
            delay,
            reason,
        } => {
            assert!(*delay >= Duration::from_secs(1));
            assert!(reason.starts_with("rate limited (429)"), "{reason}");
        }
        other => panic!("expected a retry notice, got {other:?}"),
    }
    mock.assert_finished();
}

#[tokio::test]
async fn retry_after_as_http_date_is_honoured() {
    let when = httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(2));
    let mock = MockLlm::start(vec![
        Reply::status(503, "busy").header("retry-after", &when),
        Reply::text("ok"),
    ]);
    let (result, _) = run(&mock, &request()).await;
    assert_eq!(result.unwrap().attempts, 2);
    let sent = mock.requests();
    // HTTP dates have one-second resolution.
    assert!(sent[1].received_at - sent[0].received_at >= Duration::from_millis(900));
    mock.assert_finished();
}

#[tokio::test]
async fn retry_after_longer_than_the_cap_fails_at_once() {
    let mock = MockLlm::start(vec![Reply::rate_limited(3_600)]);
    let started = Instant::now();
    let (result, _) = run(&mock, &request()).await;
    let error = result.unwrap_err();
    assert!(
        matches!(&error, LlmError::RateLimited { retry_after: Some(after), .. } if *after == Duration::from_secs(3_600)),
        "{error:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    mock.assert_finished();
}

#[tokio::test]
async fn server_errors_exhaust_the_retries() {
    let mock = MockLlm::start(vec![
        Reply::status(500, "boom 1"),
        Reply::status(500, "boom 2"),
        Reply::status(500, "boom 3"),
    ]);
    let (result, events) = run(&mock, &request()).await;
    let error = result.unwrap_err();
    let url = format!("{}/chat/completions", mock.base_url());
    assert_eq!(
        error,
        LlmError::RetriesExhausted {
            attempts: 3,
            last: Box::new(LlmError::Server {
                status: 500,
                url: url.clone(),
                retry_after: None,
                detail: "boom 3".into()
            })
        }
    );
    assert_eq!(
        error.to_string(),
        format!("gave up after 3 attempts: server error 500 from {url}: boom 3")
    );
    assert!(!error.is_retryable());
    assert_eq!(mock.requests().len(), 3);
    assert_eq!(events.len(), 2, "two retry notices");
    mock.assert_finished();
}

#[tokio::test]
async fn unauthorized_is_not_retried() {
    let mock = MockLlm::start(vec![Reply::api_error(
        401,
        "invalid_api_key",
        "Incorrect API key provided",
    )]);
    let (result, _) = run(&mock, &request()).await;
    let error = result.unwrap_err();
    assert!(matches!(error, LlmError::Unauthorized { status: 401, .. }));
    let message = error.to_string();
    assert!(message.starts_with("401 unauthorized"), "{message}");
    assert!(message.contains("check TFTSR_LLM_API_KEY"), "{message}");
    assert_eq!(mock.requests().len(), 1);
    mock.assert_finished();
}

#[tokio::test]
async fn insufficient_quota_is_not_retried_even_on_429() {
    let mock = MockLlm::start(vec![Reply::insufficient_quota()]);
    let (result, _) = run(&mock, &request()).await;
    let error = result.unwrap_err();
    assert!(
        matches!(error, LlmError::InsufficientQuota { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("insufficient_quota"));
    assert_eq!(mock.requests().len(), 1);
    mock.assert_finished();
}

#[tokio::test]
async fn context_length_is_not_retried() {
    let mock = MockLlm::start(vec![Reply::context_length_exceeded()]);
    let (result, _) = run(&mock, &request()).await;
    let error = result.unwrap_err();
    assert!(
        matches!(&error, LlmError::ContextLengthExceeded { model, .. } if model == MODEL),
        "{error:?}"
    );
    assert_eq!(mock.requests().len(), 1);
    mock.assert_finished();
}

#[tokio::test]
async fn missing_model_and_wrong_base_url() {
    let mock = MockLlm::start(vec![Reply::api_error(
        404,
        "model_not_found",
        "The model `test-model` does not exist",
    )]);
    let (result, _) = run(&mock, &request()).await;
    let message = result.unwrap_err().to_string();
    assert!(
        message.starts_with("404 model \"test-model\" not found at http://127.0.0.1:"),
        "{message}"
    );
    mock.assert_finished();

    let mock = MockLlm::start(vec![]);
    let mut config = config(&mock);
    config.base_url = mock.base_url().trim_end_matches("/v1").to_owned();
    let (result, _) = run_with(config, &request(), &CancellationToken::new()).await;
    let error = result.unwrap_err();
    assert!(
        matches!(error, LlmError::EndpointNotFound { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("usually ending in /v1"));
    mock.assert_finished();
}

#[tokio::test]
async fn html_error_page_becomes_short_text() {
    let mock = MockLlm::start(vec![Reply::html(502, "502 Bad Gateway")]);
    let mut config = config(&mock);
    config.max_retries = 0;
    let (result, _) = run_with(config, &request(), &CancellationToken::new()).await;
    assert_eq!(
        result.unwrap_err().to_string(),
        format!(
            "server error 502 from {}/chat/completions: HTML page: 502 Bad Gateway",
            mock.base_url()
        )
    );
    mock.assert_finished();
}

#[tokio::test]
async fn html_page_with_status_200_is_a_clear_error() {
    let mock = MockLlm::start(vec![
        Reply::status(200, "<html><head><title>Sign in</title></head></html>")
            .header("content-type", "text/html"),
    ]);
    let (result, _) = run(&mock, &request()).await;
    let error = result.unwrap_err();
    assert!(matches!(error, LlmError::Protocol { .. }), "{error:?}");
    assert!(error.to_string().contains("HTML page: Sign in"), "{error}");
    mock.assert_finished();
}

#[tokio::test]
async fn connection_refused_names_the_url() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut config = LlmConfig::new(format!("http://127.0.0.1:{port}/v1"), MODEL);
    config.backoff_base = Duration::from_millis(1);
    config.max_retries = 1;
    let (result, _) = run_with(config, &request(), &CancellationToken::new()).await;
    let error = result.unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "gave up after 2 attempts: cannot connect to the model server at \
             http://127.0.0.1:{port}/v1/chat/completions: connection refused \
             (is it running? check TFTSR_LLM_BASE_URL)"
        )
    );
}

#[tokio::test]
async fn stream_cut_before_output_is_retried() {
    let mock = MockLlm::start(vec![
        Reply::stream(SseReply::new().role().comment("thinking").cut()),
        Reply::stream_text(&["second ", "try"]),
    ]);
    let (result, events) = run(&mock, &request()).await;
    let completion = result.unwrap();
    assert_eq!(completion.text, "second try");
    assert_eq!(completion.attempts, 2);
    assert!(
        matches!(
            &events[0],
            StreamEvent::Retrying { attempt: 1, reason, .. } if reason.contains("before the answer began")
        ),
        "{events:?}"
    );
    mock.assert_finished();
}

#[tokio::test]
async fn stream_cut_mid_answer_is_not_retried_and_keeps_the_text() {
    let mock = MockLlm::start(vec![Reply::stream(
        SseReply::new()
            .role()
            .texts(&["Restart ", "the ", "primary"])
            .cut_after(3),
    )]);
    let (result, events) = run(&mock, &request()).await;
    let error = result.unwrap_err();
    assert!(matches!(error, LlmError::StreamCut { .. }), "{error:?}");
    assert_eq!(error.partial_text(), Some("Restart the "));
    assert_eq!(
        error.to_string(),
        format!(
            "the connection to {}/chat/completions was cut mid-answer: \
             the server closed the connection early",
            mock.base_url()
        )
    );
    assert_eq!(texts(&events), ["Restart ", "the "]);
    assert_eq!(mock.requests().len(), 1);
    mock.assert_finished();
}

#[tokio::test]
async fn error_event_before_output_is_retried() {
    let mock = MockLlm::start(vec![
        Reply::raw_sse(
            "data: {\"error\": {\"message\": \"The server is overloaded\", \"type\": \"server_error\"}}\n\n",
        ),
        Reply::stream_text(&["fine"]),
    ]);
    let (result, _) = run(&mock, &request()).await;
    assert_eq!(result.unwrap().text, "fine");
    mock.assert_finished();
}

#[tokio::test]
async fn empty_success_body_is_retried() {
    let mock = MockLlm::start(vec![Reply::status(200, ""), Reply::text("ok")]);
    let (result, _) = run(&mock, &request()).await;
    assert_eq!(result.unwrap().attempts, 2);
    mock.assert_finished();
}

#[tokio::test]
async fn idle_timeout_mid_answer_keeps_the_text() {
    let mock = MockLlm::start(vec![Reply::stream(
        SseReply::new()
            .text("Checking")
            .delay(Duration::from_secs(3))
            .text(" more"),
    )]);
    let mut config = config(&mock);
    config.idle_timeout = Duration::from_millis(300);
    let (result, _) = run_with(config, &request(), &CancellationToken::new()).await;
    let error = result.unwrap_err();
    assert!(
        matches!(&error, LlmError::IdleTimeout { after, .. } if *after == Duration::from_millis(300)),
        "{error:?}"
    );
    assert_eq!(error.partial_text(), Some("Checking"));
    assert!(error.to_string().contains("idle timeout"));
    assert_eq!(mock.requests().len(), 1);
    mock.assert_finished();
}

#[tokio::test]
async fn idle_timeout_before_any_byte_is_not_retried() {
    let mock = MockLlm::start(vec![Reply::text("late").after(Duration::from_secs(3))]);
    let mut config = config(&mock);
    config.idle_timeout = Duration::from_millis(200);
    let started = Instant::now();
    let (result, _) = run_with(config, &request(), &CancellationToken::new()).await;
    let error = result.unwrap_err();
    assert!(matches!(error, LlmError::IdleTimeout { .. }), "{error:?}");
    assert_eq!(error.partial_text(), None);
    assert!(started.elapsed() < Duration::from_secs(2));
    mock.assert_finished();
}

#[tokio::test]
async fn overall_timeout_bounds_a_slow_trickle() {
    let mock = MockLlm::start(vec![Reply::stream(
        SseReply::new()
            .texts(&["a", "b", "c", "d", "e", "f", "g", "h"])
            .chunk_delay(Duration::from_millis(150)),
    )]);
    let mut config = config(&mock);
    config.overall_timeout = Duration::from_millis(500);
    let (result, _) = run_with(config, &request(), &CancellationToken::new()).await;
    let error = result.unwrap_err();
    assert!(matches!(error, LlmError::Timeout { .. }), "{error:?}");
    assert!(error.to_string().contains("(overall timeout)"), "{error}");
    let partial = error.partial_text().unwrap_or_default();
    assert!("abcdefg".starts_with(partial), "{partial}");
    mock.assert_finished();
}

#[tokio::test]
async fn json_answer_with_a_byte_order_mark() {
    let body = "\u{feff}{\"choices\": [{\"message\": {\"content\": \"ok\"}, \"finish_reason\": \"stop\"}]}";
    let mock = MockLlm::start(vec![
        Reply::status(200, body).header("content-type", "application/json"),
        Reply::raw_sse("\u{feff}data: {\"choices\": [{\"delta\": {\"content\": \"sse\"}}]}\n\n"),
    ]);
    let (first, _) = run(&mock, &request()).await;
    assert_eq!(first.unwrap().text, "ok");
    let (second, _) = run(&mock, &request()).await;
    assert_eq!(second.unwrap().text, "sse");
    mock.assert_finished();
}

#[tokio::test]
async fn cancellation_mid_stream() {
    let mock = MockLlm::start(vec![Reply::stream(
        SseReply::new()
            .text("Step one")
            .delay(Duration::from_secs(10))
            .text(", step two"),
    )]);
    let client = LlmClient::new(config(&mock)).unwrap();
    let cancel = CancellationToken::new();
    let trigger = cancel.clone();
    let mut sink = move |event: StreamEvent| {
        if matches!(event, StreamEvent::TextDelta(_)) {
            trigger.cancel();
        }
    };
    let started = Instant::now();
    let error = client
        .chat(&request(), &mut sink, &cancel)
        .await
        .unwrap_err();
    assert_eq!(
        error,
        LlmError::Cancelled {
            partial: "Step one".into()
        }
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    mock.assert_finished();
}

#[tokio::test]
async fn cancellation_during_backoff() {
    let mock = MockLlm::start(vec![Reply::rate_limited(10)]);
    let client = LlmClient::new(config(&mock)).unwrap();
    let cancel = CancellationToken::new();
    let trigger = cancel.clone();
    let mut sink = move |event: StreamEvent| {
        if matches!(event, StreamEvent::Retrying { .. }) {
            trigger.cancel();
        }
    };
    let started = Instant::now();
    let error = client
        .chat(&request(), &mut sink, &cancel)
        .await
        .unwrap_err();
    assert_eq!(
        error,
        LlmError::Cancelled {
            partial: String::new()
        }
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    mock.assert_finished();
}

#[tokio::test]
async fn servers_that_reject_stream_options_are_asked_again_without() {
    let mock = MockLlm::start(vec![
        Reply::api_error(
            400,
            "invalid_request_error",
            "Unrecognized request argument supplied: stream_options",
        ),
        Reply::stream_text(&["ok"]),
        Reply::stream_text(&["again"]),
    ]);
    let client = LlmClient::new(config(&mock)).unwrap();
    let cancel = CancellationToken::new();
    let mut sink = |_: StreamEvent| {};
    let first = client.chat(&request(), &mut sink, &cancel).await.unwrap();
    assert_eq!(first.text, "ok");
    let second = client.chat(&request(), &mut sink, &cancel).await.unwrap();
    assert_eq!(second.text, "again");
    let bodies = mock.request_bodies();
    assert!(bodies[0].get("stream_options").is_some());
    assert_eq!(bodies[1].get("stream_options"), None);
    assert_eq!(bodies[2].get("stream_options"), None);
    assert_eq!(first.request_sha256, sha_of_request(&mock, 1));
    mock.assert_finished();
}
