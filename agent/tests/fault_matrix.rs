//! The LLM fault matrix: one table of every way a model server is known to
//! fail, each row run as a real turn (`Engine::turn` against the scripted
//! OpenAI-protocol server, a real encrypted database).
//!
//! For every row the test checks the outcome the row names (the final text,
//! or the `LlmError` variant behind the failure and what its message says),
//! how many HTTP attempts were made (retries), that nothing panicked (each
//! row runs in its own task), that the stored conversation is consistent
//! (strict order, each call answered once and in order, token counts equal
//! tiktoken's count of what is stored) with the roles the row expects, and
//! that every request the server received holds the protocol's invariants
//! and the script was used up (`MockLlm::assert_finished`). All rows run and
//! the failures are reported together.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use agent::engine::{Engine, EngineConfig, EngineError, EngineEvent, TurnOptions, TurnOutcome};
use agent::llm::{LlmClient, LlmConfig, LlmError};
use serde_json::{Value, json};
use storage::repo::messages::Message;
use storage::{DbConfig, DbKey, IssueId, Store};
use testkit::{MockLlm, MockToolCall, Reply, SseReply, ToolCallDelta};
use tokio_util::sync::CancellationToken;

const MODEL: &str = "gpt-4o-mini";
const USER_TEXT: &str = "Checkout API returns 502 since 14:02";
const RETRIES: u32 = 2;

/// What a row must end in.
#[derive(Debug, Clone)]
enum Expect {
    /// The turn succeeds with exactly this final text.
    Answer(&'static str),
    /// The turn fails with this `LlmError` variant (behind
    /// `RetriesExhausted` when more than one attempt was made), its message
    /// contains `says`, and the text shown before the failure is `partial`.
    Fails {
        variant: &'static str,
        says: &'static str,
        partial: Option<&'static str>,
    },
}

struct Row {
    name: &'static str,
    script: Vec<Reply>,
    /// Point the client at a port nothing listens on.
    unreachable: bool,
    idle_timeout: Duration,
    expect: Expect,
    /// HTTP attempts the client makes for the model call that fails or is
    /// retried (1 + retries); tool rounds are further calls, not attempts.
    attempts: usize,
    /// Roles of the stored conversation after the turn.
    stored: &'static [&'static str],
    /// A row-specific check of what happened.
    extra: fn(&Run) -> Result<(), String>,
}

impl Row {
    fn new(name: &'static str, script: Vec<Reply>, expect: Expect, attempts: usize) -> Self {
        let stored: &'static [&'static str] = match &expect {
            Expect::Answer(_) => &["user", "system", "assistant"],
            Expect::Fails {
                partial: Some(_), ..
            } => &["user", "system", "assistant"],
            Expect::Fails { partial: None, .. } => &["user", "system"],
        };
        Row {
            name,
            script,
            unreachable: false,
            idle_timeout: Duration::from_secs(10),
            expect,
            attempts,
            stored,
            extra: |_| Ok(()),
        }
    }

    fn stored(mut self, roles: &'static [&'static str]) -> Self {
        self.stored = roles;
        self
    }

    fn extra(mut self, check: fn(&Run) -> Result<(), String>) -> Self {
        self.extra = check;
        self
    }
}

fn answer(text: &'static str) -> Expect {
    Expect::Answer(text)
}

fn fails(variant: &'static str, says: &'static str) -> Expect {
    Expect::Fails {
        variant,
        says,
        partial: None,
    }
}

/// What one row's turn left behind.
struct Run {
    result: Result<TurnOutcome, EngineError>,
    events: Vec<EngineEvent>,
    messages: Vec<Message>,
    whys: usize,
}

/// The name of an error's variant. Exhaustive on purpose: a new variant
/// must be given a row here.
fn variant(error: &LlmError) -> &'static str {
    match error {
        LlmError::Config(_) => "Config",
        LlmError::Connect { .. } => "Connect",
        LlmError::Unauthorized { .. } => "Unauthorized",
        LlmError::ModelNotFound { .. } => "ModelNotFound",
        LlmError::EndpointNotFound { .. } => "EndpointNotFound",
        LlmError::ContextLengthExceeded { .. } => "ContextLengthExceeded",
        LlmError::InsufficientQuota { .. } => "InsufficientQuota",
        LlmError::RateLimited { .. } => "RateLimited",
        LlmError::Server { .. } => "Server",
        LlmError::Rejected { .. } => "Rejected",
        LlmError::Protocol { .. } => "Protocol",
        LlmError::StreamError { .. } => "StreamError",
        LlmError::IdleTimeout { .. } => "IdleTimeout",
        LlmError::Timeout { .. } => "Timeout",
        LlmError::Cancelled { .. } => "Cancelled",
        LlmError::StreamCut { .. } => "StreamCut",
        LlmError::RetriesExhausted { .. } => "RetriesExhausted",
    }
}

/// An SSE body whose bytes are cut at every byte inside a multi-byte
/// character of `text`, with a pause between the pieces so that each one
/// arrives in its own read.
fn split_inside_characters(text: &str) -> SseReply {
    let event = format!(
        "data: {}\n\n",
        json!({"choices": [{"index": 0, "delta": {"content": text}, "finish_reason": "stop"}]})
    );
    let bytes = event.as_bytes();
    let mut cuts: Vec<usize> = event
        .char_indices()
        .flat_map(|(at, c)| (at + 1..at + c.len_utf8()).collect::<Vec<_>>())
        .collect();
    assert!(cuts.len() >= 3, "the text must hold multi-byte characters");
    cuts.push(bytes.len());
    let mut reply = SseReply::new();
    let mut from = 0;
    for cut in cuts {
        reply = reply
            .raw_bytes(&bytes[from..cut])
            .delay(Duration::from_millis(40));
        from = cut;
    }
    reply
}

fn rows() -> Vec<Row> {
    let why = json!({"level": 1, "question": "Why do checkouts fail?", "answer": "The upstream pool is exhausted",
                     "evidence": "nginx error.log line 42"});
    let html_page = "<!DOCTYPE html><html><head><title>Sign in to the corporate proxy</title></head>\
                     <body><form><input name=user></form></body></html>";
    let with_tool: &'static [&'static str] = &["user", "system", "assistant", "tool", "assistant"];
    vec![
        Row::new(
            "429 with Retry-After, then success",
            vec![
                Reply::rate_limited(1),
                Reply::stream_text(&["Retried ", "after the wait."]),
            ],
            answer("Retried after the wait."),
            2,
        )
        .extra(|run| {
            let waited = run.events.iter().find_map(|e| match e {
                EngineEvent::Retrying { delay, reason, .. } => Some((*delay, reason.clone())),
                _ => None,
            });
            match waited {
                Some((delay, reason)) if delay >= Duration::from_secs(1) && reason.contains("429") => {
                    Ok(())
                }
                other => Err(format!("Retry-After: 1 was not honoured: {other:?}")),
            }
        }),
        Row::new(
            "500 on every attempt",
            vec![
                Reply::status(500, "internal error"),
                Reply::status(500, "internal error"),
                Reply::status(500, "internal error"),
            ],
            fails("Server", "gave up after 3 attempts: server error 500"),
            3,
        ),
        Row::new(
            "502, then success",
            vec![
                Reply::status(502, "bad gateway"),
                Reply::stream_text(&["Back after a 502."]),
            ],
            answer("Back after a 502."),
            2,
        ),
        Row::new(
            "503, then success",
            vec![
                Reply::status(503, "overloaded").header("retry-after", "0"),
                Reply::stream_text(&["Back after a 503."]),
            ],
            answer("Back after a 503."),
            2,
        ),
        Row {
            unreachable: true,
            ..Row::new(
                "connection refused",
                Vec::new(),
                fails("Connect", "cannot connect to the model server"),
                3,
            )
        },
        Row::new(
            "401",
            vec![Reply::api_error(
                401,
                "invalid_api_key",
                "Incorrect API key provided",
            )],
            fails("Unauthorized", "401 unauthorized"),
            1,
        )
        .extra(|run| says(run, "TFTSR_LLM_API_KEY")),
        Row::new(
            "403",
            vec![Reply::api_error(
                403,
                "permission_denied",
                "Project does not have access to this model",
            )],
            fails("Unauthorized", "403 forbidden"),
            1,
        ),
        Row::new(
            "404 unknown model",
            vec![Reply::api_error(
                404,
                "model_not_found",
                "The model `gpt-4o-mini` does not exist or you do not have access to it.",
            )],
            fails("ModelNotFound", "check TFTSR_LLM_MODEL"),
            1,
        ),
        Row::new(
            "400",
            vec![Reply::api_error(
                400,
                "invalid_request_error",
                "Invalid value for 'temperature'",
            )],
            fails("Rejected", "request rejected (400)"),
            1,
        ),
        Row::new(
            "insufficient_quota (429, not retried)",
            vec![Reply::insufficient_quota()],
            fails("InsufficientQuota", "no credit left"),
            1,
        ),
        Row::new(
            "context length exceeded",
            vec![Reply::context_length_exceeded()],
            fails("ContextLengthExceeded", "context length exceeded"),
            1,
        ),
        Row::new(
            "stream cut before any output (retried)",
            vec![
                Reply::stream(SseReply::new().role().cut()),
                Reply::stream_text(&["Second attempt went through."]),
            ],
            answer("Second attempt went through."),
            2,
        ),
        Row::new(
            "stream cut mid-answer (partial kept)",
            vec![Reply::stream(
                SseReply::new()
                    .role()
                    .text("The upstream pool ")
                    .text("was drained")
                    .cut(),
            )],
            Expect::Fails {
                variant: "StreamCut",
                says: "was cut mid-answer",
                partial: Some("The upstream pool was drained"),
            },
            1,
        ),
        Row::new(
            "malformed JSON chunk (skipped)",
            vec![Reply::raw_sse(
                "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Valid \"}}]}\n\n\
                 data: {not json at all\n\n\
                 data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"and still fine.\"},\"finish_reason\":\"stop\"}]}\n\n\
                 data: [DONE]\n\n",
            )],
            answer("Valid and still fine."),
            1,
        ),
        Row::new(
            "unknown finish_reason",
            vec![Reply::stream(
                SseReply::new()
                    .role()
                    .text("Done thinking.")
                    .finish("eos_token_reached"),
            )],
            answer("Done thinking."),
            1,
        ),
        Row::new(
            "tool call without index or id",
            vec![
                Reply::stream(
                    SseReply::new()
                        .role()
                        .tool_delta(ToolCallDelta {
                            name: Some("get_timeline".into()),
                            arguments: Some(json!("")),
                            ..ToolCallDelta::default()
                        })
                        .tool_delta(ToolCallDelta {
                            arguments: Some(json!("{}")),
                            ..ToolCallDelta::default()
                        })
                        .finish("tool_calls"),
                ),
                Reply::stream_text(&["The timeline shows triage started."]),
            ],
            answer("The timeline shows triage started."),
            1,
        )
        .stored(with_tool)
        .extra(|run| {
            let calls = agent::engine::stored_calls(&run.messages[2]);
            match calls.as_slice() {
                [call] if call.id.starts_with("call_") && call.arguments == "{}" => {
                    tool_ran_ok(run)
                }
                other => Err(format!("the call was not given an id: {other:?}")),
            }
        }),
        Row::new(
            "tool-call arguments as a JSON object",
            vec![
                Reply::tool_calls(vec![
                    MockToolCall::new("record_why", why.clone()).arguments_as_object(),
                ]),
                Reply::text("Why 1 of 5 is recorded."),
            ],
            answer("Why 1 of 5 is recorded."),
            1,
        )
        .stored(with_tool)
        .extra(|run| {
            tool_ran_ok(run)?;
            let args: Value = serde_json::from_str(&agent::engine::stored_calls(&run.messages[2])[0].arguments)
                .map_err(|e| format!("stored arguments are not JSON text: {e}"))?;
            if args["level"] != 1 || run.whys != 1 {
                return Err(format!("the why was not recorded: {args}, {} whys", run.whys));
            }
            Ok(())
        }),
        Row::new(
            "tool call written as text",
            vec![
                Reply::text(
                    "Let me check.\n<tool_call>{\"name\": \"get_timeline\", \"arguments\": {}}</tool_call>",
                ),
                Reply::text("Triage started; nothing else yet."),
            ],
            answer("Triage started; nothing else yet."),
            1,
        )
        .stored(with_tool)
        .extra(|run| {
            if run.messages[2].content.contains("<tool_call>") {
                return Err("the call markup was stored as text".into());
            }
            tool_ran_ok(run)
        }),
        Row {
            idle_timeout: Duration::from_millis(300),
            ..Row::new(
                "slow stream past the idle timeout (partial kept)",
                vec![Reply::stream(
                    SseReply::new()
                        .role()
                        .text("Checking the pool")
                        .delay(Duration::from_secs(3))
                        .text(" — never sent")
                        .finish("stop"),
                )],
                Expect::Fails {
                    variant: "IdleTimeout",
                    says: "(idle timeout)",
                    partial: Some("Checking the pool"),
                },
                1,
            )
        },
        Row::new(
            "stream split inside UTF-8 characters",
            vec![Reply::stream(split_inside_characters(
                "Grüße — the naïve café’s 💥 error",
            ))],
            answer("Grüße — the naïve café’s 💥 error"),
            1,
        ),
        Row::new(
            "stream split inside JSON",
            vec![Reply::stream(
                SseReply::new()
                    .raw("data: {\"choices\":[{\"index\":0,\"delta\":{\"conte")
                    .delay(Duration::from_millis(40))
                    .raw("nt\":\"Split JSON \"}}]}\n")
                    .delay(Duration::from_millis(40))
                    .raw("\ndata: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"reassem")
                    .delay(Duration::from_millis(40))
                    .raw("bled.\"},\"finish_reason\":\"stop\"}]}\n\n"),
            )],
            answer("Split JSON reassembled."),
            1,
        ),
        Row::new(
            "HTML error page with 502 from a proxy",
            vec![
                Reply::html(502, "502 Bad Gateway"),
                Reply::html(502, "502 Bad Gateway"),
                Reply::html(502, "502 Bad Gateway"),
            ],
            fails("Server", "server error 502"),
            3,
        )
        .extra(|run| says(run, "HTML page: 502 Bad Gateway")),
        Row::new(
            "HTML page with 200",
            vec![Reply::status(200, html_page).header("content-type", "text/html")],
            fails("Protocol", "TFTSR_LLM_BASE_URL"),
            1,
        )
        .extra(|run| says(run, "HTML page: Sign in to the corporate proxy")),
    ]
}

fn says(run: &Run, text: &str) -> Result<(), String> {
    match &run.result {
        Err(e) if e.to_string().contains(text) => Ok(()),
        other => Err(format!("expected an error saying {text:?}, got {other:?}")),
    }
}

fn tool_ran_ok(run: &Run) -> Result<(), String> {
    let finished = run
        .events
        .iter()
        .any(|e| matches!(e, EngineEvent::ToolFinished { ok: true, .. }));
    let result = &run.messages[3];
    if finished && !result.content.starts_with("ERROR") {
        Ok(())
    } else {
        Err(format!("the tool did not run: {}", result.content))
    }
}

/// The stored conversation is consistent and every count is tiktoken's.
fn check_db(messages: &[Message]) {
    if let Err(problem) = agent::engine::check_stored(MODEL, messages) {
        panic!("{problem}");
    }
}

/// A port nothing listens on.
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn run_row(script: Vec<Reply>, unreachable: bool, idle_timeout: Duration) -> (Run, MockLlm) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(DbConfig {
        path: dir.path().join("tftsr.db"),
        key: DbKey::Raw([9; 32]),
        key_source: "test".into(),
    })
    .await
    .unwrap();
    let mock = MockLlm::start(script);
    let base = if unreachable {
        format!("http://127.0.0.1:{}/v1", closed_port())
    } else {
        mock.base_url()
    };
    let mut llm = LlmConfig::new(base, MODEL).with_api_key("test-key");
    llm.backoff_base = Duration::from_millis(10);
    llm.backoff_max = Duration::from_millis(40);
    llm.max_retries = RETRIES;
    llm.idle_timeout = idle_timeout;
    let engine = Engine::new(
        store,
        Some(LlmClient::new(llm).unwrap()),
        EngineConfig::default(),
    );
    let created = engine
        .run_tool(
            None,
            "create_issue",
            json!({"title": "Checkout API returns 502", "severity": "high", "category": "application"}),
        )
        .await;
    assert!(created.ok, "{}", created.content);
    let issue = IssueId::from_string(
        serde_json::from_str::<Value>(&created.content).unwrap()["id"]
            .as_str()
            .unwrap(),
    );
    let conv = engine.new_conversation(&issue, None).await.unwrap();
    let mut events = Vec::new();
    let mut sink = |e: EngineEvent| events.push(e);
    let result = engine
        .turn(
            &conv,
            USER_TEXT,
            TurnOptions::default(),
            &mut sink,
            &CancellationToken::new(),
        )
        .await;
    let (messages, whys) = engine
        .store()
        .read(move |c| {
            Ok((
                storage::repo::messages::list(c, &conv)?,
                storage::repo::issues::detail(c, &issue)?
                    .resolution_steps
                    .len(),
            ))
        })
        .await
        .unwrap();
    drop(dir);
    (
        Run {
            result,
            events,
            messages,
            whys,
        },
        mock,
    )
}

/// Everything a row promises; `Err` says what broke.
fn check_row(row: &Row, run: &Run, mock: &MockLlm) -> Result<(), String> {
    let retried = run
        .events
        .iter()
        .filter(|e| matches!(e, EngineEvent::Retrying { .. }))
        .count();
    if retried + 1 != row.attempts {
        return Err(format!(
            "{} attempts, expected {}",
            retried + 1,
            row.attempts
        ));
    }
    let received = mock.requests().len();
    // One request per scripted reply: retries and tool rounds alike.
    let expected_requests = if row.unreachable { 0 } else { row.script.len() };
    if received != expected_requests {
        return Err(format!(
            "the server got {received} requests, expected {expected_requests}"
        ));
    }
    let reported = run
        .events
        .iter()
        .any(|e| matches!(e, EngineEvent::Error(_)));
    match (&row.expect, &run.result) {
        (Expect::Answer(text), Ok(outcome)) => {
            if outcome.text != *text || outcome.cancelled || outcome.budget_exhausted {
                return Err(format!("answer {outcome:?}, expected {text:?}"));
            }
            if reported {
                return Err("an Error event for a turn that succeeded".into());
            }
        }
        (
            Expect::Fails {
                variant: expected,
                says,
                partial,
            },
            Err(EngineError::Llm(error)),
        ) => {
            let root = error.root_cause();
            if variant(root) != *expected {
                return Err(format!("failed with {error:?}, expected {expected}"));
            }
            match error {
                LlmError::RetriesExhausted { attempts, .. }
                    if *attempts as usize == row.attempts => {}
                LlmError::RetriesExhausted { attempts, .. } => {
                    return Err(format!(
                        "gave up after {attempts}, expected {}",
                        row.attempts
                    ));
                }
                _ if row.attempts > 1 => return Err(format!("not reported as retried: {error:?}")),
                _ => {}
            }
            let message = error.to_string();
            if !message.contains(says) || message.contains('<') {
                return Err(format!(
                    "unclear message {message:?} (expected it to say {says:?})"
                ));
            }
            if error.partial_text() != *partial {
                return Err(format!(
                    "partial {:?}, expected {partial:?}",
                    error.partial_text()
                ));
            }
            if let Some(partial) = partial {
                let kept = run.messages.last().map(|m| m.content.as_str());
                if kept != Some(&format!("{partial}\n[answer cut off]")) {
                    return Err(format!("the partial answer was not kept: {kept:?}"));
                }
            }
            if !reported {
                return Err("no Error event".into());
            }
        }
        (expected, got) => return Err(format!("expected {expected:?}, got {got:?}")),
    }
    let roles: Vec<&str> = run.messages.iter().map(|m| m.role.as_str()).collect();
    if roles != row.stored {
        return Err(format!("stored {roles:?}, expected {:?}", row.stored));
    }
    if run.messages[0].content != USER_TEXT {
        return Err(format!(
            "the user message was not stored: {:?}",
            run.messages[0]
        ));
    }
    (row.extra)(run)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_model_failure_ends_as_named_with_a_consistent_conversation() {
    let mut failures = Vec::new();
    let mut report = Vec::new();
    for row in rows() {
        let script = row.script.clone();
        let (unreachable, idle) = (row.unreachable, row.idle_timeout);
        let outcome = tokio::spawn(run_row(script, unreachable, idle)).await;
        let verdict = match outcome {
            Err(join) if join.is_panic() => Err(format!(
                "panicked: {}",
                testkit::replay::panic_message(&*join.into_panic())
            )),
            Err(join) => Err(format!("did not finish: {join}")),
            Ok((run, mock)) => {
                let checked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    check_db(&run.messages);
                    mock.assert_finished();
                    check_row(&row, &run, &mock)
                }));
                let shown = match &run.result {
                    Ok(o) => format!("Ok({:?})", o.text),
                    Err(e) => format!("Err({e})"),
                };
                report.push(format!("{:<52} {shown}", row.name));
                match checked {
                    Ok(result) => result,
                    Err(payload) => Err(format!(
                        "check failed: {}",
                        testkit::replay::panic_message(&*payload)
                    )),
                }
            }
        };
        if let Err(problem) = verdict {
            failures.push(format!("{}: {problem}", row.name));
        }
    }
    println!("{}", report.join("\n"));
    assert!(
        failures.is_empty(),
        "rows that failed:\n{}",
        failures.join("\n")
    );
}
