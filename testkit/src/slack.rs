//! [`MockSlack`]: a Slack Web API double on the shared [`TestServer`].
//!
//! It answers `auth.test`, `chat.postMessage` and `chat.update` under
//! `/api/`, and serves files added with [`MockSlack::add_file`] under
//! `/files/`. Every call is recorded as a [`SlackCall`] (method, channel,
//! thread, text, when it arrived, how it was answered); the raw requests
//! are there too. A call without `Authorization: Bearer <token>` gets
//! Slack's `not_authed`/`invalid_auth`.
//!
//! [`MockSlack::rate_limit_next`] scripts 429s with `Retry-After` for the
//! next calls of a method. Posted messages get increasing `ts` values
//! (`1700000000.000001`, …), so order is visible in the ids too.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};

use crate::server::{RecordedRequest, TestServer, lock};

/// The token the mock accepts.
pub const MOCK_BOT_TOKEN: &str = "xoxb-test-token";
/// The bot's user id `auth.test` reports.
pub const MOCK_BOT_USER: &str = "UBOT0001";
/// The bot's bot id `auth.test` reports.
pub const MOCK_BOT_ID: &str = "BBOT0001";

/// One Web API call as the mock saw and answered it.
#[derive(Debug, Clone, PartialEq)]
pub struct SlackCall {
    /// `chat.postMessage`, `chat.update`, `auth.test`, or `files.download`.
    pub method: String,
    pub channel: Option<String>,
    pub thread_ts: Option<String>,
    /// For `chat.postMessage` the `ts` the mock gave the new message; for
    /// `chat.update` the `ts` of the message edited; for a download the
    /// file id.
    pub ts: Option<String>,
    pub text: Option<String>,
    pub received_at: Instant,
    /// The HTTP status answered (200, or 429 when rate limited, 401 …).
    pub status: u16,
    /// The answer's `ok` (true for a served file).
    pub ok: bool,
}

struct MockFile {
    name: String,
    content: Vec<u8>,
    content_type: String,
}

#[derive(Default)]
struct SlackState {
    calls: Mutex<Vec<SlackCall>>,
    next_ts: AtomicU64,
    /// Per method: `Retry-After` seconds of the next calls to refuse.
    rate_limits: Mutex<HashMap<String, VecDeque<u64>>>,
    files: Mutex<HashMap<String, MockFile>>,
    /// Message texts by ts, as last posted or edited.
    messages: Mutex<HashMap<String, String>>,
}

/// The Slack Web API double. See the module docs.
pub struct MockSlack {
    server: TestServer,
    state: Arc<SlackState>,
}

impl std::fmt::Debug for MockSlack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockSlack")
            .field("url", &self.server.url())
            .finish_non_exhaustive()
    }
}

impl Default for MockSlack {
    fn default() -> Self {
        Self::start()
    }
}

impl MockSlack {
    pub fn start() -> MockSlack {
        let state = Arc::new(SlackState::default());
        let handler_state = Arc::clone(&state);
        let server = TestServer::start(move |request| {
            let state = Arc::clone(&handler_state);
            async move { answer(&state, request) }
        });
        MockSlack { server, state }
    }

    /// `http://127.0.0.1:PORT/api` (the value for `TFTSR_SLACK_API_URL`).
    pub fn api_url(&self) -> String {
        format!("{}/api", self.server.url())
    }

    /// Serves `content` at a download URL, returned (what Slack puts in
    /// `url_private_download`).
    pub fn add_file(&self, name: &str, content: &[u8], content_type: &str) -> String {
        let mut files = lock(&self.state.files);
        let id = format!("F{:06}", files.len() + 1);
        files.insert(
            id.clone(),
            MockFile {
                name: name.to_owned(),
                content: content.to_vec(),
                content_type: content_type.to_owned(),
            },
        );
        format!("{}/files/{id}/{name}", self.server.url())
    }

    /// The next `count` calls of `method` answer 429 with
    /// `Retry-After: retry_after_secs`.
    pub fn rate_limit_next(&self, method: &str, count: usize, retry_after_secs: u64) {
        let mut limits = lock(&self.state.rate_limits);
        let queue = limits.entry(method.to_owned()).or_default();
        queue.extend(std::iter::repeat_n(retry_after_secs, count));
    }

    /// Every call so far, in arrival order.
    pub fn calls(&self) -> Vec<SlackCall> {
        lock(&self.state.calls).clone()
    }

    /// Calls that were answered `ok` (posts and edits that took effect).
    pub fn effective_calls(&self) -> Vec<SlackCall> {
        self.calls().into_iter().filter(|c| c.ok).collect()
    }

    /// Every raw request received.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.server.requests()
    }

    /// The current text of each message in a thread, in posting order: what
    /// a person reading the thread sees (the thread's root is not ours).
    pub fn thread_messages(&self, channel: &str, thread_ts: &str) -> Vec<String> {
        let texts = lock(&self.state.messages).clone();
        self.effective_calls()
            .into_iter()
            .filter(|c| {
                c.method == "chat.postMessage"
                    && c.channel.as_deref() == Some(channel)
                    && c.thread_ts.as_deref() == Some(thread_ts)
            })
            .filter_map(|c| c.ts.and_then(|ts| texts.get(&ts).cloned()))
            .collect()
    }

    /// Waits until `done(self)` holds, polling; false after `timeout`.
    pub fn wait_until(&self, timeout: Duration, done: impl Fn(&MockSlack) -> bool) -> bool {
        let start = Instant::now();
        loop {
            if done(self) {
                return true;
            }
            if start.elapsed() > timeout {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut response = Response::new(Body::from(body.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    response
}

/// Slack accepts JSON bodies and form bodies; the bot sends JSON.
fn params(request: &RecordedRequest) -> Value {
    if let Some(v) = &request.json {
        return v.clone();
    }
    let text = request.body_text();
    let mut map = serde_json::Map::new();
    for pair in text.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        map.insert(k.to_owned(), Value::String(v.replace('+', " ")));
    }
    Value::Object(map)
}

fn field(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_owned)
}

fn answer(state: &SlackState, request: RecordedRequest) -> Response {
    let authorized = request.header("authorization") == Some(&format!("Bearer {MOCK_BOT_TOKEN}"));
    if let Some(rest) = request.path.strip_prefix("/files/") {
        let id = rest.split('/').next().unwrap_or("").to_owned();
        let files = lock(&state.files);
        let (status, response) = match (authorized, files.get(&id)) {
            (false, _) => {
                // Slack's answer to a missing token: its sign-in page.
                let mut r = Response::new(Body::from("<html><body>Sign in to Slack</body></html>"));
                r.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/html; charset=utf-8"),
                );
                (200, r)
            }
            (true, Some(file)) => {
                let mut r = Response::new(Body::from(file.content.clone()));
                if let Ok(v) = HeaderValue::from_str(&file.content_type) {
                    r.headers_mut().insert(header::CONTENT_TYPE, v);
                }
                if let Ok(v) =
                    HeaderValue::from_str(&format!("attachment; filename=\"{}\"", file.name))
                {
                    r.headers_mut().insert(header::CONTENT_DISPOSITION, v);
                }
                (200, r)
            }
            (true, None) => {
                let mut r = Response::new(Body::from("not found"));
                *r.status_mut() = StatusCode::NOT_FOUND;
                (404, r)
            }
        };
        lock(&state.calls).push(SlackCall {
            method: "files.download".into(),
            channel: None,
            thread_ts: None,
            ts: Some(id),
            text: None,
            received_at: request.received_at,
            status,
            ok: authorized && status == 200,
        });
        return response;
    }
    let Some(method) = request.path.strip_prefix("/api/").map(str::to_owned) else {
        return json_response(
            StatusCode::NOT_FOUND,
            &json!({"ok": false, "error": "unknown_path"}),
        );
    };
    let p = params(&request);
    let mut call = SlackCall {
        method: method.clone(),
        channel: field(&p, "channel"),
        thread_ts: field(&p, "thread_ts"),
        ts: field(&p, "ts"),
        text: field(&p, "text"),
        received_at: request.received_at,
        status: 200,
        ok: false,
    };
    let limited = lock(&state.rate_limits)
        .get_mut(&method)
        .and_then(VecDeque::pop_front);
    let response = if let Some(secs) = limited {
        call.status = 429;
        let mut r = json_response(
            StatusCode::TOO_MANY_REQUESTS,
            &json!({"ok": false, "error": "ratelimited"}),
        );
        if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
        r
    } else if request.header("authorization").is_none() {
        json_response(StatusCode::OK, &json!({"ok": false, "error": "not_authed"}))
    } else if !authorized {
        json_response(
            StatusCode::OK,
            &json!({"ok": false, "error": "invalid_auth"}),
        )
    } else {
        match method.as_str() {
            "auth.test" => {
                call.ok = true;
                json_response(
                    StatusCode::OK,
                    &json!({"ok": true, "url": "https://mock.slack.test/", "team": "Mock", "user": "tftsr",
                            "team_id": "T0001", "user_id": MOCK_BOT_USER, "bot_id": MOCK_BOT_ID}),
                )
            }
            "chat.postMessage" => match (&call.channel, &call.text) {
                (Some(channel), Some(text)) if !text.is_empty() => {
                    let n = state.next_ts.fetch_add(1, Ordering::SeqCst) + 1;
                    let ts = format!("1700000000.{n:06}");
                    lock(&state.messages).insert(ts.clone(), text.clone());
                    call.ts = Some(ts.clone());
                    call.ok = true;
                    json_response(
                        StatusCode::OK,
                        &json!({"ok": true, "channel": channel, "ts": ts,
                                "message": {"type": "message", "text": text, "user": MOCK_BOT_USER, "bot_id": MOCK_BOT_ID, "ts": ts}}),
                    )
                }
                (None, _) => json_response(
                    StatusCode::OK,
                    &json!({"ok": false, "error": "channel_not_found"}),
                ),
                _ => json_response(StatusCode::OK, &json!({"ok": false, "error": "no_text"})),
            },
            "chat.update" => {
                let mut messages = lock(&state.messages);
                match (&call.ts, &call.text) {
                    (Some(ts), Some(text)) if messages.contains_key(ts) => {
                        messages.insert(ts.clone(), text.clone());
                        call.ok = true;
                        json_response(
                            StatusCode::OK,
                            &json!({"ok": true, "channel": call.channel, "ts": ts, "text": text}),
                        )
                    }
                    _ => json_response(
                        StatusCode::OK,
                        &json!({"ok": false, "error": "message_not_found"}),
                    ),
                }
            }
            _ => json_response(
                StatusCode::OK,
                &json!({"ok": false, "error": "unknown_method"}),
            ),
        }
    };
    lock(&state.calls).push(call);
    response
}
