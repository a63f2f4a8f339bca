//! [`LlmClient`]: one `chat` call = the retry loop around single HTTP
//! attempts, each read leniently into a [`Completion`].

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use async_openai::config::{Config as _, OpenAIConfig};
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue};
use serde_json::Value;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

use super::assemble::{Assembler, Piece};
use super::config::LlmConfig;
use super::error::{ApiErrorInfo, LlmError, classify_http, classify_in_band, excerpt};
use super::request::{self, Body, BodyOptions, MessagesCache, ToolsCache};
use super::retry;
use super::sse::{BOM, SseDecoder, SseItem};
use super::text_tools::{self, StreamGuard};
use super::types::{ChatRequest, Completion, StreamEvent, ToolCallSource};

/// Largest JSON answer we accept. A chat answer is kilobytes; this guards
/// memory against a misdirected download, not a real answer.
const MAX_JSON_BODY_BYTES: usize = 16 * 1024 * 1024;

/// How much of an error body we read: enough for any JSON error or the top
/// of an HTML page.
const MAX_ERROR_BODY_BYTES: usize = 64 * 1024;

/// Hosts that want `api-key: …` instead of `Authorization: Bearer …`.
const AZURE_HOST_SUFFIXES: [&str; 3] = [
    ".openai.azure.com",
    ".cognitiveservices.azure.com",
    ".services.ai.azure.com",
];

/// The OpenAI-compatible chat-completions client. Cheap to clone; share one
/// per configured model.
#[derive(Clone)]
pub struct LlmClient {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for LlmClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LlmClient")
            .field("config", &self.inner.config)
            .field("endpoint", &self.inner.chat_url.as_str())
            .finish()
    }
}

struct Inner {
    config: LlmConfig,
    http: reqwest::Client,
    chat_url: reqwest::Url,
    models_url: reqwest::Url,
    headers: HeaderMap,
    /// Cleared for good once the server rejects `stream_options`.
    include_usage: AtomicBool,
    /// The offered tools as JSON, serialised once for all requests.
    tools: ToolsCache,
    /// Messages as JSON, each serialised once while a turn goes on.
    messages: MessagesCache,
}

/// A request encoded by [`LlmClient::prepare`], ready to send.
#[derive(Debug)]
pub struct PreparedRequest {
    body: Body,
    include_usage: bool,
}

/// `base` + `/suffix`, keeping the base's query (Azure's `api-version`).
fn endpoint(base: &reqwest::Url, suffix: &str) -> reqwest::Url {
    let mut url = base.clone();
    let path = format!("{}/{}", base.path().trim_end_matches('/'), suffix);
    url.set_path(&path);
    url
}

fn is_azure(url: &reqwest::Url) -> bool {
    url.host_str().is_some_and(|host| {
        AZURE_HOST_SUFFIXES
            .iter()
            .any(|suffix| host.to_ascii_lowercase().ends_with(suffix))
    })
}

/// Request headers. Auth comes from async-openai's `OpenAIConfig`, after
/// the key was checked to be a valid header value (its `headers()` would
/// panic otherwise), with organisation and project ids cleared so that
/// stray `OPENAI_ORG_ID`/`OPENAI_PROJECT_ID` values cannot leak in.
fn headers(config: &LlmConfig, base: &reqwest::Url) -> Result<HeaderMap, LlmError> {
    let key = config.api_key.as_deref().unwrap_or("");
    let key_value = HeaderValue::from_str(key).map_err(|_| {
        LlmError::Config(
            "the API key contains characters that cannot be sent in an HTTP header \
             (check TFTSR_LLM_API_KEY for a stray newline)"
                .to_owned(),
        )
    })?;
    let openai = OpenAIConfig::new()
        .with_api_base(base.as_str())
        .with_api_key(key)
        .with_org_id("")
        .with_project_id("");
    let mut headers = openai.headers();
    if key.is_empty() {
        headers.remove(AUTHORIZATION);
    } else if is_azure(base) {
        headers.remove(AUTHORIZATION);
        headers.insert("api-key", key_value);
    }
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(
        ACCEPT,
        HeaderValue::from_static(if config.stream {
            "text/event-stream, application/json"
        } else {
            "application/json"
        }),
    );
    Ok(headers)
}

impl LlmClient {
    /// Validates the configuration and builds the HTTP client. No request
    /// is made.
    pub fn new(config: LlmConfig) -> Result<Self, LlmError> {
        let base = reqwest::Url::parse(config.base_url.trim()).map_err(|error| {
            LlmError::Config(format!(
                "TFTSR_LLM_BASE_URL \"{}\" is not a URL: {error}",
                config.base_url
            ))
        })?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(LlmError::Config(format!(
                "TFTSR_LLM_BASE_URL \"{}\" must be an http:// or https:// URL",
                config.base_url
            )));
        }
        if config.model.trim().is_empty() {
            return Err(LlmError::Config(
                "no model name (set TFTSR_LLM_MODEL)".to_owned(),
            ));
        }
        let headers = headers(&config, &base)?;
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .user_agent(concat!("tftsr/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|error| LlmError::Config(format!("cannot set up the HTTP client: {error}")))?;
        Ok(Self {
            inner: Arc::new(Inner {
                chat_url: endpoint(&base, "chat/completions"),
                models_url: endpoint(&base, "models"),
                headers,
                http,
                include_usage: AtomicBool::new(true),
                tools: ToolsCache::default(),
                messages: MessagesCache::default(),
                config,
            }),
        })
    }

    /// The configured model name (for audit and logs).
    pub fn model(&self) -> &str {
        &self.inner.config.model
    }

    /// The configured base URL, as given.
    pub fn base_url(&self) -> &str {
        &self.inner.config.base_url
    }

    /// The chat-completions URL requests go to.
    pub fn endpoint(&self) -> &str {
        self.inner.chat_url.as_str()
    }

    /// The configuration this client was built from.
    pub fn config(&self) -> &LlmConfig {
        &self.inner.config
    }

    /// One model answer: streams text and tool-call starts to `sink` as they
    /// arrive, retries what may be retried before anything was shown, and
    /// returns the assembled answer. `cancel` stops it at any point (the
    /// text shown so far is in the error).
    pub async fn chat(
        &self,
        request: &ChatRequest,
        sink: &mut (dyn FnMut(StreamEvent) + Send),
        cancel: &CancellationToken,
    ) -> Result<Completion, LlmError> {
        let prepared = self.prepare(request)?;
        self.chat_prepared(request, prepared, sink, cancel).await
    }

    /// Encodes `request` the way [`LlmClient::chat`] would send it, without
    /// sending anything. A caller can encode while something it must finish
    /// before sending (storing what the request carries) completes, then
    /// send with [`LlmClient::chat_prepared`].
    pub fn prepare(&self, request: &ChatRequest) -> Result<PreparedRequest, LlmError> {
        let include_usage = self.inner.include_usage.load(Ordering::Relaxed);
        Ok(PreparedRequest {
            body: self.encode(request, include_usage)?,
            include_usage,
        })
    }

    /// [`LlmClient::chat`] with the body already encoded from `request` by
    /// [`LlmClient::prepare`] (on this client).
    pub async fn chat_prepared(
        &self,
        request: &ChatRequest,
        prepared: PreparedRequest,
        sink: &mut (dyn FnMut(StreamEvent) + Send),
        cancel: &CancellationToken,
    ) -> Result<Completion, LlmError> {
        let span = tracing::info_span!(
            "llm.chat",
            model = %self.inner.config.model,
            url = %self.inner.chat_url,
            messages = request.messages.len(),
            tools = request.tools.len(),
            attempt = tracing::field::Empty,
        );
        self.chat_with_retries(request, prepared, sink, cancel)
            .instrument(span)
            .await
    }

    async fn chat_with_retries(
        &self,
        request: &ChatRequest,
        prepared: PreparedRequest,
        sink: &mut (dyn FnMut(StreamEvent) + Send),
        cancel: &CancellationToken,
    ) -> Result<Completion, LlmError> {
        let config = &self.inner.config;
        let started = Instant::now();
        let deadline = far_or(started, config.overall_timeout);
        let known: Vec<String> = request.tools.iter().map(|t| t.name.clone()).collect();
        let PreparedRequest {
            mut body,
            mut include_usage,
        } = prepared;
        let mut attempt: u32 = 0;
        let mut retries: u32 = 0;
        loop {
            attempt += 1;
            tracing::Span::current().record("attempt", attempt);
            let waiter = Waiter {
                cancel,
                deadline,
                idle: config.idle_timeout,
                overall: config.overall_timeout,
                url: self.inner.chat_url.as_str(),
                model: &config.model,
            };
            let outcome = self
                .attempt(&body, &known, &mut *sink, &waiter)
                .instrument(tracing::debug_span!("llm.attempt", attempt))
                .await;
            let failure = match outcome {
                Ok(mut completion) => {
                    completion.attempts = attempt;
                    completion.request_sha256 = body.sha256;
                    tracing::info!(
                        attempt,
                        elapsed_ms = started.elapsed().as_millis() as u64,
                        finish_reason = completion.finish_reason.as_str(),
                        tool_calls = completion.tool_calls.len(),
                        prompt_tokens = completion.usage.map(|u| u.prompt_tokens),
                        completion_tokens = completion.usage.map(|u| u.completion_tokens),
                        "model answered"
                    );
                    return Ok(completion);
                }
                Err(failure) => failure,
            };
            let AttemptFailure { error, emitted } = failure;
            if include_usage && config.stream && rejects_stream_options(&error) {
                // Some servers refuse `stream_options`; ask once more without
                // it, and never again from this client.
                tracing::info!("server rejects stream_options; continuing without usage");
                include_usage = false;
                self.inner.include_usage.store(false, Ordering::Relaxed);
                body = self.encode(request, include_usage)?;
                continue;
            }
            let give_up = |error: LlmError| {
                if attempt > 1 {
                    LlmError::RetriesExhausted {
                        attempts: attempt,
                        last: Box::new(error),
                    }
                } else {
                    error
                }
            };
            if emitted || !error.is_retryable() {
                tracing::warn!(attempt, %error, "model call failed");
                return Err(error);
            }
            if retries >= config.max_retries {
                tracing::warn!(attempt, %error, "model call failed; no retries left");
                return Err(give_up(error));
            }
            let asked = error.retry_after();
            if asked.is_some_and(|after| after > config.retry_after_cap) {
                tracing::warn!(attempt, %error, "server asks to wait longer than we do");
                return Err(give_up(error));
            }
            retries += 1;
            let delay = retry::delay(retries, asked, config.backoff_base, config.backoff_max);
            if far_or(Instant::now(), delay) >= deadline {
                tracing::warn!(attempt, %error, "no time left for another attempt");
                return Err(give_up(error));
            }
            tracing::warn!(attempt, delay_ms = delay.as_millis() as u64, %error, "retrying");
            sink(StreamEvent::Retrying {
                attempt,
                delay,
                reason: error.to_string(),
            });
            tokio::select! {
                biased;
                () = cancel.cancelled() => {
                    return Err(LlmError::Cancelled { partial: String::new() });
                }
                () = tokio::time::sleep(delay) => {}
            }
        }
    }

    fn encode(&self, request: &ChatRequest, include_usage: bool) -> Result<Body, LlmError> {
        request::encode(
            &self.inner.config.model,
            request,
            BodyOptions {
                stream: self.inner.config.stream,
                include_usage,
            },
            &self.inner.tools,
            &self.inner.messages,
        )
        .map_err(|error| LlmError::Config(format!("cannot encode the request: {error}")))
    }

    /// One HTTP request and the reading of its answer.
    async fn attempt(
        &self,
        body: &Body,
        known: &[String],
        sink: &mut (dyn FnMut(StreamEvent) + Send),
        waiter: &Waiter<'_>,
    ) -> Result<Completion, AttemptFailure> {
        let before_output = |error: LlmError| AttemptFailure {
            error,
            emitted: false,
        };
        let send = self
            .inner
            .http
            .post(self.inner.chat_url.clone())
            .headers(self.inner.headers.clone())
            .body(body.bytes.clone())
            .send();
        let mut response = waiter
            .wait(send)
            .await
            .map_err(|interrupt| before_output(waiter.error(interrupt, "")))?
            .map_err(|error| before_output(send_error(&error, waiter.url)))?;
        let status = response.status();
        if !status.is_success() {
            let retry_after = retry::parse_retry_after(response.headers(), SystemTime::now());
            let body = read_capped(&mut response, waiter, MAX_ERROR_BODY_BYTES)
                .await
                .map_err(|interrupt| before_output(waiter.error(interrupt, "")))?;
            return Err(before_output(classify_http(
                status.as_u16(),
                retry_after,
                &body,
                waiter.url,
                waiter.model,
            )));
        }
        let mut parser = BodyParser::new(known, sink, waiter.url, waiter.model);
        while !parser.is_done() {
            let chunk = match waiter.wait(response.chunk()).await {
                Err(interrupt) => return Err(parser.fail(waiter.error(interrupt, ""))),
                Ok(Err(error)) => {
                    return Err(parser.fail(LlmError::StreamCut {
                        url: waiter.url.to_owned(),
                        detail: error_chain(&error),
                        partial: String::new(),
                    }));
                }
                Ok(Ok(None)) => break,
                Ok(Ok(Some(chunk))) => chunk,
            };
            parser.push(&chunk)?;
        }
        parser.finish()
    }

    /// The model ids the server offers (`GET /models`), for a connection
    /// check. One attempt, no retries.
    pub async fn list_models(&self, cancel: &CancellationToken) -> Result<Vec<String>, LlmError> {
        let config = &self.inner.config;
        let waiter = Waiter {
            cancel,
            deadline: far_or(Instant::now(), config.idle_timeout),
            idle: config.idle_timeout,
            overall: config.idle_timeout,
            url: self.inner.models_url.as_str(),
            model: &config.model,
        };
        let mut headers = self.inner.headers.clone();
        headers.remove(CONTENT_TYPE);
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        let send = self
            .inner
            .http
            .get(self.inner.models_url.clone())
            .headers(headers)
            .send();
        let mut response = waiter
            .wait(send)
            .await
            .map_err(|interrupt| waiter.error(interrupt, ""))?
            .map_err(|error| send_error(&error, waiter.url))?;
        let status = response.status();
        let limit = if status.is_success() {
            MAX_JSON_BODY_BYTES
        } else {
            MAX_ERROR_BODY_BYTES
        };
        let body = read_capped(&mut response, &waiter, limit)
            .await
            .map_err(|interrupt| waiter.error(interrupt, ""))?;
        if !status.is_success() {
            let retry_after = retry::parse_retry_after(response.headers(), SystemTime::now());
            return Err(classify_http(
                status.as_u16(),
                retry_after,
                &body,
                waiter.url,
                waiter.model,
            ));
        }
        let value: Value = serde_json::from_slice(&body).map_err(|_| LlmError::Protocol {
            url: waiter.url.to_owned(),
            detail: excerpt(&String::from_utf8_lossy(&body)),
        })?;
        let list = value
            .get("data")
            .or_else(|| value.get("models"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        Ok(list
            .iter()
            .filter_map(|model| {
                model
                    .get("id")
                    .or_else(|| model.get("name"))
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .collect())
    }
}

/// `from + after`, or a year from `from` when that overflows (a configured
/// `Duration::MAX` means "no limit").
fn far_or(from: Instant, after: Duration) -> Instant {
    const YEAR: Duration = Duration::from_secs(365 * 86_400);
    from.checked_add(after.min(YEAR)).unwrap_or(from)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Nothing but whitespace seen yet.
    Sniff,
    Sse,
    Json,
    Html,
}

/// A failed attempt, and whether anything had been shown to the person
/// (which forbids a retry: the caller would see the answer twice).
struct AttemptFailure {
    error: LlmError,
    emitted: bool,
}

fn rejects_stream_options(error: &LlmError) -> bool {
    match error {
        LlmError::Rejected { status, detail, .. } => {
            matches!(status, 400 | 422) && detail.to_ascii_lowercase().contains("stream_options")
        }
        _ => false,
    }
}

fn line_too_long(url: &str) -> LlmError {
    LlmError::Protocol {
        url: url.to_owned(),
        detail: format!(
            "a stream line longer than {} bytes",
            super::sse::MAX_LINE_BYTES
        ),
    }
}

/// An `error` object sent with status 200 (a JSON body, or an SSE event).
fn in_band_error(value: &Value) -> Option<ApiErrorInfo> {
    let object = value.as_object()?;
    if object.contains_key("choices") || !object.contains_key("error") {
        return None;
    }
    ApiErrorInfo::from_value(value)
}

/// The innermost useful description of a transport error.
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut innermost = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            let plain = match io.kind() {
                std::io::ErrorKind::ConnectionRefused => Some("connection refused"),
                std::io::ErrorKind::ConnectionReset => Some("connection reset by the server"),
                std::io::ErrorKind::ConnectionAborted => Some("connection aborted"),
                std::io::ErrorKind::UnexpectedEof => Some("the server closed the connection early"),
                std::io::ErrorKind::TimedOut => Some("timed out"),
                _ => None,
            };
            if let Some(plain) = plain {
                return plain.to_owned();
            }
        }
        innermost = cause.to_string();
        source = cause.source();
    }
    innermost
}

fn send_error(error: &reqwest::Error, url: &str) -> LlmError {
    if error.is_builder() {
        return LlmError::Config(format!("cannot build a request to {url}: {error}"));
    }
    if error.is_redirect() {
        return LlmError::Protocol {
            url: url.to_owned(),
            detail: format!("redirect problem: {}", error_chain(error)),
        };
    }
    let detail = if error.is_timeout() {
        "connect timed out".to_owned()
    } else {
        error_chain(error)
    };
    LlmError::Connect {
        url: url.to_owned(),
        detail,
    }
}

async fn read_capped(
    response: &mut reqwest::Response,
    waiter: &Waiter<'_>,
    limit: usize,
) -> Result<Vec<u8>, Interrupt> {
    let mut body = Vec::new();
    while body.len() < limit {
        match waiter.wait(response.chunk()).await {
            Ok(Ok(Some(chunk))) => body.extend_from_slice(&chunk),
            // A body cut short still says what it says.
            Ok(Ok(None) | Err(_)) => break,
            Err(Interrupt::Cancelled) => return Err(Interrupt::Cancelled),
            Err(Interrupt::Idle | Interrupt::Overall) => break,
        }
    }
    body.truncate(limit);
    Ok(body)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Interrupt {
    Idle,
    Overall,
    Cancelled,
}

/// Waits on one step of an attempt under the cancel token, the overall
/// deadline and the idle timeout.
struct Waiter<'a> {
    cancel: &'a CancellationToken,
    deadline: Instant,
    idle: Duration,
    overall: Duration,
    url: &'a str,
    model: &'a str,
}

impl Waiter<'_> {
    async fn wait<F: Future>(&self, step: F) -> Result<F::Output, Interrupt> {
        tokio::select! {
            biased;
            () = self.cancel.cancelled() => Err(Interrupt::Cancelled),
            () = tokio::time::sleep_until(self.deadline) => Err(Interrupt::Overall),
            () = tokio::time::sleep(self.idle) => Err(Interrupt::Idle),
            output = step => Ok(output),
        }
    }

    fn error(&self, interrupt: Interrupt, partial: &str) -> LlmError {
        let partial = partial.to_owned();
        match interrupt {
            Interrupt::Cancelled => LlmError::Cancelled { partial },
            Interrupt::Overall => LlmError::Timeout {
                url: self.url.to_owned(),
                model: self.model.to_owned(),
                after: self.overall,
                partial,
            },
            Interrupt::Idle => LlmError::IdleTimeout {
                url: self.url.to_owned(),
                model: self.model.to_owned(),
                after: self.idle,
                partial,
            },
        }
    }
}

/// Parses one successful (2xx) answer body from raw bytes in chunks of any
/// size, exactly as [`LlmClient::chat`] reads it off the network, without
/// any I/O: SSE, a whole JSON completion, or an HTML page are told apart
/// from the first bytes. `known_tools` are the tool names offered (text-form
/// calls are only looked for when it is non-empty); text and tool-call
/// starts go to `sink` as they are recognised. The stream is taken to have
/// ended normally after the last chunk.
///
/// Public for the wire fuzzer (`agent/fuzz`) and its stable replay test:
/// whatever the bytes and however they are split, this returns a
/// [`Completion`] whose tool calls have non-empty, unique ids, or an
/// [`LlmError`]; it never panics.
pub fn parse_answer<'c>(
    chunks: impl IntoIterator<Item = &'c [u8]>,
    known_tools: &[String],
    sink: &mut (dyn FnMut(StreamEvent) + Send),
) -> Result<Completion, LlmError> {
    const URL: &str = "wire-parser";
    let mut parser = BodyParser::new(known_tools, sink, URL, "");
    for chunk in chunks {
        if parser.is_done() {
            break;
        }
        parser.push(chunk).map_err(|failure| failure.error)?;
    }
    parser.finish().map_err(|failure| failure.error)
}

/// Reads a 2xx answer body chunk by chunk (no I/O here: [`LlmClient`]
/// feeds it from the network, [`parse_answer`] from memory).
struct BodyParser<'a> {
    reader: AnswerReader<'a>,
    mode: Mode,
    /// The body so far while sniffing, or all of it for JSON and HTML.
    whole: Vec<u8>,
    decoder: SseDecoder,
    items: Vec<SseItem>,
    /// `[DONE]` arrived: what follows is ignored.
    done: bool,
}

impl<'a> BodyParser<'a> {
    fn new(
        known: &'a [String],
        sink: &'a mut (dyn FnMut(StreamEvent) + Send),
        url: &'a str,
        model: &'a str,
    ) -> Self {
        Self {
            reader: AnswerReader::new(known, sink, url, model),
            mode: Mode::Sniff,
            whole: Vec::new(),
            decoder: SseDecoder::default(),
            items: Vec::new(),
            done: false,
        }
    }

    fn is_done(&self) -> bool {
        self.done
    }

    /// The attempt failed with `error` (carrying the text shown so far).
    fn fail(&self, error: LlmError) -> AttemptFailure {
        self.reader.fail(error)
    }

    fn push(&mut self, chunk: &[u8]) -> Result<(), AttemptFailure> {
        let url = self.reader.url;
        if self.mode == Mode::Sniff {
            let seen = [self.whole.as_slice(), chunk].concat();
            let start = seen.strip_prefix(BOM).unwrap_or(&seen);
            self.mode = match start.iter().find(|b| !b.is_ascii_whitespace()) {
                _ if seen.len() < BOM.len() && BOM.starts_with(&seen) => Mode::Sniff,
                None => Mode::Sniff,
                Some(b'{' | b'[') => Mode::Json,
                Some(b'<') => Mode::Html,
                Some(_) => Mode::Sse,
            };
        }
        match self.mode {
            Mode::Sniff | Mode::Json | Mode::Html => {
                self.whole.extend_from_slice(chunk);
                if self.whole.len() > MAX_JSON_BODY_BYTES {
                    return Err(self.fail(LlmError::Protocol {
                        url: url.to_owned(),
                        detail: format!("answer larger than {MAX_JSON_BODY_BYTES} bytes"),
                    }));
                }
            }
            Mode::Sse => {
                if !self.whole.is_empty() {
                    // Leading blank lines seen while sniffing.
                    let leading = std::mem::take(&mut self.whole);
                    self.decoder
                        .push(&leading, &mut self.items)
                        .map_err(|_| self.reader.fail(line_too_long(url)))?;
                }
                self.decoder
                    .push(chunk, &mut self.items)
                    .map_err(|_| self.reader.fail(line_too_long(url)))?;
                self.done = self
                    .reader
                    .take_items(&mut self.items)
                    .map_err(|e| self.reader.fail(e))?;
            }
        }
        Ok(())
    }

    /// The body ended (cleanly, or after `[DONE]`).
    fn finish(mut self) -> Result<Completion, AttemptFailure> {
        let url = self.reader.url;
        let model = self.reader.model;
        let reader = &mut self.reader;
        let whole = &self.whole;
        match self.mode {
            Mode::Sse => {
                let mut done = self.done;
                if !done {
                    self.decoder.finish(&mut self.items);
                    done = reader
                        .take_items(&mut self.items)
                        .map_err(|e| reader.fail(e))?;
                }
                if !done && !reader.assembler.finished() {
                    if reader.assembler.chunks() == 0 {
                        return Err(reader.fail(LlmError::StreamCut {
                            url: url.to_owned(),
                            detail: "the stream ended without any answer".to_owned(),
                            partial: String::new(),
                        }));
                    }
                    tracing::warn!("stream ended without [DONE] or finish_reason; keeping it");
                }
            }
            Mode::Json => {
                let json = whole.strip_prefix(BOM).unwrap_or(whole);
                let value: Value = serde_json::from_slice(json).map_err(|error| {
                    reader.fail(LlmError::Protocol {
                        url: url.to_owned(),
                        detail: format!(
                            "invalid JSON ({error}): {}",
                            excerpt(&String::from_utf8_lossy(whole))
                        ),
                    })
                })?;
                if let Some(info) = in_band_error(&value) {
                    return Err(reader.fail(classify_in_band(&info, url, model)));
                }
                reader.apply(&value);
                if reader.assembler.chunks() == 0 {
                    return Err(reader.fail(LlmError::Protocol {
                        url: url.to_owned(),
                        detail: format!(
                            "JSON without choices: {}",
                            excerpt(&String::from_utf8_lossy(whole))
                        ),
                    }));
                }
            }
            Mode::Html => {
                return Err(reader.fail(LlmError::Protocol {
                    url: url.to_owned(),
                    detail: format!(
                        "{} (is TFTSR_LLM_BASE_URL a web page or a proxy login rather than the API?)",
                        excerpt(&String::from_utf8_lossy(whole))
                    ),
                }));
            }
            Mode::Sniff => {
                return Err(reader.fail(LlmError::StreamCut {
                    url: url.to_owned(),
                    detail: "the server answered 200 with an empty body".to_owned(),
                    partial: String::new(),
                }));
            }
        }
        Ok(self.reader.finish())
    }
}

/// Turns wire data into sink events and, at the end, a [`Completion`].
struct AnswerReader<'a> {
    assembler: Assembler,
    /// Present when tools were offered: text-form calls may appear.
    guard: Option<StreamGuard>,
    known: &'a [String],
    sink: &'a mut (dyn FnMut(StreamEvent) + Send),
    /// Text shown to the person so far.
    shown: String,
    emitted: bool,
    malformed: usize,
    url: &'a str,
    model: &'a str,
}

impl<'a> AnswerReader<'a> {
    fn new(
        known: &'a [String],
        sink: &'a mut (dyn FnMut(StreamEvent) + Send),
        url: &'a str,
        model: &'a str,
    ) -> Self {
        Self {
            assembler: Assembler::default(),
            guard: (!known.is_empty()).then(|| StreamGuard::new(known.to_vec())),
            known,
            sink,
            shown: String::new(),
            emitted: false,
            malformed: 0,
            url,
            model,
        }
    }

    fn show(&mut self, text: String) {
        if text.is_empty() {
            return;
        }
        self.emitted = true;
        self.shown.push_str(&text);
        (self.sink)(StreamEvent::TextDelta(text));
    }

    fn apply(&mut self, value: &Value) {
        let mut pieces = Vec::new();
        self.assembler.apply(value, &mut pieces);
        for piece in pieces {
            match piece {
                Piece::Text(text) => {
                    let visible = match &mut self.guard {
                        Some(guard) => guard.push(&text),
                        None => Some(text),
                    };
                    if let Some(visible) = visible {
                        self.show(visible);
                    }
                }
                Piece::ToolCallStarted { index, name } => {
                    self.emitted = true;
                    (self.sink)(StreamEvent::ToolCallStarted { index, name });
                }
            }
        }
    }

    /// Handles decoded SSE items; `Ok(true)` once `[DONE]` arrived.
    fn take_items(&mut self, items: &mut Vec<SseItem>) -> Result<bool, LlmError> {
        for item in items.drain(..) {
            let (event, data) = match item {
                SseItem::Comment => continue,
                SseItem::Event { event, data } => (event, data),
            };
            let data = data.trim();
            if data == "[DONE]" {
                return Ok(true);
            }
            if data.is_empty() {
                continue;
            }
            let values: Vec<Value> = match serde_json::from_str::<Value>(data) {
                Ok(value) => vec![value],
                // Events glued together without the blank line between them.
                Err(_) => data
                    .lines()
                    .filter_map(|line| serde_json::from_str(line.trim()).ok())
                    .collect(),
            };
            if values.is_empty() {
                self.malformed += 1;
                tracing::warn!(data = %excerpt(data), "ignoring an unreadable stream event");
                continue;
            }
            for value in values {
                let info = in_band_error(&value).or_else(|| {
                    (event == "error")
                        .then(|| ApiErrorInfo::from_value(&value))
                        .flatten()
                });
                if let Some(info) = info {
                    return Err(classify_in_band(&info, self.url, self.model));
                }
                self.apply(&value);
            }
        }
        Ok(false)
    }

    fn fail(&self, error: LlmError) -> AttemptFailure {
        AttemptFailure {
            error: error.with_partial(&self.shown),
            emitted: self.emitted,
        }
    }

    fn finish(mut self) -> Completion {
        let assembler = std::mem::take(&mut self.assembler);
        let assembled = assembler.finish();
        let known: Vec<&str> = self.known.iter().map(String::as_str).collect();
        let (text, tool_calls, source) = if !assembled.tool_calls.is_empty() {
            (assembled.text, assembled.tool_calls, ToolCallSource::Native)
        } else if let Some(found) = text_tools::extract(&assembled.text, &known) {
            (found.visible, found.calls, ToolCallSource::Text)
        } else {
            (assembled.text, Vec::new(), ToolCallSource::None)
        };
        if let Some(mut guard) = self.guard.take()
            && let Some(rest) = guard.finish(&text)
        {
            self.show(rest);
        }
        if source == ToolCallSource::Text {
            for (index, call) in tool_calls.iter().enumerate() {
                (self.sink)(StreamEvent::ToolCallStarted {
                    index,
                    name: call.name.clone(),
                });
            }
        }
        if self.malformed > 0 {
            tracing::warn!(malformed = self.malformed, "stream had unreadable events");
        }
        Completion {
            text,
            tool_calls,
            finish_reason: assembled.finish_reason,
            usage: assembled.usage,
            request_sha256: String::new(),
            attempts: 0,
            tool_call_source: source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_keep_the_query() {
        let base = reqwest::Url::parse(
            "https://res.openai.azure.com/openai/deployments/gpt4o/?api-version=2024-10-21",
        )
        .unwrap();
        assert_eq!(
            endpoint(&base, "chat/completions").as_str(),
            "https://res.openai.azure.com/openai/deployments/gpt4o/chat/completions?api-version=2024-10-21"
        );
        let base = reqwest::Url::parse("http://localhost:11434/v1").unwrap();
        assert_eq!(
            endpoint(&base, "models").as_str(),
            "http://localhost:11434/v1/models"
        );
    }

    #[test]
    fn auth_headers() {
        let local = LlmConfig::new("http://localhost:11434/v1", "llama3.1");
        let sent = headers(&local, &reqwest::Url::parse(&local.base_url).unwrap()).unwrap();
        assert!(sent.get(AUTHORIZATION).is_none());

        let openai = LlmConfig::new("https://api.openai.com/v1", "gpt-4o").with_api_key("sk-1");
        let sent = headers(&openai, &reqwest::Url::parse(&openai.base_url).unwrap()).unwrap();
        assert_eq!(sent.get(AUTHORIZATION).unwrap(), "Bearer sk-1");

        let azure =
            LlmConfig::new("https://res.openai.azure.com/openai/v1", "gpt-4o").with_api_key("az-1");
        let sent = headers(&azure, &reqwest::Url::parse(&azure.base_url).unwrap()).unwrap();
        assert!(sent.get(AUTHORIZATION).is_none());
        assert_eq!(sent.get("api-key").unwrap(), "az-1");
    }

    #[test]
    fn bad_config_is_an_error_not_a_panic() {
        let bad_key = LlmConfig::new("http://localhost/v1", "m").with_api_key("sk-1\n");
        assert!(matches!(LlmClient::new(bad_key), Err(LlmError::Config(_))));
        let bad_url = LlmConfig::new("localhost:11434", "m");
        assert!(matches!(LlmClient::new(bad_url), Err(LlmError::Config(_))));
        let no_model = LlmConfig::new("http://localhost/v1", " ");
        assert!(matches!(LlmClient::new(no_model), Err(LlmError::Config(_))));
    }

    #[test]
    fn chat_future_is_send() {
        fn assert_send<T: Send>(_: &T) {}
        let client = LlmClient::new(LlmConfig::new("http://127.0.0.1:9/v1", "m")).unwrap();
        let request = ChatRequest::default();
        let cancel = CancellationToken::new();
        let mut sink = |_: StreamEvent| {};
        let future = client.chat(&request, &mut sink, &cancel);
        assert_send(&future);
    }
}
