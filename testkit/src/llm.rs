//! [`MockLlm`]: a scripted OpenAI-compatible model server.
//!
//! Each `POST /v1/chat/completions` takes the next [`Reply`] of the script.
//! When the script runs out the server answers 500 with a body that says so
//! and marks itself over-run: [`MockLlm::assert_finished`] fails, and so
//! does dropping the mock (unless the test is already failing). It never
//! repeats a reply. `GET /v1/models` lists one model and does not use the
//! script; anything else is 404.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::Response;
use futures::StreamExt as _;
use serde_json::{Value, json};

use crate::protocol::check_request;
use crate::server::{RecordedRequest, TestServer, fail, lock};

/// The model id `GET /v1/models` lists.
pub const MOCK_MODEL: &str = "mock-model";

/// Path of the scripted endpoint.
const CHAT_PATH: &str = "/v1/chat/completions";

static NEXT_ID: AtomicUsize = AtomicUsize::new(1);

/// A fresh tool-call id, unique within the test process.
pub fn next_call_id() -> String {
    format!("call_mock_{}", NEXT_ID.fetch_add(1, Ordering::Relaxed))
}

/// A tool call in a JSON reply.
#[derive(Debug, Clone, PartialEq)]
pub struct MockToolCall {
    /// `None` sends the call without an `id`.
    pub id: Option<String>,
    pub name: String,
    /// Sent exactly as this JSON value: normally a string holding JSON; an
    /// object here tests servers that send arguments as an object.
    pub arguments: Value,
}

impl MockToolCall {
    /// A call with a fresh id and `arguments` sent as a JSON string.
    pub fn new(name: &str, arguments: Value) -> Self {
        Self {
            id: Some(next_call_id()),
            name: name.to_owned(),
            arguments: Value::String(arguments.to_string()),
        }
    }

    /// Sends the call without an id.
    pub fn without_id(mut self) -> Self {
        self.id = None;
        self
    }

    /// Sends the arguments as a JSON object instead of a string.
    pub fn arguments_as_object(mut self) -> Self {
        if let Value::String(text) = &self.arguments
            && let Ok(value) = serde_json::from_str(text)
        {
            self.arguments = value;
        }
        self
    }
}

/// A whole `chat.completion` JSON answer.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct JsonReply {
    pub text: Option<String>,
    pub tool_calls: Vec<MockToolCall>,
    /// Defaults to `tool_calls` when there are calls, else `stop`.
    pub finish_reason: Option<String>,
    /// `(prompt_tokens, completion_tokens)`.
    pub usage: Option<(u32, u32)>,
}

/// A tool-call fragment in a streamed chunk; `None` fields are left out.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ToolCallDelta {
    pub index: Option<u32>,
    pub id: Option<String>,
    pub name: Option<String>,
    /// A string fragment, or any JSON value (an object to test servers that
    /// send arguments whole as an object).
    pub arguments: Option<Value>,
}

/// One step of a streamed answer.
#[derive(Debug, Clone, PartialEq)]
pub enum SseEvent {
    /// `delta: {role: assistant, content: ""}`.
    Role,
    Text(String),
    ToolCall(ToolCallDelta),
    /// A chunk with an empty delta and this finish reason.
    Finish(String),
    /// A usage-only chunk (`choices: []`).
    Usage {
        prompt: u32,
        completion: u32,
    },
    /// `: text` comment line (keep-alive).
    Comment(String),
    /// Raw bytes, sent as they are (no framing added).
    Raw(String),
    /// Raw bytes that need not be UTF-8 on their own (half of a multi-byte
    /// character, say), sent as they are; put a [`SseEvent::Delay`] between
    /// two of them to make them arrive in separate reads.
    RawBytes(Vec<u8>),
    /// Pause before the next step.
    Delay(Duration),
    /// Drop the connection here: no `[DONE]`, no clean end of the body.
    Cut,
}

/// A streamed (SSE) answer built from high-level parts.
#[derive(Debug, Clone, PartialEq)]
pub struct SseReply {
    pub events: Vec<SseEvent>,
    /// Send `data: [DONE]` at the end (default true).
    pub done: bool,
    /// Use CRLF line ends.
    pub crlf: bool,
    /// Pause between every two events.
    pub chunk_delay: Option<Duration>,
    /// Cut the connection after this many events.
    pub cut_after: Option<usize>,
}

impl Default for SseReply {
    fn default() -> Self {
        Self::new()
    }
}

impl SseReply {
    /// An empty stream (add events with the builder methods).
    pub fn new() -> Self {
        Self {
            events: Vec::new(),
            done: true,
            crlf: false,
            chunk_delay: None,
            cut_after: None,
        }
    }

    pub fn event(mut self, event: SseEvent) -> Self {
        self.events.push(event);
        self
    }

    pub fn role(self) -> Self {
        self.event(SseEvent::Role)
    }

    pub fn text(self, text: &str) -> Self {
        self.event(SseEvent::Text(text.to_owned()))
    }

    pub fn texts(self, pieces: &[&str]) -> Self {
        pieces.iter().fold(self, |reply, piece| reply.text(piece))
    }

    pub fn tool_delta(self, delta: ToolCallDelta) -> Self {
        self.event(SseEvent::ToolCall(delta))
    }

    /// An OpenAI-style streamed call: a first delta with index, id, name and
    /// empty arguments, then `arguments` split into `pieces` fragments
    /// carrying only the index.
    pub fn tool_call(
        self,
        index: u32,
        id: &str,
        name: &str,
        arguments: &str,
        pieces: usize,
    ) -> Self {
        let mut reply = self.tool_delta(ToolCallDelta {
            index: Some(index),
            id: Some(id.to_owned()),
            name: Some(name.to_owned()),
            arguments: Some(Value::String(String::new())),
        });
        for fragment in split_text(arguments, pieces) {
            reply = reply.tool_delta(ToolCallDelta {
                index: Some(index),
                arguments: Some(Value::String(fragment)),
                ..ToolCallDelta::default()
            });
        }
        reply
    }

    pub fn finish(self, reason: &str) -> Self {
        self.event(SseEvent::Finish(reason.to_owned()))
    }

    pub fn usage(self, prompt: u32, completion: u32) -> Self {
        self.event(SseEvent::Usage { prompt, completion })
    }

    pub fn comment(self, text: &str) -> Self {
        self.event(SseEvent::Comment(text.to_owned()))
    }

    pub fn raw(self, text: &str) -> Self {
        self.event(SseEvent::Raw(text.to_owned()))
    }

    /// Bytes sent as they are, valid UTF-8 or not (see [`SseEvent::RawBytes`]).
    pub fn raw_bytes(self, bytes: &[u8]) -> Self {
        self.event(SseEvent::RawBytes(bytes.to_vec()))
    }

    pub fn delay(self, pause: Duration) -> Self {
        self.event(SseEvent::Delay(pause))
    }

    pub fn cut(self) -> Self {
        self.event(SseEvent::Cut)
    }

    /// End without `data: [DONE]`.
    pub fn no_done(mut self) -> Self {
        self.done = false;
        self
    }

    pub fn crlf(mut self) -> Self {
        self.crlf = true;
        self
    }

    pub fn chunk_delay(mut self, pause: Duration) -> Self {
        self.chunk_delay = Some(pause);
        self
    }

    /// Cut the connection after `events` events.
    pub fn cut_after(mut self, events: usize) -> Self {
        self.cut_after = Some(events);
        self
    }
}

/// Splits text into `pieces` parts of similar length on char boundaries.
fn split_text(text: &str, pieces: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let pieces = pieces.clamp(1, chars.len().max(1));
    let size = chars.len().div_ceil(pieces).max(1);
    chars
        .chunks(size)
        .map(|chunk| chunk.iter().collect())
        .collect()
}

/// A plain HTTP answer (errors, HTML pages, anything).
#[derive(Debug, Clone, PartialEq)]
pub struct HttpReply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl HttpReply {
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }
}

/// One scripted answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    Json(JsonReply),
    Stream(SseReply),
    /// A `text/event-stream` body sent as is.
    RawSse(String),
    Http(HttpReply),
    /// Wait, then answer.
    Delayed(Duration, Box<Reply>),
}

impl Reply {
    /// A JSON answer with text.
    pub fn text(text: &str) -> Self {
        Reply::Json(JsonReply {
            text: Some(text.to_owned()),
            ..JsonReply::default()
        })
    }

    /// A JSON answer with one tool call (fresh id, string arguments).
    pub fn tool_call(name: &str, arguments: Value) -> Self {
        Self::tool_calls(vec![MockToolCall::new(name, arguments)])
    }

    /// A JSON answer with these tool calls.
    pub fn tool_calls(calls: Vec<MockToolCall>) -> Self {
        Reply::Json(JsonReply {
            tool_calls: calls,
            ..JsonReply::default()
        })
    }

    /// A streamed text answer: role chunk, the pieces, `stop`, `[DONE]`.
    pub fn stream_text(pieces: &[&str]) -> Self {
        Reply::Stream(SseReply::new().role().texts(pieces).finish("stop"))
    }

    pub fn stream(reply: SseReply) -> Self {
        Reply::Stream(reply)
    }

    pub fn raw_sse(body: &str) -> Self {
        Reply::RawSse(body.to_owned())
    }

    /// Any status with a body (add headers with [`Reply::header`]).
    pub fn status(status: u16, body: &str) -> Self {
        Reply::Http(HttpReply {
            status,
            headers: Vec::new(),
            body: body.to_owned(),
        })
    }

    /// An OpenAI-style error: `{"error": {message, type, code}}`.
    pub fn api_error(status: u16, code: &str, message: &str) -> Self {
        let body =
            json!({"error": {"message": message, "type": code, "code": code, "param": null}});
        Self::status(status, &body.to_string()).header("content-type", "application/json")
    }

    /// 429 `rate_limit_exceeded` with `Retry-After: secs`.
    pub fn rate_limited(retry_after_secs: u64) -> Self {
        Self::api_error(429, "rate_limit_exceeded", "Rate limit reached, slow down")
            .header("retry-after", &retry_after_secs.to_string())
    }

    /// 429 `insufficient_quota` (must not be retried).
    pub fn insufficient_quota() -> Self {
        Self::api_error(
            429,
            "insufficient_quota",
            "You exceeded your current quota, please check your plan and billing details.",
        )
    }

    /// 400 `context_length_exceeded`.
    pub fn context_length_exceeded() -> Self {
        Self::api_error(
            400,
            "context_length_exceeded",
            "This model's maximum context length is 8192 tokens. However, your messages resulted in 9000 tokens.",
        )
    }

    /// An HTML error page, as a proxy or load balancer sends.
    pub fn html(status: u16, title: &str) -> Self {
        let page = format!(
            "<!DOCTYPE html><html><head><title>{title}</title></head><body><h1>{title}</h1><hr><center>nginx</center></body></html>"
        );
        Self::status(status, &page).header("content-type", "text/html")
    }

    /// Adds a header (to an HTTP reply; other replies are unchanged).
    pub fn header(self, name: &str, value: &str) -> Self {
        match self {
            Reply::Http(reply) => Reply::Http(reply.header(name, value)),
            Reply::Delayed(pause, inner) => {
                Reply::Delayed(pause, Box::new(inner.header(name, value)))
            }
            other => other,
        }
    }

    /// Answers after `pause`.
    pub fn after(self, pause: Duration) -> Self {
        Reply::Delayed(pause, Box::new(self))
    }
}

struct MockState {
    script: Mutex<VecDeque<Reply>>,
    scripted: usize,
    overrun: AtomicBool,
    served: AtomicUsize,
}

/// The scripted model server. See the module docs.
pub struct MockLlm {
    server: TestServer,
    state: Arc<MockState>,
}

impl std::fmt::Debug for MockLlm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockLlm")
            .field("base_url", &self.base_url())
            .field("remaining", &self.remaining())
            .field("overrun", &self.overrun())
            .finish()
    }
}

impl MockLlm {
    /// Starts a mock that answers the chat endpoint with `script`, in order.
    pub fn start(script: Vec<Reply>) -> MockLlm {
        let state = Arc::new(MockState {
            scripted: script.len(),
            script: Mutex::new(script.into()),
            overrun: AtomicBool::new(false),
            served: AtomicUsize::new(0),
        });
        let handler_state = Arc::clone(&state);
        let server = TestServer::start(move |request| {
            let state = Arc::clone(&handler_state);
            async move { answer(&state, request).await }
        });
        MockLlm { server, state }
    }

    /// `http://127.0.0.1:PORT/v1`.
    pub fn base_url(&self) -> String {
        format!("{}/v1", self.server.url())
    }

    /// The chat-completions requests received, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.server
            .requests()
            .into_iter()
            .filter(|request| request.path == CHAT_PATH)
            .collect()
    }

    /// Their JSON bodies (`Null` for a body that was not JSON).
    pub fn request_bodies(&self) -> Vec<Value> {
        self.requests()
            .into_iter()
            .map(|request| request.json.unwrap_or(Value::Null))
            .collect()
    }

    /// Every request received, whatever the path.
    pub fn all_requests(&self) -> Vec<RecordedRequest> {
        self.server.requests()
    }

    /// Replies not used yet.
    pub fn remaining(&self) -> usize {
        lock(&self.state.script).len()
    }

    /// Whether a request came after the script ran out.
    pub fn overrun(&self) -> bool {
        self.state.overrun.load(Ordering::SeqCst)
    }

    /// Fails unless every chat request passes [`check_request`].
    pub fn assert_protocol(&self) {
        for (n, request) in self.requests().iter().enumerate() {
            let body = request.json.clone().unwrap_or(Value::Null);
            if let Err(problem) = check_request(&body) {
                fail(&format!(
                    "MockLlm: request {n} breaks the chat protocol: {problem}\nbody: {body:#}"
                ));
            }
        }
    }

    /// Fails unless the script was used up exactly (no over-run, nothing
    /// left) and every request passes [`check_request`].
    pub fn assert_finished(&self) {
        if self.overrun() {
            fail(&format!(
                "MockLlm: the script ({} replies) ran out: {} chat requests were made",
                self.state.scripted,
                self.requests().len()
            ));
        }
        let left = self.remaining();
        if left > 0 {
            fail(&format!(
                "MockLlm: {left} of {} scripted replies were never requested",
                self.state.scripted
            ));
        }
        self.assert_protocol();
    }
}

impl Drop for MockLlm {
    fn drop(&mut self) {
        if self.overrun() && !std::thread::panicking() {
            fail(&format!(
                "MockLlm: the script ({} replies) ran out: the code under test made {} chat requests",
                self.state.scripted,
                self.requests().len()
            ));
        }
    }
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut response = Response::new(Body::from(body.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

async fn answer(state: &MockState, request: RecordedRequest) -> Response {
    match (request.method.as_str(), request.path.as_str()) {
        ("GET", "/v1/models") => json_response(
            StatusCode::OK,
            &json!({"object": "list", "data": [{"id": MOCK_MODEL, "object": "model", "owned_by": "testkit"}]}),
        ),
        ("POST", CHAT_PATH) => {
            let Some(body) = &request.json else {
                return json_response(
                    StatusCode::BAD_REQUEST,
                    &json!({"error": {"message": "testkit MockLlm: the request body is not JSON", "type": "invalid_request_error"}}),
                );
            };
            let model = body
                .get("model")
                .and_then(Value::as_str)
                .unwrap_or(MOCK_MODEL)
                .to_owned();
            let next = lock(&state.script).pop_front();
            let n = state.served.fetch_add(1, Ordering::SeqCst) + 1;
            match next {
                Some(reply) => render(reply, &model).await,
                None => {
                    state.overrun.store(true, Ordering::SeqCst);
                    json_response(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        &json!({"error": {
                            "message": format!("testkit MockLlm: script exhausted: request {n} came after all {} scripted replies were used", state.scripted),
                            "type": "mock_script_exhausted"
                        }}),
                    )
                }
            }
        }
        (method, path) => json_response(
            StatusCode::NOT_FOUND,
            &json!({"error": {"message": format!("testkit MockLlm: no route for {method} {path}"), "type": "not_found"}}),
        ),
    }
}

async fn render(reply: Reply, model: &str) -> Response {
    let mut reply = reply;
    loop {
        match reply {
            Reply::Delayed(pause, inner) => {
                tokio::time::sleep(pause).await;
                reply = *inner;
            }
            Reply::Json(json) => {
                return json_response(StatusCode::OK, &completion_json(&json, model));
            }
            Reply::Http(http) => return http_response(http),
            Reply::RawSse(body) => return sse_response(vec![Step::Send(body)]),
            Reply::Stream(stream) => return sse_response(sse_steps(&stream, model)),
        }
    }
}

fn http_response(http: HttpReply) -> Response {
    let mut response = Response::new(Body::from(http.body));
    *response.status_mut() =
        StatusCode::from_u16(http.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    for (name, value) in http.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

fn completion_json(reply: &JsonReply, model: &str) -> Value {
    let mut message = json!({"role": "assistant", "content": reply.text});
    if !reply.tool_calls.is_empty() {
        let calls: Vec<Value> = reply
            .tool_calls
            .iter()
            .map(|call| {
                let mut value = json!({"type": "function", "function": {"name": call.name, "arguments": call.arguments}});
                if let (Some(id), Some(object)) = (&call.id, value.as_object_mut()) {
                    object.insert("id".into(), Value::String(id.clone()));
                }
                value
            })
            .collect();
        message["tool_calls"] = Value::Array(calls);
    }
    let finish = reply.finish_reason.clone().unwrap_or_else(|| {
        if reply.tool_calls.is_empty() {
            "stop"
        } else {
            "tool_calls"
        }
        .to_owned()
    });
    let mut body = json!({
        "id": "chatcmpl-mock",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
    });
    if let Some((prompt, completion)) = reply.usage {
        body["usage"] = json!({"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion});
    }
    body
}

fn chunk(model: &str, choices: Value) -> Value {
    json!({
        "id": "chatcmpl-mock",
        "object": "chat.completion.chunk",
        "created": 1_700_000_000,
        "model": model,
        "choices": choices,
    })
}

fn delta_chunk(model: &str, delta: Value) -> Value {
    chunk(
        model,
        json!([{"index": 0, "delta": delta, "finish_reason": null}]),
    )
}

enum Step {
    Send(String),
    SendBytes(Vec<u8>),
    Sleep(Duration),
    Abort,
}

/// Pause before a cut, so that what was written reaches the client first
/// (the server would otherwise drop its unflushed buffer, response head
/// included), as when a real server dies mid-answer.
const FLUSH_BEFORE_CUT: Duration = Duration::from_millis(30);

fn sse_steps(reply: &SseReply, model: &str) -> Vec<Step> {
    let end = if reply.crlf { "\r\n" } else { "\n" };
    let data = |value: &Value| format!("data: {value}{end}{end}");
    let mut steps = Vec::new();
    for (n, event) in reply.events.iter().enumerate() {
        if reply.cut_after == Some(n) {
            steps.extend([Step::Sleep(FLUSH_BEFORE_CUT), Step::Abort]);
            return steps;
        }
        if n > 0
            && let Some(pause) = reply.chunk_delay
        {
            steps.push(Step::Sleep(pause));
        }
        let step = match event {
            SseEvent::Role => Step::Send(data(&delta_chunk(
                model,
                json!({"role": "assistant", "content": ""}),
            ))),
            SseEvent::Text(text) => Step::Send(data(&delta_chunk(model, json!({"content": text})))),
            SseEvent::ToolCall(delta) => {
                let mut call = serde_json::Map::new();
                if let Some(index) = delta.index {
                    call.insert("index".into(), json!(index));
                }
                if let Some(id) = &delta.id {
                    call.insert("id".into(), json!(id));
                    call.insert("type".into(), json!("function"));
                }
                let mut function = serde_json::Map::new();
                if let Some(name) = &delta.name {
                    function.insert("name".into(), json!(name));
                }
                if let Some(arguments) = &delta.arguments {
                    function.insert("arguments".into(), arguments.clone());
                }
                call.insert("function".into(), Value::Object(function));
                Step::Send(data(&delta_chunk(model, json!({"tool_calls": [call]}))))
            }
            SseEvent::Finish(reason) => Step::Send(data(&chunk(
                model,
                json!([{"index": 0, "delta": {}, "finish_reason": reason}]),
            ))),
            SseEvent::Usage { prompt, completion } => {
                let mut value = chunk(model, json!([]));
                value["usage"] = json!({"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion});
                Step::Send(data(&value))
            }
            SseEvent::Comment(text) => Step::Send(format!(": {text}{end}{end}")),
            SseEvent::Raw(text) => Step::Send(text.clone()),
            SseEvent::RawBytes(bytes) => Step::SendBytes(bytes.clone()),
            SseEvent::Delay(pause) => Step::Sleep(*pause),
            SseEvent::Cut => {
                steps.extend([Step::Sleep(FLUSH_BEFORE_CUT), Step::Abort]);
                return steps;
            }
        };
        steps.push(step);
    }
    if reply.cut_after.is_some_and(|n| n >= reply.events.len()) {
        steps.extend([Step::Sleep(FLUSH_BEFORE_CUT), Step::Abort]);
        return steps;
    }
    if reply.done {
        steps.push(Step::Send(format!("data: [DONE]{end}{end}")));
    }
    steps
}

fn sse_response(steps: Vec<Step>) -> Response {
    let stream = futures::stream::iter(steps).then(|step| async move {
        match step {
            Step::Send(text) => Some(Ok(Bytes::from(text))),
            Step::SendBytes(bytes) => Some(Ok(Bytes::from(bytes))),
            Step::Sleep(pause) => {
                tokio::time::sleep(pause).await;
                None
            }
            // An error from the body stream makes the server drop the
            // connection without finishing the chunked body.
            Step::Abort => Some(Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionAborted,
                "testkit: stream cut",
            ))),
        }
    });
    let stream = stream.filter_map(|item| async move { item });
    let mut response = Response::new(Body::from_stream(stream));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_text_keeps_everything() {
        assert_eq!(split_text("{\"a\":1}", 3).concat(), "{\"a\":1}");
        assert_eq!(split_text("abcdef", 3), vec!["ab", "cd", "ef"]);
        assert_eq!(split_text("", 3), vec![] as Vec<String>);
        assert_eq!(split_text("é€", 5), vec!["é", "€"]);
    }

    #[test]
    fn streamed_tool_call_steps() {
        let reply = SseReply::new()
            .tool_call(0, "call_1", "f", "{\"a\":1}", 2)
            .finish("tool_calls");
        let steps = sse_steps(&reply, "m");
        let texts: Vec<String> = steps
            .iter()
            .filter_map(|step| match step {
                Step::Send(text) => Some(text.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(texts.len(), 5);
        assert!(texts[0].contains("\"id\":\"call_1\""));
        assert!(texts[1].contains("\"arguments\":\"{\\\"a\\\"\""));
        assert_eq!(texts[4], "data: [DONE]\n\n");
    }

    /// A minimal blocking HTTP/1.1 client, so testkit tests need no HTTP
    /// client crate: returns the status and the body.
    fn post(base: &str, path: &str, body: &str) -> (u16, String) {
        use std::io::{Read, Write};
        let addr = base
            .trim_start_matches("http://")
            .split('/')
            .next()
            .unwrap();
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        let method = if body.is_empty() { "GET" } else { "POST" };
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nX-Test: yes\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let status = response[9..12].parse().unwrap();
        let body = response.split("\r\n\r\n").nth(1).unwrap_or("").to_owned();
        (status, body)
    }

    const CHAT: &str = r#"{"model": "m", "messages": [{"role": "system", "content": "s"}]}"#;

    #[test]
    fn serves_the_script_in_order_and_records_requests() {
        let mock = MockLlm::start(vec![Reply::text("one"), Reply::status(503, "busy")]);
        let (status, body) = post(&mock.base_url(), CHAT_PATH, CHAT);
        assert_eq!(status, 200);
        assert!(body.contains("\"content\":\"one\""), "{body}");
        assert!(body.contains("\"model\":\"m\""), "{body}");
        assert_eq!(
            post(&mock.base_url(), CHAT_PATH, CHAT),
            (503, "busy".into())
        );
        let (status, models) = post(&mock.base_url(), "/v1/models", "");
        assert_eq!(status, 200);
        assert!(models.contains(MOCK_MODEL));
        assert_eq!(post(&mock.base_url(), "/v2/other", "{}").0, 404);
        let recorded = mock.requests();
        assert_eq!(recorded.len(), 2);
        assert_eq!(recorded[0].header("x-test"), Some("yes"));
        assert_eq!(recorded[0].json.as_ref().unwrap()["model"], "m");
        assert_eq!(mock.all_requests().len(), 4);
        mock.assert_finished();
    }

    #[test]
    fn an_over_run_answers_500_and_fails_the_test() {
        let mock = MockLlm::start(vec![]);
        let (status, body) = post(&mock.base_url(), CHAT_PATH, CHAT);
        assert_eq!(status, 500);
        assert!(body.contains("script exhausted"), "{body}");
        assert!(mock.overrun());
        let finished =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| mock.assert_finished()));
        assert!(finished.is_err());
        let dropped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(mock)));
        assert!(
            dropped.is_err(),
            "dropping an over-run mock must fail the test"
        );
    }

    #[test]
    fn unused_replies_and_protocol_violations_fail_assert_finished() {
        let mock = MockLlm::start(vec![Reply::text("a"), Reply::text("b")]);
        post(&mock.base_url(), CHAT_PATH, CHAT);
        let unused =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| mock.assert_finished()));
        assert!(unused.is_err());

        let mock = MockLlm::start(vec![Reply::text("a")]);
        post(
            &mock.base_url(),
            CHAT_PATH,
            r#"{"messages": [{"role": "user", "content": "u"}]}"#,
        );
        let broken =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| mock.assert_finished()));
        assert!(broken.is_err());
    }

    #[test]
    fn a_cut_stream_has_no_clean_end() {
        let mock = MockLlm::start(vec![Reply::stream(SseReply::new().text("partial").cut())]);
        use std::io::{Read, Write};
        let base = mock.base_url();
        let addr = base
            .trim_start_matches("http://")
            .split('/')
            .next()
            .unwrap();
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        write!(
            stream,
            "POST {CHAT_PATH} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{CHAT}",
            CHAT.len()
        )
        .unwrap();
        let mut raw = Vec::new();
        let _ = stream.read_to_end(&mut raw);
        let text = String::from_utf8_lossy(&raw);
        assert!(text.contains("partial"), "{text}");
        assert!(!text.contains("[DONE]"));
        assert!(
            !text.ends_with("0\r\n\r\n"),
            "the chunked body must not end cleanly"
        );
        mock.assert_finished();
    }
}
